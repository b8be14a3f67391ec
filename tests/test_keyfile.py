"""Tests for key files on disk (ledger.keyfile)."""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.errors import FormatError, StoreError, UsageError, VerificationError
from ledger.keyfile import (
    MAX_KEY_FILE_SIZE,
    public_key_path,
    read_passphrase_file,
    read_public_key,
    read_secret_key,
    secret_key_is_encrypted,
    write_key_pair,
)
from ledger.keys import SigningKey

SEED = bytes(range(32))
KEY = SigningKey.from_seed("ngo.example", SEED)
SEED_B64 = base64.b64encode(SEED).decode()
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


@pytest.fixture
def umask_zero(tmp_path: Path) -> Iterator[None]:
    # Depends on tmp_path so that the directory is made before the umask changes.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def umask_strict(tmp_path: Path) -> Iterator[None]:
    old = os.umask(0o377)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Writing ------------------------------------------------------------------------------------


def test_write_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "ngo"
    secret_path, public_path = write_key_pair(path, KEY)
    assert secret_path == path
    assert public_path == tmp_path / "ngo.pub" == public_key_path(path)
    assert secret_path.read_text("utf-8") == KEY.to_text() + "\n"
    assert public_path.read_text("utf-8") == KEY.public.to_text() + "\n"
    assert public_path.read_bytes().count(b"\n") == 1
    assert read_secret_key(secret_path) == KEY
    assert read_public_key(public_path) == KEY.public
    assert not secret_key_is_encrypted(secret_path)


def test_public_key_path_appends() -> None:
    assert public_key_path(Path("dir/key.sec")) == Path("dir/key.sec.pub")


@pytest.mark.usefixtures("umask_zero")
def test_modes_with_umask_zero(tmp_path: Path) -> None:
    secret_path, public_path = write_key_pair(tmp_path / "k", KEY)
    assert mode(secret_path) == 0o600
    assert mode(public_path) == 0o644


@pytest.mark.usefixtures("umask_strict")
def test_modes_with_strict_umask(tmp_path: Path) -> None:
    secret_path, public_path = write_key_pair(tmp_path / "k", KEY)
    assert mode(secret_path) == 0o600
    assert mode(public_path) == 0o644


def test_write_encrypted(tmp_path: Path) -> None:
    secret_path, public_path = write_key_pair(tmp_path / "k", KEY, passphrase=b"s3cret")
    text = secret_path.read_text("utf-8")
    assert text.startswith("ledger-sec1-scrypt:ngo.example:")
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert SEED_B64 not in text
    assert secret_key_is_encrypted(secret_path)
    assert read_secret_key(secret_path, b"s3cret") == KEY
    assert read_public_key(public_path) == KEY.public
    with pytest.raises(
        UsageError, match=f"^{re.escape(str(secret_path))}: secret key is passphrase-protected"
    ):
        read_secret_key(secret_path)
    with pytest.raises(VerificationError, match="wrong passphrase or corrupted secret key"):
        read_secret_key(secret_path, b"s3creT")


def test_write_empty_passphrase_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="passphrase is empty"):
        write_key_pair(tmp_path / "k", KEY, passphrase=b"")
    assert list(tmp_path.iterdir()) == []


