"""Tests for ledger entries (ledger.entry): deterministic CBOR maps chained by leaf hash."""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import attrs
import cbor2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.cose import endorse
from ledger.entry import (
    ENTRY_VERSION,
    MAX_ENTRY_BYTES,
    MAX_ORIGIN_LENGTH,
    MAX_TITLE_LENGTH,
    ZERO_HASH,
    decode_entry,
    encode_entry,
)
from ledger.errors import FormatError
from ledger.keys import SigningKey
from ledger.model import MAX_TIME, Entry, EntryType, Genesis
from ledger.names import check_display_text

LOG_KEY = SigningKey.from_seed("example.org/letter", bytes([0x10]) * 32)
ORG_KEY = SigningKey.from_seed("ngo.example", bytes([0x20]) * 32)
STATEMENT_TEXT = "We, the undersigned, endorse this letter.\n"
STATEMENT = hashlib.sha256(STATEMENT_TEXT.encode()).digest()
ORIGIN = "example.org/letter"

GENESIS = Entry(
    seq=0,
    prev=ZERO_HASH,
    type=EntryType.GENESIS,
    statement_hash=STATEMENT,
    recorded_at=1_700_000_000,
    body=Genesis(
        title="Open letter",
        statement_text=STATEMENT_TEXT,
        origin=ORIGIN,
        log_key=LOG_KEY.public.to_verifier_key(),
    ),
)
GENESIS_BYTES = encode_entry(GENESIS)
COSE = endorse(
    ORG_KEY, STATEMENT, name="Example NGO", signed_at=1_700_000_100, domain="ngo.example"
)
ENDORSEMENT = Entry(
    seq=1,
    prev=hashlib.sha256(b"\x00" + GENESIS_BYTES).digest(),
    type=EntryType.ENDORSEMENT,
    statement_hash=STATEMENT,
    recorded_at=1_700_000_200,
    body=COSE,
)
ENDORSEMENT_BYTES = encode_entry(ENDORSEMENT)


def wire(entry_bytes: bytes) -> dict[int, Any]:
    """The entry as a plain map, decoded independently with cbor2."""
    value = cbor2.loads(entry_bytes)
    assert isinstance(value, dict)
    return value


def raw(fields: dict[int, Any]) -> bytes:
    """Hand-built entry bytes (canonical CBOR via cbor2, not through ledger.codec)."""
    return cbor2.dumps(fields, canonical=True)


def genesis_map(**changes: Any) -> dict[int, Any]:
    fields = wire(GENESIS_BYTES)
    fields[6] = dict(fields[6])
    for name, value in changes.items():
        if name.startswith("b"):
            fields[6][int(name[1:])] = value
        else:
            fields[int(name[1:])] = value
    return fields


# --- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "data"), [(GENESIS, GENESIS_BYTES), (ENDORSEMENT, ENDORSEMENT_BYTES)]
)
def test_round_trip(entry: Entry, data: bytes) -> None:
    decoded = decode_entry(data)
    assert decoded == entry
    assert encode_entry(decoded) == data


def test_genesis_wire_form() -> None:
    assert wire(GENESIS_BYTES) == {
        0: 1,
        1: 0,
        2: bytes(32),
        3: 0,
        4: STATEMENT,
        5: 1_700_000_000,
        6: {0: "Open letter", 1: STATEMENT_TEXT, 2: ORIGIN, 3: LOG_KEY.public.to_verifier_key()},
    }
    assert raw(wire(GENESIS_BYTES)) == GENESIS_BYTES


def test_endorsement_wire_form_keeps_cose_bytes_exactly() -> None:
    fields = wire(ENDORSEMENT_BYTES)
    assert fields == {
        0: 1,
        1: 1,
        2: ENDORSEMENT.prev,
        3: 1,
        4: STATEMENT,
        5: 1_700_000_200,
        6: COSE,
    }
    assert COSE in ENDORSEMENT_BYTES
    assert decode_entry(ENDORSEMENT_BYTES).body == COSE


def test_defaults() -> None:
    assert ENTRY_VERSION == 1
    assert GENESIS.version == 1
    assert bytes(32) == ZERO_HASH
    assert MAX_ENTRY_BYTES == 65_535


def test_any_bytes_body_is_kept_as_given() -> None:
    # entry.py does not look inside the body; chain/verify check the COSE object.
    entry = attrs.evolve(ENDORSEMENT, body=b"\x00not cose")
    assert decode_entry(encode_entry(entry)) == entry


