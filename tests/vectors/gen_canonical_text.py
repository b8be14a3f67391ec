"""canonical-text.json: canonical statement text v1 (docs/format.md section 3)."""

from __future__ import annotations

from typing import NamedTuple

from gen_common import Json, agree, display_hash, expect_error, provenance, sha256

from ledger import statement


class Case(NamedTuple):
    name: str
    raw: bytes
    canonical: str | None  # None: rejected
    description: str
    error_contains: str = ""


def _u(text: str) -> bytes:
    return text.encode("utf-8")


# One row per case reads better than the formatter's one argument per line.
# fmt: off
CASES: tuple[Case, ...] = (
    Case("already-canonical", b"Hello, world.\n", "Hello, world.\n", "canonical input is kept"),
    Case("crlf", b"one\r\ntwo\r\n", "one\ntwo\n", "CRLF becomes LF"),
    Case("cr", b"one\rtwo\r", "one\ntwo\n", "a lone CR becomes LF"),
    Case("cr-crlf-lf-mixed", b"a\rb\r\nc\nd", "a\nb\nc\nd\n", "every line end becomes LF"),
    Case("cr-cr-lf", b"a\r\r\nb", "a\n\nb\n", "CR CR LF is a CR, then a CRLF: two line ends"),
    Case("trailing-spaces-tabs", b"one \t \ntwo\t\n", "one\ntwo\n",
         "trailing spaces and tabs are removed"),
    Case("leading-spaces-kept", b"  indented\n\tline\n", "  indented\n\tline\n",
         "leading white space is kept"),
    Case("interior-tab-kept", b"a\tb\n", "a\tb\n", "a tab inside a line is kept"),
    Case("trailing-nbsp-kept", _u("a\u00a0\n"), "a\u00a0\n",
         "only U+0020 and TAB are stripped, not U+00A0 NO-BREAK SPACE"),
    Case("bom-dropped", _u("\ufeffHello\n"), "Hello\n", "one leading BOM is dropped"),
    Case("nfc-composition", _u("Cafe\u0301\n"), "Caf\u00e9\n",
         "e followed by U+0301 composes to U+00E9 (NFC)"),
    Case("nfc-singleton", _u("\u212b\n"), "\u00c5\n",
         "U+212B ANGSTROM SIGN becomes U+00C5 (NFC)"),
    Case("nfc-reordering", _u("a\u0301\u0323\n"), "\u1ea1\u0301\n",
         "combining marks are put in canonical order, then composed"),
    Case("nfkc-not-applied-fb01", _u("\ufb01nal\n"), "\ufb01nal\n",
         "U+FB01 LATIN SMALL LIGATURE FI is kept (NFKC would make it 'fi')"),
    Case("nfkc-not-applied-fullwidth", _u("\uff21\u00b2\n"), "\uff21\u00b2\n",
         "U+FF21 and U+00B2 are kept: compatibility mappings are not applied"),
    Case("leading-trailing-blank-lines", b"\n\n\nText\n\n\n", "Text\n",
         "blank lines at both ends are removed"),
    Case("whitespace-only-lines-are-blank", b" \n\t\nText\n \t\n", "Text\n",
         "lines of spaces and tabs become blank in step 4, then are removed at both ends"),
    Case("interior-blank-lines-kept", b"a\n\n\nb\n", "a\n\n\nb\n",
         "blank lines inside the text are kept"),
    Case("missing-final-lf", b"Text", "Text\n", "a final LF is added"),
    Case("u2028-not-a-line-end", _u("a\u2028b\n"), "a\u2028b\n",
         "U+2028 LINE SEPARATOR is an ordinary character, not a line end"),
    Case("rejected-nul", b"a\x00b\n", None, "NUL (C0 control)", "line 1 column 2: U+0000"),
    Case("rejected-escape", b"\x1b[31mred\n", None, "ESC (C0 control; terminal escapes)",
         "line 1 column 1: U+001B"),
    Case("rejected-form-feed", b"a\x0cb\n", None, "FF (C0 control)", "U+000C"),
    Case("rejected-vertical-tab", b"a\x0bb\n", None, "VT (C0 control)", "U+000B"),
    Case("rejected-del", b"a\x7f\n", None, "DEL", "line 1 column 2: U+007F"),
    Case("rejected-c1-nel", _u("a\u0085b\n"), None, "U+0085 NEXT LINE (C1 control)",
         "line 1 column 2: U+0085"),
    Case("rejected-rlo", _u("one\ntwo \u202eowt\n"), None, "U+202E RIGHT-TO-LEFT OVERRIDE",
         "line 2 column 5: U+202E RIGHT-TO-LEFT OVERRIDE"),
    Case("rejected-lri", _u("\u2066x\u2069\n"), None,
         "U+2066 LEFT-TO-RIGHT ISOLATE and U+2069 POP DIRECTIONAL ISOLATE",
         "line 1 column 1: U+2066 LEFT-TO-RIGHT ISOLATE; line 1 column 3: U+2069"),
    Case("rejected-alm", _u("a\u061cb\n"), None, "U+061C ARABIC LETTER MARK", "U+061C"),
    Case("rejected-zwsp", _u("pay\u200bpal\n"), None, "U+200B ZERO WIDTH SPACE",
         "line 1 column 4: U+200B ZERO WIDTH SPACE"),
    Case("kept-zwnj-persian", _u("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645\n"),
         "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645\n",
         "U+200C ZERO WIDTH NON-JOINER is kept (docs/adr/0001)"),
    Case("rejected-word-joiner", _u("a\u2060b\n"), None, "U+2060 WORD JOINER", "U+2060"),
    Case("rejected-soft-hyphen", _u("co\u00adop\n"), None, "U+00AD SOFT HYPHEN",
         "line 1 column 3: U+00AD SOFT HYPHEN"),
    Case("rejected-cgj", _u("a\u034fb\n"), None,
         "U+034F COMBINING GRAPHEME JOINER (category Mn, listed explicitly)", "U+034F"),
    Case("rejected-mongolian-vs", _u("a\u180eb\n"), None, "U+180E MONGOLIAN VOWEL SEPARATOR",
         "U+180E"),
    Case("rejected-second-bom", _u("\ufeff\ufeffText\n"), None,
         "a BOM after the one leading BOM", "line 1 column 1: U+FEFF"),
    Case("rejected-interior-bom", _u("a\ufeffb\n"), None, "U+FEFF inside the text",
         "line 1 column 2: U+FEFF"),
    Case("rejected-private-use", _u("a\ue000\n"), None, "U+E000 (private use, Co)", "U+E000"),
    Case("rejected-noncharacter", _u("a\uffff\n"), None, "U+FFFF (noncharacter, Cn)", "U+FFFF"),
    Case("rejected-tag-character", _u("a\U000e0041\n"), None,
         "U+E0041 TAG LATIN CAPITAL LETTER A (Cf)", "U+E0041"),
    Case("rejected-position-after-cr", b"a\rb\x00\n", None,
         "positions count lines after CR became LF", "line 2 column 2: U+0000"),
    Case("rejected-many", b"\x01" * 25 + b"\n", None,
         "the first 20 offenders are listed, then a count",
         "line 1 column 20: U+0001; (and 5 more)"),
    Case("invalid-utf8-ff", b"ab\xffcd\n", None, "byte 0xFF is never UTF-8",
         "invalid UTF-8 at byte offset 2 (line 1 column 3)"),
    Case("invalid-utf8-overlong", b"a\n\xc0\xafb\n", None, "an overlong encoding of '/'",
         "invalid UTF-8 at byte offset 2 (line 2 column 1)"),
    Case("invalid-utf8-surrogate", b"a\xed\xa0\x80\n", None,
         "an encoded UTF-16 surrogate (U+D800)", "invalid UTF-8 at byte offset 1"),
    Case("invalid-utf8-truncated", b"a\xe2\x82", None,
         "a 3-byte sequence cut short by the end", "invalid UTF-8 at byte offset 1"),
    Case("invalid-utf8-latin1", b"caf\xe9\n", None, "Latin-1 text, not UTF-8",
         "invalid UTF-8 at byte offset 3"),
    Case("empty", b"", None, "no text", "statement text is empty"),
    Case("only-white-space", b" \n\t\r\n\n", None, "only white space and line ends",
         "statement text is empty"),
    Case("only-bom", _u("\ufeff"), None, "only a BOM", "statement text is empty"),
)
# fmt: on


def build() -> Json:
    """The file's content."""
    cases = []
    for case in CASES:
        item: Json = {
            "name": case.name,
            "description": case.description,
            "input_hex": case.raw.hex(),
        }
        if case.canonical is None:
            expect_error(
                lambda raw=case.raw: statement.canonicalize(raw),
                "FormatError",
                case.error_contains,
                f"canonical text {case.name}",
            )
            item |= {"error": "FormatError", "error_contains": case.error_contains}
        else:
            canonical = case.canonical.encode("utf-8")
            agree(statement.canonicalize(case.raw) == canonical, f"canonical text {case.name}")
            item |= {
                "canonical_hex": canonical.hex(),
                "statement_hash": display_hash(sha256(canonical)),
            }
        cases.append(item)
    return {
        "description": (
            "Canonical statement text, version 1: for each input, the canonical bytes and the "
            "statement hash (SHA-256 of the canonical bytes, as sha256sum prints it), or the "
            "rejection (FormatError) with a substring of the message, whose positions are "
            "1-based lines and code-point columns."
        ),
        "provenance": provenance("section 3 (Canonical statement text, version 1)"),
        "cases": cases,
    }
