"""C2SP signed notes, checkpoints, witness cosignatures and tlog-proofs (pure: no I/O).

Specifications implemented, read from https://github.com/C2SP/C2SP (and cross-checked with the
Go reference ``golang.org/x/mod/sumdb/note``):

``signed-note.md`` (c2sp.org/signed-note)
    A note is a text ending in ``"\\n"``, a blank line, then one or more signature lines
    ``"\u2014 <key name> <base64(4-byte key id || signature)>\\n"`` (U+2014 EM DASH, space).
    The whole note is UTF-8 with no ASCII control character (below U+0020) other than
    ``"\\n"``; the text is separated from the signatures by the *last* empty line. Key names
    are non-empty with no Unicode space (White_Space) and no ``'+'``. Ed25519 (type 0x01):
    key id = SHA-256(name || 0x0A || 0x01 || pk)[:4], signature over the text bytes.
    Verifiers ignore signatures from unknown (name, key id) pairs, verify those of known
    keys, reject the note if one fails, and require at least one known key to verify.
``tlog-checkpoint.md`` (c2sp.org/tlog-checkpoint)
    The text is the origin line (non-empty; a schema-less URL is only RECOMMENDED, so any
    non-empty line is accepted), the tree size in ASCII decimal with no leading zeros (``0``
    for the empty tree), the base64 RFC 6962 root hash, then optional non-empty extension
    lines. The log key name SHOULD match the origin; we require it (DESIGN.md section 2).
``tlog-cosignature.md`` (c2sp.org/tlog-cosignature), Ed25519 ``cosignature/v1``
    Key id = SHA-256(name || 0x0A || 0x04 || pk)[:4]; the signature is a
    ``timestamped_signature``: u64 big-endian POSIX timestamp || 64-byte Ed25519 signature
    over ``"cosignature/v1\\n" || "time <timestamp>\\n" ||`` the whole checkpoint text
    (extension lines included). The timestamp MUST NOT exceed 2**63 - 1. Witness keys are
    written as vkeys with type byte 0x04, as tlog-policy requires. ML-DSA-44 cosignatures
    (type 0x06) are not supported: such lines are unknown signatures.
``tlog-proof.md`` (c2sp.org/tlog-proof), ``c2sp.org/tlog-proof@v1``
    Lines ``c2sp.org/tlog-proof@v1``, optional ``extra <base64>`` (unauthenticated),
    ``index <n>`` (0-based, decimal without leading zeros), zero or more base64 RFC 6962
    inclusion-proof hashes (leaf sibling first), an empty line, then the checkpoint note
    verbatim. Files SHOULD be named ``*.tlog-proof``.

Choices stricter than the specs (our own data never needs the leniency): base64 must be
canonical (re-encodes identically); a note is at most 1 MiB with at most 100 signature lines
(Go's limit; the spec requires accepting at least 16); two signature lines with the same
(name, key id) are rejected (Go silently drops repeats); the last line of a note's text must
not be empty, so a double blank line before the signatures is rejected (Go accepts it and
keeps the empty line in the text); checkpoint sizes, cosignature timestamps and proof indexes
are at most 2**63 - 1; a known witness whose cosignature fails rejects the checkpoint (the
signed-note SHOULD); a tlog-proof's extra data is non-empty, its index is below the checkpoint
size, its hash count is exactly the one RFC 9162 gives for (index, size), its checkpoint is
well-formed, and it is at most 2 MiB. Cosignature timestamps in the future are not rejected
here (the module has no clock): compare ``witnesses_verified`` with your own time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Final

from attrs import frozen

from ledger import merkle
from ledger.errors import FormatError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey, validate_key_name

__all__ = [
    "HASH_SIZE",
    "KEY_ID_SIZE",
    "MAX_INT63",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "MAX_TLOG_PROOF_SIZE",
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "TlogProof",
    "VerifiedCheckpoint",
    "add_signature",
    "cosign_checkpoint",
    "cosignature_key_id",
    "cosignature_timestamp",
    "format_checkpoint",
    "format_note",
    "format_tlog_proof",
    "note_key_id",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "parse_signature_lines",
    "parse_signed_checkpoint",
    "parse_tlog_proof",
    "parse_witness_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "verify_cosignature",
    "verify_tlog_proof",
    "witness_verifier_key",
]

MAX_NOTE_SIZE: Final = 1 << 20
MAX_SIGNATURES: Final = 100
MAX_INT63: Final = 2**63 - 1
KEY_ID_SIZE: Final = 4
HASH_SIZE: Final = 32
TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
MAX_TLOG_PROOF_SIZE: Final = 2 << 20

_SIG_PREFIX: Final = "\u2014 "  # EM DASH, SPACE
_ALG_COSIGNATURE_V1: Final = 0x04
_COSIG_HEADER: Final = "cosignature/v1\n"
_COSIG_SIZE: Final = 8 + 64
_MAX_PROOF_HASHES: Final = 63
# Unicode White_Space (what Go's unicode.IsSpace tests): "Unicode spaces" of the specs.
_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_CONTROL: Final = re.compile("[\x00-\x09\x0b-\x1f]")
_DECIMAL: Final = re.compile("0|[1-9][0-9]*")


# ---------------------------------------------------------------------------------------------
# helpers


def _b64decode(text: str, what: str) -> bytes:
    """Decode canonical standard padded base64, or raise FormatError (never echoing input)."""
    if not text or not text.isascii():
        raise FormatError(f"{what} is not base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise FormatError(f"{what} is not canonical base64")
    return data


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decimal(text: str, what: str) -> int:
    """Parse a canonical ASCII decimal in 0..2**63-1, or raise FormatError."""
    if len(text) > 19 or not _DECIMAL.fullmatch(text):
        raise FormatError(f"{what} is not a canonical decimal number")
    value = int(text)
    if value > MAX_INT63:
        raise FormatError(f"{what} exceeds 2**63 - 1")
    return value


def _name_problem(name: object) -> str | None:
    """Signed-note key name rule: non-empty, no Unicode space, no '+', no control character."""
    if not isinstance(name, str) or not name:
        return "key name must be a non-empty str"
    if "+" in name or any(c in _WHITE_SPACE or c < " " for c in name):
        return "key name contains a space, '+' or a control character"
    return None if _encodable(name) else "key name is not encodable as UTF-8"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_problem(text: object) -> str | None:
    """Signed-note text rule, with our stricter last-line and size limits."""
    if not isinstance(text, str):
        return "note text must be a str"
    if not text.endswith("\n") or text.endswith("\n\n") or text == "\n":
        return "note text must end with a newline after a non-empty last line"
    if (found := _CONTROL.search(text)) is not None:
        return f"note text contains control character U+{ord(found.group()):04X}"
    if not _encodable(text):
        return "note text is not encodable as UTF-8 (lone surrogate)"
    if len(text.encode("utf-8")) > MAX_NOTE_SIZE:
        return f"note text exceeds {MAX_NOTE_SIZE} bytes"
    return None


def _require_int63(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT63:
        raise UsageError(f"{what} must be an int in 0..2**63-1")
    return value


# ---------------------------------------------------------------------------------------------
# signed notes


@frozen
class NoteSignature:
    """One signature line of a signed note.

    Attributes:
        name: the key name.
        key_id: the 4-byte key id.
        signature: the bytes after the key id (64 for Ed25519, 72 for a cosignature).
    """

    name: str
    key_id: bytes
    signature: bytes

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: invalid name, a key id that is not 4 bytes, or an empty signature.
        """
        if (problem := _name_problem(self.name)) is not None:
            raise UsageError(problem)
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise UsageError("key id must be 4 bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise UsageError("signature must be non-empty bytes")


@frozen
class Note:
    """A signed note: text and at least one signature (not necessarily verified).

    Attributes:
        text: the signed text, ending in ``"\\n"`` (without the separating blank line).
        signatures: the signature lines, in order; at most 100, unique (name, key id).
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: invalid text, no signature, too many, or a repeated (name, key id).
        """
        if (problem := _text_problem(self.text)) is not None:
            raise UsageError(problem)
        sigs = self.signatures
        if not isinstance(sigs, tuple) or not all(isinstance(s, NoteSignature) for s in sigs):
            raise UsageError("signatures must be a tuple of NoteSignature")
        if not 1 <= len(sigs) <= MAX_SIGNATURES:
            raise UsageError(f"a note needs 1..{MAX_SIGNATURES} signatures, not {len(sigs)}")
        if len({(s.name, s.key_id) for s in sigs}) != len(sigs):
            raise UsageError("two signatures have the same key name and key id")
        if len(format_note(self)) > MAX_NOTE_SIZE:
            raise UsageError(f"the encoded note would exceed {MAX_NOTE_SIZE} bytes")


def parse_note(data: bytes) -> Note:
    """Parse a signed note strictly (signatures are not verified).

    Args:
        data: the note bytes.

    Returns:
        The note.

    Raises:
        FormatError: anything outside the grammar in the module docstring.
        UsageError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise UsageError("note must be bytes")
    if len(data) > MAX_NOTE_SIZE:
        raise FormatError(f"note exceeds {MAX_NOTE_SIZE} bytes")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"note is not valid UTF-8 (byte {exc.start})") from None
    if (found := _CONTROL.search(whole)) is not None:
        raise FormatError(
            f"note contains control character U+{ord(found.group()):04X} at {found.start()}"
        )
    split = whole.rfind("\n\n")
    if split < 0:
        raise FormatError("note has no blank line before its signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    if (problem := _text_problem(text)) is not None:
        raise FormatError(problem)
    return Note(text, _signature_block(block))


def parse_signature_lines(data: bytes) -> tuple[NoteSignature, ...]:
    """Parse a block of signature lines alone (as a tlog-witness response body carries them).

    Args:
        data: one or more ``"— <name> <base64>\\n"`` lines.

    Returns:
        The signatures, in order.

    Raises:
        FormatError: not UTF-8, a malformed or repeated line, or too many lines.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise FormatError(f"signature lines exceed {MAX_NOTE_SIZE} bytes")
    try:
        block = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"signature lines are not valid UTF-8 (byte {exc.start})") from None
    if (found := _CONTROL.search(block)) is not None:
        raise FormatError(f"signature lines contain control character U+{ord(found.group()):04X}")
    return _signature_block(block)


