"""Where full verification spends its time: per-stage timings, cProfile, pyinstrument.

    python bench/profile_verify.py /tmp/bench/l100k.db
    python bench/profile_verify.py /tmp/bench/l100k.db --stages-only --entries 20000

Three views, in this order:

1. **stages** (no profiler, so no profiler distortion): each step of ``EntryChecker.feed`` run
   alone in a tight loop over the same ``--entries`` entries, its inputs prepared beforehand,
   in microseconds per entry (fastest of ``--reps``); indented rows are parts of the row
   above. The steps' sum is compared with ``EntryChecker.feed`` over the same entries (the
   rest is the glue in feed).
2. **cProfile** of ``check_ledger_file`` over the whole ledger, timed in CPU time: the
   functions of the hot path, with calls, own time and cumulative time per entry. cProfile
   inflates Python-call-heavy code; the un-profiled CPU time per entry is printed for scale.
3. **pyinstrument** (if installed; sampling, low overhead) of the same call: the call tree,
   written to ``--pyinstrument-out`` (text), its top printed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pickle
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import benchlib
import ledger
from ledger import codec, cose, payload
from ledger import entry as entry_module
from ledger.entry import MAX_ENTRY_BYTES
from ledger.examine import examine, from_wire, to_wire
from ledger.lifecycle import apply
from ledger.lookalike import skeleton
from ledger.merkle import CompactRange, hash_leaf
from ledger.model import Endorsement, Entry, SignedEndorsement, VerifiedEndorsement, VerifiedEntry
from ledger.names import check_display_text
from ledger.roster import Roster
from ledger.store import open_store
from ledger.verify import EntryChecker


def each(action: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    """A loop calling ``action`` on every item (for steps that return nothing)."""

    def loop() -> None:
        for item in items:
            action(item)

    return loop


def cpu_seconds(action: Callable[[], object]) -> float:
    """CPU seconds of this process during one call (time spent descheduled is not counted)."""
    start = time.process_time()
    action()
    return time.process_time() - start


def per_entry(action: Callable[[], object], count: int, reps: int) -> float:
    """CPU microseconds per entry of ``action`` (which processes ``count`` entries): the
    fastest of ``reps`` runs, the estimator least disturbed by other load on a shared machine."""
    return min(cpu_seconds(action) for _ in range(reps)) / count * 1e6


def stages(path: Path, entries: int, reps: int) -> list[tuple[str, float]]:  # noqa: PLR0915
    """Each step of the per-entry path alone, in us per entry."""
    store = open_store(path, readonly=True)
    genesis_raw = store.entry(0)
    end = min(store.size(), entries + 1)
    raws = [raw for _, raw in store.iter_entries(1, end)]
    count = len(raws)
    leafs = [hash_leaf(raw) for raw in raws]
    decoded = [ledger.decode_entry(raw) for raw in raws]
    values = [cbor2.loads(raw) for raw in raws]
    bodies = [entry.body for entry in decoded]
    assert all(isinstance(body, bytes) for body in bodies)
    signed = [ledger.decode_endorsement(body) for body in bodies]  # type: ignore[arg-type]
    cose_values = [cbor2.loads(body) for body in bodies]  # type: ignore[arg-type]
    keys = [cose.payload_key(s.endorsement.public_key) for s in signed]
    messages = [cose._sig_structure_sign1(s.protected, s.payload) for s in signed]
    openssl_keys = [Ed25519PublicKey.from_public_bytes(k.raw) for k in keys]
    genesis = ledger.decode_entry(genesis_raw)
    assert isinstance(genesis.body, ledger.Genesis)
    log_key = ledger.VerifyingKey.from_verifier_key(genesis.body.log_key)
    names = [s.endorsement.name or "" for s in signed]
    skeleton("warm up")  # the confusables table is loaded on first use: a one-time cost
    rows: list[tuple[str, float]] = []

    def add(name: str, action: Callable[[], object]) -> None:
        rows.append((name, per_entry(action, count, reps)))

    def iterate() -> None:
        for _ in store.iter_entries(1, end):
            pass

    add("store read (iter_entries)", iterate)
    add("hash_leaf", lambda: [hash_leaf(raw) for raw in raws])

    def compact() -> None:
        tree = CompactRange()
        for leaf in leafs:
            tree.append(leaf)

    add("CompactRange.append", compact)
    add("decode_entry", lambda: [ledger.decode_entry(raw) for raw in raws])
    add(
        "  codec.decode_exact(entry)",
        lambda: [codec.decode_exact(raw, max_size=MAX_ENTRY_BYTES) for raw in raws],
    )
    add("    cbor2.loads", lambda: [cbor2.loads(raw) for raw in raws])
    add("    cbor2.dumps (re-encode check)", lambda: [cbor2.dumps(v) for v in values])
    add(
        "  (field-by-field decoder, for comparison)",
        lambda: [entry_module._decode_entry_fields(raw) for raw in raws],
    )
    add(
        "  Entry(...) attrs constructor",
        lambda: [
            Entry(
                seq=e.seq,
                prev=e.prev,
                type=e.type,
                statement_hash=e.statement_hash,
                recorded_at=e.recorded_at,
                body=e.body,
                version=e.version,
            )
            for e in decoded
        ],
    )
    add("decode_endorsement", lambda: [ledger.decode_endorsement(b) for b in bodies])  # type: ignore[arg-type]
    add(
        "  codec.decode_exact(COSE_Sign1)",
        lambda: [codec.decode_exact(b, max_size=20_000) for b in bodies],  # type: ignore[arg-type]
    )
    add("    cbor2.loads", lambda: [cbor2.loads(b) for b in bodies])  # type: ignore[arg-type]
    add("    cbor2.dumps (re-encode check)", lambda: [cbor2.dumps(v) for v in cose_values])
    add(
        "  codec.decode_exact(protected header)",
        lambda: [codec.decode_exact(s.protected, max_size=1024) for s in signed],
    )
    add("  decode_payload", lambda: [payload.decode_payload(s.payload) for s in signed])
    add(
        "    codec.decode_exact(payload)",
        lambda: [codec.decode_exact(s.payload, max_size=16_384) for s in signed],
    )
    add(
        "    check_payload",
        each(lambda s: payload.check_payload(s.endorsement), signed),
    )
    add(
        "      check_display_text(name)",
        lambda: [check_display_text(n, "name", max_len=256) for n in names],
    )
    add(
        "    Endorsement(...) attrs constructor",
        lambda: [
            Endorsement(
                action=s.endorsement.action,
                statement_hash=s.endorsement.statement_hash,
                name=s.endorsement.name,
                public_key=s.endorsement.public_key,
                signed_at=s.endorsement.signed_at,
                domain=s.endorsement.domain,
                url=s.endorsement.url,
                country=s.endorsement.country,
            )
            for s in signed
        ],
    )
    add(
        "  SignedEndorsement(...) attrs constructor",
        lambda: [
            SignedEndorsement(
                endorsement=s.endorsement,
                cose=s.cose,
                key_id=s.key_id,
                issuer=s.issuer,
                subject=s.subject,
                protected=s.protected,
                payload=s.payload,
                signature=s.signature,
            )
            for s in signed
        ],
    )
    add("verify_endorsement", lambda: [ledger.verify_endorsement(s) for s in signed])
    add(
        "  payload_key (VerifyingKey.from_raw, cached)",
        lambda: [cose.payload_key(s.endorsement.public_key) for s in signed],
    )
    add("  VerifyingKey.key_id (SHA-256, uncached)", lambda: [k.key_id for k in keys])
    add(
        "  issuer_for (fingerprint if no domain)",
        lambda: [cose.issuer_for(s.endorsement, k) for s, k in zip(signed, keys, strict=True)],
    )
    add(
        "  statement_uri",
        lambda: [cose.statement_uri(s.endorsement.statement_hash) for s in signed],
    )
    add(
        "  _sig_structure_sign1 (codec.encode_strings)",
        lambda: [cose._sig_structure_sign1(s.protected, s.payload) for s in signed],
    )
    add(
        f"  VerifyingKey.verify (checks + {ledger.ed25519_backend()})",
        each(
            lambda kms: kms[0].verify(kms[1], kms[2].signature),
            list(zip(keys, messages, signed, strict=True)),
        ),
    )
    add(
        "    Ed25519PublicKey.verify (OpenSSL alone)",
        lambda: [
            k.verify(s.signature, m) for k, m, s in zip(openssl_keys, messages, signed, strict=True)
        ],
    )
    try:
        from nacl.bindings import crypto_sign_open  # noqa: PLC0415 - optional
    except ImportError:
        pass
    else:
        add(
            "    crypto_sign_open (libsodium alone)",
            lambda: [
                crypto_sign_open(s.signature + m, k.raw)
                for k, m, s in zip(keys, messages, signed, strict=True)
            ],
        )

    def lifecycle() -> None:
        roster = Roster()
        for seq, (entry, s, k) in enumerate(zip(decoded, signed, keys, strict=True), 1):
            apply(
                roster.state,
                seq=seq,
                entry_type=entry.type,
                signed=s,
                signer=k,
                log_key=log_key,
            )

    def lifecycle_and_roster() -> None:
        roster = Roster()
        for seq, (entry, s, k) in enumerate(zip(decoded, signed, keys, strict=True), 1):
            outcome = apply(
                roster.state,
                seq=seq,
                entry_type=entry.type,
                signed=s,
                signer=k,
                log_key=log_key,
            )
            roster.record(seq, entry, s, k, outcome)

    add("lifecycle.apply (MemoryState)", lifecycle)
    add("  lookalike.skeleton(name) (x2: apply, put_org)", lambda: [skeleton(n) for n in names])
    add("lifecycle.apply + Roster.record", lifecycle_and_roster)
    add(
        "VerifiedEntry + VerifiedEndorsement constructors",
        lambda: [
            VerifiedEntry(entry=e, leaf_hash=h, raw=r, endorsement=VerifiedEndorsement(s))
            for e, h, r, s in zip(decoded, leafs, raws, signed, strict=True)
        ],
    )

    def feed_all() -> None:
        checker = EntryChecker()
        checker.feed(0, genesis_raw)
        for seq, raw in enumerate(raws, 1):
            checker.feed(seq, raw)
        assert not checker.problems

    examined = [examine(seq, raw) for seq, raw in enumerate(raws, 1)]
    wires = [to_wire(e) for e in examined]

    def ordered_half() -> None:
        checker = EntryChecker()
        checker.feed(0, genesis_raw)
        for seq, item in enumerate(examined, 1):
            checker.feed_examined(seq, item)

    add(
        "examine (the stateless half: a worker's, with --jobs)",
        lambda: [examine(seq, raw) for seq, raw in enumerate(raws, 1)],
    )
    add(
        "  to_wire + pickle (worker side)",
        lambda: pickle.dumps([to_wire(e) for e in examined], protocol=pickle.HIGHEST_PROTOCOL),
    )
    add("feed_examined (the ordered half: the main process's)", ordered_half)
    add("  from_wire (main side, with --jobs)", lambda: [from_wire(w) for w in wires])
    add("TOTAL: EntryChecker.feed (in memory, no store)", feed_all)
    store.close()
    return rows


# Functions of the hot path to show from the profile: (file suffix, function name).
HOT: Sequence[tuple[str, str]] = (
    ("audit.py", "check_source"),
    ("sqlite.py", "iter_entries"),
    ("verify.py", "feed"),
    ("verify.py", "_check_body"),
    ("merkle.py", "hash_leaf"),
    ("merkle.py", "append"),
    ("merkle.py", "hash_children"),
    ("entry.py", "decode_entry"),
    ("codec.py", "decode"),
    ("codec.py", "_check"),
    ("codec.py", "encode"),
    ("codec.py", "_normalise"),
    ("codec.py", "__init__"),
    ("codec.py", "finish"),
    ("cose.py", "decode_endorsement"),
    ("cose.py", "_claims"),
    ("payload.py", "decode_payload"),
    ("payload.py", "check_payload"),
    ("names.py", "check_display_text"),
    ("names.py", "check_domain"),
    ("names.py", "check_url"),
    ("cose.py", "verify_endorsement"),
    ("cose.py", "payload_key"),
    ("keys.py", "__init__"),
    ("keys.py", "validate_key_name"),
    ("keys.py", "_check_public_key_bytes"),
    ("keys.py", "key_id"),
    ("keys.py", "fingerprint"),
    ("cose.py", "issuer_for"),
    ("cose.py", "statement_uri"),
    ("cose.py", "_sig_structure_sign1"),
    ("keys.py", "verify"),
    (
        "~",
        "<method 'verify' of 'cryptography.hazmat.bindings._rust.openssl.ed25519."
        "Ed25519PublicKey' objects>",
    ),
    ("~", "<built-in method from_public_bytes>"),
    ("~", "<built-in method _cbor2.loads>"),
    ("~", "<built-in method _cbor2.dumps>"),
    ("lifecycle.py", "apply"),
    ("lifecycle.py", "_endorse"),
    ("lifecycle.py", "_lookalike_flags"),
    ("lifecycle.py", "put_org"),
    ("lookalike.py", "skeleton"),
    ("roster.py", "record"),
)


def profile(path: Path) -> tuple[list[dict[str, Any]], float, float, float, int]:
    """cProfile of check_ledger_file: hot rows, profiled, unprofiled and unprofiled without
    the garbage collector CPU seconds, and the size."""
    size = benchlib.ledger_size(path)
    skeleton("warm up")  # one-time costs (the confusables table) are measured apart
    plain = cpu_seconds(lambda: ledger.check_ledger_file(path))
    gc.disable()  # what the cyclic garbage collector costs over a long run
    try:
        plain_no_gc = cpu_seconds(lambda: ledger.check_ledger_file(path))
    finally:
        gc.enable()
    profiler = cProfile.Profile(time.process_time)
    profiled = cpu_seconds(lambda: profiler.runcall(ledger.check_ledger_file, path))
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for suffix, name in HOT:
        for (filename, line, function), (_cc, ncalls, tottime, cumtime, _) in table.items():
            if function == name and filename.endswith(suffix):
                rows.append(
                    {
                        "function": f"{Path(filename).name}:{line} {function}"
                        if suffix != "~"
                        else function,
                        "calls": ncalls,
                        "own_us": tottime / size * 1e6,
                        "cum_us": cumtime / size * 1e6,
                        "cum_share": cumtime / profiled,
                    }
                )
    attrs_rows = [
        (filename, ncalls, tottime, cumtime)
        for (filename, _, function), (_cc, ncalls, tottime, cumtime, _) in table.items()
        if "attrs generated" in filename and function == "__init__"
    ]
    for filename, ncalls, tottime, cumtime in sorted(attrs_rows, key=lambda r: -r[3]):
        if ncalls >= size // 2:
            rows.append(
                {
                    "function": filename.strip("<>").replace("attrs generated methods ", "")
                    + ".__init__ (attrs)",
                    "calls": ncalls,
                    "own_us": tottime / size * 1e6,
                    "cum_us": cumtime / size * 1e6,
                    "cum_share": cumtime / profiled,
                }
            )
    return rows, profiled, plain, plain_no_gc, size


def pyinstrument_tree(path: Path, out: Path | None) -> str | None:
    """pyinstrument's text tree of check_ledger_file (None if pyinstrument is missing)."""
    try:
        from pyinstrument import Profiler  # noqa: PLC0415 - optional
    except ImportError:
        return None
    profiler = Profiler(interval=0.0005)
    profiler.start()
    ledger.check_ledger_file(path)
    profiler.stop()
    text: str = profiler.output_text(unicode=False, color=False, show_all=False)
    if out is not None:
        out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the three views and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path, help="a ledger file (bench/generate.py)")
    parser.add_argument("--entries", type=int, default=10_000, help="entries for the stages")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per stage")
    parser.add_argument("--stages-only", action="store_true", help="skip the profilers")
    parser.add_argument("--pyinstrument-out", type=Path, help="write pyinstrument's tree here")
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"ledger": str(args.ledger)}
    stage_rows = stages(args.ledger, args.entries, args.reps)
    results["stages_us_per_entry"] = dict(stage_rows)
    total = stage_rows[-1][1]
    print(f"stages over {min(args.entries, benchlib.ledger_size(args.ledger) - 1):,} entries:")
    print(
        benchlib.table(
            ["step", "us/entry", "share of feed"],
            [(name, f"{us:.2f}", f"{us / total:.0%}") for name, us in stage_rows],
        )
    )
    top = [
        us
        for name, us in stage_rows
        if not name.startswith(" ") and not name.startswith("TOTAL") and "+" not in name
    ]
    print(f"\nsum of top-level steps (store read included): {sum(top):.1f} us/entry")
    if not args.stages_only:
        rows, profiled, plain, plain_no_gc, size = profile(args.ledger)
        print(
            f"\ncProfile of check_ledger_file over {size:,} entries (CPU time): "
            f"{plain / size * 1e6:.1f} us/entry without the profiler, "
            f"{profiled / size * 1e6:.1f} us/entry with it; "
            f"{plain_no_gc / size * 1e6:.1f} us/entry with the garbage collector disabled"
        )
        print(
            benchlib.table(
                ["function", "calls", "own us/entry", "cum us/entry", "cum share"],
                [
                    (
                        r["function"],
                        f"{r['calls']:,}",
                        f"{r['own_us']:.2f}",
                        f"{r['cum_us']:.2f}",
                        f"{r['cum_share']:.1%}",
                    )
                    for r in rows
                ],
            )
        )
        results["cprofile"] = {
            "rows": rows,
            "profiled_s": profiled,
            "plain_s": plain,
            "plain_no_gc_s": plain_no_gc,
        }
        tree = pyinstrument_tree(args.ledger, args.pyinstrument_out)
        if tree is not None:
            print("\npyinstrument (top of the tree):")
            print("\n".join(tree.splitlines()[:60]))
    benchlib.write_json(args.json, "profile_verify", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