@settings(max_examples=80, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**64 - 1),
    prev=st.binary(min_size=32, max_size=32),
    statement_hash=st.binary(min_size=32, max_size=32),
    recorded_at=st.integers(min_value=0, max_value=MAX_TIME - 1),
    body=st.binary(min_size=1, max_size=300),
)
def test_endorsement_entries_round_trip(
    seq: int, prev: bytes, statement_hash: bytes, recorded_at: int, body: bytes
) -> None:
    entry = Entry(
        seq=seq,
        prev=prev,
        type=EntryType.ENDORSEMENT,
        statement_hash=statement_hash,
        recorded_at=recorded_at,
        body=body,
    )
    data = encode_entry(entry)
    assert decode_entry(data) == entry
    assert data == raw(wire(data))


def _is_display_text(text: str) -> bool:
    try:
        check_display_text(text, "title", max_len=MAX_TITLE_LENGTH)
    except FormatError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(
        st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(lambda title: unicodedata.normalize("NFC", title))
    .filter(_is_display_text),
    text=st.text(min_size=1, max_size=200),
    origin=st.text(
        st.characters(codec="ascii", min_codepoint=0x21, max_codepoint=0x7E),
        min_size=1,
        max_size=40,
    ).filter(lambda origin: "+" not in origin),
)
def test_genesis_entries_round_trip(title: str, text: str, origin: str) -> None:
    entry = attrs.evolve(
        GENESIS, body=Genesis(title=title, statement_text=text, origin=origin, log_key="k")
    )
    data = encode_entry(entry)
    assert decode_entry(data) == entry


# --- decode rejects --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, 255])
def test_rejects_wrong_version(version: int) -> None:
    with pytest.raises(FormatError, match=f"entry: unsupported format version {version}"):
        decode_entry(raw(genesis_map(f0=version)))


def test_rejects_version_of_wrong_type() -> None:
    with pytest.raises(FormatError, match="entry: version must be an unsigned integer"):
        decode_entry(raw(genesis_map(f0="1")))


def test_encode_rejects_wrong_version() -> None:
    with pytest.raises(FormatError, match="entry 0: unsupported version 2"):
        encode_entry(attrs.evolve(GENESIS, version=2))


@pytest.mark.parametrize("type_code", [3, 9, 23])
def test_rejects_unknown_type(type_code: int) -> None:
    with pytest.raises(FormatError, match=f"entry 0: unknown entry type {type_code}"):
        decode_entry(raw(genesis_map(f3=type_code)))


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (0, "version"),
        (1, "sequence number"),
        (2, "prev"),
        (3, "type"),
        (4, "statement hash"),
        (5, "recorded-at time"),
        (6, "body"),
    ],
)
def test_rejects_missing_field(key: int, name: str) -> None:
    fields = genesis_map()
    del fields[key]
    with pytest.raises(FormatError, match=rf"missing field {name} \(key {key}\)"):
        decode_entry(raw(fields))


@pytest.mark.parametrize("key", [0, 1, 2, 3])
def test_rejects_missing_genesis_body_field(key: int) -> None:
    fields = genesis_map()
    del fields[6][key]
    with pytest.raises(FormatError, match=rf"entry 0 genesis body: missing field .* \(key {key}\)"):
        decode_entry(raw(fields))


@pytest.mark.parametrize("key", [7, 8, 23])
def test_rejects_unknown_field(key: int) -> None:
    with pytest.raises(FormatError, match=rf"entry: unknown field key\(s\) \[{key}\]"):
        decode_entry(raw(genesis_map(**{f"f{key}": 0})))


def test_rejects_unknown_genesis_body_field() -> None:
    with pytest.raises(FormatError, match=r"entry 0 genesis body: unknown field key\(s\) \[4\]"):
        decode_entry(raw(genesis_map(b4="extra")))


@pytest.mark.parametrize("size", [0, 31, 33])
def test_rejects_prev_of_wrong_length(size: int) -> None:
    with pytest.raises(FormatError, match=f"entry: prev must be 32 bytes, got {size}"):
        decode_entry(raw(genesis_map(f2=bytes(size))))


def test_rejects_statement_hash_of_wrong_length() -> None:
    with pytest.raises(FormatError, match="entry: statement hash must be 32 bytes, got 31"):
        decode_entry(raw(genesis_map(f4=bytes(31))))


def test_encode_rejects_prev_of_wrong_length() -> None:
    with pytest.raises(FormatError, match="prev and statement hash must be 32 bytes"):
        encode_entry(attrs.evolve(ENDORSEMENT, prev=bytes(31)))
    with pytest.raises(FormatError, match="prev and statement hash must be 32 bytes"):
        encode_entry(attrs.evolve(ENDORSEMENT, statement_hash=bytes(33)))


