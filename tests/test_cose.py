"""Tests for endorsements as COSE_Sign1 (ledger.cose) and the display-text rules (ledger.names).

Attack tests build hostile COSE_Sign1 objects by hand (``build``), independently of
``ledger.cose``'s own signing path, and are named after the attack they try.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import string
import unicodedata
from collections.abc import Mapping
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.cose import (
    ALG_EDDSA,
    CONTENT_TYPE,
    MAX_ENDORSEMENT_BYTES,
    decode_endorsement,
    endorse,
    issuer_for,
    sign_endorsement,
    statement_uri,
    verify_endorsement,
)
from ledger.errors import FormatError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import MAX_TIME, Action, Endorsement, SignedEndorsement
from ledger.names import check_country, check_display_text, check_domain, check_url
from ledger.payload import decode_payload, encode_payload

KEY_A = SigningKey.from_seed("org-a", bytes([0xA1]) * 32)
KEY_B = SigningKey.from_seed("org-b", bytes([0xB2]) * 32)
STATEMENT = hashlib.sha256(b"We endorse this statement.\n").digest()
OTHER_STATEMENT = hashlib.sha256(b"A different statement.\n").digest()
SIGNED_AT = 1_700_000_000
L = 2**252 + 27742317777372353535851937790883648493
DROP = object()  # marks a field to leave out of a hand-built map


def payload_map(key: SigningKey = KEY_A, **changes: Any) -> dict[int, Any]:
    """The payload of an endorsement by ``key``, as a map; changes are keyed ``f<n>``."""
    fields: dict[int, Any] = {
        0: 1,
        1: 0,
        2: STATEMENT,
        3: "Example NGO",
        4: key.public.raw,
        5: SIGNED_AT,
    }
    for name, value in changes.items():
        fields[int(name[1:])] = value
    return {k: v for k, v in fields.items() if v is not DROP}


def protected_map(
    key: SigningKey = KEY_A,
    *,
    iss: str | None = None,
    sub: str | None = None,
    **changes: Any,
) -> dict[int, Any]:
    """The protected header for ``key``; changes are keyed ``h<n>``."""
    fields: dict[int, Any] = {
        1: ALG_EDDSA,
        3: CONTENT_TYPE,
        4: key.public.key_id,
        15: {
            1: iss if iss is not None else f"ledger-key:{key.public.fingerprint}",
            2: sub if sub is not None else statement_uri(STATEMENT),
        },
    }
    for name, value in changes.items():
        fields[int(name[1:])] = value
    return {k: v for k, v in fields.items() if v is not DROP}


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 Sig_structure for COSE_Sign1 with empty external AAD (built with cbor2)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def build(
    protected: Mapping[int, Any] | bytes,
    payload: Mapping[int, Any] | bytes | None,
    signer: SigningKey = KEY_A,
    *,
    unprotected: Any = None,
    signature: bytes | None = None,
    tag: int | None = 18,
) -> bytes:
    """A COSE_Sign1 object built by hand with cbor2 (not through ledger.cose)."""
    p = protected if isinstance(protected, bytes) else cbor2.dumps(protected, canonical=True)
    pl = payload if not isinstance(payload, Mapping) else cbor2.dumps(payload, canonical=True)
    if signature is None:
        signature = signer.sign(sig_structure(p, pl if isinstance(pl, bytes) else b""))
    parts = [p, {} if unprotected is None else unprotected, pl, signature]
    return cbor2.dumps(cbor2.CBORTag(tag, parts) if tag is not None else parts, canonical=True)


def endorsement(key: SigningKey = KEY_A, **changes: Any) -> Endorsement:
    fields: dict[str, Any] = {
        "action": Action.ENDORSE,
        "statement_hash": STATEMENT,
        "name": "Example NGO",
        "public_key": key.public.raw,
        "signed_at": SIGNED_AT,
    }
    fields.update(changes)
    return Endorsement(**fields)


def decode_and_verify(data: bytes) -> VerifyingKey:
    return verify_endorsement(decode_endorsement(data))


GOOD = endorse(KEY_A, STATEMENT, name="Example NGO", signed_at=SIGNED_AT)


# --- round trip ------------------------------------------------------------------------------


def test_hand_built_object_is_byte_identical_to_endorse() -> None:
    # The documented wire form, built independently with cbor2, is exactly what we sign.
    assert build(protected_map(), payload_map()) == GOOD


def test_wire_layout() -> None:
    value = cbor2.loads(GOOD)
    assert isinstance(value, cbor2.CBORTag)
    assert value.tag == 18
    protected, unprotected, payload, signature = value.value
    assert GOOD[:2] == b"\xd2\x84"  # tag 18, array of 4
    assert len(unprotected) == 0
    assert cbor2.loads(protected) == {
        1: -8,
        3: CONTENT_TYPE,
        4: KEY_A.public.key_id,
        15: {1: f"ledger-key:{KEY_A.public.fingerprint}", 2: statement_uri(STATEMENT)},
    }
    assert cbor2.loads(payload) == payload_map()
    assert len(signature) == 64


def test_signature_is_over_the_rfc9052_sig_structure() -> None:
    signed = decode_endorsement(GOOD)
    Ed25519PublicKey.from_public_bytes(KEY_A.public.raw).verify(
        signed.signature, sig_structure(signed.protected, signed.payload)
    )


def test_sign_decode_verify_round_trip() -> None:
    signed = decode_endorsement(GOOD)
    assert isinstance(signed, SignedEndorsement)
    assert signed.endorsement == endorsement()
    assert signed.cose == GOOD
    assert signed.key_id == KEY_A.public.key_id
    assert signed.issuer == f"ledger-key:{KEY_A.public.fingerprint}"
    assert signed.subject == statement_uri(STATEMENT)
    assert GOOD.find(signed.protected) > 0
    assert GOOD.find(signed.payload) > 0
    assert GOOD.endswith(signed.signature)
    key = verify_endorsement(signed)
    assert key.raw == KEY_A.public.raw
    assert key.key_id == KEY_A.public.key_id
    assert key.fingerprint == KEY_A.public.fingerprint


OPTIONALS = {"domain": "ngo.example", "url": "https://ngo.example/about", "country": "BE"}


@pytest.mark.parametrize(
    "present",
    [
        combo
        for size in range(len(OPTIONALS) + 1)
        for combo in itertools.combinations(OPTIONALS, size)
    ],
    ids=lambda combo: "+".join(combo) or "none",
)
def test_round_trip_with_optional_fields_present_or_absent(present: tuple[str, ...]) -> None:
    options = {name: OPTIONALS[name] for name in present}
    data = endorse(KEY_A, STATEMENT, name="Example NGO", signed_at=SIGNED_AT, **options)
    signed = decode_endorsement(data)
    assert signed.endorsement == endorsement(**options)
    payload = cbor2.loads(signed.payload)
    assert sorted(payload) == sorted(
        [0, 1, 2, 3, 4, 5] + [{"domain": 6, "url": 7, "country": 8}[n] for n in present]
    )
    expected_iss = options.get("domain", f"ledger-key:{KEY_A.public.fingerprint}")
    assert signed.issuer == expected_iss
    assert verify_endorsement(signed).raw == KEY_A.public.raw


def test_withdrawal_round_trip() -> None:
    withdrawal = endorsement(action=Action.WITHDRAW)
    signed = decode_endorsement(sign_endorsement(withdrawal, KEY_A))
    assert signed.endorsement == withdrawal
    assert signed.endorsement.action is Action.WITHDRAW
    verify_endorsement(signed)


def test_signing_is_deterministic() -> None:
    assert endorse(KEY_A, STATEMENT, name="Example NGO", signed_at=SIGNED_AT) == GOOD


def test_payload_round_trip() -> None:
    e = endorsement(domain="ngo.example", country="FR")
    assert decode_payload(encode_payload(e)) == e


def test_statement_uri_is_rfc6920_ni() -> None:
    digest = hashlib.sha256(b"").digest()
    assert statement_uri(digest) == "ni:///sha-256;47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    uri = statement_uri(STATEMENT)
    assert "=" not in uri
    assert base64.urlsafe_b64decode(uri.split(";")[1] + "=") == STATEMENT


def test_issuer_is_domain_else_key_fingerprint() -> None:
    assert issuer_for(endorsement(domain="ngo.example"), KEY_A.public) == "ngo.example"
    assert issuer_for(endorsement(), KEY_A.public) == f"ledger-key:{KEY_A.public.fingerprint}"


def test_sign_with_a_key_other_than_the_payload_key_is_refused() -> None:
    with pytest.raises(FormatError, match="different public key than the signing key"):
        sign_endorsement(endorsement(KEY_A), KEY_B)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": ""}, "name is empty"),
        ({"name": "a\nb"}, "U\\+000A"),
        ({"domain": "Example.org"}, "not a lowercase DNS name"),
        ({"country": "be"}, "two-letter ISO 3166-1 code"),
        ({"url": "ngo.example"}, "absolute http"),
        ({"statement_hash": bytes(31)}, "statement hash must be 32 bytes"),
    ],
)
def test_signing_refuses_invalid_payloads(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(FormatError, match=match):
        sign_endorsement(endorsement(**changes), KEY_A)


@pytest.mark.parametrize(
    "changes", [{"signed_at": -1}, {"action": 9}], ids=["signed_at=-1", "action=9"]
)
def test_signing_refuses_what_decoding_would_reject(changes: dict[str, Any]) -> None:
    try:
        data = sign_endorsement(endorsement(**changes), KEY_A)
    except FormatError:
        return
    with pytest.raises(FormatError):
        decode_endorsement(data)
    raise AssertionError("sign_endorsement produced an endorsement that does not decode")


@pytest.mark.parametrize("signed_at", [0, MAX_TIME - 1])
def test_signed_at_boundaries(signed_at: int) -> None:
    data = endorse(KEY_A, STATEMENT, name="N", signed_at=signed_at)
    assert decode_endorsement(data).endorsement.signed_at == signed_at


@pytest.mark.parametrize("signed_at", [MAX_TIME, 2**64 - 1])
def test_times_after_the_year_9999_are_refused(signed_at: int) -> None:
    with pytest.raises(FormatError, match="after the year 9999"):
        endorse(KEY_A, STATEMENT, name="N", signed_at=signed_at)


# --- independent verification with pycose ---------------------------------------------------


def _lists_and_dicts(value: Any) -> Any:
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _lists_and_dicts(value.value))
    if isinstance(value, list | tuple):
        return [_lists_and_dicts(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _lists_and_dicts(item) for key, item in value.items()}
    return value


class _Cbor2Shim:
    """cbor2, except that ``loads`` gives lists and dicts inside tags (what pycose 1.1 expects)."""

    @staticmethod
    def loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
        return _lists_and_dicts(cbor2.loads(data, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(cbor2, name)


@pytest.fixture
def pycose(monkeypatch: pytest.MonkeyPatch) -> Any:
    pycose = pytest.importorskip("pycose")
    cosemessage = pytest.importorskip("pycose.messages.cosemessage")
    monkeypatch.setattr(cosemessage, "cbor2", _Cbor2Shim())
    return pycose


def _pycose_key(raw: bytes) -> Any:
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519

    return OKPKey(crv=Ed25519, x=raw)


@pytest.mark.parametrize("options", [{}, OPTIONALS], ids=["minimal", "all-optional"])
def test_pycose_verifies_our_endorsement(pycose: Any, options: dict[str, str]) -> None:
    from pycose.algorithms import EdDSA
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.messages import Sign1Message

    data = endorse(KEY_A, STATEMENT, name="Example NGO", signed_at=SIGNED_AT, **options)
    message = Sign1Message.decode(data)
    assert message.get_attr(Algorithm) is EdDSA
    assert message.get_attr(ContentType) == CONTENT_TYPE
    assert message.get_attr(KID) == KEY_A.public.key_id
    assert message.phdr[15] == {
        1: options.get("domain", f"ledger-key:{KEY_A.public.fingerprint}"),
        2: statement_uri(STATEMENT),
    }
    assert message.uhdr == {}
    assert message.payload == decode_endorsement(data).payload

    message.key = _pycose_key(KEY_A.public.raw)
    assert message.verify_signature() is True

    message.key = _pycose_key(KEY_B.public.raw)
    assert message.verify_signature() is False

    tampered = Sign1Message.decode(data)
    payload = bytearray(tampered.payload)
    payload[-1] ^= 0x01
    tampered.payload = bytes(payload)
    tampered.key = _pycose_key(KEY_A.public.raw)
    assert tampered.verify_signature() is False


def test_pycose_signed_endorsement_is_byte_identical_and_verifies(pycose: Any) -> None:
    from pycose.algorithms import EdDSA
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519
    from pycose.messages import Sign1Message

    message = Sign1Message(
        phdr={
            Algorithm: EdDSA,
            ContentType: CONTENT_TYPE,
            KID: KEY_A.public.key_id,
            15: {1: f"ledger-key:{KEY_A.public.fingerprint}", 2: statement_uri(STATEMENT)},
        },
        payload=encode_payload(endorsement()),
    )
    message.key = OKPKey(crv=Ed25519, d=bytes([0xA1]) * 32, x=KEY_A.public.raw)
    data = message.encode()
    assert data == GOOD
    assert decode_and_verify(data).raw == KEY_A.public.raw


# --- attacks: signatures ---------------------------------------------------------------------


def test_attack_signature_by_another_key() -> None:
    # Everything names key A, but key B made the signature.
    data = build(protected_map(KEY_A), payload_map(KEY_A), signer=KEY_B)
    signed = decode_endorsement(data)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_endorsement(signed)


def test_attack_every_single_bit_flip_of_the_signature() -> None:
    signature_start = len(GOOD) - 64
    for bit in range(64 * 8):
        mutated = bytearray(GOOD)
        mutated[signature_start + bit // 8] ^= 1 << (bit % 8)
        signed = decode_endorsement(bytes(mutated))  # the envelope is still well formed
        with pytest.raises(VerificationError):
            verify_endorsement(signed)


def test_attack_every_byte_flip_of_the_whole_object_is_refused() -> None:
    for position in range(len(GOOD)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(GOOD)
            mutated[position] ^= flip
            with pytest.raises((FormatError, VerificationError)):
                decode_and_verify(bytes(mutated))


def test_attack_every_byte_flip_of_payload_and_protected_header() -> None:
    signed = decode_endorsement(GOOD)
    for part in (signed.protected, signed.payload):
        start = GOOD.index(part)
        for offset in range(len(part)):
            for flip in (0x01, 0x20, 0xFF):
                mutated = bytearray(GOOD)
                mutated[start + offset] ^= flip
                with pytest.raises((FormatError, VerificationError)):
                    decode_and_verify(bytes(mutated))


def test_attack_malleated_signature_s_plus_l() -> None:
    signed = decode_endorsement(GOOD)
    r, s = signed.signature[:32], int.from_bytes(signed.signature[32:], "little")
    assert s < L
    malleated = r + (s + L).to_bytes(32, "little")
    data = build(signed.protected, signed.payload, signature=malleated)
    with pytest.raises(VerificationError, match="S >= L"):
        decode_and_verify(data)


@pytest.mark.parametrize("size", [0, 63, 65, 128])
def test_attack_signature_of_wrong_length(size: int) -> None:
    data = build(protected_map(), payload_map(), signature=bytes(size))
    with pytest.raises(FormatError, match="endorsement: signature must be 64 bytes"):
        decode_endorsement(data)


def test_attack_all_zero_signature() -> None:
    data = build(protected_map(), payload_map(), signature=bytes(64))
    with pytest.raises(VerificationError):
        decode_and_verify(data)


def test_attack_small_order_public_key_in_payload() -> None:
    identity = (1).to_bytes(32, "little")  # the neutral point: every signature "verifies"
    kid = hashlib.sha256(b"endorsement-ledger/key/v1\x00" + identity).digest()
    data = build(protected_map(h4=kid), payload_map(f4=identity), signature=bytes(64))
    signed = decode_endorsement(data)
    with pytest.raises(FormatError):
        verify_endorsement(signed)


# --- attacks: header and payload bindings ----------------------------------------------------


def test_attack_kid_of_another_key() -> None:
    data = build(protected_map(KEY_A, h4=KEY_B.public.key_id), payload_map(KEY_A), signer=KEY_A)
    with pytest.raises(VerificationError, match="kid in the protected header is not the payload"):
        decode_and_verify(data)


def test_attack_kid_and_signature_of_another_key() -> None:
    data = build(protected_map(KEY_A, h4=KEY_B.public.key_id), payload_map(KEY_A), signer=KEY_B)
    with pytest.raises(VerificationError, match="kid"):
        decode_and_verify(data)


def test_attack_payload_key_swapped_for_the_signers_key() -> None:
    # B signs a payload claiming A's name and domain but with B's own key: it verifies as B's,
    # and the header cannot carry A's kid or A's key-derived issuer.
    data = build(protected_map(KEY_B), payload_map(KEY_B), signer=KEY_B)
    assert decode_and_verify(data).raw == KEY_B.public.raw
    forged = build(protected_map(KEY_B, h4=KEY_A.public.key_id), payload_map(KEY_B), signer=KEY_B)
    with pytest.raises(VerificationError, match="kid"):
        decode_and_verify(forged)


def test_attack_iss_mismatch() -> None:
    data = build(protected_map(iss="other.example"), payload_map())
    with pytest.raises(VerificationError, match=r"iss 'other\.example' does not match the payload"):
        decode_and_verify(data)


def test_attack_iss_of_another_key() -> None:
    data = build(protected_map(iss=f"ledger-key:{KEY_B.public.fingerprint}"), payload_map())
    with pytest.raises(VerificationError, match="does not match the payload"):
        decode_and_verify(data)


def test_attack_iss_without_domain_when_payload_has_domain() -> None:
    data = build(protected_map(), payload_map(f6="ngo.example"))
    with pytest.raises(VerificationError, match="iss"):
        decode_and_verify(data)


def test_attack_sub_mismatch_other_statement() -> None:
    data = build(protected_map(sub=statement_uri(OTHER_STATEMENT)), payload_map())
    with pytest.raises(VerificationError, match="sub does not match the payload's statement hash"):
        decode_and_verify(data)


def test_attack_replay_signature_on_another_statement() -> None:
    original = decode_endorsement(GOOD)
    other = build(
        protected_map(sub=statement_uri(OTHER_STATEMENT)), payload_map(f2=OTHER_STATEMENT)
    )
    replayed = build(
        decode_endorsement(other).protected,
        decode_endorsement(other).payload,
        signature=original.signature,
    )
    with pytest.raises(VerificationError, match="does not verify"):
        decode_and_verify(replayed)


def test_attack_swapped_payload_from_another_endorsement() -> None:
    # Same key, same statement, same headers: only the payloads differ (name, time).
    original = decode_endorsement(GOOD)
    other = decode_endorsement(
        endorse(KEY_A, STATEMENT, name="Someone Else", signed_at=SIGNED_AT + 1)
    )
    assert other.protected == original.protected
    swapped = build(original.protected, other.payload, signature=original.signature)
    with pytest.raises(VerificationError, match="does not verify"):
        decode_and_verify(swapped)


def test_attack_withdrawal_relabelled_as_endorsement() -> None:
    withdrawal = decode_endorsement(sign_endorsement(endorsement(action=Action.WITHDRAW), KEY_A))
    relabelled = build(
        withdrawal.protected,
        cbor2.dumps(payload_map(f1=0), canonical=True),
        signature=withdrawal.signature,
    )
    with pytest.raises(VerificationError, match="does not verify"):
        decode_and_verify(relabelled)


def test_attack_unprotected_header_non_empty() -> None:
    data = build(protected_map(), payload_map(), unprotected={4: KEY_A.public.key_id})
    with pytest.raises(FormatError, match="endorsement: the unprotected header must be empty"):
        decode_endorsement(data)


def test_attack_unprotected_header_not_a_map() -> None:
    data = build(protected_map(), payload_map(), unprotected=[])
    with pytest.raises(FormatError, match="unprotected header must be empty"):
        decode_endorsement(data)


def test_attack_untagged_cose_sign1() -> None:
    data = build(protected_map(), payload_map(), tag=None)
    assert data[0] == 0x84
    with pytest.raises(FormatError, match=r"not a tagged COSE_Sign1 object \(tag 18\)"):
        decode_endorsement(data)


def test_attack_cose_sign_tag_98_instead() -> None:
    # COSE_Sign is the envelope of a rotation only, and carries exactly two signatures.
    data = build(protected_map(), payload_map(), tag=98)
    with pytest.raises(FormatError, match="a COSE_Sign must carry exactly two signatures"):
        decode_endorsement(data)


def test_attack_cose_sign1_inside_another_tag_18() -> None:
    inner = cbor2.loads(GOOD)
    data = cbor2.dumps(cbor2.CBORTag(18, inner))
    with pytest.raises(FormatError, match="array of 4 items"):
        decode_endorsement(data)


def test_attack_detached_payload_nil() -> None:
    data = build(protected_map(), None)
    with pytest.raises(FormatError, match="endorsement: simple value None is not allowed"):
        decode_endorsement(data)


def test_attack_payload_as_text_string() -> None:
    data = build(protected_map(), "payload")  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="payload must be attached as a byte string"):
        decode_endorsement(data)


@pytest.mark.parametrize("count", [3, 5])
def test_attack_cose_sign1_with_wrong_item_count(count: int) -> None:
    parts = cbor2.loads(GOOD).value
    items = [*parts, b""][:count]
    with pytest.raises(FormatError, match="COSE_Sign1 must be an array of 4 items"):
        decode_endorsement(cbor2.dumps(cbor2.CBORTag(18, items)))


def test_attack_empty_protected_header() -> None:
    data = build(b"", payload_map())
    with pytest.raises(FormatError, match="protected header must be a non-empty byte string"):
        decode_endorsement(data)


def test_attack_protected_header_not_a_map() -> None:
    data = build(cbor2.dumps([1, -8]), payload_map())
    with pytest.raises(FormatError, match="protected header: expected a map, got an array"):
        decode_endorsement(data)


def test_attack_non_canonical_protected_header() -> None:
    # Same header, alg written as a long-form integer: the signed bytes must be canonical.
    canonical = cbor2.dumps(protected_map(), canonical=True)
    assert canonical[1:3] == b"\x01\x27"
    long_form = canonical[:2] + b"\x38\x07" + canonical[3:]
    with pytest.raises(FormatError, match="protected header: not deterministic CBOR"):
        decode_endorsement(build(long_form, payload_map()))


def test_attack_non_canonical_payload() -> None:
    canonical = cbor2.dumps(payload_map(), canonical=True)
    assert canonical[1:3] == b"\x00\x01"
    long_form = canonical[:2] + b"\x18\x01" + canonical[3:]
    with pytest.raises(FormatError, match="payload: not deterministic CBOR"):
        decode_endorsement(build(protected_map(), long_form))


@pytest.mark.parametrize("alg", [-7, -35, -257, 1, -9, "EdDSA"])
def test_attack_alg_other_than_eddsa(alg: Any) -> None:
    data = build(protected_map(h1=alg), payload_map())
    with pytest.raises(FormatError, match=r"protected header: alg must be EdDSA \(-8\)"):
        decode_endorsement(data)


def test_attack_missing_alg() -> None:
    data = build(protected_map(h1=DROP), payload_map())
    with pytest.raises(FormatError, match=r"protected header: missing field alg \(key 1\)"):
        decode_endorsement(data)


@pytest.mark.parametrize("content_type", ["application/cbor", 60, CONTENT_TYPE.upper()])
def test_attack_other_content_type(content_type: Any) -> None:
    data = build(protected_map(h3=content_type), payload_map())
    with pytest.raises(FormatError, match="content type must be"):
        decode_endorsement(data)


@pytest.mark.parametrize("field", [2, 5, 6, 13, 16, 23])
def test_attack_extra_unknown_protected_header_field(field: int) -> None:
    data = build(protected_map(**{f"h{field}": b"x"}), payload_map())
    with pytest.raises(FormatError, match=rf"protected header: unknown field key\(s\) \[{field}\]"):
        decode_endorsement(data)


def test_attack_extra_cwt_claim() -> None:
    header = protected_map()
    header[15] = {**header[15], 6: SIGNED_AT}  # iat
    with pytest.raises(FormatError, match=r"CWT claims: unknown field key\(s\) \[6\]"):
        decode_endorsement(build(header, payload_map()))


def test_attack_missing_sub_claim() -> None:
    header = protected_map()
    header[15] = {1: header[15][1]}
    with pytest.raises(FormatError, match=r"CWT claims: missing field sub \(key 2\)"):
        decode_endorsement(build(header, payload_map()))


def test_attack_kid_of_wrong_length() -> None:
    data = build(protected_map(h4=KEY_A.public.key_id[:16]), payload_map())
    with pytest.raises(FormatError, match="kid must be 32 bytes, got 16"):
        decode_endorsement(data)


def test_attack_unknown_payload_field() -> None:
    data = build(protected_map(), payload_map(f15="extra"))
    with pytest.raises(FormatError, match=r"payload: unknown field key\(s\) \[15\]"):
        decode_endorsement(data)


def test_attack_payload_version_2() -> None:
    data = build(protected_map(), payload_map(f0=2))
    with pytest.raises(FormatError, match="payload: unsupported version 2"):
        decode_endorsement(data)


def test_attack_payload_without_version() -> None:
    data = build(protected_map(), payload_map(f0=DROP))
    with pytest.raises(FormatError, match=r"payload: missing field version \(key 0\)"):
        decode_endorsement(data)


def test_attack_unknown_action_7() -> None:
    data = build(protected_map(), payload_map(f1=7))
    with pytest.raises(FormatError, match="payload: unknown action 7"):
        decode_endorsement(data)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_attack_statement_hash_of_wrong_length(size: int) -> None:
    data = build(protected_map(), payload_map(f2=bytes(size)))
    with pytest.raises(FormatError, match=f"payload: statement hash must be 32 bytes, got {size}"):
        decode_endorsement(data)


def test_attack_public_key_of_wrong_length() -> None:
    data = build(protected_map(), payload_map(f4=KEY_A.public.raw + b"\x00"))
    with pytest.raises(FormatError, match="payload: public key must be 32 bytes, got 33"):
        decode_endorsement(data)


def test_attack_negative_signed_at() -> None:
    data = build(protected_map(), payload_map(f5=-1))
    with pytest.raises(FormatError, match="payload: signed-at time must be an unsigned integer"):
        decode_endorsement(data)


def test_attack_over_long_name() -> None:
    assert decode_endorsement(build(protected_map(), payload_map(f3="x" * 256)))
    data = build(protected_map(), payload_map(f3="x" * 257))
    with pytest.raises(FormatError, match="payload: name is longer than 256 characters"):
        decode_endorsement(data)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Example \u202eOGN", "U+202E"),  # right-to-left override (Trojan Source)
        ("Example\u2066 NGO", "U+2066"),  # left-to-right isolate
        ("Example\u200f NGO", "U+200F"),  # right-to-left mark
        ("Example\nNGO", "U+000A"),
        ("Example\rNGO", "U+000D"),
        ("Example\tNGO", "U+0009"),
        ("Example\x00NGO", "U+0000"),
        ("Example\x85NGO", "U+0085"),  # C1 next line
        ("Example\u2028NGO", "U+2028"),  # line separator
    ],
)
def test_attack_name_with_control_or_bidi_character(name: str, code: str) -> None:
    data = build(protected_map(), payload_map(f3=name))
    with pytest.raises(FormatError, match=rf"name: character \d+ is {re.escape(code)}"):
        decode_endorsement(data)


@pytest.mark.parametrize("name", [" Example NGO", "Example NGO ", "", "e\u0301"])
def test_attack_name_with_padding_empty_or_not_nfc(name: str) -> None:
    data = build(protected_map(), payload_map(f3=name))
    with pytest.raises(FormatError, match="name"):
        decode_endorsement(data)


@pytest.mark.parametrize(
    "domain", ["Example.org", "example.org.", "ex_ample.org", "localhost", "-ngo.example", ""]
)
def test_attack_bad_domain(domain: str) -> None:
    data = build(protected_map(iss=domain or "x"), payload_map(f6=domain))
    with pytest.raises(FormatError, match="domain"):
        decode_endorsement(data)


@pytest.mark.parametrize(
    ("country", "match"),
    [
        ("be", "not a two-letter ISO 3166-1 code"),
        ("BEL", "payload: country is longer than 2 characters"),
        ("B", "not a two-letter ISO 3166-1 code"),
        ("B1", "not a two-letter ISO 3166-1 code"),
    ],
)
def test_attack_bad_country(country: str, match: str) -> None:
    data = build(protected_map(), payload_map(f8=country))
    with pytest.raises(FormatError, match=match):
        decode_endorsement(data)


@pytest.mark.parametrize(
    "url", ["ngo.example", "ftp://ngo.example", "javascript:alert(1)", "https://ngo .example"]
)
def test_attack_url_without_http_scheme(url: str) -> None:
    data = build(protected_map(), payload_map(f7=url))
    with pytest.raises(FormatError, match="url"):
        decode_endorsement(data)


def test_attack_over_size_endorsement() -> None:
    with pytest.raises(FormatError, match=f"exceeds the limit of {MAX_ENDORSEMENT_BYTES}"):
        decode_endorsement(GOOD + bytes(MAX_ENDORSEMENT_BYTES))


def test_attack_trailing_bytes_after_endorsement() -> None:
    with pytest.raises(FormatError, match="endorsement: 1 trailing bytes"):
        decode_endorsement(GOOD + b"\x00")


# --- names.py ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Example NGO",
        "Ärzte ohne Grenzen",
        "Médecins Sans Frontières",
        "中国人权",
        "منظمة العفو الدولية",  # right-to-left script without bidi controls
        "O'Neil & Söhne <GmbH>",
        "x",
        "🌍 Climate Action",
        "a" * 10,
    ],
)
def test_check_display_text_accepts(text: str) -> None:
    assert check_display_text(text, "name", max_len=10 if text == "a" * 10 else 256) == text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "name is empty or has leading or trailing white space"),
        (" x", "leading or trailing white space"),
        ("x ", "leading or trailing white space"),
        ("x\u3000", "leading or trailing white space"),
        ("a" * 11, "name is longer than 10 characters"),
        ("a\u202eb", "character 2 is U\\+202E"),
        ("a\u202ab", "U\\+202A"),
        ("a\u2069b", "U\\+2069"),
        ("a\u061cb", "U\\+061C"),
        ("a\u200eb", "U\\+200E"),
        ("a\nb", "U\\+000A"),
        ("a\x7fb", "U\\+007F"),
        ("a\x9bb", "U\\+009B"),
        ("a\u2029b", "U\\+2029"),
        ("a\ue000b", "U\\+E000"),  # private use
        ("a\u0378b", "U\\+0378"),  # unassigned
        ("a\ud800b", "U\\+D800"),  # lone surrogate
        ("e\u0301", "not in Unicode NFC form"),
        ("\u212b", "not in Unicode NFC form"),  # ANGSTROM SIGN, NFC is U+00C5
    ],
)
def test_check_display_text_rejects(text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        check_display_text(text, "name", max_len=10)


@pytest.mark.parametrize(
    "domain",
    [
        "example.org",
        "ngo.example",
        "a.b",
        "xn--bcher-kva.example",
        "sub-1.example.co.uk",
        "x" * 63 + ".org",
    ],
)
def test_check_domain_accepts(domain: str) -> None:
    assert check_domain(domain) == domain


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "example",
        "Example.org",
        "EXAMPLE.ORG",
        "example.org.",
        ".example.org",
        "ex..org",
        "ex_ample.org",
        "-example.org",
        "example-.org",
        "exa mple.org",
        "bücher.example",
        "x" * 64 + ".org",
        ("a" * 63 + ".") * 4 + "org",  # 260 characters
        "example.org\n",
    ],
)
def test_check_domain_rejects(domain: str) -> None:
    with pytest.raises(FormatError, match="is not a lowercase DNS name"):
        check_domain(domain)


@pytest.mark.parametrize("country", ["BE", "FR", "US", "DE"])
def test_check_country_accepts(country: str) -> None:
    assert check_country(country) == country


@pytest.mark.parametrize(
    "country", ["be", "Be", "BEL", "B", "", "B1", "BE\n", "\uff22\uff25", "ÄB"]
)
def test_check_country_rejects(country: str) -> None:
    with pytest.raises(FormatError, match="not a two-letter ISO 3166-1 code"):
        check_country(country)


@pytest.mark.parametrize(
    "url", ["https://ngo.example", "http://ngo.example/a?b=c#d", "https://xn--bcher-kva.example/"]
)
def test_check_url_accepts(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ngo.example",
        "www.ngo.example",
        "//ngo.example",
        "ftp://ngo.example",
        "javascript:alert(1)",
        "HTTPS://NGO.EXAMPLE",
        "https://ngo.example/a b",
        "https://ngo.example/\u00a0",
        "https://ngo.example/\n",
        "https://ngo.example/\u202e",
        " https://ngo.example",
        "https://" + "a" * 2048,
    ],
)
def test_check_url_rejects(url: str) -> None:
    with pytest.raises(FormatError, match="url"):
        check_url(url)


# --- property ----------------------------------------------------------------------------------


def _displayable(text: str) -> bool:
    try:
        check_display_text(text, "name", max_len=256)
    except FormatError:
        return False
    return True


NAMES = (
    st.text(
        st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(lambda text: unicodedata.normalize("NFC", text))
    .filter(_displayable)
)
LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
DOMAINS = st.lists(LABELS, min_size=2, max_size=4).map(".".join)
URLS = st.builds(
    lambda domain, path: f"https://{domain}/{path}",
    DOMAINS,
    st.text(string.ascii_letters + string.digits + "-._~/?=&%", max_size=30),
)
COUNTRIES = st.text(string.ascii_uppercase, min_size=2, max_size=2)
KEYS = st.binary(min_size=32, max_size=32).map(lambda seed: SigningKey.from_seed("org", seed))


@st.composite
def signed_claims(draw: st.DrawFn) -> tuple[SigningKey, Endorsement]:
    """A random key and a valid claim by it."""
    key = draw(KEYS)
    claim = Endorsement(
        action=Action.ENDORSE,
        statement_hash=draw(st.binary(min_size=32, max_size=32)),
        name=draw(NAMES),
        public_key=key.public.raw,
        signed_at=draw(st.integers(min_value=0, max_value=MAX_TIME - 1)),
        domain=draw(st.none() | DOMAINS),
        url=draw(st.none() | URLS),
        country=draw(st.none() | COUNTRIES),
    )
    return key, claim


@settings(max_examples=60, deadline=None)
@given(signed_claims())
def test_random_endorsements_round_trip_and_verify(
    key_and_claim: tuple[SigningKey, Endorsement],
) -> None:
    key, claim = key_and_claim
    if claim.action is Action.ENDORSE:
        data = endorse(
            key,
            claim.statement_hash,
            name=claim.name,
            signed_at=claim.signed_at,
            domain=claim.domain,
            url=claim.url,
            country=claim.country,
        )
        assert data == sign_endorsement(claim, key)
    else:
        data = sign_endorsement(claim, key)
    signed = decode_endorsement(data)
    assert signed.endorsement == claim
    assert signed.cose == data
    verified = verify_endorsement(signed)
    assert verified.raw == key.public.raw
    assert verified.key_id == key.public.key_id == signed.key_id
    assert signed.subject == statement_uri(claim.statement_hash)
    assert signed.issuer == (claim.domain or f"ledger-key:{key.public.fingerprint}")
    # Re-signing the decoded claim gives the same bytes (one encoding, deterministic signature).
    assert sign_endorsement(signed.endorsement, key) == data
