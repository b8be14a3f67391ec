"""Ledger entries: deterministic CBOR maps, one per record, chained by leaf hash.

Wire form (CDDL)::

    entry = { 0: 1,                       ; format version
              1: uint,                    ; sequence number, 0-based
              2: bstr .size 32,           ; prev: leaf hash of entry seq-1; 32 zero bytes at 0
              3: entry-type,              ; 0 genesis, 1 endorsement
              4: bstr .size 32,           ; statement hash, the same in every entry
              5: uint,                    ; time recorded by the log, seconds since the epoch
              6: genesis-body / bstr }    ; endorsement body: the COSE_Sign1 bytes as signed
    genesis-body = { 0: tstr,             ; statement title
                     1: tstr,             ; canonical statement text (its SHA-256 is key 4)
                     2: tstr,             ; log origin
                     3: tstr }            ; log verifier key (C2SP signed-note vkey)

The leaf hash of an entry is RFC 9162's ``SHA-256(0x00 || entry bytes)``; ``prev`` uses the same
hash, so the chain and the Merkle tree agree on one hash per entry. An entry fits in 65,535 bytes
(C2SP tlog-tiles entry bundles use a 16-bit length).
"""

from __future__ import annotations

from typing import Final

from ledger import codec
from ledger.codec import Fields
from ledger.errors import FormatError
from ledger.model import HASH_SIZE, MAX_TIME, Entry, EntryType, Genesis
from ledger.names import check_display_text

ENTRY_VERSION: Final = 1
MAX_ENTRY_BYTES: Final = 65_535
MAX_TITLE_LENGTH: Final = 512
MAX_ORIGIN_LENGTH: Final = 256
ZERO_HASH: Final = bytes(HASH_SIZE)
_UINT_MAX: Final = 2**64 - 1
_MAJOR_UINT: Final = 0
_MAJOR_BYTES: Final = 2
_BODY_TYPES: Final = (EntryType.ENDORSEMENT, EntryType.LOG)


def encode_entry(entry: Entry) -> bytes:
    """Encode an entry deterministically.

    Raises:
        FormatError: a field is malformed, or the result exceeds 65,535 bytes.
    """
    if entry.version != ENTRY_VERSION:
        raise FormatError(f"entry {entry.seq}: unsupported version {entry.version}")
    if not isinstance(entry.body, Genesis):
        return _encode_endorsement_entry(entry)
    if entry.type != EntryType.GENESIS:
        raise FormatError(f"entry {entry.seq}: genesis body in a non-genesis entry")
    _check_genesis(entry.body)
    if len(entry.prev) != HASH_SIZE or len(entry.statement_hash) != HASH_SIZE:
        raise FormatError(f"entry {entry.seq}: prev and statement hash must be 32 bytes")
    data = codec.encode(
        {
            0: entry.version,
            1: entry.seq,
            2: entry.prev,
            3: int(entry.type),
            4: entry.statement_hash,
            5: entry.recorded_at,
            6: {
                0: entry.body.title,
                1: entry.body.statement_text,
                2: entry.body.origin,
                3: entry.body.log_key,
            },
        }
    )
    _check_size(entry.seq, data)
    # One encoding per entry, both ways: never write what decode_entry would refuse to read.
    if decode_entry(data) != entry:
        raise FormatError(f"entry {entry.seq}: does not survive a decode round trip")
    return data


def _encode_endorsement_entry(entry: Entry) -> bytes:
    """An entry whose body is a byte string, built directly from its fields.

    Every field is checked against the rule ``decode_entry`` applies to it, so what is written
    decodes back to ``entry`` (the tests hold this against ``decode_entry`` for random
    entries); a decode round trip per entry would double the cost of encoding on ``append``.
    """
    seq, prev, statement_hash, recorded_at, body = (
        entry.seq,
        entry.prev,
        entry.statement_hash,
        entry.recorded_at,
        entry.body,
    )
    if entry.type == EntryType.GENESIS:
        raise FormatError(f"entry {seq}: genesis entry without a genesis body")
    if entry.type not in _BODY_TYPES:
        raise FormatError(f"entry {seq}: unknown entry type {entry.type}")
    if type(seq) is not int or not 0 <= seq <= _UINT_MAX:
        raise FormatError(f"entry {seq}: sequence number must be an unsigned integer")
    if not isinstance(prev, bytes | bytearray) or not isinstance(statement_hash, bytes | bytearray):
        raise FormatError(f"entry {seq}: prev and statement hash must be byte strings")
    if len(prev) != HASH_SIZE or len(statement_hash) != HASH_SIZE:
        raise FormatError(f"entry {seq}: prev and statement hash must be 32 bytes")
    if type(recorded_at) is not int or recorded_at < 0:
        raise FormatError(f"entry {seq}: recorded-at time must be an unsigned integer")
    if recorded_at >= MAX_TIME:
        raise FormatError(f"entry {seq}: recorded-at time {recorded_at} is after the year 9999")
    if not isinstance(body, bytes | bytearray):
        raise FormatError(f"entry {seq}: endorsement body must be the COSE_Sign1 bytes")
    # RFC 8949 §4.2.1: a map of 7 pairs with keys 0..6 in order, each value in its shortest
    # form; keys 0..6 and the version are one-byte integers.
    data = b"".join(
        (
            b"\xa7\x00\x01\x01",
            _head(_MAJOR_UINT, seq),
            b"\x02\x58\x20",
            prev,
            b"\x03",
            _head(_MAJOR_UINT, int(entry.type)),
            b"\x04\x58\x20",
            statement_hash,
            b"\x05",
            _head(_MAJOR_UINT, recorded_at),
            b"\x06",
            _head(_MAJOR_BYTES, len(body)),
            body,
        )
    )
    _check_size(seq, data)
    return data


