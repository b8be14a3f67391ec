"""Tests for canonical statement text v1 and the statement hash (ledger.statement)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger.errors import FormatError
from ledger.statement import (
    CANONICAL_VERSION,
    MAX_STATEMENT_BYTES,
    canonicalize,
    canonicalize_text,
    format_statement_hash,
    is_canonical,
    parse_statement_hash,
    statement_hash,
)

SEED = Path("/work/shared/seeds/000_d5b656a53089732a.txt")
BOM = "\ufeff"

# --- Rejected code points, one list per class of the spec (step 3). ---------------------
C0 = [cp for cp in range(0x20) if cp not in (0x09, 0x0A, 0x0D)]  # CR is turned into LF
DEL = [0x7F]
C1 = list(range(0x80, 0xA0))
BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
INVISIBLE = [
    0x200B,
    *range(0x2060, 0x2065),
    0xFEFF,
    0x00AD,
    0x180E,
    *range(0xFFF9, 0xFFFC),
    0x034F,
]
OTHER_CF = [0x0600, 0x06DD, 0x110BD, 0x1D173, 0xE0001, 0xE0020, 0xE007F]
PRIVATE_USE = [0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD]
UNASSIGNED = [0x0378, 0x2065, 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0xE0080, 0x10FFFF]
REJECTED_CLASSES = {
    "c0": C0,
    "del": DEL,
    "c1": C1,
    "bidi": BIDI,
    "invisible": INVISIBLE,
    "other-cf": OTHER_CF,
    "private-use": PRIVATE_USE,
    "unassigned": UNASSIGNED,
}
REJECTED_CASES = [
    pytest.param(name, cp, id=f"{name}-U+{cp:04X}")
    for name, cps in REJECTED_CLASSES.items()
    for cp in cps
]
EXPECTED_CATEGORY = {"other-cf": "Cf", "private-use": "Co", "unassigned": "Cn"}


def describe(cp: int) -> str:
    """The spec's ``U+XXXX NAME`` form, written independently of the module."""
    name = unicodedata.name(chr(cp), "")
    return f"U+{cp:04X} {name}".rstrip()


def rejection_message(exc: pytest.ExceptionInfo[FormatError]) -> str:
    return str(exc.value)


# --- Strategies. ------------------------------------------------------------------------
# Allowed characters other than line breaks and tab: everything outside the rejected
# categories, minus the two listed code points whose category is not Cf.
ordinary_char = st.characters(
    exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn"),
    exclude_characters="\u034f\u180e",
)
# Pieces that exercise the interesting rules: line breaks, trailing blanks, NFC.
special_piece = st.sampled_from(
    ["\n", "\r", "\r\n", "\t", " ", " \t ", "\n\n", "e\u0301", "\u212b", "\ufb01", "\xa0"]
)
valid_text = st.builds(
    lambda bom, pieces: (BOM if bom else "") + "".join(pieces),
    st.booleans(),
    st.lists(st.one_of(ordinary_char, special_piece), max_size=40),
)
line_text = st.lists(
    st.one_of(ordinary_char, st.sampled_from([" ", "\t", "a", "o\u0308"])), max_size=8
).map("".join)


def reference(text: str) -> bytes | None:
    """A deliberately different, line-by-line canonicaliser; None means "empty"."""
    if text.startswith(BOM):
        text = text[1:]
    lines: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            lines.append("".join(current))
            current = []
            if ch == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            current.append(ch)
        i += 1
    lines.append("".join(current))
    cleaned = []
    for line in lines:
        end = len(line)
        while end > 0 and line[end - 1] in (" ", "\t"):
            end -= 1
        cleaned.append(unicodedata.normalize("NFC", line[:end]))
    while cleaned and cleaned[0] == "":
        cleaned.pop(0)
    while cleaned and cleaned[-1] == "":
        cleaned.pop()
    if not cleaned:
        return None
    return "".join(line + "\n" for line in cleaned).encode("utf-8")


def check_shape(out: bytes) -> None:
    """Assert every structural property of canonical output."""
    text = out.decode("utf-8")
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert not text.startswith("\n")
    assert "\r" not in text
    assert BOM not in text
    assert unicodedata.normalize("NFC", text) == text
    lines = text[:-1].split("\n")
    assert lines[0] != ""
    assert lines[-1] != ""
    for line in lines:
        assert line == line.rstrip(" \t")
    assert len(out) <= MAX_STATEMENT_BYTES


