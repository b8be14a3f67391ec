"""The stateless half of checking an entry: everything that depends on its bytes alone.

``examine`` hashes one entry, decodes it, and for an endorsement entry decodes the signed
statement, verifies its signatures and bindings (``cose.verify_endorsement``) and compares it
with the entry (same statement hash, signed no later than a day after it was recorded). What
needs the entries before it (sequence, links, record times, the genesis statement, the
lifecycle rules, the tree) is ``verify.EntryChecker``'s, which consumes the results in order.

The split lets ``ledger.parallel`` run ``examine`` in worker processes: ``to_wire`` turns a
result into a tuple of plain values (cheap to pickle; no attrs objects) and ``from_wire`` builds
the same result again. ``EntryChecker.feed`` runs the very same two halves in one process, so
one job or several report exactly the same problems with the same messages.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from ledger.cose import decode_endorsement, verify_endorsement
from ledger.entry import decode_entry
from ledger.errors import FormatError, VerificationError
from ledger.keys import VerifyingKey
from ledger.model import (
    CLOCK_SKEW,
    Action,
    Endorsement,
    Entry,
    EntryType,
    RemovalReason,
    SignedEndorsement,
)

Wire = tuple[Any, ...]
"""``to_wire``'s form of an ``Examined``: only bytes, str, int, None and tuples of them."""


class Examined(NamedTuple):
    """What ``examine`` found in one entry.

    Attributes:
        leaf_hash: RFC 9162 leaf hash of the entry bytes.
        entry: the decoded entry, or None if it cannot be decoded.
        error: why the entry cannot be decoded (None if it can).
        problems: ``(check, message)`` found in the body, in the order they are reported.
        signed: the signed statement, when it decoded and its signatures verified.
        signer: its (first) signer's key, with ``signed``.
    """

    leaf_hash: bytes
    entry: Entry | None
    error: str | None = None
    problems: tuple[tuple[str, str], ...] = ()
    signed: SignedEndorsement | None = None
    signer: VerifyingKey | None = None


def examine(seq: int, raw: bytes) -> Examined:
    """Check what entry ``seq`` says about itself; never raises on bad data.

    Entry 0 (the genesis entry) is only hashed and decoded here: its checks set the state the
    other entries are checked against, and are ``EntryChecker``'s.
    """
    leaf_hash = hashlib.sha256(b"\x00" + raw).digest()  # merkle.hash_leaf, inlined: hot path
    try:
        entry = decode_entry(raw)
    except FormatError as exc:
        return Examined(leaf_hash, None, f"cannot be decoded: {exc}")
    if seq == 0:
        return Examined(leaf_hash, entry)
    body = entry.body
    if entry.type is EntryType.GENESIS or not isinstance(body, bytes):
        return Examined(leaf_hash, entry, problems=(("encoding", "a second genesis entry"),))
    try:
        signed = decode_endorsement(body)
        signer = verify_endorsement(signed)
    except FormatError as exc:
        problem = ("encoding", f"endorsement cannot be decoded: {exc}")
        return Examined(leaf_hash, entry, problems=(problem,))
    except VerificationError as exc:
        problem = ("signatures", f"endorsement does not verify: {exc}")
        return Examined(leaf_hash, entry, problems=(problem,))
    endorsement = signed.endorsement
    problems: tuple[tuple[str, str], ...] = ()
    if endorsement.statement_hash != entry.statement_hash:
        problems += (
            (
                "statement",
                "endorsement is for a different statement "
                f"(sha256:{endorsement.statement_hash.hex()[:16]}…)",
            ),
        )
    if endorsement.signed_at > entry.recorded_at + CLOCK_SKEW:
        problems += (
            (
                "times",
                f"signed at {endorsement.signed_at}, more than a day "
                f"after the log recorded it ({entry.recorded_at})",
            ),
        )
    return Examined(leaf_hash, entry, None, problems, signed, signer)


def to_wire(examined: Examined) -> Wire:
    """``examined`` as plain values (see ``from_wire``)."""
    leaf_hash, entry, error, problems, signed, signer = examined
    if entry is None:
        return (leaf_hash, None, error, problems, None, None)
    wire_entry = (
        entry.seq,
        entry.prev,
        int(entry.type),
        entry.statement_hash,
        entry.recorded_at,
        entry.body,  # the COSE bytes (a Genesis only in a damaged ledger: rare)
        entry.version,
    )
    if signed is None or signer is None:
        return (leaf_hash, wire_entry, error, problems, None, None)
    e = signed.endorsement
    wire_signed = (
        (
            int(e.action),
            e.statement_hash,
            e.name,
            e.public_key,
            e.signed_at,
            e.domain,
            e.url,
            e.country,
            e.ref,
            e.new_key,
            e.revoked_key,
            e.revoked_from,
            None if e.reason is None else int(e.reason),
            e.note,
        ),
        signed.key_id,
        signed.issuer,
        signed.subject,
        signed.protected,
        signed.payload,
        signed.signature,
        signed.body_protected,
        signed.cosigner,
    )
    wire_signer = (signer.name, signer.raw, signer.key_id, signer.fingerprint)
    return (leaf_hash, wire_entry, error, problems, wire_signed, wire_signer)


def from_wire(wire: Wire) -> Examined:
    """The ``Examined`` that ``to_wire`` was given (its values were checked where it ran)."""
    leaf_hash, wire_entry, error, problems, wire_signed, wire_signer = wire
    if wire_entry is None:
        return Examined(leaf_hash, None, error, problems)
    seq, prev, type_code, statement_hash, recorded_at, body, version = wire_entry
    entry = Entry(seq, prev, EntryType(type_code), statement_hash, recorded_at, body, version)
    if wire_signed is None:
        return Examined(leaf_hash, entry, error, problems)
    fields, key_id, issuer, subject, protected, payload, signature, body_protected, cosigner = (
        wire_signed
    )
    (action, statement_hash, name, public_key, signed_at, domain, url, country, ref) = fields[:9]
    new_key, revoked_key, revoked_from, reason, note = fields[9:]
    endorsement = Endorsement(
        Action(action),
        statement_hash,
        name,
        public_key,
        signed_at,
        domain,
        url,
        country,
        ref,
        new_key,
        revoked_key,
        revoked_from,
        None if reason is None else RemovalReason(reason),
        note,
    )
    signed = SignedEndorsement(
        endorsement,
        body,
        key_id,
        issuer,
        subject,
        protected,
        payload,
        signature,
        body_protected,
        cosigner,
    )
    signer = VerifyingKey._checked(*wire_signer)  # built and checked by examine
    return Examined(leaf_hash, entry, error, problems, signed, signer)
