"""The lifecycle rules (``ledger.lifecycle``), enforced alike by ``append`` and by ``verify``.

Every forgery is tried twice: handed to ``Ledger.append`` (it must be refused with a specific
reason and nothing stored may change), and chained directly into a ledger with ``helpers.chain``
so that append's checks are bypassed (``verify`` must then name that entry, under "signers" for
a lifecycle rule). A property test runs random sequences of lifecycle events against a plain
reference model written here, independently of ``lifecycle.py``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import attrs
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from helpers import (
    LOG_KEY,
    ORIGIN,
    STATEMENT,
    STATEMENT_HASH,
    T0,
    TITLE,
    chain,
    check,
    endorsement_entry,
    genesis_entry,
    org_key,
    seeded_key,
    where,
)
from ledger import (
    Action,
    Endorsement,
    EntryType,
    FormatError,
    RemovalReason,
    SigningKey,
    UsageError,
    VerificationError,
    codec,
)
from ledger.cose import CONTENT_TYPE, sign_endorsement, statement_uri
from ledger.model import LOG_ACTIONS
from ledger.payload import encode_payload

A, B, C = org_key(1), org_key(2), org_key(3)
A2, A3 = seeded_key("org1-second.example"), seeded_key("org1-third.example")
STRANGER = seeded_key("stranger.example")
NOW = T0 + 1000
"""Record time of every append here: later than every signing time the tests use."""
FAST_TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
"""Where the property test makes its ledgers: memory-backed where there is one (no fsync cost)."""

Step = bytes | tuple[bytes, EntryType]
"""A signed statement for a forged ledger, with the entry type to file it under if not its own."""


# --- Signed statements ----------------------------------------------------------------------------


def name_of(key: SigningKey) -> str:
    return f"Org of {key.name}"


def endorse(key: SigningKey, at: int = T0 + 10, name: str | None = None) -> bytes:
    return ledger.endorse(key, STATEMENT_HASH, name=name or name_of(key), signed_at=at)


def withdraw(key: SigningKey, at: int = T0 + 20, ref: int | None = None) -> bytes:
    return ledger.withdraw(key, STATEMENT_HASH, signed_at=at, ref=ref)


def rotate(old: SigningKey, new: SigningKey, at: int = T0 + 15) -> bytes:
    return ledger.rotate(old, new, STATEMENT_HASH, signed_at=at)


def revoke(signer: SigningKey, revoked: SigningKey, since: int, at: int = T0 + 30) -> bytes:
    return ledger.revoke(signer, revoked.public, STATEMENT_HASH, signed_at=at, revoked_from=since)


def log_action(
    action: Action,
    *,
    ref: int | None = None,
    signer: SigningKey = LOG_KEY,
    reason: RemovalReason | None = None,
    note: str | None = None,
    at: int = T0 + 40,
) -> bytes:
    """A REMOVE or CLOSE signed by ``signer`` (the log key unless the test forges one)."""
    if action is Action.REMOVE and reason is None:
        reason = RemovalReason.MISTAKEN
    claim = Endorsement(
        action=action,
        statement_hash=STATEMENT_HASH,
        name=None,
        public_key=signer.public.raw,
        signed_at=at,
        ref=ref,
        reason=reason,
        note=note,
    )
    return sign_endorsement(claim, signer)


def remove(ref: int, **kw: Any) -> bytes:
    return log_action(Action.REMOVE, ref=ref, **kw)


def close(**kw: Any) -> bytes:
    return log_action(Action.CLOSE, **kw)


def rotation_by_hand(
    old: SigningKey,
    new: SigningKey,
    signatures: Sequence[tuple[SigningKey, SigningKey]],
    at: int = T0 + 15,
) -> bytes:
    """A COSE_Sign (tag 98) for a rotation from ``old`` to ``new``, built from RFC 9052 §4.1.

    ``signatures`` are ``(key named in the kid, key that actually signs)`` pairs, in order, so
    a test can leave out or forge the new key's countersignature.
    """
    claim = Endorsement(
        action=Action.ROTATE,
        statement_hash=STATEMENT_HASH,
        name=None,
        public_key=old.public.raw,
        signed_at=at,
        new_key=new.public.raw,
    )
    payload = encode_payload(claim)
    claims = {1: f"ledger-key:{old.public.fingerprint}", 2: statement_uri(STATEMENT_HASH)}
    body = codec.encode({3: CONTENT_TYPE, 15: claims})
    items = []
    for kid_of, signer in signatures:
        protected = codec.encode({1: -8, 4: kid_of.public.key_id})
        signature = signer.sign(codec.encode(["Signature", body, protected, b"", payload]))
        items.append([protected, {}, signature])
    return codec.encode(cbor2.CBORTag(98, [body, {}, payload, items]))


def rotation_as_sign1(old: SigningKey, new: SigningKey, at: int = T0 + 15) -> bytes:
    """A rotation as a COSE_Sign1 signed by the old key only (no countersignature at all)."""
    payload = encode_payload(
        Endorsement(
            action=Action.ROTATE,
            statement_hash=STATEMENT_HASH,
            name=None,
            public_key=old.public.raw,
            signed_at=at,
            new_key=new.public.raw,
        )
    )
    claims = {1: f"ledger-key:{old.public.fingerprint}", 2: statement_uri(STATEMENT_HASH)}
    protected = codec.encode({1: -8, 3: CONTENT_TYPE, 4: old.public.key_id, 15: claims})
    signature = old.sign(codec.encode(["Signature1", protected, b"", payload]))
    return codec.encode(cbor2.CBORTag(18, [protected, {}, payload, signature]))


def test_the_hand_built_rotation_is_the_library_rotation() -> None:
    # The forgeries below differ from a genuine rotation only where they mean to.
    assert rotation_by_hand(A, A2, [(A, A), (A2, A2)]) == rotate(A, A2)


# --- Two ways in: append, and a forged ledger for verify ------------------------------------------


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A fresh directory for ledgers, memory-backed where possible: fsync dominates these tests."""
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as directory:
        yield Path(directory)


