"""Concurrent writers: processes appending at once keep one linear chain; a reader sees prefixes.

The CI version of ``bench/robustness/concurrency.py`` (see its docstring for what is checked):
4 writer processes x 25 calls with overlapping organisations, writer 0 checkpointing, and a
reader process verifying in a loop. The long version:
``python bench/robustness/concurrency.py --writers 8 --appends 500``.

Then the write lock itself, in-process: a writer waits for a lock held briefly, and fails with
a clear message (nothing written) when it stays held past the busy timeout.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "robustness"))
import concurrency
from robustlib import (
    RECORD_TIME,
    create_ledger,
    endorsement,
    memory_root,
    stored_entries,
)

import ledger
from ledger.audit import check_source
from ledger.store import open_store
from ledger.store import sqlite as sqlite_store

WRITERS = 4
APPENDS = 25


def expected_counts(writers: int, appends: int) -> tuple[dict[str, int], dict[str, int]]:
    """Entries appended and rejections per kind of call, whatever the interleaving."""
    calls = {
        kind: sum(1 for j in range(appends) if j % 4 == n)
        for n, kind in enumerate(("same", "samekey", "pair", "own"))
    }
    extra = sum(1 for j in range(appends) if j % 5 == 4)
    pairs = writers // 2 + writers % 2
    appended = {
        "extra": extra * writers,
        "own": calls["own"] * writers,
        "pair": calls["pair"] * pairs,
        "same": calls["same"],
        "samekey": calls["samekey"],
    }
    rejected = {
        "pair": calls["pair"] * (writers - pairs),
        "same": calls["same"] * (writers - 1),
        "samekey": calls["samekey"] * (writers - 1),
    }
    return appended, rejected


def test_concurrent_writers_keep_one_chain_with_every_acknowledged_entry(tmp_path: Path) -> None:
    figures = concurrency.run(tmp_path, WRITERS, APPENDS)  # raises on any broken invariant
    appended, rejected = expected_counts(WRITERS, APPENDS)
    assert figures["writer errors"] == 0, figures["writer error messages"]
    assert figures["appended per kind"] == appended
    assert figures["rejected per kind (already endorsed, naming the winner)"] == rejected
    assert figures["entries appended"] == sum(appended.values())
    assert figures["checkpoints"] == APPENDS // 5
    assert figures["final checkpoint"] is not None
    assert figures["reader passes"] >= 1


# --- The check catches what it claims to catch ----------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[dict[str, Any]]]:
    """Two writers that ran one after the other (no reader): a valid run to doctor."""
    directory = tmp_path_factory.mktemp("sequential")
    path = directory / "ledger.db"
    create_ledger(path)
    plans = concurrency.make_plans(2, 8)
    results = []
    with ledger.Ledger.open(path) as book:
        for calls in plans:
            outcome = []
            for call in calls:
                batch = [(label, endorsement(org, variant)) for label, org, variant in call]
                result = book.append(batch, now=RECORD_TIME)
                outcome.append(
                    {
                        "appended": [list(a) for a in result.appended],
                        "rejected": [[r.label, r.reason] for r in result.rejected],
                        "seconds": 0.0,
                    }
                )
            results.append({"results": outcome, "errors": [], "checkpoints": []})
    return path, plans, results


def test_the_check_accepts_a_valid_run(
    finished: tuple[Path, Any, list[dict[str, Any]]],
) -> None:
    path, plans, results = finished
    figures = concurrency.check(path, plans, results, [])
    assert figures["entries appended"] == len(stored_entries(path)) - 1


def test_the_check_catches_a_duplicate_acknowledgement(
    finished: tuple[Path, Any, list[dict[str, Any]]],
) -> None:
    path, plans, results = finished
    doctored = [dict(r) for r in results]
    first = results[0]["results"][0]["appended"][0]
    doctored[1] = {**results[1], "results": [{"appended": [first], "rejected": []}]}
    with pytest.raises(concurrency.ConcurrencyCheckError, match="twice"):
        concurrency.check(path, plans, doctored, [])


def test_the_check_catches_a_reader_that_saw_another_history(
    finished: tuple[Path, Any, list[dict[str, Any]]],
) -> None:
    path, plans, results = finished
    seen = {"size": 3, "root": "00" * 32, "ok": True, "problems": [], "checkpoint": None}
    with pytest.raises(concurrency.ConcurrencyCheckError, match="not a prefix"):
        concurrency.check(path, plans, results, [seen])


def test_the_check_catches_a_rejection_without_the_winner(
    finished: tuple[Path, Any, list[dict[str, Any]]],
) -> None:
    path, plans, results = finished
    doctored = [dict(r) for r in results]
    label = next(r[0][0] for r in (c["rejected"] for c in results[1]["results"]) if r)
    doctored[1] = {**results[1], "results": [*results[1]["results"]]}
    doctored[1]["results"].append({"appended": [], "rejected": [[label, "database is locked"]]})
    with pytest.raises(concurrency.ConcurrencyCheckError, match="without naming the entry"):
        concurrency.check(path, plans, doctored, [])


# --- The write lock -------------------------------------------------------------------------------


class LockHolder(threading.Thread):
    """Holds the ledger's write lock (another connection) until ``release`` is set."""

    def __init__(self, path: Path, *, seconds: float = 30.0) -> None:
        super().__init__()
        self.path = path
        self.seconds = seconds
        self.held = threading.Event()
        self.release = threading.Event()
        self.released_at = 0.0

    def run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            self.held.set()
            self.release.wait(self.seconds)
            self.released_at = time.perf_counter()
            db.execute("ROLLBACK")
        finally:
            db.close()

    def __enter__(self) -> LockHolder:
        self.start()
        assert self.held.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.join()


def test_a_writer_waits_for_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path)
    with LockHolder(path, seconds=0.3) as holder, ledger.Ledger.open(path) as book:
        result = book.append([("org1", endorsement(1))], now=RECORD_TIME)
        appended_at = time.perf_counter()
    assert result.appended == (("org1", 1),)
    assert appended_at > holder.released_at > 0  # it waited for the holder rather than failing
    assert ledger.check_ledger_file(path).ok


def test_a_writer_fails_clearly_when_the_lock_stays_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path, 1)
    before = stored_entries(path)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 200)
    with (
        LockHolder(path),
        ledger.Ledger.open(path) as book,
        pytest.raises(ledger.StoreError, match=r"cannot take the write lock \(database is"),
    ):
        book.append([("org2", endorsement(2))], now=RECORD_TIME)
    assert stored_entries(path) == before
    assert ledger.check_ledger_file(path).ok


# --- Finding --------------------------------------------------------------------------------------


def test_a_report_describes_one_prefix_while_a_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path, 3)
    store = open_store(path, readonly=True)
    real_size = store.size
    calls: list[int] = []

    def size_then_a_writer_appends() -> int:
        size = real_size()
        calls.append(size)
        if len(calls) == 1:  # another process appends right after the verifier read the size
            with ledger.Ledger.open(path) as book:
                book.append([("org4", endorsement(4))], now=RECORD_TIME)
        return size

    store.size = size_then_a_writer_appends  # type: ignore[method-assign]
    try:
        report = check_source(store)
    finally:
        store.close()
    entries = [raw for _, raw in stored_entries(path)]
    assert report.ok
    assert report.root == memory_root(entries, report.size), (report.size, len(entries))
