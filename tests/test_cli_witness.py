"""Transcripts of ``ledger witness``: a newsroom runs a witness for a campaign's log.

Requests are built with the library (what ``ledger prove consistency --witness-request``
writes); keys are deterministic. Commands run in-process with click's CliRunner under the same
error boundary as ``ledger`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner, Result

from ledger import merkle
from ledger.keyfile import write_key_pair
from ledger.keys import SigningKey
from ledger.note import (
    Checkpoint,
    format_note,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
    witness_verifier_key,
)
from ledger.policy import parse_policy, policy_satisfied
from ledger.witness import AddCheckpointRequest, format_add_checkpoint_request

DASH = "\u2014"
ORIGIN = "example.org/letter"
T = 1_700_000_000


def seeded(name: str, label: str = "") -> SigningKey:
    seed = hashlib.sha256(f"ledger witness cli tests: {name}{label}".encode()).digest()
    return SigningKey.from_seed(name, seed)


LOG = seeded(ORIGIN)
IMPOSTOR = seeded(ORIGIN, " (impostor)")
WITNESS = seeded("newsroom.example/witness")
TREE = merkle.MemoryTree()
FORKED = merkle.MemoryTree()
for _i in range(40):
    TREE.append(f"entry {_i}".encode())
    FORKED.append(f"entry {_i}{' (rewritten)' if _i >= 3 else ''}".encode())


def run(*args: str | Path, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin, catch_exceptions=False)


def ok(*args: str | Path, stdin: bytes | None = None) -> Result:
    result = run(*args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def assert_error(result: Result, code: int, *fragments: str) -> list[str]:
    """Exit ``code``, one ``ledger: error:`` line, then only hints; returns the lines."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("ledger: error: "), lines
    assert all(line.startswith("ledger: hint: ") for line in lines[1:]), lines
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines


def signed(size: int, tree: merkle.MemoryTree = TREE, key: SigningKey = LOG) -> bytes:
    return sign_checkpoint(Checkpoint(key.name, size, merkle.root(tree, size)), key)


