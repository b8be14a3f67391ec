"""The fuzz targets: every decoder and parser of ``ledger``, one function of bytes each.

Shared by the atheris harness (``bench/fuzz/harness.py``, coverage-guided, long runs) and the
hypothesis tests (``tests/test_fuzz.py``, short runs in the normal test suite).

A *decoder* is one library entry point: ``run(data)`` feeds it ``data`` and checks

- that only ``ledger.errors.LedgerError`` subclasses escape (``run`` swallows them: anything
  else, or an ``AssertionError`` from a property below, is a finding);
- the one-encoding property where an encoder exists: whatever decodes re-encodes to exactly the
  input bytes (``encode(decode(x)) == x``), or, where the encoding is not unique by design (the
  evidence JSON, the well-known file), that the re-encoding decodes to the same value.

Decoders that take ``str`` get ``data.decode("utf-8", "surrogateescape")``, so undecodable
bytes arrive as lone surrogates, which ``str`` APIs must reject too. Decoders that take a value
(proofs from JSON) get ``json.loads`` of the data; data that is not JSON is skipped (the JSON
parser is the caller's).

A *target* (what atheris runs, one process each) groups related decoders: the first input byte
chooses the decoder (``byte % count``), the rest is its input. ``seeds(target)`` are valid inputs
with that prefix, built deterministically from public test keys.

Costs kept bounded for fuzzing: an encrypted secret key is decrypted (with the passphrase
``PASSPHRASE``) only when its scrypt cost byte is at most ``FUZZ_MAX_LOG2N``; above that the
parser is called without a passphrase, which checks the format and the cost range and stops
before scrypt. The decoder itself accepts log2(N) up to ``keys.MAX_LOG2N`` = 20, which costs
about 1 GiB and 4 s per attempt (see README.md, "Findings").
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cbor2

from ledger import (
    binding,
    binding_fetch,
    bundle_read,
    codec,
    cose,
    entry,
    keys,
    merkle,
    note,
    payload,
    policy,
    proofs,
    statement,
    tiles,
    verify,
    witness,
    witness_state,
)
from ledger import inspect as inspect_mod
from ledger.bundle_views import entries_json_row, entry_json
from ledger.errors import LedgerError
from ledger.merkle import MemoryTree, hash_leaf
from ledger.model import Action, Endorsement, Entry, EntryType, Genesis, RemovalReason

PASSPHRASE = b"fuzz passphrase"
FUZZ_MAX_LOG2N = 12
CODEC_MAX_SIZE = 65_535


# ---------------------------------------------------------------------------------------------
# fixed, public test material


def _key(name: str) -> keys.SigningKey:
    return keys.SigningKey.from_seed(name, hashlib.sha256(f"ledger fuzz: {name}".encode()).digest())


ORIGIN = "example.org/letter"
LOG_KEY = _key(ORIGIN)
ORG_KEY = _key("org1.example")
ORG2_KEY = _key("org2.example")
NEW_KEY = _key("org1.example-2")
WITNESS_KEY = _key("witness.example")
WITNESS2_KEY = _key("witness2.example")
STATEMENT = b"We, the undersigned organisations, endorse this statement.\n\nSecond paragraph.\n"
STATEMENT_HASH = hashlib.sha256(STATEMENT).digest()
T0 = 1_700_000_000


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _json(data: bytes) -> tuple[bool, object]:
    """(True, value) if ``data`` is JSON; (False, None) otherwise (not the library's parser)."""
    try:
        return True, json.loads(data)
    except (ValueError, RecursionError):
        return False, None


# ---------------------------------------------------------------------------------------------
# valid seed inputs


def _endorsement(action: Action, key: keys.SigningKey = ORG_KEY, **fields: object) -> Endorsement:
    fields.setdefault("name", None)
    return Endorsement(
        action=action,
        statement_hash=STATEMENT_HASH,
        public_key=key.public.raw,
        signed_at=T0 + 5,
        **fields,  # type: ignore[arg-type]
    )


@functools.cache
def cose_seeds() -> tuple[bytes, ...]:
    sign = cose.sign_endorsement
    return (
        cose.endorse(ORG_KEY, STATEMENT_HASH, name="Org 1", signed_at=T0),
        cose.endorse(
            ORG2_KEY,
            STATEMENT_HASH,
            name="Organisation deux \u00e9\u200d",
            signed_at=T0 + 1,
            domain="org2.example",
            url="https://org2.example/about",
            country="BE",
        ),
        sign(_endorsement(Action.WITHDRAW, name="Org 1", ref=1), ORG_KEY),
        sign(
            _endorsement(Action.ROTATE, new_key=NEW_KEY.public.raw),
            ORG_KEY,
            new_key=NEW_KEY,
        ),
        sign(
            _endorsement(Action.REVOKE, NEW_KEY, revoked_key=NEW_KEY.public.raw, revoked_from=T0),
            NEW_KEY,
        ),
        sign(
            _endorsement(
                Action.REMOVE,
                LOG_KEY,
                ref=2,
                reason=RemovalReason.MISTAKEN,
                note="wrong org",
            ),
            LOG_KEY,
        ),
        sign(_endorsement(Action.CLOSE, LOG_KEY), LOG_KEY),
    )


@functools.cache
def payload_seeds() -> tuple[bytes, ...]:
    return tuple(cose.decode_endorsement(data).payload for data in cose_seeds())


@functools.cache
def ledger_entries() -> tuple[bytes, ...]:
    """A valid ledger: genesis, then one entry per COSE seed, chained."""
    genesis = Entry(
        seq=0,
        prev=bytes(32),
        type=EntryType.GENESIS,
        statement_hash=STATEMENT_HASH,
        recorded_at=T0,
        body=Genesis(
            title="Our letter",
            statement_text=STATEMENT.decode(),
            origin=ORIGIN,
            log_key=LOG_KEY.public.to_verifier_key(),
        ),
    )
    out = [entry.encode_entry(genesis)]
    for seq, body in enumerate(cose_seeds(), 1):
        action = cose.decode_endorsement(body).endorsement.action
        kind = EntryType.LOG if action in (Action.REMOVE, Action.CLOSE) else EntryType.ENDORSEMENT
        value = Entry(
            seq=seq,
            prev=hash_leaf(out[-1]),
            type=kind,
            statement_hash=STATEMENT_HASH,
            recorded_at=T0 + 10 + seq,
            body=body,
        )
        out.append(entry.encode_entry(value))
    return tuple(out)


@functools.cache
def tree() -> MemoryTree:
    tree = MemoryTree()
    for data in ledger_entries():
        tree.append(data)
    return tree


def _checkpoint(size: int, extensions: tuple[str, ...] = ()) -> note.Checkpoint:
    return note.Checkpoint(ORIGIN, size, merkle.root(tree(), size), extensions)


@functools.cache
def signed_checkpoints() -> tuple[bytes, ...]:
    size = len(ledger_entries())
    plain = note.sign_checkpoint(_checkpoint(size), LOG_KEY)
    parsed = note.parse_note(plain)
    cosig = note.cosign_checkpoint(parsed, WITNESS_KEY, T0 + 100)
    cosigned = note.format_note(note.add_signature(parsed, cosig))
    small = note.sign_checkpoint(_checkpoint(3, ("ext line",)), LOG_KEY)
    return (cosigned, plain, small)


@functools.cache
def note_seeds() -> tuple[bytes, ...]:
    generic = note.sign_note("hello\nworld\n", ORG_KEY)
    two = note.add_signature(generic, note.sign_note("hello\nworld\n", ORG2_KEY).signatures[0])
    return (*signed_checkpoints(), note.format_note(two))


@functools.cache
def signature_line_seeds() -> tuple[bytes, ...]:
    sigs = note.parse_note(signed_checkpoints()[0]).signatures
    return (
        witness.format_cosignature_lines(sigs),
        witness.format_cosignature_lines(sigs[1:]),
    )


@functools.cache
def tlog_proof_seeds() -> tuple[bytes, ...]:
    checkpoint = signed_checkpoints()[0]
    size = len(ledger_entries())
    out = []
    for index, extra in ((2, None), (0, b"app data"), (size - 1, None)):
        path = tuple(merkle.prove_inclusion(tree(), index, size))
        out.append(note.format_tlog_proof(note.TlogProof(index, path, checkpoint, extra)))
    return tuple(out)


@functools.cache
def witness_request_seeds() -> tuple[bytes, ...]:
    size = len(ledger_entries())
    checkpoint = signed_checkpoints()[1]
    out = []
    for old in (0, 3, size):
        proof = tuple(merkle.prove_consistency(tree(), old, size))
        request = witness.AddCheckpointRequest(old, proof, checkpoint)
        out.append(witness.format_add_checkpoint_request(request))
    return tuple(out)


@functools.cache
def witness_state_seeds() -> tuple[bytes, ...]:
    log = witness.WitnessedLog.new(LOG_KEY.public)
    empty = witness_state.WitnessState(WITNESS_KEY.public, (log,))
    size = len(ledger_entries())
    cp = _checkpoint(size)
    cosigned = witness.WitnessedLog(
        ORIGIN, LOG_KEY.public.to_verifier_key(), size, cp.root, signed_checkpoints()[1]
    )
    full = witness_state.WitnessState(WITNESS_KEY.public, (cosigned,))
    return (witness_state.encode_state(empty), witness_state.encode_state(full))


@functools.cache
def key_seeds() -> tuple[str, ...]:
    return (
        ORG_KEY.public.to_text(),
        ORG_KEY.public.to_text() + "\n",
        LOG_KEY.public.to_verifier_key(),
        ORG_KEY.to_text(),
        ORG2_KEY.to_encrypted_text(PASSPHRASE, log2n=10),
        note.witness_verifier_key(WITNESS_KEY.public),
        keys.SigningKey.from_seed("n\u00e4me:\u00e9", bytes(range(32))).public.to_text(),
    )


@functools.cache
def policy_seeds() -> tuple[str, ...]:
    w1 = note.witness_verifier_key(WITNESS_KEY.public)
    w2 = note.witness_verifier_key(WITNESS2_KEY.public)
    log = LOG_KEY.public.to_verifier_key()
    return (
        (
            f"# policy\nlog {log} https://example.org/letter/\n"
            f"witness w1 {w1} https://w1.example/\nwitness w2 {w2}\n"
            "group g 1 w1 w2\nquorum g\n"
        ),
        f"log {log}\n\twitness  a {w1}\n  group both all a\nquorum both\n",
        f"log {log}\nquorum none\n",
        f"witness w1 {w1}\nwitness w2 {w2}\ngroup g1 any w1\ngroup g2 2 g1 w2\nquorum g2\n",
    )


@functools.cache
def proof_json_seeds() -> tuple[bytes, ...]:
    size = len(ledger_entries())
    inclusion = proofs.prove_inclusion(tree(), 3, size).to_json()
    consistency = proofs.prove_consistency(tree(), 2, size).to_json()
    return (
        json.dumps(inclusion).encode(),
        json.dumps(consistency, indent=1).encode(),
        json.dumps(proofs.prove_inclusion(tree(), 0, 1).to_json()).encode(),
    )


def encode_entry_list(items: Sequence[tuple[int, bytes]]) -> bytes:
    """The fuzz input of ``check_entries``: per entry, an int8 seq step, uint16 length, bytes."""
    out = bytearray()
    previous = -1
    for seq, data in items:
        step = seq - previous - 1
        assert -128 <= step <= 127
        out += step.to_bytes(1, "big", signed=True) + len(data).to_bytes(2, "big") + data
        previous = seq
    return bytes(out)


def decode_entry_list(data: bytes) -> list[tuple[int, bytes]]:
    """Inverse of ``encode_entry_list``, lenient: a short tail is one last, truncated entry."""
    items = []
    previous = -1
    position = 0
    while position < len(data):
        step = int.from_bytes(data[position : position + 1], "big", signed=True)
        length = int.from_bytes(data[position + 1 : position + 3], "big")
        raw = data[position + 3 : position + 3 + length]
        previous += 1 + step
        items.append((previous, raw))
        position += 3 + length
    return items


@functools.cache
def entry_list_seeds() -> tuple[bytes, ...]:
    full = list(enumerate(ledger_entries()))
    return (
        b"\x00" + encode_entry_list(full),
        b"\x01" + encode_entry_list(full[:3]),
        b"\x00" + encode_entry_list([full[0], full[2], full[1]]),
    )


@functools.cache
def statement_seeds() -> tuple[bytes, ...]:
    return (
        STATEMENT,
        b"\xef\xbb\xbfLibert\xc3\xa9,  \xc3\xa9galit\xc3\xa9 \t\r\n\r\n\r\nfraternit\xc3\xa9\r",
        "\n\n  \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\n"
        "\u0928\u092e\u0938\u094d\u200d\u0924\u0947 \U0001f469\u200d\U0001f52c e\u0301\n".encode(),
        "Line one\u2028 stays\nA\u2029B\n".encode(),
    )


@functools.cache
def codec_seeds() -> tuple[bytes, ...]:
    deep: object = 1
    for _ in range(codec.MAX_DEPTH):
        deep = [deep]
    values = [
        [0, 23, 24, 255, 256, 65_536, 2**32, 2**64 - 1, -1, -(2**64)],
        {0: b"", 1: "", 2: [], 3: {}, 23: "\u00e9"},
        cbor2.CBORTag(18, [b"\xa0", {}, b"", b"x" * 64]),
        cbor2.CBORTag(98, [b"\xa0", {}, b"", [[b"\xa0", {}, b"s"]]]),
        deep,
    ]
    return (
        *(codec.encode(value) for value in values),
        ledger_entries()[0],
        cose_seeds()[3],
        payload_seeds()[1],
    )


@functools.cache
def tile_seeds() -> tuple[bytes, ...]:
    # selector 0: a path; 1: a hash tile (level byte, width byte, data); 2: an entry bundle.
    paths = (
        "tile/0/000",
        "tile/1/x001/234.p/17",
        "tile/entries/x123/456",
        "tile/2/000.p/1",
    )
    hashes = [hash_leaf(bytes([i])) for i in range(5)]
    bundle = tiles.encode_entry_bundle(ledger_entries())
    return (
        *(b"\x00" + path.encode() for path in paths),
        b"\x01\x00\x05" + tiles.encode_tile(hashes),
        b"\x01\x02\x00" + tiles.encode_tile(hashes * 51 + hashes[:1]),
        b"\x02" + bytes([len(ledger_entries())]) + bundle,
    )


@functools.cache
def binding_seeds() -> tuple[tuple[int, bytes], ...]:
    # (decoder index within the binding target, input)
    well_known = binding.format_well_known_file([ORG_KEY.public, ORG2_KEY.public], "org.example")
    txt_value = binding.format_txt_value(ORG_KEY.public).encode()
    txt_body = binding.format_txt_body(
        [
            [txt_value],
            [b"v=spf1 -all"],
            [b'a"b\\c', bytes(range(0, 256, 7))],
            [b"", b"x"],
        ]
    )
    fetch = binding.Fetch(
        url="https://org.example/.well-known/endorsement-keys.txt",
        server="192.0.2.1:443",
        fetched_at=T0,
        status=200,
        body=well_known.encode(),
        complete=True,
        truncated=False,
        error=None,
    )
    dns = binding.Fetch("_endorsement.org.example", None, T0, 0, txt_body, True, False, None)
    evidence = [
        binding.evidence_for(
            fetch,
            method="well-known",
            domain="org.example",
            public_key=ORG_KEY.public.raw,
        ),
        binding.evidence_for(dns, method="dns-txt", domain="org.example", public_key=bytes(32)),
    ]
    return (
        (0, well_known.encode()),
        (1, txt_value),
        (2, txt_body),
        (3, b"\x00" + well_known.encode()),
        (3, b"\x01" + txt_body),
        (4, binding.evidence_to_json(evidence).encode()),
    )


@functools.cache
def bundle_files() -> dict[str, bytes]:
    """The files of a published bundle of the seed ledger (without the generated views)."""
    entries = ledger_entries()
    builder = tiles.TileBuilder()
    files = {}
    for data in entries:
        for tile, content in builder.append(hash_leaf(data)):
            files[tile.path] = content
    for tile, content in builder.partial_tiles():
        files[tile.path] = content
    files[tiles.EntryBundle(0, len(entries)).path] = tiles.encode_entry_bundle(entries)
    files[bundle_read.CHECKPOINT] = signed_checkpoints()[1]
    files[bundle_read.STATEMENT] = STATEMENT
    files[bundle_read.LOG_PUB] = LOG_KEY.public.to_verifier_key().encode() + b"\n"
    # the generated views, as ``ledger publish`` writes them
    source = bundle_read.BundleSource(MemoryFetcher(files))
    view = bundle_read.published_report(bundle_read.check_bundle(source))
    files |= bundle_read.generate_views(
        view, enumerate(entries), checkpoint=files[bundle_read.CHECKPOINT]
    )
    return dict(sorted(files.items()))


class MemoryFetcher:
    """A ``bundle_read.Fetcher`` over a dict of files, with the limits of the real ones."""

    location = "memory:"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def chunks(self, path: str, limit: int) -> Iterator[bytes]:
        if path not in self.files:
            raise bundle_read.MissingFileError(f"{path}: missing from the bundle")
        data = self.files[path]
        if len(data) > limit:
            raise bundle_read.FileTooLargeError(f"{path}: larger than {limit} bytes")
        yield data


@functools.cache
def bundle_seeds() -> tuple[bytes, ...]:
    # per file of the bundle: its index, then its (here: unchanged) content
    return tuple(bytes([i]) + data for i, data in enumerate(bundle_files().values()))


# ---------------------------------------------------------------------------------------------
# the decoders


def d_statement(data: bytes) -> None:
    try:
        out = statement.canonicalize(data)
    except LedgerError:
        return
    assert statement.canonicalize(out) == out, "canonicalize is not idempotent"
    assert statement.canonicalize_text(_text(data)) == out.decode(), "text and bytes disagree"
    statement.statement_hash(out)


def d_statement_text(data: bytes) -> None:
    try:
        out = statement.canonicalize_text(_text(data))
    except LedgerError:
        return
    assert statement.canonicalize_text(out) == out, "canonicalize_text is not idempotent"


def d_codec(data: bytes) -> None:
    try:
        value = codec.decode(data, max_size=CODEC_MAX_SIZE, what="fuzz")
    except LedgerError:
        return
    assert codec.encode(value) == data, "codec: encode(decode(x)) != x"


def d_entry(data: bytes) -> None:
    try:
        value = entry.decode_entry(data)
    except LedgerError:
        return
    assert entry.encode_entry(value) == data, "entry: encode(decode(x)) != x"
    # the entries.json row of the entry (bundle_read), and the inspect view
    for call in (
        lambda: json.dumps(entry_json(value.seq, data)),
        lambda: entries_json_row(value.seq, data),
        lambda: inspect_mod.describe_entry(data),
    ):
        with contextlib.suppress(LedgerError):
            call()


def d_cose(data: bytes) -> None:
    try:
        signed = cose.decode_endorsement(data)
    except LedgerError:
        return
    assert signed.cose == data
    assert payload.encode_payload(signed.endorsement) == signed.payload
    with contextlib.suppress(LedgerError):
        cose.verify_endorsement(signed)


def d_payload(data: bytes) -> None:
    try:
        value = payload.decode_payload(data)
    except LedgerError:
        return
    assert payload.encode_payload(value) == data, "payload: encode(decode(x)) != x"


def d_inspect(data: bytes) -> None:
    try:
        info = inspect_mod.inspect_bytes(data)
    except LedgerError:
        return
    assert "kind" in info
    assert info["verifies"] in (True, False, None)


def d_public_key_text(data: bytes) -> None:
    text = _text(data)
    try:
        key = keys.VerifyingKey.from_text(text)
    except LedgerError:
        return
    assert key.to_text() == text.removesuffix("\n"), "public key text does not round-trip"


def d_verifier_key(data: bytes) -> None:
    text = _text(data)
    try:
        key = keys.VerifyingKey.from_verifier_key(text)
    except LedgerError:
        return
    assert key.to_verifier_key() == text, "verifier key does not round-trip"


def _cheap_passphrase(text: str) -> bytes | None:
    """``PASSPHRASE`` unless the text is an encrypted key whose scrypt cost byte is high."""
    body = text.removesuffix("\n")
    if not body.startswith(keys.ENCRYPTED_PREFIX):
        return PASSPHRASE
    encoded = body.rpartition(":")[2]
    try:
        blob = base64.b64decode(encoded.encode("ascii", "replace"), validate=False)
    except (binascii.Error, ValueError):
        return PASSPHRASE  # the parser rejects it before scrypt
    if len(blob) > 16 and blob[16] > FUZZ_MAX_LOG2N:
        return None
    return PASSPHRASE


def d_secret_key_text(data: bytes) -> None:
    text = _text(data)
    try:
        key = keys.SigningKey.from_text(text, _cheap_passphrase(text))
    except LedgerError:
        return
    if text.removesuffix("\n").startswith(keys.ENCRYPTED_PREFIX):
        again = key.to_encrypted_text(PASSPHRASE, log2n=keys.MIN_LOG2N)
        assert keys.SigningKey.from_text(again, PASSPHRASE) == key
    else:
        assert key.to_text() == text.removesuffix("\n"), "secret key text does not round-trip"


def d_any_key_text(data: bytes) -> None:
    text = _text(data)
    try:
        keys.parse_any_key_text(text, _cheap_passphrase(text))
    except LedgerError:
        return


def d_witness_vkey(data: bytes) -> None:
    text = _text(data)
    try:
        key = note.parse_witness_verifier_key(text)
    except LedgerError:
        return
    assert note.witness_verifier_key(key) == text, "witness vkey does not round-trip"


def d_note(data: bytes) -> None:
    try:
        value = note.parse_note(data)
    except LedgerError:
        return
    assert note.format_note(value) == data, "note: format(parse(x)) != x"
    with contextlib.suppress(LedgerError):
        note.open_note(data, [ORG_KEY.public, LOG_KEY.public])


def d_signature_lines(data: bytes) -> None:
    try:
        sigs = note.parse_signature_lines(data)
    except LedgerError:
        return
    assert witness.format_cosignature_lines(sigs) == data, "signature lines do not round-trip"


def d_checkpoint_text(data: bytes) -> None:
    text = _text(data)
    try:
        cp = note.parse_checkpoint(text)
    except LedgerError:
        return
    assert note.format_checkpoint(cp) == text, "checkpoint: format(parse(x)) != x"


def d_signed_checkpoint(data: bytes) -> None:
    try:
        cp = note.parse_signed_checkpoint(data)
    except LedgerError:
        return
    assert note.parse_checkpoint(note.format_checkpoint(cp)) == cp


def d_open_checkpoint(data: bytes) -> None:
    try:
        verified = note.open_checkpoint(
            data, LOG_KEY.public, witnesses=[WITNESS_KEY.public, WITNESS2_KEY.public]
        )
    except LedgerError:
        return
    assert note.format_note(verified.note) == data


def d_tlog_proof(data: bytes) -> None:
    try:
        proof = note.parse_tlog_proof(data)
    except LedgerError:
        return
    assert note.format_tlog_proof(proof) == data, "tlog-proof: format(parse(x)) != x"
    leaves = ledger_entries()
    leaf = hash_leaf(leaves[proof.index]) if proof.index < len(leaves) else bytes(32)
    with contextlib.suppress(LedgerError):
        note.verify_tlog_proof(proof, leaf, LOG_KEY.public, witnesses=[WITNESS_KEY.public])


def d_add_checkpoint_request(data: bytes) -> None:
    try:
        request = witness.parse_add_checkpoint_request(data)
    except LedgerError:
        return
    assert witness.format_add_checkpoint_request(request) == data, "request does not round-trip"
    known = {ORIGIN: witness.WitnessedLog.new(LOG_KEY.public)}
    with contextlib.suppress(LedgerError):
        witness.witness_checkpoint(known, request, WITNESS_KEY, T0)


def d_cosignature_lines(data: bytes) -> None:
    try:
        sigs = witness.parse_cosignature_lines(data)
    except LedgerError:
        return
    assert witness.format_cosignature_lines(sigs) == data, "cosignature lines do not round-trip"


def d_witness_state(data: bytes) -> None:
    try:
        state = witness_state.decode_state(data)
    except LedgerError:
        return
    assert witness_state.decode_state(witness_state.encode_state(state)) == state


def d_policy(data: bytes) -> None:
    try:
        value = policy.parse_policy(_text(data))
    except LedgerError:
        return
    cosigners = [
        WITNESS_KEY.public,
        WITNESS2_KEY.public,
        *(w.name for w in value.witnesses),
    ]
    policy.explain_policy(value, cosigners[: len(data) % 4])
    policy.policy_satisfied(value, [])


def d_inclusion_json(data: bytes) -> None:
    ok, value = _json(data)
    if not ok:
        return
    try:
        proof = proofs.inclusion_from_json(value)
    except LedgerError:
        return
    assert proof.to_json() == value, "inclusion proof JSON does not round-trip"
    with contextlib.suppress(LedgerError):
        proof.verify()


def d_consistency_json(data: bytes) -> None:
    ok, value = _json(data)
    if not ok:
        return
    try:
        proof = proofs.consistency_from_json(value)
    except LedgerError:
        return
    assert proof.to_json() == value, "consistency proof JSON does not round-trip"
    with contextlib.suppress(LedgerError):
        proof.verify()


def d_check_entries(data: bytes) -> None:
    """``check_entries`` never raises, whatever the (seq, bytes) list."""
    flags, items = data[:1], decode_entry_list(data[1:])
    given = STATEMENT if flags and flags[0] & 1 else None
    report = verify.check_entries(items, statement=given)
    assert isinstance(report.ok, bool)


def d_tile_path(data: bytes) -> None:
    text = _text(data)
    try:
        tile = tiles.parse_tile_path(text)
    except LedgerError:
        return
    assert tiles.format_tile_path(tile) == text


def d_hash_tile(data: bytes) -> None:
    if len(data) < 2:
        return
    try:
        tile = tiles.HashTile(data[0] % 64, 0, data[1] or tiles.TILE_WIDTH)
        hashes = tiles.decode_tile(data[2:], tile)
    except LedgerError:
        return
    assert tiles.encode_tile(hashes) == data[2:]


def d_entry_bundle(data: bytes) -> None:
    if not data:
        return
    try:
        bundle = tiles.EntryBundle(0, data[0] or tiles.TILE_WIDTH)
        entries = tiles.decode_entry_bundle(data[1:], bundle)
    except LedgerError:
        return
    assert tiles.encode_entry_bundle(entries) == data[1:]


def d_well_known(data: bytes) -> None:
    try:
        found = binding.parse_well_known(data)
    except LedgerError:
        return
    if found:
        again = binding.format_well_known_file(list(found), "org.example")
        assert binding.parse_well_known(again.encode()) == found


def d_txt_value(data: bytes) -> None:
    try:
        raw = binding.parse_txt_value(data)
    except LedgerError:
        return
    if raw is not None:
        key = keys.VerifyingKey.from_raw("k", raw)
        assert binding.format_txt_value(key).encode() == data, "TXT value does not round-trip"


def d_txt_body(data: bytes) -> None:
    try:
        records = binding.parse_txt_body(data)
    except LedgerError:
        return
    assert binding.format_txt_body(records) == data, "TXT body does not round-trip"


def d_published_keys(data: bytes) -> None:
    method = binding.METHODS[data[0] % 2] if data else binding.METHOD_WELL_KNOWN
    try:
        binding.published_keys(method, data[1:])
    except LedgerError:
        return


def d_evidence_json(data: bytes) -> None:
    try:
        records = binding.evidence_from_json(data)
    except LedgerError:
        return
    assert binding.evidence_from_json(binding.evidence_to_json(records)) == records
    for record in records:
        binding.evidence_problem(record)
        binding.key_published(record)


def d_nameserver(data: bytes) -> None:
    """The ``--dns-server`` option's parser (user input, not hostile, but a parser all the same)."""
    try:
        host, port = binding_fetch.parse_nameserver(_text(data))
    except LedgerError:
        return
    assert 1 <= port <= 65_535
    assert host in _text(data)


def d_bundle(data: bytes) -> None:
    """Verify the seed bundle with one file replaced by ``data[1:]`` (removed when empty)."""
    if not data:
        return
    files = dict(bundle_files())
    path = list(files)[data[0] % len(files)]
    if len(data) > 1:
        files[path] = data[1:]
    else:
        del files[path]
    try:
        source = bundle_read.BundleSource(MemoryFetcher(files))
        report = bundle_read.check_bundle(source, log_key=LOG_KEY.public)
    except LedgerError:
        return
    assert isinstance(report.ok, bool)


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Decoder:
    """One library entry point under test."""

    name: str
    function: str  # the library function(s) it calls, for the README and reports
    run: Callable[[bytes], None]
    seeds: Callable[[], Sequence[bytes]]


def _str_seeds(make: Callable[[], Sequence[str]]) -> Callable[[], Sequence[bytes]]:
    return lambda: [_bytes(text) for text in make()]


def _binding(index: int) -> Callable[[], Sequence[bytes]]:
    return lambda: [data for i, data in binding_seeds() if i == index]


def _tile(selector: int) -> Callable[[], Sequence[bytes]]:
    return lambda: [data[1:] for data in tile_seeds() if data[0] == selector]


DECODERS: tuple[Decoder, ...] = (
    Decoder("statement", "statement.canonicalize", d_statement, statement_seeds),
    Decoder(
        "statement_text",
        "statement.canonicalize_text",
        d_statement_text,
        statement_seeds,
    ),
    Decoder("codec", "codec.decode", d_codec, codec_seeds),
    Decoder(
        "entry",
        "entry.decode_entry, bundle_views.entry_json / entries_json_row, inspect.describe_entry",
        d_entry,
        ledger_entries,
    ),
    Decoder("cose", "cose.decode_endorsement + verify_endorsement", d_cose, cose_seeds),
    Decoder("payload", "payload.decode_payload", d_payload, payload_seeds),
    Decoder(
        "inspect",
        "inspect.inspect_bytes",
        d_inspect,
        lambda: [*cose_seeds()[:2], *ledger_entries()[:2], *map(_bytes, key_seeds())],
    ),
    Decoder(
        "public_key_text",
        "keys.VerifyingKey.from_text",
        d_public_key_text,
        _str_seeds(lambda: [k for k in key_seeds() if k.startswith(keys.PUBLIC_PREFIX)]),
    ),
    Decoder(
        "verifier_key",
        "keys.VerifyingKey.from_verifier_key",
        d_verifier_key,
        _str_seeds(lambda: [key_seeds()[2], key_seeds()[5]]),
    ),
    Decoder(
        "secret_key_text",
        "keys.SigningKey.from_text (plain and scrypt-encrypted)",
        d_secret_key_text,
        _str_seeds(lambda: [key_seeds()[3], key_seeds()[4]]),
    ),
    Decoder("any_key_text", "keys.parse_any_key_text", d_any_key_text, _str_seeds(key_seeds)),
    Decoder(
        "witness_vkey",
        "note.parse_witness_verifier_key",
        d_witness_vkey,
        _str_seeds(lambda: [key_seeds()[5]]),
    ),
    Decoder("note", "note.parse_note (+ open_note)", d_note, note_seeds),
    Decoder(
        "signature_lines",
        "note.parse_signature_lines",
        d_signature_lines,
        signature_line_seeds,
    ),
    Decoder(
        "checkpoint_text",
        "note.parse_checkpoint",
        d_checkpoint_text,
        lambda: [_bytes(note.parse_note(cp).text) for cp in signed_checkpoints()],
    ),
    Decoder(
        "signed_checkpoint",
        "note.parse_signed_checkpoint",
        d_signed_checkpoint,
        signed_checkpoints,
    ),
    Decoder("open_checkpoint", "note.open_checkpoint", d_open_checkpoint, signed_checkpoints),
    Decoder(
        "tlog_proof",
        "note.parse_tlog_proof (+ verify_tlog_proof)",
        d_tlog_proof,
        tlog_proof_seeds,
    ),
    Decoder(
        "add_checkpoint_request",
        "witness.parse_add_checkpoint_request (+ witness_checkpoint)",
        d_add_checkpoint_request,
        witness_request_seeds,
    ),
    Decoder(
        "cosignature_lines",
        "witness.parse_cosignature_lines",
        d_cosignature_lines,
        signature_line_seeds,
    ),
    Decoder(
        "witness_state",
        "witness_state.decode_state",
        d_witness_state,
        witness_state_seeds,
    ),
    Decoder("policy", "policy.parse_policy", d_policy, _str_seeds(policy_seeds)),
    Decoder(
        "inclusion_json",
        "proofs.inclusion_from_json (+ verify)",
        d_inclusion_json,
        lambda: [proof_json_seeds()[0], proof_json_seeds()[2]],
    ),
    Decoder(
        "consistency_json",
        "proofs.consistency_from_json (+ verify)",
        d_consistency_json,
        lambda: [proof_json_seeds()[1]],
    ),
    Decoder("check_entries", "verify.check_entries", d_check_entries, entry_list_seeds),
    Decoder("tile_path", "tiles.parse_tile_path", d_tile_path, _tile(0)),
    Decoder("hash_tile", "tiles.decode_tile", d_hash_tile, _tile(1)),
    Decoder("entry_bundle", "tiles.decode_entry_bundle", d_entry_bundle, _tile(2)),
    Decoder("well_known", "binding.parse_well_known", d_well_known, _binding(0)),
    Decoder("txt_value", "binding.parse_txt_value", d_txt_value, _binding(1)),
    Decoder("txt_body", "binding.parse_txt_body", d_txt_body, _binding(2)),
    Decoder("published_keys", "binding.published_keys", d_published_keys, _binding(3)),
    Decoder("evidence_json", "binding.evidence_from_json", d_evidence_json, _binding(4)),
    Decoder(
        "nameserver",
        "binding_fetch.parse_nameserver",
        d_nameserver,
        lambda: [b"192.0.2.53", b"192.0.2.53:5353", b"[2001:db8::1]:53", b"::1"],
    ),
    Decoder(
        "bundle",
        "bundle_read.BundleSource + check_bundle over in-memory files (checkpoint, tiles, ...)",
        d_bundle,
        bundle_seeds,
    ),
)
DECODER_BY_NAME = {d.name: d for d in DECODERS}

# Atheris targets: one process each; the first byte of the input picks the decoder.
TARGETS: dict[str, tuple[str, ...]] = {
    "statement": ("statement", "statement_text"),
    "codec": ("codec",),
    "entry": ("entry",),
    "cose": ("cose", "inspect"),
    "payload": ("payload",),
    "keys": (
        "public_key_text",
        "verifier_key",
        "secret_key_text",
        "any_key_text",
        "witness_vkey",
    ),
    "note": (
        "note",
        "signature_lines",
        "checkpoint_text",
        "signed_checkpoint",
        "open_checkpoint",
    ),
    "tlog_proof": ("tlog_proof",),
    "witness": ("add_checkpoint_request", "cosignature_lines", "witness_state"),
    "policy": ("policy",),
    "proofs": ("inclusion_json", "consistency_json"),
    "check_entries": ("check_entries",),
    "tiles": ("tile_path", "hash_tile", "entry_bundle"),
    "binding": (
        "well_known",
        "txt_value",
        "txt_body",
        "published_keys",
        "evidence_json",
        "nameserver",
    ),
    "bundle": ("bundle",),
}


def target_runner(target: str) -> Callable[[bytes], None]:
    """The function of bytes that atheris calls for ``target``."""
    runs = [DECODER_BY_NAME[name].run for name in TARGETS[target]]
    if len(runs) == 1:
        return runs[0]
    count = len(runs)

    def run(data: bytes) -> None:
        if data:
            runs[data[0] % count](data[1:])

    return run


def target_seeds(target: str) -> list[bytes]:
    """Valid inputs of ``target`` (with the decoder-selecting byte where it has several)."""
    names = TARGETS[target]
    if len(names) == 1:
        return list(DECODER_BY_NAME[names[0]].seeds())
    return [
        bytes([i]) + seed for i, name in enumerate(names) for seed in DECODER_BY_NAME[name].seeds()
    ]
