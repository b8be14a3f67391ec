"""Input and output at the command line's edge: files, passphrases, messages."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Final

import click

from ledger import (
    Policy,
    SigningKey,
    StoreError,
    UsageError,
    VerificationError,
    VerifyingKey,
    parse_policy,
    read_passphrase_file,
    read_public_key,
    read_secret_key,
    secret_key_is_encrypted,
)

MAX_INPUT_BYTES: Final = 16 * 1024 * 1024


def read_input(path: str, *, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """Read a whole input file ('-' is standard input), refusing files over ``limit`` bytes."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise StoreError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {limit} bytes")
    return data


def write_output(path: str, data: bytes, *, overwrite: bool = False) -> None:
    """Write a file atomically (temporary name, fsync, rename); '-' writes to standard output.

    Refuses to replace an existing file unless ``overwrite``.
    """
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    if target.exists() and not overwrite:
        raise UsageError(f"{path} exists; refusing to overwrite it")
    directory = target.parent if str(target.parent) else Path()
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                os.replace(temp, target)
            else:
                os.link(temp, target)  # fails if the target appeared meanwhile
                os.unlink(temp)
            _fsync_directory(directory)  # the new name itself survives a power cut
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except FileExistsError:
        raise UsageError(f"{path} exists; refusing to overwrite it") from None
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some file systems cannot open a directory: the data itself was synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def passphrase_for(secret_path: Path, passphrase_file: str | None) -> bytes | None:
    """The passphrase to open a secret key: from a file, else a prompt on a terminal only."""
    if passphrase_file is not None:
        return read_passphrase_file(Path(passphrase_file))
    if not secret_key_is_encrypted(secret_path):
        return None
    if not sys.stdin.isatty():
        raise UsageError(
            f"{secret_path} is passphrase-protected and standard input is not a "
            "terminal: give --passphrase-file"
        )
    return click.prompt(f"Passphrase for {secret_path}", hide_input=True, err=True).encode()


def load_secret_key(path: str, passphrase_file: str | None) -> SigningKey:
    """Read a secret key file, asking for its passphrase when needed."""
    secret_path = Path(path)
    try:
        return read_secret_key(secret_path, passphrase_for(secret_path, passphrase_file))
    except VerificationError as exc:  # a wrong passphrase is an input error, not a verdict
        raise UsageError(str(exc)) from None


def hint(message: str) -> None:
    """Print ``ledger: hint: ...`` on standard error."""
    click.echo(f"ledger: hint: {message}", err=True)


def warn(message: str) -> None:
    """Print ``ledger: warning: ...`` on standard error."""
    click.echo(f"ledger: warning: {message}", err=True)


def load_log_key(value: str) -> VerifyingKey:
    """A log key given as a C2SP verifier key string, or as a file holding one or our .pub."""
    if "+" in value and not Path(value).exists():
        return VerifyingKey.from_verifier_key(value)
    text = read_input(value, what="log key", limit=4096).decode("utf-8", "replace").strip()
    if text.startswith("ledger-pub1:"):
        return read_public_key(Path(value))
    return VerifyingKey.from_verifier_key(text)


def load_policy(path: str) -> Policy:
    """Read and parse a witness policy file (C2SP tlog-policy)."""
    data = read_input(path, what="policy", limit=1024 * 1024)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"policy {path} is not UTF-8 text") from None
    return parse_policy(text)
