"""Verification with the state and list on disk (``ledger.store.scratch``).

The on-disk roster must give the same report as the in-memory one, entry for entry: a property
test runs random lifecycles (the generators of ``test_lifecycle``, every statement chained into
the ledger whether the rules allow it or not, so refused entries are reported too) through
both. The report's lists must read like tuples, the renderers must write the same text, and
the temporary file must be gone once the report is closed, also when verification fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from helpers import chain, endorsement_entry, genesis_entry, make_ledger
from ledger import EntryType, StoreError, UsageError
from ledger.audit import check_source
from ledger.findings import Problem, Report
from ledger.html import render_index_html, render_markdown
from ledger.render import iter_report_json, render_text, report_json
from ledger.roster import Roster
from ledger.store import open_store, scratch
from ledger.store.scratch import RowSequence, Scratch, ScratchBook, ScratchRoster
from ledger.verify import EntryChecker
from test_lifecycle import LOG_KEY, Model, Op, close, lifecycles, remove, statement_for


def entries_of(operations: list[Op]) -> list[tuple[int, bytes]]:
    """Every operation signed and chained into a ledger, allowed by the rules or not."""
    model = Model()
    entries = [genesis_entry()]
    for op in operations:
        _, cose, ref = statement_for(model, op)
        if cose is None:  # a genuine removal or closing: signed here with the log key
            cose = close() if ref is None else remove(ref, signer=LOG_KEY)
        kind = EntryType.LOG if op.kind in ("remove", "close") else EntryType.ENDORSEMENT
        entry = endorsement_entry(len(entries), cose)
        entries.append(attrs.evolve(entry, type=kind))
    return chain(entries)


def verified(entries: list[tuple[int, bytes]], roster: Roster) -> Report:
    checker = EntryChecker(roster=roster)
    for position, raw in entries:
        checker.feed(position, raw)
    return checker.report(len(entries))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lifecycles)
def test_disk_and_memory_rosters_give_the_same_report(operations: list[Op]) -> None:
    entries = entries_of(operations)
    memory = verified(entries, Roster(keep_events=True))
    with verified(entries, ScratchRoster(keep_events=True)) as disk:
        assert isinstance(disk.signatories, RowSequence)
        assert list(disk.signatories) == list(memory.signatories)
        assert list(disk.departed) == list(memory.departed)
        assert list(disk.flags) == list(memory.flags)
        assert list(disk.events) == list(memory.events)
        assert disk.problems == memory.problems
        assert (disk.closed_at, disk.ok, disk.root) == (memory.closed_at, memory.ok, memory.root)


def test_the_property_test_sees_refusals_departures_and_flags() -> None:
    # The generated ledgers exercise what the comparison is about (not only empty lists).
    ops = [
        Op("endorse", ("fresh", 0), name=0, at=1_700_000_001),
        Op("endorse", ("fresh", 0), name=1, at=1_700_000_002),
        Op("withdraw", ("org", 0), at=1_700_000_003),
        Op("withdraw", ("org", 0), at=1_700_000_004),
    ]
    with verified(entries_of(ops), ScratchRoster()) as report:
        assert [f.seq for f in report.flags] == [2]
        assert [d.how for d in report.departed] == ["withdrawn"]
        assert [p.check for p in report.problems] == ["signers"]
        assert len(report.signatories) == 1


@given(st.lists(st.integers(0, 10**6), max_size=1200), st.data())
@settings(max_examples=25, deadline=None)
def test_a_row_sequence_reads_like_a_tuple(numbers: list[int], data: st.DataObject) -> None:
    reference = tuple(Problem(n, "names", f"flag {n} é") for n in numbers)
    book = ScratchBook(Scratch())
    for flag in reference:
        book.add_flag(flag)
    flags = book.flags()
    try:
        assert len(flags) == len(reference)
        assert tuple(flags) == reference  # more than one page (PAGE_ROWS) when long
        assert tuple(reversed(flags)) == tuple(reversed(reference))
        index = data.draw(st.integers(-len(reference) - 2, len(reference) + 2))
        if -len(reference) <= index < len(reference):
            assert flags[index] == reference[index]
        else:
            with pytest.raises(IndexError):
                flags[index]
        cut = data.draw(st.slices(len(reference) + 3))
        assert flags[cut] == reference[cut]
    finally:
        flags.close()


def scratch_files() -> list[str]:
    """SQLite temporary files this process holds open (Linux: deleted files under /proc)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@needs_proc
def test_the_file_is_deleted_and_closed_with_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scratch, "CACHE_KIB", 64)  # small cache: the data spills to the file
    before = scratch_files()
    book = ScratchBook(Scratch())
    for number in range(5000):
        book.add_flag(Problem(number, "names", "x" * 200))
    report = Report(
        size=1,
        root=b"",
        genesis=None,
        statement_hash=None,
        statement_checked=None,
        problems=(),
        problems_truncated=False,
        signatories=book.signatories(),
        flags=book.flags(),
    )
    opened = [f for f in scratch_files() if f not in before]
    assert opened, "the scratch data never reached a file"
    assert all(f.endswith("(deleted)") for f in opened)  # unlinked from the start
    with report:
        assert len(report.flags) == 5000
    assert scratch_files() == before
    with pytest.raises(UsageError, match="temporary file that is closed"):
        list(report.flags)
    report.close()  # twice: nothing happens


class FailingSource:
    """A ledger source whose reads fail halfway (a disk or network error)."""

    def __init__(self, path: Path) -> None:
        self.store = open_store(path, readonly=True)

    def size(self) -> int:
        return self.store.size()

    def latest_checkpoint(self) -> str | None:
        return None

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        for position, raw in self.store.iter_entries(start, end):
            if position == 5:
                raise StoreError("the disk went away")
            yield position, raw


@needs_proc
def test_the_file_is_deleted_when_verification_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ledger(tmp_path / "l.db", 10).close()
    monkeypatch.setattr(scratch, "SCRATCH_FROM", 0)
    before = scratch_files()
    source = FailingSource(tmp_path / "l.db")
    created: list[Roster] = []
    real = scratch.roster_for

    def spy(size: int, **kw: bool) -> Roster:
        created.append(real(size, **kw))
        return created[-1]

    monkeypatch.setattr("ledger.audit.roster_for", spy)
    with pytest.raises(StoreError, match="the disk went away"):
        check_source(source)  # type: ignore[arg-type]
    source.store.close()
    assert len(created) == 1
    assert isinstance(created[0], ScratchRoster)
    assert created[0].scratch.closed
    assert scratch_files() == before


def test_large_ledgers_are_verified_on_disk_with_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ledger(tmp_path / "l.db", 12).close()
    memory = ledger.check_ledger_file(tmp_path / "l.db")
    assert isinstance(memory.signatories, tuple)
    monkeypatch.setattr(scratch, "SCRATCH_FROM", 12)
    with ledger.check_ledger_file(tmp_path / "l.db") as disk:
        assert not isinstance(disk.signatories, tuple)
        assert list(disk.signatories) == list(memory.signatories)
        assert render_text(disk, "l") == render_text(memory, "l")
        assert report_json(disk, "l") == report_json(memory, "l")
        text = "".join(iter_report_json(disk, "l"))
        assert text == json.dumps(report_json(memory, "l"), indent=2, ensure_ascii=False)
        assert render_markdown(disk, source_hint="l") == render_markdown(memory, source_hint="l")
        page = {"statement_text": "x", "checkpoint": None, "source_hint": "l"}
        assert render_index_html(disk, **page) == render_index_html(memory, **page)  # type: ignore[arg-type]
