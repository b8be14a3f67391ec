"""The campaign's ledger: create it, append endorsements, read and verify it.

This is the recipe layer over the pure core (entries, endorsements, verification) and a store.
Every endorsement is verified before it is appended, and every append is one transaction that
extends the chain from the tip it read under the write lock, so the chain cannot fork.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from attrs import frozen

from ledger import merkle
from ledger.cose import decode_endorsement, verify_endorsement
from ledger.entry import ZERO_HASH, decode_entry, encode_entry
from ledger.errors import FormatError, StoreError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.merkle import hash_leaf
from ledger.model import CLOCK_SKEW, Action, Entry, EntryType, Genesis, VerifiedEndorsement
from ledger.note import (
    Checkpoint,
    TlogProof,
    add_signature,
    format_note,
    format_tlog_proof,
    parse_checkpoint,
    parse_note,
    parse_signature_lines,
    sign_checkpoint,
)
from ledger.proofs import ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion
from ledger.statement import canonicalize
from ledger.store import SqliteStore, create_store, open_store
from ledger.verify import Report, check_entries

_META_STATEMENT_HASH = "statement_hash"
_META_ORIGIN = "origin"


@frozen
class Rejected:
    """An endorsement that ``append`` refused, with the reason."""

    label: str
    reason: str


@frozen
class AppendResult:
    """What ``append`` did: ``(label, sequence number)`` of each appended entry, and refusals."""

    appended: tuple[tuple[str, int], ...]
    rejected: tuple[Rejected, ...]


class Ledger:
    """An open ledger. Use ``Ledger.create`` or ``Ledger.open``, ideally in a ``with`` block."""

    def __init__(self, store: SqliteStore, genesis: Entry) -> None:
        """Wrap an opened store whose entry 0 was decoded; use ``create``/``open`` instead."""
        if not isinstance(genesis.body, Genesis):
            raise StoreError(f"{store.location}: entry 0 is not a genesis entry")
        self.store = store
        self.genesis: Genesis = genesis.body
        self.statement_hash: bytes = genesis.statement_hash

    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        statement: bytes,
        title: str,
        origin: str,
        log_key: SigningKey,
        now: int | None = None,
    ) -> Ledger:
        """Create a ledger file holding the genesis entry.

        Args:
            location: path of the new SQLite file (must not exist).
            statement: the statement text (raw bytes; canonicalised per canonical text v1).
            title: the statement's title.
            origin: the log origin (C2SP checkpoint first line), e.g. ``example.org/letter``.
            log_key: the campaign's log key; its name must equal ``origin``.
            now: the genesis time in seconds since the epoch (default: the clock).

        Raises:
            FormatError: the statement text, title or origin is invalid.
            UsageError: the log key's name is not the origin.
            StoreError: the file exists or cannot be written.
        """
        canonical = canonicalize(statement)
        if log_key.name != origin:
            raise UsageError(
                f"the log key is named {log_key.name!r} but the origin is "
                f"{origin!r}; generate the log key with --name {origin}"
            )
        digest = hashlib.sha256(canonical).digest()
        genesis = Entry(
            seq=0,
            prev=ZERO_HASH,
            type=EntryType.GENESIS,
            statement_hash=digest,
            recorded_at=_now(now),
            body=Genesis(
                title=title,
                statement_text=canonical.decode(),
                origin=origin,
                log_key=log_key.public.to_verifier_key(),
            ),
        )
        data = encode_entry(genesis)  # validates before any file is created
        store = create_store(location)
        try:
            with store.writer() as writer:
                writer.add(data, hash_leaf(data))
                writer.set_meta(_META_STATEMENT_HASH, digest)
                writer.set_meta(_META_ORIGIN, origin.encode())
        except BaseException:
            store.close()
            raise
        return cls(store, genesis)

    @classmethod
    def open(cls, location: str | Path, *, readonly: bool = False) -> Ledger:
        """Open an existing ledger file (``readonly``: for reading; appends then fail).

        Raises:
            StoreError: missing or not a ledger; FormatError: entry 0 does not decode.
        """
        store = open_store(location, readonly=readonly)
        try:
            return cls(store, decode_entry(store.entry(0)))
        except BaseException:
            store.close()
            raise

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying store."""
        self.store.close()

    @property
    def size(self) -> int:
        """Number of entries, genesis included."""
        return self.store.size()

    def check_endorsement(self, cose: bytes, *, now: int | None = None) -> VerifiedEndorsement:
        """Verify one endorsement against this ledger, without appending it.

        Raises:
            FormatError: malformed. VerificationError: bad signature, another statement, a
            withdrawal (not supported yet), or the key already has a live endorsement.
        """
        signed = decode_endorsement(cose)
        key = verify_endorsement(signed)
        endorsement = signed.endorsement
        if endorsement.statement_hash != self.statement_hash:
            raise VerificationError(
                f"endorses a different statement (sha256:{endorsement.statement_hash.hex()}) "
                f"than this ledger's (sha256:{self.statement_hash.hex()})"
            )
        if endorsement.action is not Action.ENDORSE:
            raise VerificationError("withdrawals are not supported by this version")
        if endorsement.signed_at > _now(now) + CLOCK_SKEW:
            raise VerificationError(
                f"signed at {endorsement.signed_at}, more than a day in the "
                "future: check the signer's clock"
            )
        existing = self.store.live_entry_for_key(key.key_id)
        if existing is not None:
            raise VerificationError(f"key {key.fingerprint} already endorsed at entry {existing}")
        return VerifiedEndorsement(signed)

    def append(
        self,
        endorsements: Sequence[tuple[str, bytes]],
        *,
        atomic: bool = False,
        now: int | None = None,
    ) -> AppendResult:
        """Verify endorsements and append the valid ones durably in one transaction.

        Args:
            endorsements: ``(label, COSE_Sign1 bytes)`` pairs; the label names the input in
                the result (a file name).
            atomic: refuse the whole call (append nothing) if any endorsement is rejected.
            now: the record time (default: the clock; never earlier than the tip's time).

        Returns:
            What was appended (label, sequence number) and what was rejected, with reasons.

        Raises:
            VerificationError: ``atomic`` and something was rejected (nothing was appended).
            StoreError: the store could not be written (nothing was appended).
        """
        # The record time never goes back, so a clock behind the tip records at the tip's time.
        when = max(_now(now), self._tip_time())
        checked: list[tuple[str, VerifiedEndorsement]] = []
        rejected: list[Rejected] = []
        seen: dict[bytes, str] = {}
        for label, cose in endorsements:
            try:
                verified = self.check_endorsement(cose, now=when)
            except (FormatError, VerificationError) as exc:
                rejected.append(Rejected(label, str(exc)))
                continue
            key_id = verified.signed.key_id
            if key_id in seen:
                rejected.append(Rejected(label, f"same key as {seen[key_id]} in this batch"))
                continue
            seen[key_id] = label
            checked.append((label, verified))
        if atomic and rejected:
            raise VerificationError("; ".join(f"{r.label}: {r.reason}" for r in rejected))
        appended: list[tuple[str, int]] = []
        if checked:
            with self.store.writer() as writer:
                last_time = self._tip_time(writer.size - 1)
                recorded_at = max(_now(now), last_time)
                for label, verified in checked:
                    signed = verified.signed
                    # Re-checked under the write lock: another writer may have won the race.
                    if writer.live_entry_for_key(signed.key_id) is not None:
                        if atomic:  # raising inside the writer rolls the whole batch back
                            raise VerificationError(f"{label}: the key endorsed meanwhile")
                        rejected.append(Rejected(label, "the key endorsed meanwhile"))
                        continue
                    entry = Entry(
                        seq=writer.size,
                        prev=writer.tip,
                        type=EntryType.ENDORSEMENT,
                        statement_hash=self.statement_hash,
                        recorded_at=recorded_at,
                        body=signed.cose,
                    )
                    data = encode_entry(entry)
                    appended.append(
                        (label, writer.add(data, hash_leaf(data), key_id=signed.key_id))
                    )
        return AppendResult(tuple(appended), tuple(rejected))

    def checkpoint(self, log_key: SigningKey, *, now: int | None = None) -> bytes:
        """Sign a C2SP checkpoint of the whole ledger with the log key and record it.

        Returns:
            The signed note (``origin``, size, base64 root; signed by the log key).

        Raises:
            UsageError: ``log_key`` is not the key the genesis entry names.
        """
        if log_key.public.to_verifier_key() != self.genesis.log_key:
            raise UsageError(
                f"this is not the ledger's log key (the genesis entry names {self.genesis.log_key})"
            )
        size = self.size
        body = Checkpoint(self.genesis.origin, size, merkle.root(self.store, size))
        note = sign_checkpoint(body, log_key)
        self.store.add_checkpoint(size, _now(now), note.decode("utf-8"))
        return note

    def latest_checkpoint(self) -> bytes | None:
        """The most recent checkpoint the log signed (with any cosignatures), if any."""
        note = self.store.latest_checkpoint()
        return None if note is None else note.encode("utf-8")

    def latest_checkpoint_with_size(self) -> tuple[bytes, int]:
        """The latest checkpoint and the size it covers.

        Raises:
            UsageError: the ledger has no checkpoint.
        """
        note = self.latest_checkpoint()
        if note is None:
            raise UsageError("the ledger has no checkpoint yet: run `ledger checkpoint` first")
        return note, parse_checkpoint(parse_note(note).text).size

    def add_cosignatures(self, lines: bytes) -> bytes:
        """Attach witness cosignature lines (a tlog-witness response) to the latest checkpoint.

        The lines are checked for form only; readers verify them against their own policy.

        Returns:
            The checkpoint note with the cosignatures.

        Raises:
            UsageError: the ledger has no checkpoint. FormatError: malformed lines.
        """
        current, _ = self.latest_checkpoint_with_size()
        note = parse_note(current)
        for signature in parse_signature_lines(lines):
            note = add_signature(note, signature)
        updated = format_note(note)
        self.store.replace_checkpoint(current.decode("utf-8"), updated.decode("utf-8"))
        return updated

    def prove_inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof of entry ``index`` in the tree of ``size`` entries (default: all).

        Raises:
            UsageError: ``index`` or ``size`` out of range.
        """
        return prove_inclusion(self.store, index, self._size_arg(size))

    def prove_consistency(self, old_size: int, size: int | None = None) -> ConsistencyProof:
        """Consistency proof from ``old_size`` to ``size`` entries (default: all).

        Raises:
            UsageError: sizes out of range.
        """
        return prove_consistency(self.store, old_size, self._size_arg(size))

    def tlog_proof(self, index: int) -> bytes:
        """Offline evidence that entry ``index`` is in the log: a C2SP ``tlog-proof@v1`` file.

        It holds the inclusion proof against the latest checkpoint (with its cosignatures).

        Raises:
            UsageError: no checkpoint covers ``index`` yet.
        """
        note, size = self.latest_checkpoint_with_size()
        if index >= size:
            raise UsageError(
                f"the latest checkpoint covers {size} entries, not entry {index}: "
                "run `ledger checkpoint`"
            )
        path = merkle.prove_inclusion(self.store, index, size)
        # The extra data carries the entry itself, so the file is evidence on its own: what
        # was endorsed, by which key, and that the log included it.
        return format_tlog_proof(
            TlogProof(
                index=index,
                inclusion_proof=tuple(path),
                checkpoint=note,
                extra=self.store.entry(index),
            )
        )

    def entry_of_key(self, key: VerifyingKey) -> int:
        """The entry number of the live endorsement made with ``key``.

        Raises:
            UsageError: the key has no live endorsement in this ledger.
        """
        seq = self.store.live_entry_for_key(key.key_id)
        if seq is None:
            raise UsageError(f"key {key.fingerprint} has no endorsement in this ledger")
        return seq

    def _tip_time(self, seq: int | None = None) -> int:
        """Record time of the last entry (or of ``seq``); a damaged entry stops the append."""
        position = self.size - 1 if seq is None else seq
        try:
            return decode_entry(self.store.entry(position)).recorded_at
        except FormatError as exc:
            raise StoreError(
                f"{self.store.location}: entry {position} is damaged ({exc}); "
                "run `ledger verify` on it and append nothing more"
            ) from None

    def _size_arg(self, size: int | None) -> int:
        total = self.size
        if size is None:
            return total
        if not 0 <= size <= total:
            raise UsageError(f"size {size} is out of range: the ledger has {total} entries")
        return size

    def iter_raw(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, entry bytes)`` in order, streaming from the store."""
        return self.store.iter_entries(start, end)

    def iter_entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        """Yield decoded (not verified) entries; use ``verify`` to check them.

        Raises:
            FormatError: an entry does not decode (the message names it).
        """
        for seq, raw in self.iter_raw(start, end):
            try:
                yield decode_entry(raw)
            except FormatError as exc:
                raise FormatError(f"entry {seq}: {exc}") from None

    def verify(self, *, statement: bytes | None = None) -> Report:
        """Verify every entry and return the report (never raises on bad data).

        Args:
            statement: statement text the reader holds, compared with the ledger's.
        """
        return check_entries(self.iter_raw(), statement=statement)


def _now(now: int | None) -> int:
    value = int(time.time()) if now is None else now
    if value < 0:
        raise UsageError("time must not be before 1970")
    return value
