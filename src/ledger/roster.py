"""The list as verification builds it: current signatories, departures and flags.

``lifecycle.apply`` decides what each entry may do; the roster turns its outcomes into what
reports show: who is on the list now (with the key they sign with today, after rotations), who
left and how (withdrawn by the organisation, removed by the campaign with a reason, or revoked),
and the look-alike names worth a human look.
"""

from __future__ import annotations

from attrs import evolve

from ledger.findings import Departure, Event, Problem, Signatory
from ledger.keys import VerifyingKey
from ledger.lifecycle import MemoryState, Outcome
from ledger.model import Action, Entry, SignedEndorsement
from ledger.timefmt import format_time

_HOW = {Action.WITHDRAW: "withdrawn", Action.REMOVE: "removed", Action.REVOKE: "revoked"}
_KIND = {
    Action.ENDORSE: "endorsed",
    Action.WITHDRAW: "withdrew",
    Action.ROTATE: "rotated key",
    Action.REVOKE: "revoked key",
    Action.REMOVE: "removed",
    Action.CLOSE: "closed",
}


class Roster:
    """Signatories and departures, kept in step with a ``MemoryState``."""

    def __init__(self, *, keep_events: bool = False) -> None:
        """An empty list; ``keep_events`` also keeps every change, for history (O(n) memory)."""
        self.keep_events = keep_events
        self.events: list[Event] = []
        self.names: dict[int, str] = {}
        self.state = MemoryState()
        self.current: dict[int, Signatory] = {}
        self.departed: list[Departure] = []
        self.flags: list[Problem] = []
        self.closed_at: int | None = None

    def record(
        self,
        seq: int,
        entry: Entry,
        signed: SignedEndorsement,
        signer: VerifyingKey,
        outcome: Outcome,
    ) -> None:
        """Apply the outcome of an allowed entry to the list."""
        endorsement = signed.endorsement
        org = outcome.org
        if outcome.action is Action.ENDORSE and org is not None:
            self.current[org] = Signatory(
                seq=seq,
                name=endorsement.name or "",
                domain=endorsement.domain,
                url=endorsement.url,
                country=endorsement.country,
                fingerprint=signer.fingerprint,
                key_id=signer.key_id,
                public_key=signer.raw,
                signed_at=endorsement.signed_at,
                recorded_at=entry.recorded_at,
            )
            self.flags += [Problem(seq, "names", flag) for flag in outcome.flags]
        elif outcome.action is Action.ROTATE and org in self.current and outcome.new_key:
            key = outcome.new_key
            self.current[org] = evolve(
                self.current[org],
                fingerprint=key.fingerprint,
                key_id=key.key_id,
                public_key=key.raw,
            )
        elif outcome.action is Action.CLOSE:
            self.closed_at = seq
        if self.keep_events:
            self.events.append(self._event(seq, entry, signed, signer, outcome))
        if outcome.ended is not None and org in self.current:
            left = self.current.pop(org)
            reason = None
            if endorsement.reason is not None:
                reason = endorsement.reason.code
            elif endorsement.revoked_from is not None:
                reason = f"key revoked from {format_time(endorsement.revoked_from)}"
            self.departed.append(
                Departure(
                    seq=left.seq,
                    name=left.name,
                    fingerprint=left.fingerprint,
                    how=_HOW[outcome.action],
                    ended_at_entry=seq,
                    when=entry.recorded_at,
                    reason=reason,
                    note=endorsement.note,
                )
            )

    def _event(
        self,
        seq: int,
        entry: Entry,
        signed: SignedEndorsement,
        signer: VerifyingKey,
        outcome: Outcome,
    ) -> Event:
        endorsement = signed.endorsement
        if outcome.org is not None and endorsement.name:
            self.names[outcome.org] = endorsement.name
        detail = ""
        if endorsement.reason is not None:
            detail = f"entry {endorsement.ref}, reason {endorsement.reason.code}"
            detail += f" ({endorsement.note})" if endorsement.note else ""
        elif outcome.new_key is not None:
            detail = f"new key {outcome.new_key.fingerprint}"
        elif endorsement.revoked_from is not None:
            detail = f"revoked from {format_time(endorsement.revoked_from)}"
        elif outcome.ended is not None:
            detail = f"entry {outcome.ended}"
        if outcome.ended is not None and endorsement.reason is None and outcome.ended != seq:
            detail += "" if detail.startswith("entry") else f"; ends entry {outcome.ended}"
        name = None if outcome.org is None else self.names.get(outcome.org)
        return Event(
            seq=seq,
            recorded_at=entry.recorded_at,
            kind=_KIND[outcome.action],
            org=outcome.org,
            name=name,
            fingerprint=signer.fingerprint,
            detail=detail,
        )

    def signatories(self) -> tuple[Signatory, ...]:
        """Current signatories in the order they endorsed."""
        return tuple(sorted(self.current.values(), key=lambda s: s.seq))
