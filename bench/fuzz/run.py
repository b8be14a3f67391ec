"""Run the atheris fuzz targets with fixed limits and report what they did.

Usage::

    python bench/fuzz/run.py --target NAME --seconds N      # one target (repeat --target)
    python bench/fuzz/run.py --all --seconds N [--jobs 2]   # every target, J at a time
    python bench/fuzz/run.py --list                         # the targets and their decoders

Each target runs ``harness.py`` under libFuzzer with ``-max_total_time=N``,
``-rss_limit_mb=2048`` (memory blow-up), ``-timeout=10`` (seconds per input: a hang) and
``-print_final_stats=1``. The seed corpus ``corpus/<target>/`` (``make_corpus.py``; made if
missing) is read only; new inputs go to ``<workdir>/corpus/<target>/``, which later runs reuse.

Findings do not stop a run: the harness records each distinct exception once in
``<workdir>/crashes/<target>/`` (input and traceback) and goes on. A timeout or out-of-memory
ends libFuzzer; its input is kept in the same directory and the target is restarted for the
time left. The report gives, per target: executions, executions/s, coverage (libFuzzer's
``cov``: instrumented Python branches reached; ``ft``: features), corpus size, peak RSS, and
the crashes. ``--json PATH`` also writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_targets  # noqa: E402 - after the path to this folder is added
from make_corpus import write_corpus  # noqa: E402 - likewise

RSS_LIMIT_MB = 2048
TIMEOUT_S = 10
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second")


@dataclass
class Result:
    """What one target's runs did, summed over restarts."""

    target: str
    seconds: float = 0.0
    executions: int = 0
    coverage: int = 0
    features: int = 0
    corpus: int = 0
    peak_rss_mb: int = 0
    restarts: int = 0
    crashes: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # timeouts, OOMs, other libFuzzer stops

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


def _parse(log: str, result: Result) -> int:
    """Fold one libFuzzer run's output into ``result``; return its executions."""
    runs = 0
    for line in log.splitlines():
        if m := _STATUS.match(line):
            runs = max(runs, int(m.group(1)))
            result.coverage = max(result.coverage, int(m.group(2)))
            result.features = max(result.features, int(m.group(3)))
            result.corpus = max(result.corpus, int(m.group(4)))
        elif m := _STAT.match(line):
            if m.group(1) == "number_of_executed_units":
                runs = max(runs, int(m.group(2)))
            elif m.group(1) == "peak_rss_mb":
                result.peak_rss_mb = max(result.peak_rss_mb, int(m.group(2)))
        elif m := _DONE.match(line):
            runs = max(runs, int(m.group(1)))
    return runs


def _stop_reason(log: str) -> str:
    for pattern in (
        "ALARM: working on the last Unit",
        "out-of-memory",
        "==ERROR",
        "Traceback",
    ):
        for line in log.splitlines():
            if pattern in line:
                return line.strip()[:200]
    return log.strip().splitlines()[-1][:200] if log.strip() else "no output"


def run_target(target: str, seconds: float, workdir: Path, *, keep_going: bool = True) -> Result:
    """Fuzz ``target`` for ``seconds`` in total (restarting after a timeout or OOM)."""
    seeds = HERE / "corpus" / target
    if not seeds.is_dir():
        write_corpus(HERE / "corpus", [target])
    corpus = workdir / "corpus" / target
    crashes = workdir / "crashes" / target
    logs = workdir / "logs"
    for directory in (corpus, crashes, logs):
        directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if keep_going:
        env["FUZZ_KEEP_GOING"] = str(crashes)
    result = Result(target)
    started = time.monotonic()
    log_path = logs / f"{target}.log"
    log_path.write_text("")
    while (left := seconds - (time.monotonic() - started)) >= 5:
        command = [
            sys.executable,
            str(HERE / "harness.py"),
            target,
            str(corpus),
            str(seeds),
            f"-max_total_time={int(left)}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-timeout={TIMEOUT_S}",
            f"-artifact_prefix={crashes}/",
            "-print_final_stats=1",
        ]
        began = time.monotonic()
        done = subprocess.run(  # noqa: PLW1510 - the exit code is examined below
            command, env=env, capture_output=True, text=True, errors="replace"
        )
        output = done.stdout + done.stderr
        with log_path.open("a") as log:
            log.write(f"$ {' '.join(command)}\n{output}\n[exit {done.returncode}]\n")
        result.seconds += time.monotonic() - began
        result.executions += _parse(output, result)
        if done.returncode == 0:
            break
        result.stops.append(_stop_reason(output))
        result.restarts += 1
        if not keep_going or result.restarts >= 20:
            break
    result.crashes = sorted(
        p.read_text().splitlines()[0].removeprefix("signature: ")
        for p in crashes.glob("crash-*.txt")
    )
    result.crashes += sorted(
        p.name
        for p in crashes.iterdir()
        if p.name.startswith(("timeout-", "oom-", "crash-"))
        and not p.name.endswith(".txt")
        and not (crashes / f"{p.name}.txt").exists()
    )
    return result


def report(results: list[Result]) -> str:
    """The results as a Markdown table and a list of the crashes."""
    lines = [
        "| target | seconds | executions | exec/s | cov | ft | corpus | peak RSS MB | crashes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.seconds:.0f} | {r.executions:,} | {r.per_second:,.0f} | "
            f"{r.coverage} | {r.features} | {r.corpus} | {r.peak_rss_mb} | {len(r.crashes)} |"
        )
    for r in results:
        for crash in r.crashes:
            lines.append(f"- {r.target}: {crash}")
        for stop in r.stops:
            lines.append(f"- {r.target}: libFuzzer stopped: {stop}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--target", action="append", choices=list(fuzz_targets.TARGETS))
    chosen.add_argument("--all", action="store_true")
    chosen.add_argument("--list", action="store_true")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--jobs", type=int, default=1, help="targets run at the same time")
    parser.add_argument("--workdir", type=Path, default=HERE / "work")
    parser.add_argument("--stop-on-crash", action="store_true", help="libFuzzer's default")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.list:
        for target, names in fuzz_targets.TARGETS.items():
            functions = "; ".join(fuzz_targets.DECODER_BY_NAME[n].function for n in names)
            print(f"{target:15} {functions}")
        return 0
    targets = list(fuzz_targets.TARGETS) if args.all else args.target
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(
                run_target,
                t,
                args.seconds,
                args.workdir,
                keep_going=not args.stop_on_crash,
            )
            for t in targets
        ]
        results = []
        for future in futures:
            result = future.result()
            results.append(result)
            print(report([result]).splitlines()[2], flush=True)
    print(report(results))
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) | {"exec_per_s": r.per_second} for r in results], indent=2) + "\n"
        )
    return 1 if any(r.crashes or r.stops for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
