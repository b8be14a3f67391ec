"""ledger-small.json: a 4-entry ledger, its Merkle tree, and attacks on it (sections 7 and 8).

The expected problems of each mutated ledger are written here by hand, as (entry, check) pairs;
generation stops if the library's report differs.
"""

from __future__ import annotations

from typing import NamedTuple

import gen_cbor as cbor
from gen_common import (
    ENDORSEMENTS,
    GENESIS_TIME,
    HOUR,
    ORIGIN,
    OTHER_STATEMENT_HASH,
    OTHER_STATEMENT_TEXT,
    STATEMENT_HASH,
    STATEMENT_TEXT,
    Body,
    Json,
    agree,
    chain,
    display_hash,
    endorse,
    endorsement,
    genesis_pairs,
    issuer,
    leaf_hash,
    ledger_bodies,
    protected_pairs,
    provenance,
    public,
    recorded_at,
    sha256,
    sign1,
    valid_ledger,
    verifier_key,
)
from gen_entries import entry_json

from ledger import merkle, verify

Problem = tuple[int | None, str]  # (entry, check); None: the ledger as a whole

# The checks of a ledger's entries (docs/format.md section 7.1), in report order.
ENTRY_CHECKS = ("encoding", "sequence", "links", "statement", "signatures", "signers", "times")
INCLUSION = ((4, 0), (4, 1), (4, 2), (4, 3), (3, 2), (3, 0), (1, 0))  # (size, index)
CONSISTENCY = ((1, 4), (2, 4), (3, 4), (1, 3), (2, 3), (1, 2))  # (old size, size)


class Mutated(NamedTuple):
    name: str
    description: str
    entries: list[bytes]
    problems: list[Problem]
    statement: bytes | None = None  # the statement text the verifier holds, if any


def _replaced(seq: int, body: Body) -> list[bytes]:
    """The ledger with entry ``seq``'s body replaced and the chain rebuilt around it."""
    bodies = ledger_bodies()
    bodies[seq] = body
    return chain(bodies)


def _endorsement_body(cose_bytes: bytes, seq: int = 3, digest: bytes = STATEMENT_HASH) -> Body:
    return (1, cbor.byte_string(cose_bytes), recorded_at(seq), digest)


def _mutations() -> list[Mutated]:
    e = list(valid_ledger())
    bodies = ledger_bodies()
    c_fields = ENDORSEMENTS["domain-only"][1]
    other_statement = endorse(
        "org-c", name="Organisation C", signed_at=c_fields["signed_at"], domain="org-c.example",
        statement_hash=OTHER_STATEMENT_HASH,
    )  # fmt: skip
    second_by_a = endorse(
        "org-a", name="Organisation A", signed_at=GENESIS_TIME + 3 * HOUR, domain="org-a.example"
    )
    c_protected = cbor.cbor_map(protected_pairs("org-c", iss=issuer("org-c", "org-c.example")))
    signed_by_a = sign1("org-a", c_protected, endorsement("domain-only")[1])
    changed_text = STATEMENT_TEXT.replace("support", "oppose")
    changed_hash = sha256(changed_text.encode())
    at_signature = len(e[2]) - 64
    flipped = e[2][:at_signature] + bytes([e[2][at_signature] ^ 1]) + e[2][at_signature + 1 :]
    other_log = verifier_key("other.example/log", public("log"))
    # fmt: off
    return [
        Mutated("dropped-entry-2", "entry 2 removed: entry 3 is stored at position 2",
                [e[0], e[1], e[3]], [(2, "sequence"), (2, "links")]),
        Mutated("swapped-entries-1-2", "entries 1 and 2 stored in each other's place",
                [e[0], e[2], e[1], e[3]],
                [(1, "sequence"), (1, "links"), (2, "sequence"), (2, "links"), (2, "times"),
                 (3, "links")]),
        Mutated("modified-entry-3-byte-@10", "bit 0 of byte 10 of entry 3 (inside prev) flipped",
                [*e[:3], e[3][:10] + bytes([e[3][10] ^ 1]) + e[3][11:]], [(3, "links")]),
        Mutated(f"modified-entry-2-byte-@{at_signature}", "bit 0 of the first signature byte "
                "of entry 2 flipped: its signature fails, and entry 3's prev no longer matches",
                [e[0], e[1], flipped, e[3]], [(2, "signatures"), (3, "links")]),
        Mutated("truncated-entry-1", "the last byte of entry 1 removed",
                [e[0], e[1][:-1], e[2], e[3]], [(1, "encoding"), (2, "links")]),
        Mutated("dropped-genesis", "entry 0 removed: entries 1 to 3 stored at positions 0 to 2",
                e[1:], [(0, "sequence"), (0, "links"), (0, "encoding"), (1, "sequence"),
                        (2, "sequence")]),
        Mutated("endorsement-for-other-statement", "entry 3 carries org-c's endorsement of "
                "another statement; the entry itself names the ledger's statement",
                _replaced(3, _endorsement_body(other_statement)), [(3, "statement")]),
        Mutated("entry-statement-hash-differs", "entry 3 names another statement hash (its "
                "endorsement is for the ledger's statement)",
                _replaced(3, _endorsement_body(endorsement("domain-only")[2], 3,
                                               OTHER_STATEMENT_HASH)),
                [(3, "statement"), (3, "statement")]),
        Mutated("duplicate-endorsement-same-key", "entry 3 is a second endorsement by org-a's "
                "key", _replaced(3, _endorsement_body(second_by_a)), [(3, "signers")]),
        Mutated("signed-by-other-key", "entry 3's endorsement names org-c's key, but org-a "
                "signed it", _replaced(3, _endorsement_body(signed_by_a)), [(3, "signatures")]),
        Mutated("second-genesis-entry", "entry 3 is another genesis entry",
                _replaced(3, (0, cbor.cbor_map(genesis_pairs()), recorded_at(3),
                              STATEMENT_HASH)), [(3, "encoding")]),
        Mutated("recorded-time-goes-back", "entry 3 recorded one second before entry 2",
                _replaced(3, (1, bodies[3][1], recorded_at(2) - 1, STATEMENT_HASH)),
                [(3, "times")]),
        Mutated("genesis-text-changed-hash-kept", "the genesis text changed after signing, its "
                "statement hash kept (chain rebuilt)",
                _replaced(0, (0, cbor.cbor_map(genesis_pairs(text=changed_text)), recorded_at(0),
                              STATEMENT_HASH)), [(0, "statement")]),
        Mutated("genesis-text-and-hash-changed", "the genesis text and every entry's statement "
                "hash changed after signing (chain rebuilt): each endorsement is for another "
                "statement",
                chain([(0, cbor.cbor_map(genesis_pairs(text=changed_text)), recorded_at(0),
                        changed_hash)] + [(t, b, w, changed_hash) for t, b, w, _ in bodies[1:]]),
                [(1, "statement"), (2, "statement"), (3, "statement")]),
        Mutated("genesis-log-key-not-origin", "the genesis log key is named other.example/log, "
                "not the origin (chain rebuilt)",
                _replaced(0, (0, cbor.cbor_map(genesis_pairs(log_key=other_log)), recorded_at(0),
                              STATEMENT_HASH)), [(0, "encoding")]),
        Mutated("given-statement-differs", "the ledger is intact, but the verifier holds "
                "another statement text (statement_hex)", e, [(None, "statement")],
                OTHER_STATEMENT_TEXT.encode()),
        Mutated("empty-ledger", "no entries at all", [], [(None, "encoding")]),
    ]
    # fmt: on


