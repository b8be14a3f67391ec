"""Publishing and mirroring bundles: ``publish`` (the campaign's) and ``fetch`` (an archivist's).

``ledger verify DIR|URL`` reads a bundle too (see ``cmd_ledger.verify``).
"""

from __future__ import annotations

import base64
import json
import sys

import click

from cli.io import load_log_key, load_secret_key
from cli.progress import progress_bar
from ledger import Ledger, fetch_bundle, inert, publish_bundle, render_text, report_json

DEFAULT_TIMEOUT = 30.0


@click.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The bundle directory (created if missing; updated if it holds this ledger's bundle).",
)
@click.option(
    "--log-key",
    "log_key_path",
    type=click.Path(dir_okay=False),
    help="The campaign's secret log key: signs a new checkpoint when the ledger grew since "
    "its latest one (otherwise that one is published, with its cosignatures).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted log key.",
)
@click.option(
    "--time",
    "now",
    type=click.IntRange(min=0),
    help="Record time of a new checkpoint, seconds since the epoch (default: now).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Verify every entry and regenerate every page, even when the bundle could be "
    "updated incrementally.",
)
def publish(
    ledger_path: str,
    out_dir: str,
    log_key_path: str | None,
    passphrase_file: str | None,
    now: int | None,
    full: bool,
) -> None:
    """Write LEDGER's published bundle into --out: static files any web server can serve.

    The bundle holds the checkpoint, the C2SP tlog-tiles (hash tiles and entry bundles),
    statement.txt, log.pub, entries.json, index.html, README.txt and pages of 1,000 entries
    (entries/K.json, list/K.html). Publishing again updates it incrementally: from the
    bundle's checkpoint, only the new entries are verified and only the new tiles and the
    pages they change are written (the publisher's state is kept beside --out, in
    DIR.publish-state.db); the checkpoint is replaced atomically before the views that
    describe it. Readers run `ledger verify DIR` or `ledger verify URL`.
    """
    log_key = None if log_key_path is None else load_secret_key(log_key_path, passphrase_file)
    with Ledger.open(ledger_path) as book, progress_bar("verifying") as bar:
        result = publish_bundle(book, out_dir, log_key=log_key, now=now, full=full, progress=bar)
    how = "signed a new checkpoint" if result.signed_checkpoint else "the latest checkpoint"
    root = base64.b64encode(result.root).decode("ascii")
    click.echo(f"published {inert(out_dir)}: {result.size} entries, root {root} ({how})")
    click.echo(
        f"wrote {result.tiles_written} hash tile(s), {result.entry_bundles_written} entry "
        f"bundle(s), {result.pages_written} page(s), {result.files_written} other file(s); "
        f"{result.unchanged} unchanged; removed {len(result.removed)} obsolete partial tile(s)"
    )
    if result.mode == "incremental":
        click.echo(f"updated incrementally from the bundle's {result.previous_size} entries")
    click.echo(f"readers verify it with: ledger verify {inert(out_dir)}  (or its URL)")


@click.command()
@click.argument("url", metavar="URL")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option(
    "--log-pub",
    help="The log key you trust (C2SP verifier key, or a file holding it or our .pub); "
    "default: the key the ledger names.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=3600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds each request may take.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report.")
def fetch(url: str, out_dir: str, log_pub: str | None, timeout: float, as_json: bool) -> None:
    """Mirror the bundle at URL into DIR for archiving, then verify the copy.

    Fetches only the files the checkpoint implies and the fixed files, each with a size
    limit, and writes nothing outside DIR. The copy replaces the mirror's checkpoint only if
    it verifies, against that checkpoint as the one saved (so a rolled-back or forked bundle
    is caught). Exit code 0: fetched and verified; 1: does not verify; 2: cannot fetch.
    """
    log_key = load_log_key(log_pub) if log_pub else None
    with progress_bar("fetching", enabled=not as_json) as bar:
        result, report = fetch_bundle(url, out_dir, log_key=log_key, timeout=timeout, progress=bar)
    if as_json:
        click.echo(json.dumps(report_json(report, url), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(report, url), nl=False)
    state = "mirrored" if result.committed else "NOT mirrored (the mirror's checkpoint is kept)"
    click.echo(
        f"ledger: {inert(url)} {state} into {inert(out_dir)}: {len(result.written)} file(s) "
        "written",
        err=True,
    )
    sys.exit(0 if report.ok else 1)
