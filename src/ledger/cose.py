"""Endorsements as COSE_Sign1 (RFC 9052 §4.2), tagged 18, signed with EdDSA over Ed25519.

Wire form (CDDL, all CBOR deterministic)::

    endorsement = #6.18([ protected: bstr .cbor protected-header, unprotected: {},
                          payload: bstr .cbor payload, signature: bstr .size 64 ])
    protected-header = { 1: -8,                    ; alg: EdDSA
                         3: CONTENT_TYPE,           ; content type of the payload
                         4: bstr .size 32,          ; kid: key id of the signing key
                         15: { 1: tstr, 2: tstr } } ; CWT claims (RFC 9597): iss, sub
    payload = { 0: 1, 1: action, 2: bstr .size 32 (statement hash), 3: tstr (name),
                4: bstr .size 32 (public key), 5: uint (signed at), ? 6: tstr (domain),
                ? 7: tstr (url), ? 8: tstr (country) }

The signature is over the RFC 9052 §4.4 ``Sig_structure`` ``["Signature1", protected, h'',
payload]`` with empty external AAD, so any COSE library verifies it given only the public key.
``iss`` is the organisation's domain when it gave one, else ``ledger-key:<fingerprint>``; ``sub``
is the statement hash as an RFC 6920 named-information URI, following the SCITT signed-statement
profile. The content type separates our signatures from every other use of the same key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Final

import cbor2

from ledger import codec
from ledger.codec import Fields
from ledger.errors import FormatError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import (
    HASH_SIZE,
    MAX_TIME,
    PUBLIC_KEY_SIZE,
    Action,
    Endorsement,
    SignedEndorsement,
)
from ledger.names import check_country, check_display_text, check_domain, check_url

CONTENT_TYPE: Final = "application/vnd.endorsement-ledger.endorsement+cbor"
PAYLOAD_VERSION: Final = 1
MAX_ENDORSEMENT_BYTES: Final = 16_384
MAX_NAME_LENGTH: Final = 256
ALG_EDDSA: Final = -8
_HEADER_ALG, _HEADER_CONTENT_TYPE, _HEADER_KID, _HEADER_CWT = 1, 3, 4, 15
_CWT_ISS, _CWT_SUB = 1, 2
_SIGNATURE_SIZE: Final = 64


def statement_uri(statement_hash: bytes) -> str:
    """The statement hash as an RFC 6920 ``ni`` URI (``ni:///sha-256;<base64url>``)."""
    digest = base64.urlsafe_b64encode(statement_hash).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"


def issuer_for(endorsement: Endorsement, key: VerifyingKey) -> str:
    """The CWT ``iss`` we write: the organisation's domain, else its key fingerprint."""
    return endorsement.domain or f"ledger-key:{key.fingerprint}"


def encode_payload(endorsement: Endorsement) -> bytes:
    """Encode an endorsement payload deterministically (the bytes that are signed)."""
    _check_payload(endorsement)
    fields: dict[int, object] = {
        0: PAYLOAD_VERSION,
        1: int(endorsement.action),
        2: endorsement.statement_hash,
        3: endorsement.name,
        4: endorsement.public_key,
        5: endorsement.signed_at,
    }
    for key, value in ((6, endorsement.domain), (7, endorsement.url), (8, endorsement.country)):
        if value is not None:
            fields[key] = value
    data = codec.encode(fields)
    # One encoding per payload, both ways: never sign what decode_payload would refuse.
    if decode_payload(data) != endorsement:
        raise FormatError("payload: does not survive a decode round trip")
    return data


def decode_payload(data: bytes) -> Endorsement:
    """Decode and check an endorsement payload; raises FormatError."""
    fields = Fields(codec.decode(data, max_size=MAX_ENDORSEMENT_BYTES, what="payload"), "payload")
    version = fields.uint(0, "version")
    if version != PAYLOAD_VERSION:
        raise FormatError(f"payload: unsupported version {version}")
    action = fields.uint(1, "action")
    if action not in Action._value2member_map_:
        raise FormatError(f"payload: unknown action {action}")
    endorsement = Endorsement(
        action=Action(action),
        statement_hash=fields.bytes_(2, "statement hash", HASH_SIZE),
        name=fields.text(3, "name", max_len=MAX_NAME_LENGTH),
        public_key=fields.bytes_(4, "public key", PUBLIC_KEY_SIZE),
        signed_at=fields.time(5, "signed-at time", maximum=MAX_TIME),
        domain=fields.optional_text(6, "domain", max_len=253),
        url=fields.optional_text(7, "url", max_len=2048),
        country=fields.optional_text(8, "country", max_len=2),
    )
    fields.finish()
    try:
        _check_payload(endorsement)
    except FormatError as exc:
        raise FormatError(f"payload: {exc}") from None
    return endorsement


def sign_endorsement(endorsement: Endorsement, key: SigningKey) -> bytes:
    """Sign an endorsement as a tagged COSE_Sign1 object.

    Args:
        endorsement: the claim; its ``public_key`` must be ``key``'s public key.
        key: the organisation's signing key.

    Returns:
        The COSE_Sign1 bytes, to be stored and hashed exactly as returned.

    Raises:
        FormatError: a field breaks the payload rules (name with controls, bad domain...).
        UsageError: never; a key mismatch is a programming error reported as FormatError.
    """
    public = key.public
    if endorsement.public_key != public.raw:
        raise FormatError("endorsement names a different public key than the signing key")
    payload = encode_payload(endorsement)
    protected = codec.encode(
        {
            _HEADER_ALG: ALG_EDDSA,
            _HEADER_CONTENT_TYPE: CONTENT_TYPE,
            _HEADER_KID: public.key_id,
            _HEADER_CWT: {
                _CWT_ISS: issuer_for(endorsement, public),
                _CWT_SUB: statement_uri(endorsement.statement_hash),
            },
        }
    )
    signature = key.sign(_sig_structure(protected, payload))
    return codec.encode(cbor2.CBORTag(codec.COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def decode_endorsement(data: bytes) -> SignedEndorsement:
    """Decode a COSE_Sign1 endorsement strictly, without verifying its signature.

    Raises:
        FormatError: not a tagged COSE_Sign1 of the profile above, or any field is malformed.
    """
    protected, payload, signature = _split(data)
    header = Fields(
        codec.decode(protected, max_size=1024, what="protected header"), "protected header"
    )
    alg = header.any(_HEADER_ALG, "alg")
    if alg != ALG_EDDSA:
        raise FormatError(f"protected header: alg must be EdDSA (-8), got {alg!r}")
    if header.any(_HEADER_CONTENT_TYPE, "content type") != CONTENT_TYPE:
        raise FormatError(f"protected header: content type must be {CONTENT_TYPE}")
    key_id = header.bytes_(_HEADER_KID, "kid", HASH_SIZE)
    claims = Fields(header.any(_HEADER_CWT, "CWT claims"), "CWT claims")
    issuer = claims.text(_CWT_ISS, "iss", max_len=300)
    subject = claims.text(_CWT_SUB, "sub", max_len=100)
    claims.finish()
    header.finish()
    endorsement = decode_payload(payload)
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


def verify_endorsement(signed: SignedEndorsement) -> VerifyingKey:
    """Verify an endorsement's signature and the bindings of its header to its payload.

    Checks, in order: the key id is that of the payload's public key (before any crypto, so a
    wrong key is named as such), ``iss`` and ``sub`` match the payload, then the signature.

    Returns:
        The verifying key (named by its fingerprint).

    Raises:
        FormatError: the payload's public key is not a valid Ed25519 key.
        VerificationError: a binding or the signature does not verify.
    """
    endorsement = signed.endorsement
    key = VerifyingKey.from_raw(
        f"key:{_fingerprint_name(endorsement.public_key)}", endorsement.public_key
    )
    if signed.key_id != key.key_id:
        raise VerificationError("kid in the protected header is not the payload's key")
    if signed.issuer != issuer_for(endorsement, key):
        raise VerificationError(f"iss {signed.issuer!r} does not match the payload")
    if signed.subject != statement_uri(endorsement.statement_hash):
        raise VerificationError("sub does not match the payload's statement hash")
    key.verify(_sig_structure(signed.protected, signed.payload), signed.signature)
    return key


def _fingerprint_name(public_key: bytes) -> str:
    # A key name is required by VerifyingKey; the key id prefix makes a stable one.
    return public_key.hex()[:16]


def _split(data: bytes) -> tuple[bytes, bytes, bytes]:
    value = codec.decode(data, max_size=MAX_ENDORSEMENT_BYTES, what="endorsement")
    if not isinstance(value, cbor2.CBORTag) or value.tag != codec.COSE_SIGN1_TAG:
        raise FormatError("endorsement: not a tagged COSE_Sign1 object (tag 18)")
    parts = value.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise FormatError("endorsement: COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = parts
    if not isinstance(protected, bytes) or not protected:
        raise FormatError("endorsement: protected header must be a non-empty byte string")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise FormatError("endorsement: the unprotected header must be empty")
    if not isinstance(payload, bytes):
        raise FormatError("endorsement: payload must be attached as a byte string")
    if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
        raise FormatError("endorsement: signature must be 64 bytes")
    return protected, payload, signature


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4: Sig_structure for COSE_Sign1, external_aad empty.
    return codec.encode(["Signature1", protected, b"", payload])


def _check_payload(endorsement: Endorsement) -> None:
    check_display_text(endorsement.name, "name", max_len=MAX_NAME_LENGTH)
    if endorsement.domain is not None:
        check_domain(endorsement.domain)
    if endorsement.url is not None:
        check_url(endorsement.url)
    if endorsement.country is not None:
        check_country(endorsement.country)
    if len(endorsement.statement_hash) != HASH_SIZE:
        raise FormatError("payload: statement hash must be 32 bytes")
    if len(endorsement.public_key) != PUBLIC_KEY_SIZE:
        raise FormatError("payload: public key must be 32 bytes")


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
