"""Tests of ``ledger.witness`` (the tlog-witness rules) and ``ledger.witness_state`` (the file).

Trees are built with ``MemoryTree`` over public leaf labels and checkpoints are signed with
deterministic keys, so every request here is reproducible. ``FORKED`` agrees with ``HONEST``
on the first ``FORK_AT`` leaves and differs afterwards: its checkpoints are what a log showing
a split view would sign.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import FormatError, StoreError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import (
    Checkpoint,
    add_signature,
    format_note,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    witness_verifier_key,
)
from ledger.witness import (
    MAX_PROOF_LINES,
    MAX_REQUEST_SIZE,
    AddCheckpointRequest,
    RefusalReason,
    WitnessedLog,
    WitnessRefusal,
    format_add_checkpoint_request,
    format_cosignature_lines,
    parse_add_checkpoint_request,
    parse_cosignature_lines,
    witness_checkpoint,
)
from ledger.witness_state import (
    STATE_SCHEMA,
    WitnessState,
    add_log,
    cosign,
    decode_state,
    encode_state,
    init_state,
    load_state,
    lock_path,
)

DASH = "\u2014"
ORIGIN = "example.org/letter"
T = 1_700_000_000
LEAVES = 64
FORK_AT = 6


def seeded(name: str, label: str = "") -> SigningKey:
    """A deterministic test key (its secret is public knowledge)."""
    seed = hashlib.sha256(f"ledger witness tests: {name}{label}".encode()).digest()
    return SigningKey.from_seed(name, seed)


LOG = seeded(ORIGIN)
IMPOSTOR = seeded(ORIGIN, " (impostor)")  # same origin, another key
OTHER_LOG = seeded("example.org/other-letter")
WITNESS = seeded("witness.example/w1")
OTHER_WITNESS = seeded("witness.example/w2")


@functools.cache
def tree(fork_at: int | None = None) -> merkle.MemoryTree:
    """LEAVES leaves; from ``fork_at`` on, the leaves differ (a forked history)."""
    built = merkle.MemoryTree()
    for i in range(LEAVES):
        forked = fork_at is not None and i >= fork_at
        built.append(f"entry {i}{' (rewritten)' if forked else ''}".encode())
    return built


HONEST = tree()
FORKED = tree(FORK_AT)


def signed(size: int, source: merkle.MemoryTree = HONEST, key: SigningKey = LOG) -> bytes:
    """A checkpoint of the first ``size`` leaves of ``source``, signed by ``key``."""
    return sign_checkpoint(Checkpoint(key.name, size, merkle.root(source, size)), key)


def request(
    old: int,
    size: int,
    source: merkle.MemoryTree = HONEST,
    *,
    key: SigningKey = LOG,
    proof: list[bytes] | None = None,
) -> AddCheckpointRequest:
    """An add-checkpoint request, with the right proof from ``old`` unless ``proof`` is given."""
    hashes = merkle.prove_consistency(source, old, size) if proof is None else proof
    return AddCheckpointRequest(old, tuple(hashes), signed(size, source, key))


def fresh() -> dict[str, WitnessedLog]:
    return {ORIGIN: WitnessedLog.new(LOG.public)}


def at(size: int, source: merkle.MemoryTree = HONEST) -> dict[str, WitnessedLog]:
    """A witness that has cosigned ``source`` at ``size``."""
    record, _ = witness_checkpoint(fresh(), request(0, size, source), WITNESS, T)
    return {ORIGIN: record}


def refusal(
    known: dict[str, WitnessedLog], req: AddCheckpointRequest, reason: RefusalReason
) -> WitnessRefusal:
    with pytest.raises(WitnessRefusal) as caught:
        witness_checkpoint(known, req, WITNESS, T)
    assert caught.value.reason is reason, str(caught.value)
    assert str(caught.value).startswith(f"refused ({reason.value}): ")
    return caught.value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- The request body: format and strict parsing ---------------------------------------------

# C2SP tlog-witness.md, "add-checkpoint": the example request body, verbatim.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    f"{DASH} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    f"{DASH} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+"
    "49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()


def test_spec_example_request_parses_and_re_encodes_byte_for_byte() -> None:
    parsed = parse_add_checkpoint_request(SPEC_REQUEST)
    assert parsed.old_size == 20852014
    assert parsed.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert len(parsed.proof) == 4
    assert parsed.checkpoint == SPEC_REQUEST[SPEC_REQUEST.index(b"\n\n") + 2 :]
    assert format_add_checkpoint_request(parsed) == SPEC_REQUEST


def test_request_layout() -> None:
    req = request(3, 8)
    hashes = merkle.prove_consistency(HONEST, 3, 8)
    expected = ("old 3\n" + "".join(f"{b64(h)}\n" for h in hashes) + "\n").encode() + signed(8)
    assert format_add_checkpoint_request(req) == expected
    empty = format_add_checkpoint_request(request(0, 8))
    assert empty.startswith(b"old 0\n\n" + ORIGIN.encode() + b"\n8\n")


@settings(max_examples=200)
@given(
    old=st.integers(0, 2**63 - 1),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_LINES),
)
def test_request_round_trip(old: int, proof: list[bytes]) -> None:
    req = AddCheckpointRequest(old, tuple(proof), signed(5))
    data = format_add_checkpoint_request(req)
    assert parse_add_checkpoint_request(data) == req
    assert format_add_checkpoint_request(parse_add_checkpoint_request(data)) == data


GOOD = format_add_checkpoint_request(request(3, 8))
HEAD, _, CHECKPOINT = GOOD.partition(b"\n\n")
H = b64(bytes(32)).encode()


def _with_head(head: bytes) -> bytes:
    return head + b"\n\n" + CHECKPOINT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "no empty line", id="empty-body"),
        pytest.param(HEAD + b"\n", "no empty line", id="no-empty-line"),
        pytest.param(HEAD + b"\n" + CHECKPOINT, "proof line", id="no-separator-before-checkpoint"),
        pytest.param(_with_head(b"old 03"), "canonical decimal", id="old-leading-zero"),
        pytest.param(_with_head(b"old +3"), "canonical decimal", id="old-plus-sign"),
        pytest.param(_with_head(b"old  3"), "canonical decimal", id="old-two-spaces"),
        pytest.param(_with_head(b"old 3 "), "canonical decimal", id="old-trailing-space"),
        pytest.param(_with_head(b"old 1_0"), "canonical decimal", id="old-underscore"),
        pytest.param(_with_head(b"old -1"), "canonical decimal", id="old-negative"),
        pytest.param(_with_head(b"old"), "'old <size>'", id="old-without-size"),
        pytest.param(_with_head(b"OLD 3"), "'old <size>'", id="old-uppercase"),
        pytest.param(_with_head(b"old\t3"), "'old <size>'", id="old-tab"),
        pytest.param(_with_head(b"old 3\r"), "canonical decimal", id="old-crlf"),
        pytest.param(_with_head(b"old 9223372036854775808"), "2**63-1", id="old-2-pow-63"),
        pytest.param(_with_head(b"old 00000000000000000000003"), "canonical", id="old-long"),
        pytest.param(_with_head(b"old \xd9\xa3"), "ASCII", id="old-arabic-digit"),
        pytest.param(_with_head(b"old 3\n" + H[:-1]), "base64", id="proof-unpadded"),
        pytest.param(
            _with_head(b"old 3\n" + H[:-2] + b"B="), "canonical", id="proof-trailing-bits"
        ),
        pytest.param(_with_head(b"old 3\n" + H + b" "), "base64", id="proof-trailing-space"),
        pytest.param(
            _with_head(b"old 3\n" + H.replace(b"A", b"-", 1)), "base64", id="proof-url-safe"
        ),
        pytest.param(
            _with_head(b"old 3\n" + b64(bytes(31)).encode()), "31 bytes", id="proof-31-bytes"
        ),
        pytest.param(
            _with_head(b"old 3\n" + b64(bytes(33)).encode()), "33 bytes", id="proof-33-bytes"
        ),
        pytest.param(
            _with_head(b"old 3\n" + b"\n".join([H] * 64)), "64 proof lines", id="proof-64-lines"
        ),
        pytest.param(HEAD + b"\n\n", "checkpoint", id="no-checkpoint"),
        pytest.param(HEAD + b"\n\n\n" + CHECKPOINT, "checkpoint", id="two-empty-lines"),
        pytest.param(GOOD + b"junk\n", "checkpoint", id="trailing-garbage"),
        pytest.param(GOOD[:-1], "checkpoint", id="checkpoint-without-final-newline"),
        pytest.param(GOOD.replace(b"\n", b"\r\n"), "request", id="crlf-line-endings"),
        pytest.param(HEAD + b"\n\n" + b"x" * MAX_REQUEST_SIZE, "exceeds", id="over-size"),
    ],
)
def test_malformed_requests_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_add_checkpoint_request(data)


def test_at_most_63_proof_lines_are_accepted() -> None:
    data = _with_head(b"old 3\n" + b"\n".join([H] * 63))
    assert len(parse_add_checkpoint_request(data).proof) == 63


def test_every_truncation_of_a_request_is_rejected() -> None:
    for end in range(len(GOOD)):
        with pytest.raises(FormatError):
            parse_add_checkpoint_request(GOOD[:end])


def test_request_value_checks() -> None:
    cp = signed(5)
    bad: Callable[[], object]
    for bad in (
        lambda: AddCheckpointRequest(-1, (), cp),
        lambda: AddCheckpointRequest(2**63, (), cp),
        lambda: AddCheckpointRequest(True, (), cp),  # a bool is not a size
        lambda: AddCheckpointRequest(1, [bytes(32)], cp),  # type: ignore[arg-type]
        lambda: AddCheckpointRequest(1, (bytes(31),), cp),
        lambda: AddCheckpointRequest(1, (bytes(32),) * 64, cp),
        lambda: AddCheckpointRequest(1, (), cp.decode()),  # type: ignore[arg-type]
        lambda: AddCheckpointRequest(1, (), b"not a note\n"),
    ):
        with pytest.raises(UsageError):
            bad()
    with pytest.raises(UsageError):
        parse_add_checkpoint_request(GOOD.decode())  # type: ignore[arg-type]


# --- Cosignature lines (the success response body) -------------------------------------------


def test_cosignature_lines_round_trip() -> None:
    _, sig = witness_checkpoint(fresh(), request(0, 5), WITNESS, T)
    _, other = witness_checkpoint(fresh(), request(0, 5), OTHER_WITNESS, T + 1)
    body = format_cosignature_lines([sig, other])
    assert body.decode().splitlines() == [
        f"{DASH} {WITNESS.name} {b64(sig.key_id + sig.signature)}",
        f"{DASH} {OTHER_WITNESS.name} {b64(other.key_id + other.signature)}",
    ]
    assert parse_cosignature_lines(body) == (sig, other)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        f"{DASH} w AAAAAAAA".encode(),  # no final newline
        f"{DASH} w AAAAAAAA\n\n{DASH} v AAAAAAAA\n".encode(),  # an empty line in between
        b"- w AAAAAAAA\n",
        f"{DASH} w AAAAAAB=\n".encode(),  # non-canonical base64
        f"{DASH} w AAAAAAAA\n{DASH} w AAAAAAAA\n".encode(),  # repeated
        f"{DASH} w AAAAAAAA\r\n".encode(),
    ],
)
def test_malformed_cosignature_lines(body: bytes) -> None:
    with pytest.raises(FormatError):
        parse_cosignature_lines(body)


# --- The rules: the happy path -----------------------------------------------------------------


def test_cosigns_a_growing_log_and_each_cosignature_verifies() -> None:
    known = fresh()
    old = 0
    for step, size in enumerate((1, 3, 4, 8, 13, 32, 33, 64)):
        req = request(old, size)
        record, sig = witness_checkpoint(known, req, WITNESS, T + step)
        assert (record.origin, record.size, record.root) == (
            ORIGIN,
            size,
            merkle.root(HONEST, size),
        )
        assert record.log_key_vkey == LOG.public.to_verifier_key()
        # The record keeps the log-signed checkpoint only, verbatim.
        assert record.checkpoint == req.checkpoint
        text = parse_note(req.checkpoint).text
        assert verify_cosignature(text, sig, WITNESS.public) == T + step
        cosigned = format_note(add_signature(parse_note(req.checkpoint), sig))
        opened = open_checkpoint(cosigned, LOG.public, witnesses=[WITNESS.public])
        assert opened.witnesses_verified == ((WITNESS.public, T + step),)
        assert opened.checkpoint.size == size
        known, old = {ORIGIN: record}, size


def test_the_cosignature_is_type_0x04_with_the_witness_vkey() -> None:
    _, sig = witness_checkpoint(fresh(), request(0, 5), WITNESS, T)
    vkey = witness_verifier_key(WITNESS.public)
    name, key_id, material = vkey.split("+", 2)
    assert (sig.name, sig.key_id.hex()) == (name, key_id)
    assert base64.b64decode(material)[0] == 0x04
    assert sig.signature[:8] == T.to_bytes(8, "big")
    # The message is the spec's: "cosignature/v1\ntime <T>\n" || checkpoint text.
    message = f"cosignature/v1\ntime {T}\n".encode() + parse_note(signed(5)).text.encode()
    WITNESS.public.verify(message, sig.signature[8:])


def test_first_cosign_of_an_empty_tree() -> None:
    record, sig = witness_checkpoint(fresh(), request(0, 0), WITNESS, T)
    assert (record.size, record.root) == (0, merkle.EMPTY_ROOT)
    assert record.checkpoint is not None
    verify_cosignature(parse_note(signed(0)).text, sig, WITNESS.public)
    # ... and it grows from there.
    record, _ = witness_checkpoint({ORIGIN: record}, request(0, 9), WITNESS, T)
    assert record.size == 9


def test_same_size_and_root_is_an_idempotent_recosign_with_a_fresh_timestamp() -> None:
    known = at(8)
    record, sig = witness_checkpoint(known, request(8, 8), WITNESS, T + 60)
    assert record == known[ORIGIN]
    assert verify_cosignature(parse_note(signed(8)).text, sig, WITNESS.public) == T + 60


def test_signatures_by_unknown_keys_are_ignored_and_not_kept() -> None:
    note = add_signature(
        parse_note(signed(8)),
        sign_note(parse_note(signed(8)).text, OTHER_LOG).signatures[0],
    )
    noisy = format_note(note)
    req = AddCheckpointRequest(0, (), noisy)
    record, sig = witness_checkpoint(fresh(), req, WITNESS, T)
    assert record.checkpoint == signed(8)  # only the verified log signature is kept
    verify_cosignature(note.text, sig, WITNESS.public)


def test_other_logs_are_untouched() -> None:
    known = {**fresh(), OTHER_LOG.name: WitnessedLog.new(OTHER_LOG.public)}
    record, _ = witness_checkpoint(known, request(0, 4), WITNESS, T)
    assert record.origin == ORIGIN


# --- The rules: each refusal ----------------------------------------------------------------------


def test_attack_checkpoint_of_an_unknown_log() -> None:
    refused = refusal(fresh(), request(0, 4, key=OTHER_LOG), RefusalReason.UNKNOWN_LOG)
    assert (
        refused.detail
        == "this witness does not follow a log with origin 'example.org/other-letter'"
    )
    assert refused.http_status == 404
    assert refused.witness_size is None


def test_attack_checkpoint_signed_by_an_impostor_key_for_the_origin() -> None:
    refused = refusal(fresh(), request(0, 4, key=IMPOSTOR), RefusalReason.BAD_SIGNATURE)
    assert LOG.public.to_verifier_key() in refused.detail
    assert refused.http_status == 403


def test_attack_checkpoint_with_a_corrupted_log_signature() -> None:
    data = bytearray(signed(4))
    data[-10] ^= 0x01 if data[-10] != ord("=") else 0
    data[-6] = ord("A") if data[-6] != ord("A") else ord("B")
    refusal(fresh(), AddCheckpointRequest(0, (), bytes(data)), RefusalReason.BAD_SIGNATURE)


def test_attack_checkpoint_text_changed_after_signing() -> None:
    forged = signed(4).replace(b"\n4\n", b"\n5\n", 1)
    refusal(fresh(), AddCheckpointRequest(0, (), forged), RefusalReason.BAD_SIGNATURE)


def test_stale_old_size_is_a_conflict_carrying_the_witness_size() -> None:
    refused = refusal(at(8), request(5, 15), RefusalReason.CONFLICT)
    assert str(refused) == (
        "refused (conflict): old size 5 is stale; this witness has cosigned size 8 "
        "(resend with old 8)"
    )
    assert refused.witness_size == 8
    assert refused.http_status == 409
    assert refused.response_body() == b"8\n"


def test_old_size_ahead_of_the_witness_is_a_conflict() -> None:
    refused = refusal(at(8), request(10, 15), RefusalReason.CONFLICT)
    assert "old size 10 is ahead of this witness" in refused.detail
    refused = refusal(fresh(), request(3, 8), RefusalReason.CONFLICT)
    assert refused.detail == (
        "old size 3 is ahead of this witness; this witness has not cosigned this log yet "
        "(resend with old 0)"
    )
    assert refused.response_body() == b"0\n"


def test_attack_fork_at_the_same_size() -> None:
    size = 8
    refused = refusal(at(size), request(size, size, FORKED), RefusalReason.FORK)
    honest, forked = merkle.root(HONEST, size), merkle.root(FORKED, size)
    assert str(refused) == (
        f"refused (fork): fork: size {size} was cosigned with root {b64(honest)[:12]}\u2026, "
        f"this checkpoint has {b64(forked)[:12]}\u2026"
    )
    assert refused.witness_size == size
    assert refused.http_status == 409


@pytest.mark.parametrize("old", [0, 3, FORK_AT, 8])
def test_attack_fork_at_the_same_size_is_a_fork_whatever_the_old_size(old: int) -> None:
    refusal(at(8), request(old, 8, FORKED), RefusalReason.FORK)


def test_attack_fork_at_a_larger_size_fails_the_consistency_proof() -> None:
    # The forked log proves its own history; it does not lead to the root this witness holds.
    refused = refusal(at(8), request(8, 20, FORKED), RefusalReason.BAD_PROOF)
    assert refused.detail.startswith("the consistency proof from size 8 to 20 does not verify")
    assert refused.http_status == 422


def test_a_fork_after_the_cosigned_size_is_not_detectable_yet() -> None:
    # The histories agree up to FORK_AT: a witness at FORK_AT can cosign either branch once.
    record, _ = witness_checkpoint(at(FORK_AT), request(FORK_AT, 20, FORKED), WITNESS, T)
    known = {ORIGIN: record}
    refusal(known, request(20, 30), RefusalReason.BAD_PROOF)  # ... but never both
    refusal(known, request(20, 20), RefusalReason.FORK)


def test_attack_rollback_to_a_smaller_size() -> None:
    for old in (0, 5):
        refused = refusal(at(8), request(old, 5), RefusalReason.ROLLBACK)
        assert refused.detail == (
            "rollback: checkpoint size 5 is smaller than size 8, which this witness has "
            "already cosigned"
        )
        assert refused.response_body() == b"8\n"


def test_attack_rollback_of_a_forked_smaller_checkpoint() -> None:
    refusal(at(20), request(0, 10, FORKED), RefusalReason.ROLLBACK)


@pytest.mark.parametrize(("old", "size"), [(1, 2), (3, 8), (4, 8), (8, 13), (13, 64), (63, 64)])
def test_attack_proof_with_a_flipped_bit(old: int, size: int) -> None:
    proof = merkle.prove_consistency(HONEST, old, size)
    assert proof
    for position, digest in enumerate(proof):
        for bit in (0, 7, 100, 255):
            bad = bytearray(digest)
            bad[bit // 8] ^= 1 << (bit % 8)
            tampered = [*proof[:position], bytes(bad), *proof[position + 1 :]]
            refusal(at(old), request(old, size, proof=tampered), RefusalReason.BAD_PROOF)


def test_attack_proof_too_short() -> None:
    proof = merkle.prove_consistency(HONEST, 3, 13)
    refused = refusal(at(3), request(3, 13, proof=proof[:-1]), RefusalReason.BAD_PROOF)
    assert f"has {len(proof) - 1} hashes, expected {len(proof)}" in refused.detail
    refusal(at(3), request(3, 13, proof=[]), RefusalReason.BAD_PROOF)


def test_attack_proof_too_long() -> None:
    proof = merkle.prove_consistency(HONEST, 3, 13)
    refusal(at(3), request(3, 13, proof=[*proof, proof[0]]), RefusalReason.BAD_PROOF)
    refusal(at(3), request(3, 13, proof=[bytes(32), *proof]), RefusalReason.BAD_PROOF)


def test_attack_non_empty_proof_from_size_zero() -> None:
    # tlog-witness: "The proof MUST be empty if the old size is zero."
    refusal(fresh(), request(0, 8, proof=[merkle.root(HONEST, 4)]), RefusalReason.BAD_PROOF)


def test_attack_non_empty_proof_for_the_same_size() -> None:
    refusal(at(8), request(8, 8, proof=[merkle.root(HONEST, 8)]), RefusalReason.BAD_PROOF)


def test_attack_proof_for_other_sizes() -> None:
    wrong = merkle.prove_consistency(HONEST, 4, 13)
    refusal(at(3), request(3, 13, proof=wrong), RefusalReason.BAD_PROOF)


def test_old_size_larger_than_the_checkpoint_is_malformed() -> None:
    refused = refusal(at(8), request(9, 8, proof=[]), RefusalReason.MALFORMED)
    assert refused.detail == "old size 9 is larger than the checkpoint size 8"
    assert refused.http_status == 400


def test_attack_empty_tree_with_a_non_empty_root() -> None:
    bogus = sign_checkpoint(Checkpoint(ORIGIN, 0, merkle.root(HONEST, 1)), LOG)
    refused = refusal(fresh(), AddCheckpointRequest(0, (), bogus), RefusalReason.FORK)
    assert "the empty tree has root 47DEQpj8HBSa" in refused.detail


def test_the_spec_order_unknown_log_before_signature_before_sizes() -> None:
    # An unknown origin is reported as such even with bad sizes; a bad signature beats sizes.
    refusal(at(8), request(9, 8, key=OTHER_LOG, proof=[]), RefusalReason.UNKNOWN_LOG)
    refusal(at(8), request(9, 8, key=IMPOSTOR, proof=[]), RefusalReason.BAD_SIGNATURE)
    refusal(at(8), request(2, 5, key=IMPOSTOR), RefusalReason.BAD_SIGNATURE)


def test_http_statuses() -> None:
    assert {r.value: r.http_status for r in RefusalReason} == {
        "malformed": 400,
        "unknown-log": 404,
        "bad-signature": 403,
        "rollback": 409,
        "fork": 409,
        "conflict": 409,
        "bad-proof": 422,
    }
    refused = WitnessRefusal(RefusalReason.BAD_PROOF, "x")
    assert isinstance(refused, VerificationError)
    assert refused.response_body() == b"refused (bad-proof): x\n"


def test_refusal_survives_pickling() -> None:
    refused = refusal(at(8), request(5, 15), RefusalReason.CONFLICT)
    copy = pickle.loads(pickle.dumps(refused))
    assert (type(copy), copy.reason, copy.detail, copy.witness_size, str(copy)) == (
        WitnessRefusal,
        RefusalReason.CONFLICT,
        refused.detail,
        8,
        str(refused),
    )


def test_timestamp_out_of_range() -> None:
    for now in (-1, 2**63):
        with pytest.raises(UsageError):
            witness_checkpoint(fresh(), request(0, 4), WITNESS, now)


def test_witnessed_log_value_checks() -> None:
    vkey = LOG.public.to_verifier_key()
    root = merkle.root(HONEST, 4)
    bad: Callable[[], object]
    for bad in (
        lambda: WitnessedLog("example.org/elsewhere", vkey, 0, merkle.EMPTY_ROOT, None),
        lambda: WitnessedLog(ORIGIN, "not a vkey", 0, merkle.EMPTY_ROOT, None),
        lambda: WitnessedLog(ORIGIN, vkey, 4, root, None),  # a size needs a checkpoint
        lambda: WitnessedLog(ORIGIN, vkey, 0, root, None),  # the empty tree has one root
        lambda: WitnessedLog(ORIGIN, vkey, -1, root, signed(4)),
        lambda: WitnessedLog(ORIGIN, vkey, 4, root[:31], signed(4)),
        lambda: WitnessedLog(ORIGIN, vkey, 4, root, signed(4).decode()),  # type: ignore[arg-type]
    ):
        with pytest.raises(UsageError):
            bad()
    assert WitnessedLog.new(LOG.public).log_key == LOG.public


# --- Property: a witness never cosigns a fork or a rollback -----------------------------------

_OP = st.tuples(
    st.sampled_from(["honest", "forked"]),
    st.integers(0, 40),  # checkpoint size
    st.sampled_from(["witness", "zero", "random"]),  # how the client picks the old size
    st.integers(0, 40),  # the random old size
    st.booleans(),  # tamper with the proof
)


def _expected_refusal(
    record: WitnessedLog, source: merkle.MemoryTree, old: int, size: int, *, tampered: bool
) -> RefusalReason | None:
    """The naive oracle: the spec's rules, restated over the trees themselves."""
    root = merkle.root(source, size)
    if old > size:
        return RefusalReason.MALFORMED
    if size < record.size:
        return RefusalReason.ROLLBACK
    if size == record.size and root != record.root:
        return RefusalReason.FORK
    if old != record.size:
        return RefusalReason.CONFLICT
    if tampered or merkle.root(source, old) != record.root:
        return RefusalReason.BAD_PROOF
    return None