def _signature_block(block: str) -> tuple[NoteSignature, ...]:
    if not block.endswith("\n"):
        raise FormatError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures: dict[tuple[str, bytes], NoteSignature] = {}
    for number, line in enumerate(lines, 1):
        sig = _parse_signature_line(number, line)
        if signatures.setdefault((sig.name, sig.key_id), sig) is not sig:
            raise FormatError(f"signature line {number} repeats a key name and key id")
    return tuple(signatures.values())


def _parse_signature_line(number: int, line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise FormatError(f"signature line {number} does not start with an em dash and space")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if (problem := _name_problem(name)) is not None:
        raise FormatError(f"signature line {number}: {problem}")
    raw = _b64decode(encoded, f"signature line {number}")
    if len(raw) <= KEY_ID_SIZE:
        raise FormatError(f"signature line {number} is too short")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def format_note(note: Note) -> bytes:
    """Encode a note as signed-note bytes (the inverse of :func:`parse_note`).

    Args:
        note: the note.

    Returns:
        ``text || "\\n" || signature lines``, UTF-8.
    """
    lines = "".join(
        f"{_SIG_PREFIX}{s.name} {_b64encode(s.key_id + s.signature)}\n" for s in note.signatures
    )
    return (note.text + "\n" + lines).encode("utf-8")


def sign_note(text: str, key: SigningKey) -> Note:
    """Sign ``text`` with Ed25519 (signature type 0x01).

    Args:
        text: the note text, ending in ``"\\n"``.
        key: the signing key; its name is the signature's key name.

    Returns:
        A note with this one signature.

    Raises:
        UsageError: invalid text.
    """
    if (problem := _text_problem(text)) is not None:
        raise UsageError(problem)
    signature = key.sign(text.encode("utf-8"))
    return Note(text, (NoteSignature(key.name, key.public.note_key_id(), signature),))


def add_signature(note: Note, signature: NoteSignature) -> Note:
    """Add a signature line; one with the same (name, key id) is replaced (as Go's ``Sign``).

    Args:
        note: the note.
        signature: the new signature, appended after the others.

    Returns:
        The new note.

    Raises:
        UsageError: the note would have more than 100 signatures.
    """
    ident = (signature.name, signature.key_id)
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) != ident)
    return Note(note.text, (*kept, signature))


