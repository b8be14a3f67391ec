"""Run the whole benchmark suite at the chosen sizes.

    python bench/run_all.py --sizes 1000,100000,1000000 --results bench-results

Ledgers are generated once into ``--workdir`` (``l<N>.db``; an existing one of the right size is
reused), then each benchmark runs and writes its table to stdout and its JSON into
``--results``. Verification, append, proofs and publish run once per size (one repetition at
10^6 and above, where one full verification takes minutes); memory and incremental run once
over all sizes, since their targets compare sizes. ``--only`` picks benchmarks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import benchlib

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("verify", "proofs", "append", "incremental", "memory", "publish", "profile")
BIG = 1_000_000


def run(script: str, *args: str) -> None:
    """Run one benchmark script with this interpreter, echoing the command."""
    command = [sys.executable, str(HERE / script), *args]
    print(f"\n$ python bench/{script} {' '.join(args)}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"({time.perf_counter() - start:.0f} s)", flush=True)


def ledger_for(workdir: Path, size: int, seed: str) -> Path:
    """The ledger of ``size`` entries, generated unless it is already there."""
    path = workdir / f"l{size}.db"
    if path.exists() and benchlib.upgrade_state(path):
        print(f"upgraded {path} to the library's current store schema", flush=True)
    if (
        path.exists()
        and benchlib.checkpoint_path(path, size).exists()
        and benchlib.ledger_size(path) == size
    ):
        return path
    run(
        "generate.py",
        "--entries",
        str(size),
        "--out",
        str(path),
        "--seed",
        seed,
        "--force",
        "--json",
        str(workdir / f"generate-{size}.json"),
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Generate what is missing, then run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated ledger sizes")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ledger-bench"))
    parser.add_argument("--results", type=Path, default=Path("bench-results"))
    parser.add_argument("--reps", type=int, default=5, help="repetitions below 10^6 entries")
    parser.add_argument("--seed", default="0")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"subset of {','.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    only = set(args.only.split(","))
    if unknown := only - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    ledgers = {size: ledger_for(args.workdir, size, args.seed) for size in sizes}
    res = args.results
    for size, path in ledgers.items():
        reps = str(1 if size >= BIG else args.reps)
        if "verify" in only:
            run("bench_verify.py", str(path), "--reps", reps, "--json", f"{res}/verify-{size}.json")
        # While proofs and appends cost O(N) (docs/performance.md, defects 1 and 2), fewer of
        # them at large sizes keep the suite within the hour.
        queries = "300" if size < BIG else "30"
        if "proofs" in only:
            run(
                "bench_proofs.py",
                str(path),
                "--reps",
                reps,
                "--queries",
                queries,
                "--json",
                f"{res}/proofs-{size}.json",
            )
        if "append" in only:
            sweep = ["--sweep", "250,1000,4000,16000"] if size == sizes[0] else []
            run(
                "bench_append.py",
                str(path),
                *sweep,
                "--batch",
                "1000" if size < 100_000 else "100",
                "--single",
                "50" if size < 100_000 else "10",
                "--reps",
                reps if size < BIG else "3",
                "--seed",
                args.seed,
                "--json",
                f"{res}/append-{size}.json",
            )
        if "publish" in only:
            quick = ["--quick"] if size >= BIG else []
            run(
                "bench_publish.py",
                str(path),
                *quick,
                "--seed",
                args.seed,
                "--json",
                f"{res}/publish-{size}.json",
            )
    paths = [str(p) for p in ledgers.values()]
    if "incremental" in only:
        run(
            "bench_incremental.py", *paths, "--seed", args.seed, "--json", f"{res}/incremental.json"
        )
    if "memory" in only:
        run("bench_memory.py", *paths, "--json", f"{res}/memory.json")
    if "profile" in only:
        profiled = max((p for s, p in ledgers.items() if s <= 100_000), default=None)
        if profiled is not None:
            run(
                "profile_verify.py",
                str(profiled),
                "--pyinstrument-out",
                f"{res}/pyinstrument.txt",
                "--json",
                f"{res}/profile.json",
            )
            run("probe_lean_verify.py", str(profiled), "--json", f"{res}/lean.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
