"""The SQLite store's read side for proofs: one query per proof, and what it keeps in memory.

``SqliteStore.range_hashes`` / ``current_range_hashes`` answer a whole proof in one statement
and keep the top of the tree (``NodeCache``) and multi-subtree range hashes in memory. Every
proof they give must be the naive RFC 9162 one recomputed from the leaf bytes
(``merkle_reference``), also after other connections append, whatever the cache size, and
never built from what a rolled-back transaction wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
import merkle_reference as ref
from helpers import T0, make_ledger, org_endorsement
from ledger import merkle, proofs
from ledger.errors import StoreError, UsageError
from ledger.merkle import hash_leaf
from ledger.store import sqlite as sqlite_store
from ledger.store.nodecache import NodeCache
from ledger.store.sqlite import SqliteStore


def leaf(number: int, version: int = 0) -> bytes:
    return f"leaf number {number} v{version}".encode()


def fill(store: SqliteStore, leaves: list[bytes], count: int) -> None:
    """Append ``count`` new leaves through ``store`` and to ``leaves`` (the reference)."""
    with store.writer() as writer:
        for _ in range(count):
            leaves.append(leaf(len(leaves)))
            writer.add(leaves[-1], hash_leaf(leaves[-1]))


def expected_inclusion(leaves: list[bytes], index: int, size: int) -> proofs.InclusionProof:
    """The naive RFC 9162 inclusion proof, recomputed from the leaf bytes."""
    return proofs.InclusionProof(
        index=index,
        size=size,
        leaf_hash=ref.leaf_hash(leaves[index]),
        root=ref.mth(leaves[:size]),
        proof=tuple(ref.path(index, leaves[:size])),
    )


def expected_consistency(leaves: list[bytes], old: int, size: int) -> proofs.ConsistencyProof:
    return proofs.ConsistencyProof(
        old_size=old,
        size=size,
        old_root=ref.mth(leaves[:old]),
        root=ref.mth(leaves[:size]),
        proof=tuple(ref.proof(old, leaves[:size])),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    created = SqliteStore.create(tmp_path / "ledger.db")
    yield created
    created.close()


# --- Against the naive reference, while another connection appends ------------------------------


@settings(max_examples=25)
@given(
    batches=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    capacity=st.sampled_from([1, 3, 16, 4096]),
    readonly=st.booleans(),
    data=st.data(),
)
def test_proofs_equal_the_naive_reference_while_another_connection_appends(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[int],
    capacity: int,
    readonly: bool,
    data: st.DataObject,
) -> None:
    path = tmp_path_factory.mktemp("reads") / "ledger.db"
    writer = SqliteStore.create(path)
    leaves: list[bytes] = []
    fill(writer, leaves, batches[0])
    # A tiny cache makes the floor rise and nodes go; a large one keeps the whole tree.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite_store, "_NODE_CACHE_CAPACITY", capacity)
        reader = SqliteStore.open(path, readonly=readonly)
    try:
        for batch in batches:
            n = len(leaves)
            # Sizes the reader saw before this batch, and the size now: nodes that were not
            # complete at the first read must be read again, not remembered as missing.
            sizes = {n, data.draw(st.integers(1, n)), data.draw(st.integers(1, n))}
            for size in sorted(sizes):
                index = data.draw(st.integers(0, size - 1))
                proof = proofs.prove_inclusion(reader, index, size)
                assert proof == expected_inclusion(leaves, index, size), (index, size)
                proof.verify()
                old = data.draw(st.integers(0, size))
                consistency = proofs.prove_consistency(reader, old, size)
                assert consistency == expected_consistency(leaves, old, size), (old, size)
                consistency.verify()
            # At the current size, the size read in the same statement as the nodes.
            index = data.draw(st.integers(0, n - 1))
            size, hashes = reader.current_range_hashes(partial(proofs.inclusion_plan, index))
            assert size == n
            assert proofs.inclusion_proof(index, size, hashes) == expected_inclusion(
                leaves, index, n
            )
            old = data.draw(st.integers(0, n))
            size, hashes = reader.current_range_hashes(partial(proofs.consistency_plan, old))
            assert size == n
            assert proofs.consistency_proof(old, size, hashes) == expected_consistency(
                leaves, old, n
            )
            assert len(reader._cache) <= capacity  # the bound is the point
            fill(writer, leaves, batch)
    finally:
        reader.close()
        writer.close()


def test_every_proof_of_a_small_tree_at_every_size_as_it_grows(store: SqliteStore) -> None:
    # One reader, sizes 1..40 in order: every root, path and consistency proof at each size,
    # so each subtree is first asked for when it is not complete, then when it is.
    reader = SqliteStore.open(Path(store.location), readonly=True)
    leaves: list[bytes] = []
    try:
        for _ in range(40):
            fill(store, leaves, 1)
            n = len(leaves)
            for index in range(n):
                proof = proofs.prove_inclusion(reader, index, n)
                assert proof == expected_inclusion(leaves, index, n)
                merkle.verify_inclusion(proof.leaf_hash, index, n, proof.proof, proof.root)
            for old in range(n + 1):
                assert proofs.prove_consistency(reader, old, n) == expected_consistency(
                    leaves, old, n
                )
    finally:
        reader.close()


def test_the_current_size_follows_appends_by_another_connection(store: SqliteStore) -> None:
    leaves: list[bytes] = []
    fill(store, leaves, 5)
    reader = SqliteStore.open(Path(store.location), readonly=True)
    try:
        plan = partial(proofs.inclusion_plan, 4)
        assert reader.current_range_hashes(plan)[0] == 5
        fill(store, leaves, 3)  # the reader planned for 5 last time: it must see 8
        size, hashes = reader.current_range_hashes(plan)
        assert size == 8
        assert proofs.inclusion_proof(4, 8, hashes) == expected_inclusion(leaves, 4, 8)
        # An index beyond the size seen last is planned again for the size now.
        fill(store, leaves, 4)
        size, hashes = reader.current_range_hashes(partial(proofs.inclusion_plan, 10))
        assert proofs.inclusion_proof(10, size, hashes) == expected_inclusion(leaves, 10, 12)
        with pytest.raises(UsageError):
            reader.current_range_hashes(partial(proofs.inclusion_plan, 12))
    finally:
        reader.close()


def test_an_explicit_size_beyond_the_ledger_is_still_a_usage_error(store: SqliteStore) -> None:
    leaves: list[bytes] = []
    fill(store, leaves, 6)
    assert store.covers(6)
    assert not store.covers(7)
    assert not store.covers(-1)
    fill(store, leaves, 1)
    assert store.covers(7)  # read again: the ledger grew


# --- Nothing a rolled-back transaction wrote is kept ---------------------------------------------


def test_nodes_read_inside_a_rolled_back_transaction_are_not_kept(store: SqliteStore) -> None:
    leaves: list[bytes] = []
    fill(store, leaves, 3)

    def write_read_and_fail() -> None:
        with store.writer() as writer:
            for number in range(3, 8):
                data = leaf(number, version=1)  # never committed
                writer.add(data, hash_leaf(data))
            # Read through the store inside the transaction: these must not be kept.
            assert store.range_hashes([(0, 8), (4, 8), (7, 8)])
            assert store.current_range_hashes(partial(proofs.inclusion_plan, 6))[0] == 8
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        write_read_and_fail()
    fill(store, leaves, 5)  # the same positions, other bytes, committed
    for index in range(8):
        assert proofs.prove_inclusion(store, index, 8) == expected_inclusion(leaves, index, 8)
    assert store.current_range_hashes(partial(proofs.inclusion_plan, 7))[0] == 8


# --- One query, by primary key -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaves", "inner", "with_size"), [(2, 9, True), (1, 0, False), (0, 3, False)]
)
def test_the_node_query_searches_by_primary_key_and_scans_no_table(
    store: SqliteStore, leaves: int, inner: int, with_size: bool
) -> None:
    # A row-value IN (VALUES ...) made SQLite scan the whole tree table (every proof O(n)).
    fill(store, [], 4)
    db = sqlite3.connect(store.location)
    try:
        sql = sqlite_store._select_nodes(leaves, inner, with_size)
        args = [1] * (leaves + 2 * inner)
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
    finally:
        db.close()
    assert not [step for step in plan if step.startswith(("SCAN tree", "SCAN entries"))], plan
    if inner:
        assert "SEARCH tree USING PRIMARY KEY (level=? AND idx=?)" in plan, plan
    if leaves:
        assert "SEARCH entries USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan


def test_a_proof_is_one_statement(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    writer = SqliteStore.create(path)
    fill(writer, [], 1000)
    writer.close()
    reader = SqliteStore.open(path, readonly=True)
    statements: list[str] = []
    reader._db.set_trace_callback(statements.append)
    try:
        reader.current_range_hashes(partial(proofs.inclusion_plan, 0))  # sizes the page cache
        statements.clear()
        for index in (1, 500, 999):
            reader.current_range_hashes(partial(proofs.inclusion_plan, index))
            reader.current_range_hashes(partial(proofs.consistency_plan, index))
        assert len(statements) == 6, statements
        statements.clear()
        proofs.prove_inclusion(reader, 999, 1000)  # an explicit size: no size in the query
        assert len(statements) <= 1, statements
        assert not any("MAX(seq)" in sql for sql in statements), statements
    finally:
        reader.close()


# --- A damaged file is a StoreError, not a wrong-length hash ------------------------------------


def prove_every_leaf(reader: SqliteStore, size: int) -> None:
    for index in range(size):
        proofs.prove_inclusion(reader, index, size)


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE tree SET hash = x'0102' WHERE level = 1 AND idx = 0",
        "UPDATE tree SET hash = 'text' WHERE level = 2 AND idx = 0",
        "DELETE FROM tree WHERE level = 1 AND idx = 2",
        "UPDATE entries SET leaf_hash = x'00' WHERE seq = 5",
    ],
    ids=["short-node", "text-node", "missing-node", "short-leaf-hash"],
)
def test_a_damaged_node_is_a_store_error(store: SqliteStore, damage: str) -> None:
    fill(store, [], 8)
    db = sqlite3.connect(store.location)
    with db:
        db.execute(damage)
    db.close()
    reader = SqliteStore.open(Path(store.location), readonly=True)
    try:
        with pytest.raises(StoreError, match=r"damaged file|no tree node"):
            prove_every_leaf(reader, 8)
    finally:
        reader.close()


# --- The node cache -------------------------------------------------------------------------------


@given(
    nodes=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 50)), min_size=1, max_size=300, unique=True
    ),
    capacity=st.integers(1, 64),
)
def test_the_node_cache_stays_bounded_and_keeps_the_top_levels(
    nodes: list[tuple[int, int]], capacity: int
) -> None:
    cache = NodeCache(capacity)
    for level, index in nodes:
        cache.add((level, index), bytes([level, index % 256]) * 16)
        assert len(cache) <= capacity
    kept = [node for node in nodes if cache.get(node) is not None]
    assert all(level >= cache.floor for level, _ in kept)
    # Every node added at or above the final floor is still there, with its own hash.
    assert kept == [node for node in nodes if node[0] >= cache.floor]
    assert all(cache.get(node) == bytes([node[0], node[1] % 256]) * 16 for node in kept)


def test_the_node_cache_fits_the_top_of_a_tree() -> None:
    cache = NodeCache(4096)
    cache.fit(1_000_000)
    # 2 * 10^6 >> 9 = 3,906 nodes at or above level 9 fit; 7,812 at level 8 and above do not.
    assert cache.floor == 9
    cache.fit(10)
    assert cache.floor == 9  # the tree only grows: the floor never goes down


# --- The ledger's proofs at its current size, after another process appends -----------------------


def test_ledger_proofs_at_the_current_size_follow_appends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    make_ledger(path, 3).close()
    with ledger.Ledger.open(path, readonly=True) as reader:
        first = reader.prove_inclusion(2)
        assert first.size == 4
        with ledger.Ledger.open(path) as other:
            other.append([("org4", org_endorsement(4))], now=T0 + 10)
        leaves = [raw for _, raw in reader.iter_raw()]
        assert len(leaves) == 5
        proof = reader.prove_inclusion(2)
        assert proof == expected_inclusion(leaves, 2, 5)
        assert reader.prove_consistency(4) == expected_consistency(leaves, 4, 5)
        assert reader.prove_inclusion(2, 4) == first
        proof.verify()


def test_reads_inside_a_write_transaction_see_its_own_entries(store: SqliteStore) -> None:
    """The writer keeps entries and nodes in memory until the commit; reads through the store
    inside the transaction still see them, as SQLite shows a transaction its own writes."""
    leaves: list[bytes] = []
    fill(store, leaves, 3)
    pending = [leaf(number, version=1) for number in range(3, 8)]

    def look_inside_then_roll_back() -> None:
        with store.writer() as writer:
            for data in pending:
                writer.add(data, hash_leaf(data))
            seen = leaves + pending
            assert store.size() == 8
            assert store.entry(6) == pending[3]
            assert store.leaf_hash(7) == hash_leaf(pending[4])
            assert [seq for seq, _ in store.iter_entries(1)] == list(range(1, 8))
            assert [raw for _, raw in store.iter_entries(3)] == pending
            for index in range(8):
                assert proofs.prove_inclusion(store, index, 8) == expected_inclusion(seen, index, 8)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        look_inside_then_roll_back()
    assert store.size() == 3
    assert [seq for seq, _ in store.iter_entries()] == [0, 1, 2]
    with pytest.raises(StoreError):
        store.entry(3)
