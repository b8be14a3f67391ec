"""Rules for short display texts that come from organisations: names, titles, origins.

An organisation may call itself anything, so these texts are checked only for what would make
them lie about themselves on a screen: control characters, line breaks, the bidirectional
controls that can reorder what a reader sees ("Trojan Source"), and invisible format characters
(zero-width spaces, soft hyphens, tag characters) that make two different names look the same.
The zero-width joiner and non-joiner (U+200D, U+200C) stay allowed: several scripts need them
to spell words correctly. Escaping for HTML and terminals happens where text is displayed.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from ledger.errors import FormatError

# Bidirectional embeddings, overrides and isolates, plus the marks that steer them.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JOINERS = frozenset("\u200c\u200d")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_COUNTRY = re.compile(r"[A-Z]{2}")


def check_display_text(text: str, what: str, *, max_len: int) -> str:
    """Accept a one-line display text or raise.

    Args:
        text: the text to check.
        what: its name in error messages ("name", "title").
        max_len: the most code points allowed.

    Returns:
        ``text`` unchanged.

    Raises:
        FormatError: empty, too long, not NFC, with leading or trailing space, or containing
            a control character, a line break or a bidirectional control.
    """
    if not text or text.strip() != text:
        raise FormatError(f"{what} is empty or has leading or trailing white space")
    if len(text) > max_len:
        raise FormatError(f"{what} is longer than {max_len} characters")
    if text.isascii() and text.isprintable():
        return text  # printable ASCII: no controls, no format characters, already NFC
    for column, char in enumerate(text, 1):
        category = unicodedata.category(char)
        invisible = category == "Cf" and char not in _JOINERS
        if char in _BIDI or invisible or category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise FormatError(
                f"{what}: character {column} is U+{ord(char):04X}, which is not allowed "
                "(control, line break, bidirectional control or invisible character)"
            )
    if unicodedata.normalize("NFC", text) != text:
        raise FormatError(f"{what} is not in Unicode NFC form")
    return text


def check_domain(domain: str) -> str:
    """Accept a lowercase ASCII DNS name (IDNs in their ``xn--`` form) or raise FormatError."""
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
    ):
        raise FormatError(
            f"domain {domain!r} is not a lowercase DNS name like example.org "
            "(internationalised names in their xn-- form)"
        )
    return domain


def check_country(country: str) -> str:
    """Accept an ISO 3166-1 alpha-2 code in capitals (``BE``) or raise FormatError."""
    if not _COUNTRY.fullmatch(country):
        raise FormatError(f"country {country!r} is not a two-letter ISO 3166-1 code like BE")
    return country


def check_url(url: str) -> str:
    """Accept an absolute http(s) URL without white space or controls, or raise FormatError."""
    check_display_text(url, "url", max_len=2048)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # urllib's own checks: a bad IPv6 literal, NFKC-unsafe characters
        hostname = None
    if not url.startswith(("https://", "http://")) or not hostname or any(c.isspace() for c in url):
        raise FormatError(f"url {url[:80]!r} must be an absolute http:// or https:// URL")
    return url
