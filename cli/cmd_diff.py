"""``ledger diff OLD NEW``: who joined, withdrew or was removed between two snapshots."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from cli.io import load_log_key, read_input
from ledger import (
    LedgerSource,
    SqliteStore,
    UsageError,
    diff,
    format_time,
    inert,
    open_source,
    parse_signed_checkpoint,
)


@contextmanager
def _open(location: str) -> Iterator[LedgerSource]:
    """A ledger file, a bundle directory or a bundle URL, as a source to verify."""
    source = open_source(location)
    try:
        yield source
    finally:
        if isinstance(source, SqliteStore):
            source.close()


def _old_checkpoint(location: str) -> bytes:
    """OLD: a saved checkpoint file, or a ledger whose latest checkpoint is the old snapshot."""
    path = Path(location)
    if path.is_file() and path.stat().st_size <= 1024 * 1024:  # a checkpoint file or a ledger
        data = read_input(location, what="checkpoint", limit=1024 * 1024)
        if not data.startswith(b"SQLite format 3\x00"):
            parse_signed_checkpoint(data)
            return data
    with _open(location) as old:
        note = old.latest_checkpoint()
    if note is None:
        raise UsageError(f"{location} has no signed checkpoint to compare with")
    return note.encode("utf-8")


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--log-pub", help="The log key you trust (default: the key the ledger names).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_command(old: str, new: str, log_pub: str | None, as_json: bool) -> None:
    """Show who joined, withdrew, was removed or changed keys between OLD and NEW.

    OLD is a checkpoint you saved, or an older copy of the ledger (its latest checkpoint is
    used). NEW is verified in full against it first: a rewritten or truncated history is
    reported (exit 1), not diffed.
    """
    old_note = _old_checkpoint(old)
    with _open(new) as source:
        result = diff(source, old_note, log_key=load_log_key(log_pub) if log_pub else None)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "old_size": result.old_size,
                    "new_size": result.new_size,
                    "verified": result.report.ok,
                    "problems": [str(p) for p in result.report.problems],
                    "changes": [event.to_json() for event in result.changes],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        verdict = "NEW extends OLD" if result.report.ok else "NEW DOES NOT VERIFY against OLD"
        click.echo(
            f"{verdict}: {result.old_size} -> {result.new_size} entries, "
            f"{len(result.changes)} change(s)"
        )
        for problem in result.report.problems:
            click.echo(f"  problem: {inert(str(problem), 400)}")
        for event in result.changes:
            click.echo(
                f"  entry {event.seq}  {format_time(event.recorded_at)}  {event.kind}: "
                f"{inert(event.describe(), 300)}"
            )
    sys.exit(0 if result.report.ok else 1)