@settings(max_examples=80)
@given(fork_at=st.integers(1, 39), ops=st.lists(_OP, min_size=1, max_size=12))
def test_witness_never_cosigns_a_fork_or_a_rollback(
    fork_at: int, ops: list[tuple[str, int, str, int, bool]]
) -> None:
    trees = {"honest": HONEST, "forked": tree(fork_at)}
    known = fresh()
    cosigned: dict[int, set[bytes]] = {}
    for branch, size, old_mode, random_old, tamper in ops:
        source = trees[branch]
        record = known[ORIGIN]
        old = {"witness": record.size, "zero": 0, "random": random_old}[old_mode]
        proof = merkle.prove_consistency(source, old, size) if old <= size else []
        if tamper and proof:
            proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        expected = _expected_refusal(record, source, old, size, tampered=bool(tamper and proof))
        try:
            updated, sig = witness_checkpoint(
                known, request(old, size, source, proof=proof), WITNESS, T
            )
        except WitnessRefusal as refused:
            outcome: RefusalReason | None = refused.reason
        else:
            outcome = None
        assert outcome is expected, (branch, size, old, tamper)
        if outcome is not None:
            continue
        assert updated.size >= record.size  # never a rollback
        cosigned.setdefault(size, set()).add(updated.root)
        assert len(cosigned[size]) == 1  # never two roots for one size
        verify_cosignature(parse_note(updated.checkpoint or b"").text, sig, WITNESS.public)
        known = {ORIGIN: updated}
    # Every two cosigned checkpoints lie on one history: the smaller is a prefix of the larger.
    for small, (root_small,) in cosigned.items():
        for large, (root_large,) in cosigned.items():
            if small < large:
                assert any(
                    merkle.root(t, small) == root_small and merkle.root(t, large) == root_large
                    for t in trees.values()
                )


