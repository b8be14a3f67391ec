"""lifecycle.json: withdrawals, rotations, revocations, removals, closing, look-alikes (section 17).

Every signed statement is built twice: here with ``gen_cbor`` (COSE_Sign1, and for the rotation
the COSE_Sign with its two Sig_structures written out by hand) and with the library's recipes
(``ledger.actions``, ``ledger.cose``); generation stops if the bytes differ. The ledger is built
twice too: chained here by hand, and appended with the campaign recipe (``Ledger.append``,
``Ledger.remove``, ``Ledger.close_statement``) into a real ledger file.

The expected outcome of the ledger (signatories and their current keys, departures, flags, the
closing entry) and of every attack (the failing checks and entries, the error class and message
substring, whether ``append`` refuses it too) and of every pair of names is written here by hand
from docs/format.md; generation stops if the library disagrees.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any, Final, NamedTuple

import cbor2
import gen_cbor as cbor
from gen_cbor import Pairs
from gen_common import (
    ALG_EDDSA,
    CONTENT_TYPE,
    EMPTY_MAP,
    GENESIS_TIME,
    HOUR,
    KEY_SEED_PREFIX,
    LEDGER_ENDORSEMENTS,
    LIFECYCLE_KEY_NAMES,
    ORIGIN,
    STATEMENT_HASH,
    STATEMENT_TEXT,
    TITLE,
    Body,
    GenerationError,
    Json,
    agree,
    chain,
    claims,
    display_hash,
    endorsement,
    expect_error,
    fields_json,
    fingerprint,
    genesis_pairs,
    issuer,
    key_id,
    key_seed,
    leaf_hash,
    ni_uri,
    protected_pairs,
    provenance,
    public,
    recorded_at,
    sig_structure,
    sign1,
    signing_key,
)

from ledger import actions, cose, entry, render, verify
from ledger.campaign import Ledger
from ledger.errors import LedgerError
from ledger.lookalike import same_name, skeleton
from ledger.model import Action, Endorsement, Entry, EntryType, Genesis, RemovalReason
from ledger.payload import encode_payload

COSE_SIGN_TAG: Final = 98
SOURCE: Final = "lifecycle.db"  # the report's source, as the reader named the file
ORGANISATION, LOG = 1, 2  # entry types
FORMAT, VERIFICATION = "FormatError", "VerificationError"
LOOKALIKE_NAME: Final = "\u041erganisation A"  # CYRILLIC CAPITAL LETTER O, then Latin
REMOVAL_NOTE: Final = "impersonates Organisation A"

# Payload keys of the optional fields (section 5.2), by the library's attribute names.
FIELD_KEYS: Final = {
    "name": 3,
    "domain": 6,
    "url": 7,
    "country": 8,
    "ref": 9,
    "new_key": 10,
    "revoked_key": 11,
    "revoked_from": 12,
    "reason": 13,
    "note": 14,
}
KEY_FIELDS: Final = ("new_key", "revoked_key")  # given as key labels, encoded as public keys
TEXT_FIELDS: Final = ("name", "domain", "url", "country", "note")


# --- What each action is: written by hand from docs/format.md section 17 ----------------------


class ActionRule(NamedTuple):
    action: Action
    entry_type: int
    envelope: str
    signer: str
    required: tuple[str, ...]
    allowed: tuple[str, ...]  # the optional fields it may carry, required ones included


ACTIONS: Final = (
    ActionRule(Action.ENDORSE, ORGANISATION, "COSE_Sign1", "the organisation's key (a new "
               "key, or its organisation's current key)", ("name",),
               ("name", "domain", "url", "country")),
    ActionRule(Action.WITHDRAW, ORGANISATION, "COSE_Sign1", "the organisation's current key",
               (), ("name", "ref")),
    ActionRule(Action.ROTATE, ORGANISATION, "COSE_Sign", "the organisation's current key, then "
               "the new key", ("new_key",), ("name", "new_key")),
    ActionRule(Action.REVOKE, ORGANISATION, "COSE_Sign1", "the revoked key, or its "
               "organisation's current key", ("revoked_key", "revoked_from"),
               ("name", "revoked_key", "revoked_from")),
    ActionRule(Action.REMOVE, LOG, "COSE_Sign1", "the log key", ("ref", "reason"),
               ("ref", "reason", "note")),
    ActionRule(Action.CLOSE, LOG, "COSE_Sign1", "the log key", (), ()),
)  # fmt: skip

REMOVAL_REASONS: Final = {
    1: "fraudulent",
    2: "withdrawn-by-request",
    3: "mistaken",
    4: "duplicate",
}


# --- Statements --------------------------------------------------------------------------------


class Statement(NamedTuple):
    name: str
    description: str
    signer: str  # key label; for a rotation, the old key
    action: Action
    signed_at: int
    fields: dict[str, Any]  # optional payload fields; keys as labels, reason as an int
    cosigner: str | None = None  # for a rotation: the new key


def _at(seq: int) -> int:
    """When the organisation signs the statement appended as entry ``seq``: on the hour."""
    return GENESIS_TIME + seq * HOUR


STATEMENTS: Final = (
    Statement("endorsement-by-org-e", "org-e endorses (entry 4)", "org-e", Action.ENDORSE,
              _at(4), {"name": "Organisation E"}),
    Statement("rotation", "org-a replaces its key by org-a-2 (entry 5): a COSE_Sign signed by "
              "the old key, then countersigned by the new one; iss is the old key's "
              "ledger-key:<fingerprint>", "org-a", Action.ROTATE, _at(5),
              {"name": "Organisation A", "new_key": "org-a-2"}, "org-a-2"),
    Statement("withdrawal-without-ref", "org-b withdraws its endorsement (entry 6), naming "
              "neither the entry nor itself: the fewest fields a statement can have",
              "org-b", Action.WITHDRAW, _at(6), {}),
    Statement("withdrawal-with-ref", "org-e withdraws its endorsement, naming it: entry 4 "
              "(entry 7)", "org-e", Action.WITHDRAW, _at(7), {"name": "Organisation E", "ref": 4}),
    Statement("endorsement-with-lookalike-name", "org-d endorses with a name that looks like "
              "org-a's, its first letter CYRILLIC CAPITAL LETTER O (U+041E) (entry 8): flagged, "
              "not refused", "org-d", Action.ENDORSE, _at(8), {"name": LOOKALIKE_NAME}),
    Statement("revocation", "org-c revokes its own key from the time it signed its endorsement "
              "(entry 9): that endorsement ends", "org-c", Action.REVOKE, _at(9),
              {"revoked_key": "org-c", "revoked_from": _at(3)}),
    Statement("removal", "the campaign removes the look-alike's endorsement, entry 8, as "
              "fraudulent, with a note (entry 10, type 2, signed by the log key at its record "
              "time)", "log", Action.REMOVE, recorded_at(10),
              {"ref": 8, "reason": 1, "note": REMOVAL_NOTE}),
    Statement("endorsement-again-by-org-b", "org-b endorses again after its withdrawal "
              "(entry 11): one live endorsement per organisation, not one ever",
              "org-b", Action.ENDORSE, _at(11), {"name": "Organisation B"}),
    Statement("close", "the campaign closes the statement (entry 12, type 2, signed by the log "
              "key at its record time): nothing may follow", "log", Action.CLOSE,
              recorded_at(12), {}),
)  # fmt: skip
STATEMENT_BY_NAME: Final = {s.name: s for s in STATEMENTS}


def _value(field: str, value: Any) -> Any:
    """A field's value as the library holds it (key labels become public keys)."""
    if field in KEY_FIELDS:
        return public(value)
    if field == "reason":
        return RemovalReason(value)
    return value


