"""Atheris harness for one fuzz target: ``python bench/fuzz/harness.py TARGET [libFuzzer args]``.

The targets are in ``fuzz_targets.TARGETS``; ``run.py`` is the runner that picks the corpus
directories and limits. An input fails when its decoder lets anything but a ``LedgerError``
escape, or breaks the round-trip property (``AssertionError``); hangs and memory blow-ups are
caught by libFuzzer's ``-timeout`` and ``-rss_limit_mb``.

With ``FUZZ_KEEP_GOING=<dir>`` an exception does not stop the run: each distinct one (by
exception type and raising line) is written once to ``<dir>`` as ``crash-<id>`` (the input) and
``crash-<id>.txt`` (the traceback), and fuzzing goes on, so one shallow bug cannot hide others
in a ten-minute run. Timeouts and out-of-memory still end the run (the runner restarts it).

Without atheris (not installable on the machine) the same API runs a plain random-mutation loop
over the corpus (``fallback_fuzz``): no coverage feedback, same output format and limits except
the per-input timeout, which is only reported.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

try:
    import atheris
except ImportError:  # pragma: no cover - depends on the machine
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["ledger"]):
        import fuzz_targets
else:  # pragma: no cover
    import fuzz_targets

_seen: set[str] = set()


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/ledger/" in f.filename]
    last = frames[-1] if frames else None
    where = [f"{Path(f.filename).name}:{f.lineno}" for f in [*ours[-1:], last] if f is not None]
    return f"{type(exc).__name__} at {' / '.join(where)}"


def _record(directory: Path, data: bytes, exc: BaseException) -> None:
    signature = _signature(exc)
    if signature in _seen:
        return
    _seen.add(signature)
    ident = hashlib.sha1(signature.encode()).hexdigest()[:12]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"crash-{ident}").write_bytes(data)
    text = "".join(traceback.format_exception(exc))
    (directory / f"crash-{ident}.txt").write_text(
        f"signature: {signature}\ninput (hex): {data.hex()}\n\n{text}"
    )
    print(f"\n==== NEW CRASH {ident}: {signature}\n{text}", file=sys.stderr, flush=True)


def make_test_one_input(target: str) -> Callable[[bytes], None]:
    """The libFuzzer entry point for ``target`` (see the module docstring for keep-going)."""
    run = fuzz_targets.target_runner(target)
    keep_going = os.environ.get("FUZZ_KEEP_GOING")
    if not keep_going:
        return run
    directory = Path(keep_going)

    def test_one_input(data: bytes) -> None:
        try:
            run(data)
        except Exception as exc:  # noqa: BLE001 - every escape is a finding, recorded
            _record(directory, data, exc)

    return test_one_input


def _mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        position = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            out[min(position, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[position:position] = bytes([rng.randrange(256)])
        elif choice == 2 and out:
            del out[position : position + rng.randint(1, 8)]
        elif choice == 3:
            del out[position:]
        elif choice == 4:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            out = out[:position] + other[cut:]
        elif out:
            out[min(position, len(out) - 1)] = rng.choice((0, 0x7F, 0x80, 0xFF, 0x0A, 0x20))
    return bytes(out)


def fallback_fuzz(target: str, argv: list[str]) -> int:  # pragma: no cover - no atheris only
    """A random-mutation loop with libFuzzer's flags and summary lines (no coverage)."""
    options = dict(a[1:].split("=", 1) for a in argv if a.startswith("-") and "=" in a)
    dirs = [Path(a) for a in argv if not a.startswith("-")]
    seconds = float(options.get("max_total_time", 60))
    rss_limit = int(options.get("rss_limit_mb", 2048))
    corpus = [p.read_bytes() for d in dirs if d.is_dir() for p in sorted(d.iterdir())]
    corpus = corpus or fuzz_targets.target_seeds(target)
    test = make_test_one_input(target)
    rng = random.Random(int(options.get("seed", 0)) or None)
    start = time.monotonic()
    runs = 0
    slowest = 0.0
    while time.monotonic() - start < seconds:
        data = _mutate(rng, rng.choice(corpus), corpus)
        began = time.monotonic()
        try:
            test(data)
        except Exception:  # noqa: BLE001 - libFuzzer's behaviour: report and stop
            path = Path(options.get("artifact_prefix", "./")) / "crash-fallback"
            path.write_bytes(data)
            traceback.print_exc()
            print(
                f"==ERROR: uncaught exception; test unit written to {path}",
                file=sys.stderr,
            )
            return 1
        slowest = max(slowest, time.monotonic() - began)
        runs += 1
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        if rss > rss_limit:
            print(f"==ERROR: out-of-memory (used: {rss}Mb)", file=sys.stderr)
            return 1
    elapsed = max(time.monotonic() - start, 1e-9)
    print(
        f"#{runs}\tDONE   cov: 0 ft: 0 corp: {len(corpus)}/0b exec/s: {int(runs / elapsed)} "
        f"rss: {rss}Mb (fallback, no coverage; slowest input {slowest:.2f}s)",
        file=sys.stderr,
    )
    print(f"stat::peak_rss_mb: {rss}", file=sys.stderr)
    print(f"Done {runs} runs in {int(elapsed)} second(s)", file=sys.stderr)
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in fuzz_targets.TARGETS:
        names = ", ".join(fuzz_targets.TARGETS)
        print(f"usage: harness.py TARGET [libFuzzer args]; targets: {names}")
        return 2
    target = sys.argv[1]
    if atheris is None:  # pragma: no cover
        return fallback_fuzz(target, sys.argv[2:])
    atheris.Setup([sys.argv[0], *sys.argv[2:]], make_test_one_input(target))
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
