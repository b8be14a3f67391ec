"""The lifecycle state (``ledger.lifecycle.StateView``) in the SQLite store.

``append`` applies the same state machine as ``verify``, but reads and writes the state in the
store's tables inside the write transaction, so appending costs O(log n) reads however long the
ledger is, and a refused entry (or a failed commit) leaves the state as it was.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ledger.errors import StoreError
from ledger.lifecycle import KeyRecord, OrgRecord
from ledger.lookalike import skeletons

STATE_SCHEMA = """
CREATE TABLE keys (
    key_id BLOB PRIMARY KEY,
    org INTEGER NOT NULL,
    revoked_from INTEGER
) WITHOUT ROWID;
CREATE TABLE orgs (
    org INTEGER PRIMARY KEY,
    current_key BLOB NOT NULL,
    live INTEGER UNIQUE,
    endorsed_with BLOB,
    endorsed_signed_at INTEGER,
    name TEXT,
    skeleton TEXT,
    skeleton2 TEXT,
    last_signed_at INTEGER
);
CREATE INDEX orgs_by_skeleton ON orgs (skeleton) WHERE live IS NOT NULL;
CREATE INDEX orgs_by_skeleton2 ON orgs (skeleton2) WHERE live IS NOT NULL;
"""
_CLOSED = "closed_at"


class SqliteState:
    """A ``StateView`` over the store's ``keys``, ``orgs`` and ``meta`` tables."""

    def __init__(self, db: sqlite3.Connection, location: str) -> None:
        """Wrap a connection (inside a write transaction when the state is changed)."""
        self._db = db
        self._location = location

    def key(self, key_id: bytes) -> KeyRecord | None:
        row = self._one("SELECT org, revoked_from FROM keys WHERE key_id = ?", (key_id,))
        return None if row is None else KeyRecord(key_id, int(row[0]), _int(row[1]))

    def org(self, org: int) -> OrgRecord:
        row = self._one(
            "SELECT current_key, live, endorsed_with, endorsed_signed_at, name, last_signed_at "
            "FROM orgs "
            "WHERE org = ?",
            (org,),
        )
        if row is None:
            raise StoreError(
                f"{self._location}: the state names organisation {org}, "
                "which the store does not hold"
            )
        return OrgRecord(
            org=org,
            current_key=bytes(row[0]),
            live=_int(row[1]),
            endorsed_with=None if row[2] is None else bytes(row[2]),
            endorsed_signed_at=_int(row[3]),
            name=row[4],
            last_signed_at=_int(row[5]),
        )

    def put_key(self, record: KeyRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO keys VALUES (?, ?, ?)",
            (record.key_id, record.org, record.revoked_from),
        )

    def put_org(self, record: OrgRecord) -> None:
        keys = () if record.name is None else skeletons(record.name)
        self._write(
            "INSERT OR REPLACE INTO orgs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.org,
                record.current_key,
                record.live,
                record.endorsed_with,
                record.endorsed_signed_at,
                record.name,
                keys[0] if keys else None,
                keys[1] if len(keys) > 1 else None,
                record.last_signed_at,
            ),
        )

    def org_of_live_entry(self, seq: int) -> int | None:
        row = self._one("SELECT org FROM orgs WHERE live = ?", (seq,))
        return None if row is None else int(row[0])

    def live_orgs_with_skeleton(self, name_skeleton: str) -> list[int]:
        # Two lookups, each on its own partial index (an OR of the two columns scans the table).
        rows = self._all(
            "SELECT org FROM orgs WHERE skeleton = ? AND live IS NOT NULL "
            "UNION SELECT org FROM orgs WHERE skeleton2 = ? AND live IS NOT NULL ORDER BY org",
            (name_skeleton, name_skeleton),
        )
        return [int(row[0]) for row in rows]

    def closed_at(self) -> int | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", (_CLOSED,))
        return None if row is None else int(bytes(row[0]).decode())

    def set_closed(self, seq: int) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_CLOSED, str(seq).encode()))

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _all(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"{self._location}: read failed ({exc})") from None

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._location}: write failed ({exc})") from None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
