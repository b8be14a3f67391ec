"""Shared helpers of the benchmark scripts: deterministic ledgers, timing, tables, JSON.

Every key here is derived from a public label (SHA-256 of ``"endorsement-ledger bench v1: ..."``),
so anybody can recompute it: benchmark ledgers prove nothing about anybody.

The ledger at ``LEDGER`` comes with:

* ``LEDGER.logkey`` and ``LEDGER.logkey.pub``: the log key (secret and public key files);
* ``LEDGER.checkpoint.M``: the signed checkpoint recorded at size ``M`` (one file per
  checkpoint), for incremental verification from a checkpoint a reader "saved".
"""

from __future__ import annotations

import collections
import hashlib
import importlib.metadata
import itertools
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

import ledger

T0 = 1_700_000_000
"""Record and signing times start here (2023-11-14); one second per entry after it."""
ORIGIN = "bench.endorsement-ledger.example/letter"
TITLE = "Benchmark statement (generated; demo keys)"
COUNTRIES = ("BE", "DE", "ES", "FR", "GR", "IT", "NL", "PL", "PT", "SE")
STATEMENT = (
    "We, the undersigned organisations, call on the institutions to protect the privacy of\n"
    "everyone's communications, and to keep encryption strong.\n"
    "\n"
    "This text is generated for benchmarks of endorsement-ledger. The keys that sign it are\n"
    "derived from public labels: they prove nothing about any organisation.\n"
) * 4


# ---------------------------------------------------------------------------------------------
# deterministic content


def _seed(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"endorsement-ledger bench v1: {seed}: {label}".encode()).digest()


def log_key(seed: str) -> ledger.SigningKey:
    """The benchmark ledger's log key (deterministic)."""
    return ledger.SigningKey.from_seed(ORIGIN, _seed(seed, "log"))


def org_key(seed: str, index: int) -> ledger.SigningKey:
    """The key of the organisation whose endorsement is entry ``index``."""
    return ledger.SigningKey.from_seed(f"org-{index:07d}", _seed(seed, f"org {index}"))


def endorsement(seed: str, index: int, statement_hash: bytes, signed_at: int) -> bytes:
    """The COSE endorsement that becomes entry ``index``: a realistic mix of optional fields.

    Every organisation gives a name; one in three a domain, one in four a country, one in ten a
    website (so payloads are 230-330 bytes, entries 390-490 bytes).
    """
    domain = f"org{index:07d}.example" if index % 3 == 0 else None
    return ledger.endorse(
        org_key(seed, index),
        statement_hash,
        name=f"Organisation {index:06d}",
        signed_at=signed_at,
        domain=domain,
        url=f"https://www.org{index:07d}.example/about" if index % 10 == 0 else None,
        country=COUNTRIES[index % len(COUNTRIES)] if index % 4 == 0 else None,
    )


def _sign_batch(spec: tuple[str, int, int, bytes]) -> list[tuple[str, bytes]]:
    """Worker: the endorsements of entries [start, end) (entry i signed at T0 + i)."""
    seed, start, end, statement_hash = spec
    return [
        (str(index), endorsement(seed, index, statement_hash, T0 + index))
        for index in range(start, end)
    ]


