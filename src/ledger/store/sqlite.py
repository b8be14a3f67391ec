"""The embedded default store: one SQLite file.

Durability: WAL journal with ``synchronous=FULL``, so a committed append survives a crash or a
power cut. Writers are serialised with ``BEGIN IMMEDIATE`` (the database write lock is taken
before the tip is read), and every append is one transaction: it lands whole or not at all.

Tree: table ``tree`` holds the hash of every perfect subtree of level >= 1 that is complete
(level 0 is the ``entries.leaf_hash`` column). Appending leaf n writes one row per level that n
completes, O(log n) amortised 2 rows; a root or proof at any earlier size reads O(log n) rows,
all in one statement (``range_hashes``), fewer still as the top of the tree, immutable once
committed, is kept in memory (``ledger.store.nodecache``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from ledger.errors import StoreError, UsageError
from ledger.merkle import HASH_SIZE, fold_subtrees, hash_children, hash_leaf, perfect_subtrees
from ledger.store.nodecache import DEFAULT_CAPACITY, NodeCache
from ledger.store.state import STATE_SCHEMA, BufferedState, SqliteState

APPLICATION_ID: Final = 0x454C4731  # "ELG1": marks the file as a ledger for `file` and for us
SCHEMA_VERSION: Final = 2  # 2: lifecycle state tables (keys, orgs)
BUSY_TIMEOUT_MS: Final = 30_000
_ITER_BATCH: Final = 4096
_SELECT_SIZE: Final = "SELECT COALESCE(MAX(seq) + 1, 0) FROM entries"
_NODE_CACHE_CAPACITY: Final = DEFAULT_CAPACITY  # nodes of the top of the tree kept in memory
_RANGES_KEPT: Final = 512  # MTH of ranges of several subtrees kept in memory (~100 KB)
_PROOF_PAGE_CACHE_KIB: Final = 16_384  # SQLite's page cache once proofs are read (default 2 MB)
_NODES_PER_QUERY: Final = 200  # 400 parameters: under every SQLite build's limit (999)

_SCHEMA: Final = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (size, created)
) WITHOUT ROWID;
"""

# How a range is answered: its hash (known), its one node, or the nodes to fold.
_Planned = bytes | tuple[int, int] | list[tuple[int, int]]


