"""Crash safety: kill writers with SIGKILL at random points, then check what they left.

    python bench/robustness/crash.py --kills 200                 # every target, ~6 min
    python bench/robustness/crash.py --kills 50 --targets append,publish --seed 7

A worker process (forked by ``child.py zygote`` from a warm interpreter) loops over one kind of
write and prints an acknowledgement after each one has *returned*, i.e. once it is durable; the
harness reads the acknowledgements and kills the worker with SIGKILL after a random delay,
counted from the fork ("cold", 0-4 ms: the kill lands while the ledger is being opened and the
previous worker's WAL recovered), from the worker's "ready" line ("warm", 0 to the target's
``max_delay``, 50-250 ms), or from its 1st-3rd acknowledgement (0-5 ms). After every kill it checks
the files the worker left, then starts the next worker on the same files. The targets:

=============  =================================================================================
append         ``Ledger.append`` of batches of 1-5 new endorsements. After a kill: the ledger
               opens (``Ledger.open``; read-write and read-only first, alternately), verifies
               (``check_ledger_file``), holds every acknowledged batch at the acknowledged
               sequence numbers, and beyond them at most the one batch in flight, whole or not
               at all (never a part of a batch, never anything else).
checkpoint     append, ``Ledger.checkpoint``, ``Ledger.add_cosignatures``. As append, and: the
               acknowledged checkpoint is recorded, the latest checkpoint verifies against the
               entries, every recorded note is a complete log-signed note whose root is the
               entries' root at its size, an acknowledged cosignature is on it.
witness        ``ledger.cosign`` of a growing log through a witness state file. After a kill:
               the lock file is free (``flock`` without waiting), the state loads (strictly)
               and is the old state or the new one, never older than the acknowledged one.
write_output   ``cli.io.write_output``: new files (64 KiB-1 MiB) and one file replaced by
               newer versions. After a kill: every acknowledged file is complete, any other
               target file is absent or complete, ``current`` is the acknowledged version or
               the one in flight.
publish        append, ``publish_bundle`` (``ledger.bundle``). After a kill: the ledger as for
               append; the bundle's ``checkpoint`` is absent (before the first publish) or a
               complete log-signed checkpoint of this ledger, not older than the acknowledged
               one; every tile and entry bundle file holds exactly the bytes the entries imply;
               ``check_bundle`` is ok, or its only problems are stale views (entries.json,
               index.html, README.txt, pages), which it reports: a half-written bundle
               never verifies.
=============  =================================================================================

Temporary files left by a kill (``.NAME.*``) are counted, not failures: a kill between the
temporary write and the rename leaves one, by design; nothing reads them. ``--json`` writes
the figures. Adding a target: a worker in ``child.py`` ``WORKERS`` and a class in ``TARGETS``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from cli.io import write_output
from robustlib import (
    CHILD,
    LOG_KEY,
    WITNESS_KEY,
    LineReader,
    batch_numbers,
    create_ledger,
    endorsement,
    entry_body,
    memory_root,
    output_payload,
    problems_text,
    read_table,
    version_payload,
)

import ledger
from ledger import merkle
from ledger.note import open_checkpoint, parse_note
from ledger.tiles import EntryBundle, encode_entry_bundle, encode_tile, parse_tile_path, tile_nodes
from ledger.witness_state import lock_path

try:  # `ledger publish` may not exist in every checkout: then its target is left out
    from ledger.bundle import publish_bundle
    from ledger.bundle_read import check_bundle
except ImportError:  # pragma: no cover
    publish_bundle = check_bundle = None  # type: ignore[assignment]

RUN_TIMEOUT = 120.0  # seconds a worker may take before the harness gives up on it
UNLIMITED = 1_000_000  # operations per killed worker: it is always killed long before
VIEWS = ("entries.json:", "index.html:", "README.txt:", "entries/", "list/")


class CrashCheckError(AssertionError):
    """An invariant did not hold after a kill (the message says which, and where)."""


def fail(message: str) -> None:
    raise CrashCheckError(message)


# ---------------------------------------------------------------------------------------------
# the zygote: forks workers, the harness kills them


class Zygote:
    """``child.py zygote``: one warm interpreter that forks a worker per run."""

    def __init__(self) -> None:
        """Start the zygote process."""
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(CHILD.parent),
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.reader = LineReader(self.process.stdout.fileno())

    def run(
        self, target: str, args: dict[str, Any], plan: tuple[str, float, int] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Run one worker; kill it per ``plan`` (None: let it finish).

        ``plan``: ``(start, delay, k)``: SIGKILL ``delay`` seconds after the fork ("cold"),
        after the worker's ready line ("warm"), or after its k-th acknowledgement ("ack").

        Returns:
            The worker's events and the zygote's exit event.
        """
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"target": target, "args": args}) + "\n").encode())
        self.process.stdin.flush()
        events: list[dict[str, Any]] = []
        pid: int | None = None
        kill_at: float | None = None
        killed = False
        acks = 0
        give_up = time.monotonic() + RUN_TIMEOUT
        while True:
            now = time.monotonic()
            if kill_at is not None and not killed and now >= kill_at and pid is not None:
                with contextlib.suppress(ProcessLookupError):  # it ended on its own: reported
                    os.kill(pid, signal.SIGKILL)
                killed = True
            if now > give_up and pid is not None and not killed:
                os.kill(pid, signal.SIGKILL)
                killed = True
                events.append({"ev": "error", "error": f"worker stalled for {RUN_TIMEOUT} s"})
            # (the worker's ready line may come before the zygote's pid line: then wait)
            wait = 1.0 if kill_at is None or killed or pid is None else max(0.0, kill_at - now)
            event = self.reader.read(wait)
            if event is None:
                continue
            kind = event["ev"]
            if kind == "exit":
                return events, event
            events.append(event)
            if kind == "pid":
                pid = int(event["pid"])
            if plan is None:
                continue
            start, delay, k = plan
            if kind == "pid":
                if start == "cold":
                    kill_at = time.monotonic() + delay
            elif kind == "ready" and start == "warm":
                kill_at = time.monotonic() + delay
            elif kind == "ack":
                acks += 1
                if start == "ack" and acks == k:
                    kill_at = time.monotonic() + delay

    def close(self) -> None:
        """Stop the zygote."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------------------------
# the targets


class Target:
    """One kind of write: the worker's arguments, and the checks after each kill."""

    name: ClassVar[str]
    max_delay: ClassVar[float] = 0.1  # seconds: kill delays are uniform in [0, max_delay]

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """Work in ``directory`` (created by ``setup``)."""
        self.directory = directory
        self.rng = rng
        self.stats: Counter[str] = Counter()

    def setup(self) -> None:
        """Create the files the workers write to."""
        self.directory.mkdir(parents=True)

    def args(self, run: int, limit: int) -> dict[str, Any]:
        """The arguments of run ``run``'s worker (``limit`` operations at most)."""
        raise NotImplementedError

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Record what the worker acknowledged."""
        raise NotImplementedError

    def check(self, run: int, *, final: bool = False) -> None:
        """Check the files after run ``run`` (killed, or finished when ``final``).

        Raises:
            CrashCheckError: an invariant does not hold.
        """
        raise NotImplementedError

    def leftovers(self, directory: Path) -> None:
        """Count (and remove) the temporary files a kill left behind."""
        for path in directory.rglob(".*"):
            if path.is_file():
                self.stats["temporary files left"] += 1
                path.unlink()


class _Batch:
    """A worker run of the ledger targets: its batches, and how many of them landed."""

    def __init__(self, run: int, first: int, batch: int) -> None:
        self.run, self.first, self.batch = run, first, batch
        self.acked = 0
        self.committed: int | None = None  # known once checked: acked, or acked + 1


class AppendTarget(Target):
    """``Ledger.append``: acknowledged batches are there, nothing partial, nothing else."""

    name = "append"
    max_delay = 0.08

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """See ``Target``."""
        super().__init__(directory, rng)
        self.path = directory / "ledger.db"
        self.batches: list[_Batch] = []
        self.entries: list[bytes] = []

    def setup(self) -> None:
        """Create the ledger (genesis only)."""
        super().setup()
        create_ledger(self.path)

    def args(self, run: int, limit: int) -> dict[str, Any]:
        """New organisations for every run (10,000 numbers each), batches of 1-5."""
        batch = _Batch(run, 1 + 10_000 * run, self.rng.choice((1, 1, 2, 3, 5)))
        self.batches.append(batch)
        return {
            "path": str(self.path),
            "first": batch.first,
            "batch": batch.batch,
            "limit": min(limit, 10_000 // batch.batch),
        }

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Count the acknowledged batches and check their sequence numbers are consecutive."""
        current = self.batches[-1]
        appends = [a for a in acks if a["kind"] == "append"]
        if [a["j"] for a in appends] != list(range(len(appends))):
            fail(f"run {current.run}: acknowledgements out of order: {appends}")
        current.acked = len(appends)
        self.acked_seqs = [a["seqs"] for a in appends]
        self.stats["acknowledged appends"] += len(appends)

    def check(self, run: int, *, final: bool = False) -> None:
        """Open, verify, and compare the entries with the batches."""
        if run % 2 == 0:  # a reader right after the crash, before any writer recovers it
            report = ledger.check_ledger_file(self.path)
            with ledger.Ledger.open(self.path) as book:
                self.entries = [raw for _, raw in book.iter_raw()]
        else:
            with ledger.Ledger.open(self.path) as book:
                self.entries = [raw for _, raw in book.iter_raw()]
            report = ledger.check_ledger_file(self.path)
        if not report.ok:
            fail(f"run {run}: the ledger does not verify after the kill:\n{problems_text(report)}")
        if report.size != len(self.entries):
            fail(f"run {run}: verify read {report.size} entries, the file {len(self.entries)}")
        self.report = report
        self._match(run)
        self.stats["max ledger size"] = max(self.stats["max ledger size"], len(self.entries))

    def _match(self, run: int) -> None:
        position = 1
        for batch in self.batches:
            whole = batch.committed if batch.committed is not None else batch.acked
            for index in range(whole):
                if batch is self.batches[-1] and index < len(self.acked_seqs):
                    seqs = self.acked_seqs[index]
                    if seqs != list(range(position, position + batch.batch)):
                        fail(
                            f"run {batch.run}: batch {index} acknowledged at {seqs}, not {position}"
                        )
                found = self._batch_at(batch, index, position)
                if found != batch.batch:
                    fail(
                        f"run {batch.run}: acknowledged batch {index} (orgs "
                        f"{batch_numbers(batch.first, batch.batch, index)}) is not at entries "
                        f"{position}.. after the kill in run {run} ({found} of its entries are)"
                    )
                position += batch.batch
            if batch.committed is None:  # the run just killed: its batch in flight
                found = self._batch_at(batch, batch.acked, position)
                if 0 < found < batch.batch:
                    fail(
                        f"run {batch.run}: a partial batch after the kill: {found} of "
                        f"{batch.batch} entries of batch {batch.acked} at {position}.."
                    )
                batch.committed = batch.acked + (found == batch.batch)
                if found == batch.batch:
                    self.stats["committed, not acknowledged"] += 1
                    position += batch.batch
        if position != len(self.entries):
            fail(
                f"run {run}: the ledger holds {len(self.entries)} entries, the batches "
                f"account for {position}: entries that nobody appended"
            )

    def _batch_at(self, batch: _Batch, index: int, position: int) -> int:
        """How many entries of the batch are at ``position``.. (in order, from the first)."""
        count = 0
        for number in batch_numbers(batch.first, batch.batch, index):
            if position + count >= len(self.entries):
                break
            try:
                body = entry_body(self.entries[position + count])
            except ledger.FormatError:
                break
            if body != endorsement(number):
                break
            count += 1
        return count


