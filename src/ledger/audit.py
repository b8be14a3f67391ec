"""Verify a stored ledger the way a reader would: every entry, then its signed anchors.

Full mode streams every entry through ``verify.EntryChecker`` (memory stays O(signatories)),
recording the RFC 9162 root at the sizes the checkpoints claim, then ``anchors.check_anchors``
compares those roots with the signed checkpoints.

Incremental mode starts from a checkpoint the reader saved and trusts (size m, root r): it
proves, from the store's tree, the compact range of the first m entries (its fold must be r) and
the leaf hash of entry m-1 (an inclusion proof in r), then checks only entries m.. onwards and
that they extend the tree to the latest checkpoint's root. Cost grows with the new entries only.
What it cannot see is said in the report: duplicate keys are checked among new entries only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import attrs

from ledger import merkle
from ledger.anchors import check_anchors, checkpoint_size
from ledger.binding import apply_evidence
from ledger.binding_store import load_evidence
from ledger.entry import decode_entry
from ledger.errors import LedgerError, UsageError, VerificationError
from ledger.keys import VerifyingKey
from ledger.merkle import CompactRange
from ledger.note import open_checkpoint
from ledger.parallel import feed_entries
from ledger.policy import Policy
from ledger.progress import Progress
from ledger.store import open_store
from ledger.store.scratch import close_roster, roster_for
from ledger.verify import EntryChecker, Problem, Report


class LedgerSource(Protocol):
    """What verification reads: a SQLite store, or a published bundle (directory or URL).

    Nothing a source returns is trusted; every value is checked against the entries' hashes
    and the signed checkpoints.
    """

    def size(self) -> int:
        """Number of entries the source holds."""
        ...

    def entry(self, seq: int) -> bytes:
        """The bytes of one entry."""
        ...

    def leaf_hash(self, seq: int) -> bytes:
        """The source's leaf hash of one entry (checked against the entry bytes)."""
        ...

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(seq, entry bytes)`` in order from ``start``, streaming."""
        ...

    def subtree_hash(self, level: int, index: int) -> bytes:
        """The source's hash of a perfect subtree (for incremental verification)."""
        ...

    def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint note, if the source has one."""
        ...


def check_ledger_file(
    location: str | Path,
    *,
    statement: bytes | None = None,
    saved_checkpoint: bytes | None = None,
    log_key: VerifyingKey | None = None,
    policy: Policy | None = None,
    incremental: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Report:
    """Verify a ledger file read-only and return the report (never raises on bad data).

    Args:
        location: the SQLite ledger file.
        statement: the statement text the reader holds, compared with the ledger's.
        saved_checkpoint: a checkpoint (signed note) the reader saved earlier: the ledger must
            be consistent with it (no rewritten or truncated history).
        log_key: the log key the reader trusts (default: the key the genesis entry names).
        policy: a witness policy the latest checkpoint's cosignatures must satisfy.
        incremental: trust ``saved_checkpoint`` and check only the entries after it.
        progress: called with (entries checked, entries to check) now and then.
        jobs: worker processes that check entries (``ledger.parallel``); 1 checks them in
            this process. The report is the same for any number.

    Returns:
        The report; ``report.ok`` only if every check that ran passed.

    Raises:
        StoreError: the file is missing or not a ledger (no report can be made).
        UsageError: ``incremental`` without ``saved_checkpoint``, or ``jobs`` below 1.
    """
    if incremental and saved_checkpoint is None:
        raise UsageError("incremental verification needs a checkpoint you saved earlier")
    store = open_store(location, readonly=True)
    try:
        report = check_source(
            store,
            statement=statement,
            saved_checkpoint=saved_checkpoint,
            log_key=log_key,
            policy=policy,
            incremental=incremental,
            progress=progress,
            jobs=jobs,
        )
    finally:
        store.close()
    # Identity: evidence the campaign recorded (ledger binding check) that organisations
    # publish their keys on their own domains; apply_evidence re-checks every record.
    try:
        evidence = load_evidence(location)
    except BaseException:
        report.close()
        raise
    return apply_evidence(report, evidence)


def check_source(
    source: LedgerSource,
    *,
    statement: bytes | None = None,
    saved_checkpoint: bytes | None = None,
    log_key: VerifyingKey | None = None,
    policy: Policy | None = None,
    incremental: bool = False,
    keep_events: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Report:
    """Verify any ``LedgerSource`` (see ``check_ledger_file`` for the arguments).

    ``keep_events`` also records every change to the list in ``report.events`` (O(n) space).
    ``jobs`` > 1 uses worker processes for a ledger file (a ``SqliteStore``) only; other
    sources (bundles) are checked in this process.

    From ``ledger.store.scratch.SCRATCH_FROM`` entries the report's lists are views of a
    temporary file: close the report (``with report:`` or ``report.close()``) to delete it
    at once; otherwise it goes when the report is garbage collected.

    Raises:
        UsageError: ``incremental`` without ``saved_checkpoint``.
        LedgerError: the source itself fails (a store or network error), not the data.
    """
    if incremental and saved_checkpoint is None:
        raise UsageError("incremental verification needs a checkpoint you saved earlier")
    latest = _note_bytes(source.latest_checkpoint())
    sizes = {
        s for s in (checkpoint_size(latest), checkpoint_size(saved_checkpoint)) if s is not None
    }
    size = source.size()
    # A large ledger's state and list go to a temporary file, so memory stays flat in N.
    roster = roster_for(size, keep_events=keep_events)
    checker = EntryChecker(statement, roots_at=sizes, roster=roster)
    try:
        start = 0
        if incremental and saved_checkpoint is not None:
            start = _resume(source, checker, saved_checkpoint, log_key)
        # Up to the size read above: a writer appending meanwhile must not make the report mix
        # the size of one prefix with the root of another.
        feed_entries(checker, source, start, size, jobs=jobs, progress=progress)
        if progress is not None:
            progress(size - start, size - start)
        report = checker.report(size)
        anchors = check_anchors(
            genesis=report.genesis,
            size=size,
            roots=checker.roots,
            latest=latest,
            saved=saved_checkpoint,
            pinned=log_key,
            policy=policy,
        )
    except BaseException:
        close_roster(roster)  # the scratch file goes now, not when collected
        raise
    return attrs.evolve(
        report,
        problems=report.problems + anchors.problems,
        checks_run=report.checks_run | anchors.checks_run,
        mode="incremental" if start > 1 else "full",
        entries_from=start if start > 1 else 0,
        checkpoint=anchors.checkpoint,
        saved_checkpoint=anchors.saved,
        policy_explanation=anchors.policy_explanation,
    )


def _resume(  # noqa: PLR0911 - each early return is one reason to fall back to a full check
    store: LedgerSource, checker: EntryChecker, saved: bytes, pinned: VerifyingKey | None
) -> int:
    """Check entry 0, prove the state at the saved checkpoint, and position the checker there.

    Returns the position to continue from; 1 (right after the genesis entry) whenever the
    saved state cannot be proven, so that the full check runs and reports what is wrong.
    """
    if store.size() == 0:
        return 0
    checker.feed(0, store.entry(0))
    if checker.genesis is None:
        return 1
    try:
        log_key = pinned or VerifyingKey.from_verifier_key(checker.genesis.log_key)
        cp = open_checkpoint(saved, log_key).checkpoint
        if not 1 < cp.size <= store.size():
            return 1
        latest = checkpoint_size(_note_bytes(store.latest_checkpoint()))
        if latest is not None and latest < cp.size:
            return 1  # the ledger's checkpoint is older than the reader's: check it all
        tree = CompactRange.from_source(store, cp.size)
        if tree.root() != cp.root:
            checker.problems.append(
                Problem(
                    None,
                    "consistency",
                    "rewritten history: the stored "
                    f"tree of the first {cp.size} entries does not "
                    "hash to the root you saved",
                )
            )
            return 1
        # Entry 0 was read and checked above, but only its bytes proven in the saved tree make
        # its statement and log key the ones the reader trusts.
        merkle.verify_inclusion(
            merkle.hash_leaf(store.entry(0)),
            0,
            cp.size,
            merkle.prove_inclusion(store, 0, cp.size),
            cp.root,
        )
        # The link into entry cp.size needs the leaf hash of the entry before it, proven
        # against the saved root, and that entry's bytes for its record time.
        last = cp.size - 1
        leaf = store.leaf_hash(last)
        merkle.verify_inclusion(
            leaf, last, cp.size, merkle.prove_inclusion(store, last, cp.size), cp.root
        )
        raw = store.entry(last)
        if merkle.hash_leaf(raw) != leaf:
            raise VerificationError(f"entry {last} does not match its stored leaf hash")
        checker.skip_to(cp.size, prev=leaf, tree=tree, last_time=decode_entry(raw).recorded_at)
    except LedgerError:
        return 1  # the full check that follows reports exactly what is wrong
    return cp.size


def _note_bytes(note: str | None) -> bytes | None:
    return None if note is None else note.encode("utf-8")
