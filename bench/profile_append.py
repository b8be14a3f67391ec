"""Where ``Ledger.append`` of a batch spends its time, and the floor of a lean append loop.

    python bench/profile_append.py /tmp/ledger-bench/l100000.db --batch 1000 --reps 3

On copies of the ledger, with fresh endorsements for every batch (signed beforehand):

1. **stages**: ``Ledger.append``'s steps run as it runs them, each timed over the batch, in
   microseconds per entry (CPU time; the commit also in wall time, since it waits for the
   disk), fastest of ``--reps``: decoding, the signature checks (and within them the bare
   OpenSSL verification), reading the state ahead, the lifecycle rules, building the entry
   and its tree nodes, writing the buffered rows, the commit.
2. **lean loop**: the same batch with only the work any append of this format must do, each
   step in its cheapest form, and NOT a safe append (it skips most field checks and the
   lifecycle rules beyond "a new key is a new organisation"): ``cbor2`` loads and a dumps
   round trip (the canonical-form rule) of the COSE_Sign1, its header and its payload, the
   key id, the Sig_structure, one OpenSSL verification, the key and the name's skeletons
   looked up in memory (read ahead in one query each), the entry bytes, the leaf hash and tree
   nodes, one ``executemany`` per table (entries, tree, keys, orgs) and the commit, with the
   store's durability. Compared with the "bare insert + verify" loop of ``bench_append.py``
   in the same run (wall time, median of ``--reps``): the ratio bare / lean is the best that
   ``append`` can reach in Python with these libraries.
3. **pyinstrument** (if installed) of one ``Ledger.append`` batch: the call tree's top.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import benchlib
import ledger
from bench_append import bare_db, bare_insert_verify, triple
from ledger.cose import decode_endorsement, verify_endorsement
from ledger.lookalike import skeletons
from ledger.merkle import hash_children, hash_leaf
from ledger.model import Action

_KID_DOMAIN = b"endorsement-ledger/key/v1\x00"
_KEYS_IN = "SELECT key_id FROM keys WHERE key_id IN ({marks})"
_SKELETONS_IN = (
    "SELECT org FROM orgs WHERE skeleton IN ({marks}) AND live IS NOT NULL "
    "UNION SELECT org FROM orgs WHERE skeleton2 IN ({marks}) AND live IS NOT NULL"
)

Batch = list[tuple[str, bytes]]


def cpu_wall(action: Callable[[], object]) -> tuple[float, float, object]:
    """CPU and wall seconds of one call, and its result."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def stages(book: ledger.Ledger, items: Batch, now: int) -> dict[str, float]:
    """One batch through ``Ledger.append``'s steps (its code, unrolled), CPU us per entry."""
    count = len(items)
    out: dict[str, float] = {}

    def each(name: str, action: Callable[[], object]) -> Any:
        cpu, wall, result = cpu_wall(action)
        out[name] = cpu / count * 1e6
        out[name + " (wall)"] = wall / count * 1e6
        return result

    decoded = each("decode_endorsement", lambda: [decode_endorsement(c) for _, c in items])
    keys = each("verify_endorsement", lambda: [verify_endorsement(s) for s in decoded])
    bare = [triple(cose) for _, cose in items]
    load = Ed25519PublicKey.from_public_bytes
    each("  of which OpenSSL verify", lambda: [load(k).verify(s, m) for k, m, s in bare])
    each(
        "Ledger._verified (the two above + statement, time)",
        lambda: [book._verified(cose, now) for _, cose in items],
    )
    checked = list(zip(decoded, keys, strict=True))
    store = book.store
    writer_context = store.writer()
    writer = writer_context.__enter__()
    try:
        recorded_at = max(now, book._tip_time(writer.size - 1))
        each(
            "read ahead (prefetch)",
            lambda: writer.state.prefetch(
                [key.key_id for _, key in checked],
                [
                    s.endorsement.name or ""
                    for s, _ in checked
                    if s.endorsement.action is Action.ENDORSE
                ],
            ),
        )
        outcomes = []

        def rules() -> None:
            for signed, key in checked:
                with writer.savepoint():
                    outcomes.append(book._apply(writer, signed, key))

        each("lifecycle rules + savepoint", rules)
        # The entries are added after the rules here (append interleaves them): same work.
        each(
            "entry encode + leaf + tree",
            lambda: [book._add(writer, s, recorded_at) for s, _ in checked],
        )
        each("write rows (flush)", writer.flush)
    except BaseException:
        writer_context.__exit__(*sys.exc_info())
        raise
    each("commit", lambda: writer_context.__exit__(None, None, None))
    return out


