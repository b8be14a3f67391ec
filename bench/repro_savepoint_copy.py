"""Reproduction: a store writer's savepoint copies every tree node added in its transaction.

    python bench/repro_savepoint_copy.py

``Ledger.append`` opens one savepoint per endorsement; ``_SqliteWriter.savepoint`` snapshots
``dict(self._nodes)``, the cache of every leaf and tree node added so far in the transaction
(about 2 per entry). The k-th entry of a batch therefore copies ~2k items: O(batch) per entry,
O(batch^2) per append call. This adds k entries to a writer (no signatures, no lifecycle), then
times the savepoint alone; its cost should not depend on k.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

from ledger.store import create_store


def savepoint_cost(k: int, samples: int = 200) -> float:
    """Seconds per savepoint (enter and release) in a writer holding k new entries."""
    with tempfile.TemporaryDirectory() as temp:
        store = create_store(Path(temp) / "s.db")
        try:
            with store.writer() as writer:
                for seq in range(k):
                    data = seq.to_bytes(8, "big")
                    writer.add(data, hashlib.sha256(b"\x00" + data).digest())
                start = time.perf_counter()
                for _ in range(samples):
                    with writer.savepoint():
                        pass
                return (time.perf_counter() - start) / samples
        finally:
            store.close()


def main() -> int:
    """Print the savepoint cost against the number of entries already in the transaction."""
    print("entries in the transaction | one savepoint")
    for k in (0, 1_000, 4_000, 16_000, 64_000):
        print(f"{k:>26,} | {savepoint_cost(k) * 1e6:9.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
