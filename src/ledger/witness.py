"""Witness rules: cosign a checkpoint only if it is consistent with what was cosigned (pure).

A witness (a newsroom, a co-signer) keeps, for each log it follows, the latest checkpoint it
cosigned. It cosigns a new checkpoint of that log only when the log signed it and a Merkle
consistency proof shows that the new tree extends the old one, so the log cannot show one
history to some readers and another history to others (a split view) without a witness
noticing. This module holds the rules; ``ledger.witness_state`` keeps the state file.

Specifications implemented, read from https://github.com/C2SP/C2SP:

``tlog-witness.md`` (c2sp.org/tlog-witness), the ``add-checkpoint`` request body
    ``"old <size>\\n"`` (ASCII decimal, no leading zeros, ``0`` for the empty tree), then zero
    to 63 consistency-proof lines (one base64 hash each, RFC 6962 §2.1.2 proof from the old
    size to the checkpoint size; empty when the old size is 0), an empty line, then the
    checkpoint signed note (which may carry other signatures). Example::

        old 5
        <base64 hash>
        <base64 hash>

        example.org/letter
        8
        <base64 root>

        \u2014 example.org/letter <base64 signature>

    The response to a success is one or more cosignature lines
    (``"\u2014 <witness name> <base64>\\n"``, c2sp.org/tlog-cosignature ``cosignature/v1``).
``tlog-cosignature.md``
    See :mod:`ledger.note`: Ed25519, type 0x04, timestamped, over the whole checkpoint text.

Rules, in the order the spec gives them (each refusal is a :class:`WitnessRefusal` whose
:attr:`~WitnessRefusal.reason` names it; the HTTP status is the spec's):

1. ``malformed`` (400): the body is outside the grammar (see
   :func:`parse_add_checkpoint_request`).
2. ``unknown-log`` (404): no log with the checkpoint's origin is configured.
3. ``bad-signature`` (403): no signature by the configured log key verifies (signatures by
   other keys are ignored, as the spec requires).
4. ``malformed`` (400): the old size is larger than the checkpoint size.
5. ``rollback`` (409): the checkpoint is smaller than the one already cosigned. The spec
   reports this as a stale old size; we name it, since no old size could make it acceptable.
6. ``fork`` (409): the checkpoint has the size already cosigned but another root. The spec
   reaches this case only when the old size is right; we refuse it as a fork whatever the
   old size, since a log-signed checkpoint of the same size with another root is evidence of
   a split view.
7. ``conflict`` (409): the old size is not the size this witness last cosigned (0 if
   never); the response body is the witness's size, :meth:`WitnessRefusal.response_body`.
8. ``bad-proof`` (422): the consistency proof from the old size (with the root this witness
   cosigned) to the checkpoint does not verify, including a proof of the wrong length.

Otherwise the witness cosigns, and the checkpoint becomes its record of the log (the same
size and root again is an idempotent re-cosign with a fresh timestamp, as the spec allows).
Saving the record atomically with these checks is the caller's job (see
``ledger.witness_state``): the spec warns that checking and saving separately lets two
concurrent requests roll the witness back.

Choices stricter than the spec: base64 must be canonical and padded; proof hashes must be
32 bytes; a request is at most :data:`MAX_REQUEST_SIZE` bytes; the checkpoint must be a
well-formed signed note and checkpoint (:func:`ledger.note.parse_note`,
:func:`ledger.note.parse_checkpoint`) with the log key name equal to the origin.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

from attrs import frozen

from ledger import merkle
from ledger.errors import FormatError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import (
    MAX_INT63,
    MAX_NOTE_SIZE,
    Note,
    NoteSignature,
    cosign_checkpoint,
    format_note,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
)

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "AddCheckpointRequest",
    "RefusalReason",
    "WitnessRefusal",
    "WitnessedLog",
    "format_add_checkpoint_request",
    "format_cosignature_lines",
    "parse_add_checkpoint_request",
    "parse_cosignature_lines",
    "witness_checkpoint",
]

MAX_PROOF_LINES: Final = 63  # tlog-witness: "The client MUST NOT send more than 63"
# The old line (at most 24 bytes), 63 proof lines of 45 bytes and the empty line fit in 4 KiB.
MAX_REQUEST_SIZE: Final = MAX_NOTE_SIZE + 4096

_HASH_SIZE: Final = merkle.HASH_SIZE
_DECIMAL: Final = re.compile("0|[1-9][0-9]{0,18}")
_OLD_PREFIX: Final = "old "
_SIG_PREFIX: Final = "\u2014 "  # EM DASH, SPACE (c2sp.org/signed-note)


class RefusalReason(StrEnum):
    """Why a witness refused to cosign; the value is the stable code shown to users."""

    MALFORMED = "malformed"
    UNKNOWN_LOG = "unknown-log"
    BAD_SIGNATURE = "bad-signature"
    ROLLBACK = "rollback"
    FORK = "fork"
    CONFLICT = "conflict"
    BAD_PROOF = "bad-proof"

    @property
    def http_status(self) -> int:
        """The tlog-witness HTTP status code of this refusal."""
        return _HTTP_STATUS[self]


_HTTP_STATUS: Final = {
    RefusalReason.MALFORMED: 400,
    RefusalReason.UNKNOWN_LOG: 404,
    RefusalReason.BAD_SIGNATURE: 403,
    RefusalReason.ROLLBACK: 409,
    RefusalReason.FORK: 409,
    RefusalReason.CONFLICT: 409,
    RefusalReason.BAD_PROOF: 422,
}


class WitnessRefusal(VerificationError):  # noqa: N818 -- a verdict on a request, not a fault
    """The witness refused to cosign a checkpoint; nothing was cosigned or recorded.

    ``str(refusal)`` is ``"refused (<reason>): <detail>"``.

    Attributes:
        reason: which rule refused the request.
        detail: the specific explanation, with the sizes and roots involved.
        witness_size: the size this witness last cosigned for the log, when the log is known
            and the signature verified (``None`` otherwise).
    """

    reason: RefusalReason
    detail: str
    witness_size: int | None

    def __init__(
        self, reason: RefusalReason, detail: str, *, witness_size: int | None = None
    ) -> None:
        """Build a refusal.

        Args:
            reason: the rule.
            detail: the explanation (lowercase, specific).
            witness_size: the witness's latest cosigned size for the log, if known.
        """
        super().__init__(f"refused ({reason.value}): {detail}")
        self.reason = reason
        self.detail = detail
        self.witness_size = witness_size

    def __reduce__(self) -> tuple[type[WitnessRefusal], tuple[RefusalReason, str], dict[str, Any]]:
        # Exceptions pickle as cls(*args); ours needs its own arguments (multiprocessing, logs).
        return (type(self), (self.reason, self.detail), {"witness_size": self.witness_size})

    @property
    def http_status(self) -> int:
        """The tlog-witness HTTP status code (400, 403, 404, 409 or 422)."""
        return self.reason.http_status

    def response_body(self) -> bytes:
        """The tlog-witness response body for this refusal.

        Returns:
            For a 409 with a known witness size: ``"<size>\\n"`` (content type
            ``text/x.tlog.size``); otherwise the message and a newline.
        """
        if self.http_status == 409 and self.witness_size is not None:
            return f"{self.witness_size}\n".encode("ascii")
        return f"{self}\n".encode()


# ---------------------------------------------------------------------------------------------
# the add-checkpoint request body


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _short(digest: bytes) -> str:
    """The first 12 base64 characters of a hash, for messages."""
    return _b64encode(digest)[:12] + "\u2026"


def _checkpoint_problem(checkpoint: bytes) -> str | None:
    try:
        parse_checkpoint(parse_note(checkpoint).text)
    except FormatError as exc:
        return f"checkpoint: {exc}"
    return None


@frozen
class AddCheckpointRequest:
    """A tlog-witness ``add-checkpoint`` request body (nothing in it is verified yet).

    Attributes:
        old_size: the size the client believes the witness last cosigned (0..2**63-1).
        proof: the RFC 6962 consistency proof from ``old_size`` to the checkpoint size,
            32-byte hashes, at most 63.
        checkpoint: the signed checkpoint note, verbatim (well-formed, not verified).
    """

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: a field that could not be written as a request body.
        """
        old = self.old_size
        if isinstance(old, bool) or not isinstance(old, int) or not 0 <= old <= MAX_INT63:
            raise UsageError("old_size must be an int in 0..2**63-1")
        if not isinstance(self.proof, tuple) or not all(
            isinstance(h, bytes) and len(h) == _HASH_SIZE for h in self.proof
        ):
            raise UsageError("proof must be a tuple of 32-byte hashes")
        if len(self.proof) > MAX_PROOF_LINES:
            raise UsageError(f"a proof has at most {MAX_PROOF_LINES} hashes")
        if not isinstance(self.checkpoint, bytes):
            raise UsageError("checkpoint must be bytes")
        if (problem := _checkpoint_problem(self.checkpoint)) is not None:
            raise UsageError(problem)
        if len(format_add_checkpoint_request(self)) > MAX_REQUEST_SIZE:
            raise UsageError(f"request would exceed {MAX_REQUEST_SIZE} bytes")


