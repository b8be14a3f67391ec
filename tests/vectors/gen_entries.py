"""entries.json: a genesis and an endorsement entry, and invalid encodings (section 6)."""

from __future__ import annotations

from typing import NamedTuple

import cbor2
import gen_cbor as cbor
from gen_common import (
    STATEMENT_HASH,
    Json,
    agree,
    endorsement,
    entry_pairs,
    expect_error,
    genesis_pairs,
    leaf_hash,
    ledger_bodies,
    provenance,
    valid_ledger,
)

from ledger import entry
from ledger.model import Genesis


class Bad(NamedTuple):
    name: str
    base: str  # the valid entry it mutates
    description: str
    data: bytes
    error_contains: str


def entry_json(data: bytes) -> Json:
    """The fields of an entry (as the library decodes them), its bytes and its leaf hash."""
    decoded = entry.decode_entry(data)
    fields: Json = {
        "version": decoded.version,
        "seq": decoded.seq,
        "prev_hex": decoded.prev.hex(),
        "type": int(decoded.type),
        "statement_hash_hex": decoded.statement_hash.hex(),
        "recorded_at": decoded.recorded_at,
    }
    if isinstance(decoded.body, Genesis):
        fields["genesis_body"] = {
            "title": decoded.body.title,
            "statement_text": decoded.body.statement_text,
            "origin": decoded.body.origin,
            "log_key": decoded.body.log_key,
        }
    else:
        fields["endorsement_body_hex"] = decoded.body.hex()
    return {"fields": fields, "entry_hex": data.hex(), "leaf_hash_hex": leaf_hash(data).hex()}


