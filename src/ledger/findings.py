"""What verification finds, as values: problems, signatories, departures, and the report.

Only ``verify`` and ``audit`` build reports; renderers (text, JSON, HTML, Markdown) read them.

A report's lists (signatories, departures, flags, events) are read-only sequences: tuples for
small ledgers, views of a temporary SQLite file for large ones (``ledger.store.scratch``), so
that a list of a million signatories is streamed, never held. Such a report is usable until
``Report.close`` (or the end of its ``with`` block, or until it is garbage collected); reading
its lists after that raises ``UsageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar, overload, runtime_checkable

from attrs import frozen

from ledger.model import CheckpointInfo, Genesis
from ledger.timefmt import format_time

ENTRY_CHECKS: Final = (
    "encoding",
    "sequence",
    "links",
    "statement",
    "signatures",
    "signers",
    "times",
)
CHECKS: Final = (*ENTRY_CHECKS, "bundle", "checkpoint", "consistency", "witnesses")
MAX_PROBLEMS: Final = 1000

T = TypeVar("T")
U = TypeVar("U")


@runtime_checkable
class Closeable(Protocol):
    """A sequence that holds a resource (the temporary file behind a large report's lists)."""

    def close(self) -> None:
        """Release the resource; the sequence is unusable afterwards."""
        ...


class MappedSequence(Sequence[U]):
    """``function`` applied to each item of ``base`` when it is read, never stored.

    How ``binding.apply_evidence`` sets the identity of a million signatories without a
    second copy of the list. ``close`` closes ``base``.
    """

    def __init__(self, base: Sequence[T], function: Callable[[T], U]) -> None:
        """A view of ``base`` through ``function``."""
        self._base = base
        self._function = function

    def __len__(self) -> int:
        return len(self._base)

    @overload
    def __getitem__(self, index: int) -> U: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[U]: ...
    def __getitem__(self, index: int | slice) -> U | Sequence[U]:
        if isinstance(index, slice):
            return tuple(self._function(item) for item in self._base[index])
        return self._function(self._base[index])

    def __iter__(self) -> Iterator[U]:
        return map(self._function, self._base)

    def close(self) -> None:
        """Close the underlying sequence, if it holds a resource."""
        if isinstance(self._base, Closeable):
            self._base.close()


@frozen
class Problem:
    """One failed check: which entry (None for the ledger as a whole), which check, why."""

    seq: int | None
    check: str
    message: str

    def __str__(self) -> str:
        return self.message if self.seq is None else f"entry {self.seq}: {self.message}"


@frozen
class Signatory:
    """A current signatory, from a verified endorsement entry.

    Attributes:
        seq: the entry of the endorsement.
        name, domain, url, country: as the organisation signed them.
        fingerprint, key_id, public_key: the key that signed (after rotations: the current key).
        signed_at: the organisation's signing time; recorded_at: the log's record time.
        identity: "self-asserted", or "confirmed" when evidence shows the organisation's
            domain publishes the key (see ``identity_note``).
        identity_note: where and when the key was found published, when confirmed.
    """

    seq: int
    name: str
    domain: str | None
    url: str | None
    country: str | None
    fingerprint: str
    key_id: bytes
    signed_at: int
    recorded_at: int
    public_key: bytes = b""
    identity: str = "self-asserted"
    identity_note: str | None = None


@frozen
class Departure:
    """A signatory no longer on the list, and why.

    Attributes:
        seq: the entry of the endorsement that ended.
        name: the organisation's name as it signed it.
        fingerprint: the key that had endorsed.
        how: "withdrawn" (by the organisation), "removed" (by the campaign), or "revoked"
            (the key was revoked from a time before the endorsement was signed).
        ended_at_entry: the entry that ended it.
        reason: the campaign's reason code for a removal, or the revocation time.
        note: free text the campaign gave with a removal.
        when: the record time of the ending entry.
    """

    seq: int
    name: str
    fingerprint: str
    how: str
    ended_at_entry: int
    when: int
    reason: str | None = None
    note: str | None = None


@frozen
class Event:
    """One change to the list, for ``ledger history``.

    Attributes:
        seq: the entry.
        recorded_at: the log's record time.
        kind: "endorsed", "withdrew", "rotated key", "revoked key", "removed" or "closed".
        org: the organisation's number (the entry where its first key appeared), if any.
        name: the organisation's name as last signed, if known.
        fingerprint: the key that signed the entry.
        detail: what else the entry says (a reason, a new key, a revocation time).
    """

    seq: int
    recorded_at: int
    kind: str
    org: int | None
    name: str | None
    fingerprint: str
    detail: str = ""

    def describe(self) -> str:
        """One line for people."""
        detail = f": {self.detail}" if self.detail else ""
        if self.kind in ("removed", "closed"):
            whose = f" the endorsement of {self.name}" if self.name else ""
            return f"the campaign (log key {self.fingerprint}){whose}{detail}"
        who = self.name or f"organisation of entry {self.org}"
        return f"{who} (key {self.fingerprint}){detail}"

    def to_json(self) -> dict[str, Any]:
        """The event as JSON."""
        return {
            "entry": self.seq,
            "recorded_at": format_time(self.recorded_at),
            "kind": self.kind,
            "org": self.org,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "detail": self.detail,
        }


@frozen
class Report:
    """What verification found. ``ok`` is true only when no check failed.

    Attributes:
        size: number of entries read.
        genesis: the genesis body, when entry 0 decoded.
        statement_hash: the ledger's statement hash, when entry 0 decoded.
        statement_checked: True when a separately given statement text matched, False when it
            did not, None when none was given.
        problems: every failure found (capped at ``MAX_PROBLEMS``; ``problems_truncated`` says).
        signatories: current signatories from verified entries, in entry order (a read-only
            sequence: a tuple, or for a large ledger a view of a temporary file, usable until
            the report is closed).
        departed: signatories no longer on the list (withdrawn, removed, revoked), in order.
        flags: findings that are not failures but deserve a human look (look-alike names).
        closed_at: the entry that closed the statement to new signatories, if any.
        events: every change to the list, when asked for (``keep_events``; history, diff).
        root: RFC 9162 Merkle root of all the entries read.
        checks_run: the checks that ran (anchor checks run only with a checkpoint, a saved
            checkpoint or a policy).
        mode: "full" (every entry checked) or "incremental" (only the entries after a
            checkpoint the reader trusts; see ``entries_from``).
        entries_from: the first entry whose signature was checked (0 in full mode).
        checkpoint: the ledger's latest checkpoint, if one verified.
        saved_checkpoint: the reader's saved checkpoint, if one was given and verified.
        policy_explanation: how the witness policy was met, when one was given.
        failed_checks: names of the checks that failed (a subset of ``CHECKS``).
    """

    size: int
    root: bytes
    genesis: Genesis | None
    statement_hash: bytes | None
    statement_checked: bool | None
    problems: tuple[Problem, ...]
    problems_truncated: bool
    signatories: Sequence[Signatory]
    checks_run: frozenset[str] = frozenset(ENTRY_CHECKS)
    mode: str = "full"
    entries_from: int = 0
    checkpoint: CheckpointInfo | None = None
    saved_checkpoint: CheckpointInfo | None = None
    policy_explanation: str | None = None
    departed: Sequence[Departure] = ()
    flags: Sequence[Problem] = ()
    closed_at: int | None = None
    events: Sequence[Event] = ()

    @property
    def ok(self) -> bool:
        """True when every check passed and there was at least the genesis entry."""
        return not self.problems and self.genesis is not None

    @property
    def failed_checks(self) -> frozenset[str]:
        """The names of the checks that failed."""
        return frozenset(problem.check for problem in self.problems)

    def close(self) -> None:
        """Delete the temporary file behind the lists of a large ledger's report, if any.

        Reports made with ``attrs.evolve`` from this one share its lists, and close with it.
        Closing twice, or a report of tuples, does nothing. Without it the file goes when the
        last list referring to it is garbage collected.
        """
        for items in (self.signatories, self.departed, self.flags, self.events):
            if isinstance(items, Closeable):
                items.close()

    def __enter__(self) -> Report:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