class SqliteStore:
    """A ledger stored in one SQLite file. Open with ``create`` or ``open``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        """Wrap an open connection; use ``create`` or ``open`` instead."""
        self._db = connection
        self._path = path
        self._cache = NodeCache(_NODE_CACHE_CAPACITY)
        self._ranges: dict[tuple[int, int], bytes] = {}  # MTH of ranges of several subtrees
        self._committed_size = 0  # the largest size a committed read has shown
        self._serving = False  # whether the page cache was sized for proofs yet
        # The open write transaction, whose entries and nodes wait in memory for the commit:
        # reads through the store inside it see them, as SQLite would show its own writes.
        self._pending: _SqliteWriter | None = None

    @classmethod
    def create(cls, path: Path) -> SqliteStore:
        """Create a new, empty ledger file; refuses to touch an existing file.

        Raises:
            StoreError: the file exists or cannot be created.
        """
        try:
            with path.open("xb"):
                pass
        except FileExistsError:
            raise StoreError(f"{path} exists; refusing to overwrite it") from None
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from None
        db = _connect(path)
        try:
            with db:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.executescript(_SCHEMA + STATE_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            path.unlink(missing_ok=True)
            raise StoreError(f"cannot create {path}: {exc}") from None
        return cls(db, path)

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> SqliteStore:
        """Open an existing ledger file.

        Args:
            path: the file.
            readonly: open without write access and without changing the journal mode, so
                verifying a published or archived file never modifies it.

        Raises:
            StoreError: missing, unreadable, not a SQLite file, or not a ledger.
        """
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a ledger file")
        if not path.is_file():
            raise StoreError(f"{path}: no such ledger file")
        if path.stat().st_size == 0:
            raise StoreError(f"{path} is empty, not a ledger file")
        # Identify the file read-only first: a foreign file is refused before anything (the
        # journal mode included) is written to it.
        try:
            probe = _connect_readonly(path)
            try:
                app_id = probe.execute("PRAGMA application_id").fetchone()[0]
                version = probe.execute("PRAGMA user_version").fetchone()[0]
            finally:
                probe.close()
        except sqlite3.Error as exc:
            raise StoreError(f"{path} is not a ledger file ({exc})") from None
        if app_id != APPLICATION_ID:
            raise StoreError(f"{path} is a SQLite file but not a ledger")
        if version != SCHEMA_VERSION:
            raise StoreError(f"{path}: unsupported ledger schema version {version}")
        try:
            db = _connect_readonly(path) if readonly else _connect(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        return cls(db, path)

    @property
    def location(self) -> str:
        """The file's path."""
        return str(self._path)

    def size(self) -> int:
        """The number of entries."""
        if self._pending is not None:
            return self._pending.size
        try:
            size = int(self._db.execute(_SELECT_SIZE).fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: read failed, the file is damaged ({exc})") from None
        if not self._db.in_transaction:
            self._saw_committed_size(size)
        return size

    def _saw_committed_size(self, size: int) -> None:
        # Committed entries are never removed: the largest size seen is a lower bound for good.
        if size > self._committed_size:
            self._committed_size = size
            self._cache.fit(size)

    def covers(self, size: int) -> bool:
        """Whether the ledger has at least ``size`` entries.

        Answered from memory when a committed read has already shown that many (the log only
        grows), so a proof at a size the caller knows costs no size query.
        """
        return size >= 0 and (size <= self._committed_size or size <= self.size())

    def entry(self, seq: int) -> bytes:
        """The bytes of entry ``seq``."""
        pending = self._pending.buffered(seq) if self._pending is not None else None
        if pending is not None:
            return pending[1]
        return bytes(self._one("SELECT data FROM entries WHERE seq = ?", (seq,), f"entry {seq}"))

    def leaf_hash(self, seq: int) -> bytes:
        """The stored leaf hash of entry ``seq``."""
        pending = self._pending.buffered(seq) if self._pending is not None else None
        if pending is not None:
            return pending[0]
        return bytes(
            self._one("SELECT leaf_hash FROM entries WHERE seq = ?", (seq,), f"entry {seq}")
        )

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, data)`` in order, reading in batches so memory stays flat."""
        stop = self.size() if end is None else end
        position = start
        while position < stop:
            rows = self._query(
                "SELECT seq, data FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
                (position, stop, _ITER_BATCH),
            ).fetchall()
            if not rows:
                break
            for seq, data in rows:
                yield int(seq), _blob(data, f"entry {seq}", self._path)
                position = int(seq) + 1
        while self._pending is not None and position < stop:  # this transaction's own entries
            pending = self._pending.buffered(position)
            if pending is None:
                return
            yield position, pending[1]
            position += 1

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of a complete perfect subtree (level 0: a leaf hash)."""
        return self.subtree_hashes(((level, index),))[0]

    def subtree_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of several perfect subtrees (level 0: leaf hashes), in the order asked.

        The top of the tree comes from memory (``NodeCache``); the rest is read in one
        statement per 200 nodes, each node a primary-key search.

        Raises:
            StoreError: a node is missing (not complete in this ledger) or damaged.
        """
        found = self._find(nodes)
        return [found[node] for node in nodes]

    def range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """MTH of each leaf range ``(start, end)`` made of aligned perfect subtrees, in order.

        Every node the ranges need is read at once, so a whole proof (its path, its leaf and
        the roots) is one query, or none when the top of the tree is in memory. The MTH of a
        range of several subtrees (the root of a size, the right edge of a path) is kept too:
        like the nodes, it never changes once its leaves are committed.

        Raises:
            UsageError: a range is empty or not made of aligned perfect subtrees.
            StoreError: a node is missing (not complete in this ledger) or damaged.
        """
        plans, found, missing = self._plan(ranges)
        if missing:
            self._read_nodes(missing, found)
        return self._finish(ranges, plans, found)

    def _plan(
        self, ranges: Sequence[tuple[int, int]]
    ) -> tuple[list[_Planned], dict[tuple[int, int], bytes], list[tuple[int, int]]]:
        """Per range its hash if known, else its node or nodes; the nodes known; those to read."""
        known, cached = self._ranges, self._cache.get
        plans: list[_Planned] = []
        found: dict[tuple[int, int], bytes] = {}
        missing: dict[tuple[int, int], None] = {}  # each once, in order
        for start, end in ranges:
            width = end - start
            if start < 0 or width <= 0:
                raise UsageError(f"leaf range [{start}, {end}) is empty or negative")
            if not width & (width - 1) and not start & (width - 1):
                level = width.bit_length() - 1  # one aligned perfect subtree: most ranges
                node = (level, start >> level)
                value = cached(node)
                if value is None:
                    missing[node] = None
                plans.append(node if value is None else value)
            elif (value := known.get((start, end))) is not None:
                plans.append(value)
            else:
                subtrees = perfect_subtrees(start, end)
                for node in subtrees:
                    value = cached(node)
                    if value is None:
                        missing[node] = None
                    else:
                        found[node] = value
                plans.append(subtrees)
        return plans, found, list(missing)

    def _finish(
        self,
        ranges: Sequence[tuple[int, int]],
        plans: list[_Planned],
        found: dict[tuple[int, int], bytes],
    ) -> list[bytes]:
        known = self._ranges
        keep = not self._db.in_transaction  # every node found is then committed data
        hashes: list[bytes] = []
        for (start, end), planned in zip(ranges, plans, strict=True):
            if isinstance(planned, bytes):
                hashes.append(planned)
            elif isinstance(planned, tuple):
                hashes.append(found[planned])
            else:
                value = fold_subtrees([found[node] for node in planned])
                if keep:
                    if len(known) >= _RANGES_KEPT:
                        known.clear()  # bounded; the ranges in use come back at once
                    known[(start, end)] = value
                hashes.append(value)
        return hashes

    def _find(self, nodes: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found, missing = self._cache.lookup(nodes)
        if missing:
            self._read_nodes(missing, found)
        return found

    def current_range_hashes(
        self, plan: Callable[[int], Sequence[tuple[int, int]]]
    ) -> tuple[int, list[bytes]]:
        """The number of entries n now, and :meth:`range_hashes` of ``plan(n)``.

        For a proof "at the current size" without a statement just for the size: one
        statement reads the size together with the nodes planned for the size a committed
        read showed last; only if the ledger has grown since are the ranges planned again and
        read for the new size. The size and the nodes come from one snapshot.

        Raises:
            UsageError: ``plan(n)`` raises it (e.g. an index beyond the ledger).
            StoreError: a node is missing or damaged.
        """
        guess = self._committed_size
        try:
            ranges = plan(guess) if guess > 0 else None
        except UsageError:  # e.g. an index beyond the size seen last: plan for the size now
            ranges = None
        if ranges is None:
            size = self.size()
            return size, self.range_hashes(plan(size))
        plans, found, missing = self._plan(ranges)
        size = self._read_nodes(missing, found, with_size=True)
        if size != guess:
            return size, self.range_hashes(plan(size))
        return size, self._finish(ranges, plans, found)

    def _read_nodes(
        self,
        nodes: list[tuple[int, int]],
        found: dict[tuple[int, int], bytes],
        *,
        with_size: bool = False,
    ) -> int:
        """Read ``nodes`` into ``found`` (StoreError if one is missing) and, if asked, the size.

        Returns the number of entries when ``with_size``, else -1.
        """
        if self._pending is None:
            return self._read_stored_nodes(nodes, found, with_size=with_size)
        # Inside our own write transaction, whose nodes are not in the file yet.
        rest = self._pending.take_buffered_nodes(nodes, found)
        if rest:
            self._read_stored_nodes(rest, found)
        return self._pending.size if with_size else -1

    def _read_stored_nodes(
        self,
        nodes: list[tuple[int, int]],
        found: dict[tuple[int, int], bytes],
        *,
        with_size: bool = False,
    ) -> int:
        """``_read_nodes`` from the file alone (outside or below the writer's buffers)."""
        # Only what is read outside our own write transaction is committed: cache that alone.
        committed = not self._db.in_transaction
        if committed and not self._serving:
            self._serve_proofs()
        cache, floor = self._cache, self._cache.floor
        size = -1
        for start in range(0, max(len(nodes), with_size), _NODES_PER_QUERY):  # once for the size
            chunk = nodes[start : start + _NODES_PER_QUERY]
            leaves = [index for level, index in chunk if level == 0]
            inner = [value for node in chunk if node[0] > 0 for value in node]
            sql = _select_nodes(len(leaves), len(inner) // 2, with_size and start == 0)
            try:
                rows = self._db.execute(sql, (*leaves, *inner)).fetchall()
            except (sqlite3.Error, OverflowError) as exc:
                raise StoreError(
                    f"{self._path}: read failed, the file is damaged ({exc})"
                ) from None
            for level, index, value in rows:
                if level < 0:  # the size row
                    size = int(index)
                    continue
                if type(value) is not bytes or len(value) != HASH_SIZE:
                    what = f"the leaf hash of entry {index}" if level == 0 else "tree node"
                    raise StoreError(
                        f"{self._path}: {what} ({level}, {index}) is not a hash (damaged file)"
                    )
                found[level, index] = value
                if committed and level >= floor:
                    cache.add((level, index), value)
            if len(rows) != len(chunk) + (size >= 0 and start == 0):  # one row per node found
                for level, index in chunk:
                    if (level, index) not in found:
                        what = f"entry {index}" if level == 0 else f"tree node ({level}, {index})"
                        raise StoreError(f"{self._path}: no {what}")
        if with_size and committed:
            self._saw_committed_size(size)
        return size

    def _serve_proofs(self) -> None:
        """Give the connection a page cache large enough for the tree's working set.

        At 10^6 entries the interior pages of the two tables (457 pages, 1.8 MB) nearly fill
        SQLite's default 2 MB, so the leaf pages of nodes asked for again had been evicted and
        were read from the file again. Raised only once proofs are read, so a full
        verification, which streams the entries, keeps the default.
        """
        self._serving = True
        try:
            self._db.execute(f"PRAGMA cache_size = -{_PROOF_PAGE_CACHE_KIB}")
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: read failed ({exc})") from None

    def meta(self, name: str) -> bytes | None:
        """A metadata value, or None."""
        row = self._query("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def state(self) -> SqliteState:
        """The lifecycle state, for reading (writers get theirs from ``writer().state``)."""
        return SqliteState(self._db, str(self._path))

    def add_checkpoint(self, size: int, created: int, note: str) -> None:
        """Record a checkpoint the log signed."""
        with self.writer() as writer:
            writer.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (size, created, note)
            )

    def replace_checkpoint(self, old_note: str, new_note: str) -> None:
        """Replace a recorded checkpoint's note (to attach cosignatures to the same text)."""
        with self.writer() as writer:
            writer.execute("UPDATE checkpoints SET note = ? WHERE note = ?", (new_note, old_note))

    def latest_checkpoint(self) -> str | None:
        """The most recent checkpoint note text, if any."""
        row = self._query(
            "SELECT note FROM checkpoints ORDER BY size DESC, created DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        if not isinstance(row[0], str):
            raise StoreError(f"{self._path}: the latest checkpoint is not text (damaged file)")
        return row[0]

    @contextmanager
    def writer(self) -> Iterator[_SqliteWriter]:
        """One write transaction, holding the database write lock from the start."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self._path}: cannot take the write lock ({exc})") from None
        try:
            writer = _SqliteWriter(self._db, self)  # raises StoreError on a broken file
            self._pending = writer
            try:
                yield writer
                writer.flush()
            finally:
                self._pending = None
        except BaseException:
            self._db.rollback()
            raise
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            self._db.rollback()
            raise StoreError(f"{self._path}: commit failed, nothing was written ({exc})") from None

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> _Rows:
        return _Rows(self._db, sql, args, self._path)

    def _one(self, sql: str, args: tuple[object, ...], what: str) -> bytes:
        row = self._query(sql, args).fetchone()
        if row is None:
            raise StoreError(f"{self._path}: no {what}")
        return _blob(row[0], what, self._path)


class _Rows:
    """A query whose every fetch maps a damaged file's errors to StoreError."""

    def __init__(
        self, db: sqlite3.Connection, sql: str, args: tuple[object, ...], path: Path
    ) -> None:
        self._path = path
        self._cursor = self._guard(lambda: db.execute(sql, args))

    def fetchone(self) -> Any:
        return self._guard(self._cursor.fetchone)

    def fetchall(self) -> list[Any]:
        return list(self._guard(self._cursor.fetchall))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def _guard(self, action: Callable[[], Any]) -> Any:
        # A damaged file can fail at any fetch, and text that is not UTF-8 fails in decoding.
        try:
            return action()
        except (sqlite3.Error, UnicodeDecodeError, OverflowError) as exc:
            raise StoreError(f"{self._path}: read failed, the file is damaged ({exc})") from None


def _blob(value: object, what: str, path: Path) -> bytes:
    if not isinstance(value, bytes):
        raise StoreError(f"{path}: {what} is not a byte string (damaged file)")
    return value


class _SqliteWriter:
    """The writer of one transaction (see ``StoreWriter``).

    Entries, tree nodes and state changes are kept in memory and written when the transaction
    commits (``flush``), one ``executemany`` per table: a batch costs a few statements instead
    of ~9 per entry, and a savepoint is a mark in those buffers, not SQL. Direct writes
    (``execute``, ``set_meta``) run at once; a savepoint that sees one takes a SQL savepoint.
    """

    def __init__(self, db: sqlite3.Connection, store: SqliteStore) -> None:
        self._db = db
        self._store = store
        try:
            row = db.execute(
                "SELECT seq, leaf_hash, data FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise StoreError(f"{store.location}: read failed ({exc})") from None
        self._size = 0 if row is None else int(row[0]) + 1
        self._tip = (
            bytes(32) if row is None else _blob(row[1], "the tip's hash", Path(store.location))
        )
        # The next entry links to this hash: a damaged one must not be chained on.
        if (
            row is not None
            and hash_leaf(_blob(row[2], "the tip", Path(store.location))) != self._tip
        ):
            raise StoreError(
                f"{store.location}: the stored hash of entry {row[0]} does not match "
                "its bytes (damaged file); run `ledger verify`"
            )
        if row is not None:
            last = db.execute("SELECT data FROM entries WHERE seq = ?", (row[0],)).fetchone()
            if last is None or not isinstance(last[0], bytes) or hash_leaf(last[0]) != self._tip:
                raise StoreError(
                    f"{store.location}: the stored hash of entry {row[0]} does not "
                    "match its bytes (damaged file); run `ledger verify`"
                )
        self._nodes: dict[tuple[int, int], bytes] = {}  # every node added, leaves included
        self._entries: list[tuple[int, bytes, bytes]] = []  # rows to write: seq, leaf, data
        self._tree: list[tuple[int, int, bytes]] = []  # rows to write: level, idx, hash
        self._state = BufferedState(SqliteState(db, store.location))
        self._savepoints: list[_Savepoint] = []  # the open ones, innermost last

    @property
    def size(self) -> int:
        return self._size

    @property
    def tip(self) -> bytes:
        return self._tip

    @property
    def state(self) -> BufferedState:
        """The lifecycle state, read and written in this transaction."""
        return self._state

    @contextmanager
    def savepoint(self, *, keep: bool = True) -> Iterator[None]:
        """A nested transaction, undone alone if its block raises (or always, unless keep)."""
        mark = _Savepoint(
            self._size, self._tip, len(self._entries), len(self._tree), self._state.mark()
        )
        self._savepoints.append(mark)
        try:
            yield
        except BaseException:
            self._savepoints.pop()
            self._undo(mark)
            raise
        self._savepoints.pop()
        if not keep:
            self._undo(mark)
        elif mark.sql:
            self._sql("RELEASE SAVEPOINT entry")

    def add(self, data: bytes, leaf_hash: bytes) -> int:
        seq = self._size
        self._entries.append((seq, leaf_hash, data))
        # RFC 9162 tree: leaf `seq` completes the perfect subtree at each level l whose last
        # leaf it is, i.e. while (seq + 1) is a multiple of 2**l.
        node, level, index = leaf_hash, 0, seq
        self._nodes[(0, seq)] = leaf_hash
        while index % 2 == 1:
            left = self._node(level, index - 1)
            node = hash_children(left, node)
            level, index = level + 1, index // 2
            self._nodes[(level, index)] = node
            self._tree.append((level, index, node))
        self._size, self._tip = seq + 1, leaf_hash
        return seq

    def buffered(self, seq: int) -> tuple[bytes, bytes] | None:
        """``(leaf hash, bytes)`` of an entry added in this transaction, else None."""
        first = self._entries[0][0] if self._entries else self._size
        if not first <= seq < self._size:
            return None
        _, leaf_hash, data = self._entries[seq - first]
        return leaf_hash, data

    def take_buffered_nodes(
        self, nodes: list[tuple[int, int]], found: dict[tuple[int, int], bytes]
    ) -> list[tuple[int, int]]:
        """Put the nodes added in this transaction into ``found``; returns the others."""
        rest = []
        for node in nodes:
            value = self._nodes.get(node)
            if value is None:
                rest.append(node)
            else:
                found[node] = value
        return rest

    def set_meta(self, name: str, value: bytes) -> None:
        self.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def execute(self, sql: str, args: tuple[object, ...]) -> None:
        """Run one write statement in this transaction now, mapping failures to StoreError.

        It does not see the entries, nodes and state changes buffered for the commit.
        """
        # SQL savepoints for the open savepoints that have none yet, outermost first: none of
        # them has written SQL before, so taking them now is the same as at their start.
        for mark in self._savepoints:
            if not mark.sql:
                self._sql("SAVEPOINT entry")
                mark.sql = True
        self._sql(sql, args)

    def flush(self) -> None:
        """Write the buffered entries, tree nodes and state changes (before the commit).

        Raises:
            StoreError: a write failed; the transaction must be rolled back.
        """
        try:
            if self._entries:
                self._db.executemany("INSERT INTO entries VALUES (?, ?, ?)", self._entries)
            if self._tree:
                self._db.executemany("INSERT INTO tree VALUES (?, ?, ?)", self._tree)
        except sqlite3.Error as exc:
            first = self._entries[0][0] if self._entries else self._size
            raise StoreError(
                f"{self._store.location}: write failed: append of entries {first}.."
                f"{self._size - 1} ({exc})"
            ) from None
        self._entries.clear()
        self._tree.clear()
        self._state.flush()

    def _undo(self, mark: _Savepoint) -> None:
        if mark.sql:
            self._sql("ROLLBACK TO SAVEPOINT entry")
            self._sql("RELEASE SAVEPOINT entry")
        for seq, _, _ in self._entries[mark.entries :]:
            del self._nodes[(0, seq)]
        for level, index, _ in self._tree[mark.tree :]:
            del self._nodes[(level, index)]
        del self._entries[mark.entries :]
        del self._tree[mark.tree :]
        self._state.undo(mark.state)
        self._size, self._tip = mark.size, mark.tip

    def _sql(self, sql: str, args: tuple[object, ...] = ()) -> None:
        try:
            self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._store.location}: write failed ({exc})") from None

    def _node(self, level: int, index: int) -> bytes:
        cached = self._nodes.get((level, index))
        return cached if cached is not None else self._store.subtree_hash(level, index)


class _Savepoint:
    """Where a savepoint started: the writer's tip and the lengths of its buffers."""

    __slots__ = ("entries", "size", "sql", "state", "tip", "tree")

    def __init__(self, size: int, tip: bytes, entries: int, tree: int, state: int) -> None:
        self.size, self.tip = size, tip
        self.entries, self.tree, self.state = entries, tree, state
        self.sql = False  # whether a SQL savepoint was taken (for a direct write)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the lock is taken up front.
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


@functools.lru_cache(maxsize=256)
def _select_nodes(leaves: int, inner: int, with_size: bool = False) -> str:
    """One statement reading ``leaves`` leaf hashes and ``inner`` tree nodes by primary key.

    Rows are ``(level, index, hash)``, and ``(-1, size, NULL)`` first when ``with_size``.
    Inner nodes come from a join against their list as constant rows, which SQLite plans as a
    primary-key search per node (a row-value ``IN (VALUES ...)`` would scan the whole table);
    ``tests/test_store_reads.py`` checks the plan.
    """
    # Only "?" placeholders are formatted into these statements (S608), never values.
    parts = []
    if with_size:
        parts.append("SELECT -1, COALESCE(MAX(seq) + 1, 0), NULL FROM entries")
    if leaves:
        marks = ", ".join("?" * leaves)
        parts.append(f"SELECT 0, seq, leaf_hash FROM entries WHERE seq IN ({marks})")  # noqa: S608
    if inner:
        pairs = ", ".join(["(?, ?)"] * inner)
        parts.append(
            f"SELECT * FROM (WITH wanted(level, idx) AS (VALUES {pairs}) "  # noqa: S608
            "SELECT wanted.level, wanted.idx, tree.hash FROM wanted "
            "CROSS JOIN tree ON tree.level = wanted.level AND tree.idx = wanted.idx)"
        )
    return " UNION ALL ".join(parts)
