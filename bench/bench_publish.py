"""``publish_bundle`` of a ledger, then publishing again after ``--more`` entries.

    python bench/bench_publish.py /tmp/bench/l100k.db /tmp/bench/l1m.db --more 1000

For each ledger (N entries, checkpointed at N), a copy is made in a temporary directory; then:

1. ``first``: ``publish_bundle`` into an empty directory (tiles, entry bundles, entries.json,
   index.html...), the whole ledger;
2. ``again, unchanged``: publishing again with nothing new;
3. ``again, +more``: ``--more`` endorsements are appended and checkpointed (not timed), and
   the bundle is published again;
4. ``verify``: ``check_ledger_file`` of the grown copy, for scale: publishing verifies the
   ledger before it writes anything.

The issue gives no limit for publishing; the figure to watch is ``again / first``: publishing
again verifies from the bundle's checkpoint and writes only the new tiles and the pages they
change ("mode again": incremental), so it should follow ``--more``, not N.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import benchlib
import ledger


def bench_one(path: Path, more: int, seed: str, *, quick: bool) -> dict[str, Any]:
    """Publish, publish unchanged, grow, publish again, verify: seconds of each."""
    from ledger.bundle import publish_bundle  # noqa: PLC0415 - the module is new

    size = benchlib.ledger_size(path)
    key = benchlib.log_key(seed)
    with tempfile.TemporaryDirectory(dir=path.parent) as temp:
        work = Path(temp) / "publish.db"
        out = Path(temp) / "bundle"
        book = benchlib.extend_copy(path, work, seed, size)
        first, result = benchlib.timed(lambda: publish_bundle(book, out, log_key=key))
        files_first = len(result.written)  # type: ignore[attr-defined]
        unchanged = None
        if not quick:
            unchanged, _ = benchlib.timed(lambda: publish_bundle(book, out, log_key=key))
        benchlib.fill(book, work, seed, size + more, workers=0)
        again, result = benchlib.timed(lambda: publish_bundle(book, out, log_key=key))
        files_again = len(result.written)  # type: ignore[attr-defined]
        mode_again = result.mode  # type: ignore[attr-defined]
        book.close()
        verify = None
        if not quick:
            verify, report = benchlib.timed(lambda: ledger.check_ledger_file(work))
            assert isinstance(report, ledger.Report)
            assert report.ok
        bundle_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    return {
        "ledger": str(path),
        "entries": size,
        "more": more,
        "first_s": first,
        "unchanged_s": unchanged,
        "again_s": again,
        "verify_s": verify,
        "again_over_first": again / first,
        "again_over_verify": None if verify is None else again / verify,
        "files_first": files_first,
        "files_again": files_again,
        "mode_again": mode_again,
        "bundle_mb": bundle_mb,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--more", type=int, default=1000, help="entries added before republishing")
    parser.add_argument("--seed", default="0", help="the ledgers' --seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip the unchanged republish and the verification (each a full check: minutes "
        "at 10^6)",
    )
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    try:
        from ledger.bundle import publish_bundle  # noqa: F401, PLC0415
    except ImportError:
        print("publish: not yet measured (ledger.bundle.publish_bundle does not exist)")
        benchlib.write_json(args.json, "publish", {"status": "not yet measured"})
        return 0
    results = [bench_one(p, args.more, args.seed, quick=args.quick) for p in args.ledgers]
    headers = [
        "entries",
        "first publish",
        "again, unchanged",
        f"again, +{args.more}",
        "again / first",
        "full verify (N + more)",
        "again / verify",
        "mode again",
        "files first / again",
        "bundle MB",
    ]
    rows = [
        [
            f"{r['entries']:,}",
            benchlib.human(r["first_s"]),
            "-" if r["unchanged_s"] is None else benchlib.human(r["unchanged_s"]),
            benchlib.human(r["again_s"]),
            f"{r['again_over_first']:.3f}",
            "-" if r["verify_s"] is None else benchlib.human(r["verify_s"]),
            "-" if r["again_over_verify"] is None else f"{r['again_over_verify']:.3f}",
            r["mode_again"],
            f"{r['files_first']} / {r['files_again']}",
            f"{r['bundle_mb']:.1f}",
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    benchlib.write_json(args.json, "publish", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
