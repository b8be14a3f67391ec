"""The library against the language-neutral vectors in tests/vectors/ (see docs/format.md).

Each vector file is read as plain JSON, as another implementation would read it: decoders and
encoders must reproduce its bytes, negative vectors must raise the named error class with the
message substring, and mutated ledgers must fail exactly the named checks at the named entries.
The generator's --check logic also runs here, so a stale vector file fails the suite, and every
hex block of docs/format.md labelled with a vector must equal that vector.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import cbor2
import pytest
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message, SignMessage

import merkle_reference as ref
from ledger import (
    audit,
    codec,
    cose,
    entry,
    merkle,
    note,
    policy,
    proofs,
    render,
    statement,
    verify,
    witness,
)
from ledger import keys as ledger_keys
from ledger import payload as payload_codec
from ledger.campaign import Ledger
from ledger.errors import FormatError, LedgerError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.lookalike import same_name, skeleton
from ledger.model import Action, Endorsement, Entry, EntryType, Genesis, RemovalReason
from ledger.store import create_store

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
FORMAT_DOC = ROOT / "docs" / "format.md"
FILES = (
    "canonical-text.json",
    "keys.json",
    "endorsement.json",
    "entries.json",
    "ledger-small.json",
    "checkpoints.json",
    "lifecycle.json",
)
ERRORS: dict[str, type[LedgerError]] = {
    "FormatError": FormatError,
    "VerificationError": VerificationError,
}


@cache
def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def _case_id(index: int, item: dict[str, Any]) -> str:
    for key in ("name", "label", "witness"):
        if key in item:
            return str(item[key])
    if "index" in item:
        return f"leaf-{item['index']}-in-{item['size']}"
    if "old_size" in item:
        return f"{item['old_size']}-to-{item['size']}"
    if "cosigned_by" in item:
        return "+".join(item["cosigned_by"]) or "nobody"
    return f"size-{item['size']}" if "size" in item else f"entry-{item.get('seq', index)}"


def cases(name: str, *pointer: str | int) -> list[Any]:
    """The vectors at a path of ``name``, as pytest params named after the vector."""
    value: Any = load(name)
    for token in pointer:
        value = value[token]
    return [pytest.param(item, id=_case_id(i, item)) for i, item in enumerate(value)]


def raises(case: dict[str, Any]) -> pytest.RaisesExc[LedgerError]:
    """Expect exactly the vector's error class, with its message substring."""
    return pytest.raises(ERRORS[case["error"]], match=re.escape(case["error_contains"]))


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


# --- Generator and provenance ------------------------------------------------------------------


