"""What the publisher remembers of the list it last published, so that publishing again is cheap.

A SQLite file beside the bundle directory (``site/letter.publish-state.db`` for the bundle
``site/letter``: outside it, so it is not uploaded with it; readers and mirrors never read it,
and deleting it only makes the next publish a full one) holds, for the checkpoint it names
(size and root):

- the lifecycle state after those entries (``ledger.lifecycle``: keys, organisations, the
  closing), in the tables ``ledger.store.state`` defines, so the list's rules are applied to the
  new entries exactly as ``verify`` applies them;
- the list as ``verify`` reports it (``ledger.roster``): current signatories by organisation,
  departures, look-alike flags, and their counts.

``apply`` runs one entry through the rules and the list, inside a transaction that ``commit``
ends by naming the new checkpoint: a crash before it leaves the state of the old checkpoint,
which no longer matches the bundle's, so the next publish is full. ``page`` reads back what one
page of the bundle's list shows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Final

from ledger.bundle_views import PAGE_ENTRIES, ListPage, page_of
from ledger.cose import decode_endorsement
from ledger.entry import decode_entry
from ledger.errors import LedgerError, StoreError, VerificationError
from ledger.findings import Departure, Problem, Signatory
from ledger.keys import VerifyingKey
from ledger.lifecycle import apply
from ledger.model import Action, Genesis
from ledger.store.state import STATE_SCHEMA, SqliteState
from ledger.timefmt import format_time

STATE_SUFFIX: Final = ".publish-state.db"
_VERSION: Final = 1
_SCHEMA: Final = (
    STATE_SCHEMA
    + """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE signatories (
    org INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    domain TEXT,
    url TEXT,
    country TEXT,
    fingerprint TEXT NOT NULL,
    key_id BLOB NOT NULL,
    public_key BLOB NOT NULL,
    signed_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE TABLE departures (
    seq INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    how TEXT NOT NULL,
    ended_at_entry INTEGER NOT NULL,
    ended_when INTEGER NOT NULL,
    reason TEXT,
    note TEXT
);
CREATE TABLE flags (seq INTEGER NOT NULL, n INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (seq, n)) WITHOUT ROWID;
"""
)
_HOW: Final = {Action.WITHDRAW: "withdrawn", Action.REMOVE: "removed", Action.REVOKE: "revoked"}
_COUNTS: Final = ("signatories", "departed", "flags")


def state_path(directory: Path) -> Path:
    """Where the state of the bundle in ``directory`` is kept: beside it."""
    return directory.parent / f"{directory.name}{STATE_SUFFIX}"


class PublishState:
    """The list at the last published checkpoint, in ``.publish-state.db`` (see the module)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        """Wrap an open connection (use ``open``)."""
        self._db = db
        self.path = path
        self.log_key: VerifyingKey | None = None
        self.touched: set[int] = set()

    @classmethod
    def open(cls, directory: Path, *, fresh: bool) -> PublishState:
        """Open the state of a bundle directory; ``fresh`` starts an empty one (full publish).

        Raises:
            StoreError: it cannot be opened or created.
        """
        path = state_path(directory)
        try:
            if fresh:
                path.unlink(missing_ok=True)
            elif not path.is_file():
                raise StoreError(f"{path}: no publisher's state")
            db = sqlite3.connect(path, isolation_level=None)
            state = cls(db, path)
            if fresh:
                db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
                db.execute(f"PRAGMA user_version = {_VERSION:d}")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: {exc}") from None
        return state

    def close(self) -> None:
        """Close it, forgetting what was not committed."""
        self._db.close()

    def published(self) -> tuple[int, bytes] | None:
        """The size and root of the checkpoint it describes; None if unknown or damaged."""
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
                return None
            size, root = self._meta("size"), self._meta("root")
        except (sqlite3.Error, LedgerError, TypeError, ValueError):
            return None
        if size is None or root is None:
            return None
        return int(size.decode("ascii")), root

    def counts(self) -> dict[str, int]:
        """Current signatories, departures and flags."""
        return {name: int((self._meta(name) or b"0").decode("ascii")) for name in _COUNTS}

    def apply(self, seq: int, raw: bytes) -> None:
        """Run a verified entry through the list's rules and record what it changes.

        The pages whose list it changes are added to ``touched``.

        Raises:
            VerificationError: the rules refuse it (``verify`` reports it under "signers").
            FormatError: it does not decode (the caller verified it: not expected).
            StoreError: the state cannot be read or written.
        """
        entry = decode_entry(raw)
        self.touched.add(page_of(seq))
        if isinstance(entry.body, Genesis):
            self.log_key = VerifyingKey.from_verifier_key(entry.body.log_key)
            return
        signed = decode_endorsement(entry.body)
        raw_key = signed.endorsement.public_key
        signer = VerifyingKey.from_raw(raw_key.hex()[:16], raw_key)
        try:
            outcome = apply(
                SqliteState(self._db, str(self.path)),
                seq=seq,
                entry_type=entry.type,
                signed=signed,
                signer=signer,
                log_key=self.log_key,
            )
        except VerificationError as exc:
            raise VerificationError(f"entry {seq}: {exc}") from None
        endorsement = signed.endorsement
        org = outcome.org
        # The same changes as ``Roster.record``, in the tables.
        if outcome.action is Action.ENDORSE and org is not None:
            self._write(
                "INSERT OR REPLACE INTO signatories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    org,
                    seq,
                    endorsement.name or "",
                    endorsement.domain,
                    endorsement.url,
                    endorsement.country,
                    signer.fingerprint,
                    signer.key_id,
                    signer.raw,
                    endorsement.signed_at,
                    entry.recorded_at,
                ),
            )
            self._add("signatories", 1)
            for n, flag in enumerate(outcome.flags):
                self._write("INSERT INTO flags VALUES (?, ?, ?)", (seq, n, flag))
            self._add("flags", len(outcome.flags))
        elif outcome.action is Action.ROTATE and org is not None and outcome.new_key:
            key = outcome.new_key
            row = self._one("SELECT seq FROM signatories WHERE org = ?", (org,))
            if row is not None:
                self._write(
                    "UPDATE signatories SET fingerprint = ?, key_id = ?, public_key = ? "
                    "WHERE org = ?",
                    (key.fingerprint, key.key_id, key.raw, org),
                )
                self.touched.add(page_of(int(row[0])))
        elif outcome.action is Action.CLOSE:
            self._set("closed_at", seq)
        if outcome.ended is not None and org is not None:
            left = self._one("SELECT seq, name, fingerprint FROM signatories WHERE org = ?", (org,))
            if left is not None:
                reason = None
                if endorsement.reason is not None:
                    reason = endorsement.reason.code
                elif endorsement.revoked_from is not None:
                    reason = f"key revoked from {format_time(endorsement.revoked_from)}"
                self._write("DELETE FROM signatories WHERE org = ?", (org,))
                self._write(
                    "INSERT INTO departures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *left,
                        _HOW[outcome.action],
                        seq,
                        entry.recorded_at,
                        reason,
                        endorsement.note,
                    ),
                )
                self._add("signatories", -1)
                self._add("departed", 1)
                self.touched.add(page_of(int(left[0])))

    def page(self, page: int) -> ListPage:
        """What page ``page`` of the list shows now.

        Raises:
            StoreError: the state cannot be read.
        """
        span = (page * PAGE_ENTRIES, (page + 1) * PAGE_ENTRIES)
        signatories = tuple(
            Signatory(
                seq=row[0],
                name=row[1],
                domain=row[2],
                url=row[3],
                country=row[4],
                fingerprint=row[5],
                key_id=bytes(row[6]),
                public_key=bytes(row[7]),
                signed_at=row[8],
                recorded_at=row[9],
            )
            for row in self._all(
                "SELECT seq, name, domain, url, country, fingerprint, key_id, public_key, "
                "signed_at, recorded_at FROM signatories WHERE seq >= ? AND seq < ? ORDER BY seq",
                span,
            )
        )
        departed = tuple(
            Departure(
                seq=row[0],
                name=row[1],
                fingerprint=row[2],
                how=row[3],
                ended_at_entry=row[4],
                when=row[5],
                reason=row[6],
                note=row[7],
            )
            for row in self._all(
                "SELECT seq, name, fingerprint, how, ended_at_entry, ended_when, reason, note "
                "FROM departures WHERE seq >= ? AND seq < ? ORDER BY seq",
                span,
            )
        )
        flags = tuple(
            Problem(row[0], "names", row[1])
            for row in self._all(
                "SELECT seq, message FROM flags WHERE seq >= ? AND seq < ? ORDER BY seq, n", span
            )
        )
        return ListPage(page, signatories, departed, flags)

    def closed_at(self) -> int | None:
        """The entry that closed the statement, if any."""
        value = self._meta("closed_at")
        return None if value is None else int(value.decode("ascii"))

    def commit(self, size: int, root: bytes) -> None:
        """Name the checkpoint the state now describes, and make it durable.

        Raises:
            StoreError: it cannot be written.
        """
        self._set("size", size)
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("root", root))
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _meta(self, name: str) -> bytes | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return None if row is None else bytes(row[0])

    def _set(self, name: str, value: int) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value).encode()))

    def _add(self, name: str, delta: int) -> None:
        if delta:
            self._set(name, self.counts()[name] + delta)

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _all(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: read failed ({exc})") from None

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: write failed ({exc})") from None
