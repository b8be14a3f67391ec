"""checkpoints.json: checkpoints, cosignatures, proofs, witness requests, policies and reports.

It illustrates docs/format.md sections 9 to 16, over the 4-entry ledger of ledger-small.json.
Every valid vector is built twice: here by hand (the C2SP line grammars with string formatting,
key ids with hashlib, RFC 9162 roots and proofs with a small recursive implementation written
from RFC 9162 §2.1) and with the library (``ledger.note``, ``ledger.witness``, ``ledger.policy``,
``ledger.proofs`` and the ``ledger.campaign`` recipe that really creates a ledger file, signs
its checkpoints and writes its tlog-proof); generation stops if they differ. Only Ed25519
signing and key derivation come from the library.

The expected outcome of each negative vector (error class, message substring, witness refusal
reason and HTTP status) and of each policy case is written here by hand from docs/format.md;
generation stops if the library disagrees. The verify reports are produced by the library on
a real ledger file and recorded as the example of the report schema (section 16); their verdict
and check statuses are also written here by hand and compared.
"""

from __future__ import annotations

import base64
import functools
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import gen_cbor as cbor
from gen_common import (
    GENESIS_TIME,
    HOUR,
    KEY_SEED_PREFIX,
    LEDGER_ENDORSEMENTS,
    NOTE_ED25519,
    ORIGIN,
    STATEMENT_HASH,
    STATEMENT_TEXT,
    TITLE,
    GenerationError,
    Json,
    agree,
    b64,
    chain,
    endorse,
    endorsement,
    expect_error,
    key_seed,
    leaf_hash,
    ledger_bodies,
    provenance,
    public,
    recorded_at,
    sha256,
    signing_key,
    valid_ledger,
    verifier_key,
)

from ledger import audit, merkle, note, policy, proofs, render, witness
from ledger.campaign import Ledger
from ledger.errors import LedgerError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import Checkpoint

EM_DASH: Final = "\u2014"
COSIGNATURE_V1: Final = b"\x04"  # signed-note signature type of tlog-cosignature Ed25519
TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
OTHER_ORIGIN: Final = "other.example/log"
SIZES: Final = (2, 4)  # the signed checkpoints of the example ledger
PROOF_INDEX: Final = 3  # the entry of the tlog-proof
OLD_SIZE: Final = 2  # the witness request goes from this size to 4
SOURCE: Final = "ledger.db"  # the report's source, as the reader named the file

# The witnesses: label (seed) -> key name (the cosignature key name). The policy names each
# witness by its label.
WITNESSES: Final = {
    "witness-a": "witness-a.example/w",
    "witness-b": "witness-b.example/w",
    "witness-c": "witness-c.example/w",
}
COSIGNED_AT: Final = {
    "witness-a": GENESIS_TIME + 4 * HOUR,
    "witness-b": GENESIS_TIME + 4 * HOUR + 30,
}


# --- Keys ----------------------------------------------------------------------------------------


@functools.cache
def witness_key(label: str) -> SigningKey:
    return SigningKey.from_seed(WITNESSES[label], key_seed(label))


def cosignature_key_id_input(name: str, public_key: bytes) -> bytes:
    """tlog-cosignature: the key id is SHA-256 of this, first 4 bytes."""
    return name.encode("utf-8") + b"\n" + COSIGNATURE_V1 + public_key


def witness_vkey(label: str) -> str:
    name, pk = WITNESSES[label], witness_key(label).public.raw
    key_id = sha256(cosignature_key_id_input(name, pk))[:4]
    return f"{name}+{key_id.hex()}+{b64(COSIGNATURE_V1 + pk)}"


def log_public() -> VerifyingKey:
    return signing_key("log").public


