"""Key files on disk: the only place where keys meet the file system.

Layout: a key pair written to ``PATH`` is two files, each holding one line of text plus
``"\\n"`` (formats in :mod:`ledger.keys`):

* ``PATH``: the secret key (``ledger-sec1:...`` or, with a passphrase,
  ``ledger-sec1-scrypt:...``), mode 0600;
* ``PATH.pub``: the public key (``ledger-pub1:...``), mode 0644.

Neither file is ever overwritten. Key files larger than 4096 bytes are refused before
parsing. A public key file may instead hold a C2SP signed-note verifier key
(``<name>+<id>+<key>``). Files are read as strict UTF-8; the key text may end in a single
``"\\n"`` and nothing else.

Errors: ``StoreError`` when the file system fails (missing or unreadable file, cannot
create); ``UsageError`` for a refused overwrite or an empty passphrase; ``FormatError`` for
content that is not the expected key; ``VerificationError`` for a wrong passphrase. Every
message names the path and never contains secret material.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

from ledger.errors import FormatError, LedgerError, StoreError, UsageError
from ledger.keys import (
    ENCRYPTED_PREFIX,
    PUBLIC_PREFIX,
    SECRET_PREFIX,
    SigningKey,
    VerifyingKey,
)

__all__ = [
    "MAX_KEY_FILE_SIZE",
    "public_key_path",
    "read_passphrase_file",
    "read_public_key",
    "read_secret_key",
    "secret_key_is_encrypted",
    "write_key_pair",
]

MAX_KEY_FILE_SIZE: Final = 4096
_SECRET_MODE: Final = 0o600
_PUBLIC_MODE: Final = 0o644


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _read_limited(path: Path, what: str) -> bytes:
    """Read at most MAX_KEY_FILE_SIZE bytes of ``path``; larger files are refused."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_SIZE + 1)
    except FileNotFoundError:
        raise StoreError(f"cannot read {what} {path}: no such file") from None
    except OSError as exc:
        raise StoreError(f"cannot read {what} {path}: {_reason(exc)}") from None
    if len(data) > MAX_KEY_FILE_SIZE:
        raise FormatError(
            f"{what} {path} is larger than {MAX_KEY_FILE_SIZE} bytes; this is not a key file"
        )
    return data


