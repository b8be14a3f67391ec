"""Canonical statement text, version 1, and the statement hash.

A statement (the text of an open letter) is signed through its hash, so every party
must derive the same bytes from the same text. Canonicalisation of input bytes, in order:

1. Reject input over ``MAX_STATEMENT_BYTES`` (1 MiB) before decoding. Decode as strict
   UTF-8; invalid UTF-8 is rejected with the byte offset (0-based), line and column of
   the first bad byte. Exactly one leading BOM (U+FEFF) is dropped.
2. CRLF and lone CR become LF. Only LF ends a line afterwards: U+2028 and U+2029 are
   ordinary characters (U+0085 NEL, a C1 control, is rejected in step 3).
3. Reject C0 controls other than TAB and LF, DEL, C1 controls, the bidirectional
   controls U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, the invisible
   characters U+200B, U+2060..U+2064, U+FEFF (not leading), U+00AD, U+180E,
   U+FFF9..U+FFFB, U+034F, and every other code point of category Cf, Cs, Co or Cn,
   except the zero-width non-joiner and joiner (U+200C, U+200D), which Persian, Indic
   scripts and emoji sequences need to be spelled correctly (docs/adr/0001). The
   message lists every offender as ``line L column C: U+XXXX NAME`` (1-based, columns in
   code points, positions after steps 1-2), the first 20 then ``(and N more)``.
4. Strip trailing spaces (U+0020) and tabs from every line; nothing else.
5. NFC-normalise (never NFKC).
6. Drop leading and trailing blank (empty) lines.
7. End with exactly one LF. An empty result is rejected ("statement text is empty"),
   and so is a result over ``MAX_STATEMENT_BYTES``: otherwise a canonical text could be
   refused when canonicalised again, and the function would not be idempotent.

The statement hash is SHA-256 of the canonical bytes (what ``sha256sum`` prints for the
canonical file), displayed as ``sha256:<64 lowercase hex>``. Categories and NFC come from
the running Python's ``unicodedata``, so code points unassigned there are rejected.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

from ledger.errors import FormatError

CANONICAL_VERSION: Final = 1
MAX_STATEMENT_BYTES: Final = 1_048_576

_MAX_REPORTED: Final = 20
_HASH_PREFIX: Final = "sha256:"
_HASH_RE: Final = re.compile(r"sha256:[0-9a-f]{64}")
_REJECTED_CATEGORIES: Final = frozenset({"Cf", "Cs", "Co", "Cn"})
_JOINERS: Final = frozenset("\u200c\u200d")  # Cf, but needed to spell words in some scripts

# Listed although most are Cf: U+034F is Mn and U+180E was Zs before Unicode 6.3, so the
# category test alone would make the rejected set depend on the Unicode version.
_EXPLICIT: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi
    "\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"  # invisible
    "\ufff9\ufffa\ufffb\u034f"
)


def _is_rejected(ch: str) -> bool:
    cp = ord(ch)
    if (cp < 0x20 and ch not in "\t\n") or 0x7F <= cp <= 0x9F:  # C0 (but TAB, LF), DEL, C1
        return True
    if ch in _JOINERS:
        return False
    return ch in _EXPLICIT or unicodedata.category(ch) in _REJECTED_CATEGORIES


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column in code points) of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, None)
    code = f"U+{ord(ch):04X}"
    return f"{code} {name}" if name else code


def _check_characters(text: str) -> None:
    # Scanning the distinct characters first keeps the common, clean case at C speed.
    bad = sorted(ch for ch in set(text) if _is_rejected(ch))
    if not bad:
        return
    total = sum(text.count(ch) for ch in bad)
    pattern = re.compile("[" + "".join(re.escape(ch) for ch in bad) + "]")
    parts: list[str] = []
    for match in pattern.finditer(text):
        if len(parts) == _MAX_REPORTED:
            break
        line, column = _position(text, match.start())
        parts.append(f"line {line} column {column}: {_describe(match.group())}")
    if total > _MAX_REPORTED:
        parts.append(f"(and {total - _MAX_REPORTED} more)")
    raise FormatError("statement text rejected: " + "; ".join(parts))


def _check_size(size: int, what: str) -> None:
    if size > MAX_STATEMENT_BYTES:
        raise FormatError(
            f"statement {what} is {size} bytes, over the size limit of "
            f"{MAX_STATEMENT_BYTES} bytes (1 MiB)"
        )


def _unify_lines(text: str) -> str:
    """Steps 1 (drop one leading BOM) and 2 (CRLF and CR to LF)."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _canonical(text: str) -> str:
    """Steps 1 (BOM) to 7 on decoded text; returns the canonical text."""
    text = _unify_lines(text)
    _check_characters(text)
    # Strip before NFC as the spec orders; NFC cannot create a trailing space or tab (no
    # canonical decomposition contains U+0020 or U+0009, and both have combining class 0,
    # so reordering cannot move them), so no second strip is needed for idempotence.
    # Splitting on "\n" only: str.splitlines() would also split on U+2028, U+0085 etc.
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    # LF is a starter that composes with nothing, so NFC of the whole text equals NFC
    # per line and cannot merge or empty lines.
    text = unicodedata.normalize("NFC", text)
    text = text.strip("\n")
    if not text:
        raise FormatError("statement text is empty")
    return text + "\n"


