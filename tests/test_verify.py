"""Attack tests for verification (ledger.verify): each tamper is named, and the report names it.

A ledger of 8 entries (genesis and 7 endorsements) is built in a SQLite file by the campaign
recipe, then tampered with, either in the file (sqlite3, as an attacker with the file would) or
on the list of ``(position, bytes)`` that ``check_entries`` reads. Re-chained attacks use
``helpers.chain`` so that the one tampered property is the only thing wrong.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
from helpers import (
    OTHER_STATEMENT,
    STATEMENT,
    STATEMENT_HASH,
    T0,
    chain,
    check,
    endorsement_entry,
    flip,
    forged_endorsement,
    genesis_entry,
    make_ledger,
    org_endorsement,
    org_key,
    set_entry_data,
    stored_entries,
    valid_entries,
    where,
)
from ledger import FormatError, VerificationError, check_entries, iter_verified
from ledger.merkle import hash_leaf
from ledger.render import render_text, report_json
from ledger.verify import MAX_PROBLEMS

SIZE = 8
OTHER_HASH = hashlib.sha256(OTHER_STATEMENT).digest()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verify") / "pristine.db"
    make_ledger(path, SIZE - 1).close()
    return path


@pytest.fixture
def ledger_file(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the 8-entry ledger to tamper with."""
    path = tmp_path / "ledger.db"
    source = sqlite3.connect(pristine)
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    return path


@pytest.fixture(scope="module")
def entries(pristine: Path) -> list[tuple[int, bytes]]:
    return stored_entries(pristine)


def sql(path: Path, statement: str, *args: object) -> None:
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(statement, args)
    finally:
        db.close()


def test_the_untouched_ledger_verifies(ledger_file: Path, entries: list[tuple[int, bytes]]) -> None:
    report = ledger.check_ledger_file(ledger_file)
    assert report.ok
    assert report.problems == ()
    assert report.size == SIZE
    assert report.statement_hash == STATEMENT_HASH
    assert [s.seq for s in report.signatories] == list(range(1, SIZE))
    # The test-side builder and the campaign recipe agree on every byte.
    assert chain(valid_entries(SIZE - 1)) == entries


# --- Any changed byte -----------------------------------------------------------------------------


def free_change(original: ledger.Entry, tampered: ledger.Entry) -> bool:
    """True if ``tampered`` differs from ``original`` only in a field no check binds on its own.

    The record time of an entry and the title in the genesis are bound only by the next
    entry's ``prev`` (and a checkpoint); no check of the entry itself can see them change.
    """
    if isinstance(original.body, ledger.Genesis) and isinstance(tampered.body, ledger.Genesis):
        tampered = attrs.evolve(
            tampered, body=attrs.evolve(tampered.body, title=original.body.title)
        )
    return attrs.evolve(tampered, recorded_at=original.recorded_at) == original


def assert_byte_change_detected(
    entries: list[tuple[int, bytes]], target: int, position: int, xor: int
) -> None:
    tampered = list(entries)
    data = flip(entries[target][1], position, xor)
    tampered[target] = (target, data)
    report = check(tampered)
    found = where(report)
    last = len(entries) - 1
    try:
        decoded = ledger.decode_entry(data)
    except FormatError:
        decoded = None
    if decoded is None:  # decoding fails on the entry itself
        assert (target, "encoding") in found
    elif free_change(ledger.decode_entry(entries[target][1]), decoded):
        # Entry `target` is well-formed on its own: only its time order (when the new time
        # is earlier than the previous entry's) and the later entries can show the change.
        assert all(
            (seq, check) == (target, "times")
            or (seq is not None and seq > target and check in ("links", "times"))
            for seq, check in found
        ), found
    else:  # sequence, link, statement, signature... on the entry itself
        assert any(seq == target for seq, _ in found), (found, decoded)
    if target < last:
        # Whatever changed, the next entry's prev no longer matches the leaf hash.
        assert (target + 1, "links") in found
        assert not report.ok
    elif decoded is not None and free_change(ledger.decode_entry(entries[target][1]), decoded):
        # The limit of a chain without a checkpoint: the last entry's record time (when it
        # does not go backwards) can be rewritten unseen. See test_truncation_is_not_detected.
        assert report.ok or found == {(target, "times")}
    else:
        assert not report.ok
    named = {seq for seq, _ in found}
    assert None not in named
    if found:  # the first entry named is the changed one, or the next when it looks valid
        assert min(seq for seq in named if seq is not None) in (target, target + 1)
    assert not {s.seq for s in report.signatories} & named  # verified entries only


