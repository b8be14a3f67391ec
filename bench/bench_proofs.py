"""Inclusion and consistency proofs from the ledger file, side by side with pymerkle's SQLite tree.

    python bench/bench_proofs.py /tmp/bench/l1k.db /tmp/bench/l100k.db --queries 500

For each ledger, pymerkle's ``SqliteTree`` is built from the same entry bytes (kept beside the
ledger as ``LEDGER.pymerkle.db`` and reused), its root is checked against ours (both RFC 9162),
and our inclusion proofs are checked against pymerkle's root. Then, interleaved per repetition,
``--queries`` random proofs are made by ``Ledger.prove_inclusion(i)`` and
``Ledger.prove_consistency(m)`` (the public API, on a read-only ``Ledger``, proof against the
whole ledger) and by pymerkle's ``prove_inclusion`` / ``prove_consistency``, with its subroot
cache warm (after one pass over the same queries: its best case) and cold (cache cleared before
each proof). Figures are medians per proof. Targets: ours < 1 ms each; pymerkle (warm) / ours
>= 10. Proof verification (ours, in memory) is timed too, for information.

"Fresh" proofs, for information, are inclusion proofs of leaves asked for no earlier in the
run (a new set each repetition), on both sides after the warm passes: the caches keep what
the earlier proofs share (the top of the tree), not these proofs' own nodes and pages. That
is what a server proving arbitrary entries sees, where "warm" repeats the same queries.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import benchlib
import ledger

LIMIT_SECONDS = 1e-3
LIMIT_RATIO = 10.0


def pymerkle_tree(path: Path, size: int) -> Any:
    """pymerkle's SqliteTree over the ledger's entries (built once, then reused)."""
    from pymerkle import SqliteTree  # noqa: PLC0415 - optional, for comparison only

    location = path.with_name(path.name + ".pymerkle.db")
    tree = SqliteTree(str(location))
    if tree.get_size() != size:
        tree.close()
        location.unlink()
        tree = SqliteTree(str(location))
        with ledger.Ledger.open(path, readonly=True) as book:
            tree.append_entries(raw for _, raw in book.iter_raw())
    return tree


def per_call(action: Callable[[int], object], queries: Sequence[int]) -> float:
    """Median seconds of ``action(q)`` over the queries."""
    return benchlib.median([benchlib.timed(functools.partial(action, q))[0] for q in queries])


def bench_one(path: Path, queries: int, reps: int, seed: int) -> dict[str, Any]:
    """All measurements of one ledger."""
    rng = random.Random(seed)
    book = ledger.Ledger.open(path, readonly=True)
    size = book.size
    tree = pymerkle_tree(path, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        their_root = tree.get_root(size)
    ours = ledger.merkle.root(book.store, size)
    if their_root != ours:
        raise SystemExit(f"{path}: pymerkle's root differs from ours: not the same tree")
    indices = [rng.randrange(size) for _ in range(queries)]
    olds = [rng.randrange(1, size + 1) for _ in range(queries)]
    for index in indices[:20]:
        proof = book.prove_inclusion(index)
        ledger.merkle.verify_inclusion(
            ledger.hash_leaf(book.store.entry(index)), index, size, list(proof.proof), their_root
        )
    # One pass warms pymerkle's subroot cache (its best case) and both page caches.
    for index, old in zip(indices, olds, strict=True):
        tree.prove_inclusion(index + 1, size)
        tree.prove_consistency(old, size)
        book.prove_inclusion(index)
        book.prove_consistency(old)
    rows: dict[str, list[float]] = {
        name: []
        for name in (
            "ours_inclusion",
            "ours_consistency",
            "pymerkle_inclusion",
            "pymerkle_consistency",
            "pymerkle_inclusion_cold",
            "pymerkle_consistency_cold",
            "ours_verify_inclusion",
            "ours_verify_consistency",
            "ours_inclusion_fresh",
            "pymerkle_inclusion_fresh",
        )
    }
    asked = set(indices)
    fresh = [
        i for i in rng.sample(range(size), min(size, 3 * queries * (reps + 1))) if i not in asked
    ]
    fresh_sets = [fresh[k::reps] for k in range(reps)]
    cold = indices[: max(1, queries // 10)]
    cold_olds = olds[: len(cold)]

    def cold_inclusion(index: int) -> object:
        tree.cache_clear()
        return tree.prove_inclusion(index + 1, size)

    def cold_consistency(old: int) -> object:
        tree.cache_clear()
        return tree.prove_consistency(old, size)

    inclusion_proofs = [book.prove_inclusion(i) for i in indices]
    consistency_proofs = [book.prove_consistency(m) for m in olds]
    for rep in range(reps):
        rows["ours_inclusion"].append(per_call(book.prove_inclusion, indices))
        rows["ours_consistency"].append(per_call(book.prove_consistency, olds))
        rows["pymerkle_inclusion"].append(
            per_call(lambda i: tree.prove_inclusion(i + 1, size), indices)
        )
        rows["pymerkle_consistency"].append(
            per_call(lambda m: tree.prove_consistency(m, size), olds)
        )
        rows["ours_verify_inclusion"].append(
            per_call(lambda k: inclusion_proofs[k].verify(), range(queries))
        )
        rows["ours_verify_consistency"].append(
            per_call(lambda k: consistency_proofs[k].verify(), range(queries))
        )
        ours_fresh, their_fresh = fresh_sets[rep][0::2], fresh_sets[rep][1::2]
        if ours_fresh and their_fresh:
            rows["ours_inclusion_fresh"].append(per_call(book.prove_inclusion, ours_fresh))
            rows["pymerkle_inclusion_fresh"].append(
                per_call(lambda i: tree.prove_inclusion(i + 1, size), their_fresh)
            )
    # Cold proofs recompute pymerkle's subroots from the leaves: few of them, once.
    rows["pymerkle_inclusion_cold"].append(per_call(cold_inclusion, cold))
    rows["pymerkle_consistency_cold"].append(per_call(cold_consistency, cold_olds))
    tree.close()
    book.close()
    med = {name: benchlib.median(values) for name, values in rows.items()}
    result: dict[str, Any] = {
        "ledger": str(path),
        "entries": size,
        "queries": queries,
        "reps": reps,
        "seconds": med,
        "ratio_inclusion": med["pymerkle_inclusion"] / med["ours_inclusion"],
        "ratio_consistency": med["pymerkle_consistency"] / med["ours_consistency"],
        "limit_seconds": LIMIT_SECONDS,
        "limit_ratio": LIMIT_RATIO,
    }
    result["status"] = (
        "met"
        if max(med["ours_inclusion"], med["ours_consistency"]) < LIMIT_SECONDS
        and min(result["ratio_inclusion"], result["ratio_consistency"]) >= LIMIT_RATIO
        else "NOT met"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--queries", type=int, default=300, help="random proofs per repetition")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the queries")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = [bench_one(p, args.queries, args.reps, args.seed) for p in args.ledgers]
    headers = [
        "entries",
        "ours incl",
        "ours cons",
        "pymerkle incl (warm / cold)",
        "pymerkle cons (warm / cold)",
        f"ratio incl (>= {LIMIT_RATIO:g})",
        f"ratio cons (>= {LIMIT_RATIO:g})",
        "verify incl / cons (ours)",
        "fresh incl: ours / pymerkle",
        "status",
    ]
    rows = []
    for r in results:
        s = r["seconds"]
        rows.append(
            [
                f"{r['entries']:,}",
                benchlib.human(s["ours_inclusion"]),
                benchlib.human(s["ours_consistency"]),
                f"{benchlib.human(s['pymerkle_inclusion'])} / "
                f"{benchlib.human(s['pymerkle_inclusion_cold'])}",
                f"{benchlib.human(s['pymerkle_consistency'])} / "
                f"{benchlib.human(s['pymerkle_consistency_cold'])}",
                f"{r['ratio_inclusion']:.1f}",
                f"{r['ratio_consistency']:.1f}",
                f"{benchlib.human(s['ours_verify_inclusion'])} / "
                f"{benchlib.human(s['ours_verify_consistency'])}",
                f"{benchlib.human(s['ours_inclusion_fresh'])} / "
                f"{benchlib.human(s['pymerkle_inclusion_fresh'])}",
                r["status"],
            ]
        )
    print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "proofs", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
