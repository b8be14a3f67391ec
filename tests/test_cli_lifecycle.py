"""The lifecycle through the ``ledger`` command, as a transcript: endorse, rotate, withdraw, revoke,
remove, close, then read it all back with ``history``, ``verify`` and ``list``.

Keys come from ``ledger keygen``; every signing and record time is given with ``--time`` so the
outputs are exact (only the fingerprints vary, and they are read from the ``.pub`` files).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner, Result

import ledger
from helpers import ORIGIN, STATEMENT, T0

FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
"""Memory-backed storage for the ledgers where there is one: fsync dominates these tests' time."""
LOOKALIKE = "NGO \u0410"
"""'NGO A' with a Cyrillic capital A."""


def run(*args: str | Path | int, cwd: Path) -> Result:
    """Run ``ledger ARGS`` in-process in ``cwd``; an exception escaping the CLI fails the test."""
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def ok(*args: str | Path | int, cwd: Path) -> Result:
    result = run(*args, cwd=cwd)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def refused(result: Result, *fragments: str) -> None:
    """Exit 1, the file rejected with a reason on stderr, nothing on stdout."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("ledger: rejected: ") or lines[0].startswith("ledger: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def fingerprint(directory: Path, key: str) -> str:
    return ledger.read_public_key(directory / f"{key}.key.pub").fingerprint


def when(offset: int) -> str:
    return ledger.format_time(T0 + offset)


@dataclass
class Campaign:
    """The ledger the transcript built, and what the tests need to read it."""

    directory: Path
    fingerprints: dict[str, str]

    @property
    def db(self) -> Path:
        return self.directory / "letter.db"

    def run(self, *args: str | Path | int) -> Result:
        return run(*args, cwd=self.directory)

    def ok(self, *args: str | Path | int) -> Result:
        return ok(*args, cwd=self.directory)


def sign(c: Campaign, key: str, name: str, at: int) -> str:
    out = f"{key}.cose"
    c.ok(
        "endorse", "--key", f"{key}.key", "--statement", "letter.txt", "--name", name,
        "--time", T0 + at, "--out", out,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def campaign() -> Iterator[Campaign]:
    """The whole lifecycle, step by step, each step checked as it runs."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as name:
        yield transcript(Path(name))