def batches(start: int, end: int, size: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """Split [start, end) into batches of at most ``size``, also cut at each of ``cuts``."""
    edges = sorted({start, end, *(c for c in cuts if start < c < end)})
    out: list[tuple[int, int]] = []
    for low, high in itertools.pairwise(edges):
        out += [(b, min(b + size, high)) for b in range(low, high, size)]
    return out


def checkpoint_path(path: Path, size: int) -> Path:
    """Where the checkpoint at ``size`` is written beside the ledger."""
    return path.with_name(f"{path.name}.checkpoint.{size}")


def logkey_path(path: Path) -> Path:
    """The log key's secret file beside the ledger (its public key: ``+ '.pub'``)."""
    return path.with_name(f"{path.name}.logkey")


def create(path: Path, seed: str) -> ledger.Ledger:
    """Create an empty benchmark ledger (genesis only) and write its log key files."""
    key = log_key(seed)
    book = ledger.Ledger.create(
        path, statement=STATEMENT.encode(), title=TITLE, origin=ORIGIN, log_key=key, now=T0
    )
    ledger.write_key_pair(logkey_path(path), key)
    return book


def fill(
    book: ledger.Ledger,
    path: Path,
    seed: str,
    target: int,
    *,
    checkpoints: Iterable[int] = (),
    batch: int = 2000,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Append endorsements until ``book`` holds ``target`` entries; checkpoint at each size in
    ``checkpoints`` (and at ``target``), writing ``LEDGER.checkpoint.M`` files.

    Endorsements are signed by ``workers`` processes while this one appends; each batch is one
    ``Ledger.append`` call (one transaction, one record time: T0 + the batch's end), so the
    endorsements do not depend on ``batch`` or ``workers``; record times (hence entry bytes)
    depend on ``batch``.
    """
    key = log_key(seed)
    wanted = {c for c in checkpoints if book.size < c <= target} | {target}
    specs = [
        (seed, low, high, book.statement_hash)
        for low, high in batches(book.size, target, batch, wanted)
    ]
    done = book.size

    def append(signed: list[tuple[str, bytes]]) -> None:
        nonlocal done
        first = int(signed[0][0])
        result = book.append(signed, atomic=True, now=T0 + first + len(signed))
        assert len(result.appended) == len(signed)
        done = book.size
        if done in wanted:
            note = book.checkpoint(key, now=T0 + done)
            checkpoint_path(path, done).write_bytes(note)
        if progress is not None:
            progress(done, target)

    if workers <= 0 or len(specs) <= 1:
        for spec in specs:
            append(_sign_batch(spec))
        return
    # At most a few batches in flight: signing outruns appending, and Pool.imap would buffer
    # every signed batch in memory.
    ahead = 2 * workers + 1
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: collections.deque[AsyncResult[list[tuple[str, bytes]]]] = collections.deque()
        for spec in specs:
            pending.append(pool.apply_async(_sign_batch, (spec,)))
            if len(pending) >= ahead:
                append(pending.popleft().get())
        while pending:
            append(pending.popleft().get())


def upgrade_state(path: Path) -> bool:
    """Bring an older benchmark ledger up to the library's current store schema.

    The lifecycle state tables changed (commit 3a60e11 added ``orgs.skeleton2`` and changed
    the skeletons without a version change, so ``append`` failed on older files; f41655e made
    it schema version 2, and older files are now refused). The state is derived data: this adds
    the missing columns and indexes, rewrites every organisation's row through the library's
    own ``SqliteState.put_org``, and sets the schema version, so a ledger generated before does
    not have to be generated again (10^6 entries: ~20 minutes). Returns True if it changed the
    file. For benchmark ledgers only: the library itself has no migration.
    """
    from ledger.store.sqlite import SCHEMA_VERSION  # noqa: PLC0415 - internal, for this only
    from ledger.store.state import STATE_SCHEMA, SqliteState  # noqa: PLC0415

    expected = sqlite3.connect(":memory:")
    expected.executescript(STATE_SCHEMA)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        added = []
        for table in ("keys", "orgs"):
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for row in expected.execute(f"PRAGMA table_info({table})"):
                if row[1] not in have:
                    added.append(f"ALTER TABLE {table} ADD COLUMN {row[1]} {row[2]}")
        if not added and version == SCHEMA_VERSION:
            return False
        indexes = [
            str(sql).replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
            for (sql,) in expected.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        ]
        db.execute("BEGIN IMMEDIATE")
        for statement in added + indexes:
            db.execute(statement)
        state = SqliteState(db, str(path))
        for (org,) in db.execute("SELECT org FROM orgs").fetchall():
            state.put_org(state.org(int(org)))
        db.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
        db.execute("COMMIT")
    finally:
        db.close()
        expected.close()
    return True


def extend_copy(source: Path, target: Path, seed: str, size: int) -> ledger.Ledger:
    """Copy a benchmark ledger (and its key files) to ``target``, bring its lifecycle tables
    up to the library's schema (``upgrade_state``), and grow it to ``size``."""
    for suffix in ("", "-wal", "-shm", ".logkey", ".logkey.pub"):
        src = source.with_name(source.name + suffix)
        if src.exists():
            shutil.copyfile(src, target.with_name(target.name + suffix))
    if upgrade_state(target):
        print(
            f"note: upgraded the lifecycle tables of {target} (see upgrade_state)", file=sys.stderr
        )
    book = ledger.Ledger.open(target)
    fill(book, target, seed, size, workers=0)
    return book


# ---------------------------------------------------------------------------------------------
# measuring


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """Seconds one call takes (perf_counter), and its result."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def repeat(action: Callable[[], object], reps: int) -> list[float]:
    """Seconds of ``reps`` calls."""
    return [timed(action)[0] for _ in range(reps)]


def ledger_size(path: Path) -> int:
    """Entries in a ledger file."""
    with ledger.Ledger.open(path, readonly=True) as book:
        return book.size


def sample_positions(size: int, count: int, first: int = 1) -> list[int]:
    """``count`` positions spread evenly over [first, size)."""
    span = size - first
    if span <= 0:
        return []
    if count >= span:
        return list(range(first, size))
    return [first + (i * span) // count for i in range(count)]


def human(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def ratio_status(ratio: float, limit: float, *, at_least: bool = True) -> str:
    """``met`` or ``NOT met`` for a ratio against its limit."""
    ok = ratio >= limit if at_least else ratio <= limit
    return "met" if ok else "NOT met"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-markdown table."""
    lines = [list(map(str, headers)), *[list(map(str, row)) for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(lines[0], widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines[1:]
    ]
    return "\n".join(out)


def environment() -> dict[str, Any]:
    """What the figures depend on: versions, cores, the machine's load when measuring."""

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "ledger": ledger.__version__,
        "cryptography": version("cryptography"),
        "cbor2": version("cbor2"),
        "pynacl": version("pynacl"),
        "pymerkle": version("pymerkle"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: str | None, name: str, results: Any) -> None:
    """Write ``{"benchmark", "environment", "results"}`` to ``path`` (nothing if None)."""
    if path is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "environment": environment(), "results": results}
    target.write_text(json.dumps(document, indent=2) + "\n")


def progress_printer(enabled: bool) -> Callable[[int, int], None] | None:
    """A progress callback that rewrites one stderr line, or None."""
    if not enabled:
        return None
    start = time.perf_counter()

    def show(done: int, total: int) -> None:
        elapsed = time.perf_counter() - start
        sys.stderr.write(f"\r{done:>10,}/{total:,} entries  {elapsed:7.1f} s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def iter_chunks(items: Sequence[Any], parts: int) -> Iterator[Sequence[Any]]:
    """Split ``items`` into ``parts`` contiguous chunks."""
    step = -(-len(items) // parts)
    for low in range(0, len(items), step):
        yield items[low : low + step]