# --- The state file -------------------------------------------------------------------------------


def new_state(tmp_path: Path, *logs: VerifyingKey) -> Path:
    path = tmp_path / "witness.json"
    init_state(path, WITNESS.public)
    for log in logs:
        add_log(path, log)
    return path


def body(
    old: int, size: int, source: merkle.MemoryTree = HONEST, *, key: SigningKey = LOG
) -> bytes:
    return format_add_checkpoint_request(request(old, size, source, key=key))


def test_init_state_writes_the_documented_json(tmp_path: Path) -> None:
    path = tmp_path / "witness.json"
    state = init_state(path, WITNESS.public)
    assert json.loads(path.read_text()) == {
        "schema": STATE_SCHEMA,
        "witness": witness_verifier_key(WITNESS.public),
        "logs": {},
    }
    assert load_state(path) == state == WitnessState(WITNESS.public, ())
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness.json", "witness.json.lock"]


def test_init_state_refuses_to_overwrite(tmp_path: Path) -> None:
    path = new_state(tmp_path, LOG.public)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="exists; refusing to overwrite"):
        init_state(path, OTHER_WITNESS.public)
    assert path.read_bytes() == before


def test_add_log_records_the_key_with_nothing_cosigned(tmp_path: Path) -> None:
    path = new_state(tmp_path)
    record = add_log(path, LOG.public)
    assert record == WitnessedLog.new(LOG.public)
    assert json.loads(path.read_text())["logs"] == {
        ORIGIN: {
            "vkey": LOG.public.to_verifier_key(),
            "size": 0,
            "root": b64(merkle.EMPTY_ROOT),
            "checkpoint": None,
        }
    }
    before = path.read_bytes()
    assert add_log(path, LOG.public) == record  # idempotent
    assert path.read_bytes() == before