class CheckpointTarget(AppendTarget):
    """``Ledger.checkpoint`` and ``add_cosignatures`` after each append."""

    name = "checkpoint"

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """See ``Target``."""
        super().__init__(directory, rng)
        self.checkpoint_size = 0
        self.cosigned_size = 0

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Also remember the latest acknowledged checkpoint and cosignature."""
        super().absorb(args, acks)
        for ack in acks:
            if ack["kind"] == "checkpoint":
                self.checkpoint_size = ack["size"]
                self.stats["acknowledged checkpoints"] += 1
            elif ack["kind"] == "cosigned":
                self.cosigned_size = ack["size"]
                self.stats["acknowledged cosignatures"] += 1

    def check(self, run: int, *, final: bool = False) -> None:
        """The ledger checks, then the recorded checkpoints."""
        super().check(run, final=final)
        rows = read_table(self.path, "SELECT size, note FROM checkpoints ORDER BY size, created")
        notes: dict[int, bytes] = {}
        for size, text in rows:
            note = text.encode()
            try:
                verified = open_checkpoint(note, LOG_KEY.public).checkpoint
            except ledger.LedgerError as exc:
                fail(f"run {run}: the checkpoint of size {size} is damaged: {exc}")
            if verified.size != size or verified.root != memory_root(self.entries, size):
                fail(f"run {run}: the checkpoint of size {size} is not the entries' root")
            notes[size] = note
        if self.checkpoint_size and self.checkpoint_size not in notes:
            fail(f"run {run}: the acknowledged checkpoint of size {self.checkpoint_size} is gone")
        if notes:
            latest = max(notes)
            if self.report.checkpoint is None or self.report.checkpoint.size != latest:
                fail(f"run {run}: the latest checkpoint ({latest}) was not verified")
            if latest > self.checkpoint_size:
                self.stats["checkpoint committed, not acknowledged"] += 1
        if self.cosigned_size:
            note = notes[self.cosigned_size]
            parsed = parse_note(note)
            if not any(_cosigned(parsed.text, signature) for signature in parsed.signatures):
                fail(f"run {run}: the acknowledged cosignature of {self.cosigned_size} is gone")


def _cosigned(text: str, signature: Any) -> bool:
    try:
        ledger.verify_cosignature(text, signature, WITNESS_KEY.public)
    except ledger.LedgerError:
        return False
    return True


class WitnessTarget(Target):
    """``ledger.cosign``: the state is the old one or the new one, the lock is free."""

    name = "witness"
    max_delay = 0.05

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """See ``Target``."""
        super().__init__(directory, rng)
        self.path = directory / "witness.json"
        self.size = 0  # the state's size after the latest check
        self.acked = 0
        self.start = self.step = 0

    def setup(self) -> None:
        """A witness state that follows the log, nothing cosigned yet."""
        super().setup()
        ledger.init_state(self.path, WITNESS_KEY.public)
        ledger.add_log(self.path, LOG_KEY.public)

    def args(self, run: int, limit: int) -> dict[str, Any]:
        """Cosign sizes start + step, start + 2 step, ..."""
        self.start, self.step = self.size, self.rng.randint(1, 4)
        return {"path": str(self.path), "start": self.start, "step": self.step, "limit": limit}

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Remember the latest acknowledged size."""
        sizes = [a["size"] for a in acks]
        planned = [self.start + self.step * (k + 1) for k in range(len(sizes))]
        if sizes != planned:
            fail(f"cosigned sizes {sizes} are not the planned {planned}")
        self.stats["acknowledged cosignatures"] += len(sizes)
        self.acked = sizes[-1] if sizes else self.size

    def check(self, run: int, *, final: bool = False) -> None:
        """The lock is free; the state loads and is the acknowledged one or the next."""
        fd = os.open(lock_path(self.path), os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fail(f"run {run}: the lock file is still locked after the holder was killed")
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        try:
            state = ledger.load_state(self.path)
        except ledger.LedgerError as exc:
            fail(f"run {run}: the witness state does not load after the kill: {exc}")
        size = state.known[LOG_KEY.name].size
        following = self.acked + self.step
        if size not in {self.acked, following}:
            fail(
                f"run {run}: the state holds size {size}; the acknowledged size is "
                f"{self.acked} and the one in flight {following}"
            )
        if size != self.acked:
            self.stats["committed, not acknowledged"] += 1
        self.size = size
        self.leftovers(self.directory)


class WriteOutputTarget(Target):
    """``cli.io.write_output``: complete or absent, never a part of a file."""

    name = "write_output"
    max_delay = 0.08

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """See ``Target``."""
        super().__init__(directory, rng)
        self.version = 0
        self.acked_version = 0
        self.acked_new = 0
        self.run = 0

    def setup(self) -> None:
        """The file ``current`` at version 0."""
        super().setup()
        write_output(str(self.directory / "current"), version_payload(0))

    def args(self, run: int, limit: int) -> dict[str, Any]:
        """New files ``out-<run>-<j>``; versions of ``current`` after the present one."""
        self.run = run
        return {"dir": str(self.directory), "run": run, "version": self.version, "limit": limit}

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Remember the acknowledged files and version."""
        self.acked_new = sum(1 for a in acks if a["kind"] == "new")
        versions = [a["v"] for a in acks if a["kind"] == "current"]
        self.acked_version = versions[-1] if versions else self.version
        self.stats["acknowledged writes"] += len(acks)

    def check(self, run: int, *, final: bool = False) -> None:
        """Compare every file with what was written under its name."""
        self.leftovers(self.directory)
        current = (self.directory / "current").read_bytes()
        for version in (self.acked_version, self.acked_version + 1):
            if current == version_payload(version):
                if version != self.acked_version:
                    self.stats["committed, not acknowledged"] += 1
                self.version = version
                break
        else:
            fail(
                f"run {run}: 'current' ({len(current)} bytes, starting "
                f"{current[:20]!r}) is neither version {self.acked_version} nor the next"
            )
        names = {p.name for p in self.directory.iterdir()} - {"current"}
        for index in range(self.acked_new):
            if f"out-{run}-{index}" not in names:
                fail(f"run {run}: the acknowledged file out-{run}-{index} is missing")
        for name in sorted(names):
            _, written_run, index = name.split("-")
            if int(written_run) != run or int(index) > self.acked_new:
                fail(f"run {run}: unexpected file {name}")
            data = (self.directory / name).read_bytes()
            if data != output_payload(run, int(index)):
                fail(f"run {run}: {name} is not what was written ({len(data)} bytes)")
            if int(index) == self.acked_new:
                self.stats["committed, not acknowledged"] += 1
            (self.directory / name).unlink()  # checked: keep the directory small


class PublishTarget(AppendTarget):
    """``publish_bundle``: the bundle is the previous one or the new one, or says it is stale."""

    name = "publish"
    max_delay = 0.25

    def __init__(self, directory: Path, rng: random.Random) -> None:
        """See ``Target``."""
        super().__init__(directory, rng)
        self.bundle = directory / "bundle"
        self.published = 0

    def args(self, run: int, limit: int) -> dict[str, Any]:
        """As append, and the bundle directory."""
        return {**super().args(run, limit), "bundle": str(self.bundle)}

    def absorb(self, args: dict[str, Any], acks: list[dict[str, Any]]) -> None:
        """Also remember the latest acknowledged publication."""
        super().absorb(args, acks)
        for ack in acks:
            if ack["kind"] == "publish":
                self.published = ack["size"]
                self.stats["acknowledged publications"] += 1

    def check(self, run: int, *, final: bool = False) -> None:  # noqa: PLR0912
        """The ledger checks, then the bundle's checkpoint, tiles and report."""
        super().check(run, final=final)
        assert check_bundle is not None
        path = self.bundle / "checkpoint"
        if not path.exists():
            if self.published:
                fail(f"run {run}: the bundle's checkpoint is gone ({self.published} published)")
            if self.bundle.exists():
                try:
                    check_bundle(self.bundle)
                except ledger.UsageError:
                    self.stats["bundle: no checkpoint yet (not a bundle)"] += 1
                else:
                    fail(f"run {run}: a bundle without a checkpoint was read")
            return
        note = path.read_bytes()
        try:
            published = open_checkpoint(note, LOG_KEY.public).checkpoint
        except ledger.LedgerError as exc:
            fail(f"run {run}: the bundle's checkpoint is damaged: {exc}")
        if published.size < self.published:
            fail(f"run {run}: the bundle rolled back from {self.published} to {published.size}")
        if published.root != memory_root(self.entries, published.size):
            fail(f"run {run}: the bundle's checkpoint is not this ledger's root")
        if published.size > self.published:
            self.stats["publication committed, not acknowledged"] += 1
        self._check_tiles(run)
        report = check_bundle(self.bundle)
        others = [
            p for p in report.problems if p.check != "bundle" or not p.message.startswith(VIEWS)
        ]
        if others:
            fail(f"run {run}: the bundle is damaged: {'; '.join(map(str, others[:5]))}")
        if report.ok:
            self.stats["bundle: complete, verifies"] += 1
        elif final:
            fail(f"run {run}: after a clean publish the bundle does not verify: {report.problems}")
        else:
            self.stats["bundle: stale views, reported by verify"] += 1
        self.leftovers(self.bundle)

    def _check_tiles(self, run: int) -> None:
        """Every tile file holds exactly the bytes the entries imply (never a part)."""
        tree = merkle.MemoryTree()
        for raw in self.entries:
            tree.append_leaf_hash(merkle.hash_leaf(raw))
        for path in (self.bundle / "tile").rglob("*") if (self.bundle / "tile").exists() else ():
            if not path.is_file() or path.name.startswith("."):
                continue
            relative = path.relative_to(self.bundle).as_posix()
            tile = parse_tile_path(relative)
            if isinstance(tile, EntryBundle):
                expected = encode_entry_bundle(self.entries[tile.start : tile.start + tile.width])
            else:
                expected = encode_tile([tree.subtree_hash(*n) for n in tile_nodes(tile)])
            if path.read_bytes() != expected:
                fail(f"run {run}: {relative} does not hold the bytes its entries imply")
            self.stats["tile files checked"] += 1


TARGETS: dict[str, type[Target]] = {
    "append": AppendTarget,
    "checkpoint": CheckpointTarget,
    "witness": WitnessTarget,
    "write_output": WriteOutputTarget,
}
if publish_bundle is not None:
    TARGETS["publish"] = PublishTarget


# ---------------------------------------------------------------------------------------------
# the loop


def kill_plan(rng: random.Random, max_delay: float) -> tuple[str, float, int]:
    """Where to kill the next worker.

    25% "cold": 0-4 ms after the fork, in ``Ledger.open`` and the recovery of the previous
    worker's WAL; 50% "warm": 0-``max_delay`` after the worker is ready; 25% 0-5 ms after its
    1st, 2nd or 3rd acknowledgement.
    """
    draw = rng.random()
    if draw < 0.25:
        return ("cold", rng.uniform(0, 0.004), 0)
    if draw < 0.75:
        return ("warm", rng.uniform(0, max_delay), 0)
    return ("ack", rng.uniform(0, 0.005), rng.randint(1, 3))


def run_target(
    name: str, kills: int, directory: Path, zygote: Zygote, *, seed: int = 0, log: Any = None
) -> dict[str, Any]:
    """Kill ``kills`` workers of target ``name``; then one clean run. Returns the figures.

    Raises:
        CrashCheckError: an invariant failed (the files stay in ``directory``).
    """
    rng = random.Random(f"{seed}:{name}")
    target = TARGETS[name](directory / name, rng)
    target.setup()
    started = time.perf_counter()
    killed = runs = 0
    phases: Counter[str] = Counter()
    plans: Counter[str] = Counter()
    while killed < kills:
        plan = kill_plan(rng, target.max_delay)
        plans[plan[0]] += 1
        args = target.args(runs, UNLIMITED)
        events, end = zygote.run(name, args, plan)
        _absorb(target, runs, args, events)
        if end["signal"] == signal.SIGKILL:
            killed += 1
            acks = sum(1 for e in events if e["ev"] == "ack")
            ready = any(e["ev"] == "ready" for e in events)
            phases[
                "before ready" if not ready else "after ready, no ack" if not acks else "after acks"
            ] += 1
        elif end["code"] != 0:
            fail(f"{name} run {runs}: the worker ended with {end}")
        target.check(runs)
        runs += 1
        if log is not None and killed % 25 == 0 and killed:
            log(f"{name}: {killed}/{kills} kills, {dict(target.stats)}")
    # A clean run at the end: the files the kills left must be fully usable.
    args = target.args(runs, 2)
    events, end = zygote.run(name, args, None)
    _absorb(target, runs, args, events)
    if end["code"] != 0 or not any(e["ev"] == "done" for e in events):
        fail(f"{name}: the clean run after the kills failed: {events[-3:]} {end}")
    target.check(runs, final=True)
    return {
        "target": name,
        "kills": killed,
        "runs": runs + 1,
        "seconds": round(time.perf_counter() - started, 2),
        "killed": dict(phases),
        "plans": dict(plans),
        **dict(target.stats),
    }


def _absorb(target: Target, run: int, args: dict[str, Any], events: list[dict[str, Any]]) -> None:
    errors = [e["error"] for e in events if e["ev"] == "error"]
    if errors:
        fail(f"{target.name} run {run}: the worker failed: {errors[0]}")
    target.absorb(args, [e for e in events if e["ev"] == "ack"])


def run_all(
    targets: list[str], kills: int, directory: Path, *, seed: int = 0, log: Any = None
) -> list[dict[str, Any]]:
    """Run several targets with one zygote."""
    zygote = Zygote()
    try:
        return [run_target(t, kills, directory, zygote, seed=seed, log=log) for t in targets]
    finally:
        zygote.close()


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="kills per target (default 200)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the files of a passing run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    options = parser.parse_args()
    names = [t for t in options.targets.split(",") if t]
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {sorted(TARGETS)}")
    directory = options.workdir or Path(tempfile.mkdtemp(prefix="ledger-crash-"))
    print(f"crash: {options.kills} kills per target, seed {options.seed}, in {directory}")
    started = time.perf_counter()
    try:
        results = run_all(
            names, options.kills, directory, seed=options.seed, log=lambda m: print(m, flush=True)
        )
    except CrashCheckError as exc:
        print(f"FAILED: {exc}\nthe files are in {directory}")
        sys.exit(1)
    for result in results:
        print(json.dumps(result))
    print(f"all invariants held; {time.perf_counter() - started:.1f} s")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    if not options.keep and options.workdir is None:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