# --- RFC 9162 §2.1, recursively (independent of ledger.merkle) -----------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]), RFC 9162 §2.1.1."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split(len(leaves))
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def audit_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*audit_path(m, leaves[:k]), mth(leaves[k:])]
    return [*audit_path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1; PROOF(m, D[n]) is SUBPROOF(m, D[n], true)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


# --- Signed notes, by hand -----------------------------------------------------------------------


def checkpoint_text(origin: str, size: int | str, root: bytes | str) -> str:
    """tlog-checkpoint note text: origin, size, base64 root (no extension lines)."""
    root_text = root if isinstance(root, str) else b64(root)
    return f"{origin}\n{size}\n{root_text}\n"


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    """signed-note: em dash, space, key name, space, base64(key id || signature), newline."""
    return f"{EM_DASH} {name} {b64(key_id + signature)}\n"


def log_signature(text: str, key: SigningKey | None = None) -> tuple[bytes, str]:
    """(Ed25519 signature, signature line) of a note text by the log key (or ``key``)."""
    key = key or signing_key("log")
    signature = key.sign(text.encode("utf-8"))
    key_id = sha256(key.name.encode("utf-8") + b"\n" + NOTE_ED25519 + key.public.raw)[:4]
    return signature, signature_line(key.name, key_id, signature)


def signed(text: str, *lines: str) -> str:
    """A signed note: the text, the blank line, the signature lines."""
    return text + "\n" + "".join(lines)


def cosigned_message(text: str, timestamp: int) -> str:
    """tlog-cosignature, Ed25519 signed message: header line, time line, checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}"


def cosignature(label: str, text: str, timestamp: int) -> tuple[bytes, str]:
    """(timestamped_signature, signature line) of witness ``label`` over a checkpoint text."""
    key = witness_key(label)
    value = timestamp.to_bytes(8, "big") + key.sign(cosigned_message(text, timestamp).encode())
    key_id = sha256(cosignature_key_id_input(key.name, key.public.raw))[:4]
    return value, signature_line(key.name, key_id, value)


def hash_lines(hashes: Sequence[bytes]) -> str:
    return "".join(b64(h) + "\n" for h in hashes)


def tlog_proof_text(index: int, hashes: Sequence[bytes], checkpoint: str, extra: bytes) -> str:
    """tlog-proof@v1: header, extra, index, proof lines, empty line, checkpoint."""
    head = f"{TLOG_PROOF_HEADER}\nextra {b64(extra)}\nindex {index}\n"
    return f"{head}{hash_lines(hashes)}\n{checkpoint}"


def request_text(old: int | str, hashes: Sequence[bytes], checkpoint: str) -> str:
    """tlog-witness add-checkpoint body: old size line, proof lines, empty line, checkpoint."""
    return f"old {old}\n{hash_lines(hashes)}\n{checkpoint}"


def flip_base64(text: str, index: int = 0) -> str:
    """The base64 of the same bytes with bit 0 of byte ``index`` flipped."""
    raw = bytearray(base64.b64decode(text))
    raw[index] ^= 1
    return b64(bytes(raw))


# --- The example ledger and its anchors ---------------------------------------------------------


class Anchors(NamedTuple):
    """The checkpoints of the example ledger, built by hand."""

    roots: dict[int, bytes]
    texts: dict[int, str]  # checkpoint note text by size
    signatures: dict[int, bytes]
    lines: dict[int, str]  # log signature line by size
    notes: dict[int, str]  # signed note (log signature only) by size
    cosignatures: dict[str, tuple[bytes, str]]  # witness label -> (value, line), on size 4
    cosigned: str  # the size-4 note with the log signature and both cosignatures
    fork_text: str  # a size-4 checkpoint with another root, signed by the log key
    fork_note: str


@functools.cache
def anchors() -> Anchors:
    entries = valid_ledger()
    roots = {size: mth(entries[:size]) for size in range(len(entries) + 1)}
    texts = {size: checkpoint_text(ORIGIN, size, roots[size]) for size in SIZES}
    signatures, lines, notes = {}, {}, {}
    for size in SIZES:
        signatures[size], lines[size] = log_signature(texts[size])
        notes[size] = signed(texts[size], lines[size])
    cosigs = {label: cosignature(label, texts[4], when) for label, when in COSIGNED_AT.items()}
    cosigned = signed(texts[4], lines[4], *(line for _, line in cosigs.values()))
    fork_text = checkpoint_text(ORIGIN, 4, mth(fork_entries()))
    fork_note = signed(fork_text, log_signature(fork_text)[1])
    return Anchors(roots, texts, signatures, lines, notes, cosigs, cosigned, fork_text, fork_note)


@functools.cache
def fork_entries() -> tuple[bytes, ...]:
    """Another history of 4 entries: entry 3 is org-c's endorsement signed 30 minutes later."""
    bodies = ledger_bodies()
    other = endorse(
        "org-c", name="Organisation C (Soci\u00e9t\u00e9)", domain="org-c.example",
        signed_at=GENESIS_TIME + 3 * HOUR + 1800,
    )  # fmt: skip
    bodies[3] = (1, cbor.byte_string(other), recorded_at(3), STATEMENT_HASH)
    return tuple(chain(bodies))


def policy_text(*, without: str | None = None) -> str:
    """The example policy; ``without`` drops that witness's line (a negative vector)."""
    lines = [
        "# Witness policy of the format vectors (docs/format.md section 13)",
        f"log {verifier_key(ORIGIN, public('log'))}",
        "",
        *(f"witness {label} {witness_vkey(label)}" for label in WITNESSES if label != without),
        "group newsrooms 1 witness-b witness-c",
        "group main all witness-a newsrooms",
        "quorum main",
    ]
    return "\n".join(lines) + "\n"


# Who cosigned -> (quorum satisfied, groups satisfied), written from the policy by hand.
POLICY_CASES: Final[tuple[tuple[tuple[str, ...], bool, tuple[str, ...]], ...]] = (
    ((), False, ()),
    (("witness-a",), False, ()),
    (("witness-b", "witness-c"), False, ("newsrooms",)),
    (("witness-a", "witness-b"), True, ("newsrooms", "main")),
    (("witness-a", "witness-c"), True, ("newsrooms", "main")),
    (("witness-a", "witness-b", "witness-c"), True, ("newsrooms", "main")),
)


# --- The library's view: a real ledger file ----------------------------------------------------


class Produced(NamedTuple):
    """What the library recipe produced on a real ledger file."""

    notes: dict[int, bytes]
    cosigned: bytes
    tlog_proof: bytes
    reports: list[Json]


def _write_ledger(path: Path) -> tuple[dict[int, bytes], bytes, bytes]:
    """Create the example ledger with the recipe: entries, checkpoints at 2 and 4, cosignatures."""
    log = signing_key("log")
    notes: dict[int, bytes] = {}
    with Ledger.create(
        path, statement=STATEMENT_TEXT.encode(), title=TITLE, origin=ORIGIN, log_key=log,
        now=GENESIS_TIME,
    ) as book:  # fmt: skip
        for seq, name in enumerate(LEDGER_ENDORSEMENTS, 1):
            result = book.append([(name, endorsement(name)[2])], now=recorded_at(seq))
            agree(result.appended == ((name, seq),), f"append {name}: {result.rejected}")
            if seq + 1 in SIZES:
                notes[seq + 1] = book.checkpoint(log, now=recorded_at(seq) + 30)
        agree(
            [book.store.entry(i) for i in range(book.size)] == list(valid_ledger()),
            "the recipe's ledger is not the ledger of ledger-small.json",
        )
        note_4 = note.parse_note(notes[4])
        lines = witness.format_cosignature_lines(
            note.cosign_checkpoint(note_4, witness_key(label), when)
            for label, when in COSIGNED_AT.items()
        )
        cosigned = book.add_cosignatures(lines)
        tlog_proof = book.tlog_proof(PROOF_INDEX)
    return notes, cosigned, tlog_proof


class ReportCase(NamedTuple):
    name: str
    description: str
    statement: bool
    saved: str  # the checkpoint the reader saved: "size-2" or "fork"
    policy: bool
    incremental: bool
    verified: bool
    statuses: dict[str, str]  # the check statuses that are not "passed"


PASSED: Final = dict.fromkeys(
    ("encoding", "sequence", "links", "statement", "signatures", "signers", "times"), "passed"
) | {"bundle": "not run"}  # the reports are of a SQLite ledger, not of a published bundle
REPORTS: Final = (
    ReportCase(
        "report-all-checks-passed",
        "full mode, with the statement text, the size-2 checkpoint saved earlier and the policy",
        True, "size-2", True, False, True,
        {"checkpoint": "passed", "consistency": "passed", "witnesses": "passed"},
    ),
    ReportCase(
        "report-incremental",
        "the same, in incremental mode from the saved size-2 checkpoint: entries 2 and 3 are "
        "checked; the list's rules (signers) are not, and no list is computed",
        True, "size-2", True, True, True,
        {"signers": "not run", "checkpoint": "passed", "consistency": "passed",
         "witnesses": "passed"},
    ),
    ReportCase(
        "report-fork-detected",
        "full mode, without statement text or policy, the reader having saved the fork "
        "checkpoint of vector fork-same-size-different-root",
        False, "fork", False, False, False,
        {"checkpoint": "passed", "consistency": "failed", "witnesses": "not run"},
    ),
)  # fmt: skip


def _report(path: Path, case: ReportCase, saved: bytes, policy_file: policy.Policy) -> Json:
    report = audit.check_ledger_file(
        path,
        statement=STATEMENT_TEXT.encode() if case.statement else None,
        saved_checkpoint=saved,
        policy=policy_file if case.policy else None,
        incremental=case.incremental,
    )
    document = render.report_json(report, SOURCE)
    agree(document["verified"] == case.verified, f"{case.name}: verified is not {case.verified}")
    agree(document["checks"] == PASSED | case.statuses, f"{case.name}: {document['checks']}")
    agree(document["mode"] == ("incremental" if case.incremental else "full"), f"{case.name}")
    return {
        "name": case.name,
        "description": case.description,
        "setup": {
            "ledger": "the entries of ledger-small.json",
            "stored_checkpoints": [
                "/checkpoints/0/signed_note",
                "/cosigned_checkpoint/signed_note",
            ],
            "statement": "ledger-small.json#/statement_text" if case.statement else None,
            "saved_checkpoint": saved_pointers()[case.saved],
            "policy": "/policy/text" if case.policy else None,
            "incremental": case.incremental,
            "source": SOURCE,
        },
        "report": document,
    }


def saved_pointers() -> dict[str, str]:
    """Where the checkpoints a reader saved are in this file (the fork vector comes last)."""
    return {"size-2": "/checkpoints/0/signed_note", "fork": f"/invalid/{len(_negatives())}/input/1"}


@functools.cache
def produced() -> Produced:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / SOURCE
        notes, cosigned, tlog_proof = _write_ledger(path)
        policy_file = policy.parse_policy(policy_text())
        saved = {"size-2": notes[2], "fork": anchors().fork_note.encode()}
        reports = [_report(path, case, saved[case.saved], policy_file) for case in REPORTS]
    return Produced(notes, cosigned, tlog_proof, reports)


# --- Valid vectors -------------------------------------------------------------------------------


def _log_key() -> Json:
    key = log_public()
    agree(key.to_verifier_key() == verifier_key(ORIGIN, key.raw), "log verifier key")
    return {
        "label": "log",
        "name": ORIGIN,
        "seed_input": KEY_SEED_PREFIX + "log",
        "public_key_hex": key.raw.hex(),
        "verifier_key": key.to_verifier_key(),
    }


def _note_key_id() -> Json:
    pk = public("log")
    data = ORIGIN.encode("utf-8") + b"\n" + NOTE_ED25519 + pk
    key_id = sha256(data)[:4]
    agree(note.note_key_id(ORIGIN, 1, pk) == key_id, "note key id")
    agree(log_public().note_key_id() == key_id, "note key id of the log key")
    return {
        "key_name": ORIGIN,
        "signature_type_hex": NOTE_ED25519.hex(),
        "public_key_hex": pk.hex(),
        "input_hex": data.hex(),
        "sha256_hex": sha256(data).hex(),
        "key_id_hex": key_id.hex(),
    }


def _checkpoints() -> list[Json]:
    a, made = anchors(), produced()
    items = []
    for size in SIZES:
        library = note.sign_checkpoint(Checkpoint(ORIGIN, size, a.roots[size]), signing_key("log"))
        agree(library == a.notes[size].encode(), f"checkpoint {size}: the library signs otherwise")
        agree(made.notes[size] == library, f"checkpoint {size}: Ledger.checkpoint differs")
        opened = note.open_checkpoint(library, log_public())
        agree(opened.checkpoint == Checkpoint(ORIGIN, size, a.roots[size]), f"open {size}")
        items.append(
            {
                "size": size,
                "root_hex": a.roots[size].hex(),
                "root_base64": b64(a.roots[size]),
                "text": a.texts[size],
                "signature_hex": a.signatures[size].hex(),
                "signature_line": a.lines[size],
                "signed_note": a.notes[size],
            }
        )
    return items


def _witnesses() -> list[Json]:
    items = []
    for label, name in WITNESSES.items():
        key = witness_key(label).public
        data = cosignature_key_id_input(name, key.raw)
        agree(note.cosignature_key_id(key) == sha256(data)[:4], f"{label}: cosignature key id")
        agree(note.witness_verifier_key(key) == witness_vkey(label), f"{label}: vkey")
        agree(note.parse_witness_verifier_key(witness_vkey(label)) == key, f"{label}: parse")
        items.append(
            {
                "label": label,
                "name": name,
                "seed_input": KEY_SEED_PREFIX + label,
                "public_key_hex": key.raw.hex(),
                "key_id_input_hex": data.hex(),
                "cosignature_key_id_hex": sha256(data)[:4].hex(),
                "verifier_key": witness_vkey(label),
            }
        )
    return items


def _cosignatures() -> list[Json]:
    a = anchors()
    checkpoint_note = note.parse_note(a.notes[4].encode())
    items = []
    for label, when in COSIGNED_AT.items():
        value, line = a.cosignatures[label]
        library = note.cosign_checkpoint(checkpoint_note, witness_key(label), when)
        agree(library.key_id + library.signature == base64.b64decode(line.split()[-1]), label)
        agree(witness.format_cosignature_lines([library]).decode() == line, f"{label}: line")
        message = cosigned_message(a.texts[4], when)
        items.append(
            {
                "witness": label,
                "checkpoint_size": 4,
                "timestamp": when,
                "signed_message": message,
                "signed_message_hex": message.encode().hex(),
                "timestamped_signature_hex": value.hex(),
                "line": line,
            }
        )
    return items


def _cosigned_checkpoint() -> Json:
    a, made = anchors(), produced()
    agree(made.cosigned == a.cosigned.encode(), "Ledger.add_cosignatures gives another note")
    keys = [witness_key(label).public for label in WITNESSES]
    opened = note.open_checkpoint(a.cosigned.encode(), log_public(), witnesses=keys)
    agree(
        [(k.name, t) for k, t in opened.witnesses_verified]
        == [(WITNESSES[label], when) for label, when in COSIGNED_AT.items()],
        "cosigned checkpoint: the verified cosignatures",
    )
    alone = note.open_checkpoint(a.cosigned.encode(), log_public())
    agree(alone.witnesses_verified == (), "cosignatures of unknown witnesses must be ignored")
    return {
        "size": 4,
        "cosigned_by": list(COSIGNED_AT),
        "signed_note": a.cosigned,
    }


def _tlog_proof() -> Json:
    a, made = anchors(), produced()
    entries = valid_ledger()
    hashes = audit_path(PROOF_INDEX, entries[:4])
    text = tlog_proof_text(PROOF_INDEX, hashes, a.cosigned, entries[PROOF_INDEX])
    agree(made.tlog_proof == text.encode(), "Ledger.tlog_proof writes another file")
    parsed = note.parse_tlog_proof(text.encode())
    agree(note.format_tlog_proof(parsed) == text.encode(), "tlog-proof round trip")
    agree(parsed.extra == entries[PROOF_INDEX], "tlog-proof extra is the entry")
    keys = [witness_key(label).public for label in WITNESSES]
    note.verify_tlog_proof(parsed, leaf_hash(entries[PROOF_INDEX]), log_public(), witnesses=keys)
    return {
        "index": PROOF_INDEX,
        "extra": f"ledger-small.json#/entries/{PROOF_INDEX}/entry_hex",
        "leaf_hash_hex": leaf_hash(entries[PROOF_INDEX]).hex(),
        "proof_hex": [h.hex() for h in hashes],
        "checkpoint": "/cosigned_checkpoint/signed_note",
        "text": text,
    }


def _known(size: int) -> dict[str, witness.WitnessedLog]:
    """A witness that follows the example log and last cosigned its checkpoint of ``size``."""
    a = anchors()
    if size == 0:
        return {ORIGIN: witness.WitnessedLog.new(log_public())}
    vkey = log_public().to_verifier_key()
    return {ORIGIN: witness.WitnessedLog(ORIGIN, vkey, size, a.roots[size], a.notes[size].encode())}


def _witness_request() -> Json:
    a = anchors()
    hashes = subproof(OLD_SIZE, valid_ledger()[:4], True)
    text = request_text(OLD_SIZE, hashes, a.notes[4])
    library = witness.AddCheckpointRequest(OLD_SIZE, tuple(hashes), a.notes[4].encode())
    agree(witness.format_add_checkpoint_request(library) == text.encode(), "request encoding")
    parsed = witness.parse_add_checkpoint_request(text.encode())
    agree(parsed == library, "request parsing")
    when = COSIGNED_AT["witness-a"]
    record, cosig = witness.witness_checkpoint(
        _known(OLD_SIZE), parsed, witness_key("witness-a"), when
    )
    response = witness.format_cosignature_lines([cosig]).decode()
    agree(response == a.cosignatures["witness-a"][1], "the witness's response")
    agree((record.size, record.root) == (4, a.roots[4]), "the witness's new record")
    agree(record.checkpoint == a.notes[4].encode(), "the witness records the log-signed note")
    return {
        "witness": "witness-a",
        "witness_state": {"origin": ORIGIN, "size": OLD_SIZE},
        "old_size": OLD_SIZE,
        "size": 4,
        "proof_hex": [h.hex() for h in hashes],
        "checkpoint": "/checkpoints/1/signed_note",
        "text": text,
        "timestamp": when,
        "response": response,
    }


def _json_proofs() -> Json:
    entries = valid_ledger()
    roots = anchors().roots
    tree = merkle.MemoryTree()
    for data in entries:
        tree.append(data)
    inclusion = {
        "index": PROOF_INDEX,
        "size": 4,
        "leaf_hash": b64(leaf_hash(entries[PROOF_INDEX])),
        "root": b64(roots[4]),
        "proof": [b64(h) for h in audit_path(PROOF_INDEX, entries[:4])],
    }
    consistency = {
        "old_size": OLD_SIZE,
        "size": 4,
        "old_root": b64(roots[OLD_SIZE]),
        "root": b64(roots[4]),
        "proof": [b64(h) for h in subproof(OLD_SIZE, entries[:4], True)],
    }
    agree(proofs.prove_inclusion(tree, PROOF_INDEX, 4).to_json() == inclusion, "inclusion JSON")
    agree(proofs.prove_consistency(tree, OLD_SIZE, 4).to_json() == consistency, "consistency")
    proofs.inclusion_from_json(inclusion).verify()
    proofs.consistency_from_json(consistency).verify()
    return {"inclusion": inclusion, "consistency": consistency}


def _policy() -> Json:
    text = policy_text()
    parsed = policy.parse_policy(text)
    agree(parsed.witness_keys == tuple(witness_key(w).public for w in WITNESSES), "policy keys")
    agree(parsed.log_key(ORIGIN) == log_public(), "policy log key")
    cases = []
    for cosigners, satisfied, groups in POLICY_CASES:
        result = policy.evaluate_policy(parsed, cosigners)
        found = tuple(g.name for g in result.groups if g.satisfied)
        agree((result.satisfied, found) == (satisfied, groups), f"policy with {cosigners}")
        by_key = policy.evaluate_policy(parsed, [witness_key(w).public for w in cosigners])
        agree(by_key == result, f"policy with the keys of {cosigners}")
        cases.append(
            {
                "cosigned_by": list(cosigners),
                "satisfied": satisfied,
                "groups_satisfied": list(groups),
            }
        )
    return {"text": text, "quorum": parsed.quorum, "cases": cases}


# --- Witness refusals ----------------------------------------------------------------------------


class Refusal(NamedTuple):
    name: str
    description: str
    witness_size: int  # the size the witness last cosigned (its checkpoint is in this file)
    request: str
    reason: str
    http_status: int
    error_contains: str


def _refusals() -> list[Refusal]:
    a = anchors()
    entries = valid_ledger()
    other_log = SigningKey.from_seed(OTHER_ORIGIN, key_seed("other-log"))
    other_text = checkpoint_text(OTHER_ORIGIN, 2, a.roots[2])
    other_note = signed(other_text, log_signature(other_text, other_log)[1])
    impostor = SigningKey.from_seed(ORIGIN, key_seed("not-the-log-key"))
    forged = signed(a.texts[4], log_signature(a.texts[4], impostor)[1])
    proof = subproof(OLD_SIZE, entries[:4], True)
    bad_proof = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    # fmt: off
    return [
        Refusal("witness-refuses-unknown-log", "a checkpoint of a log this witness does not "
                f"follow ({OTHER_ORIGIN}), correctly signed by that log's key", 2,
                request_text(0, [], other_note), "unknown-log", 404,
                f"this witness does not follow a log with origin '{OTHER_ORIGIN}'"),
        Refusal("witness-refuses-bad-signature", "the size-4 checkpoint signed by another key "
                "named after the origin: its signature line has another key id and is ignored",
                2, request_text(2, proof, forged), "bad-signature", 403,
                "the checkpoint has no valid signature by the log key"),
        Refusal("witness-refuses-old-size-above-size", "old 4 with the size-2 checkpoint", 2,
                request_text(4, [], a.notes[2]), "malformed", 400,
                "old size 4 is larger than the checkpoint size 2"),
        Refusal("witness-refuses-rollback", "the size-2 checkpoint, to a witness that cosigned "
                "size 4", 4, request_text(2, [], a.notes[2]), "rollback", 409,
                "rollback: checkpoint size 2 is smaller than size 4"),
        Refusal("witness-refuses-fork", "another size-4 root (the fork checkpoint of vector "
                "fork-same-size-different-root), to a witness that cosigned size 4", 4,
                request_text(4, [], a.fork_note), "fork", 409,
                "fork: size 4 was cosigned with root"),
        Refusal("witness-refuses-stale-old-size", "old 0 (the client does not know the "
                "witness's size), to a witness that cosigned size 2", 2,
                request_text(0, [], a.notes[4]), "conflict", 409,
                "old size 0 is stale; this witness has cosigned size 2 (resend with old 2)"),
        Refusal("witness-refuses-bad-proof", "the request from 2 to 4 with bit 0 of the first "
                "proof hash flipped", 2, request_text(2, bad_proof, a.notes[4]), "bad-proof", 422,
                "the consistency proof from size 2 to 4 does not verify"),
    ]
    # fmt: on


def _refusal(case: Refusal) -> Json:
    request = witness.parse_add_checkpoint_request(case.request.encode())
    try:
        witness.witness_checkpoint(
            _known(case.witness_size), request, witness_key("witness-a"), COSIGNED_AT["witness-a"]
        )
    except witness.WitnessRefusal as refusal:
        agree(
            (refusal.reason.value, refusal.http_status) == (case.reason, case.http_status)
            and case.error_contains in str(refusal),
            f"{case.name}: expected {case.reason} ({case.http_status}) with "
            f"{case.error_contains!r}, got {refusal.http_status} {refusal}",
        )
        body = refusal.response_body().decode()
    else:
        raise GenerationError(f"{case.name}: the witness cosigned")
    item: Json = {
        "name": case.name,
        "description": case.description,
        "witness_state": {"origin": ORIGIN, "size": case.witness_size},
        "request": case.request,
        "error": "VerificationError",
        "reason": case.reason,
        "http_status": case.http_status,
        "error_contains": case.error_contains,
    }
    if case.http_status == 409:
        agree(body == f"{case.witness_size}\n", f"{case.name}: response body {body!r}")
        item["response_body"] = body
    return item


# --- Negative vectors ----------------------------------------------------------------------------


class Bad(NamedTuple):
    name: str
    description: str
    kind: str  # checkpoint, tlog-proof, witness-request, policy, inclusion-json, consistency-json
    value: Any  # the text (or JSON value) given to the operation of its kind
    error: str
    error_contains: str
    witnesses: tuple[str, ...] = ()  # kind checkpoint: the witness keys the verifier trusts


def _operation(case: Bad) -> Callable[[], object]:
    keys = [witness_key(label).public for label in case.witnesses]
    if case.kind == "checkpoint":
        return lambda: note.open_checkpoint(case.value.encode(), log_public(), witnesses=keys)
    if case.kind == "tlog-proof":

        def check_proof() -> None:
            proof = note.parse_tlog_proof(case.value.encode())
            assert proof.extra is not None
            note.verify_tlog_proof(proof, leaf_hash(proof.extra), log_public())

        return check_proof
    if case.kind == "witness-request":
        return lambda: witness.parse_add_checkpoint_request(case.value.encode())
    if case.kind == "policy":
        return lambda: policy.parse_policy(case.value)
    if case.kind == "inclusion-json":
        return lambda: proofs.inclusion_from_json(case.value)
    if case.kind == "consistency-json":
        return lambda: proofs.consistency_from_json(case.value)
    raise GenerationError(f"unknown kind {case.kind}")


@functools.cache
def _negatives() -> tuple[Bad, ...]:
    a = anchors()
    text_4, root_4 = a.texts[4], b64(a.roots[4])
    # 32 bytes are 43 base64 digits and one '=': the last digit carries 2 unused bits.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(root_4[42])
    loose_root = root_4[:42] + b64(bytes([0, 0, last | 1]))[3] + "="
    agree(base64.b64decode(loose_root) == a.roots[4] and loose_root != root_4, "loose root")
    leading_zero = checkpoint_text(ORIGIN, "04", a.roots[4])
    loose = checkpoint_text(ORIGIN, 4, loose_root)
    impostor = SigningKey.from_seed(ORIGIN, key_seed("not-the-log-key"))
    other_log = SigningKey.from_seed(OTHER_ORIGIN, key_seed("other-log"))
    other_text = checkpoint_text(OTHER_ORIGIN, 4, a.roots[4])
    flipped_line = a.lines[4].replace(
        a.lines[4].split()[-1], flip_base64(a.lines[4].split()[-1], 4)
    )
    value_a, line_a = a.cosignatures["witness-a"]
    moved = value_a[:7] + bytes([value_a[7] + 1]) + value_a[8:]
    line_moved = line_a.replace(
        line_a.split()[-1], b64(base64.b64decode(line_a.split()[-1])[:4] + moved)
    )
    cosig_b = a.cosignatures["witness-b"][1]
    entries = valid_ledger()
    hashes = audit_path(PROOF_INDEX, entries[:4])
    flipped_hashes = [bytes([hashes[0][0] ^ 1]) + hashes[0][1:], *hashes[1:]]
    inclusion = _json_proofs()["inclusion"]
    consistency = _json_proofs()["consistency"]
    request = request_text(OLD_SIZE, subproof(OLD_SIZE, entries[:4], True), a.notes[4])
    # fmt: off
    return (
        Bad("checkpoint-size-leading-zero", "the size line is 04 (re-signed)", "checkpoint",
            signed(leading_zero, log_signature(leading_zero)[1]), "FormatError",
            "checkpoint size is not a canonical decimal number"),
        Bad("checkpoint-root-not-canonical-base64", "the unused low bits of the root's last "
            "base64 digit are not zero: it decodes to the same 32 bytes (re-signed)",
            "checkpoint", signed(loose, log_signature(loose)[1]), "FormatError",
            "checkpoint root is not canonical base64"),
        Bad("checkpoint-origin-not-log-key-name", f"a checkpoint of origin {OTHER_ORIGIN}, "
            "signed by a key of that name, opened with the example log key", "checkpoint",
            signed(other_text, log_signature(other_text, other_log)[1]), "VerificationError",
            f"checkpoint origin '{OTHER_ORIGIN}' is not the log key name '{ORIGIN}'"),
        Bad("note-missing-blank-line", "the size-4 checkpoint without the blank line before "
            "its signature line", "checkpoint", text_4 + a.lines[4], "FormatError",
            "note has no blank line before its signatures"),
        Bad("note-duplicate-signature-line", "the log's signature line twice", "checkpoint",
            signed(text_4, a.lines[4], a.lines[4]), "FormatError",
            "signature line 2 repeats a key name and key id"),
        Bad("signature-by-unknown-key-only", "the size-4 checkpoint signed only by another key "
            "named after the origin (another key id: an unknown signer, ignored)", "checkpoint",
            signed(text_4, log_signature(text_4, impostor)[1]), "VerificationError",
            "checkpoint is not signed by the log key"),
        Bad("log-signature-bit-flip", "bit 0 of the first signature byte (after the 4-byte key "
            "id) flipped", "checkpoint", signed(text_4, flipped_line), "VerificationError",
            "the log signature of the checkpoint does not verify"),
        Bad("cosignature-timestamp-changed", "witness-a's timestamp one second later, its "
            "signature kept; the verifier trusts both witnesses", "checkpoint",
            signed(text_4, a.lines[4], line_moved, cosig_b), "VerificationError",
            f"cosignature by '{WITNESSES['witness-a']}' does not verify",
            ("witness-a", "witness-b")),
        Bad("tlog-proof-hash-flipped", "bit 0 of the first proof hash flipped", "tlog-proof",
            tlog_proof_text(PROOF_INDEX, flipped_hashes, a.cosigned, entries[PROOF_INDEX]),
            "VerificationError",
            f"inclusion proof for leaf {PROOF_INDEX} does not lead to the root"),
        Bad("tlog-proof-index-out-of-range", "index 4 against the size-4 checkpoint",
            "tlog-proof", tlog_proof_text(4, hashes, a.cosigned, entries[PROOF_INDEX]),
            "FormatError", "tlog-proof index 4 is not below the checkpoint size 4"),
        Bad("witness-request-old-size-not-canonical", "the request from 2 to 4 with old 02",
            "witness-request", request.replace("old 2\n", "old 02\n", 1), "FormatError",
            "request old size is not a canonical decimal in 0..2**63-1"),
        Bad("policy-undefined-group-member", "the example policy without the witness-c line, "
            "which group newsrooms still lists", "policy", policy_text(without="witness-c"),
            "FormatError", "policy line 6: group member 'witness-c' is not defined on an "
            "earlier line"),
        Bad("inclusion-json-unknown-field", "the JSON inclusion proof with a field \"extra\"",
            "inclusion-json", inclusion | {"extra": ""}, "FormatError",
            "inclusion proof: expected exactly the fields index, size, leaf_hash, root, proof"),
        Bad("consistency-json-root-not-canonical-base64", "the JSON consistency proof's root "
            "with non-zero unused bits in its last base64 digit", "consistency-json",
            consistency | {"root": loose_root}, "FormatError",
            "root must be 32 bytes in canonical base64"),
    )
    # fmt: on


def _negative(case: Bad) -> Json:
    expect_error(_operation(case), case.error, case.error_contains, case.name)
    item: Json = {"name": case.name, "description": case.description, "kind": case.kind}
    item["input"] = case.value
    if case.witnesses:
        item["witnesses"] = list(case.witnesses)
    return item | {"error": case.error, "error_contains": case.error_contains}


def _fork() -> Json:
    """Two checkpoints of one log, same size, different roots: each verifies, the pair is proof."""
    a = anchors()
    pair = [a.notes[4], a.fork_note]
    for text in pair:
        note.open_checkpoint(text.encode(), log_public())
    expect_error(
        lambda: witness.witness_checkpoint(
            _known(4),
            witness.parse_add_checkpoint_request(request_text(4, [], a.fork_note).encode()),
            witness_key("witness-a"),
            COSIGNED_AT["witness-a"],
        ),
        "WitnessRefusal", "fork: size 4 was cosigned with root", "fork",
    )  # fmt: skip
    return {
        "name": "fork-same-size-different-root",
        "description": (
            "two checkpoints signed by the log key, both of size 4, with different roots (the "
            "second is the root of a ledger whose entry 3 is another endorsement by org-c): "
            "each verifies on its own; the pair is evidence of a fork. A witness that cosigned "
            "the first refuses the second (reason fork), and a verifier who saved the second "
            "fails the consistency check on the ledger of ledger-small.json "
            "(report-fork-detected)"
        ),
        "kind": "fork",
        "input": pair,
        "roots_hex": [a.roots[4].hex(), mth(fork_entries()).hex()],
        "error": "VerificationError",
        "reason": "fork",
        "error_contains": "fork: size 4 was cosigned with root",
    }


def _checked(valid: Json, name: str) -> Json:
    """Library parsing of an accepted variant."""
    opened = note.open_checkpoint(valid["input"].encode(), log_public())
    agree(opened.checkpoint.size == 4, name)
    return valid


def _accepted() -> list[Json]:
    a = anchors()
    stranger = SigningKey.from_seed("org-b", key_seed("org-b"))
    stranger_line = log_signature(a.texts[4], stranger)[1]
    return [
        _checked(
            {
                "name": "unknown-signature-ignored",
                "description": "a signature line by an unknown key (org-b) before the log's: "
                "ignored, the checkpoint verifies",
                "kind": "checkpoint",
                "input": signed(a.texts[4], stranger_line, a.lines[4]),
            },
            "unknown-signature-ignored",
        ),
        _checked(
            {
                "name": "cosignatures-of-untrusted-witnesses-ignored",
                "description": "the cosigned checkpoint, opened with the log key and no witness "
                "key: both cosignatures are ignored",
                "kind": "checkpoint",
                "input": a.cosigned,
            },
            "cosignatures-of-untrusted-witnesses-ignored",
        ),
    ]


def build() -> Json:
    """The file's content."""
    invalid = [_negative(case) for case in _negatives()]
    invalid.append(_fork())
    try:
        reports = produced().reports
    except LedgerError as exc:
        raise GenerationError(f"the example ledger file: {exc}") from None
    return {
        "description": (
            "Checkpoints of the ledger of ledger-small.json: the log key (keys.json 'log') and "
            "its signed-note key id, signed checkpoints at sizes 2 and 4 (C2SP tlog-checkpoint "
            "signed notes), three witness keys with their cosignature/v1 key ids and type 0x04 "
            "verifier keys, cosignatures of the size-4 checkpoint and the cosigned checkpoint, "
            "a tlog-proof@v1 file for entry 3 carrying the entry in its extra line, the "
            "tlog-witness add-checkpoint request from 2 to 4 and the witness's response, the "
            "JSON proof forms, a witness policy with the cosigner sets that do and do not "
            "satisfy its quorum, witness refusals, negative vectors named after the mutation "
            "(kind: the operation that MUST fail with 'error' and 'error_contains'), and "
            "verify reports (schema endorsement-ledger/verify-report/v1) made on a real ledger "
            "file. Text fields hold UTF-8 text (notes, proofs, requests, policies); a value "
            "'/x/y' is a JSON pointer into this file and 'file#/x/y' into another file."
        ),
        "provenance": provenance(
            "sections 9 to 16 (checkpoints, cosignatures, tlog-proof files, witness requests, "
            "policies, JSON proofs, what verify checks, the verify report)"
        ),
        "origin": ORIGIN,
        "log_key": _log_key(),
        "note_key_id": _note_key_id(),
        "checkpoints": _checkpoints(),
        "witnesses": _witnesses(),
        "cosignatures": _cosignatures(),
        "cosigned_checkpoint": _cosigned_checkpoint(),
        "tlog_proof": _tlog_proof(),
        "witness_request": _witness_request(),
        "json_proofs": _json_proofs(),
        "policy": _policy(),
        "accepted": _accepted(),
        "witness_refusals": [_refusal(case) for case in _refusals()],
        "invalid": invalid,
        "reports": reports,
    }