def test_attack_log_key_swap_is_refused(tmp_path: Path) -> None:
    path = new_state(tmp_path, LOG.public)
    cosign(path, body(0, 8), WITNESS, T)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="refusing to replace"):
        add_log(path, IMPOSTOR.public)
    assert path.read_bytes() == before


def test_cosign_through_the_state_file(tmp_path: Path) -> None:
    path = new_state(tmp_path, LOG.public, OTHER_LOG.public)
    old = 0
    for step, size in enumerate((3, 8, 8, 21)):
        response = cosign(path, body(old, size), WITNESS, T + step)
        (line,) = response.decode().splitlines(keepends=True)
        assert line.startswith(f"{DASH} {WITNESS.name} ")
        assert line.endswith("\n")
        # tlog-witness: the client MAY concatenate the response to the checkpoint and open it.
        opened = open_checkpoint(signed(size) + response, LOG.public, witnesses=[WITNESS.public])
        assert opened.witnesses_verified == ((WITNESS.public, T + step),)
        state = load_state(path)
        assert state.known[ORIGIN].size == size
        assert state.known[ORIGIN].checkpoint == signed(size)
        assert state.known[OTHER_LOG.name] == WitnessedLog.new(OTHER_LOG.public)
        old = size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness.json", "witness.json.lock"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"old 8\n", RefusalReason.MALFORMED, id="malformed"),
        pytest.param(body(0, 9, key=OTHER_LOG), RefusalReason.UNKNOWN_LOG, id="unknown-log"),
        pytest.param(body(8, 9, key=IMPOSTOR), RefusalReason.BAD_SIGNATURE, id="bad-signature"),
        pytest.param(body(5, 13), RefusalReason.CONFLICT, id="conflict"),
        pytest.param(body(0, 5), RefusalReason.ROLLBACK, id="rollback"),
        pytest.param(body(8, 8, FORKED), RefusalReason.FORK, id="fork"),
        pytest.param(body(8, 13, FORKED), RefusalReason.BAD_PROOF, id="bad-proof"),
    ],
)
def test_a_refused_cosign_leaves_the_state_file_byte_identical(
    tmp_path: Path, data: bytes, reason: RefusalReason
) -> None:
    path = new_state(tmp_path, LOG.public)
    cosign(path, body(0, 8), WITNESS, T)
    before = path.read_bytes()
    stat_before = path.stat()
    with pytest.raises(WitnessRefusal) as caught:
        cosign(path, data, WITNESS, T + 1)
    assert caught.value.reason is reason
    assert path.read_bytes() == before
    assert path.stat().st_ino == stat_before.st_ino  # not even rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness.json", "witness.json.lock"]


