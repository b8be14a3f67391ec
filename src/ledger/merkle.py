"""RFC 9162 (= RFC 6962) Merkle tree over SHA-256: hashes, proofs and proof verification.

Proof generation works over any :class:`SubtreeSource`, something that returns the hash of a
*perfect* subtree (level ``L``, index ``i`` covers leaves ``[i * 2**L, (i + 1) * 2**L)``), so a
store keeping one row per perfect subtree answers any root or proof with O(log n) lookups, for
the current size or any earlier one: only subtrees complete at the requested size are read.
Indices are 0-based; proofs are lists of 32-byte hashes, audit paths leaf-sibling first.
The module is pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Protocol, runtime_checkable

from ledger.errors import FormatError, StoreError, UsageError, VerificationError

HASH_SIZE: Final = 32
_sha256 = hashlib.sha256
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()

_Node = tuple[int, int]  # (level, index) of a perfect subtree
_Range = tuple[int, int]  # leaves [start, end)


class SubtreeSource(Protocol):
    """Anything that can return the hash of a *perfect* subtree.

    Level ``L``, index ``i`` covers leaves ``[i * 2**L, (i + 1) * 2**L)``; level 0 holds leaf
    hashes. The algorithms here only ask for subtrees complete at the size they work on.
    """

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return the hash of perfect subtree (``level``, ``index``)."""
        ...


@runtime_checkable
class BatchSubtreeSource(SubtreeSource, Protocol):
    """A :class:`SubtreeSource` that can also answer many lookups at once (one query)."""

    def subtree_hashes(self, nodes: Sequence[tuple[int, int]]) -> Sequence[bytes]:
        """Return the hashes of the perfect subtrees ``nodes`` (``(level, index)``), in order."""
        ...


