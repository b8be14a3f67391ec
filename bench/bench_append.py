"""``Ledger.append`` of a batch, against a bare SQLite insert loop of the same bytes, same run.

    python bench/bench_append.py /tmp/bench/l1k.db /tmp/bench/l100k.db --batch 1000 --reps 5

For each ledger (of N entries), a copy is made in a temporary directory and the endorsements of
entries N.. are signed beforehand (not timed). Each repetition then times, interleaved:

* ``append``: ``Ledger.append(batch)`` of ``--batch`` endorsements (decode, signature check,
  the state read ahead from the store, lifecycle rules, encode, tree nodes, the rows written
  at the end of the batch; one transaction, WAL, synchronous=FULL);
* ``bare insert``: the same entry bytes (read back from the ledger) and leaf hashes inserted
  one ``execute`` per row into a table of the same shape in a fresh file with the same durability
  (WAL, synchronous=FULL, one transaction per batch);
* ``bare insert + verify``: the same, plus a bare Ed25519 verification (OpenSSL, as the library
  uses) of each endorsement's signature before the insert, since appending includes the
  signature checks.

The ratio is the bare loop's time over append's time for the same batch (>= 0.5 wanted); both
readings of the target are reported. The target is in wall time (it includes waiting for the
disk); the same ratio in CPU time is printed beside it, since on a loaded machine the wall
ratio moves with the scheduling of the two loops. Then ``--single`` single-endorsement
appends, each its own durable transaction: median, 95th percentile and maximum latency
(< 10 ms wanted).
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import benchlib
import ledger
from ledger.cose import _sig_structure_sign1
from ledger.keys import ed25519_backend
from ledger.lookalike import skeleton

LIMIT_RATIO = 0.5
LIMIT_SINGLE = 10e-3


def bare_db(path: Path) -> sqlite3.Connection:
    """A fresh file with the entries table's shape and the store's durability settings."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE entries "
        "(seq INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL)"
    )
    return db


def bare_insert(db: sqlite3.Connection, rows: list[tuple[int, bytes, bytes]]) -> None:
    """One transaction inserting the rows."""
    db.execute("BEGIN IMMEDIATE")
    for row in rows:
        db.execute("INSERT INTO entries VALUES (?, ?, ?)", row)
    db.execute("COMMIT")


def bare_insert_verify(
    db: sqlite3.Connection,
    rows: list[tuple[int, bytes, bytes]],
    triples: list[tuple[bytes, bytes, bytes]],
) -> None:
    """Verify each signature with the backend the library uses, then insert the rows in one
    transaction: the limit must check signatures as fast as append can."""
    if ed25519_backend() == "libsodium":
        from nacl.bindings import crypto_sign_open  # noqa: PLC0415 - optional

        for key, message, signature in triples:
            crypto_sign_open(signature + message, key)
    else:
        load = Ed25519PublicKey.from_public_bytes
        for key, message, signature in triples:
            load(key).verify(signature, message)
    bare_insert(db, rows)


def triple(cose: bytes) -> tuple[bytes, bytes, bytes]:
    """The (key, message, signature) of an endorsement."""
    signed = ledger.decode_endorsement(cose)
    message = _sig_structure_sign1(signed.protected, signed.payload)
    return signed.endorsement.public_key, message, signed.signature