def test_cosign_with_another_witness_key_is_refused(tmp_path: Path) -> None:
    path = new_state(tmp_path, LOG.public)
    before = path.read_bytes()
    with pytest.raises(UsageError, match="is not this state's witness key"):
        cosign(path, body(0, 8), OTHER_WITNESS, T)
    assert path.read_bytes() == before


def test_missing_state_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        load_state(tmp_path / "absent.json")
    with pytest.raises(StoreError, match="no such file"):
        cosign(tmp_path / "absent.json", body(0, 8), WITNESS, T)
    with pytest.raises(StoreError, match="no such file"):
        add_log(tmp_path / "absent.json", LOG.public)


def test_a_crash_before_the_rename_leaves_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = new_state(tmp_path, LOG.public)
    cosign(path, body(0, 8), WITNESS, T)
    before = path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match="input/output error"):
        cosign(path, body(8, 13), WITNESS, T)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["witness.json", "witness.json.lock"]
    cosign(path, body(8, 13), WITNESS, T)  # the witness carries on
    assert load_state(path).known[ORIGIN].size == 13


def test_cosign_waits_for_the_lock(tmp_path: Path) -> None:
    path = new_state(tmp_path, LOG.public)
    before = path.read_bytes()
    results: list[bytes] = []
    fd = os.open(lock_path(path), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: results.append(cosign(path, body(0, 8), WITNESS, T))
        )
        worker.start()
        worker.join(0.5)
        assert worker.is_alive(), "cosign did not wait for the lock"
        assert path.read_bytes() == before
    finally:
        os.close(fd)
    worker.join(10)
    assert not worker.is_alive()
    assert len(results) == 1
    assert load_state(path).known[ORIGIN].size == 8