def new_ledger(path: Path) -> ledger.Ledger:
    return ledger.Ledger.create(
        path, statement=STATEMENT, title=TITLE, origin=ORIGIN, log_key=LOG_KEY, now=T0
    )


def build(path: Path, steps: Sequence[bytes]) -> ledger.Ledger:
    """A ledger at ``path`` with ``steps`` appended, each one accepted."""
    book = new_ledger(path)
    for number, cose in enumerate(steps, 1):
        result = book.append([(f"step{number}", cose)], now=NOW)
        assert result.appended == ((f"step{number}", number),), result
    return book


def stored(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a ledger file (entries, tree, lifecycle state, meta)."""
    db = sqlite3.connect(path)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in sorted(tables)}
    finally:
        db.close()


def own_type(cose: bytes) -> EntryType:
    try:
        action = ledger.decode_endorsement(cose).endorsement.action
    except FormatError:
        return EntryType.ENDORSEMENT
    return EntryType.LOG if action in LOG_ACTIONS else EntryType.ENDORSEMENT


def forged(steps: Sequence[Step]) -> ledger.Report:
    """Verify a well-chained ledger of ``steps``, built without ``append``."""
    entries = [genesis_entry()]
    for seq, step in enumerate(steps, 1):
        cose, kind = step if isinstance(step, tuple) else (step, own_type(step))
        entries.append(attrs.evolve(endorsement_entry(seq, cose), type=kind))
    return check(chain(entries))


def listed(report: ledger.Report) -> list[tuple[int, str, str]]:
    return [(s.seq, s.name, s.fingerprint) for s in report.signatories]


def departures(report: ledger.Report) -> list[tuple[int, str, int]]:
    return [(d.seq, d.how, d.ended_at_entry) for d in report.departed]


def assert_append_refuses(
    path: Path, prefix: Sequence[bytes], attack: bytes, fragment: str
) -> None:
    with build(path, prefix) as book:
        before = stored(path)
        result = book.append([("attack", attack)], now=NOW)
        assert result.appended == ()
        assert [r.label for r in result.rejected] == ["attack"]
        assert fragment in result.rejected[0].reason, result.rejected[0].reason
        with pytest.raises((VerificationError, FormatError), match=re.escape(fragment)):
            book.check_endorsement(attack, now=NOW)
        with pytest.raises(VerificationError, match=re.escape(fragment)):
            book.append([("attack", attack)], atomic=True, now=NOW)
        assert stored(path) == before
        report = book.verify()
    assert report.ok
    assert listed(report) == listed(forged(prefix))  # append and a direct chain agree


def assert_verify_refuses(
    prefix: Sequence[Step], attack: Step, fragment: str, check_name: str = "signers"
) -> None:
    honest = forged(prefix)
    assert honest.ok, honest.problems
    report = forged([*prefix, attack])
    seq = len(prefix) + 1
    assert where(report) == {(seq, check_name)}, report.problems
    assert fragment in report.problems[0].message, report.problems[0].message
    # The refused entry changed nothing on the list.
    assert listed(report) == listed(honest)
    assert departures(report) == departures(honest)
    assert report.closed_at == honest.closed_at


def assert_refused(
    path: Path,
    prefix: Sequence[bytes],
    attack: bytes,
    fragment: str,
    check_name: str = "signers",
) -> None:
    assert_append_refuses(path, prefix, attack, fragment)
    assert_verify_refuses(prefix, attack, fragment, check_name)


# --- Each rule, refused both ways -----------------------------------------------------------------

FORGERIES = [
    pytest.param(
        [endorse(A)],
        withdraw(B, ref=1),
        "has never endorsed this statement",
        id="attack_withdrawal_by_another_key",
    ),
    pytest.param(
        [endorse(A), endorse(B)],
        withdraw(B, ref=1),
        "entry 1 is not this organisation's live endorsement (that is entry 2)",
        id="attack_withdrawal_of_another_orgs_endorsement",
    ),
    pytest.param(
        [endorse(A), withdraw(A, ref=1), endorse(A, at=T0 + 30)],
        withdraw(A, at=T0 + 40, ref=1),
        "entry 1 is not this organisation's live endorsement (that is entry 3)",
        id="attack_withdrawal_naming_an_ended_endorsement",
    ),
    pytest.param(
        [endorse(A)],
        withdraw(A, ref=7),
        "entry 7 is not this organisation's live endorsement",
        id="attack_withdrawal_naming_a_missing_entry",
    ),
    pytest.param(
        [endorse(A), withdraw(A, ref=1)],
        withdraw(A, at=T0 + 21, ref=1),
        "no live endorsement to withdraw",
        id="attack_withdrawing_twice",
    ),
    pytest.param(
        [endorse(A), withdraw(A)],
        withdraw(A, at=T0 + 21),
        "no live endorsement to withdraw",
        id="attack_withdrawing_twice_without_ref",
    ),
    pytest.param(
        [endorse(A)],
        endorse(A, at=T0 + 11, name="Org A again"),
        "already endorsed at entry 1",
        id="attack_second_live_endorsement_by_one_key",
    ),
    pytest.param(
        [endorse(A), endorse(B)],
        remove(1, signer=B),
        "a remove must be signed by the log key",
        id="attack_removal_signed_by_an_organisation_key",
    ),
    pytest.param(
        [endorse(A)],
        close(signer=A),
        "a close must be signed by the log key",
        id="attack_close_signed_by_an_organisation_key",
    ),
    pytest.param(
        [endorse(A), withdraw(A)],
        remove(1),
        "entry 1 is not a live endorsement",
        id="attack_removal_of_a_withdrawn_endorsement",
    ),
    pytest.param(
        [endorse(A), withdraw(A)],
        remove(2),
        "entry 2 is not a live endorsement",
        id="attack_removal_of_a_withdrawal_entry",
    ),
    pytest.param(
        [endorse(A), endorse(B)],
        rotate(A, B),
        f"the new key {B.public.fingerprint} is already in use",
        id="attack_rotation_to_another_orgs_key",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2)],
        rotate(A2, A, at=T0 + 16),
        f"the new key {A.public.fingerprint} is already in use",
        id="attack_rotation_back_to_a_retired_key",
    ),
    pytest.param(
        [endorse(A)],
        rotate(B, A2),
        "has never endorsed this statement",
        id="attack_rotation_by_an_unknown_key",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2)],
        rotate(A, A3, at=T0 + 16),
        "was replaced by a rotation",
        id="attack_old_key_rotates_after_rotation",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2)],
        withdraw(A, ref=1),
        "was replaced by a rotation",
        id="attack_old_key_withdraws_after_rotation",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2), withdraw(A2, ref=1)],
        endorse(A, at=T0 + 30),
        "was replaced by a rotation",
        id="attack_old_key_endorses_after_rotation",
    ),
    pytest.param(
        [endorse(A), close()],
        endorse(B),
        "the statement was closed at entry 2",
        id="attack_endorsement_after_close",
    ),
    pytest.param(
        [endorse(A), withdraw(A), revoke(A, A, since=T0 + 100)],
        endorse(A, at=T0 + 100),
        "is revoked from",
        id="attack_endorsement_by_a_revoked_key",
    ),
    pytest.param(
        [endorse(A), revoke(A, A, since=T0 + 50)],
        withdraw(A, at=T0 + 60),
        "is revoked from",
        id="attack_withdrawal_by_a_revoked_key",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2), revoke(A2, A, since=T0 + 12)],
        revoke(A, A2, since=T0, at=T0 + 40),
        "is revoked from",
        id="attack_revoked_key_revokes_its_successor",
    ),
    pytest.param(
        [endorse(A), endorse(B)],
        revoke(B, A, since=T0),
        "is not a key of this organisation",
        id="attack_revocation_by_another_orgs_key",
    ),
    pytest.param(
        [endorse(A)],
        revoke(A, STRANGER, since=T0),
        "is not a key of this organisation",
        id="attack_revocation_of_an_unknown_key",
    ),
    pytest.param(
        [endorse(A)],
        revoke(STRANGER, A, since=T0),
        "has never endorsed this statement",
        id="attack_revocation_by_an_unknown_key",
    ),
    pytest.param(
        [endorse(A), rotate(A, A2), rotate(A2, A3, at=T0 + 16)],
        revoke(A, A2, since=T0),
        "signed by the revoked key itself or by the organisation's current key",
        id="attack_retired_key_revokes_a_sibling",
    ),
]


@pytest.mark.parametrize(("prefix", "attack", "fragment"), FORGERIES)
def test_forgery_is_refused_by_append_and_by_verify(
    workdir: Path, prefix: list[bytes], attack: bytes, fragment: str
) -> None:
    assert_refused(workdir / "ledger.db", prefix, attack, fragment)


AFTER_CLOSE = [
    pytest.param(endorse(B), id="endorse"),
    pytest.param(endorse(A, at=T0 + 50), id="re_endorse"),
    pytest.param(withdraw(A, ref=1), id="withdraw"),
    pytest.param(rotate(A, A2), id="rotate"),
    pytest.param(revoke(A, A, since=T0), id="revoke"),
    pytest.param(remove(1), id="remove"),
    pytest.param(close(at=T0 + 41), id="close_again"),
]


@pytest.mark.parametrize("attack", AFTER_CLOSE)
def test_attack_anything_after_close(workdir: Path, attack: bytes) -> None:
    prefix = [endorse(A), withdraw(A), close()]
    assert_refused(workdir / "ledger.db", prefix, attack, "closed at entry 3; nothing may follow")


def test_close_statement_twice_raises(workdir: Path) -> None:
    with build(workdir / "ledger.db", [endorse(A)]) as book:
        assert book.close_statement(LOG_KEY, now=NOW) == 2
        with pytest.raises(VerificationError, match="closed at entry 2"):
            book.close_statement(LOG_KEY, now=NOW)
        assert book.size == 3
        report = book.verify()
        assert report.ok
        assert report.closed_at == 2
        assert listed(report) == [(1, name_of(A), A.public.fingerprint)]


def test_remove_and_close_need_the_log_key(workdir: Path) -> None:
    with build(workdir / "ledger.db", [endorse(A)]) as book:
        before = stored(workdir / "ledger.db")
        with pytest.raises(UsageError, match="not the ledger's log key"):
            book.remove(1, RemovalReason.FRAUDULENT, A, now=NOW)
        with pytest.raises(UsageError, match="not the ledger's log key"):
            book.close_statement(A, now=NOW)
        assert stored(workdir / "ledger.db") == before


@pytest.mark.parametrize(
    ("attack", "fragment"),
    [
        pytest.param(
            (remove(1), EntryType.ENDORSEMENT),
            "a remove must be a log entry (type 2)",
            id="attack_removal_in_a_type_1_entry",
        ),
        pytest.param(
            (remove(1, signer=A), EntryType.ENDORSEMENT),
            "a remove must be a log entry (type 2)",
            id="attack_org_signed_removal_in_a_type_1_entry",
        ),
        pytest.param(
            (close(), EntryType.ENDORSEMENT),
            "a close must be a log entry (type 2)",
            id="attack_close_in_a_type_1_entry",
        ),
        pytest.param(
            (remove(1, signer=B), EntryType.LOG),
            "a remove must be signed by the log key",
            id="attack_org_signed_removal_in_a_type_2_entry",
        ),
        pytest.param(
            (withdraw(A, ref=1), EntryType.LOG),
            "a withdraw must be an organisation entry",
            id="attack_withdrawal_in_a_type_2_entry",
        ),
        pytest.param(
            (endorse(B), EntryType.LOG),
            "a endorse must be an organisation entry",
            id="attack_endorsement_in_a_type_2_entry",
        ),
    ],
)
def test_entry_type_must_match_the_action(attack: Step, fragment: str) -> None:
    # append chooses the entry type from the action, so only a forged ledger can mislabel one.
    assert_verify_refuses([endorse(A), endorse(B)], attack, fragment)


# --- Rotation signatures --------------------------------------------------------------------------


def test_attack_rotation_without_countersignature(workdir: Path) -> None:
    one_signature = rotation_by_hand(A, A2, [(A, A)])
    with pytest.raises(FormatError, match="exactly two signatures"):
        ledger.decode_endorsement(one_signature)
    assert_refused(
        workdir / "ledger.db", [endorse(A)], one_signature, "exactly two signatures", "encoding"
    )


def test_attack_rotation_as_a_single_signature(workdir: Path) -> None:
    sign1 = rotation_as_sign1(A, A2)
    with pytest.raises(FormatError, match="a rotation must be a COSE_Sign with two signatures"):
        ledger.decode_endorsement(sign1)
    assert_refused(workdir / "ledger.db", [endorse(A)], sign1, "two signatures", "encoding")


def test_attack_rotation_with_three_signatures(workdir: Path) -> None:
    three = rotation_by_hand(A, A2, [(A, A), (A2, A2), (A3, A3)])
    with pytest.raises(FormatError, match="exactly two signatures"):
        ledger.decode_endorsement(three)


@pytest.mark.parametrize(
    ("signatures", "fragment"),
    [
        pytest.param(
            [(A, A), (STRANGER, STRANGER)],
            "the countersignature is not by the new key the payload names",
            id="attack_countersigned_by_another_key",
        ),
        pytest.param(
            [(A, A), (A2, STRANGER)],
            "the new key's countersignature does not verify",
            id="attack_countersignature_forged_under_the_new_kid",
        ),
        pytest.param(
            [(A, A), (A2, A)],
            "the new key's countersignature does not verify",
            id="attack_old_key_countersigns_for_the_new_key",
        ),
        pytest.param(
            [(A2, A2), (A, A)],
            "kid in the protected header is not the payload's key",
            id="attack_signatures_in_the_wrong_order",
        ),
        pytest.param(
            [(A, A), (A, A)],
            "the countersignature is not by the new key",
            id="attack_old_key_signs_twice",
        ),
    ],
)
def test_rotation_countersignature_must_be_the_new_keys(
    workdir: Path, signatures: list[tuple[SigningKey, SigningKey]], fragment: str
) -> None:
    cose = rotation_by_hand(A, A2, signatures)
    signed = ledger.decode_endorsement(cose)  # well-formed: only the signatures are wrong
    with pytest.raises(VerificationError, match=re.escape(fragment)):
        ledger.verify_endorsement(signed)
    assert_refused(workdir / "ledger.db", [endorse(A)], cose, fragment, "signatures")


def test_rotation_refuses_to_sign_without_the_new_key() -> None:
    claim = ledger.decode_endorsement(rotate(A, A2)).endorsement
    with pytest.raises(FormatError, match="countersigned by the new key"):
        sign_endorsement(claim, A)
    with pytest.raises(FormatError, match="countersigned by the new key"):
        sign_endorsement(claim, A, new_key=A3)
    with pytest.raises(FormatError, match="different from the old one"):
        rotate(A, A)


# --- Revocation -----------------------------------------------------------------------------------


def test_revocation_from_the_signing_time_ends_the_endorsement(workdir: Path) -> None:
    steps = [endorse(A, at=T0 + 10), endorse(B), revoke(A, A, since=T0 + 10)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(2, name_of(B), B.public.fingerprint)]
    assert departures(report) == [(1, "revoked", 3)]
    assert report.departed[0].reason == "key revoked from 2023-11-14T22:13:30Z"
    assert report.departed[0].fingerprint == A.public.fingerprint
    assert departures(forged(steps)) == departures(report)


def test_revocation_from_after_the_signing_time_keeps_the_endorsement(workdir: Path) -> None:
    steps = [endorse(A, at=T0 + 10), revoke(A, A, since=T0 + 11)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(1, name_of(A), A.public.fingerprint)]
    assert report.departed == ()
    # ...but the key signs nothing dated from then on.
    assert_refused(workdir / "again.db", steps, withdraw(A, at=T0 + 11), "is revoked from")


def test_a_key_revoked_later_than_its_signing_time_may_still_endorse(workdir: Path) -> None:
    steps = [endorse(A), withdraw(A), revoke(A, A, since=T0 + 100)]
    with build(workdir / "ledger.db", [*steps, endorse(A, at=T0 + 99)]) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(4, name_of(A), A.public.fingerprint)]


def test_the_current_key_revokes_a_retired_key_and_ends_what_it_signed(workdir: Path) -> None:
    # A signed the endorsement, then rotated to A2; A2 revokes A from before that signature.
    steps = [endorse(A, at=T0 + 10), rotate(A, A2, at=T0 + 15), revoke(A2, A, since=T0 + 5)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert report.signatories == ()
    assert departures(report) == [(1, "revoked", 3)]


def test_revoking_a_retired_key_after_its_endorsement_keeps_the_carried_endorsement(
    workdir: Path,
) -> None:
    steps = [endorse(A, at=T0 + 10), rotate(A, A2, at=T0 + 15), revoke(A2, A, since=T0 + 11)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(1, name_of(A), A2.public.fingerprint)]


def test_the_earliest_revocation_time_wins(workdir: Path) -> None:
    # A first revokes itself from T0+50 (its endorsement at T0+10 stays), then from T0+5: that
    # earlier time now covers the endorsement, which ends.
    steps = [
        endorse(A, at=T0 + 10),
        revoke(A, A, since=T0 + 50, at=T0 + 20),
        revoke(A, A, since=T0 + 5, at=T0 + 21),
    ]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert departures(report) == [(1, "revoked", 3)]
    # A later revocation time does not un-revoke: A is still revoked from T0+5.
    assert_refused(
        workdir / "again.db",
        [endorse(A, at=T0 + 10), revoke(A, A, since=T0 + 5, at=T0 + 20)],
        revoke(A, A, since=T0 + 50, at=T0 + 21),
        "is revoked from",
    )


# --- Carry-over through a rotation ----------------------------------------------------------------


def test_endorsement_carries_over_to_the_rotated_key(workdir: Path) -> None:
    path = workdir / "ledger.db"
    with build(path, [endorse(A), endorse(B), rotate(A, A2)]) as book:
        report = book.verify()
        assert report.ok
        assert listed(report) == [
            (1, name_of(A), A2.public.fingerprint),
            (2, name_of(B), B.public.fingerprint),
        ]
        assert report.signatories[0].public_key == A2.public.raw
        assert book.entry_of_key(A2.public) == 1
        assert book.entry_of_key(A.public) == 1  # the old key still names the organisation
        # The new key withdraws the carried endorsement.
        result = book.append([("withdraw", withdraw(A2, at=T0 + 20, ref=1))], now=NOW)
        assert result.appended == (("withdraw", 4),)
        # The same (current) key may endorse again.
        result = book.append([("again", endorse(A2, at=T0 + 30, name="Org A anew"))], now=NOW)
        assert result.appended == (("again", 5),)
        report = book.verify()
    assert report.ok
    assert listed(report) == [
        (2, name_of(B), B.public.fingerprint),
        (5, "Org A anew", A2.public.fingerprint),
    ]
    assert departures(report) == [(1, "withdrawn", 4)]
    assert report.departed[0].fingerprint == A2.public.fingerprint
    verified = forged([endorse(A), endorse(B), rotate(A, A2), withdraw(A2, ref=1)])
    assert verified.ok
    assert departures(verified) == [(1, "withdrawn", 4)]


def test_re_endorsement_after_withdrawal_by_the_same_key(workdir: Path) -> None:
    steps = [endorse(A), withdraw(A, ref=1), endorse(A, at=T0 + 30)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(3, name_of(A), A.public.fingerprint)]
    assert departures(report) == [(1, "withdrawn", 2)]


def test_re_endorsement_after_removal_by_the_same_key(workdir: Path) -> None:
    steps = [endorse(A), remove(1, note="asked by phone")]
    with build(workdir / "ledger.db", [*steps, endorse(A, at=T0 + 50)]) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(3, name_of(A), A.public.fingerprint)]
    assert departures(report) == [(1, "removed", 2)]
    assert (report.departed[0].reason, report.departed[0].note) == ("mistaken", "asked by phone")


def test_rotation_without_a_live_endorsement_then_the_new_key_endorses(workdir: Path) -> None:
    steps = [endorse(A), withdraw(A), rotate(A, A2, at=T0 + 25), endorse(A2, at=T0 + 30)]
    with build(workdir / "ledger.db", steps) as book:
        report = book.verify()
    assert report.ok
    assert listed(report) == [(4, name_of(A2), A2.public.fingerprint)]


# --- Replays: an old signature appended again -----------------------------------------------------


def test_attack_replayed_endorsement_undoes_a_withdrawal(workdir: Path) -> None:
    original = endorse(A, at=T0 + 10)
    assert_refused(
        workdir / "ledger.db",
        [original, withdraw(A, at=T0 + 20)],
        original,
        "an old signature cannot be replayed",
    )


def test_attack_replayed_withdrawal_ends_a_later_endorsement(workdir: Path) -> None:
    old = withdraw(A, at=T0 + 20)
    steps = [endorse(A, at=T0 + 10), old, endorse(A, at=T0 + 30)]
    assert_refused(workdir / "ledger.db", steps, old, "an old signature cannot be replayed")


# --- Look-alike names -----------------------------------------------------------------------------


def test_lookalike_name_is_refused_unless_allowed_then_flagged(workdir: Path) -> None:
    path = workdir / "ledger.db"
    real = endorse(A, name="Save the Children")
    fake = endorse(B, name="Save the Chi1dren")
    with build(path, [real]) as book:
        before = stored(path)
        result = book.append([("fake", fake)], now=NOW)
        assert result.appended == ()
        (rejected,) = result.rejected
        assert "looks like the endorsement at entry 1 ('Save the Children')" in rejected.reason
        assert "--allow-similar-name" in rejected.reason
        assert stored(path) == before
        result = book.append([("fake", fake)], allow_similar=True, now=NOW)
        assert result.appended == (("fake", 2),)
        assert [label for label, _ in result.flags] == ["fake"]
        assert "a name that looks like the endorsement at entry 1" in result.flags[0][1]
        report = book.verify()
    assert report.ok
    assert [(f.seq, f.check) for f in report.flags] == [(2, "names")]
    assert "('Save the Children') but another key" in report.flags[0].message
    assert [s.name for s in report.signatories] == ["Save the Children", "Save the Chi1dren"]
    # A forged ledger holding the same entries verifies with the same flag: not a failure.
    verified = forged([real, fake])
    assert verified.ok
    assert verified.flags == report.flags


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Save the Chi1dren", id="digit_one_for_l"),
        pytest.param("Save the ChiIdren", id="capital_i_for_l"),
        pytest.param("S\u0430ve the Children", id="cyrillic_a"),
        pytest.param("SAVE THE CHILDREN", id="capitals"),
        pytest.param("Save  the Children", id="double_space"),
        pytest.param("\uff33ave the Children", id="full_width_s"),
        pytest.param("Save the Chi\u200cldren", id="zero_width_non_joiner"),
    ],
)
def test_attack_lookalike_name_is_refused_by_default(workdir: Path, name: str) -> None:
    path = workdir / "ledger.db"
    with build(path, [endorse(A, name="Save the Children")]) as book:
        before = stored(path)
        result = book.append([("fake", endorse(B, name=name))], now=NOW)
        assert result.appended == ()
        assert "the endorsement at entry 1 ('Save the Children') but another key" in (
            result.rejected[0].reason
        )
        assert stored(path) == before


def test_same_name_is_flagged_as_the_same_name(workdir: Path) -> None:
    with build(workdir / "ledger.db", [endorse(A, name="Oxfam")]) as book:
        result = book.append([("b", endorse(B, name="OXFAM"))], allow_similar=True, now=NOW)
        assert result.flags == (
            ("b", "the same name as the endorsement at entry 1 ('Oxfam') but another key"),
        )


def test_a_name_is_free_again_once_its_endorsement_ended(workdir: Path) -> None:
    steps = [endorse(A, name="Save the Children"), withdraw(A)]
    with build(workdir / "ledger.db", steps) as book:
        result = book.append([("b", endorse(B, name="Save the Chi1dren"))], now=NOW)
        assert result.appended == (("b", 3),)
        assert result.flags == ()
        assert book.verify().flags == ()


def test_the_same_org_re_endorsing_under_a_lookalike_of_its_own_name_is_not_flagged(
    workdir: Path,
) -> None:
    steps = [endorse(A, name="Save the Children"), withdraw(A)]
    with build(workdir / "ledger.db", steps) as book:
        result = book.append([("a", endorse(A, at=T0 + 30, name="SAVE THE CHILDREN"))], now=NOW)
        assert result.appended == (("a", 3),)
        assert result.flags == ()


# --- Property: random lifecycles against a reference model ---------------------------------------

ORG_KEYS = [
    seeded_key(f"prop-org{org}-key{index}.example") for org in range(3) for index in range(3)
]
"""Nine keys: each starts an organisation of its own when it first endorses, or joins one when
a rotation introduces it."""
NAMES = ["Save the Children", "Save the Chi1dren", "Oxfam", "OXFAM", "Amnesty"]
NAME_CLASS = [0, 0, 1, 1, 2]
"""Which names look alike, decided by hand (not by ``ledger.lookalike``)."""

KeyRef = tuple[str, int]
"""How an operation picks a key, resolved against the model's state when it runs: ("key", i)
any key; ("org", i) the current key of an organisation; ("known", i) a key the ledger has seen;
("retired", i) a key replaced by a rotation; ("fresh", i) a key not used yet; ("same", i) a key
of the signer's own organisation."""
Ref = int | str | None
"""An entry number, "live" (the organisation's live endorsement), or None."""


class Op(NamedTuple):
    kind: str
    key: KeyRef = ("key", 0)
    other: KeyRef = ("key", 0)
    name: int = 0
    at: int = 0
    since: int = 0
    ref: Ref = None
    genuine: bool = True
    allow_similar: bool = False


class Model:
    """The lifecycle rules, restated with plain dicts from the issue and lifecycle's docstring."""

    def __init__(self) -> None:
        self.size = 1
        self.org_of: dict[int, int] = {}  # key index -> organisation (entry of its first key)
        self.revoked: dict[int, int] = {}  # key index -> revoked from
        self.current: dict[int, int] = {}  # organisation -> current key index
        self.live: dict[int, dict[str, int]] = {}  # organisation -> entry, key, at, name
        self.closed: int | None = None
        self.departed: list[tuple[int, str]] = []
        self.flags: list[int] = []
        self.kinds: list[str] = []
        self.last_at: dict[int, int] = {}  # organisation -> signing time of its last statement

    def later(self, org: int, at: int) -> bool:
        """An organisation's statements must be signed later than its previous one."""
        return org not in self.last_at or at > self.last_at[org]

    def key(self, ref: KeyRef, signer: int | None = None) -> int:
        kind, index = ref
        choices = list(range(len(ORG_KEYS)))
        if kind == "org":
            choices = [self.current[org] for org in sorted(self.current)] or choices
        elif kind == "known":
            choices = sorted(self.org_of) or choices
        elif kind == "retired":
            retired = set(self.org_of) - set(self.current.values())
            choices = sorted(retired) or choices
        elif kind == "fresh":
            choices = [key for key in choices if key not in self.org_of] or choices
        elif kind == "same" and signer in self.org_of:
            choices = [key for key, org in self.org_of.items() if org == self.org_of[signer]]
        return sorted(choices)[index % len(choices)]

    def entry(self, ref: Ref, key: int | None = None) -> int | None:
        if ref == "live":
            org = None if key is None else self.org_of.get(key)
            if org in self.live:
                return self.live[org]["entry"]
            lives = sorted(live["entry"] for live in self.live.values())
            return lives[0] if lives else 1
        return ref if isinstance(ref, int) else None

    def usable(self, key: int, at: int) -> bool:
        return self.closed is None and not (key in self.revoked and at >= self.revoked[key])

    def accept(self, kind: str) -> bool:
        self.kinds.append(kind)
        self.size += 1
        return True

    def end(self, org: int, how: str) -> None:
        self.departed.append((self.live.pop(org)["entry"], how))

    def endorse(self, key: int, name: int, at: int, allow_similar: bool) -> bool:
        if not self.usable(key, at):
            return False
        org = self.org_of.get(key, self.size)
        if key in self.org_of and (self.current[org] != key or org in self.live):
            return False
        lookalikes = sum(
            1
            for other, live in self.live.items()
            if other != org and NAME_CLASS[live["name"]] == NAME_CLASS[name]
        )
        if lookalikes and not allow_similar:
            return False
        if key in self.org_of and not self.later(org, at):
            return False
        self.last_at[org] = at
        self.flags += [self.size] * lookalikes
        self.org_of[key] = org
        self.current.setdefault(org, key)
        self.live[org] = {"entry": self.size, "key": key, "at": at, "name": name}
        return self.accept("endorsed")

    def withdraw(self, key: int, ref: int | None, at: int) -> bool:
        if not self.usable(key, at) or key not in self.org_of:
            return False
        org = self.org_of[key]
        if self.current[org] != key or org not in self.live:
            return False
        if ref is not None and ref != self.live[org]["entry"]:
            return False
        if not self.later(org, at):
            return False
        self.last_at[org] = at
        self.end(org, "withdrawn")
        return self.accept("withdrew")

    def rotate(self, old: int, new: int, at: int, genuine: bool) -> bool:
        if not genuine or not self.usable(old, at) or old not in self.org_of:
            return False
        org = self.org_of[old]
        if self.current[org] != old or new in self.org_of:
            return False
        if not self.later(org, at):
            return False
        self.last_at[org] = at
        self.org_of[new] = org
        self.current[org] = new
        return self.accept("rotated key")

    def revoke(self, signer: int, target: int, since: int, at: int) -> bool:
        if not self.usable(signer, at) or signer not in self.org_of:
            return False
        org = self.org_of[signer]
        if self.org_of.get(target) != org or signer not in (target, self.current[org]):
            return False
        if not self.later(org, at):
            return False
        self.last_at[org] = at
        self.revoked[target] = min(since, self.revoked.get(target, since))
        live = self.live.get(org)
        if live is not None and live["key"] == target and live["at"] >= self.revoked[target]:
            self.end(org, "revoked")
        return self.accept("revoked key")

    def remove(self, ref: int, by_log: bool) -> bool:
        if self.closed is not None or not by_log:
            return False
        ended = [org for org, live in self.live.items() if live["entry"] == ref]
        if not ended:
            return False
        self.end(ended[0], "removed")
        return self.accept("removed")

    def close(self, by_log: bool) -> bool:
        if self.closed is not None or not by_log:
            return False
        self.closed = self.size
        return self.accept("closed")

    def signatories(self) -> list[tuple[int, str, str]]:
        return [
            (live["entry"], NAMES[live["name"]], ORG_KEYS[self.current[org]].public.fingerprint)
            for org, live in sorted(self.live.items(), key=lambda item: item[1]["entry"])
        ]


def statement_for(model: Model, op: Op) -> tuple[bool, bytes | None, int | None]:
    """Decide ``op`` in the model and sign it.

    Returns:
        Whether the model accepts it; the signed statement (None for a genuine removal or
        closing, which the test makes through the Ledger API with the log key); the entry a
        removal names.
    """
    key = model.key(op.key)
    signer = ORG_KEYS[key]
    ref = None
    if op.kind == "endorse":
        accepted = model.endorse(key, op.name, op.at, op.allow_similar)
        cose = endorse(signer, at=op.at, name=NAMES[op.name])
    elif op.kind == "withdraw":
        wanted = model.entry(op.ref, key)
        accepted = model.withdraw(key, wanted, op.at)
        cose = withdraw(signer, at=op.at, ref=wanted)
    elif op.kind == "rotate":
        new = model.key(op.other)
        new = (key + 1) % len(ORG_KEYS) if new == key else new
        accepted = model.rotate(key, new, op.at, op.genuine)
        new_key = ORG_KEYS[new]
        forged = [(signer, signer), (new_key, STRANGER)]  # countersigned by someone else
        cose = (
            rotate(signer, new_key, at=op.at)
            if op.genuine
            else rotation_by_hand(signer, new_key, forged, op.at)
        )
    elif op.kind == "revoke":
        target = model.key(op.other, signer=key)
        accepted = model.revoke(key, target, op.since, op.at)
        cose = revoke(signer, ORG_KEYS[target], since=op.since, at=op.at)
    elif op.kind == "remove":
        ref = model.entry(op.ref if op.ref is not None else "live")
        assert ref is not None
        accepted = model.remove(ref, op.genuine)
        cose = None if op.genuine else remove(ref, signer=signer, at=op.at)
    else:
        accepted = model.close(op.genuine)
        cose = None if op.genuine else close(signer=signer, at=op.at)
    return accepted, cose, ref


def run(book: ledger.Ledger, model: Model, op: Op, now: int) -> None:
    """Submit ``op`` to the model and to the ledger; they must agree on accepting it."""
    expected, cose, ref = statement_for(model, op)
    if cose is None:  # a genuine removal or closing, through the Ledger API with the log key
        try:
            if ref is not None:
                seq = book.remove(ref, RemovalReason.DUPLICATE, LOG_KEY, now=now)
            else:
                seq = book.close_statement(LOG_KEY, now=now)
        except VerificationError:
            assert not expected, op
        else:
            assert expected, op
            assert seq == model.size - 1
        return
    result = book.append([("op", cose)], allow_similar=op.allow_similar, now=now)
    if expected:
        assert result.appended == (("op", model.size - 1),), (op, result)
    else:
        assert result.appended == (), (op, result)
        assert len(result.rejected) == 1


def key_refs(*kinds: str) -> st.SearchStrategy[KeyRef]:
    return st.tuples(st.sampled_from(kinds), st.integers(0, 8))


def op(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Op]:
    """Operations of one kind; the fields not given keep Op's defaults."""
    return st.fixed_dictionaries(fields).map(lambda values: Op(kind, **values))


signers = key_refs("org", "org", "known", "key")
times = st.integers(T0, T0 + 20)
refs = st.one_of(st.none(), st.just("live"), st.just("live"), st.integers(1, 16))
genuine = st.sampled_from([True, True, True, False])
"""Signed by the right keys, or a forgery (another key's countersignature or log signature)."""
endorsements = op(
    "endorse",
    key=key_refs("org", "fresh", "key"),
    name=st.integers(0, len(NAMES) - 1),
    at=times,
    allow_similar=st.booleans(),
)
rotations = op(
    "rotate", key=signers, other=key_refs("fresh", "known", "key"), at=times, genuine=genuine
)
open_ops = st.one_of(
    endorsements,
    endorsements,  # endorsements and rotations twice as likely: the others need them
    op("withdraw", key=signers, at=times, ref=refs),
    rotations,
    rotations,
    op(
        "revoke",
        key=key_refs("org", "retired", "known", "key"),
        other=key_refs("same", "same", "key"),
        at=times,
        since=times,
    ),
    op("remove", key=signers, at=times, ref=refs, genuine=genuine),
)
closing = op("close", key=signers, at=times, genuine=genuine)
lifecycles = st.builds(
    lambda first, then, last: first + then + last,
    st.lists(endorsements, min_size=1, max_size=3),
    st.lists(open_ops, min_size=5, max_size=10),
    st.one_of(
        st.just([]),
        st.builds(lambda first, then: [first, *then], closing, st.lists(open_ops, max_size=2)),
    ),
)


@settings(
    max_examples=100 if FAST_TMP else 50,  # ~3 s on tmpfs: 50 missed some broken rules
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lifecycles)
def test_random_lifecycles_match_the_reference_model(operations: list[Op]) -> None:
    model = Model()
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as directory:
        path = Path(directory) / "ledger.db"
        with new_ledger(path) as book:
            for number, op in enumerate(operations):
                run(book, model, op, NOW + number)
                assert book.size == model.size
            report = book.verify()
        history = ledger.ledger_history(path)
    assert report.ok, report.problems
    assert listed(report) == model.signatories()
    assert [(d.seq, d.how) for d in report.departed] == model.departed
    assert [f.seq for f in report.flags] == model.flags
    assert report.closed_at == model.closed
    assert [event.kind for event in history] == model.kinds
