"""Incremental verification from a trusted checkpoint: the cost must grow with new entries only.

    python bench/bench_incremental.py /tmp/bench/l1k.db /tmp/bench/l1m.db --new 100

Each ledger (N entries, with the checkpoint ``LEDGER.checkpoint.N`` that bench/generate.py
writes) is copied into a temporary directory and grown by ``--new`` endorsements, with a new
checkpoint at N + new. Each repetition times ``ledger.check_ledger_file(copy,
saved_checkpoint=<checkpoint at N>, incremental=True)``, which must report ``ok`` in mode
``incremental``. Target: the largest ledger's median within 2 x the smallest's (10^6 + 100 from
10^6 against 10^3 + 100 from 10^3). A full verification of the smallest copy is timed too, to
show what the incremental mode saves.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import benchlib
import ledger

LIMIT = 2.0


def bench_one(path: Path, new: int, reps: int, seed: str) -> dict[str, Any]:
    """Median incremental check of N + new entries from the checkpoint at N."""
    size = benchlib.ledger_size(path)
    saved_path = benchlib.checkpoint_path(path, size)
    if not saved_path.exists():
        raise SystemExit(f"{saved_path} is missing: generate the ledger with bench/generate.py")
    saved = saved_path.read_bytes()
    with tempfile.TemporaryDirectory(dir=path.parent) as temp:
        work = Path(temp) / "incremental.db"
        benchlib.extend_copy(path, work, seed, size + new).close()

        def check() -> ledger.Report:
            return ledger.check_ledger_file(work, saved_checkpoint=saved, incremental=True)

        report = check()  # warm the page cache
        if not report.ok or report.mode != "incremental" or report.entries_from != size:
            raise SystemExit(f"{path}: incremental check failed: {report.problems[:3]}")
        times = benchlib.repeat(check, reps)
        full = None
        if size <= 10_000:
            full = benchlib.median(benchlib.repeat(lambda: ledger.check_ledger_file(work), 3))
    return {
        "ledger": str(path),
        "checkpoint": size,
        "entries": size + new,
        "new": new,
        "reps": reps,
        "incremental_s": benchlib.median(times),
        "incremental_all_s": times,
        "full_s": full,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--new", type=int, default=100, help="entries after the checkpoint")
    parser.add_argument("--reps", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--seed", default="0", help="the ledgers' --seed")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = [bench_one(p, args.new, args.reps, args.seed) for p in args.ledgers]
    smallest = min(results, key=lambda r: r["checkpoint"])
    for r in results:
        r["ratio_vs_smallest"] = r["incremental_s"] / smallest["incremental_s"]
        r["limit"] = LIMIT
        r["status"] = benchlib.ratio_status(r["ratio_vs_smallest"], LIMIT, at_least=False)
    headers = [
        "checkpoint at",
        "entries",
        "incremental check",
        f"ratio vs {smallest['checkpoint']:,} (<= {LIMIT:g})",
        "full check (small only)",
        "status",
    ]
    rows = [
        [
            f"{r['checkpoint']:,}",
            f"{r['entries']:,}",
            benchlib.human(r["incremental_s"]),
            f"{r['ratio_vs_smallest']:.2f}",
            "-" if r["full_s"] is None else benchlib.human(r["full_s"]),
            r["status"],
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "incremental", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
