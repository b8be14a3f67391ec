"""Transcripts of ``ledger checkpoint``, ``prove``, ``verify-proof`` and anchored ``verify``.

The campaign signs checkpoints and proves inclusion and consistency; an organisation checks its
own entry offline; a reader verifies against a checkpoint it kept, a log key it trusts and a
witness policy. Commands run in-process with click's CliRunner; a few run the installed script
to check real exit codes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner, Result

import ledger
from helpers import (
    LOG_KEY,
    ORIGIN,
    STATEMENT,
    T0,
    flip,
    org_endorsement,
    org_key,
    seeded_key,
    stored_entries,
)
from ledger import merkle
from ledger.keys import SigningKey
from ledger.note import open_checkpoint, parse_note, witness_verifier_key

LEDGER_SCRIPT = Path(sys.executable).with_name("ledger")
IMPOSTOR = SigningKey.from_seed(ORIGIN, bytes(range(32)))  # the origin's name, another key
GAZETTE = seeded_key("gazette.example/witness")
COURIER = seeded_key("courier.example/witness")
LOG_VKEY = LOG_KEY.public.to_verifier_key()


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


def b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def policy_text(quorum: str, log_vkey: str = LOG_VKEY) -> str:
    return (
        f"log {log_vkey}\n"
        f"witness gazette {witness_verifier_key(GAZETTE.public)}\n"
        f"witness courier {witness_verifier_key(COURIER.public)}\n"
        f"quorum {quorum}\n"
    )


@pytest.fixture
def campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In the working directory: keys, endorsements 1..6, and letter.db.

    letter.db holds genesis and orgs 1..4, with a checkpoint at size 3 (``old.cp``) and the
    latest at size 5; org 5 is appended after it (entry 5, not covered by any checkpoint).
    """
    monkeypatch.chdir(tmp_path)
    Path("statement.txt").write_bytes(STATEMENT)
    ledger.write_key_pair(Path("log.key"), LOG_KEY)
    ledger.write_key_pair(Path("impostor.key"), IMPOSTOR)
    ledger.write_key_pair(Path("gazette.key"), GAZETTE)
    ledger.write_key_pair(Path("courier.key"), COURIER)
    for number in range(1, 7):
        ledger.write_key_pair(Path(f"org{number}.key"), org_key(number))
        Path(f"org{number}.cose").write_bytes(org_endorsement(number))
    with ledger.Ledger.create(
        "letter.db", statement=STATEMENT, title="Our letter", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        book.append([("org1", org_endorsement(1)), ("org2", org_endorsement(2))], now=T0 + 2)
        Path("old.cp").write_bytes(book.checkpoint(LOG_KEY, now=T0 + 10))
        book.append([("org3", org_endorsement(3)), ("org4", org_endorsement(4))], now=T0 + 4)
        book.checkpoint(LOG_KEY, now=T0 + 11)
        book.append([("org5", org_endorsement(5))], now=T0 + 5)
    Path("log.vkey").write_text(LOG_VKEY + "\n")
    return tmp_path


# --- The campaign's transcript --------------------------------------------------------------------


def test_checkpoint_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("statement.txt").write_bytes(STATEMENT)
    ledger.write_key_pair(Path("log.key"), LOG_KEY)
    ledger.write_key_pair(Path("org1.key"), org_key(1))
    for number in range(1, 5):
        Path(f"org{number}.cose").write_bytes(org_endorsement(number))

    ok("init", "letter.db", "--statement", "statement.txt", "--title", "Our letter",
       "--origin", ORIGIN, "--log-key", "log.key", "--time", str(T0))  # fmt: skip
    ok("append", "letter.db", "org1.cose", "org2.cose", "--time", str(T0 + 10))
    result = ok(
        "checkpoint", "letter.db", "--log-key", "log.key", "--out", "old.cp", "--time", str(T0 + 20)
    )
    assert result.stdout == ""
    old = Path("old.cp").read_bytes()
    verified = open_checkpoint(old, LOG_KEY.public)
    assert (verified.checkpoint.origin, verified.checkpoint.size) == (ORIGIN, 3)

    ok("append", "letter.db", "org3.cose", "org4.cose", "--time", str(T0 + 30))
    latest = ok("checkpoint", "letter.db", "--log-key", "log.key", "--time", str(T0 + 40))
    new = open_checkpoint(latest.stdout_bytes, LOG_KEY.public).checkpoint
    assert new.size == 5
    with ledger.Ledger.open("letter.db", readonly=True) as book:
        assert book.latest_checkpoint() == latest.stdout_bytes
        assert new.root == merkle.root(book.store, 5)
        assert verified.checkpoint.root == merkle.root(book.store, 3)

    report = ok("verify", "letter.db", "--checkpoint", "old.cp").stdout
    assert report.startswith("VERIFIED: letter.db: 5 entries, 4 current signatories")
    assert "[  ok] consistency the ledger extends the checkpoint you saved" in report
    assert "[  ok] checkpoint" in report
    assert "What was checked (every entry):" in report

    report = ok("verify", "letter.db", "--checkpoint", "old.cp", "--incremental").stdout
    assert report.startswith("VERIFIED: letter.db: 5 entries")
    assert "[  ok] consistency" in report
    assert "incremental: entries from 3 on, trusting your checkpoint for the ones before" in report

    document = json.loads(
        ok("verify", "letter.db", "--checkpoint", "old.cp", "--incremental", "--json").stdout
    )
    assert document["verified"] is True
    assert (document["mode"], document["entries_from"]) == ("incremental", 3)
    assert document["checks"]["consistency"] == "passed"
    assert document["checks"]["checkpoint"] == "passed"
    assert document["saved_checkpoint"]["size"] == 3
    assert document["checkpoint"]["size"] == 5

    # --out never replaces a file unless --force; --force does.
    assert_error(run("checkpoint", "letter.db", "--log-key", "log.key", "--out", "old.cp"), 2,
                 "exists")  # fmt: skip
    assert Path("old.cp").read_bytes() == old
    ok("checkpoint", "letter.db", "--log-key", "log.key", "--out", "old.cp", "--force")
    assert open_checkpoint(Path("old.cp").read_bytes(), LOG_KEY.public).checkpoint.size == 5

    # Only the ledger's own log key signs its checkpoints.
    assert_error(run("checkpoint", "letter.db", "--log-key", "org1.key"), 2,
                 "not the ledger's log key")  # fmt: skip
    assert_error(run("checkpoint", "letter.db"), 2, "--log-key", "--add-cosignature")


def test_incremental_without_a_checkpoint_is_a_usage_error(campaign: Path) -> None:
    assert_error(run("verify", "letter.db", "--incremental"), 2, "checkpoint you saved")


# --- Inclusion proofs: tlog-proof files and verify-proof -----------------------------------------


def test_prove_inclusion_then_verify_proof(campaign: Path) -> None:
    ok("prove", "inclusion", "letter.db", "--index", "2", "--out", "org2.tlog-proof")
    proof = ledger.parse_tlog_proof(Path("org2.tlog-proof").read_bytes())
    assert proof.index == 2
    assert proof.extra == dict(stored_entries(Path("letter.db")))[2]
    assert proof.checkpoint_body.size == 5

    for log_pub in (LOG_VKEY, "log.key.pub", "log.vkey"):  # a vkey, our .pub, a vkey file
        result = ok("verify-proof", "org2.tlog-proof", "--log-pub", log_pub)
        lines = result.stdout.splitlines()
        assert lines[0] == f"VERIFIED: entry 2 is in {ORIGIN} at size 5"
        assert "  name: Org 2" in lines
        assert f"  fingerprint: {org_key(2).public.fingerprint}" in lines

    ok("prove", "inclusion", "letter.db", "--key", "org3.key.pub", "--out", "org3.tlog-proof")
    assert ledger.parse_tlog_proof(Path("org3.tlog-proof").read_bytes()).index == 3
    result = ok("verify-proof", "org3.tlog-proof", "--log-pub", "log.key.pub")
    assert result.stdout.startswith(f"VERIFIED: entry 3 is in {ORIGIN} at size 5\n")
    assert "  name: Org 3\n" in result.stdout

    # --entry gives the bytes when they are not in the proof (or checks the ones given).
    Path("entry2.bin").write_bytes(dict(stored_entries(Path("letter.db")))[2])
    ok("verify-proof", "org2.tlog-proof", "--log-pub", LOG_VKEY, "--entry", "entry2.bin")
    Path("entry3.bin").write_bytes(dict(stored_entries(Path("letter.db")))[3])
    assert_error(
        run("verify-proof", "org2.tlog-proof", "--log-pub", LOG_VKEY, "--entry", "entry3.bin"),
        1,
        "does not lead to the root",
    )


def test_attack_verify_proof_with_another_log_key(campaign: Path) -> None:
    ok("prove", "inclusion", "letter.db", "--index", "1", "--out", "org1.tlog-proof")
    assert_error(
        run("verify-proof", "org1.tlog-proof", "--log-pub", "impostor.key.pub"),
        1,
        "not signed by the log key",
    )
    assert_error(
        run("verify-proof", "org1.tlog-proof", "--log-pub", "org1.key.pub"),
        1,
        f"checkpoint origin {ORIGIN!r} is not the log key name",
    )


def _tamper_line(data: bytes, number: int, change: Callable[[bytes], bytes]) -> bytes:
    lines = data.split(b"\n")
    lines[number] = change(lines[number])
    return b"\n".join(lines)


def _flip_b64(line: bytes, prefix: bytes = b"") -> bytes:
    raw = b64decode(line[len(prefix) :].decode())
    return prefix + base64.b64encode(flip(raw, len(raw) - 1))


# Line numbers of a tlog-proof for entry 2 of 5: header, extra, index, 3 hashes, "", checkpoint.
TAMPERS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    "proof-hash": (3, _flip_b64),
    "last-proof-hash": (5, _flip_b64),
    "entry-bytes": (1, lambda line: _flip_b64(line, b"extra ")),
    "index": (2, lambda line: b"index 3"),
    "checkpoint-root": (9, _flip_b64),
}