@cache
def generator() -> ModuleType:
    path = VECTORS / "generate.py"
    spec = importlib.util.spec_from_file_location("vectors_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vector_files_are_current() -> None:
    # The same comparison as `python tests/vectors/generate.py --check`.
    assert generator().differences(VECTORS) == []


def test_check_mode_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert generator().main(["--check"]) == 0
    assert "current" in capsys.readouterr().out


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    for name in FILES:
        (tmp_path / name).write_text((VECTORS / name).read_text(encoding="utf-8"))
    stale = tmp_path / "keys.json"
    stale.write_text(stale.read_text().replace('"org-b"', '"org-x"', 1))
    (tmp_path / "extra.json").write_text("{}\n")
    found = generator().differences(tmp_path)
    assert [line.split(":")[0] for line in found] == ["keys.json", "extra.json"]


@pytest.mark.parametrize("name", FILES)
def test_every_file_has_description_and_provenance(name: str) -> None:
    document = load(name)
    assert document["description"]
    assert "tests/vectors/generate.py" in document["provenance"]
    assert "docs/format.md section" in document["provenance"]
    text = (VECTORS / name).read_text(encoding="utf-8")
    assert text.isascii()
    assert text.endswith("}\n")


def test_vector_files_are_small() -> None:
    sizes = {name: (VECTORS / name).stat().st_size for name in FILES}
    assert sizes["checkpoints.json"] < 60_000
    assert sizes["lifecycle.json"] < 100_000
    assert sum(sizes.values()) < 340_000


# --- Canonical statement text ------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("canonical-text.json", "cases"))
def test_canonical_text(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["input_hex"])
    if "error" in case:
        with raises(case):
            statement.canonicalize(raw)
        assert not statement.is_canonical(raw)
        return
    canonical = bytes.fromhex(case["canonical_hex"])
    assert statement.canonicalize(raw) == canonical
    assert statement.canonicalize(canonical) == canonical  # idempotent
    assert statement.canonicalize_text(raw.decode("utf-8")) == canonical.decode("utf-8")
    assert statement.is_canonical(canonical)
    assert statement.is_canonical(raw) == (raw == canonical)
    digest = statement.statement_hash(canonical)
    assert digest == hashlib.sha256(canonical).digest()  # what sha256sum prints
    assert statement.format_statement_hash(digest) == case["statement_hash"]
    assert statement.parse_statement_hash(case["statement_hash"]) == digest


# --- Keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("keys.json", "keys"))
def test_key_forms(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["seed_hex"])
    assert hashlib.sha256(case["seed_input"].encode()).digest() == seed
    key = SigningKey.from_seed(case["name"], seed)
    public = key.public
    assert public.raw.hex() == case["public_key_hex"]
    assert public.to_text() == case["public_text"]
    assert key.to_text() == case["secret_text"]
    assert public.key_id.hex() == case["key_id_hex"]
    assert public.fingerprint == case["fingerprint"]
    assert public.note_key_id().hex() == case["note_key_id_hex"]
    assert public.to_verifier_key() == case["verifier_key"]
    assert VerifyingKey.from_text(case["public_text"]) == public
    assert VerifyingKey.from_text(case["public_text"] + "\n") == public
    assert VerifyingKey.from_verifier_key(case["verifier_key"]) == public
    assert SigningKey.from_text(case["secret_text"]) == key


def test_encrypted_secret_key() -> None:
    vector = load("keys.json")["encrypted_secret_key"]
    expected = next(k for k in load("keys.json")["keys"] if k["label"] == vector["label"])
    key = SigningKey.from_text(vector["text"], bytes.fromhex(vector["passphrase_hex"]))
    assert key.to_text() == expected["secret_text"]


@pytest.mark.parametrize("case", cases("keys.json", "encrypted_secret_key", "invalid"))
def test_encrypted_secret_key_invalid(case: dict[str, Any]) -> None:
    with raises(case):
        SigningKey.from_text(case["text"], bytes.fromhex(case["passphrase_hex"]))


@pytest.mark.parametrize("case", cases("keys.json", "invalid_public_texts"))
def test_invalid_public_key_text(case: dict[str, Any]) -> None:
    with raises(case):
        VerifyingKey.from_text(case["text"])


@pytest.mark.parametrize("case", cases("keys.json", "invalid_verifier_keys"))
def test_invalid_verifier_key(case: dict[str, Any]) -> None:
    with raises(case):
        VerifyingKey.from_verifier_key(case["text"])


@pytest.mark.parametrize("encoding", load("keys.json")["small_order_public_keys_hex"])
def test_small_order_public_key_is_rejected(encoding: str) -> None:
    assert len(set(load("keys.json")["small_order_public_keys_hex"])) == 8
    with pytest.raises(FormatError, match="small-order point"):
        VerifyingKey.from_raw("test", bytes.fromhex(encoding))


@pytest.mark.parametrize("case", cases("keys.json", "signatures", "cases"))
def test_signature_rule(case: dict[str, Any], ed25519_backend: str) -> None:
    assert ledger_keys.ed25519_backend() == ed25519_backend
    message = bytes.fromhex(load("keys.json")["signatures"]["message_hex"])
    key = VerifyingKey.from_raw("test", bytes.fromhex(case["public_key_hex"]))
    signature = bytes.fromhex(case["signature_hex"])
    if case["valid"]:
        key.verify(message, signature)
    else:
        with raises(case):
            key.verify(message, signature)


# --- Endorsements ------------------------------------------------------------------------------


def _signing_key(label: str) -> SigningKey:
    vector = next(k for k in load("keys.json")["keys"] if k["label"] == label)
    return SigningKey.from_text(vector["secret_text"])


def _endorsement(fields: dict[str, Any]) -> Endorsement:
    """The payload a vector's ``fields`` give (every field of section 5.2, null: absent)."""
    assert fields["version"] == 1
    return Endorsement(
        action=Action(fields["action"]),
        statement_hash=bytes.fromhex(fields["statement_hash_hex"]),
        name=fields["name"],
        public_key=bytes.fromhex(fields["public_key_hex"]),
        signed_at=fields["signed_at"],
        domain=fields["domain"],
        url=fields["url"],
        country=fields["country"],
        ref=fields["ref"],
        new_key=_unhex(fields["new_key_hex"]),
        revoked_key=_unhex(fields["revoked_key_hex"]),
        revoked_from=fields["revoked_from"],
        reason=None if fields["reason"] is None else RemovalReason(fields["reason"]),
        note=fields["note"],
    )


@pytest.mark.parametrize("case", cases("endorsement.json", "valid"))
def test_endorsement_decodes_and_verifies(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["cose_sign1_hex"])
    signed = cose.decode_endorsement(data)
    assert signed.endorsement == _endorsement(case["fields"])
    assert signed.cose == data
    assert signed.payload.hex() == case["payload_hex"]
    assert signed.protected.hex() == case["protected_header_hex"]
    assert signed.signature.hex() == case["signature_hex"]
    assert signed.key_id.hex() == case["kid_hex"]
    assert (signed.issuer, signed.subject) == (case["iss"], case["sub"])
    key = cose.verify_endorsement(signed)
    assert key.raw.hex() == case["fields"]["public_key_hex"]
    # RFC 9052 §4.4: the signature is over Sig_structure, checked here with the key alone.
    to_be_signed = codec.encode(["Signature1", signed.protected, b"", signed.payload])
    assert to_be_signed.hex() == case["sig_structure_hex"]
    key.verify(to_be_signed, signed.signature)


@pytest.mark.parametrize("case", cases("endorsement.json", "valid"))
def test_endorsement_encodes(case: dict[str, Any]) -> None:
    claim = _endorsement(case["fields"])
    assert payload_codec.encode_payload(claim).hex() == case["payload_hex"]
    assert payload_codec.decode_payload(bytes.fromhex(case["payload_hex"])) == claim
    # Ed25519 is deterministic (RFC 8032 §5.1.6), so signing again gives the same bytes.
    signed = cose.sign_endorsement(claim, _signing_key(case["signer"]))
    assert signed.hex() == case["cose_sign1_hex"]
    assert cose.statement_uri(claim.statement_hash) == case["sub"]
    payload = codec.decode(bytes.fromhex(case["payload_hex"]), max_size=4096, what="payload")
    assert generator().diagnostic(payload, "") == case["payload_diagnostic"]


@pytest.mark.parametrize("case", cases("endorsement.json", "valid"))
def test_endorsement_verifies_with_pycose(case: dict[str, Any]) -> None:
    # An independent RFC 9052 implementation, given only the public key. (pycose 1.1 expects
    # cbor2 to give a list and a dict; cbor2 6 gives a tuple and a frozendict inside tags.)
    tagged = cbor2.loads(bytes.fromhex(case["cose_sign1_hex"]))
    assert tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    message = Sign1Message.from_cose_obj(
        [protected, dict(unprotected), payload, signature], allow_unknown_attributes=True
    )
    message.key = OKPKey(crv=Ed25519, x=bytes.fromhex(case["fields"]["public_key_hex"]))
    assert message.verify_signature()
    assert message.payload.hex() == case["payload_hex"]


@pytest.mark.parametrize("case", cases("endorsement.json", "invalid"))
def test_endorsement_invalid(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["cose_sign1_hex"])
    if case["error"] == "VerificationError":
        signed = cose.decode_endorsement(data)  # well-formed: only verification fails
        with raises(case):
            cose.verify_endorsement(signed)
    else:
        with raises(case):
            cose.verify_endorsement(cose.decode_endorsement(data))


# --- Entries ----------------------------------------------------------------------------------


def _entry(fields: dict[str, Any]) -> Entry:
    body: Genesis | bytes
    if "genesis_body" in fields:
        body = Genesis(**fields["genesis_body"])
    else:
        body = bytes.fromhex(fields["endorsement_body_hex"])
    return Entry(
        seq=fields["seq"],
        prev=bytes.fromhex(fields["prev_hex"]),
        type=EntryType(fields["type"]),
        statement_hash=bytes.fromhex(fields["statement_hash_hex"]),
        recorded_at=fields["recorded_at"],
        body=body,
        version=fields["version"],
    )


def _all_valid_entries() -> list[Any]:
    return cases("entries.json", "valid") + cases("ledger-small.json", "entries")


@pytest.mark.parametrize("case", _all_valid_entries())
def test_entry(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["entry_hex"])
    assert entry.decode_entry(data) == _entry(case["fields"])
    assert entry.encode_entry(_entry(case["fields"])) == data
    assert merkle.hash_leaf(data).hex() == case["leaf_hash_hex"]
    assert ref.leaf_hash(data).hex() == case["leaf_hash_hex"]


def test_example_ledger_carries_the_example_endorsements() -> None:
    bodies = [e["fields"].get("endorsement_body_hex") for e in load("ledger-small.json")["entries"]]
    valid = [v["cose_sign1_hex"] for v in load("endorsement.json")["valid"]]
    assert bodies == [None, *valid[:3]]
    entries = load("entries.json")["valid"]
    assert [e["entry_hex"] for e in entries] == [
        e["entry_hex"] for e in load("ledger-small.json")["entries"][:2]
    ]


@pytest.mark.parametrize("case", cases("entries.json", "invalid"))
def test_entry_invalid(case: dict[str, Any]) -> None:
    with raises(case):
        entry.decode_entry(bytes.fromhex(case["entry_hex"]))


# --- The small ledger and its Merkle tree -----------------------------------------------------


def _ledger_entries() -> list[bytes]:
    return [bytes.fromhex(item["entry_hex"]) for item in load("ledger-small.json")["entries"]]


def test_ledger_verifies() -> None:
    document = load("ledger-small.json")
    entries = _ledger_entries()
    report = verify.check_entries(enumerate(entries), statement=document["statement_text"].encode())
    assert report.ok, report.problems
    assert report.root.hex() == document["roots"][-1]["root_hex"]
    assert report.statement_checked is True
    assert report.statement_hash is not None
    assert statement.format_statement_hash(report.statement_hash) == document["statement_hash"]
    assert [
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
    ] == document["signatories"]
    assert [v.seq for v in verify.iter_verified(enumerate(entries))] == [0, 1, 2, 3]
    previous = bytes(32)
    for data in entries:  # the chain link is the RFC 9162 leaf hash
        assert entry.decode_entry(data).prev == previous
        previous = merkle.hash_leaf(data)


def test_merkle_roots() -> None:
    entries = _ledger_entries()
    tree = merkle.MemoryTree()
    for data, expected in zip(entries, load("ledger-small.json")["roots"], strict=True):
        tree.append(data)
        assert expected["size"] == tree.size
        assert merkle.root(tree, tree.size).hex() == expected["root_hex"]
        assert ref.mth(entries[: tree.size]).hex() == expected["root_hex"]


def _roots() -> dict[int, bytes]:
    return {r["size"]: bytes.fromhex(r["root_hex"]) for r in load("ledger-small.json")["roots"]}


def _tree() -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for data in _ledger_entries():
        tree.append(data)
    return tree


@pytest.mark.parametrize("case", cases("ledger-small.json", "inclusion_proofs"))
def test_inclusion_proof(case: dict[str, Any]) -> None:
    index, size = case["index"], case["size"]
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    leaf_hash = bytes.fromhex(case["leaf_hash_hex"])
    assert merkle.prove_inclusion(_tree(), index, size) == proof
    assert ref.path(index, _ledger_entries()[:size]) == proof
    merkle.verify_inclusion(leaf_hash, index, size, proof, _roots()[size])


@pytest.mark.parametrize("case", cases("ledger-small.json", "consistency_proofs"))
def test_consistency_proof(case: dict[str, Any]) -> None:
    old, size = case["old_size"], case["size"]
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert merkle.prove_consistency(_tree(), old, size) == proof
    assert ref.proof(old, _ledger_entries()[:size]) == proof
    merkle.verify_consistency(old, size, _roots()[old], _roots()[size], proof)


def _mutated_entries(case: dict[str, Any]) -> list[bytes]:
    valid = _ledger_entries()
    return [
        valid[item["valid_entry"]] if "valid_entry" in item else bytes.fromhex(item["entry_hex"])
        for item in case["entries"]
    ]


def _order(problem: tuple[int | None, str]) -> tuple[int, str]:
    return (-1 if problem[0] is None else problem[0], problem[1])


@pytest.mark.parametrize("case", cases("ledger-small.json", "mutated"))
def test_mutated_ledger(case: dict[str, Any]) -> None:
    entries = _mutated_entries(case)
    report = verify.check_entries(enumerate(entries), statement=_unhex(case.get("statement_hex")))
    assert not report.ok
    assert report.failed_checks == frozenset(case["failed_checks"])
    expected = sorted(((p["entry"], p["check"]) for p in case["problems"]), key=_order)
    assert sorted(((p.seq, p.check) for p in report.problems), key=_order) == expected
    assert set(case["failed_checks"]) <= set(load("ledger-small.json")["check_names"])


@pytest.mark.parametrize(
    "case", [c for c in cases("ledger-small.json", "mutated") if c.values[0]["entries"]]
)
def test_mutated_ledger_does_not_iterate(case: dict[str, Any]) -> None:
    first = min(_order((p["entry"], p["check"])) for p in case["problems"])[0]
    # A problem of the whole ledger has no entry prefix; an entry's problem names the entry.
    with pytest.raises(
        VerificationError, match="^(?!entry )" if first < 0 else f"^entry {first}: "
    ):
        list(
            verify.iter_verified(
                enumerate(_mutated_entries(case)), statement=_unhex(case.get("statement_hex"))
            )
        )


# --- Checkpoints, cosignatures, proofs, witness requests, policies, reports -------------------

CHECKPOINTS = "checkpoints.json"


def _ref(value: str) -> Any:
    """A reference of checkpoints.json: "/x/y" in that file, "file#/x/y" in another one."""
    file, _, pointer = value.rpartition("#")
    return generator().resolve(load(file or CHECKPOINTS), pointer)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _checkpoint(size: int) -> dict[str, Any]:
    return next(c for c in load(CHECKPOINTS)["checkpoints"] if c["size"] == size)


def _log_key() -> VerifyingKey:
    return VerifyingKey.from_verifier_key(load(CHECKPOINTS)["log_key"]["verifier_key"])


def _witness_keys(labels: list[str] | None = None) -> list[VerifyingKey]:
    """The witness keys of the vectors (those of ``labels``, in file order), from their vkeys."""
    return [
        note.parse_witness_verifier_key(w["verifier_key"])
        for w in load(CHECKPOINTS)["witnesses"]
        if labels is None or w["label"] in labels
    ]


def _witness_signing_key(label: str) -> SigningKey:
    vector = next(w for w in load(CHECKPOINTS)["witnesses"] if w["label"] == label)
    return SigningKey.from_seed(
        vector["name"], hashlib.sha256(vector["seed_input"].encode()).digest()
    )


def _known(state: dict[str, Any]) -> dict[str, witness.WitnessedLog]:
    """A witness's record of the example log: it last cosigned the checkpoint of that size."""
    origin, size = state["origin"], state["size"]
    if size == 0:
        return {origin: witness.WitnessedLog.new(_log_key())}
    cp = _checkpoint(size)
    vkey = _log_key().to_verifier_key()
    root, data = bytes.fromhex(cp["root_hex"]), cp["signed_note"].encode()
    return {origin: witness.WitnessedLog(origin, vkey, size, root, data)}


def test_log_key_and_note_key_id() -> None:
    document = load(CHECKPOINTS)
    vector, key_id = document["log_key"], document["note_key_id"]
    log = next(k for k in load("keys.json")["keys"] if k["label"] == vector["label"])
    assert vector["verifier_key"] == log["verifier_key"]
    key = _log_key()
    assert key.name == vector["name"] == document["origin"] == load("ledger-small.json")["origin"]
    assert key.raw.hex() == vector["public_key_hex"] == key_id["public_key_hex"]
    data = bytes.fromhex(key_id["input_hex"])
    kind = bytes.fromhex(key_id["signature_type_hex"])
    assert data == key_id["key_name"].encode() + b"\n" + kind + key.raw
    assert hashlib.sha256(data).hexdigest() == key_id["sha256_hex"]
    assert key_id["sha256_hex"][:8] == key_id["key_id_hex"]
    assert note.note_key_id(key.name, kind[0], key.raw).hex() == key_id["key_id_hex"]
    assert key.note_key_id().hex() == key_id["key_id_hex"]
    assert vector["verifier_key"] == f"{key.name}+{key_id['key_id_hex']}+{_b64(kind + key.raw)}"


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "checkpoints"))
def test_signed_checkpoint(case: dict[str, Any]) -> None:
    root = bytes.fromhex(case["root_hex"])
    assert root == _roots()[case["size"]]
    assert _b64(root) == case["root_base64"]
    body = note.Checkpoint(load(CHECKPOINTS)["origin"], case["size"], root)
    assert case["text"] == f"{body.origin}\n{body.size}\n{case['root_base64']}\n"
    assert note.format_checkpoint(body) == case["text"]
    assert note.parse_checkpoint(case["text"]) == body
    key, signature = _log_key(), bytes.fromhex(case["signature_hex"])
    key.verify(case["text"].encode(), signature)
    assert case["signature_line"] == f"\u2014 {key.name} {_b64(key.note_key_id() + signature)}\n"
    assert case["signed_note"] == case["text"] + "\n" + case["signature_line"]
    data = case["signed_note"].encode()
    assert note.sign_checkpoint(body, _signing_key("log")) == data
    assert note.format_note(note.parse_note(data)) == data
    opened = note.open_checkpoint(data, key)
    assert opened.checkpoint == body
    assert opened.witnesses_verified == ()


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "witnesses"))
def test_witness_key(case: dict[str, Any]) -> None:
    key = _witness_signing_key(case["label"]).public
    assert key.raw.hex() == case["public_key_hex"]
    data = bytes.fromhex(case["key_id_input_hex"])
    assert data == case["name"].encode() + b"\n\x04" + key.raw
    assert hashlib.sha256(data).digest()[:4].hex() == case["cosignature_key_id_hex"]
    assert note.cosignature_key_id(key).hex() == case["cosignature_key_id_hex"]
    material = _b64(bytes([4]) + key.raw)
    assert case["verifier_key"] == f"{case['name']}+{case['cosignature_key_id_hex']}+{material}"
    assert note.witness_verifier_key(key) == case["verifier_key"]
    assert note.parse_witness_verifier_key(case["verifier_key"]) == key
    with pytest.raises(FormatError):  # a type 0x04 vkey is not a log (type 0x01) key
        VerifyingKey.from_verifier_key(case["verifier_key"])


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "cosignatures"))
def test_cosignature(case: dict[str, Any]) -> None:
    checkpoint = _checkpoint(case["checkpoint_size"])
    message = case["signed_message"]
    assert message == f"cosignature/v1\ntime {case['timestamp']}\n" + checkpoint["text"]
    assert message.encode().hex() == case["signed_message_hex"]
    value = bytes.fromhex(case["timestamped_signature_hex"])
    assert len(value) == 8 + 64
    assert int.from_bytes(value[:8], "big") == case["timestamp"]
    secret = _witness_signing_key(case["witness"])
    secret.public.verify(message.encode(), value[8:])
    key_id = note.cosignature_key_id(secret.public)
    assert case["line"] == f"\u2014 {secret.name} {_b64(key_id + value)}\n"
    checkpoint_note = note.parse_note(checkpoint["signed_note"].encode())
    made = note.cosign_checkpoint(checkpoint_note, secret, case["timestamp"])
    assert witness.format_cosignature_lines([made]).decode() == case["line"]
    (line,) = witness.parse_cosignature_lines(case["line"].encode())
    assert note.cosignature_timestamp(line) == case["timestamp"]
    assert note.verify_cosignature(checkpoint["text"], line, secret.public) == case["timestamp"]


