"""How fast could a pure-Python verifier be? A lean loop doing the essential per-entry work.

    python bench/probe_lean_verify.py /tmp/ledger-bench/l100000.db --entries 20000

NOT a verifier: it skips most field checks, the lifecycle rules and the report. It does what
any verifier of this format must do per entry, each in its cheapest form: the leaf hash, one
``cbor2.loads`` of the entry, of the COSE_Sign1, of its protected header and of its payload,
a ``cbor2.dumps`` round-trip check of each (the canonical-form rule), the chain link, the key
id, the Sig_structure, and one Ed25519 verification (OpenSSL, then libsodium if installed).
The gap between this and ``check_entries`` is the overhead the library adds; the gap between
this and the bare signature loop is what remains for Python and cbor2 even when lean. CPU
time, fastest of ``--reps``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import benchlib
import ledger
from ledger.store import open_store

_KID_DOMAIN = b"endorsement-ledger/key/v1\x00"


def lean(raws: list[bytes], verify: Callable[[bytes, bytes, bytes], None]) -> None:
    """The essential per-entry work over consecutive entries (entry 1 onwards)."""
    prev = None
    for raw in raws:
        leaf = hashlib.sha256(b"\x00" + raw).digest()
        entry = cbor2.loads(raw)
        if cbor2.dumps(entry) != raw or (prev is not None and entry[2] != prev):
            raise ValueError("entry")
        body = entry[6]
        sign1 = cbor2.loads(body)
        if cbor2.dumps(sign1) != body:
            raise ValueError("cose")
        protected, _, payload, signature = sign1.value
        header = cbor2.loads(protected)
        claims = cbor2.loads(payload)
        if cbor2.dumps(header) != protected or cbor2.dumps(claims) != payload:
            raise ValueError("header or payload")
        key = claims[4]
        if header[4] != hashlib.sha256(_KID_DOMAIN + key).digest():
            raise ValueError("kid")
        verify(key, cbor2.dumps(["Signature1", protected, b"", payload]), signature)
        prev = leaf


def fastest_cpu(action: Callable[[], object], reps: int) -> float:
    """CPU seconds of the fastest of ``reps`` calls (robust to other load on the machine)."""
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return best


def verify_openssl(key: bytes, message: bytes, signature: bytes) -> None:
    """OpenSSL through cryptography."""
    Ed25519PublicKey.from_public_bytes(key).verify(signature, message)


def main(argv: list[str] | None = None) -> int:
    """Time the lean loop and the library over the same entries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    store = open_store(args.ledger, readonly=True)
    genesis = store.entry(0)
    raws = [raw for _, raw in store.iter_entries(1, args.entries + 1)]
    store.close()
    count = len(raws)
    verifiers: dict[str, Callable[[bytes, bytes, bytes], None]] = {"openssl": verify_openssl}
    try:
        from nacl.bindings import crypto_sign_open  # noqa: PLC0415 - optional
    except ImportError:
        pass
    else:

        def verify_sodium(key: bytes, message: bytes, signature: bytes) -> None:
            crypto_sign_open(signature + message, key)

        verifiers["libsodium"] = verify_sodium

    def library() -> None:
        ledger.check_entries([(0, genesis), *enumerate(raws, 1)])

    triples = []
    for raw in raws:
        protected, _, payload, signature = cbor2.loads(cbor2.loads(raw)[6]).value
        message = cbor2.dumps(["Signature1", protected, b"", payload])
        triples.append((cbor2.loads(payload)[4], message, signature))
    library()  # warm up (the confusables table)
    rows = [("library check_entries", fastest_cpu(library, args.reps))]
    for name, verify in verifiers.items():

        def run(verify: Callable[[bytes, bytes, bytes], None] = verify) -> None:
            lean(raws, verify)

        def bare(verify: Callable[[bytes, bytes, bytes], None] = verify) -> None:
            for key, message, signature in triples:
                verify(key, message, signature)

        rows.append((f"lean loop, {name}", fastest_cpu(run, args.reps)))
        rows.append((f"bare signatures, {name}", fastest_cpu(bare, args.reps)))
    print(f"{count:,} entries of {args.ledger}:")
    print(
        benchlib.table(
            ["loop", "us/entry"], [(name, f"{seconds / count * 1e6:.1f}") for name, seconds in rows]
        )
    )
    benchlib.write_json(
        args.json, "lean_verify", {name: seconds / count * 1e6 for name, seconds in rows}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