_RACER = """
import hashlib, json, sys
from pathlib import Path
from ledger.keys import SigningKey
from ledger.witness import RefusalReason, WitnessRefusal
from ledger.witness_state import cosign, load_state

state, requests, final, name = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
key = SigningKey.from_seed(name, hashlib.sha256(f"ledger witness tests: {name}".encode()).digest())
won = []
while (size := load_state(state).logs[0].size) < final:
    try:
        cosign(state, (requests / str(size)).read_bytes(), key, 1)
        won.append(size + 1)
    except WitnessRefusal as refused:  # another process was faster
        assert refused.reason in (RefusalReason.CONFLICT, RefusalReason.ROLLBACK), refused
print(json.dumps(won))
"""


def test_concurrent_cosign_from_several_processes_loses_no_update(tmp_path: Path) -> None:
    final, processes = 24, 4
    path = new_state(tmp_path, LOG.public)
    requests = tmp_path / "requests"
    requests.mkdir()
    for size in range(final):
        (requests / str(size)).write_bytes(body(size, size + 1))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), str(requests), str(final), WITNESS.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    won: list[int] = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err.decode()
        won.extend(json.loads(out))
    # Each size was cosigned exactly once, in one history, and the state holds the last.
    assert sorted(won) == list(range(1, final + 1))
    assert load_state(path).known[ORIGIN].size == final


