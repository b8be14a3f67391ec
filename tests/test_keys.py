"""Tests for Ed25519 keys, their text forms and the verification rule (ledger.keys)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
from ledger import keys
from ledger.errors import FormatError, UsageError, VerificationError
from ledger.keys import (
    DEFAULT_LOG2N,
    ENCRYPTED_PREFIX,
    PUBLIC_PREFIX,
    SECRET_PREFIX,
    SigningKey,
    VerifyingKey,
    is_encrypted_secret_text,
    parse_any_key_text,
    validate_key_name,
)

# --- Independent curve math (the test's own, not the module's) ---------------------------------
# Ed25519 is the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 over GF(p), p = 2^255 - 19,
# d = -121665/121666. Its group has order 8 * L; the base point B generates the subgroup of
# prime order L.

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
L = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1)

Point = tuple[int, int]


def sqrt_mod_p(a: int) -> int | None:
    """A square root mod p (p = 5 mod 8): candidate a^((p+3)/8), fixed up by sqrt(-1)."""
    a %= P
    root = pow(a, (P + 3) // 8, P)
    if root * root % P == a:
        return root
    root = root * SQRT_M1 % P
    if root * root % P == a:
        return root
    return None


def on_curve(point: Point) -> bool:
    x, y = point
    return (-x * x + y * y - 1 - D * x * x * y * y) % P == 0


def add(p1: Point, p2: Point) -> Point:
    """The complete affine addition law for a = -1 (d is not a square, so no exceptions)."""
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def mul(k: int, point: Point) -> Point:
    result = IDENTITY
    while k:
        if k & 1:
            result = add(result, point)
        point = add(point, point)
        k >>= 1
    return result


def encode(point: Point) -> bytes:
    x, y = point
    return (y | (x & 1) << 255).to_bytes(32, "little")


def decode(data: bytes) -> Point:
    """Lenient decoding: y is reduced mod p and x = sqrt((y^2 - 1) / (d y^2 + 1))."""
    value = int.from_bytes(data, "little")
    y = (value & ((1 << 255) - 1)) % P
    x = sqrt_mod_p((y * y - 1) * pow(D * y * y + 1, -1, P))
    assert x is not None, "not a curve point"
    if x & 1 != value >> 255:
        x = (P - x) % P
    return x, y


BASE = decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))  # y = 4/5, x even


def lenient_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """A deliberately lenient Ed25519 check that reduces S mod L instead of rejecting S >= L."""
    r_point, a_point = decode(signature[:32]), decode(public)
    s = int.from_bytes(signature[32:], "little") % L
    digest = hashlib.sha512(signature[:32] + public + message).digest()
    k = int.from_bytes(digest, "little") % L
    return mul(s, BASE) == add(r_point, mul(k, a_point))


def small_order_points() -> list[Point]:
    """The 8 points P with [8]P = identity, derived from the curve equation.

    * order 1 and 2: x = 0 gives y^2 = 1, so (0, 1) (the identity) and (0, -1).
    * order 4: the points whose double is (0, -1). The doubled x is
      2xy / (1 + d x^2 y^2), which is 0 for x != 0 only if y = 0; there the curve
      equation reads -x^2 = 1, so x = +-sqrt(-1).
    * order 8: the points whose double has y' = 0. The doubled y is
      (y^2 + x^2) / (1 - d x^2 y^2), so y^2 = -x^2; the curve equation then becomes
      -2x^2 = 1 - d x^4, i.e. d x^4 - 2 x^2 - 1 = 0, so x^2 = (1 +- sqrt(1 + d)) / d.
      Exactly one of the two roots is a square; each square root x gives y = +-sqrt(-1) x.
    """
    points: list[Point] = [(0, 1), (0, P - 1), (SQRT_M1, 0), (P - SQRT_M1, 0)]
    root = sqrt_mod_p(1 + D)
    assert root is not None
    for x_squared in ((1 + root) * pow(D, -1, P) % P, (1 - root) * pow(D, -1, P) % P):
        x = sqrt_mod_p(x_squared)
        if x is None:
            continue
        for sx in (x, P - x):
            points.extend([(sx, SQRT_M1 * sx % P), (sx, (P - SQRT_M1) * sx % P)])
    return points


def test_curve_helpers_are_sane() -> None:
    assert on_curve(BASE)
    assert mul(L, BASE) == IDENTITY
    # RFC 8032 section 5.1.5: the public key is [clamped SHA-512(seed)[:32]] B.
    seed = bytes(range(32))
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ~7 & ((1 << 254) - 1) | (1 << 254)
    assert SigningKey.from_seed("t", seed).public.raw == encode(mul(a, BASE))


def test_small_order_points_derivation() -> None:
    points = small_order_points()
    assert len(set(points)) == 8
    for point in points:
        assert on_curve(point)
        assert mul(8, point) == IDENTITY
    assert sum(1 for pt in points if mul(4, pt) != IDENTITY) == 4  # four of order exactly 8


# --- Fixtures and helpers ---------------------------------------------------------------------

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
KEY = SigningKey.from_seed("alice.example:2024", SEED)
PUB = KEY.public

# The example key and signed note of the Go golang.org/x/mod/sumdb/note documentation
# (a published test vector of the C2SP signed-note format).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY_MATERIAL = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)

B64_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
SUBSTITUTES = (
    string.printable
    + "\x00\x0b\x0c\x7f\x85\xa0\u00e9\u0130\u200b\u2028\ufeff\uff1a\uff0b\U0001f600"
)

valid_names = st.text(
    alphabet=st.characters(
        exclude_categories=("Cc", "Cf", "Co", "Cn", "Cs", "Zs", "Zl", "Zp"),
        exclude_characters="+",
    ),
    min_size=1,
    max_size=128,
).filter(lambda name: not name.startswith(("ledger-pub", "ledger-sec")))
seeds = st.binary(min_size=32, max_size=32)


@pytest.mark.parametrize("name", ["ledger-pub1:", "ledger-sec1", "ledger-pubx"])
def test_names_that_look_like_key_texts_are_rejected(name: str) -> None:
    # A verifier key for such a name would begin like one of our key texts.
    with pytest.raises(FormatError, match="must not start with"):
        validate_key_name(name)


def note_key_id(name: str, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


def vkey_for(name: str, raw: bytes, alg: int = 1) -> str:
    material = base64.b64encode(bytes([alg]) + raw).decode()
    name_bytes = name.encode("utf-8", "surrogatepass")  # invalid names must still reach the parser
    key_id = hashlib.sha256(name_bytes + b"\n" + bytes([alg]) + raw).digest()[:4]
    return f"{name}+{key_id.hex()}+{material}"


def pub_text(name: str, raw: bytes) -> str:
    return f"{PUBLIC_PREFIX}{name}:{base64.b64encode(raw).decode()}"


def mutations(text: str) -> set[str]:
    """Every single-character deletion and substitution and every proper truncation."""
    out = {text[:i] for i in range(len(text))}
    for i in range(len(text)):
        out.add(text[:i] + text[i + 1 :])
        out.update(text[:i] + c + text[i + 1 :] for c in SUBSTITUTES if c != text[i])
    out.discard(text)
    return out


def check_rejected_or_different(
    parse: Callable[[str], VerifyingKey],
    render: Callable[[VerifyingKey], str],
    original: VerifyingKey,
    text: str,
) -> None:
    for mutated in mutations(text):
        try:
            key = parse(mutated)
        except FormatError:
            continue
        # Accepted: it must be a different key, and the text must be its canonical form.
        assert key != original, repr(mutated)
        assert render(key) == mutated.removesuffix("\n"), repr(mutated)


# --- Key names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "alice", "alice.example:2024", "M\u00fcller_GmbH", "x" * 128, "::"],
)
def test_valid_names(name: str) -> None:
    assert validate_key_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("x" * 129, "129 code points"),
        ("a b", "whitespace U\\+0020"),
        ("a\tb", "whitespace U\\+0009"),
        ("a\n", "whitespace U\\+000A"),
        ("a\u00a0", "whitespace U\\+00A0"),
        ("a\u2028", "whitespace U\\+2028"),
        ("a\u3000", "whitespace U\\+3000"),
        ("a+b", "'\\+'"),
        ("+", "'\\+'"),
        ("a\x00", "U\\+0000 \\(category Cc"),
        ("a\x7f", "U\\+007F \\(category Cc"),
        ("a\x9b", "U\\+009B \\(category Cc"),
        ("a\u200b", "U\\+200B \\(category Cf"),
        ("a\u202e", "U\\+202E \\(category Cf"),
        ("a\ufeff", "U\\+FEFF \\(category Cf"),
        ("a\ue000", "U\\+E000 \\(category Co"),
        ("a\u0378", "U\\+0378 \\(category Cn"),
        ("a\ufffe", "U\\+FFFE \\(category Cn"),
        ("a\ud800", "U\\+D800 \\(category Cs"),
    ],
)
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        validate_key_name(name)
    with pytest.raises(FormatError):
        SigningKey.from_seed(name, SEED)
    with pytest.raises(FormatError):
        VerifyingKey.from_raw(name, PUB.raw)
    with pytest.raises(FormatError):
        VerifyingKey.from_text(pub_text(name, PUB.raw))
    if name:
        with pytest.raises(FormatError):
            VerifyingKey.from_verifier_key(vkey_for(name, PUB.raw))


def test_name_argument_type() -> None:
    with pytest.raises(UsageError):
        validate_key_name(b"alice")  # type: ignore[arg-type]


# --- Round trips ---------------------------------------------------------------------------------


@settings(max_examples=60)
@given(name=valid_names, seed=seeds)
def test_round_trips(name: str, seed: bytes) -> None:
    key = SigningKey.from_seed(name, seed)
    pub = key.public
    assert pub.name == key.name == name
    assert SigningKey.from_text(key.to_text()) == key
    assert SigningKey.from_text(key.to_text() + "\n") == key
    assert VerifyingKey.from_text(pub.to_text()) == pub
    assert VerifyingKey.from_text(pub.to_text() + "\n") == pub
    assert VerifyingKey.from_verifier_key(pub.to_verifier_key()) == pub
    assert VerifyingKey.from_raw(name, pub.raw) == pub
    assert parse_any_key_text(pub.to_text()) == pub
    assert parse_any_key_text(pub.to_verifier_key()) == pub
    assert parse_any_key_text(key.to_text()) == key
    assert "\n" not in pub.to_text() + key.to_text() + pub.to_verifier_key()
    assert len(pub.to_text().rpartition(":")[2]) == 44


@settings(max_examples=5, deadline=None)
@given(name=valid_names, seed=seeds, passphrase=st.binary(min_size=1, max_size=64))
def test_encrypted_round_trip(name: str, seed: bytes, passphrase: bytes) -> None:
    key = SigningKey.from_seed(name, seed)
    text = key.to_encrypted_text(passphrase, log2n=10)
    assert text.startswith(f"{ENCRYPTED_PREFIX}{name}:")
    assert is_encrypted_secret_text(text)
    assert SigningKey.from_text(text, passphrase) == key
    assert SigningKey.from_text(text + "\n", passphrase) == key
    assert parse_any_key_text(text, passphrase) == key


def test_from_seed_is_deterministic_rfc8032_vector() -> None:
    # RFC 8032 section 7.1, TEST 1 (empty message).
    assert PUB.raw.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert KEY.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    again = SigningKey.from_seed(KEY.name, SEED)
    assert again == KEY
    assert again.public == PUB
    assert again.sign(b"msg") == KEY.sign(b"msg")


def test_generate() -> None:
    one, two = SigningKey.generate("k"), SigningKey.generate("k")
    assert one != two
    assert one.public != two.public
    one.public.verify(b"m", one.sign(b"m"))
    with pytest.raises(FormatError):
        SigningKey.generate("bad name")


def test_seed_must_be_32_bytes() -> None:
    for size in (0, 31, 33, 64):
        with pytest.raises(UsageError, match="seed must be 32 bytes"):
            SigningKey.from_seed("k", bytes(size))


# --- Fingerprints and note key ids --------------------------------------------------------------


def test_key_id_and_fingerprint() -> None:
    digest = hashlib.sha256(b"endorsement-ledger/key/v1\x00" + PUB.raw).digest()
    assert PUB.key_id == digest
    plain = base64.b32encode(digest[:10]).decode()
    assert len(plain) == 16
    assert PUB.fingerprint == "-".join([plain[0:4], plain[4:8], plain[8:12], plain[12:16]])
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", PUB.fingerprint)
    # The fingerprint depends on the key only, not the name.
    assert VerifyingKey.from_raw("other", PUB.raw).fingerprint == PUB.fingerprint


def test_note_key_id_and_verifier_key() -> None:
    assert PUB.note_key_id() == note_key_id(PUB.name, PUB.raw)
    assert PUB.to_verifier_key() == vkey_for(PUB.name, PUB.raw)


def test_go_note_vector() -> None:
    key = VerifyingKey.from_verifier_key(GO_VKEY)
    assert key.name == "PeterNeumann"
    assert key.note_key_id().hex() == "c74f20a3"
    assert key.to_verifier_key() == GO_VKEY
    # The documented secret key (C2SP "PRIVATE+KEY+..." form, material = 0x01 || seed).
    material = base64.b64decode(GO_SKEY_MATERIAL)
    assert material[0] == 1
    signer = SigningKey.from_seed("PeterNeumann", material[1:])
    assert signer.public == key
    # The documented note signature: base64(key id || Ed25519 signature of the text).
    blob = base64.b64decode(GO_SIG)
    assert blob[:4] == key.note_key_id()
    key.verify(GO_TEXT, blob[4:])
    assert signer.sign(GO_TEXT) == blob[4:]


# --- Signatures --------------------------------------------------------------------------------


@settings(max_examples=30)
@given(message=st.binary(max_size=200))
def test_sign_verify(message: bytes) -> None:
    signature = KEY.sign(message)
    assert len(signature) == 64
    PUB.verify(message, signature)
    with pytest.raises(VerificationError):
        PUB.verify(message + b"x", signature)


def test_verify_wrong_key_and_message() -> None:
    signature = KEY.sign(b"hello")
    other = SigningKey.from_seed("alice.example:2024", bytes(32)).public
    with pytest.raises(VerificationError, match="does not verify"):
        other.verify(b"hello", signature)
    with pytest.raises(VerificationError, match="does not verify"):
        PUB.verify(b"hellp", signature)
    with pytest.raises(VerificationError):
        PUB.verify(b"", signature)


def test_verify_rejects_every_bit_flip() -> None:
    message = b"every bit counts"
    signature = KEY.sign(message)
    for bit in range(512):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(VerificationError):
            PUB.verify(message, bytes(flipped))


@pytest.mark.parametrize("size", [0, 1, 32, 63, 65, 128])
def test_signature_length(size: int) -> None:
    signature = (KEY.sign(b"m") * 3)[:size]
    with pytest.raises(VerificationError, match="64 bytes"):
        PUB.verify(b"m", signature)


def test_non_canonical_s_rejected() -> None:
    message = b"malleable?"
    signature = KEY.sign(message)
    assert lenient_verify(PUB.raw, message, signature)
    s = int.from_bytes(signature[32:], "little")
    assert s < L
    s_plus_l = s + L
    assert s_plus_l < 2**256
    malleated = signature[:32] + s_plus_l.to_bytes(32, "little")
    # S + L = S (mod L): a verifier that reduces S accepts the different signature ...
    assert lenient_verify(PUB.raw, message, malleated)
    # ... but we reject it (before the backend is asked).
    with pytest.raises(VerificationError, match="S >= L"):
        PUB.verify(message, malleated)
    for bad_s in (L, L + 1, 2**256 - 1):
        with pytest.raises(VerificationError, match="S >= L"):
            PUB.verify(message, signature[:32] + bad_s.to_bytes(32, "little"))


# --- Public key encoding rules -------------------------------------------------------------------


@pytest.mark.parametrize("point", small_order_points())
def test_small_order_public_keys_rejected(point: Point) -> None:
    raw = encode(point)
    with pytest.raises(FormatError, match="small-order"):
        VerifyingKey.from_raw("k", raw)
    with pytest.raises(FormatError, match="small-order"):
        VerifyingKey.from_text(pub_text("k", raw))
    with pytest.raises(FormatError, match="small-order"):
        VerifyingKey.from_verifier_key(vkey_for("k", raw))


def test_small_order_negative_zero_encodings_rejected() -> None:
    # (0, 1) and (0, -1) with the sign bit set: x = 0 cannot be "negative" (RFC 8032 5.1.3).
    for y in (1, P - 1):
        raw = (y | 1 << 255).to_bytes(32, "little")
        with pytest.raises(FormatError, match="not canonical"):
            VerifyingKey.from_raw("k", raw)


@pytest.mark.parametrize("y", range(P, 2**255))
@pytest.mark.parametrize("sign", [0, 1])
def test_non_canonical_y_rejected(y: int, sign: int) -> None:
    raw = (y | sign << 255).to_bytes(32, "little")
    with pytest.raises(FormatError, match=re.escape("not canonical (y >= 2**255 - 19)")):
        VerifyingKey.from_raw("k", raw)
    with pytest.raises(FormatError, match="not canonical"):
        VerifyingKey.from_text(pub_text("k", raw))


def test_not_a_curve_point_never_verifies() -> None:
    # The parse-time rule looks at the encoding only; an off-curve key fails at verification.
    y = next(
        y for y in range(2, 100) if sqrt_mod_p((y * y - 1) * pow(D * y * y + 1, -1, P)) is None
    )
    key = VerifyingKey.from_raw("k", y.to_bytes(32, "little"))
    signature = KEY.sign(b"message")
    with pytest.raises(VerificationError):
        key.verify(b"message", signature)


def test_small_order_blocklist_is_the_derived_set() -> None:
    from ledger import keys

    assert {encode(point) for point in small_order_points()} == keys._SMALL_ORDER_ENCODINGS


def test_mixed_order_point_is_not_small_order() -> None:
    # A valid key plus a torsion point is not itself of small order: accepted at parse time.
    torsion = next(pt for pt in small_order_points() if mul(4, pt) != IDENTITY)
    raw = encode(add(decode(PUB.raw), torsion))
    assert VerifyingKey.from_raw("k", raw).raw == raw


@pytest.mark.parametrize("size", [0, 31, 33])
def test_public_key_length(size: int) -> None:
    with pytest.raises(FormatError, match="32 bytes"):
        VerifyingKey.from_raw("k", bytes(size))


# --- Strict parsing of public key text ------------------------------------------------------------


def test_public_text_mutations() -> None:
    check_rejected_or_different(VerifyingKey.from_text, VerifyingKey.to_text, PUB, PUB.to_text())


def test_verifier_key_mutations() -> None:
    vkey = PUB.to_verifier_key()
    check_rejected_or_different(
        VerifyingKey.from_verifier_key, VerifyingKey.to_verifier_key, PUB, vkey
    )


def test_verifier_key_every_substring_and_increment_rejected() -> None:
    # In the style of the Go note package's own test: no proper substring and no string
    # with one character incremented is a valid verifier key.
    for vkey in (GO_VKEY, PUB.to_verifier_key()):
        for i in range(len(vkey) + 1):
            for j in range(i, len(vkey) + 1):
                if (i, j) != (0, len(vkey)):
                    with pytest.raises(FormatError):
                        VerifyingKey.from_verifier_key(vkey[i:j])
        for i in range(len(vkey)):
            with pytest.raises(FormatError):
                VerifyingKey.from_verifier_key(vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :])


def non_canonical_b64(raw: bytes) -> str:
    """The same bytes with a non-zero unused bit in the last base64 character."""
    text = base64.b64encode(raw).decode()
    data_end = len(text.rstrip("="))
    last = B64_ALPHABET.index(text[data_end - 1])
    bad = text[: data_end - 1] + B64_ALPHABET[last ^ 1] + text[data_end:]
    assert base64.b64decode(bad) == raw  # a lenient decoder accepts it as the same bytes
    return bad


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ledger-pub2:alice:AAAA", "must start with"),
        ("Ledger-pub1:alice:AAAA", "must start with"),
        ("ledger-pub1", "must start with"),
        (" " + PUB.to_text(), "must start with"),
        (PUB.to_text() + " ", "not valid base64"),
        (PUB.to_text() + "\n\n", "not valid base64"),
        (PUB.to_text() + "\r\n", "not valid base64"),
        (PUB.to_text() + "\t", "not valid base64"),
        (PUB.to_text().replace(":", ": ", 2), "whitespace"),
        (PUB.to_text().rstrip("="), "not valid base64"),
        (PUB.to_text() + "=", "base64"),
        (PUB.to_text() + "==", "base64"),
        (f"{PUBLIC_PREFIX}:{base64.b64encode(PUB.raw).decode()}", "empty"),
        (f"{PUBLIC_PREFIX}alice{base64.b64encode(PUB.raw).decode()}", "no ':'"),
        (f"{PUBLIC_PREFIX}alice:", "empty"),
        (pub_text("alice", PUB.raw + b"\x00"), "32 bytes"),
        (pub_text("alice", PUB.raw[:31]), "32 bytes"),
        (PUBLIC_PREFIX + "alice:" + base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "not valid"),
        (f"{PUBLIC_PREFIX}alice:{non_canonical_b64(PUB.raw)}", "not canonical base64"),
        (PUB.to_text()[:-5] + "\uff11" + PUB.to_text()[-4:], "non-ASCII"),
        (pub_text("al+ice", PUB.raw), "'\\+'"),
        (pub_text("x" * 129, PUB.raw), "129 code points"),
        (pub_text("a\x00", PUB.raw), "Cc"),
    ],
)
def test_public_text_rejected(text: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        VerifyingKey.from_text(text)


def test_public_text_name_may_contain_colon() -> None:
    key = VerifyingKey.from_text(pub_text("a:b:c", PUB.raw))
    assert key.name == "a:b:c"
    assert key.raw == PUB.raw


def test_secret_text_where_public_expected() -> None:
    for text in (KEY.to_text(), KEY.to_encrypted_text(b"pw", log2n=10)):
        with pytest.raises(FormatError, match=r"this is a secret key; give the \.pub file") as info:
            VerifyingKey.from_text(text)
        assert base64.b64encode(SEED).decode() not in str(info.value)
    with pytest.raises(FormatError, match="this is a public key"):
        SigningKey.from_text(PUB.to_text())


def test_argument_types() -> None:
    with pytest.raises(UsageError):
        VerifyingKey.from_text(PUB.to_text().encode())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        VerifyingKey.from_verifier_key(GO_VKEY.encode())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        KEY.sign("text")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        PUB.verify("text", KEY.sign(b"text"))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        VerifyingKey.from_raw("k", bytearray(PUB.raw))  # type: ignore[arg-type]


# --- Verifier keys ------------------------------------------------------------------------------


def test_verifier_key_rejections() -> None:
    name, key_id, material = GO_VKEY.split("+", 2)
    raw = base64.b64decode(material)[1:]
    bad_id = f"{int(key_id, 16) ^ 1:08x}"
    cases = {
        f"{name}+{bad_id}+{material}": "does not match",
        f"{name}+{key_id.upper()}+{material}": "lowercase hexadecimal",
        f"{name}+{key_id[:7]}+{material}": "8 lowercase",
        f"{name}+0{key_id}+{material}": "8 lowercase",
        f"{name}+{key_id[:7]}g+{material}": "8 lowercase",
        f"{name}+{key_id}+{material}=": "not canonical base64",
        f"{name}+{key_id}+{material[:-1]}": "not valid base64",
        f"{name}+{key_id}+{material[:-4]}": "must be 33 bytes",
        f"{name}+{key_id}": "must have the form",
        f"{name}{key_id}{material}": "must have the form",
        f"+{key_id}+{material}": "empty",
        f"Peter Neumann+{key_id}+{material}": "whitespace",
        f"{name}+{key_id}+{material}\n": "not valid base64",
        vkey_for("PeterNeumann", raw, alg=2): "not supported",
        vkey_for("PeterNeumann", raw + b"\x00"): "must be 33 bytes",
        vkey_for("PeterNeumann", b""): "must be 33 bytes",
        vkey_for("k", encode(IDENTITY)): "small-order",
    }
    for text, reason in cases.items():
        with pytest.raises(FormatError, match=reason):
            VerifyingKey.from_verifier_key(text)


def test_verifier_key_name_is_bound() -> None:
    # Renaming the key without recomputing the id is caught ...
    _, key_id, material = GO_VKEY.split("+", 2)
    with pytest.raises(FormatError, match="does not match"):
        VerifyingKey.from_verifier_key(f"PaulNeumann+{key_id}+{material}")
    # ... and a renamed key with a fresh id is a different key.
    renamed = VerifyingKey.from_verifier_key(
        vkey_for("PaulNeumann", base64.b64decode(material)[1:])
    )
    assert renamed != VerifyingKey.from_verifier_key(GO_VKEY)


# --- Secret keys ------------------------------------------------------------------------------


def test_secret_text_rejected() -> None:
    good = KEY.to_text()
    encoded = base64.b64encode(SEED).decode()
    cases = {
        "ledger-sec2:alice:" + encoded: "must start with",
        good + "\n\n": "not valid base64",
        good + " ": "not valid base64",
        good.rstrip("="): "not valid base64",
        f"{SECRET_PREFIX}alice:{non_canonical_b64(SEED)}": "not canonical base64",
        f"{SECRET_PREFIX}alice:{base64.b64encode(SEED[:31]).decode()}": "32 bytes",
        f"{SECRET_PREFIX}a b:{encoded}": "whitespace",
        f"{SECRET_PREFIX}{encoded}": "no ':'",
    }
    for text, reason in cases.items():
        with pytest.raises(FormatError, match=reason) as info:
            SigningKey.from_text(text)
        assert encoded not in str(info.value)
        assert encoded[:20] not in str(info.value)


def test_repr_does_not_leak_seed() -> None:
    encoded = base64.b64encode(SEED).decode()
    for shown in (repr(KEY), str(KEY), f"{KEY}", f"{KEY!r}", repr([KEY]), repr(PUB)):
        assert encoded not in shown
        assert encoded[:16] not in shown
        assert SEED.hex() not in shown
        assert SEED.hex()[:16] not in shown
        assert repr(SEED) not in shown
    assert repr(KEY) == f"SigningKey(name='alice.example:2024', fingerprint='{PUB.fingerprint}')"
    assert repr(PUB) == f"VerifyingKey(name='alice.example:2024', fingerprint='{PUB.fingerprint}')"


def test_equality_and_hash() -> None:
    same = VerifyingKey.from_raw(PUB.name, PUB.raw)
    renamed = VerifyingKey.from_raw("bob", PUB.raw)
    assert same == PUB
    assert hash(same) == hash(PUB)
    assert renamed != PUB
    assert len({PUB, same, renamed}) == 2
    assert PUB.raw != PUB
    assert SigningKey.from_seed(KEY.name, SEED) == KEY
    assert SigningKey.from_seed("bob", SEED) != KEY
    assert SigningKey.from_seed(KEY.name, bytes(32)) != KEY
    assert len({KEY, SigningKey.from_seed(KEY.name, SEED)}) == 1
    with pytest.raises(AttributeError):
        PUB.name = "bob"  # type: ignore[misc]


# --- Encrypted secret keys -------------------------------------------------------------------


def _blob(text: str) -> tuple[str, bytearray]:
    header, _, encoded = text.rpartition(":")
    return header + ":", bytearray(base64.b64decode(encoded))


def _join(header: str, blob: bytes) -> str:
    return header + base64.b64encode(blob).decode()


ENCRYPTED = KEY.to_encrypted_text(b"correct horse", log2n=10)


def test_encrypted_layout() -> None:
    header, blob = _blob(ENCRYPTED)
    assert header == f"{ENCRYPTED_PREFIX}alice.example:2024:"
    assert len(blob) == 16 + 1 + 12 + 48
    assert blob[16] == 10
    assert base64.b64encode(SEED).decode() not in ENCRYPTED
    assert SEED not in blob
    # Fresh salt and nonce every time.
    assert KEY.to_encrypted_text(b"correct horse", log2n=10) != ENCRYPTED


def test_encrypted_default_cost() -> None:
    text = KEY.to_encrypted_text(b"pw")
    assert _blob(text)[1][16] == DEFAULT_LOG2N == 15
    assert SigningKey.from_text(text, b"pw") == KEY


def test_wrong_passphrase() -> None:
    for wrong in (b"correct horsE", b"", b"correct horse ", b"x"):
        with pytest.raises(VerificationError, match=r"^wrong passphrase or corrupted secret key$"):
            SigningKey.from_text(ENCRYPTED, wrong)


def test_no_passphrase() -> None:
    with pytest.raises(
        UsageError, match=r"^secret key is passphrase-protected: give a passphrase$"
    ):
        SigningKey.from_text(ENCRYPTED)
    with pytest.raises(UsageError):
        parse_any_key_text(ENCRYPTED)


def test_unencrypted_ignores_passphrase() -> None:
    assert SigningKey.from_text(KEY.to_text(), b"anything") == KEY


@pytest.mark.parametrize(
    "index",
    [0, 15, 17, 28, 29, 50, 60, 76],  # salt, salt, nonce, nonce, ciphertext, ct, tag, tag
)
def test_tampered_blob(index: int) -> None:
    header, blob = _blob(ENCRYPTED)
    blob[index] ^= 0x01
    with pytest.raises(VerificationError, match="wrong passphrase or corrupted secret key"):
        SigningKey.from_text(_join(header, bytes(blob)), b"correct horse")


def test_tampered_log2n_in_range() -> None:
    header, blob = _blob(ENCRYPTED)
    blob[16] = 11
    with pytest.raises(VerificationError):
        SigningKey.from_text(_join(header, bytes(blob)), b"correct horse")


def test_tampered_name() -> None:
    for name in ("alice.example:2025", "bob", "alice.example"):
        text = ENCRYPTED.replace("alice.example:2024", name, 1)
        with pytest.raises(VerificationError):
            SigningKey.from_text(text, b"correct horse")


@pytest.mark.parametrize("log2n", [0, 1, 9, 21, 40, 255])
def test_log2n_out_of_range_in_file(log2n: int) -> None:
    header, blob = _blob(ENCRYPTED)
    blob[16] = log2n
    text = _join(header, bytes(blob))
    with pytest.raises(FormatError, match=f"log2\\(N\\) = {log2n}; only 10..20"):
        SigningKey.from_text(text, b"correct horse")
    with pytest.raises(FormatError):  # a format problem is reported before the passphrase
        SigningKey.from_text(text)


def test_encrypted_malformed() -> None:
    header, blob = _blob(ENCRYPTED)
    for bad in (bytes(blob[:-1]), bytes(blob) + b"\x00", b""):
        with pytest.raises(FormatError):
            SigningKey.from_text(_join(header, bad), b"correct horse")
    with pytest.raises(FormatError, match="not valid base64"):
        SigningKey.from_text(ENCRYPTED + "\n\n", b"correct horse")


@pytest.mark.parametrize("log2n", [9, 21, -1, True])
def test_encrypt_log2n_argument(log2n: int) -> None:
    with pytest.raises(UsageError, match="log2n"):
        KEY.to_encrypted_text(b"pw", log2n=log2n)


def test_encrypt_passphrase_argument() -> None:
    with pytest.raises(UsageError, match="passphrase is empty"):
        KEY.to_encrypted_text(b"", log2n=10)
    with pytest.raises(UsageError, match="passphrase must be bytes"):
        KEY.to_encrypted_text("pw", log2n=10)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="passphrase must be bytes"):
        SigningKey.from_text(ENCRYPTED, "correct horse")  # type: ignore[arg-type]


def test_is_encrypted_secret_text() -> None:
    assert is_encrypted_secret_text(ENCRYPTED)
    assert not is_encrypted_secret_text(KEY.to_text())
    assert not is_encrypted_secret_text(PUB.to_text())


def test_parse_any_key_text() -> None:
    assert parse_any_key_text(PUB.to_text() + "\n") == PUB
    assert parse_any_key_text(GO_VKEY) == VerifyingKey.from_verifier_key(GO_VKEY)
    assert parse_any_key_text(KEY.to_text()) == KEY
    assert parse_any_key_text(ENCRYPTED, b"correct horse") == KEY
    with pytest.raises(FormatError, match="not a key"):
        parse_any_key_text("hello")
    with pytest.raises(FormatError):
        parse_any_key_text(PUB.to_text() + "\n\n")


# --- Ed25519 backends -------------------------------------------------------------------------


def _signature_case(name: str) -> tuple[bytes, bytes, bytes]:
    document = json.loads((Path(__file__).parent / "vectors" / "keys.json").read_text())
    case = next(c for c in document["signatures"]["cases"] if c["name"] == name)
    message = bytes.fromhex(document["signatures"]["message_hex"])
    return bytes.fromhex(case["public_key_hex"]), message, bytes.fromhex(case["signature_hex"])


def test_identity_r_is_where_the_raw_backends_disagree() -> None:
    # The vector is worth having only if it is a real disagreement: OpenSSL alone accepts it.
    raw, message, signature = _signature_case("small-order-r-identity")
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)  # no exception
    nacl = pytest.importorskip("nacl.bindings")
    exceptions = pytest.importorskip("nacl.exceptions")
    with pytest.raises(exceptions.BadSignatureError):
        nacl.crypto_sign_open(signature + message, raw)


def test_identity_r_is_refused_by_every_backend(ed25519_backend: str) -> None:
    raw, message, signature = _signature_case("small-order-r-identity")
    with pytest.raises(VerificationError, match="R is a small-order point"):
        VerifyingKey.from_raw("test", raw).verify(message, signature)
    assert ledger.ed25519_backend() == ed25519_backend


@given(st.binary(min_size=0, max_size=200), st.integers(0, 2**32 - 1), st.integers(0, 511))
def test_backends_agree_on_signatures_and_their_bit_flips(
    message: bytes, seed: int, bit: int
) -> None:
    if importlib.util.find_spec("nacl") is None:
        pytest.skip("PyNaCl is not installed")
    key = SigningKey.from_seed("k", hashlib.sha256(seed.to_bytes(4, "big")).digest())
    good = key.sign(message)
    flipped = bytearray(good)
    flipped[bit // 8] ^= 1 << (bit % 8)
    verdicts = []
    for backend in keys.ED25519_BACKENDS:
        keys.use_ed25519_backend(backend)
        try:
            outcome = []
            for signature in (good, bytes(flipped)):
                try:
                    key.public.verify(message, signature)
                    outcome.append("ok")
                except VerificationError as exc:
                    outcome.append(str(exc))
            verdicts.append(outcome)
        finally:
            keys.use_ed25519_backend("auto")
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][0] == "ok"
    assert verdicts[0][1] != "ok"


def test_backend_choice() -> None:
    previous = keys.ed25519_backend()
    try:
        assert keys.use_ed25519_backend("openssl") == "openssl"
        assert ledger.ed25519_backend() == "openssl"
        expected = "libsodium" if importlib.util.find_spec("nacl") else "openssl"
        assert keys.use_ed25519_backend("auto") == expected
        with pytest.raises(UsageError, match="unknown Ed25519 backend"):
            keys.use_ed25519_backend("fastest")
    finally:
        keys.use_ed25519_backend(previous)
