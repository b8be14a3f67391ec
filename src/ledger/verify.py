"""Verification of a ledger's entries: pure, no I/O, streaming.

``check_entries`` never raises on bad data: it returns a ``Report`` naming every failing entry and
why. ``iter_verified`` raises ``VerificationError`` (or ``FormatError``) at the first problem and
otherwise yields ``VerifiedEntry`` values: only verified data reaches its caller. Both run the
same ``EntryChecker``, so they cannot disagree.

Checks (DESIGN §3), each reported separately: canonical decoding of every entry ("encoding"),
contiguous sequence numbers ("sequence"), every ``prev`` link ("links"), one statement hash
throughout, equal to the hash of the statement text ("statement"), every endorsement signature
and its binding to the statement ("signatures"), one live endorsement per key ("signers"), and
non-decreasing record times ("times").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from ledger.entry import ZERO_HASH
from ledger.errors import FormatError, LedgerError, UsageError, VerificationError
from ledger.examine import Examined, examine
from ledger.findings import (
    CHECKS,
    ENTRY_CHECKS,
    MAX_PROBLEMS,
    Departure,
    Problem,
    Report,
    Signatory,
)
from ledger.keys import VerifyingKey
from ledger.lifecycle import apply
from ledger.merkle import EMPTY_ROOT, CompactRange
from ledger.model import (
    Entry,
    EntryType,
    Genesis,
    VerifiedEndorsement,
    VerifiedEntry,
)
from ledger.roster import Roster
from ledger.statement import canonicalize, canonicalize_text


class EntryChecker:
    """Checks entries one at a time, in order, keeping O(signers) state."""

    def __init__(
        self,
        statement: bytes | None = None,
        *,
        roots_at: Iterable[int] = (),
        keep_events: bool = False,
        roster: Roster | None = None,
    ) -> None:
        """Start before entry 0.

        Args:
            statement: the statement text the reader holds (raw bytes; canonicalised here),
                to compare with the ledger's. None to skip that comparison.
            roots_at: tree sizes at which to record the Merkle root (for checkpoints).
            keep_events: keep every change to the list in ``self.roster.events`` (history).
            roster: an empty roster to build the list in (default: one in memory; a large
                ledger's caller gives one on disk, ``ledger.store.scratch.roster_for``).
                ``keep_events`` is ignored when it is given.
        """
        self.tree = CompactRange()
        self._wanted_roots = frozenset(roots_at)
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self._wanted_roots else {}
        self._given_statement = statement
        self.statement_checked: bool | None = None
        self.expected_seq = 0
        self.prev = ZERO_HASH
        self.last_time = 0
        self.genesis: Genesis | None = None
        self.statement_hash: bytes | None = None
        self.log_key: VerifyingKey | None = None
        self.roster = Roster(keep_events=keep_events) if roster is None else roster
        self.rules_checked = True
        self.problems: list[Problem] = []

    def skip_to(self, position: int, *, prev: bytes, tree: CompactRange, last_time: int) -> None:
        """Continue at ``position`` from a trusted state instead of reading the entries before.

        For incremental verification: the caller has proven ``prev`` (the leaf hash of entry
        ``position - 1``) and ``tree`` (the compact range of the first ``position`` entries)
        against a checkpoint the reader trusts; ``last_time`` is that entry's record time.
        """
        if tree.size != position:
            raise UsageError(f"compact range covers {tree.size} entries, not {position}")
        self.expected_seq = position
        self.prev = prev
        self.tree = tree
        self.last_time = last_time
        # The list's rules need the state the skipped entries built: they are not checked.
        self.rules_checked = False
        if position in self._wanted_roots:
            self.roots[position] = tree.root()

    def feed(self, seq: int, raw: bytes) -> VerifiedEntry | None:
        """Check the entry stored at position ``seq``; returns it verified, or None.

        Problems are appended to ``self.problems``; the chain continues from the entry's leaf
        hash either way, so one bad entry does not hide the state of the ones after it.
        """
        return self.feed_examined(seq, examine(seq, raw), raw)

    def feed_examined(
        self, seq: int, examined: Examined, raw: bytes | None = None
    ) -> VerifiedEntry | None:
        """``feed`` for an entry already examined (``ledger.examine``), maybe elsewhere.

        The checks that need the entries before this one run here, in order. Without ``raw``
        (the entry bytes; parallel verification does not send them back) nothing is returned.
        """
        leaf_hash, entry, error = examined.leaf_hash, examined.entry, examined.error
        tree = self.tree
        tree.append(leaf_hash)
        if self._wanted_roots and tree.size in self._wanted_roots:
            self.roots[tree.size] = tree.root()
        problems = self.problems
        before = len(problems)
        if entry is None:
            self._problem(seq, "encoding", str(error))
        else:
            if entry.seq != seq or seq != self.expected_seq:
                self._problem(
                    seq,
                    "sequence",
                    f"sequence number is {entry.seq} but entry {self.expected_seq} "
                    "was expected here",
                )
            if entry.prev != self.prev:
                self._problem(
                    seq,
                    "links",
                    f"prev is {entry.prev.hex()[:12]}… but the previous "
                    f"entry hashes to {self.prev.hex()[:12]}…",
                )
            recorded_at = entry.recorded_at
            if recorded_at < self.last_time:
                self._problem(
                    seq,
                    "times",
                    f"recorded at {recorded_at}, before the previous entry ({self.last_time})",
                )
            else:
                self.last_time = recorded_at
        verified = None
        if entry is not None:
            clean = len(problems) == before
            if seq == 0:
                verified = self._check_genesis(entry, raw, leaf_hash)
            else:
                verified = self._check_body(seq, entry, raw, leaf_hash, examined, clean=clean)
        self.prev = leaf_hash
        self.expected_seq = seq + 1
        return verified if len(problems) == before else None

    def _check_body(
        self,
        seq: int,
        entry: Entry,
        raw: bytes | None,
        leaf_hash: bytes,
        examined: Examined,
        *,
        clean: bool,
    ) -> VerifiedEntry | None:
        before = len(self.problems)
        if self.statement_hash is not None and entry.statement_hash != self.statement_hash:
            self._problem(seq, "statement", "statement hash differs from the genesis entry's")
        for check, message in examined.problems:
            self._problem(seq, check, message)
        signed, key = examined.signed, examined.signer
        if signed is None or key is None:
            return None
        # The list changes only through entries that pass every other check.
        if clean and len(self.problems) == before and self.rules_checked:
            try:
                outcome = apply(
                    self.roster.state,
                    seq=seq,
                    entry_type=entry.type,
                    signed=signed,
                    signer=key,
                    log_key=self.log_key,
                )
            except VerificationError as exc:
                self._problem(seq, "signers", str(exc))
            else:
                self.roster.record(seq, entry, signed, key, outcome)
        if raw is None:
            return None
        return VerifiedEntry(
            entry=entry, leaf_hash=leaf_hash, raw=raw, endorsement=VerifiedEndorsement(signed)
        )

    def _check_genesis(
        self, entry: Entry, raw: bytes | None, leaf_hash: bytes
    ) -> VerifiedEntry | None:
        if entry.type is not EntryType.GENESIS or not isinstance(entry.body, Genesis):
            self._problem(0, "encoding", "entry 0 is not a genesis entry")
            return None
        genesis = entry.body
        self.genesis = genesis
        self.statement_hash = entry.statement_hash
        text = genesis.statement_text.encode()
        try:
            canonical = canonicalize_text(genesis.statement_text) == genesis.statement_text
        except FormatError:
            canonical = False
        if not canonical:
            self._problem(0, "statement", "the statement text is not in canonical form")
        elif hashlib.sha256(text).digest() != entry.statement_hash:
            self._problem(0, "statement", "statement hash is not the SHA-256 of the text")
        try:
            log_key = VerifyingKey.from_verifier_key(genesis.log_key)
        except LedgerError as exc:
            self._problem(0, "encoding", f"log key is malformed: {exc}")
        else:
            self.log_key = log_key
            if log_key.name != genesis.origin:
                self._problem(0, "encoding", f"log key name {log_key.name!r} is not the origin")
        if self._given_statement is not None:
            self._compare_statement(self._given_statement, entry.statement_hash)
        return None if raw is None else VerifiedEntry(entry=entry, leaf_hash=leaf_hash, raw=raw)

    def _compare_statement(self, given: bytes, statement_hash: bytes) -> None:
        try:
            digest = hashlib.sha256(canonicalize(given)).digest()
        except FormatError as exc:
            self._problem(None, "statement", f"the given statement text is invalid: {exc}")
            self.statement_checked = False
            return
        self.statement_checked = digest == statement_hash
        if not self.statement_checked:
            self._problem(
                None,
                "statement",
                "the given statement text is not the one in the "
                f"ledger (sha256:{digest.hex()[:16]}… vs "
                f"sha256:{statement_hash.hex()[:16]}…)",
            )

    def _problem(self, seq: int | None, check: str, message: str) -> None:
        self.problems.append(Problem(seq, check, message))

    def report(self, size: int) -> Report:
        """The report for the entries fed so far.

        Its lists are the roster's: with an on-disk roster they are views of its file, so
        call this once, after the last ``feed``.
        """
        problems = list(self.problems)
        if size == 0:
            problems.append(Problem(None, "encoding", "the ledger has no entries"))
        truncated = len(problems) > MAX_PROBLEMS
        return Report(
            size=size,
            root=self.tree.root(),
            genesis=self.genesis,
            statement_hash=self.statement_hash,
            statement_checked=self.statement_checked,
            problems=tuple(problems[:MAX_PROBLEMS]),
            problems_truncated=truncated,
            checks_run=frozenset(c for c in ENTRY_CHECKS if self.rules_checked or c != "signers"),
            signatories=self.roster.signatories(),
            departed=self.roster.departed,
            flags=self.roster.flags,
            closed_at=self.roster.closed_at,
            events=self.roster.events,
        )


def check_entries(
    entries: Iterable[tuple[int, bytes]], *, statement: bytes | None = None
) -> Report:
    """Check every entry and report; never raises on bad data.

    Args:
        entries: ``(position, entry bytes)`` in storage order, positions from 0.
        statement: the statement text the reader holds, to compare with the ledger's.

    Returns:
        The report: ``report.ok`` is True only if every check passed.
    """
    checker = EntryChecker(statement)
    size = 0
    for position, raw in entries:
        checker.feed(position, raw)
        size = position + 1
        if len(checker.problems) > MAX_PROBLEMS:
            break
    return checker.report(size)


def iter_verified(
    entries: Iterable[tuple[int, bytes]], *, statement: bytes | None = None
) -> Iterator[VerifiedEntry]:
    """Yield each entry verified, raising at the first one that does not verify.

    Raises:
        VerificationError: an entry fails a check; the message names the entry and the check.
    """
    checker = EntryChecker(statement)
    for position, raw in entries:
        verified = checker.feed(position, raw)
        if checker.problems:
            raise VerificationError(str(checker.problems[0]))
        assert verified is not None  # no problem means the entry verified
        yield verified
    if checker.expected_seq == 0:
        raise VerificationError("ledger: the ledger has no entries")


# The value types live in ``ledger.findings``; they are re-exported here for callers of verify.
__all__ = [
    "CHECKS",
    "ENTRY_CHECKS",
    "MAX_PROBLEMS",
    "Departure",
    "EntryChecker",
    "Problem",
    "Report",
    "Signatory",
    "check_entries",
    "iter_verified",
]
