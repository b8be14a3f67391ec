"""Tests for a write transaction's buffered state and buffers (ledger.store): against references.

``BufferedState`` answers every ``StateView`` read from the tables overlaid with the writes of
its transaction, takes writes back to a mark, and writes what changed at the commit. The
reference is ``lifecycle.MemoryState`` (what ``verify`` uses) fed the same writes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import StoreError
from ledger.lifecycle import KeyRecord, MemoryState, OrgRecord, StateView
from ledger.lookalike import skeletons
from ledger.merkle import MemoryTree, hash_leaf
from ledger.store.sqlite import SqliteStore

FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
NAMES = ("Example", "Examp1e", "EXAMPLE", "Other", "0ther", "Third")
"""Names that share skeletons (and one that shares none), so the look-alike index matters."""
ORGS = range(1, 6)


def key_id(number: int) -> bytes:
    return bytes([number]) * 32


@st.composite
def org_records(draw: st.DrawFn) -> OrgRecord:
    org = draw(st.sampled_from(ORGS))
    # Entry numbers are an organisation's own (a live entry belongs to one organisation only).
    live = draw(st.one_of(st.none(), st.integers(0, 9).map(lambda n: org * 100 + n)))
    return OrgRecord(
        org=org,
        current_key=key_id(draw(st.integers(1, 9))),
        live=live,
        endorsed_with=None if live is None else key_id(draw(st.integers(1, 9))),
        endorsed_signed_at=None if live is None else draw(st.integers(0, 99)),
        name=None if live is None else draw(st.sampled_from(NAMES)),
        last_signed_at=draw(st.one_of(st.none(), st.integers(0, 99))),
    )


key_records = st.builds(
    KeyRecord,
    key_id=st.integers(1, 9).map(key_id),
    org=st.sampled_from(ORGS),
    revoked_from=st.one_of(st.none(), st.integers(0, 99)),
)
writes = st.one_of(
    st.tuples(st.just("key"), key_records),
    st.tuples(st.just("org"), org_records()),
    st.tuples(st.just("closed"), st.integers(1, 999)),
)
steps = st.one_of(writes, writes, writes, st.tuples(st.just("mark"), st.none()))
"""A write, or a savepoint around the writes that follow it (kept or undone at random)."""


def write(view: StateView, step: tuple[str, object]) -> None:
    kind, value = step
    if kind == "key":
        assert isinstance(value, KeyRecord)
        view.put_key(value)
    elif kind == "org":
        assert isinstance(value, OrgRecord)
        view.put_org(value)
    else:
        assert isinstance(value, int)
        view.set_closed(value)


def replay(history: list[tuple[str, object]]) -> MemoryState:
    reference = MemoryState()
    for step in history:
        write(reference, step)
    return reference


def same_answers(view: StateView, reference: MemoryState, orgs: set[int]) -> None:
    """Every read of the state view agrees with the reference."""
    for number in range(1, 10):
        assert view.key(key_id(number)) == reference.key(key_id(number))
    for org in orgs:
        assert view.org(org) == reference.org(org)
        for n in range(10):
            assert view.org_of_live_entry(org * 100 + n) == reference.org_of_live_entry(
                org * 100 + n
            )
    for name in NAMES:
        for key in skeletons(name):
            assert view.live_orgs_with_skeleton(key) == reference.live_orgs_with_skeleton(key)
    assert view.closed_at() == reference.closed_at()


@settings(
    max_examples=150 if FAST_TMP else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    committed=st.lists(writes, max_size=8),
    transaction=st.lists(steps, max_size=20),
    undo=st.lists(st.booleans(), min_size=20, max_size=20),
    ahead=st.tuples(st.sets(st.integers(1, 9)), st.sets(st.sampled_from(NAMES))),
)
def test_buffered_state_reads_its_own_writes_and_undoes_to_a_mark(
    committed: list[tuple[str, object]],
    transaction: list[tuple[str, object]],
    undo: list[bool],
    ahead: tuple[set[int], set[str]],
) -> None:
    """Random writes, marks and undos; some keys and names read ahead (``prefetch``)."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as directory:
        store = SqliteStore.create(Path(directory) / "ledger.db")
        try:
            with store.writer() as writer:
                for step in committed:
                    write(writer.state, step)
            history = list(committed)
            orgs = {value.org for kind, value in history if isinstance(value, OrgRecord)}
            same_answers(store.state(), replay(history), orgs)
            with store.writer() as writer:
                state = writer.state
                state.prefetch([key_id(number) for number in sorted(ahead[0])], sorted(ahead[1]))
                marks: list[tuple[int, int]] = []  # (state mark, history length)
                for number, step in enumerate(transaction):
                    if step[0] == "mark":
                        if marks and undo[number]:
                            mark, length = marks.pop()
                            state.undo(mark)
                            del history[length:]
                        else:
                            marks.append((state.mark(), len(history)))
                    else:
                        write(state, step)
                        history.append(step)
                    orgs = {value.org for kind, value in history if isinstance(value, OrgRecord)}
                    same_answers(state, replay(history), orgs)
            same_answers(store.state(), replay(history), orgs)
        finally:
            store.close()


