"""``Ledger.append`` of a batch against the same endorsements appended one at a time.

A batch is one transaction whose writer keeps entries, tree nodes and lifecycle state in memory
until the commit (``_SqliteWriter``, ``BufferedState``); one call per endorsement reads every
state from the tables. Both must accept and refuse the same endorsements, with the same reasons
and flags, and leave the same rows in every table.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    org_key,
)
from ledger.cose import sign_endorsement
from ledger.lookalike import skeleton
from ledger.model import Action, Endorsement, RemovalReason

FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
"""Where the property test makes its ledgers: memory-backed where there is one (no fsync cost)."""
NOW = T0 + 1000
TABLES = ("entries", "tree", "keys", "orgs", "meta", "checkpoints")


def log_action(action: Action, at: int, ref: int | None = None) -> bytes:
    claim = Endorsement(
        action=action,
        statement_hash=STATEMENT_HASH,
        name=None,
        public_key=LOG_KEY.public.raw,
        signed_at=at,
        ref=ref,
        reason=RemovalReason.MISTAKEN if action is Action.REMOVE else None,
    )
    return sign_endorsement(claim, LOG_KEY)


def endorse(number: int, at: int, name: str | None = None) -> bytes:
    name = name or f"Organisation {number}"
    return ledger.endorse(org_key(number), STATEMENT_HASH, name=name, signed_at=at)


def withdraw(number: int, at: int, ref: int | None = None) -> bytes:
    return ledger.withdraw(org_key(number), STATEMENT_HASH, signed_at=at, ref=ref)


def forged(cose: bytes) -> bytes:
    """``cose`` with a bit of its signature's S flipped (S stays below the group order)."""
    return flip(cose, len(cose) - 2)


POOL: tuple[bytes, ...] = (
    # 0-4: endorsements, two with names like earlier ones
    endorse(1, T0 + 10),
    endorse(2, T0 + 11),
    endorse(3, T0 + 12),
    endorse(4, T0 + 13, "0rganisation 1"),  # looks like organisation 1's name
    endorse(5, T0 + 14, "Organisation 2"),  # the same name as organisation 2
    # 5-7: withdrawals, one naming its entry
    withdraw(1, T0 + 20),
    withdraw(2, T0 + 21),
    withdraw(3, T0 + 22, ref=3),
    # 8-9: a rotation (1 -> 6), and one to a key in use (2 -> 1)
    ledger.rotate(org_key(1), org_key(6), STATEMENT_HASH, signed_at=T0 + 30),
    ledger.rotate(org_key(2), org_key(1), STATEMENT_HASH, signed_at=T0 + 31),
    # 10-13: after the rotation: the old key, the new one; a second endorsement after a withdrawal
    withdraw(6, T0 + 40),
    endorse(1, T0 + 50),
    endorse(2, T0 + 51),
    endorse(6, T0 + 60),
    # 14-15: revocations: a key by itself from before its endorsement, a retired key by the current
    ledger.revoke(
        org_key(3), org_key(3).public, STATEMENT_HASH, signed_at=T0 + 32, revoked_from=T0
    ),
    ledger.revoke(
        org_key(6), org_key(1).public, STATEMENT_HASH, signed_at=T0 + 61, revoked_from=T0 + 45
    ),
    # 16-19: the log's removals (of entries 1, 4 and 5) and closing; then an endorsement
    log_action(Action.REMOVE, T0 + 70, ref=1),
    log_action(Action.REMOVE, T0 + 71, ref=4),
    log_action(Action.REMOVE, T0 + 72, ref=5),
    log_action(Action.CLOSE, T0 + 90),
    endorse(7, T0 + 95),
    # 21-24: refused before any rule: forged, another statement, malformed, from the future
    forged(endorse(8, T0 + 10)),
    ledger.endorse(org_key(9), ledger.statement_hash(OTHER_STATEMENT), name="X", signed_at=T0),
    b"\xa1\x00\x00not an endorsement",
    endorse(10, NOW + 3 * 86_400),
)


