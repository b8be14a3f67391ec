"""Full verification throughput against a bare loop of Ed25519 verifications, in the same run.

    python bench/bench_verify.py /tmp/ledger-bench/l1000.db /tmp/ledger-bench/l100000.db --reps 5
    python bench/bench_verify.py /tmp/ledger-bench/l1000000.db --reps 1 --json verify-1m.json

For each ledger, every repetition measures, back to back:

* a bare loop of Ed25519 verifications of the same signatures with each backend installed:
  OpenSSL through ``cryptography`` and libsodium through PyNaCl (the ``(public key,
  Sig_structure, signature)`` triples are extracted from the ledger beforehand, ``--sample`` of
  them spread over it: the per-signature cost does not depend on N);
* ``ledger.check_ledger_file`` (what ``ledger verify`` runs, less printing the report) over
  the whole ledger with one job, once with each backend (``ledger.use_ed25519_backend``);
* the same with ``--jobs`` worker processes (default 2) and the fastest backend.

Ratios are paired per repetition; the figure is the median. Targets: one job >= 0.85 x the
fastest bare loop (entries per second over verifications per second); ``--jobs 2`` >= 1.7 x
one job. Wall time is what the target is about, but on a shared machine it measures the other
load as much as ours (a parallel run gets no more CPU if the machine is busy), so the CPU time
is given too: one job's CPU time over the parallel run's critical path, max(main process,
(main + workers) / 2 cores), is the speed-up 2 idle cores would give.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import benchlib
import ledger
from ledger.cose import _sig_structure_sign1
from ledger.store import open_store

Triple = tuple[bytes, bytes, bytes]  # public key, message (Sig_structure), signature
LIMIT = 0.85
JOBS_LIMIT = 1.7


def extract_triples(path: Path, count: int) -> list[Triple]:
    """``count`` (key, message, signature) triples spread evenly over the ledger's entries."""
    triples: list[Triple] = []
    store = open_store(path, readonly=True)
    try:
        for position in benchlib.sample_positions(store.size(), count):
            entry = ledger.decode_entry(store.entry(position))
            assert isinstance(entry.body, bytes)
            signed = ledger.decode_endorsement(entry.body)
            message = _sig_structure_sign1(signed.protected, signed.payload)
            triples.append((signed.endorsement.public_key, message, signed.signature))
    finally:
        store.close()
    return triples


def loop_cryptography(triples: Sequence[Triple]) -> None:
    """The bare loop with OpenSSL (``cryptography``): load each key, verify."""
    load = Ed25519PublicKey.from_public_bytes
    for key, message, signature in triples:
        load(key).verify(signature, message)


def backends() -> dict[str, Callable[[Sequence[Triple]], None]]:
    """The bare loops available here, by name."""
    found: dict[str, Callable[[Sequence[Triple]], None]] = {"cryptography": loop_cryptography}
    try:
        from nacl.bindings import crypto_sign_open  # noqa: PLC0415
        from nacl.signing import VerifyKey  # noqa: PLC0415
    except ImportError:
        return found

    def loop_pynacl(triples: Sequence[Triple]) -> None:
        for key, message, signature in triples:
            crypto_sign_open(signature + message, key)

    def loop_pynacl_verifykey(triples: Sequence[Triple]) -> None:
        for key, message, signature in triples:
            VerifyKey(key).verify(message, signature)

    found["pynacl"] = loop_pynacl
    found["pynacl-VerifyKey"] = loop_pynacl_verifykey
    return found


def warm_up(path: Path) -> None:
    """One-time costs (imports, the confusables table) are not per entry: pay them first."""
    store = open_store(path, readonly=True)
    try:
        ledger.check_entries(store.iter_entries(0, min(200, store.size())))
    finally:
        store.close()


def timed_check(path: Path, jobs: int, backend: str) -> dict[str, float]:
    """One full check: wall seconds, CPU seconds of this process and of the workers."""
    ledger.use_ed25519_backend(backend)
    before = os.times()
    start = time.perf_counter()
    report = ledger.check_ledger_file(path, jobs=jobs)
    wall = time.perf_counter() - start
    after = os.times()
    if not report.ok:
        raise SystemExit(f"{path} does not verify: {[str(p) for p in report.problems[:3]]}")
    return {
        "wall_s": wall,
        "main_cpu_s": after.user - before.user + after.system - before.system,
        "workers_cpu_s": after.children_user
        - before.children_user
        + after.children_system
        - before.children_system,
    }