@pytest.mark.parametrize(("key", "name"), [(1, "sequence number"), (5, "recorded-at time")])
def test_rejects_negative_integers(key: int, name: str) -> None:
    with pytest.raises(FormatError, match=f"entry: {name} must be an unsigned integer"):
        decode_entry(raw(genesis_map(**{f"f{key}": -1})))


def test_rejects_genesis_body_in_an_endorsement_entry() -> None:
    fields = genesis_map(f3=1)
    assert isinstance(fields[6], dict)
    with pytest.raises(FormatError, match="entry 0: endorsement body must be the COSE_Sign1 bytes"):
        decode_entry(raw(fields))


@pytest.mark.parametrize("body", [{}, {0: b"x"}, [COSE], "text", 5])
def test_rejects_endorsement_entry_whose_body_is_not_bytes(body: Any) -> None:
    fields = wire(ENDORSEMENT_BYTES)
    fields[6] = body
    with pytest.raises(FormatError, match="entry 1: endorsement body must be the COSE_Sign1 bytes"):
        decode_entry(raw(fields))


@pytest.mark.parametrize(
    ("body", "kind"), [(COSE, "a byte string"), ([], "an array"), ("t", "a text string")]
)
def test_rejects_genesis_entry_whose_body_is_not_a_map(body: Any, kind: str) -> None:
    with pytest.raises(FormatError, match=f"entry 0 genesis body: expected a map, got {kind}"):
        decode_entry(raw(genesis_map(f6=body)))


def test_encode_rejects_genesis_body_in_an_endorsement_entry() -> None:
    with pytest.raises(FormatError, match="entry 0: genesis body in a non-genesis entry"):
        encode_entry(attrs.evolve(GENESIS, type=EntryType.ENDORSEMENT))


def test_encode_rejects_genesis_entry_without_genesis_body() -> None:
    with pytest.raises(FormatError, match="entry 1: genesis entry without a genesis body"):
        encode_entry(attrs.evolve(ENDORSEMENT, type=EntryType.GENESIS))


@pytest.mark.parametrize(
    "origin", ["example.org letter", "example.org+letter", "a\u00a0b", "a\u2003b"]
)
def test_rejects_origin_with_space_or_plus(origin: str) -> None:
    match = r"origin must contain no white space and no '\+'"
    with pytest.raises(FormatError, match=match):
        decode_entry(raw(genesis_map(b2=origin)))
    with pytest.raises(FormatError, match=match):
        encode_entry(attrs.evolve(GENESIS, body=attrs.evolve(GENESIS.body, origin=origin)))


@pytest.mark.parametrize(
    ("title", "code"),
    [("Open\x07letter", "0007"), ("Open\nletter", "000A"), ("Open\u202eletter", "202E")],
)
def test_rejects_title_with_control_character(title: str, code: str) -> None:
    match = f"title: character 5 is U\\+{code}"
    with pytest.raises(FormatError, match=match):
        decode_entry(raw(genesis_map(b0=title)))
    with pytest.raises(FormatError, match=match):
        encode_entry(attrs.evolve(GENESIS, body=attrs.evolve(GENESIS.body, title=title)))


def test_rejects_over_long_title_and_origin() -> None:
    assert decode_entry(raw(genesis_map(b0="t" * MAX_TITLE_LENGTH)))
    with pytest.raises(FormatError, match=f"title is longer than {MAX_TITLE_LENGTH} characters"):
        decode_entry(raw(genesis_map(b0="t" * (MAX_TITLE_LENGTH + 1))))
    assert decode_entry(raw(genesis_map(b2="o" * MAX_ORIGIN_LENGTH)))
    with pytest.raises(FormatError, match=f"origin is longer than {MAX_ORIGIN_LENGTH} characters"):
        decode_entry(raw(genesis_map(b2="o" * (MAX_ORIGIN_LENGTH + 1))))


@pytest.mark.parametrize(
    ("key", "name"), [(0, "title"), (1, "statement text"), (2, "origin"), (3, "log key")]
)
def test_rejects_empty_genesis_text(key: int, name: str) -> None:
    with pytest.raises(FormatError, match=f"{name} is empty"):
        decode_entry(raw(genesis_map(**{f"b{key}": ""})))