def note_key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """The signed-note key id of a key (the spec's RECOMMENDED construction).

    Args:
        name: the key name.
        signature_type: the signature type byte (0x01 Ed25519, 0x04 cosignature/v1, ...).
        public_key: the public key encoding.

    Returns:
        SHA-256(name || 0x0A || signature_type || public_key)[:4].
    """
    data = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def _index(
    keys: Sequence[VerifyingKey], key_id: Callable[[VerifyingKey], bytes]
) -> dict[tuple[str, bytes], VerifyingKey]:
    """Map (name, key id) to key; two different keys with the same pair are a UsageError."""
    table: dict[tuple[str, bytes], VerifyingKey] = {}
    for key in keys:
        if not isinstance(key, VerifyingKey):
            raise UsageError("verifiers must be VerifyingKey objects")
        ident = (key.name, key_id(key))
        if table.setdefault(ident, key) != key:
            raise UsageError(f"two verifiers share the key name and key id of {key.name!r}")
    return table


def open_note(
    data: bytes, verifiers: Sequence[VerifyingKey]
) -> tuple[Note, tuple[VerifyingKey, ...]]:
    """Parse a note and verify its Ed25519 signatures by known keys (like Go's ``note.Open``).

    Signatures whose (name, key id) matches no verifier are ignored; the key id is matched
    before any cryptography.

    Args:
        data: the note bytes.
        verifiers: the known keys.

    Returns:
        The note and the verifiers whose signatures verified, in signature order.

    Raises:
        FormatError: malformed note.
        VerificationError: a known key's signature fails, or no known key signed.
        UsageError: two different verifiers with the same name and key id.
    """
    note = parse_note(data)
    table = _index(verifiers, VerifyingKey.note_key_id)
    message = note.text.encode("utf-8")
    verified: list[VerifyingKey] = []
    for sig in note.signatures:
        key = table.get((sig.name, sig.key_id))
        if key is None:
            continue
        try:
            key.verify(message, sig.signature)
        except VerificationError:
            raise VerificationError(
                f"signature by known key {sig.name}+{sig.key_id.hex()} does not verify"
            ) from None
        verified.append(key)
    if not verified:
        raise VerificationError("no known signer: the note has no signature by a known key")
    return note, tuple(verified)