@pytest.mark.parametrize(("line", "change"), TAMPERS.values(), ids=TAMPERS.keys())
def test_attack_tampered_tlog_proof_does_not_verify(
    campaign: Path, line: int, change: Callable[[bytes], bytes]
) -> None:
    ok("prove", "inclusion", "letter.db", "--index", "2", "--out", "org2.tlog-proof")
    original = Path("org2.tlog-proof").read_bytes()
    assert original.split(b"\n")[2] == b"index 2"
    assert original.split(b"\n")[6] == b""
    assert original.split(b"\n")[7] == ORIGIN.encode()
    tampered = _tamper_line(original, line, change)
    assert tampered != original
    Path("tampered.tlog-proof").write_bytes(tampered)
    assert_error(run("verify-proof", "tampered.tlog-proof", "--log-pub", LOG_VKEY), 1)


def test_prove_refuses_an_entry_not_covered_by_the_checkpoint(campaign: Path) -> None:
    assert_error(
        run("prove", "inclusion", "letter.db", "--index", "5", "--out", "x.tlog-proof"),
        2,
        "the latest checkpoint covers 5 entries, not entry 5",
    )
    assert_error(run("prove", "inclusion", "letter.db", "--key", "org5.key.pub"), 2,
                 "not entry 5")  # fmt: skip
    assert_error(run("prove", "inclusion", "letter.db", "--key", "org6.key.pub"), 2,
                 "endorsement in this ledger")  # fmt: skip
    assert_error(run("prove", "inclusion", "letter.db", "--index", "99", "--json"), 2)
    assert_error(run("prove", "inclusion", "letter.db"), 2, "--index or --key")
    assert_error(run("prove", "inclusion", "letter.db", "--index", "1", "--size", "3"), 2,
                 "--size goes with --json")  # fmt: skip
    assert not Path("x.tlog-proof").exists()

    with ledger.Ledger.create(
        "fresh.db", statement=STATEMENT, title="T", origin=ORIGIN, log_key=LOG_KEY, now=T0
    ):
        pass
    assert_error(run("prove", "inclusion", "fresh.db", "--index", "0"), 2, "no checkpoint")