def transcript(directory: Path) -> Campaign:
    """Keys, init, three endorsements, rotate, withdraw, revoke, remove, a look-alike, close."""
    (directory / "letter.txt").write_bytes(STATEMENT)
    keys = {"log": ORIGIN, "a": "ngo-a.example", "a2": "ngo-a.example"}
    keys |= {k: f"ngo-{k}.example" for k in "bcdef"}
    for key, name in keys.items():
        ok("keygen", "--name", name, "--out", f"{key}.key", cwd=directory)
    c = Campaign(directory, {key: fingerprint(directory, key) for key in keys})
    fp = c.fingerprints
    digest = ledger.format_statement_hash(ledger.statement_hash(ledger.canonicalize(STATEMENT)))

    c.ok(
        "init", "letter.db", "--statement", "letter.txt", "--title", "Our letter",
        "--origin", ORIGIN, "--log-key", "log.key", "--time", T0,
    )  # fmt: skip
    files = [sign(c, "a", "NGO A", 10), sign(c, "b", "NGO B", 20), sign(c, "c", "NGO C", 30)]
    result = c.ok("append", "letter.db", *files, "--time", T0 + 100)
    assert result.stdout == "entry 1: a.cose\nentry 2: b.cose\nentry 3: c.cose\n"

    # NGO A rotates to a new key, offline; the campaign appends the rotation.
    result = c.ok(
        "rotate", "--key", "a.key", "--new-key", "a2.key", "--statement", "letter.txt",
        "--time", T0 + 200, "--out", "rotate-a.cose",
    )  # fmt: skip
    assert result.stdout == f"wrote rotate-a.cose: rotation from key {fp['a']} to {fp['a2']}\n"
    assert c.ok("append", "letter.db", "rotate-a.cose", "--time", T0 + 300).stdout == (
        "entry 4: rotate-a.cose\n"
    )

    # NGO B withdraws its endorsement (entry 2).
    result = c.ok(
        "withdraw", "--key", "b.key", "--statement", "letter.txt", "--entry", 2,
        "--time", T0 + 400, "--out", "withdraw-b.cose",
    )  # fmt: skip
    assert result.stdout == f"wrote withdraw-b.cose: withdrawal of {digest} by key {fp['b']}\n"
    assert c.ok("append", "letter.db", "withdraw-b.cose", "--time", T0 + 400).stdout == (
        "entry 5: withdraw-b.cose\n"
    )

    # NGO C revokes its key from the time it endorsed: the endorsement is invalidated.
    result = c.ok(
        "revoke", "--key", "c.key", "--revoke", "c.key.pub", "--from", T0 + 30,
        "--statement", "letter.txt", "--time", T0 + 500, "--out", "revoke-c.cose",
    )  # fmt: skip
    assert result.stdout == f"wrote revoke-c.cose: revocation of key {fp['c']} from {when(30)}\n"
    assert c.ok("append", "letter.db", "revoke-c.cose", "--time", T0 + 500).stdout == (
        "entry 6: revoke-c.cose\n"
    )

    # The campaign removes NGO D's endorsement, with a reason and a note.
    c.ok("append", "letter.db", sign(c, "d", "NGO D", 600), "--time", T0 + 600)
    result = c.ok(
        "remove", "letter.db", "--entry", 7, "--reason", "mistaken",
        "--note", "signed by an intern", "--log-key", "log.key", "--time", T0 + 700,
    )  # fmt: skip
    assert result.stdout == "entry 8: removal of entry 7 (mistaken)\n"

    # A look-alike of NGO A's name is refused, then appended on purpose with a warning.
    lookalike = sign(c, "e", LOOKALIKE, 800)
    refused(
        c.run("append", "letter.db", lookalike, "--time", T0 + 800),
        "e.cose",
        "looks like the endorsement at entry 1",
        "--allow-similar-name",
    )
    result = c.ok("append", "letter.db", lookalike, "--allow-similar-name", "--time", T0 + 800)
    assert result.stdout == "entry 9: e.cose\n"
    assert result.stderr.startswith(
        "ledger: warning: e.cose: a name that looks like the endorsement at entry 1 "
    )

    # The campaign closes the statement; nothing more may be appended.
    result = c.ok("close", "letter.db", "--log-key", "log.key", "--time", T0 + 900)
    assert result.stdout == "entry 10: the statement is closed\n"
    late = sign(c, "f", "NGO F", 950)
    refused(
        c.run("append", "letter.db", late, "--time", T0 + 1000),
        "f.cose",
        "closed at entry 10",
    )
    refused(
        c.run("close", "letter.db", "--log-key", "log.key", "--time", T0 + 1000),
        "closed at entry 10",
    )
    return c


def test_the_transcript_leaves_a_verified_ledger_of_eleven_entries(campaign: Campaign) -> None:
    with ledger.Ledger.open(campaign.db, readonly=True) as book:
        assert book.size == 11
        report = book.verify()
    assert report.ok
    assert report.closed_at == 10


