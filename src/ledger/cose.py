"""Signed statements as COSE (RFC 9052) with EdDSA over Ed25519.

Every action but ROTATE is a tagged COSE_Sign1 (§4.2)::

    sign1 = #6.18([ protected: bstr .cbor header, unprotected: {}, payload: bstr .cbor payload,
                    signature: bstr .size 64 ])
    header = { 1: -8,                    ; alg: EdDSA
               3: CONTENT_TYPE,           ; content type of the payload
               4: bstr .size 32,          ; kid: key id of the signing key
               15: { 1: tstr, 2: tstr } } ; CWT claims (RFC 9597): iss, sub

A ROTATE is a tagged COSE_Sign (§4.1) with exactly two signatures over the same payload, the
old key's then the new key's, so the new key countersigns its own introduction::

    sign = #6.98([ protected: bstr .cbor { 3: CONTENT_TYPE, 15: { 1: tstr, 2: tstr } },
                   unprotected: {}, payload: bstr .cbor payload,
                   [ 2*2 [ protected: bstr .cbor { 1: -8, 4: bstr .size 32 }, unprotected: {},
                           signature: bstr .size 64 ] ] ])

Signatures are over the §4.4 ``Sig_structure`` with empty external AAD (``["Signature1",
protected, h'', payload]``, or ``["Signature", body_protected, sign_protected, h'', payload]``),
so any COSE library verifies them given only the public keys. ``iss`` is the organisation's
domain when it gave one, else ``ledger-key:<fingerprint>`` of the (first) signer; ``sub`` is the
statement hash as an RFC 6920 named-information URI (the SCITT signed-statement profile). The
content type separates our signatures from every other use of the same key. The payload's
fields are in ``ledger.payload``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

import cbor2

from ledger import codec
from ledger.codec import Fields
from ledger.errors import FormatError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import HASH_SIZE, Action, Endorsement, SignedEndorsement
from ledger.payload import MAX_PAYLOAD_BYTES, decode_payload, encode_payload

CONTENT_TYPE: Final = "application/vnd.endorsement-ledger.endorsement+cbor"
MAX_ENDORSEMENT_BYTES: Final = MAX_PAYLOAD_BYTES + 1024
ALG_EDDSA: Final = -8
_HEADER_ALG, _HEADER_CONTENT_TYPE, _HEADER_KID, _HEADER_CWT = 1, 3, 4, 15
_CWT_ISS, _CWT_SUB = 1, 2
_SIGNATURE_SIZE: Final = 64


@lru_cache(maxsize=64)  # a ledger has one statement: computed once, not once per entry
def statement_uri(statement_hash: bytes) -> str:
    """The statement hash as an RFC 6920 ``ni`` URI (``ni:///sha-256;<base64url>``)."""
    digest = base64.urlsafe_b64encode(statement_hash).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"


def issuer_for(endorsement: Endorsement, key: VerifyingKey) -> str:
    """The CWT ``iss`` we write: the organisation's domain, else its key fingerprint."""
    return endorsement.domain or f"ledger-key:{key.fingerprint}"


def sign_endorsement(
    endorsement: Endorsement, key: SigningKey, *, new_key: SigningKey | None = None
) -> bytes:
    """Sign a statement: COSE_Sign1, or COSE_Sign with ``new_key`` countersigning a ROTATE.

    Args:
        endorsement: the payload; its ``public_key`` must be ``key``'s public key (and its
            ``new_key`` that of ``new_key`` for a rotation).
        key: the signer's key (for a rotation, the old key).
        new_key: the new key, for a ROTATE only.

    Returns:
        The COSE bytes, to be stored and hashed exactly as returned.

    Raises:
        FormatError: a field breaks the payload rules, or the keys do not match the payload.
    """
    public = key.public
    if endorsement.public_key != public.raw:
        raise FormatError("the payload names a different public key than the signing key")
    payload = encode_payload(endorsement)
    claims = {
        _CWT_ISS: issuer_for(endorsement, public),
        _CWT_SUB: statement_uri(endorsement.statement_hash),
    }
    if endorsement.action is Action.ROTATE:
        if new_key is None or endorsement.new_key != new_key.public.raw:
            raise FormatError("a rotation must be countersigned by the new key it names")
        body = codec.encode({_HEADER_CONTENT_TYPE: CONTENT_TYPE, _HEADER_CWT: claims})
        signatures = []
        for signer in (key, new_key):
            protected = codec.encode({_HEADER_ALG: ALG_EDDSA, _HEADER_KID: signer.public.key_id})
            signature = signer.sign(_sig_structure_sign(body, protected, payload))
            signatures.append([protected, {}, signature])
        return codec.encode(cbor2.CBORTag(codec.COSE_SIGN_TAG, [body, {}, payload, signatures]))
    if new_key is not None:
        raise FormatError("only a rotation is countersigned")
    protected = codec.encode(
        {
            _HEADER_ALG: ALG_EDDSA,
            _HEADER_CONTENT_TYPE: CONTENT_TYPE,
            _HEADER_KID: public.key_id,
            _HEADER_CWT: claims,
        }
    )
    signature = key.sign(_sig_structure_sign1(protected, payload))
    return codec.encode(cbor2.CBORTag(codec.COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def decode_endorsement(data: bytes) -> SignedEndorsement:
    """Decode a signed statement strictly, without verifying its signatures.

    Raises:
        FormatError: not a COSE_Sign1 (or, for a rotation, COSE_Sign) of this profile, or a
            field is malformed.
    """
    fast = _decode_sign1_shape(data)
    return fast if fast is not None else _decode_fields(data)


def _decode_fields(data: bytes) -> SignedEndorsement:
    value = codec.decode(data, max_size=MAX_ENDORSEMENT_BYTES, what="endorsement")
    if isinstance(value, cbor2.CBORTag) and value.tag == codec.COSE_SIGN_TAG:
        return _decode_sign(data, value.value)
    if not isinstance(value, cbor2.CBORTag) or value.tag != codec.COSE_SIGN1_TAG:
        raise FormatError("endorsement: not a tagged COSE_Sign1 object (tag 18)")
    protected, payload, signature = _parts(value.value, "COSE_Sign1")
    if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
        raise FormatError("endorsement: signature must be 64 bytes")
    header = Fields(
        codec.decode(protected, max_size=1024, what="protected header"), "protected header"
    )
    _check_alg(header)
    _check_content_type(header)
    key_id = header.bytes_(_HEADER_KID, "kid", HASH_SIZE)
    issuer, subject = _claims(header)
    header.finish()
    return _signed_endorsement(
        data,
        (protected, payload, signature),
        key_id=key_id,
        issuer=issuer,
        subject=subject,
    )


_HEADER_KEYS: Final = (_HEADER_ALG, _HEADER_CONTENT_TYPE, _HEADER_KID, _HEADER_CWT)
_CLAIM_KEYS: Final = (_CWT_ISS, _CWT_SUB)


def _decode_sign1_shape(data: bytes) -> SignedEndorsement | None:  # noqa: PLR0911 - one a shape
    """A COSE_Sign1 of exactly the profile's shape, decoded; None for anything else.

    The fast path of ``decode_endorsement`` (see ``codec.decode_exact``): it accepts only what
    the field-by-field decoder accepts, with the same result, and leaves every other input, and
    so every error message, to it. The payload is decoded by ``decode_payload`` as there.
    """
    value = codec.decode_exact(data, max_size=MAX_ENDORSEMENT_BYTES)
    if type(value) is not cbor2.CBORTag or value.tag != codec.COSE_SIGN1_TAG:
        return None
    parts = value.value
    if type(parts) is not tuple or len(parts) != 4:
        return None
    protected, unprotected, payload, signature = parts
    if not (
        type(protected) is bytes
        and protected
        and isinstance(unprotected, Mapping)
        and not unprotected
        and type(payload) is bytes
        and type(signature) is bytes
        and len(signature) == _SIGNATURE_SIZE
    ):
        return None
    header = codec.decode_exact(protected, max_size=1024)
    if type(header) is not dict or tuple(header) != _HEADER_KEYS:
        return None
    alg, content_type, key_id, claims = header.values()
    if not (
        type(alg) is int
        and alg == ALG_EDDSA
        and type(content_type) is str
        and content_type == CONTENT_TYPE
        and type(key_id) is bytes
        and len(key_id) == HASH_SIZE
        and type(claims) is dict
        and tuple(claims) == _CLAIM_KEYS
    ):
        return None
    issuer, subject = claims.values()
    if not (
        type(issuer) is str
        and 0 < len(issuer) <= 300  # the limits of _claims
        and type(subject) is str
        and 0 < len(subject) <= 100
    ):
        return None
    return _signed_endorsement(
        data,
        (protected, payload, signature),
        key_id=key_id,
        issuer=issuer,
        subject=subject,
    )


def verify_endorsement(signed: SignedEndorsement) -> VerifyingKey:
    """Verify a signed statement's signatures and the bindings of its headers to its payload.

    Checks, in order: each key id is that of the key the payload names (before any crypto, so
    a wrong key is named as such), ``iss`` and ``sub`` match the payload, then the signatures.

    Returns:
        The (first) signer's verifying key.

    Raises:
        FormatError: a key in the payload is not a valid Ed25519 key.
        VerificationError: a binding or a signature does not verify.
    """
    endorsement = signed.endorsement
    key = payload_key(endorsement.public_key)
    if signed.key_id != key.key_id:
        raise VerificationError("kid in the protected header is not the payload's key")
    if signed.issuer != issuer_for(endorsement, key):
        raise VerificationError(f"iss {signed.issuer!r} does not match the payload")
    if signed.subject != statement_uri(endorsement.statement_hash):
        raise VerificationError("sub does not match the payload's statement hash")
    if endorsement.revoked_key is not None:
        payload_key(endorsement.revoked_key)  # a revocation must name a valid key
    if signed.body_protected is None:
        key.verify(_sig_structure_sign1(signed.protected, signed.payload), signed.signature)
        return key
    if endorsement.new_key is None or signed.cosigner is None:
        raise VerificationError("a rotation needs the new key's countersignature")
    new_key = payload_key(endorsement.new_key)
    cosigner_kid, cosigner_protected, cosignature = signed.cosigner
    if cosigner_kid != new_key.key_id:
        raise VerificationError("the countersignature is not by the new key the payload names")
    key.verify(
        _sig_structure_sign(signed.body_protected, signed.protected, signed.payload),
        signed.signature,
    )
    try:
        new_key.verify(
            _sig_structure_sign(signed.body_protected, cosigner_protected, signed.payload),
            cosignature,
        )
    except VerificationError:
        raise VerificationError("the new key's countersignature does not verify") from None
    return key


def _decode_sign(data: bytes, value: object) -> SignedEndorsement:
    body, payload, signatures = _parts(value, "COSE_Sign")
    if not isinstance(signatures, list | tuple) or len(signatures) != 2:
        raise FormatError("endorsement: a COSE_Sign must carry exactly two signatures")
    header = Fields(codec.decode(body, max_size=1024, what="body header"), "body header")
    _check_content_type(header)
    issuer, subject = _claims(header)
    header.finish()
    signers = [_signer(item, number) for number, item in enumerate(signatures, 1)]
    endorsement = decode_payload(payload)
    if endorsement.action is not Action.ROTATE:
        raise FormatError("endorsement: only a rotation is a COSE_Sign")
    (kid, protected, signature), cosigner = signers
    return SignedEndorsement(
        endorsement=endorsement,
        cose=data,
        key_id=kid,
        issuer=issuer,
        subject=subject,
        protected=protected,
        payload=payload,
        signature=signature,
        body_protected=body,
        cosigner=cosigner,
    )


def _signer(item: object, number: int) -> tuple[bytes, bytes, bytes]:
    what = f"signature {number}"
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise FormatError(f"endorsement: {what} must be an array of 3 items")
    protected, unprotected, signature = item
    if not isinstance(protected, bytes) or not protected:
        raise FormatError(f"endorsement: {what} needs a protected header")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise FormatError(f"endorsement: {what}'s unprotected header must be empty")
    if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
        raise FormatError(f"endorsement: {what} must be 64 bytes")
    header = Fields(codec.decode(protected, max_size=256, what=f"{what} header"), f"{what} header")
    _check_alg(header)
    kid = header.bytes_(_HEADER_KID, "kid", HASH_SIZE)
    header.finish()
    return kid, protected, signature


def _parts(value: object, what: str) -> tuple[bytes, bytes, object]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise FormatError(f"endorsement: {what} must be an array of 4 items")
    protected, unprotected, payload, last = value
    if not isinstance(protected, bytes) or not protected:
        raise FormatError("endorsement: protected header must be a non-empty byte string")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise FormatError("endorsement: the unprotected header must be empty")
    if not isinstance(payload, bytes):
        raise FormatError("endorsement: payload must be attached as a byte string")
    return protected, payload, last


def _check_alg(header: Fields) -> None:
    alg = header.any(_HEADER_ALG, "alg")
    if alg != ALG_EDDSA:
        raise FormatError(f"protected header: alg must be EdDSA (-8), got {alg!r}")


def _check_content_type(header: Fields) -> None:
    if header.any(_HEADER_CONTENT_TYPE, "content type") != CONTENT_TYPE:
        raise FormatError(f"protected header: content type must be {CONTENT_TYPE}")


def _claims(header: Fields) -> tuple[str, str]:
    claims = Fields(header.any(_HEADER_CWT, "CWT claims"), "CWT claims")
    issuer = claims.text(_CWT_ISS, "iss", max_len=300)
    subject = claims.text(_CWT_SUB, "sub", max_len=100)
    claims.finish()
    return issuer, subject


def payload_key(raw: bytes) -> VerifyingKey:
    """The verifying key a payload names, named by the first 16 hex digits of its bytes.

    Raises:
        FormatError: not a valid Ed25519 public key (see ``ledger.keys``).
    """
    # Keys repeat (an organisation's withdrawal, rotation and revocation use its key again),
    # and VerifyingKey is immutable, so recent ones are shared.
    key = _recent_keys.get(raw)
    if key is None:
        key = VerifyingKey.from_raw(raw.hex()[:16], raw)
        if len(_recent_keys) >= _RECENT_KEYS:
            _recent_keys.clear()  # bounded memory; a ledger's nearby entries refill it
        _recent_keys[raw] = key
    return key


_RECENT_KEYS: Final = 4096
_recent_keys: dict[bytes, VerifyingKey] = {}


def _sig_structure_sign1(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4: Sig_structure for COSE_Sign1, external_aad empty.
    return codec.encode_strings(["Signature1", protected, b"", payload])


def _sig_structure_sign(body: bytes, protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4: Sig_structure for one signature of a COSE_Sign, external_aad empty.
    return codec.encode_strings(["Signature", body, protected, b"", payload])


def endorse(
    key: SigningKey,
    statement_hash: bytes,
    *,
    name: str,
    signed_at: int,
    domain: str | None = None,
    url: str | None = None,
    country: str | None = None,
) -> bytes:
    """Make an organisation's endorsement of a statement: the org-side recipe.

    Args:
        key: the organisation's signing key.
        statement_hash: SHA-256 of the canonical statement text (see ``ledger.statement``).
        name: the organisation's display name.
        signed_at: the signing time, seconds since the epoch.
        domain: its DNS domain, for key binding; url: its website; country: ISO 3166-1 code.

    Returns:
        The COSE_Sign1 bytes to send to the campaign.

    Raises:
        FormatError: a field breaks the payload rules.
    """
    endorsement = Endorsement(
        action=Action.ENDORSE,
        statement_hash=statement_hash,
        name=name,
        public_key=key.public.raw,
        signed_at=signed_at,
        domain=domain,
        url=url,
        country=country,
    )
    return sign_endorsement(endorsement, key)


def _signed_endorsement(
    data: bytes,
    parts: tuple[bytes, bytes, bytes],
    *,
    key_id: bytes,
    issuer: str,
    subject: str,
) -> SignedEndorsement:
    """The decoded COSE_Sign1 (protected, payload, signature) with its payload decoded."""
    protected, payload, signature = parts
    endorsement = decode_payload(payload)
    if endorsement.action is Action.ROTATE:
        raise FormatError("endorsement: a rotation must be a COSE_Sign with two signatures")
    return SignedEndorsement(
        endorsement=endorsement,
        cose=data,
        key_id=key_id,
        issuer=issuer,
        subject=subject,
        protected=protected,
        payload=payload,
        signature=signature,
    )
