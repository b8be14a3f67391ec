"""``ledger endorse`` (the organisation's side, offline) and ``ledger inspect``."""

from __future__ import annotations

import json
import time

import click

from cli.io import load_secret_key, read_input, write_output
from ledger import (
    canonicalize,
    format_statement_hash,
    inert,
    inspect_bytes,
    statement_hash,
)
from ledger import endorse as make_endorsement


@click.command()
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The organisation's secret key file.",
)
@click.option(
    "--statement",
    "statement_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The statement text.",
)
@click.option("--name", required=True, help="The organisation's display name.")
@click.option("--domain", help="The organisation's domain (for key binding), e.g. example.org.")
@click.option("--url", help="The organisation's website.")
@click.option("--country", help="ISO 3166-1 alpha-2 country code, e.g. BE.")
@click.option(
    "--time",
    "signed_at",
    type=click.IntRange(min=0),
    help="Signing time in seconds since the epoch (default: now).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted secret key.",
)
@click.option("--out", required=True, help="The endorsement file to write (COSE_Sign1).")
def endorse(
    key_path: str,
    statement_path: str,
    name: str,
    domain: str | None,
    url: str | None,
    country: str | None,
    signed_at: int | None,
    passphrase_file: str | None,
    out: str,
) -> None:
    """Sign an endorsement of a statement, offline, with an organisation's key."""
    key = load_secret_key(key_path, passphrase_file)
    digest = statement_hash(canonicalize(read_input(statement_path, what="statement")))
    when = int(time.time()) if signed_at is None else signed_at
    cose = make_endorsement(
        key, digest, name=name, signed_at=when, domain=domain, url=url, country=country
    )
    write_output(out, cose)
    click.echo(f"wrote {out}: {inert(name)} endorses {format_statement_hash(digest)}")
    click.echo(f"key fingerprint: {key.public.fingerprint}")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect(path: str, as_json: bool) -> None:
    """Show what an endorsement, entry or key file contains, and whether it verifies."""
    data = read_input(path, what="file")
    info = inspect_bytes(data)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        width = max(len(k) for k in info)
        for name, value in info.items():
            click.echo(f"{name + ':':<{width + 1}} {inert(str(value), 400)}")
    if info.get("verifies") is False:
        raise SystemExit(1)
