"""Reproduction: OpenSSL and libsodium disagree on an Ed25519 signature whose R is small-order.

    python bench/repro_small_order_r.py

A key owner can sign with R = the identity point (nonce r = 0, S = k * a mod L). The cofactorless
equation holds, so OpenSSL (``cryptography``) accepts it; libsodium (PyNaCl) refuses every
signature whose R has small order. This was why the library's rule in ``ledger.keys`` had to
refuse small-order (and non-canonical) R itself, before either backend: the script prints what
each raw backend does, then what ``ledger.VerifyingKey.verify`` does with each backend (refused
with both), and exits 1 if the library's verdicts differ. Needs PyNaCl (``pip install pynacl``).
"""

from __future__ import annotations

import hashlib
import sys

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import ledger
import ledger.keys

L = 2**252 + 27742317777372353535851937790883648493


def small_order_r_signature(seed: bytes, message: bytes) -> tuple[bytes, bytes]:
    """(public key, signature with R = identity) for the key of ``seed``."""
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8  # RFC 8032 clamping
    scalar |= 1 << 254
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    r_point = bytes([1]) + bytes(31)  # encoding of the identity point (order 1)
    k = int.from_bytes(hashlib.sha512(r_point + public + message).digest(), "little") % L
    return public, r_point + ((k * scalar) % L).to_bytes(32, "little")


def main() -> int:
    """Verify one crafted signature with both backends and say what each did."""
    message = b"any message the key owner chooses"
    public, signature = small_order_r_signature(
        hashlib.sha256(b"small-order R demo").digest(), message
    )
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        openssl = "accepted"
    except InvalidSignature:
        openssl = "rejected"
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
        sodium = "accepted"
    except nacl.exceptions.BadSignatureError:
        sodium = "rejected"
    print(f"OpenSSL alone (cryptography): {openssl}")
    print(f"libsodium alone (PyNaCl crypto_sign_open): {sodium}")
    verdicts = set()
    for backend in ledger.keys.ED25519_BACKENDS:
        ledger.use_ed25519_backend(backend)
        try:
            ledger.VerifyingKey.from_raw("demo", public).verify(message, signature)
            verdict = "accepted"
        except ledger.VerificationError as exc:
            verdict = f"rejected ({exc})"
        verdicts.add(verdict)
        print(f"ledger.VerifyingKey.verify with {backend}: {verdict}")
    return 0 if len(verdicts) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