def new_ledger(path: Path) -> ledger.Ledger:
    return ledger.Ledger.create(
        path, statement=STATEMENT, title=TITLE, origin=ORIGIN, log_key=LOG_KEY, now=T0
    )


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order, read with sqlite3 directly."""
    db = sqlite3.connect(path)
    try:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in TABLES
        }
    finally:
        db.close()


def one_at_a_time(
    book: ledger.Ledger, items: Sequence[tuple[str, bytes]], allow_similar: bool
) -> ledger.AppendResult:
    """The reference: one call, one transaction, per endorsement."""
    appended: list[tuple[str, int]] = []
    rejected: list[ledger.Rejected] = []
    flags: list[tuple[str, str]] = []
    for item in items:
        result = book.append([item], allow_similar=allow_similar, now=NOW)
        appended += result.appended
        rejected += result.rejected
        flags += result.flags
    return ledger.AppendResult(tuple(appended), tuple(rejected), tuple(flags))


def compare(
    directory: Path, picks: Sequence[int], allow_similar: bool, before: Sequence[int] = ()
) -> ledger.AppendResult:
    """Append the picked pool items as one batch and one at a time; both must agree.

    The ``before`` items are appended first to both, one at a time, so that the batch also
    changes state that its transaction did not create.
    """
    items = [(f"#{number}:{pick}", POOL[pick]) for number, pick in enumerate(picks)]
    with new_ledger(directory / "batch.db") as batch, new_ledger(directory / "single.db") as single:
        for book in (batch, single):
            one_at_a_time(book, [("before", POOL[pick]) for pick in before], allow_similar)
        batch_size_before = batch.size
        together = batch.append(items, allow_similar=allow_similar, now=NOW)
        apart = one_at_a_time(single, items, allow_similar)
        report = batch.verify()
    assert together.appended == apart.appended
    assert together.flags == apart.flags
    # A batch reports the refusals of decoding and signatures first: compare by label.
    assert sorted(together.rejected, key=lambda r: r.label) == sorted(
        apart.rejected, key=lambda r: r.label
    )
    assert len(together.appended) + len(together.rejected) == len(items)
    assert rows(directory / "batch.db") == rows(directory / "single.db")
    assert report.ok, report.problems
    assert report.size == batch_size_before + len(together.appended)
    return together


def test_the_whole_pool_in_one_batch_is_the_pool_one_at_a_time(tmp_path: Path) -> None:
    result = compare(tmp_path, range(len(POOL)), allow_similar=True)
    assert [int(label.split(":")[1]) for label, _ in result.appended] == [
        *range(9),
        *(12, 13, 14, 15),
        *(17, 18, 19),
    ]
    assert [label for label, _ in result.flags] == ["#3:3", "#4:4", "#12:12"]
    reasons = {int(r.label.split(":")[1]): r.reason for r in result.rejected}
    assert "already in use" in reasons[9]
    assert "no live endorsement" in reasons[10]
    assert "replaced by a rotation" in reasons[11]
    assert "entry 1 is not a live endorsement" in reasons[16]
    assert "nothing may follow" in reasons[20]
    assert "does not verify" in reasons[21]
    assert "different statement" in reasons[22]
    assert "not valid CBOR" in reasons[23] or "trailing bytes" in reasons[23]
    assert "future" in reasons[24]
    assert len(reasons) == 9


def test_a_lookalike_refused_in_a_batch_leaves_nothing_of_itself(tmp_path: Path) -> None:
    result = compare(tmp_path, [0, 3, 4, 1, 4], allow_similar=False)
    # organisation 4's name looks like 1's; 5 takes 2's name first, so 2 is the one refused
    assert [label for label, _ in result.appended] == ["#0:0", "#2:4"]
    assert {r.label for r in result.rejected} == {"#1:3", "#3:1", "#4:4"}
    with ledger.Ledger.open(tmp_path / "batch.db") as book:
        state = book.store.state()
        assert state.key(org_key(4).public.key_id) is None
        assert state.key(org_key(2).public.key_id) is None
        assert state.live_orgs_with_skeleton(skeleton("Organisation 2")) == [2]


def test_an_atomic_batch_with_one_refusal_writes_nothing(tmp_path: Path) -> None:
    with new_ledger(tmp_path / "ledger.db") as book:
        before = rows(tmp_path / "ledger.db")
        with pytest.raises(ledger.VerificationError, match=r"#2: .*already endorsed"):
            book.append([("#0", POOL[0]), ("#1", POOL[1]), ("#2", POOL[0])], atomic=True, now=NOW)
        assert rows(tmp_path / "ledger.db") == before
        assert book.append([("#0", POOL[0])], now=NOW).appended == (("#0", 1),)


def test_check_endorsement_in_a_batch_writer_leaves_no_trace(tmp_path: Path) -> None:
    with new_ledger(tmp_path / "ledger.db") as book:
        book.append([("#0", POOL[0])], now=NOW)
        before = rows(tmp_path / "ledger.db")
        assert book.check_endorsement(POOL[1], now=NOW).endorsement.name == "Organisation 2"
        with pytest.raises(ledger.VerificationError, match="already endorsed"):
            book.check_endorsement(POOL[0], now=NOW)
        assert rows(tmp_path / "ledger.db") == before


@settings(
    max_examples=60 if FAST_TMP else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    before=st.lists(st.integers(0, len(POOL) - 1), max_size=6),
    picks=st.lists(st.integers(0, len(POOL) - 1), max_size=14),
    allow_similar=st.booleans(),
)
def test_random_batches_match_one_at_a_time(
    before: list[int], picks: list[int], allow_similar: bool
) -> None:
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as directory:
        compare(Path(directory), picks, allow_similar, before)


def test_a_batch_ends_an_endorsement_of_an_earlier_transaction_then_refers_to_it(
    tmp_path: Path,
) -> None:
    # organisation 1 withdraws entry 1 in the batch: removing entry 1 is then refused
    result = compare(tmp_path, [5, 16, 17], allow_similar=True, before=[0, 1, 2, 3])
    assert [label for label, _ in result.appended] == ["#0:5", "#2:17"]
    assert [r.label for r in result.rejected] == ["#1:16"]
