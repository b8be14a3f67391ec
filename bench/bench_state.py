"""Speed cost of verifying with the state and list on disk (``ledger.store.scratch``).

    python bench/bench_state.py /tmp/bench/l100k.db --sizes 1000,10000,100000 --reps 3

For each size N (the first N entries of the ledger), two measurements, each in both kinds of
roster (``memory``: ``Roster()``; ``disk``: ``ScratchRoster()``), interleaved, CPU time, median
of ``--reps``:

* ``state``: only what the roster does, ``lifecycle.apply`` + ``Roster.record`` over entries
  decoded and verified beforehand: the part that changes;
* ``full``: ``EntryChecker.feed`` over the stored entries, then ``report`` and one pass over
  the signatories (what ``ledger verify`` does).

Ratio = memory time / disk time (1 = no cost; below 1 the disk roster is slower).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib
from ledger.cose import decode_endorsement, verify_endorsement
from ledger.entry import decode_entry
from ledger.lifecycle import apply
from ledger.roster import Roster
from ledger.store import open_store
from ledger.store.scratch import ScratchRoster, close_roster
from ledger.verify import EntryChecker

KINDS: dict[str, Callable[[], Roster]] = {"memory": Roster, "disk": ScratchRoster}


def load(path: Path, size: int) -> tuple[list[tuple[int, bytes]], list[tuple[Any, ...]]]:
    """The first ``size`` entries, raw and (from entry 1) decoded and verified."""
    store = open_store(path, readonly=True)
    try:
        raw = list(store.iter_entries(0, size))
    finally:
        store.close()
    genesis = decode_entry(raw[0][1])
    checker = EntryChecker()
    checker.feed(0, raw[0][1])
    decoded = []
    for seq, data in raw[1:]:
        entry = decode_entry(data)
        assert isinstance(entry.body, bytes)
        signed = decode_endorsement(entry.body)
        decoded.append((seq, entry, signed, verify_endorsement(signed)))
    del genesis
    return raw, [(checker.log_key, *item) for item in decoded]


def time_state(kind: str, decoded: list[tuple[Any, ...]]) -> float:
    """CPU seconds of apply + record over the decoded entries."""
    roster = KINDS[kind]()
    try:
        start = time.process_time()
        for log_key, seq, entry, signed, key in decoded:
            outcome = apply(
                roster.state,
                seq=seq,
                entry_type=entry.type,
                signed=signed,
                signer=key,
                log_key=log_key,
            )
            roster.record(seq, entry, signed, key, outcome)
        return time.process_time() - start
    finally:
        close_roster(roster)


def time_full(kind: str, raw: list[tuple[int, bytes]]) -> float:
    """CPU seconds of feeding every entry, the report, and reading its signatories once."""
    roster = KINDS[kind]()
    start = time.process_time()
    checker = EntryChecker(roster=roster)
    for seq, data in raw:
        checker.feed(seq, data)
    with checker.report(len(raw)) as report:
        assert report.ok, report.problems[:3]
        count = sum(1 for _ in report.signatories)
    assert count > 0
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path, help="a ledger (bench/generate.py)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-full", action="store_true", help="only the state loop")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        raw, decoded = load(args.ledger, size)
        times: dict[str, list[float]] = {}
        for _ in range(args.reps):
            for kind in KINDS:
                times.setdefault(f"state {kind}", []).append(time_state(kind, decoded) / size)
                if not args.no_full:
                    times.setdefault(f"full {kind}", []).append(time_full(kind, raw) / size)
        row = {key: benchlib.median(values) * 1e6 for key, values in times.items()}
        results.append({"entries": size, "us_per_entry": row})
        del raw, decoded
    headers = ["entries", "state memory us", "state disk us", "state ratio"]
    if not args.no_full:
        headers += ["full memory us", "full disk us", "full ratio"]
    rows = []
    for r in results:
        us = r["us_per_entry"]
        row = [f"{r['entries']:,}", f"{us['state memory']:.1f}", f"{us['state disk']:.1f}"]
        row.append(f"{us['state memory'] / us['state disk']:.2f}")
        if not args.no_full:
            row += [f"{us['full memory']:.1f}", f"{us['full disk']:.1f}"]
            row.append(f"{us['full memory'] / us['full disk']:.2f}")
        rows.append(row)
    print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "state", {"ledger": str(args.ledger), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