def test_history_lists_every_event(campaign: Campaign) -> None:
    fp = campaign.fingerprints
    result = campaign.ok("history", "letter.db")
    assert result.stdout.splitlines() == [
        f"entry 1\t{when(100)}\tendorsed\tNGO A (key {fp['a']})",
        f"entry 2\t{when(100)}\tendorsed\tNGO B (key {fp['b']})",
        f"entry 3\t{when(100)}\tendorsed\tNGO C (key {fp['c']})",
        f"entry 4\t{when(300)}\trotated key\tNGO A (key {fp['a']}): new key {fp['a2']}",
        f"entry 5\t{when(400)}\twithdrew\tNGO B (key {fp['b']}): entry 2",
        f"entry 6\t{when(500)}\trevoked key\tNGO C (key {fp['c']}): revoked from {when(30)}; "
        "ends entry 3",
        f"entry 7\t{when(600)}\tendorsed\tNGO D (key {fp['d']})",
        f"entry 8\t{when(700)}\tremoved\tthe campaign (log key {fp['log']}) the endorsement of "
        "NGO D: entry 7, reason mistaken (signed by an intern)",
        f"entry 9\t{when(800)}\tendorsed\t{LOOKALIKE} (key {fp['e']})",
        f"entry 10\t{when(900)}\tclosed\tthe campaign (log key {fp['log']})",
    ]
    assert result.stderr == ""


@pytest.mark.parametrize("key", ["a", "a2"])
def test_history_by_key_follows_the_rotation(campaign: Campaign, key: str) -> None:
    # The old key and the new one name the same organisation.
    lines = campaign.ok("history", "letter.db", "--key", f"{key}.key.pub").stdout.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["entry 1", when(100), "endorsed"],
        ["entry 4", when(300), "rotated key"],
    ]


def test_history_of_a_key_the_ledger_never_saw(campaign: Campaign) -> None:
    assert campaign.ok("history", "letter.db", "--key", "f.key.pub").stdout == "(no events)\n"


@pytest.mark.parametrize("name", ["NGO B", "ngo  b"])
def test_history_by_organisation_name(campaign: Campaign, name: str) -> None:
    lines = campaign.ok("history", "letter.db", "--org", name).stdout.splitlines()
    assert [line.split("\t")[2] for line in lines] == ["endorsed", "withdrew"]
    assert [line.split("\t")[0] for line in lines] == ["entry 2", "entry 5"]


def test_history_by_name_does_not_mix_in_the_lookalike(campaign: Campaign) -> None:
    lines = campaign.ok("history", "letter.db", "--org", "NGO A").stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["entry 1", "entry 4"]


def test_history_json(campaign: Campaign) -> None:
    document = json.loads(campaign.ok("history", "letter.db", "--json").stdout)
    assert document["verified"] is True
    events = document["events"]
    assert [e["kind"] for e in events] == [
        "endorsed", "endorsed", "endorsed", "rotated key", "withdrew", "revoked key",
        "endorsed", "removed", "endorsed", "closed",
    ]  # fmt: skip
    assert [e["org"] for e in events] == [1, 2, 3, 1, 2, 3, 7, 7, 9, None]
    assert events[7]["detail"] == "entry 7, reason mistaken (signed by an intern)"


def test_history_refuses_org_and_key_together(campaign: Campaign) -> None:
    result = campaign.run("history", "letter.db", "--org", "NGO A", "--key", "a.key.pub")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: give --org or --key, not both")


def test_verify_shows_who_left_and_how(campaign: Campaign) -> None:
    fp = campaign.fingerprints
    result = campaign.run("verify", "letter.db")
    assert result.exit_code == 0, result.stdout  # a look-alike flag is not a failure
    text = result.stdout
    assert text.startswith("VERIFIED: letter.db: 11 entries, 2 current signatories\n")
    assert "Worth a look (not failures):\n" in text
    assert (
        "  entry 9: a name that looks like the endorsement at entry 1 ('NGO A') but another key\n"
    ) in text
    assert f"  #1    NGO A  key {fp['a2']}  signed {when(10)}  recorded {when(100)}" in text
    assert f"  #9    {LOOKALIKE}  key {fp['e']}" in text
    departed = text.split("No longer on the list (3):\n", 1)[1].split("\n\n", 1)[0]
    assert departed.splitlines() == [
        f"  #2    NGO B  key {fp['b']}  withdrawn by the organisation at entry 5, {when(400)}",
        f"  #3    NGO C  key {fp['c']}  invalidated: its key was revoked "
        f"(key revoked from {when(30)}) at entry 6, {when(500)}",
        f"  #7    NGO D  key {fp['d']}  removed by the campaign (mistaken: signed by an intern) "
        f"at entry 8, {when(700)}",
    ]
    assert "The statement was closed to new signatories at entry 10.\n" in text


