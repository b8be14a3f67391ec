"""The lifecycle state (``ledger.lifecycle.StateView``) in the SQLite store.

``append`` applies the same state machine as ``verify``, but reads the state from the store's
tables inside the write transaction, so appending costs O(log n) reads however long the ledger
is. A writer's changes stay in memory (``BufferedState``) until the transaction commits, when
they are written with one statement per table; a refused entry (or a failed commit) leaves the
state as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final

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
_CHUNK: Final = 500  # values per IN (...) list, well under SQLite's limit on parameters
# Templates for a list of "?" placeholders; each IN list on its own (partial) index.
_KEYS: Final = "SELECT key_id, org, revoked_from FROM keys WHERE key_id IN ({marks})"
_LIVE_WITH_SKELETONS: Final = (
    "SELECT org, skeleton, skeleton2 FROM orgs WHERE skeleton IN ({marks}) AND live IS NOT NULL "
    "UNION SELECT org, skeleton, skeleton2 FROM orgs WHERE skeleton2 IN ({marks}) "
    "AND live IS NOT NULL"
)
_PUT_KEY: Final = "INSERT OR REPLACE INTO keys VALUES (?, ?, ?)"
_PUT_ORG: Final = "INSERT OR REPLACE INTO orgs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


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
        self.put_keys([record])

    def put_org(self, record: OrgRecord) -> None:
        self.put_orgs([(record, _skeletons_of(record))])

    def put_keys(self, records: Iterable[KeyRecord]) -> None:
        """Create or replace several keys' records with one statement."""
        self._write_many(_PUT_KEY, [(r.key_id, r.org, r.revoked_from) for r in records])

    def put_orgs(self, records: Iterable[tuple[OrgRecord, tuple[str, ...]]]) -> None:
        """Create or replace several organisations' records (each with the skeletons of its
        name, ``lookalike.skeletons``) with one statement."""
        self._write_many(
            _PUT_ORG,
            [
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
                )
                for record, keys in records
            ],
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

    def keys(self, key_ids: Sequence[bytes]) -> dict[bytes, KeyRecord]:
        """The records of those of these keys that the state holds (a few statements)."""
        found = {}
        for start in range(0, len(key_ids), _CHUNK):
            chunk = key_ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            query = _KEYS.format(marks=marks)
            for key_id, org, revoked_from in self._all(query, tuple(chunk)):
                found[bytes(key_id)] = KeyRecord(bytes(key_id), int(org), _int(revoked_from))
        return found

    def live_orgs_with_skeletons(self, name_skeletons: Sequence[str]) -> dict[str, list[int]]:
        """``live_orgs_with_skeleton`` of each of these skeletons (a few statements)."""
        found: dict[str, set[int]] = {key: set() for key in name_skeletons}
        for start in range(0, len(name_skeletons), _CHUNK):
            chunk = tuple(name_skeletons[start : start + _CHUNK])
            marks = ", ".join("?" * len(chunk))
            query = _LIVE_WITH_SKELETONS.format(marks=marks)
            for org, first, second in self._all(query, chunk + chunk):
                for key in (first, second):
                    if key in found:
                        found[key].add(int(org))
        return {key: sorted(orgs) for key, orgs in found.items()}

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
        self._write_many(sql, [args])

    def _write_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._location}: write failed ({exc})") from None


_ABSENT: Final[Any] = object()  # "not changed in this transaction": read the tables
_OrgSlot = tuple[OrgRecord, tuple[str, ...]]  # a record and the skeletons of its name