# ---------------------------------------------------------------------------------------------
# checkpoints


@frozen
class Checkpoint:
    """A C2SP tlog-checkpoint body.

    Attributes:
        origin: the log identity (first line); our log key name equals it.
        size: the tree size, 0..2**63-1.
        root: the 32-byte RFC 6962 root hash.
        extensions: the optional extension lines (non-empty, without newlines).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: a field that could not be written as a checkpoint line.
        """
        lines = (self.origin, *self.extensions) if isinstance(self.extensions, tuple) else ()
        if not lines or not all(isinstance(x, str) and x for x in lines):
            raise UsageError("origin and extension lines must be non-empty str")
        if any("\n" in x or _CONTROL.search(x) or not _encodable(x) for x in lines):
            raise UsageError("origin and extension lines must be UTF-8 without control characters")
        _require_int63(self.size, "checkpoint size")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise UsageError("checkpoint root must be 32 bytes")


@frozen
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified (built only by :func:`open_checkpoint`).

    Attributes:
        checkpoint: the parsed checkpoint.
        note: the signed note it came from (all its signature lines, verified or not).
        witnesses_verified: (witness key, cosignature timestamp) for each verified cosignature.
    """

    checkpoint: Checkpoint
    note: Note
    witnesses_verified: tuple[tuple[VerifyingKey, int], ...] = ()


def format_checkpoint(cp: Checkpoint) -> str:
    """Encode a checkpoint body.

    Args:
        cp: the checkpoint.

    Returns:
        ``"<origin>\\n<size>\\n<base64 root>\\n"`` followed by the extension lines.
    """
    lines = (cp.origin, str(cp.size), _b64encode(cp.root), *cp.extensions)
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly.

    Args:
        text: the note text.

    Returns:
        The checkpoint.

    Raises:
        FormatError: fewer than three lines, an empty line, a non-canonical size or root, a
            size above 2**63-1, a root that is not 32 bytes, or a control character.
        UsageError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise UsageError("checkpoint text must be a str")
    if (found := _CONTROL.search(text)) is not None:
        raise FormatError(f"checkpoint contains control character U+{ord(found.group()):04X}")
    if not text.endswith("\n") or not _encodable(text):
        raise FormatError("checkpoint text must be UTF-8 text ending with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise FormatError("checkpoint needs origin, size and root lines")
    if not all(lines):
        raise FormatError(f"checkpoint line {lines.index('') + 1} is empty")
    size = _decimal(lines[1], "checkpoint size")
    root = _b64decode(lines[2], "checkpoint root")
    if len(root) != HASH_SIZE:
        raise FormatError(f"checkpoint root must be 32 bytes, not {len(root)}")
    return Checkpoint(lines[0], size, root, tuple(lines[3:]))


def sign_checkpoint(cp: Checkpoint, log_key: SigningKey) -> bytes:
    """Sign a checkpoint with the log key.

    Args:
        cp: the checkpoint.
        log_key: the log's key; its name must equal the origin.

    Returns:
        The signed note bytes.

    Raises:
        UsageError: the key name is not the origin.
    """
    if log_key.name != cp.origin:
        raise UsageError(f"log key name {log_key.name!r} is not the origin {cp.origin!r}")
    return format_note(sign_note(format_checkpoint(cp), log_key))


def open_checkpoint(
    data: bytes, log_key: VerifyingKey, *, witnesses: Sequence[VerifyingKey] = ()
) -> VerifiedCheckpoint:
    """Parse a signed checkpoint, verify the log signature and known witnesses' cosignatures.

    Args:
        data: the signed note bytes.
        log_key: the log's key; its name must equal the checkpoint origin.
        witnesses: trusted witness keys (cosignature type 0x04).

    Returns:
        The verified checkpoint; unknown signature lines are kept but ignored.

    Raises:
        FormatError: malformed note or checkpoint text.
        VerificationError: origin is not the log key name, no valid log signature, or a
            known witness's cosignature does not verify.
        UsageError: two different witness keys with the same name and key id.
    """
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != log_key.name:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key name {log_key.name!r}"
        )
    log_id = (log_key.name, log_key.note_key_id())
    table = _index(witnesses, cosignature_key_id)
    log_sigs = [s for s in note.signatures if (s.name, s.key_id) == log_id]
    if not log_sigs:
        raise VerificationError("checkpoint is not signed by the log key")
    try:
        log_key.verify(note.text.encode("utf-8"), log_sigs[0].signature)
    except VerificationError:
        raise VerificationError("the log signature of the checkpoint does not verify") from None
    cosigned: list[tuple[VerifyingKey, int]] = []
    for sig in note.signatures:
        witness = table.get((sig.name, sig.key_id))
        if witness is not None and (sig.name, sig.key_id) != log_id:
            cosigned.append((witness, verify_cosignature(note.text, sig, witness)))
    return VerifiedCheckpoint(checkpoint, note, tuple(cosigned))


# ---------------------------------------------------------------------------------------------
# cosignatures (tlog-cosignature, Ed25519, type 0x04)


def cosignature_key_id(key: VerifyingKey) -> bytes:
    """The cosignature/v1 key id of a witness key.

    Args:
        key: the witness key (its name is the cosigner name).

    Returns:
        SHA-256(name || 0x0A || 0x04 || pk)[:4].
    """
    return note_key_id(key.name, _ALG_COSIGNATURE_V1, key.raw)


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"{_COSIG_HEADER}time {timestamp}\n{text}".encode()


def cosign_checkpoint(note: Note, witness: SigningKey, timestamp: int) -> NoteSignature:
    """Produce a witness cosignature of a checkpoint note.

    The caller must first have verified the log signature and the consistency of the
    checkpoint with what this witness cosigned before.

    Args:
        note: the checkpoint note.
        witness: the witness key.
        timestamp: POSIX seconds, 0..2**63-1.

    Returns:
        The signature line to add with :func:`add_signature`.

    Raises:
        FormatError: the note text is not a checkpoint.
        UsageError: timestamp out of range.
    """
    timestamp = _require_int63(timestamp, "timestamp")
    parse_checkpoint(note.text)
    sig = witness.sign(_cosigned_message(note.text, timestamp))
    key_id = cosignature_key_id(witness.public)
    return NoteSignature(witness.name, key_id, timestamp.to_bytes(8, "big") + sig)


def cosignature_timestamp(sig: NoteSignature) -> int:
    """Read the (unverified) timestamp of a cosignature/v1 signature.

    Args:
        sig: the signature line.

    Returns:
        The timestamp.

    Raises:
        FormatError: not 72 bytes, or a timestamp above 2**63-1.
    """
    if len(sig.signature) != _COSIG_SIZE:
        raise FormatError(f"cosignature must be {_COSIG_SIZE} bytes after the key id")
    timestamp = int.from_bytes(sig.signature[:8], "big")
    if timestamp > MAX_INT63:
        raise FormatError("cosignature timestamp exceeds 2**63 - 1")
    return timestamp


def verify_cosignature(note_text: str, sig: NoteSignature, witness: VerifyingKey) -> int:
    """Verify a witness cosignature of a checkpoint text.

    Args:
        note_text: the checkpoint note text.
        sig: the signature line.
        witness: the witness key.

    Returns:
        The cosignature timestamp.

    Raises:
        VerificationError: wrong name or key id, malformed payload, or a bad signature.
    """
    if (sig.name, sig.key_id) != (witness.name, cosignature_key_id(witness)):
        raise VerificationError(f"signature is not a cosignature by {witness.name!r}")
    try:
        timestamp = cosignature_timestamp(sig)
        witness.verify(_cosigned_message(note_text, timestamp), sig.signature[8:])
    except (FormatError, VerificationError):
        raise VerificationError(f"cosignature by {witness.name!r} does not verify") from None
    return timestamp


def witness_verifier_key(key: VerifyingKey) -> str:
    """Encode a witness key as a type 0x04 vkey (tlog-cosignature, tlog-policy).

    Args:
        key: the witness key.

    Returns:
        ``<name>+<8 hex cosignature key id>+<base64(0x04 || pk)>``.
    """
    material = _b64encode(bytes([_ALG_COSIGNATURE_V1]) + key.raw)
    return f"{key.name}+{cosignature_key_id(key).hex()}+{material}"


def parse_witness_verifier_key(vkey: str) -> VerifyingKey:
    """Parse a type 0x04 witness vkey strictly.

    Args:
        vkey: ``<name>+<8 lowercase hex>+<base64(0x04 || 32-byte key)>``.

    Returns:
        The witness key, named as in the vkey.

    Raises:
        FormatError: malformed, another type byte, an invalid key, or a wrong key id.
        UsageError: ``vkey`` is not a ``str``.
    """
    if not isinstance(vkey, str):
        raise UsageError("verifier key must be a str")
    name, _, rest = vkey.partition("+")
    key_id, _, encoded = rest.partition("+")
    validate_key_name(name)
    if not re.fullmatch("[0-9a-f]{8}", key_id):
        raise FormatError("verifier key id must be 8 lowercase hexadecimal digits")
    material = _b64decode(encoded, "verifier key material")
    if material[0] != _ALG_COSIGNATURE_V1 or len(material) != 33:
        raise FormatError("witness verifier key must be type 0x04 with a 32-byte key")
    key = VerifyingKey(name, material[1:])
    if cosignature_key_id(key).hex() != key_id:
        raise FormatError("verifier key id does not match the name and key")
    return key


# ---------------------------------------------------------------------------------------------
# tlog-proof@v1


def _checkpoint_problem(
    index: int, inclusion_proof: tuple[bytes, ...], checkpoint: bytes
) -> str | None:
    """Check that the checkpoint parses and fits (index, proof length); return the problem."""
    try:
        body = parse_checkpoint(parse_note(checkpoint).text)
    except FormatError as exc:
        return f"tlog-proof checkpoint: {exc}"
    if index >= body.size:
        return f"tlog-proof index {index} is not below the checkpoint size {body.size}"
    expected = merkle.proof_hash_count_inclusion(index, body.size)
    if len(inclusion_proof) != expected:
        return (
            f"tlog-proof has {len(inclusion_proof)} proof hashes; "
            f"index {index} in a tree of {body.size} needs {expected}"
        )
    return None


@frozen
class TlogProof:
    """A parsed tlog-proof@v1 (nothing in it is verified yet).

    Attributes:
        index: the 0-based index of the entry in the log.
        inclusion_proof: the RFC 6962 audit path, 32-byte hashes, leaf sibling first.
        checkpoint: the signed checkpoint note, verbatim bytes (cosignatures included).
        extra: optional unauthenticated application data (non-empty), or ``None``.
    """

    index: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: a field out of range, or a proof that does not fit its checkpoint.
        """
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise UsageError("index must be an int")
        if not 0 <= self.index <= MAX_INT63:
            raise UsageError("index must be in 0..2**63-1")
        hashes = self.inclusion_proof
        if not isinstance(hashes, tuple) or not all(
            isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes
        ):
            raise UsageError("inclusion_proof must be a tuple of 32-byte hashes")
        if self.extra is not None and (not isinstance(self.extra, bytes) or not self.extra):
            raise UsageError("extra must be None or non-empty bytes")
        if not isinstance(self.checkpoint, bytes):
            raise UsageError("checkpoint must be bytes")
        if (problem := _checkpoint_problem(self.index, hashes, self.checkpoint)) is not None:
            raise UsageError(problem)
        if len(format_tlog_proof(self)) > MAX_TLOG_PROOF_SIZE:
            raise UsageError(f"tlog-proof would exceed {MAX_TLOG_PROOF_SIZE} bytes")

    @property
    def checkpoint_body(self) -> Checkpoint:
        """The checkpoint parsed from :attr:`checkpoint` (its signatures not verified)."""
        return parse_checkpoint(parse_note(self.checkpoint).text)