def test_verify_json_reports_departures_flags_and_closing(campaign: Campaign) -> None:
    fp = campaign.fingerprints
    result = campaign.run("verify", "letter.db", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["verified"] is True
    assert report["checks"]["signers"] == "passed"
    assert report["closed_at_entry"] == 10
    assert report["flags"] == [
        {
            "entry": 9,
            "message": "a name that looks like the endorsement at entry 1 ('NGO A') "
            "but another key",
        }
    ]
    assert [(s["entry"], s["name"], s["fingerprint"]) for s in report["signatories"]] == [
        (1, "NGO A", fp["a2"]),
        (9, LOOKALIKE, fp["e"]),
    ]
    assert report["departed"] == [
        {
            "entry": 2,
            "name": "NGO B",
            "fingerprint": fp["b"],
            "how": "withdrawn",
            "ended_at_entry": 5,
            "when": when(400),
            "when_unix": T0 + 400,
            "reason": None,
            "note": None,
        },
        {
            "entry": 3,
            "name": "NGO C",
            "fingerprint": fp["c"],
            "how": "revoked",
            "ended_at_entry": 6,
            "when": when(500),
            "when_unix": T0 + 500,
            "reason": f"key revoked from {when(30)}",
            "note": None,
        },
        {
            "entry": 7,
            "name": "NGO D",
            "fingerprint": fp["d"],
            "how": "removed",
            "ended_at_entry": 8,
            "when": when(700),
            "when_unix": T0 + 700,
            "reason": "mistaken",
            "note": "signed by an intern",
        },
    ]


def test_list_shows_the_current_key_after_rotation(campaign: Campaign) -> None:
    fp = campaign.fingerprints
    lines = campaign.ok("list", "letter.db").stdout.splitlines()
    assert lines == [
        f"1\tNGO A\t-\t-\t{fp['a2']}\t{when(10)}",
        f"9\t{LOOKALIKE}\t-\t-\t{fp['e']}\t{when(800)}",
    ]


# --- Refusals on a fresh ledger -------------------------------------------------------------------


@pytest.fixture
def fresh() -> Iterator[Campaign]:
    """A ledger with NGO A (entry 1) and NGO B (entry 2); keys a, a2, b and the log key."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as name:
        yield fresh_ledger(Path(name))


def fresh_ledger(directory: Path) -> Campaign:
    """Keys and a ledger in ``directory``, with NGO A and NGO B on it."""
    (directory / "letter.txt").write_bytes(STATEMENT)
    names = {"log": ORIGIN, "a": "ngo-a.example", "a2": "ngo-a.example", "b": "ngo-b.example"}
    for key, name in names.items():
        ok("keygen", "--name", name, "--out", f"{key}.key", cwd=directory)
    c = Campaign(directory, {key: fingerprint(directory, key) for key in names})
    c.ok(
        "init", "letter.db", "--statement", "letter.txt", "--title", "Our letter",
        "--origin", ORIGIN, "--log-key", "log.key", "--time", T0,
    )  # fmt: skip
    files = [sign(c, "a", "NGO A", 10), sign(c, "b", "NGO B", 20)]
    c.ok("append", "letter.db", *files, "--time", T0 + 100)
    return c


def entries(c: Campaign) -> list[tuple[int, bytes]]:
    with ledger.Ledger.open(c.db, readonly=True) as book:
        return list(book.iter_raw())


def test_attack_withdrawal_by_the_old_key_after_rotation(fresh: Campaign) -> None:
    fresh.ok(
        "rotate", "--key", "a.key", "--new-key", "a2.key", "--statement", "letter.txt",
        "--time", T0 + 200, "--out", "rotate.cose",
    )  # fmt: skip
    fresh.ok("append", "letter.db", "rotate.cose", "--time", T0 + 300)
    fresh.ok(
        "withdraw", "--key", "a.key", "--statement", "letter.txt", "--entry", 1,
        "--time", T0 + 400, "--out", "old.cose",
    )  # fmt: skip
    before = entries(fresh)
    refused(
        fresh.run("append", "letter.db", "old.cose", "--time", T0 + 400),
        "old.cose",
        f"key {fresh.fingerprints['a']} was replaced by a rotation",
    )
    assert entries(fresh) == before
    # The new key withdraws the carried-over endorsement.
    fresh.ok(
        "withdraw", "--key", "a2.key", "--statement", "letter.txt", "--entry", 1,
        "--time", T0 + 400, "--out", "new.cose",
    )  # fmt: skip
    assert fresh.ok("append", "letter.db", "new.cose", "--time", T0 + 400).stdout == (
        "entry 4: new.cose\n"
    )


def test_attack_withdrawal_of_another_organisations_entry(fresh: Campaign) -> None:
    fresh.ok(
        "withdraw", "--key", "b.key", "--statement", "letter.txt", "--entry", 1,
        "--time", T0 + 400, "--out", "w.cose",
    )  # fmt: skip
    before = entries(fresh)
    refused(
        fresh.run("append", "letter.db", "w.cose", "--time", T0 + 400),
        "entry 1 is not this organisation's live endorsement (that is entry 2)",
    )
    assert entries(fresh) == before


def test_attack_revocation_of_another_organisations_key(fresh: Campaign) -> None:
    fresh.ok(
        "revoke", "--key", "b.key", "--revoke", "a.key.pub", "--from", T0,
        "--statement", "letter.txt", "--time", T0 + 400, "--out", "r.cose",
    )  # fmt: skip
    refused(
        fresh.run("append", "letter.db", "r.cose", "--time", T0 + 400),
        f"key {fresh.fingerprints['a']} is not a key of this organisation",
    )


def test_attack_removal_without_the_log_key(fresh: Campaign) -> None:
    before = entries(fresh)
    result = fresh.run(
        "remove", "letter.db", "--entry", 1, "--reason", "fraudulent", "--log-key", "b.key"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: this is not the ledger's log key")
    result = fresh.run("close", "letter.db", "--log-key", "a.key")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger: error: this is not the ledger's log key")
    assert entries(fresh) == before


def test_removal_of_an_entry_that_is_not_live(fresh: Campaign) -> None:
    result = fresh.run(
        "remove", "letter.db", "--entry", 5, "--reason", "duplicate", "--log-key", "log.key",
        "--time", T0 + 500,
    )  # fmt: skip
    refused(result, "entry 5 is not a live endorsement")


def test_remove_refuses_an_unknown_reason(fresh: Campaign) -> None:
    result = fresh.run(
        "remove", "letter.db", "--entry", 1, "--reason", "spite", "--log-key", "log.key"
    )
    assert result.exit_code == 2
    assert "ledger: error: " in result.stderr


def test_rotate_to_the_same_key_is_an_input_error(fresh: Campaign) -> None:
    result = fresh.run(
        "rotate", "--key", "a.key", "--new-key", "a.key", "--statement", "letter.txt",
        "--out", "same.cose",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "different from the old one" in result.stderr
    assert not (fresh.directory / "same.cose").exists()


def test_attack_rotation_to_another_organisations_key(fresh: Campaign) -> None:
    fresh.ok(
        "rotate", "--key", "a.key", "--new-key", "b.key", "--statement", "letter.txt",
        "--time", T0 + 200, "--out", "steal.cose",
    )  # fmt: skip
    refused(
        fresh.run("append", "letter.db", "steal.cose", "--time", T0 + 300),
        f"the new key {fresh.fingerprints['b']} is already in use",
    )
