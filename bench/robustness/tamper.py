"""Tamper detection at scale: random mutations of a ledger file and of a published bundle.

    python bench/robustness/tamper.py --mutations 5000            # ~7 min on 2 cores
    python bench/robustness/tamper.py --mutations 500 --seed 9 --only ledger

Each mutation is applied to a fresh copy of a valid original and the copy is verified the way
a reader would (``check_ledger_file`` for the SQLite file, ``check_bundle`` for a bundle). Every
mutation is classified:

* **detected**: verification ran and failed (``ledger verify`` exit 1);
* **refused**: the file cannot be read as a ledger or bundle at all: a ``LedgerError``
  (``StoreError``, ``UsageError``...) before any report (exit 2);
* **harmless**: verification passed *and* what a reader gets is byte-identical to the original
  (every entry, and the latest checkpoint note; for a bundle every file verification reads):
  the mutation hit unused space, an index, or data nothing reads (for the SQLite file, the
  stored ``leaf_hash`` column, the ``tree`` table, the lifecycle tables or metadata: the
  report's ``harmless`` detail says which tables differ, so derived data that differs is
  visible);
* **CRASHED**: verification raised something that is not a ``LedgerError`` (the command line
  would print a traceback): a bug, though nothing was accepted;
* **UNDETECTED**: verification passed and the data differs. Must be zero.

The original ledger holds endorsements, a withdrawal, a removal, and a checkpoint of the whole
ledger, so that dropping the last entries or changing the last record time is detected too
(without a checkpoint covering them those are the documented limits, see docs/security.md).

Ledger mutations, SQL level (on the ``entries`` table unless named): flip a byte of an entry,
truncate it, insert a byte, append bytes, swap two entries, drop one, duplicate one (over
another or as a new last entry), drop the last 1-3 entries, rewrite one entry's record time
and re-chain every later entry (a careful forger without the log key), store an entry as TEXT
or INTEGER; flip a stored leaf hash, a ``tree`` hash, a checkpoint note byte, drop the
checkpoint row, a ``tree`` row, change ``meta``. Raw level (the bytes of the .db file): flip
one bit, flip 2-8 bytes, flip a byte inside an entry's bytes as stored, truncate the file,
insert a byte, zero a page, swap two pages.

Bundle mutations (if ``ledger.bundle`` exists), on every file (tiles, entry bundles,
checkpoint, statement.txt, log.pub, entries.json, index.html, README.txt): flip a byte,
truncate, insert a byte, append bytes, empty, delete, swap with another file, replace the
checkpoint with the ledger's older (valid, signed) checkpoint, move a partial tile to another
width.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from robustlib import (
    LOG_KEY,
    RECORD_TIME,
    STATEMENT_HASH,
    T0,
    create_ledger,
    endorsement,
    org_key,
    read_table,
)

import ledger
from ledger.merkle import hash_leaf
from ledger.store import open_store

try:  # `ledger publish` may not exist in every checkout: then bundles are left out
    from ledger.bundle import publish_bundle
    from ledger.bundle_read import check_bundle
except ImportError:  # pragma: no cover
    publish_bundle = check_bundle = None  # type: ignore[assignment]

CLASSES = ("detected", "refused", "harmless", "CRASHED", "UNDETECTED")
EXIT_CODES = {"detected": 1, "refused": 2, "harmless": 0}
"""What ``ledger verify`` must exit with for each class (a crash exits 1 with a traceback)."""
PAGE = 4096
TABLES = {
    "entries.data": "SELECT seq, data FROM entries ORDER BY seq",
    "entries.leaf_hash": "SELECT seq, leaf_hash FROM entries ORDER BY seq",
    "tree": "SELECT * FROM tree ORDER BY level, idx",
    "checkpoints": "SELECT * FROM checkpoints ORDER BY size, created",
    "meta": "SELECT * FROM meta ORDER BY name",
    "keys": "SELECT * FROM keys ORDER BY key_id",
    "orgs": "SELECT * FROM orgs ORDER BY org",
}


# ---------------------------------------------------------------------------------------------
# the originals


def build_ledger(path: Path, count: int) -> None:
    """A ledger of ``count`` endorsements, a withdrawal, a removal, and a final checkpoint."""
    create_ledger(path, count)
    with ledger.Ledger.open(path) as book:
        withdrawal = ledger.withdraw(org_key(2), STATEMENT_HASH, signed_at=T0 + 500, ref=2)
        result = book.append([("withdraw", withdrawal)], now=RECORD_TIME + 10)
        assert result.appended, result.rejected
        book.remove(3, ledger.RemovalReason.MISTAKEN, LOG_KEY, note="test", now=RECORD_TIME + 20)
        book.checkpoint(LOG_KEY, now=RECORD_TIME + 30)
    assert not Path(f"{path}-wal").exists(), "the original must be one file"


def build_bundle(directory: Path, count: int, older: int) -> bytes:
    """A ledger of ``count`` endorsements published into ``directory/bundle``.

    Returns:
        The checkpoint of an earlier publication of the first ``older`` endorsements.
    """
    path = directory / "bundle-ledger.db"
    create_ledger(path, older)
    with ledger.Ledger.open(path) as book:
        assert publish_bundle is not None
        publish_bundle(book, directory / "old-bundle", log_key=LOG_KEY, now=RECORD_TIME)
        batch = [(f"org{n}", endorsement(n)) for n in range(older + 1, count + 1)]
        assert len(book.append(batch, now=RECORD_TIME + 1).appended) == len(batch)
        publish_bundle(book, directory / "bundle", log_key=LOG_KEY, now=RECORD_TIME + 2)
    return (directory / "old-bundle" / "checkpoint").read_bytes()


@attrs.define
class Original:
    """What a reader gets from the original ledger file."""

    data: bytes
    entries: list[tuple[int, bytes]]
    checkpoint: str | None
    tables: dict[str, list[tuple[Any, ...]]]

    @classmethod
    def read(cls, path: Path) -> Original:
        """Read the original file."""
        store = open_store(path, readonly=True)
        try:
            entries = list(store.iter_entries())
            checkpoint = store.latest_checkpoint()
        finally:
            store.close()
        return cls(path.read_bytes(), entries, checkpoint, dump_tables(path))


def dump_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ledger's tables (for the harmless detail)."""
    return {table: read_table(path, sql) for table, sql in TABLES.items()}