# --- Properties. ------------------------------------------------------------------------
@given(valid_text)
def test_agrees_with_reference_implementation(text: str) -> None:
    expected = reference(text)
    if expected is None:
        with pytest.raises(FormatError, match=r"^statement text is empty$"):
            canonicalize(text.encode("utf-8"))
        with pytest.raises(FormatError, match=r"^statement text is empty$"):
            canonicalize_text(text)
    else:
        assert canonicalize(text.encode("utf-8")) == expected
        assert canonicalize_text(text) == expected.decode("utf-8")


@given(valid_text)
def test_idempotent_and_well_shaped_on_valid_text(text: str) -> None:
    assume(reference(text) is not None)
    out = canonicalize(text.encode("utf-8"))
    check_shape(out)
    assert canonicalize(out) == out
    assert canonicalize_text(out.decode("utf-8")) == out.decode("utf-8")
    assert is_canonical(out)


@given(st.one_of(st.binary(max_size=200), st.text(max_size=60).map(str.encode)))
def test_arbitrary_bytes_rejected_or_fixed_point(raw: bytes) -> None:
    try:
        out = canonicalize(raw)
    except FormatError as exc:
        message = str(exc)
        assert message.startswith("statement text")
        assert not is_canonical(raw)
    else:
        check_shape(out)
        assert canonicalize(out) == out
        assert is_canonical(raw) == (raw == out)


@given(st.text(max_size=60))
def test_text_and_bytes_entry_points_agree(text: str) -> None:
    # Same result, or the same error message, from either entry point.
    def from_bytes() -> bytes | str:
        try:
            return canonicalize(text.encode("utf-8"))
        except FormatError as exc:
            return str(exc)

    def from_text() -> bytes | str:
        try:
            return canonicalize_text(text).encode("utf-8")
        except FormatError as exc:
            return str(exc)

    assert from_bytes() == from_text()


@given(
    st.lists(line_text, min_size=1, max_size=8),
    st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=7, max_size=7),
)
def test_line_ending_variants_give_same_bytes(lines: list[str], seps: list[str]) -> None:
    assume(any(line.strip(" \t") for line in lines))
    lf = "\n".join(lines)
    crlf = "\r\n".join(lines)
    cr = "\r".join(lines)
    # Mixed: a lone CR directly followed by an LF would be one CRLF break, so an empty
    # next line forces "\r\n" there.
    mixed = lines[0]
    for sep, line in zip(seps, lines[1:], strict=False):
        mixed += ("\r\n" if sep == "\r" and line == "" else sep) + line
    expected = canonicalize(lf.encode("utf-8"))
    for variant in (crlf, cr, mixed, lf + "\r\n", lf + "\r"):
        assert canonicalize(variant.encode("utf-8")) == expected


@given(valid_text)
def test_hash_is_sha256_of_canonical_bytes(text: str) -> None:
    assume(reference(text) is not None)
    out = canonicalize(text.encode("utf-8"))
    digest = statement_hash(out)
    assert digest == hashlib.sha256(out).digest()
    assert len(digest) == 32
    assert parse_statement_hash(format_statement_hash(digest)) == digest


@given(st.binary(min_size=32, max_size=32))
def test_hash_display_round_trip(digest: bytes) -> None:
    shown = format_statement_hash(digest)
    assert shown == "sha256:" + digest.hex()
    assert len(shown) == 7 + 64
    assert parse_statement_hash(shown) == digest


# --- Rejected characters. ---------------------------------------------------------------
@pytest.mark.parametrize(("klass", "cp"), REJECTED_CASES)
def test_each_rejected_code_point(klass: str, cp: int) -> None:
    if klass in EXPECTED_CATEGORY:
        assert unicodedata.category(chr(cp)) == EXPECTED_CATEGORY[klass]
    text = "Title\n\nabcd" + chr(cp) + "ef\n"
    expected = f"statement text rejected: line 3 column 5: {describe(cp)}"
    with pytest.raises(FormatError) as exc:
        canonicalize(text.encode("utf-8"))
    assert rejection_message(exc) == expected
    assert f"U+{cp:04X}" in rejection_message(exc)
    with pytest.raises(FormatError) as text_exc:
        canonicalize_text(text)
    assert rejection_message(text_exc) == expected


def test_lone_surrogate_rejected_in_text_entry_point() -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize_text("ab\n\udc80")
    assert rejection_message(exc) == "statement text rejected: line 2 column 1: U+DC80"