def test_rejects_non_canonical_entry() -> None:
    canonical = raw(genesis_map())
    assert canonical[1:3] == b"\x00\x01"
    long_form = canonical[:2] + b"\x18\x01" + canonical[3:]
    with pytest.raises(FormatError, match="entry: not deterministic CBOR"):
        decode_entry(long_form)


def test_rejects_trailing_bytes() -> None:
    with pytest.raises(FormatError, match="entry: 1 trailing bytes after the value"):
        decode_entry(GENESIS_BYTES + b"\x00")


def test_rejects_entry_that_is_not_a_map() -> None:
    with pytest.raises(FormatError, match="entry: expected a map, got an array"):
        decode_entry(cbor2.dumps([1, 0]))


# --- size limits -----------------------------------------------------------------------------


def _genesis_with_text(text: str) -> Entry:
    return attrs.evolve(GENESIS, body=attrs.evolve(GENESIS.body, statement_text=text))


def _text_for_size(size: int) -> str:
    """An ASCII statement text that makes the genesis entry exactly ``size`` bytes long."""
    # From 256 to 65,535 characters a text string has a 3-byte header, so size is linear in it.
    base = len(encode_entry(_genesis_with_text("x" * 1000)))
    text = "x" * (1000 + size - base)
    assert len(encode_entry(_genesis_with_text(text))) == size
    return text


def test_entry_of_exactly_65535_bytes_is_accepted() -> None:
    entry = _genesis_with_text(_text_for_size(MAX_ENTRY_BYTES))
    data = encode_entry(entry)
    assert len(data) == MAX_ENTRY_BYTES
    assert decode_entry(data) == entry


def test_entry_over_65535_bytes_is_refused_by_encode_and_decode() -> None:
    text = _text_for_size(MAX_ENTRY_BYTES) + "x"
    with pytest.raises(FormatError, match="entry 0: 65536 bytes exceeds 65535"):
        encode_entry(_genesis_with_text(text))
    data = raw(genesis_map(b1=text))
    assert len(data) == MAX_ENTRY_BYTES + 1
    with pytest.raises(FormatError, match="entry: 65536 bytes exceeds the limit of 65535"):
        decode_entry(data)


def test_endorsement_entry_over_65535_bytes_is_refused() -> None:
    big = attrs.evolve(ENDORSEMENT, body=bytes(MAX_ENTRY_BYTES))
    with pytest.raises(FormatError, match="exceeds 65535"):
        encode_entry(big)
    fields = wire(ENDORSEMENT_BYTES)
    fields[6] = bytes(MAX_ENTRY_BYTES)
    with pytest.raises(FormatError, match="exceeds the limit of 65535"):
        decode_entry(raw(fields))


def test_statement_text_over_the_limit() -> None:
    # The text field limit (65,535 code points) can never be reached inside a 65,535-byte entry:
    # an over-long text is refused by the size limit, whatever its encoding.
    for text in ("x" * (MAX_ENTRY_BYTES + 1), "\u00e9" * 40_000, "\u6c34" * 30_000):
        with pytest.raises(FormatError, match="exceeds"):
            encode_entry(_genesis_with_text(text))
        with pytest.raises(FormatError, match="exceeds the limit of 65535"):
            decode_entry(raw(genesis_map(b1=text)))


def test_multibyte_statement_text_within_the_limit() -> None:
    entry = _genesis_with_text("\u6c34" * 20_000 + "\n")
    assert decode_entry(encode_entry(entry)) == entry


# --- encode/decode symmetry (documented library bugs) -----------------------------------------


ASYMMETRIC = {
    "negative seq": attrs.evolve(GENESIS, seq=-1),
    "negative recorded_at": attrs.evolve(GENESIS, recorded_at=-1),
    "empty statement text": _genesis_with_text(""),
    "empty log key": attrs.evolve(GENESIS, body=attrs.evolve(GENESIS.body, log_key="")),
    "log key over 1024": attrs.evolve(GENESIS, body=attrs.evolve(GENESIS.body, log_key="k" * 1025)),
    "text body": attrs.evolve(ENDORSEMENT, body="not bytes"),
    "list body": attrs.evolve(ENDORSEMENT, body=[COSE]),
}


@pytest.mark.parametrize("entry", list(ASYMMETRIC.values()), ids=list(ASYMMETRIC))
def test_encode_refuses_what_decode_rejects(entry: Entry) -> None:
    try:
        data = encode_entry(entry)
    except FormatError:
        return
    with pytest.raises(FormatError):
        decode_entry(data)
    raise AssertionError("encode_entry produced bytes that decode_entry rejects")


# --- every single-byte change is detected ----------------------------------------------------


