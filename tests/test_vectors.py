"""The library against the language-neutral vectors in tests/vectors/ (see docs/format.md).

Each vector file is read as plain JSON, as another implementation would read it: decoders and
encoders must reproduce its bytes, negative vectors must raise the named error class with the
message substring, and mutated ledgers must fail exactly the named checks at the named entries.
The generator's --check logic also runs here, so a stale vector file fails the suite, and every
hex block of docs/format.md labelled with a vector must equal that vector.
"""

from __future__ import annotations

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
from pycose.messages import Sign1Message

import merkle_reference as ref
from ledger import codec, cose, entry, merkle, statement, verify
from ledger.errors import FormatError, LedgerError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import Action, Endorsement, Entry, EntryType, Genesis

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
FORMAT_DOC = ROOT / "docs" / "format.md"
FILES = (
    "canonical-text.json",
    "keys.json",
    "endorsement.json",
    "entries.json",
    "ledger-small.json",
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
    if "name" in item:
        return str(item["name"])
    if "index" in item:
        return f"leaf-{item['index']}-in-{item['size']}"
    if "old_size" in item:
        return f"{item['old_size']}-to-{item['size']}"
    return f"entry-{item.get('seq', index)}"


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
    assert sum((VECTORS / name).stat().st_size for name in FILES) < 200_000


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
def test_signature_rule(case: dict[str, Any]) -> None:
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
    return Endorsement(
        action=Action(fields["action"]),
        statement_hash=bytes.fromhex(fields["statement_hash_hex"]),
        name=fields["name"],
        public_key=bytes.fromhex(fields["public_key_hex"]),
        signed_at=fields["signed_at"],
        domain=fields["domain"],
        url=fields["url"],
        country=fields["country"],
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
    assert cose.encode_payload(claim).hex() == case["payload_hex"]
    assert cose.decode_payload(bytes.fromhex(case["payload_hex"])) == claim
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
    else:
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


def test_format_doc_names_only_existing_vectors() -> None:
    # A backticked lowercase hyphenated word in the doc is a vector or key name (or a range).
    known = set().union(*(_vector_names(load(name)) for name in FILES)) | {"a-z"}
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
    assert text.count("```hex\n") == sum(1 for b in _labelled_blocks() if b.values[2] == "hex")
    assert {b.values[0] for b in _labelled_blocks()} == set(FILES)
