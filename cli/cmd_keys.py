"""``ledger keygen`` and ``ledger key show``: Ed25519 key pairs for organisations and logs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.io import hint
from ledger import (
    SigningKey,
    UsageError,
    VerifyingKey,
    read_passphrase_file,
    read_public_key,
    read_secret_key,
    secret_key_is_encrypted,
    write_key_pair,
)


@click.command()
@click.option(
    "--name",
    required=True,
    help="Key name: for a log key, the log origin; for an organisation, e.g. its domain.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Secret key file to create (mode 0600); the public key goes to OUT.pub.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Encrypt the secret key with the passphrase in this file.",
)
@click.option(
    "--passphrase",
    "ask",
    is_flag=True,
    help="Encrypt the secret key with a passphrase typed at a prompt.",
)
def keygen(name: str, out: str, passphrase_file: str | None, ask: bool) -> None:
    """Generate an Ed25519 key pair: OUT (secret) and OUT.pub (public, one line)."""
    if passphrase_file and ask:
        raise UsageError("give --passphrase-file or --passphrase, not both")
    passphrase = None
    if passphrase_file:
        passphrase = read_passphrase_file(Path(passphrase_file))
    elif ask:
        if not sys.stdin.isatty():
            raise UsageError("--passphrase needs a terminal; use --passphrase-file")
        passphrase = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=True, err=True
        ).encode()
    key = SigningKey.generate(name)
    secret_path, public_path = write_key_pair(Path(out), key, passphrase=passphrase)
    click.echo(
        f"secret key: {secret_path} (keep it private"
        f"{', passphrase-protected' if passphrase else ''})"
    )
    click.echo(f"public key: {public_path}")
    click.echo(f"fingerprint: {key.public.fingerprint}")
    if passphrase is None:
        hint("the secret key is not passphrase-protected; use --passphrase to protect it")


@click.group()
def key() -> None:
    """Inspect keys."""


@key.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Passphrase of an encrypted secret key (else PATH.pub is read).",
)
def show(path: str, passphrase_file: str | None) -> None:
    """Show a key's name, public key, fingerprint and C2SP verifier key (PATH: .pub or secret)."""
    public = _public_of(Path(path), passphrase_file)
    click.echo(f"name:         {public.name}")
    click.echo(f"public key:   {public.to_text()}")
    click.echo(f"fingerprint:  {public.fingerprint}")
    click.echo(f"verifier key: {public.to_verifier_key()}  (C2SP signed-note form, for a log key)")


def _public_of(path: Path, passphrase_file: str | None) -> VerifyingKey:
    head = path.read_bytes()[:32] if path.is_file() else b""
    if not head.startswith(b"ledger-sec1"):
        return read_public_key(path)
    if secret_key_is_encrypted(path) and passphrase_file is None:
        sibling = Path(f"{path}.pub")
        if sibling.is_file():
            return read_public_key(sibling)
        raise UsageError(f"{path} is passphrase-protected: give --passphrase-file or {sibling}")
    passphrase = read_passphrase_file(Path(passphrase_file)) if passphrase_file else None
    return read_secret_key(path, passphrase).public
