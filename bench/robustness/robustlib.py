"""Shared pieces of the robustness harnesses: deterministic keys and inputs, a line reader.

Everything here is deterministic (keys derive from SHA-256 of public labels, endorsements from
an organisation number), so the parent of a crash or concurrency run can recompute, byte for
byte, what a child process was asked to write and compare it with what the files hold.
Imported by ``crash.py``, ``concurrency.py``, ``tamper.py``, ``child.py`` and the tests
``tests/test_crash.py``, ``tests/test_concurrency.py`` and ``tests/test_tamper_scale.py``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import select
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

import ledger
from ledger import merkle

HERE: Final = Path(__file__).resolve().parent
CHILD: Final = HERE / "child.py"

STATEMENT: Final = b"We, the undersigned organisations, endorse this robustness statement.\n"
STATEMENT_HASH: Final = hashlib.sha256(STATEMENT).digest()
TITLE: Final = "Robustness letter"
ORIGIN: Final = "example.org/robustness"
T0: Final = 1_700_000_000
RECORD_TIME: Final = T0 + 100_000
"""The record time every harness appends with: fixed, so runs are reproducible."""


def seeded_key(name: str) -> ledger.SigningKey:
    """A deterministic key named ``name`` (its secret is public knowledge: tests only)."""
    seed = hashlib.sha256(f"ledger robustness: {name}".encode()).digest()
    return ledger.SigningKey.from_seed(name, seed)


LOG_KEY: Final = seeded_key(ORIGIN)
WITNESS_KEY: Final = seeded_key("witness.example/robustness")


@functools.cache
def org_key(number: int) -> ledger.SigningKey:
    """The key of organisation ``number``."""
    return seeded_key(f"org{number}.example")


@functools.lru_cache(maxsize=65536)
def endorsement(number: int, variant: int = 0) -> bytes:
    """Organisation ``number``'s endorsement; another ``variant`` is another text, same key.

    Ed25519 is deterministic, so the same arguments always give the same bytes.
    """
    name = f"Org {number}" if variant == 0 else f"Org {number} (variant {variant})"
    return ledger.endorse(
        org_key(number), STATEMENT_HASH, name=name, signed_at=T0 + number % 1000 + variant
    )


def create_ledger(path: Path, count: int = 0) -> None:
    """Create a ledger holding the genesis entry and organisations 1..count, then close it."""
    with ledger.Ledger.create(
        path, statement=STATEMENT, title=TITLE, origin=ORIGIN, log_key=LOG_KEY, now=T0
    ) as book:
        if count:
            batch = [(f"org{n}", endorsement(n)) for n in range(1, count + 1)]
            result = book.append(batch, now=RECORD_TIME)
            assert len(result.appended) == count, result.rejected


def read_table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query over a ledger file, read-only with plain sqlite3 (no library code)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def stored_entries(path: Path) -> list[tuple[int, bytes]]:
    """Every ``(seq, data)`` row of a ledger file."""
    return [
        (int(seq), bytes(data))
        for seq, data in read_table(path, "SELECT seq, data FROM entries ORDER BY seq")
    ]


def entry_body(raw: bytes) -> bytes:
    """The COSE bytes an endorsement entry holds (FormatError if it is not one)."""
    body = ledger.decode_entry(raw).body
    if not isinstance(body, bytes):
        raise ledger.FormatError("not an endorsement entry")
    return body


def memory_root(entries: list[bytes], size: int) -> bytes:
    """The RFC 9162 root of the first ``size`` entries, computed from their bytes alone."""
    tree = merkle.MemoryTree()
    for raw in entries[:size]:
        tree.append_leaf_hash(merkle.hash_leaf(raw))
    return merkle.root(tree, size)


def problems_text(report: ledger.Report, limit: int = 5) -> str:
    """The first problems of a report, one per line."""
    return "\n".join(str(problem) for problem in report.problems[:limit])


class LineReader:
    """Reads JSON lines from a pipe with timeouts (``select``), never blocking past them."""

    def __init__(self, fd: int) -> None:
        """Read from file descriptor ``fd``."""
        self.fd = fd
        self._buffer = b""
        self.closed = False

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line, or None if none arrived within ``timeout`` seconds.

        Raises:
            EOFError: the writer closed the pipe and every line was read.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        while b"\n" not in self._buffer:
            if self.closed:
                raise EOFError("the child closed its output")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.closed = True
                continue
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        value = json.loads(line)
        assert isinstance(value, dict), line
        return value


def emit(event: dict[str, Any]) -> None:
    """Write one JSON line to standard output in one ``write`` (atomic below PIPE_BUF)."""
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    assert len(line) <= 4096, "an event line must fit in one atomic pipe write"
    written = os.write(1, line)
    assert written == len(line)


def batch_numbers(first: int, batch: int, index: int) -> list[int]:
    """The organisations of batch ``index`` of a run that starts at ``first``."""
    start = first + index * batch
    return list(range(start, start + batch))


def witness_leaf(index: int) -> bytes:
    """Leaf ``index`` of the log the witness crash target follows."""
    return f"witness crash leaf {index}".encode()


def output_payload(run: int, index: int) -> bytes:
    """The bytes of file ``out-<run>-<index>`` of the write_output crash target (64 KiB-1 MiB)."""
    seed = hashlib.sha256(f"out {run} {index}".encode()).digest()
    size = 65536 + int.from_bytes(seed[:4], "big") % (1 << 20)
    return _stretch(seed, size)


def version_payload(version: int) -> bytes:
    """Version ``version`` of the file ``current`` (overwritten in place; 64 KiB-1 MiB)."""
    seed = hashlib.sha256(f"current {version}".encode()).digest()
    size = 65536 + int.from_bytes(seed[:4], "big") % (1 << 20)
    return f"version {version}\n".encode() + _stretch(seed, size)


def _stretch(seed: bytes, size: int) -> bytes:
    block = hashlib.sha512(seed).digest() * 128  # 8 KiB, cheap and not all one byte
    return (block * (size // len(block) + 1))[:size]