def test_names_appear_and_nameless_code_points_have_none() -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize(b"a\x00b\xe2\x80\xae")
    assert rejection_message(exc) == (
        "statement text rejected: line 1 column 2: U+0000; "
        "line 1 column 4: U+202E RIGHT-TO-LEFT OVERRIDE"
    )


def test_spec_example_message_exactly() -> None:
    lines = ["one", "two", "abcdefghijklm\u202e", "4", "5", "6", "7", "8", "\x00x"]
    with pytest.raises(FormatError) as exc:
        canonicalize("\n".join(lines).encode("utf-8"))
    assert rejection_message(exc) == (
        "statement text rejected: line 3 column 14: U+202E RIGHT-TO-LEFT OVERRIDE; "
        "line 9 column 1: U+0000"
    )


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        pytest.param(b"\xef\xbb\xbf\xe2\x80\x8b", 1, 1, id="after-bom-removal"),
        pytest.param(b"a\r\nb\rc\xe2\x80\x8b", 3, 2, id="after-newline-normalisation"),
        pytest.param("éé€\u200b".encode(), 1, 4, id="code-points-not-bytes"),
        pytest.param("\U0001f600\u200b".encode(), 1, 2, id="astral-is-one-column"),
        pytest.param(b"\t\xe2\x80\x8b", 1, 2, id="tab-is-one-column"),
        pytest.param(b"abc \xe2\x80\x8b  ", 1, 5, id="before-trailing-strip"),
        pytest.param(b"\n\n\x01", 3, 1, id="in-leading-blank-lines"),
        pytest.param("e\u0301\u200b".encode(), 1, 3, id="before-nfc"),
    ],
)
def test_positions(raw: bytes, line: int, column: int) -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize(raw)
    assert f"line {line} column {column}: " in rejection_message(exc)
    assert rejection_message(exc).count("line ") == 1


def test_all_offenders_listed_in_order() -> None:
    text = "\u200bx\n\x07\ny\u202ez\ue000\n\n\ufeff"
    with pytest.raises(FormatError) as exc:
        canonicalize(text.encode("utf-8"))
    assert rejection_message(exc) == (
        "statement text rejected: "
        "line 1 column 1: U+200B ZERO WIDTH SPACE; "
        "line 2 column 1: U+0007; "
        "line 3 column 2: U+202E RIGHT-TO-LEFT OVERRIDE; "
        "line 3 column 4: U+E000; "
        "line 5 column 1: U+FEFF ZERO WIDTH NO-BREAK SPACE"
    )


@pytest.mark.parametrize(("count", "more"), [(20, None), (21, 1), (25, 5), (1000, 980)])
def test_offender_list_truncated_after_twenty(count: int, more: int | None) -> None:
    text = "\n".join(f"l{i}\u2066" for i in range(count))
    with pytest.raises(FormatError) as exc:
        canonicalize(text.encode("utf-8"))
    message = rejection_message(exc)
    assert message.count("U+2066 LEFT-TO-RIGHT ISOLATE") == 20
    assert "line 20 column " in message
    assert "line 21 column " not in message
    if more is None:
        assert "more)" not in message
    else:
        assert message.endswith(f"; (and {more} more)")


# --- BOM, UTF-8, size, emptiness. -------------------------------------------------------
def test_leading_bom_dropped() -> None:
    assert canonicalize(b"\xef\xbb\xbfhello") == b"hello\n"
    assert canonicalize_text(BOM + "hello\r\n") == "hello\n"
    assert not is_canonical(b"\xef\xbb\xbfhello\n")


def test_second_bom_rejected() -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize(b"\xef\xbb\xbf\xef\xbb\xbfhello")
    assert rejection_message(exc) == (
        "statement text rejected: line 1 column 1: U+FEFF ZERO WIDTH NO-BREAK SPACE"
    )
    with pytest.raises(FormatError, match=r"line 1 column 1: U\+FEFF"):
        canonicalize_text(BOM + BOM + "hello")


def test_bom_not_at_start_rejected() -> None:
    with pytest.raises(FormatError, match=r"line 2 column 3: U\+FEFF"):
        canonicalize("a\nbc\ufeff".encode())


