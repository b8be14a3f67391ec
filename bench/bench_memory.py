"""Peak memory (max RSS) of verifying ledgers of growing size, each in a fresh subprocess.

    python bench/bench_memory.py /tmp/bench/l1k.db /tmp/bench/l100k.db /tmp/bench/l1m.db

Each measurement is a new Python process whose ``ru_maxrss`` is read with ``os.wait4`` (the
rusage of that child alone):

* ``baseline``: the interpreter with ``ledger`` imported and the ledger opened (the floor);
* ``library``: ``ledger.check_ledger_file(LEDGER)``, the report kept until the end;
* ``cli``: ``ledger verify LEDGER`` with the text report written to /dev/null;
* ``cli --json``: ``ledger verify --json LEDGER`` to /dev/null.

Targets: < 200 MB at 10^6 entries, and flat in N (here: the largest ledger's peak within
1.25 x the smallest's). ``--breakdown`` also runs the library check under ``tracemalloc`` on
the smallest... largest ledger given and prints the lines holding the most memory at the end
(slow: tracemalloc costs 2-3 x).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchlib

LIMIT_MB = 200.0
FLAT_FACTOR = 1.25

_BASELINE = """
import sys, ledger
with ledger.Ledger.open(sys.argv[1], readonly=True) as book:
    book.size
"""
_LIBRARY = """
import sys, ledger
report = ledger.check_ledger_file(sys.argv[1])
assert report.ok, report.problems[:3]
"""
_BREAKDOWN = """
import sys, tracemalloc, ledger
tracemalloc.start(1)
report = ledger.check_ledger_file(sys.argv[1])
current, peak = tracemalloc.get_traced_memory()
snapshot = tracemalloc.take_snapshot()
print(f"traced at the end {current / 1e6:.1f} MB, traced peak {peak / 1e6:.1f} MB")
for stat in snapshot.statistics("lineno")[:12]:
    frame = stat.traceback[0]
    name = frame.filename.split("site-packages/")[-1].split("src/")[-1]
    print(f"{stat.size / 1e6:8.1f} MB {stat.count:>9,} blocks  {name}:{frame.lineno}")
"""


def run(command: list[str]) -> tuple[float, float, list[tuple[float, float]]]:
    """Run a child: its peak RSS in MB, its wall time in seconds, and (seconds, RSS MB)
    samples taken every 0.2 s from /proc (to tell steady growth from a final spike)."""
    start = time.perf_counter()
    samples: list[tuple[float, float]] = []
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen(command, stdout=sink)
        status_file = Path(f"/proc/{child.pid}/status")
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid != 0:
                break
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        samples.append((time.perf_counter() - start, int(line.split()[1]) / 1024))
            except OSError:
                pass
            time.sleep(0.2)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{command} exited with {code}")
    return usage.ru_maxrss / 1024, seconds, samples  # Linux: KiB


def quartiles(samples: list[tuple[float, float]]) -> list[float]:
    """RSS (MB) at 25, 50, 75 and 100 % of the run."""
    if not samples:
        return []
    return [samples[min(len(samples) - 1, int(len(samples) * q))][1] for q in (0.25, 0.5, 0.75)] + [
        samples[-1][1]
    ]


def cli_command() -> list[str]:
    """``ledger`` of the running interpreter's environment."""
    script = Path(sys.executable).with_name("ledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def bench_one(path: Path) -> dict[str, Any]:
    """The three measurements of one ledger."""
    size = benchlib.ledger_size(path)
    base, _, _ = run([sys.executable, "-c", _BASELINE, str(path)])
    library, library_s, library_samples = run([sys.executable, "-c", _LIBRARY, str(path)])
    cli, cli_s, cli_samples = run([*cli_command(), "verify", str(path)])
    cli_json, cli_json_s, _ = run([*cli_command(), "verify", "--json", str(path)])
    return {
        "ledger": str(path),
        "entries": size,
        "baseline_mb": base,
        "library_mb": library,
        "cli_mb": cli,
        "cli_json_mb": cli_json,
        "cli_json_s": cli_json_s,
        "library_s": library_s,
        "cli_s": cli_s,
        "library_bytes_per_entry": (library - base) * 2**20 / size,
        "cli_bytes_per_entry": (cli - base) * 2**20 / size,
        "library_rss_quartiles_mb": quartiles(library_samples),
        "cli_rss_quartiles_mb": quartiles(cli_samples),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--breakdown", action="store_true", help="tracemalloc top lines")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results = [bench_one(p) for p in args.ledgers]
    smallest = min(results, key=lambda r: r["entries"])
    largest = max(results, key=lambda r: r["entries"])
    kinds = ("library", "cli", "cli_json")
    growth = {kind: largest[f"{kind}_mb"] / smallest[f"{kind}_mb"] for kind in kinds}
    headers = [
        "entries",
        "baseline MB",
        "library peak MB",
        "cli peak MB",
        "cli --json peak MB",
        "growth bytes/entry (lib / cli)",
        "library RSS at 25/50/75/100 % of the run",
        "library s",
        "cli s",
        f"status (< {LIMIT_MB:g} MB)",
    ]
    rows = [
        [
            f"{r['entries']:,}",
            f"{r['baseline_mb']:.1f}",
            f"{r['library_mb']:.1f}",
            f"{r['cli_mb']:.1f}",
            f"{r['cli_json_mb']:.1f}",
            f"{r['library_bytes_per_entry']:.0f} / {r['cli_bytes_per_entry']:.0f}",
            " / ".join(f"{mb:.0f}" for mb in r["library_rss_quartiles_mb"]),
            f"{r['library_s']:.1f}",
            f"{r['cli_s']:.1f}",
            benchlib.ratio_status(
                max(r["library_mb"], r["cli_mb"], r["cli_json_mb"]), LIMIT_MB, at_least=False
            ),
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    flat = all(g <= FLAT_FACTOR for g in growth.values())
    print(
        f"\nflat in N (peak at {largest['entries']:,} within {FLAT_FACTOR} x the peak at "
        f"{smallest['entries']:,}): library {growth['library']:.2f} x, cli {growth['cli']:.2f} x, "
        f"cli --json {growth['cli_json']:.2f} x"
        f" -> {'met' if flat else 'NOT met'}"
    )
    if args.breakdown:
        print(f"\ntracemalloc, library check of {largest['ledger']}:")
        sys.stdout.flush()
        subprocess.run([sys.executable, "-c", _BREAKDOWN, largest["ledger"]], check=True)
    benchlib.write_json(args.json, "memory", {"ledgers": results, "growth": growth, "flat": flat})
    return 0


if __name__ == "__main__":
    sys.exit(main())
