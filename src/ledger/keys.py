"""Ed25519 signing keys, their text forms, fingerprints and C2SP signed-note verifier keys.

This module is pure (no file I/O; see ``ledger.keyfile`` for key files on disk) and is the
only module of the project that imports ``cryptography``.

Formats (normative)
===================

Key name
    1..128 code points of UTF-8; no Unicode whitespace (``str.isspace()``), no control or
    format characters (``unicodedata`` category Cc/Cf/Co/Cn/Cs), no ``'+'`` (C2SP
    signed-note rule). ``':'`` is allowed.

Public key text (one line)
    ``ledger-pub1:<name>:<base64(32-byte Ed25519 public key)>`` -- standard base64 WITH
    padding (44 chars). Parsed by checking the exact prefix, then ``rpartition`` on the last
    ``':'`` (base64 has no ``':'``). Base64 is decoded strictly
    (``base64.b64decode(s, validate=True)`` AND re-encoding must equal the input, so
    non-canonical trailing bits are rejected).

Secret key text, unencrypted
    ``ledger-sec1:<name>:<base64(32-byte Ed25519 seed)>``.

Secret key text, passphrase-encrypted
    ``ledger-sec1-scrypt:<name>:<base64(salt[16] || log2N[1 byte] || nonce[12] ||
    ChaCha20Poly1305 ciphertext of the 32-byte seed with tag [48])>``:
    key = scrypt(passphrase, salt, n=2**log2N, r=8, p=1, length=32); AEAD associated
    data = the UTF-8 bytes of ``ledger-sec1-scrypt:<name>:``. Default log2N = 15; on
    decode log2N is accepted only in 10..20 (a hostile file cannot make us burn minutes).
    Wrong passphrase -> ``VerificationError("wrong passphrase or corrupted secret key")``.

Fingerprint (short, quotable)
    digest = SHA-256(``b"endorsement-ledger/key/v1\\x00"`` || public key 32 bytes).
    ``key_id`` = the full 32-byte digest (used as COSE kid). ``fingerprint`` = RFC 4648
    base32 (uppercase, no padding) of digest[:10] -> 16 characters, grouped 4-4-4-4 with
    ``'-'``, e.g. ``ABCD-EFGH-IJKL-MNOP``.

C2SP signed-note verifier key (for log keys)
    note key id = SHA-256(name_utf8 || 0x0A || 0x01 || pk)[:4]; verifier key string
    ``<name>+<8 lowercase hex of key id>+<base64(0x01 || pk)>``. The C2SP secret form is
    not produced or read.

Text forms given to a ``from_text`` parser may end in a single ``"\\n"``; nothing else
(no other whitespace, no ``"\\r\\n"``) is tolerated. ``to_text`` never adds a newline.

Ed25519 verification rule
=========================

Signatures are verified by one of two backends, which must and do accept exactly the same
signatures: libsodium through PyNaCl when it is installed (``pip install
endorsement-ledger[fast]``; about twice as fast), else OpenSSL through ``cryptography``. Both
check RFC 8032's cofactorless equation and compare R's bytes with a canonical encoding; they
differ only on inputs that the explicit checks below reject first, so the rule does not depend
on the backend (``ed25519_backend``, ``use_ed25519_backend``; the environment variable
``LEDGER_ED25519_BACKEND`` = ``auto``, ``openssl`` or ``libsodium`` picks one at import):

* A public key is rejected at parse time (``FormatError``) if its encoding is
  non-canonical (y >= p, i.e. the little-endian value with the top bit cleared is
  >= 2**255 - 19, or x = 0 with the sign bit set, RFC 8032 section 5.1.3), or if it is one
  of the 8 small-order points (order dividing 8). These checks look at the encoding only.
  An encoding that is not a curve point at all is accepted at parse time and then fails
  every verification (OpenSSL decodes the point when it verifies).
* A signature must be exactly 64 bytes, and its S (the last 32 bytes, little-endian) must
  be < L = 2**252 + 27742317777372353535851937790883648493.
* Its R (the first 32 bytes) must be a canonical encoding (as for public keys: y < p, and not
  x = 0 with the sign bit set) and not one of the 8 small-order encodings. OpenSSL accepts a
  signature whose R is the identity point when the equation holds (a key owner can make one
  with the nonce 0); libsodium refuses every small-order R. We refuse them whatever the
  backend, so that a ledger verifies the same for every reader.

All of these are checked explicitly before calling either backend. ``VerifyingKey.verify``
reports every failure, these included, as ``VerificationError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.errors import FormatError, UsageError, VerificationError

__all__ = [
    "DEFAULT_LOG2N",
    "ED25519_BACKENDS",
    "ENCRYPTED_PREFIX",
    "MAX_LOG2N",
    "MAX_NAME_LENGTH",
    "MIN_LOG2N",
    "PUBLIC_PREFIX",
    "SECRET_PREFIX",
    "SigningKey",
    "VerifyingKey",
    "ed25519_backend",
    "is_encrypted_secret_text",
    "parse_any_key_text",
    "use_ed25519_backend",
    "validate_key_name",
]

PUBLIC_PREFIX: Final = "ledger-pub1:"
SECRET_PREFIX: Final = "ledger-sec1:"  # noqa: S105 -- a format prefix, not a password
ENCRYPTED_PREFIX: Final = "ledger-sec1-scrypt:"

MAX_NAME_LENGTH: Final = 128
DEFAULT_LOG2N: Final = 15
MIN_LOG2N: Final = 10
MAX_LOG2N: Final = 20

_KEY_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
_SALT_SIZE: Final = 16
_NONCE_SIZE: Final = 12
_CIPHERTEXT_SIZE: Final = _KEY_SIZE + 16  # seed + Poly1305 tag
_ENCRYPTED_BLOB_SIZE: Final = _SALT_SIZE + 1 + _NONCE_SIZE + _CIPHERTEXT_SIZE  # 77
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1

_FINGERPRINT_DOMAIN: Final = b"endorsement-ledger/key/v1\x00"
_NOTE_ALG_ED25519: Final = 0x01
_NOTE_KEY_ID_SIZE: Final = 4
_HEX_LOWER: Final = frozenset("0123456789abcdef")

_SIMPLE_NAME: Final = re.compile(r"[A-Za-z0-9._:/@-]+")
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})

# Curve25519 in twisted Edwards form: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p).
_P: Final = 2**255 - 19
# The canonical encodings of the 8 points of order dividing 8 (the torsion subgroup). They are
# derived from the curve equation in tests/test_keys.py (small_order_points), which checks that
# this set is exactly the derived one.
_SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(encoding)
    for encoding in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # order 1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    )
)
# Order of the prime-order subgroup generated by the base point.
_L: Final = 2**252 + 27742317777372353535851937790883648493
_Y_MASK: Final = (1 << 255) - 1


# ---------------------------------------------------------------------------------------------
# helpers


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a str, not {type(value).__name__}")
    return value


def _require_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise UsageError(f"{what} must be bytes, not {type(value).__name__}")
    return value


def _strip_one_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_strict(text: str, what: str, size: int | None = None) -> bytes:
    """Decode canonical standard base64 (with padding); never echo the input."""
    if not text:
        raise FormatError(f"{what} is empty")
    if not text.isascii():
        raise FormatError(f"{what} is not base64: it contains non-ASCII characters")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if _b64encode(data) != text:
        raise FormatError(f"{what} is not canonical base64")
    if size is not None and len(data) != size:
        raise FormatError(f"{what} must decode to {size} bytes, not {len(data)}")
    return data


def _split_key_text(body: str, prefix: str, what: str) -> tuple[str, str]:
    """Split ``<prefix><name>:<base64>`` (prefix already checked) into name and base64."""
    name, sep, encoded = body[len(prefix) :].rpartition(":")
    if not sep:
        raise FormatError(f"{what} has no ':' between the key name and the key")
    try:
        validate_key_name(name)
    except FormatError as exc:
        raise FormatError(f"{what}: {exc}") from None
    return name, encoded


def _point_encoding_problem(raw: bytes) -> str | None:
    # O(1) checks on the encoding only: this runs once per endorsement verified, where a full
    # point decompression in Python would cost more than the signature check itself.
    value = int.from_bytes(raw, "little")
    y = value & _Y_MASK
    if y >= _P:
        return "encoding is not canonical (y >= 2**255 - 19)"
    if value >> 255 and (y == 1 or y == _P - 1):
        return "encoding is not canonical (x = 0 with the sign bit set)"
    if raw in _SMALL_ORDER_ENCODINGS:
        return "is a small-order point (order divides 8)"
    return None


def _check_public_key_bytes(raw: bytes) -> None:
    problem = _point_encoding_problem(raw)
    if problem is not None:
        raise FormatError(f"public key {problem}")


def _signature_encoding_problem(signature: bytes) -> str | None:
    """Why a 64-byte signature breaks the rule before any backend sees it, or None."""
    if int.from_bytes(signature[32:], "little") >= _L:
        return "signature is not canonical: S >= L"
    problem = _point_encoding_problem(signature[:32])
    if problem is not None:
        return f"signature is not canonical: R {problem}"
    return None


# ---------------------------------------------------------------------------------------------
# backends: each is a function (raw public key, message, signature) -> bool, called only after
# the checks above; both release the GIL while they compute.

ED25519_BACKENDS: Final = ("libsodium", "openssl")
"""The Ed25519 verification backends, fastest first (see "Ed25519 verification rule")."""
_Backend = Callable[[bytes, bytes, bytes], bool]


def _verify_openssl(raw: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _load_libsodium() -> _Backend | None:
    try:
        from nacl.bindings import crypto_sign_open  # noqa: PLC0415 - optional dependency
        from nacl.exceptions import BadSignatureError  # noqa: PLC0415
    except ImportError:
        return None

    def verify(raw: bytes, message: bytes, signature: bytes) -> bool:
        # PyNaCl has no detached verify: the combined form copies ~300 bytes, negligible.
        try:
            crypto_sign_open(signature + message, raw)
        except BadSignatureError:
            return False
        return True

    return verify


_backend_name = "openssl"
_backend: _Backend = _verify_openssl


def ed25519_backend() -> str:
    """The name of the Ed25519 backend in use: ``"libsodium"`` or ``"openssl"``."""
    return _backend_name


def use_ed25519_backend(name: str) -> str:
    """Choose the Ed25519 verification backend (both accept exactly the same signatures).

    Args:
        name: ``"libsodium"`` (PyNaCl), ``"openssl"`` (``cryptography``), or ``"auto"``:
            libsodium when PyNaCl is installed, else OpenSSL (the default at import, unless
            the environment variable ``LEDGER_ED25519_BACKEND`` names another).

    Returns:
        The name of the backend now in use.

    Raises:
        UsageError: an unknown name, or ``"libsodium"`` without PyNaCl installed.
    """
    global _backend_name, _backend
    if name not in (*ED25519_BACKENDS, "auto"):
        raise UsageError(f"unknown Ed25519 backend {name!r}: auto, libsodium or openssl")
    sodium = None if name == "openssl" else _load_libsodium()
    if sodium is not None:
        _backend_name, _backend = "libsodium", sodium
    elif name == "libsodium":
        raise UsageError("the libsodium backend needs PyNaCl: pip install endorsement-ledger[fast]")
    else:
        _backend_name, _backend = "openssl", _verify_openssl
    return _backend_name


def _note_key_id(name: str, raw: bytes) -> bytes:
    data = name.encode("utf-8") + b"\n" + bytes([_NOTE_ALG_ED25519]) + raw
    return hashlib.sha256(data).digest()[:_NOTE_KEY_ID_SIZE]


def _check_passphrase(passphrase: object) -> bytes:
    value = _require_bytes(passphrase, "passphrase")
    if not value:
        raise UsageError("passphrase is empty")
    return value


def _check_log2n(log2n: object) -> int:
    if isinstance(log2n, bool) or not isinstance(log2n, int):
        raise UsageError("log2n must be an int")
    if not MIN_LOG2N <= log2n <= MAX_LOG2N:
        raise UsageError(f"log2n must be in {MIN_LOG2N}..{MAX_LOG2N}, not {log2n}")
    return log2n


def _scrypt(passphrase: bytes, salt: bytes, log2n: int) -> bytes:
    kdf = Scrypt(salt=salt, length=_KEY_SIZE, n=2**log2n, r=_SCRYPT_R, p=_SCRYPT_P)
    return kdf.derive(passphrase)


# ---------------------------------------------------------------------------------------------
# public API


def validate_key_name(name: str) -> str:
    """Check that ``name`` is a valid key name.

    A key name is 1..128 code points with no Unicode whitespace, no control, format,
    private-use, unassigned or surrogate code point, and no ``'+'``.

    Args:
        name: The candidate key name.

    Returns:
        ``name`` unchanged.

    Raises:
        FormatError: The name breaks a rule; the message says which rule and where.
        UsageError: ``name`` is not a ``str``.
    """
    _require_str(name, "key name")
    if not name:
        raise FormatError("key name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise FormatError(
            f"key name is {len(name)} code points long; at most {MAX_NAME_LENGTH} are allowed"
        )
    if _SIMPLE_NAME.fullmatch(name) and not name.startswith(("ledger-pub", "ledger-sec")):
        return name  # the common case (domains, origins, hex): nothing more to look at
    for index, char in enumerate(name):
        code = f"U+{ord(char):04X}"
        if char == "+":
            raise FormatError(f"key name contains '+' at position {index}; '+' is not allowed")
        if char.isspace():
            raise FormatError(f"key name contains whitespace {code} at position {index}")
        category = unicodedata.category(char)
        if category in _FORBIDDEN_CATEGORIES:
            raise FormatError(
                f"key name contains {code} (category {category}: control, format, "
                f"private-use, unassigned or surrogate) at position {index}"
            )
    if name.startswith(("ledger-pub", "ledger-sec")):
        # Our key texts start with these prefixes: a name that does too would make a C2SP
        # verifier key for it look like one of our key texts.
        raise FormatError("key name must not start with 'ledger-pub' or 'ledger-sec'")
    return name


def is_encrypted_secret_text(text: str) -> bool:
    """Tell whether ``text`` is (claims to be) a passphrase-encrypted secret key.

    Only the prefix is looked at; the rest is checked when the key is parsed.

    Args:
        text: Key text, as read from a file.

    Returns:
        ``True`` if ``text`` starts with ``ledger-sec1-scrypt:``.

    Raises:
        UsageError: ``text`` is not a ``str``.
    """
    return _require_str(text, "key text").startswith(ENCRYPTED_PREFIX)


class VerifyingKey:
    """An Ed25519 public key with a name; immutable, compared and hashed by (name, raw).

    Construct with :meth:`from_raw`, :meth:`from_text` or :meth:`from_verifier_key`.

    Attributes:
        name: The key name (see :func:`validate_key_name`).
        raw: The 32-byte Ed25519 public key encoding.
    """

    __slots__ = ("_fingerprint", "_key_id", "_name", "_raw")

    _name: str
    _raw: bytes
    _key_id: bytes
    _fingerprint: str | None

    def __init__(self, name: str, raw: bytes) -> None:
        """Validate and build a key; prefer :meth:`from_raw`.

        Args:
            name: The key name.
            raw: The 32-byte public key encoding.

        Raises:
            FormatError: Invalid name, wrong length, non-canonical encoding, not a curve
                point, or a small-order point.
            UsageError: Wrong argument types.
        """
        validate_key_name(name)
        _require_bytes(raw, "public key")
        if len(raw) != _KEY_SIZE:
            raise FormatError(f"public key must be {_KEY_SIZE} bytes, not {len(raw)}")
        _check_public_key_bytes(raw)
        self._name = name
        self._raw = raw
        # Computed once: verification asks for it several times per entry. The fingerprint is
        # computed when first asked for (reports), not for every key verification builds.
        self._key_id = hashlib.sha256(_FINGERPRINT_DOMAIN + raw).digest()
        self._fingerprint = None

    @classmethod
    def _checked(cls, name: str, raw: bytes, key_id: bytes, fingerprint: str) -> VerifyingKey:
        # A key that this library built and checked in another process (parallel
        # verification), with what it computed: not for keys from anywhere else.
        key = cls.__new__(cls)
        key._name, key._raw, key._key_id, key._fingerprint = name, raw, key_id, fingerprint
        return key

    @property
    def name(self) -> str:
        """The key name."""
        return self._name

    @property
    def raw(self) -> bytes:
        """The 32-byte Ed25519 public key encoding."""
        return self._raw

    @classmethod
    def from_raw(cls, name: str, raw: bytes) -> VerifyingKey:
        """Build a public key from its name and 32-byte encoding.

        Args:
            name: The key name.
            raw: The 32-byte Ed25519 public key encoding.

        Returns:
            The public key.

        Raises:
            FormatError: Invalid name, wrong length, non-canonical encoding, not a curve
                point, or a small-order point.
            UsageError: Wrong argument types.
        """
        return cls(name, raw)

    @classmethod
    def from_text(cls, text: str) -> VerifyingKey:
        """Parse ``ledger-pub1:<name>:<base64>`` strictly (one trailing ``"\\n"`` allowed).

        Args:
            text: The public key text.

        Returns:
            The public key.

        Raises:
            FormatError: The text is not exactly a canonical public key text; a secret key
                text gets the hint "this is a secret key; give the .pub file".
            UsageError: ``text`` is not a ``str``.
        """
        body = _strip_one_newline(_require_str(text, "public key text"))
        if body.startswith((SECRET_PREFIX, ENCRYPTED_PREFIX)):
            raise FormatError("this is a secret key; give the .pub file")
        if not body.startswith(PUBLIC_PREFIX):
            raise FormatError(f"public key text must start with {PUBLIC_PREFIX!r}")
        name, encoded = _split_key_text(body, PUBLIC_PREFIX, "public key text")
        raw = _b64decode_strict(encoded, "public key", _KEY_SIZE)
        return cls(name, raw)

    def to_text(self) -> str:
        """Encode as ``ledger-pub1:<name>:<base64>``.

        Returns:
            The public key text, without a newline.
        """
        return f"{PUBLIC_PREFIX}{self._name}:{_b64encode(self._raw)}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature of ``message`` by this key.

        Args:
            message: The signed bytes.
            signature: The 64-byte signature R || S.

        Raises:
            VerificationError: Wrong length, S >= L, R not canonical or of small order, or
                the signature does not verify.
            UsageError: Wrong argument types.
        """
        if type(message) is not bytes:
            _require_bytes(message, "message")
        if type(signature) is not bytes:
            _require_bytes(signature, "signature")
        if len(signature) != _SIGNATURE_SIZE:
            raise VerificationError(
                f"signature must be {_SIGNATURE_SIZE} bytes, not {len(signature)}"
            )
        problem = _signature_encoding_problem(signature)
        if problem is not None:
            raise VerificationError(problem)
        if not _backend(self._raw, message, signature):
            raise VerificationError(
                f"signature does not verify with key {self._name!r} ({self.fingerprint})"
            )

    @property
    def key_id(self) -> bytes:
        """SHA-256(b"endorsement-ledger/key/v1\\x00" || raw): 32 bytes, the COSE kid."""
        return self._key_id

    @property
    def fingerprint(self) -> str:
        """Base32 of ``key_id[:10]`` grouped ``XXXX-XXXX-XXXX-XXXX``."""
        if self._fingerprint is None:
            text = base64.b32encode(self._key_id[:10]).decode("ascii")
            self._fingerprint = f"{text[:4]}-{text[4:8]}-{text[8:12]}-{text[12:]}"
        return self._fingerprint

    def note_key_id(self) -> bytes:
        """The C2SP signed-note key id.

        Returns:
            SHA-256(name_utf8 || 0x0A || 0x01 || raw)[:4].
        """
        return _note_key_id(self._name, self._raw)

    def to_verifier_key(self) -> str:
        """Encode as a C2SP signed-note verifier key.

        Returns:
            ``<name>+<8 lowercase hex of note key id>+<base64(0x01 || raw)>``.
        """
        encoded = _b64encode(bytes([_NOTE_ALG_ED25519]) + self._raw)
        return f"{self._name}+{self.note_key_id().hex()}+{encoded}"

    @classmethod
    def from_verifier_key(cls, vkey: str) -> VerifyingKey:
        """Parse a C2SP signed-note Ed25519 verifier key strictly.

        Args:
            vkey: ``<name>+<8 lowercase hex>+<base64(0x01 || 32-byte key)>``, no newline.

        Returns:
            The public key (named as in the verifier key).

        Raises:
            FormatError: Malformed string, non-canonical base64, unsupported algorithm,
                invalid public key, or a key id that does not match the name and key.
            UsageError: ``vkey`` is not a ``str``.
        """
        _require_str(vkey, "verifier key")
        name, sep1, rest = vkey.partition("+")
        key_id_hex, sep2, encoded = rest.partition("+")
        if not sep1 or not sep2:
            raise FormatError("verifier key must have the form <name>+<key id>+<key>")
        try:
            validate_key_name(name)
        except FormatError as exc:
            raise FormatError(f"verifier key: {exc}") from None
        if len(key_id_hex) != 2 * _NOTE_KEY_ID_SIZE or not set(key_id_hex) <= _HEX_LOWER:
            raise FormatError("verifier key id must be 8 lowercase hexadecimal digits")
        data = _b64decode_strict(encoded, "verifier key material")
        if data[0] != _NOTE_ALG_ED25519:
            raise FormatError(
                f"verifier key algorithm 0x{data[0]:02x} is not supported (only Ed25519, 0x01)"
            )
        if len(data) != 1 + _KEY_SIZE:
            raise FormatError(
                f"verifier key material must be {1 + _KEY_SIZE} bytes, not {len(data)}"
            )
        key = cls(name, data[1:])
        if key.note_key_id().hex() != key_id_hex:
            raise FormatError(
                f"verifier key id {key_id_hex} does not match the name and key "
                f"(expected {key.note_key_id().hex()})"
            )
        return key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyingKey):
            return NotImplemented
        return (self._name, self._raw) == (other._name, other._raw)

    def __hash__(self) -> int:
        return hash((VerifyingKey, self._name, self._raw))

    def __repr__(self) -> str:
        return f"VerifyingKey(name={self._name!r}, fingerprint={self.fingerprint!r})"


