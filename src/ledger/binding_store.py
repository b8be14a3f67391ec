"""Evidence of key publication, kept in the ledger file next to the entries.

One table, created on demand by the first ``save_evidence`` (the store's own tables are never
touched, and a ledger without evidence has no such table)::

    CREATE TABLE binding_evidence (
        id INTEGER PRIMARY KEY,       -- insertion order
        domain TEXT NOT NULL,         -- for queries by hand
        fetched_at INTEGER NOT NULL,  -- idem
        record TEXT NOT NULL          -- the record as an endorsement-ledger/evidence/v1 document
    )

Each row holds one record in the same JSON form as the bundle's evidence file, so there is one
encoding to decode, strictly, when the rows are read back. Evidence is only ever added: a
later fetch does not replace an earlier one, and ``apply_evidence`` takes the latest.
Writes are one transaction (``BEGIN IMMEDIATE``) with ``synchronous=FULL``, like appends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ledger.binding import Evidence, evidence_from_json, evidence_to_json
from ledger.errors import FormatError, StoreError
from ledger.store.sqlite import APPLICATION_ID

__all__ = ["EVIDENCE_TABLE", "load_evidence", "save_evidence"]

EVIDENCE_TABLE: Final = "binding_evidence"
_BUSY_TIMEOUT_S: Final = 30.0
_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS {EVIDENCE_TABLE} (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    record TEXT NOT NULL
)
"""


def save_evidence(location: str | Path, evidence: Sequence[Evidence]) -> int:
    """Add evidence records to a ledger file, in one transaction.

    Args:
        location: the ledger file (it must exist and be a ledger).
        evidence: the records to add.

    Returns:
        How many records were added.

    Raises:
        StoreError: the file is missing, not a ledger, or cannot be written.
    """
    path = Path(location)
    db = _connect(path, "rw")
    try:
        db.execute("PRAGMA synchronous = FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_SCHEMA)
            db.executemany(
                f"INSERT INTO {EVIDENCE_TABLE} (domain, fetched_at, record) VALUES (?, ?, ?)",  # noqa: S608 -- a constant table name
                [(r.domain, r.fetched_at, evidence_to_json([r])) for r in evidence],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot save the evidence ({exc})") from None
    finally:
        db.close()
    return len(evidence)


def load_evidence(location: str | Path) -> tuple[Evidence, ...]:
    """Read every evidence record of a ledger file, read-only, in the order they were added.

    Args:
        location: the ledger file.

    Returns:
        The records (none if evidence was never saved).

    Raises:
        StoreError: the file is missing or not a ledger, or a stored record is malformed.
    """
    path = Path(location)
    db = _connect(path, "ro")
    try:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (EVIDENCE_TABLE,)
        ).fetchone()
        rows = (
            db.execute(f"SELECT id, record FROM {EVIDENCE_TABLE} ORDER BY id").fetchall()  # noqa: S608 -- a constant table name
            if exists
            else []
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read the evidence ({exc})") from None
    finally:
        db.close()
    records: list[Evidence] = []
    for row_id, text in rows:
        try:
            records.append(_decode_row(text))
        except FormatError as exc:
            raise StoreError(f"{path}: evidence row {row_id} is malformed: {exc}") from None
    return tuple(records)


def _decode_row(text: object) -> Evidence:
    if not isinstance(text, str):
        raise FormatError("the record is not text")
    decoded = evidence_from_json(text)
    if len(decoded) != 1:
        raise FormatError(f"the row holds {len(decoded)} records, not 1")
    return decoded[0]


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """Open an existing ledger file (``mode`` ``ro`` or ``rw``; never creates a file)."""
    if not path.is_file():
        raise StoreError(f"{path}: no such ledger file")
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open ({exc})") from None
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{path} is not a ledger file ({exc})") from None
    if app_id != APPLICATION_ID:
        db.close()
        raise StoreError(f"{path} is not a ledger file")
    return db
