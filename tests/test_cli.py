"""Transcripts of the ``ledger`` command: the campaign's, the organisation's and the reader's.

Most run in-process with click's CliRunner (stdout and stderr apart, stdin not a terminal); a
few run the installed ``ledger`` script in a subprocess to check real exit codes and that no
traceback ever reaches the terminal.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner, Result

import ledger
from helpers import (
    LOG_KEY,
    ORIGIN,
    OTHER_STATEMENT,
    STATEMENT,
    STATEMENT_HASH,
    T0,
    flip,
    forged_endorsement,
    org_endorsement,
    org_key,
    set_entry_data,
    stored_entries,
)
from ledger import codec
from ledger.merkle import hash_leaf

ENTRY_CHECKS = ("encoding", "sequence", "links", "statement", "signatures", "signers", "times")
LEDGER_SCRIPT = Path(sys.executable).with_name("ledger")


def run(*args: str | Path, stdin: bytes | None = None) -> Result:
    """Run ``ledger ARGS`` in-process; an exception escaping the CLI fails the test."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin, catch_exceptions=False)


def ok(*args: str | Path, stdin: bytes | None = None) -> Result:
    result = run(*args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def assert_error(result: Result, code: int, *fragments: str) -> str:
    """Exit ``code`` with exactly one ``ledger: error:`` line (hints may follow); returns it."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines, "no error message"
    assert lines[0].startswith("ledger: error: "), lines
    assert all(line.startswith("ledger: hint: ") for line in lines[1:]), lines
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- The whole campaign, as a transcript ----------------------------------------------------------


def test_campaign_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("letter.txt").write_bytes(b"\xef\xbb\xbfOur letter.  \r\nWe mean it.\r\n\r\n")
    Path("other.txt").write_bytes(OTHER_STATEMENT)

    # Keys: the log's (named by the origin) and two organisations'.
    for name, out in ((ORIGIN, "log.key"), ("ngo-a.example", "a.key"), ("ngo-b.example", "b.key")):
        result = ok("keygen", "--name", name, "--out", out)
        assert result.stdout.splitlines()[:2] == [
            f"secret key: {out} (keep it private)",
            f"public key: {out}.pub",
        ]
        assert result.stderr.startswith("ledger: hint: the secret key is not passphrase-protected")

    # The statement hash is sha256sum of the canonical text.
    canonical = ok("statement", "canonical", "letter.txt").stdout_bytes
    assert canonical == b"Our letter.\nWe mean it.\n"
    digest = hashlib.sha256(canonical).hexdigest()
    assert ok("statement", "hash", "letter.txt").stdout == f"sha256:{digest}\n"

    # Each organisation endorses, offline.
    result = ok(
        "endorse", "--key", "a.key", "--statement", "letter.txt", "--name", "NGO A",
        "--domain", "ngo-a.example", "--country", "BE", "--time", str(T0), "--out", "a.cose",
    )  # fmt: skip
    fingerprint_a = ledger.read_public_key(Path("a.key.pub")).fingerprint
    assert result.stdout == (
        f"wrote a.cose: NGO A endorses sha256:{digest}\nkey fingerprint: {fingerprint_a}\n"
    )
    ok("endorse", "--key", "b.key", "--statement", "letter.txt", "--name", "NGO B",
       "--time", str(T0 + 60), "--out", "b.cose")  # fmt: skip
    info = ok("inspect", "a.cose").stdout
    assert "kind:        endorsement (COSE_Sign1)" in info
    assert "name:        NGO A" in info
    assert f"statement:   sha256:{digest}" in info
    assert "verifies:    True" in info
    assert json.loads(ok("inspect", "--json", "b.cose").stdout)["verifies"] is True

    # The campaign creates the ledger and appends.
    result = ok(
        "init", "letter.db", "--statement", "letter.txt", "--title", "Our letter",
        "--origin", ORIGIN, "--log-key", "log.key", "--time", str(T0),
    )  # fmt: skip
    assert result.stdout == (
        f"created letter.db: entry 0 (genesis)\nstatement: sha256:{digest}\nlog origin: {ORIGIN}\n"
    )
    result = ok("append", "letter.db", "a.cose", "b.cose", "--time", str(T0 + 120))
    assert result.stdout == "entry 1: a.cose\nentry 2: b.cose\n"
    assert result.stderr == ""

    rows = [line.split("\t") for line in ok("list", "letter.db").stdout.splitlines()]
    assert [row[:4] for row in rows] == [
        ["1", "NGO A", "ngo-a.example", "BE"],
        ["2", "NGO B", "-", "-"],
    ]
    assert rows[0][4] == fingerprint_a

    # The reader verifies.
    text = ok("verify", "letter.db", "--statement", "letter.txt").stdout
    assert text.startswith("VERIFIED: letter.db: 3 entries, 2 current signatories\n")
    assert f"  sha256:{digest}\n" in text
    assert re.search(r"\[  ok\] text +the statement text you gave is the ledger's", text)
    assert "#1    NGO A (ngo-a.example, BE)  key " in text
    assert "What this does not prove:" in text

    document = json.loads(ok("verify", "--json", "letter.db").stdout)
    assert document["schema"] == "endorsement-ledger/verify-report/v1"
    assert document["verified"] is True
    assert document["size"] == 3
    assert document["statement_hash"] == f"sha256:{digest}"
    assert {document["checks"][check] for check in ENTRY_CHECKS} == {"passed"}
    assert document["problems"] == []
    assert [s["name"] for s in document["signatories"]] == ["NGO A", "NGO B"]
    assert document["signatories"][0]["fingerprint"] == fingerprint_a
    assert document["signatories"][0]["signed_at_unix"] == T0

    result = run("verify", "letter.db", "--statement", "other.txt")
    assert result.exit_code == 1
    assert result.stdout.startswith("DOES NOT VERIFY: letter.db: 1 problem(s) in 3 entries")
    assert "[FAIL] text" in result.stdout
    assert "  the given statement text is not the one in the ledger" in result.stdout
    document = json.loads(run("verify", "--json", "letter.db", "--statement", "other.txt").stdout)
    assert document["verified"] is False
    assert document["statement_text_matches"] is False

    # Appending the same endorsement again is rejected, and nothing changes.
    before = stored_entries(Path("letter.db"))
    result = run("append", "letter.db", "a.cose")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ledger: rejected: a.cose: key {fingerprint_a} already endorsed at entry 1",
        "ledger: 0 appended, 1 rejected",
    ]
    assert stored_entries(Path("letter.db")) == before


# --- Shared inputs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad inputs in one directory: keys, statements, endorsements, a 2-entry ledger."""
    root = tmp_path_factory.mktemp("kit")
    (root / "statement.txt").write_bytes(STATEMENT)
    (root / "other.txt").write_bytes(OTHER_STATEMENT)
    ledger.write_key_pair(root / "log.key", LOG_KEY)
    ledger.write_key_pair(root / "a.key", org_key(1))
    (root / "a.cose").write_bytes(org_endorsement(1))
    (root / "b.cose").write_bytes(org_endorsement(2))
    with ledger.Ledger.create(
        root / "ledger.db", statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        book.append([("a", org_endorsement(1)), ("b", org_endorsement(2))], now=T0 + 1)
    bad = {
        "nul.txt": b"line one\nab\x00c\n",
        "bidi.txt": "abc \u202e def\n".encode(),
        "invalid-utf8.txt": b"fine\n\xc3\x28 not fine\n",
        "empty": b"",
        "truncated.cose": org_endorsement(1)[:40],
        "garbage.cose": b"\xd2garbage",
        "garbage.key": b"garbage\n",
        "truncated.key": (root / "a.key").read_bytes()[:30],
        "text.db": b"SQLite format 4 or so, a text file pretending\n",
        "truncated.db": (root / "ledger.db").read_bytes()[:4096],
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)
    db = sqlite3.connect(root / "foreign.db")
    with db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    (root / "dir").mkdir()
    return root


INSPECT_MESSAGES = {
    "truncated.cose": "endorsement: not valid CBOR",
    "garbage.cose": "endorsement: not valid CBOR",
    "empty": "not an endorsement, entry or key file of this format",
    "garbage.key": "not an endorsement, entry or key file of this format",
    "nul.txt": "not an endorsement, entry or key file of this format",
    "missing": "cannot read file missing",
    "dir": "'dir' is a directory",
}
STATEMENT_INPUTS = {
    "nul.txt": "line 2 column 3",
    "bidi.txt": "line 1 column 5",
    "invalid-utf8.txt": "line 2 column 1",
    "empty": "statement text is empty",
    "missing": "missing",
    "dir": "dir",
}
KEY_INPUTS = ("garbage.key", "truncated.key", "empty", "missing", "dir", "a.cose")
ENDORSEMENT_INPUTS = ("truncated.cose", "garbage.cose", "empty", "missing", "dir")
LEDGER_INPUTS = (
    "text.db",
    "truncated.db",
    "foreign.db",
    "empty",
    "statement.txt",
    "missing",
    "dir",
)

# Each command, with {} where the malformed input goes, and the inputs to give it.
COMMANDS = (
    ("statement hash {}", STATEMENT_INPUTS),
    ("statement canonical {}", STATEMENT_INPUTS),
    ("endorse --key a.key --statement {} --name X --out new.cose", STATEMENT_INPUTS),
    (
        f"init new.db --statement {{}} --title T --origin {ORIGIN} --log-key log.key",
        STATEMENT_INPUTS,
    ),
    ("verify ledger.db --statement {}", STATEMENT_INPUTS),
    ("endorse --key {} --statement statement.txt --name X --out new.cose", KEY_INPUTS),
    (
        f"init new.db --statement statement.txt --title T --origin {ORIGIN} --log-key {{}}",
        KEY_INPUTS,
    ),
    ("key show {}", KEY_INPUTS),
    ("inspect {}", (*ENDORSEMENT_INPUTS, "garbage.key", "nul.txt")),
    ("append {} a.cose", LEDGER_INPUTS),
    ("list {}", LEDGER_INPUTS),
    ("verify {}", LEDGER_INPUTS),
    ("verify --json {}", LEDGER_INPUTS),
)
CASES = [(tuple(command.split()), name) for command, names in COMMANDS for name in names]


def _mark(case: tuple[tuple[str, ...], str]) -> object:
    return pytest.param(case, id=f"{' '.join(case[0])}:{case[1]}")


@pytest.mark.parametrize("case", [_mark(c) for c in CASES])
def test_malformed_input_is_one_error_line(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[tuple[str, ...], str]
) -> None:
    args, name = case
    work = tmp_path / "work"
    shutil.copytree(kit, work, symlinks=True)
    monkeypatch.chdir(work)
    before = stored_entries(work / "ledger.db")
    result = run(*(name if arg == "{}" else arg for arg in args))
    line = assert_error(result, 2)
    if args[args.index("{}") - 1] in ("hash", "canonical", "--statement"):
        assert STATEMENT_INPUTS[name] in line
    elif args[0] == "inspect":
        assert INSPECT_MESSAGES[name] in line
    else:
        assert name in line  # the message names the file
    assert result.stdout == ""
    assert not (work / "new.db").exists()
    assert not (work / "new.cose").exists()
    assert stored_entries(work / "ledger.db") == before


@pytest.mark.parametrize("name", ["missing", "dir"])
def test_unreadable_endorsement_file_in_append_is_an_error(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(kit)
    shutil.copy(kit / "ledger.db", tmp_path / "ledger.db")
    before = stored_entries(tmp_path / "ledger.db")
    result = run("append", tmp_path / "ledger.db", "b.cose", name)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert name in result.stderr
    assert stored_entries(tmp_path / "ledger.db") == before  # nothing of the batch went in


@pytest.mark.parametrize("name", ["truncated.cose", "garbage.cose", "empty", "statement.txt"])
def test_malformed_endorsement_in_append_is_rejected(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(kit)
    path = tmp_path / "ledger.db"
    ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ).close()
    result = run("append", path, "a.cose", name)
    assert result.exit_code == 1
    assert result.stdout == "entry 1: a.cose\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"ledger: rejected: {name}: endorsement: ")
    assert lines[1] == "ledger: 1 appended, 1 rejected"
    assert "Traceback" not in result.stderr
    assert [seq for seq, _ in stored_entries(path)] == [0, 1]


def test_atomic_append_rejects_the_whole_batch(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(kit)
    path = tmp_path / "ledger.db"
    ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ).close()
    result = run("append", "--atomic", path, "a.cose", "truncated.cose")
    assert_error(result, 1, "truncated.cose: endorsement: ")
    assert result.stdout == ""
    assert [seq for seq, _ in stored_entries(path)] == [0]


def test_verify_with_a_malformed_statement_is_an_input_error(kit: Path) -> None:
    # A journalist's malformed statement file is not evidence against the ledger: exit 2.
    result = run("verify", kit / "ledger.db", "--statement", kit / "bidi.txt")
    line = assert_error(result, 2)
    assert "statement text rejected: line 1 column 5" in line
    assert result.stdout == ""


def test_statement_error_lists_every_offender_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes("first\u200b line\nsecond \u202e\x07\n".encode())
    line = assert_error(run("statement", "hash", path), 2)
    assert "line 1 column 6: U+200B ZERO WIDTH SPACE" in line
    assert "line 2 column 8: U+202E RIGHT-TO-LEFT OVERRIDE" in line
    assert "line 2 column 9: U+0007" in line


def test_statement_from_standard_input() -> None:
    result = ok("statement", "hash", "-", stdin=STATEMENT.replace(b"\n", b"\r\n"))
    assert result.stdout == f"sha256:{STATEMENT_HASH.hex()}\n"


def test_canonical_output_file_is_not_overwritten(tmp_path: Path) -> None:
    source, out = tmp_path / "s.txt", tmp_path / "canonical.txt"
    source.write_bytes(b"text  \r\n")
    ok("statement", "canonical", source, "-o", out)
    assert out.read_bytes() == b"text\n"
    source.write_bytes(b"new text\n")
    assert_error(run("statement", "canonical", source, "-o", out), 2, "exists")
    assert out.read_bytes() == b"text\n"
    ok("statement", "canonical", source, "-o", out, "--force")
    assert out.read_bytes() == b"new text\n"


# --- Keys -----------------------------------------------------------------------------------------


def test_keygen_writes_a_private_secret_and_a_one_line_public_key(tmp_path: Path) -> None:
    out = tmp_path / "ngo.key"
    result = ok("keygen", "--name", "ngo.example", "--out", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    public = (tmp_path / "ngo.key.pub").read_text()
    assert public.count("\n") == 1
    assert public.endswith("\n")
    assert public.startswith("ledger-pub1:ngo.example:")
    key = ledger.read_secret_key(out)
    assert ledger.read_public_key(tmp_path / "ngo.key.pub") == key.public
    assert f"fingerprint: {key.public.fingerprint}" in result.stdout


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ngo.key"
    ok("keygen", "--name", "ngo.example", "--out", out)
    secret, public = out.read_bytes(), (tmp_path / "ngo.key.pub").read_bytes()
    assert_error(run("keygen", "--name", "other.example", "--out", out), 2, "exists")
    assert out.read_bytes() == secret
    assert (tmp_path / "ngo.key.pub").read_bytes() == public


def test_keygen_refuses_an_invalid_name(tmp_path: Path) -> None:
    assert_error(run("keygen", "--name", "a b", "--out", tmp_path / "k"), 2, "whitespace")
    assert list(tmp_path.iterdir()) == []


def test_keygen_with_passphrase_file_then_endorse_needs_it(tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(b"correct horse battery staple\n")
    statement = tmp_path / "statement.txt"
    statement.write_bytes(STATEMENT)
    out = tmp_path / "ngo.key"
    result = ok("keygen", "--name", "ngo.example", "--out", out, "--passphrase-file", passphrase)
    assert "passphrase-protected" in result.stdout
    assert result.stderr == ""  # no hint to protect it
    assert out.read_text().startswith("ledger-sec1-scrypt:")
    assert ledger.secret_key_is_encrypted(out)

    endorse = ("endorse", "--key", out, "--statement", statement, "--name", "NGO")
    line = assert_error(run(*endorse, "--out", tmp_path / "a.cose", stdin=b""), 2)
    assert "passphrase-protected" in line
    assert "--passphrase-file" in line
    assert not (tmp_path / "a.cose").exists()

    ok(*endorse, "--out", tmp_path / "a.cose", "--passphrase-file", passphrase)
    signed = ledger.decode_endorsement((tmp_path / "a.cose").read_bytes())
    assert (
        ledger.verify_endorsement(signed).raw
        == ledger.read_public_key(tmp_path / "ngo.key.pub").raw
    )


def test_a_wrong_passphrase_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "right").write_bytes(b"right\n")
    (tmp_path / "wrong").write_bytes(b"wrong\n")
    (tmp_path / "s.txt").write_bytes(STATEMENT)
    out = tmp_path / "ngo.key"
    ok("keygen", "--name", "ngo.example", "--out", out, "--passphrase-file", tmp_path / "right")
    result = run(
        "endorse", "--key", out, "--statement", tmp_path / "s.txt", "--name", "NGO",
        "--passphrase-file", tmp_path / "wrong", "--out", tmp_path / "a.cose",
    )  # fmt: skip
    # Exit 1, as a VerificationError: questionable, since it is not a ledger that does not
    # verify but an input error (see the report).
    assert_error(result, result.exit_code, "wrong passphrase")
    assert result.exit_code in (1, 2)
    assert not (tmp_path / "a.cose").exists()


def test_keygen_passphrase_prompt_needs_a_terminal(tmp_path: Path) -> None:
    result = run("keygen", "--name", "ngo.example", "--out", tmp_path / "k", "--passphrase")
    assert_error(result, 2, "--passphrase needs a terminal; use --passphrase-file")
    assert "Passphrase" not in result.stdout + result.stderr.split("\n", 1)[1]
    assert list(tmp_path.iterdir()) == []


def test_empty_passphrase_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"\n")
    result = run("keygen", "--name", "n.example", "--out", tmp_path / "k", "--passphrase-file",
                 tmp_path / "p")  # fmt: skip
    assert_error(result, 2, "empty")
    assert not (tmp_path / "k").exists()


def test_key_show_on_public_and_secret_files(tmp_path: Path) -> None:
    out = tmp_path / "ngo.key"
    ledger.write_key_pair(out, org_key(1))
    public = org_key(1).public
    expected = [
        f"name:         {public.name}",
        f"public key:   {public.to_text()}",
        f"fingerprint:  {public.fingerprint}",
        f"verifier key: {public.to_verifier_key()}  (C2SP signed-note form, for a log key)",
    ]
    assert ok("key", "show", tmp_path / "ngo.key.pub").stdout.splitlines() == expected
    assert ok("key", "show", out).stdout.splitlines() == expected


def test_key_show_on_an_encrypted_secret_file(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"pass\n")
    out = tmp_path / "ngo.key"
    ledger.write_key_pair(out, org_key(2), passphrase=b"pass")
    fingerprint = f"fingerprint:  {org_key(2).public.fingerprint}"
    assert fingerprint in ok("key", "show", out).stdout  # from ngo.key.pub beside it
    (tmp_path / "ngo.key.pub").unlink()
    assert_error(run("key", "show", out), 2, "passphrase-protected")
    assert fingerprint in ok("key", "show", out, "--passphrase-file", tmp_path / "p").stdout


# --- Tampering and hostile names ------------------------------------------------------------------


def test_a_tampered_ledger_does_not_verify_and_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        book.append([(str(n), org_endorsement(n)) for n in range(1, 6)], now=T0 + 1)
    data = dict(stored_entries(path))[3]
    set_entry_data(path, 3, flip(data, len(data) - 5))  # a byte of entry 3's signature
    result = run("verify", path)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"DOES NOT VERIFY: {path}: 2 problem(s) in 6 entries")
    assert "  entry 3: endorsement does not verify" in result.stdout
    assert "  entry 4: prev is " in result.stdout
    assert "[FAIL] signatures" in result.stdout
    assert result.stderr == ""
    document = json.loads(run("verify", "--json", path).stdout)
    assert {(p["entry"], p["check"]) for p in document["problems"]} == {
        (3, "signatures"),
        (4, "links"),
    }
    listed = run("list", path)
    assert listed.exit_code == 1
    assert "does not verify" in listed.stderr
    assert "Traceback" not in listed.stderr


@pytest.mark.parametrize(
    "name",
    ["Org\u202eevil", "Org\x1b[31mRed", "Two\nlines", "Tab\there", "Zero\u200bwidth", " padded"],
    ids=["bidi", "escape", "newline", "tab", "zero-width", "leading-space"],
)
def test_endorse_refuses_a_hostile_name(kit: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "x.cose"
    result = run(
        "endorse", "--key", kit / "a.key", "--statement", kit / "statement.txt", "--name", name,
        "--out", out,
    )  # fmt: skip
    line = assert_error(result, 2, "name")
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert not out.exists()


def test_a_name_with_markup_is_accepted_and_printed_literally(
    kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = "<script>alert('x')</script> & Co"
    result = ok(
        "endorse", "--key", kit / "a.key", "--statement", kit / "statement.txt", "--name", name,
        "--time", str(T0), "--out", "x.cose",
    )  # fmt: skip
    assert result.stdout.startswith(f"wrote x.cose: {name} endorses sha256:")
    assert f"name:        {name}\n" in ok("inspect", "x.cose").stdout
    with ledger.Ledger.create(
        "l.db", statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        assert book.append([("x", Path("x.cose").read_bytes())]).appended == (("x", 1),)
    assert ok("list", "l.db").stdout.split("\t")[1] == name
    assert f"#1    {name}  key " in ok("verify", "l.db").stdout
    assert json.loads(ok("verify", "--json", "l.db").stdout)["signatories"][0]["name"] == name


@pytest.mark.parametrize("field", ["signed_at", "recorded_at"])
def test_a_far_future_time_does_not_crash_the_reader(tmp_path: Path, field: str) -> None:
    # Regression: render.format_time passed any uint to time.gmtime, so one endorsement signed
    # at 2**64 - 1 (then accepted by append) made verify, verify --json and list crash with
    # OverflowError for everyone. Whether such a time is refused or shown, nothing may crash.
    path = tmp_path / "ledger.db"
    ledger.Ledger.create(
        path, statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ).close()
    far = 2**64 - 1
    signed_at = far if field == "signed_at" else T0
    cose = forged_endorsement(org_key(1), org_key(1), name="Far Future", signed_at=signed_at)
    prev = hash_leaf(stored_entries(path)[0][1])
    recorded_at = far if field == "recorded_at" else T0
    data = codec.encode({0: 1, 1: 1, 2: prev, 3: 1, 4: STATEMENT_HASH, 5: recorded_at, 6: cose})
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO entries VALUES (1, ?, ?)", (hash_leaf(data), data))
    db.close()
    for args in (("verify", path), ("verify", "--json", path), ("list", path)):
        result = run(*args)  # an exception escaping the CLI fails here
        assert result.exit_code in (0, 1), (args, result.stderr)
        assert "Traceback" not in result.stderr
    text = run("verify", path).stdout
    assert "entry 1" in text or "Far Future" in text
    result = script("verify", path, cwd=tmp_path)
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr


# --- The installed script, in a subprocess --------------------------------------------------------


def script(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LEDGER_SCRIPT), *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not LEDGER_SCRIPT.exists(), reason="the ledger script is not installed")
def test_the_installed_script_exit_codes(kit: Path, tmp_path: Path) -> None:
    good = script("verify", kit / "ledger.db", "--statement", kit / "statement.txt", cwd=tmp_path)
    assert good.returncode == 0
    assert good.stdout.startswith("VERIFIED: ")
    assert good.stderr == ""

    tampered = tmp_path / "tampered.db"
    shutil.copy(kit / "ledger.db", tampered)
    data = dict(stored_entries(tampered))[1]
    set_entry_data(tampered, 1, flip(data, len(data) - 1))
    bad = script("verify", tampered, cwd=tmp_path)
    assert bad.returncode == 1
    assert "entry 1: endorsement does not verify" in bad.stdout

    for args in (
        ("statement", "hash", kit / "nul.txt"),
        ("verify", kit / "text.db"),
        ("verify", kit / "missing"),
        ("inspect", kit / "truncated.cose"),
        (
            "endorse",
            "--key",
            kit / "garbage.key",
            "--statement",
            kit / "statement.txt",
            "--name",
            "X",
            "--out",
            tmp_path / "x.cose",
        ),
        ("verify", kit / "dir"),
        ("no-such-command",),
    ):
        result = script(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr, args
        assert result.stdout == "", args

    version = script("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout == f"ledger, version {ledger.__version__}\n"