def format_tlog_proof(proof: TlogProof) -> bytes:
    """Encode a tlog-proof@v1.

    Args:
        proof: the proof.

    Returns:
        The proof bytes (the inverse of :func:`parse_tlog_proof`).
    """
    lines = [TLOG_PROOF_HEADER]
    if proof.extra is not None:
        lines.append(f"extra {_b64encode(proof.extra)}")
    lines.append(f"index {proof.index}")
    lines.extend(_b64encode(h) for h in proof.inclusion_proof)
    return ("\n".join(lines) + "\n\n").encode("ascii") + proof.checkpoint


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a tlog-proof@v1 strictly (nothing is verified).

    Args:
        data: the proof bytes.

    Returns:
        The proof.

    Raises:
        FormatError: anything outside the grammar in the module docstring.
        UsageError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise UsageError("tlog-proof must be bytes")
    if len(data) > MAX_TLOG_PROOF_SIZE:
        raise FormatError(f"tlog-proof exceeds {MAX_TLOG_PROOF_SIZE} bytes")
    head, separator, checkpoint = data.partition(b"\n\n")
    if not separator or not head.isascii():
        raise FormatError("tlog-proof needs ASCII proof lines, an empty line and a checkpoint")
    lines = head.decode("ascii").split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise FormatError(f"tlog-proof must start with {TLOG_PROOF_HEADER!r}")
    extra = None
    position = 1
    if len(lines) > position and lines[position].startswith("extra "):
        extra = _b64decode(lines[position][len("extra ") :], "tlog-proof extra data")
        position += 1
    if len(lines) <= position or not lines[position].startswith("index "):
        raise FormatError("tlog-proof has no index line")
    index = _decimal(lines[position][len("index ") :], "tlog-proof index")
    hash_lines = lines[position + 1 :]
    if len(hash_lines) > _MAX_PROOF_HASHES:
        raise FormatError(f"tlog-proof has more than {_MAX_PROOF_HASHES} proof hashes")
    hashes = tuple(_b64decode(line, "tlog-proof hash") for line in hash_lines)
    if any(len(h) != HASH_SIZE for h in hashes):
        raise FormatError("tlog-proof hashes must be 32 bytes")
    if (problem := _checkpoint_problem(index, hashes, checkpoint)) is not None:
        raise FormatError(problem)
    return TlogProof(index, hashes, checkpoint, extra)