def write_request(
    path: Path, old: int, size: int, tree: merkle.MemoryTree = TREE, key: SigningKey = LOG
) -> Path:
    proof = tuple(merkle.prove_consistency(tree, old, size))
    req = AddCheckpointRequest(old, proof, signed(size, tree, key))
    path.write_bytes(format_add_checkpoint_request(req))
    return path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys on disk and an initialised state following LOG; the working directory."""
    monkeypatch.chdir(tmp_path)
    write_key_pair(Path("witness.key"), WITNESS)
    write_key_pair(Path("log.key"), LOG)
    ok("witness", "init", "state.json", "--key", "witness.key.pub")
    ok("witness", "add-log", "state.json", "--log-pub", "log.key.pub")
    return tmp_path


def test_newsroom_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_key_pair(Path("witness.key"), WITNESS)
    write_key_pair(Path("log.key"), LOG)
    vkey = witness_verifier_key(WITNESS.public)

    # The witness verifier key that policy files list (type 0x04).
    result = ok("witness", "vkey", "--key", "witness.key.pub")
    assert result.stdout == vkey + "\n"
    assert result.stderr == f"ledger: hint: in a policy file: witness {WITNESS.name} {vkey}\n"

    result = ok("witness", "init", "state.json", "--key", "witness.key.pub")
    assert result.stdout == f"witness state: state.json\nwitness key:   {vkey}\n"
    assert "add-log state.json" in result.stderr

    result = ok("witness", "show", "state.json")
    assert result.stdout.splitlines() == [
        f"witness: {vkey}",
        "logs:    none (add one with `ledger witness add-log`)",
    ]

    # The campaign publishes log.pub; the newsroom follows the log.
    result = ok("witness", "add-log", "state.json", "--log-pub", "log.key.pub")
    assert result.stdout.splitlines() == [
        f"log:  {ORIGIN}",
        f"key:  {LOG.public.to_verifier_key()}",
        "size: 0 (nothing cosigned yet)",
    ]

    # Three requests as the log grows: each prints the cosignature line (the response body).
    old = 0
    for step, size in enumerate((5, 12, 12, 30)):
        write_request(Path(f"req{step}"), old, size)
        result = ok("witness", "cosign", "state.json", f"req{step}", "--key", "witness.key",
                    "--time", str(T + step))  # fmt: skip
        assert result.stderr == ""
        (line,) = result.stdout.splitlines(keepends=True)
        assert line.startswith(f"{DASH} {WITNESS.name} ")
        opened = open_checkpoint(
            signed(size) + result.stdout.encode(), LOG.public, witnesses=[WITNESS.public]
        )
        assert opened.witnesses_verified == ((WITNESS.public, T + step),)
        old = size

    result = ok("witness", "show", "state.json")
    assert result.stdout.splitlines() == [
        f"witness: {vkey}",
        f"log {ORIGIN}",
        f"  key:  {LOG.public.to_verifier_key()}",
        "  size: 30",
        f"  root: {base64.b64encode(merkle.root(TREE, 30)).decode()}",
    ]
    document = json.loads(ok("witness", "show", "state.json", "--json").stdout)
    assert document == {
        "schema": "endorsement-ledger/witness-show/v1",
        "witness": vkey,
        "logs": [
            {
                "origin": ORIGIN,
                "vkey": LOG.public.to_verifier_key(),
                "size": 30,
                "root": base64.b64encode(merkle.root(TREE, 30)).decode(),
                "cosigned": True,
            }
        ],
    }


def test_cosign_reads_standard_input_and_writes_out(setup: Path) -> None:
    data = write_request(Path("req"), 0, 7).read_bytes()
    result = ok("witness", "cosign", "state.json", "-", "--key", "witness.key", "--out", "cosig",
                "--time", str(T), stdin=data)  # fmt: skip
    assert result.stdout == "cosignature: cosig\n"
    cosig = Path("cosig").read_bytes()
    opened = open_checkpoint(signed(7) + cosig, LOG.public, witnesses=[WITNESS.public])
    assert opened.witnesses_verified == ((WITNESS.public, T),)
    # --out never overwrites; the cosignature was already recorded, so the request can be resent.
    write_request(Path("req"), 7, 7)
    assert_error(
        run("witness", "cosign", "state.json", "req", "--key", "witness.key", "--out", "cosig"),
        2,
        "cosig exists; refusing to overwrite",
    )
    assert Path("cosig").read_bytes() == cosig


def test_add_log_accepts_a_verifier_key_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_key_pair(Path("witness.key"), WITNESS)
    ok("witness", "init", "state.json", "--key", "witness.key.pub")
    result = ok("witness", "add-log", "state.json", "--log-pub", LOG.public.to_verifier_key())
    assert result.stdout.splitlines()[0] == f"log:  {ORIGIN}"
    Path("log.vkey").write_text(LOG.public.to_verifier_key() + "\n")
    ok("witness", "add-log", "state.json", "--log-pub", "log.vkey")  # same key: no change
    assert_error(
        run("witness", "add-log", "state.json", "--log-pub", "no-such-file"),
        2,
        "no-such-file",
    )


def test_attack_log_key_swap_is_refused(setup: Path) -> None:
    before = Path("state.json").read_bytes()
    assert_error(
        run("witness", "add-log", "state.json", "--log-pub", IMPOSTOR.public.to_verifier_key()),
        2,
        f"already follows '{ORIGIN}'",
        "refusing to replace it",
    )
    assert Path("state.json").read_bytes() == before


@pytest.mark.parametrize(
    ("make", "reason", "message", "hint"),
    [
        pytest.param(
            lambda p: p.write_bytes(b"old 5\nnot base64\n\n"),
            "malformed",
            "request proof line 1 is not valid base64",
            "add-checkpoint body",
            id="malformed",
        ),
        pytest.param(
            lambda p: write_request(p, 0, 9, key=seeded("example.org/other")),
            "unknown-log",
            "this witness does not follow a log with origin 'example.org/other'",
            "add-log",
            id="unknown-log",
        ),
        pytest.param(
            lambda p: write_request(p, 8, 9, key=IMPOSTOR),
            "bad-signature",
            "no valid signature by the log key",
            "signed by the log key",
            id="bad-signature",
        ),
        pytest.param(
            lambda p: write_request(p, 5, 20),
            "conflict",
            "old size 5 is stale; this witness has cosigned size 8 (resend with old 8)",
            "--old-size 8 --witness-request",
            id="conflict",
        ),
        pytest.param(
            lambda p: write_request(p, 0, 6),
            "rollback",
            "rollback: checkpoint size 6 is smaller than size 8",
            "older than one this witness already cosigned",
            id="rollback",
        ),
        pytest.param(
            lambda p: write_request(p, 8, 8, FORKED),
            "fork",
            "fork: size 8 was cosigned with root",
            "keep REQUEST",
            id="fork",
        ),
        pytest.param(
            lambda p: write_request(p, 8, 20, FORKED),
            "bad-proof",
            "the consistency proof from size 8 to 20 does not verify",
            "keep REQUEST",
            id="bad-proof",
        ),
    ],
)
def test_each_refusal_exits_1_with_its_reason_and_changes_nothing(
    setup: Path, make: object, reason: str, message: str, hint: str
) -> None:
    write_request(Path("first"), 0, 8)
    ok("witness", "cosign", "state.json", "first", "--key", "witness.key")
    before = Path("state.json").read_bytes()
    make(Path("req"))  # type: ignore[operator]
    result = run("witness", "cosign", "state.json", "req", "--key", "witness.key")
    lines = assert_error(result, 1, f"refused ({reason}): ", message)
    assert len(lines) == 2
    assert hint in lines[1]
    assert result.stdout == ""
    assert Path("state.json").read_bytes() == before


def test_cosign_with_the_wrong_witness_key(setup: Path) -> None:
    write_key_pair(Path("other.key"), seeded("other.example/witness"))
    write_request(Path("req"), 0, 8)
    assert_error(
        run("witness", "cosign", "state.json", "req", "--key", "other.key"),
        2,
        "is not this state's witness key",
    )
    assert_error(
        run("witness", "cosign", "state.json", "req", "--key", "witness.key.pub"),
        2,
        "is a public key file",
    )


def test_passphrase_protected_witness_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pass").write_text("correct horse\n")
    write_key_pair(Path("witness.key"), WITNESS, passphrase=b"correct horse")
    write_key_pair(Path("log.key"), LOG)
    ok("witness", "init", "state.json", "--key", "witness.key.pub")
    ok("witness", "add-log", "state.json", "--log-pub", "log.key.pub")
    write_request(Path("req"), 0, 4)
    assert_error(
        run("witness", "cosign", "state.json", "req", "--key", "witness.key"),
        2,
        "passphrase-protected",
    )
    ok("witness", "cosign", "state.json", "req", "--key", "witness.key",
       "--passphrase-file", "pass")  # fmt: skip


def test_init_refuses_to_overwrite_and_needs_a_public_key(setup: Path) -> None:
    before = Path("state.json").read_bytes()
    assert_error(
        run("witness", "init", "state.json", "--key", "witness.key.pub"),
        2,
        "state.json exists; refusing to overwrite it",
    )
    assert Path("state.json").read_bytes() == before
    assert_error(
        run("witness", "init", "other.json", "--key", "witness.key"),
        2,
        "is a secret key file",
    )


def test_missing_and_corrupt_state(setup: Path) -> None:
    write_request(Path("req"), 0, 4)
    assert_error(
        run("witness", "cosign", "absent.json", "req", "--key", "witness.key"),
        2,
        "cannot read witness state absent.json: no such file",
    )
    assert_error(run("witness", "show", "absent.json"), 2, "no such file")
    Path("state.json").write_text('{"schema": "something else"}')
    assert_error(run("witness", "show", "state.json"), 2, "witness state state.json:")


def test_untrusted_origin_is_printed_inert(setup: Path) -> None:
    # Anyone may send a request: its origin line reaches the terminal only escaped.
    text = "example.org/\u202eevil\n3\n" + base64.b64encode(merkle.root(TREE, 3)).decode() + "\n"
    Path("req").write_bytes(b"old 0\n\n" + format_note(sign_note(text, IMPOSTOR)))
    lines = assert_error(
        run("witness", "cosign", "state.json", "req", "--key", "witness.key"), 1, "unknown-log"
    )
    assert "\u202e" not in lines[0]
    assert "example.org/\\u202eevil" in lines[0]


def test_the_policy_example_in_the_guide_parses_and_counts_our_witness() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "witnesses.md").read_text()
    start = guide.index("# policy for the open letter")
    policy = parse_policy(guide[start : guide.index("```", start)])
    assert policy.log_key(ORIGIN) == LOG.public
    assert policy.quorum == "newsrooms"
    gazette = next(w for w in policy.witnesses if w.name == "gazette")
    assert gazette.key == WITNESS.public
    assert not policy_satisfied(policy, [WITNESS.public])  # two of three are needed
    assert policy_satisfied(policy, [WITNESS.public, seeded("courier.example/w1").public])