def test_prove_inclusion_json_shape_and_hashes(campaign: Path) -> None:
    entries = [data for _, data in stored_entries(Path("letter.db"))]
    latest = open_checkpoint(Path("old.cp").read_bytes(), LOG_KEY.public).checkpoint
    for size in (3, 6):
        for index in range(size):
            result = ok("prove", "inclusion", "letter.db", "--index", str(index), "--json",
                        "--size", str(size))  # fmt: skip
            document = json.loads(result.stdout)
            assert list(document) == ["index", "size", "leaf_hash", "root", "proof"]
            assert (document["index"], document["size"]) == (index, size)
            leaf_hash = b64decode(document["leaf_hash"])
            root = b64decode(document["root"])
            path = [b64decode(value) for value in document["proof"]]
            assert leaf_hash == merkle.hash_leaf(entries[index])
            merkle.verify_inclusion(leaf_hash, index, size, path, root)
            if size == 3:
                assert root == latest.root  # the root old.cp signed
    # Default: the whole ledger, even past the latest checkpoint.
    document = json.loads(ok("prove", "inclusion", "letter.db", "--index", "5", "--json").stdout)
    assert document["size"] == 6


def test_prove_consistency_json_shape_and_hashes(campaign: Path) -> None:
    old = open_checkpoint(Path("old.cp").read_bytes(), LOG_KEY.public).checkpoint
    with ledger.Ledger.open("letter.db", readonly=True) as book:
        latest = open_checkpoint(book.latest_checkpoint() or b"", LOG_KEY.public).checkpoint
    for old_size in range(6):
        result = ok("prove", "consistency", "letter.db", "--old-size", str(old_size), "--json",
                    "--size", "5")  # fmt: skip
        document = json.loads(result.stdout)
        assert list(document) == ["old_size", "size", "old_root", "root", "proof"]
        assert (document["old_size"], document["size"]) == (old_size, 5)
        old_root = b64decode(document["old_root"])
        root = b64decode(document["root"])
        assert root == latest.root
        if old_size == 3:
            assert old_root == old.root
        merkle.verify_consistency(
            old_size, 5, old_root, root, [b64decode(value) for value in document["proof"]]
        )
    text = ok("prove", "consistency", "letter.db", "--old-size", "3", "--size", "5").stdout
    lines = text.splitlines()
    assert lines[0] == f"old size 3: root {base64.b64encode(old.root).decode()}"
    assert lines[1] == f"size     5: root {base64.b64encode(latest.root).decode()}"
    assert len(lines) > 2
    assert_error(run("prove", "consistency", "letter.db", "--old-size", "7"), 2)
    assert_error(run("prove", "consistency", "letter.db", "--old-size", "4", "--size", "3"), 2)


