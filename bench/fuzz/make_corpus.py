"""Write the seed corpus: valid inputs of every fuzz target, ``corpus/<target>/seed-<hash>``.

``python bench/fuzz/make_corpus.py [--out DIR]`` (default ``bench/fuzz/corpus``). The inputs are
built deterministically from public test keys (``fuzz_targets``), so running it again writes the
same files; stale ``seed-*`` files of a target are removed. The whole seed corpus is a few tens
of KB: what fuzzing adds goes to the runner's work directory, never here.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_targets  # noqa: E402 - after the path to this folder is added


def write_corpus(out: Path, targets: list[str] | None = None) -> dict[str, int]:
    """Write the seeds of ``targets`` (all by default); return the bytes written per target."""
    sizes = {}
    for target in targets or list(fuzz_targets.TARGETS):
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("seed-*"):
            stale.unlink()
        total = 0
        for data in fuzz_targets.target_seeds(target):
            name = "seed-" + hashlib.sha256(data).hexdigest()[:16]
            (directory / name).write_bytes(data)
            total += len(data)
        sizes[target] = total
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "corpus")
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="default: all")
    args = parser.parse_args()
    unknown = set(args.targets) - set(fuzz_targets.TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {', '.join(fuzz_targets.TARGETS)}")
    sizes = write_corpus(args.out, args.targets or None)
    for target, size in sizes.items():
        print(f"{target:15} {size:7} bytes")
    print(f"{'total':15} {sum(sizes.values()):7} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