def test_cosigned_checkpoint() -> None:
    document = load(CHECKPOINTS)
    vector = document["cosigned_checkpoint"]
    checkpoint = _checkpoint(vector["size"])
    lines = "".join(
        c["line"]
        for w in vector["cosigned_by"]
        for c in document["cosignatures"]
        if c["witness"] == w
    )
    assert vector["signed_note"] == checkpoint["signed_note"] + lines
    cosigned = note.parse_note(checkpoint["signed_note"].encode())
    for signature in witness.parse_cosignature_lines(lines.encode()):
        cosigned = note.add_signature(cosigned, signature)
    assert note.format_note(cosigned) == vector["signed_note"].encode()
    opened = note.open_checkpoint(
        vector["signed_note"].encode(), _log_key(), witnesses=_witness_keys()
    )
    names = {w["label"]: w["name"] for w in document["witnesses"]}
    times = {c["witness"]: c["timestamp"] for c in document["cosignatures"]}
    assert [(key.name, when) for key, when in opened.witnesses_verified] == [
        (names[w], times[w]) for w in vector["cosigned_by"]
    ]
    assert note.format_checkpoint(opened.checkpoint) == checkpoint["text"]


def test_tlog_proof() -> None:
    vector = load(CHECKPOINTS)["tlog_proof"]
    data = vector["text"].encode()
    proof = note.parse_tlog_proof(data)
    extra = bytes.fromhex(_ref(vector["extra"]))
    assert proof.extra == extra
    assert proof.index == vector["index"]
    assert [h.hex() for h in proof.inclusion_proof] == vector["proof_hex"]
    assert proof.checkpoint == _ref(vector["checkpoint"]).encode()
    lines = ["c2sp.org/tlog-proof@v1", f"extra {_b64(extra)}", f"index {proof.index}"]
    lines += [_b64(h) for h in proof.inclusion_proof]
    assert data == ("\n".join(lines) + "\n\n").encode() + proof.checkpoint
    assert note.format_tlog_proof(proof) == data
    assert merkle.hash_leaf(extra).hex() == vector["leaf_hash_hex"]
    same = [p for p in load("ledger-small.json")["inclusion_proofs"] if p["index"] == proof.index]
    assert vector["proof_hex"] in [p["proof_hex"] for p in same if p["size"] == 4]
    verified = note.verify_tlog_proof(
        proof, merkle.hash_leaf(extra), _log_key(), witnesses=_witness_keys()
    )
    assert verified.checkpoint.size == 4
    assert len(verified.witnesses_verified) == 2
    assert entry.decode_entry(extra).seq == proof.index  # the entry names its own position