# --- Witnesses: the round trip -------------------------------------------------------------------


def _witness_round(old_size: int, when: int) -> bytes:
    """One round: request, cosignature by the gazette, attached; returns the cosignature."""
    request = ok("prove", "consistency", "letter.db", "--old-size", str(old_size),
                 "--witness-request").stdout_bytes  # fmt: skip
    assert request.startswith(f"old {old_size}\n".encode())
    Path("request").write_bytes(request)
    cosignature = ok("witness", "cosign", "gazette.json", "request", "--key", "gazette.key",
                     "--time", str(when)).stdout_bytes  # fmt: skip
    assert cosignature.startswith(f"\u2014 {GAZETTE.name} ".encode())
    Path("cosig").write_bytes(cosignature)
    ok("checkpoint", "letter.db", "--add-cosignature", "cosig")
    return cosignature


def test_witness_round_trip_and_policies(campaign: Path) -> None:
    Path("gazette.policy").write_text(policy_text("gazette"))
    Path("courier.policy").write_text(policy_text("courier"))
    ok("witness", "init", "gazette.json", "--key", "gazette.key.pub")
    ok("witness", "add-log", "gazette.json", "--log-pub", "log.key.pub")

    # Before any cosignature, a policy requiring one is not met.
    result = run("verify", "letter.db", "--policy", "gazette.policy")
    assert result.exit_code == 1
    assert "[FAIL] witnesses" in result.stdout

    cosignature = _witness_round(0, T0 + 500)
    with ledger.Ledger.open("letter.db", readonly=True) as book:
        note = book.latest_checkpoint()
    assert note is not None
    assert note.endswith(cosignature)
    assert len(parse_note(note).signatures) == 2

    result = ok("verify", "letter.db", "--policy", "gazette.policy")
    assert "[  ok] witnesses" in result.stdout
    assert "quorum gazette: satisfied" in result.stdout
    assert "cosigned by 1 witness(es)" in result.stdout
    document = json.loads(ok("verify", "letter.db", "--policy", "gazette.policy", "--json").stdout)
    assert document["checkpoint"]["witnesses"] == [{"name": GAZETTE.name, "timestamp": T0 + 500}]
    assert document["checks"]["witnesses"] == "passed"

    result = run("verify", "letter.db", "--policy", "courier.policy")
    assert result.exit_code == 1
    assert "[FAIL] witnesses" in result.stdout
    assert "the witness policy's quorum 'courier' is not satisfied" in result.stdout

    # The organisation's offline proof carries the cosignature too.
    ok("prove", "inclusion", "letter.db", "--index", "2", "--out", "org2.tlog-proof")
    result = ok("verify-proof", "org2.tlog-proof", "--log-pub", LOG_VKEY, "--policy",
                "gazette.policy")  # fmt: skip
    assert "quorum gazette: satisfied" in result.stdout
    assert_error(
        run("verify-proof", "org2.tlog-proof", "--log-pub", LOG_VKEY, "--policy", "courier.policy"),
        1,
        "the witness policy is not satisfied",
    )

    # Second round, after more entries: the witness checks consistency from what it cosigned.
    ok("append", "letter.db", "org6.cose", "--time", str(T0 + 600))
    ok("checkpoint", "letter.db", "--log-key", "log.key", "--time", str(T0 + 601))
    assert run("verify", "letter.db", "--policy", "gazette.policy").exit_code == 1  # uncosigned
    refused = run("prove", "consistency", "letter.db", "--old-size", "0", "--witness-request")
    Path("stale-request").write_bytes(refused.stdout_bytes)
    assert_error(
        run("witness", "cosign", "gazette.json", "stale-request", "--key", "gazette.key"),
        1,
        "old size 0 is stale",
    )
    _witness_round(5, T0 + 700)
    result = ok("verify", "letter.db", "--policy", "gazette.policy", "--checkpoint", "old.cp")
    assert "[  ok] witnesses" in result.stdout
    assert "[  ok] consistency" in result.stdout


