"""What the publisher remembers of the list it last published, so that publishing again is cheap.

A SQLite file beside the bundle directory (``site/letter.publish-state.db`` for the bundle
``site/letter``: outside it, so it is not uploaded with it; readers and mirrors never read it,
and deleting it only makes the next publish a full one) holds, for the checkpoint it names
(size and root):

- the lifecycle state after those entries (``ledger.lifecycle``: keys, organisations, the
  closing), in the tables ``ledger.store.state`` defines, so the list's rules are applied to the
  new entries exactly as ``verify`` applies them;
- the list as ``verify`` reports it, kept by the same ``ledger.roster.Roster`` over the tables
  of ``ledger.store.scratch`` (current signatories by organisation, departures, look-alike
  flags), with an index by entry so that a page of the bundle's list is one range read.

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
from ledger.model import Genesis
from ledger.roster import Roster
from ledger.store.scratch import LIST_SCHEMA, ScratchBook
from ledger.store.state import STATE_SCHEMA, SqliteState

STATE_SUFFIX: Final = ".publish-state.db"
_VERSION: Final = 2  # 2: the list in the tables of ledger.store.scratch, kept by Roster
_SCHEMA: Final = (
    STATE_SCHEMA
    + LIST_SCHEMA
    + """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX departures_seq ON departures (seq);
CREATE INDEX flags_seq ON flags (seq);
"""
)


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
        self._book = _PageBook(_Database(db, path), self.touched)
        self._roster = Roster(state=SqliteState(db, str(path)), book=self._book)

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
        return {
            name: int(self._all(f"SELECT count(*) FROM {table}", ())[0][0])  # noqa: S608
            for name, table in (
                ("signatories", "signatories"),
                ("departed", "departures"),
                ("flags", "flags"),
            )
        }

    def apply(self, seq: int, raw: bytes) -> None:
        """Run a verified entry through the list's rules and record what it changes.

        The rules are ``lifecycle.apply`` and the list is ``roster.Roster``, as in ``verify``;
        only where they keep it differs. The pages whose list it changes are added to
        ``touched``.

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
                self._roster.state,
                seq=seq,
                entry_type=entry.type,
                signed=signed,
                signer=signer,
                log_key=self.log_key,
            )
        except VerificationError as exc:
            raise VerificationError(f"entry {seq}: {exc}") from None
        self._roster.record(seq, entry, signed, signer, outcome)
        if self._roster.closed_at == seq:
            self._set("closed_at", seq)

    def page(self, page: int) -> ListPage:
        """What page ``page`` of the list shows now.

        Raises:
            StoreError: the state cannot be read.
        """
        signatories, departed, flags = self._book.between(
            page * PAGE_ENTRIES, (page + 1) * PAGE_ENTRIES
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


class _Database:
    """The state file's connection as ``ledger.store.scratch.Rows``."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: {exc}") from None

    def close(self) -> None:
        self._db.close()


class _PageBook(ScratchBook):
    """The list in the state file; notes the page of every endorsement whose line changes."""

    def __init__(self, rows: _Database, touched: set[int]) -> None:
        super().__init__(rows)
        self._touched = touched

    def put_current(self, org: int, signatory: Signatory) -> None:
        self._touched.add(page_of(signatory.seq))
        super().put_current(org, signatory)

    def pop_current(self, org: int) -> Signatory | None:
        signatory = super().pop_current(org)
        if signatory is not None:
            self._touched.add(page_of(signatory.seq))
        return signatory

    def add_departure(self, departure: Departure) -> None:
        self._touched.add(page_of(departure.seq))
        super().add_departure(departure)

    def add_flag(self, flag: Problem) -> None:
        if flag.seq is not None:
            self._touched.add(page_of(flag.seq))
        super().add_flag(flag)