def _assert_mutants_detected(data: bytes, original: Entry, values_for: Any) -> int:
    decoded_differently = 0
    for position in range(len(data)):
        for value in values_for(data[position]):
            if value == data[position]:
                continue
            mutated = bytearray(data)
            mutated[position] = value
            try:
                entry = decode_entry(bytes(mutated))
            except FormatError:
                continue
            assert entry != original, (position, value)
            assert encode_entry(entry) == bytes(mutated), (position, value)
            decoded_differently += 1
    return decoded_differently


def _few_values(byte: int) -> tuple[int, ...]:
    return (byte ^ 0x01, byte ^ 0x02, byte ^ 0x20, byte ^ 0x80, byte ^ 0xFF, 0x00, 0xFF)


@pytest.mark.parametrize(
    ("entry", "data"),
    [(GENESIS, GENESIS_BYTES), (ENDORSEMENT, ENDORSEMENT_BYTES)],
    ids=["genesis", "endorsement"],
)
def test_every_single_byte_change_is_detected(entry: Entry, data: bytes) -> None:
    changed = _assert_mutants_detected(data, entry, _few_values)
    # Changes inside hashes, times and texts decode to a different entry; the rest are refused.
    assert changed > 0


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_single_byte_change_is_detected(data: st.DataObject) -> None:
    entry, encoded = data.draw(
        st.sampled_from([(GENESIS, GENESIS_BYTES), (ENDORSEMENT, ENDORSEMENT_BYTES)])
    )
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    value = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda v: v != encoded[position])
    )
    mutated = bytearray(encoded)
    mutated[position] = value
    try:
        decoded = decode_entry(bytes(mutated))
    except FormatError:
        return
    assert decoded != entry
    assert encode_entry(decoded) == bytes(mutated)


# --- encode: the endorsement entry built from its fields, against the generic reference -----


def reference_encode(entry: Entry) -> bytes | None:
    """The generic path: encode the map with the codec, keep it only if it decodes to ``entry``."""
    try:
        data = codec.encode(
            {
                0: entry.version,
                1: entry.seq,
                2: entry.prev,
                3: int(entry.type),
                4: entry.statement_hash,
                5: entry.recorded_at,
                6: entry.body,
            }
        )
        if len(data) > MAX_ENTRY_BYTES or decode_entry(data) != entry:
            return None
    except FormatError:
        return None
    return data


def _valid_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "seq": 7,
        "prev": bytes(32),
        "entry_type": EntryType.ENDORSEMENT,
        "statement_hash": STATEMENT,
        "recorded_at": 1_700_000_000,
        "body": COSE,
    }
    fields.update(changes)
    return fields


@settings(max_examples=300, deadline=None)
@example(**_valid_fields())
@example(**_valid_fields(seq=2**64 - 1, recorded_at=MAX_TIME - 1, entry_type=EntryType.LOG))
@example(**_valid_fields(seq=-1))
@example(**_valid_fields(seq=2**64))
@example(**_valid_fields(prev=bytes(31)))
@example(**_valid_fields(statement_hash=bytes(33)))
@example(**_valid_fields(entry_type=EntryType.GENESIS))
@example(**_valid_fields(recorded_at=MAX_TIME))
@example(**_valid_fields(recorded_at=-1))
@example(**_valid_fields(body=b"\x00" * 65_520))
@given(
    seq=st.one_of(st.integers(0, 2**64 - 1), st.integers(-5, -1), st.integers(2**64, 2**65)),
    prev=st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)),
    entry_type=st.sampled_from([EntryType.ENDORSEMENT, EntryType.LOG, EntryType.GENESIS]),
    statement_hash=st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)),
    recorded_at=st.one_of(
        st.integers(0, MAX_TIME - 1), st.integers(MAX_TIME, MAX_TIME + 5), st.integers(-3, -1)
    ),
    body=st.one_of(st.binary(max_size=300), st.just(b"\x00" * 65_520)),
)
def test_endorsement_entries_encode_as_the_generic_path_or_are_refused_by_both(
    *,
    seq: int,
    prev: bytes,
    entry_type: EntryType,
    statement_hash: bytes,
    recorded_at: int,
    body: bytes,
) -> None:
    entry = Entry(
        seq=seq,
        prev=prev,
        type=entry_type,
        statement_hash=statement_hash,
        recorded_at=recorded_at,
        body=body,
    )
    expected = reference_encode(entry)
    if expected is None:
        with pytest.raises(FormatError):
            encode_entry(entry)
    else:
        assert encode_entry(entry) == expected
