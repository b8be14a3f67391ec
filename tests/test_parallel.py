"""Parallel verification (``ledger.parallel``, ``verify --jobs``): the same report as one job.

The report of ``check_ledger_file(path, jobs=2)`` must equal that of ``jobs=1``, problems and
their messages included, on valid ledgers with every lifecycle action (the example ledger: key
rotation, withdrawal, checkpoints) and on ledgers damaged by every SQL-level mutation of the
tamper harness (``bench/robustness/tamper.py``). Ranges are made tiny (``CHUNK``) so that even a
small ledger is split over several workers and many ranges.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "robustness"))
import tamper
from cli.main import cli
from robustlib import LOG_KEY, RECORD_TIME, create_ledger

import ledger
from ledger import parallel, verify

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example" / "ledger.db"


@pytest.fixture(autouse=True)
def tiny_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK", 3)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 3)


def both(path: Path, **options: Any) -> tuple[ledger.Report, ledger.Report]:
    return (
        ledger.check_ledger_file(path, jobs=1, **options),
        ledger.check_ledger_file(path, jobs=2, **options),
    )


def test_the_example_ledger_verifies_the_same_with_two_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "ledger.db"
    shutil.copy(EXAMPLE, copy)
    reached = []
    feed_parallel = parallel._feed_parallel

    def spy(*args: Any, **kwargs: Any) -> int:
        reached.append(feed_parallel(*args, **kwargs))
        return reached[-1]

    monkeypatch.setattr(parallel, "_feed_parallel", spy)
    one, two = both(copy)
    assert one.ok
    assert one.signatories  # the lifecycle actions are there
    assert one.departed
    assert two == one
    assert reached == [one.size]  # two jobs did go through the workers, to the end


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tamper.Original:
    path = tmp_path_factory.mktemp("original") / "ledger.db"
    create_ledger(path, 20)
    with ledger.Ledger.open(path) as book:
        book.checkpoint(LOG_KEY, now=RECORD_TIME)
    return tamper.Original.read(path)


@pytest.mark.parametrize("kind", sorted(tamper.CHANGES_ENTRIES))
@pytest.mark.parametrize("seed", range(3))
def test_a_damaged_ledger_gets_the_same_report_with_two_jobs(
    tmp_path: Path, original: tamper.Original, kind: str, seed: int
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    tamper.LEDGER_MUTATIONS[kind](path, original, random.Random(seed))
    try:
        one = ledger.check_ledger_file(path, jobs=1)
    except ledger.LedgerError as exc:  # unreadable: the same error with two jobs
        with pytest.raises(type(exc), match=re.escape(str(exc))):
            ledger.check_ledger_file(path, jobs=2)
        return
    two = ledger.check_ledger_file(path, jobs=2)
    assert not one.ok
    assert two == one, ([str(p) for p in one.problems], [str(p) for p in two.problems])


def test_the_problem_limit_cuts_at_the_same_place(
    tmp_path: Path, original: tamper.Original, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "MAX_PROBLEMS", 4)
    monkeypatch.setattr(parallel, "MAX_PROBLEMS", 4)
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    # Every entry from 3 on links to a wrong hash once entry 3's bytes change.
    tamper.LEDGER_MUTATIONS["sql: entry byte flip"](path, original, random.Random(5))
    tamper.LEDGER_MUTATIONS["sql: two entries swapped"](path, original, random.Random(6))
    tamper.LEDGER_MUTATIONS["sql: entry duplicated"](path, original, random.Random(7))
    one, two = both(path)
    assert one.problems_truncated
    assert two == one


def test_incremental_and_statement_options_are_honoured(
    tmp_path: Path, original: tamper.Original
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    saved = (original.checkpoint or "").encode()
    one, two = both(path, saved_checkpoint=saved, statement=b"another statement\n")
    assert two == one
    assert any(p.check == "statement" for p in one.problems)


class _NoProcesses:
    def Pipe(self) -> Any:  # noqa: N802 - the multiprocessing name
        raise OSError("no processes here")


def test_without_worker_processes_it_runs_in_this_process(
    tmp_path: Path, original: tamper.Original, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    one = ledger.check_ledger_file(path, jobs=1)
    monkeypatch.setattr(multiprocessing, "get_context", _NoProcesses)
    assert ledger.check_ledger_file(path, jobs=2) == one


def _die(store: Any, low: int, high: int) -> Any:
    if low >= 7:  # some ranges come back, then the worker dies
        os._exit(3)
    return _examine_range(store, low, high)


_examine_range = parallel._examine_range


def test_a_worker_that_dies_leaves_the_rest_to_this_process(
    tmp_path: Path, original: tamper.Original, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    tamper.LEDGER_MUTATIONS["sql: entry byte flip"](path, original, random.Random(1))
    one = ledger.check_ledger_file(path, jobs=1)
    monkeypatch.setattr(parallel, "_examine_range", _die)
    with ledger.open_store(path, readonly=True) as store:
        size = store.size()
        reached = parallel._feed_parallel(
            verify.EntryChecker(), store.location, 1, size, jobs=2, chunk=3, progress=None
        )
    assert 1 < reached < size  # the workers did part of it before one died
    assert ledger.check_ledger_file(path, jobs=2) == one


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_reaches_the_total_in_order(
    tmp_path: Path, original: tamper.Original, jobs: int
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    calls: list[tuple[int, int]] = []
    report = ledger.check_ledger_file(
        path, jobs=jobs, progress=lambda done, total: calls.append((done, total))
    )
    assert report.ok
    assert calls[-1] == (report.size, report.size)
    assert all(total == report.size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_jobs_must_be_positive(tmp_path: Path, original: tamper.Original) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    with pytest.raises(ledger.UsageError, match="at least 1"):
        ledger.check_ledger_file(path, jobs=0)


def test_cli_jobs_output_is_identical(tmp_path: Path, original: tamper.Original) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    tamper.LEDGER_MUTATIONS["sql: entry truncated"](path, original, random.Random(2))
    runs = [
        CliRunner().invoke(cli, ["verify", str(path), "--json", "--jobs", jobs])
        for jobs in ("1", "2")
    ]
    assert [r.exit_code for r in runs] == [1, 1]
    assert runs[0].output == runs[1].output
    refused = CliRunner().invoke(cli, ["verify", str(path), "--jobs", "0"])
    assert refused.exit_code == 2


def _check_in_a_daemon(path: str) -> bool:
    return ledger.check_ledger_file(path, jobs=2).ok


def test_a_daemonic_process_checks_in_itself(tmp_path: Path, original: tamper.Original) -> None:
    # multiprocessing refuses children to a daemonic process (a pool worker): no crash.
    path = tmp_path / "ledger.db"
    path.write_bytes(original.data)
    context = multiprocessing.get_context()
    with context.Pool(1) as pool:
        assert pool.apply(_check_in_a_daemon, (str(path),))