def test_every_single_byte_change_is_detected(entries: list[tuple[int, bytes]]) -> None:
    # Exhaustive over positions (about 2,400); the XOR value cycles through the bits.
    for target, data in entries:
        for position in range(len(data)):
            assert_byte_change_detected(entries, target, position, 1 << (position % 8))


@settings(max_examples=300)
@given(data=st.data())
def test_random_byte_changes_are_detected(
    entries: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    target = data.draw(st.integers(0, SIZE - 1), label="entry")
    position = data.draw(st.integers(0, len(entries[target][1]) - 1), label="position")
    xor = data.draw(st.integers(1, 255), label="xor")
    assert_byte_change_detected(entries, target, position, xor)


def test_a_changed_byte_in_the_file_names_the_entry_and_the_next(ledger_file: Path) -> None:
    raw = dict(stored_entries(ledger_file))
    body_start = raw[3].rindex(org_endorsement(3)[-64:])  # inside the signature
    set_entry_data(ledger_file, 3, flip(raw[3], body_start + 10))
    report = ledger.check_ledger_file(ledger_file)
    assert not report.ok
    assert where(report) == {(3, "signatures"), (4, "links")}
    assert 3 not in {s.seq for s in report.signatories}
    assert "entry 3: endorsement does not verify" in render_text(report, "x")


def test_a_changed_prev_is_a_link_problem_on_the_entry_and_the_next(
    entries: list[tuple[int, bytes]],
) -> None:
    tampered = list(entries)
    entry = ledger.decode_entry(entries[5][1])
    tampered[5] = (5, ledger.encode_entry(attrs.evolve(entry, prev=bytes(32))))
    assert where(check(tampered)) == {(5, "links"), (6, "links")}


def test_a_changed_sequence_number_is_a_sequence_problem(entries: list[tuple[int, bytes]]) -> None:
    tampered = list(entries)
    entry = ledger.decode_entry(entries[5][1])
    tampered[5] = (5, ledger.encode_entry(attrs.evolve(entry, seq=6)))
    report = check(tampered)
    assert where(report) == {(5, "sequence"), (6, "links")}
    assert "sequence number is 6 but entry 5 was expected here" in str(report.problems[0])


# --- Reordered, dropped, duplicated, truncated ----------------------------------------------------


def test_reordered_entries(ledger_file: Path) -> None:
    raw = dict(stored_entries(ledger_file))
    set_entry_data(ledger_file, 2, raw[3])
    set_entry_data(ledger_file, 3, raw[2])
    report = ledger.check_ledger_file(ledger_file)
    assert where(report) == {
        (2, "sequence"),
        (2, "links"),
        (3, "sequence"),
        (3, "links"),
        (3, "times"),  # entry 2 was recorded before entry 3
        (4, "links"),
    }


def test_dropped_entry_in_the_file(ledger_file: Path) -> None:
    sql(ledger_file, "DELETE FROM entries WHERE seq = 4")
    report = ledger.check_ledger_file(ledger_file)
    assert where(report) == {(5, "sequence"), (5, "links")}
    assert "sequence number is 5 but entry 4 was expected here" in str(report.problems[0])
    assert 4 not in {s.seq for s in report.signatories}


def test_dropped_entry_in_a_list(entries: list[tuple[int, bytes]]) -> None:
    kept = [data for seq, data in entries if seq != 4]
    report = check(list(enumerate(kept)))
    # Position 4 now holds entry 5: its number and link are wrong, and every later entry's
    # number no longer matches its position.
    assert where(report) == {(4, "sequence"), (4, "links"), (5, "sequence"), (6, "sequence")}


def test_duplicated_entry_in_a_list(entries: list[tuple[int, bytes]]) -> None:
    doubled = [data for _, data in entries[:4]] + [entries[3][1]] + [d for _, d in entries[4:]]
    report = check(list(enumerate(doubled)))
    # The copy's number and link are wrong; the lifecycle (signers) check runs only on entries
    # that pass every other check, so the copy is not also reported as a second endorsement.
    assert where(report) == {
        (4, "sequence"),
        (4, "links"),
        (5, "sequence"),
        (6, "sequence"),
        (7, "sequence"),
        (8, "sequence"),
    }
    # Only entries that pass every check are signatories: 5..8 are out of place.
    assert [s.seq for s in report.signatories] == [1, 2, 3]


def test_duplicated_entry_appended_to_the_file(ledger_file: Path) -> None:
    raw = dict(stored_entries(ledger_file))
    sql(ledger_file, "INSERT INTO entries VALUES (?, ?, ?)", SIZE, hash_leaf(raw[3]), raw[3])
    report = ledger.check_ledger_file(ledger_file)
    # The copy fails its number, link and time; the lifecycle (signers) check runs only on
    # entries that pass every other check.
    assert where(report) == {(8, "sequence"), (8, "links"), (8, "times")}


def test_truncation_is_not_detected_without_a_checkpoint(ledger_file: Path) -> None:
    # The documented limit: a copy cut at its end is a valid shorter ledger. Only a signed
    # checkpoint of the longer ledger (and a consistency check) reveals it.
    sql(ledger_file, "DELETE FROM entries WHERE seq = ?", SIZE - 1)
    report = ledger.check_ledger_file(ledger_file)
    assert report.ok
    assert report.size == SIZE - 1
    assert SIZE - 1 not in {s.seq for s in report.signatories}
    text = render_text(report, "ledger.db")
    not_proven = text.split("What this does not prove:")[1].split("\n\n")[0]
    cut = re.compile(r"\bcut\b[^\n]*\bfrom its end\b")
    assert cut.search(not_proven), not_proven
    assert any(cut.search(item) for item in report_json(report, "x")["not_proven"])


def test_a_rewritten_and_rechained_history_is_not_detected_without_a_checkpoint() -> None:
    # The log operator removes signatory 4 and rebuilds the chain: every check passes. This is
    # the "forked or truncated" class that only checkpoints and witnesses reveal.
    rewritten = chain([e for e in valid_entries(SIZE - 1) if e.seq != 4], renumber=True)
    report = check(rewritten)
    assert report.ok
    assert "Org 4" not in {s.name for s in report.signatories}


# --- Re-chained attacks: only the attacked check fails --------------------------------------------


def attacked(target: int, replacement: ledger.Entry) -> ledger.Report:
    """The report on a valid 8-entry ledger whose entry ``target`` is replaced, re-chained."""
    built = valid_entries(SIZE - 1)
    built[target] = replacement
    return check(chain(built))


def test_endorsement_of_another_statement_rechained() -> None:
    report = attacked(3, endorsement_entry(3, org_endorsement(3, OTHER_HASH)))
    assert where(report) == {(3, "statement")}
    assert report.failed_checks == {"statement"}
    assert "endorsement is for a different statement" in report.problems[0].message
    assert 3 not in {s.seq for s in report.signatories}


def test_entry_with_another_statement_hash_rechained() -> None:
    cose = org_endorsement(3, OTHER_HASH)
    report = attacked(3, endorsement_entry(3, cose, statement_hash=OTHER_HASH))
    assert where(report) == {(3, "statement")}
    assert "differs from the genesis" in report.problems[0].message


def test_signatory_added_without_its_key_rechained() -> None:
    # The payload names organisation 3's key; organisation 9 (or the log) signed it.
    report = attacked(3, endorsement_entry(3, forged_endorsement(org_key(3), org_key(9))))
    assert where(report) == {(3, "signatures")}
    assert "does not verify" in report.problems[0].message
    assert "Forged Org" not in {s.name for s in report.signatories}


def test_signature_with_the_signers_key_id_rechained() -> None:
    forged = forged_endorsement(org_key(3), org_key(9), kid_of=org_key(9))
    report = attacked(3, endorsement_entry(3, forged))
    assert where(report) == {(3, "signatures")}
    assert "kid in the protected header is not the payload's key" in report.problems[0].message


def test_second_genesis_rechained() -> None:
    report = attacked(3, attrs.evolve(genesis_entry(recorded_at=T0 + 3), seq=3))
    assert where(report) == {(3, "encoding")}
    assert report.problems[0].message == "a second genesis entry"


def test_entry_0_is_not_a_genesis() -> None:
    built = [endorsement_entry(n, org_endorsement(n + 1)) for n in range(4)]
    report = check(chain(built))
    assert where(report) == {(0, "encoding")}
    assert str(report.problems[0]) == "entry 0: entry 0 is not a genesis entry"
    assert report.genesis is None
    assert report.statement_hash is None
    assert not report.ok


def test_statement_text_changed_after_signing() -> None:
    # The genesis keeps the hash the organisations signed but shows another text.
    genesis = genesis_entry(statement=OTHER_STATEMENT, statement_hash=STATEMENT_HASH)
    report = attacked(0, genesis)
    assert where(report) == {(0, "statement")}
    assert report.problems[0].message == "statement hash is not the SHA-256 of the text"


def test_genesis_with_a_non_canonical_text() -> None:
    text = "Trailing space \n"
    genesis = attrs.evolve(
        genesis_entry(),
        statement_hash=hashlib.sha256(text.encode()).digest(),
        body=attrs.evolve(genesis_entry().body, statement_text=text),
    )
    report = check(chain([genesis]))
    assert where(report) == {(0, "statement")}
    assert "not in canonical form" in report.problems[0].message


def test_genesis_log_key_named_other_than_the_origin() -> None:
    genesis = genesis_entry(log_key=ledger.SigningKey.from_seed("other.example/x", bytes(32)))
    report = attacked(0, genesis)
    assert where(report) == {(0, "encoding")}
    assert "is not the origin" in report.problems[0].message


def test_duplicated_endorsement_by_one_key_rechained() -> None:
    again = org_endorsement(2, signed_at=T0 + 999, name="Org 2 again")
    report = attacked(4, endorsement_entry(4, again))
    assert where(report) == {(4, "signers")}
    assert "already endorsed at entry 2" in report.problems[0].message
    assert [s.name for s in report.signatories if s.seq == 2] == ["Org 2"]
    assert 4 not in {s.seq for s in report.signatories}


def test_record_times_going_backwards() -> None:
    report = attacked(4, endorsement_entry(4, org_endorsement(4), recorded_at=T0 + 1))
    assert where(report) == {(4, "times")}
    assert "before the previous entry" in report.problems[0].message


TAMPERED_BUT_SIGNED = {
    "other-statement": lambda e: attrs.evolve(e, body=org_endorsement(3, OTHER_HASH)),
    "entry-statement-hash": lambda e: attrs.evolve(
        e, statement_hash=OTHER_HASH, body=org_endorsement(3, OTHER_HASH)
    ),
    "time-backwards": lambda e: attrs.evolve(e, recorded_at=T0 - 1),
    "wrong-sequence-number": lambda e: attrs.evolve(e, seq=9),
}


@pytest.mark.parametrize("attack", sorted(TAMPERED_BUT_SIGNED))
def test_signatories_exclude_entries_that_failed_a_check(attack: str) -> None:
    # Regression: a signatory was listed whenever its signature verified, even when its entry
    # failed the sequence, links, statement or times check.
    built = valid_entries(SIZE - 1)
    built[3] = TAMPERED_BUT_SIGNED[attack](built[3])
    report = check(chain(built))
    assert 3 in {seq for seq, _ in where(report)}
    assert 3 not in {s.seq for s in report.signatories}


def test_signatories_exclude_entries_with_a_bad_signature_or_a_second_key_use() -> None:
    built = valid_entries(SIZE - 1)
    built[3] = endorsement_entry(3, forged_endorsement(org_key(3), org_key(9)))
    built[5] = endorsement_entry(5, org_endorsement(1, name="Org 1 again"))
    report = check(chain(built))
    assert where(report) == {(3, "signatures"), (5, "signers")}
    assert [s.seq for s in report.signatories] == [1, 2, 4, 6, 7]


def test_equal_record_times_are_fine() -> None:
    built = [attrs.evolve(e, recorded_at=T0) for e in valid_entries(4)]
    assert check(chain(built)).ok


def test_empty_ledger_does_not_verify() -> None:
    report = check_entries([])
    assert not report.ok
    assert where(report) == {(None, "encoding")}


def test_problems_are_capped(entries: list[tuple[int, bytes]]) -> None:
    garbage = [(n, b"\xff") for n in range(MAX_PROBLEMS + 50)]
    report = check_entries(garbage)
    assert report.problems_truncated
    assert len(report.problems) == MAX_PROBLEMS
    assert not report.ok


# --- The statement the reader holds ---------------------------------------------------------------


def test_a_different_statement_given(entries: list[tuple[int, bytes]]) -> None:
    report = check(entries, statement=OTHER_STATEMENT)
    assert not report.ok
    assert where(report) == {(None, "statement")}
    assert report.statement_checked is False
    assert str(report.problems[0]).startswith("the given statement text is not the one")
    assert len(report.signatories) == SIZE - 1  # the entries themselves still verify


def test_an_invalid_statement_given(entries: list[tuple[int, bytes]]) -> None:
    report = check(entries, statement=b"nul \x00 inside\n")
    assert where(report) == {(None, "statement")}
    assert report.statement_checked is False
    assert "line 1 column 5" in report.problems[0].message


def test_the_same_statement_in_another_form_given(entries: list[tuple[int, bytes]]) -> None:
    report = check(entries, statement=b"\r\n" + STATEMENT.replace(b"\n", b"  \r\n"))
    assert report.ok
    assert report.statement_checked is True


def test_no_statement_given(entries: list[tuple[int, bytes]]) -> None:
    assert check(entries).statement_checked is None


# --- iter_verified --------------------------------------------------------------------------------


def test_iter_verified_yields_every_entry_of_a_valid_ledger(
    entries: list[tuple[int, bytes]],
) -> None:
    verified = list(iter_verified(entries))
    assert [v.seq for v in verified] == list(range(SIZE))
    assert [v.raw for v in verified] == [data for _, data in entries]
    assert [v.leaf_hash for v in verified] == [hash_leaf(data) for _, data in entries]
    assert verified[0].endorsement is None
    assert [v.endorsement.endorsement.name for v in verified[1:] if v.endorsement] == [
        f"Org {n}" for n in range(1, SIZE)
    ]


def test_iter_verified_stops_at_the_first_problem(entries: list[tuple[int, bytes]]) -> None:
    tampered = list(entries)
    tampered[4] = (4, flip(entries[4][1], len(entries[4][1]) - 1))
    seen: list[int] = []

    def consume() -> None:
        seen.extend(item.seq for item in iter_verified(tampered))

    with pytest.raises(VerificationError, match=r"^entry 4: endorsement does not verify"):
        consume()
    assert seen == [0, 1, 2, 3]


def test_iter_verified_checks_the_statement_first(entries: list[tuple[int, bytes]]) -> None:
    with pytest.raises(VerificationError, match=r"^the given statement text"):
        next(iter_verified(entries, statement=OTHER_STATEMENT))


def test_iter_verified_refuses_an_empty_ledger() -> None:
    # Regression: iter_verified([]) yielded nothing and raised nothing, while check_entries
    # reports "the ledger has no entries".
    assert not check_entries([]).ok
    with pytest.raises(VerificationError, match="no entries"):
        list(iter_verified([]))


def test_iter_verified_on_an_undecodable_entry(entries: list[tuple[int, bytes]]) -> None:
    tampered = [*entries[:2], (2, b"\x00")]
    with pytest.raises(VerificationError, match=r"^entry 2: cannot be decoded"):
        list(iter_verified(tampered))


# --- Reports --------------------------------------------------------------------------------------


def test_report_text_and_json_name_the_failing_entry_and_check(ledger_file: Path) -> None:
    raw = dict(stored_entries(ledger_file))
    entry = ledger.decode_entry(raw[5])
    set_entry_data(ledger_file, 5, ledger.encode_entry(attrs.evolve(entry, recorded_at=T0)))
    report = ledger.check_ledger_file(ledger_file)
    assert where(report) == {(5, "times"), (6, "links")}
    text = render_text(report, "ledger.db")
    assert text.startswith("DOES NOT VERIFY: ledger.db: 2 problem(s) in 8 entries")
    assert "[FAIL] times" in text
    assert "[FAIL] links" in text
    assert "[  ok] signatures" in text
    assert "  entry 5: recorded at" in text
    document = report_json(report, "ledger.db")
    assert document["verified"] is False
    entry_checks = ("encoding", "sequence", "links", "statement", "signatures", "signers")
    assert {c: document["checks"][c] for c in entry_checks} == {
        c: "failed" if c == "links" else "passed" for c in entry_checks
    }
    assert document["checks"]["times"] == "failed"
    assert {(p["entry"], p["check"]) for p in document["problems"]} == {(5, "times"), (6, "links")}


# --- Random valid ledgers against a naive reference -----------------------------------------------

names = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=30
).map(lambda s: s.strip() or "x")