@pytest.mark.parametrize(
    ("raw", "offset", "line", "column"),
    [
        pytest.param(b"\xff", 0, 1, 1, id="invalid-start"),
        pytest.param(b"ab\ncd\xffef", 5, 2, 3, id="second-line"),
        pytest.param(b"\xef\xbb\xbfa\r\nb\xc3", 7, 2, 2, id="bom-crlf-truncated"),
        pytest.param(b"\xc3\xa9\x80", 2, 1, 2, id="stray-continuation"),
        pytest.param(b"a\r\xc0\x80", 2, 2, 1, id="overlong-after-lone-cr"),
        pytest.param(b"x\xed\xa0\x80", 1, 1, 2, id="encoded-surrogate"),
        pytest.param(b"\xf4\x90\x80\x80", 0, 1, 1, id="above-max-code-point"),
    ],
)
def test_invalid_utf8_reports_first_bad_byte(
    raw: bytes, offset: int, line: int, column: int
) -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize(raw)
    message = rejection_message(exc)
    assert f"invalid UTF-8 at byte offset {offset} " in message
    assert f"(line {line} column {column})" in message
    assert not is_canonical(raw)


def test_oversize_rejected_before_decoding() -> None:
    for raw in (b"a" * (MAX_STATEMENT_BYTES + 1), b"\xff" * (MAX_STATEMENT_BYTES + 1)):
        with pytest.raises(FormatError) as exc:
            canonicalize(raw)
        assert "size limit" in rejection_message(exc)
        assert str(MAX_STATEMENT_BYTES) in rejection_message(exc)
        assert "UTF-8" not in rejection_message(exc)


def test_oversize_text_rejected() -> None:
    for text in ("a" * (MAX_STATEMENT_BYTES + 1), "é" * (MAX_STATEMENT_BYTES // 2 + 1)):
        with pytest.raises(FormatError, match="size limit"):
            canonicalize_text(text)


def test_size_boundary_keeps_idempotence() -> None:
    exact = b"a" * (MAX_STATEMENT_BYTES - 1) + b"\n"
    assert canonicalize(exact) == exact
    assert canonicalize(exact[:-1]) == exact
    assert is_canonical(exact)
    # MAX bytes without a final LF would canonicalise to MAX + 1 bytes, which could not be
    # canonicalised again: rejected so that the function stays idempotent.
    with pytest.raises(FormatError, match="canonical text is 1048577 bytes"):
        canonicalize(b"a" * MAX_STATEMENT_BYTES)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\n", b"\r\n\r\n", b"\r\r", b" \t\n \n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n  "],
)
def test_empty_or_whitespace_only_rejected(raw: bytes) -> None:
    with pytest.raises(FormatError) as exc:
        canonicalize(raw)
    assert rejection_message(exc) == "statement text is empty"
    with pytest.raises(FormatError, match=r"^statement text is empty$"):
        canonicalize_text(raw.decode("utf-8"))
    assert not is_canonical(raw)


# --- Whitespace and line rules. ---------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\n\n a\n\n\nb \t\n\n \n", b" a\n\n\nb\n"),
        (b"a\xc2\xa0 \n", b"a\xc2\xa0\n"),  # only space and tab are stripped
        (b"\ta\t\n", b"\ta\n"),  # leading tab kept
        ("a\u2028b".encode(), "a\u2028b\n".encode()),  # not a line break
        ("a\u3000".encode(), "a\u3000\n".encode()),  # ideographic space kept
        (b"a\r\r\nb", b"a\n\nb\n"),  # lone CR then CRLF: two breaks
        (b"a\n\r\nb", b"a\n\nb\n"),
    ],
)
def test_line_rules(raw: bytes, expected: bytes) -> None:
    assert canonicalize(raw) == expected
    assert is_canonical(expected)


# --- NFC, never NFKC. -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\ufb01", "\ufb01"),  # LATIN SMALL LIGATURE FI: NFKC would give "fi"
        ("\uff21", "\uff21"),  # FULLWIDTH A kept
        ("\u2460", "\u2460"),  # CIRCLED DIGIT ONE kept
        ("x\u00b2", "x\u00b2"),  # superscript two kept
        ("e\u0301", "\u00e9"),  # composed
        ("\u212b", "\u00c5"),  # ANGSTROM SIGN: canonical singleton
        ("\u1100\u1161", "\uac00"),  # Hangul jamo compose
        ("a\u0302\u0323", "\u1ead"),  # canonical reordering, then composition
    ],
)
def test_nfc_not_nfkc(text: str, expected: str) -> None:
    assert canonicalize(text.encode("utf-8")) == (expected + "\n").encode("utf-8")
    assert canonicalize_text(text) == expected + "\n"
    assert unicodedata.normalize("NFC", expected) == expected


