"""The lifecycle of endorsements: one pure state machine for ``append`` and ``verify``.

History is never rewritten: a withdrawal, a removal, a key rotation or revocation, or the
closing of the statement is a new signed entry, and the current list is computed from the
history. ``apply`` decides whether an entry is allowed in the state the entries before it
left, and how it changes that state. ``verify`` runs it over a ledger with an in-memory
``StateView``; ``append`` runs it under the store's write lock with a SQLite-backed one, so the
two can never disagree about what is allowed.

An *organisation* is the chain of keys linked by rotations; it is numbered by the entry where
its first key first appeared. Rules, in the order they are checked:

- Nothing follows a CLOSE.
- REMOVE and CLOSE are entries of type 2, signed by the log key; the other actions are entries
  of type 1, signed by an organisation key.
- A key revoked from time T signs nothing dated T or later.
- ENDORSE: a new key starts a new organisation; a known key must be its organisation's current
  key, and the organisation must have no live endorsement. One live endorsement per
  organisation. A name equal or confusable (UTS #39) with a live one is flagged, not refused.
- WITHDRAW: by the organisation's current key, of its live endorsement (``ref``, if given, must
  name that entry). After a rotation the new key withdraws: the endorsement carried over.
- ROTATE: by the organisation's current key, countersigned by the new key, which must be unused.
  The live endorsement carries over to the new key.
- REVOKE: by the revoked key itself or by its organisation's current key. A live endorsement
  signed by the revoked key at or after the revocation time ends (status "revoked").
- REMOVE: ``ref`` must be a live endorsement; it ends with the campaign's reason.
"""

from __future__ import annotations

from typing import Protocol

from attrs import evolve, frozen

from ledger.errors import VerificationError
from ledger.keys import VerifyingKey
from ledger.lookalike import same_name, skeletons
from ledger.model import (
    LOG_ACTIONS,
    Action,
    EntryType,
    SignedEndorsement,
)
from ledger.timefmt import format_time


@frozen
class KeyRecord:
    """What the state knows of one key: its organisation, and whether it is revoked."""

    key_id: bytes
    org: int
    revoked_from: int | None = None


@frozen
class OrgRecord:
    """One organisation: its current key and its live endorsement, if any.

    Attributes:
        org: the organisation's number (the entry where its first key first appeared).
        current_key: key id of its current key.
        live: the entry of its live endorsement.
        endorsed_with: key id that signed the live endorsement.
        endorsed_signed_at: when the live endorsement was signed.
        name: the name the live endorsement gives.
        last_signed_at: the signing time of its latest accepted statement: the next one must
            be signed later, so an old signature cannot be replayed (to undo a withdrawal).
    """

    org: int
    current_key: bytes
    live: int | None = None
    endorsed_with: bytes | None = None
    endorsed_signed_at: int | None = None
    name: str | None = None
    last_signed_at: int | None = None


class StateView(Protocol):
    """Where the lifecycle state lives: memory while verifying, the store while appending."""

    def key(self, key_id: bytes) -> KeyRecord | None:
        """The record of a key, if the ledger has seen it."""
        ...

    def org(self, org: int) -> OrgRecord:
        """The record of an organisation the ledger has seen."""
        ...

    def put_key(self, record: KeyRecord) -> None:
        """Create or replace a key's record."""
        ...

    def put_org(self, record: OrgRecord) -> None:
        """Create or replace an organisation's record."""
        ...

    def org_of_live_entry(self, seq: int) -> int | None:
        """The organisation whose live endorsement is entry ``seq``, if any."""
        ...

    def live_orgs_with_skeleton(self, name_skeleton: str) -> list[int]:
        """Organisations whose live endorsement's name has this skeleton (``lookalike``)."""
        ...

    def closed_at(self) -> int | None:
        """The entry that closed the statement, if any."""
        ...

    def set_closed(self, seq: int) -> None:
        """Record the entry that closes the statement."""
        ...


@frozen
class Outcome:
    """How an allowed entry changed the state.

    Attributes:
        action: the entry's action.
        org: the organisation concerned (None for CLOSE).
        ended: the live endorsement entry that this entry ended, if any.
        new_key: for ROTATE, the new key (the endorsement carries over to it).
        flags: warnings that do not refuse the entry (look-alike names).
    """

    action: Action
    org: int | None
    ended: int | None = None
    new_key: VerifyingKey | None = None
    flags: tuple[str, ...] = ()