def claim_of(statement: Statement, **changes: Any) -> Endorsement:
    """The statement's payload as the library's value (``changes``: fields replaced)."""
    fields = {k: _value(k, v) for k, v in (statement.fields | changes).items()}
    return Endorsement(
        action=statement.action,
        statement_hash=STATEMENT_HASH,
        public_key=public(statement.signer),
        signed_at=statement.signed_at,
        **{"name": None} | fields,
    )


def payload_of(signer: str, action: int, signed_at: int, fields: dict[str, Any]) -> bytes:
    """A payload written by hand: the fixed fields, then the optional ones in key order."""
    pairs: Pairs = [
        (0, cbor.integer(1)),
        (1, cbor.integer(action)),
        (2, cbor.byte_string(STATEMENT_HASH)),
        (4, cbor.byte_string(public(signer))),
        (5, cbor.integer(signed_at)),
    ]
    for field, value in fields.items():
        if field in KEY_FIELDS:
            encoded = cbor.byte_string(public(value))
        elif field in TEXT_FIELDS:
            encoded = cbor.text(value)
        else:
            encoded = cbor.integer(value)
        pairs.append((FIELD_KEYS[field], encoded))
    return cbor.cbor_map(sorted(pairs, key=lambda pair: pair[0]))


def body_header(iss: str) -> bytes:
    """The body's protected header of a COSE_Sign: content type and CWT claims."""
    return cbor.cbor_map([(3, cbor.text(CONTENT_TYPE)), (15, claims(iss, ni_uri(STATEMENT_HASH)))])


def signer_header(label: str) -> bytes:
    """One signature's protected header in a COSE_Sign: alg and kid."""
    return cbor.cbor_map(
        [(1, cbor.integer(ALG_EDDSA)), (4, cbor.byte_string(key_id(public(label))))]
    )


