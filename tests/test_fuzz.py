"""Fuzz tests of every decoder and parser: only ``LedgerError`` escapes, and decoding is 1-to-1.

The decoders and their properties live in ``bench/fuzz/fuzz_targets.py``, shared with the long
coverage-guided atheris runs (``bench/fuzz/run.py``; see ``bench/fuzz/README.md``). Here each
decoder gets, in the normal test run:

- arbitrary bytes (and, for the text parsers, arbitrary text);
- mutations of a valid input: bit flips, byte insertions and deletions, overwrites with edge
  bytes, truncations, and splices of two valid inputs.

``run(data)`` swallows ``LedgerError``; any other exception fails the test, and so does an
``AssertionError`` from a round-trip check (``encode(decode(x)) == x`` where an encoder exists).
Then come the explicit limits (size, count, depth, scrypt cost) that keep hostile inputs cheap,
and one regression test per finding of the fuzzing campaign.

A finding still open may be tolerated by the fuzz tests (``KNOWN_FINDINGS``, matched on the
exception type and the raising function) while it waits for a fix, with a strict-xfail
regression test that starts failing once it is fixed (the signal to remove both). The eight
findings of the first campaign (F1-F8) are fixed; their tests are plain regression tests.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import (
    binding,
    binding_fetch,
    bundle_read,
    codec,
    keys,
    note,
    policy,
    statement,
    tiles,
    verify,
    witness,
)
from ledger import witness_state as wstate
from ledger.errors import FormatError, LedgerError, UsageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "fuzz"))

import fuzz_targets as ft

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TEXT_DECODERS = frozenset(
    {
        "statement",
        "statement_text",
        "public_key_text",
        "verifier_key",
        "secret_key_text",
        "any_key_text",
        "witness_vkey",
        "checkpoint_text",
        "policy",
        "tile_path",
        "well_known",
        "inclusion_json",
        "consistency_json",
        "evidence_json",
        "witness_state",
        "nameserver",
    }
)

# (exception type, function in ledger that raised it or let it through): findings reported and
# not fixed yet, each with a strict xfail test at the end of this file. Empty: F1-F8 are fixed
# and their tests below are plain regression tests.
KNOWN_FINDINGS: frozenset[tuple[str, str]] = frozenset()


def _known(exc: BaseException) -> bool:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/ledger/" in f.filename]
    return bool(frames) and (type(exc).__name__, frames[-1].name) in KNOWN_FINDINGS


def run_decoder(decoder: ft.Decoder, data: bytes) -> None:
    try:
        decoder.run(data)
    except Exception as exc:
        if not _known(exc):
            raise


# --- inputs -----------------------------------------------------------------------------------

EDGE_BYTES = (0x00, 0x0A, 0x0D, 0x20, 0x2B, 0x3A, 0x7F, 0x80, 0xBF, 0xC0, 0xFF)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    """A valid seed after 1..4 random mutations (flip, insert, delete, overwrite, cut, splice)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "insert", "delete", "edge", "truncate", "splice")))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "edge" and data:
            data[min(at, len(data) - 1)] = draw(st.sampled_from(EDGE_BYTES))
        elif op == "truncate":
            del data[at:]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            cut = draw(st.integers(0, len(other)))
            data = data[:at] + other[cut:]
    return bytes(data)


def arbitrary(name: str) -> st.SearchStrategy[bytes]:
    raw = st.binary(max_size=512)
    if name in TEXT_DECODERS:
        return st.one_of(raw, st.text(max_size=256).map(lambda t: t.encode("utf-8")))
    return raw


DECODER_NAMES = [d.name for d in ft.DECODERS]


def test_every_target_is_registered() -> None:
    assert set(ft.DECODER_BY_NAME) == {n for names in ft.TARGETS.values() for n in names}
    for target in ft.TARGETS:
        runner = ft.target_runner(target)
        for seed in ft.target_seeds(target):
            runner(seed)


@pytest.mark.parametrize("name", DECODER_NAMES)
def test_valid_seeds_decode_and_round_trip(name: str) -> None:
    decoder = ft.DECODER_BY_NAME[name]
    for seed in decoder.seeds():
        decoder.run(seed)  # a valid input must not even raise LedgerError into the property


