"""Verification of a ledger file with several worker processes (``ledger verify --jobs``).

Each worker opens the SQLite file read-only itself and runs ``examine.examine`` over contiguous
ranges of entries (the leaf hash, decoding, the signatures, the checks an entry can pass or
fail alone), sending back ``examine.to_wire`` tuples of plain values; the entry bytes never
cross a pipe. The main process consumes the results strictly in order through
``EntryChecker.feed_examined``: sequence, links, record times, the genesis statement, the
lifecycle rules and the tree. That is the same code ``EntryChecker.feed`` runs in one process,
so the report is the same for any number of jobs.

At most ``2 * jobs`` ranges are in flight, so memory stays bounded whatever the ledger's size;
verification stops early past ``MAX_PROBLEMS`` as in one process. Processes, not threads: only
the signature check releases the GIL. Where worker processes cannot be started (no
``multiprocessing`` support, no semaphores, a sandbox), or one dies, the rest of the entries are
checked in this process.
"""

from __future__ import annotations

import contextlib
import gc
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ledger.errors import LedgerError, UsageError
from ledger.examine import Wire, examine, from_wire, to_wire
from ledger.keys import ed25519_backend, use_ed25519_backend
from ledger.progress import PROGRESS_EVERY, Progress
from ledger.store import SqliteStore, open_store
from ledger.verify import MAX_PROBLEMS, EntryChecker

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

CHUNK: Final = 2048
"""Entries per range a worker checks: large enough that sending a range back costs little."""
MIN_CHUNK: Final = 128
"""The smallest range for a small ledger; with fewer entries than this, one process checks."""


def feed_entries(
    checker: EntryChecker,
    source: object,
    start: int,
    end: int,
    *,
    jobs: int = 1,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Feed entries ``[start, end)`` of ``source`` to ``checker``, with ``jobs`` processes.

    ``progress(done, total)`` is called now and then (entries fed of ``end - start``).

    Stops early once the checker holds more than ``MAX_PROBLEMS`` problems. Several jobs are
    used only for a ``SqliteStore`` (other sources are read in this process) with more than
    ``chunk`` entries to check (default: a quarter of each job's share, between ``MIN_CHUNK``
    and ``CHUNK``); the report is the same either way.

    Raises:
        UsageError: ``jobs`` or ``chunk`` is below 1.
        LedgerError: the source fails (a store error), as in one process.
    """
    if jobs < 1 or (chunk is not None and chunk < 1):
        raise UsageError(f"jobs and chunk must be at least 1, not {jobs} and {chunk}")
    if chunk is None:  # small ledgers: ranges small enough that every worker gets several
        chunk = min(CHUNK, max(MIN_CHUNK, -(-(end - start) // (4 * jobs))))
    # Verification allocates a few short-lived objects per entry (and more when results come
    # from workers) while the list it builds grows: collecting the youngest generation every
    # 700 allocations cost the main process ~15% with 2 jobs at 10^5 entries. Collect less
    # often while feeding; nothing here makes reference cycles but the rare exception.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _GC_THRESHOLD), *threshold[1:])
    try:
        _feed(checker, source, start, end, jobs=jobs, chunk=chunk, progress=progress)
    finally:
        gc.set_threshold(*threshold)


_GC_THRESHOLD: Final = 50_000


def _feed(
    checker: EntryChecker,
    source: object,
    start: int,
    end: int,
    *,
    jobs: int,
    chunk: int,
    progress: Progress | None,
) -> None:
    position = start
    if jobs > 1 and isinstance(source, SqliteStore) and end - start > chunk:
        if position == 0:  # the genesis entry sets the state the others are checked against
            for seq, raw in source.iter_entries(0, 1):
                checker.feed(seq, raw)
            position = 1
        skipped = position - start  # the genesis entry, fed here
        position = _feed_parallel(
            checker,
            source.location,
            position,
            end,
            jobs=jobs,
            chunk=chunk,
            progress=None
            if progress is None
            else lambda done, total: progress(done + skipped, total + skipped),
        )
    if position < end and len(checker.problems) <= MAX_PROBLEMS:
        iterate = getattr(source, "iter_entries")  # noqa: B009 - any LedgerSource
        for seq, raw in iterate(position, end):
            checker.feed(seq, raw)
            if len(checker.problems) > MAX_PROBLEMS:
                break
            if progress is not None and seq % PROGRESS_EVERY == 0:
                progress(seq - start, end - start)


def _feed_parallel(
    checker: EntryChecker,
    location: str,
    start: int,
    end: int,
    *,
    jobs: int,
    chunk: int,
    progress: Progress | None,
) -> int:
    """Feed what the workers return; the position up to which entries were fed.

    Range k goes to worker k mod jobs, each worker has at most two ranges queued, and results
    are read from the worker pipes in range order (no result thread, no futures).
    """
    ranges = [(low, min(low + chunk, end)) for low in range(start, end, chunk)]
    workers: list[tuple[BaseProcess, Connection]] = []
    position = start
    try:
        import multiprocessing  # noqa: PLC0415 - missing on some platforms: then one process

        context = multiprocessing.get_context()
        for _ in range(min(jobs, len(ranges))):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_worker, args=(theirs, location, ed25519_backend()), daemon=True
            )
            process.start()
            theirs.close()
            workers.append((process, mine))
        sent = 0
        for index, (_, high) in enumerate(ranges):
            while sent < len(ranges) and sent < index + 2 * len(workers):
                workers[sent % len(workers)][1].send(ranges[sent])
                sent += 1
            reply = workers[index % len(workers)][1].recv_bytes()
            # Our own child processes, over a pipe only they and we hold.
            status, value = pickle.loads(reply)  # noqa: S301
            if status == "error":
                raise value  # a store error: what one process would have raised
            if status != "ok":
                return position  # the worker failed: the caller goes on in this process
            for seq, wire in value:
                checker.feed_examined(seq, from_wire(wire))
                if len(checker.problems) > MAX_PROBLEMS:
                    return end
            position = high
            if progress is not None:
                progress(position - start, end - start)
    # AssertionError: multiprocessing refuses children to a daemonic process (a pool worker).
    except (OSError, EOFError, ImportError, NotImplementedError, ValueError, AssertionError):
        return position  # no worker processes here, or one died: go on in this process
    finally:
        _stop(workers)
    return end


def _stop(workers: list[tuple[BaseProcess, Connection]]) -> None:
    for process, connection in workers:
        with contextlib.suppress(OSError):
            connection.send(None)
        connection.close()
        process.join(timeout=5)
        if process.is_alive():  # pragma: no cover - a stuck worker
            process.terminate()
            process.join()


# --- in the worker processes -------------------------------------------------------------------


def _worker(connection: Connection, location: str, backend: str) -> None:
    """Examine the ranges the main process sends until it sends None."""
    use_ed25519_backend(backend)  # the same backend as the main process (spawn starts afresh)
    try:
        store = open_store(Path(location), readonly=True)
    except LedgerError as exc:
        connection.send_bytes(pickle.dumps(("error", exc)))
        return
    with store:
        while (task := connection.recv()) is not None:
            low, high = task
            try:
                reply: tuple[str, object] = ("ok", _examine_range(store, low, high))
            except LedgerError as exc:
                reply = ("error", exc)
            except Exception as exc:  # noqa: BLE001 - reported; the main process takes over
                reply = ("failed", repr(exc))
            connection.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def _examine_range(store: SqliteStore, low: int, high: int) -> list[tuple[int, Wire]]:
    return [(seq, to_wire(examine(seq, raw))) for seq, raw in store.iter_entries(low, high)]