def verify_tlog_proof(
    proof: TlogProof,
    leaf_hash: bytes,
    log_key: VerifyingKey,
    *,
    witnesses: Sequence[VerifyingKey] = (),
) -> VerifiedCheckpoint:
    """Verify the checkpoint signatures and the inclusion of ``leaf_hash`` at ``proof.index``.

    Witness cosignatures are verified but no quorum is required here: check
    ``witnesses_verified`` against a policy (:mod:`ledger.policy`).

    Args:
        proof: the parsed proof.
        leaf_hash: the RFC 6962 leaf hash of the entry (``merkle.hash_leaf(entry bytes)``).
        log_key: the log's key (name = origin).
        witnesses: trusted witness keys.

    Returns:
        The verified checkpoint.

    Raises:
        VerificationError: a signature or the inclusion proof does not verify.
        FormatError: ``leaf_hash`` is not 32 bytes.
    """
    verified = open_checkpoint(proof.checkpoint, log_key, witnesses=witnesses)
    body = verified.checkpoint
    merkle.verify_inclusion(leaf_hash, proof.index, body.size, proof.inclusion_proof, body.root)
    return verified


def parse_signed_checkpoint(data: bytes) -> Checkpoint:
    """Parse a signed checkpoint's note and body strictly, without verifying any signature.

    Raises:
        FormatError: not a signed note, or its text is not a checkpoint.
    """
    return parse_checkpoint(parse_note(data).text)
