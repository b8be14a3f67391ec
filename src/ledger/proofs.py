"""Inclusion and consistency proofs as values, in the JSON form tools exchange.

Proofs come from any ``SubtreeSource`` (the SQLite store answers in O(log n) reads); their JSON
form carries hashes in standard base64 with the audit path leaf-sibling first (RFC 9162 order).
Verification is ``ledger.merkle.verify_inclusion`` / ``verify_consistency``: a proof is only as
good as the size and root it is checked against, which must come from a signed checkpoint.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from ledger import merkle
from ledger.errors import FormatError, UsageError, VerificationError


@frozen
class InclusionProof:
    """Entry ``index`` (leaf hash ``leaf_hash``) is in the tree of ``size`` leaves with ``root``."""

    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> None:
        """Check the proof against its own root (raises VerificationError)."""
        try:
            merkle.verify_inclusion(self.leaf_hash, self.index, self.size, self.proof, self.root)
        except UsageError as exc:  # an index or size that no tree has: the proof is wrong
            raise VerificationError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """``{"index", "size", "leaf_hash", "root", "proof"}``, hashes in standard base64."""
        return {
            "index": self.index,
            "size": self.size,
            "leaf_hash": _b64(self.leaf_hash),
            "root": _b64(self.root),
            "proof": [_b64(value) for value in self.proof],
        }


@frozen
class ConsistencyProof:
    """The tree of ``old_size`` leaves (``old_root``) is a prefix of the tree of ``size`` leaves."""

    old_size: int
    size: int
    old_root: bytes
    root: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> None:
        """Check the proof between its own roots (raises VerificationError)."""
        try:
            merkle.verify_consistency(
                self.old_size, self.size, self.old_root, self.root, self.proof
            )
        except UsageError as exc:  # sizes that no pair of trees has: the proof is wrong
            raise VerificationError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """``{"old_size", "size", "old_root", "root", "proof"}``, hashes in standard base64."""
        return {
            "old_size": self.old_size,
            "size": self.size,
            "old_root": _b64(self.old_root),
            "root": _b64(self.root),
            "proof": [_b64(value) for value in self.proof],
        }


def prove_inclusion(source: merkle.SubtreeSource, index: int, size: int) -> InclusionProof:
    """Build the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    The path, the leaf and the root are planned together and read in one batch (one query
    from the SQLite store).

    Raises:
        UsageError: ``index >= size``.
    """
    return inclusion_proof(index, size, merkle.range_hashes(source, inclusion_plan(index, size)))


def inclusion_plan(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges an inclusion proof needs: its path, then the leaf, then the root.

    ``inclusion_proof(index, size, merkle.range_hashes(source, plan))`` is the proof.

    Raises:
        UsageError: ``index >= size``.
    """
    return [*merkle.inclusion_ranges(index, size), (index, index + 1), (0, size)]


def inclusion_proof(index: int, size: int, hashes: Sequence[bytes]) -> InclusionProof:
    """The inclusion proof from the MTHs of the ranges of ``inclusion_plan(index, size)``."""
    *path, leaf_hash, root = hashes
    return InclusionProof(index=index, size=size, leaf_hash=leaf_hash, root=root, proof=tuple(path))


def prove_consistency(source: merkle.SubtreeSource, old_size: int, size: int) -> ConsistencyProof:
    """Build the consistency proof from ``old_size`` to ``size`` leaves.

    The proof and both roots are planned together and read in one batch (one query from the
    SQLite store).

    Raises:
        UsageError: ``old_size > size``.
    """
    hashes = merkle.range_hashes(source, consistency_plan(old_size, size))
    return consistency_proof(old_size, size, hashes)


def consistency_plan(old_size: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges a consistency proof needs: the proof, then the old root and the root.

    A root of the empty tree is a constant and is not planned.
    ``consistency_proof(old_size, size, merkle.range_hashes(source, plan))`` is the proof.

    Raises:
        UsageError: ``old_size > size``.
    """
    ranges = merkle.consistency_ranges(old_size, size)
    ranges.extend((0, n) for n in (old_size, size) if n > 0)
    return ranges


def consistency_proof(old_size: int, size: int, hashes: Sequence[bytes]) -> ConsistencyProof:
    """The consistency proof from the MTHs of the ranges of ``consistency_plan``."""
    path_length = len(hashes) - (old_size > 0) - (size > 0)
    roots = list(hashes[path_length:])
    root = roots.pop() if size > 0 else merkle.EMPTY_ROOT
    old_root = roots.pop() if old_size > 0 else merkle.EMPTY_ROOT
    return ConsistencyProof(
        old_size=old_size,
        size=size,
        old_root=old_root,
        root=root,
        proof=tuple(hashes[:path_length]),
    )


def inclusion_from_json(value: object) -> InclusionProof:
    """Parse the JSON form strictly (FormatError on anything else)."""
    fields = _fields(value, ("index", "size", "leaf_hash", "root", "proof"), "inclusion proof")
    return InclusionProof(
        index=_natural(fields["index"], "index"),
        size=_natural(fields["size"], "size"),
        leaf_hash=_hash(fields["leaf_hash"], "leaf_hash"),
        root=_hash(fields["root"], "root"),
        proof=_hashes(fields["proof"]),
    )


def consistency_from_json(value: object) -> ConsistencyProof:
    """Parse the JSON form strictly (FormatError on anything else)."""
    fields = _fields(value, ("old_size", "size", "old_root", "root", "proof"), "consistency proof")
    return ConsistencyProof(
        old_size=_natural(fields["old_size"], "old_size"),
        size=_natural(fields["size"], "size"),
        old_root=_hash(fields["old_root"], "old_root"),
        root=_hash(fields["root"], "root"),
        proof=_hashes(fields["proof"]),
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _fields(value: object, names: tuple[str, ...], what: str) -> dict[str, object]:
    if not isinstance(value, dict) or set(value) != set(names):
        raise FormatError(f"{what}: expected exactly the fields {', '.join(names)}")
    return value


def _natural(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FormatError(f"{name} must be a non-negative integer")
    return value


def _hash(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"{name} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{name} is not valid base64") from None
    if len(raw) != merkle.HASH_SIZE or _b64(raw) != value:
        raise FormatError(f"{name} must be 32 bytes in canonical base64")
    return raw


def _hashes(value: object) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > 128:
        raise FormatError("proof must be a list of at most 128 hashes")
    return tuple(_hash(item, f"proof[{i}]") for i, item in enumerate(value))
