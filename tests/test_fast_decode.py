"""The fast decoders (exact shapes, ``codec.decode_exact``) against the field-by-field ones.

Each decoder of a hot-path object has a fast path that accepts only inputs of exactly the
expected shape and otherwise hands over to the field-by-field decoder, which names the error.
The property: on any input, valid or mutated, the fast path either declines or returns exactly
what the field-by-field decoder returns; and the public decoder's result or error message is
the field-by-field decoder's. Mutations: byte flips, insertions, deletions and truncations,
non-shortest integer heads, and field values replaced, added or removed (with values outside
the format: big and negative integers, bignum tags, floats, booleans, wrong sizes, nesting).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, cose, entry, payload
from ledger.errors import FormatError
from ledger.keys import SigningKey
from ledger.model import Action, Endorsement, Entry, EntryType, RemovalReason

KEY = SigningKey.from_seed("org", hashlib.sha256(b"fast decode test").digest())
NEW_KEY = SigningKey.from_seed("new", hashlib.sha256(b"fast decode test: new").digest())
STATEMENT = hashlib.sha256(b"statement").digest()

texts = st.one_of(
    st.sampled_from(["Org", "Ünïcode e.V.", "a\u202eb", " lead", "x" * 257, ""]),
    st.text(min_size=0, max_size=12),
)
odd_values = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 5, 13, 2**64 - 1, 2**64, -1, 253_402_300_800]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.binary(max_size=40),
    st.sampled_from([bytes(31), bytes(32), bytes(33), KEY.public.raw]),
    texts,
    st.builds(lambda v: cbor2.CBORTag(2, v), st.binary(max_size=9)),
    st.builds(lambda v: cbor2.CBORTag(28, v), st.integers(0, 9)),
    st.dictionaries(st.integers(0, 30), st.integers(0, 3), max_size=2),
    st.lists(st.integers(0, 3), max_size=2),
)


@st.composite
def endorsements(draw: st.DrawFn) -> Endorsement:
    action = draw(st.sampled_from(list(Action)))
    name = draw(st.one_of(st.none(), st.sampled_from(["Org", "Организация", "Org Ltd"])))
    fields: dict[str, Any] = {"name": name}
    if action is Action.ENDORSE:
        fields = {
            "name": name or "Org",
            "domain": draw(st.sampled_from([None, "org.example"])),
            "url": draw(st.sampled_from([None, "https://org.example/"])),
            "country": draw(st.sampled_from([None, "BE"])),
        }
    elif action is Action.WITHDRAW:
        fields["ref"] = draw(st.one_of(st.none(), st.integers(0, 10**6)))
    elif action is Action.ROTATE:
        fields["new_key"] = NEW_KEY.public.raw
    elif action is Action.REVOKE:
        fields |= {"revoked_key": NEW_KEY.public.raw, "revoked_from": draw(st.integers(0, 10**9))}
    elif action is Action.REMOVE:
        reason = draw(st.sampled_from(list(RemovalReason)))
        note = draw(st.sampled_from([None, "a note"]))
        fields = {"name": None, "ref": draw(st.integers(0, 10**6)), "reason": reason, "note": note}
    else:
        fields = {"name": None}
    return Endorsement(
        action=action,
        statement_hash=STATEMENT,
        public_key=KEY.public.raw,
        signed_at=draw(st.integers(0, 2 * 10**11)),
        **fields,
    )


def _value_mutation(data: bytes, draw: st.DrawFn) -> bytes:
    """Replace, add or remove one field of a map (top level or inside a COSE tag), re-encoded."""
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        return data
    target = value
    if isinstance(value, cbor2.CBORTag) and isinstance(value.value, tuple):
        items = list(value.value)
        index = draw(st.integers(0, len(items) - 1))
        items[index] = draw(odd_values)
        return bytes(cbor2.dumps(cbor2.CBORTag(value.tag, items)))
    if not isinstance(target, dict):
        return data
    target = dict(target)
    key = draw(st.integers(0, 16))
    if draw(st.booleans()) and key in target:
        del target[key]
    else:
        target[key] = draw(odd_values)
    if draw(st.booleans()):
        target = dict(sorted(target.items()))
    return bytes(cbor2.dumps(target))


def _long_head(data: bytes, draw: st.DrawFn) -> bytes:
    """One small unsigned integer (0..23) rewritten in a longer, non-shortest form."""
    positions = [i for i, b in enumerate(data) if b < 0x18]
    if not positions:
        return data
    i = draw(st.sampled_from(positions))
    width = draw(st.sampled_from([1, 2, 4, 8]))
    head = {1: 0x18, 2: 0x19, 4: 0x1A, 8: 0x1B}[width]
    return data[:i] + bytes([head]) + data[i].to_bytes(width, "big") + data[i + 1 :]


def mutate(data: bytes, draw: st.DrawFn) -> bytes:  # noqa: PLR0911 - one return a kind
    kind = draw(st.sampled_from(["none", "flip", "insert", "delete", "cut", "value", "head"]))
    if kind == "none" or not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    if kind == "insert":
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i:]
    if kind == "delete":
        return data[:i] + data[i + 1 :]
    if kind == "cut":
        return data[:i]
    if kind == "value":
        return _value_mutation(data, draw)
    return _long_head(data, draw)


def outcome(decoder: Callable[[bytes], object], data: bytes) -> object:
    try:
        return decoder(data)
    except FormatError as exc:
        return f"FormatError: {exc}"


def assert_fast_agrees(
    fast: Callable[[bytes], object | None],
    slow: Callable[[bytes], object],
    public: Callable[[bytes], object],
    data: bytes,
) -> None:
    expected = outcome(slow, data)
    got = outcome(fast, data)
    assert got is None or got == expected, (data.hex(), got, expected)
    assert outcome(public, data) == expected


@settings(max_examples=400)
@given(endorsements(), st.data())
def test_payload_fast_path_agrees(endorsement: Endorsement, data: st.DataObject) -> None:
    raw = mutate(payload.encode_payload(endorsement), data.draw)
    assert_fast_agrees(payload._decode_shape, payload._decode_fields, payload.decode_payload, raw)


@settings(max_examples=400)
@given(endorsements(), st.data())
def test_cose_fast_path_agrees(endorsement: Endorsement, data: st.DataObject) -> None:
    new_key = NEW_KEY if endorsement.action is Action.ROTATE else None
    signed = cose.sign_endorsement(endorsement, KEY, new_key=new_key)
    raw = mutate(signed, data.draw)
    assert_fast_agrees(cose._decode_sign1_shape, cose._decode_fields, cose.decode_endorsement, raw)


@settings(max_examples=400)
@given(
    st.integers(1, 2**40),
    st.sampled_from([EntryType.ENDORSEMENT, EntryType.LOG]),
    st.integers(0, 2 * 10**11),
    st.binary(min_size=1, max_size=60),
    st.data(),
)
def test_entry_fast_path_agrees(
    seq: int, entry_type: EntryType, recorded_at: int, body: bytes, data: st.DataObject
) -> None:
    value = Entry(seq, hashlib.sha256(body).digest(), entry_type, STATEMENT, recorded_at, body)
    raw = mutate(entry.encode_entry(value), data.draw)
    assert_fast_agrees(
        entry._decode_entry_shape,
        entry._decode_entry_fields,
        entry.decode_entry,
        raw,
    )


def test_each_fast_path_takes_the_valid_inputs() -> None:
    # Guard against a fast path that always declines: it would pass the properties above.
    endorsement = Endorsement(
        action=Action.ENDORSE, statement_hash=STATEMENT, name="Org", public_key=KEY.public.raw,
        signed_at=1_700_000_000, domain="org.example", country="BE",
    )  # fmt: skip
    encoded = payload.encode_payload(endorsement)
    assert payload._decode_shape(encoded) == endorsement
    signed = cose.sign_endorsement(endorsement, KEY)
    assert cose._decode_sign1_shape(signed) == cose._decode_fields(signed)
    value = Entry(3, bytes(32), EntryType.ENDORSEMENT, STATEMENT, 1_700_000_000, signed)
    assert entry.decode_entry(entry.encode_entry(value)) == value


@given(st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=30)), max_size=6))
def test_encode_strings_is_encode(items: list[bytes | str]) -> None:
    assert codec.encode_strings(items) == codec.encode(items)
