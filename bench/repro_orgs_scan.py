"""Reproduction: every ``append`` scans the whole ``orgs`` table (since commit 3a60e11).

    python bench/repro_orgs_scan.py /tmp/ledger-bench/l100000.db

``SqliteState.live_orgs_with_skeleton`` (called once or twice per endorsement appended, for the
look-alike check) runs ``WHERE (skeleton = ? OR skeleton2 = ?) AND live IS NOT NULL ORDER BY
org``. SQLite (3.40 here) plans it as ``SCAN orgs``: O(organisations) per call, so appending is
O(N) per entry and building a ledger O(N^2) (10^5 entries: ~0.2 s per append on these
machines; 10^6: seconds). The same lookup as a ``UNION`` of the two indexed equalities uses
both partial indexes. The ledger must have the ``skeleton2`` column (made by the current code,
or upgraded with ``benchlib.upgrade_state``).
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
from pathlib import Path

import benchlib

QUERIES = {
    "as in state.py": (
        "SELECT org FROM orgs WHERE (skeleton = ? OR skeleton2 = ?) AND live IS NOT NULL "
        "ORDER BY org"
    ),
    "UNION": (
        "SELECT org FROM orgs WHERE skeleton = ? AND live IS NOT NULL UNION "
        "SELECT org FROM orgs WHERE skeleton2 = ? AND live IS NOT NULL ORDER BY 1"
    ),
}


def fetch(db: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> list[object]:
    """Run one query to the end."""
    return db.execute(sql, args).fetchall()


def main(argv: list[str] | None = None) -> int:
    """Show both query plans and their times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    args = parser.parse_args(argv)
    db = sqlite3.connect(f"{args.ledger.resolve().as_uri()}?mode=ro", uri=True)
    rows = db.execute("SELECT COUNT(*) FROM orgs").fetchone()[0]
    print(f"SQLite {sqlite3.sqlite_version}, {rows:,} rows in orgs")
    values = ("organisation 000123", "organisation 000123")
    for name, sql in QUERIES.items():
        plan = "; ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", values))
        seconds = benchlib.median(benchlib.repeat(functools.partial(fetch, db, sql, values), 5))
        print(f"{name:15} {benchlib.human(seconds):>9}  plan: {plan}")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
