"""Shared builders for the store, campaign, verification and CLI tests.

Keys are deterministic (``SigningKey.from_seed`` over a public label), so every ledger built here
is reproducible. ``chain`` is a naive, independent entry builder: it encodes ``Entry`` values
with the right ``prev`` links, so an attack test can build a ledger that is well-chained except
for the one thing it tampers with.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import cbor2

import ledger
from ledger import codec
from ledger.cose import CONTENT_TYPE, statement_uri
from ledger.merkle import hash_leaf

STATEMENT = b"We, the undersigned organisations, endorse this statement.\n\nSecond paragraph.\n"
OTHER_STATEMENT = b"A different statement that nobody endorsed.\n"
STATEMENT_HASH = hashlib.sha256(STATEMENT).digest()
TITLE = "Our letter"
ORIGIN = "example.org/letter"
T0 = 1_700_000_000
ZERO = bytes(32)


def seeded_key(name: str) -> ledger.SigningKey:
    """A deterministic test key named ``name`` (its secret is public knowledge)."""
    return ledger.SigningKey.from_seed(
        name, hashlib.sha256(f"ledger tests: {name}".encode()).digest()
    )


LOG_KEY = seeded_key(ORIGIN)


def org_key(number: int) -> ledger.SigningKey:
    """The deterministic key of test organisation ``number``."""
    return seeded_key(f"org{number}.example")


def org_endorsement(
    number: int, statement_hash: bytes = STATEMENT_HASH, *, signed_at: int | None = None, **kw: str
) -> bytes:
    """Organisation ``number``'s endorsement (name ``Org <number>``)."""
    when = T0 + number if signed_at is None else signed_at
    return ledger.endorse(
        org_key(number), statement_hash, name=kw.pop("name", f"Org {number}"), signed_at=when, **kw
    )


def make_ledger(path: Path, count: int, *, now: int = T0) -> ledger.Ledger:
    """Create a ledger at ``path`` with ``count`` endorsements (orgs 1..count), one per second.

    Entry ``i`` (1-based) is organisation ``i``'s endorsement, recorded at ``now + i``.
    """
    book = ledger.Ledger.create(
        path, statement=STATEMENT, title=TITLE, origin=ORIGIN, log_key=LOG_KEY, now=now
    )
    for number in range(1, count + 1):
        result = book.append([(f"org{number}", org_endorsement(number))], now=now + number)
        assert result.appended == ((f"org{number}", number),), result
    return book


def stored_entries(path: Path) -> list[tuple[int, bytes]]:
    """Every ``(seq, data)`` row of a ledger file, read with sqlite3 directly."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT seq, data FROM entries ORDER BY seq").fetchall()
    finally:
        db.close()
    return [(int(seq), bytes(data)) for seq, data in rows]


def set_entry_data(path: Path, seq: int, data: bytes) -> None:
    """Overwrite the bytes of entry ``seq`` at the SQLite level (the stored leaf hash is kept)."""
    db = sqlite3.connect(path)
    try:
        with db:
            changed = db.execute("UPDATE entries SET data = ? WHERE seq = ?", (data, seq))
            assert changed.rowcount == 1
    finally:
        db.close()


def genesis_entry(
    *,
    statement: bytes = STATEMENT,
    title: str = TITLE,
    origin: str = ORIGIN,
    log_key: ledger.SigningKey = LOG_KEY,
    recorded_at: int = T0,
    statement_hash: bytes | None = None,
) -> ledger.Entry:
    """A genesis entry (``prev`` zero); ``statement_hash`` defaults to the text's SHA-256."""
    canonical = ledger.canonicalize(statement)
    return ledger.Entry(
        seq=0,
        prev=ZERO,
        type=ledger.EntryType.GENESIS,
        statement_hash=hashlib.sha256(canonical).digest()
        if statement_hash is None
        else statement_hash,
        recorded_at=recorded_at,
        body=ledger.Genesis(
            title=title,
            statement_text=canonical.decode(),
            origin=origin,
            log_key=log_key.public.to_verifier_key(),
        ),
    )


def endorsement_entry(
    seq: int, cose: bytes, *, recorded_at: int | None = None, statement_hash: bytes = STATEMENT_HASH
) -> ledger.Entry:
    """An endorsement entry holding ``cose``; ``prev`` is left zero for ``chain`` to fill."""
    return ledger.Entry(
        seq=seq,
        prev=ZERO,
        type=ledger.EntryType.ENDORSEMENT,
        statement_hash=statement_hash,
        recorded_at=T0 + seq if recorded_at is None else recorded_at,
        body=cose,
    )


def chain(entries: Iterable[ledger.Entry], *, renumber: bool = False) -> list[tuple[int, bytes]]:
    """Encode entries in order with correct ``prev`` links: ``(position, bytes)`` pairs.

    Only ``prev`` is rewritten (and ``seq`` when ``renumber``): every other field is kept, so
    the result differs from a valid ledger only where the caller made it differ.
    """
    out: list[tuple[int, bytes]] = []
    prev = ZERO
    for position, entry in enumerate(entries):
        fixed = attrs.evolve(entry, prev=prev, seq=position if renumber else entry.seq)
        data = ledger.encode_entry(fixed)
        out.append((position, data))
        prev = hash_leaf(data)
    return out


def valid_entries(count: int) -> list[ledger.Entry]:
    """The decoded entries of a valid ledger: genesis and ``count`` endorsements (orgs 1..n)."""
    return [genesis_entry()] + [
        endorsement_entry(number, org_endorsement(number)) for number in range(1, count + 1)
    ]


def forged_endorsement(
    named: ledger.SigningKey,
    signer: ledger.SigningKey,
    statement_hash: bytes = STATEMENT_HASH,
    *,
    kid_of: ledger.SigningKey | None = None,
    name: str = "Forged Org",
    signed_at: int = T0,
) -> bytes:
    """A COSE_Sign1 whose payload names ``named``'s key but which ``signer`` signed.

    Built from RFC 9052 §4.4 and the payload's CDDL directly, not through ``ledger.endorse``
    (which refuses this) nor the library's payload checks, so tests can also make payloads the
    library would refuse to write. ``kid_of`` chooses the key id in the protected header
    (default: the named key's). With ``signer`` = ``named`` the signature is genuine.
    """
    payload = codec.encode(
        {0: 1, 1: 0, 2: statement_hash, 3: name, 4: named.public.raw, 5: signed_at}
    )
    issuer = f"ledger-key:{named.public.fingerprint}"
    protected = codec.encode(
        {
            1: -8,
            3: CONTENT_TYPE,
            4: (kid_of or named).public.key_id,
            15: {1: issuer, 2: statement_uri(statement_hash)},
        }
    )
    signature = signer.sign(codec.encode(["Signature1", protected, b"", payload]))
    return codec.encode(cbor2.CBORTag(18, [protected, {}, payload, signature]))


def where(report: ledger.Report) -> set[tuple[int | None, str]]:
    """The (entry, check) pairs of a report's problems."""
    return {(problem.seq, problem.check) for problem in report.problems}


def problem_entries(report: ledger.Report) -> set[int | None]:
    """The entries a report names."""
    return {problem.seq for problem in report.problems}


def flip(data: bytes, position: int, xor: int = 0x01) -> bytes:
    """``data`` with the byte at ``position`` XOR-ed with ``xor`` (non-zero)."""
    assert xor != 0
    return data[:position] + bytes([data[position] ^ xor]) + data[position + 1 :]


def check(entries: Sequence[tuple[int, bytes]], **kw: bytes) -> ledger.Report:
    """``ledger.check_entries`` over a list."""
    return ledger.check_entries(list(entries), **kw)