def test_refuse_to_overwrite_secret(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("precious\n")
    with pytest.raises(UsageError, match=f"^{re.escape(str(path))} exists; refusing to overwrite$"):
        write_key_pair(path, KEY)
    assert path.read_text() == "precious\n"
    assert not public_key_path(path).exists()


def test_refuse_to_overwrite_public_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "k"
    pub = public_key_path(path)
    pub.write_text("precious\n")
    with pytest.raises(UsageError, match=f"^{re.escape(str(pub))} exists; refusing to overwrite$"):
        write_key_pair(path, KEY)
    assert not path.exists()
    assert pub.read_text() == "precious\n"


def test_refuse_dangling_symlink(tmp_path: Path) -> None:
    path = tmp_path / "k"
    public_key_path(path).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        write_key_pair(path, KEY)
    assert not path.exists()
    assert not (tmp_path / "elsewhere").exists()


def test_public_created_concurrently_removes_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The .pub appears between the check and its creation: the secret just written is removed.
    path = tmp_path / "k"
    pub = public_key_path(path)
    pub.write_text("someone else's\n")
    monkeypatch.setattr("ledger.keyfile.os.path.lexists", lambda _p: False)
    with pytest.raises(UsageError, match=f"^{re.escape(str(pub))} exists; refusing to overwrite$"):
        write_key_pair(path, KEY)
    monkeypatch.undo()
    assert not path.exists()
    assert pub.read_text() == "someone else's\n"


def test_write_into_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "k"
    with pytest.raises(StoreError, match=f"^cannot create {re.escape(str(path))}: "):
        write_key_pair(path, KEY)


# --- Reading public keys --------------------------------------------------------------------------


def test_read_public_key_verifier_key_file(tmp_path: Path) -> None:
    for content in (GO_VKEY, GO_VKEY + "\n"):
        path = tmp_path / "log.vkey"
        path.write_text(content)
        key = read_public_key(path)
        assert key.name == "PeterNeumann"
        assert key.to_verifier_key() == GO_VKEY
        path.unlink()


def test_read_public_key_given_secret_file(tmp_path: Path) -> None:
    secret_path, _ = write_key_pair(tmp_path / "k", KEY)
    name = re.escape(str(secret_path))
    with pytest.raises(
        FormatError,
        match=f"^{name} is a secret key file; give {name}\\.pub$",
    ):
        read_public_key(secret_path)
    encrypted, _ = write_key_pair(tmp_path / "e", KEY, passphrase=b"pw")
    with pytest.raises(FormatError, match="is a secret key file") as info:
        read_public_key(encrypted)
    assert SEED_B64 not in str(info.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (KEY.public.to_text() + "\n\n", "base64"),
        (KEY.public.to_text() + "\r\n", "base64"),
        (" " + KEY.public.to_text(), "does not hold a public key"),
        ("", "does not hold a public key"),
        ("hello\n", "does not hold a public key"),
        (GO_VKEY + "\n\n", "base64"),
        (GO_VKEY.replace("c74f20a3", "c74f20a4"), "does not match"),
    ],
)
def test_read_public_key_malformed(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "k.pub"
    path.write_text(content)
    with pytest.raises(FormatError, match=reason) as info:
        read_public_key(path)
    assert str(path) in str(info.value)


def test_read_public_key_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "k.pub"
    path.write_bytes(b"ledger-pub1:\xff:AAAA\n")
    with pytest.raises(
        FormatError, match=f"^public key file {re.escape(str(path))} is not UTF-8 text$"
    ):
        read_public_key(path)


# --- Reading secret keys -----------------------------------------------------------------------


def test_read_secret_key_given_public_file(tmp_path: Path) -> None:
    _, public_path = write_key_pair(tmp_path / "k", KEY)
    with pytest.raises(FormatError, match=f"^{re.escape(str(public_path))} is a public key file"):
        read_secret_key(public_path)
    with pytest.raises(FormatError, match="is a public key file"):
        secret_key_is_encrypted(public_path)


def test_read_secret_key_malformed_does_not_leak(tmp_path: Path) -> None:
    path = tmp_path / "k"
    text = KEY.to_text()
    for content in (text + "\n\n", text[:-2] + "\n", text.replace("=", "") + "\n", text + " "):
        path.write_text(content)
        with pytest.raises(FormatError) as info:
            read_secret_key(path)
        message = str(info.value)
        assert message.startswith(f"{path}: ")
        assert SEED_B64[:12] not in message
        assert SEED.hex()[:12] not in message


def test_secret_key_is_encrypted_garbage(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("hello\n")
    with pytest.raises(FormatError, match=f"^{re.escape(str(path))} is not a secret key file$"):
        secret_key_is_encrypted(path)


@pytest.mark.parametrize(
    "reader",
    [read_public_key, read_secret_key, secret_key_is_encrypted, read_passphrase_file],
)
def test_oversize_files_rejected(tmp_path: Path, reader: object) -> None:
    assert callable(reader)
    path = tmp_path / "big"
    path.write_bytes(KEY.to_text().encode() + b"\n" + b"#" * MAX_KEY_FILE_SIZE)
    with pytest.raises(FormatError, match=f"{re.escape(str(path))} is larger than 4096 bytes"):
        reader(path)


def test_size_limit_is_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "pp"
    path.write_bytes(b"x" * MAX_KEY_FILE_SIZE)
    assert read_passphrase_file(path) == b"x" * MAX_KEY_FILE_SIZE
    path.write_bytes(b"x" * (MAX_KEY_FILE_SIZE + 1))
    with pytest.raises(FormatError, match="larger than 4096 bytes"):
        read_passphrase_file(path)


@pytest.mark.parametrize(
    "reader",
    [read_public_key, read_secret_key, secret_key_is_encrypted, read_passphrase_file],
)
def test_missing_and_unreadable_files(tmp_path: Path, reader: object) -> None:
    assert callable(reader)
    missing = tmp_path / "nope"
    with pytest.raises(StoreError, match=f"cannot read .*{re.escape(str(missing))}: no such file"):
        reader(missing)
    with pytest.raises(StoreError, match=f"cannot read .*{re.escape(str(tmp_path))}: "):
        reader(tmp_path)  # a directory


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_permission_denied(tmp_path: Path) -> None:
    secret_path, _ = write_key_pair(tmp_path / "k", KEY)
    secret_path.chmod(0)
    with pytest.raises(StoreError, match="permission denied"):
        read_secret_key(secret_path)


# --- Passphrase files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"secret\n", b"secret"),
        (b"secret", b"secret"),
        (b"secret\r\n", b"secret"),
        (b" spaced out \nsecond line\n", b" spaced out "),
        (b"\xff\xfe raw bytes\n", b"\xff\xfe raw bytes"),
        (b"tab\there\n\n", b"tab\there"),
    ],
)
def test_read_passphrase_file(tmp_path: Path, content: bytes, expected: bytes) -> None:
    path = tmp_path / "pp"
    path.write_bytes(content)
    assert read_passphrase_file(path) == expected


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"\nsecret\n"])
def test_empty_passphrase_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pp"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=f"^passphrase file {re.escape(str(path))} is empty"):
        read_passphrase_file(path)


def test_passphrase_file_round_trip(tmp_path: Path) -> None:
    pp = tmp_path / "pp"
    pp.write_bytes(b"correct horse battery staple\n")
    secret_path, _ = write_key_pair(tmp_path / "k", KEY, passphrase=read_passphrase_file(pp))
    assert read_secret_key(secret_path, read_passphrase_file(pp)) == KEY
