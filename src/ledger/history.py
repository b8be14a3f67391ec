"""The history of a list: every change, in order, from a verified reading of the ledger."""

from __future__ import annotations

from pathlib import Path

from ledger.findings import Event
from ledger.keys import VerifyingKey
from ledger.lookalike import same_name
from ledger.store import open_store
from ledger.verify import EntryChecker


def ledger_history(
    location: str | Path, *, name: str | None = None, key: VerifyingKey | None = None
) -> list[Event]:
    """Every change to the list (endorsed, withdrew, rotated, revoked, removed, closed).

    Only entries that verify make events; run ``check_ledger_file`` for the verdict.

    Args:
        location: the SQLite ledger file.
        name: only the organisation that signed under this name (case and spacing folded).
        key: only the organisation that used this key at any time (rotations followed).

    Returns:
        The events in entry order.

    Raises:
        StoreError: the file is missing or not a ledger.
    """
    store = open_store(location, readonly=True)
    try:
        checker = EntryChecker(keep_events=True)
        for position, raw in store.iter_entries():
            checker.feed(position, raw)
    finally:
        store.close()
    events = checker.roster.events
    if key is not None:
        record = checker.roster.state.key(key.key_id)
        org = None if record is None else record.org
        events = [e for e in events if org is not None and e.org == org]
    if name is not None:
        orgs = {e.org for e in events if e.name is not None and same_name(e.name, name)}
        events = [e for e in events if e.org in orgs]
    return events
