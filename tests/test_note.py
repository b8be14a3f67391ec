"""Tests of ``ledger.note``: signed notes, checkpoints, cosignatures and tlog-proofs."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import FormatError, LedgerError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import (
    MAX_INT63,
    MAX_NOTE_SIZE,
    TLOG_PROOF_HEADER,
    Checkpoint,
    Note,
    NoteSignature,
    TlogProof,
    add_signature,
    cosign_checkpoint,
    cosignature_key_id,
    cosignature_timestamp,
    format_checkpoint,
    format_note,
    format_tlog_proof,
    note_key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_tlog_proof,
    parse_witness_verifier_key,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    verify_tlog_proof,
    witness_verifier_key,
)

DASH = "\u2014"

# --- Published vectors ---------------------------------------------------------------------------
# golang.org/x/mod/sumdb/note: the package documentation example ("Example" section of note.go)
# and note_test.go (TestNewSigner, TestSign, TestOpen), read from github.com/golang/mod.
GO_PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_PETER_SIG = (
    f"{DASH} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIG = (
    f"{DASH} EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
GO_NOTE = (GO_TEXT + "\n" + GO_PETER_SIG).encode()

# C2SP signed-note.md: the example note (no key is published for it).
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    f"{DASH} quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
).encode()

# C2SP tlog-cosignature.md: the example cosigned checkpoint (keys not published); its signed
# message example says "time 1679315147".
C2SP_COSIGNED = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    f"{DASH} example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    f"{DASH} witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
).encode()

# transparency-dev/formats note/note_cosigv1_test.go (TestCoSigV1NewVerifier,
# TestCoSigV1Timestamp): a type 0x04 witness vkey, a type 0x01 vkey, and a cosignature whose
# timestamp is 1727964367.
TD_WITNESS_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TD_ED25519_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
TD_COSIG = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gx"
    "EHWWOworDcFiEBYJXORmnFBOBA=="
)


def _key(name: str) -> SigningKey:
    return SigningKey.from_seed(name, hashlib.sha256(name.encode()).digest())


def _peter_signing_key() -> SigningKey:
    material = base64.b64decode(GO_PETER_SKEY.split("+", 4)[4])
    assert material[0] == 0x01
    return SigningKey.from_seed("PeterNeumann", material[1:])


PETER = VerifyingKey.from_verifier_key(GO_PETER_VKEY)
ENOCH = VerifyingKey.from_verifier_key(GO_ENOCH_VKEY)
LOG = _key("example.org/log")
WITNESS = _key("witness.example/w1")
WITNESS2 = _key("witness.example/w2")
ROOT = hashlib.sha256(b"root").digest()


# --- Published vectors -----------------------------------------------------------------------


def test_go_example_note_opens() -> None:
    note, verified = open_note(GO_NOTE, [PETER])
    assert note.text == GO_TEXT
    assert verified == (PETER,)
    assert note.signatures[0].key_id == bytes.fromhex("c74f20a3")


def test_go_example_is_reproduced_byte_for_byte() -> None:
    assert format_note(sign_note(GO_TEXT, _peter_signing_key())) == GO_NOTE


def test_go_doubly_signed_note() -> None:
    data = (GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG).encode()
    assert open_note(data, [PETER])[1] == (PETER,)  # Enoch unknown: ignored
    assert open_note(data, [ENOCH, PETER])[1] == (PETER, ENOCH)  # signature order
    with pytest.raises(VerificationError, match="no known signer"):
        open_note(data, [])


def test_go_invalid_signature_is_rejected() -> None:
    # note_test.go TestOpen "Invalid signature": 4 base64 characters inserted at offset 60.
    bad = GO_PETER_SIG[:60] + "ABCD" + GO_PETER_SIG[60:]
    with pytest.raises(VerificationError, match="PeterNeumann"):
        open_note((GO_TEXT + "\n" + bad).encode(), [PETER])


@pytest.mark.parametrize(
    "data",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_PETER_SIG,
        GO_TEXT + "\n" + f"{DASH} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUg",
        GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_malformed_notes(data: str) -> None:
    with pytest.raises(FormatError):
        open_note(data.encode(), [PETER])
    with pytest.raises(FormatError):
        parse_note(data.encode())


def test_go_malformed_utf8() -> None:
    with pytest.raises(FormatError, match="UTF-8"):
        parse_note(b"\xff" + GO_NOTE)


def test_c2sp_signed_note_example_parses_and_has_no_known_signer() -> None:
    note = parse_note(C2SP_NOTE)
    assert note.text.endswith("\n\ned è subito sera.\n")  # split at the *last* blank line
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert format_note(note) == C2SP_NOTE
    with pytest.raises(VerificationError, match="no known signer"):
        open_note(C2SP_NOTE, [PETER, ENOCH])


def test_c2sp_cosignature_example() -> None:
    note = parse_note(C2SP_COSIGNED)
    cp = parse_checkpoint(note.text)
    assert cp == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert format_checkpoint(cp) == note.text
    witness_sig = note.signatures[1]
    assert len(witness_sig.signature) == 72
    assert cosignature_timestamp(witness_sig) == 1679315147


def test_transparency_dev_vectors() -> None:
    witness = parse_witness_verifier_key(TD_WITNESS_VKEY)
    assert witness.name == "remora.n621.de"
    assert witness_verifier_key(witness) == TD_WITNESS_VKEY
    assert cosignature_key_id(witness).hex() == "da77ade7"
    with pytest.raises(FormatError, match="0x04"):
        parse_witness_verifier_key(TD_ED25519_VKEY)  # a type 0x01 key is not a witness key
    assert VerifyingKey.from_verifier_key(TD_ED25519_VKEY).name == "TEST"
    with pytest.raises(FormatError):
        VerifyingKey.from_verifier_key(TD_WITNESS_VKEY)  # and vice versa
    raw = base64.b64decode(TD_COSIG)
    sig = NoteSignature("any.example", raw[:4], raw[4:])
    assert cosignature_timestamp(sig) == 1727964367


# --- Signed-note grammar ---------------------------------------------------------------------


def _note(text: str = "hello\n", *keys: SigningKey) -> Note:
    keys = keys or (LOG,)
    note = sign_note(text, keys[0])
    for key in keys[1:]:
        note = add_signature(note, sign_note(text, key).signatures[0])
    return note


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sig_line(name: str, payload: bytes) -> str:
    return f"{DASH} {name} {_b64(payload)}\n"


GOOD = format_note(_note()).decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("hello\n\n\n" + GOOD.split("\n\n")[1], "non-empty last line"),  # double blank line
        ("\n\n" + GOOD.split("\n\n")[1], "non-empty last line"),  # empty text
        (GOOD[:-1], "newline"),  # missing final newline
        (GOOD.replace("hello\n", "hello\r\n"), "U\\+000D"),  # CR
        (GOOD.replace("hello", "hel\tlo"), "U\\+0009"),  # tab
        (GOOD.replace("hello", "hel\x00lo"), "U\\+0000"),
        (GOOD.replace(DASH + " ", "- "), "em dash"),
        (GOOD.replace(DASH + " ", DASH), "em dash"),
        (GOOD.replace("example.org/log", "example.org/log extra"), "base64"),
        (GOOD.replace("example.org/log", "example.org/a+b"), "key name"),
        (GOOD.replace("example.org/log", "example.org\u00a0log"), "key name"),
        (GOOD.replace("example.org/log", "example.org\u3000log"), "key name"),
        (GOOD.replace("example.org/log", "example.org\u2028log"), "key name"),
        ("hello\n\n" + f"{DASH}  {_b64(b'12345')}\n", "key name"),  # empty name
        ("hello\n\n" + _sig_line("k", b"1234"), "too short"),  # key id only
        ("hello\n\n" + f"{DASH} k \n", "base64"),  # empty signature
        ("hello\n\n", "newline"),  # no signature line
    ],
)
def test_malformed_note(data: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_note(data.encode())


def test_non_canonical_base64_is_rejected() -> None:
    encoded = GOOD.split(" ")[-1].rstrip("\n")  # 68 bytes: one '=' of padding
    assert encoded.endswith("=")
    assert not encoded.endswith("==")
    last = encoded[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = alphabet[alphabet.index(last) | 1]  # sets an unused low bit
    assert sloppy != last
    variants = [
        encoded[:-2] + sloppy + "=",  # non-zero padding bits: decodes, but not canonical
        encoded[:-1],  # missing padding
        encoded.replace("/", "_").replace("+", "-") if "/" in encoded or "+" in encoded else "*",
        encoded + "=",  # too much padding
        " " + encoded,
    ]
    for variant in variants:
        with pytest.raises(FormatError):
            parse_note(GOOD.replace(encoded, variant).encode())


def test_duplicate_signature_lines_are_rejected() -> None:
    line = GOOD.split("\n\n")[1]
    with pytest.raises(FormatError, match="repeats"):
        parse_note(("hello\n\n" + line + line).encode())
    other = sign_note("other\n", LOG).signatures[0]  # same (name, key id), other signature
    with pytest.raises(FormatError, match="repeats"):
        parse_note(
            ("hello\n\n" + line + _sig_line(other.name, other.key_id + other.signature)).encode()
        )


def _many(count: int) -> bytes:
    lines = "".join(_sig_line(f"k{i}", b"\x00\x00\x00\x00" + bytes(64)) for i in range(count))
    return ("hello\n\n" + lines).encode()


def test_signature_count_limit() -> None:
    assert len(parse_note(_many(100)).signatures) == 100
    with pytest.raises(FormatError, match="more than 100"):
        parse_note(_many(101))


def test_size_limit() -> None:
    line = _sig_line("k", bytes(68))
    filler = "x" * (MAX_NOTE_SIZE - len(line.encode()) - 2) + "\n"  # note of exactly 1 MiB
    assert parse_note((filler + "\n" + line).encode()).text == filler
    with pytest.raises(FormatError, match="exceeds"):
        parse_note(("x" + filler + "\n" + line).encode())
    with pytest.raises(UsageError, match="exceed"):
        Note("x" + filler, (NoteSignature("k", bytes(4), bytes(64)),))


def test_delete_and_c1_are_accepted_as_the_spec_says() -> None:
    # signed-note forbids only ASCII controls below U+0020 (other than newline).
    note = sign_note("del \x7f and c1 \x85 are allowed\n", LOG)
    assert parse_note(format_note(note)) == note


def test_note_value_checks() -> None:
    sig = NoteSignature("k", bytes(4), bytes(64))
    with pytest.raises(UsageError):
        Note("hello\n", ())
    with pytest.raises(UsageError):
        Note("hello", (sig,))
    with pytest.raises(UsageError):
        Note("hello\n", (sig, sig))
    with pytest.raises(UsageError):
        Note("hello\n", [sig])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Note("hello \ud800\n", (sig,))  # lone surrogate
    with pytest.raises(UsageError):
        NoteSignature("a b", bytes(4), bytes(64))
    with pytest.raises(UsageError):
        NoteSignature("k", bytes(3), bytes(64))
    with pytest.raises(UsageError):
        NoteSignature("k", bytes(4), b"")
    with pytest.raises(UsageError):
        sign_note("no newline", LOG)
    with pytest.raises(UsageError):
        parse_note("text")  # type: ignore[arg-type]


def test_add_signature_replaces_the_same_key() -> None:
    note = _note("hello\n", LOG, WITNESS)
    again = add_signature(note, sign_note("hello\n", LOG).signatures[0])
    assert [s.name for s in again.signatures] == [WITNESS.name, LOG.name]
    many = Note("hello\n", tuple(NoteSignature(f"k{i}", bytes(4), bytes(64)) for i in range(100)))
    with pytest.raises(UsageError, match=r"1\.\.100"):
        add_signature(many, NoteSignature("k100", bytes(4), bytes(64)))


def test_known_signer_bad_signature_rejects_even_if_another_verifies() -> None:
    good = sign_note("hello\n", LOG).signatures[0]
    bad = sign_note("other\n", WITNESS).signatures[0]  # WITNESS signed another text
    for order in ((good, bad), (bad, good)):
        data = format_note(Note("hello\n", order))
        with pytest.raises(VerificationError, match="does not verify"):
            open_note(data, [LOG.public, WITNESS.public])
        # ... but the bad one is ignored when its key is unknown.
        assert open_note(data, [LOG.public])[1] == (LOG.public,)


def test_unknown_signer_only() -> None:
    data = format_note(_note("hello\n", WITNESS))
    with pytest.raises(VerificationError, match="no known signer"):
        open_note(data, [LOG.public])
    # Same name, other key: a different key id, so still unknown (checked before any crypto).
    impostor = _key("other.seed").public
    same_name = VerifyingKey(WITNESS.name, impostor.raw)
    with pytest.raises(VerificationError, match="no known signer"):
        open_note(data, [same_name])


def test_duplicate_verifiers_are_fine() -> None:
    data = format_note(_note())
    assert open_note(data, [LOG.public, LOG.public])[1] == (LOG.public,)
    with pytest.raises(UsageError):
        open_note(data, ["not a key"])  # type: ignore[list-item]


def test_note_key_id_matches_keys_module() -> None:
    key = LOG.public
    assert note_key_id(key.name, 0x01, key.raw) == key.note_key_id()
    expected = hashlib.sha256(key.name.encode() + b"\n\x01" + key.raw).digest()[:4]
    assert key.note_key_id() == expected


_TEXT_CHARS = st.characters(min_codepoint=32, exclude_categories=["Cs"])
_TEXT = st.lists(st.text(_TEXT_CHARS, max_size=20), min_size=1, max_size=5).map(
    lambda lines: "\n".join(lines) + "x\n"
)
_NAMES = st.text(
    st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"], exclude_characters="+"),
    min_size=1,
    max_size=10,
)
_SIGS = st.lists(
    st.builds(NoteSignature, _NAMES, st.binary(min_size=4, max_size=4), st.binary(min_size=1)),
    min_size=1,
    max_size=8,
    unique_by=lambda s: (s.name, s.key_id),
)


@given(_TEXT, _SIGS)
def test_note_round_trip(text: str, sigs: list[NoteSignature]) -> None:
    note = Note(text, tuple(sigs))
    assert parse_note(format_note(note)) == note


@settings(max_examples=300)
@given(st.integers(min_value=0), st.binary(min_size=1, max_size=3))
def test_accepted_mutations_re_encode_identically(position: int, junk: bytes) -> None:
    data = bytearray(format_note(_note("a\n\nb\n", LOG, WITNESS)))
    at = position % len(data)
    data[at : at + 1] = junk
    try:
        note = parse_note(bytes(data))
    except FormatError:
        return
    assert format_note(note) == bytes(data)


# --- Checkpoints -----------------------------------------------------------------------------

CP = Checkpoint("example.org/log", 5, ROOT)


@pytest.mark.parametrize(
    "size_line",
    ["01", "00", "+1", " 1", "1 ", "-1", "1.0", "1_000", "\uff11", "0x1", "", str(2**63)],
)
def test_bad_sizes(size_line: str) -> None:
    with pytest.raises(FormatError):
        parse_checkpoint(f"example.org/log\n{size_line}\n{_b64(ROOT)}\n")


def test_size_limits() -> None:
    for size in (0, 1, 10, MAX_INT63):
        text = f"o\n{size}\n{_b64(ROOT)}\n"
        assert parse_checkpoint(text).size == size
        assert format_checkpoint(parse_checkpoint(text)) == text
    with pytest.raises(UsageError):
        Checkpoint("o", MAX_INT63 + 1, ROOT)
    with pytest.raises(UsageError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(UsageError):
        Checkpoint("o", True, ROOT)


@pytest.mark.parametrize(
    "root_line",
    [
        _b64(ROOT[:31]),
        _b64(ROOT + b"\x00"),
        _b64(ROOT)[:-1],  # no padding
        _b64(ROOT)[:-2] + "B=",  # non-canonical trailing bits (the last char of 32 bytes)
        _b64(ROOT).replace("=", ""),
        ROOT.hex(),
        "",
    ],
)
def test_bad_roots(root_line: str) -> None:
    with pytest.raises(FormatError):
        parse_checkpoint(f"example.org/log\n5\n{root_line}\n")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "o\n5\n",
        f"o\n5\n{_b64(ROOT)}",  # no final newline
        f"\n5\n{_b64(ROOT)}\n",  # empty origin
        f"o\n5\n{_b64(ROOT)}\n\n",  # empty extension line
        f"o\n5\n{_b64(ROOT)}\next\n\nmore\n",
        f"o\r\n5\n{_b64(ROOT)}\n",
    ],
)
def test_bad_checkpoint_texts(text: str) -> None:
    with pytest.raises(FormatError):
        parse_checkpoint(text)


def test_checkpoint_value_checks() -> None:
    cases: list[Callable[[], object]] = [
        lambda: Checkpoint("", 1, ROOT),
        lambda: Checkpoint("a\nb", 1, ROOT),
        lambda: Checkpoint("o", 1, ROOT[:31]),
        lambda: Checkpoint("o", 1, ROOT, ("",)),
        lambda: Checkpoint("o", 1, ROOT, ["ext"]),  # type: ignore[arg-type]
        lambda: parse_checkpoint(b"o\n1\n"),  # type: ignore[arg-type]
    ]
    for bad in cases:
        with pytest.raises(UsageError):
            bad()


_LINE = st.text(_TEXT_CHARS, min_size=1, max_size=30)


@given(
    st.builds(
        Checkpoint,
        _LINE,
        st.integers(min_value=0, max_value=MAX_INT63),
        st.binary(min_size=32, max_size=32),
        st.lists(_LINE, max_size=3).map(tuple),
    )
)
def test_checkpoint_round_trip(cp: Checkpoint) -> None:
    assert parse_checkpoint(format_checkpoint(cp)) == cp


def test_origin_may_contain_spaces_per_spec() -> None:
    # tlog-checkpoint: clients MUST NOT assume the origin follows the recommended URL form.
    assert parse_checkpoint(f"my log + co\n1\n{_b64(ROOT)}\n").origin == "my log + co"


def test_sign_and_open_checkpoint() -> None:
    data = sign_checkpoint(CP, LOG)
    verified = open_checkpoint(data, LOG.public)
    assert verified.checkpoint == CP
    assert verified.witnesses_verified == ()
    assert verified.note == parse_note(data)
    # The signed note is also a plain signed note for the log key (what Go's note.Open sees).
    assert open_note(data, [LOG.public])[1] == (LOG.public,)


def test_sign_checkpoint_requires_origin_name() -> None:
    with pytest.raises(UsageError, match="origin"):
        sign_checkpoint(CP, WITNESS)


def test_open_checkpoint_failures() -> None:
    data = sign_checkpoint(CP, LOG)
    with pytest.raises(VerificationError, match="origin"):
        open_checkpoint(data, WITNESS.public)
    other = VerifyingKey(LOG.name, _key("other").public.raw)
    with pytest.raises(VerificationError, match="not signed by the log"):
        open_checkpoint(data, other)
    forged = format_note(
        Note(format_checkpoint(CP), (NoteSignature(LOG.name, LOG.public.note_key_id(), bytes(64)),))
    )
    with pytest.raises(VerificationError, match="does not verify"):
        open_checkpoint(forged, LOG.public)
    note_only = format_note(sign_note("not a checkpoint\n", LOG))
    with pytest.raises(FormatError):
        open_checkpoint(note_only, LOG.public)


def _cosigned(cp: Checkpoint = CP, timestamp: int = 1_700_000_000) -> bytes:
    note = parse_note(sign_checkpoint(cp, LOG))
    note = add_signature(note, cosign_checkpoint(note, WITNESS, timestamp))
    return format_note(note)


def test_every_single_byte_change_of_a_log_signed_checkpoint_is_rejected() -> None:
    data = sign_checkpoint(Checkpoint("example.org/log", 5, ROOT, ("ext",)), LOG)
    for position, flip in itertools.product(range(len(data)), (0x01, 0x20, 0x80)):
        mutated = bytearray(data)
        mutated[position] ^= flip
        with pytest.raises(LedgerError):
            open_checkpoint(bytes(mutated), LOG.public)


def test_every_single_byte_change_of_a_cosigned_checkpoint_is_rejected_or_visible() -> None:
    data = _cosigned(Checkpoint("example.org/log", 5, ROOT, ("ext",)))
    expected = open_checkpoint(data, LOG.public, witnesses=[WITNESS.public])
    assert len(expected.witnesses_verified) == 1
    for position, flip in itertools.product(range(len(data)), (0x01, 0x20, 0x80)):
        mutated = bytearray(data)
        mutated[position] ^= flip
        try:
            got = open_checkpoint(bytes(mutated), LOG.public, witnesses=[WITNESS.public])
        except LedgerError:
            continue
        # Anything accepted must say something different (never silently the same claim).
        assert got.checkpoint != expected.checkpoint or got.witnesses_verified != (
            expected.witnesses_verified
        ), (position, flip)


def test_cosignature_round_trip() -> None:
    data = _cosigned(timestamp=1_700_000_123)
    verified = open_checkpoint(data, LOG.public, witnesses=[WITNESS.public, WITNESS2.public])
    assert verified.witnesses_verified == ((WITNESS.public, 1_700_000_123),)
    note = parse_note(data)
    assert verify_cosignature(note.text, note.signatures[1], WITNESS.public) == 1_700_000_123
    # Without the witness key the cosignature is just an unknown signature.
    assert open_checkpoint(data, LOG.public).witnesses_verified == ()


def test_cosignature_matches_an_independent_computation() -> None:
    note = parse_note(sign_checkpoint(CP, LOG))
    sig = cosign_checkpoint(note, WITNESS, 1679315147)
    seed = hashlib.sha256(WITNESS.name.encode()).digest()
    private = Ed25519PrivateKey.from_private_bytes(seed)
    message = b"cosignature/v1\ntime 1679315147\n" + format_checkpoint(CP).encode()
    expected_id = hashlib.sha256(WITNESS.name.encode() + b"\n\x04" + WITNESS.public.raw).digest()
    assert sig.key_id == expected_id[:4] == cosignature_key_id(WITNESS.public)
    assert sig.signature == (1679315147).to_bytes(8, "big") + private.sign(message)
    vkey = witness_verifier_key(WITNESS.public)
    material = _b64(bytes([4]) + WITNESS.public.raw)
    assert vkey == f"{WITNESS.name}+{expected_id[:4].hex()}+{material}"
    assert parse_witness_verifier_key(vkey) == WITNESS.public


def test_cosignature_tampering() -> None:
    note = parse_note(_cosigned())
    log_sig, cosig = note.signatures
    shifted = NoteSignature(cosig.name, cosig.key_id, (1).to_bytes(8, "big") + cosig.signature[8:])
    with pytest.raises(VerificationError):
        verify_cosignature(note.text, shifted, WITNESS.public)
    with pytest.raises(VerificationError):
        verify_cosignature(note.text.replace("5", "6"), cosig, WITNESS.public)
    with pytest.raises(VerificationError, match="not a cosignature"):
        verify_cosignature(note.text, cosig, WITNESS2.public)
    with pytest.raises(VerificationError, match="not a cosignature"):
        verify_cosignature(note.text, log_sig, LOG.public)  # type 0x01 key id
    bad = format_note(Note(note.text, (log_sig, shifted)))
    with pytest.raises(VerificationError, match="cosignature"):
        open_checkpoint(bad, LOG.public, witnesses=[WITNESS.public])
    # A plain Ed25519 (0x01) signature by the witness key is not a cosignature.
    plain = add_signature(note, sign_note(note.text, WITNESS).signatures[0])
    verified = open_checkpoint(
        format_note(Note(note.text, plain.signatures[::2])), LOG.public, witnesses=[WITNESS.public]
    )
    assert verified.witnesses_verified == ()


@pytest.mark.parametrize("timestamp", [0, 1, 1679315147, MAX_INT63])
def test_timestamps(timestamp: int) -> None:
    data = _cosigned(timestamp=timestamp)
    verified = open_checkpoint(data, LOG.public, witnesses=[WITNESS.public])
    assert verified.witnesses_verified == ((WITNESS.public, timestamp),)


def test_timestamp_limits() -> None:
    note = parse_note(sign_checkpoint(CP, LOG))
    for bad in (-1, MAX_INT63 + 1, True, 1.0):
        with pytest.raises(UsageError):
            cosign_checkpoint(note, WITNESS, bad)  # type: ignore[arg-type]
    cosig = cosign_checkpoint(note, WITNESS, 5)
    huge = NoteSignature(cosig.name, cosig.key_id, (2**63).to_bytes(8, "big") + cosig.signature[8:])
    with pytest.raises(FormatError, match="2\\*\\*63"):
        cosignature_timestamp(huge)
    with pytest.raises(VerificationError):
        verify_cosignature(note.text, huge, WITNESS.public)
    short = NoteSignature(cosig.name, cosig.key_id, cosig.signature[:-1])
    with pytest.raises(FormatError, match="72"):
        cosignature_timestamp(short)
    with pytest.raises(FormatError):
        cosign_checkpoint(sign_note("not a checkpoint\n", LOG), WITNESS, 5)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name",
        "name+da77ade7",
        "a b+00000000+" + _b64(b"\x04" + bytes(32)),
        "remora.n621.de+DA77ADE7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # upper-case id
        "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # wrong id
        "other.name+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # id bound to name
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw",  # no padding
    ],
)
def test_bad_witness_vkeys(vkey: str) -> None:
    with pytest.raises(FormatError):
        parse_witness_verifier_key(vkey)


# --- tlog-proof ------------------------------------------------------------------------------


def _tree(size: int) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for i in range(size):
        tree.append(b"entry %d" % i)
    return tree


def _proof(index: int = 3, size: int = 7, extra: bytes | None = None) -> TlogProof:
    tree = _tree(size)
    cp = Checkpoint(LOG.name, size, merkle.root(tree, size))
    hashes = tuple(merkle.prove_inclusion(tree, index, size))
    return TlogProof(index, hashes, _cosigned(cp), extra)


def test_tlog_proof_layout_follows_the_spec() -> None:
    proof = _proof(extra=b"context")
    data = format_tlog_proof(proof)
    head, checkpoint = data.split(b"\n\n", 1)
    lines = head.decode().split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1" == TLOG_PROOF_HEADER
    assert lines[1] == "extra " + _b64(b"context")
    assert lines[2] == "index 3"
    assert lines[3:] == [_b64(h) for h in proof.inclusion_proof]
    assert checkpoint == proof.checkpoint
    assert parse_tlog_proof(data) == proof
    assert proof.checkpoint_body.size == 7


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 2), (1, 2), (3, 7), (6, 7), (8, 9)])
def test_tlog_proof_round_trip_and_verify(index: int, size: int) -> None:
    proof = _proof(index, size)
    assert parse_tlog_proof(format_tlog_proof(proof)) == proof
    leaf = merkle.hash_leaf(b"entry %d" % index)
    verified = verify_tlog_proof(proof, leaf, LOG.public, witnesses=[WITNESS.public])
    assert verified.checkpoint.size == size
    assert verified.witnesses_verified == ((WITNESS.public, 1_700_000_000),)
    with pytest.raises(VerificationError):
        verify_tlog_proof(proof, merkle.hash_leaf(b"other"), LOG.public)
    with pytest.raises(VerificationError):
        verify_tlog_proof(proof, leaf, WITNESS.public)


def _replace_line(data: bytes, number: int, new: str | None) -> bytes:
    head, checkpoint = data.split(b"\n\n", 1)
    lines = head.decode().split("\n")
    if new is None:
        del lines[number]
    else:
        lines[number] = new
    return ("\n".join(lines) + "\n\n").encode() + checkpoint


def test_tlog_proof_strictness() -> None:
    data = format_tlog_proof(_proof())
    h = _b64(_proof().inclusion_proof[0])
    bad = [
        _replace_line(data, 0, "c2sp.org/tlog-proof@v2"),
        _replace_line(data, 1, "index 03"),
        _replace_line(data, 1, "index +3"),
        _replace_line(data, 1, "index  3"),
        _replace_line(data, 1, "index 7"),  # not below the size
        _replace_line(data, 1, "index 2"),  # wrong proof shape? (2 and 3 share it: see below)
        _replace_line(data, 1, "Index 3"),
        _replace_line(data, 1, None),  # no index line
        _replace_line(data, 1, "extra  \nindex 3"),
        _replace_line(data, 1, "extra \nindex 3"),  # empty extra
        _replace_line(data, 1, "extra Y29udGV4dA\nindex 3"),  # extra without padding
        _replace_line(data, 2, h[:-2] + "B="),  # non-canonical hash (or wrong hash)
        _replace_line(data, 2, _b64(bytes(31))),
        _replace_line(data, 2, h + "\n" + h),  # one hash too many
        _replace_line(data, 2, None),  # one hash too few
        _replace_line(data, 2, ""),  # empty line inside the hashes
        data.replace(b"\n\n", b"\n", 1),  # no empty line
        data.replace(b"\n", b"\r\n", 1),
        data[: data.index(b"\n\n") + 2] + b"not a note\n",
        data[: data.index(b"\n\n") + 2] + format_note(sign_note("not a checkpoint\n", LOG)),
        data[:-1],
        "\u00e9".encode() + data,
    ]
    accepted = []
    for number, variant in enumerate(bad):
        try:
            parse_tlog_proof(variant)
        except FormatError:
            continue
        accepted.append(number)
    # Only index 2 may parse (same proof length as index 3): it then fails to verify.
    assert accepted in ([], [5])
    if accepted:
        proof = parse_tlog_proof(bad[5])
        with pytest.raises(VerificationError):
            verify_tlog_proof(proof, merkle.hash_leaf(b"entry 3"), LOG.public)
    with pytest.raises(FormatError, match="more than 63"):
        parse_tlog_proof(_replace_line(data, 2, "\n".join([h] * 64)))
    with pytest.raises(UsageError):
        parse_tlog_proof(data.decode())  # type: ignore[arg-type]


def test_tlog_proof_value_checks() -> None:
    proof = _proof()
    cases: list[Callable[[], object]] = [
        lambda: TlogProof(-1, proof.inclusion_proof, proof.checkpoint),
        lambda: TlogProof(7, proof.inclusion_proof, proof.checkpoint),
        lambda: TlogProof(3, proof.inclusion_proof[:-1], proof.checkpoint),
        lambda: TlogProof(3, list(proof.inclusion_proof), proof.checkpoint),  # type: ignore[arg-type]
        lambda: TlogProof(3, proof.inclusion_proof, proof.checkpoint, b""),
        lambda: TlogProof(3, proof.inclusion_proof, b"garbage"),
        lambda: TlogProof(True, proof.inclusion_proof, proof.checkpoint),
    ]
    for bad in cases:
        with pytest.raises(UsageError):
            bad()
