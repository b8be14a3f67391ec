"""Reproduction: ``SqliteStore.subtree_hashes`` scans the whole ``tree`` table on every call.

    python bench/generate.py --entries 100000 --out /tmp/ledger-bench/l100000.db
    python bench/repro_tree_scan.py /tmp/ledger-bench/l100000.db

``subtree_hashes`` asks for its nodes with ``WHERE (level, idx) IN (VALUES (?, ?), ...)``.
SQLite (3.40 here) plans that row-value ``IN`` over a ``VALUES`` list as ``SCAN tree``: a full
scan of the table (one row per perfect subtree, ~N rows), not a primary-key search. Every proof,
root, compact range and hash tile goes through it, so each costs O(N) instead of O(log N). The
same lookups written as ``(level = ? AND idx = ?) OR ...`` are primary-key searches.
"""

from __future__ import annotations

import argparse
import functools
import random
import sqlite3
import sys
from pathlib import Path

import benchlib
import ledger

SLOW = "SELECT level, idx, hash FROM tree WHERE (level, idx) IN (VALUES {marks})"
FAST = "SELECT level, idx, hash FROM tree WHERE {marks}"


def fetch(db: sqlite3.Connection, sql: str, args: tuple[int, ...]) -> list[object]:
    """Run one query to the end."""
    return db.execute(sql, args).fetchall()


def main(argv: list[str] | None = None) -> int:
    """Show both query plans and their times, and the proof time through the library."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    args = parser.parse_args(argv)
    db = sqlite3.connect(f"{args.ledger.resolve().as_uri()}?mode=ro", uri=True)
    rows = db.execute("SELECT COUNT(*) FROM tree").fetchone()[0]
    nodes = [(1, 0), (3, 2), (5, 1)]
    args_flat = tuple(x for node in nodes for x in node)
    slow = SLOW.format(marks=",".join(["(?, ?)"] * len(nodes)))
    fast = FAST.format(marks=" OR ".join(["(level = ? AND idx = ?)"] * len(nodes)))
    print(f"SQLite {sqlite3.sqlite_version}, {rows:,} rows in tree")
    for name, sql in (("as in sqlite.py", slow), ("OR of equalities", fast)):
        plan = "; ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args_flat))
        seconds = benchlib.median(benchlib.repeat(functools.partial(fetch, db, sql, args_flat), 5))
        print(f"{name:18} {benchlib.human(seconds):>9}  plan: {plan}")
    db.close()
    with ledger.Ledger.open(args.ledger, readonly=True) as book:
        rng = random.Random(1)
        picks = [rng.randrange(book.size) for _ in range(20)]
        seconds = benchlib.median(
            [benchlib.timed(functools.partial(book.prove_inclusion, i))[0] for i in picks]
        )
        print(f"Ledger.prove_inclusion at {book.size:,} entries: {benchlib.human(seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