def test_witness_request_and_response() -> None:
    vector = load(CHECKPOINTS)["witness_request"]
    data = vector["text"].encode()
    request = witness.parse_add_checkpoint_request(data)
    assert request.old_size == vector["old_size"]
    assert [h.hex() for h in request.proof] == vector["proof_hex"]
    assert request.checkpoint == _ref(vector["checkpoint"]).encode()
    lines = [f"old {request.old_size}", *(_b64(h) for h in request.proof)]
    assert data == ("\n".join(lines) + "\n\n").encode() + request.checkpoint
    assert witness.format_add_checkpoint_request(request) == data
    consistency = load("ledger-small.json")["consistency_proofs"]
    expected = (vector["old_size"], vector["size"], vector["proof_hex"])
    assert expected in [(p["old_size"], p["size"], p["proof_hex"]) for p in consistency]
    secret = _witness_signing_key(vector["witness"])
    record, cosignature = witness.witness_checkpoint(
        _known(vector["witness_state"]), request, secret, vector["timestamp"]
    )
    assert witness.format_cosignature_lines([cosignature]).decode() == vector["response"]
    assert (record.size, record.root.hex()) == (vector["size"], _checkpoint(4)["root_hex"])
    (line,) = witness.parse_cosignature_lines(vector["response"].encode())
    text = note.parse_note(request.checkpoint).text
    assert note.verify_cosignature(text, line, secret.public) == vector["timestamp"]


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "witness_refusals"))
def test_witness_refusal(case: dict[str, Any]) -> None:
    request = witness.parse_add_checkpoint_request(case["request"].encode())
    with raises(case) as caught:
        witness.witness_checkpoint(
            _known(case["witness_state"]), request, _witness_signing_key("witness-a"), 0
        )
    refusal = caught.value
    assert isinstance(refusal, witness.WitnessRefusal)
    assert refusal.reason.value == case["reason"]
    assert refusal.http_status == case["http_status"]
    if "response_body" in case:  # 409: the witness's size, text/x.tlog.size
        assert refusal.response_body().decode() == case["response_body"]


@pytest.mark.parametrize("form", ["inclusion", "consistency"])
def test_json_proof_form(form: str) -> None:
    vector = load(CHECKPOINTS)["json_proofs"][form]
    if form == "inclusion":
        parsed: proofs.InclusionProof | proofs.ConsistencyProof = proofs.inclusion_from_json(vector)
        built = proofs.prove_inclusion(_tree(), vector["index"], vector["size"])
    else:
        parsed = proofs.consistency_from_json(vector)
        built = proofs.prove_consistency(_tree(), vector["old_size"], vector["size"])
        assert vector["old_root"] == _b64(_roots()[vector["old_size"]])
    parsed.verify()
    assert parsed.to_json() == vector
    assert built.to_json() == vector
    assert vector["root"] == _b64(_roots()[vector["size"]])


