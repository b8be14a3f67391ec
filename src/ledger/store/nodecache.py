"""A bounded in-memory cache of the upper levels of a stored Merkle tree.

The log is append-only, so the hash of a complete perfect subtree never changes once it is
committed: a cached node can never go stale. Two rules keep that true and the memory bounded:

* the store adds only nodes it read from *committed* data (never inside its own write
  transaction, which could still roll back), and only nodes it found: a subtree that did not
  exist yet is simply not cached and is read again next time;
* only nodes at or above a *floor level* are kept. Every proof needs one node per level, and
  there are half as many nodes at each level as at the one below, so the top levels are the
  ones every proof shares; the bottom ones are almost never asked for twice. When the cache
  would exceed its capacity the floor rises one level and the level below it is dropped; the
  floor never goes down (the tree only grows), so after a few rises the cache holds the whole
  top of the tree, at most ``capacity`` nodes of ~200 bytes each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

DEFAULT_CAPACITY: Final = 4096  # nodes: ~0.8 MB; the top 11 levels of a 10^6-leaf tree

_Node = tuple[int, int]  # (level, index) of a perfect subtree


class NodeCache:
    """Hashes of perfect subtrees ``(level, index)`` at or above a floor level, bounded."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        """Start empty, keeping at most ``capacity`` nodes (at least 1)."""
        self._capacity = max(1, capacity)
        self._floor = 0
        self._hashes: dict[_Node, bytes] = {}
        # The cached hash of a node, or None (the dict's own lookup: this is the hot path).
        self.get: Callable[[_Node], bytes | None] = self._hashes.get

    @property
    def floor(self) -> int:
        """The lowest level kept."""
        return self._floor

    def __len__(self) -> int:
        return len(self._hashes)

    def lookup(self, nodes: Iterable[_Node]) -> tuple[dict[_Node, bytes], list[_Node]]:
        """The cached hashes among ``nodes``, and the other nodes (each once, in order)."""
        cached = self._hashes
        found: dict[_Node, bytes] = {}
        missing: dict[_Node, None] = {}
        for node in nodes:
            value = cached.get(node)
            if value is None:
                missing[node] = None
            else:
                found[node] = value
        return found, list(missing)

    def fit(self, size: int) -> None:
        """Raise the floor so that all the nodes above it in a tree of ``size`` leaves fit.

        A tree of n leaves has ``n >> level`` complete nodes at each level, so fewer than
        ``2 * n >> floor`` at or above ``floor``. Raising the floor up front saves the cache
        from filling with low nodes only to drop them.
        """
        floor = self._floor
        while (2 * size) >> floor > self._capacity:
            floor += 1
        self._lift(floor)

    def add(self, node: _Node, value: bytes) -> None:
        """Keep ``node``'s hash if it is at or above the floor (the caller read it committed)."""
        if node[0] < self._floor:
            return
        self._hashes[node] = value
        if len(self._hashes) > self._capacity:
            floor = self._floor
            while sum(1 for level, _ in self._hashes if level > floor) > self._capacity:
                floor += 1
            self._lift(floor + 1)

    def _lift(self, floor: int) -> None:
        if floor > self._floor:
            self._floor = floor
            for node in [node for node in self._hashes if node[0] < floor]:
                del self._hashes[node]  # in place: ``get`` stays bound to this dict