def _read_text(path: Path, what: str) -> str:
    data = _read_limited(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{what} {path} is not UTF-8 text") from None


def _with_path(exc: LedgerError, path: Path) -> LedgerError:
    """The same kind of error with the path in front of the message."""
    return type(exc)(f"{path}: {exc}")


def _create_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with exactly ``mode``, write ``data`` and fsync it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists; refusing to overwrite") from None
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {_reason(exc)}") from None
    try:
        os.fchmod(fd, mode)  # the umask may have cleared bits of `mode`
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise StoreError(f"cannot write {path}: {_reason(exc)}") from None
    os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Best effort: make the new directory entries durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def public_key_path(path: Path) -> Path:
    """The public key file that goes with the secret key file ``path``.

    Args:
        path: The secret key file.

    Returns:
        ``PATH.pub`` (the suffix appended, not substituted).
    """
    return Path(os.fspath(path) + ".pub")


def write_key_pair(
    path: Path, key: SigningKey, *, passphrase: bytes | None = None
) -> tuple[Path, Path]:
    """Write a secret key file at ``path`` and its public key at ``path.pub``.

    Both paths are checked before anything is written; if creating the public key file
    still fails, the secret key file just created is removed again. The secret file is
    created with ``O_EXCL`` and mode 0600 (fchmod after open, whatever the umask), the
    public file with mode 0644; both are fsynced, then (best effort) their directory.

    Args:
        path: The secret key file to create.
        key: The key to store.
        passphrase: If given, the secret key is stored encrypted (scrypt, default cost).

    Returns:
        ``(secret_path, public_path)``.

    Raises:
        UsageError: Either file exists ("PATH exists; refusing to overwrite"), or the
            passphrase is empty.
        StoreError: A file cannot be created or written.
    """
    secret_path = Path(path)
    public_path = public_key_path(secret_path)
    secret_text = key.to_text() if passphrase is None else key.to_encrypted_text(passphrase)
    public_text = key.public.to_text()
    for target in (secret_path, public_path):
        if os.path.lexists(target):
            raise UsageError(f"{target} exists; refusing to overwrite")
    _create_file(secret_path, (secret_text + "\n").encode("utf-8"), _SECRET_MODE)
    try:
        _create_file(public_path, (public_text + "\n").encode("utf-8"), _PUBLIC_MODE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(secret_path)
        raise
    _fsync_directory(secret_path.parent)
    return secret_path, public_path


def read_public_key(path: Path) -> VerifyingKey:
    """Read a public key file: ``ledger-pub1:...`` or a C2SP signed-note verifier key.

    Args:
        path: The file (one line, optionally ending in ``"\\n"``).

    Returns:
        The public key.

    Raises:
        StoreError: The file is missing or unreadable.
        FormatError: The file is too large, not UTF-8, not a public key, or a secret key
            file ("PATH is a secret key file; give PATH.pub").
    """
    path = Path(path)
    text = _read_text(path, "public key file")
    body = text[:-1] if text.endswith("\n") else text
    if body.startswith((SECRET_PREFIX, ENCRYPTED_PREFIX)):
        raise FormatError(f"{path} is a secret key file; give {public_key_path(path)}")
    try:
        if body.startswith(PUBLIC_PREFIX):
            return VerifyingKey.from_text(text)
        if "+" in body:
            return VerifyingKey.from_verifier_key(body)
    except FormatError as exc:
        raise _with_path(exc, path) from None
    raise FormatError(
        f"{path} does not hold a public key: expected {PUBLIC_PREFIX}<name>:<key> "
        "or a signed-note verifier key <name>+<id>+<key>"
    )


def read_secret_key(path: Path, passphrase: bytes | None = None) -> SigningKey:
    """Read a secret key file (either form).

    Args:
        path: The file (one line, optionally ending in ``"\\n"``, at most 4096 bytes).
        passphrase: Needed if the key is encrypted; ignored otherwise.

    Returns:
        The secret key.

    Raises:
        StoreError: The file is missing or unreadable.
        FormatError: The file is too large, not UTF-8, a public key file, or malformed.
        UsageError: The key is encrypted and no passphrase was given.
        VerificationError: Wrong passphrase or corrupted encrypted key.
    """
    path = Path(path)
    text = _read_text(path, "secret key file")
    if text.startswith(PUBLIC_PREFIX):
        raise FormatError(f"{path} is a public key file; a secret key file is needed")
    try:
        return SigningKey.from_text(text, passphrase)
    except LedgerError as exc:
        raise _with_path(exc, path) from None


def secret_key_is_encrypted(path: Path) -> bool:
    """Tell whether a secret key file is passphrase-protected (by its prefix only).

    Args:
        path: The secret key file.

    Returns:
        ``True`` for ``ledger-sec1-scrypt:``, ``False`` for ``ledger-sec1:``.

    Raises:
        StoreError: The file is missing or unreadable.
        FormatError: The file is too large, not UTF-8, or not a secret key file.
    """
    path = Path(path)
    text = _read_text(path, "secret key file")
    if text.startswith(ENCRYPTED_PREFIX):
        return True
    if text.startswith(SECRET_PREFIX):
        return False
    if text.startswith(PUBLIC_PREFIX):
        raise FormatError(f"{path} is a public key file; a secret key file is needed")
    raise FormatError(f"{path} is not a secret key file")


def read_passphrase_file(path: Path) -> bytes:
    """Read a passphrase: the first line of the file, as bytes, without its line ending.

    The line ends at the first ``b"\\n"``; one ``b"\\r"`` right before it is also removed.
    Nothing else is stripped (spaces are part of the passphrase).

    Args:
        path: The passphrase file (at most 4096 bytes).

    Returns:
        The non-empty passphrase.

    Raises:
        StoreError: The file is missing or unreadable.
        FormatError: The file is larger than 4096 bytes.
        UsageError: The first line is empty.
    """
    path = Path(path)
    data = _read_limited(path, "passphrase file")
    line, newline, _ = data.partition(b"\n")
    if newline and line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        raise UsageError(f"passphrase file {path} is empty (its first line is empty)")
    return line
