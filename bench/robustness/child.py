"""The child processes of the robustness harnesses (not meant to be run by hand).

    python child.py zygote           # crash.py: forks one worker per command, reaps it
    python child.py writer PLAN.json # concurrency.py: one writer process
    python child.py reader PATH      # concurrency.py: verifies PATH in a loop until "stop"

**zygote**: imports the library once, then reads one JSON command per line on standard input,
``{"target": NAME, "args": {...}}``. For each it forks a worker that runs ``WORKERS[NAME]``
and reports ``{"ev": "pid", "pid": N}``; the worker writes an acknowledgement line
(``{"ev": "ack", ...}``) to standard output *after* each operation has returned, that is after
it is durable; the harness kills the worker with SIGKILL whenever it likes. The zygote reaps it
and reports ``{"ev": "exit", "pid": N, "signal": S, "code": C}``: every line the worker wrote
is in the pipe before that one. Forking from a warm interpreter makes a worker start in a few
milliseconds, so kills land in the operations rather than in the imports.

**writer** and **reader**: see ``concurrency.py``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.io import write_output
from robustlib import (
    LOG_KEY,
    ORIGIN,
    RECORD_TIME,
    T0,
    WITNESS_KEY,
    batch_numbers,
    create_ledger,
    endorsement,
    output_payload,
    version_payload,
    witness_leaf,
)
from robustlib import emit as _emit

import ledger
from ledger import merkle
from ledger.note import Checkpoint, cosign_checkpoint, parse_note, sign_checkpoint
from ledger.witness import AddCheckpointRequest, format_add_checkpoint_request

try:  # `ledger publish` (ledger.bundle) may not exist in every checkout
    from ledger.bundle import publish_bundle
except ImportError:  # pragma: no cover
    publish_bundle = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# crash workers: each loops over its operations, acknowledging each one after it returned

_quiet = False  # True while the zygote warms up: nothing reaches the harness


def emit(event: dict[str, Any]) -> None:
    """Report an event to the harness (see ``robustlib.emit``)."""
    if not _quiet:
        _emit(event)


def _append_batch(book: ledger.Ledger, args: dict[str, Any], index: int) -> None:
    numbers = batch_numbers(args["first"], args["batch"], index)
    result = book.append([(f"org{n}", endorsement(n)) for n in numbers], now=RECORD_TIME)
    if len(result.appended) != len(numbers):
        raise RuntimeError(f"append refused {result.rejected}")
    emit({"ev": "ack", "kind": "append", "j": index, "seqs": [s for _, s in result.appended]})


def work_append(args: dict[str, Any]) -> None:
    """Append batch after batch of new endorsements."""
    with ledger.Ledger.open(args["path"]) as book:
        emit({"ev": "ready"})
        for index in range(args["limit"]):
            _append_batch(book, args, index)


def work_checkpoint(args: dict[str, Any]) -> None:
    """Append a batch, sign a checkpoint, attach a witness cosignature to it; again."""
    with ledger.Ledger.open(args["path"]) as book:
        emit({"ev": "ready"})
        for index in range(args["limit"]):
            _append_batch(book, args, index)
            note = book.checkpoint(LOG_KEY, now=RECORD_TIME)
            size = book.size
            emit({"ev": "ack", "kind": "checkpoint", "j": index, "size": size})
            signature = cosign_checkpoint(parse_note(note), WITNESS_KEY, T0 + index)
            lines = ledger.format_cosignature_lines([signature])
            book.add_cosignatures(lines)
            emit({"ev": "ack", "kind": "cosigned", "j": index, "size": size})


def work_witness(args: dict[str, Any]) -> None:
    """Cosign a growing log through the witness state file, one checkpoint after another."""
    tree = merkle.MemoryTree()
    start, step = args["start"], args["step"]
    while tree.size < start + 64 * step:  # build ahead, so the kills land in the cosigning
        tree.append_leaf_hash(merkle.hash_leaf(witness_leaf(tree.size)))
    emit({"ev": "ready"})
    old = start
    for number in range(args["limit"]):
        size = start + step * (number + 1)
        while tree.size < size:
            tree.append_leaf_hash(merkle.hash_leaf(witness_leaf(tree.size)))
        checkpoint = Checkpoint(ORIGIN, size, merkle.root(tree, size))
        proof = tuple(merkle.prove_consistency(tree, old, size))
        request = AddCheckpointRequest(old, proof, sign_checkpoint(checkpoint, LOG_KEY))
        ledger.cosign(Path(args["path"]), format_add_checkpoint_request(request), WITNESS_KEY, T0)
        emit({"ev": "ack", "kind": "cosign", "size": size})
        old = size


def work_write_output(args: dict[str, Any]) -> None:
    """``cli.io.write_output``: new files, and one file replaced by ever newer versions."""
    directory = Path(args["dir"])
    emit({"ev": "ready"})
    for index in range(args["limit"]):
        write_output(
            str(directory / f"out-{args['run']}-{index}"), output_payload(args["run"], index)
        )
        emit({"ev": "ack", "kind": "new", "j": index})
        version = args["version"] + index + 1
        write_output(str(directory / "current"), version_payload(version), overwrite=True)
        emit({"ev": "ack", "kind": "current", "v": version})


def work_publish(args: dict[str, Any]) -> None:
    """Append a batch and publish the bundle (a new checkpoint each time); again."""
    assert publish_bundle is not None
    with ledger.Ledger.open(args["path"]) as book:
        emit({"ev": "ready"})
        for index in range(args["limit"]):
            _append_batch(book, args, index)
            result = publish_bundle(book, args["bundle"], log_key=LOG_KEY, now=RECORD_TIME)
            emit({"ev": "ack", "kind": "publish", "j": index, "size": result.size})


WORKERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "append": work_append,
    "checkpoint": work_checkpoint,
    "witness": work_witness,
    "write_output": work_write_output,
    "publish": work_publish,
}


def _worker(target: str, args: dict[str, Any]) -> int:
    try:
        WORKERS[target](args)
    except BaseException as exc:  # noqa: BLE001 - everything is reported: the run fails
        emit({"ev": "error", "error": f"{type(exc).__name__}: {exc}"[:1500]})
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
        return 3
    emit({"ev": "done"})
    return 0


def warm_up() -> None:
    """Run every worker once on scratch files, so that forked workers start warm.

    The first append of a process loads the look-alike tables and the first signature check
    its backend, ~0.2 s in all: without this a kill would land there, not in the write.
    """
    global _quiet  # noqa: PLW0603
    scratch = Path(tempfile.mkdtemp(prefix="ledger-zygote-"))
    _quiet = True
    try:
        create_ledger(scratch / "ledger.db")
        ledger.init_state(scratch / "witness.json", WITNESS_KEY.public)
        ledger.add_log(scratch / "witness.json", LOG_KEY.public)
        common = {"path": str(scratch / "ledger.db"), "batch": 1, "limit": 1}
        work_checkpoint({**common, "first": 9_000_001})
        if publish_bundle is not None:
            work_publish({**common, "first": 9_000_002, "bundle": str(scratch / "bundle")})
        work_witness({"path": str(scratch / "witness.json"), "start": 0, "step": 1, "limit": 1})
        work_write_output({"dir": str(scratch), "run": 0, "version": 0, "limit": 1})
    finally:
        _quiet = False
        shutil.rmtree(scratch)


def zygote() -> None:
    """Fork a worker per command line; report its pid, then its end."""
    warm_up()
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the loop
            code = 3
            try:
                code = _worker(command["target"], command["args"])
            finally:
                os._exit(code)
        emit({"ev": "pid", "pid": pid})
        _, status = os.waitpid(pid, 0)
        emit(
            {
                "ev": "exit",
                "pid": pid,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
                "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            }
        )


# ---------------------------------------------------------------------------------------------
# concurrency: writers and a reader


def writer(plan_path: str) -> None:
    """Append the plan's endorsements one call at a time; print what happened as JSON.

    The plan: ``{"path", "worker", "appends": [[[label, number, variant], ...], ...],
    "checkpoint_every": K}``: each inner list is one ``append`` call (one transaction).
    Prints ``{"ev": "ready"}``, waits for a line on standard input, runs, prints the result.
    """
    plan = json.loads(Path(plan_path).read_text())
    results: list[dict[str, Any]] = []
    errors: list[list[Any]] = []
    checkpoints: list[int] = []
    with ledger.Ledger.open(plan["path"]) as book:
        print(json.dumps({"ev": "ready"}), flush=True)
        sys.stdin.readline()  # the start signal: every writer starts together
        for number, call in enumerate(plan["appends"]):
            batch = [(label, endorsement(org, variant)) for label, org, variant in call]
            started = time.perf_counter()
            try:
                result = book.append(batch, now=RECORD_TIME)
            except ledger.LedgerError as exc:  # a writer may fail, with a clear message
                errors.append([number, f"{type(exc).__name__}: {exc}"])
                continue
            results.append(
                {
                    "appended": [list(item) for item in result.appended],
                    "rejected": [[r.label, r.reason] for r in result.rejected],
                    "seconds": time.perf_counter() - started,
                }
            )
            every = plan.get("checkpoint_every") or 0
            if every and (number + 1) % every == 0:
                book.checkpoint(LOG_KEY, now=RECORD_TIME)
                checkpoints.append(book.size)
    print(
        json.dumps(
            {"ev": "result", "results": results, "errors": errors, "checkpoints": checkpoints}
        ),
        flush=True,
    )


def reader(path: str) -> None:
    """Verify the ledger again and again until a line arrives on standard input."""
    passes: list[dict[str, Any]] = []
    print(json.dumps({"ev": "ready"}), flush=True)
    while True:
        stop = select.select([sys.stdin], [], [], 0)[0]
        report = ledger.check_ledger_file(path)
        passes.append(
            {
                "size": report.size,
                "root": report.root.hex(),
                "ok": report.ok,
                "problems": [str(p) for p in report.problems[:5]],
                "checkpoint": None if report.checkpoint is None else report.checkpoint.size,
                "signatories": len(report.signatories),
            }
        )
        if stop:
            break
    print(json.dumps({"ev": "result", "passes": passes}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "zygote":
        zygote()
    elif mode == "writer":
        writer(sys.argv[2])
    elif mode == "reader":
        reader(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode!r}")
