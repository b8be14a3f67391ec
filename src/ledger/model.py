"""Frozen value types of the ledger: the business model, apart from its wire format.

Decoders in ``endorsement.py`` and ``entry.py`` build these; only ``verify.py`` builds the
``Verified…`` types, so holding one means its signature and links were checked.
"""

from __future__ import annotations

import enum

from attrs import field, frozen

HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32
MAX_TIME = 253_402_300_800
"""Times are seconds since 1970 before 10000-01-01T00:00:00Z (RFC 3339 has four-digit years)."""
CLOCK_SKEW = 86_400
"""How far an organisation's signing time may lie after the log's record time (clocks drift)."""


class Action(enum.IntEnum):
    """What a signed statement says (payload key 1); see ``ledger.payload`` for each one's fields.

    Organisation actions (entry type 1, signed by an organisation key): ENDORSE, WITHDRAW,
    ROTATE (signed by the old key and countersigned by the new one), REVOKE. Log actions
    (entry type 2, signed by the log key): REMOVE, CLOSE.
    """

    ENDORSE = 0
    WITHDRAW = 1
    ROTATE = 2
    REVOKE = 3
    REMOVE = 4
    CLOSE = 5


ORGANISATION_ACTIONS = frozenset({Action.ENDORSE, Action.WITHDRAW, Action.ROTATE, Action.REVOKE})
LOG_ACTIONS = frozenset({Action.REMOVE, Action.CLOSE})


class RemovalReason(enum.IntEnum):
    """Why a campaign removed an endorsement (payload key 13 of a REMOVE)."""

    FRAUDULENT = 1
    WITHDRAWN_BY_REQUEST = 2
    MISTAKEN = 3
    DUPLICATE = 4

    @property
    def code(self) -> str:
        """The reason as written on the command line and in reports: ``withdrawn-by-request``."""
        return self.name.lower().replace("_", "-")


class EntryType(enum.IntEnum):
    """The kind of body an entry carries (entry key 3)."""

    GENESIS = 0
    ENDORSEMENT = 1
    """A statement signed by an organisation key (endorse, withdraw, rotate, revoke)."""
    LOG = 2
    """A statement signed by the log key (remove, close)."""


@frozen
class Endorsement:
    """A signed statement's payload, decoded: an organisation's or the log's claim.

    Attributes:
        action: what is said (see ``Action``).
        statement_hash: SHA-256 of the canonical statement text.
        name: the organisation's display name (required to endorse; optional otherwise).
        public_key: the 32-byte Ed25519 key that signs (for ROTATE: the old key).
        signed_at: when the signer signed, in seconds since the epoch (its own claim).
        domain: the organisation's DNS domain, if it gave one (used for key binding).
        url: the organisation's website, if given.
        country: ISO 3166-1 alpha-2 code, if given.
        ref: the entry an action refers to (WITHDRAW: optional; REMOVE: required).
        new_key: ROTATE: the new 32-byte key, which countersigns.
        revoked_key: REVOKE: the key revoked; revoked_from: from when (seconds).
        reason: REMOVE: why; note: REMOVE: optional free text.
    """

    action: Action
    statement_hash: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    name: str | None
    public_key: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    signed_at: int
    domain: str | None = None
    url: str | None = None
    country: str | None = None
    ref: int | None = None
    new_key: bytes | None = None
    revoked_key: bytes | None = None
    revoked_from: int | None = None
    reason: RemovalReason | None = None
    note: str | None = None


@frozen
class SignedEndorsement:
    """A signed statement with its COSE envelope, decoded but not yet verified.

    COSE_Sign1 (tag 18) for every action but ROTATE, which is a COSE_Sign (tag 98) with two
    signatures: the old key's, then the new key's.

    Attributes:
        endorsement: the decoded payload.
        cose: the COSE bytes exactly as the signer produced them.
        key_id: the key id of the (first) signer.
        issuer: the CWT ``iss`` claim.
        subject: the CWT ``sub`` claim (the statement hash as an RFC 6920 ``ni`` URI).
        protected: the serialised protected header of the (first) signature, as received.
        payload: the serialised payload, as received.
        signature: the 64-byte Ed25519 signature of the (first) signer.
        body_protected: COSE_Sign only: the body's protected header.
        cosigner: COSE_Sign only: (key id, protected header, signature) of the second signer.
    """

    endorsement: Endorsement
    cose: bytes = field(repr=False)
    key_id: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    issuer: str
    subject: str
    protected: bytes = field(repr=False)
    payload: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    body_protected: bytes | None = field(default=None, repr=False)
    cosigner: tuple[bytes, bytes, bytes] | None = field(default=None, repr=False)


@frozen
class Genesis:
    """The body of entry 0: what is being endorsed, and who runs the log.

    Attributes:
        title: the statement's title.
        statement_text: the canonical statement text (canonical text v1).
        origin: the log origin, also the name of the log key and the checkpoint's first line.
        log_key: the log's verifier key, in C2SP signed-note verifier-key form.
    """

    title: str
    statement_text: str = field(repr=False)
    origin: str
    log_key: str


@frozen
class Entry:
    """One ledger entry, decoded.

    Attributes:
        seq: 0-based sequence number.
        prev: leaf hash of the previous entry (32 zero bytes for entry 0).
        type: genesis or endorsement.
        statement_hash: the ledger's statement hash, repeated in every entry.
        recorded_at: when the log recorded the entry, in seconds since the epoch.
        body: the genesis data, or the COSE_Sign1 bytes of an endorsement.
        version: the entry format version.
    """

    seq: int
    prev: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    type: EntryType
    statement_hash: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    recorded_at: int
    body: Genesis | bytes = field(repr=False)
    version: int = 1


@frozen
class VerifiedEndorsement:
    """An endorsement whose signature, key id and statement binding were verified."""

    signed: SignedEndorsement

    @property
    def endorsement(self) -> Endorsement:
        """The verified payload."""
        return self.signed.endorsement


@frozen
class VerifiedEntry:
    """An entry whose encoding, sequence, link and (for endorsements) signature verified.

    Attributes:
        entry: the decoded entry.
        leaf_hash: RFC 9162 leaf hash of the entry bytes.
        raw: the entry bytes as stored.
        endorsement: the verified endorsement, for endorsement entries.
    """

    entry: Entry
    leaf_hash: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    raw: bytes = field(repr=False)
    endorsement: VerifiedEndorsement | None = None

    @property
    def seq(self) -> int:
        """The entry's sequence number."""
        return self.entry.seq


@frozen
class CheckpointInfo:
    """A checkpoint whose log signature verified, summarised for reports.

    Attributes:
        origin: the log origin.
        size: number of entries it covers.
        root: its RFC 9162 root.
        witnesses: (witness name, cosignature time) of each verified cosignature.
    """

    origin: str
    size: int
    root: bytes = field(repr=lambda b: b.hex()[:16] + "…")
    witnesses: tuple[tuple[str, int], ...] = ()