@settings(max_examples=60)
@given(
    orgs=st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), names, st.sampled_from([None, "BE", "FR"])),
        min_size=1,
        max_size=10,
        unique_by=lambda org: org[0],
    ),
    gaps=st.lists(st.integers(0, 10_000), min_size=10, max_size=10),
)
def test_random_valid_ledgers_verify(
    orgs: list[tuple[bytes, str, str | None]], gaps: list[int]
) -> None:
    import unicodedata

    built = [genesis_entry()]
    expected = []
    recorded_at = T0
    for number, (seed, name, country) in enumerate(orgs, 1):
        display = unicodedata.normalize("NFC", name)
        key = ledger.SigningKey.from_seed(f"k{number}", seed)
        cose = ledger.endorse(
            key, STATEMENT_HASH, name=display, signed_at=T0 - number, country=country
        )
        recorded_at += gaps[number - 1]
        built.append(endorsement_entry(number, cose, recorded_at=recorded_at))
        expected.append((number, display, key.public.fingerprint, key.public.key_id, country))
    report = check(chain(built), statement=STATEMENT)
    assert report.ok, report.problems
    assert report.size == len(orgs) + 1
    assert report.statement_checked is True
    assert [
        (s.seq, s.name, s.fingerprint, s.key_id, s.country) for s in report.signatories
    ] == expected
    assert [s.recorded_at for s in report.signatories] == [e.recorded_at for e in built[1:]]
