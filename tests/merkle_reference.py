"""Naive RFC 9162 Merkle tree, a test oracle only: recursive, over the leaf bytes, O(n) per call.

Written directly from RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF),
with no shared code with ``ledger.merkle``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0))."""
    return _hash(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right)."""
    return _hash(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    assert n > 1
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash of the list of leaf inputs ``d``."""
    n = len(d)
    if n == 0:
        return _hash(b"")
    if n == 1:
        return leaf_hash(d[0])
    k = largest_power_of_two_below(n)
    return node_hash(mth(d[0:k]), mth(d[k:n]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), the audit path of leaf m (0-based)."""
    n = len(d)
    assert 0 <= m < n
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*path(m, d[0:k]), mth(d[k:n])]
    return [*path(m - k, d[k:n]), mth(d[0:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) for 0 < m < n; empty for m == 0 or m == n here."""
    n = len(d)
    assert 0 <= m <= n
    if m in (0, n):
        return []
    return subproof(m, d, b=True)


def subproof(m: int, d: Sequence[bytes], *, b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof(m, d[0:k], b=b), mth(d[k:n])]
    return [*subproof(m - k, d[k:n], b=False), mth(d[0:k])]