def apply(
    view: StateView,
    *,
    seq: int,
    entry_type: EntryType,
    signed: SignedEndorsement,
    signer: VerifyingKey,
    log_key: VerifyingKey | None,
) -> Outcome:
    """Apply one verified signed entry to the state, or refuse it.

    Args:
        view: the state after the entries before ``seq``.
        seq: the entry's number.
        entry_type: the entry's type (1 organisation, 2 log).
        signed: the decoded statement; its signatures were verified by the caller.
        signer: its (first) signer's key.
        log_key: the ledger's log key (from the genesis entry).

    Returns:
        What changed; the view has been updated.

    Raises:
        VerificationError: the entry is not allowed here; the view is unchanged.
    """
    closed = view.closed_at()
    if closed is not None:
        raise VerificationError(f"the statement was closed at entry {closed}; nothing may follow")
    action = signed.endorsement.action
    if (action in LOG_ACTIONS) != (entry_type is EntryType.LOG):
        kind = "a log entry (type 2)" if action in LOG_ACTIONS else "an organisation entry"
        raise VerificationError(f"a {action.name.lower()} must be {kind}")
    if action in LOG_ACTIONS:
        if log_key is None or signer.raw != log_key.raw:
            raise VerificationError(f"a {action.name.lower()} must be signed by the log key")
        return _apply_log(view, seq, signed)
    record = view.key(signer.key_id)
    when = signed.endorsement.signed_at
    if record is not None and record.revoked_from is not None and when >= record.revoked_from:
        raise VerificationError(
            f"key {signer.fingerprint} is revoked from "
            f"{format_time(record.revoked_from)}; this was signed later"
        )
    if action is Action.ENDORSE:
        return _endorse(view, seq, signed, signer, record)
    if record is None:
        raise VerificationError(f"key {signer.fingerprint} has never endorsed this statement")
    org = view.org(record.org)
    if action is Action.REVOKE:
        return _revoke(view, signed, signer, record, org)
    if org.current_key != signer.key_id:
        raise VerificationError(
            f"key {signer.fingerprint} was replaced by a rotation; "
            "sign with the organisation's current key"
        )
    if action is Action.WITHDRAW:
        return _withdraw(view, signed, org)
    return _rotate(view, signed, org)


def _check_order(org: OrgRecord, when: int) -> None:
    # An organisation's statements are ordered by their signing times: a statement signed no
    # later than its previous accepted one is refused, so an old endorsement or withdrawal
    # (the same bytes, replayed) cannot undo a later change.
    if org.last_signed_at is not None and when <= org.last_signed_at:
        raise VerificationError(
            f"signed at {format_time(when)}, not after this organisation's previous statement "
            f"({format_time(org.last_signed_at)}): an old signature cannot be replayed"
        )


def _apply_log(view: StateView, seq: int, signed: SignedEndorsement) -> Outcome:
    endorsement = signed.endorsement
    if endorsement.action is Action.CLOSE:
        view.set_closed(seq)
        return Outcome(Action.CLOSE, None)
    ref = endorsement.ref
    org_number = None if ref is None else view.org_of_live_entry(ref)
    if ref is None or org_number is None:
        raise VerificationError(f"entry {ref} is not a live endorsement: nothing to remove")
    view.put_org(_ended(view.org(org_number)))
    return Outcome(Action.REMOVE, org_number, ended=ref)


def _endorse(
    view: StateView,
    seq: int,
    signed: SignedEndorsement,
    signer: VerifyingKey,
    record: KeyRecord | None,
) -> Outcome:
    endorsement = signed.endorsement
    if record is None:
        org = OrgRecord(org=seq, current_key=signer.key_id)
        view.put_key(KeyRecord(signer.key_id, seq))
    else:
        org = view.org(record.org)
        if org.current_key != signer.key_id:
            raise VerificationError(
                f"key {signer.fingerprint} was replaced by a rotation; "
                "endorse with the organisation's current key"
            )
        if org.live is not None:
            raise VerificationError(
                f"key {signer.fingerprint} already endorsed at entry {org.live}"
            )
        _check_order(org, endorsement.signed_at)
    name = endorsement.name or ""
    flags = tuple(_lookalike_flags(view, name, org.org))
    view.put_org(
        evolve(
            org,
            live=seq,
            endorsed_with=signer.key_id,
            endorsed_signed_at=endorsement.signed_at,
            name=name,
            last_signed_at=endorsement.signed_at,
        )
    )
    return Outcome(Action.ENDORSE, org.org, flags=flags)


def _lookalike_flags(view: StateView, name: str, own: int) -> list[str]:
    flags = []
    others = sorted({org for key in skeletons(name) for org in view.live_orgs_with_skeleton(key)})
    for other in others:
        record = view.org(other)
        if other == own or record.name is None:
            continue
        relation = "the same name as" if same_name(name, record.name) else "a name that looks like"
        flags.append(
            f"{relation} the endorsement at entry {record.live} ({record.name!r}) but another key"
        )
    return flags


