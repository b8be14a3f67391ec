"""A small deterministic CBOR encoder for the vector generator, independent of ``ledger.codec``.

It writes exactly what it is told, in the order given (RFC 8949 §3), so the generator can build
both the deterministic encodings of valid vectors (to cross-check the library) and the
non-deterministic ones of negative vectors (long-form arguments, unordered or duplicate keys,
indefinite lengths). Maps are built from ``Pairs``: (key, already encoded value) in wire order.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import cbor2

Pairs = list[tuple[int, bytes]]


def head(major: int, value: int, *, size: int | None = None) -> bytes:
    """The initial byte and argument of a data item (RFC 8949 §3).

    ``size`` forces an argument of 1, 2, 4 or 8 bytes; by default the shortest form is used
    (RFC 8949 §4.2.1).
    """
    if size is None:
        if value < 24:
            return bytes([major << 5 | value])
        size = next(n for n in (1, 2, 4, 8) if value < 1 << (8 * n))
    info = {1: 24, 2: 25, 4: 26, 8: 27}[size]
    return bytes([major << 5 | info]) + value.to_bytes(size, "big")


def integer(value: int, *, size: int | None = None) -> bytes:
    if value >= 0:
        return head(0, value, size=size)
    return head(1, -1 - value, size=size)


def byte_string(value: bytes) -> bytes:
    return head(2, len(value)) + value


def text(value: str) -> bytes:
    data = value.encode("utf-8")
    return head(3, len(data)) + data


def array(items: Sequence[bytes]) -> bytes:
    return head(4, len(items)) + b"".join(items)


def cbor_map(pairs: Pairs) -> bytes:
    """A definite-length map with the pairs in the order given."""
    return head(5, len(pairs)) + b"".join(integer(key) + value for key, value in pairs)


def indefinite_map(pairs: Pairs) -> bytes:
    """The same map with an indefinite length (RFC 8949 §3.2.2), which the format forbids."""
    return b"\xbf" + b"".join(integer(key) + value for key, value in pairs) + b"\xff"


def tag(number: int, item: bytes) -> bytes:
    return head(6, number) + item


FLOAT64 = 0xFB  # initial byte of a 64-bit float (major type 7, additional information 27)


def float64(value: float) -> bytes:
    return bytes([FLOAT64]) + struct.pack(">d", value)


def replaced(pairs: Pairs, key: int, value: bytes) -> Pairs:
    """``pairs`` with the value of ``key`` replaced."""
    assert any(k == key for k, _ in pairs), f"no key {key} to replace"
    return [(k, value if k == key else v) for k, v in pairs]


def added(pairs: Pairs, key: int, value: bytes) -> Pairs:
    """``pairs`` with a new key, in ascending key order."""
    return sorted([*pairs, (key, value)], key=lambda pair: pair[0])


def removed(pairs: Pairs, key: int) -> Pairs:
    """``pairs`` without ``key``."""
    return [(k, v) for k, v in pairs if k != key]


def diagnostic(value: Any, indent: str | None = None) -> str:
    """RFC 8949 §8 diagnostic notation of a decoded value of the format's data model.

    With ``indent`` (the current indentation), maps are written one member per line.
    """
    if isinstance(value, cbor2.CBORTag):
        return f"{value.tag}({diagnostic(value.value)})"
    if isinstance(value, int | bytes | str):
        return _scalar(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(diagnostic(item) for item in value) + "]"
    if not hasattr(value, "items"):  # a dict, or cbor2's frozendict inside a tag
        raise TypeError(f"no diagnostic notation for {type(value).__name__}")
    if indent is None:
        return "{" + ", ".join(f"{k}: {diagnostic(v)}" for k, v in value.items()) + "}"
    inner = indent + "  "
    members = [f"{inner}{k}: {diagnostic(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(members) + "\n" + indent + "}"


def _scalar(value: int | bytes | str) -> str:
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
