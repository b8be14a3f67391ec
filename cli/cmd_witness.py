"""``ledger witness``: a witness that cosigns only consistent checkpoints of the logs it follows.

A newsroom or co-signer keeps one state file; for each log it follows, the state records the
last checkpoint it cosigned. ``cosign`` reads a tlog-witness ``add-checkpoint`` request (what
``ledger prove consistency LEDGER --old-size M --witness-request`` writes) and prints the
cosignature line, or refuses with a reason (exit 1). See docs/witnesses.md.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Final

import click

from cli.io import hint, load_log_key, load_secret_key, read_input, write_output
from ledger import (
    MAX_REQUEST_SIZE,
    RefusalReason,
    WitnessedLog,
    WitnessRefusal,
    add_log,
    cosign,
    inert,
    init_state,
    load_state,
    read_public_key,
    witness_verifier_key,
)

SHOW_SCHEMA: Final = "endorsement-ledger/witness-show/v1"

_HINTS: Final = {
    RefusalReason.MALFORMED: (
        "REQUEST must be an add-checkpoint body: 'old <size>', the proof lines, an empty "
        "line, then the checkpoint (`ledger prove consistency LEDGER --old-size M "
        "--witness-request`)"
    ),
    RefusalReason.UNKNOWN_LOG: (
        "this witness follows only the logs added with `ledger witness add-log STATE --log-pub KEY`"
    ),
    RefusalReason.BAD_SIGNATURE: (
        "the checkpoint must be signed by the log key this witness recorded for its origin"
    ),
    RefusalReason.ROLLBACK: (
        "the checkpoint is older than one this witness already cosigned; nothing was changed"
    ),
    RefusalReason.FORK: (
        "keep REQUEST: a log-signed checkpoint that contradicts one already cosigned is "
        "evidence that the log shows different lists to different readers"
    ),
    RefusalReason.CONFLICT: (
        "ask the campaign for a new request: `ledger prove consistency LEDGER --old-size "
        "{size} --witness-request`"
    ),
    RefusalReason.BAD_PROOF: (
        "keep REQUEST: the checkpoint was not shown to extend what this witness cosigned"
    ),
}


def _now() -> int:
    return int(time.time())


@click.group()
def witness() -> None:
    """Run a witness: cosign a log's checkpoints only when they extend what you cosigned."""


@witness.command("init")
@click.argument("state", type=click.Path(dir_okay=False))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's public key file (from `ledger keygen`, the .pub file).",
)
def init(state: str, key_path: str) -> None:
    """Create the witness state file STATE (it follows no log yet)."""
    public = read_public_key(Path(key_path))
    created = init_state(Path(state), public)
    click.echo(f"witness state: {state}")
    click.echo(f"witness key:   {created.witness_vkey}")
    hint(f"follow a log with `ledger witness add-log {state} --log-pub LOG.pub`")


@witness.command("add-log")
@click.argument("state", type=click.Path(dir_okay=False))
@click.option(
    "--log-pub",
    "log_pub",
    required=True,
    metavar="VKEY_OR_PUBFILE",
    help="The log's verifier key (<origin>+<id>+<key>) or a file holding its public key.",
)
def add_log_command(state: str, log_pub: str) -> None:
    """Follow a log: record its key (named by its origin) in STATE."""
    log_key = load_log_key(log_pub)
    record = add_log(Path(state), log_key)
    click.echo(f"log:  {inert(record.origin)}")
    click.echo(f"key:  {record.log_key_vkey}")
    click.echo(f"size: {record.size}" + ("" if record.checkpoint else " (nothing cosigned yet)"))


@witness.command("cosign")
@click.argument("state", type=click.Path(dir_okay=False))
@click.argument("request", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's secret key file.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted witness key.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Write the cosignature line here (never overwrites a file).",
)
@click.option(
    "--time",
    "now",
    type=click.IntRange(min=0),
    help="Cosignature time, seconds since the epoch (default: now).",
)
def cosign_command(
    state: str,
    request: str,
    key_path: str,
    passphrase_file: str | None,
    out: str,
    now: int | None,
) -> None:
    """Check the add-checkpoint REQUEST ('-': standard input) and cosign its checkpoint.

    Cosigns only if the log signed the checkpoint and the request proves it consistent with
    the last checkpoint this witness cosigned for that log; then records it in STATE and
    prints the cosignature line. A refusal exits 1, says why, and changes nothing.
    """
    data = read_input(request, what="request", limit=MAX_REQUEST_SIZE)
    witness_key = load_secret_key(key_path, passphrase_file)
    try:
        response = cosign(Path(state), data, witness_key, _now() if now is None else now)
    except WitnessRefusal as refusal:
        click.echo(f"ledger: error: {inert(str(refusal), 2000)}", err=True)
        size = "N" if refusal.witness_size is None else str(refusal.witness_size)
        hint(_HINTS[refusal.reason].format(size=size))
        sys.exit(1)  # the refusal is the verdict: exit 1, as `ledger verify` does
    write_output(out, response)
    if out != "-":
        click.echo(f"cosignature: {out}")


@witness.command("show")
@click.argument("state", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (versioned).")
def show(state: str, as_json: bool) -> None:
    """Show the witness key and, per log, the last checkpoint cosigned."""
    loaded = load_state(Path(state))
    if as_json:
        document = {
            "schema": SHOW_SCHEMA,
            "witness": loaded.witness_vkey,
            "logs": [_log_json(log) for log in loaded.logs],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"witness: {loaded.witness_vkey}")
    if not loaded.logs:
        click.echo("logs:    none (add one with `ledger witness add-log`)")
    for log in loaded.logs:
        click.echo(f"log {inert(log.origin)}")
        click.echo(f"  key:  {log.log_key_vkey}")
        if log.checkpoint is None:
            click.echo("  size: 0 (nothing cosigned yet)")
        else:
            click.echo(f"  size: {log.size}")
            click.echo(f"  root: {base64.b64encode(log.root).decode('ascii')}")


def _log_json(log: WitnessedLog) -> dict[str, object]:
    return {
        "origin": log.origin,
        "vkey": log.log_key_vkey,
        "size": log.size,
        "root": base64.b64encode(log.root).decode("ascii"),
        "cosigned": log.checkpoint is not None,
    }


@witness.command("vkey")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's public key file.",
)
def vkey(key_path: str) -> None:
    """Print the witness verifier key (type 0x04) that policy files list."""
    public = read_public_key(Path(key_path))
    vkey_text = witness_verifier_key(public)
    click.echo(vkey_text)
    hint(f"in a policy file: witness {public.name} {vkey_text}")
