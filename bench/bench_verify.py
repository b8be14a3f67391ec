"""Full verification throughput against a bare loop of Ed25519 verifications, in the same run.

    python bench/bench_verify.py /tmp/bench/l1k.db /tmp/bench/l100k.db --reps 5
    python bench/bench_verify.py /tmp/bench/l1m.db --reps 1 --json bench-verify-1m.json

For each ledger, every repetition times ``ledger.check_ledger_file`` (what ``ledger verify``
runs, less printing the report) over the whole ledger, and, just before it, a bare loop of
Ed25519 verifications of the same signatures (the ``(public key, Sig_structure, signature)``
triples are extracted from the ledger beforehand, evenly spread over it; ``--sample`` of them:
the per-signature cost does not depend on N). Each backend installed is measured: OpenSSL
through ``cryptography`` (what the library uses) and libsodium through PyNaCl. The ratio is the
verifier's entries per second over the bare loop's verifications per second, paired per
repetition; the figure is the median. Target: >= 0.85 x the fastest backend, on one core.

Probes for a parallel (``--jobs``) design, on the first ``--probe-entries`` entries:

* threads: the bare loop split over 2 threads (OpenSSL and libsodium release the GIL);
* processes: the stateless per-entry work (hash, decode, signature checks) split over 2
  processes, each reading its own range from the file, against the same work in one process;
  and, just before, the full check of the same entries, so that the share of the stateless
  work is measured under the same load. Amdahl's law then gives the speed-up a design that
  parallelises exactly that work can reach (before the cost of sending results back).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import sys
import threading
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


def threaded(loop: Callable[[Sequence[Triple]], None], triples: Sequence[Triple]) -> float:
    """Seconds for the loop over ``triples`` split across 2 threads."""
    parts = list(benchlib.iter_chunks(triples, 2))
    workers = [threading.Thread(target=loop, args=(part,)) for part in parts]

    def run() -> None:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    return benchlib.timed(run)[0]


def stateless_work(spec: tuple[str, int, int]) -> int:
    """What a worker of a parallel verifier could do alone: hash, decode, check signatures."""
    location, start, end = spec
    store = open_store(Path(location), readonly=True)
    count = 0
    try:
        for _, raw in store.iter_entries(start, end):
            ledger.hash_leaf(raw)
            entry = ledger.decode_entry(raw)
            if isinstance(entry.body, bytes):
                ledger.verify_endorsement(ledger.decode_endorsement(entry.body))
            count += 1
    finally:
        store.close()
    return count


def full_work(location: str, end: int) -> None:
    """The whole sequential check of entries [0, end), read from the file (the reference)."""
    store = open_store(Path(location), readonly=True)
    try:
        ledger.check_entries(store.iter_entries(0, end))
    finally:
        store.close()


def process_probe(path: Path, entries: int, jobs: int) -> dict[str, float]:
    """Over the first ``entries`` entries: the full check, the stateless work in 1 process,
    and the stateless work split over ``jobs`` processes, measured back to back."""
    end = min(entries + 1, benchlib.ledger_size(path))
    step = -(-(end - 1) // (jobs * 4))
    specs = [(str(path), low, min(low + step, end)) for low in range(1, end, step)]
    full_work(str(path), 2)  # one-time costs (the confusables table) are not per entry
    full, _ = benchlib.timed(lambda: full_work(str(path), end))
    serial, _ = benchlib.timed(lambda: [stateless_work(spec) for spec in specs])
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pool.map(stateless_work, [(str(path), 1, 2)] * jobs)  # start the workers first
        parallel, _ = benchlib.timed(lambda: pool.map(stateless_work, specs, chunksize=1))
    return {
        "full_s": full,
        "serial_s": serial,
        "parallel_s": parallel,
        "speedup": serial / parallel,
        "share": min(1.0, serial / full),
    }


def bench_one(path: Path, reps: int, sample: int, probe_entries: int) -> dict[str, Any]:
    """All measurements of one ledger."""
    size = benchlib.ledger_size(path)
    triples = extract_triples(path, sample)
    loops = backends()
    for loop in loops.values():  # warm up, and check the triples verify everywhere
        loop(triples[:50])
    bare: dict[str, list[float]] = {name: [] for name in loops}
    verify: list[float] = []
    ratios: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(reps):
        for name, loop in loops.items():
            per_sig = benchlib.timed(functools.partial(loop, triples))[0] / len(triples)
            bare[name].append(per_sig)
        seconds, report = benchlib.timed(lambda: ledger.check_ledger_file(path))
        assert isinstance(report, ledger.Report)
        if not report.ok:
            raise SystemExit(f"{path} does not verify: {report.problems[:3]}")
        per_entry = seconds / (size - 1)  # entries with a signature
        verify.append(per_entry)
        for name in loops:
            ratios[name].append(bare[name][-1] / per_entry)
    fastest = min(loops, key=lambda name: benchlib.median(bare[name]))
    result: dict[str, Any] = {
        "ledger": str(path),
        "entries": size,
        "reps": reps,
        "sample": len(triples),
        "verify_us_per_entry": benchlib.median(verify) * 1e6,
        "verify_total_s": benchlib.median(verify) * (size - 1),
        "bare_us_per_signature": {n: benchlib.median(v) * 1e6 for n, v in bare.items()},
        "ratio": {n: benchlib.median(v) for n, v in ratios.items()},
        "fastest_backend": fastest,
        "ratio_vs_fastest": benchlib.median(ratios[fastest]),
        "limit": LIMIT,
    }
    result["status"] = benchlib.ratio_status(result["ratio_vs_fastest"], LIMIT)
    if probe_entries > 0:
        probe = triples[: min(len(triples), probe_entries)]
        result["threads_2_speedup"] = {}
        for name, loop in loops.items():
            one = benchlib.median(benchlib.repeat(functools.partial(loop, probe), 3))
            two = benchlib.median([threaded(loop, probe) for _ in range(3)])
            result["threads_2_speedup"][name] = one / two
        stateless = process_probe(path, probe_entries, 2)
        share = stateless["share"]
        result["processes_2"] = stateless
        result["stateless_share"] = share
        result["amdahl_2_jobs"] = 1 / ((1 - share) + share / stateless["speedup"])
        result["jobs_limit"] = JOBS_LIMIT
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--sample", type=int, default=20_000, help="signatures in the bare loop")
    parser.add_argument(
        "--probe-entries",
        type=int,
        default=20_000,
        help="entries for the parallel probes (0: skip them)",
    )
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = [bench_one(p, args.reps, args.sample, args.probe_entries) for p in args.ledgers]
    names = list(results[0]["bare_us_per_signature"])
    headers = ["entries", "verify us/entry", *[f"bare {n} us" for n in names]]
    headers += [f"ratio vs {n}" for n in names] + [f"vs fastest (>= {LIMIT})", "status"]
    rows = [
        [
            f"{r['entries']:,}",
            f"{r['verify_us_per_entry']:.1f}",
            *[f"{r['bare_us_per_signature'][n]:.1f}" for n in names],
            *[f"{r['ratio'][n]:.3f}" for n in names],
            f"{r['ratio_vs_fastest']:.3f} ({r['fastest_backend']})",
            r["status"],
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    probed = [r for r in results if "processes_2" in r]
    if probed:
        print()
        headers = ["entries", *[f"2 threads {n}" for n in names]]
        headers += ["2 procs stateless", "stateless share", f"Amdahl 2 jobs (>= {JOBS_LIMIT})"]
        rows = [
            [
                f"{r['entries']:,}",
                *[f"{r['threads_2_speedup'][n]:.2f}x" for n in names],
                f"{r['processes_2']['speedup']:.2f}x",
                f"{r['stateless_share']:.0%}",
                f"{r['amdahl_2_jobs']:.2f}x",
            ]
            for r in probed
        ]
        print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "verify", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
