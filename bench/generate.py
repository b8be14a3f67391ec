"""Generate a deterministic benchmark ledger of N entries (genesis included).

    python bench/generate.py --entries 100000 --out /tmp/bench/l100k.db
    python bench/generate.py --entries 1100 --checkpoint-at 1000 --out /tmp/bench/inc.db

Keys come from SHA-256 of a public label (``--seed``), names are "Organisation 000123", one in
three organisations gives a domain, one in four a country, one in ten a website. Endorsements
are signed by worker processes while the main process appends them with ``Ledger.append`` in
batches (one transaction and one record time per batch; every signature is verified on the way
in, as in production). A checkpoint is recorded at the end and at each ``--checkpoint-at`` size,
and written beside the ledger as ``LEDGER.checkpoint.M``; the log key as ``LEDGER.logkey``
(+ ``.pub``). Progress goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import benchlib


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, generate, print a one-line summary (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, required=True, help="ledger size N (>= 2)")
    parser.add_argument("--out", type=Path, required=True, help="the ledger file to create")
    parser.add_argument("--seed", default="0", help="label the keys derive from (default 0)")
    parser.add_argument(
        "--checkpoint-at",
        type=int,
        action="append",
        default=[],
        metavar="M",
        help="also record a checkpoint at size M (repeatable)",
    )
    parser.add_argument("--batch", type=int, default=2000, help="endorsements per append")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="signing processes (0: sign in the main process)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing ledger")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress on stderr (auto: only when stderr is a terminal)",
    )
    parser.add_argument("--json", help="write the timing as JSON to this path")
    args = parser.parse_args(argv)
    if args.entries < 2:
        parser.error("--entries must be at least 2 (the genesis entry and one endorsement)")
    for size in args.checkpoint_at:
        if not 1 <= size <= args.entries:
            parser.error(f"--checkpoint-at {size} is outside 1..{args.entries}")
    out: Path = args.out
    if args.force:
        for suffix in ("", "-wal", "-shm", ".logkey", ".logkey.pub"):
            out.with_name(out.name + suffix).unlink(missing_ok=True)
        for old in out.parent.glob(f"{out.name}.checkpoint.*"):
            old.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    seconds, _ = benchlib.timed(lambda: _generate(args, out, show))
    per_entry = seconds / (args.entries - 1)
    size_mb = out.stat().st_size / 1e6
    print(
        f"{out}: {args.entries:,} entries in {seconds:.1f} s "
        f"({per_entry * 1e6:.0f} us per endorsement, {args.workers} signing workers), "
        f"{size_mb:.1f} MB"
    )
    benchlib.write_json(
        args.json,
        "generate",
        {
            "entries": args.entries,
            "seconds": seconds,
            "us_per_entry": per_entry * 1e6,
            "workers": args.workers,
            "batch": args.batch,
            "file_mb": size_mb,
        },
    )
    if args.json:
        print(json.dumps({"json": args.json}))
    return 0


def _generate(args: argparse.Namespace, out: Path, show: bool) -> None:
    with benchlib.create(out, args.seed) as book:
        if 1 in args.checkpoint_at:
            note = book.checkpoint(benchlib.log_key(args.seed), now=benchlib.T0)
            benchlib.checkpoint_path(out, 1).write_bytes(note)
        benchlib.fill(
            book,
            out,
            args.seed,
            args.entries,
            checkpoints=args.checkpoint_at,
            batch=args.batch,
            workers=args.workers,
            progress=benchlib.progress_printer(show),
        )


if __name__ == "__main__":
    sys.exit(main())
