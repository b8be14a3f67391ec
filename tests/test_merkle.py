"""Tests of ``ledger.merkle`` against the naive RFC 9162 oracle in ``merkle_reference``."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import merkle_reference as ref
from ledger import merkle
from ledger.errors import FormatError, UsageError, VerificationError

SMALL = 130  # every (index, size) up to here
CONSISTENCY_SMALL = 70  # every (m, n) up to here
BIG = 5000  # hypothesis sizes up to here

LEAVES = [b"leaf %d" % i for i in range(BIG)]  # distinct, so no leaf is in two places
LEAF_HASHES = [ref.leaf_hash(leaf) for leaf in LEAVES]


def _build(leaves: Sequence[bytes]) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


# One tree of BIG leaves answers every smaller size: proofs for earlier sizes come from the
# same perfect-subtree table, as a store would do.
TREE = _build(LEAVES)


def _root(size: int) -> bytes:
    return merkle.root(TREE, size)


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _all_flips(value: bytes) -> list[bytes]:
    return [_flip(value, bit) for bit in range(len(value) * 8)]


class RecordingSource:
    """Wraps a tree; fails on any subtree not complete at ``limit``; counts lookups."""

    def __init__(self, tree: merkle.MemoryTree, limit: int) -> None:
        self.tree, self.limit, self.lookups = tree, limit, 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.limit, f"({level}, {index}) incomplete at {self.limit}"
        self.lookups += 1
        return self.tree.subtree_hash(level, index)


class BatchRecordingSource(RecordingSource):
    """The batched form: one ``subtree_hashes`` call per root or proof."""

    def __init__(self, tree: merkle.MemoryTree, limit: int) -> None:
        super().__init__(tree, limit)
        self.batches = 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        raise AssertionError("the batched form should be used")

    def subtree_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        self.batches += 1
        return [RecordingSource.subtree_hash(self, level, index) for level, index in nodes]


# --- hashing ------------------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert merkle.HASH_SIZE == 32
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.hash_leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    left, right = b"L" * 32, b"R" * 32
    assert merkle.hash_children(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    with pytest.raises(FormatError):
        merkle.hash_children(left, right[:31])
    with pytest.raises(FormatError):
        merkle.hash_children(left + b"x", right)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = LEAF_HASHES[0], LEAF_HASHES[1]
    assert merkle.hash_leaf(left + right) != merkle.hash_children(left, right)


# --- agreement with the oracle ------------------------------------------------------------


def test_roots_match_reference() -> None:
    for size in range(SMALL + 1):
        assert _root(size) == ref.mth(LEAVES[:size]), size
    assert merkle.root(merkle.MemoryTree(), 0) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_inclusion_proofs_match_reference_and_verify(size: int) -> None:
    root = ref.mth(LEAVES[:size])
    for index in range(size):
        source = RecordingSource(TREE, size)
        proof = merkle.prove_inclusion(source, index, size)
        assert proof == ref.path(index, LEAVES[:size]), (index, size)
        assert merkle.proof_hash_count_inclusion(index, size) == len(proof)
        assert source.lookups <= 2 * size.bit_length()  # O(log n), complete subtrees only
        assert merkle.root_from_inclusion(LEAF_HASHES[index], index, size, proof) == root
        merkle.verify_inclusion(LEAF_HASHES[index], index, size, proof, root)


@pytest.mark.parametrize("size", range(CONSISTENCY_SMALL + 1))
def test_consistency_proofs_match_reference_and_verify(size: int) -> None:
    root = ref.mth(LEAVES[:size])
    for old_size in range(size + 1):
        source = RecordingSource(TREE, size)
        proof = merkle.prove_consistency(source, old_size, size)
        assert proof == ref.proof(old_size, LEAVES[:size]), (old_size, size)
        assert merkle.proof_hash_count_consistency(old_size, size) == len(proof)
        assert source.lookups <= 2 * size.bit_length()
        merkle.verify_consistency(old_size, size, ref.mth(LEAVES[:old_size]), root, proof)


def test_range_hash_over_rfc_subtree_ranges() -> None:
    for start, end in itertools.combinations(range(65), 2):
        if start % (1 << ((end - start).bit_length() - 1)) == 0:
            assert merkle.range_hash(TREE, start, end) == ref.mth(LEAVES[start:end])
        else:  # not made of aligned perfect subtrees
            with pytest.raises(UsageError):
                merkle.range_hash(TREE, start, end)
    for start, end in [(3, 3), (5, 2), (-1, 2)]:
        with pytest.raises(UsageError):
            merkle.range_hash(TREE, start, end)


def test_batched_source_is_used_once_per_proof() -> None:
    for size in (1, 2, 7, 64, 100, 129):
        for index in (0, size // 2, size - 1):
            source = BatchRecordingSource(TREE, size)
            assert merkle.prove_inclusion(source, index, size) == ref.path(index, LEAVES[:size])
            assert source.batches == 1
        source = BatchRecordingSource(TREE, size)
        assert merkle.prove_consistency(source, size // 3, size) == ref.proof(
            size // 3, LEAVES[:size]
        )
        assert merkle.root(source, size) == ref.mth(LEAVES[:size])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_random_large(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, BIG))
    index = data.draw(st.integers(0, size - 1))
    source = RecordingSource(TREE, size)
    proof = merkle.prove_inclusion(source, index, size)
    assert proof == ref.path(index, LEAVES[:size])
    assert source.lookups <= 2 * size.bit_length()
    merkle.verify_inclusion(LEAF_HASHES[index], index, size, proof, _root(size))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_random_large(data: st.DataObject) -> None:
    size = data.draw(st.integers(0, BIG))
    old_size = data.draw(st.integers(0, size))
    source = RecordingSource(TREE, size)
    proof = merkle.prove_consistency(source, old_size, size)
    assert proof == ref.proof(old_size, LEAVES[:size])
    assert source.lookups <= 2 * max(size, 1).bit_length()
    merkle.verify_consistency(old_size, size, _root(old_size), _root(size), proof)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_proofs_chain_random(data: st.DataObject) -> None:
    # m <= n <= p: both proofs verify against the same roots used for inclusion.
    sizes = sorted(data.draw(st.lists(st.integers(0, BIG), min_size=3, max_size=3)))
    for old_size, size in itertools.pairwise(sizes):
        proof = merkle.prove_consistency(TREE, old_size, size)
        merkle.verify_consistency(old_size, size, _root(old_size), _root(size), proof)


def test_roots_match_pymerkle() -> None:
    pymerkle = pytest.importorskip("pymerkle")
    sizes = [0, 1, 2, 3, 5, 8, 13, 100, 255, 256, 257, 1000]
    other = pymerkle.InmemoryTree.init_from_entries(LEAVES[: max(sizes)])
    for size in sizes:
        # pymerkle's get_root takes a leaf count; its leaf *indices* are 1-based (unused here).
        assert other.get_root(size) == _root(size), size
        fresh = pymerkle.InmemoryTree.init_from_entries(LEAVES[:size])
        assert fresh.get_root() == _root(size), size


# --- RFC 9162 §2.1.5 example ----------------------------------------------------------------


def test_rfc9162_example_tree_of_seven_leaves() -> None:
    d = [b"d%d" % i for i in range(7)]
    tree = _build(d)
    a, b, c, dd, e, f, j = (ref.leaf_hash(x) for x in d)  # "d" in the RFC figure is leaf d3
    g, h, i = ref.mth(d[0:2]), ref.mth(d[2:4]), ref.mth(d[4:6])
    k, l = ref.mth(d[0:4]), ref.mth(d[4:7])  # noqa: E741 - the RFC's node name
    assert ref.mth(d) == ref.node_hash(k, l) == merkle.root(tree, 7)
    assert (g, h, k) == (ref.node_hash(a, b), ref.node_hash(c, dd), ref.node_hash(g, h))
    assert (i, l) == (ref.node_hash(e, f), ref.node_hash(i, j))
    expected_paths = {1: [a, h, l], 0: [b, h, l], 3: [c, g, l], 4: [f, j, k], 6: [i, k]}
    for index, path in expected_paths.items():
        assert merkle.prove_inclusion(tree, index, 7) == path == ref.path(index, d)
        merkle.verify_inclusion(ref.leaf_hash(d[index]), index, 7, path, ref.mth(d))
    expected_proofs = {3: [c, dd, g, l], 4: [l], 6: [i, j, k]}
    for old_size, proof in expected_proofs.items():
        assert merkle.prove_consistency(tree, old_size, 7) == proof == ref.proof(old_size, d)
        merkle.verify_consistency(old_size, 7, ref.mth(d[:old_size]), ref.mth(d), proof)


# --- attacks --------------------------------------------------------------------------------

INCLUSION_CASES = [(0, 2), (1, 3), (5, 7), (6, 7), (13, 17), (31, 32), (64, 100), (99, 100)]
CONSISTENCY_CASES = [(1, 2), (2, 3), (3, 7), (4, 7), (6, 7), (13, 17), (32, 64), (63, 100)]


def _inclusion(index: int, size: int) -> tuple[bytes, list[bytes], bytes]:
    return LEAF_HASHES[index], merkle.prove_inclusion(TREE, index, size), _root(size)


def _consistency(old_size: int, size: int) -> tuple[bytes, list[bytes], bytes]:
    return _root(old_size), merkle.prove_consistency(TREE, old_size, size), _root(size)


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_bit_flip_attack_on_inclusion_is_rejected(index: int, size: int) -> None:
    leaf, proof, root = _inclusion(index, size)
    for position in range(len(proof)):
        for forged in _all_flips(proof[position]):
            bad = [*proof[:position], forged, *proof[position + 1 :]]
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, index, size, bad, root)
    for forged in _all_flips(leaf):  # flipped leaf
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(forged, index, size, proof, root)
    for forged in _all_flips(root):  # flipped root
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaf, index, size, proof, forged)


@pytest.mark.parametrize(("old_size", "size"), CONSISTENCY_CASES)
def test_bit_flip_attack_on_consistency_is_rejected(old_size: int, size: int) -> None:
    old_root, proof, root = _consistency(old_size, size)
    for position in range(len(proof)):
        for forged in _all_flips(proof[position]):
            bad = [*proof[:position], forged, *proof[position + 1 :]]
            with pytest.raises(VerificationError):
                merkle.verify_consistency(old_size, size, old_root, root, bad)
    for forged in _all_flips(old_root):  # flipped old root
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old_size, size, forged, root, proof)
    for forged in _all_flips(root):  # flipped root
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old_size, size, old_root, forged, proof)


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_wrong_index_attack_on_inclusion_is_rejected(index: int, size: int) -> None:
    leaf, proof, root = _inclusion(index, size)
    for other in range(size):
        if other != index:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, other, size, proof, root)
            with pytest.raises(VerificationError):  # another leaf with this leaf's proof
                merkle.verify_inclusion(LEAF_HASHES[other], index, size, proof, root)


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_wrong_size_attack_on_inclusion_is_rejected(index: int, size: int) -> None:
    # The verifier takes (size, root) from one tree head; the proof was made for another size.
    leaf, proof, _ = _inclusion(index, size)
    for other in range(index + 1, 2 * size + 2):
        if other != size:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, index, other, proof, _root(other))


def test_size_is_bound_by_the_tree_head_not_by_the_proof() -> None:
    # Documented RFC property: leaf 0 has the same proof shape in trees of 3 and 4 leaves, so a
    # size-3 proof also "verifies" as size 4 against the size-3 root. Sizes must therefore come
    # with their root from an authenticated tree head (as the wrong-size test above does).
    leaf, proof, root3 = _inclusion(0, 3)
    merkle.verify_inclusion(leaf, 0, 4, proof, root3)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaf, 0, 4, proof, _root(4))


@pytest.mark.parametrize(("old_size", "size"), CONSISTENCY_CASES)
def test_wrong_sizes_attack_on_consistency_is_rejected(old_size: int, size: int) -> None:
    _, proof, _ = _consistency(old_size, size)
    for other in range(1, size):
        if other != old_size:
            with pytest.raises(VerificationError):
                merkle.verify_consistency(other, size, _root(other), _root(size), proof)
    for other in range(old_size + 1, 2 * size + 2):
        if other != size:
            with pytest.raises(VerificationError):
                merkle.verify_consistency(old_size, other, _root(old_size), _root(other), proof)


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_extra_dropped_and_swapped_hash_attacks_on_inclusion_are_rejected(
    index: int, size: int
) -> None:
    leaf, proof, root = _inclusion(index, size)
    expected = f"has {len(proof) + 1} hashes, expected {len(proof)}"
    for extra in (proof[0], root, leaf, b"\x00" * 32):
        with pytest.raises(VerificationError, match=expected):
            merkle.verify_inclusion(leaf, index, size, [*proof, extra], root)
        with pytest.raises(VerificationError, match=expected):
            merkle.verify_inclusion(leaf, index, size, [extra, *proof], root)
    for position in range(len(proof)):
        with pytest.raises(VerificationError, match=f"expected {len(proof)}"):
            merkle.verify_inclusion(
                leaf, index, size, proof[:position] + proof[position + 1 :], root
            )
    for first, second in itertools.combinations(range(len(proof)), 2):
        swapped = list(proof)
        swapped[first], swapped[second] = swapped[second], swapped[first]
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaf, index, size, swapped, root)


@pytest.mark.parametrize(("old_size", "size"), CONSISTENCY_CASES)
def test_extra_dropped_and_swapped_hash_attacks_on_consistency_are_rejected(
    old_size: int, size: int
) -> None:
    old_root, proof, root = _consistency(old_size, size)
    expected = f"has {len(proof) + 1} hashes, expected {len(proof)}"
    for extra in (proof[0], old_root, root, b"\x00" * 32):
        with pytest.raises(VerificationError, match=expected):
            merkle.verify_consistency(old_size, size, old_root, root, [*proof, extra])
        with pytest.raises(VerificationError, match=expected):
            merkle.verify_consistency(old_size, size, old_root, root, [extra, *proof])
    for position in range(len(proof)):
        dropped = proof[:position] + proof[position + 1 :]
        with pytest.raises(VerificationError, match=f"expected {len(proof)}"):
            merkle.verify_consistency(old_size, size, old_root, root, dropped)
    for first, second in itertools.combinations(range(len(proof)), 2):
        swapped = list(proof)
        swapped[first], swapped[second] = swapped[second], swapped[first]
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old_size, size, old_root, root, swapped)


def test_wrong_length_hash_attacks_are_format_errors() -> None:
    leaf, proof, root = _inclusion(5, 7)
    old_root, cproof, _ = _consistency(3, 7)
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, proof[0] + b"\x00"):
        for position in range(len(proof)):
            forged = [*proof[:position], bad, *proof[position + 1 :]]
            with pytest.raises(FormatError):
                merkle.verify_inclusion(leaf, 5, 7, forged, root)
        with pytest.raises(FormatError):
            merkle.verify_inclusion(bad, 5, 7, proof, root)
        with pytest.raises(FormatError):
            merkle.verify_inclusion(leaf, 5, 7, proof, bad)
        with pytest.raises(FormatError):
            merkle.root_from_inclusion(leaf, 5, 7, [*proof[:-1], bad])
        for position in range(len(cproof)):
            forged = [*cproof[:position], bad, *cproof[position + 1 :]]
            with pytest.raises(FormatError):
                merkle.verify_consistency(3, 7, old_root, root, forged)
        with pytest.raises(FormatError):
            merkle.verify_consistency(3, 7, bad, root, cproof)
        with pytest.raises(FormatError):
            merkle.verify_consistency(3, 7, old_root, bad, cproof)


def test_rfc_algorithms_alone_reject_wrong_lengths() -> None:
    # The public verifiers check the length first (clear message); the RFC 9162 transcriptions
    # must reject too-long and too-short proofs by themselves (§2.1.3.2 4.a/5, §2.1.4.2 6.a/7).
    filler = b"\x07" * 32
    for size in range(1, 40):
        for index in range(size):
            proof = merkle.prove_inclusion(TREE, index, size)
            for bad in ([*proof, filler], proof[:-1]) if proof else ([filler],):
                with pytest.raises(VerificationError, match=r"too (long|short)"):
                    merkle._inclusion_root(LEAF_HASHES[index], index, size, bad)
        for old_size in range(1, size):
            proof = merkle.prove_consistency(TREE, old_size, size)
            for bad in ([*proof, filler], proof[:-1]):
                with pytest.raises(VerificationError, match=r"too (long|short)|empty"):
                    merkle._consistency_roots(old_size, size, _root(old_size), bad)


def test_interior_node_presented_as_leaf_is_rejected() -> None:
    # Second-preimage attempt: the 64 bytes of two children as "leaf data" at a shorter depth.
    node_data = LEAF_HASHES[0] + LEAF_HASHES[1]
    proof = merkle.prove_inclusion(TREE, 0, 4)[1:]  # [MTH(D[2:4])]
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.hash_leaf(node_data), 0, 4, proof, _root(4))
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.hash_leaf(node_data), 0, 2, proof, _root(4))


def test_empty_consistency_proof_between_different_sizes_is_rejected() -> None:
    with pytest.raises(VerificationError, match="has 0 hashes, expected 1"):
        merkle.verify_consistency(4, 8, _root(4), _root(8), [])


# --- edge cases -----------------------------------------------------------------------------


def test_consistency_from_the_empty_tree() -> None:
    for size in (0, 1, 5):
        assert merkle.prove_consistency(TREE, 0, size) == []
        assert merkle.proof_hash_count_consistency(0, size) == 0
        merkle.verify_consistency(0, size, merkle.EMPTY_ROOT, _root(size), [])
        with pytest.raises(VerificationError, match="empty tree"):
            merkle.verify_consistency(0, size, _root(1), _root(size), [])
        with pytest.raises(VerificationError, match="expected 0"):
            merkle.verify_consistency(0, size, merkle.EMPTY_ROOT, _root(size), [_root(1)])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, _root(1), [])


def test_consistency_between_equal_sizes() -> None:
    for size in (1, 2, 7, 64):
        assert merkle.prove_consistency(TREE, size, size) == []
        merkle.verify_consistency(size, size, _root(size), _root(size), [])
        with pytest.raises(VerificationError, match="roots differ"):
            merkle.verify_consistency(size, size, _root(size), _root(size + 1), [])
        with pytest.raises(VerificationError, match="expected 0"):
            merkle.verify_consistency(size, size, _root(size), _root(size), [_root(size)])


def test_impossible_arguments_are_usage_errors() -> None:
    leaf, root = LEAF_HASHES[0], _root(3)
    calls: list[Callable[[], object]] = [
        lambda: merkle.prove_inclusion(TREE, 3, 3),  # index >= size
        lambda: merkle.prove_inclusion(TREE, 0, 0),  # size 0
        lambda: merkle.verify_inclusion(leaf, 3, 3, [], root),
        lambda: merkle.verify_inclusion(leaf, 0, 0, [], merkle.EMPTY_ROOT),
        lambda: merkle.root_from_inclusion(leaf, 5, 3, []),
        lambda: merkle.proof_hash_count_inclusion(3, 3),
        lambda: merkle.prove_consistency(TREE, 4, 3),  # old_size > size
        lambda: merkle.verify_consistency(4, 3, root, root, []),
        lambda: merkle.proof_hash_count_consistency(4, 3),
        lambda: merkle.prove_inclusion(TREE, -1, 3),  # negative numbers
        lambda: merkle.prove_consistency(TREE, -1, 3),
        lambda: merkle.verify_consistency(-1, 3, root, root, []),
        lambda: merkle.verify_inclusion(leaf, -1, 3, [], root),
        lambda: merkle.root(TREE, -1),
        lambda: merkle.perfect_subtrees_after_append(-1),
    ]
    for call in calls:
        with pytest.raises(UsageError):
            call()


# --- MemoryTree and perfect subtrees --------------------------------------------------------


def test_memory_tree_append_and_subtree_hash() -> None:
    tree = merkle.MemoryTree()
    assert tree.size == 0
    for size in range(1, 101):
        assert tree.append(LEAVES[size - 1]) == LEAF_HASHES[size - 1]
        assert tree.size == size
        assert merkle.root(tree, size) == ref.mth(LEAVES[:size])
    for level in range(8):
        for index in range(128 >> level):
            end = (index + 1) << level
            if end <= 100:
                assert tree.subtree_hash(level, index) == ref.mth(LEAVES[index << level : end])
            else:
                with pytest.raises(UsageError):
                    tree.subtree_hash(level, index)
    for level, index in [(-1, 0), (0, -1), (40, 0)]:
        with pytest.raises(UsageError):
            tree.subtree_hash(level, index)
    other = merkle.MemoryTree()
    for leaf_hash in LEAF_HASHES[:100]:
        other.append_leaf_hash(leaf_hash)
    assert merkle.root(other, 100) == merkle.root(tree, 100)
    with pytest.raises(FormatError):
        other.append_leaf_hash(b"\x00" * 31)
    assert other.size == 100


def test_perfect_subtrees_after_append_against_brute_force() -> None:
    def complete(level: int, index: int, size: int) -> bool:
        return (index + 1) * (1 << level) <= size

    for size_before in range(300):
        expected = [
            (level, index)
            for level in range(11)
            for index in range(size_before + 1)
            if complete(level, index, size_before + 1) and not complete(level, index, size_before)
        ]
        assert merkle.perfect_subtrees_after_append(size_before) == expected, size_before
        assert len(expected) <= (size_before + 1).bit_length()
