"""Deterministic CBOR: the only module that uses ``cbor2``.

Everything the ledger hashes or signs is CBOR in the deterministic form of RFC 8949 §4.2.1:
definite lengths, shortest integer and length forms, no floats. Maps use unsigned integer keys
0..23, for which the length-first and bytewise key orders agree, so "keys in ascending order" is
the whole ordering rule.

The decoder accepts exactly one encoding per value. It rejects duplicate keys and indefinite
lengths while parsing, checks every value against the small data model below, and then compares a
plain re-encoding of the value with the input. The plain encoder emits shortest forms and keeps
map order, so the comparison catches long-form integers and lengths, trailing bytes, unordered
keys, and every tag that ``cbor2`` would have decoded into something else. This costs one plain
encode (about a quarter of a canonical one) instead of a canonical encode per value.

Data model (``CborValue``): ``int`` in [-2**64, 2**64 - 1], ``bytes``, ``str``, ``list`` of
values, ``dict`` with ``int`` keys 0..23, and ``cbor2.CBORTag`` with tag 18 (COSE_Sign1) or
98 (COSE_Sign) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import cbor2

from ledger.errors import FormatError

CborValue: TypeAlias = Any
"""A value of the data model above (``Any`` because it is recursive and includes ``CBORTag``)."""

COSE_SIGN1_TAG: Final = 18
COSE_SIGN_TAG: Final = 98
MAX_KEY: Final = 23
MAX_DEPTH: Final = 8
UINT_MAX: Final = 2**64 - 1
"""The largest unsigned integer of the data model (larger ones would be bignum tags)."""
_INT_MIN: Final = -(2**64)
_INT_MAX: Final = UINT_MAX
_ALLOWED_TAGS: Final = frozenset({COSE_SIGN1_TAG, COSE_SIGN_TAG})


def encode(value: CborValue) -> bytes:
    """Encode a value of the data model deterministically.

    Args:
        value: ints, bytes, str, lists, int-keyed dicts and tag-18 values, nested.

    Returns:
        The deterministic CBOR bytes. Map keys are emitted in ascending order whatever
        the order of the dict.

    Raises:
        FormatError: the value is outside the data model (a float, a bool, a text key...).
    """
    return bytes(cbor2.dumps(_normalise(value, 0)))


def decode(data: bytes, *, max_size: int, what: str) -> CborValue:
    """Decode deterministic CBOR strictly, rejecting every non-canonical encoding.

    Args:
        data: the received bytes; they are what callers hash and verify, never a re-encoding.
        max_size: reject input longer than this many bytes before parsing.
        what: a short name of the object for error messages ("entry", "endorsement").

    Returns:
        The decoded value (see the module's data model).

    Raises:
        FormatError: over-size, malformed, trailing bytes, duplicate keys, indefinite lengths,
            values outside the data model, or any encoding that is not the deterministic one.
    """
    if len(data) > max_size:
        raise FormatError(f"{what}: {len(data)} bytes exceeds the limit of {max_size}")
    if not data:
        raise FormatError(f"{what}: empty input")
    try:
        value = cbor2.loads(
            data,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=MAX_DEPTH + 1,
        )
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FormatError(f"{what}: not valid CBOR ({_short(exc)})") from None
    _check(value, 0, what)
    try:
        again = cbor2.dumps(value)
    except (cbor2.CBORError, ValueError, TypeError) as exc:  # pragma: no cover - defensive
        raise FormatError(f"{what}: cannot re-encode ({_short(exc)})") from None
    if again != data:
        raise FormatError(f"{what}: {_difference(data, again)}")
    return value


def decode_exact(data: bytes, *, max_size: int) -> CborValue | None:
    """The fast half of ``decode`` for decoders that know the exact shape they expect.

    Returns the value only if ``data`` parses as CBOR (with ``decode``'s parser settings) and
    re-encodes to exactly ``data``; else None, and the caller runs ``decode`` to get the error.
    It does NOT walk the value: the caller must check every field's exact type (``type(x) is
    int``, ``bytes``, ``str``, ``dict`` with the expected keys in ascending order), the range
    of every integer, and nothing else may be accepted. With those checks, a value accepted
    here is one ``decode`` accepts and returns equal (``tests/test_codec.py`` checks it), at
    the cost of one parse and one plain encode (no ``_check`` walk, no ``Fields`` lookups).
    """
    if len(data) > max_size:
        return None
    try:
        value = cbor2.loads(
            data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=MAX_DEPTH + 1
        )
        if cbor2.dumps(value) != data:
            return None
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    return value


def encode_strings(items: list[bytes | str]) -> bytes:
    """Encode a flat array of byte and text strings (a COSE ``Sig_structure``).

    The same bytes as ``encode(items)``, without its normalising walk: strings have one
    encoding, so there is nothing to normalise.
    """
    return bytes(cbor2.dumps(items))


def _normalise(value: CborValue, depth: int) -> CborValue:
    if depth > MAX_DEPTH:
        raise FormatError(f"value nested deeper than {MAX_DEPTH}")
    if isinstance(value, bool) or value is None:
        raise FormatError(f"{type(value).__name__} is not in the data model")
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise FormatError(f"integer {value} is out of the 64-bit range")
        return value
    if isinstance(value, bytes | str):
        return value
    if isinstance(value, list | tuple):
        return [_normalise(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        for key in value:
            _check_key(key, "value")
        return {key: _normalise(value[key], depth + 1) for key in sorted(value)}
    if isinstance(value, cbor2.CBORTag) and value.tag in _ALLOWED_TAGS:
        return cbor2.CBORTag(value.tag, _normalise(value.value, depth + 1))
    raise FormatError(f"{type(value).__name__} is not in the data model")


def _check(value: CborValue, depth: int, what: str) -> None:  # noqa: PLR0912 - one branch a type
    """Walk a decoded value: types of the data model only, and map keys ascending."""
    if depth > MAX_DEPTH:
        raise FormatError(f"{what}: nested deeper than {MAX_DEPTH}")
    kind = type(value)
    # Exact type tests first: they are the common case and exclude bool (a subclass of int).
    if kind is bytes or kind is str:
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise FormatError(f"{what}: integer out of the 64-bit range (bignum tag)")
        return
    if kind is list or kind is tuple:  # cbor2 gives tuples for arrays inside tags
        if value and depth >= MAX_DEPTH:  # its items, leaves included, would be too deep
            raise FormatError(f"{what}: nested deeper than {MAX_DEPTH}")
        for item in value:
            if type(item) is not bytes:
                _check(item, depth + 1, what)
        return
    if kind is dict or isinstance(value, Mapping):  # or cbor2's frozendict inside a tag
        if value and depth >= MAX_DEPTH:
            raise FormatError(f"{what}: nested deeper than {MAX_DEPTH}")
        previous = -1
        for key, item in value.items():
            if type(key) is not int or not previous < key <= MAX_KEY:
                _check_key(key, what)
                raise FormatError(f"{what}: map keys out of order ({key} after {previous})")
            previous = key
            item_kind = type(item)
            if item_kind is not bytes and item_kind is not str:
                _check(item, depth + 1, what)
        return
    if kind is cbor2.CBORTag:
        if value.tag not in _ALLOWED_TAGS:
            raise FormatError(f"{what}: tag {value.tag} is not allowed")
        _check(value.value, depth + 1, what)
        return
    if kind is bool or value is None:
        raise FormatError(f"{what}: simple value {value!r} is not allowed")
    raise FormatError(
        f"{what}: {kind.__name__} is not allowed (floats, tags and "
        "other simple values are not part of the format)"
    )


def _check_key(key: object, what: str) -> None:
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= MAX_KEY:
        raise FormatError(f"{what}: map key {key!r} is not an integer in 0..{MAX_KEY}")


def _difference(data: bytes, again: bytes) -> str:
    if len(again) < len(data) and data.startswith(again):
        return f"{len(data) - len(again)} trailing bytes after the value"
    offset = next(
        (i for i, (a, b) in enumerate(zip(data, again, strict=False)) if a != b),
        min(len(data), len(again)),
    )
    return f"not deterministic CBOR (first difference at byte {offset}; RFC 8949 §4.2.1)"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


class Fields:
    """Typed, strict access to an integer-keyed map decoded from the wire.

    Every read names the object and the field in its error, and ``finish`` rejects keys that
    no reader asked for, so unknown fields are refused rather than silently ignored.
    """

    __slots__ = ("_seen", "_value", "_what")

    def __init__(self, value: CborValue, what: str) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise FormatError(f"{what}: expected a map, got {_kind(value)}")
        self._value: Mapping[int, CborValue] = value
        self._what = what
        self._seen: set[int] = set()

    def _get(self, key: int, name: str, required: bool) -> CborValue:
        self._seen.add(key)
        if key not in self._value:
            if required:
                raise FormatError(f"{self._what}: missing field {name} (key {key})")
            return None
        return self._value[key]

    def uint(self, key: int, name: str) -> int:
        """A required unsigned integer."""
        value = self._get(key, name, True)
        if type(value) is not int or value < 0:
            raise FormatError(f"{self._what}: {name} must be an unsigned integer")
        return value

    def bytes_(self, key: int, name: str, size: int | None = None) -> bytes:
        """A required byte string, optionally of an exact size."""
        value = self._get(key, name, True)
        if not isinstance(value, bytes):
            raise FormatError(f"{self._what}: {name} must be a byte string")
        if size is not None and len(value) != size:
            raise FormatError(f"{self._what}: {name} must be {size} bytes, got {len(value)}")
        return value

    def text(self, key: int, name: str, *, max_len: int) -> str:
        """A required text string of at most ``max_len`` code points."""
        value = self._get(key, name, True)
        return self._text(value, name, max_len)

    def optional_text(self, key: int, name: str, *, max_len: int) -> str | None:
        """An optional text string; absent is ``None`` (an empty string is not allowed)."""
        value = self._get(key, name, False)
        return None if value is None else self._text(value, name, max_len)

    def time(self, key: int, name: str, *, maximum: int) -> int:
        """A required time in seconds since 1970, below ``maximum``."""
        value = self.uint(key, name)
        if value >= maximum:
            raise FormatError(f"{self._what}: {name} {value} is after the year 9999")
        return value

    def optional_bytes(self, key: int, name: str, size: int) -> bytes | None:
        """An optional byte string of an exact size."""
        if key not in self._value:
            self._seen.add(key)
            return None
        return self.bytes_(key, name, size)

    def optional_time(self, key: int, name: str, *, maximum: int) -> int | None:
        """An optional time in seconds since 1970, below ``maximum``."""
        if key not in self._value:
            self._seen.add(key)
            return None
        return self.time(key, name, maximum=maximum)

    def optional_uint(self, key: int, name: str) -> int | None:
        """An optional unsigned integer."""
        if key not in self._value:
            self._seen.add(key)
            return None
        return self.uint(key, name)

    def any(self, key: int, name: str) -> CborValue:
        """A required field of any type, for the caller to check."""
        return self._get(key, name, True)

    def finish(self) -> None:
        """Reject fields that no reader asked for."""
        unknown = sorted(set(self._value) - self._seen)
        if unknown:
            raise FormatError(f"{self._what}: unknown field key(s) {unknown}")

    def _text(self, value: CborValue, name: str, max_len: int) -> str:
        if not isinstance(value, str):
            raise FormatError(f"{self._what}: {name} must be a text string")
        if not value:
            raise FormatError(f"{self._what}: {name} is empty")
        if len(value) > max_len:
            raise FormatError(f"{self._what}: {name} is longer than {max_len} characters")
        return value


def _kind(value: object) -> str:
    for kinds, name in (
        ((Mapping,), "a map"),
        ((list, tuple), "an array"),
        ((bytes,), "a byte string"),
        ((str,), "a text string"),
        ((int,), "an integer"),
    ):
        if isinstance(value, kinds):
            return name
    return type(value).__name__