# --- Hash. ------------------------------------------------------------------------------
def test_known_hash_vector() -> None:
    canonical = canonicalize(b"hello")
    assert canonical == b"hello\n"
    digest = statement_hash(canonical)
    # `printf 'hello\n' | sha256sum`
    expected = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert digest.hex() == expected
    assert format_statement_hash(digest) == "sha256:" + expected


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="sha256sum not installed")
def test_sha256sum_of_canonical_file(tmp_path: Path) -> None:
    canonical = canonicalize("Prénom\r\n  ligne\u0301 \r\n\r\n".encode())
    path = tmp_path / "statement.txt"
    path.write_bytes(canonical)
    exe = shutil.which("sha256sum")
    assert exe is not None
    output = subprocess.run([exe, str(path)], capture_output=True, check=True, text=True)
    assert output.stdout.split()[0] == statement_hash(canonical).hex()


@pytest.mark.parametrize(
    "raw",
    [
        b"hello",
        b"hello \n",
        b"hello\n\n",
        b"\nhello\n",
        b"hello\r\n",
        b"e\xcc\x81\n",
        b"\xef\xbb\xbfhello\n",
        b"\xff",
        b"",
        b"a\xe2\x80\x8b\n",
    ],
)
def test_hash_refuses_non_canonical(raw: bytes) -> None:
    with pytest.raises(FormatError, match="not canonical"):
        statement_hash(raw)
    assert not is_canonical(raw)


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_format_rejects_wrong_length(length: int) -> None:
    with pytest.raises(FormatError, match="32 bytes"):
        format_statement_hash(b"\x00" * length)


GOOD_HEX = hashlib.sha256(b"hello\n").hexdigest()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("SHA256:" + GOOD_HEX, id="uppercase-prefix"),
        pytest.param("sha256:" + GOOD_HEX.upper(), id="uppercase-hex"),
        pytest.param("sha256:" + GOOD_HEX[:-1], id="too-short"),
        pytest.param("sha256:" + GOOD_HEX + "0", id="too-long"),
        pytest.param("sha256:", id="prefix-only"),
        pytest.param(GOOD_HEX, id="missing-prefix"),
        pytest.param(" sha256:" + GOOD_HEX, id="leading-space"),
        pytest.param("sha256:" + GOOD_HEX + "\n", id="trailing-newline"),
        pytest.param("sha256: " + GOOD_HEX, id="space-after-colon"),
        pytest.param("sha256:" + GOOD_HEX[:32] + " " + GOOD_HEX[33:], id="inner-space"),
        pytest.param("sha-256:" + GOOD_HEX, id="other-prefix"),
        pytest.param("sha256:" + "\u0660" * 64, id="non-ascii-digits"),
        pytest.param("sha256:" + "g" * 64, id="non-hex"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_is_strict(text: str) -> None:
    with pytest.raises(FormatError, match="sha256"):
        parse_statement_hash(text)


def test_parse_accepts_exact_form() -> None:
    assert parse_statement_hash("sha256:" + GOOD_HEX) == bytes.fromhex(GOOD_HEX)


# --- Constants and the seed statement. ----------------------------------------------------
def test_constants() -> None:
    assert CANONICAL_VERSION == 1
    assert MAX_STATEMENT_BYTES == 1_048_576 == 1 << 20


@pytest.mark.skipif(not SEED.exists(), reason="seed statement not present")
def test_seed_statement() -> None:
    raw = SEED.read_bytes()
    canonical = canonicalize(raw)
    check_shape(canonical)
    assert canonicalize(canonical) == canonical
    assert is_canonical(canonical)
    assert reference(raw.decode("utf-8")) == canonical
    assert statement_hash(canonical) == hashlib.sha256(canonical).digest()


@pytest.mark.parametrize(
    "text",
    ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645\n", "\U0001f469\u200d\U0001f4bb\n"],
    ids=["persian-zwnj", "emoji-zwj-sequence"],
)
def test_joiners_are_kept_for_scripts_that_need_them(text: str) -> None:
    # docs/adr/0001: U+200C and U+200D are part of correct spelling in several scripts.
    assert canonicalize(text.encode()) == text.encode()
