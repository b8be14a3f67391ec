"""The state and the list of a large ledger's verification, in a temporary SQLite file.

Verifying keeps, per organisation, the lifecycle state (its keys, its live endorsement, its
name's skeletons) and the list the report shows (the current signatory, what left, what was
flagged). As Python objects that is ~1.3 KB per signatory, 1.3 GB at 10^6 entries
(docs/performance.md, "Memory"); here it is rows in a private temporary database, so memory
stays flat in the ledger's size:

* opened with the empty file name, which makes SQLite create a private temporary file and
  delete it when the connection closes (on POSIX it is unlinked as soon as it is created, so
  nothing is left behind even if the process dies); while the data fits in the page cache the
  file is not even written;
* no journal, no syncing (nothing in it has to survive), a bounded page cache
  (``CACHE_KIB``), one transaction for the whole run;
* the lifecycle state is ``SqliteState``, the ``StateView`` that ``append`` uses, over the same
  ``STATE_SCHEMA``: verification and append run the same queries. The list has tables of its own.

``roster_for`` chooses between this and the in-memory ``Roster`` by the ledger's size. The
report's lists are read-only views of the file (``RowSequence``); the file lives until the
report is closed (``Report.close``) or garbage collected.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Final, Generic, Protocol, TypeVar, overload

import attrs

from ledger.errors import StoreError, UsageError
from ledger.findings import Departure, Event, Problem, Signatory
from ledger.roster import Roster
from ledger.store.state import STATE_SCHEMA, SqliteState

SCRATCH_FROM: Final = 10_000
"""Ledgers of at least this many entries are verified with the state and list on disk.

Below it, the in-memory roster is faster (see docs/performance.md, "Memory") and its memory,
~1.3 KB per signatory, stays under ~13 MB. Measured with bench/bench_state.py."""
CACHE_KIB: Final = 16_384
"""SQLite's page cache for the temporary file: a bound on the memory it uses."""
PAGE_ROWS: Final = 512
"""Rows read per query while a list is iterated."""
LOCATION: Final = "verification scratch file"

LIST_SCHEMA = """
CREATE TABLE signatories (
    org INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    domain TEXT,
    url TEXT,
    country TEXT,
    fingerprint TEXT NOT NULL,
    key_id BLOB NOT NULL,
    signed_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    identity TEXT NOT NULL,
    identity_note TEXT
);
CREATE TABLE departures (
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    how TEXT NOT NULL,
    ended_at_entry INTEGER NOT NULL,
    "when" INTEGER NOT NULL,
    reason TEXT,
    note TEXT
);
CREATE TABLE flags (seq INTEGER, "check" TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    org INTEGER,
    name TEXT,
    fingerprint TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE names (org INTEGER PRIMARY KEY, name TEXT NOT NULL);
"""

T = TypeVar("T")


class Rows(Protocol):
    """A database the list's tables are in: ``Scratch``, or the publisher's state file."""

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run one statement; SQLite's errors become ``StoreError``."""
        ...

    def close(self) -> None:
        """Close the database."""
        ...


class Scratch:
    """One temporary database: its connection, and the one place that closes it."""

    def __init__(self) -> None:
        """Create the temporary database with the state and list tables.

        Raises:
            StoreError: SQLite cannot create it (no temporary directory, disk full).
        """
        try:
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{LOCATION}: cannot be created ({exc})") from None
        # Closes the connection (and so deletes the file) when this object is collected, if
        # ``close`` was not called first.
        self._finalizer = weakref.finalize(self, db.close)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            db.executescript(STATE_SCHEMA + LIST_SCHEMA)
            db.execute("BEGIN")
        except sqlite3.Error as exc:
            self._finalizer()
            raise StoreError(f"{LOCATION}: cannot be created ({exc})") from None
        self._db = db

    @property
    def closed(self) -> bool:
        """True once the file is gone."""
        return not self._finalizer.alive

    def connection(self) -> sqlite3.Connection:
        """The open connection.

        Raises:
            UsageError: the file was closed (the report it belongs to was closed).
        """
        if not self._finalizer.alive:
            raise UsageError(
                "this report's lists were in a temporary file that is closed: "
                "read them before closing the report"
            )
        return self._db

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run one statement; SQLite's errors become ``StoreError``."""
        db = self.connection()
        try:
            return db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{LOCATION}: {exc}") from None

    def close(self) -> None:
        """Close the connection; SQLite deletes the file. Closing twice does nothing."""
        self._finalizer()


