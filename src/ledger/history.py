"""The history of a list: every change, in order, from a verified reading of the ledger."""

from __future__ import annotations

from pathlib import Path

from ledger.findings import Event
from ledger.keys import VerifyingKey
from ledger.lookalike import same_name
from ledger.roster import Roster
from ledger.store import open_store
from ledger.store.scratch import close_roster, roster_for
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
        # A large ledger's state and events go to a temporary file (memory flat in N).
        roster = roster_for(store.size(), keep_events=True)
        try:
            checker = EntryChecker(roster=roster)
            for position, raw in store.iter_entries():
                checker.feed(position, raw)
            return _selected(roster, name, key)
        finally:
            close_roster(roster)
    finally:
        store.close()


def _selected(roster: Roster, name: str | None, key: VerifyingKey | None) -> list[Event]:
    org = None
    if key is not None:
        record = roster.state.key(key.key_id)
        org = None if record is None else record.org

    def by_key(event: Event) -> bool:
        return key is None or (org is not None and event.org == org)

    if name is None:
        return [e for e in roster.events if by_key(e)]
    orgs = {
        e.org for e in roster.events if by_key(e) and e.name is not None and same_name(e.name, name)
    }
    return [e for e in roster.events if by_key(e) and e.org in orgs]