def _head(major: int, value: int) -> bytes:
    """The shortest CBOR head of a major type and argument (RFC 8949 §3, §4.2.1)."""
    if value < 24:
        return bytes((major << 5 | value,))
    if value < 0x100:
        return bytes((major << 5 | 24, value))
    if value < 0x10000:
        return bytes((major << 5 | 25,)) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes((major << 5 | 26,)) + value.to_bytes(4, "big")
    return bytes((major << 5 | 27,)) + value.to_bytes(8, "big")


def _check_size(seq: int, data: bytes) -> None:
    if len(data) > MAX_ENTRY_BYTES:
        raise FormatError(f"entry {seq}: {len(data)} bytes exceeds {MAX_ENTRY_BYTES}")


_ENTRY_KEYS: Final = (0, 1, 2, 3, 4, 5, 6)
_SIGNED_TYPES: Final = {int(t): t for t in EntryType if t is not EntryType.GENESIS}


def decode_entry(data: bytes) -> Entry:
    """Decode an entry strictly: one encoding per entry, no unknown fields.

    Raises:
        FormatError: malformed, non-canonical, over-size, or a field of the wrong type.
    """
    # The common case (a signed entry) by its exact shape; anything else, and every error,
    # goes through the field-by-field decoder, which names what is wrong.
    fast = _decode_entry_shape(data)
    return fast if fast is not None else _decode_entry_fields(data)


def _decode_entry_shape(data: bytes) -> Entry | None:
    """A signed entry of exactly the expected shape (see ``codec.decode_exact``), else None."""
    value = codec.decode_exact(data, max_size=MAX_ENTRY_BYTES)
    if type(value) is dict and tuple(value) == _ENTRY_KEYS:
        version, seq, prev, type_code, statement_hash, recorded_at, body = value.values()
        entry_type = _SIGNED_TYPES.get(type_code) if type(type_code) is int else None
        if (
            entry_type is not None
            and type(version) is int
            and version == ENTRY_VERSION
            and type(seq) is int
            and 0 <= seq <= codec.UINT_MAX
            and type(prev) is bytes
            and len(prev) == HASH_SIZE
            and type(statement_hash) is bytes
            and len(statement_hash) == HASH_SIZE
            and type(recorded_at) is int
            and 0 <= recorded_at < MAX_TIME
            and type(body) is bytes
        ):
            return Entry(seq, prev, entry_type, statement_hash, recorded_at, body, version)
    return None


def _decode_entry_fields(data: bytes) -> Entry:
    fields = Fields(codec.decode(data, max_size=MAX_ENTRY_BYTES, what="entry"), "entry")
    version = fields.uint(0, "version")
    if version != ENTRY_VERSION:
        raise FormatError(f"entry: unsupported format version {version}")
    seq = fields.uint(1, "sequence number")
    what = f"entry {seq}"
    prev = fields.bytes_(2, "prev", HASH_SIZE)
    type_code = fields.uint(3, "type")
    if type_code not in EntryType._value2member_map_:
        raise FormatError(f"{what}: unknown entry type {type_code}")
    entry_type = EntryType(type_code)
    statement_hash = fields.bytes_(4, "statement hash", HASH_SIZE)
    recorded_at = fields.time(5, "recorded-at time", maximum=MAX_TIME)
    raw_body = fields.any(6, "body")
    fields.finish()
    body: Genesis | bytes
    if entry_type is EntryType.GENESIS:
        body = _decode_genesis(raw_body, what)
    elif isinstance(raw_body, bytes):
        body = raw_body
    else:
        raise FormatError(f"{what}: endorsement body must be the COSE_Sign1 bytes")
    return Entry(
        seq=seq,
        prev=prev,
        type=entry_type,
        statement_hash=statement_hash,
        recorded_at=recorded_at,
        body=body,
        version=version,
    )


def _decode_genesis(value: object, what: str) -> Genesis:
    fields = Fields(value, f"{what} genesis body")
    genesis = Genesis(
        title=fields.text(0, "title", max_len=MAX_TITLE_LENGTH),
        statement_text=fields.text(1, "statement text", max_len=MAX_ENTRY_BYTES),
        origin=fields.text(2, "origin", max_len=MAX_ORIGIN_LENGTH),
        log_key=fields.text(3, "log key", max_len=1024),
    )
    fields.finish()
    _check_genesis(genesis)
    return genesis


def _check_genesis(genesis: Genesis) -> None:
    check_display_text(genesis.title, "title", max_len=MAX_TITLE_LENGTH)
    check_display_text(genesis.origin, "origin", max_len=MAX_ORIGIN_LENGTH)
    if any(char.isspace() or char == "+" for char in genesis.origin):
        raise FormatError("origin must contain no white space and no '+' (C2SP checkpoint)")