def _withdraw(view: StateView, signed: SignedEndorsement, org: OrgRecord) -> Outcome:
    ref = signed.endorsement.ref
    if org.live is None:
        raise VerificationError("this organisation has no live endorsement to withdraw")
    if ref is not None and ref != org.live:
        raise VerificationError(
            f"entry {ref} is not this organisation's live endorsement (that is entry {org.live})"
        )
    _check_order(org, signed.endorsement.signed_at)
    view.put_org(evolve(_ended(org), last_signed_at=signed.endorsement.signed_at))
    return Outcome(Action.WITHDRAW, org.org, ended=org.live)


def _rotate(view: StateView, signed: SignedEndorsement, org: OrgRecord) -> Outcome:
    raw = signed.endorsement.new_key
    assert raw is not None  # the payload rules require it for a rotation
    new_key = VerifyingKey.from_raw(raw.hex()[:16], raw)
    if view.key(new_key.key_id) is not None:
        raise VerificationError(f"the new key {new_key.fingerprint} is already in use")
    _check_order(org, signed.endorsement.signed_at)
    view.put_key(KeyRecord(new_key.key_id, org.org))
    view.put_org(
        evolve(org, current_key=new_key.key_id, last_signed_at=signed.endorsement.signed_at)
    )
    return Outcome(Action.ROTATE, org.org, new_key=new_key)


def _revoke(
    view: StateView,
    signed: SignedEndorsement,
    signer: VerifyingKey,
    record: KeyRecord,
    org: OrgRecord,
) -> Outcome:
    endorsement = signed.endorsement
    raw, since = endorsement.revoked_key, endorsement.revoked_from
    # The payload rules require both for a revocation.
    assert raw is not None
    assert since is not None
    target = VerifyingKey.from_raw(raw.hex()[:16], raw)
    target_record = view.key(target.key_id)
    if target_record is None or target_record.org != record.org:
        raise VerificationError(f"key {target.fingerprint} is not a key of this organisation")
    if signer.key_id not in (target.key_id, org.current_key):
        raise VerificationError(
            "a revocation is signed by the revoked key itself or by the organisation's current key"
        )
    _check_order(org, endorsement.signed_at)
    earliest = (
        since if target_record.revoked_from is None else min(since, target_record.revoked_from)
    )
    view.put_key(evolve(target_record, revoked_from=earliest))
    ends_live = (
        org.live is not None
        and org.endorsed_with == target.key_id
        and org.endorsed_signed_at is not None
        and org.endorsed_signed_at >= earliest
    )
    stamped = evolve(org, last_signed_at=endorsement.signed_at)
    view.put_org(_ended(stamped) if ends_live else stamped)
    return Outcome(Action.REVOKE, org.org, ended=org.live if ends_live else None)


def _ended(org: OrgRecord) -> OrgRecord:
    return evolve(org, live=None, endorsed_with=None, endorsed_signed_at=None, name=None)


class MemoryState:
    """A ``StateView`` in memory, for verification: O(keys + organisations)."""

    def __init__(self) -> None:
        """An empty state (before entry 1)."""
        self._keys: dict[bytes, KeyRecord] = {}
        self._orgs: dict[int, OrgRecord] = {}
        self._live: dict[int, int] = {}
        self._skeletons: dict[str, set[int]] = {}
        self._closed: int | None = None

    def key(self, key_id: bytes) -> KeyRecord | None:
        return self._keys.get(key_id)

    def org(self, org: int) -> OrgRecord:
        return self._orgs[org]

    def put_key(self, record: KeyRecord) -> None:
        self._keys[record.key_id] = record

    def put_org(self, record: OrgRecord) -> None:
        old = self._orgs.get(record.org)
        if old is not None and old.live is not None:
            self._live.pop(old.live, None)
            for key in () if old.name is None else skeletons(old.name):
                self._skeletons.get(key, set()).discard(record.org)
        if record.live is not None:
            self._live[record.live] = record.org
            for key in () if record.name is None else skeletons(record.name):
                self._skeletons.setdefault(key, set()).add(record.org)
        self._orgs[record.org] = record

    def org_of_live_entry(self, seq: int) -> int | None:
        return self._live.get(seq)

    def live_orgs_with_skeleton(self, name_skeleton: str) -> list[int]:
        return sorted(self._skeletons.get(name_skeleton, ()))

    def closed_at(self) -> int | None:
        return self._closed

    def set_closed(self, seq: int) -> None:
        self._closed = seq