# --- Loading is strict -------------------------------------------------------------------------


def _state_document(tmp_path: Path) -> dict[str, object]:
    path = new_state(tmp_path, LOG.public, OTHER_LOG.public)
    cosign(path, body(0, 8), WITNESS, T)
    document: dict[str, object] = json.loads(path.read_bytes())
    assert decode_state(path.read_bytes()) == load_state(path)
    assert encode_state(load_state(path)) == path.read_bytes()
    return document


def _log_field(field: str, value: object) -> object:
    def mutate(doc: dict[str, dict[str, dict[str, object]]]) -> None:
        doc["logs"][ORIGIN][field] = value

    return mutate


_ROOT8 = b64(merkle.root(HONEST, 8))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda d: d.update(schema="endorsement-ledger/witness-state/v2"),
            "schema",
            id="schema-v2",
        ),
        pytest.param(lambda d: d.update(extra=1), "exactly the keys", id="extra-key"),
        pytest.param(lambda d: d.pop("logs"), "exactly the keys", id="missing-logs"),
        pytest.param(lambda d: d.update(logs=[]), "logs must be an object", id="logs-list"),
        pytest.param(
            lambda d: d.update(witness=LOG.public.to_verifier_key()), "0x04", id="witness-type-0x01"
        ),
        pytest.param(
            lambda d: d.update(witness=7), "witness must be a string", id="witness-number"
        ),
        pytest.param(_log_field("size", "8"), "size must be an integer", id="size-string"),
        pytest.param(_log_field("size", True), "size must be an integer", id="size-bool"),
        pytest.param(_log_field("size", -1), "size must be an integer", id="size-negative"),
        pytest.param(_log_field("size", 2**63), "size must be an integer", id="size-2-pow-63"),
        pytest.param(
            _log_field("size", 9), "not the one of its size", id="size-not-the-checkpoint"
        ),
        pytest.param(_log_field("root", _ROOT8[:-1]), "root is not", id="root-unpadded"),
        pytest.param(_log_field("root", b64(bytes(31))), "root is not", id="root-31-bytes"),
        pytest.param(
            _log_field("root", b64(bytes(32))), "not the one of its size", id="root-other"
        ),
        pytest.param(
            _log_field("vkey", OTHER_LOG.public.to_verifier_key()),
            "not the origin",
            id="vkey-of-another-origin",
        ),
        pytest.param(
            _log_field("vkey", IMPOSTOR.public.to_verifier_key()),
            "does not verify",
            id="vkey-swapped",
        ),
        pytest.param(
            _log_field("checkpoint", None), "size 0 and the empty root", id="checkpoint-dropped"
        ),
        pytest.param(
            _log_field("checkpoint", signed(8, FORKED).decode()),
            "does not verify|not the one",
            id="checkpoint-forked",
        ),
        pytest.param(
            _log_field("checkpoint", signed(8).decode()[:-2]),
            "does not verify",
            id="checkpoint-truncated",
        ),
        pytest.param(
            _log_field("checkpoint", 8), "checkpoint must be a string", id="checkpoint-number"
        ),
        pytest.param(_log_field("extra", 1), "exactly the keys", id="log-extra-key"),
    ],
)
def test_load_state_is_strict(tmp_path: Path, mutate: object, message: str) -> None:
    document = _state_document(tmp_path)
    mutate(document)  # type: ignore[operator]
    path = tmp_path / "witness.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FormatError, match=message) as caught:
        load_state(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"\xff{}", "not UTF-8", id="not-utf8"),
        pytest.param(b"{", "not JSON", id="not-json"),
        pytest.param(b"[]", "state must be an object", id="top-level-list"),
        pytest.param(b'{"schema": 1, "schema": 2}', "duplicate key", id="duplicate-key"),
        pytest.param(b'{"size": NaN}', "NaN is not allowed", id="nan"),
        pytest.param(b'{"size": 1.0}', "not an integer", id="float"),
    ],
)
def test_state_bytes_that_are_not_a_state(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_state(data)


def test_state_round_trip_preserves_non_ascii_origins(tmp_path: Path) -> None:
    log = seeded("example.org/lettre-ouverte-été")
    path = new_state(tmp_path, log.public)
    cosign(path, body(0, 5, key=log), WITNESS, T)
    assert "lettre-ouverte-été" in path.read_text(encoding="utf-8")
    assert load_state(path).known[log.name].size == 5


def test_over_size_state_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.witness_state

    monkeypatch.setattr(ledger.witness_state, "MAX_STATE_SIZE", 100)
    with pytest.raises(FormatError, match="exceeds 100 bytes"):
        decode_state(b" " * 101)