def test_policy_lists_the_vector_keys() -> None:
    vector = load(CHECKPOINTS)["policy"]
    parsed = policy.parse_policy(vector["text"])
    assert parsed.quorum == vector["quorum"]
    assert parsed.log_key(load(CHECKPOINTS)["origin"]) == _log_key()
    assert list(parsed.witness_keys) == _witness_keys()
    assert [w.name for w in parsed.witnesses] == [
        w["label"] for w in load(CHECKPOINTS)["witnesses"]
    ]


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "policy", "cases"))
def test_policy_quorum(case: dict[str, Any]) -> None:
    parsed = policy.parse_policy(load(CHECKPOINTS)["policy"]["text"])
    result = policy.evaluate_policy(parsed, case["cosigned_by"])
    assert result.satisfied is case["satisfied"]
    assert [g.name for g in result.groups if g.satisfied] == case["groups_satisfied"]
    keys = _witness_keys(case["cosigned_by"])  # by key, as verify matches cosignatures
    assert policy.policy_satisfied(parsed, keys) is case["satisfied"]
    assert policy.policy_satisfied(parsed, [*keys, _log_key()]) is case["satisfied"]


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "accepted"))
def test_accepted_checkpoint(case: dict[str, Any]) -> None:
    opened = note.open_checkpoint(case["input"].encode(), _log_key())
    assert opened.witnesses_verified == ()
    assert note.format_checkpoint(opened.checkpoint) == _checkpoint(4)["text"]


def _run(case: dict[str, Any]) -> None:
    """The operation of a negative vector's kind, which must fail."""
    kind, value = case["kind"], case["input"]
    if kind == "checkpoint":
        witnesses = _witness_keys(case.get("witnesses", []))
        note.open_checkpoint(value.encode(), _log_key(), witnesses=witnesses)
    elif kind == "tlog-proof":
        proof = note.parse_tlog_proof(value.encode())
        assert proof.extra is not None
        note.verify_tlog_proof(proof, merkle.hash_leaf(proof.extra), _log_key())
    elif kind == "witness-request":
        witness.parse_add_checkpoint_request(value.encode())
    elif kind == "policy":
        policy.parse_policy(value)
    elif kind == "inclusion-json":
        proofs.inclusion_from_json(value)
    elif kind == "consistency-json":
        proofs.consistency_from_json(value)
    elif kind == "fork":
        # Each checkpoint verifies; the pair, same origin and size, two roots, is the evidence.
        first, second = (note.open_checkpoint(n.encode(), _log_key()).checkpoint for n in value)
        assert (first.origin, first.size) == (second.origin, second.size)
        assert [first.root.hex(), second.root.hex()] == case["roots_hex"]
        assert first.root != second.root
        request = witness.parse_add_checkpoint_request(f"old {first.size}\n\n{value[1]}".encode())
        state = {"origin": first.origin, "size": first.size}
        witness.witness_checkpoint(_known(state), request, _witness_signing_key("witness-a"), 0)
    else:
        raise AssertionError(f"unknown kind {kind}")


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "invalid"))
def test_invalid_checkpoint_vector(case: dict[str, Any]) -> None:
    with raises(case):
        _run(case)


def _write_ledger(path: Path, checkpoints: list[str]) -> None:
    """A ledger file holding the entries of ledger-small.json and these signed checkpoints."""
    store = create_store(path)
    try:
        with store.writer() as writer:
            for data in _ledger_entries():
                writer.add(data, merkle.hash_leaf(data))
        for created, text in enumerate(checkpoints):
            size = note.parse_checkpoint(note.parse_note(text.encode()).text).size
            store.add_checkpoint(size, created, text)
    finally:
        store.close()


@pytest.mark.parametrize("case", cases(CHECKPOINTS, "reports"))
def test_verify_report(case: dict[str, Any], tmp_path: Path) -> None:
    setup = case["setup"]
    path = tmp_path / setup["source"]
    _write_ledger(path, [_ref(pointer) for pointer in setup["stored_checkpoints"]])
    report = audit.check_ledger_file(
        path,
        statement=None if setup["statement"] is None else _ref(setup["statement"]).encode(),
        saved_checkpoint=_ref(setup["saved_checkpoint"]).encode(),
        policy=None if setup["policy"] is None else policy.parse_policy(_ref(setup["policy"])),
        incremental=setup["incremental"],
    )
    document = render.report_json(report, setup["source"])
    assert document == case["report"]
    assert json.loads(json.dumps(document)) == case["report"]  # plain JSON values only
    assert document["schema"] == "endorsement-ledger/verify-report/v1"
    assert list(document["checks"]) == list(verify.CHECKS)
    assert set(document["checks"].values()) <= {"passed", "failed", "not run"}
    assert document["verified"] == all(v != "failed" for v in document["checks"].values())


# --- Lifecycle: withdrawals, rotations, revocations, removals, closing, look-alikes ----------

