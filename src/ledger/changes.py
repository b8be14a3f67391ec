"""What changed between two snapshots of a list, after checking that the new one extends the old.

The old snapshot is a signed checkpoint (saved by a reader, or the latest one of an older copy);
the new one is verified in full against it, so a rewritten or truncated history is reported,
not diffed. The changes are the list's events from the old size on: who joined, withdrew, was
removed (and why), had a key rotated or revoked, and whether the statement closed.
"""

from __future__ import annotations

from attrs import frozen

from ledger.anchors import checkpoint_size
from ledger.audit import LedgerSource, check_source
from ledger.errors import UsageError
from ledger.findings import Event, Report
from ledger.keys import VerifyingKey


@frozen
class Diff:
    """The changes from ``old_size`` entries to ``new_size``, with the new copy's verification.

    Attributes:
        old_size: entries covered by the old checkpoint.
        new_size: entries in the new copy.
        report: the full verification of the new copy against the old checkpoint; when it is
            not ok (for example a failed ``consistency``), the changes are not meaningful.
        changes: the list's events in entries ``old_size`` onwards.
    """

    old_size: int
    new_size: int
    report: Report
    changes: tuple[Event, ...]


def diff(new: LedgerSource, old_checkpoint: bytes, *, log_key: VerifyingKey | None = None) -> Diff:
    """Verify ``new`` against ``old_checkpoint`` and list what changed since it.

    Args:
        new: the newer copy (a store or a bundle).
        old_checkpoint: the signed checkpoint of the older copy.
        log_key: the log key the reader trusts (default: the one the genesis entry names).

    Returns:
        The changes and the verification report.

    Raises:
        UsageError: ``old_checkpoint`` is not a checkpoint.
    """
    old_size = checkpoint_size(old_checkpoint)
    if old_size is None:
        raise UsageError("the old snapshot is not a signed checkpoint")
    report = check_source(new, saved_checkpoint=old_checkpoint, log_key=log_key, keep_events=True)
    changes = tuple(event for event in report.events if event.seq >= old_size)
    return Diff(old_size=old_size, new_size=report.size, report=report, changes=changes)