def _order(problem: Problem) -> tuple[int, str]:
    seq, check = problem
    return (-1 if seq is None else seq, check)


def _mutated(case: Mutated, valid: dict[bytes, int]) -> Json:
    report = verify.check_entries(enumerate(case.entries), statement=case.statement)
    found = sorted(((p.seq, p.check) for p in report.problems), key=_order)
    agree(
        found == sorted(case.problems, key=_order),
        f"ledger {case.name}: expected {case.problems}, the library reports "
        + "; ".join(str(p) for p in report.problems),
    )
    item: Json = {
        "name": case.name,
        "description": case.description,
        "entries": [
            {"valid_entry": valid[data]} if data in valid else {"entry_hex": data.hex()}
            for data in case.entries
        ],
    }
    if case.statement is not None:
        item["statement_hex"] = case.statement.hex()
    item["failed_checks"] = sorted({check for _, check in case.problems})
    item["problems"] = [{"entry": seq, "check": check} for seq, check in case.problems]
    return item


def _tree() -> Json:
    entries = valid_ledger()
    tree = merkle.MemoryTree()
    for data in entries:
        tree.append(data)
    roots = {size: merkle.root(tree, size) for size in range(1, len(entries) + 1)}
    inclusion = []
    for size, index in INCLUSION:
        proof = merkle.prove_inclusion(tree, index, size)
        merkle.verify_inclusion(leaf_hash(entries[index]), index, size, proof, roots[size])
        inclusion.append(
            {
                "index": index,
                "size": size,
                "leaf_hash_hex": leaf_hash(entries[index]).hex(),
                "proof_hex": [h.hex() for h in proof],
            }
        )
    consistency = []
    for old, size in CONSISTENCY:
        proof = merkle.prove_consistency(tree, old, size)
        merkle.verify_consistency(old, size, roots[old], roots[size], proof)
        consistency.append({"old_size": old, "size": size, "proof_hex": [h.hex() for h in proof]})
    return {
        "roots": [{"size": size, "root_hex": root.hex()} for size, root in roots.items()],
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
    }


def build() -> Json:
    """The file's content."""
    entries = valid_ledger()
    agree(set(ENTRY_CHECKS) <= set(verify.CHECKS), f"check names {verify.CHECKS}")
    report = verify.check_entries(enumerate(entries), statement=STATEMENT_TEXT.encode())
    agree(report.ok, f"the valid ledger does not verify: {report.problems}")
    signatories = [
        {
            "entry": s.seq,
            "name": s.name,
            "fingerprint": s.fingerprint,
            "domain": s.domain,
            "url": s.url,
            "country": s.country,
            "signed_at": s.signed_at,
            "recorded_at": s.recorded_at,
        }
        for s in report.signatories
    ]
    valid = {data: seq for seq, data in enumerate(entries)}
    return {
        "description": (
            "A ledger of 4 entries (genesis, then endorsements by org-a, org-b and org-c of "
            "keys.json): each entry with its leaf hash, the signatories a verifier lists, the "
            "RFC 9162 Merkle root at every size, inclusion proofs (audit paths, leaf sibling "
            "first, 0-based index) and consistency proofs. Then mutated ledgers named after "
            "the attack, with the checks a verifier MUST report as failed and at which entry "
            '(null: the ledger as a whole). In a mutated ledger, {"valid_entry": i} stands '
            "for entry i of the valid ledger, unchanged, and entries are stored at positions "
            "0, 1, 2, ... in list order."
        ),
        "provenance": provenance("sections 7 (The ledger) and 8 (The Merkle tree)"),
        "statement_text": STATEMENT_TEXT,
        "statement_hash": display_hash(STATEMENT_HASH),
        "origin": ORIGIN,
        "check_names": list(ENTRY_CHECKS),
        "entries": [{"seq": seq} | entry_json(data) for seq, data in enumerate(entries)],
        "signatories": signatories,
        **_tree(),
        "mutated": [_mutated(case, valid) for case in _mutations()],
    }
