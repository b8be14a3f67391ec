"""Describe any file of the format: an endorsement, an entry or a key, and whether it verifies.

Pure: takes bytes, returns an ordered mapping of display fields. Nothing is trusted: each kind
is decoded strictly, and ``verifies`` is True only when a signature was checked and held.
"""

from __future__ import annotations

from typing import Any

from ledger.cose import decode_endorsement, verify_endorsement
from ledger.entry import decode_entry
from ledger.errors import FormatError, VerificationError
from ledger.keys import PUBLIC_PREFIX, VerifyingKey
from ledger.merkle import hash_leaf
from ledger.model import Genesis

_SQLITE_MAGIC = b"SQLite format 3\x00"


def inspect_bytes(data: bytes) -> dict[str, Any]:
    """Classify and describe a file's bytes.

    Returns:
        Display fields in order; ``kind`` is always present, ``verifies`` is True, False, or
        None (nothing to verify, as for a key).

    Raises:
        FormatError: the bytes are none of the known kinds, or are a malformed one.
    """
    if data.startswith(_SQLITE_MAGIC):
        return {
            "kind": "ledger file (SQLite)",
            "hint": "use `ledger verify` or `ledger list` on it",
            "verifies": None,
        }
    if data[:1] == b"\xd2":
        return _describe_endorsement(data)
    if data[:1] and 0xA0 <= data[0] <= 0xB7:
        return describe_entry(data)
    text = _as_text(data)
    if text.startswith(PUBLIC_PREFIX) or "+" in text.split(":", 1)[0]:
        key = (
            VerifyingKey.from_text(text)
            if text.startswith(PUBLIC_PREFIX)
            else VerifyingKey.from_verifier_key(text.strip())
        )
        return {
            "kind": "public key",
            "name": key.name,
            "public key": key.to_text(),
            "fingerprint": key.fingerprint,
            "verifier key": key.to_verifier_key(),
            "verifies": None,
        }
    if text.startswith("ledger-sec1"):
        return {
            "kind": "secret key (not shown)",
            "encrypted": "-scrypt:" in text[:20],
            "hint": "keep this file private; `ledger key show` prints its public key",
            "verifies": None,
        }
    raise FormatError("not an endorsement, entry or key file of this format")


def _describe_endorsement(data: bytes) -> dict[str, Any]:
    signed = decode_endorsement(data)
    e = signed.endorsement
    info: dict[str, Any] = {
        "kind": "endorsement (COSE_Sign1)",
        "action": e.action.name.lower(),
        "name": e.name,
        "domain": e.domain or "-",
        "url": e.url or "-",
        "country": e.country or "-",
        "statement": f"sha256:{e.statement_hash.hex()}",
        "signed at": e.signed_at,
        "issuer": signed.issuer,
    }
    try:
        key = verify_endorsement(signed)
    except (VerificationError, FormatError) as exc:
        info.update({"verifies": False, "problem": str(exc)})
    else:
        info.update({"fingerprint": key.fingerprint, "verifies": True})
    return info


def describe_entry(data: bytes) -> dict[str, Any]:
    """Describe one entry's bytes (and its endorsement, verified), as ``inspect_bytes`` does."""
    entry = decode_entry(data)
    info: dict[str, Any] = {
        "kind": f"ledger entry ({entry.type.name.lower()})",
        "sequence": entry.seq,
        "prev": entry.prev.hex(),
        "leaf hash": hash_leaf(data).hex(),
        "statement": f"sha256:{entry.statement_hash.hex()}",
        "recorded at": entry.recorded_at,
    }
    if isinstance(entry.body, Genesis):
        info.update(
            {
                "title": entry.body.title,
                "origin": entry.body.origin,
                "log key": entry.body.log_key,
                "verifies": None,
            }
        )
        return info
    inner = _describe_endorsement(entry.body)
    for name, value in inner.items():
        if name != "kind":
            info[name] = value
    return info


def _as_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("not an endorsement, entry or key file of this format") from None
