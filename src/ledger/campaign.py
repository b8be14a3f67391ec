"""The campaign's ledger: create it, append endorsements, read and verify it.

This is the recipe layer over the pure core (entries, endorsements, verification) and a store.
Every endorsement is verified before it is appended, and every append is one transaction that
extends the chain from the tip it read under the write lock, so the chain cannot fork.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType

from attrs import frozen

from ledger import merkle
from ledger.cose import decode_endorsement, sign_endorsement, verify_endorsement
from ledger.entry import ZERO_HASH, decode_entry, encode_entry
from ledger.errors import FormatError, StoreError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.lifecycle import Outcome, apply
from ledger.merkle import hash_leaf
from ledger.model import (
    CLOCK_SKEW,
    LOG_ACTIONS,
    Action,
    Endorsement,
    Entry,
    EntryType,
    Genesis,
    RemovalReason,
    SignedEndorsement,
    VerifiedEndorsement,
)
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
from ledger.progress import Progress
from ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    prove_consistency,
    prove_inclusion,
)
from ledger.statement import canonicalize
from ledger.store import SqliteStore, StoreWriter, create_store, open_store
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
    """What ``append`` did: ``(label, sequence number)`` of each appended entry, the refusals,
    and ``(label, flag)`` for each appended look-alike name (``allow_similar``)."""

    appended: tuple[tuple[str, int], ...]
    rejected: tuple[Rejected, ...]
    flags: tuple[tuple[str, str], ...] = ()


class Ledger:
    """An open ledger. Use ``Ledger.create`` or ``Ledger.open``, ideally in a ``with`` block."""

    def __init__(self, store: SqliteStore, genesis: Entry) -> None:
        """Wrap an opened store whose entry 0 was decoded; use ``create``/``open`` instead."""
        if not isinstance(genesis.body, Genesis):
            raise StoreError(f"{store.location}: entry 0 is not a genesis entry")
        self.store = store
        self.genesis: Genesis = genesis.body
        self.statement_hash: bytes = genesis.statement_hash
        self._log_key = VerifyingKey.from_verifier_key(self.genesis.log_key)

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
        """Check a signed statement against this ledger as ``append`` would, without appending.

        Raises:
            FormatError: malformed. VerificationError: a bad signature, another statement, a
            signing time in the future, or a lifecycle rule (a second live endorsement, a
            withdrawal by the wrong key, anything after closing...).
        """
        signed, key = self._verified(cose, _now(now))
        with self.store.writer() as writer, writer.savepoint(keep=False):
            self._apply(writer, signed, key)
        return VerifiedEndorsement(signed)

    def append(
        self,
        endorsements: Sequence[tuple[str, bytes]],
        *,
        atomic: bool = False,
        allow_similar: bool = False,
        now: int | None = None,
        progress: Progress | None = None,
    ) -> AppendResult:
        """Verify signed statements and append the valid ones durably in one transaction.

        Each one is checked like ``verify`` checks it (signature, statement, time, and the
        lifecycle rules of ``ledger.lifecycle`` against the state left by the entries before
        it, under the write lock), so ``append`` never writes what ``verify`` would refuse.

        Args:
            endorsements: ``(label, COSE bytes)`` pairs; the label names the input in the
                result (a file name).
            atomic: refuse the whole call (append nothing) if any one is rejected.
            allow_similar: append an endorsement whose name equals or looks like (UTS #39) a
                name already on the list under another key; by default it is refused with the
                reason, for a person to look at.
            now: the record time (default: the clock; never earlier than the tip's time).
            progress: called with (statements checked, statements given) as each is checked.

        Returns:
            What was appended (label, sequence number), what was rejected with reasons, and
            the look-alike flags of what was appended.

        Raises:
            VerificationError: ``atomic`` and something was rejected (nothing was appended).
            StoreError: the store could not be written (nothing was appended).
        """
        # The record time never goes back, so a clock behind the tip records at the tip's time.
        when = max(_now(now), self._tip_time())
        checked: list[tuple[str, SignedEndorsement, VerifyingKey]] = []
        rejected: list[Rejected] = []
        for done, (label, cose) in enumerate(endorsements):
            if progress is not None:
                progress(done, len(endorsements))
            try:
                signed, key = self._verified(cose, when)
            except (FormatError, VerificationError) as exc:
                rejected.append(Rejected(label, str(exc)))
                continue
            checked.append((label, signed, key))
        if atomic and rejected:
            raise VerificationError("; ".join(f"{r.label}: {r.reason}" for r in rejected))
        appended: list[tuple[str, int]] = []
        flags: list[tuple[str, str]] = []
        if checked:
            with self.store.writer() as writer:
                recorded_at = max(when, self._tip_time(writer.size - 1))
                writer.state.prefetch(
                    [key.key_id for _, _, key in checked],
                    [
                        signed.endorsement.name or ""
                        for _, signed, _ in checked
                        if signed.endorsement.action is Action.ENDORSE
                    ],
                )
                for label, signed, key in checked:
                    try:
                        with writer.savepoint():
                            outcome = self._apply(writer, signed, key)
                            _refuse_lookalike(outcome, allow_similar)
                            seq = self._add(writer, signed, recorded_at)
                    except VerificationError as exc:
                        if atomic:  # raising out of the writer rolls the whole batch back
                            raise VerificationError(f"{label}: {exc}") from None
                        rejected.append(Rejected(label, str(exc)))
                        continue
                    appended.append((label, seq))
                    flags += [(label, flag) for flag in outcome.flags]
        return AppendResult(tuple(appended), tuple(rejected), tuple(flags))

    def remove(
        self,
        entry: int,
        reason: RemovalReason,
        log_key: SigningKey,
        *,
        note: str | None = None,
        now: int | None = None,
    ) -> int:
        """Remove an endorsement from the list: a new entry signed by the log key.

        History is not rewritten: the endorsement stays in the ledger, and the removal, with
        its reason, is on the record for every reader.

        Returns:
            The removal's entry number.

        Raises:
            UsageError: not the ledger's log key. VerificationError: ``entry`` is not a live
            endorsement, or the statement is closed.
        """
        self._check_log_key(log_key)
        when = max(_now(now), self._tip_time())
        return self._append_log_action(
            Endorsement(
                action=Action.REMOVE,
                statement_hash=self.statement_hash,
                name=None,
                public_key=log_key.public.raw,
                signed_at=when,
                ref=entry,
                reason=reason,
                note=note,
            ),
            log_key,
            now,
        )

    def close_statement(self, log_key: SigningKey, *, now: int | None = None) -> int:
        """Close the statement to new signatories: after this entry nothing may be appended.

        Returns:
            The closing entry's number.

        Raises:
            UsageError: not the ledger's log key. VerificationError: already closed.
        """
        self._check_log_key(log_key)
        when = max(_now(now), self._tip_time())
        return self._append_log_action(
            Endorsement(
                action=Action.CLOSE,
                statement_hash=self.statement_hash,
                name=None,
                public_key=log_key.public.raw,
                signed_at=when,
            ),
            log_key,
            now,
        )

    def _append_log_action(self, claim: Endorsement, log_key: SigningKey, now: int | None) -> int:
        cose = sign_endorsement(claim, log_key)
        result = self.append([(claim.action.name.lower(), cose)], atomic=True, now=now)
        return result.appended[0][1]

    def _check_log_key(self, log_key: SigningKey) -> None:
        if log_key.public.to_verifier_key() != self.genesis.log_key:
            raise UsageError(
                f"this is not the ledger's log key (the genesis entry names {self.genesis.log_key})"
            )

    def _verified(self, cose: bytes, now: int) -> tuple[SignedEndorsement, VerifyingKey]:
        """Decode and verify a signed statement for this ledger (no state rules yet)."""
        signed = decode_endorsement(cose)
        key = verify_endorsement(signed)
        endorsement = signed.endorsement
        if endorsement.statement_hash != self.statement_hash:
            raise VerificationError(
                f"is for a different statement (sha256:{endorsement.statement_hash.hex()}) "
                f"than this ledger's (sha256:{self.statement_hash.hex()})"
            )
        if endorsement.signed_at > now + CLOCK_SKEW:
            raise VerificationError(
                f"signed at {endorsement.signed_at}, more than a day in the "
                "future: check the signer's clock"
            )
        return signed, key

    def _apply(self, writer: StoreWriter, signed: SignedEndorsement, key: VerifyingKey) -> Outcome:
        return apply(
            writer.state,
            seq=writer.size,
            entry_type=_entry_type(signed),
            signed=signed,
            signer=key,
            log_key=self._log_key,
        )

    def _add(self, writer: StoreWriter, signed: SignedEndorsement, recorded_at: int) -> int:
        entry = Entry(
            seq=writer.size,
            prev=writer.tip,
            type=_entry_type(signed),
            statement_hash=self.statement_hash,
            recorded_at=recorded_at,
            body=signed.cose,
        )
        data = encode_entry(entry)
        return writer.add(data, hash_leaf(data))

    def checkpoint(self, log_key: SigningKey, *, now: int | None = None) -> bytes:
        """Sign a C2SP checkpoint of the whole ledger with the log key and record it.

        If the ledger has not grown since the latest checkpoint, that one is returned as it is,
        with the witness cosignatures collected for it.

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
        root = merkle.root(self.store, size)
        self._check_tree(size, root)
        latest = self.latest_checkpoint()
        if latest is not None:
            current = parse_checkpoint(parse_note(latest).text)
            if (current.size, current.root) == (size, root):
                return latest  # unchanged: keep the cosignatures witnesses already added
        body = Checkpoint(self.genesis.origin, size, root)
        note = sign_checkpoint(body, log_key)
        self.store.add_checkpoint(size, _now(now), note.decode("utf-8"))
        return note

    def _check_tree(self, size: int, root: bytes) -> None:
        """Refuse to sign a root that the stored entries do not hash to (a damaged file)."""
        tree = merkle.CompactRange()
        for _, raw in self.iter_raw(0, size):
            tree.append(hash_leaf(raw))
        if tree.root() != root:
            raise StoreError(
                f"{self.store.location}: the stored tree does not match the "
                "entries (damaged file); nothing was signed: run `ledger verify`"
            )

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
        if size is None:  # the size and the nodes in one read
            size, hashes = self.store.current_range_hashes(partial(inclusion_plan, index))
            return inclusion_proof(index, size, hashes)
        return prove_inclusion(self.store, index, self._size_arg(size))

    def prove_consistency(self, old_size: int, size: int | None = None) -> ConsistencyProof:
        """Consistency proof from ``old_size`` to ``size`` entries (default: all).

        Raises:
            UsageError: sizes out of range.
        """
        if size is None:  # the size and the nodes in one read
            size, hashes = self.store.current_range_hashes(partial(consistency_plan, old_size))
            return consistency_proof(old_size, size, hashes)
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
        state = self.store.state()
        record = state.key(key.key_id)
        seq = None if record is None else state.org(record.org).live
        if seq is None:
            raise UsageError(f"key {key.fingerprint} has no live endorsement in this ledger")
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
        if size is None:
            return self.size
        if not self.store.covers(size):  # from memory when a read has shown that many
            raise UsageError(f"size {size} is out of range: the ledger has {self.size} entries")
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


def _refuse_lookalike(outcome: Outcome, allow_similar: bool) -> None:
    if outcome.flags and not allow_similar:
        raise VerificationError(
            f"{outcome.flags[0]}; if this is right, append it with --allow-similar-name"
        )


def _entry_type(signed: SignedEndorsement) -> EntryType:
    return EntryType.LOG if signed.endorsement.action in LOG_ACTIONS else EntryType.ENDORSEMENT