def hash_leaf(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash.

    Args:
        data: the leaf bytes.

    Returns:
        SHA-256(0x00 || data).
    """
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash.

    Args:
        left: hash of the left child.
        right: hash of the right child.

    Returns:
        SHA-256(0x01 || left || right).

    Raises:
        FormatError: a child hash is not HASH_SIZE bytes.
    """
    _check_hash(left, "left child hash")
    _check_hash(right, "right child hash")
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise FormatError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_natural(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise UsageError(f"{name} must not be negative, got {value}")


def _split(n: int) -> int:
    """RFC 9162 §2.1.1: k, the largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose leaves [start, end) into perfect subtrees ``(level, index)``, largest first.

    For n = end - start not a power of two, the RFC split k is n's highest set bit, so
    MTH(D[start:end]) = node(MTH of the first 2**a1 leaves, MTH of the rest), and recursing on the
    rest peels off one chunk per set bit of n, high to low: MTH = node(P1, node(P2, ... Pj)).
    Chunk 1 is an aligned perfect subtree iff 2**a1 divides start; later chunks are then aligned
    too (smaller powers of two dividing start + 2**a1). Every range RFC recursion produces from
    [0, size) qualifies: its start is a multiple of the smallest power of two >= its length
    (true of [0, size); the left half [s, s + k) of [s, s + n) is perfect with k | 2k | s; the
    right half starts at s + k, a multiple of k >= n - k). So RFC subtrees need no other nodes.
    :func:`fold_subtrees` of their hashes is the range's MTH.

    Raises:
        UsageError: the range is not made of aligned perfect subtrees (an empty range has none).
    """
    nodes: list[_Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise UsageError(f"leaf range starting at {start} is not aligned to perfect subtrees")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its :func:`perfect_subtrees`, largest first.

    MTH = node(P1, node(P2, ... Pj)), folded right to left (RFC 9162 §2.1.1 applied to each
    split at the highest set bit of the length).

    Raises:
        UsageError: no hashes.
        FormatError: a hash is not HASH_SIZE bytes.
    """
    if not hashes:
        raise UsageError("a leaf range has at least one perfect subtree")
    for value in hashes:
        _check_hash(value, "subtree hash")
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = _sha256(b"\x01" + left + acc).digest()  # hash_children, lengths checked above
    return acc


@runtime_checkable
class RangeSource(SubtreeSource, Protocol):
    """A :class:`SubtreeSource` that answers the MTH of whole leaf ranges itself.

    A store can then read every node of a proof in one query and keep derived hashes (the
    root of its current size) between proofs.
    """

    def range_hashes(self, ranges: Sequence[tuple[int, int]]) -> Sequence[bytes]:
        """Return MTH of each range ``(start, end)`` made of aligned perfect subtrees, in order.

        Raise UsageError for a negative, empty or unaligned range.
        """
        ...


def range_hashes(source: SubtreeSource, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each of several RFC 9162 subtree ranges, reading all their nodes in one batch.

    A proof and the roots it is checked against need O(log n) perfect subtrees in all; a
    :class:`RangeSource` or :class:`BatchSubtreeSource` (the SQLite store is both) gets them
    in one call, so one query.

    Args:
        source: the perfect-subtree hashes.
        ranges: leaf ranges ``(start, end)``, each non-empty and made of aligned perfect
            subtrees (as every range of :func:`inclusion_ranges`, :func:`consistency_ranges`,
            a leaf ``(i, i + 1)`` and a root ``(0, size)`` is).

    Returns:
        One hash per range, in order.

    Raises:
        UsageError: a range is empty or not made of aligned perfect subtrees.
    """
    answer = getattr(source, "range_hashes", None)
    if answer is None:
        for start, end in ranges:
            if start < 0 or end <= start:
                raise UsageError(f"leaf range [{start}, {end}) is empty or negative")
        return _resolve(source, ranges)
    hashes = list(answer(ranges))
    if len(hashes) != len(ranges):
        raise StoreError(f"subtree source returned {len(hashes)} hashes for {len(ranges)} ranges")
    return hashes


def _resolve(source: SubtreeSource, ranges: Sequence[_Range]) -> list[bytes]:
    """MTH of each range, fetching all perfect subtrees in one batch when the source can."""
    groups = [perfect_subtrees(start, end) for start, end in ranges]
    fetched = _fetch(source, [node for group in groups for node in group])
    hashes: list[bytes] = []
    position = 0
    for group in groups:
        end = position + len(group)
        hashes.append(fold_subtrees(fetched[position:end]))
        position = end
    return hashes


def range_hash(source: SubtreeSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end), an RFC 9162 subtree range, from perfect-subtree hashes.

    Args:
        source: the perfect-subtree hashes.
        start: first leaf (0-based).
        end: one past the last leaf.

    Returns:
        The RFC 9162 §2.1.1 Merkle Tree Hash of those leaves.

    Raises:
        UsageError: the range is empty or negative, or start is not a multiple of the largest
            power of two <= end - start (the range is not made of aligned perfect subtrees).
    """
    _check_natural(start=start, end=end)
    if end <= start:
        raise UsageError(f"leaf range [{start}, {end}) is empty")
    return range_hashes(source, [(start, end)])[0]


def root(source: SubtreeSource, size: int) -> bytes:
    """RFC 9162 §2.1.1 root hash MTH(D[size]) of the first ``size`` leaves.

    Args:
        source: the perfect-subtree hashes.
        size: the tree size; 0 gives EMPTY_ROOT.

    Returns:
        The root hash.

    Raises:
        UsageError: size is negative.
    """
    _check_natural(size=size)
    return EMPTY_ROOT if size == 0 else range_hash(source, 0, size)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PATH(index, D[size]), leaf sibling first.

    :func:`prove_inclusion` is :func:`range_hashes` of these; plan them with the leaf and the
    root to read a whole proof at once.

    Raises:
        UsageError: a negative argument, or index >= size.
    """
    _check_natural(index=index, size=size)
    if index >= size:
        raise UsageError(f"leaf index {index} is not in a tree of size {size}")
    # RFC 9162 §2.1.3.1, PATH(m, D[lo:hi]) walked top-down, then reversed (leaf-sibling first).
    ranges: list[_Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + (1 << (hi - lo - 1).bit_length() - 1)  # lo + _split(hi - lo), inlined
        if index < mid:  # m < k: PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((mid, hi))
            hi = mid
        else:  # m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PROOF(old_size, D[size]), in proof order.

    :func:`prove_consistency` is :func:`range_hashes` of these; empty if old_size is 0 or size.

    Raises:
        UsageError: a negative argument, or old_size > size.
    """
    _check_natural(old_size=old_size, size=size)
    if old_size > size:
        raise UsageError(f"old size {old_size} is larger than size {size}")
    if old_size in (0, size):
        return []
    # RFC 9162 §2.1.4.1, SUBPROOF(m, D[lo:hi], b) with m = old_size - lo, walked top-down.
    ranges: list[_Range] = []
    lo, hi, known = 0, size, True
    while old_size != hi:  # m < n
        mid = lo + (1 << (hi - lo - 1).bit_length() - 1)  # lo + _split(hi - lo), inlined
        if old_size <= mid:  # m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((mid, hi))
            hi = mid
        else:  # m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((lo, mid))
            lo, known = mid, False
    if not known:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def proof_hash_count_inclusion(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size`` leaves.

    Args:
        index: the leaf (0-based).
        size: the tree size.

    Returns:
        The audit path length.

    Raises:
        UsageError: a negative argument, or index >= size.
    """
    return len(inclusion_ranges(index, size))


def proof_hash_count_consistency(old_size: int, size: int) -> int:
    """Number of hashes in the consistency proof from ``old_size`` to ``size``.

    Args:
        old_size: the earlier tree size.
        size: the later tree size.

    Returns:
        The proof length: 0 if old_size is 0 or equals size.

    Raises:
        UsageError: a negative argument, or old_size > size.
    """
    return len(consistency_ranges(old_size, size))


def prove_inclusion(source: SubtreeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[size]), leaf sibling first.

    Args:
        source: the perfect-subtree hashes; only subtrees complete at ``size`` are read.
        index: the leaf (0-based).
        size: the tree size.

    Returns:
        The audit path.

    Raises:
        UsageError: a negative argument, or index >= size.
    """
    return range_hashes(source, inclusion_ranges(index, size))


def prove_consistency(source: SubtreeSource, old_size: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof PROOF(old_size, D[size]); empty if old_size is 0 or size.

    Args:
        source: the perfect-subtree hashes; only subtrees complete at ``size`` are read.
        old_size: the earlier tree size.
        size: the later tree size.

    Returns:
        The consistency proof.

    Raises:
        UsageError: a negative argument, or old_size > size.
    """
    return range_hashes(source, consistency_ranges(old_size, size))


def _check_length(proof: Sequence[bytes], expected: int, what: str) -> None:
    for position, item in enumerate(proof):
        _check_hash(item, f"{what} hash {position}")
    if len(proof) != expected:
        raise VerificationError(f"{what} has {len(proof)} hashes, expected {expected}")


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Recompute the root that an inclusion proof commits to (RFC 9162 §2.1.3.2 steps 1-5).

    Args:
        leaf_hash: the leaf hash (see :func:`hash_leaf`).
        index: the leaf (0-based).
        size: the tree size.
        proof: the audit path, leaf sibling first.

    Returns:
        The root hash the proof leads to; compare it with a trusted root of ``size``.

    Raises:
        UsageError: a negative argument, or index >= size.
        FormatError: a hash is not HASH_SIZE bytes.
        VerificationError: the proof has the wrong number of hashes.
    """
    expected = proof_hash_count_inclusion(index, size)  # step 1: index >= size is a UsageError
    _check_hash(leaf_hash, "leaf hash")
    _check_length(proof, expected, "inclusion proof")
    return _inclusion_root(leaf_hash, index, size, proof)


def _inclusion_root(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 2-5 for 0 <= index < size, returning r to compare with the root.

    It rejects proofs of the wrong length on its own (steps 4.a and 5); the callers check the
    length first only for a clearer error message.
    """
    fn, sn = index, size - 1  # RFC 9162 §2.1.3.2 step 2
    r = leaf_hash  # RFC 9162 §2.1.3.2 step 3
    for p in proof:  # RFC 9162 §2.1.3.2 step 4
        if sn == 0:  # RFC 9162 §2.1.3.2 step 4.a
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:  # RFC 9162 §2.1.3.2 step 4.b
            r = hash_children(p, r)  # RFC 9162 §2.1.3.2 step 4.b.i
            while not fn & 1 and fn != 0:  # RFC 9162 §2.1.3.2 step 4.b.ii
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hash_children(r, p)  # RFC 9162 §2.1.3.2 step 4.b "Otherwise" i
        fn, sn = fn >> 1, sn >> 1  # RFC 9162 §2.1.3.2 step 4.c
    if sn != 0:  # RFC 9162 §2.1.3.2 step 5 (the caller compares r with root_hash)
        raise VerificationError("inclusion proof is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    The size is not bound by the proof alone (e.g. leaf 0 has the same proof shape in trees of
    3 and 4 leaves): take ``size`` and ``root`` from the same authenticated tree head.

    Args:
        leaf_hash: the leaf hash (see :func:`hash_leaf`).
        index: the leaf (0-based).
        size: the tree size.
        proof: the audit path, leaf sibling first.
        root: the trusted root hash of the tree of ``size`` leaves.

    Raises:
        UsageError: a negative argument, or index >= size (including size 0).
        FormatError: a hash is not HASH_SIZE bytes.
        VerificationError: the proof does not verify.
    """
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    _check_hash(root, "root")
    if computed != root:  # RFC 9162 §2.1.3.2 step 5
        raise VerificationError(f"inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with ``old_root`` is a prefix of ``root``'s tree.

    Beyond RFC 9162 §2.1.4.2 (0 < old_size < size): old_size == size needs an empty proof and
    equal roots; old_size == 0 needs an empty proof and old_root == EMPTY_ROOT.

    Args:
        old_size: the earlier tree size.
        size: the later tree size.
        old_root: the trusted root of the earlier tree.
        root: the trusted root of the later tree.
        proof: the consistency proof.

    Raises:
        UsageError: a negative argument, or old_size > size.
        FormatError: a hash is not HASH_SIZE bytes.
        VerificationError: the proof does not verify.
    """
    expected = proof_hash_count_consistency(old_size, size)
    _check_hash(old_root, "old root")
    _check_hash(root, "root")
    _check_length(proof, expected, "consistency proof")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise VerificationError("old root is not the root of the empty tree")
    if old_size == size and old_root != root:
        raise VerificationError(f"roots differ for the same size {size}")
    if old_size in (0, size):
        return
    fr, sr = _consistency_roots(old_size, size, old_root, proof)
    if fr != old_root:  # RFC 9162 §2.1.4.2 step 7
        raise VerificationError(f"consistency proof does not lead to the old root ({old_size})")
    if sr != root:  # RFC 9162 §2.1.4.2 step 7
        raise VerificationError(f"consistency proof does not lead to the root ({size})")


def _consistency_roots(
    first: int, second: int, first_hash: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 1-7 for 0 < first < second, returning (fr, sr) to compare.

    It rejects proofs of the wrong length on its own (steps 6.a and 7), like _inclusion_root.
    """
    path = list(proof)
    if not path:  # RFC 9162 §2.1.4.2 step 1
        raise VerificationError("consistency proof is empty")
    if first & (first - 1) == 0:  # RFC 9162 §2.1.4.2 step 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # RFC 9162 §2.1.4.2 step 3
    while fn & 1:  # RFC 9162 §2.1.4.2 step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # RFC 9162 §2.1.4.2 step 5
    for c in path[1:]:  # RFC 9162 §2.1.4.2 step 6
        if sn == 0:  # RFC 9162 §2.1.4.2 step 6.a
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:  # RFC 9162 §2.1.4.2 step 6.b
            fr = hash_children(c, fr)  # RFC 9162 §2.1.4.2 step 6.b.i
            sr = hash_children(c, sr)  # RFC 9162 §2.1.4.2 step 6.b.ii
            while not fn & 1 and fn != 0:  # RFC 9162 §2.1.4.2 step 6.b.iii
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = hash_children(sr, c)  # RFC 9162 §2.1.4.2 step 6.b "Otherwise" i
        fn, sn = fn >> 1, sn >> 1  # RFC 9162 §2.1.4.2 step 6.c
    if sn != 0:  # RFC 9162 §2.1.4.2 step 7 (sn == 0; the caller compares fr and sr)
        raise VerificationError("consistency proof is too short")
    return fr, sr


def perfect_subtrees_after_append(size_before: int) -> list[tuple[int, int]]:
    """The perfect subtrees completed by appending leaf number ``size_before`` (0-based).

    Args:
        size_before: the tree size before the append.

    Returns:
        ``(level, index)`` pairs, bottom-up, starting with the leaf ``(0, size_before)``:
        one more per trailing 1 bit of ``size_before`` (each closes its parent).

    Raises:
        UsageError: size_before is negative.
    """
    _check_natural(size_before=size_before)
    nodes = [(0, size_before)]
    level, index = 0, size_before
    while index & 1:  # a right child completes its parent
        level, index = level + 1, index >> 1
        nodes.append((level, index))
    return nodes


class MemoryTree:
    """In-memory :class:`SubtreeSource`: one list of perfect-subtree hashes per level."""

    def __init__(self) -> None:
        """Create an empty tree."""
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append_leaf_hash(self, leaf_hash: bytes) -> None:
        """Append a leaf by its hash, completing O(log n) perfect subtrees.

        Args:
            leaf_hash: the leaf hash (see :func:`hash_leaf`).

        Raises:
            FormatError: leaf_hash is not HASH_SIZE bytes.
        """
        _check_hash(leaf_hash, "leaf hash")
        for level, index in perfect_subtrees_after_append(self.size):
            node = leaf_hash
            if level > 0:
                below = self._levels[level - 1]
                node = hash_children(below[2 * index], below[2 * index + 1])
                if level == len(self._levels):
                    self._levels.append([])
            assert len(self._levels[level]) == index  # levels fill left to right
            self._levels[level].append(node)

    def append(self, data: bytes) -> bytes:
        """Append a leaf by its bytes.

        Args:
            data: the leaf bytes.

        Returns:
            The leaf hash, :func:`hash_leaf` of ``data``.
        """
        leaf_hash = hash_leaf(data)
        self.append_leaf_hash(leaf_hash)
        return leaf_hash

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return the hash of the complete perfect subtree (``level``, ``index``).

        Args:
            level: the subtree height (0 for a leaf).
            index: the subtree position at that level.

        Returns:
            The subtree's Merkle Tree Hash.

        Raises:
            UsageError: no such complete subtree in the tree so far.
        """
        if not (0 <= level < len(self._levels) and 0 <= index < len(self._levels[level])):
            raise UsageError(
                f"no complete subtree ({level}, {index}) in a tree of size {self.size}"
            )
        return self._levels[level][index]


class CompactRange:
    """The right edge of a growing tree: O(log n) memory, for streaming roots.

    Holds the hashes of the perfect subtrees that decompose leaves [0, size), largest first
    (one per set bit of size). Appending a leaf merges equal-sized neighbours; the RFC 9162
    root folds the stack from the right, because MTH peels one perfect subtree per set bit of
    the size, high to low (see ``_perfect_nodes``).
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start empty, or from the perfect-subtree hashes of a tree of ``size`` leaves.

        Raises:
            UsageError: ``hashes`` does not hold one hash per set bit of ``size``.
        """
        if len(hashes) != size.bit_count():
            raise UsageError(
                f"a compact range of size {size} has {size.bit_count()} hashes, got {len(hashes)}"
            )
        for value in hashes:
            _check_hash(value, "subtree hash")
        self._size = size
        self._stack: list[tuple[int, bytes]] = []
        for level in sorted(
            (bit for bit in range(size.bit_length()) if size >> bit & 1), reverse=True
        ):
            self._stack.append((level, hashes[len(self._stack)]))

    @classmethod
    def from_source(cls, source: SubtreeSource, size: int) -> CompactRange:
        """The compact range of the first ``size`` leaves of a stored tree (O(log n) reads)."""
        return cls(size, _fetch(source, perfect_subtrees(0, size)))

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The perfect-subtree hashes, largest first."""
        return [value for _, value in self._stack]

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (amortised O(1) hashing)."""
        level, value = 0, leaf_hash
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            value = hash_children(left, value)
            level += 1
        self._stack.append((level, value))
        self._size += 1

    def root(self) -> bytes:
        """RFC 9162 MTH of the leaves covered so far (``EMPTY_ROOT`` when empty)."""
        if not self._stack:
            return EMPTY_ROOT
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = hash_children(left, value)
        return value


def _fetch(source: SubtreeSource, nodes: Sequence[_Node]) -> list[bytes]:
    # getattr, not isinstance: a runtime protocol check costs ~10 us, as much as a whole proof.
    batch = getattr(source, "subtree_hashes", None)
    if batch is not None:
        fetched = list(batch(nodes))
        if len(fetched) != len(nodes):
            raise StoreError(f"subtree source returned {len(fetched)} hashes for {len(nodes)}")
        return fetched
    return [source.subtree_hash(level, index) for level, index in nodes]