def format_add_checkpoint_request(request: AddCheckpointRequest) -> bytes:
    """Encode an ``add-checkpoint`` request body (the inverse of the parser).

    Args:
        request: the request.

    Returns:
        ``"old <size>\\n"``, one base64 line per proof hash, ``"\\n"``, the checkpoint.
    """
    lines = [f"{_OLD_PREFIX}{request.old_size}", *(_b64encode(h) for h in request.proof)]
    return ("\n".join(lines) + "\n\n").encode("ascii") + request.checkpoint


def _decode_hash(line: str, number: int) -> bytes:
    what = f"request proof line {number}"
    try:
        digest = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if _b64encode(digest) != line:
        raise FormatError(f"{what} is not canonical padded base64")
    if len(digest) != _HASH_SIZE:
        raise FormatError(f"{what} is {len(digest)} bytes, not {_HASH_SIZE}")
    return digest


def parse_add_checkpoint_request(data: bytes) -> AddCheckpointRequest:
    """Parse an ``add-checkpoint`` request body strictly (nothing is verified).

    Args:
        data: the request body.

    Returns:
        The request.

    Raises:
        FormatError: over :data:`MAX_REQUEST_SIZE` bytes; no empty line; a missing or
            non-canonical old size line; a proof line that is not canonical padded base64
            of 32 bytes; more than 63 proof lines; or a malformed checkpoint note.
        UsageError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise UsageError("request must be bytes")
    if len(data) > MAX_REQUEST_SIZE:
        raise FormatError(f"request exceeds {MAX_REQUEST_SIZE} bytes")
    # The old line and the proof lines are never empty, so the first empty line ends them.
    head, separator, checkpoint = data.partition(b"\n\n")
    if not separator:
        raise FormatError("request has no empty line before the checkpoint")
    if not head.isascii():
        raise FormatError("request old size and proof lines must be ASCII")
    old_line, *proof_lines = head.decode("ascii").split("\n")
    if not old_line.startswith(_OLD_PREFIX):
        raise FormatError("request must start with an 'old <size>' line")
    old_text = old_line[len(_OLD_PREFIX) :]
    if not _DECIMAL.fullmatch(old_text) or int(old_text) > MAX_INT63:
        raise FormatError("request old size is not a canonical decimal in 0..2**63-1")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise FormatError(
            f"request has {len(proof_lines)} proof lines; at most {MAX_PROOF_LINES} are allowed"
        )
    proof = tuple(_decode_hash(line, n) for n, line in enumerate(proof_lines, 1))
    if (problem := _checkpoint_problem(checkpoint)) is not None:
        raise FormatError(f"request {problem}")
    return AddCheckpointRequest(int(old_text), proof, checkpoint)


def format_cosignature_lines(signatures: Iterable[NoteSignature]) -> bytes:
    """Encode signature lines as the tlog-witness success response body.

    Args:
        signatures: the cosignatures.

    Returns:
        ``"\u2014 <name> <base64(key id || signature)>\\n"`` per signature, UTF-8.
    """
    return "".join(
        f"{_SIG_PREFIX}{s.name} {_b64encode(s.key_id + s.signature)}\n" for s in signatures
    ).encode("utf-8")


def parse_cosignature_lines(data: bytes) -> tuple[NoteSignature, ...]:
    """Parse a tlog-witness success response body: signature lines (nothing is verified).

    The lines follow the signed-note grammar and limits of :func:`ledger.note.parse_note`
    (at most 100, no repeated key name and key id); add them to the checkpoint with
    :func:`ledger.note.add_signature` after :func:`ledger.note.verify_cosignature`.

    Args:
        data: the response body, one or more ``"— <name> <base64>\n"`` lines.

    Returns:
        The signatures, in order.

    Raises:
        FormatError: empty, not UTF-8, a line outside the signed-note grammar, or too many.
        UsageError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise UsageError("cosignature lines must be bytes")
    if not data.startswith(_SIG_PREFIX.encode("utf-8")):
        raise FormatError("cosignature lines must start with an em dash and a space")
    if b"\n\n" in data:
        raise FormatError("cosignature lines must not contain an empty line")
    # The signed-note parser checks signature lines; give it a one-line text to sign.
    return parse_note(b"-\n\n" + data).signatures


