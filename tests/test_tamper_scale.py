"""Tamper detection at scale: random mutations of a ledger file and a bundle, each classified.

The CI version of ``bench/robustness/tamper.py`` (see its docstring for the mutations and the
classes): ``LEDGER_MUTATIONS`` mutations of a ledger file with a checkpoint, ``BUNDLE_MUTATIONS``
of a published bundle, fixed seeds. None may be UNDETECTED: each is detected by verify, refused
as unreadable, or provably harmless (what a reader gets is byte-identical). The long version:
``python bench/robustness/tamper.py --mutations 5000``.

Then regression tests for what the first long run found:

* a damaged file made ``check_ledger_file`` raise ``TypeError``/``ValueError``/
  ``sqlite3.DatabaseError`` instead of a ``StoreError`` or a report;
* writers trusted derived data that verification never reads: a damaged ``tree`` row made
  ``Ledger.checkpoint`` sign a wrong root, a damaged ``leaf_hash`` made ``Ledger.append``
  link the next entry to a wrong hash.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "robustness"))
import tamper
from cli.main import cli
from robustlib import LOG_KEY, RECORD_TIME, create_ledger, endorsement

import ledger

LEDGER_MUTATIONS = 252  # 12 of each of the 21 kinds
BUNDLE_MUTATIONS = 54  # 6 of each of the 9 kinds
SEED = 1


def test_ledger_file_mutations_are_detected_refused_or_harmless(tmp_path: Path) -> None:
    tally = tamper.run_ledger(tmp_path, LEDGER_MUTATIONS, seed=SEED, cli_every=6)
    figures = tally.as_json()
    print(json.dumps(figures, indent=2))  # the counts, with -s
    totals = figures["per class"]
    assert figures["total"] == LEDGER_MUTATIONS
    assert totals["UNDETECTED"] == 0, figures["examples"]
    assert set(figures["per kind"]) == set(tamper.LEDGER_MUTATIONS)
    for kind, counts in figures["per kind"].items():
        if kind in tamper.CHANGES_ENTRIES:  # any change to the entries themselves is caught
            # An entry that is not even a byte string makes the file unreadable (exit 2).
            assert set(counts) <= {"detected", "refused"}, (kind, counts)
        if kind.startswith(("sql: stored leaf", "sql: tree", "sql: meta")):
            assert counts == {"harmless": 12}, (kind, counts)  # data verification never reads
    assert figures["per class"].get("CRASHED", 0) == 0, figures["details"].get("CRASHED")
    # `ledger verify` agrees with the classification (exit 1 / 2 / 0), tracebacks aside.
    assert tally.cli_checked >= LEDGER_MUTATIONS // 6
    assert tally.cli_mismatches == []


@pytest.mark.skipif(tamper.publish_bundle is None, reason="no ledger.bundle yet")
def test_bundle_mutations_are_detected_or_refused(tmp_path: Path) -> None:
    tally = tamper.run_bundle(tmp_path, BUNDLE_MUTATIONS, seed=SEED, entries=40)
    figures = tally.as_json()
    print(json.dumps(figures, indent=2))
    totals = figures["per class"]
    assert figures["total"] == BUNDLE_MUTATIONS
    assert set(figures["per kind"]) == set(tamper.BUNDLE_MUTATIONS)
    # Every file of a bundle is read and compared: nothing in it can change unnoticed.
    assert totals["detected"] + totals["refused"] == BUNDLE_MUTATIONS, figures


def test_the_documented_limits_are_closed_by_a_checkpoint(tmp_path: Path) -> None:
    """Dropping the last entry or changing its record time: caught only with a checkpoint."""
    for checkpointed in (False, True):
        path = tmp_path / f"ledger-{checkpointed}.db"
        create_ledger(path, 5)
        if checkpointed:
            with ledger.Ledger.open(path) as book:
                book.checkpoint(LOG_KEY, now=RECORD_TIME)
        original = tamper.Original.read(path)
        for name in ("sql: last entries dropped", "sql: record time changed, re-chained"):
            copy = tmp_path / "copy.db"
            copy.write_bytes(original.data)
            rng = random.Random(0)
            if name.startswith("sql: record"):
                rng.randrange = lambda *_: 5  # type: ignore[method-assign]  # the last entry
            tamper.LEDGER_MUTATIONS[name](copy, original, rng)
            verdict, _ = tamper.classify_ledger(copy, original)
            assert verdict == ("detected" if checkpointed else "UNDETECTED"), (name, checkpointed)
            copy.unlink()


# --- Findings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param("UPDATE entries SET data = 'text' WHERE seq = 2", id="entry-as-text"),
        pytest.param("UPDATE entries SET data = -5 WHERE seq = 2", id="entry-as-negative-integer"),
        pytest.param(
            "UPDATE checkpoints SET note = CAST(x'ff00fe' AS TEXT)", id="checkpoint-not-utf8"
        ),
    ],
)
def test_a_damaged_file_is_a_finding_or_an_input_error_not_a_crash(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path, 3)
    with ledger.Ledger.open(path) as book:
        book.checkpoint(LOG_KEY, now=RECORD_TIME)
    db = sqlite3.connect(path)
    with db:
        db.execute(damage)
    db.close()
    try:
        report = ledger.check_ledger_file(path)
    except ledger.StoreError:
        pass  # exit 2: the file cannot be read as a ledger
    else:
        assert not report.ok
    result = CliRunner().invoke(cli, ["verify", str(path)])
    assert result.exit_code in {1, 2}
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_damaged_tree_row_is_not_signed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path, 4)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE tree SET hash = zeroblob(32) WHERE level = 2 AND idx = 0")
    db.close()
    assert ledger.check_ledger_file(path).ok  # the entries are intact: readers see no problem
    with ledger.Ledger.open(path) as book:
        try:
            book.checkpoint(LOG_KEY, now=RECORD_TIME)
        except ledger.LedgerError:
            return  # refusing to sign is right too
    report = ledger.check_ledger_file(path)
    assert report.ok, [str(p) for p in report.problems]


def test_a_damaged_leaf_hash_is_not_linked_to(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    create_ledger(path, 4)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE entries SET leaf_hash = zeroblob(32) WHERE seq = 4")
    db.close()
    assert ledger.check_ledger_file(path).ok
    with ledger.Ledger.open(path) as book:
        try:
            book.append([("org5", endorsement(5))], now=RECORD_TIME)
        except ledger.LedgerError:
            return  # refusing to append is right too
    report = ledger.check_ledger_file(path)
    assert report.ok, [str(p) for p in report.problems]