def bench_one(path: Path, batch: int, reps: int, single: int, seed: str) -> dict[str, Any]:
    """All measurements of one ledger (on a copy)."""
    with tempfile.TemporaryDirectory(dir=path.parent) as temp:
        work = Path(temp) / "append.db"
        book = benchlib.extend_copy(path, work, seed, benchlib.ledger_size(path))
        size = book.size
        statement_hash = book.statement_hash
        # One untimed append first: one-time costs (the confusables table) are not per batch.
        warm = benchlib.endorsement(seed, size, statement_hash, benchlib.T0 + size)
        book.append([("warm-up", warm)], atomic=True, now=benchlib.T0 + size)
        size += 1
        singles_from = size + reps * batch
        singles = [
            benchlib.endorsement(seed, i, statement_hash, benchlib.T0 + i)
            for i in range(singles_from, singles_from + single)
        ]
        batches = []
        for rep in range(reps):
            start = size + rep * batch
            batches.append(
                [
                    (str(i), benchlib.endorsement(seed, i, statement_hash, benchlib.T0 + start))
                    for i in range(start, start + batch)
                ]
            )
        db = bare_db(Path(temp) / "bare.db")
        db_verify = bare_db(Path(temp) / "bare-verify.db")
        appended: list[float] = []
        inserted: list[float] = []
        inserted_verified: list[float] = []
        cpu_appended: list[float] = []
        cpu_inserted_verified: list[float] = []
        for rep, items in enumerate(batches):
            start = size + rep * batch
            cpu = time.process_time()
            seconds, result = benchlib.timed(
                functools.partial(book.append, items, atomic=True, now=benchlib.T0 + start + batch)
            )
            cpu_appended.append(time.process_time() - cpu)
            assert isinstance(result, ledger.AppendResult)
            assert len(result.appended) == batch
            appended.append(seconds)
            rows = [
                (seq, book.store.leaf_hash(seq), book.store.entry(seq))
                for seq in range(start, start + batch)
            ]
            triples = [triple(cose) for _, cose in items]
            inserted.append(benchlib.timed(functools.partial(bare_insert, db, rows))[0])
            cpu = time.process_time()
            inserted_verified.append(
                benchlib.timed(functools.partial(bare_insert_verify, db_verify, rows, triples))[0]
            )
            cpu_inserted_verified.append(time.process_time() - cpu)
        latencies = []
        for number, cose in enumerate(singles):
            when = benchlib.T0 + singles_from + number
            seconds, _ = benchlib.timed(
                functools.partial(book.append, [("one", cose)], atomic=True, now=when)
            )
            latencies.append(seconds)
        book.close()
        db.close()
        db_verify.close()
    latencies.sort()
    ratio = benchlib.median([b / a for a, b in zip(appended, inserted, strict=True)])
    ratio_verify = benchlib.median(
        [b / a for a, b in zip(appended, inserted_verified, strict=True)]
    )
    ratio_verify_cpu = benchlib.median(
        [b / a for a, b in zip(cpu_appended, cpu_inserted_verified, strict=True)]
    )
    result_data: dict[str, Any] = {
        "ledger": str(path),
        "entries": size - 1,  # before the warm-up append
        "batch": batch,
        "reps": reps,
        "append_us_per_entry": benchlib.median(appended) / batch * 1e6,
        "bare_insert_us_per_entry": benchlib.median(inserted) / batch * 1e6,
        "bare_insert_verify_us_per_entry": benchlib.median(inserted_verified) / batch * 1e6,
        "ed25519_backend": ed25519_backend(),
        "ratio_vs_insert": ratio,
        "ratio_vs_insert_verify": ratio_verify,
        "ratio_vs_insert_verify_cpu": ratio_verify_cpu,
        "limit_ratio": LIMIT_RATIO,
        "single_median_ms": benchlib.median(latencies) * 1e3 if latencies else None,
        "single_p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1e3 if latencies else None,
        "single_max_ms": latencies[-1] * 1e3 if latencies else None,
        "limit_single_ms": LIMIT_SINGLE * 1e3,
    }
    result_data["status_batch"] = benchlib.ratio_status(ratio_verify, LIMIT_RATIO)
    if latencies:
        result_data["status_single"] = benchlib.ratio_status(
            benchlib.median(latencies), LIMIT_SINGLE, at_least=False
        )
    return result_data


