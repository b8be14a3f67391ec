"""Tests for the SQLite store (ledger.store.sqlite): files, transactions, the tree table."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import StoreError, UsageError
from ledger.lifecycle import KeyRecord, OrgRecord
from ledger.lookalike import skeleton
from ledger.merkle import MemoryTree, hash_leaf
from ledger.store import create_store, open_store
from ledger.store import sqlite as sqlite_store
from ledger.store.sqlite import APPLICATION_ID, SCHEMA_VERSION, SqliteStore


def leaf(number: int) -> bytes:
    return f"leaf number {number}".encode()


def fill(store: SqliteStore, count: int, *, start: int = 0) -> None:
    with store.writer() as writer:
        for number in range(start, start + count):
            assert writer.add(leaf(number), hash_leaf(leaf(number))) == number


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    created = SqliteStore.create(tmp_path / "ledger.db")
    yield created
    created.close()


def foreign_sqlite(path: Path, *, application_id: int = 42) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('my diary')")
        db.execute(f"PRAGMA application_id = {application_id}")
    db.close()


# --- Files: create and open -----------------------------------------------------------------------


def test_create_then_open_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    created = create_store(path)
    fill(created, 3)
    created.close()
    reopened = open_store(path)
    try:
        assert reopened.size() == 3
        assert [reopened.entry(n) for n in range(3)] == [leaf(n) for n in range(3)]
        assert reopened.leaf_hash(2) == hash_leaf(leaf(2))
    finally:
        reopened.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "precious.db"
    path.write_bytes(b"somebody's data")
    with pytest.raises(StoreError, match="exists; refusing to overwrite"):
        SqliteStore.create(path)
    assert path.read_bytes() == b"somebody's data"


def test_create_refuses_an_existing_ledger(store: SqliteStore) -> None:
    fill(store, 2)
    with pytest.raises(StoreError, match="exists"):
        SqliteStore.create(Path(store.location))
    assert store.size() == 2


def test_create_in_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create"):
        SqliteStore.create(tmp_path / "no" / "such" / "ledger.db")


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_a_missing_file(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no such ledger file"):
        SqliteStore.open(path, readonly=readonly)
    assert not path.exists()


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_a_directory(tmp_path: Path, readonly: bool) -> None:
    with pytest.raises(StoreError):
        SqliteStore.open(tmp_path, readonly=readonly)


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_a_file_that_is_not_sqlite(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "notes.txt"
    text = b"these are not the droids you are looking for\n" * 100
    path.write_bytes(text)
    with pytest.raises(StoreError, match="not a ledger file"):
        SqliteStore.open(path, readonly=readonly)
    assert path.read_bytes() == text


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_a_sqlite_file_of_another_application(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "other.db"
    foreign_sqlite(path)
    with pytest.raises(StoreError, match="SQLite file but not a ledger"):
        SqliteStore.open(path, readonly=readonly)


@pytest.mark.parametrize("readonly", [False, True])
def test_open_refuses_a_sqlite_file_without_application_id(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "other.db"
    foreign_sqlite(path, application_id=0)
    with pytest.raises(StoreError, match="not a ledger"):
        SqliteStore.open(path, readonly=readonly)


def test_readonly_open_of_a_foreign_file_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    foreign_sqlite(path)
    before = path.read_bytes()
    with pytest.raises(StoreError):
        SqliteStore.open(path, readonly=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize("kind", ["foreign", "empty", "text"])
def test_writable_open_of_a_non_ledger_leaves_it_alone(tmp_path: Path, kind: str) -> None:
    # Regression: open() used to set journal_mode=WAL before checking the application id,
    # rewriting a foreign SQLite file (and turning an empty file into a database).
    path = tmp_path / "other.db"
    if kind == "foreign":
        foreign_sqlite(path)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"plain text\n")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a ledger"):
        SqliteStore.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, 1000])
def test_open_refuses_another_schema_version(tmp_path: Path, readonly: bool, version: int) -> None:
    path = tmp_path / "ledger.db"
    SqliteStore.create(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()
    with pytest.raises(StoreError, match=f"unsupported ledger schema version {version}"):
        SqliteStore.open(path, readonly=readonly)


def test_store_locations_other_than_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unsupported store location postgresql://"):
        open_store("postgresql://db.example/ledger")
    path = tmp_path / "ledger.db"
    create_store(f"file://{path}").close()
    assert path.is_file()


# --- Transactions ---------------------------------------------------------------------------------


def table_rows(path: str) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("entries", "tree", "keys", "orgs", "meta")
        }
    finally:
        db.close()


def test_an_exception_inside_a_writer_appends_nothing(store: SqliteStore) -> None:
    fill(store, 3)
    before = table_rows(store.location)

    def interrupted() -> None:
        with store.writer() as writer:
            writer.add(leaf(3), hash_leaf(leaf(3)))
            writer.state.put_key(KeyRecord(b"k" * 32, 3))
            writer.add(leaf(4), hash_leaf(leaf(4)))
            writer.set_meta("note", b"half-written")
            assert writer.size == 5
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        interrupted()
    assert store.size() == 3
    assert store.state().key(b"k" * 32) is None
    assert store.meta("note") is None
    assert table_rows(store.location) == before
    fill(store, 1, start=3)  # the store is still usable, and continues at 3
    assert store.size() == 4


def test_a_failing_add_rolls_back_the_whole_transaction(store: SqliteStore) -> None:
    key_id = b"\x07" * 32
    with store.writer() as writer:
        writer.add(leaf(0), hash_leaf(leaf(0)))
        writer.state.put_key(KeyRecord(key_id, 0))
    before = table_rows(store.location)

    def clash() -> None:
        with store.writer() as writer:
            writer.add(leaf(1), hash_leaf(leaf(1)))
            writer.state.put_org(OrgRecord(org=1, current_key=key_id, live=1))
            writer.execute("INSERT INTO entries VALUES (?, ?, ?)", (1, b"x", b"y"))  # seq clash

    with pytest.raises(StoreError, match="write failed"):
        clash()
    assert table_rows(store.location) == before
    assert store.state().key(key_id) == KeyRecord(key_id, 0)


def test_a_savepoint_undoes_only_its_own_block(store: SqliteStore) -> None:
    with store.writer() as writer:
        writer.add(leaf(0), hash_leaf(leaf(0)))

        def refused() -> None:
            with writer.savepoint():
                writer.add(leaf(1), hash_leaf(leaf(1)))
                writer.state.put_key(KeyRecord(b"a" * 32, 1))
                raise RuntimeError("refused")

        with pytest.raises(RuntimeError, match="refused"):
            refused()
        assert writer.size == 1
        with writer.savepoint(keep=False):  # a dry run: always undone
            writer.state.put_key(KeyRecord(b"b" * 32, 1))
        writer.add(leaf(1), hash_leaf(leaf(1)))
    assert store.size() == 2
    assert store.state().key(b"a" * 32) is None
    assert store.state().key(b"b" * 32) is None
    reference = MemoryTree()
    for number in range(2):
        reference.append(leaf(number))
    assert merkle.root(store, 2) == merkle.root(reference, 2)


def test_writer_reads_the_tip_under_the_lock(store: SqliteStore) -> None:
    with store.writer() as writer:
        assert (writer.size, writer.tip) == (0, bytes(32))
    fill(store, 2)
    with store.writer() as writer:
        assert (writer.size, writer.tip) == (2, hash_leaf(leaf(1)))
        writer.add(leaf(2), hash_leaf(leaf(2)))
        assert (writer.size, writer.tip) == (3, hash_leaf(leaf(2)))


def test_a_second_writer_waits_and_sees_the_first_ones_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    first = SqliteStore.create(path)
    second = SqliteStore.open(path)
    try:
        fill(first, 2)
        with second.writer() as writer:
            assert writer.size == 2
            writer.add(leaf(2), hash_leaf(leaf(2)))
        assert first.size() == 3
    finally:
        first.close()
        second.close()


def test_meta_round_trip_and_replace(store: SqliteStore) -> None:
    assert store.meta("origin") is None
    with store.writer() as writer:
        writer.set_meta("origin", b"a")
    with store.writer() as writer:
        writer.set_meta("origin", b"b")
    assert store.meta("origin") == b"b"


def test_checkpoints_latest_first(store: SqliteStore) -> None:
    assert store.latest_checkpoint() is None
    store.add_checkpoint(1, 100, "one")
    store.add_checkpoint(3, 90, "three")
    store.add_checkpoint(3, 95, "three again")
    store.add_checkpoint(2, 200, "two")
    assert store.latest_checkpoint() == "three again"


# --- Reading --------------------------------------------------------------------------------------


def test_iter_entries_streams_in_order_with_start_and_end(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_ITER_BATCH", 3)  # several batches for 10 entries
    fill(store, 10)
    everything = [(n, leaf(n)) for n in range(10)]
    assert list(store.iter_entries()) == everything
    assert list(store.iter_entries(4)) == everything[4:]
    assert list(store.iter_entries(2, 7)) == everything[2:7]
    assert list(store.iter_entries(0, 0)) == []
    assert list(store.iter_entries(7, 2)) == []
    assert list(store.iter_entries(8, 100)) == everything[8:]
    assert list(store.iter_entries(10)) == []


def test_iter_entries_is_lazy(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "_ITER_BATCH", 2)
    fill(store, 6)
    stream = store.iter_entries()
    assert next(stream) == (0, leaf(0))
    fill(store, 1, start=6)  # the end was fixed when the stream started
    assert [seq for seq, _ in stream] == [1, 2, 3, 4, 5]


def test_missing_entries_and_nodes_are_store_errors(store: SqliteStore) -> None:
    fill(store, 3)
    with pytest.raises(StoreError, match="no entry 3"):
        store.entry(3)
    with pytest.raises(StoreError, match="no entry 7"):
        store.leaf_hash(7)
    with pytest.raises(StoreError, match=r"no tree node \(1, 1\)"):
        store.subtree_hash(1, 1)  # leaves 2..3: not complete at size 3


def test_lifecycle_state_round_trips(store: SqliteStore) -> None:
    alice, bob = hashlib.sha256(b"alice").digest(), hashlib.sha256(b"bob").digest()
    state = store.state()
    assert state.key(alice) is None
    assert state.closed_at() is None
    with store.writer() as writer:
        writer.add(leaf(0), hash_leaf(leaf(0)))
        writer.add(leaf(1), hash_leaf(leaf(1)))
        writer.state.put_key(KeyRecord(alice, 1))
        writer.state.put_org(
            OrgRecord(
                org=1,
                current_key=alice,
                live=1,
                endorsed_with=alice,
                endorsed_signed_at=5,
                name="Save the Children",
            )
        )
        assert writer.state.org_of_live_entry(1) == 1  # visible inside the transaction
        writer.state.put_key(KeyRecord(bob, 1, revoked_from=9))
        writer.state.set_closed(1)
    assert state.key(bob) == KeyRecord(bob, 1, revoked_from=9)
    assert state.org(1).name == "Save the Children"
    assert state.live_orgs_with_skeleton(skeleton("Save the Chi1dren")) == [1]
    assert state.live_orgs_with_skeleton(skeleton("Another name")) == []
    assert state.org_of_live_entry(2) is None
    assert state.closed_at() == 1


# --- Read-only ------------------------------------------------------------------------------------


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[SqliteStore]:
    path = tmp_path / "ledger.db"
    created = SqliteStore.create(path)
    fill(created, 3)
    created.close()
    opened = SqliteStore.open(path, readonly=True)
    yield opened
    opened.close()


def test_readonly_store_reads(readonly: SqliteStore) -> None:
    assert readonly.size() == 3
    assert list(readonly.iter_entries()) == [(n, leaf(n)) for n in range(3)]


def test_readonly_store_refuses_to_append(readonly: SqliteStore) -> None:
    with pytest.raises(StoreError, match="readonly"), readonly.writer() as writer:
        writer.add(leaf(3), hash_leaf(leaf(3)))
    assert readonly.size() == 3


def test_readonly_store_refuses_meta_with_a_store_error(readonly: SqliteStore) -> None:
    # Regression: set_meta used to let a raw sqlite3.OperationalError through.
    with pytest.raises(StoreError, match="readonly"), readonly.writer() as writer:
        writer.set_meta("origin", b"x")
    assert readonly.meta("origin") is None


def test_readonly_store_refuses_checkpoints_with_a_store_error(readonly: SqliteStore) -> None:
    # Regression: add_checkpoint used to let a raw sqlite3.OperationalError through.
    with pytest.raises(StoreError, match="readonly"):
        readonly.add_checkpoint(3, 1_700_000_000, "note")
    assert readonly.latest_checkpoint() is None


def test_readonly_open_does_not_modify_a_delete_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "published.db"
    created = SqliteStore.create(path)
    fill(created, 5)
    created.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    before = path.read_bytes()
    mtime = os.stat(path).st_mtime_ns
    opened = SqliteStore.open(path, readonly=True)
    assert opened.size() == 5
    opened.close()
    assert path.read_bytes() == before
    assert os.stat(path).st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published.db"]


# --- The tree table -------------------------------------------------------------------------------


def assert_tree_matches(store: SqliteStore, reference: MemoryTree, data: st.DataObject) -> None:
    size = reference.size
    assert store.size() == size
    for n in range(size + 1):
        assert merkle.root(store, n) == merkle.root(reference, n), n
    for n in range(1, size + 1):
        # Every pair for small trees; a sample of indices and old sizes for larger ones.
        indices = range(n) if size <= 40 else {0, n - 1, data.draw(st.integers(0, n - 1))}
        for index in indices:
            assert merkle.prove_inclusion(store, index, n) == merkle.prove_inclusion(
                reference, index, n
            ), (index, n)
        olds = range(n + 1) if size <= 40 else {0, 1, n - 1, n, data.draw(st.integers(0, n))}
        for old in olds:
            assert merkle.prove_consistency(store, old, n) == merkle.prove_consistency(
                reference, old, n
            ), (old, n)
    for level in range(size.bit_length()):
        for index in range(size >> level):
            assert store.subtree_hash(level, index) == reference.subtree_hash(level, index)


@settings(max_examples=15)
@given(
    batches=st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=8),
    data=st.data(),
)
def test_tree_table_matches_a_memory_tree(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int], data: st.DataObject
) -> None:
    # Appends in several transactions, so nodes are built both from the writer's cache and
    # from rows an earlier transaction wrote.
    path = tmp_path_factory.mktemp("tree") / "ledger.db"
    store = SqliteStore.create(path)
    reference = MemoryTree()
    try:
        for batch in batches:
            start = reference.size
            fill(store, batch, start=start)
            for number in range(start, start + batch):
                reference.append(leaf(number))
        assert_tree_matches(store, reference, data)
    finally:
        store.close()


def test_tree_table_matches_a_memory_tree_at_300_leaves_one_per_transaction(
    tmp_path: Path,
) -> None:
    store = SqliteStore.create(tmp_path / "ledger.db")
    reference = MemoryTree()
    try:
        for number in range(300):
            fill(store, 1, start=number)
            reference.append(leaf(number))
            assert merkle.root(store, number + 1) == merkle.root(reference, number + 1)
        for n in range(1, 301):
            for index in (0, n // 2, n - 1):
                proof = merkle.prove_inclusion(store, index, n)
                assert proof == merkle.prove_inclusion(reference, index, n)
                merkle.verify_inclusion(
                    hash_leaf(leaf(index)), index, n, proof, merkle.root(reference, n)
                )
            for old in (1, n // 3, n - 1):
                proof = merkle.prove_consistency(store, old, n)
                assert proof == merkle.prove_consistency(reference, old, n)
                merkle.verify_consistency(
                    old, n, merkle.root(reference, old), merkle.root(reference, n), proof
                )
        # One row per complete perfect subtree of level >= 1: 300 - popcount(300) of them.
        db = sqlite3.connect(store.location)
        assert db.execute("SELECT COUNT(*) FROM tree").fetchone()[0] == 300 - bin(300).count("1")
        db.close()
    finally:
        store.close()


def test_root_of_the_empty_store(store: SqliteStore) -> None:
    assert merkle.root(store, 0) == hashlib.sha256(b"").digest()
