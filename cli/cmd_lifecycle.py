"""The lifecycle commands: ``withdraw``, ``rotate``, ``revoke`` (organisation, offline),
``remove``, ``close`` (campaign, log key) and ``history`` (anyone)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from cli.io import load_secret_key, read_input, write_output
from ledger import (
    Ledger,
    RemovalReason,
    UsageError,
    canonicalize,
    check_ledger_file,
    format_statement_hash,
    format_time,
    inert,
    ledger_history,
    read_public_key,
    revoke,
    rotate,
    statement_hash,
    withdraw,
)

_REASONS = {reason.code: reason for reason in RemovalReason}


def _statement_hash(path: str) -> bytes:
    return statement_hash(canonicalize(read_input(path, what="statement")))


def _when(value: int | None) -> int:
    return int(time.time()) if value is None else value


_statement_option = click.option(
    "--statement",
    "statement_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The statement text.",
)
_time_option = click.option(
    "--time",
    "signed_at",
    type=click.IntRange(min=0),
    help="Signing time in seconds since the epoch (default: now).",
)
_passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted secret key.",
)
_out_option = click.option("--out", required=True, help="The file to write.")


@click.command("withdraw")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The organisation's current secret key (the one that endorsed, or its "
    "successor after a rotation).",
)
@_statement_option
@click.option(
    "--entry",
    type=click.IntRange(min=1),
    help="The entry number of the endorsement (checked when the file is appended).",
)
@_time_option
@_passphrase_option
@_out_option
def withdraw_command(
    key_path: str,
    statement_path: str,
    entry: int | None,
    signed_at: int | None,
    passphrase_file: str | None,
    out: str,
) -> None:
    """Sign a withdrawal of your organisation's endorsement; the campaign appends it."""
    key = load_secret_key(key_path, passphrase_file)
    digest = _statement_hash(statement_path)
    write_output(out, withdraw(key, digest, signed_at=_when(signed_at), ref=entry))
    click.echo(
        f"wrote {out}: withdrawal of {format_statement_hash(digest)} by key "
        f"{key.public.fingerprint}"
    )


@click.command("rotate")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The organisation's current secret key.",
)
@click.option(
    "--new-key",
    "new_key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The new secret key (it countersigns; make it with `ledger keygen`).",
)
@_statement_option
@_time_option
@_passphrase_option
@click.option(
    "--new-passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of the new key, if encrypted.",
)
@_out_option
def rotate_command(
    key_path: str,
    new_key_path: str,
    statement_path: str,
    signed_at: int | None,
    passphrase_file: str | None,
    new_passphrase_file: str | None,
    out: str,
) -> None:
    """Replace your organisation's key: signed by the old key, countersigned by the new one.

    Your endorsement carries over to the new key, which signs from then on.
    """
    old = load_secret_key(key_path, passphrase_file)
    new = load_secret_key(new_key_path, new_passphrase_file)
    digest = _statement_hash(statement_path)
    write_output(out, rotate(old, new, digest, signed_at=_when(signed_at)))
    click.echo(
        f"wrote {out}: rotation from key {old.public.fingerprint} to {new.public.fingerprint}"
    )


@click.command("revoke")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The signing secret key: the revoked key itself, or your current key.",
)
@click.option(
    "--revoke",
    "revoked_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The public key file of the key to revoke.",
)
@click.option(
    "--from",
    "revoked_from",
    required=True,
    type=click.IntRange(min=0),
    help="Revoked from this time (seconds since the epoch): anything it signed at or "
    "after it is invalid, an endorsement already in the ledger included.",
)
@_statement_option
@_time_option
@_passphrase_option
@_out_option
def revoke_command(
    key_path: str,
    revoked_path: str,
    revoked_from: int,
    statement_path: str,
    signed_at: int | None,
    passphrase_file: str | None,
    out: str,
) -> None:
    """Revoke a lost or stolen key of your organisation from a given time on."""
    signer = load_secret_key(key_path, passphrase_file)
    revoked = read_public_key(Path(revoked_path))
    digest = _statement_hash(statement_path)
    write_output(
        out, revoke(signer, revoked, digest, signed_at=_when(signed_at), revoked_from=revoked_from)
    )
    click.echo(
        f"wrote {out}: revocation of key {revoked.fingerprint} from {format_time(revoked_from)}"
    )


@click.command("remove")
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--entry",
    required=True,
    type=click.IntRange(min=1),
    help="The entry of the endorsement to remove.",
)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(sorted(_REASONS)),
    help="Why the campaign removes it.",
)
@click.option("--note", help="A short public explanation.")
@click.option(
    "--log-key",
    "log_key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The campaign's secret log key.",
)
@_passphrase_option
@click.option("--time", "now", type=click.IntRange(min=0), help="Record time (default: now).")
def remove_command(
    ledger_path: str,
    entry: int,
    reason: str,
    note: str | None,
    log_key_path: str,
    passphrase_file: str | None,
    now: int | None,
) -> None:
    """Remove an endorsement from the list: a new entry signed by the log key, with a reason.

    The endorsement stays in the ledger; readers see that the campaign removed it, and why.
    """
    log_key = load_secret_key(log_key_path, passphrase_file)
    with Ledger.open(ledger_path) as book:
        seq = book.remove(entry, _REASONS[reason], log_key, note=note, now=now)
    click.echo(f"entry {seq}: removal of entry {entry} ({reason})")


@click.command("close")
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option(
    "--log-key",
    "log_key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The campaign's secret log key.",
)
@_passphrase_option
@click.option("--time", "now", type=click.IntRange(min=0), help="Record time (default: now).")
def close_command(
    ledger_path: str, log_key_path: str, passphrase_file: str | None, now: int | None
) -> None:
    """Close the statement to new signatories: nothing may be appended after this entry."""
    log_key = load_secret_key(log_key_path, passphrase_file)
    with Ledger.open(ledger_path) as book:
        seq = book.close_statement(log_key, now=now)
    click.echo(f"entry {seq}: the statement is closed")


@click.command("history")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--org", "org_name", help="Only events of the organisation with this name.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="Only events of the organisation that used this public key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history_command(source: str, org_name: str | None, key_path: str | None, as_json: bool) -> None:
    """Show every event of the list (endorsed, withdrawn, rotated, revoked, removed, closed)."""
    if org_name and key_path:
        raise UsageError("give --org or --key, not both")
    key = read_public_key(Path(key_path)) if key_path else None
    report = check_ledger_file(source)
    events = ledger_history(source, name=org_name, key=key)
    if as_json:
        click.echo(
            json.dumps(
                {"verified": report.ok, "events": [e.to_json() for e in events]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for event in events:
            click.echo(
                f"entry {event.seq}\t{format_time(event.recorded_at)}\t{event.kind}\t"
                f"{inert(event.describe(), 300)}"
            )
        if not events:
            click.echo("(no events)")
    if not report.ok:
        click.echo(
            f"ledger: warning: {source} does not verify; run `ledger verify {source}`", err=True
        )
        raise SystemExit(1)
