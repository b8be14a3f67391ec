"""The storage interface every backend implements.

A store keeps entry bytes in sequence order with their leaf hashes, the hashes of the complete
("perfect") subtrees of the RFC 9162 tree so that roots and proofs at any size cost O(log n)
reads, an index of live endorsements by key id, and the checkpoints the log signed. It does not
decode or verify anything: it trusts nothing it returns, and ``verify`` re-checks it all.

Writers are serialised: ``writer()`` takes the store's write lock before it reads the tip, so two
processes appending at once produce one linear chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from ledger.lifecycle import StateView


class StoreWriter(Protocol):
    """One write transaction: see the tip, add entries, commit on success."""

    @property
    def size(self) -> int:
        """Number of entries, including the ones added in this transaction."""
        ...

    @property
    def tip(self) -> bytes:
        """Leaf hash of the last entry (32 zero bytes when the store is empty)."""
        ...

    @property
    def state(self) -> StateView:
        """The lifecycle state, read and written in this transaction."""
        ...

    def savepoint(self, *, keep: bool = True) -> AbstractContextManager[None]:
        """A nested transaction, undone alone if its block raises (or always, unless keep)."""
        ...

    def add(self, data: bytes, leaf_hash: bytes) -> int:
        """Append one entry (already encoded) and return its sequence number."""
        ...

    def set_meta(self, name: str, value: bytes) -> None:
        """Set a metadata value (origin, statement hash...) in this transaction."""
        ...


class Store(Protocol):
    """A ledger's storage backend."""

    @property
    def location(self) -> str:
        """A printable name of the store (a path or URL without credentials)."""
        ...

    def size(self) -> int:
        """The number of entries."""
        ...

    def entry(self, seq: int) -> bytes:
        """The bytes of entry ``seq``; raises StoreError if there is none."""
        ...

    def leaf_hash(self, seq: int) -> bytes:
        """The stored leaf hash of entry ``seq``."""
        ...

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, entry bytes)`` for ``start <= seq < end`` in order, streaming."""
        ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree covering leaves [index * 2**level, (index+1) * 2**level)."""
        ...

    def meta(self, name: str) -> bytes | None:
        """A metadata value, or None."""
        ...

    def state(self) -> StateView:
        """The lifecycle state, for reading."""
        ...

    def writer(self) -> AbstractContextManager[StoreWriter]:
        """Start a write transaction; it commits when the block ends without an exception."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...