# ---------------------------------------------------------------------------------------------
# what a witness knows about a log


@frozen
class WitnessedLog:
    """What a witness knows about one log: its key and the latest checkpoint it cosigned.

    Build the record of a newly added log with :meth:`new`; :func:`witness_checkpoint`
    returns the updated record after a cosignature.

    Attributes:
        origin: the log origin (the checkpoint's first line, the log key's name).
        log_key_vkey: the log's C2SP verifier key (Ed25519, type 0x01), named ``origin``.
        size: the size of the latest cosigned checkpoint (0 before the first cosignature).
        root: its root hash (the empty tree's root before the first cosignature).
        checkpoint: the latest cosigned checkpoint, with only the log's signature, or
            ``None`` before the first cosignature.
    """

    origin: str
    log_key_vkey: str
    size: int
    root: bytes
    checkpoint: bytes | None

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: a vkey that does not parse or is not named ``origin``, a size out of
                range, a root that is not 32 bytes, or no checkpoint with a non-empty tree.
        """
        try:
            key = VerifyingKey.from_verifier_key(self.log_key_vkey)
        except FormatError as exc:
            raise UsageError(f"log key: {exc}") from None
        if key.name != self.origin:
            raise UsageError(f"log key name {key.name!r} is not the origin {self.origin!r}")
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_INT63:
            raise UsageError("size must be an int in 0..2**63-1")
        if not isinstance(self.root, bytes) or len(self.root) != _HASH_SIZE:
            raise UsageError("root must be 32 bytes")
        if self.checkpoint is None:
            if (size, self.root) != (0, merkle.EMPTY_ROOT):
                raise UsageError("a log with no cosigned checkpoint has size 0 and the empty root")
        elif not isinstance(self.checkpoint, bytes):
            raise UsageError("checkpoint must be bytes or None")

    @classmethod
    def new(cls, log_key: VerifyingKey) -> WitnessedLog:
        """The record of a log that this witness has not cosigned yet.

        Args:
            log_key: the log key; its name is the origin.

        Returns:
            Size 0, the empty tree's root, no checkpoint.
        """
        return cls(log_key.name, log_key.to_verifier_key(), 0, merkle.EMPTY_ROOT, None)

    @property
    def log_key(self) -> VerifyingKey:
        """The log key, parsed from :attr:`log_key_vkey`."""
        return VerifyingKey.from_verifier_key(self.log_key_vkey)


# ---------------------------------------------------------------------------------------------
# the rules


def witness_checkpoint(
    known: Mapping[str, WitnessedLog],
    request: AddCheckpointRequest,
    witness_key: SigningKey,
    now: int,
) -> tuple[WitnessedLog, NoteSignature]:
    """Apply the tlog-witness rules to a request and cosign the checkpoint if they pass.

    Args:
        known: the logs this witness follows, by origin.
        request: the parsed request.
        witness_key: the witness's signing key (its name is the cosignature name).
        now: the cosignature timestamp, POSIX seconds in 0..2**63-1.

    Returns:
        The updated record of the log (to save before answering) and the cosignature line.

    Raises:
        WitnessRefusal: a rule refused the request (see the module docstring).
        UsageError: ``now`` out of range, or ``known`` maps an origin to another log's record.
    """
    note = parse_note(request.checkpoint)  # well-formed: AddCheckpointRequest checked it
    origin = parse_checkpoint(note.text).origin
    record = known.get(origin)
    if record is None:  # rule 2 (404)
        raise WitnessRefusal(
            RefusalReason.UNKNOWN_LOG,
            f"this witness does not follow a log with origin {origin[:200]!r}",
        )
    if record.origin != origin:
        raise UsageError(f"the record for {origin!r} is the record of {record.origin!r}")
    log_key = record.log_key
    try:  # rule 3 (403); open_checkpoint ignores signatures by other keys
        verified = open_checkpoint(request.checkpoint, log_key)
    except VerificationError:
        raise WitnessRefusal(
            RefusalReason.BAD_SIGNATURE,
            f"the checkpoint has no valid signature by the log key {record.log_key_vkey}",
        ) from None
    checkpoint = verified.checkpoint
    _check_sizes(record, request.old_size, checkpoint.size, checkpoint.root)
    try:  # rule 8 (422); RFC 9162 §2.1.4.2, with an empty proof from size 0
        merkle.verify_consistency(
            request.old_size, checkpoint.size, record.root, checkpoint.root, request.proof
        )
    except (VerificationError, FormatError) as exc:
        raise WitnessRefusal(
            RefusalReason.BAD_PROOF,
            f"the consistency proof from size {request.old_size} to {checkpoint.size} "
            f"does not verify: {exc}",
            witness_size=record.size,
        ) from None
    cosignature = cosign_checkpoint(verified.note, witness_key, now)
    # Keep only the verified log signature: the record holds nothing unverified.
    log_id = (log_key.name, log_key.note_key_id())
    log_signature = next(s for s in verified.note.signatures if (s.name, s.key_id) == log_id)
    kept = format_note(Note(verified.note.text, (log_signature,)))
    updated = WitnessedLog(origin, record.log_key_vkey, checkpoint.size, checkpoint.root, kept)
    return updated, cosignature


def _check_sizes(record: WitnessedLog, old_size: int, size: int, root: bytes) -> None:
    """Rules 4 to 7: sizes and roots against the record (raise WitnessRefusal)."""
    if old_size > size:  # rule 4 (400)
        raise WitnessRefusal(
            RefusalReason.MALFORMED,
            f"old size {old_size} is larger than the checkpoint size {size}",
            witness_size=record.size,
        )
    if size < record.size:  # rule 5 (409)
        raise WitnessRefusal(
            RefusalReason.ROLLBACK,
            f"rollback: checkpoint size {size} is smaller than size {record.size}, "
            "which this witness has already cosigned",
            witness_size=record.size,
        )
    if size == record.size and root != record.root:  # rule 6 (409)
        before = (
            f"size {size} was cosigned with root {_short(record.root)}"
            if record.checkpoint is not None
            else f"the empty tree has root {_short(record.root)}"
        )
        raise WitnessRefusal(
            RefusalReason.FORK,
            f"fork: {before}, this checkpoint has {_short(root)}",
            witness_size=record.size,
        )
    if old_size != record.size:  # rule 7 (409)
        state = "stale" if old_size < record.size else "ahead of this witness"
        cosigned = (
            f"has cosigned size {record.size}"
            if record.checkpoint is not None
            else "has not cosigned this log yet"
        )
        raise WitnessRefusal(
            RefusalReason.CONFLICT,
            f"old size {old_size} is {state}; this witness {cosigned} "
            f"(resend with old {record.size})",
            witness_size=record.size,
        )
