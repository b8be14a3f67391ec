"""The list as verification builds it: current signatories, departures and flags.

``lifecycle.apply`` decides what each entry may do; the roster turns its outcomes into what
reports show: who is on the list now (with the key they sign with today, after rotations), who
left and how (withdrawn by the organisation, removed by the campaign with a reason, or revoked),
and the look-alike names worth a human look.

Where the list is kept is a ``RosterBook``: ``MemoryBook`` (dicts and lists) here, or a
temporary SQLite file for large ledgers (``ledger.store.scratch``), chosen by whoever makes the
``Roster``; the roster's rules do not change with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attrs import evolve

from ledger.findings import Departure, Event, Problem, Signatory
from ledger.keys import VerifyingKey
from ledger.lifecycle import MemoryState, Outcome, StateView
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


class RosterBook(Protocol):
    """Where a roster keeps the list: current signatories by organisation, and in order what
    left, what was flagged and (for history) every change."""

    def current(self, org: int) -> Signatory | None:
        """The organisation's current signatory, if it is on the list."""
        ...

    def put_current(self, org: int, signatory: Signatory) -> None:
        """Put (or replace) the organisation's signatory on the list."""
        ...

    def pop_current(self, org: int) -> Signatory | None:
        """Take the organisation off the list; its signatory, if it was on it."""
        ...

    def add_departure(self, departure: Departure) -> None:
        """Record a departure (after the ones before it)."""
        ...

    def add_flag(self, flag: Problem) -> None:
        """Record a flag."""
        ...

    def add_event(self, event: Event) -> None:
        """Record a change to the list."""
        ...

    def name(self, org: int) -> str | None:
        """The name the organisation last signed, as recorded with ``set_name``."""
        ...

    def set_name(self, org: int, name: str) -> None:
        """Record the name the organisation last signed."""
        ...

    def signatories(self) -> Sequence[Signatory]:
        """The current signatories in the order they endorsed (entry order)."""
        ...

    def departures(self) -> Sequence[Departure]:
        """The departures, in order."""
        ...

    def flags(self) -> Sequence[Problem]:
        """The flags, in order."""
        ...

    def events(self) -> Sequence[Event]:
        """The changes recorded, in order."""
        ...


class MemoryBook:
    """A ``RosterBook`` in dicts and lists: ~1 KB per signatory (see docs/performance.md)."""

    def __init__(self) -> None:
        """An empty list."""
        self._current: dict[int, Signatory] = {}
        self._departed: list[Departure] = []
        self._flags: list[Problem] = []
        self._events: list[Event] = []
        self._names: dict[int, str] = {}

    def current(self, org: int) -> Signatory | None:
        return self._current.get(org)

    def put_current(self, org: int, signatory: Signatory) -> None:
        self._current[org] = signatory

    def pop_current(self, org: int) -> Signatory | None:
        return self._current.pop(org, None)

    def add_departure(self, departure: Departure) -> None:
        self._departed.append(departure)

    def add_flag(self, flag: Problem) -> None:
        self._flags.append(flag)

    def add_event(self, event: Event) -> None:
        self._events.append(event)

    def name(self, org: int) -> str | None:
        return self._names.get(org)

    def set_name(self, org: int, name: str) -> None:
        self._names[org] = name

    def signatories(self) -> tuple[Signatory, ...]:
        return tuple(sorted(self._current.values(), key=lambda s: s.seq))

    def departures(self) -> tuple[Departure, ...]:
        return tuple(self._departed)

    def flags(self) -> tuple[Problem, ...]:
        return tuple(self._flags)

    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)


class Roster:
    """Signatories and departures, kept in step with the lifecycle state.

    Attributes:
        state: the lifecycle state (``lifecycle.apply`` reads and updates it).
        book: where the list is kept.
        closed_at: the entry that closed the statement, if any.
    """

    def __init__(
        self,
        *,
        keep_events: bool = False,
        state: StateView | None = None,
        book: RosterBook | None = None,
    ) -> None:
        """An empty list; ``keep_events`` also keeps every change, for history (O(n) space).

        Args:
            keep_events: record every change (``events``).
            state: an empty lifecycle state (default: a ``MemoryState``).
            book: an empty book (default: a ``MemoryBook``).
        """
        self.keep_events = keep_events
        self.state: StateView = MemoryState() if state is None else state
        self.book: RosterBook = MemoryBook() if book is None else book
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
        book = self.book
        # Read back only when needed: with an on-disk book each read is a query.
        wanted = outcome.action is Action.ROTATE or outcome.ended is not None
        current = book.current(org) if wanted and org is not None else None
        if outcome.action is Action.ENDORSE and org is not None:
            current = Signatory(
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
            book.put_current(org, current)
            for flag in outcome.flags:
                book.add_flag(Problem(seq, "names", flag))
        elif outcome.action is Action.ROTATE and org is not None and current and outcome.new_key:
            key = outcome.new_key
            current = evolve(
                current, fingerprint=key.fingerprint, key_id=key.key_id, public_key=key.raw
            )
            book.put_current(org, current)
        elif outcome.action is Action.CLOSE:
            self.closed_at = seq
        if self.keep_events:
            book.add_event(self._event(seq, entry, signed, signer, outcome))
        if outcome.ended is not None and org is not None and current is not None:
            left = current
            book.pop_current(org)
            reason = None
            if endorsement.reason is not None:
                reason = endorsement.reason.code
            elif endorsement.revoked_from is not None:
                reason = f"key revoked from {format_time(endorsement.revoked_from)}"
            book.add_departure(
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
            self.book.set_name(outcome.org, endorsement.name)
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
        name = None if outcome.org is None else self.book.name(outcome.org)
        return Event(
            seq=seq,
            recorded_at=entry.recorded_at,
            kind=_KIND[outcome.action],
            org=outcome.org,
            name=name,
            fingerprint=signer.fingerprint,
            detail=detail,
        )

    def signatories(self) -> Sequence[Signatory]:
        """Current signatories in the order they endorsed."""
        return self.book.signatories()

    @property
    def departed(self) -> Sequence[Departure]:
        """Signatories no longer on the list, in order."""
        return self.book.departures()

    @property
    def flags(self) -> Sequence[Problem]:
        """Look-alike names, in order."""
        return self.book.flags()

    @property
    def events(self) -> Sequence[Event]:
        """Every change to the list (when ``keep_events``), in order."""
        return self.book.events()