def test_attack_stale_cosignature_attached_to_a_newer_checkpoint(campaign: Path) -> None:
    """``--add-cosignature`` checks form only: a cosignature of an older checkpoint attached to
    the latest one fails the readers' policy (a known witness's signature that does not verify)."""
    Path("gazette.policy").write_text(policy_text("gazette"))
    ok("witness", "init", "gazette.json", "--key", "gazette.key.pub")
    ok("witness", "add-log", "gazette.json", "--log-pub", "log.key.pub")
    request = ok("prove", "consistency", "letter.db", "--old-size", "0",
                 "--witness-request").stdout_bytes  # fmt: skip
    Path("request").write_bytes(request)
    ok("witness", "cosign", "gazette.json", "request", "--key", "gazette.key", "--out", "cosig")
    ok("checkpoint", "letter.db", "--log-key", "log.key", "--time", str(T0 + 900))  # size 6
    ok("checkpoint", "letter.db", "--add-cosignature", "cosig")
    result = run("verify", "letter.db", "--policy", "gazette.policy")
    assert result.exit_code == 1
    assert f"cosignature by {GAZETTE.name!r} does not verify" in result.stdout
    assert "[FAIL] witnesses" in result.stdout
    assert "[FAIL] checkpoint" in result.stdout
    assert run("verify", "letter.db").exit_code == 0  # no policy: no witness key is known