# ---------------------------------------------------------------------------------------------
# ledger mutations


def _sql(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous = OFF")  # a scratch copy: no need to wait for the disk
        with db:
            for sql, args in statements:
                db.execute(sql, args)
    finally:
        db.close()


def _set_entry(seq: int, data: Any) -> tuple[str, tuple[Any, ...]]:
    return ("UPDATE entries SET data = ? WHERE seq = ?", (data, seq))


def _flip(data: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(data))
    value = data[position] ^ rng.randrange(1, 256)
    return data[:position] + bytes([value]) + data[position + 1 :]


Mutation = Callable[[Path, "Original", random.Random], str]


def m_entry_flip(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    _sql(path, _set_entry(seq, _flip(data, rng)))
    return f"entry {seq}"


def m_entry_truncate(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    keep = rng.randrange(len(data))
    _sql(path, _set_entry(seq, data[:keep]))
    return f"entry {seq} to {keep} bytes"


def m_entry_insert(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    at = rng.randrange(len(data) + 1)
    _sql(path, _set_entry(seq, data[:at] + bytes([rng.randrange(256)]) + data[at:]))
    return f"entry {seq} at {at}"


def m_entry_extend(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    _sql(path, _set_entry(seq, data + rng.randbytes(rng.randint(1, 8))))
    return f"entry {seq}"


def m_entry_swap(path: Path, original: Original, rng: random.Random) -> str:
    (a, data_a), (b, data_b) = rng.sample(original.entries, 2)
    _sql(path, _set_entry(a, data_b), _set_entry(b, data_a))
    return f"entries {a} and {b}"


def m_entry_drop(path: Path, original: Original, rng: random.Random) -> str:
    seq, _ = rng.choice(original.entries)
    _sql(path, ("DELETE FROM entries WHERE seq = ?", (seq,)))
    return f"entry {seq}"


def m_entry_duplicate(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    if rng.random() < 0.5:
        last = len(original.entries)
        _sql(path, ("INSERT INTO entries VALUES (?, ?, ?)", (last, hash_leaf(data), data)))
        return f"entry {seq} copied as a new entry {last}"
    other, _ = rng.choice([e for e in original.entries if e[0] != seq])
    _sql(path, _set_entry(other, data))
    return f"entry {seq} copied over entry {other}"


def m_drop_tail(path: Path, original: Original, rng: random.Random) -> str:
    count = rng.randint(1, 3)
    first = len(original.entries) - count
    _sql(path, ("DELETE FROM entries WHERE seq >= ?", (first,)))
    return f"the last {count} entries"


def m_rechain(path: Path, original: Original, rng: random.Random) -> str:
    """Change one entry's record time and re-chain everything after it: only roots notice."""
    seq = rng.randrange(1, len(original.entries))
    decoded = [ledger.decode_entry(data) for _, data in original.entries]
    shift = rng.choice((-1, 1))
    if seq == len(decoded) - 1 or rng.random() < 0.5:
        shift = 1  # later: never before the previous entry, a check of its own
    decoded[seq] = attrs.evolve(decoded[seq], recorded_at=decoded[seq].recorded_at + shift)
    prev = hash_leaf(original.entries[seq - 1][1])
    statements = []
    for position in range(seq, len(decoded)):
        data = ledger.encode_entry(attrs.evolve(decoded[position], prev=prev))
        prev = hash_leaf(data)
        statements.append(
            ("UPDATE entries SET data = ?, leaf_hash = ? WHERE seq = ?", (data, prev, position))
        )
    _sql(path, *statements)
    return f"entry {seq} record time {shift:+d}, re-chained"


def m_entry_as_text(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    value: Any = rng.choice((data.decode("latin-1"), len(data), -len(data)))
    _sql(path, _set_entry(seq, value))
    return f"entry {seq} stored as {type(value).__name__}"


def m_leaf_hash(path: Path, original: Original, rng: random.Random) -> str:
    seq, data = rng.choice(original.entries)
    _sql(
        path, ("UPDATE entries SET leaf_hash = ? WHERE seq = ?", (_flip(hash_leaf(data), rng), seq))
    )
    return f"leaf hash of entry {seq}"


def m_tree(path: Path, original: Original, rng: random.Random) -> str:
    level, index, value = rng.choice(original.tables["tree"])
    if rng.random() < 0.5:
        _sql(path, ("DELETE FROM tree WHERE level = ? AND idx = ?", (level, index)))
        return f"tree node ({level}, {index}) dropped"
    statement = "UPDATE tree SET hash = ? WHERE level = ? AND idx = ?"
    _sql(path, (statement, (_flip(bytes(value), rng), level, index)))
    return f"tree node ({level}, {index})"


def m_checkpoint(path: Path, original: Original, rng: random.Random) -> str:
    size, _, note = rng.choice(original.tables["checkpoints"])
    if rng.random() < 0.3:
        _sql(path, ("DELETE FROM checkpoints WHERE size = ?", (size,)))
        return f"checkpoint {size} dropped"
    text = note.encode()
    flipped = _flip(text, rng).decode("utf-8", "replace")
    _sql(path, ("UPDATE checkpoints SET note = ? WHERE size = ?", (flipped, size)))
    return f"checkpoint {size} note"


def m_meta(path: Path, original: Original, rng: random.Random) -> str:
    name, value = rng.choice(original.tables["meta"])
    _sql(path, ("UPDATE meta SET value = ? WHERE name = ?", (_flip(bytes(value), rng), name)))
    return f"meta {name}"


def _raw(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def r_flip_bit(path: Path, original: Original, rng: random.Random) -> str:
    data = bytearray(original.data)
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    _raw(path, bytes(data))
    return f"offset {position} (page {position // PAGE})"


def r_flip_bytes(path: Path, original: Original, rng: random.Random) -> str:
    data = bytearray(original.data)
    positions = [rng.randrange(len(data)) for _ in range(rng.randint(2, 8))]
    for position in positions:
        data[position] ^= rng.randrange(1, 256)
    _raw(path, bytes(data))
    return f"offsets {positions}"


def r_flip_in_entry(path: Path, original: Original, rng: random.Random) -> str:
    data = bytearray(original.data)
    seq, raw = rng.choice(original.entries)
    start = data.find(raw[:64])
    if start < 0:  # an entry that spills onto overflow pages: flip its first bytes
        start = data.find(raw[:16])
    position = start + rng.randrange(min(64, len(raw)))
    data[position] ^= rng.randrange(1, 256)
    _raw(path, bytes(data))
    return f"entry {seq}'s bytes at offset {position}"


def r_truncate(path: Path, original: Original, rng: random.Random) -> str:
    keep = rng.randrange(len(original.data))
    if rng.random() < 0.5:
        keep -= keep % PAGE
    _raw(path, original.data[:keep])
    return f"to {keep} bytes"


def r_insert(path: Path, original: Original, rng: random.Random) -> str:
    at = rng.randrange(len(original.data))
    _raw(path, original.data[:at] + bytes([rng.randrange(256)]) + original.data[at:])
    return f"at {at}"


def r_zero_page(path: Path, original: Original, rng: random.Random) -> str:
    page = rng.randrange(len(original.data) // PAGE)
    data = original.data
    _raw(path, data[: page * PAGE] + bytes(PAGE) + data[(page + 1) * PAGE :])
    return f"page {page}"


def r_swap_pages(path: Path, original: Original, rng: random.Random) -> str:
    a, b = sorted(rng.sample(range(len(original.data) // PAGE), 2))
    pages = [original.data[i * PAGE : (i + 1) * PAGE] for i in range(len(original.data) // PAGE)]
    pages[a], pages[b] = pages[b], pages[a]
    _raw(path, b"".join(pages))
    return f"pages {a} and {b}"


LEDGER_MUTATIONS: dict[str, Mutation] = {
    "sql: entry byte flip": m_entry_flip,
    "sql: entry truncated": m_entry_truncate,
    "sql: byte inserted in entry": m_entry_insert,
    "sql: bytes appended to entry": m_entry_extend,
    "sql: two entries swapped": m_entry_swap,
    "sql: entry dropped": m_entry_drop,
    "sql: entry duplicated": m_entry_duplicate,
    "sql: last entries dropped": m_drop_tail,
    "sql: record time changed, re-chained": m_rechain,
    "sql: entry stored as text/integer": m_entry_as_text,
    "sql: stored leaf hash flipped": m_leaf_hash,
    "sql: tree table changed": m_tree,
    "sql: checkpoint row changed": m_checkpoint,
    "sql: meta value flipped": m_meta,
    "raw: one bit flipped": r_flip_bit,
    "raw: 2-8 bytes flipped": r_flip_bytes,
    "raw: byte flipped inside an entry": r_flip_in_entry,
    "raw: file truncated": r_truncate,
    "raw: byte inserted": r_insert,
    "raw: page zeroed": r_zero_page,
    "raw: two pages swapped": r_swap_pages,
}


CHANGES_ENTRIES = frozenset(
    kind
    for kind in LEDGER_MUTATIONS
    if kind.startswith("sql:")
    and not kind.startswith(("sql: stored leaf", "sql: tree", "sql: checkpoint", "sql: meta"))
)
"""The SQL-level kinds that always change what a reader gets as entries."""


def classify_ledger(path: Path, original: Original) -> tuple[str, str]:  # noqa: PLR0911
    """Verify a mutated copy; returns (class, detail)."""
    try:
        report = ledger.check_ledger_file(path)
    except ledger.LedgerError as exc:
        return "refused", type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a crash is a finding, classified and reported
        return "CRASHED", f"{type(exc).__name__}: {str(exc)[:80]}"
    if not report.ok:
        return "detected", ",".join(sorted(report.failed_checks))
    store = open_store(path, readonly=True)
    try:
        entries = list(store.iter_entries())
        checkpoint = store.latest_checkpoint()
    finally:
        store.close()
    if entries != original.entries:
        return "UNDETECTED", "verify passed, the entries differ"
    if checkpoint != original.checkpoint:
        if checkpoint is None and report.checkpoint is None:
            # The entries are the original ones; the report says there is no checkpoint
            # (what a checkpoint protects, the last entries, is then the documented limit).
            return "harmless", "entries identical; checkpoint removed, the report says none"
        return "UNDETECTED", "verify passed, the checkpoint differs"
    try:
        tables = dump_tables(path)
    except sqlite3.Error:
        return "harmless", "entries identical; a table is unreadable"
    differ = [t for t in TABLES if tables[t] != original.tables[t]]
    return "harmless", "entries identical" + (f"; differs: {','.join(differ)}" if differ else "")


def cli_verify(path: Path) -> tuple[int, str | None]:
    """``ledger verify PATH`` in-process: the exit code, and the exception if it crashed."""
    from cli.main import cli  # noqa: PLC0415
    from click.testing import CliRunner  # noqa: PLC0415 - only when cross-checking

    result = CliRunner().invoke(cli, ["verify", str(path)])
    crash = result.exception
    if crash is None or isinstance(crash, SystemExit):
        return result.exit_code, None
    return result.exit_code, f"{type(crash).__name__}: {crash}"[:100]


# ---------------------------------------------------------------------------------------------
# bundle mutations


def bundle_files(bundle: Path) -> list[str]:
    """Every file of a bundle, relative."""
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


BundleMutation = Callable[[Path, list[str], random.Random, bytes], str]


def b_flip(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    target = bundle / name
    target.write_bytes(_flip(target.read_bytes(), rng))
    return name


def b_truncate(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    data = (bundle / name).read_bytes()
    (bundle / name).write_bytes(data[: rng.randrange(len(data))])
    return name


def b_insert(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    data = (bundle / name).read_bytes()
    at = rng.randrange(len(data) + 1)
    (bundle / name).write_bytes(data[:at] + bytes([rng.randrange(256)]) + data[at:])
    return name


def b_extend(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    with (bundle / name).open("ab") as handle:
        handle.write(rng.randbytes(rng.randint(1, 64)))
    return name


def b_empty(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    (bundle / name).write_bytes(b"")
    return name


def b_delete(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    name = rng.choice(files)
    (bundle / name).unlink()
    return name


def b_swap(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    tiles = [f for f in files if f.startswith("tile/")]
    pool = tiles if rng.random() < 0.6 and len(tiles) >= 2 else files
    a, b = rng.sample(pool, 2)
    data_a, data_b = (bundle / a).read_bytes(), (bundle / b).read_bytes()
    (bundle / a).write_bytes(data_b)
    (bundle / b).write_bytes(data_a)
    return f"{a} <-> {b}"


def b_old_checkpoint(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    (bundle / "checkpoint").write_bytes(old)
    return "checkpoint"


def b_move_partial(bundle: Path, files: list[str], rng: random.Random, old: bytes) -> str:
    partial = [f for f in files if ".p/" in f]
    name = rng.choice(partial)
    head, width = name.rsplit("/", 1)
    other = int(width) + rng.choice((-1, 1))
    if other < 1:
        other = int(width) + 1
    (bundle / name).rename(bundle / f"{head}/{other}")
    return f"{name} -> {head}/{other}"


BUNDLE_MUTATIONS: dict[str, BundleMutation] = {
    "bundle: byte flip": b_flip,
    "bundle: file truncated": b_truncate,
    "bundle: byte inserted": b_insert,
    "bundle: bytes appended": b_extend,
    "bundle: file emptied": b_empty,
    "bundle: file deleted": b_delete,
    "bundle: two files swapped": b_swap,
    "bundle: older valid checkpoint": b_old_checkpoint,
    "bundle: partial tile moved to another width": b_move_partial,
}


def classify_bundle(bundle: Path, original: dict[str, bytes]) -> tuple[str, str]:
    """Verify a mutated bundle; returns (class, detail)."""
    assert check_bundle is not None
    try:
        report = check_bundle(bundle)
    except ledger.LedgerError as exc:
        return "refused", type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a crash is a finding
        return "CRASHED", f"{type(exc).__name__}: {str(exc)[:80]}"
    if not report.ok:
        return "detected", ",".join(sorted(report.failed_checks))
    now = {name: (bundle / name).read_bytes() for name in bundle_files(bundle)}
    if now == original:
        return "harmless", "every file identical"
    return (
        "UNDETECTED",
        f"verify passed; differs: {sorted(set(now.items()) ^ set(original.items()))[:1]}",
    )


# ---------------------------------------------------------------------------------------------
# the campaign


@attrs.define
class Tally:
    """Counts per mutation kind and class, with examples of each detail."""

    counts: defaultdict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))
    details: defaultdict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))
    examples: dict[str, str] = attrs.field(factory=dict)
    cli_checked: int = 0
    cli_mismatches: list[str] = attrs.field(factory=list)

    def add(self, kind: str, verdict: str, detail: str, what: str) -> None:
        """Record one mutation."""
        self.counts[kind][verdict] += 1
        self.details[verdict][detail] += 1
        if verdict in {"CRASHED", "UNDETECTED"}:
            self.examples.setdefault(f"{verdict} {detail}", f"{kind}: {what}")

    def totals(self) -> Counter[str]:
        """Counts per class over every kind."""
        total: Counter[str] = Counter()
        for counts in self.counts.values():
            total.update(counts)
        return total

    def as_json(self) -> dict[str, Any]:
        """The figures."""
        return {
            "total": sum(self.totals().values()),
            "per class": {c: self.totals()[c] for c in CLASSES},
            "per kind": {k: dict(v) for k, v in sorted(self.counts.items())},
            "details": {k: dict(v.most_common(12)) for k, v in sorted(self.details.items())},
            "examples": self.examples,
            "cli cross-checked": self.cli_checked,
            "cli exit code mismatches": self.cli_mismatches[:10],
        }


def run_ledger(
    directory: Path,
    mutations: int,
    *,
    seed: int = 0,
    entries: int = 30,
    cli_every: int = 10,
    tally: Tally | None = None,
) -> Tally:
    """``mutations`` random mutations of a ledger file of ``entries`` endorsements.

    Every ``cli_every``-th mutation (and every crash) also runs ``ledger verify`` and compares
    its exit code with the class (``EXIT_CODES``).
    """
    tally = tally or Tally()
    rng = random.Random(f"{seed}:ledger")
    base = directory / "original.db"
    build_ledger(base, entries)
    original = Original.read(base)
    assert ledger.check_ledger_file(base).ok
    kinds = sorted(LEDGER_MUTATIONS)
    for number in range(mutations):
        kind = kinds[number % len(kinds)]  # every kind equally often
        copy = directory / f"mutated-{number % 2}.db"
        copy.write_bytes(original.data)
        what = LEDGER_MUTATIONS[kind](copy, original, rng)
        verdict, detail = classify_ledger(copy, original)
        tally.add(kind, verdict, detail, what)
        if (number + 1) % 500 == 0:
            print(f"ledger: {number + 1}/{mutations} {dict(tally.totals())}", file=sys.stderr)
        if cli_every and (number % cli_every == 0 or verdict == "CRASHED"):
            code, crash = cli_verify(copy)
            tally.cli_checked += 1
            if crash is not None or code != EXIT_CODES.get(verdict):
                tally.cli_mismatches.append(
                    f"{kind} ({what}): {verdict}, `ledger verify` exit {code}"
                    + (f", traceback: {crash}" if crash else "")
                )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return tally


def run_bundle(
    directory: Path,
    mutations: int,
    *,
    seed: int = 0,
    entries: int = 259,
    tally: Tally | None = None,
) -> Tally:
    """``mutations`` random mutations of a bundle of ``entries`` endorsements (and genesis)."""
    tally = tally or Tally()
    if publish_bundle is None:
        return tally
    rng = random.Random(f"{seed}:bundle")
    old = build_bundle(directory, entries, entries // 3)
    base = directory / "bundle"
    files = bundle_files(base)
    original = {name: (base / name).read_bytes() for name in files}
    assert check_bundle is not None
    assert check_bundle(base).ok
    kinds = sorted(BUNDLE_MUTATIONS)
    copy = directory / "mutated-bundle"
    for number in range(mutations):
        kind = kinds[number % len(kinds)]
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(base, copy)
        what = BUNDLE_MUTATIONS[kind](copy, files, rng, old)
        verdict, detail = classify_bundle(copy, original)
        tally.add(kind, verdict, detail, what)
        if (number + 1) % 250 == 0:
            print(f"bundle: {number + 1}/{mutations} {dict(tally.totals())}", file=sys.stderr)
    shutil.rmtree(copy, ignore_errors=True)
    return tally


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutations", type=int, default=5000, help="in all (default 5000)")
    parser.add_argument("--bundle-share", type=float, default=0.3, help="share for the bundle")
    parser.add_argument("--only", choices=("ledger", "bundle"))
    parser.add_argument("--entries", type=int, default=30, help="endorsements in the ledger")
    parser.add_argument("--bundle-entries", type=int, default=259)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    options = parser.parse_args()
    share = {"ledger": 0.0, "bundle": 1.0}.get(options.only or "", options.bundle_share)
    if publish_bundle is None:
        share = 0.0
    on_bundle = round(options.mutations * share)
    directory = Path(tempfile.mkdtemp(prefix="ledger-tamper-"))
    started = time.perf_counter()
    tally = Tally()
    try:
        run_ledger(
            directory,
            options.mutations - on_bundle,
            seed=options.seed,
            entries=options.entries,
            tally=tally,
        )
        run_bundle(
            directory, on_bundle, seed=options.seed, entries=options.bundle_entries, tally=tally
        )
    finally:
        shutil.rmtree(directory)
    figures = tally.as_json()
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=2))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
    if figures["per class"]["UNDETECTED"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