class BufferedState:
    """The ``StateView`` of one write transaction: reads the tables, keeps its writes in memory.

    Reads see the writes made before them (the tables, overlaid with what changed in the
    transaction). ``mark`` and ``undo`` take back the writes made since a mark, so a refused
    entry costs no SQL; ``flush`` writes what changed, one statement per table, before the
    transaction commits. The tables do not change under it: the transaction holds the write
    lock, and nothing else in it writes the state tables.
    """

    def __init__(self, tables: SqliteState) -> None:
        """Overlay the state tables of a write transaction."""
        self._tables = tables
        self._keys: dict[bytes, KeyRecord] = {}
        self._orgs: dict[int, _OrgSlot] = {}
        # Indexes of the changed organisations' records, as the tables' indexes are of theirs.
        self._live: dict[int, int] = {}  # live endorsement -> organisation
        self._by_skeleton: dict[str, set[int]] = {}  # skeleton -> live organisations
        self._closed: Any = _ABSENT  # the closing entry once read or set (None: open)
        self._closed_changed = False
        # (kind, key, value before the write) of every write, for ``undo``.
        self._journal: list[tuple[str, Any, Any]] = []
        # What the tables hold, read ahead (``prefetch``); valid until ``flush`` writes them.
        self._table_keys: dict[bytes, KeyRecord | None] = {}
        self._table_skeletons: dict[str, list[int]] = {}

    def prefetch(self, key_ids: Iterable[bytes], names: Iterable[str]) -> None:
        """Read ahead the tables' records of these keys and the live organisations whose names
        look like these names, in a few statements for a whole batch instead of one or two
        per endorsement; later reads of them are answered from memory."""
        wanted_keys = [key for key in dict.fromkeys(key_ids) if key not in self._table_keys]
        found = self._tables.keys(wanted_keys)
        for key in wanted_keys:
            self._table_keys[key] = found.get(key)
        wanted = dict.fromkeys(key for name in names for key in skeletons(name))
        self._table_skeletons.update(
            self._tables.live_orgs_with_skeletons(
                [key for key in wanted if key not in self._table_skeletons]
            )
        )

    def key(self, key_id: bytes) -> KeyRecord | None:
        record = self._keys.get(key_id)
        if record is not None:
            return record
        if key_id in self._table_keys:
            return self._table_keys[key_id]
        return self._tables.key(key_id)

    def org(self, org: int) -> OrgRecord:
        slot = self._orgs.get(org)
        return slot[0] if slot is not None else self._tables.org(org)

    def put_key(self, record: KeyRecord) -> None:
        self._journal.append(("key", record.key_id, self._keys.get(record.key_id, _ABSENT)))
        self._keys[record.key_id] = record

    def put_org(self, record: OrgRecord) -> None:
        self._journal.append(("org", record.org, self._orgs.get(record.org, _ABSENT)))
        self._set_org(record.org, (record, _skeletons_of(record)))

    def org_of_live_entry(self, seq: int) -> int | None:
        org = self._live.get(seq)
        if org is not None:
            return org
        org = self._tables.org_of_live_entry(seq)
        # A changed organisation whose live endorsement is seq would be in self._live.
        return None if org in self._orgs else org

    def live_orgs_with_skeleton(self, name_skeleton: str) -> list[int]:
        in_tables = self._table_skeletons.get(name_skeleton)
        if in_tables is None:
            in_tables = self._tables.live_orgs_with_skeleton(name_skeleton)
        unchanged = [org for org in in_tables if org not in self._orgs]
        changed = self._by_skeleton.get(name_skeleton)
        return sorted(changed.union(unchanged)) if changed else unchanged

    def closed_at(self) -> int | None:
        if self._closed is _ABSENT:
            self._closed = self._tables.closed_at()
        closed: int | None = self._closed
        return closed

    def set_closed(self, seq: int) -> None:
        # The journal's key slot holds the "changed" flag before the write.
        self._journal.append(("closed", self._closed_changed, self._closed))
        self._closed, self._closed_changed = seq, True

    def mark(self) -> int:
        """A point to ``undo`` back to."""
        return len(self._journal)

    def undo(self, mark: int) -> None:
        """Take back every write made since ``mark``, latest first."""
        while len(self._journal) > mark:
            kind, key, before = self._journal.pop()
            if kind == "key":
                if before is _ABSENT:
                    del self._keys[key]
                else:
                    self._keys[key] = before
            elif kind == "org":
                self._set_org(key, before)
            else:
                self._closed_changed, self._closed = key, before

    def flush(self) -> None:
        """Write what changed to the tables and forget it.

        Raises:
            StoreError: a write failed; the transaction must be rolled back.
        """
        # In primary-key order: the B-tree is walked once, not at random (key ids are hashes).
        if self._keys:
            self._tables.put_keys(sorted(self._keys.values(), key=_key_id))
        if self._orgs:
            self._tables.put_orgs(slot for _, slot in sorted(self._orgs.items()))
        if self._closed_changed:
            self._tables.set_closed(self._closed)
        self._keys.clear()
        self._orgs.clear()
        self._live.clear()
        self._by_skeleton.clear()
        self._closed, self._closed_changed = _ABSENT, False
        self._journal.clear()
        self._table_keys.clear()
        self._table_skeletons.clear()

    def _set_org(self, org: int, slot: _OrgSlot | Any) -> None:
        old = self._orgs.get(org)
        if old is not None and old[0].live is not None:
            del self._live[old[0].live]
            for key in old[1]:
                self._by_skeleton[key].discard(org)
        if slot is _ABSENT:
            self._orgs.pop(org, None)
            return
        self._orgs[org] = slot
        record, keys = slot
        if record.live is not None:
            self._live[record.live] = org
            for key in keys:
                self._by_skeleton.setdefault(key, set()).add(org)


def _key_id(record: KeyRecord) -> bytes:
    return record.key_id


def _skeletons_of(record: OrgRecord) -> tuple[str, ...]:
    return () if record.name is None else skeletons(record.name)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