LIFECYCLE = "lifecycle.json"
# Payload keys of the optional fields, by the names lifecycle.json's "actions" use (section 5.2).
FIELD_KEYS = {
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


def _any_signing_key(label: str) -> SigningKey:
    """A key of keys.json (from its secret text), or of lifecycle.json (from its seed)."""
    for vector in load("keys.json")["keys"]:
        if vector["label"] == label:
            return SigningKey.from_text(vector["secret_text"])
    vector = next(k for k in load(LIFECYCLE)["keys"] if k["label"] == label)
    seed = hashlib.sha256(vector["seed_input"].encode()).digest()
    return SigningKey.from_seed(vector["name"], seed)


def _statement(name: str) -> dict[str, Any]:
    return next(s for s in load(LIFECYCLE)["statements"] if s["name"] == name)


def _lifecycle_body(ref: str) -> bytes:
    """The statement bytes a ledger entry names: a statement of lifecycle.json, or
    ``endorsement.json#<name>``."""
    file, _, name = ref.rpartition("#")
    if file:
        assert file == "endorsement.json"
        valid = next(v for v in load(file)["valid"] if v["name"] == name)
        return bytes.fromhex(valid["cose_sign1_hex"])
    return bytes.fromhex(_statement(name)["cose_hex"])


def _lifecycle_entries() -> list[bytes]:
    return [bytes.fromhex(e["entry_hex"]) for e in load(LIFECYCLE)["ledger"]["entries"]]


def _lifecycle_ledger_file(path: Path) -> Ledger:
    """A new ledger file with the genesis entry of lifecycle.json, made by the recipe."""
    first = load(LIFECYCLE)["ledger"]["entries"][0]
    genesis = entry.decode_entry(bytes.fromhex(first["entry_hex"])).body
    assert isinstance(genesis, Genesis)
    return Ledger.create(
        path,
        statement=genesis.statement_text.encode(),
        title=genesis.title,
        origin=genesis.origin,
        log_key=_signing_key("log"),
        now=first["recorded_at"],
    )


def _diagnostic(data: bytes) -> str:
    value = codec.decode(data, max_size=65_535, what="test")
    return str(generator().diagnostic(value, ""))


@pytest.mark.parametrize("case", cases(LIFECYCLE, "keys"))
def test_lifecycle_key(case: dict[str, Any]) -> None:
    seed = hashlib.sha256(case["seed_input"].encode()).digest()
    assert seed.hex() == case["seed_hex"]
    public = SigningKey.from_seed(case["name"], seed).public
    assert public.raw.hex() == case["public_key_hex"]
    assert public.key_id.hex() == case["key_id_hex"]
    assert public.fingerprint == case["fingerprint"]
    assert case["label"] not in {k["label"] for k in load("keys.json")["keys"]}


@pytest.mark.parametrize("case", cases(LIFECYCLE, "statements"))
def test_lifecycle_statement_decodes_and_verifies(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["cose_hex"])
    signed = cose.decode_endorsement(data)
    assert signed.endorsement == _endorsement(case["fields"])
    assert signed.cose == data
    assert signed.payload.hex() == case["payload_hex"]
    assert _diagnostic(signed.payload) == case["payload_diagnostic"]
    assert (signed.issuer, signed.subject) == (case["iss"], case["sub"])
    key = cose.verify_endorsement(signed)
    assert key.raw == _any_signing_key(case["signer"]).public.raw
    assert key.raw.hex() == case["fields"]["public_key_hex"]
    tagged = cbor2.loads(data)
    if case["envelope"] == "COSE_Sign1":
        assert tagged.tag == 18
        assert signed.body_protected is None
        assert signed.cosigner is None
        assert signed.protected.hex() == case["protected_header_hex"]
        assert _diagnostic(signed.protected) == case["protected_header_diagnostic"]
        assert signed.key_id.hex() == case["kid_hex"] == key.key_id.hex()
        assert signed.signature.hex() == case["signature_hex"]
        to_be_signed = codec.encode(["Signature1", signed.protected, b"", signed.payload])
        assert to_be_signed.hex() == case["sig_structure_hex"]
        key.verify(to_be_signed, signed.signature)
        return
    # A COSE_Sign (RFC 9052 §4.1): the old key's signature, then the new key's, each over its
    # own Sig_structure (§4.4) binding the body header, its own header and the payload.
    assert tagged.tag == 98
    assert case["fields"]["action"] == Action.ROTATE
    body, unprotected, payload, signatures = tagged.value
    assert body.hex() == case["body_protected_header_hex"]
    assert _diagnostic(body) == case["body_protected_header_diagnostic"]
    assert signed.body_protected == body
    assert dict(unprotected) == {}
    assert payload == signed.payload
    assert len(signatures) == len(case["signatures"]) == 2
    first, second = case["signatures"]
    assert signed.key_id.hex() == first["kid_hex"]
    assert signed.protected.hex() == first["protected_header_hex"]
    assert signed.signature.hex() == first["signature_hex"]
    assert signed.cosigner is not None
    assert [value.hex() for value in signed.cosigner] == [
        second["kid_hex"],
        second["protected_header_hex"],
        second["signature_hex"],
    ]
    assert second["signer"] != case["signer"]
    new_key = _any_signing_key(second["signer"]).public
    assert new_key.raw.hex() == case["fields"]["new_key_hex"]
    for vector, signer_key, item in zip(
        case["signatures"], [key, new_key], signatures, strict=True
    ):
        protected, its_unprotected, signature = item
        assert dict(its_unprotected) == {}
        assert protected.hex() == vector["protected_header_hex"]
        assert _diagnostic(protected) == vector["protected_header_diagnostic"]
        assert signer_key.key_id.hex() == vector["kid_hex"]
        assert signature.hex() == vector["signature_hex"]
        to_be_signed = codec.encode(["Signature", body, protected, b"", payload])
        assert to_be_signed.hex() == vector["sig_structure_hex"]
        signer_key.verify(to_be_signed, signature)
    with pytest.raises(VerificationError):  # each signature binds its own header
        new_key.verify(bytes.fromhex(first["sig_structure_hex"]), signatures[1][2])


@pytest.mark.parametrize("case", cases(LIFECYCLE, "statements"))
def test_lifecycle_statement_encodes(case: dict[str, Any]) -> None:
    claim = _endorsement(case["fields"])
    assert payload_codec.encode_payload(claim).hex() == case["payload_hex"]
    assert payload_codec.decode_payload(bytes.fromhex(case["payload_hex"])) == claim
    key = _any_signing_key(case["signer"])
    new_key = None
    if case["envelope"] == "COSE_Sign":
        new_key = _any_signing_key(case["signatures"][1]["signer"])
    # Ed25519 is deterministic (RFC 8032 §5.1.6), so signing again gives the same bytes.
    assert cose.sign_endorsement(claim, key, new_key=new_key).hex() == case["cose_hex"]


@pytest.mark.parametrize("case", cases(LIFECYCLE, "statements"))
def test_lifecycle_statement_verifies_with_pycose(case: dict[str, Any]) -> None:
    # An independent RFC 9052 implementation, given only the public keys (see the endorsement
    # test above for why the message is rebuilt from lists and dicts).
    tagged = cbor2.loads(bytes.fromhex(case["cose_hex"]))
    protected, unprotected, payload, last = tagged.value
    keys = [case["fields"]["public_key_hex"], case["fields"]["new_key_hex"]]
    if tagged.tag == 18:
        message = Sign1Message.from_cose_obj(
            [protected, dict(unprotected), payload, last], allow_unknown_attributes=True
        )
        message.key = OKPKey(crv=Ed25519, x=bytes.fromhex(keys[0]))
        assert message.verify_signature()
        return
    signatures = [[p, dict(u), signature] for p, u, signature in last]
    sign = SignMessage.from_cose_obj(
        [protected, dict(unprotected), payload, signatures], allow_unknown_attributes=True
    )
    signers: list[Any] = list(sign.signers)
    for signer, public_hex in zip(signers, keys, strict=True):
        signer.key = OKPKey(crv=Ed25519, x=bytes.fromhex(public_hex))
        assert signer.verify_signature()
    signers[1].key = OKPKey(crv=Ed25519, x=bytes.fromhex(keys[0]))  # the wrong key
    assert not signers[1].verify_signature()


@pytest.mark.parametrize("case", cases(LIFECYCLE, "ledger", "entries"))
def test_lifecycle_entry(case: dict[str, Any]) -> None:
    entries = _lifecycle_entries()
    seq = case["seq"]
    data = bytes.fromhex(case["entry_hex"])
    decoded = entry.decode_entry(data)
    assert (decoded.seq, int(decoded.type), decoded.recorded_at) == (
        seq,
        case["type"],
        case["recorded_at"],
    )
    assert decoded.prev == (bytes(32) if seq == 0 else merkle.hash_leaf(entries[seq - 1]))
    assert merkle.hash_leaf(data).hex() == case["leaf_hash_hex"]
    assert entry.encode_entry(decoded) == data
    if seq == 0:
        assert case["type"] == EntryType.GENESIS
        return
    body = _lifecycle_body(case["body"])
    assert decoded.body == body
    # Type 2 exactly for the log's actions (section 17), type 1 for the organisations'.
    action = cose.decode_endorsement(body).endorsement.action
    assert case["type"] == (EntryType.LOG if action in (Action.REMOVE, Action.CLOSE) else 1)


def test_lifecycle_ledger_extends_the_small_ledger() -> None:
    small = _ledger_entries()
    assert _lifecycle_entries()[: len(small)] == small


def test_lifecycle_report() -> None:
    vector = load(LIFECYCLE)["ledger"]
    entries = _lifecycle_entries()
    report = verify.check_entries(
        enumerate(entries), statement=load(LIFECYCLE)["statement_text"].encode()
    )
    assert report.ok, report.problems
    document = render.report_json(report, vector["source"])
    assert {name: document[name] for name in vector["report"]} == vector["report"]
    assert [v.seq for v in verify.iter_verified(enumerate(entries))] == list(range(len(entries)))
    # The signatory that rotated is listed with its new key, under its first entry.
    rotation = _statement("rotation")
    rotated = next(s for s in report.signatories if s.seq == 1)
    assert rotated.public_key.hex() == rotation["fields"]["new_key_hex"]
    assert rotated.public_key.hex() != rotation["fields"]["public_key_hex"]


def test_lifecycle_ledger_by_the_recipe(tmp_path: Path) -> None:
    # The campaign's recipe writes the same bytes: organisations' statements by append (the
    # flagged look-alike only with allow_similar), the log's by remove and close_statement.
    vector = load(LIFECYCLE)
    entries = vector["ledger"]["entries"]
    flagged = {f["entry"]: f["message"] for f in vector["ledger"]["report"]["flags"]}
    log = _signing_key("log")
    with _lifecycle_ledger_file(tmp_path / "lifecycle.db") as book:
        for item in entries[1:]:
            body, when = _lifecycle_body(item["body"]), item["recorded_at"]
            claim = cose.decode_endorsement(body).endorsement
            if claim.action is Action.REMOVE:
                assert claim.ref is not None
                assert claim.reason is not None
                seq = book.remove(claim.ref, claim.reason, log, note=claim.note, now=when)
            elif claim.action is Action.CLOSE:
                seq = book.close_statement(log, now=when)
            else:
                if item["seq"] in flagged:
                    refused = book.append([("x", body)], now=when)
                    assert refused.appended == ()
                    assert flagged[item["seq"]] in refused.rejected[0].reason
                result = book.append([("x", body)], now=when, allow_similar=item["seq"] in flagged)
                assert result.rejected == ()
                assert [flag for _, flag in result.flags] == (
                    [flagged[item["seq"]]] if item["seq"] in flagged else []
                )
                ((_, seq),) = result.appended
            assert seq == item["seq"]
        assert [book.store.entry(i) for i in range(book.size)] == _lifecycle_entries()


def _attack_entries(case: dict[str, Any]) -> list[bytes]:
    return [*_lifecycle_entries()[: case["valid_entries"]], bytes.fromhex(case["entry_hex"])]


@pytest.mark.parametrize("case", cases(LIFECYCLE, "attacks"))
def test_lifecycle_attack(case: dict[str, Any]) -> None:
    entries = _attack_entries(case)
    at = case["valid_entries"]
    report = verify.check_entries(enumerate(entries))
    assert not report.ok
    assert report.failed_checks == frozenset(case["failed_checks"])
    assert [(p.seq, p.check) for p in report.problems] == [
        (p["entry"], p["check"]) for p in case["problems"]
    ]
    assert case["error_contains"] in report.problems[0].message
    with pytest.raises(
        VerificationError, match=f"^entry {at}: .*{re.escape(case['error_contains'])}"
    ):
        list(verify.iter_verified(enumerate(entries)))
    body = entry.decode_entry(entries[-1]).body
    assert isinstance(body, bytes)
    if set(case["failed_checks"]) & {"encoding", "signatures"}:  # the statement itself is bad
        with raises(case):
            cose.verify_endorsement(cose.decode_endorsement(body))
    else:  # a good statement, refused by a lifecycle rule at this point of the ledger
        cose.verify_endorsement(cose.decode_endorsement(body))
        assert case["failed_checks"] == ["signers"]
        assert case["error"] == "VerificationError"
    # The same statement earlier or later in the ledger is another matter: the rule is about
    # the state the entries before it left, so the valid prefix alone verifies.
    assert verify.check_entries(enumerate(entries[:-1])).ok


def test_lifecycle_attacks_refused_by_append(tmp_path: Path) -> None:
    # append runs the same rules as verify: after the same entries it refuses the same
    # statements, with the same message, and appends nothing (except where the attack is the
    # entry type, which append chooses itself).
    vector = load(LIFECYCLE)
    entries = vector["ledger"]["entries"]
    flagged = {f["entry"] for f in vector["ledger"]["report"]["flags"]}
    with _lifecycle_ledger_file(tmp_path / "lifecycle.db") as book:
        for case in sorted(vector["attacks"], key=lambda c: c["valid_entries"]):
            at = case["valid_entries"]
            for item in entries[book.size : at]:
                result = book.append(
                    [("x", _lifecycle_body(item["body"]))],
                    now=item["recorded_at"],
                    allow_similar=item["seq"] in flagged,
                )
                assert result.appended == (("x", item["seq"]),)
            body = entry.decode_entry(bytes.fromhex(case["entry_hex"])).body
            assert isinstance(body, bytes)
            when = entries[-1]["recorded_at"] + 3600
            if not case["refused_by_append"]:
                book.check_endorsement(body, now=when)
                continue
            with raises(case):
                book.check_endorsement(body, now=when)
            result = book.append([(case["name"], body)], now=when)
            assert result.appended == ()
            assert case["error_contains"] in result.rejected[0].reason
            assert book.size == at


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(item, id=f"{item['relation']}-{i}")
        for i, item in enumerate(load(LIFECYCLE)["names"])
    ],
)
def test_lookalike_names(case: dict[str, Any]) -> None:
    first, second = case["first"], case["second"]
    assert [skeleton(first), skeleton(second)] == case["skeletons"]
    confusable = skeleton(first) == skeleton(second)
    relation = "same" if same_name(first, second) else "confusable" if confusable else "distinct"
    assert relation == case["relation"]
    assert relation == "distinct" or confusable  # the same name is always confusable
    assert same_name(second, first) == same_name(first, second)