def _negatives() -> list[Bad]:
    genesis, first = valid_ledger()[0], valid_ledger()[1]
    bodies = ledger_bodies()
    g = entry_pairs(0, bytes(32), bodies[0])
    e = entry_pairs(1, leaf_hash(genesis), bodies[1])
    agree(cbor.cbor_map(g) == genesis, "genesis entry pairs")
    agree(cbor.cbor_map(e) == first, "endorsement entry pairs")
    body = genesis_pairs()
    cose_bytes = endorsement("all-fields")[2]
    long_body = cbor.head(2, len(cose_bytes), size=4) + cose_bytes

    def eight_pairs(key: bytes) -> bytes:  # the entry's 7 pairs and one with a raw key
        return cbor.head(5, 8) + b"".join(cbor.integer(k) + v for k, v in e) + key + b"\x00"

    def genesis_with(pairs: cbor.Pairs) -> bytes:
        return cbor.cbor_map(cbor.replaced(g, 6, cbor.cbor_map(pairs)))

    # fmt: off
    return [
        Bad("version-2", "endorsement", "format version 2",
            cbor.cbor_map(cbor.replaced(e, 0, cbor.integer(2))), "unsupported format version 2"),
        Bad("version-missing", "endorsement", "no key 0", cbor.cbor_map(cbor.removed(e, 0)),
            "missing field version (key 0)"),
        Bad("unknown-field-7", "endorsement", "an extra key 7",
            cbor.cbor_map(cbor.added(e, 7, cbor.integer(0))), "unknown field key(s) [7]"),
        Bad("map-key-24", "endorsement", "an extra key 24 (keys are 0..23)",
            eight_pairs(cbor.integer(24)), "map key 24 is not an integer in 0..23"),
        Bad("text-map-key", "endorsement", "an extra text key \"x\"", eight_pairs(cbor.text("x")),
            "map key 'x' is not an integer"),
        Bad("prev-31-bytes", "endorsement", "prev of 31 bytes",
            cbor.cbor_map(cbor.replaced(e, 2, cbor.byte_string(leaf_hash(genesis)[:31]))),
            "prev must be 32 bytes, got 31"),
        Bad("statement-hash-33-bytes", "endorsement", "a statement hash of 33 bytes",
            cbor.cbor_map(cbor.replaced(e, 4, cbor.byte_string(STATEMENT_HASH + b"\x00"))),
            "statement hash must be 32 bytes, got 33"),
        Bad("type-3", "endorsement", "entry type 3 (not defined)",
            cbor.cbor_map(cbor.replaced(e, 3, cbor.integer(3))), "unknown entry type 3"),
        Bad("recorded-at-missing", "endorsement", "no key 5", cbor.cbor_map(cbor.removed(e, 5)),
            "missing field recorded-at time (key 5)"),
        Bad("recorded-at-negative", "endorsement", "recorded-at -1",
            cbor.cbor_map(cbor.replaced(e, 5, cbor.integer(-1))),
            "recorded-at time must be an unsigned integer"),
        Bad("recorded-at-float", "endorsement", "recorded-at as a 64-bit float",
            cbor.cbor_map(cbor.replaced(e, 5, cbor.float64(1_700_003_660))),
            "float is not allowed"),
        Bad("seq-long-form", "endorsement", "sequence number 1 written as 0x18 0x01",
            cbor.cbor_map(cbor.replaced(e, 1, cbor.integer(1, size=1))),
            "not deterministic CBOR"),
        Bad("body-length-long-form", "endorsement", "the body's length in a 4-byte argument",
            cbor.cbor_map(cbor.replaced(e, 6, long_body)), "not deterministic CBOR"),
        Bad("keys-out-of-order", "endorsement", "keys 1 and 2 swapped",
            cbor.cbor_map([e[0], e[2], e[1], *e[3:]]), "map keys out of order (1 after 2)"),
        Bad("duplicate-key", "endorsement", "key 5 twice",
            cbor.cbor_map([*e[:6], e[5], e[6]]), "not valid CBOR"),
        Bad("indefinite-length-map", "endorsement", "the entry map with indefinite length",
            cbor.indefinite_map(e), "not valid CBOR"),
        Bad("trailing-garbage", "endorsement", "one 0x00 byte after the entry", first + b"\x00",
            "trailing bytes"),
        Bad("array-not-map", "endorsement", "the field values as an array",
            cbor.array([v for _, v in e]), "expected a map"),
        Bad("endorsement-body-as-map", "endorsement", "an endorsement entry with a map body",
            cbor.cbor_map(cbor.replaced(e, 6, cbor.cbor_map(body))),
            "endorsement body must be the COSE_Sign1 bytes"),
        Bad("genesis-body-as-bytes", "genesis", "a genesis entry with a byte-string body",
            cbor.cbor_map(cbor.replaced(g, 6, cbor.byte_string(b"x"))),
            "genesis body: expected a map"),
        Bad("genesis-unknown-body-field", "genesis", "genesis body key 4 added",
            genesis_with(cbor.added(body, 4, cbor.text("x"))),
            "genesis body: unknown field key(s) [4]"),
        Bad("genesis-title-with-newline", "genesis", "a title with a line feed",
            genesis_with(cbor.replaced(body, 0, cbor.text("Two\nlines"))),
            "title: character 4 is U+000A"),
        Bad("genesis-origin-with-space", "genesis", "an origin with a space",
            genesis_with(cbor.replaced(body, 2, cbor.text("vectors example"))),
            "origin must contain no white space"),
        Bad("genesis-empty-text", "genesis", "an empty statement text",
            genesis_with(cbor.replaced(body, 1, cbor.text(""))), "statement text is empty"),
    ]
    # fmt: on


def _invalid(case: Bad) -> Json:
    expect_error(
        lambda: entry.decode_entry(case.data), "FormatError", case.error_contains,
        f"entry {case.name}",
    )  # fmt: skip
    return {
        "name": case.name,
        "base": case.base,
        "description": case.description,
        "entry_hex": case.data.hex(),
        "error": "FormatError",
        "error_contains": case.error_contains,
    }


def build() -> Json:
    """The file's content."""
    genesis, first = valid_ledger()[0], valid_ledger()[1]
    return {
        "description": (
            "Entries: deterministic CBOR maps. 'valid' gives the fields, the entry bytes and "
            "the RFC 9162 leaf hash SHA-256(0x00 || entry) of the genesis entry and of the "
            "first endorsement entry of ledger-small.json; encoding the fields MUST give "
            "exactly entry_hex. 'invalid' lists mutations of them ('base') that a decoder MUST "
            "reject (FormatError)."
        ),
        "provenance": provenance("section 6 (Entries)"),
        "valid": [
            {"name": "genesis", "diagnostic": cbor.diagnostic(cbor2.loads(genesis), "")}
            | entry_json(genesis),
            {"name": "endorsement", "diagnostic": cbor.diagnostic(cbor2.loads(first), "")}
            | entry_json(first),
        ],
        "invalid": [_invalid(case) for case in _negatives()],
    }