def sweep(path: Path, sizes: list[int], seed: str) -> list[dict[str, Any]]:
    """Append cost per entry against the batch size, each batch on a fresh copy of ``path``.

    An append whose cost per entry is O(1) gives a flat column (before commit f41655e the
    writer's savepoint copied every tree node added so far in the transaction, O(batch) per
    entry).
    """
    skeleton("warm up")  # the confusables table is loaded on first use: not a per-batch cost
    out = []
    for batch in sizes:
        with tempfile.TemporaryDirectory(dir=path.parent) as temp:
            work = Path(temp) / "sweep.db"
            book = benchlib.extend_copy(path, work, seed, benchlib.ledger_size(path) + 1)
            start = book.size
            items = [
                (str(i), benchlib.endorsement(seed, i, book.statement_hash, benchlib.T0 + i))
                for i in range(start, start + batch)
            ]
            seconds, _ = benchlib.timed(
                functools.partial(book.append, items, atomic=True, now=benchlib.T0 + start + batch)
            )
            rows = [
                (seq, book.store.leaf_hash(seq), book.store.entry(seq))
                for seq in range(start, start + batch)
            ]
            book.close()
            db = bare_db(Path(temp) / "bare.db")
            bare, _ = benchlib.timed(functools.partial(bare_insert, db, rows))
            db.close()
        out.append(
            {
                "batch": batch,
                "append_us_per_entry": seconds / batch * 1e6,
                "bare_insert_us_per_entry": bare / batch * 1e6,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure each ledger and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledgers", nargs="+", type=Path, help="ledger files (bench/generate.py)")
    parser.add_argument("--batch", type=int, default=1000, help="endorsements per batch")
    parser.add_argument("--reps", type=int, default=5, help="batches (default 5)")
    parser.add_argument("--single", type=int, default=50, help="single appends (default 50)")
    parser.add_argument("--seed", default="0", help="the ledgers' --seed")
    parser.add_argument(
        "--sweep",
        help="comma-separated batch sizes: append cost per entry against the batch size "
        "(on the first ledger)",
    )
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = [
        bench_one(p, args.batch, args.reps, args.single, args.seed) for p in args.ledgers
    ]
    headers = [
        "entries",
        "batch",
        "append us/entry",
        "bare insert us",
        f"bare insert+verify ({ed25519_backend()}) us",
        f"ratio vs insert (>= {LIMIT_RATIO})",
        f"ratio vs insert+verify (>= {LIMIT_RATIO})",
        "same, CPU time",
        "single append median / p95 / max",
        "status batch / single",
    ]
    rows = [
        [
            f"{r['entries']:,}",
            r["batch"],
            f"{r['append_us_per_entry']:.1f}",
            f"{r['bare_insert_us_per_entry']:.1f}",
            f"{r['bare_insert_verify_us_per_entry']:.1f}",
            f"{r['ratio_vs_insert']:.3f}",
            f"{r['ratio_vs_insert_verify']:.3f}",
            f"{r['ratio_vs_insert_verify_cpu']:.3f}",
            f"{r['single_median_ms']:.2f} / {r['single_p95_ms']:.2f} / {r['single_max_ms']:.2f} ms"
            if r["single_median_ms"] is not None
            else "-",
            f"{r['status_batch']} / {r.get('status_single', '-')}",
        ]
        for r in results
    ]
    print(benchlib.table(headers, rows))
    document: dict[str, Any] = {"batches": results}
    if args.sweep:
        swept = sweep(args.ledgers[0], [int(b) for b in args.sweep.split(",")], args.seed)
        print(f"\nappend cost against the batch size (one batch each, {args.ledgers[0]}):")
        print(
            benchlib.table(
                ["batch", "append us/entry", "bare insert us/entry"],
                [
                    [
                        f"{r['batch']:,}",
                        f"{r['append_us_per_entry']:.1f}",
                        f"{r['bare_insert_us_per_entry']:.1f}",
                    ]
                    for r in swept
                ],
            )
        )
        document["sweep"] = swept
    benchlib.write_json(args.json, "append", document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
