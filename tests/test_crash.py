"""Crash safety: writers killed with SIGKILL at random points leave every acknowledged write.

The CI version of ``bench/robustness/crash.py`` (see its docstring for the invariants checked
after each kill): ``KILLS`` kills per target with a fixed seed. The kill times vary from run to
run, but every invariant must hold after *any* kill, so the outcome does not. The long version:
``python bench/robustness/crash.py --kills 200``.

The harness's checks are shown to bite too: each negative control below breaks one invariant
by hand and expects the check to fail.
"""

from __future__ import annotations

import fcntl
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "robustness"))
import crash
from robustlib import RECORD_TIME, endorsement, output_payload

import ledger

KILLS = 20
SEED = 1


@pytest.fixture(scope="module")
def zygote() -> Iterator[crash.Zygote]:
    started = crash.Zygote()
    yield started
    started.close()


def test_publish_is_a_target_when_bundles_exist() -> None:
    try:
        import ledger.bundle  # noqa: F401
    except ImportError:
        pytest.skip("ledger.bundle does not exist yet")
    assert "publish" in crash.TARGETS


@pytest.mark.parametrize("name", sorted(crash.TARGETS))
def test_every_acknowledged_write_survives_sigkill(
    name: str, zygote: crash.Zygote, tmp_path: Path
) -> None:
    result = crash.run_target(name, KILLS, tmp_path, zygote, seed=SEED)
    assert result["kills"] == KILLS
    assert sum(result["killed"].values()) == KILLS
    # Kills that wait for the k-th acknowledgement guarantee that some writes were
    # acknowledged before a kill, so the checks compared real acknowledged data.
    acknowledged = sum(v for k, v in result.items() if k.startswith("acknowledged"))
    assert acknowledged >= result["plans"]["ack"] > 0, result


# --- Negative controls: the checks catch what they claim to catch ---------------------------------


def appended(path: Path, numbers: list[int]) -> None:
    with ledger.Ledger.open(path) as book:
        result = book.append([(f"org{n}", endorsement(n)) for n in numbers], now=RECORD_TIME)
        assert len(result.appended) == len(numbers)


def append_target(tmp_path: Path, batch: int) -> tuple[crash.AppendTarget, dict[str, object]]:
    target = crash.AppendTarget(tmp_path / "t", random.Random(0))
    target.setup()
    args = target.args(0, 10)
    target.batches[-1].batch = batch
    return target, {**args, "batch": batch}


def test_a_lost_acknowledged_append_is_caught(tmp_path: Path) -> None:
    target, args = append_target(tmp_path, 1)
    appended(target.path, [args["first"]])  # type: ignore[list-item]
    acks = [{"kind": "append", "j": j, "seqs": [j + 1]} for j in range(2)]  # one more than landed
    target.absorb(args, acks)
    with pytest.raises(crash.CrashCheckError, match="acknowledged batch 1"):
        target.check(0)


def test_a_partial_batch_is_caught(tmp_path: Path) -> None:
    target, args = append_target(tmp_path, 3)
    first = args["first"]
    assert isinstance(first, int)
    appended(target.path, [first, first + 1])  # two of the batch's three
    target.absorb(args, [])
    with pytest.raises(crash.CrashCheckError, match="partial batch"):
        target.check(0)


def test_an_entry_nobody_appended_is_caught(tmp_path: Path) -> None:
    target, args = append_target(tmp_path, 1)
    appended(target.path, [999_999])
    target.absorb(args, [])
    with pytest.raises(crash.CrashCheckError, match="nobody appended"):
        target.check(0)


def test_a_held_witness_lock_is_caught(tmp_path: Path) -> None:
    target = crash.WitnessTarget(tmp_path / "w", random.Random(0))
    target.setup()
    target.absorb(target.args(0, 10), [])
    fd = os.open(target.path.with_name("witness.json.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(crash.CrashCheckError, match="still locked"):
            target.check(0)
    finally:
        os.close(fd)
    target.check(0)  # released: passes


def test_a_torn_output_file_is_caught(tmp_path: Path) -> None:
    target = crash.WriteOutputTarget(tmp_path / "o", random.Random(0))
    target.setup()
    target.absorb(target.args(0, 10), [])
    (target.directory / "out-0-0").write_bytes(output_payload(0, 0)[:1000])
    with pytest.raises(crash.CrashCheckError, match="out-0-0 is not what was written"):
        target.check(0)


@pytest.mark.skipif("publish" not in crash.TARGETS, reason="no ledger.bundle yet")
def test_a_torn_tile_is_caught(tmp_path: Path) -> None:
    target = crash.PublishTarget(tmp_path / "p", random.Random(0))
    target.setup()
    args = target.args(0, 10)
    first = args["first"]
    assert isinstance(first, int)
    batch = target.batches[-1].batch
    appended(target.path, list(range(first, first + batch)))
    with ledger.Ledger.open(target.path) as book:
        crash.publish_bundle(book, target.bundle, log_key=crash.LOG_KEY, now=RECORD_TIME)
    target.absorb(args, [{"kind": "append", "j": 0, "seqs": list(range(1, batch + 1))}])
    target.check(0)  # intact: passes
    tile = next(p for p in (target.bundle / "tile").rglob("*") if p.is_file())
    tile.write_bytes(tile.read_bytes()[:-1])
    with pytest.raises(crash.CrashCheckError, match="does not hold the bytes"):
        target.check(1)