@pytest.mark.parametrize("name", DECODER_NAMES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_arbitrary_input(name: str, data: st.DataObject) -> None:
    run_decoder(ft.DECODER_BY_NAME[name], data.draw(arbitrary(name)))


@pytest.mark.parametrize("name", DECODER_NAMES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_mutated_valid_input(name: str, data: st.DataObject) -> None:
    decoder = ft.DECODER_BY_NAME[name]
    run_decoder(decoder, data.draw(mutated(tuple(decoder.seeds()))))


# --- check_entries over structured lists --------------------------------------------------------

ENTRY_BYTES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(ft.ledger_entries()),
    mutated(ft.ledger_entries()),
)


@FUZZ_SETTINGS
@given(
    items=st.lists(st.tuples(st.integers(-3, 12), ENTRY_BYTES), max_size=10),
    with_statement=st.booleans(),
)
def test_check_entries_never_raises(items: list[tuple[int, bytes]], with_statement: bool) -> None:
    try:
        report = verify.check_entries(items, statement=ft.STATEMENT if with_statement else None)
    except Exception as exc:
        if _known(exc):
            return
        raise
    assert isinstance(report.ok, bool)
    assert report.ok is False or [seq for seq, _ in items] == list(range(len(items)))


@FUZZ_SETTINGS
@given(
    order=st.permutations(range(len(ft.ledger_entries()))),
    cut=st.integers(0, len(ft.ledger_entries())),
)
def test_check_entries_on_reordered_valid_ledgers(order: list[int], cut: int) -> None:
    entries = ft.ledger_entries()
    items = [(position, entries[i]) for position, i in enumerate(order[:cut])]
    report = verify.check_entries(items)
    assert report.ok == (cut > 0 and order[:cut] == list(range(cut)))


# --- the explicit limits ------------------------------------------------------------------------

MIB = 1 << 20


def _fast(call: Callable[[], object], seconds: float = 2.0) -> None:
    """``call`` raises FormatError, within ``seconds``."""
    started = time.perf_counter()
    with pytest.raises(FormatError):
        call()
    assert time.perf_counter() - started < seconds


@pytest.mark.parametrize(
    ("call", "limit"),
    [
        (lambda n: statement.canonicalize(b"a" * n), statement.MAX_STATEMENT_BYTES),
        (lambda n: codec.decode(b"\x00" * n, max_size=1000, what="x"), 1000),
        (lambda n: ft.entry.decode_entry(b"\x00" * n), ft.entry.MAX_ENTRY_BYTES),
        (lambda n: ft.cose.decode_endorsement(b"\x00" * n), ft.cose.MAX_ENDORSEMENT_BYTES),
        (lambda n: ft.payload.decode_payload(b"\x00" * n), ft.payload.MAX_PAYLOAD_BYTES),
        (lambda n: note.parse_note(b"a" * n), note.MAX_NOTE_SIZE),
        (lambda n: note.parse_signature_lines(b"a" * n), note.MAX_NOTE_SIZE),
        (lambda n: note.parse_tlog_proof(b"a" * n), note.MAX_TLOG_PROOF_SIZE),
        (
            lambda n: witness.parse_add_checkpoint_request(b"a" * n),
            witness.MAX_REQUEST_SIZE,
        ),
        (lambda n: policy.parse_policy("#" * n), policy.MAX_POLICY_SIZE),
        (lambda n: wstate.decode_state(b" " * n), wstate.MAX_STATE_SIZE),
    ],
    ids=[
        "statement",
        "codec",
        "entry",
        "endorsement",
        "payload",
        "note",
        "signature_lines",
        "tlog_proof",
        "add_checkpoint_request",
        "policy",
        "witness_state",
    ],
)
def test_size_limits_reject_before_parsing(call: Callable[[int], object], limit: int) -> None:
    _fast(lambda: call(limit + 1))


def test_codec_depth_limit() -> None:
    for depth in (codec.MAX_DEPTH + 1, 1000, 60_000):
        _fast(lambda d=depth: codec.decode(b"\x81" * d + b"\x00", max_size=MIB, what="x"))
    nested_maps = b"\xa1\x00" * 60_000 + b"\x00"
    _fast(lambda: codec.decode(nested_maps, max_size=MIB, what="x"))


def test_count_limits() -> None:
    sig = note.parse_note(ft.signed_checkpoints()[1]).signatures[0]
    line = f"\u2014 {sig.name} ".encode()
    many = b"".join(
        line + base64.b64encode(bytes([i % 256, i // 256, 0, 0]) + sig.signature) + b"\n"
        for i in range(note.MAX_SIGNATURES + 1)
    )
    _fast(lambda: note.parse_signature_lines(many))
    hashes = b"\n".join([base64.b64encode(bytes(32))] * (witness.MAX_PROOF_LINES + 1))
    _fast(lambda: witness.parse_add_checkpoint_request(b"old 1\n" + hashes + b"\n\nx"))
    vkeys = [
        keys.SigningKey.from_seed(f"w{i}", bytes([i % 256, i // 256]) + bytes(30)).public
        for i in range(policy.MAX_ITEMS + 1)
    ]
    text = "".join(f"witness w{i} {note.witness_verifier_key(k)}\n" for i, k in enumerate(vkeys))
    _fast(lambda: policy.parse_policy(text + "quorum none\n"), seconds=10)
    _fast(lambda: ft.proofs.inclusion_from_json({**_inclusion(), "proof": ["x"] * 129}))


def _inclusion() -> dict[str, object]:
    return json.loads(ft.proof_json_seeds()[0])


@pytest.mark.parametrize("log2n", [0, keys.MIN_LOG2N - 1, keys.MAX_LOG2N + 1, 255])
def test_scrypt_cost_outside_the_range_is_refused_before_scrypt(log2n: int) -> None:
    good = ft.key_seeds()[4]
    name, _, encoded = good.rpartition(":")
    blob = bytearray(base64.b64decode(encoded))
    blob[16] = log2n
    text = f"{name}:{base64.b64encode(bytes(blob)).decode()}"
    _fast(lambda: keys.SigningKey.from_text(text, ft.PASSPHRASE), seconds=0.5)


def test_fuzz_inputs_never_run_expensive_scrypt() -> None:
    """The fuzz decoders pass a passphrase only for scrypt costs up to FUZZ_MAX_LOG2N."""
    good = ft.key_seeds()[4]
    name, _, encoded = good.rpartition(":")
    blob = bytearray(base64.b64decode(encoded))
    for log2n in range(keys.MIN_LOG2N, keys.MAX_LOG2N + 1):
        blob[16] = log2n
        text = f"{name}:{base64.b64encode(bytes(blob)).decode()}"
        expected = ft.PASSPHRASE if log2n <= ft.FUZZ_MAX_LOG2N else None
        assert ft._cheap_passphrase(text) == expected
        if expected is None:
            with pytest.raises(UsageError, match="passphrase"):
                keys.SigningKey.from_text(text, None)


def test_tile_path_and_bundle_limits() -> None:
    for path in ("tile/64/000", "tile/0/x999/x999/x999/x999/x999/x999/999", "tile/0/000.p/256"):
        _fast(lambda p=path: tiles.parse_tile_path(p))
    bundle = tiles.EntryBundle(0, 1)
    _fast(lambda: tiles.decode_entry_bundle(b"\xff\xff" + b"x" * 10, bundle))


# --- findings of the fuzzing campaign (bench/fuzz/README.md, "Findings"), all fixed -------------

# F1: a payload URL that urllib cannot split raises ValueError out of every decoder that checks
# payloads (decode_payload, decode_endorsement, entry_json, inspect, check_entries' signatures).
F1_INPUT = codec.encode(
    {
        0: 1,
        1: 0,
        2: ft.STATEMENT_HASH,
        3: "Org",
        4: ft.ORG_KEY.public.raw,
        5: ft.T0,
        7: "https://[",
    }
)


def test_f1_payload_url_that_urlsplit_rejects() -> None:
    with pytest.raises(FormatError):
        ft.payload.decode_payload(F1_INPUT)


def test_f1_check_entries_raises_on_an_endorsement_with_such_a_url() -> None:
    """The worst path of F1: ``check_entries`` (so ``ledger verify``) must never raise."""
    genesis = ft.ledger_entries()[0]
    signed = codec.decode(ft.cose_seeds()[0], max_size=ft.CODEC_MAX_SIZE, what="x")
    protected, _, _, signature = signed.value
    body = codec.encode(ft.cbor2.CBORTag(18, [protected, {}, F1_INPUT, signature]))
    endorsement = ft.Entry(
        seq=1,
        prev=ft.hash_leaf(genesis),
        type=ft.EntryType.ENDORSEMENT,
        statement_hash=ft.STATEMENT_HASH,
        recorded_at=ft.T0 + 20,
        body=body,
    )
    report = verify.check_entries([(0, genesis), (1, ft.entry.encode_entry(endorsement))])
    assert not report.ok


# F2: codec.decode accepts a byte or text string as an array item (or map value) at depth
# MAX_DEPTH + 1, which codec.encode refuses: decode and encode disagree on the data model.
F2_INPUT = bytes.fromhex("81" * (codec.MAX_DEPTH + 1) + "40")


def test_f2_decode_refuses_a_leaf_nested_too_deep() -> None:
    with pytest.raises(FormatError, match="nested deeper"):
        codec.decode(F2_INPUT, max_size=100, what="x")


@given(
    depth=st.integers(0, codec.MAX_DEPTH + 2),
    leaf=st.one_of(st.binary(max_size=3), st.text(max_size=3), st.integers(0, 5)),
    as_map=st.booleans(),
    empty=st.booleans(),
)
def test_decode_and_encode_agree_on_depth(
    depth: int, leaf: object, as_map: bool, empty: bool
) -> None:
    """One depth rule for both directions: decode accepts exactly what encode writes."""
    value: object = {} if empty and as_map else [] if empty else leaf
    for _ in range(depth):
        value = {1: value} if as_map else [value]
    try:
        data = codec.encode(value)  # type: ignore[arg-type]
    except FormatError:
        data = None
    if data is None:
        nested = bytes.fromhex(("a101" if as_map else "81") * depth) + ft.cbor2.dumps(
            {} if empty and as_map else [] if empty else leaf
        )
        with pytest.raises(FormatError):
            codec.decode(nested, max_size=1000, what="x")
    else:
        assert codec.encode(codec.decode(data, max_size=1000, what="x")) == data


# F3, F4: deeply nested JSON makes json.loads raise RecursionError, which the evidence and
# witness state decoders let through; the state decoder also lets through the ValueError of an
# integer longer than Python's 4300-digit conversion limit.
DEEP_JSON = b"[" * 100_000


def test_f3_evidence_json_deeply_nested() -> None:
    with pytest.raises(FormatError):
        binding.evidence_from_json(DEEP_JSON)


def test_f4_witness_state_deeply_nested() -> None:
    with pytest.raises(FormatError):
        wstate.decode_state(DEEP_JSON)


def test_f4_witness_state_long_integer() -> None:
    with pytest.raises(FormatError):
        wstate.decode_state(b"1" * 5000)


# F5: a state file whose checkpoint string holds a lone surrogate (JSON "\ud800").
F5_STATE = (
    ft.witness_state_seeds()[1].decode().replace('"checkpoint": "', '"checkpoint": "\\ud800', 1)
).encode()


def test_f5_witness_state_lone_surrogate_in_checkpoint() -> None:
    with pytest.raises(FormatError):
        wstate.decode_state(F5_STATE)


# F6: Python refuses int() of more than 4300 digits (ValueError), and parse_tile_path converts
# the level, the width and the joined index groups without a length check. Not reachable from a
# directory listing (names are at most 255 bytes), only through the API.
@pytest.mark.parametrize(
    "path",
    [
        "tile/0/" + "x001/" * 1500 + "001",
        "tile/" + "1" * 5000 + "/000",
        "tile/0/000.p/" + "1" * 5000,
    ],
    ids=["index", "level", "width"],
)
def test_f6_tile_path_with_thousands_of_digits(path: str) -> None:
    with pytest.raises(FormatError):
        tiles.parse_tile_path(path)


# F7: a bundle server that announces a Content-Length of more than 4300 digits makes the HTTP
# fetcher raise ValueError (int() in _check_headers): `ledger verify <url>` crashes on it.
class _LongLength(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1" * 5000)
        self.end_headers()
        self.wfile.write(b"x")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_f7_bundle_server_with_a_huge_content_length(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LongLength)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(LedgerError):
            bundle_read.open_bundle(f"http://127.0.0.1:{server.server_address[1]}/b/", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


# F8: the --dns-server option's parser lets ValueError through for a NUL in the host (from
# socket.inet_pton), a lone surrogate (UnicodeEncodeError: click passes undecodable argv bytes
# as surrogates) and a port of more than 4300 digits. User input, so low severity.
@pytest.mark.parametrize(
    "text",
    ["192.0.2.53\x00", "\udc80", "192.0.2.53:" + "1" * 5000],
    ids=["nul", "surrogate", "long-port"],
)
def test_f8_nameserver_parser(text: str) -> None:
    with pytest.raises(UsageError):
        binding_fetch.parse_nameserver(text)