def lean_append(db: sqlite3.Connection, items: Batch, statement_hash: bytes, now: int) -> None:
    """The essential work of appending a batch, each step in its cheapest form (see above)."""
    db.execute("BEGIN IMMEDIATE")
    seq, tip = db.execute(
        "SELECT seq + 1, leaf_hash FROM entries ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    parsed = []
    for _, cose in items:
        sign1 = cbor2.loads(cose)
        if cbor2.dumps(sign1) != cose:
            raise ValueError("cose")
        protected, _, payload, signature = sign1.value
        header = cbor2.loads(protected)
        claims = cbor2.loads(payload)
        if cbor2.dumps(header) != protected or cbor2.dumps(claims) != payload:
            raise ValueError("header or payload")
        key = claims[4]
        key_id = hashlib.sha256(_KID_DOMAIN + key).digest()
        if header[4] != key_id or claims[2] != statement_hash:
            raise ValueError("kid or statement")
        message = cbor2.dumps(["Signature1", protected, b"", payload])
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
        parsed.append((cose, key_id, claims[3], skeletons(claims[3]), claims[5]))
    known = _in(db, _KEYS_IN, [p[1] for p in parsed])
    similar = _in(db, _SKELETONS_IN, [key for p in parsed for key in p[3]], twice=True)
    if known or similar:
        raise ValueError("the lean loop takes new organisations with new names only")
    entries, tree, keys, orgs = [], [], [], []
    nodes: dict[tuple[int, int], bytes] = {}
    for cose, key_id, name, keys_of_name, signed_at in parsed:
        data = b"".join(
            (
                b"\xa7\x00\x01\x01\x1a",
                seq.to_bytes(4, "big"),
                b"\x02\x58\x20",
                tip,
                b"\x03\x01\x04\x58\x20",
                statement_hash,
                b"\x05\x1a",
                now.to_bytes(4, "big"),
                b"\x06\x59",
                len(cose).to_bytes(2, "big"),
                cose,
            )
        )
        leaf = hash_leaf(data)
        entries.append((seq, leaf, data))
        node, level, index = leaf, 0, seq
        nodes[(0, seq)] = leaf
        while index % 2 == 1:
            left = nodes.get((level, index - 1))
            if left is None:
                left = (
                    bytes(
                        db.execute(
                            "SELECT hash FROM tree WHERE level = ? AND idx = ?", (level, index - 1)
                        ).fetchone()[0]
                    )
                    if level
                    else bytes(
                        db.execute(
                            "SELECT leaf_hash FROM entries WHERE seq = ?", (index - 1,)
                        ).fetchone()[0]
                    )
                )
            node = hash_children(left, node)
            level, index = level + 1, index // 2
            nodes[(level, index)] = node
            tree.append((level, index, node))
        keys.append((key_id, seq, None))
        first = keys_of_name[0] if keys_of_name else None
        second = keys_of_name[1] if len(keys_of_name) > 1 else None
        orgs.append((seq, key_id, seq, key_id, signed_at, name, first, second, signed_at))
        seq, tip = seq + 1, leaf
    db.executemany("INSERT INTO entries VALUES (?, ?, ?)", entries)
    db.executemany("INSERT INTO tree VALUES (?, ?, ?)", tree)
    db.executemany("INSERT INTO keys VALUES (?, ?, ?)", sorted(keys))
    db.executemany("INSERT INTO orgs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", orgs)
    db.execute("COMMIT")


def _in(
    db: sqlite3.Connection, template: str, values: Sequence[object], *, twice: bool = False
) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = tuple(values[start : start + 500])
        query = template.format(marks=", ".join("?" * len(chunk)))
        rows += db.execute(query, chunk + chunk if twice else chunk).fetchall()
    return rows


def compare_loops(
    book: ledger.Ledger,
    lean_db: sqlite3.Connection,
    bare: sqlite3.Connection,
    batches: list[tuple[Batch, int]],
) -> dict[str, float]:
    """``Ledger.append``, the lean loop and the bare insert + verify loop over the same
    batches, interleaved: median wall microseconds per entry of each."""
    timings: dict[str, list[float]] = {"append": [], "lean loop": [], "bare insert + verify": []}
    for items, now in batches:
        start = book.size
        seconds, _ = benchlib.timed(functools.partial(book.append, items, atomic=True, now=now))
        timings["append"].append(seconds)
        lean = functools.partial(lean_append, lean_db, items, book.statement_hash, now)
        timings["lean loop"].append(benchlib.timed(lean)[0])
        rows = [(s, book.store.leaf_hash(s), book.store.entry(s)) for s in range(start, book.size)]
        triples = [triple(cose) for _, cose in items]
        bare_loop = functools.partial(bare_insert_verify, bare, rows, triples)
        timings["bare insert + verify"].append(benchlib.timed(bare_loop)[0])
    return {name: benchlib.median(t) / len(batches[0][0]) * 1e6 for name, t in timings.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the stages, the lean loop against append and the bare loop, and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path, help="a ledger file (bench/generate.py)")
    parser.add_argument("--batch", type=int, default=1000, help="endorsements per batch")
    parser.add_argument("--reps", type=int, default=3, help="batches per measurement")
    parser.add_argument("--seed", default="0", help="the ledger's --seed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.ledger.parent) as temp:
        size = benchlib.ledger_size(args.ledger)
        book = benchlib.extend_copy(args.ledger, Path(temp) / "append.db", args.seed, size)
        lean_book = benchlib.extend_copy(args.ledger, Path(temp) / "lean.db", args.seed, size)
        lean_book.close()
        lean_db = sqlite3.connect(Path(temp) / "lean.db", isolation_level=None)
        lean_db.execute("PRAGMA journal_mode = WAL")
        lean_db.execute("PRAGMA synchronous = FULL")
        bare = bare_db(Path(temp) / "bare.db")
        statement_hash = book.statement_hash
        start = size
        skeletons("warm up")  # the confusables table loads on first use

        def batch() -> tuple[Batch, int]:
            nonlocal start
            items = [
                (str(i), benchlib.endorsement(args.seed, i, statement_hash, benchlib.T0 + i))
                for i in range(start, start + args.batch)
            ]
            start += args.batch
            return items, benchlib.T0 + start

        # 1. stages
        runs = []
        for _ in range(args.reps):
            items, now = batch()
            runs.append(stages(book, items, now))
        print(f"{args.ledger} ({size:,} entries), batches of {args.batch}, us per entry:")
        rows = [
            [name, f"{min(r[name] for r in runs):.1f}"] for name in runs[0] if "(wall)" not in name
        ]
        rows.append(["commit (wall)", f"{min(r['commit (wall)'] for r in runs):.1f}"])
        rows.append(
            ["write rows (wall)", f"{min(r['write rows (flush) (wall)'] for r in runs):.1f}"]
        )
        print(benchlib.table(["stage", "CPU us/entry (fastest)"], rows))
        # 2. lean loop, append and bare insert + verify, interleaved (wall)
        per = compare_loops(book, lean_db, bare, [batch() for _ in range(args.reps)])
        print()
        print(
            benchlib.table(
                ["loop", "wall us/entry (median)", "bare insert + verify / this"],
                [
                    [name, f"{per[name]:.1f}", f"{per['bare insert + verify'] / per[name]:.2f}"]
                    for name in per
                ],
            )
        )
        # 3. pyinstrument
        try:
            from pyinstrument import Profiler  # noqa: PLC0415
        except ImportError:
            Profiler = None  # noqa: N806
        if Profiler is not None:
            items, now = batch()
            profiler = Profiler(interval=0.0002)
            profiler.start()
            book.append(items, atomic=True, now=now)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
        book.close()
        lean_db.close()
        bare.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
