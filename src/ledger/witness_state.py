"""The witness state file: which logs a witness follows and what it last cosigned (file I/O).

Format (UTF-8 JSON, keys sorted, one object)::

    {
      "schema": "endorsement-ledger/witness-state/v1",
      "witness": "<witness vkey, type 0x04 (c2sp.org/tlog-cosignature)>",
      "logs": {
        "<origin>": {
          "vkey": "<log verifier key, type 0x01, named <origin>>",
          "size": <size of the latest cosigned checkpoint, 0 before the first>,
          "root": "<its base64 root; the empty tree's root before the first>",
          "checkpoint": "<that checkpoint, signed by the log only>" | null
        }
      }
    }

Loading is strict: exactly these keys, no duplicate keys, integers that are not booleans
or floats, canonical base64, vkeys that parse (the log vkey named by its origin), and every
stored checkpoint must verify with its log key and match the stored size and root; anything
else is a :class:`~ledger.errors.FormatError` naming the file.

Writes: every change holds an exclusive ``fcntl.flock`` on ``STATE.lock`` (created beside the
state file and left there) for the whole read-check-write, so two concurrent ``cosign``
calls cannot both pass the size check and roll the witness back (the race that
c2sp.org/tlog-witness describes). The new state is written to a temporary file in the same
directory, fsynced, renamed over the state with ``os.replace``, and the directory is fsynced:
a crash leaves either the old or the new state, never a mix. A refused request writes
nothing. The cosignature is returned only after the new state is durable (the spec: "the
witness MUST persist the new checkpoint before responding").
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NoReturn

from attrs import frozen

from ledger.errors import FormatError, StoreError, UsageError, VerificationError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import (
    MAX_INT63,
    open_checkpoint,
    parse_witness_verifier_key,
    witness_verifier_key,
)
from ledger.witness import (
    RefusalReason,
    WitnessedLog,
    WitnessRefusal,
    format_cosignature_lines,
    parse_add_checkpoint_request,
    witness_checkpoint,
)

__all__ = [
    "MAX_STATE_SIZE",
    "STATE_SCHEMA",
    "WitnessState",
    "add_log",
    "cosign",
    "decode_state",
    "encode_state",
    "init_state",
    "load_state",
    "lock_path",
]

STATE_SCHEMA: Final = "endorsement-ledger/witness-state/v1"
MAX_STATE_SIZE: Final = 64 << 20
_STATE_MODE: Final = 0o644  # public data: keys, sizes, roots and log-signed checkpoints
_STATE_KEYS: Final = frozenset({"schema", "witness", "logs"})
_LOG_KEYS: Final = frozenset({"vkey", "size", "root", "checkpoint"})


@frozen
class WitnessState:
    """The contents of a witness state file.

    Attributes:
        witness: the witness's public key (its name is the cosignature name).
        logs: one record per followed log, sorted by origin, origins unique.
    """

    witness: VerifyingKey
    logs: tuple[WitnessedLog, ...] = ()

    def __attrs_post_init__(self) -> None:
        """Check the fields.

        Raises:
            UsageError: wrong types, or two records with the same origin.
        """
        if not isinstance(self.witness, VerifyingKey):
            raise UsageError("witness must be a VerifyingKey")
        if not isinstance(self.logs, tuple) or not all(
            isinstance(log, WitnessedLog) for log in self.logs
        ):
            raise UsageError("logs must be a tuple of WitnessedLog")
        if len({log.origin for log in self.logs}) != len(self.logs):
            raise UsageError("two logs have the same origin")

    @property
    def witness_vkey(self) -> str:
        """The witness verifier key (type 0x04), as a policy file lists it."""
        return witness_verifier_key(self.witness)

    @property
    def known(self) -> dict[str, WitnessedLog]:
        """The records by origin, for :func:`ledger.witness.witness_checkpoint`."""
        return {log.origin: log for log in self.logs}

    def with_log(self, record: WitnessedLog) -> WitnessState:
        """This state with ``record`` added or replacing the record of its origin.

        Args:
            record: the record.

        Returns:
            The new state (logs sorted by origin).
        """
        logs = {**self.known, record.origin: record}
        return WitnessState(self.witness, tuple(logs[origin] for origin in sorted(logs)))


# ---------------------------------------------------------------------------------------------
# encoding


def encode_state(state: WitnessState) -> bytes:
    """Encode a state as the JSON of the module docstring.

    Args:
        state: the state.

    Returns:
        UTF-8 JSON, keys sorted, two-space indent, ending in a newline.
    """
    document = {
        "schema": STATE_SCHEMA,
        "witness": state.witness_vkey,
        "logs": {
            log.origin: {
                "vkey": log.log_key_vkey,
                "size": log.size,
                "root": base64.b64encode(log.root).decode("ascii"),
                "checkpoint": None if log.checkpoint is None else log.checkpoint.decode("utf-8"),
            }
            for log in state.logs
        },
    }
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate key {key[:100]!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise FormatError(f"{name} is not allowed")


def _no_float(text: str) -> NoReturn:
    raise FormatError(f"number {text[:30]} is not an integer")


def _object(value: object, keys: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{what} must be an object")
    if set(value) != keys:
        raise FormatError(f"{what} must have exactly the keys {', '.join(sorted(keys))}")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a string")
    return value


def _decode_log(origin: str, value: object) -> WitnessedLog:
    what = f"logs[{origin[:100]!r}]"
    fields = _object(value, _LOG_KEYS, what)
    vkey = _string(fields["vkey"], f"{what}.vkey")
    key = VerifyingKey.from_verifier_key(vkey)
    if key.name != origin:
        raise FormatError(f"{what}.vkey is named {key.name[:100]!r}, not the origin")
    size = fields["size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_INT63:
        raise FormatError(f"{what}.size must be an integer in 0..2**63-1")
    root_text = _string(fields["root"], f"{what}.root")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what}.root is not base64") from None
    if base64.b64encode(root).decode("ascii") != root_text or len(root) != 32:
        raise FormatError(f"{what}.root is not the canonical base64 of 32 bytes")
    checkpoint_text = fields["checkpoint"]
    checkpoint = None
    if checkpoint_text is not None:
        try:
            checkpoint = _string(checkpoint_text, f"{what}.checkpoint").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, written as \ud800 in the JSON
            raise FormatError(f"{what}.checkpoint is not valid Unicode text") from None
        try:
            body = open_checkpoint(checkpoint, key).checkpoint
        except (FormatError, VerificationError) as exc:
            raise FormatError(f"{what}.checkpoint does not verify: {exc}") from None
        if (body.size, body.root) != (size, root):
            raise FormatError(f"{what}.checkpoint is not the one of its size and root")
    try:
        return WitnessedLog(origin, vkey, size, root, checkpoint)
    except UsageError as exc:
        raise FormatError(f"{what}: {exc}") from None


def decode_state(data: bytes) -> WitnessState:
    """Decode a state file strictly (see the module docstring).

    Args:
        data: the file contents.

    Returns:
        The state; every stored checkpoint verified with its log key.

    Raises:
        FormatError: anything but a well-formed, self-consistent v1 state.
        UsageError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise UsageError("state must be bytes")
    if len(data) > MAX_STATE_SIZE:
        raise FormatError(f"state exceeds {MAX_STATE_SIZE} bytes")
    try:
        document = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_no_float,
        )
    except UnicodeDecodeError as exc:
        raise FormatError(f"state is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"state is not JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # an integer over Python's 4300-digit conversion limit
        raise FormatError(f"state is not acceptable JSON ({str(exc)[:80]})") from None
    except RecursionError:
        raise FormatError("state JSON is nested too deeply") from None
    top = _object(document, _STATE_KEYS, "state")
    if top["schema"] != STATE_SCHEMA:
        raise FormatError(f"state schema must be {STATE_SCHEMA!r}")
    witness = parse_witness_verifier_key(_string(top["witness"], "witness"))
    logs = top["logs"]
    if not isinstance(logs, dict):
        raise FormatError("logs must be an object")
    records = tuple(_decode_log(_string(o, "origin"), logs[o]) for o in sorted(logs))
    return WitnessState(witness, records)


# ---------------------------------------------------------------------------------------------
# files


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def lock_path(path: Path) -> Path:
    """The lock file of a state file.

    Args:
        path: the state file.

    Returns:
        ``STATE.lock`` (the suffix appended).
    """
    return Path(os.fspath(path) + ".lock")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``STATE.lock`` (blocking until it is free)."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), _STATE_MODE)
    except OSError as exc:
        raise StoreError(f"cannot open lock file {lock}: {_reason(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise StoreError(f"cannot lock {lock}: {_reason(exc)}") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read(path: Path) -> WitnessState:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STATE_SIZE + 1)
    except FileNotFoundError:
        raise StoreError(f"cannot read witness state {path}: no such file") from None
    except OSError as exc:
        raise StoreError(f"cannot read witness state {path}: {_reason(exc)}") from None
    try:
        return decode_state(data)
    except FormatError as exc:
        raise FormatError(f"witness state {path}: {exc}") from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, state: WitnessState, *, replace: bool) -> None:
    """Write ``state`` atomically: temporary file, fsync, rename (or link), fsync directory."""
    data = encode_state(state)
    directory = path.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StoreError(f"cannot write witness state {path}: {_reason(exc)}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _STATE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if the state appeared meanwhile: never overwrite
            temp.unlink()
        _fsync_directory(directory)
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise UsageError(f"{path} exists; refusing to overwrite it") from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StoreError(f"cannot write witness state {path}: {_reason(exc)}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def load_state(path: Path) -> WitnessState:
    """Read and check a state file (no lock needed: writers replace it atomically).

    Args:
        path: the state file.

    Returns:
        The state.

    Raises:
        StoreError: the file is missing or unreadable.
        FormatError: the file is not a valid state (see :func:`decode_state`).
    """
    return _read(Path(path))


def init_state(path: Path, witness_key_public: VerifyingKey) -> WitnessState:
    """Create a state file for a witness that follows no log yet.

    Args:
        path: the state file to create.
        witness_key_public: the witness's public key.

    Returns:
        The new state.

    Raises:
        UsageError: the file exists, or the key is not a ``VerifyingKey``.
        StoreError: the file cannot be written.
    """
    path = Path(path)
    state = WitnessState(witness_key_public)
    with _locked(path):
        if os.path.lexists(path):
            raise UsageError(f"{path} exists; refusing to overwrite it")
        _write(path, state, replace=False)
    return state


def add_log(path: Path, log_key: VerifyingKey) -> WitnessedLog:
    """Follow a log: record its key, with nothing cosigned yet (origin = the key's name).

    Adding the same key again changes nothing. Another key for a followed origin is refused:
    a witness that let anyone swap the log key would cosign whatever the new key signs.

    Args:
        path: the state file.
        log_key: the log's public key (Ed25519; its name is the log origin).

    Returns:
        The log's record (the existing one if the key was already there).

    Raises:
        UsageError: the origin is followed with another key, or a wrong argument type.
        StoreError: the state cannot be read or written.
        FormatError: the state file is invalid.
    """
    path = Path(path)
    if not isinstance(log_key, VerifyingKey):
        raise UsageError("log_key must be a VerifyingKey")
    with _locked(path):
        state = _read(path)
        existing = state.known.get(log_key.name)
        if existing is not None:
            if existing.log_key != log_key:
                raise UsageError(
                    f"{path} already follows {log_key.name!r} with key "
                    f"{existing.log_key_vkey}; refusing to replace it with "
                    f"{log_key.to_verifier_key()}"
                )
            return existing
        record = WitnessedLog.new(log_key)
        _write(path, state.with_log(record), replace=True)
    return record


def cosign(path: Path, request_bytes: bytes, witness_key: SigningKey, now: int) -> bytes:
    """Check an ``add-checkpoint`` request, record the checkpoint, and cosign it.

    The state is locked from the read to the durable write, so concurrent calls are
    serialised; a refused request leaves the state file untouched.

    Args:
        path: the state file.
        request_bytes: the tlog-witness ``add-checkpoint`` request body.
        witness_key: the witness's secret key; it must be the state's witness key.
        now: the cosignature timestamp, POSIX seconds.

    Returns:
        The tlog-witness response body: the cosignature line, ``"\u2014 <name> <base64>\\n"``.

    Raises:
        WitnessRefusal: the request was refused (``reason`` says why).
        UsageError: the key is not this state's witness key, or ``now`` is out of range.
        StoreError: the state cannot be read or written.
        FormatError: the state file is invalid.
    """
    path = Path(path)
    with _locked(path):
        state = _read(path)
        if witness_key.public != state.witness:
            raise UsageError(
                f"the key {witness_key.name!r} ({witness_key.public.fingerprint}) is not this "
                f"state's witness key {state.witness_vkey}"
            )
        try:
            request = parse_add_checkpoint_request(request_bytes)
        except FormatError as exc:
            raise WitnessRefusal(RefusalReason.MALFORMED, str(exc)) from None
        record, cosignature = witness_checkpoint(state.known, request, witness_key, now)
        _write(path, state.with_log(record), replace=True)
    return format_cosignature_lines([cosignature])