@pytest.mark.parametrize("case", cases(LIFECYCLE, "actions"))
def test_lifecycle_action_fields(case: dict[str, Any]) -> None:
    # Each action takes exactly its fields: every required one, any allowed one, nothing else.
    action = Action(case["action"])
    assert action.name.lower() == case["name"]
    assert set(case["required"]) <= set(case["allowed"]) <= set(FIELD_KEYS)
    values: dict[str, Any] = {
        "name": "Organisation A",
        "domain": "org-a.example",
        "url": "https://org-a.example/",
        "country": "BE",
        "ref": 1,
        "new_key": _signing_key("org-b").public.raw,
        "revoked_key": _signing_key("org-b").public.raw,
        "revoked_from": 1,
        "reason": RemovalReason.MISTAKEN,
        "note": "a note",
    }

    def claim(fields: set[str]) -> Endorsement:
        chosen = {"name": None} | {name: values[name] for name in fields}
        digest = bytes(32)
        return Endorsement(action, digest, public_key=_signing_key("org-a").public.raw,
                           signed_at=1, **chosen)  # fmt: skip

    required = set(case["required"])
    payload = payload_codec.encode_payload(claim(set(case["allowed"])))
    assert payload_codec.decode_payload(payload).action is action
    for name in FIELD_KEYS:
        if name in required:
            with pytest.raises(FormatError, match=f"{case['name']} needs {name}"):
                payload_codec.encode_payload(claim(required - {name}))
        elif name not in case["allowed"]:
            with pytest.raises(FormatError, match=f"{case['name']} does not take {name}"):
                payload_codec.encode_payload(claim(required | {name}))
    is_log = case["entry_type"] == EntryType.LOG
    assert is_log == (action in (Action.REMOVE, Action.CLOSE))
    assert (case["envelope"] == "COSE_Sign") == (action is Action.ROTATE)


@pytest.mark.parametrize("case", cases(LIFECYCLE, "removal_reasons"))
def test_removal_reason_codes(case: dict[str, Any]) -> None:
    assert RemovalReason(case["value"]).code == case["name"]


# --- docs/format.md --------------------------------------------------------------------------

# A vector block in docs/format.md: an HTML comment naming the file and an RFC 6901 pointer,
# then a fenced block. Hex is compared without white space; other text line for line.
_LABELLED = re.compile(
    r"<!-- vector: (?P<file>[\w.-]+)#(?P<pointer>\S*) -->\n```(?P<info>\w*)\n(?P<body>.*?)```",
    re.DOTALL,
)


def _labelled_blocks() -> list[Any]:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    return [
        pytest.param(
            m.group("file"),
            m.group("pointer"),
            m.group("info"),
            m.group("body"),
            id=f"{m.group('file')}#{m.group('pointer')}",
        )
        for m in _LABELLED.finditer(text)
    ]


@pytest.mark.parametrize(("file", "pointer", "info", "body"), _labelled_blocks())
def test_format_doc_block_matches_vector(file: str, pointer: str, info: str, body: str) -> None:
    value = generator().resolve(load(file), pointer)
    if info == "hex":
        expected = "".join(value) if isinstance(value, list) else value
        assert "".join(body.split()) == expected
        return
    if info == "json":
        assert json.loads(body) == value
    # A fenced block cannot show a final LF, so one is not compared.
    assert body.rstrip("\n") == generator().snippet(value).rstrip("\n")


