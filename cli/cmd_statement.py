"""``ledger statement``: the canonical text of a statement and its hash."""

from __future__ import annotations

import click

from cli.io import read_input, write_output
from ledger import canonicalize, format_statement_hash, statement_hash


@click.group()
def statement() -> None:
    """Canonical statement text (v1) and the statement hash."""


@statement.command("hash")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def hash_(file: str) -> None:
    """Print the statement hash (sha256:<hex>) of FILE's canonical text.

    It equals `sha256sum` of the output of `ledger statement canonical FILE`.
    """
    canonical = canonicalize(read_input(file, what="statement"))
    click.echo(format_statement_hash(statement_hash(canonical)))


@statement.command("canonical")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--out", default="-", show_default=True, help="Where to write the text.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def canonical(file: str, out: str, force: bool) -> None:
    """Write the canonical text v1 of FILE (UTF-8, LF, NFC, trimmed)."""
    write_output(out, canonicalize(read_input(file, what="statement")), overwrite=force)