# --- The writer's buffers ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    created = SqliteStore.create(tmp_path / "ledger.db")
    yield created
    created.close()


def leaf(number: int) -> bytes:
    return f"leaf number {number}".encode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.integers(0, 40),
    blocks=st.lists(st.tuples(st.integers(0, 9), st.booleans()), max_size=8),
)
def test_savepoints_keep_the_tree_of_what_they_kept(
    before: int, blocks: list[tuple[int, bool]]
) -> None:
    """Entries added in savepoints, some undone: the tree is the tree of the entries kept."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as directory:
        store = SqliteStore.create(Path(directory) / "ledger.db")
        try:
            reference = MemoryTree()
            with store.writer() as writer:
                for number in range(before):
                    writer.add(leaf(number), hash_leaf(leaf(number)))
                    reference.append(leaf(number))
            with store.writer() as writer:
                for count, keep in blocks:
                    with writer.savepoint(keep=keep):
                        start = writer.size
                        for number in range(start, start + count):
                            writer.add(leaf(number), hash_leaf(leaf(number)))
                    if keep:
                        for number in range(start, start + count):
                            reference.append(leaf(number))
                    assert writer.size == reference.size
            size = store.size()
            assert size == reference.size
            assert [data for _, data in store.iter_entries()] == [
                leaf(number) for number in range(size)
            ]
            for old in range(1, size + 1):
                assert merkle.root(store, old) == merkle.root(reference, old)
        finally:
            store.close()


def test_a_direct_write_in_a_savepoint_is_undone_with_it(store: SqliteStore) -> None:
    with store.writer() as writer:
        writer.add(leaf(0), hash_leaf(leaf(0)))
        with writer.savepoint(keep=False):
            writer.add(leaf(1), hash_leaf(leaf(1)))
            writer.set_meta("inner", b"undone")
            with writer.savepoint():
                writer.set_meta("innermost", b"undone with the outer one")
        with writer.savepoint():
            writer.set_meta("kept", b"yes")
        assert writer.size == 1
    assert store.size() == 1
    assert store.meta("inner") is None
    assert store.meta("innermost") is None
    assert store.meta("kept") == b"yes"


def test_a_buffered_entry_that_clashes_fails_the_commit(store: SqliteStore) -> None:
    with store.writer() as writer:
        writer.add(leaf(0), hash_leaf(leaf(0)))

    def clash() -> None:
        with store.writer() as writer:
            writer.execute("INSERT INTO entries VALUES (?, ?, ?)", (1, b"x", b"y"))
            writer.add(leaf(1), hash_leaf(leaf(1)))
            writer.state.put_key(KeyRecord(key_id(1), 1))

    with pytest.raises(StoreError, match=r"write failed: append of entries 1\.\.1"):
        clash()
    assert store.size() == 1
    assert store.state().key(key_id(1)) is None