def test_resigning_an_unchanged_ledger_keeps_its_cosignatures(campaign: Path) -> None:
    Path("gazette.policy").write_text(policy_text("gazette"))
    ok("witness", "init", "gazette.json", "--key", "gazette.key.pub")
    ok("witness", "add-log", "gazette.json", "--log-pub", "log.key.pub")
    ok("checkpoint", "letter.db", "--log-key", "log.key", "--time", str(T0 + 400))  # size 6
    _witness_round(0, T0 + 500)
    ok("verify", "letter.db", "--policy", "gazette.policy")
    ok("checkpoint", "letter.db", "--log-key", "log.key", "--time", str(T0 + 800))  # same size
    ok("verify", "letter.db", "--policy", "gazette.policy")


def test_attack_verify_proof_with_a_policy_for_another_log_key(campaign: Path) -> None:
    Path("gazette.policy").write_text(policy_text("gazette"))
    Path("impostor.policy").write_text(policy_text("gazette", IMPOSTOR.public.to_verifier_key()))
    ok("witness", "init", "gazette.json", "--key", "gazette.key.pub")
    ok("witness", "add-log", "gazette.json", "--log-pub", "log.key.pub")
    _witness_round(0, T0 + 500)
    ok("prove", "inclusion", "letter.db", "--index", "2", "--out", "org2.tlog-proof")
    assert run("verify", "letter.db", "--policy", "impostor.policy").exit_code == 1
    result = run(
        "verify-proof", "org2.tlog-proof", "--log-pub", LOG_VKEY, "--policy", "impostor.policy"
    )
    assert result.exit_code == 1


# --- The reader's trusted log key ---------------------------------------------------------------


def test_verify_with_the_trusted_log_key(campaign: Path) -> None:
    for log_pub in (LOG_VKEY, "log.key.pub", "log.vkey"):
        result = ok("verify", "letter.db", "--log-pub", log_pub, "--checkpoint", "old.cp")
        assert result.stdout.startswith("VERIFIED: ")


def test_attack_verify_with_another_log_key(campaign: Path) -> None:
    result = run("verify", "letter.db", "--log-pub", "impostor.key.pub")
    assert result.exit_code == 1
    assert result.stdout.startswith("DOES NOT VERIFY: ")
    assert LOG_KEY.public.fingerprint in result.stdout
    assert IMPOSTOR.public.fingerprint in result.stdout
    assert (
        f"entry 0: the genesis entry names log key {LOG_KEY.public.fingerprint}, not the key "
        f"you trust ({IMPOSTOR.public.fingerprint}): this is another ledger"
    ) in result.stdout
    assert "[FAIL] checkpoint" in result.stdout
    document = json.loads(
        run("verify", "letter.db", "--log-pub", IMPOSTOR.public.to_verifier_key(), "--json").stdout
    )
    assert document["verified"] is False
    assert {"entry": 0, "check": "checkpoint"}.items() <= document["problems"][0].items()


# --- Malformed inputs: exit 2, one error line -----------------------------------------------------


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_missing_checkpoint_file_is_an_input_error(campaign: Path, incremental: bool) -> None:
    extra = ("--incremental",) if incremental else ()
    assert_error(run("verify", "letter.db", "--checkpoint", "missing.cp", *extra), 2, "missing.cp")


