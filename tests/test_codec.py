"""Tests for deterministic CBOR (ledger.codec): encode, strict decode and Fields.

The decoder must accept exactly one encoding per value (DESIGN §2 "Deterministic CBOR"), so
most tests here are hand-written non-canonical encodings, each of which must raise FormatError
and nothing else. Independent references: the RFC 8949 Appendix A examples and
``cbor2.dumps(value, canonical=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec
from ledger.codec import MAX_DEPTH, Fields, decode, encode
from ledger.errors import FormatError

BIG = 1 << 20


def dec(hex_text: str, *, max_size: int = BIG) -> Any:
    """Decode hand-written hex (spaces allowed) with a generous size limit."""
    return decode(bytes.fromhex(hex_text.replace(" ", "")), max_size=max_size, what="thing")


def plain(value: Any) -> Any:
    """Normalise decoded values for comparison: tuples -> lists, Mappings -> dicts."""
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, plain(value.value))
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value


# --- strategies --------------------------------------------------------------------------------

INTS = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.sampled_from(
        [
            *(0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1),
            *(-1, -24, -25, -256, -257, -65536, -65537, -(2**32), -(2**32) - 1, -(2**64)),
        ]
    ),
)
LEAVES = st.one_of(INTS, st.binary(max_size=40), st.text(max_size=30))


def values(depth: int = 4) -> st.SearchStrategy[Any]:
    """Values of the data model nested to at most ``depth`` containers."""
    if depth == 0:
        return LEAVES
    child = values(depth - 1)
    return st.one_of(
        LEAVES,
        st.lists(child, max_size=4),
        st.dictionaries(st.integers(min_value=0, max_value=23), child, max_size=4),
        st.builds(lambda inner: cbor2.CBORTag(18, inner), child),
    )


# --- encoding: independent vectors ---------------------------------------------------------

RFC_8949_APPENDIX_A = [
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ('"\\', "62225c"),
    ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
]


@pytest.mark.parametrize(("value", "hex_text"), RFC_8949_APPENDIX_A)
def test_encode_matches_rfc8949_appendix_a(value: Any, hex_text: str) -> None:
    assert encode(value).hex() == hex_text
    assert dec(hex_text) == value


def test_encode_sorts_map_keys_whatever_the_dict_order() -> None:
    assert (
        encode({23: 0, 2: b"", 0: "x", 10: []}).hex() == "a4" + "006178" + "0240" + "0a80" + "1700"
    )


def test_encode_tuple_is_an_array() -> None:
    assert encode((1, (2,))) == encode([1, [2]]) == bytes.fromhex("82018102")


def test_encode_tag_18() -> None:
    assert encode(cbor2.CBORTag(18, [b"", {}, b"", b""])).hex() == "d28440a04040"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (1.0, "float is not in the data model"),
        (True, "bool is not in the data model"),
        (False, "bool is not in the data model"),
        (None, "NoneType is not in the data model"),
        ({"a": 1}, "map key 'a' is not an integer in 0..23"),
        ({24: 1}, "map key 24 is not an integer in 0..23"),
        ({-1: 1}, "map key -1 is not an integer in 0..23"),
        ({True: 1}, "map key True is not an integer in 0..23"),
        (2**64, "out of the 64-bit range"),
        (-(2**64) - 1, "out of the 64-bit range"),
        ([1, [2, {3: 1.5}]], "float is not in the data model"),
        (cbor2.CBORTag(99, []), "CBORTag is not in the data model"),
        (cbor2.CBORTag(2, b"\x01"), "CBORTag is not in the data model"),
        ({1, 2}, "set is not in the data model"),
        (bytearray(b"x"), "bytearray is not in the data model"),
        (cbor2.undefined, "is not in the data model"),
    ],
    ids=repr,
)
def test_encode_rejects_values_outside_the_data_model(value: Any, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        encode(value)


def test_encode_depth_limit_matches_decode_depth_limit() -> None:
    deepest: Any = 0
    for _ in range(MAX_DEPTH):
        deepest = [deepest]
    data = encode(deepest)
    assert dec(data.hex()) == deepest
    with pytest.raises(FormatError, match=f"nested deeper than {MAX_DEPTH}"):
        encode([deepest])


# --- round-trip properties -----------------------------------------------------------------


@settings(max_examples=300)
@given(values())
def test_round_trip_and_agreement_with_cbor2_canonical(value: Any) -> None:
    data = encode(value)
    assert data == cbor2.dumps(value, canonical=True)
    decoded = decode(data, max_size=len(data), what="value")
    assert plain(decoded) == plain(value)
    assert encode(decoded) == data


@settings(max_examples=200)
@given(st.dictionaries(st.integers(min_value=0, max_value=23), LEAVES, max_size=24))
def test_small_int_key_maps_agree_with_cbor2_canonical(value: dict[int, Any]) -> None:
    shuffled = dict(reversed(list(value.items())))
    assert encode(shuffled) == encode(value) == cbor2.dumps(value, canonical=True)
    assert decode(encode(value), max_size=BIG, what="map") == value


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_have_at_most_one_encoding(data: bytes) -> None:
    try:
        value = decode(data, max_size=BIG, what="fuzz")
    except FormatError:
        return
    assert encode(value) == data


ENTRY_LIKE = encode(
    {
        0: 1,
        1: 300,
        2: bytes(range(32)),
        3: 1,
        4: bytes(32),
        5: 1_700_000_000,
        6: {0: "Title", 1: "Text\n", 2: "example.org/letter", 3: "vkey"},
        7: [cbor2.CBORTag(18, [b"\xa0", {}, b"payload", bytes(64)]), -5, 2**40],
    }
)


@settings(max_examples=400)
@given(st.data())
def test_single_byte_mutations_have_at_most_one_encoding(data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(ENTRY_LIKE) - 1))
    byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != ENTRY_LIKE[position])
    )
    mutated = bytearray(ENTRY_LIKE)
    mutated[position] = byte
    try:
        value = decode(bytes(mutated), max_size=BIG, what="mutant")
    except FormatError:
        return
    assert encode(value) == bytes(mutated)


def test_every_single_byte_mutation_has_at_most_one_encoding() -> None:
    for position in range(len(ENTRY_LIKE)):
        for flip in (0x01, 0x02, 0x10, 0x20, 0x80, 0xFF):
            mutated = bytearray(ENTRY_LIKE)
            mutated[position] ^= flip
            try:
                value = decode(bytes(mutated), max_size=BIG, what="mutant")
            except FormatError:
                continue
            assert encode(value) == bytes(mutated), (position, flip)


# --- the decoder rejects every non-canonical variant -----------------------------------------

NOT_VALID = "not valid CBOR"
NOT_DETERMINISTIC = r"not deterministic CBOR \(first difference at byte \d+; RFC 8949"


def test_rejects_duplicate_map_keys() -> None:
    with pytest.raises(FormatError, match=r"thing: not valid CBOR \(.*[Dd]uplicate"):
        dec("a2 01 00 01 00")


def test_rejects_duplicate_map_keys_with_different_values_nested() -> None:
    with pytest.raises(FormatError, match=NOT_VALID):
        dec("a1 00 a2 05 01 05 02")


def test_rejects_indefinite_length_array() -> None:
    with pytest.raises(FormatError, match="indefinite"):
        dec("9f 01 02 ff")


def test_rejects_indefinite_length_map() -> None:
    with pytest.raises(FormatError, match="indefinite"):
        dec("bf 00 01 ff")


def test_rejects_indefinite_length_byte_string() -> None:
    with pytest.raises(FormatError, match="indefinite"):
        dec("5f 41 01 41 02 ff")


def test_rejects_indefinite_length_text_string() -> None:
    with pytest.raises(FormatError, match="indefinite"):
        dec("7f 61 61 61 62 ff")


def test_rejects_lone_break_code() -> None:
    with pytest.raises(FormatError, match=NOT_VALID):
        dec("ff")


@pytest.mark.parametrize(
    "hex_text",
    [
        "18 17",  # 23 in one extra byte
        "18 00",
        "19 0001",  # 1 in two bytes
        "19 00ff",  # 255 in two bytes
        "1a 00000001",
        "1a 0000ffff",
        "1b 0000000000000001",
        "1b 00000000ffffffff",
        "38 17",  # -24 in one extra byte
        "39 0000",  # -1 in two bytes
        "3a 000000ff",
        "3b 0000000000000000",
        "a1 00 19 0005",  # a long-form integer inside a map
        "a1 00 81 18 01",  # ... and inside an array inside a map
    ],
)
def test_rejects_long_form_integer(hex_text: str) -> None:
    with pytest.raises(FormatError, match=NOT_DETERMINISTIC):
        dec(hex_text)


@pytest.mark.parametrize(
    "hex_text",
    [
        "58 01 aa",  # byte string, 1-byte length where the short form fits
        "59 0001 aa",
        "5a 00000001 aa",
        "5b 0000000000000001 aa",
        "58 00",
        "78 01 61",  # text string
        "79 0001 61",
        "7a 00000001 61",
        "98 01 01",  # array
        "99 0001 01",
        "98 00",
        "b8 01 00 01",  # map
        "b9 0001 00 01",
        "ba 00000001 00 01",
        "b8 00",
    ],
)
def test_rejects_long_form_length(hex_text: str) -> None:
    with pytest.raises(FormatError, match=NOT_DETERMINISTIC):
        dec(hex_text)


@pytest.mark.parametrize(
    ("hex_text", "match"),
    [
        ("a2 01 00 00 00", r"map keys out of order \(0 after 1\)"),
        ("a3 00 00 02 00 01 00", r"map keys out of order \(1 after 2\)"),
        ("a2 17 00 0a 00", r"map keys out of order \(10 after 23\)"),
        ("a1 00 a2 05 00 04 00", r"map keys out of order \(4 after 5\)"),
        ("d2 a2 01 00 00 00", r"map keys out of order \(0 after 1\)"),  # frozendict in a tag
    ],
)
def test_rejects_unsorted_map_keys(hex_text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dec(hex_text)


def test_rejects_text_map_keys() -> None:
    with pytest.raises(FormatError, match=r"map key 'a' is not an integer in 0\.\.23"):
        dec("a1 61 61 01")


def test_rejects_byte_string_map_keys() -> None:
    with pytest.raises(FormatError, match=r"map key b'\\x00' is not an integer in 0\.\.23"):
        dec("a1 41 00 01")


def test_rejects_negative_map_keys() -> None:
    with pytest.raises(FormatError, match=r"map key -1 is not an integer in 0\.\.23"):
        dec("a1 20 01")


def test_rejects_map_key_24() -> None:
    with pytest.raises(FormatError, match=r"map key 24 is not an integer in 0\.\.23"):
        dec("a1 18 18 01")


def test_accepts_map_key_23() -> None:
    assert dec("a1 17 01") == {23: 1}


def test_rejects_one_trailing_byte() -> None:
    with pytest.raises(FormatError, match="thing: 1 trailing bytes after the value"):
        dec("00 00")


def test_rejects_many_trailing_bytes() -> None:
    with pytest.raises(FormatError, match="thing: 50 trailing bytes after the value"):
        dec("a1 00 01" + "00" * 50)


def test_rejects_a_second_complete_item() -> None:
    with pytest.raises(FormatError, match="trailing bytes"):
        dec(ENTRY_LIKE.hex() + ENTRY_LIKE.hex())


def test_rejects_every_truncation_of_a_valid_entry_like_map() -> None:
    assert decode(ENTRY_LIKE, max_size=BIG, what="entry")[1] == 300
    for length in range(len(ENTRY_LIKE)):
        with pytest.raises(FormatError):
            decode(ENTRY_LIKE[:length], max_size=BIG, what="entry")


def test_rejects_truncated_input_with_a_clear_message() -> None:
    with pytest.raises(FormatError, match=r"thing: not valid CBOR \(premature end of stream"):
        dec("83 01 02")


@pytest.mark.parametrize(
    "hex_text",
    [
        "f9 3c00",  # half 1.0
        "f9 0000",  # half 0.0
        "f9 7e00",  # half NaN
        "fa 3f800000",  # single 1.0
        "fa 47c35000",  # single 100000.0
        "fb 3ff0000000000000",  # double 1.0
        "fb 7ff0000000000000",  # double Infinity
        "a1 00 f9 3c00",  # inside a map
    ],
)
def test_rejects_floats(hex_text: str) -> None:
    with pytest.raises(FormatError, match="float is not allowed"):
        dec(hex_text)


@pytest.mark.parametrize(
    ("hex_text", "match"),
    [
        ("f4", "simple value False is not allowed"),
        ("f5", "simple value True is not allowed"),
        ("f6", "simple value None is not allowed"),
        ("f7", "UndefinedType is not allowed"),
        ("f0", "CBORSimpleValue is not allowed"),
        ("f8 ff", "CBORSimpleValue is not allowed"),
        ("a1 00 f6", "simple value None is not allowed"),
        ("82 00 f5", "simple value True is not allowed"),
    ],
)
def test_rejects_true_false_null_undefined_and_simple_values(hex_text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dec(hex_text)


@pytest.mark.parametrize(
    ("hex_text", "match"),
    [
        # tag 0: standard date/time string
        ("c0 74 323031332d30332d32315432303a30343a30305a", "datetime is not allowed"),
        ("c0 61 61", NOT_VALID),  # ... with a string that is not a date
        ("c1 1a 514b67b0", "datetime is not allowed"),  # tag 1: epoch time
        ("c2 41 01", NOT_DETERMINISTIC),  # tag 2 bignum decoding to 1
        ("c3 41 00", NOT_DETERMINISTIC),  # tag 3 negative bignum decoding to -1
        ("c4 82 21 19 6ab3", "Decimal is not allowed"),  # tag 4 decimal fraction
        ("d8 18 41 a0", "tag 24 is not allowed"),  # tag 24: embedded CBOR
        ("d8 63 84 40 a0 40 80", "tag 99 is not allowed"),  # tag 99: nothing of ours
        ("d9 d9f7 00", NOT_DETERMINISTIC),  # tag 55799: self-described CBOR
        ("d9 d9f7 d2 40", NOT_DETERMINISTIC),
        ("d8 1c 81 00", NOT_DETERMINISTIC),  # tag 28: shareable
        ("d8 1d 00", NOT_VALID),  # tag 29: shared reference without target
        ("d9 0100 81 00", NOT_DETERMINISTIC),  # tag 256: string-ref namespace
        ("d8 19 00", NOT_VALID),  # tag 25: string reference
        ("d9 0102 80", "set is not allowed"),  # tag 258: set
        ("d8 25 50 00000000000000000000000000000000", "UUID is not allowed"),
        ("d8 1e 82 01 02", "Fraction is not allowed"),  # tag 30: rational
        ("d8 20 6161", "is not allowed"),  # tag 32: URI
        ("d8 12 40", NOT_DETERMINISTIC),  # tag 18 in long form
        ("da 00000012 40", NOT_DETERMINISTIC),  # tag 18 in longer form
        ("db ffffffffffffffff 00", "tag 18446744073709551615 is not allowed"),
    ],
)
def test_rejects_tags_other_than_18(hex_text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dec(hex_text)


def test_accepts_tag_18() -> None:
    value = dec("d2 84 40 a0 40 40")
    assert isinstance(value, cbor2.CBORTag)
    assert value.tag == 18
    assert plain(value.value) == [b"", {}, b"", b""]


@pytest.mark.parametrize(
    ("hex_text", "match"),
    [
        ("c2 49 010000000000000000", r"integer out of the 64-bit range \(bignum tag\)"),
        ("c3 49 010000000000000000", r"integer out of the 64-bit range \(bignum tag\)"),
        ("c2 48 ffffffffffffffff", NOT_DETERMINISTIC),  # 2**64-1 as a bignum
        ("c2 49 00ffffffffffffffff", NOT_DETERMINISTIC),  # ... with a leading zero
        ("c2 40", NOT_DETERMINISTIC),  # 0 as an empty bignum
        ("a1 00 c2 41 05", NOT_DETERMINISTIC),  # 5 as a bignum in a map
    ],
)
def test_rejects_bignum_in_place_of_an_int(hex_text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dec(hex_text)


@pytest.mark.parametrize(
    "hex_text",
    [
        "62 c3 28",  # invalid continuation byte
        "61 ff",
        "61 80",  # lone continuation byte
        "62 c0 80",  # overlong encoding of U+0000
        "63 ed a0 80",  # UTF-8 encoded surrogate U+D800
        "64 f4 90 80 80",  # above U+10FFFF
        "62 e6 b0",  # truncated 3-byte sequence
        "a1 00 62 c3 28",
    ],
)
def test_rejects_invalid_utf8_in_text_string(hex_text: str) -> None:
    with pytest.raises(FormatError, match=NOT_VALID):
        dec(hex_text)


def test_rejects_over_size_input() -> None:
    with pytest.raises(FormatError, match="thing: 11 bytes exceeds the limit of 10"):
        decode(bytes(11), max_size=10, what="thing")


def test_rejects_over_size_input_before_parsing() -> None:
    # Garbage that would be malformed is reported as over-size: the size check comes first.
    with pytest.raises(FormatError, match="exceeds the limit of 4"):
        decode(b"\xff" * 5, max_size=4, what="thing")


def test_accepts_input_of_exactly_max_size() -> None:
    data = encode(b"x" * 8)
    assert decode(data, max_size=len(data), what="thing") == b"x" * 8
    with pytest.raises(FormatError, match="exceeds the limit"):
        decode(data, max_size=len(data) - 1, what="thing")


def test_rejects_empty_input() -> None:
    with pytest.raises(FormatError, match="thing: empty input"):
        decode(b"", max_size=10, what="thing")


@pytest.mark.parametrize(("opener", "leaf"), [("81", "00"), ("a1 00", "00"), ("d2", "00")])
def test_rejects_nesting_deeper_than_max_depth(opener: str, leaf: str) -> None:
    at_limit = opener * MAX_DEPTH + leaf
    assert dec(at_limit) is not None
    with pytest.raises(FormatError, match=f"nested deeper than {MAX_DEPTH}"):
        dec(opener * (MAX_DEPTH + 1) + leaf)
    with pytest.raises(FormatError, match="nest"):
        dec(opener * (MAX_DEPTH + 2) + leaf)


def test_rejects_very_deep_nesting_without_recursion_error() -> None:
    with pytest.raises(FormatError):
        dec("81" * 100_000 + "00")
    with pytest.raises(FormatError):
        dec("d2" * 100_000 + "00")


@pytest.mark.parametrize(
    "hex_text",
    [
        "5b ffffffffffffffff",  # byte string claiming 2**64-1 bytes
        "7b ffffffffffffffff",
        "9b ffffffffffffffff",  # array claiming 2**64-1 items
        "bb ffffffffffffffff",
        "9a 7fffffff",
        "5a 7fffffff 00",
    ],
)
def test_rejects_huge_declared_lengths_without_allocating(hex_text: str) -> None:
    with pytest.raises(FormatError, match=NOT_VALID):
        dec(hex_text)


@pytest.mark.parametrize("hex_text", ["1c", "3c", "5c", "7c", "9c", "bc", "dc", "fc", "fd", "fe"])
def test_rejects_reserved_additional_information(hex_text: str) -> None:
    with pytest.raises(FormatError, match=NOT_VALID):
        dec(hex_text)


def test_integer_range_boundaries_decode() -> None:
    assert dec("1b ffffffffffffffff") == 2**64 - 1
    assert dec("3b ffffffffffffffff") == -(2**64)


def test_error_messages_name_the_object() -> None:
    with pytest.raises(FormatError, match=r"^endorsement: "):
        decode(b"\x00\x00", max_size=10, what="endorsement")


# --- Fields ----------------------------------------------------------------------------------


def test_fields_reads_every_type() -> None:
    fields = Fields({0: 5, 1: b"\x00" * 4, 2: "hi", 3: [1], 5: "opt", 6: 7}, "obj")
    assert fields.uint(0, "count") == 5
    assert fields.bytes_(1, "blob", 4) == b"\x00" * 4
    assert fields.text(2, "label", max_len=2) == "hi"
    assert fields.any(3, "list") == [1]
    assert fields.optional_text(4, "absent text", max_len=9) is None
    assert fields.optional_text(5, "opt", max_len=9) == "opt"
    assert fields.optional_uint(6, "opt int") == 7
    assert fields.optional_uint(7, "absent int") is None
    fields.finish()


def test_fields_accepts_frozendict_from_inside_a_tag() -> None:
    inner = dec("d2 a1 00 01").value
    fields = Fields(inner, "tagged")
    assert fields.uint(0, "x") == 1
    fields.finish()


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1], "an array"), (b"", "a byte string"), ("s", "a text string"), (3, "an integer")],
)
def test_fields_rejects_a_non_map(value: Any, kind: str) -> None:
    with pytest.raises(FormatError, match=f"obj: expected a map, got {kind}"):
        Fields(value, "obj")


def test_fields_missing_required_field() -> None:
    fields = Fields({0: 1}, "obj")
    with pytest.raises(FormatError, match=r"obj: missing field seq \(key 1\)"):
        fields.uint(1, "seq")
    with pytest.raises(FormatError, match=r"obj: missing field blob \(key 2\)"):
        fields.bytes_(2, "blob")
    with pytest.raises(FormatError, match=r"obj: missing field name \(key 3\)"):
        fields.text(3, "name", max_len=5)
    with pytest.raises(FormatError, match=r"obj: missing field body \(key 4\)"):
        fields.any(4, "body")


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda f: f.uint(0, "n"), "n must be an unsigned integer"),
        (lambda f: f.uint(1, "n"), "n must be an unsigned integer"),
        (lambda f: f.uint(2, "n"), "n must be an unsigned integer"),
        (lambda f: f.optional_uint(2, "n"), "n must be an unsigned integer"),
        (lambda f: f.bytes_(0, "b"), "b must be a byte string"),
        (lambda f: f.bytes_(2, "b"), "b must be a byte string"),
        (lambda f: f.text(1, "t", max_len=9), "t must be a text string"),
        (lambda f: f.text(3, "t", max_len=9), "t must be a text string"),
        (lambda f: f.optional_text(1, "t", max_len=9), "t must be a text string"),
    ],
)
def test_fields_wrong_type(read: Any, message: str) -> None:
    fields = Fields({0: "text", 1: b"bytes", 2: -1, 3: [1]}, "obj")
    with pytest.raises(FormatError, match=f"obj: {message}"):
        read(fields)


def test_fields_unknown_key_rejected_by_finish() -> None:
    fields = Fields({0: 1, 3: 2, 9: 3}, "obj")
    fields.uint(0, "a")
    with pytest.raises(FormatError, match=r"obj: unknown field key\(s\) \[3, 9\]"):
        fields.finish()


def test_fields_optional_reads_count_as_seen() -> None:
    fields = Fields({}, "obj")
    assert fields.optional_text(1, "t", max_len=3) is None
    assert fields.optional_uint(2, "n") is None
    fields.finish()


def test_fields_empty_text_rejected() -> None:
    with pytest.raises(FormatError, match="obj: name is empty"):
        Fields({0: ""}, "obj").text(0, "name", max_len=10)
    with pytest.raises(FormatError, match="obj: domain is empty"):
        Fields({0: ""}, "obj").optional_text(0, "domain", max_len=10)


def test_fields_over_long_text_rejected() -> None:
    assert Fields({0: "é" * 5}, "obj").text(0, "name", max_len=5) == "é" * 5  # code points
    with pytest.raises(FormatError, match="obj: name is longer than 5 characters"):
        Fields({0: "x" * 6}, "obj").text(0, "name", max_len=5)
    with pytest.raises(FormatError, match="obj: url is longer than 5 characters"):
        Fields({0: "x" * 6}, "obj").optional_text(0, "url", max_len=5)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_fields_exact_size_bytes(size: int) -> None:
    assert Fields({0: bytes(32)}, "obj").bytes_(0, "hash", 32) == bytes(32)
    with pytest.raises(FormatError, match=f"obj: hash must be 32 bytes, got {size}"):
        Fields({0: bytes(size)}, "obj").bytes_(0, "hash", 32)


def test_fields_bytes_without_size_accepts_any_length() -> None:
    assert Fields({0: b""}, "obj").bytes_(0, "blob") == b""
    assert Fields({0: bytes(1000)}, "obj").bytes_(0, "blob") == bytes(1000)


def test_module_constants() -> None:
    assert codec.COSE_SIGN1_TAG == 18
    assert codec.MAX_KEY == 23
