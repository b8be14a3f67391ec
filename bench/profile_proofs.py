"""Where a proof from the ledger file spends its time: per-step CPU timings, and pyinstrument.

    python bench/profile_proofs.py /tmp/ledger-bench/l1000000.db --queries 100

The same random queries as ``bench_proofs.py`` (same seed), on a read-only ``Ledger``, after
two warm passes (the state the warm figures of ``bench_proofs.py`` measure). Each step runs
alone in a tight loop over the queries, its inputs prepared beforehand, in CPU microseconds
per proof (fastest of ``--reps``; CPU time leaves out the time spent descheduled on a loaded
machine): planning the ranges, the store looking them up in memory, the SQL statement alone
(the very statements the proofs ran, replayed with ``sqlite3``), the Python around it,
folding and assembling the proof. Then pyinstrument (if installed) of the whole proofs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import benchlib
import ledger
from ledger import proofs


def fastest(action: Callable[[int], object], queries: Sequence[int], reps: int) -> float:
    """CPU microseconds per call of ``action(q)`` over the queries, fastest of ``reps`` loops."""
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        for query in queries:
            action(query)
        best = min(best, time.process_time() - start)
    return best / len(queries) * 1e6


class Recorder:
    """A connection stand-in that records every statement it runs."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.statements: list[tuple[str, tuple[object, ...]]] = []

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        self.statements.append((sql, tuple(args)))
        return self.db.execute(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def steps(book: ledger.Ledger, kind: str, queries: list[int], reps: int) -> list[list[str]]:
    """The per-step table of one kind of proof (``inclusion`` or ``consistency``)."""
    store = book.store
    size = book.size
    planner = proofs.inclusion_plan if kind == "inclusion" else proofs.consistency_plan
    assemble = proofs.inclusion_proof if kind == "inclusion" else proofs.consistency_proof
    prove = book.prove_inclusion if kind == "inclusion" else book.prove_consistency
    for _ in range(2):  # the warm passes of bench_proofs
        for query in queries:
            prove(query)
    plans = {q: planner(q, size) for q in queries}
    planned = {q: store._plan(plans[q]) for q in queries}
    hashes = {q: store.range_hashes(plans[q]) for q in queries}
    recorder = Recorder(store._db)
    store._db = recorder
    try:
        for query in queries:
            prove(query)
    finally:
        store._db = recorder.db
    statements = recorder.statements
    db = recorder.db
    by_query = dict(zip(queries, statements, strict=False))

    def read(query: int) -> None:
        _, found, missing = planned[query]
        store._read_nodes(missing, dict(found), with_size=True)

    every_node = {q: {**planned[q][1], **store._find(planned[q][2])} for q in queries}

    def finish(query: int) -> None:
        store._finish(plans[query], planned[query][0], every_node[query])

    def plan(query: int) -> None:
        planner(query, size)

    def lookup(query: int) -> None:
        store._plan(plans[query])

    def sql(query: int) -> None:
        statement, args = by_query[query]
        db.execute(statement, args).fetchall()

    whole = fastest(prove, queries, reps)
    rows = [
        (f"whole Ledger.prove_{kind}", whole),
        (f"  plan the ranges (proofs.{planner.__name__})", fastest(plan, queries, reps)),
        ("  store: ranges to nodes, memory lookups (_plan)", fastest(lookup, queries, reps)),
        ("  store: the one statement, with the size (_read_nodes)", fastest(read, queries, reps)),
        ("    of which SQLite alone (execute + fetchall)", fastest(sql, queries, reps)),
        ("  store: fold multi-subtree ranges, order (_finish)", fastest(finish, queries, reps)),
        (
            "  assemble the proof (attrs)",
            fastest(lambda q: assemble(q, size, hashes[q]), queries, reps),
        ),
    ]
    average_nodes = sum(len(planned[q][2]) for q in queries) / len(queries)
    average_ranges = sum(len(plans[q]) for q in queries) / len(queries)
    table = [[name, f"{value:.1f}", f"{value / whole:.0%}"] for name, value in rows]
    table.append(
        [
            f"  (ranges per proof {average_ranges:.1f}, nodes read per proof {average_nodes:.1f}, "
            f"statements per proof {len(statements) / len(queries):.1f})",
            "",
            "",
        ]
    )
    return table


def main(argv: list[str] | None = None) -> int:
    """Print the per-step tables and the pyinstrument tree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path, help="a ledger file (bench/generate.py)")
    parser.add_argument("--queries", type=int, default=100, help="random proofs (default 100)")
    parser.add_argument("--reps", type=int, default=7, help="loops per step, fastest kept")
    parser.add_argument("--seed", type=int, default=1, help="random seed (as bench_proofs)")
    parser.add_argument("--pyinstrument-out", help="write the pyinstrument tree (text) here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with ledger.Ledger.open(args.ledger, readonly=True) as book:
        size = book.size
        indices = [rng.randrange(size) for _ in range(args.queries)]
        olds = [rng.randrange(1, size + 1) for _ in range(args.queries)]
        headers = ["step (CPU us per proof, fastest of reps)", "us", "share"]
        print(f"{args.ledger}: {size:,} entries, {args.queries} queries")
        print(benchlib.table(headers, steps(book, "inclusion", indices, args.reps)))
        print(benchlib.table(headers, steps(book, "consistency", olds, args.reps)))
        try:
            from pyinstrument import Profiler  # noqa: PLC0415 - optional
        except ImportError:
            print("(pyinstrument not installed: no call tree)")
            return 0
        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(20):
            for index, old in zip(indices, olds, strict=True):
                book.prove_inclusion(index)
                book.prove_consistency(old)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False)
        if args.pyinstrument_out:
            Path(args.pyinstrument_out).write_text(text, encoding="utf-8")
        print(text[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
