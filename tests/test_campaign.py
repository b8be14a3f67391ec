"""Tests for the campaign recipes (ledger.campaign.Ledger): create, append, verify."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger
from helpers import (
    LOG_KEY,
    ORIGIN,
    OTHER_STATEMENT,
    STATEMENT,
    STATEMENT_HASH,
    T0,
    TITLE,
    flip,
    forged_endorsement,
    make_ledger,
    org_endorsement,
    org_key,
    seeded_key,
    stored_entries,
)
from ledger import FormatError, StoreError, UsageError, VerificationError
from ledger.merkle import hash_leaf


def create(path: Path, **kw: object) -> ledger.Ledger:
    args: dict[str, object] = {
        "statement": STATEMENT,
        "title": TITLE,
        "origin": ORIGIN,
        "log_key": LOG_KEY,
        "now": T0,
    }
    args.update(kw)
    return ledger.Ledger.create(path, **args)


@pytest.fixture
def book(tmp_path: Path) -> Iterator[ledger.Ledger]:
    opened = make_ledger(tmp_path / "ledger.db", 2)
    yield opened
    opened.close()


def snapshot(book: ledger.Ledger) -> list[tuple[int, bytes]]:
    return list(book.iter_raw())


# --- Happy path -----------------------------------------------------------------------------------


def test_create_append_verify(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with create(path, statement=b"\xef\xbb\xbfWe endorse.  \r\n\r\n") as book:
        assert book.size == 1
        assert book.genesis.statement_text == "We endorse.\n"
        assert book.statement_hash == ledger.statement_hash(b"We endorse.\n")
        assert (book.genesis.title, book.genesis.origin) == (TITLE, ORIGIN)
        assert book.genesis.log_key == LOG_KEY.public.to_verifier_key()
        coses = [
            ledger.endorse(org_key(n), book.statement_hash, name=f"Org {n}", signed_at=T0)
            for n in (1, 2, 3)
        ]
        result = book.append([("a", coses[0]), ("b", coses[1])], now=T0 + 10)
        assert result == ledger.AppendResult(appended=(("a", 1), ("b", 2)), rejected=())
        assert book.append([("c", coses[2])], now=T0 + 20).appended == (("c", 3),)
        report = book.verify()
        assert report.ok, report.problems
        assert report.size == 4
        assert [s.name for s in report.signatories] == ["Org 1", "Org 2", "Org 3"]
        assert [s.fingerprint for s in report.signatories] == [
            org_key(n).public.fingerprint for n in (1, 2, 3)
        ]
        assert [s.recorded_at for s in report.signatories] == [T0 + 10, T0 + 10, T0 + 20]
        assert book.verify(statement=b"We endorse.\n").statement_checked is True
    # The entries hold exactly the organisations' bytes, chained by leaf hash.
    with ledger.Ledger.open(path, readonly=True) as reopened:
        entries = list(reopened.iter_entries())
        assert [e.seq for e in entries] == [0, 1, 2, 3]
        assert [e.body for e in entries[1:]] == coses
        raw = [data for _, data in reopened.iter_raw()]
        assert [e.prev for e in entries] == [bytes(32)] + [hash_leaf(d) for d in raw[:-1]]
        assert reopened.verify().ok
    assert ledger.check_ledger_file(path).ok


def test_open_refuses_a_ledger_whose_entry_0_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    make_ledger(path, 1).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE entries SET data = x'00' WHERE seq = 0")
    db.close()
    with pytest.raises(FormatError):
        ledger.Ledger.open(path)
    report = ledger.check_ledger_file(path)  # still reports, and names entry 0
    assert not report.ok
    assert (0, "encoding") in {(p.seq, p.check) for p in report.problems}


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    make_ledger(path, 1).close()
    before = stored_entries(path)
    with pytest.raises(StoreError, match="exists"):
        create(path)
    assert stored_entries(path) == before


def test_the_log_key_name_must_equal_the_origin(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with pytest.raises(UsageError, match=r"generate the log key with --name example\.org/letter"):
        create(path, log_key=seeded_key("example.org/other"))
    assert not path.exists()  # nothing is created before the arguments are checked


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"statement": b"\xff\xfe"}, "UTF-8"),
        ({"statement": b"bad \xe2\x80\xae text\n"}, "line 1 column 5"),
        ({"statement": b"\n \n"}, "empty"),
        ({"title": "a\nb"}, "title"),
        ({"origin": "example.org/our letter", "log_key": seeded_key("x")}, None),
    ],
)
def test_create_refuses_invalid_arguments_before_touching_the_disk(
    tmp_path: Path, kw: dict[str, object], message: str | None
) -> None:
    path = tmp_path / "ledger.db"
    with pytest.raises(ledger.LedgerError, match=message):
        create(path, **kw)
    assert not path.exists()


def test_genesis_time_before_1970_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="1970"):
        create(tmp_path / "ledger.db", now=-1)
    assert not (tmp_path / "ledger.db").exists()


# --- Rejections -----------------------------------------------------------------------------------


def reject_one(book: ledger.Ledger, cose: bytes) -> str:
    """Append one endorsement that must be rejected; check nothing stored changed."""
    before = snapshot(book)
    result = book.append([("suspect", cose)], now=T0 + 100)
    assert result.appended == ()
    assert len(result.rejected) == 1
    assert result.rejected[0].label == "suspect"
    assert snapshot(book) == before
    assert book.verify().ok
    return result.rejected[0].reason


def test_rejects_an_endorsement_of_another_statement(book: ledger.Ledger) -> None:
    other = ledger.statement_hash(ledger.canonicalize(OTHER_STATEMENT))
    reason = reject_one(book, org_endorsement(7, other))
    assert "is for a different statement" in reason
    assert other.hex() in reason
    assert STATEMENT_HASH.hex() in reason


def test_rejects_a_second_endorsement_by_the_same_key(book: ledger.Ledger) -> None:
    again = org_endorsement(1, signed_at=T0 + 5000, name="Org 1 again")  # other bytes, same key
    reason = reject_one(book, again)
    assert reason == f"key {org_key(1).public.fingerprint} already endorsed at entry 1"
    assert "already endorsed at entry 2" in reject_one(book, org_endorsement(2))  # same bytes


def test_rejects_a_second_endorsement_by_the_same_key_in_one_batch(book: ledger.Ledger) -> None:
    first, second = org_endorsement(5), org_endorsement(5, signed_at=T0 + 99)
    result = book.append([("first", first), ("second", second)], now=T0 + 100)
    assert result.appended == (("first", 3),)
    # Checked against the state the batch's earlier entries left, as verify will check it.
    assert len(result.rejected) == 1
    assert result.rejected[0].label == "second"
    assert result.rejected[0].reason.endswith("already endorsed at entry 3")
    assert book.size == 4
    assert book.verify().ok


@pytest.mark.parametrize(
    ("cose", "reason"),
    [
        (b"", "endorsement: empty input"),
        (b"not cbor at all", "endorsement: "),
        (org_endorsement(7)[:-10], "not valid CBOR"),
        (org_endorsement(7) + b"\x00", "trailing bytes"),
        (b"\xd2\x80", "array of 4 items"),
        (b"\xa0", "not a tagged COSE_Sign1"),
    ],
    ids=["empty", "garbage", "truncated", "trailing", "empty-array", "empty-map"],
)
def test_rejects_malformed_bytes(book: ledger.Ledger, cose: bytes, reason: str) -> None:
    assert reason in reject_one(book, cose)


def test_rejects_a_tampered_signature(book: ledger.Ledger) -> None:
    cose = org_endorsement(7)
    reason = reject_one(book, flip(cose, len(cose) - 1))  # last byte: inside the signature
    assert reason.startswith("signature does not verify with key")
    assert org_key(7).public.fingerprint in reason


def test_rejects_a_tampered_payload(book: ledger.Ledger) -> None:
    cose = org_endorsement(7, name="Org Seven")
    position = cose.index(b"Org Seven")
    forged = cose[:position] + b"Org Eight" + cose[position + len("Org Seven") :]
    assert "signature does not verify" in reject_one(book, forged)


def test_rejects_a_payload_signed_by_another_key(book: ledger.Ledger) -> None:
    reason = reject_one(book, forged_endorsement(org_key(7), org_key(8)))
    assert "signature does not verify" in reason
    reason = reject_one(book, forged_endorsement(org_key(7), org_key(8), kid_of=org_key(8)))
    assert reason == "kid in the protected header is not the payload's key"


def test_a_mixed_batch_appends_the_valid_ones_in_order(book: ledger.Ledger) -> None:
    before = snapshot(book)
    result = book.append(
        [
            ("ok3", org_endorsement(3)),
            ("bad", b"junk"),
            ("dup1", org_endorsement(1)),
            ("ok4", org_endorsement(4)),
        ],
        now=T0 + 100,
    )
    assert result.appended == (("ok3", 3), ("ok4", 4))
    assert [r.label for r in result.rejected] == ["bad", "dup1"]
    assert snapshot(book)[:3] == before
    assert book.verify().ok


def test_atomic_append_appends_nothing_when_one_is_rejected(book: ledger.Ledger) -> None:
    before = snapshot(book)
    with pytest.raises(VerificationError, match=r"^bad: endorsement: ") as caught:
        book.append(
            [("ok3", org_endorsement(3)), ("bad", b"junk"), ("ok4", org_endorsement(4))],
            atomic=True,
            now=T0 + 100,
        )
    assert "ok3" not in str(caught.value)
    assert snapshot(book) == before
    assert book.append([("ok3", org_endorsement(3))], atomic=True).appended == (("ok3", 3),)


def test_atomic_append_refuses_a_batch_with_the_same_key_twice(book: ledger.Ledger) -> None:
    before = snapshot(book)
    with pytest.raises(VerificationError, match=r"^b: key \S+ already endorsed at entry 3$"):
        book.append(
            [("a", org_endorsement(6)), ("b", org_endorsement(6, signed_at=1))], atomic=True
        )
    assert snapshot(book) == before


def test_an_empty_append_does_nothing(book: ledger.Ledger) -> None:
    before = snapshot(book)
    assert book.append([]) == ledger.AppendResult((), ())
    assert snapshot(book) == before


def test_a_readonly_ledger_cannot_append(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    make_ledger(path, 1).close()
    before = stored_entries(path)
    with (
        ledger.Ledger.open(path, readonly=True) as book,
        pytest.raises(StoreError, match="readonly"),
    ):
        book.append([("x", org_endorsement(2))])
    assert stored_entries(path) == before


def test_check_endorsement_does_not_append(book: ledger.Ledger) -> None:
    verified = book.check_endorsement(org_endorsement(9))
    assert verified.endorsement.name == "Org 9"
    assert book.size == 3
    with pytest.raises(VerificationError, match="already endorsed"):
        book.check_endorsement(org_endorsement(1))


# --- Record times ---------------------------------------------------------------------------------


def recorded_times(book: ledger.Ledger) -> list[int]:
    return [entry.recorded_at for entry in book.iter_entries()]


def test_record_times_never_decrease_when_the_clock_goes_back(tmp_path: Path) -> None:
    with create(tmp_path / "ledger.db", now=T0 + 1000) as book:
        book.append([("a", org_endorsement(1))], now=T0)  # before the genesis
        book.append([("b", org_endorsement(2))], now=T0 + 2000)
        book.append([("c", org_endorsement(3)), ("d", org_endorsement(4))], now=T0 + 1500)
        book.append([("e", org_endorsement(5))], now=0)
        book.append([("f", org_endorsement(6))], now=T0 + 3000)
        assert recorded_times(book) == [T0 + 1000, T0 + 1000] + [T0 + 2000] * 4 + [T0 + 3000]
        assert book.verify().ok


def test_record_time_defaults_to_the_clock(tmp_path: Path) -> None:
    import time

    with create(tmp_path / "ledger.db", now=None) as book:
        before = int(time.time())
        book.append([("a", org_endorsement(1))])
        after = int(time.time())
        genesis_time, entry_time = recorded_times(book)
        assert before - 5 <= genesis_time <= entry_time <= after


def test_negative_record_time_is_a_usage_error(book: ledger.Ledger) -> None:
    before = snapshot(book)
    with pytest.raises(UsageError, match="1970"):
        book.append([("a", org_endorsement(3))], now=-5)
    assert snapshot(book) == before


# --- Concurrent writers ---------------------------------------------------------------------------


WORKERS = 4
APPENDS_PER_WORKER = 10


def _worker(path: str, worker: int, barrier: object, results: object) -> None:
    acknowledged: list[tuple[str, int]] = []
    with ledger.Ledger.open(path) as book:
        barrier.wait()  # type: ignore[attr-defined]  # all start appending together
        for number in range(APPENDS_PER_WORKER):
            org = 1000 * (worker + 1) + number
            result = book.append([(f"w{worker}-{number}", org_endorsement(org))])
            acknowledged.extend(result.appended)
    results.put((worker, acknowledged))  # type: ignore[attr-defined]


def test_concurrent_writers_in_processes_keep_one_linear_chain(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    make_ledger(path, 0).close()
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(WORKERS), context.Queue()
    processes = [
        context.Process(target=_worker, args=(str(path), w, barrier, queue)) for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    results = dict(queue.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    acknowledged = [item for w in sorted(results) for item in results[w]]
    assert len(acknowledged) == WORKERS * APPENDS_PER_WORKER  # nobody was refused
    seqs = sorted(seq for _, seq in acknowledged)
    assert seqs == list(range(1, WORKERS * APPENDS_PER_WORKER + 1))  # each once, no gaps
    with ledger.Ledger.open(path, readonly=True) as book:
        report = book.verify()
        assert report.ok, report.problems
        assert book.size == 1 + WORKERS * APPENDS_PER_WORKER
        entries = {entry.seq: entry for entry in book.iter_entries()}
    for label, seq in acknowledged:
        worker, number = (int(part) for part in label[1:].split("-"))
        assert entries[seq].body == org_endorsement(1000 * (worker + 1) + number), label
    for worker_results in results.values():  # each worker's appends land in its own order
        assert [seq for _, seq in worker_results] == sorted(seq for _, seq in worker_results)


# --- Races under the write lock -------------------------------------------------------------------


def racing(monkeypatch: pytest.MonkeyPatch, loser: ledger.Ledger, winner: ledger.Ledger) -> None:
    """Make ``winner`` append org 1's endorsement right after ``loser`` checked org 1's."""
    real = loser._verified
    raced: list[bool] = []

    def check_then_lose_the_race(cose: bytes, now: int) -> object:
        verified = real(cose, now)
        if cose == org_endorsement(1) and not raced:
            raced.append(True)
            winner.append([("winner", org_endorsement(1, signed_at=T0 - 1))], now=T0 + 50)
        return verified

    monkeypatch.setattr(loser, "_verified", check_then_lose_the_race)


def test_a_key_that_endorsed_meanwhile_is_rejected_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    with make_ledger(path, 0) as winner, ledger.Ledger.open(path) as loser:
        racing(monkeypatch, loser, winner)
        result = loser.append([("loser", org_endorsement(1))], now=T0 + 60)
        assert result.appended == ()
        assert [r.label for r in result.rejected] == ["loser"]
        assert result.rejected[0].reason.endswith("already endorsed at entry 1")
        assert loser.size == 2
        assert [s.signed_at for s in loser.verify().signatories] == [T0 - 1]  # the winner's


def test_atomic_append_appends_nothing_when_a_key_endorsed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the re-check under the lock used to reject without rolling back the batch.
    path = tmp_path / "ledger.db"
    with make_ledger(path, 0) as winner, ledger.Ledger.open(path) as loser:
        racing(monkeypatch, loser, winner)
        with pytest.raises(VerificationError, match=r"^org1: key \S+ already endorsed at entry 1$"):
            loser.append(
                [("org2", org_endorsement(2)), ("org1", org_endorsement(1))],
                atomic=True,
                now=T0 + 60,
            )
        assert loser.size == 2  # the genesis and the winner's entry: org2 was rolled back
        assert [s.name for s in loser.verify().signatories] == ["Org 1"]