def test_oversized_checkpoint_file_is_an_input_error(campaign: Path) -> None:
    Path("huge.cp").write_bytes(b"x" * (1024 * 1024 + 1))
    assert_error(run("verify", "letter.db", "--checkpoint", "huge.cp"), 2, "larger than")


MALFORMED_CHECKPOINTS = {
    "garbage": b"garbage\n",
    "empty": b"",
    "not-utf8": b"\xff\xfe\xfd\n\n",
    "no-signature": f"{ORIGIN}\n3\n{'A' * 43}=\n".encode(),
    "bad-size": f"{ORIGIN}\nthree\n{'A' * 43}=\n\n\u2014 {ORIGIN} AAAAAAAA\n".encode(),
}


@pytest.mark.parametrize("data", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoint_file_is_an_input_error(campaign: Path, data: bytes) -> None:
    Path("bad.cp").write_bytes(data)
    assert_error(run("verify", "letter.db", "--checkpoint", "bad.cp"), 2, "bad.cp")


def test_malformed_checkpoint_file_is_at_least_not_verified(campaign: Path) -> None:
    """Whatever the exit code, a malformed saved checkpoint never passes."""
    for data in MALFORMED_CHECKPOINTS.values():
        Path("bad.cp").write_bytes(data)
        for extra in ((), ("--incremental",)):
            result = run("verify", "letter.db", "--checkpoint", "bad.cp", *extra)
            assert result.exit_code in (1, 2), data
            assert "VERIFIED" not in result.stdout.split("\n", 1)[0]


MALFORMED_POLICIES = {
    "garbage": (b"garbage\n", "unknown keyword 'garbage'"),
    "no-quorum": (f"log {LOG_VKEY}\n".encode(), "no quorum"),
    "not-utf8": (b"quorum none\n\xff\n", "not UTF-8"),
    "no-final-newline": (b"quorum none", "newline"),
    "bad-log-vkey": (b"log example.org/letter+00000000+AAAA\nquorum none\n", "policy line 1"),
    "log-key-as-witness": (
        f"witness w {LOG_VKEY}\nquorum w\n".encode(),
        "policy line 1",
    ),
    "undefined-quorum": (b"quorum gazette\n", "not defined"),
    "empty": (b"", "no quorum"),
}


@pytest.mark.parametrize(
    ("data", "fragment"), MALFORMED_POLICIES.values(), ids=MALFORMED_POLICIES.keys()
)
def test_malformed_policy_file_is_an_input_error(
    campaign: Path, data: bytes, fragment: str
) -> None:
    Path("bad.policy").write_bytes(data)
    assert_error(run("verify", "letter.db", "--policy", "bad.policy"), 2, fragment)
    ok("prove", "inclusion", "letter.db", "--index", "1", "--out", "org1.tlog-proof")
    assert_error(
        run("verify-proof", "org1.tlog-proof", "--log-pub", LOG_VKEY, "--policy", "bad.policy"),
        2,
        fragment,
    )


def test_missing_policy_file_is_an_input_error(campaign: Path) -> None:
    assert_error(run("verify", "letter.db", "--policy", "missing.policy"), 2, "missing.policy")


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
def test_the_installed_script_exit_codes(campaign: Path) -> None:
    good = script("verify", "letter.db", "--checkpoint", "old.cp", "--incremental", cwd=campaign)
    assert good.returncode == 0, good.stderr
    assert "[  ok] consistency" in good.stdout
    assert good.stderr == ""

    ok("prove", "inclusion", "letter.db", "--index", "1", "--out", "org1.tlog-proof")
    wrong = script("verify-proof", "org1.tlog-proof", "--log-pub", "impostor.key.pub",
                   cwd=campaign)  # fmt: skip
    assert wrong.returncode == 1
    assert wrong.stdout == ""
    assert wrong.stderr.splitlines() == ["ledger: error: checkpoint is not signed by the log key"]

    Path("bad.policy").write_text("garbage\n")
    bad = script("verify", "letter.db", "--policy", "bad.policy", cwd=campaign)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith("ledger: error: ")
    assert "Traceback" not in bad.stderr