class SigningKey:
    """An Ed25519 secret key (32-byte seed) with a name.

    ``repr``/``str`` show the name and public fingerprint only, never the seed. Equality
    compares name and seed (in constant time); the hash uses the public key only.

    Attributes:
        name: The key name (see :func:`validate_key_name`).
    """

    __slots__ = ("_name", "_private", "_public", "_seed")

    _name: str
    _seed: bytes
    _private: Ed25519PrivateKey
    _public: VerifyingKey

    def __init__(self, name: str, seed: bytes) -> None:
        """Build a key from its name and seed; prefer :meth:`from_seed` or :meth:`generate`.

        Args:
            name: The key name.
            seed: The 32-byte Ed25519 seed.

        Raises:
            FormatError: Invalid name.
            UsageError: Wrong argument types or seed length.
        """
        validate_key_name(name)
        _require_bytes(seed, "seed")
        if len(seed) != _KEY_SIZE:
            raise UsageError(f"seed must be {_KEY_SIZE} bytes, not {len(seed)}")
        self._name = name
        self._seed = seed
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = VerifyingKey(name, self._private.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        """The key name."""
        return self._name

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        """Generate a fresh random key.

        Args:
            name: The key name.

        Returns:
            The new secret key.

        Raises:
            FormatError: Invalid name.
        """
        validate_key_name(name)
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SigningKey:
        """Build a key deterministically from a 32-byte seed (demo and test keys).

        Args:
            name: The key name.
            seed: The 32-byte Ed25519 seed (RFC 8032 private key).

        Returns:
            The secret key.

        Raises:
            FormatError: Invalid name.
            UsageError: The seed is not 32 bytes.
        """
        return cls(name, seed)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with Ed25519 (deterministic).

        Args:
            message: The bytes to sign.

        Returns:
            The 64-byte signature.

        Raises:
            UsageError: ``message`` is not ``bytes``.
        """
        return self._private.sign(_require_bytes(message, "message"))

    @property
    def public(self) -> VerifyingKey:
        """The matching public key (same name)."""
        return self._public

    def to_text(self) -> str:
        """Encode unencrypted as ``ledger-sec1:<name>:<base64(seed)>``.

        Returns:
            The secret key text, without a newline. It contains the seed.
        """
        return f"{SECRET_PREFIX}{self._name}:{_b64encode(self._seed)}"

    def to_encrypted_text(self, passphrase: bytes, *, log2n: int = DEFAULT_LOG2N) -> str:
        """Encode encrypted as ``ledger-sec1-scrypt:<name>:<base64(...)>``.

        Args:
            passphrase: A non-empty passphrase.
            log2n: scrypt cost, log2 of N, in 10..20.

        Returns:
            The encrypted secret key text, without a newline.

        Raises:
            UsageError: Empty or non-bytes passphrase, or log2n out of range.
        """
        passphrase = _check_passphrase(passphrase)
        log2n = _check_log2n(log2n)
        salt = secrets.token_bytes(_SALT_SIZE)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        header = f"{ENCRYPTED_PREFIX}{self._name}:"
        key = _scrypt(passphrase, salt, log2n)
        ciphertext = ChaCha20Poly1305(key).encrypt(nonce, self._seed, header.encode("utf-8"))
        return header + _b64encode(salt + bytes([log2n]) + nonce + ciphertext)

    @classmethod
    def from_text(cls, text: str, passphrase: bytes | None = None) -> SigningKey:
        """Parse either secret key form strictly (one trailing ``"\\n"`` allowed).

        Args:
            text: ``ledger-sec1:...`` or ``ledger-sec1-scrypt:...`` text.
            passphrase: Needed for the encrypted form; ignored for the unencrypted one.

        Returns:
            The secret key.

        Raises:
            FormatError: Malformed text (or a public key given), or an encrypted key whose
                scrypt cost log2N is outside 10..20.
            UsageError: Encrypted text without a passphrase, or wrong argument types.
            VerificationError: Wrong passphrase or corrupted encrypted key.
        """
        body = _strip_one_newline(_require_str(text, "secret key text"))
        if body.startswith(PUBLIC_PREFIX):
            raise FormatError("this is a public key; a secret key is needed")
        if body.startswith(ENCRYPTED_PREFIX):
            return cls._from_encrypted(body, passphrase)
        if not body.startswith(SECRET_PREFIX):
            raise FormatError(
                f"secret key text must start with {SECRET_PREFIX!r} or {ENCRYPTED_PREFIX!r}"
            )
        name, encoded = _split_key_text(body, SECRET_PREFIX, "secret key text")
        seed = _b64decode_strict(encoded, "secret key seed", _KEY_SIZE)
        return cls(name, seed)

    @classmethod
    def _from_encrypted(cls, body: str, passphrase: bytes | None) -> SigningKey:
        name, encoded = _split_key_text(body, ENCRYPTED_PREFIX, "encrypted secret key text")
        blob = _b64decode_strict(encoded, "encrypted secret key", _ENCRYPTED_BLOB_SIZE)
        salt = blob[:_SALT_SIZE]
        log2n = blob[_SALT_SIZE]
        nonce = blob[_SALT_SIZE + 1 : _SALT_SIZE + 1 + _NONCE_SIZE]
        ciphertext = blob[_SALT_SIZE + 1 + _NONCE_SIZE :]
        if not MIN_LOG2N <= log2n <= MAX_LOG2N:
            raise FormatError(
                f"encrypted secret key has scrypt cost log2(N) = {log2n}; "
                f"only {MIN_LOG2N}..{MAX_LOG2N} is accepted"
            )
        if passphrase is None:
            raise UsageError("secret key is passphrase-protected: give a passphrase")
        _require_bytes(passphrase, "passphrase")
        key = _scrypt(passphrase, salt, log2n)
        aad = f"{ENCRYPTED_PREFIX}{name}:".encode()
        try:
            seed = ChaCha20Poly1305(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise VerificationError("wrong passphrase or corrupted secret key") from None
        return cls(name, seed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SigningKey):
            return NotImplemented
        return self._name == other._name and hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash((SigningKey, self._name, self._public.raw))

    def __repr__(self) -> str:
        return f"SigningKey(name={self._name!r}, fingerprint={self._public.fingerprint!r})"

    __str__ = __repr__


def parse_any_key_text(text: str, passphrase: bytes | None = None) -> VerifyingKey | SigningKey:
    """Parse any key text, classified by its prefix.

    ``ledger-pub1:`` is a public key text, ``ledger-sec1:`` / ``ledger-sec1-scrypt:`` a
    secret key text; anything else is parsed as a C2SP verifier key. (A verifier key whose
    name starts with one of these prefixes is therefore not accepted here; use
    :meth:`VerifyingKey.from_verifier_key` directly.) One trailing ``"\\n"`` is allowed.

    Args:
        text: The key text.
        passphrase: Used only for an encrypted secret key.

    Returns:
        A :class:`VerifyingKey` or a :class:`SigningKey`.

    Raises:
        FormatError: Malformed text.
        UsageError: Encrypted secret key without a passphrase, or wrong argument types.
        VerificationError: Wrong passphrase or corrupted encrypted key.
    """
    body = _strip_one_newline(_require_str(text, "key text"))
    if body.startswith(PUBLIC_PREFIX):
        return VerifyingKey.from_text(text)
    if body.startswith((SECRET_PREFIX, ENCRYPTED_PREFIX)):
        return SigningKey.from_text(text, passphrase)
    if "+" not in body:
        raise FormatError(
            f"not a key: expected {PUBLIC_PREFIX}<name>:<key>, {SECRET_PREFIX}<name>:<seed>, "
            f"{ENCRYPTED_PREFIX}<name>:<data> or a signed-note verifier key <name>+<id>+<key>"
        )
    return VerifyingKey.from_verifier_key(body)


use_ed25519_backend("auto")  # the package's __init__ applies LEDGER_ED25519_BACKEND
