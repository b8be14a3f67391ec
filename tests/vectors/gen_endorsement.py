"""endorsement.json: COSE_Sign1 endorsements, step by step, and named mutations (section 5).

Each negative vector is a mutation of the all-fields endorsement. A mutation inside the signed
bytes (protected header or payload) is re-signed with org-a's key, so that the signature is
valid and the vector breaks only the rule it is named after.
"""

from __future__ import annotations

from typing import NamedTuple

import cbor2
import gen_cbor as cbor
from gen_cbor import Pairs
from gen_common import (
    CONTENT_TYPE,
    ED25519_L,
    ENDORSEMENTS,
    GENESIS_TIME,
    OTHER_STATEMENT_HASH,
    STATEMENT_HASH,
    STATEMENT_TEXT,
    Json,
    agree,
    claims,
    cose_sign1,
    display_hash,
    endorsement,
    endorsement_claim,
    expect_error,
    fields_json,
    key_id,
    ni_uri,
    payload_pairs,
    protected_pairs,
    provenance,
    public,
    sig_structure,
    sign1,
)

from ledger import cose

FORMAT, VERIFICATION = "FormatError", "VerificationError"


class Bad(NamedTuple):
    name: str
    description: str
    data: bytes
    error: str
    error_contains: str


def _flip(data: bytes, offset: int, mask: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def _decode_and_verify(data: bytes) -> None:
    cose.verify_endorsement(cose.decode_endorsement(data))


def _negatives() -> list[Bad]:
    protected, payload, valid = endorsement("all-fields")
    _, fields, _ = ENDORSEMENTS["all-fields"]
    body = payload_pairs("org-a", **fields)
    header = protected_pairs("org-a", iss="org-a.example")
    signature = valid[-64:]
    at_signature = len(valid) - 64
    at_payload = valid.index(payload)
    at_name = payload.index(b"Organisation A")
    array_part = valid[1:]  # the COSE_Sign1 array without its tag byte 0xd2
    s_plus_l = (int.from_bytes(signature[32:], "little") + ED25519_L).to_bytes(32, "little")
    small_order = bytes(32)  # y = 0: a point of order 4

    def with_payload(pairs: Pairs | bytes) -> bytes:
        return sign1(
            "org-a", protected, pairs if isinstance(pairs, bytes) else cbor.cbor_map(pairs)
        )

    def with_header(pairs: Pairs) -> bytes:
        return sign1("org-a", cbor.cbor_map(pairs), payload)

    def with_claims(iss: str, digest: bytes, extra: Pairs | None = None) -> bytes:
        return with_header(cbor.replaced(header, 15, claims(iss, ni_uri(digest), extra)))

    def unsigned(*items: bytes) -> bytes:
        return cbor.tag(18, cbor.array(items))

    kid_b = cbor.byte_string(key_id(public("org-b")))
    kid_short = cbor.byte_string(key_id(public("org-a"))[:16])
    iat = [(6, cbor.integer(GENESIS_TIME))]
    # fmt: off
    return [
        Bad("modified-signature-bit-@0", "bit 0 of the first signature byte (in R) flipped",
            _flip(valid, at_signature, 0x01), VERIFICATION, "signature does not verify"),
        Bad("modified-signature-s-plus-l", "S replaced by S + L: the same equation holds, but "
            "S is not reduced (RFC 8032 §5.1.7)", valid[:-32] + s_plus_l, VERIFICATION, "S >= L"),
        Bad(f"modified-payload-byte-@{at_name}", "the first letter of the name changed from "
            f"'O' to 'o' after signing (COSE byte {at_payload + at_name})",
            _flip(valid, at_payload + at_name, 0x20), VERIFICATION, "signature does not verify"),
        Bad("signed-by-other-key", "payload and kid name org-a's key, but org-b signed",
            sign1("org-b", protected, payload), VERIFICATION, "signature does not verify"),
        Bad("kid-of-other-key", "the kid is org-b's key id (re-signed by org-a)",
            with_header(cbor.replaced(header, 4, kid_b)), VERIFICATION,
            "kid in the protected header is not the payload's key"),
        Bad("iss-other-domain", "the CWT iss is not the payload's domain (re-signed)",
            with_claims("org-b.example", STATEMENT_HASH), VERIFICATION,
            "does not match the payload"),
        Bad("sub-other-statement", "the CWT sub names another statement hash (re-signed)",
            with_claims("org-a.example", OTHER_STATEMENT_HASH), VERIFICATION,
            "sub does not match"),
        Bad("payload-public-key-small-order", "the payload's key is a small-order point, the "
            "kid matching it (re-signed by org-a)",
            sign1("org-a", cbor.cbor_map(cbor.replaced(header, 4, cbor.byte_string(
                key_id(small_order)))), cbor.cbor_map(cbor.replaced(body, 4, cbor.byte_string(
                    small_order)))), FORMAT, "small-order point"),
        Bad("trailing-garbage", "one 0x00 byte after the COSE_Sign1 object", valid + b"\x00",
            FORMAT, "trailing bytes"),
        Bad("truncated", "the last byte removed", valid[:-1], FORMAT, "not valid CBOR"),
        Bad("empty", "no bytes at all", b"", FORMAT, "empty input"),
        Bad("untagged", "the COSE_Sign1 array without tag 18", array_part, FORMAT,
            "not a tagged COSE_Sign1 object (tag 18)"),
        Bad("tag-98-cose-sign", "tag 98 (COSE_Sign, the envelope of a rotation) instead of 18: "
            "the array's last item is a signature, not the array of two signatures a COSE_Sign "
            "carries", cbor.tag(98, array_part), FORMAT,
            "a COSE_Sign must carry exactly two signatures"),
        Bad("tag-18-long-form", "tag 18 written as 0xd8 0x12", b"\xd8\x12" + array_part,
            FORMAT, "not deterministic CBOR"),
        Bad("array-of-3", "the signature item removed",
            unsigned(cbor.byte_string(protected), b"\xa0", cbor.byte_string(payload)),
            FORMAT, "array of 4 items"),
        Bad("indefinite-length-array", "the COSE_Sign1 array with indefinite length",
            b"\xd2\x9f" + array_part[1:] + b"\xff", FORMAT, "not valid CBOR"),
        Bad("unprotected-header-not-empty", "the kid repeated in the unprotected header",
            cose_sign1(protected, payload, signature, unprotected=cbor.cbor_map(
                [(4, cbor.byte_string(key_id(public("org-a"))))])),
            FORMAT, "the unprotected header must be empty"),
        Bad("protected-header-as-map", "the protected header as a map, not a byte string",
            unsigned(protected, b"\xa0", cbor.byte_string(payload), cbor.byte_string(signature)),
            FORMAT, "protected header must be a non-empty byte string"),
        Bad("payload-detached", "the payload nil (detached content is not allowed)",
            unsigned(cbor.byte_string(protected), b"\xa0", b"\xf6", cbor.byte_string(signature)),
            FORMAT, "simple value None is not allowed"),
        Bad("signature-63-bytes", "the last signature byte removed",
            cose_sign1(protected, payload, signature[:-1]), FORMAT, "signature must be 64 bytes"),
        Bad("alg-es256", "alg -7 (ES256) in the protected header (re-signed with Ed25519)",
            with_header(cbor.replaced(header, 1, cbor.integer(-7))), FORMAT,
            "alg must be EdDSA (-8), got -7"),
        Bad("alg-ed25519-fully-specified", "alg -19 (Ed25519, RFC 9864), not accepted in "
            "version 1 (re-signed)", with_header(cbor.replaced(header, 1, cbor.integer(-19))),
            FORMAT, "alg must be EdDSA (-8), got -19"),
        Bad("alg-missing", "no alg in the protected header (re-signed)",
            with_header(cbor.removed(header, 1)), FORMAT, "missing field alg (key 1)"),
        Bad("content-type-other", "content type application/cbor (re-signed)",
            with_header(cbor.replaced(header, 3, cbor.text("application/cbor"))), FORMAT,
            "content type must be"),
        Bad("kid-16-bytes", "a 16-byte kid (re-signed)",
            with_header(cbor.replaced(header, 4, kid_short)), FORMAT,
            "kid must be 32 bytes, got 16"),
        Bad("protected-crit-present", "crit (2) in the protected header (re-signed)",
            with_header(cbor.added(header, 2, cbor.array([cbor.integer(15)]))), FORMAT,
            "unknown field key(s) [2]"),
        Bad("cwt-claims-iat-present", "the CWT claims with iat (6) (re-signed)",
            with_claims("org-a.example", STATEMENT_HASH, iat), FORMAT,
            "CWT claims: unknown field key(s) [6]"),
        Bad("protected-keys-out-of-order", "protected header keys 1 and 3 swapped (re-signed)",
            with_header([header[1], header[0], *header[2:]]), FORMAT,
            "map keys out of order (1 after 3)"),
        Bad("payload-unknown-field", "payload key 15 added (keys 9 to 14 are the lifecycle "
            "fields; re-signed)", with_payload(cbor.added(body, 15, cbor.text("x"))), FORMAT,
            "unknown field key(s) [15]"),
        Bad("payload-long-form-int", "signed-at written with an 8-byte argument (re-signed)",
            with_payload(cbor.replaced(body, 5, cbor.integer(fields["signed_at"], size=8))),
            FORMAT, "not deterministic CBOR"),
        Bad("payload-duplicate-key", "payload key 3 (name) twice (re-signed)",
            with_payload([*body[:4], body[3], *body[4:]]), FORMAT, "not valid CBOR"),
        Bad("payload-keys-out-of-order", "payload keys 3 and 4 swapped (re-signed)",
            with_payload([*body[:3], body[4], body[3], *body[5:]]), FORMAT,
            "map keys out of order (3 after 4)"),
        Bad("payload-indefinite-length", "the payload map with indefinite length (re-signed)",
            with_payload(cbor.indefinite_map(body)), FORMAT, "not valid CBOR"),
        Bad("payload-version-2", "payload version 2 (re-signed)",
            with_payload(cbor.replaced(body, 0, cbor.integer(2))), FORMAT,
            "unsupported version 2"),
        Bad("payload-action-6", "action 6, not defined (re-signed)",
            with_payload(cbor.replaced(body, 1, cbor.integer(6))), FORMAT, "unknown action 6"),
        Bad("payload-float-time", "signed-at as a 64-bit float (re-signed)",
            with_payload(cbor.replaced(body, 5, cbor.float64(fields["signed_at"]))), FORMAT,
            "float is not allowed"),
        Bad("payload-negative-time", "signed-at -1 (re-signed)",
            with_payload(cbor.replaced(body, 5, cbor.integer(-1))), FORMAT,
            "signed-at time must be an unsigned integer"),
        Bad("payload-statement-hash-31-bytes", "a statement hash of 31 bytes (re-signed)",
            with_payload(cbor.replaced(body, 2, cbor.byte_string(STATEMENT_HASH[:31]))),
            FORMAT, "statement hash must be 32 bytes, got 31"),
        Bad("payload-name-bidi-override", "a name containing U+202E (re-signed)",
            with_payload(cbor.replaced(body, 3, cbor.text("Organisation \u202eA"))), FORMAT,
            "U+202E"),
        Bad("payload-name-not-nfc", "a name with a decomposed e-acute (re-signed)",
            with_payload(cbor.replaced(body, 3, cbor.text("Organisation e\u0301"))), FORMAT,
            "not in Unicode NFC form"),
        Bad("payload-name-zero-width-space", "a name with U+200B ZERO WIDTH SPACE, which "
            "would look like another name (re-signed)",
            with_payload(cbor.replaced(body, 3, cbor.text("Organi\u200bsation A"))), FORMAT,
            "U+200B"),
        Bad("payload-empty-name", "an empty name (re-signed)",
            with_payload(cbor.replaced(body, 3, cbor.text(""))), FORMAT, "name is empty"),
        Bad("payload-country-lowercase", "country 'be' (re-signed)",
            with_payload(cbor.replaced(body, 8, cbor.text("be"))), FORMAT,
            "not a two-letter ISO 3166-1 code"),
        Bad("payload-domain-uppercase", "domain ORG-A.example, iss matching (re-signed)",
            sign1("org-a", cbor.cbor_map(protected_pairs("org-a", iss="ORG-A.example")),
                  cbor.cbor_map(cbor.replaced(body, 6, cbor.text("ORG-A.example")))),
            FORMAT, "is not a lowercase DNS name"),
        Bad("payload-url-without-host", "url https:/// (re-signed)",
            with_payload(cbor.replaced(body, 7, cbor.text("https:///"))), FORMAT,
            "must be an absolute http:// or https:// URL"),
        Bad("payload-url-not-http", "url ftp://org-a.example/ (re-signed)",
            with_payload(cbor.replaced(body, 7, cbor.text("ftp://org-a.example/"))), FORMAT,
            "must be an absolute http:// or https:// URL"),
    ]
    # fmt: on


def _valid(name: str) -> Json:
    signer, _, description = ENDORSEMENTS[name]
    protected, payload, data = endorsement(name)
    signed = cose.decode_endorsement(data)
    claim = endorsement_claim(name)
    agree(signed.endorsement == claim, f"{name}: the library decodes other fields")
    agree(cose.verify_endorsement(signed).raw == public(signer), f"{name}: another key")
    return {
        "name": name,
        "description": description,
        "signer": signer,
        "fields": fields_json(claim),
        "kid_hex": key_id(public(signer)).hex(),
        "iss": signed.issuer,
        "sub": signed.subject,
        "payload_hex": payload.hex(),
        "payload_diagnostic": cbor.diagnostic(cbor2.loads(payload), ""),
        "protected_header_hex": protected.hex(),
        "protected_header_diagnostic": cbor.diagnostic(cbor2.loads(protected), ""),
        "sig_structure_hex": sig_structure(protected, payload).hex(),
        "signature_hex": data[-64:].hex(),
        "cose_sign1_hex": data.hex(),
    }


def _invalid(case: Bad) -> Json:
    expect_error(
        lambda: _decode_and_verify(case.data), case.error, case.error_contains,
        f"endorsement {case.name}",
    )  # fmt: skip
    if case.error == VERIFICATION:  # well-formed: decoding succeeds, verification fails
        cose.decode_endorsement(case.data)
    return {
        "name": case.name,
        "description": case.description,
        "cose_sign1_hex": case.data.hex(),
        "error": case.error,
        "error_contains": case.error_contains,
    }


def build() -> Json:
    """The file's content."""
    return {
        "description": (
            "Endorsements: COSE_Sign1 objects (RFC 9052 §4.2, tag 18) signed with EdDSA over "
            "Ed25519 by keys of keys.json. 'valid' gives each step from the payload fields "
            "(null: absent) to the COSE bytes. 'invalid' lists named mutations of the "
            "all-fields vector: decoding, then verifying, each MUST fail with the error class; "
            "with VerificationError, decoding alone succeeds."
        ),
        "provenance": provenance("section 5 (Endorsements)"),
        "statement_text": STATEMENT_TEXT,
        "statement_hash": display_hash(STATEMENT_HASH),
        "content_type": CONTENT_TYPE,
        "valid": [_valid(name) for name in ENDORSEMENTS],
        "invalid": [_invalid(case) for case in _negatives()],
    }