def canonicalize(raw: bytes) -> bytes:
    """Return the canonical statement text v1 of ``raw``.

    Args:
        raw: Statement text as bytes, expected to be UTF-8.
    Returns:
        The canonical UTF-8 bytes: NFC, LF line ends, no trailing spaces or tabs,
        no leading or trailing blank lines, exactly one final LF.
    Raises:
        FormatError: ``raw`` or its canonical form is over ``MAX_STATEMENT_BYTES``,
            ``raw`` is not UTF-8 or has a rejected character, or the result is empty.
    """
    _check_size(len(raw), "text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The prefix before the first bad byte is valid, so it decodes.
        prefix = _unify_lines(raw[: exc.start].decode("utf-8"))
        line, column = _position(prefix, len(prefix))
        raise FormatError(
            f"statement text rejected: invalid UTF-8 at byte offset {exc.start} "
            f"(line {line} column {column}): {exc.reason}"
        ) from None
    result = _canonical(text).encode("utf-8")
    _check_size(len(result), "canonical text")
    return result


def canonicalize_text(text: str) -> str:
    """Return the canonical statement text v1 of an already decoded string.

    Args:
        text: Statement text; lone surrogates are rejected as category Cs.
    Returns:
        The canonical text, so that ``canonicalize_text(t).encode()`` equals
        ``canonicalize(t.encode())`` whenever ``t`` encodes.
    Raises:
        FormatError: As ``canonicalize``; the size limit applies to UTF-8 lengths.
    """
    # Every code point is at least one byte, so a long string is refused before encoding.
    size = len(text)
    if size <= MAX_STATEMENT_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
    _check_size(size, "text")
    result = _canonical(text)
    _check_size(len(result.encode("utf-8")), "canonical text")
    return result


def is_canonical(raw: bytes) -> bool:
    """Tell whether ``raw`` is already canonical statement text v1.

    Args:
        raw: Candidate canonical bytes.
    Returns:
        True when ``canonicalize(raw) == raw``; False otherwise, including when
        ``canonicalize`` rejects ``raw``.
    """
    try:
        return canonicalize(raw) == raw
    except FormatError:
        return False


def statement_hash(canonical: bytes) -> bytes:
    """Return the SHA-256 digest of canonical statement bytes.

    Args:
        canonical: Bytes already in canonical form (the output of ``canonicalize``).
    Returns:
        The 32-byte digest, equal to ``sha256sum`` of a file holding ``canonical``.
    Raises:
        FormatError: ``canonical`` is not canonical; hashing it anyway would give a
            hash that others cannot reproduce from the same text.
    """
    try:
        canonical_form = canonicalize(canonical)
    except FormatError as exc:
        raise FormatError(f"statement bytes are not canonical: {exc}") from exc
    if canonical_form != canonical:
        raise FormatError("statement bytes are not canonical: canonicalize them first")
    return hashlib.sha256(canonical).digest()


def format_statement_hash(digest: bytes) -> str:
    """Return the display form ``sha256:<64 lowercase hex>`` of a statement hash.

    Args:
        digest: The 32-byte SHA-256 digest.
    Returns:
        The display string.
    Raises:
        FormatError: ``digest`` is not exactly 32 bytes long.
    """
    if len(digest) != 32:
        raise FormatError(f"statement hash must be 32 bytes, got {len(digest)}")
    return _HASH_PREFIX + digest.hex()


def parse_statement_hash(text: str) -> bytes:
    """Parse the display form of a statement hash, strictly.

    Args:
        text: Exactly ``sha256:`` and 64 lowercase hex digits; no whitespace.
    Returns:
        The 32-byte digest.
    Raises:
        FormatError: ``text`` is not exactly in the display form.
    """
    if _HASH_RE.fullmatch(text) is None:
        raise FormatError(f"statement hash must be 'sha256:' and 64 lowercase hex: {text!r:.90}")
    return bytes.fromhex(text.removeprefix(_HASH_PREFIX))
