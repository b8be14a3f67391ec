"""The campaign's commands (``init``, ``append``, ``list``) and the reader's ``verify``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from itertools import chain

import click

from cli.io import load_log_key, load_policy, load_secret_key, read_input
from cli.progress import progress_bar
from ledger import (
    FormatError,
    Ledger,
    Signatory,
    UsageError,
    canonicalize,
    check_ledger_file,
    check_location,
    format_time,
    inert,
    iter_markdown,
    iter_render_text,
    iter_report_json,
    parse_signed_checkpoint,
    signatory_json,
)

MAX_ENDORSEMENT_FILE = 65_536


@click.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--statement",
    "statement_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The statement text.",
)
@click.option("--title", required=True, help="The statement's title.")
@click.option(
    "--origin", required=True, help="Log origin, e.g. example.org/our-letter (the log key's name)."
)
@click.option(
    "--log-key",
    "log_key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The campaign's secret log key file.",
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
    help="Genesis time, seconds since the epoch (default: now).",
)
def init(
    ledger_path: str,
    statement_path: str,
    title: str,
    origin: str,
    log_key_path: str,
    passphrase_file: str | None,
    now: int | None,
) -> None:
    """Create LEDGER (a SQLite file) with the genesis entry for a statement."""
    log_key = load_secret_key(log_key_path, passphrase_file)
    text = read_input(statement_path, what="statement")
    with Ledger.create(
        ledger_path, statement=text, title=title, origin=origin, log_key=log_key, now=now
    ) as book:
        click.echo(f"created {ledger_path}: entry 0 (genesis)")
        click.echo(f"statement: sha256:{book.statement_hash.hex()}")
        click.echo(f"log origin: {inert(origin)}")


@click.command()
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--atomic", is_flag=True, help="Append nothing if any file is rejected.")
@click.option(
    "--allow-similar-name",
    "allow_similar",
    is_flag=True,
    help="Append an endorsement whose name equals or looks like one on the list (another key).",
)
@click.option(
    "--time",
    "now",
    type=click.IntRange(min=0),
    help="Record time, seconds since the epoch (default: now).",
)
def append(
    ledger_path: str, files: tuple[str, ...], atomic: bool, allow_similar: bool, now: int | None
) -> None:
    """Verify signed FILES (endorsements, withdrawals, rotations, revocations) and append them
    to LEDGER in one durable transaction.

    Prints the entry number of each appended file; a rejected file is reported with the reason
    and exit code 1, and nothing already stored changes. An endorsement whose name equals or
    looks like (Unicode UTS #39) a name on the list under another key is refused unless
    --allow-similar-name is given; it is then appended and flagged in every report.
    """
    inputs = [
        (name, read_input(name, what="endorsement", limit=MAX_ENDORSEMENT_FILE)) for name in files
    ]
    with Ledger.open(ledger_path) as book, progress_bar("checking", enabled=len(inputs) > 1) as bar:
        result = book.append(
            inputs, atomic=atomic, allow_similar=allow_similar, now=now, progress=bar
        )
    for name, seq in result.appended:
        click.echo(f"entry {seq}: {name}")
    for name, flag in result.flags:
        click.echo(f"ledger: warning: {inert(name)}: {inert(flag, 400)}", err=True)
    for rejected in result.rejected:
        click.echo(
            f"ledger: rejected: {inert(rejected.label)}: {inert(rejected.reason, 400)}", err=True
        )
    if result.rejected:
        click.echo(
            f"ledger: {len(result.appended)} appended, {len(result.rejected)} rejected", err=True
        )
        sys.exit(1)


@click.command("list")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_signatories(source: str, as_json: bool) -> None:
    """List the current signatories of a ledger (verified entries only)."""
    with check_ledger_file(source) as report:
        if as_json:
            echo_chunks(_list_json(report.ok, report.signatories))
        else:
            echo_chunks(
                "\t".join(
                    [
                        str(s.seq),
                        inert(s.name),
                        inert(s.domain or "-"),
                        s.country or "-",
                        s.fingerprint,
                        format_time(s.signed_at),
                    ]
                )
                + "\n"
                for s in report.signatories
            )
    if not report.ok:
        click.echo(
            f"ledger: warning: {source} does not verify; run `ledger verify {source}`", err=True
        )
        sys.exit(1)


def _list_json(verified: bool, signatories: Iterable[Signatory]) -> Iterator[str]:
    # json.dumps({"verified": ..., "signatories": [...]}, indent=2), one signatory at a time.
    yield f'{{\n  "verified": {json.dumps(verified)},\n  "signatories": '
    empty = True
    for s in signatories:
        item = json.dumps(signatory_json(s), indent=2, ensure_ascii=False)
        yield ("[" if empty else ",") + "\n    " + item.replace("\n", "\n    ")
        empty = False
    yield "[]\n}\n" if empty else "\n  ]\n}\n"


@click.command()
@click.argument("source", metavar="LEDGER|DIR|URL")
@click.option(
    "--statement",
    "statement_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The statement text you hold: check it is the ledger's.",
)
@click.option(
    "--checkpoint",
    "saved_path",
    type=click.Path(dir_okay=False),
    help="A checkpoint you saved earlier: check nothing was rewritten or cut since.",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="Trust --checkpoint and check only the entries added after it.",
)
@click.option(
    "--log-pub",
    help="The log key you trust (C2SP verifier key, or a file holding "
    "it or our .pub); default: the key the ledger names.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Witness policy (C2SP tlog-policy) the checkpoint's cosignatures must meet.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print a Markdown block to paste into an article, with the fingerprint.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that check a ledger file's entries (default: all cores; 1: this process "
    "only). Bundles are checked in one process. The report is the same for any number.",
)
def verify(
    source: str,
    statement_path: str | None,
    saved_path: str | None,
    incremental: bool,
    log_pub: str | None,
    policy_path: str | None,
    as_json: bool,
    markdown: bool,
    jobs: int | None,
) -> None:
    """Verify a ledger and print what is proven and what is not.

    Checks every entry (encoding, sequence, links, statement, signatures, signers, times), then
    the ledger's signed checkpoint, consistency with a checkpoint you saved (--checkpoint), and
    witness cosignatures (--policy). Exit code 0: verified; 1: does not verify (the report names
    each failing entry and check); 2: usage or input error.
    """
    statement = None if statement_path is None else read_input(statement_path, what="statement")
    if statement is not None:
        canonicalize(statement)  # a malformed text is the reader's input error (exit 2)
    saved = (
        None if saved_path is None else read_input(saved_path, what="checkpoint", limit=1024 * 1024)
    )
    if saved is not None:
        try:  # a malformed saved checkpoint is the reader's input error (exit 2)
            parse_signed_checkpoint(saved)
        except FormatError as exc:
            raise FormatError(f"{saved_path}: {exc}") from None
    with progress_bar("verifying", enabled=not as_json) as bar:
        report = check_location(
            source,
            statement=statement,
            saved_checkpoint=saved,
            log_key=load_log_key(log_pub) if log_pub else None,
            policy=load_policy(policy_path) if policy_path else None,
            incremental=incremental,
            progress=bar,
            jobs=jobs or _cores(),
        )
    with report:  # a large ledger's list is read from a temporary file, deleted here
        if as_json and markdown:
            raise UsageError("give --json or --markdown, not both")
        if as_json:
            echo_chunks(chain(iter_report_json(report, source), ["\n"]))
        elif markdown:
            echo_chunks(iter_markdown(report, source_hint=source))
        else:
            echo_chunks(iter_render_text(report, source))
        ok = report.ok
    sys.exit(0 if ok else 1)


def echo_chunks(chunks: Iterable[str], size: int = 1 << 16) -> None:
    """Write text pieces to stdout in writes of ~``size`` characters: a report of a million
    signatories is written as it is read, never held whole."""
    buffer: list[str] = []
    held = 0
    for chunk in chunks:
        buffer.append(chunk)
        held += len(chunk)
        if held >= size:
            click.echo("".join(buffer), nl=False)
            buffer, held = [], 0
    click.echo("".join(buffer), nl=False)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)
