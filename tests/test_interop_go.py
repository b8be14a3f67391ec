"""Independent implementations accept our checkpoints and proofs.

Go's ``golang.org/x/mod/sumdb/note`` (C2SP signed notes) and ``sumdb/tlog`` (RFC 9162 proofs;
Debian package golang-golang-x-mod-dev) check what our library produces: ``note.Open`` opens
our checkpoints with our verifier key, ``tlog.CheckRecord`` accepts every inclusion proof and
``tlog.CheckTree`` every consistency proof, and both reject a tampered proof. The test runs
where Go and that package are installed (``.ci/run`` installs them) and is skipped elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ledger

GO_SOURCE = Path(__file__).parent / "interop" / "checklog.go"
GOPATH = Path("/usr/share/gocode")
NOTE_PACKAGE = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "note"

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or not NOTE_PACKAGE.is_dir(),
    reason="needs Go and golang.org/x/mod (apt-get install golang-go golang-golang-x-mod-dev)",
)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@pytest.fixture(scope="module")
def checklog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go checker, built once (GOPATH mode, offline, from the Debian package)."""
    out = tmp_path_factory.mktemp("go") / "checklog"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(out.parent / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run(
        ["go", "build", "-o", str(out), str(GO_SOURCE)],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> ledger.Ledger:
    """A ledger of 1 genesis + 12 endorsements with a checkpoint at its full size."""
    directory = tmp_path_factory.mktemp("ledger")
    log_key = ledger.SigningKey.from_seed("interop.example/log", bytes(range(32)))
    statement = b"Interoperability statement.\n"
    book = ledger.Ledger.create(
        directory / "l.db",
        statement=statement,
        title="Interop",
        origin="interop.example/log",
        log_key=log_key,
        now=1_700_000_000,
    )
    for i in range(12):
        key = ledger.SigningKey.from_seed(f"org{i}.example", bytes([i + 1]) * 32)
        cose = ledger.endorse(key, book.statement_hash, name=f"Org {i}", signed_at=1_700_000_000)
        book.append([(f"org{i}", cose)], now=1_700_000_100 + i)
    book.checkpoint(log_key, now=1_700_001_000)
    return book


def _input(book: ledger.Ledger) -> dict[str, object]:
    note, size = book.latest_checkpoint_with_size()
    vkey = ledger.VerifyingKey.from_verifier_key(book.genesis.log_key).to_verifier_key()
    records = [
        {
            "index": i,
            "data": _b64(book.store.entry(i)),
            "proof": [_b64(h) for h in book.prove_inclusion(i, size).proof],
        }
        for i in range(size)
    ]
    trees = [
        {
            "old_size": m,
            "old_root": _b64(book.prove_consistency(m, size).old_root),
            "proof": [_b64(h) for h in book.prove_consistency(m, size).proof],
        }
        for m in range(1, size + 1)
    ]
    return {"vkey": vkey, "checkpoint": note.decode(), "records": records, "trees": trees}


def _run(
    checklog: Path, tmp_path: Path, data: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(data))
    return subprocess.run(
        [str(checklog), str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_go_accepts_checkpoint_and_every_proof(
    checklog: Path, book: ledger.Ledger, tmp_path: Path
) -> None:
    data = _input(book)
    result = _run(checklog, tmp_path, data)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ok note.Open: 1 signature(s) verified"
    assert sum(line.startswith("ok tlog.CheckRecord") for line in lines) == 13
    assert sum(line.startswith("ok tlog.CheckTree") for line in lines) == 13


def test_go_rejects_a_tampered_inclusion_proof(
    checklog: Path, book: ledger.Ledger, tmp_path: Path
) -> None:
    data = _input(book)
    record = data["records"][5]  # type: ignore[index]
    raw = bytearray(base64.b64decode(record["proof"][0]))
    raw[0] ^= 1
    record["proof"][0] = _b64(bytes(raw))
    data["trees"] = []
    result = _run(checklog, tmp_path, data)
    assert result.returncode == 1
    assert "FAIL tlog.CheckRecord 5 in 13" in result.stdout


def test_go_rejects_a_checkpoint_signed_by_another_key(
    checklog: Path, book: ledger.Ledger, tmp_path: Path
) -> None:
    data = _input(book)
    other = ledger.SigningKey.from_seed("interop.example/log", bytes(32))
    data["vkey"] = other.public.to_verifier_key()
    result = _run(checklog, tmp_path, data)
    assert result.returncode == 1
    assert "FAIL note.Open" in result.stdout