class ScratchState(SqliteState):
    """``SqliteState`` over a scratch file, with the closing entry kept in memory.

    ``closed_at`` is asked for every entry; one integer needs no query (and no ``meta``).
    """

    def __init__(self, scratch: Scratch) -> None:
        """The empty state in ``scratch``."""
        super().__init__(scratch.connection(), LOCATION)
        self._scratch = scratch  # keeps the file open as long as the state is used
        self._closed: int | None = None

    def closed_at(self) -> int | None:
        return self._closed

    def set_closed(self, seq: int) -> None:
        self._closed = seq


class _Table(Generic[T]):
    """How one attrs type is stored: one column per field, in field order; its queries.

    Table and column names are constants of this module and attrs field names: never data.
    """

    def __init__(self, name: str, kind: type[T], order: str, key: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.fields = tuple(field.name for field in attrs.fields(kind))  # type: ignore[arg-type]
        columns = ", ".join(f'"{field}"' for field in self.fields)
        into = ", ".join([*([key] if key else []), columns])
        marks = ", ".join("?" * (len(self.fields) + (1 if key else 0)))
        select = f"SELECT {columns} FROM {name}"  # noqa: S608
        self.insert = f"INSERT OR REPLACE INTO {name} ({into}) VALUES ({marks})"  # noqa: S608
        self.by_key = f"{select} WHERE {key} = ?"
        self.delete = f"DELETE FROM {name} WHERE {key} = ?"  # noqa: S608
        self.count = f"SELECT count(*) FROM {name}"  # noqa: S608
        self.offset = f"{select} ORDER BY {order} LIMIT ? OFFSET ?"
        paged = f"SELECT {order}, {columns} FROM {name} WHERE {order}"  # noqa: S608
        self.after = f"{paged} > ? ORDER BY {order} LIMIT {PAGE_ROWS}"
        self.before = f"{paged} < ? ORDER BY {order} DESC LIMIT {PAGE_ROWS}"
        self.between = f"{select} WHERE seq >= ? AND seq < ? ORDER BY seq, {order}"

    def row(self, value: T) -> tuple[Any, ...]:
        return tuple(getattr(value, field) for field in self.fields)

    def value(self, row: Sequence[Any]) -> T:
        return self.kind(*row)


_SIGNATORIES = _Table("signatories", Signatory, "seq", key="org")
_DEPARTURES = _Table("departures", Departure, "rowid")
_FLAGS = _Table("flags", Problem, "rowid")
_EVENTS = _Table("events", Event, "rowid")


class RowSequence(Sequence[T]):
    """A read-only list kept in a scratch file: streamed in pages, never loaded whole.

    ``len`` is fixed when it is made (the verification that filled the table is over). Indexing
    is a query (``OFFSET``: O(index)); iterate to read it all.
    """

    def __init__(self, scratch: Rows, table: _Table[T]) -> None:
        """The rows of ``table`` in its order."""
        self._scratch = scratch
        self._table = table
        (count,) = scratch.execute(table.count).fetchone()
        self._length = int(count)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[T]:
        return self._pages(self._table.after, -(2**63))

    def __reversed__(self) -> Iterator[T]:
        return self._pages(self._table.before, 2**63 - 1)

    def _pages(self, sql: str, start: int) -> Iterator[T]:
        # Keyset pagination: each page starts after the last key read, so a page costs
        # O(log n) to find and the file is read once.
        last = start
        while True:
            rows = self._scratch.execute(sql, (last,)).fetchall()
            for row in rows:
                yield self._table.value(row[1:])
            if len(rows) < PAGE_ROWS:
                return
            last = rows[-1][0]

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step != 1:
                return tuple(self[i] for i in range(start, stop, step))
            return tuple(self._rows(max(0, stop - start), start))
        position = index + self._length if index < 0 else index
        if not 0 <= position < self._length:
            raise IndexError(f"index {index} out of range for {self._length} items")
        return next(iter(self._rows(1, position)))

    def _rows(self, limit: int, offset: int) -> list[T]:
        rows = self._scratch.execute(self._table.offset, (limit, offset)).fetchall()
        return [self._table.value(row) for row in rows]

    def close(self) -> None:
        """Close the scratch file (every list of the same report with it)."""
        self._scratch.close()

    def __repr__(self) -> str:
        return f"<{self._table.kind.__name__} x {self._length} in a {LOCATION}>"


class ScratchBook:
    """A ``roster.RosterBook`` in a scratch file (or another database with ``LIST_SCHEMA``)."""

    def __init__(self, scratch: Rows) -> None:
        """The empty list in ``scratch``."""
        self.scratch = scratch

    def current(self, org: int) -> Signatory | None:
        row = self.scratch.execute(_SIGNATORIES.by_key, (org,)).fetchone()
        return None if row is None else _SIGNATORIES.value(row)

    def put_current(self, org: int, signatory: Signatory) -> None:
        self.scratch.execute(_SIGNATORIES.insert, (org, *_SIGNATORIES.row(signatory)))

    def pop_current(self, org: int) -> Signatory | None:
        signatory = self.current(org)
        if signatory is not None:
            self.scratch.execute(_SIGNATORIES.delete, (org,))
        return signatory

    def add_departure(self, departure: Departure) -> None:
        self.scratch.execute(_DEPARTURES.insert, _DEPARTURES.row(departure))

    def add_flag(self, flag: Problem) -> None:
        self.scratch.execute(_FLAGS.insert, _FLAGS.row(flag))

    def add_event(self, event: Event) -> None:
        self.scratch.execute(_EVENTS.insert, _EVENTS.row(event))

    def name(self, org: int) -> str | None:
        row = self.scratch.execute("SELECT name FROM names WHERE org = ?", (org,)).fetchone()
        return None if row is None else str(row[0])

    def set_name(self, org: int, name: str) -> None:
        self.scratch.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (org, name))

    def between(
        self, low: int, high: int
    ) -> tuple[tuple[Signatory, ...], tuple[Departure, ...], tuple[Problem, ...]]:
        """The signatories, departures and flags of the endorsements at entries low..high-1.

        Fast with an index on ``seq`` in each table (the publisher's state has them).
        """
        return (
            self._between(_SIGNATORIES, low, high),
            self._between(_DEPARTURES, low, high),
            self._between(_FLAGS, low, high),
        )

    def _between(self, table: _Table[T], low: int, high: int) -> tuple[T, ...]:
        rows = self.scratch.execute(table.between, (low, high)).fetchall()
        return tuple(table.value(row) for row in rows)

    def signatories(self) -> RowSequence[Signatory]:
        return RowSequence(self.scratch, _SIGNATORIES)

    def departures(self) -> RowSequence[Departure]:
        return RowSequence(self.scratch, _DEPARTURES)

    def flags(self) -> RowSequence[Problem]:
        return RowSequence(self.scratch, _FLAGS)

    def events(self) -> RowSequence[Event]:
        return RowSequence(self.scratch, _EVENTS)


class ScratchRoster(Roster):
    """A ``Roster`` whose state and list are in a scratch file (``close`` deletes it)."""

    def __init__(self, *, keep_events: bool = False) -> None:
        """An empty list in a new scratch file.

        Raises:
            StoreError: the file cannot be created.
        """
        self.scratch = Scratch()
        super().__init__(
            keep_events=keep_events,
            state=ScratchState(self.scratch),
            book=ScratchBook(self.scratch),
        )

    def close(self) -> None:
        """Delete the file (the lists of a report made from this roster with it)."""
        self.scratch.close()


def roster_for(size: int, *, keep_events: bool = False, threshold: int | None = None) -> Roster:
    """The roster to verify a ledger of ``size`` entries with: on disk from ``threshold``
    (default ``SCRATCH_FROM``) entries on, in memory below.

    Raises:
        StoreError: a scratch file is needed and cannot be created.
    """
    if size >= (SCRATCH_FROM if threshold is None else threshold):
        return ScratchRoster(keep_events=keep_events)
    return Roster(keep_events=keep_events)


def close_roster(roster: Roster) -> None:
    """Delete a roster's scratch file, if it has one (after a failed verification)."""
    if isinstance(roster, ScratchRoster):
        roster.close()