def bench_one(path: Path, reps: int, sample: int, jobs: int) -> dict[str, Any]:
    """All measurements of one ledger."""
    size = benchlib.ledger_size(path)
    triples = extract_triples(path, sample)
    loops = backends()
    for loop in loops.values():  # warm up, and check the triples verify everywhere
        loop(triples[:50])
    names = [n for n in ("pynacl", "cryptography") if n in loops]
    library = {"pynacl": "libsodium", "cryptography": "openssl"}
    bare: dict[str, list[float]] = {name: [] for name in loops}
    one: dict[str, list[float]] = {name: [] for name in names}
    one_cpu: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    vs_fastest: list[float] = []
    speedups: list[float] = []
    cpu_speedups: list[float] = []
    parallel_runs: list[dict[str, float]] = []
    warm_up(path)
    for _ in range(reps):
        for name, loop in loops.items():
            bare[name].append(benchlib.timed(functools.partial(loop, triples))[0] / len(triples))
        for name in names:
            run = timed_check(path, 1, library[name])
            one[name].append(run["wall_s"] / (size - 1))
            one_cpu[name].append(run["main_cpu_s"])
            ratios[name].append(bare[name][-1] / one[name][-1])
        fastest_now = min(names, key=lambda n: bare[n][-1])
        best_one = min(names, key=lambda n: one[n][-1])
        vs_fastest.append(bare[fastest_now][-1] / one[best_one][-1])
        run = timed_check(path, jobs, library[best_one])
        parallel_runs.append(run)
        speedups.append(one[best_one][-1] * (size - 1) / run["wall_s"])
        critical = max(run["main_cpu_s"], (run["main_cpu_s"] + run["workers_cpu_s"]) / 2)
        cpu_speedups.append(one_cpu[best_one][-1] / critical)
    fastest = min(names, key=lambda n: benchlib.median(bare[n]))
    result: dict[str, Any] = {
        "ledger": str(path),
        "entries": size,
        "reps": reps,
        "sample": len(triples),
        "bare_us_per_signature": {n: benchlib.median(v) * 1e6 for n, v in bare.items()},
        "verify_us_per_entry": {n: benchlib.median(v) * 1e6 for n, v in one.items()},
        "ratio_own_backend": {n: benchlib.median(v) for n, v in ratios.items()},
        "fastest_backend": fastest,
        "ratio_vs_fastest": benchlib.median(vs_fastest),
        "limit": LIMIT,
        "jobs": jobs,
        "jobs_wall_speedup": benchlib.median(speedups),
        "jobs_cpu_speedup": benchlib.median(cpu_speedups),
        "jobs_limit": JOBS_LIMIT,
        "parallel_runs": parallel_runs,
        "load_average": os.getloadavg()[0],
    }
    result["status"] = benchlib.ratio_status(result["ratio_vs_fastest"], LIMIT)
    result["jobs_status"] = benchlib.ratio_status(result["jobs_wall_speedup"], JOBS_LIMIT)
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--sample", type=int, default=20_000, help="signatures in the bare loop")
    parser.add_argument("--jobs", type=int, default=2, help="jobs of the parallel run (2)")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = [bench_one(p, args.reps, args.sample, args.jobs) for p in args.ledgers]
    names = list(results[0]["verify_us_per_entry"])
    bare_names = list(results[0]["bare_us_per_signature"])
    headers = ["entries", *[f"verify {n} us/entry" for n in names]]
    headers += [f"bare {n} us" for n in bare_names]
    headers += [f"ratio {n} (own)" for n in names]
    headers += [f"vs fastest bare (>= {LIMIT})", "status", "load"]
    rows = [
        [
            f"{r['entries']:,}",
            *[f"{r['verify_us_per_entry'][n]:.1f}" for n in names],
            *[f"{r['bare_us_per_signature'][n]:.1f}" for n in bare_names],
            *[f"{r['ratio_own_backend'][n]:.3f}" for n in names],
            f"{r['ratio_vs_fastest']:.3f} ({r['fastest_backend']})",
            r["status"],
            f"{r['load_average']:.1f}",
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    print()
    headers = ["entries", "jobs", f"wall speed-up (>= {JOBS_LIMIT})", "CPU critical-path speed-up"]
    headers += ["main CPU s", "workers CPU s", "status"]
    rows = [
        [
            f"{r['entries']:,}",
            r["jobs"],
            f"{r['jobs_wall_speedup']:.2f}x",
            f"{r['jobs_cpu_speedup']:.2f}x",
            f"{benchlib.median([p['main_cpu_s'] for p in r['parallel_runs']]):.2f}",
            f"{benchlib.median([p['workers_cpu_s'] for p in r['parallel_runs']]):.2f}",
            r["jobs_status"],
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "verify", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
