"""keys.json: key texts, key ids, verifier keys and the Ed25519 rule (docs/format.md section 4).

The encrypted secret key is built here with fixed salt and nonce (the library draws them at
random), straight from the format: scrypt, then ChaCha20-Poly1305 with the text prefix as
associated data; the library must decrypt it.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from gen_common import (
    ED25519_D,
    ED25519_L,
    ED25519_P,
    KEY_NAMES,
    KEY_SEED_PREFIX,
    NOTE_ED25519,
    ORIGIN,
    Json,
    agree,
    b64,
    expect_error,
    fingerprint,
    is_curve_y,
    key_id,
    key_seed,
    note_key_id,
    provenance,
    public,
    public_text,
    sha256,
    signing_key,
    verifier_key,
)

from ledger.keys import SigningKey, VerifyingKey

PASSPHRASE = b"test vector passphrase"
MESSAGE = b"endorsement-ledger test vector message"
BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ORDER_8_POINT = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


class Bad(NamedTuple):
    name: str
    description: str
    text: str
    error_contains: str

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "description": self.description,
            "text": self.text,
            "error": "FormatError",
            "error_contains": self.error_contains,
        }


def _sqrt(value: int) -> int | None:
    """A square root modulo p (p = 5 mod 8), or None."""
    value %= ED25519_P
    root = pow(value, (ED25519_P + 3) // 8, ED25519_P)
    if root * root % ED25519_P != value:
        root = root * pow(2, (ED25519_P - 1) // 4, ED25519_P) % ED25519_P
    return root if root * root % ED25519_P == value else None


def small_order_encodings() -> list[bytes]:
    """The encodings of the 8 points of order dividing 8, derived from the curve equation.

    Order 1 and 2: x = 0, y = 1 and y = -1. Order 4: y = 0, x = +-sqrt(-1). Order 8: doubling
    gives y = 0 exactly when y^2 = -x^2; with the curve equation, d x^4 - 2 x^2 - 1 = 0, so
    x^2 = (1 +- sqrt(1 + d)) / d. In RFC 8032 §5.1.2 encoding order: order 1, 2, 4, 8.
    """
    p, d = ED25519_P, ED25519_D

    def encode(x: int, y: int) -> bytes:
        return (y | (x & 1) << 255).to_bytes(32, "little")

    i = _sqrt(-1)
    assert i is not None
    points = [(0, 1), (0, p - 1), (i, 0), (p - i, 0)]
    root = _sqrt(1 + d)
    assert root is not None
    for s in (root, p - root):
        x = _sqrt((1 + s) * pow(d, -1, p))
        y = _sqrt(-(1 + s) * pow(d, -1, p))
        if x is not None and y is not None:
            points += [(x, y), (p - x, y), (x, p - y), (p - x, p - y)]
    agree(len(points) == 8, "8 small-order points")
    return [encode(x, y) for x, y in points]


def encrypted_secret_text(label: str, passphrase: bytes, log2n: int) -> str:
    """The ledger-sec1-scrypt form of a test key, with salt and nonce derived from its label."""
    salt = sha256(f"salt for {label}".encode())[:16]
    nonce = sha256(f"nonce for {label}".encode())[:12]
    header = f"ledger-sec1-scrypt:{KEY_NAMES[label]}:"
    key = Scrypt(salt=salt, length=32, n=2**log2n, r=8, p=1).derive(passphrase)
    sealed = ChaCha20Poly1305(key).encrypt(nonce, key_seed(label), header.encode("utf-8"))
    return header + b64(salt + bytes([log2n]) + nonce + sealed)


def _key(label: str) -> Json:
    name, secret = KEY_NAMES[label], signing_key(label)
    pk = secret.public.raw
    agree(secret.public.to_text() == public_text(name, pk), f"{label}: public text")
    agree(secret.to_text() == f"ledger-sec1:{name}:{b64(key_seed(label))}", f"{label}: secret")
    agree(secret.public.key_id == key_id(pk), f"{label}: key id")
    agree(secret.public.fingerprint == fingerprint(pk), f"{label}: fingerprint")
    agree(secret.public.to_verifier_key() == verifier_key(name, pk), f"{label}: verifier key")
    return {
        "label": label,
        "seed_input": KEY_SEED_PREFIX + label,
        "seed_hex": key_seed(label).hex(),
        "name": name,
        "public_key_hex": pk.hex(),
        "public_text": public_text(name, pk),
        "secret_text": secret.to_text(),
        "key_id_hex": key_id(pk).hex(),
        "fingerprint": fingerprint(pk),
        "note_key_id_hex": note_key_id(name, pk).hex(),
        "verifier_key": verifier_key(name, pk),
    }


def _encrypted() -> Json:
    text = encrypted_secret_text("org-a", PASSPHRASE, 10)
    agree(SigningKey.from_text(text, PASSPHRASE) == signing_key("org-a"), "encrypted key")
    low_cost = encrypted_secret_text("org-a", PASSPHRASE, 9)
    invalid = [
        ("wrong-passphrase", "another passphrase", b"wrong", text, "VerificationError",
         "wrong passphrase"),
        ("log2n-9", "scrypt cost below the accepted 10..20", PASSPHRASE, low_cost, "FormatError",
         "log2(N) = 9"),
    ]  # fmt: skip
    cases = []
    for name, description, passphrase, encrypted, error, contains in invalid:
        expect_error(
            lambda e=encrypted, p=passphrase: SigningKey.from_text(e, p), error, contains, name
        )
        cases.append(
            {
                "name": name,
                "description": description,
                "passphrase_hex": passphrase.hex(),
                "text": encrypted,
                "error": error,
                "error_contains": contains,
            }
        )
    return {
        "label": "org-a",
        "passphrase_hex": PASSPHRASE.hex(),
        "log2n": 10,
        "text": text,
        "invalid": cases,
    }


def _invalid_public_texts() -> list[Json]:
    pk = public("org-a")
    valid = public_text("org-a", pk)
    encoded = b64(pk)
    # The last digit before "=" carries 4 bits of the key and 2 unused bits, which must be 0.
    last = BASE64_ALPHABET.index(encoded[-2])
    non_canonical = encoded[:-2] + BASE64_ALPHABET[last | 1] + "="
    y_is_p = ED25519_P.to_bytes(32, "little")
    x0_sign = bytes.fromhex("01" + "00" * 30 + "80")
    # fmt: off
    cases = [
        Bad("small-order-key", "the identity point (order 1), one of the 8 small-order points",
            public_text("bad", bytes.fromhex("01" + "00" * 31)), "small-order point"),
        Bad("small-order-key-order-8", "a point of order 8",
            public_text("bad", ORDER_8_POINT), "small-order point"),
        Bad("non-canonical-y", "y = p = 2**255 - 19, not reduced",
            public_text("bad", y_is_p), "not canonical (y >= 2**255 - 19)"),
        Bad("non-canonical-x-zero-sign", "y = 1 (so x = 0) with the sign bit set",
            public_text("bad", x0_sign), "x = 0 with the sign bit set"),
        Bad("bad-base64-padding", "the '=' padding removed", valid[:-1], "not valid base64"),
        Bad("base64-extra-padding", "an extra '='", valid + "=", "not valid base64"),
        Bad("non-canonical-base64", "an unused low bit of the last base64 digit set",
            f"ledger-pub1:org-a:{non_canonical}", "not canonical base64"),
        Bad("base64url-alphabet", "'-' and '_' of the URL-safe alphabet",
            "ledger-pub1:org-a:-_" + encoded[2:], "not valid base64"),
        Bad("key-31-bytes", "31 key bytes", public_text("org-a", pk[:31]),
            "must decode to 32 bytes, not 31"),
        Bad("wrong-prefix", "ledger-pub2: instead of ledger-pub1:",
            "ledger-pub2:" + valid.removeprefix("ledger-pub1:"), "must start with 'ledger-pub1:'"),
        Bad("uppercase-prefix", "LEDGER-PUB1:", "LEDGER-PUB1:" + valid.removeprefix("ledger-pub1:"),
            "must start with 'ledger-pub1:'"),
        Bad("secret-key-text", "a secret key given where a public key is expected",
            signing_key("org-a").to_text(), "this is a secret key"),
        Bad("name-with-space", "key name 'org a'", public_text("org a", pk),
            "key name contains whitespace U+0020"),
        Bad("name-with-plus", "key name 'org+a' ('+' separates signed-note fields)",
            public_text("org+a", pk), "key name contains '+'"),
        Bad("name-empty", "an empty key name", public_text("", pk), "key name is empty"),
        Bad("name-129-code-points", "a key name one code point too long",
            public_text("n" * 129, pk), "at most 128"),
        Bad("name-with-bidi-control", "a key name with U+202E", public_text("org\u202ea", pk),
            "U+202E (category Cf"),
        Bad("no-name-separator", "no ':' between name and key", "ledger-pub1:" + encoded,
            "has no ':' between the key name and the key"),
        Bad("trailing-crlf", "a CRLF line end (only one LF may follow)", valid + "\r\n",
            "not valid base64"),
        Bad("two-trailing-lf", "two LF at the end", valid + "\n\n", "not valid base64"),
        Bad("leading-space", "a space before the prefix", " " + valid,
            "must start with 'ledger-pub1:'"),
    ]
    # fmt: on
    for case in cases:
        expect_error(
            lambda t=case.text: VerifyingKey.from_text(t), "FormatError", case.error_contains,
            case.name,
        )  # fmt: skip
    return [case.to_json() for case in cases]


def _invalid_verifier_keys() -> list[Json]:
    pk = public("log")
    material = b64(NOTE_ED25519 + pk)
    key_id_hex = note_key_id(ORIGIN, pk).hex()
    # fmt: off
    cases = [
        Bad("wrong-key-id", "the key id of another name",
            f"{ORIGIN}+{note_key_id('other', pk).hex()}+{material}",
            "does not match the name and key"),
        Bad("uppercase-key-id", "the key id in uppercase hex",
            f"{ORIGIN}+{key_id_hex.upper()}+{material}", "8 lowercase hexadecimal"),
        Bad("algorithm-02", "algorithm byte 0x02 instead of 0x01 (Ed25519)",
            f"{ORIGIN}+{key_id_hex}+{b64(bytes([2]) + pk)}", "0x02 is not supported"),
        Bad("missing-key-id", "only two '+'-separated parts", f"{ORIGIN}+{material}",
            "must have the form"),
        Bad("name-with-space", "a space in the name", verifier_key("vectors example", pk),
            "whitespace U+0020"),
    ]
    # fmt: on
    for case in cases:
        expect_error(
            lambda t=case.text: VerifyingKey.from_verifier_key(t), "FormatError",
            case.error_contains, case.name,
        )  # fmt: skip
    return [case.to_json() for case in cases]


def _small_order() -> list[str]:
    encodings = small_order_encodings()
    for raw in encodings:
        expect_error(
            lambda r=raw: VerifyingKey.from_raw("test", r), "FormatError", "small-order point",
            f"small-order key {raw.hex()}",
        )  # fmt: skip
    return [raw.hex() for raw in encodings]


def _identity_r_signature(label: str, message: bytes) -> bytes:
    """A signature by ``label``'s key whose R is the identity point (nonce r = 0).

    S = k * a mod L with k = SHA-512(R || A || M): the cofactorless equation [S]B = R + [k]A
    holds, so an implementation that checks only the equation accepts it (OpenSSL does);
    libsodium refuses every small-order R, and so does our rule.
    """
    digest = hashlib.sha512(key_seed(label)).digest()
    scalar = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)  # clamped
    r_point = bytes([1]) + bytes(31)
    k = int.from_bytes(hashlib.sha512(r_point + public(label) + message).digest(), "little")
    return r_point + (k % ED25519_L * scalar % ED25519_L).to_bytes(32, "little")


def _signatures() -> Json:
    pk = public("org-a")
    good = signing_key("org-a").sign(MESSAGE)
    s_plus_l = (int.from_bytes(good[32:], "little") + ED25519_L).to_bytes(32, "little")
    not_a_point = next(y for y in range(2, 100) if not is_curve_y(y)).to_bytes(32, "little")
    identity_r = _identity_r_signature("org-a", MESSAGE)
    r_y_is_p_plus_1 = (ED25519_P + 1).to_bytes(32, "little")  # the identity, not reduced
    r_x0_sign = bytes.fromhex("01" + "00" * 30 + "80")
    # fmt: off
    rows = [
        ("valid", "org-a's signature", pk, good, ""),
        ("s-plus-l", "S + L instead of S: rejected before the equation is checked", pk,
         good[:32] + s_plus_l, "S >= L"),
        ("modified-r-bit-@0", "bit 0 of R flipped", pk, bytes([good[0] ^ 1]) + good[1:],
         "does not verify"),
        ("signature-63-bytes", "one byte short", pk, good[:63],
         "signature must be 64 bytes, not 63"),
        ("other-key", "verified with org-b's key", public("org-b"), good, "does not verify"),
        ("key-not-a-curve-point", "a canonical encoding (y = 2) that is not on the curve: "
         "accepted when parsed, never verifies", not_a_point, good, "does not verify"),
        ("small-order-r-identity", "R = the identity point and S = k * a mod L: the "
         "cofactorless equation holds (OpenSSL alone accepts it, libsodium refuses it); "
         "refused before either backend", pk, identity_r, "R is a small-order point"),
        ("small-order-r-order-8", "R = a point of order 8", pk, ORDER_8_POINT + good[32:],
         "R is a small-order point"),
        ("non-canonical-r-y-ge-p", "R encoded with y = p + 1 (the identity, not reduced)", pk,
         r_y_is_p_plus_1 + identity_r[32:], "R encoding is not canonical (y >= 2**255 - 19)"),
        ("non-canonical-r-x-zero-sign", "R = y = 1 (x = 0) with the sign bit set", pk,
         r_x0_sign + good[32:], "R encoding is not canonical (x = 0 with the sign bit set)"),
    ]
    # fmt: on
    cases = []
    for name, description, key_bytes, signature, contains in rows:
        key = VerifyingKey.from_raw("test", key_bytes)
        case: Json = {
            "name": name,
            "description": description,
            "public_key_hex": key_bytes.hex(),
            "signature_hex": signature.hex(),
        }
        if not contains:
            key.verify(MESSAGE, signature)
            case["valid"] = True
        else:
            expect_error(
                lambda k=key, s=signature: k.verify(MESSAGE, s), "VerificationError", contains,
                f"signature {name}",
            )  # fmt: skip
            case |= {"valid": False, "error": "VerificationError", "error_contains": contains}
        cases.append(case)
    return {"message_hex": MESSAGE.hex(), "cases": cases}


def build() -> Json:
    """The file's content."""
    return {
        "description": (
            "Keys: deterministic Ed25519 keys (seed = SHA-256 of seed_input, UTF-8) in every "
            "text form, with the key id (COSE kid), the fingerprint and the C2SP signed-note "
            "verifier key; a passphrase-encrypted secret key with fixed salt and nonce; invalid "
            "public key texts and verifier keys (FormatError); the 8 public keys of small "
            "order, which a parser MUST reject; and cases of the Ed25519 verification rule "
            "over message_hex, which every backend must decide alike. These are public test "
            "keys: never use them for anything else."
        ),
        "provenance": provenance("section 4 (Keys)"),
        "keys": [_key(label) for label in KEY_NAMES],
        "encrypted_secret_key": _encrypted(),
        "invalid_public_texts": _invalid_public_texts(),
        "invalid_verifier_keys": _invalid_verifier_keys(),
        "small_order_public_keys_hex": _small_order(),
        "signatures": _signatures(),
    }