def sign_structure(body: bytes, protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 Sig_structure of one signature of a COSE_Sign, empty external_aad."""
    items = [cbor.text("Signature"), cbor.byte_string(body), cbor.byte_string(protected)]
    return cbor.array([*items, cbor.byte_string(b""), cbor.byte_string(payload)])


def cose_sign(body: bytes, payload: bytes, signatures: list[tuple[bytes, bytes]]) -> bytes:
    """RFC 9052 §4.1 COSE_Sign, tagged 98, from (protected header, signature) pairs."""
    items = [
        cbor.array([cbor.byte_string(protected), EMPTY_MAP, cbor.byte_string(signature)])
        for protected, signature in signatures
    ]
    body_items = [cbor.byte_string(body), EMPTY_MAP, cbor.byte_string(payload)]
    return cbor.tag(COSE_SIGN_TAG, cbor.array([*body_items, cbor.array(items)]))


def signed_by(labels: list[str], body: bytes, payload: bytes) -> bytes:
    """A COSE_Sign over ``payload`` with one signature by each key of ``labels``, in order."""
    signatures = []
    for label in labels:
        protected = signer_header(label)
        structure = sign_structure(body, protected, payload)
        signatures.append((protected, signing_key(label).sign(structure)))
    return cose_sign(body, payload, signatures)


def sign1_statement(signer: str, payload: bytes, *, domain: str | None = None) -> bytes:
    """A COSE_Sign1 of ``payload`` by ``signer``, with its usual protected header."""
    protected = cbor.cbor_map(protected_pairs(signer, iss=issuer(signer, domain)))
    return sign1(signer, protected, payload)


def hand_built(statement: Statement) -> bytes:
    """The statement's bytes, written by hand."""
    payload = payload_of(
        statement.signer, int(statement.action), statement.signed_at, statement.fields
    )
    if statement.cosigner is None:
        return sign1_statement(statement.signer, payload)
    body = body_header(issuer(statement.signer, None))
    return signed_by([statement.signer, statement.cosigner], body, payload)


def library_built(statement: Statement) -> bytes:
    """The statement's bytes, made by the library's recipe for its action."""
    key, fields, when = signing_key(statement.signer), statement.fields, statement.signed_at
    if statement.action is Action.ENDORSE:
        return cose.endorse(key, STATEMENT_HASH, name=fields["name"], signed_at=when)
    if statement.action is Action.WITHDRAW:
        return actions.withdraw(
            key, STATEMENT_HASH, signed_at=when, ref=fields.get("ref"), name=fields.get("name")
        )
    if statement.action is Action.ROTATE:
        new = signing_key(fields["new_key"])
        return actions.rotate(key, new, STATEMENT_HASH, signed_at=when, name=fields.get("name"))
    if statement.action is Action.REVOKE:
        return actions.revoke(
            key,
            signing_key(fields["revoked_key"]).public,
            STATEMENT_HASH,
            signed_at=when,
            revoked_from=fields["revoked_from"],
            name=fields.get("name"),
        )
    return cose.sign_endorsement(claim_of(statement), key)  # REMOVE, CLOSE: the log's claims


@functools.cache
def statement_bytes(name: str) -> bytes:
    """A statement's bytes; the generator and the library agree."""
    statement = STATEMENT_BY_NAME[name]
    ours = hand_built(statement)
    agree(ours == library_built(statement), f"statement {name}: the library encodes other bytes")
    return ours


def _diagnostic(data: bytes) -> str:
    return cbor.diagnostic(cbor2.loads(data), "")


def _statement(statement: Statement) -> Json:
    data = statement_bytes(statement.name)
    signed = cose.decode_endorsement(data)
    claim = claim_of(statement)
    agree(signed.endorsement == claim, f"{statement.name}: the library decodes other fields")
    agree(cose.verify_endorsement(signed).raw == public(statement.signer), statement.name)
    item: Json = {
        "name": statement.name,
        "description": statement.description,
        "signer": statement.signer,
        "envelope": "COSE_Sign" if statement.cosigner else "COSE_Sign1",
        "fields": fields_json(claim),
        "payload_hex": signed.payload.hex(),
        "payload_diagnostic": _diagnostic(signed.payload),
        "iss": signed.issuer,
        "sub": signed.subject,
    }
    if statement.cosigner is None:
        protected = signed.protected
        agree(signed.body_protected is None and signed.cosigner is None, statement.name)
        return item | {
            "kid_hex": key_id(public(statement.signer)).hex(),
            "protected_header_hex": protected.hex(),
            "protected_header_diagnostic": _diagnostic(protected),
            "sig_structure_hex": sig_structure(protected, signed.payload).hex(),
            "signature_hex": signed.signature.hex(),
            "cose_hex": data.hex(),
        }
    body = body_header(signed.issuer)
    agree(signed.body_protected == body, f"{statement.name}: body header")
    assert signed.cosigner is not None
    kid_2, protected_2, signature_2 = signed.cosigner
    signers = []
    for label, kid, protected, signature in (
        (statement.signer, signed.key_id, signed.protected, signed.signature),
        (statement.cosigner, kid_2, protected_2, signature_2),
    ):
        agree(kid == key_id(public(label)) and protected == signer_header(label), label)
        structure = sign_structure(body, protected, signed.payload)
        signing_key(label).public.verify(structure, signature)
        signers.append(
            {
                "signer": label,
                "kid_hex": kid.hex(),
                "protected_header_hex": protected.hex(),
                "protected_header_diagnostic": _diagnostic(protected),
                "sig_structure_hex": structure.hex(),
                "signature_hex": signature.hex(),
            }
        )
    return item | {
        "body_protected_header_hex": body.hex(),
        "body_protected_header_diagnostic": _diagnostic(body),
        "signatures": signers,
        "cose_hex": data.hex(),
    }


# --- The ledger --------------------------------------------------------------------------------

# What each entry after the genesis carries: an endorsement of endorsement.json (entries 1 to 3,
# the same as in ledger-small.json) or a statement above.
LEDGER: Final = (
    *(f"endorsement.json#{name}" for name in LEDGER_ENDORSEMENTS),
    *(s.name for s in STATEMENTS),
)
LOOKALIKE_ENTRY: Final = 8


def body_of(ref: str) -> bytes:
    """The statement bytes an entry of the ledger carries."""
    if ref.startswith("endorsement.json#"):
        return endorsement(ref.partition("#")[2])[2]
    return statement_bytes(ref)


def type_of(ref: str) -> int:
    statement = STATEMENT_BY_NAME.get(ref)
    is_log = statement is not None and statement.action in (Action.REMOVE, Action.CLOSE)
    return LOG if is_log else ORGANISATION


def _ledger_bodies() -> list[Body]:
    bodies: list[Body] = [(0, cbor.cbor_map(genesis_pairs()), recorded_at(0), STATEMENT_HASH)]
    for seq, ref in enumerate(LEDGER, 1):
        bodies.append(
            (type_of(ref), cbor.byte_string(body_of(ref)), recorded_at(seq), STATEMENT_HASH)
        )
    return bodies


@functools.cache
def ledger_entries() -> tuple[bytes, ...]:
    """The lifecycle ledger, chained by hand; the library encodes the same entries."""
    entries = chain(_ledger_bodies())
    prev = bytes(32)
    for seq, data in enumerate(entries):
        body: Genesis | bytes
        if seq == 0:
            log_key = signing_key("log").public.to_verifier_key()
            body = Genesis(TITLE, STATEMENT_TEXT, ORIGIN, log_key)
            kind = EntryType.GENESIS
        else:
            body, kind = body_of(LEDGER[seq - 1]), EntryType(type_of(LEDGER[seq - 1]))
        library = entry.encode_entry(Entry(seq, prev, kind, STATEMENT_HASH, recorded_at(seq), body))
        agree(library == data, f"lifecycle entry {seq}: the library encodes different bytes")
        prev = leaf_hash(data)
    return tuple(entries)


def recipe_ledger(path: Path) -> Ledger:
    """A new ledger file holding the genesis entry of the lifecycle ledger (the recipe)."""
    return Ledger.create(
        path, statement=STATEMENT_TEXT.encode(), title=TITLE, origin=ORIGIN,
        log_key=signing_key("log"), now=recorded_at(0),
    )  # fmt: skip


def extend(book: Ledger, size: int, *, use_log_recipes: bool = False) -> None:
    """Append the next entries of the lifecycle ledger with the campaign recipe, up to ``size``.

    With ``use_log_recipes``, the removal and the closing are made by ``Ledger.remove`` and
    ``Ledger.close_statement`` instead of appending the statements of this file.
    """
    for seq in range(book.size, size):
        ref = LEDGER[seq - 1]
        if use_log_recipes and ref == "removal":
            fields = STATEMENT_BY_NAME[ref].fields
            done = book.remove(
                fields["ref"], RemovalReason(fields["reason"]), signing_key("log"),
                note=fields["note"], now=recorded_at(seq),
            )  # fmt: skip
        elif use_log_recipes and ref == "close":
            done = book.close_statement(signing_key("log"), now=recorded_at(seq))
        else:
            result = book.append(
                [(ref, body_of(ref))], now=recorded_at(seq), allow_similar=seq == LOOKALIKE_ENTRY
            )
            agree(not result.rejected, f"append {ref}: {result.rejected}")
            done = result.appended[0][1]
        agree(done == seq, f"append {ref}: at entry {done}, not {seq}")


# Who is on the list at the end, with the label of the key they sign with today; who left, how
# and why; which entries are flagged; which entry closed the statement. Written by hand.
SIGNATORIES: Final = ((1, "Organisation A", "org-a-2"), (11, "Organisation B", "org-b"))
DEPARTED: Final = (
    # (entry, name, key label, how, ended at entry, reason, note)
    (2, "Organisation B", "org-b", "withdrawn", 6, None, None),
    (4, "Organisation E", "org-e", "withdrawn", 7, None, None),
    (3, "Organisation C (Soci\u00e9t\u00e9)", "org-c", "revoked", 9,
     "key revoked from 2023-11-15T01:13:20Z", None),
    (8, LOOKALIKE_NAME, "org-d", "removed", 10, "fraudulent", REMOVAL_NOTE),
)  # fmt: skip
FLAGS: Final = (
    (8, "a name that looks like the endorsement at entry 1 ('Organisation A') but another key"),
)
CLOSED_AT: Final = 12
REPORT_FIELDS: Final = ("verified", "checks", "signatories", "departed", "flags", "closed_at_entry")


def _report() -> Json:
    entries = ledger_entries()
    report = verify.check_entries(enumerate(entries), statement=STATEMENT_TEXT.encode())
    agree(report.ok, f"the lifecycle ledger does not verify: {report.problems}")
    document = render.report_json(report, SOURCE)
    signatories = [(s["entry"], s["name"], s["fingerprint"]) for s in document["signatories"]]
    agree(
        signatories == [(seq, name, fingerprint(public(k))) for seq, name, k in SIGNATORIES],
        f"lifecycle signatories: {signatories}",
    )
    departed = [
        (d["entry"], d["name"], d["fingerprint"], d["how"], d["ended_at_entry"], d["reason"],
         d["note"], d["when_unix"])
        for d in document["departed"]
    ]  # fmt: skip
    expected = [
        (seq, name, fingerprint(public(k)), how, end, reason, note, recorded_at(end))
        for seq, name, k, how, end, reason, note in DEPARTED
    ]
    agree(departed == expected, f"lifecycle departures: {departed}")
    flags = [(f["entry"], f["message"]) for f in document["flags"]]
    agree(flags == list(FLAGS), f"lifecycle flags: {flags}")
    agree(document["closed_at_entry"] == CLOSED_AT, f"closed at {document['closed_at_entry']}")
    return {name: document[name] for name in REPORT_FIELDS}


def _check_recipe() -> None:
    """The campaign recipe writes the same ledger, and refuses the look-alike by default."""
    entries = ledger_entries()
    with (
        tempfile.TemporaryDirectory() as directory,
        recipe_ledger(Path(directory) / SOURCE) as book,
    ):
        extend(book, LOOKALIKE_ENTRY)
        result = book.append(
            [("lookalike", body_of(LEDGER[LOOKALIKE_ENTRY - 1]))], now=recorded_at(LOOKALIKE_ENTRY)
        )
        agree(
            not result.appended and FLAGS[0][1] in result.rejected[0].reason,
            f"append refuses the look-alike name: {result}",
        )
        extend(book, len(entries), use_log_recipes=True)
        stored = [book.store.entry(seq) for seq in range(book.size)]
        agree(stored == list(entries), "the recipe's ledger is not the lifecycle ledger")


def _entry_json(seq: int, data: bytes) -> Json:
    decoded = entry.decode_entry(data)
    item: Json = {
        "seq": seq,
        "type": int(decoded.type),
        "recorded_at": decoded.recorded_at,
    }
    if seq > 0:
        item["body"] = LEDGER[seq - 1]
    return item | {"entry_hex": data.hex(), "leaf_hash_hex": leaf_hash(data).hex()}


# --- Attacks -----------------------------------------------------------------------------------


class Attack(NamedTuple):
    name: str
    description: str
    at: int  # the entries 0 .. at-1 of the valid ledger, then the attack's entry at ``at``
    statement: bytes
    check: str  # the check that fails at entry ``at``
    error: str
    error_contains: str
    entry_type: int = ORGANISATION
    append: bool = True  # Ledger.append refuses the statement after the same entries


def _payload(signer: str, action: Action, seq: int, **fields: Any) -> bytes:
    return payload_of(signer, int(action), _at(seq), fields)


def _attacks() -> list[Attack]:
    rotation = STATEMENT_BY_NAME["rotation"]
    rotation_payload = payload_of("org-a", 2, rotation.signed_at, rotation.fields)
    rotation_body = body_header(issuer("org-a", None))
    removal = STATEMENT_BY_NAME["removal"]
    after_close = len(LEDGER) + 1
    fp_b = fingerprint(public("org-b"))
    fp_a = fingerprint(public("org-a"))
    fp_c = fingerprint(public("org-c"))
    forged_removal = payload_of(
        "org-b", int(Action.REMOVE), recorded_at(10), {"ref": 8, "reason": 1}
    )
    # fmt: off
    return [
        Attack("withdrawal-by-another-key", "org-c withdraws entry 2, org-b's endorsement (ref "
               "2), with its own key", 5,
               sign1_statement("org-c", _payload("org-c", Action.WITHDRAW, 5, ref=2)),
               "signers", VERIFICATION,
               "entry 2 is not this organisation's live endorsement (that is entry 3)"),
        Attack("withdrawal-of-unknown-entry", "org-b withdraws entry 42, which does not exist",
               5, sign1_statement("org-b", _payload("org-b", Action.WITHDRAW, 5, ref=42)),
               "signers", VERIFICATION,
               "entry 42 is not this organisation's live endorsement (that is entry 2)"),
        Attack("withdrawal-twice", "entry 6, org-b's withdrawal, appended again (a replay)", 7,
               statement_bytes("withdrawal-without-ref"), "signers", VERIFICATION,
               "this organisation has no live endorsement to withdraw"),
        Attack("removal-not-signed-by-log-key", "a removal of entry 8 in a log entry (type 2), "
               "signed by org-b's key", 10, sign1_statement("org-b", forged_removal), "signers",
               VERIFICATION, "a remove must be signed by the log key", LOG),
        Attack("removal-as-organisation-entry", "the removal of entry 10, signed by the log "
               "key, in an organisation entry (type 1); the campaign's append always writes a "
               "removal as type 2, so only a hand-made entry can do this", 10,
               statement_bytes("removal"), "signers", VERIFICATION,
               "a remove must be a log entry (type 2)", ORGANISATION, False),
        Attack("removal-of-withdrawn-endorsement", "the log key removes entry 2, which org-b "
               "withdrew at entry 6", 7,
               sign1_statement("log", payload_of("log", int(Action.REMOVE), recorded_at(7),
                                                 {"ref": 2, "reason": 4})),
               "signers", VERIFICATION, "entry 2 is not a live endorsement: nothing to remove",
               LOG),
        Attack("removal-reason-unknown", "the removal of entry 8 with reason 5, which is not "
               "defined (signed by the log key)", 10,
               sign1_statement("log", payload_of("log", int(Action.REMOVE), removal.signed_at,
                                                 {"ref": 8, "reason": 5})),
               "encoding", FORMAT, "payload: unknown removal reason 5", LOG),
        Attack("rotation-without-countersignature", "entry 5's rotation as a COSE_Sign with the "
               "old key's signature only", 5,
               signed_by(["org-a"], rotation_body, rotation_payload), "encoding", FORMAT,
               "a COSE_Sign must carry exactly two signatures"),
        Attack("rotation-countersigned-by-another-key", "entry 5's rotation to org-a-2, its "
               "second signature by org-b (with org-b's kid)", 5,
               signed_by(["org-a", "org-b"], rotation_body, rotation_payload), "signatures",
               VERIFICATION, "the countersignature is not by the new key the payload names"),
        Attack("rotation-signatures-swapped", "entry 5's rotation with the new key's signature "
               "first and the old key's second", 5,
               signed_by(["org-a-2", "org-a"], rotation_body, rotation_payload), "signatures",
               VERIFICATION, "kid in the protected header is not the payload's key"),
        Attack("rotation-as-cose-sign1", "entry 5's rotation payload in a COSE_Sign1 signed by "
               "the old key alone", 5, sign1_statement("org-a", rotation_payload), "encoding",
               FORMAT, "a rotation must be a COSE_Sign with two signatures"),
        Attack("rotation-to-a-key-in-use", "org-a rotates to org-b's key, countersigned by "
               "org-b", 5,
               signed_by(["org-a", "org-b"], rotation_body,
                         _payload("org-a", Action.ROTATE, 5, new_key="org-b")),
               "signers", VERIFICATION, f"the new key {fp_b} is already in use"),
        Attack("endorsement-as-cose-sign", "org-d's endorsement as a COSE_Sign that org-d signs "
               "twice", 5,
               signed_by(["org-d", "org-d"], body_header(issuer("org-d", None)),
                         _payload("org-d", Action.ENDORSE, 5, name="Organisation D")),
               "encoding", FORMAT, "only a rotation is a COSE_Sign"),
        Attack("old-key-used-after-rotation", "org-a withdraws with its old key after rotating "
               "to org-a-2 at entry 5", 6,
               sign1_statement("org-a", _payload("org-a", Action.WITHDRAW, 6)), "signers",
               VERIFICATION, f"key {fp_a} was replaced by a rotation; sign with the "
               "organisation's current key"),
        Attack("revocation-by-another-organisation", "org-b revokes org-a's key from the "
               "genesis time", 5,
               sign1_statement("org-b", _payload("org-b", Action.REVOKE, 5, revoked_key="org-a",
                                                 revoked_from=GENESIS_TIME)),
               "signers", VERIFICATION, f"key {fp_a} is not a key of this organisation"),
        Attack("endorsement-by-revoked-key-after-revocation", "org-c endorses again after "
               "revoking its key from 2023-11-15T01:13:20Z at entry 9, signing later than that",
               10, sign1_statement("org-c", _payload("org-c", Action.ENDORSE, 10,
                                                     name="Organisation C")),
               "signers", VERIFICATION,
               f"key {fp_c} is revoked from 2023-11-15T01:13:20Z; this was signed later"),
        Attack("endorsement-after-close", "org-e endorses again after the statement was closed "
               "at entry 12", after_close,
               sign1_statement("org-e", _payload("org-e", Action.ENDORSE, after_close,
                                                 name="Organisation E")),
               "signers", VERIFICATION,
               "the statement was closed at entry 12; nothing may follow"),
        Attack("payload-field-not-allowed-for-action", "org-b's withdrawal with a domain "
               "(payload key 6), which only an endorsement takes; iss is the domain, as for an "
               "endorsement", 6,
               sign1_statement("org-b", _payload("org-b", Action.WITHDRAW, 6,
                                                 domain="org-b.example"),
                               domain="org-b.example"),
               "encoding", FORMAT, "payload: withdraw does not take domain"),
    ]
    # fmt: on


def _decode_and_verify(data: bytes) -> None:
    cose.verify_endorsement(cose.decode_endorsement(data))


def _attack(case: Attack) -> Json:
    """The attack's vector, once ``verify`` fails on it exactly as expected.

    ``_check_append`` checks the campaign recipe on the same statements.
    """
    valid = ledger_entries()
    body: Body = (case.entry_type, cbor.byte_string(case.statement), recorded_at(case.at),
                  STATEMENT_HASH)  # fmt: skip
    data = chain([*_ledger_bodies()[: case.at], body])[-1]
    agree(chain(_ledger_bodies()[: case.at]) == list(valid[: case.at]), f"{case.name}: prefix")
    what = f"lifecycle attack {case.name}"
    if case.check in ("encoding", "signatures"):  # the statement itself is bad
        expect_error(lambda: _decode_and_verify(case.statement), case.error,
                     case.error_contains, what)  # fmt: skip
    else:  # the statement is good; the lifecycle refuses it here
        _decode_and_verify(case.statement)
    report = verify.check_entries(enumerate([*valid[: case.at], data]))
    found = [(p.seq, p.check, p.message) for p in report.problems]
    agree(
        len(found) == 1 and found[0][:2] == (case.at, case.check)
        and case.error_contains in found[0][2],
        f"{what}: expected {case.check} at {case.at}, the library reports {found}",
    )  # fmt: skip
    return {
        "name": case.name,
        "description": case.description,
        "valid_entries": case.at,
        "entry_hex": data.hex(),
        "failed_checks": [case.check],
        "problems": [{"entry": case.at, "check": case.check}],
        "error": case.error,
        "error_contains": case.error_contains,
        "refused_by_append": case.append,
    }


def _check_append(cases: list[Attack]) -> None:
    """``append`` refuses each attack's statement after the same entries, as expected.

    One recipe ledger grows entry by entry; each attack is tried when it reaches the attack's
    entries (a refused statement leaves the ledger as it was).
    """
    with (
        tempfile.TemporaryDirectory() as directory,
        recipe_ledger(Path(directory) / SOURCE) as book,
    ):
        for case in sorted(cases, key=lambda c: c.at):
            extend(book, case.at)
            refusal = _refused_by_append(book, case)
            agree(refusal == case.append, f"{case.name}: append refuses it: {refusal}")


def _refused_by_append(book: Ledger, case: Attack) -> bool:
    """Whether ``append`` refuses the attack's statement with the expected error, unchanged."""
    when = recorded_at(case.at)
    try:
        book.check_endorsement(case.statement, now=when)
    except LedgerError as exc:
        agree(
            type(exc).__name__ == case.error and case.error_contains in str(exc),
            f"{case.name}: check_endorsement raised {type(exc).__name__}: {exc}",
        )
    else:
        return False
    result = book.append([(case.name, case.statement)], now=when)
    agree(not result.appended and book.size == case.at, f"{case.name}: appended")
    agree(case.error_contains in result.rejected[0].reason, f"{case.name}: {result.rejected}")
    return True


# --- Look-alike names --------------------------------------------------------------------------

# (first, second, relation, what the pair shows), written by hand from section 17.
NAMES: Final = (
    ("Organisation A", "ORGANISATION A", "same", "case"),
    ("Organisation A", "Organisation  A", "same", "two spaces for one"),
    ("Organisation A", "Organisation\u00a0A", "same", "NO-BREAK SPACE for the space"),
    ("Organisation A", LOOKALIKE_NAME, "confusable", "CYRILLIC CAPITAL LETTER O for O"),
    ("Organisation A", "Org\u0430nis\u0430tion A", "confusable",
     "CYRILLIC SMALL LETTER A for both a's"),
    ("Save the Children", "Save the Chi1dren", "confusable", "the digit 1 for l"),
    ("Save the Children", "SAVE THE CHI1DREN", "confusable", "case, and the digit 1 for L"),
    ("Amnesty", "Arnnesty", "confusable", "rn for m"),
    ("Organisation A", "Organisation B", "distinct", "another letter"),
    ("Save the Children", "Save the Childen", "distinct", "a letter left out"),
)  # fmt: skip


def _names() -> list[Json]:
    pairs = []
    for first, second, relation, shows in NAMES:
        same = same_name(first, second)
        confusable = skeleton(first) == skeleton(second)
        found = "same" if same else "confusable" if confusable else "distinct"
        agree(found == relation, f"names {first!r} {second!r}: {found}, not {relation}")
        agree(not same or confusable, f"names {first!r} {second!r}: same but not confusable")
        pairs.append(
            {
                "first": first,
                "second": second,
                "shows": shows,
                "relation": relation,
                "skeletons": [skeleton(first), skeleton(second)],
            }
        )
    return pairs


# --- Rules -------------------------------------------------------------------------------------


def _rules_of(rule: ActionRule) -> None:
    """The library's payload rules for the action are the ones written above."""
    minimal: dict[str, Any] = {
        "name": "Organisation A",
        "domain": "org-a.example",
        "url": "https://org-a.example/",
        "country": "BE",
        "ref": 1,
        "new_key": public("org-a-2"),
        "revoked_key": public("org-a"),
        "revoked_from": GENESIS_TIME,
        "reason": RemovalReason.FRAUDULENT,
        "note": REMOVAL_NOTE,
    }

    def claim(fields: set[str]) -> Endorsement:
        return Endorsement(
            action=rule.action, statement_hash=STATEMENT_HASH, public_key=public("org-a"),
            signed_at=GENESIS_TIME, **{"name": None} | {f: minimal[f] for f in fields},
        )  # fmt: skip

    name, required = rule.action.name.lower(), set(rule.required)
    encode_payload(claim(set(rule.allowed)))
    for field in FIELD_KEYS:
        if field in required:
            without = functools.partial(encode_payload, claim(required - {field}))
            expect_error(without, FORMAT, f"{name} needs {field}", f"{rule.action}")
        elif field not in rule.allowed:
            extra = functools.partial(encode_payload, claim(required | {field}))
            expect_error(extra, FORMAT, f"{name} does not take {field}", f"{rule.action}")


def _actions() -> list[Json]:
    for rule in ACTIONS:
        _rules_of(rule)
    return [
        {
            "action": int(rule.action),
            "name": rule.action.name.lower(),
            "entry_type": rule.entry_type,
            "envelope": rule.envelope,
            "signer": rule.signer,
            "required": list(rule.required),
            "allowed": list(rule.allowed),
        }
        for rule in ACTIONS
    ]


def _removal_reasons() -> list[Json]:
    agree(
        {int(r): r.code for r in RemovalReason} == REMOVAL_REASONS,
        f"removal reasons: {list(RemovalReason)}",
    )
    return [{"value": value, "name": code} for value, code in REMOVAL_REASONS.items()]


def _keys() -> list[Json]:
    keys = []
    for label, name in LIFECYCLE_KEY_NAMES.items():
        key = signing_key(label).public
        agree(key.fingerprint == fingerprint(key.raw), f"{label}: fingerprint")
        keys.append(
            {
                "label": label,
                "seed_input": KEY_SEED_PREFIX + label,
                "seed_hex": key_seed(label).hex(),
                "name": name,
                "public_key_hex": key.raw.hex(),
                "key_id_hex": key_id(key.raw).hex(),
                "fingerprint": fingerprint(key.raw),
            }
        )
    return keys


def build() -> Json:
    """The file's content."""
    entries = ledger_entries()
    _check_recipe()
    statements = [_statement(statement) for statement in STATEMENTS]
    try:
        cases = _attacks()
        attacks = [_attack(case) for case in cases]
        _check_append(cases)
    except LedgerError as exc:  # a library error where none was expected
        raise GenerationError(f"lifecycle attack: {type(exc).__name__}: {exc}") from None
    return {
        "description": (
            "The lifecycle of endorsements. 'actions': who signs what (entry type 1: an "
            "organisation key; 2: the log key), in which envelope, with which payload fields "
            "required and allowed. 'keys': the keys used here beyond those of keys.json "
            "(org-a, org-b, org-c, log). 'statements': signed statements step by step; a "
            "rotation is a COSE_Sign (tag 98) with the old key's signature, then the new "
            "key's, each over its own Sig_structure. 'ledger': 13 entries (the first 4 are "
            "those of ledger-small.json) using them all, each entry's body naming its "
            "statement (endorsement.json#<name> for the endorsements of that file), and "
            "the report a verifier makes of it: the signatories with the key they sign with "
            "now, the departures, the flags, the closing entry. 'attacks': the first "
            "valid_entries entries of that ledger, then entry_hex; a verifier MUST report "
            "exactly the failed check at that entry, and refusing the entry's statement gives "
            "the error class with error_contains (a decoding error for 'encoding', a "
            "verification error for 'signatures' and 'signers'); refused_by_append says "
            "whether the campaign's append refuses the statement after the same entries. "
            "'names': pairs of organisation names, the same name, confusable (UTS #39 "
            "skeletons after folding case and white space) or distinct."
        ),
        "provenance": provenance("section 17 (Lifecycle)"),
        "statement_text": STATEMENT_TEXT,
        "statement_hash": display_hash(STATEMENT_HASH),
        "actions": _actions(),
        "removal_reasons": _removal_reasons(),
        "keys": _keys(),
        "statements": statements,
        "ledger": {
            "entries": [_entry_json(seq, data) for seq, data in enumerate(entries)],
            "source": SOURCE,
            "report": _report(),
        },
        "attacks": attacks,
        "names": _names(),
    }