def _vector_names(value: Any) -> set[str]:
    """Every "name" and key "label" in a vector document."""
    if isinstance(value, list):
        return set().union(*(_vector_names(item) for item in value))
    if not isinstance(value, dict):
        return set()
    own = {str(value[key]) for key in ("name", "label") if key in value}
    return own.union(*(_vector_names(item) for item in value.values()))


# Hyphenated words the doc quotes that are not vector names: a range, the tlog-witness endpoint,
# and the identity value of the verify report.
_OTHER_WORDS = {"a-z", "add-checkpoint", "self-asserted"}


def test_format_doc_names_only_existing_vectors() -> None:
    # A backticked lowercase hyphenated word in the doc is a vector or key name, a witness
    # refusal reason, or one of _OTHER_WORDS.
    reasons = {case["reason"] for case in load(CHECKPOINTS)["witness_refusals"]}
    known = set().union(*(_vector_names(load(name)) for name in FILES)) | reasons | _OTHER_WORDS
    words = re.findall(r"`([a-z][a-z0-9]*(?:-[a-z0-9@]+)+)`", FORMAT_DOC.read_text())
    assert sorted(set(words) - known) == []


def test_format_doc_attack_table_matches_vectors() -> None:
    mutated = {case["name"]: case for case in load("ledger-small.json")["mutated"]}
    rows = re.findall(r"^\| `([a-z0-9@-]+)` \| (.*) \|$", FORMAT_DOC.read_text(), re.MULTILINE)
    check_names = load("ledger-small.json")["check_names"]
    assert set(check_names) <= set(verify.CHECKS)
    assert [name for name, _ in rows if name in check_names] == check_names
    rows = [(name, checks) for name, checks in rows if name in mutated]
    assert len(rows) >= 5
    for name, checks in rows:
        assert sorted(set(re.findall(r"`([a-z]+)`", checks))) == mutated[name]["failed_checks"]


def test_format_doc_hex_blocks_are_all_labelled() -> None:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    for info in ("hex", "json"):
        labelled = sum(1 for b in _labelled_blocks() if b.values[2] == info)
        assert text.count(f"```{info}\n") == labelled
    assert {b.values[0] for b in _labelled_blocks()} == set(FILES)


def _doc_section(number: int) -> str:
    """The text of section ``number`` of docs/format.md, up to the next section."""
    text = FORMAT_DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    return text[start : text.index("\n## ", start + 1)]


def test_format_doc_negative_vector_tables_name_the_error() -> None:
    invalid = {case["name"]: case for case in load(CHECKPOINTS)["invalid"]}
    rows = re.findall(r"^\| `([a-z0-9@-]+)` \| (\w+) \|", FORMAT_DOC.read_text(), re.MULTILINE)
    rows = [(name, error) for name, error in rows if name in invalid]
    assert len(rows) >= 5
    for name, error in rows:
        assert error == invalid[name]["error"], name


def test_format_doc_refusal_table_matches_vectors() -> None:
    refusals = load(CHECKPOINTS)["witness_refusals"]
    status = {case["reason"]: case["http_status"] for case in refusals}
    rows = re.findall(r"^\| `([a-z-]+)` \| (\d+) \| (.*) \|$", _doc_section(12), re.MULTILINE)
    assert sorted(reason for reason, _, _ in rows) == sorted(status)
    for reason, code, vectors in rows:
        assert int(code) == status[reason]
        named = set(re.findall(r"`([a-z0-9-]+)`", vectors))
        assert {c["name"] for c in refusals if c["reason"] == reason} <= named


def test_format_doc_policy_table_matches_vectors() -> None:
    def names(items: list[str], empty: str) -> str:
        quoted = [f"`{item}`" for item in items]
        if len(quoted) < 2:
            return quoted[0] if quoted else empty
        return ", ".join(quoted[:-1]) + " and " + quoted[-1]

    section = _doc_section(13)
    for case in load(CHECKPOINTS)["policy"]["cases"]:
        cosigners = names(case["cosigned_by"], "nobody")
        satisfied = "yes" if case["satisfied"] else "no"
        groups = ", ".join(f"`{g}`" for g in case["groups_satisfied"]) or "none"
        assert f"\n| {cosigners} | {satisfied} | {groups} |\n" in section


def test_format_doc_report_fields_are_all_documented() -> None:
    section = _doc_section(16)
    # The top-level table comes first; the nested objects' tables repeat some names.
    documented = list(dict.fromkeys(re.findall(r"^\| `([a-z_]+)` \| ", section, re.MULTILINE)))
    for case in load(CHECKPOINTS)["reports"]:
        report = case["report"]
        assert [name for name in documented if name in report] == list(report)
        nested = [report["checkpoint"], *report["problems"], *report["signatories"]]
        for item in nested:
            assert set(item) <= set(documented)
    lifecycle = load(LIFECYCLE)["ledger"]["report"]
    assert [name for name in documented if name in lifecycle] == list(lifecycle)
    assert lifecycle["departed"]
    assert lifecycle["flags"]
    for item in [*lifecycle["signatories"], *lifecycle["departed"], *lifecycle["flags"]]:
        assert set(item) <= set(documented)


def _field_keys(cell: str) -> list[int]:
    """The payload keys a cell of the action table names, as in "name (3), ref (9)"."""
    return [int(key) for key in re.findall(r"\((\d+)\)", cell)]


def test_format_doc_action_table_matches_vectors() -> None:
    rows = re.findall(
        r"^\| (\d) \| `(\w+)` \| (\d) \| (COSE_Sign1?) \| [^|]+ \| ([^|]+) \| ([^|]+) \|$",
        _doc_section(17),
        re.MULTILINE,
    )
    actions = load(LIFECYCLE)["actions"]
    assert len(rows) == len(actions)
    for (action, name, entry_type, envelope, required, also), vector in zip(
        rows, actions, strict=True
    ):
        assert (int(action), name, int(entry_type), envelope) == (
            vector["action"],
            vector["name"],
            vector["entry_type"],
            vector["envelope"],
        )
        assert _field_keys(required) == [FIELD_KEYS[f] for f in vector["required"]]
        also_allowed = [f for f in vector["allowed"] if f not in vector["required"]]
        assert _field_keys(also) == [FIELD_KEYS[f] for f in also_allowed]


def test_format_doc_removal_reasons_match_vectors() -> None:
    section = _doc_section(17)
    reasons = section[section.index("### 17.2 ") : section.index("### 17.3 ")]
    rows = re.findall(r"^\| (\d) \| `([a-z-]+)` \| ", reasons, re.MULTILINE)
    assert [(int(v), code) for v, code in rows] == [
        (r["value"], r["name"]) for r in load(LIFECYCLE)["removal_reasons"]
    ]


def test_format_doc_name_pairs_match_vectors() -> None:
    section = _doc_section(17)
    for pair in load(LIFECYCLE)["names"]:
        row = f"| `{pair['first']}` | `{pair['second']}` | {pair['relation']} | {pair['shows']} |"
        assert f"\n{row}\n" in section, row


def test_format_doc_lifecycle_attack_table_matches_vectors() -> None:
    rows = re.findall(
        r"^\| `([a-z0-9-]+)` \| `(\w+)` \((\d+)\) \| (\w+) \|$", _doc_section(17), re.MULTILINE
    )
    expected = [
        (a["name"], a["failed_checks"][0], str(a["valid_entries"]), a["error"])
        for a in load(LIFECYCLE)["attacks"]
    ]
    assert all(len(a["failed_checks"]) == 1 for a in load(LIFECYCLE)["attacks"])
    assert rows == expected
