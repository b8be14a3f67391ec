"""Inclusion and consistency proofs as values: built from a SQLite ledger, exchanged as JSON.

Every proof the store builds must equal the one ``ledger.merkle`` builds over a ``MemoryTree`` of
the same entry bytes, and the one the naive RFC 9162 oracle (``merkle_reference``) computes from
the leaves. The JSON form must round-trip and its parser must refuse anything but the exact
shape; ``verify()`` must refuse any flipped bit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ledger
import merkle_reference as ref
from helpers import make_ledger
from ledger import merkle
from ledger.errors import FormatError, LedgerError, UsageError, VerificationError
from ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    consistency_from_json,
    inclusion_from_json,
    prove_consistency,
    prove_inclusion,
)

SIZE = 13  # genesis + 12 endorsements: sizes 1..13 cover perfect and ragged trees


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ledger.Ledger]:
    path: Path = tmp_path_factory.mktemp("proofs") / "ledger.db"
    make_ledger(path, SIZE - 1).close()
    with ledger.Ledger.open(path, readonly=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def leaves(book: ledger.Ledger) -> list[bytes]:
    """The entry bytes, read back from the store: the tree's leaf inputs."""
    data = [raw for _, raw in book.iter_raw()]
    assert len(data) == SIZE
    return data


@pytest.fixture(scope="module")
def tree(leaves: list[bytes]) -> merkle.MemoryTree:
    memory = merkle.MemoryTree()
    for data in leaves:
        memory.append(data)
    return memory


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# --- The store's proofs are the RFC's proofs ----------------------------------------------------


def test_inclusion_proofs_from_the_store_equal_memory_tree_and_the_oracle(
    book: ledger.Ledger, leaves: list[bytes], tree: merkle.MemoryTree
) -> None:
    for size in range(1, SIZE + 1):
        for index in range(size):
            proof = book.prove_inclusion(index, size)
            expected = InclusionProof(
                index=index,
                size=size,
                leaf_hash=merkle.hash_leaf(leaves[index]),
                root=merkle.root(tree, size),
                proof=tuple(merkle.prove_inclusion(tree, index, size)),
            )
            assert proof == expected, (index, size)
            assert prove_inclusion(tree, index, size) == expected
            # The naive oracle, from the leaf bytes alone.
            assert proof.leaf_hash == ref.leaf_hash(leaves[index])
            assert proof.root == ref.mth(leaves[:size])
            assert list(proof.proof) == ref.path(index, leaves[:size])
            proof.verify()


def test_consistency_proofs_from_the_store_equal_memory_tree_and_the_oracle(
    book: ledger.Ledger, leaves: list[bytes], tree: merkle.MemoryTree
) -> None:
    for size in range(1, SIZE + 1):
        for old_size in range(size + 1):
            proof = book.prove_consistency(old_size, size)
            expected = ConsistencyProof(
                old_size=old_size,
                size=size,
                old_root=merkle.root(tree, old_size),
                root=merkle.root(tree, size),
                proof=tuple(merkle.prove_consistency(tree, old_size, size)),
            )
            assert proof == expected, (old_size, size)
            assert prove_consistency(tree, old_size, size) == expected
            assert proof.old_root == ref.mth(leaves[:old_size])  # the empty tree's root at 0
            assert proof.root == ref.mth(leaves[:size])
            assert list(proof.proof) == ref.proof(old_size, leaves[:size])
            proof.verify()


def test_default_size_is_the_whole_ledger(book: ledger.Ledger, leaves: list[bytes]) -> None:
    assert book.prove_inclusion(4) == book.prove_inclusion(4, SIZE)
    assert book.prove_consistency(4) == book.prove_consistency(4, SIZE)
    assert book.prove_inclusion(4).root == ref.mth(leaves)


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.prove_inclusion(SIZE),  # index == size
        lambda b: b.prove_inclusion(3, 3),
        lambda b: b.prove_inclusion(0, 0),
        lambda b: b.prove_inclusion(0, SIZE + 1),  # beyond the ledger
        lambda b: b.prove_inclusion(0, -1),
        lambda b: b.prove_consistency(5, 4),  # old_size > size
        lambda b: b.prove_consistency(SIZE + 1),
        lambda b: b.prove_consistency(0, SIZE + 1),
    ],
    ids=[
        "index=size",
        "index=size-3",
        "size-0",
        "size-beyond-ledger",
        "negative-size",
        "old-after-new",
        "old-beyond-ledger",
        "new-beyond-ledger",
    ],
)
def test_out_of_range_proofs_are_usage_errors(
    book: ledger.Ledger, call: Callable[[ledger.Ledger], object]
) -> None:
    with pytest.raises(UsageError):
        call(book)


# --- JSON form -----------------------------------------------------------------------------------


def test_to_json_shape(book: ledger.Ledger, leaves: list[bytes]) -> None:
    inclusion = book.prove_inclusion(5, 11)
    value = inclusion.to_json()
    assert list(value) == ["index", "size", "leaf_hash", "root", "proof"]
    assert value == {
        "index": 5,
        "size": 11,
        "leaf_hash": b64(ref.leaf_hash(leaves[5])),
        "root": b64(ref.mth(leaves[:11])),
        "proof": [b64(h) for h in ref.path(5, leaves[:11])],
    }
    consistency = book.prove_consistency(6, 11)
    value = consistency.to_json()
    assert list(value) == ["old_size", "size", "old_root", "root", "proof"]
    assert value == {
        "old_size": 6,
        "size": 11,
        "old_root": b64(ref.mth(leaves[:6])),
        "root": b64(ref.mth(leaves[:11])),
        "proof": [b64(h) for h in ref.proof(6, leaves[:11])],
    }


def test_json_round_trip_of_every_store_proof(book: ledger.Ledger) -> None:
    for size in range(1, SIZE + 1):
        for index in range(size):
            proof = book.prove_inclusion(index, size)
            assert inclusion_from_json(json.loads(json.dumps(proof.to_json()))) == proof
        for old_size in range(size + 1):
            cproof = book.prove_consistency(old_size, size)
            assert consistency_from_json(json.loads(json.dumps(cproof.to_json()))) == cproof


HASHES = st.binary(min_size=32, max_size=32)
NATURALS = st.integers(min_value=0, max_value=2**64)


@given(
    NATURALS,
    NATURALS,
    HASHES,
    HASHES,
    st.lists(HASHES, max_size=128).map(tuple),
)
def test_json_round_trip_of_arbitrary_values(
    a: int, b: int, first: bytes, second: bytes, path: tuple[bytes, ...]
) -> None:
    inclusion = InclusionProof(index=a, size=b, leaf_hash=first, root=second, proof=path)
    assert inclusion_from_json(json.loads(json.dumps(inclusion.to_json()))) == inclusion
    consistency = ConsistencyProof(old_size=a, size=b, old_root=first, root=second, proof=path)
    assert consistency_from_json(json.loads(json.dumps(consistency.to_json()))) == consistency


KINDS = {
    "inclusion": (inclusion_from_json, ("index", "size"), ("leaf_hash", "root")),
    "consistency": (consistency_from_json, ("old_size", "size"), ("old_root", "root")),
}

CANONICAL = b64(bytes(range(32)))  # ends in "...Hh8=": the last character has 2 unused bits
assert CANONICAL.endswith("8=")
NON_CANONICAL = CANONICAL[:-2] + "9="  # the same 32 bytes with a non-zero padding bit
assert base64.b64decode(NON_CANONICAL) == bytes(range(32))


def _valid(kind: str) -> dict[str, Any]:
    _, (first, second), (hash1, hash2) = KINDS[kind]
    return {
        first: 2,
        second: 5,
        hash1: CANONICAL,
        hash2: b64(bytes(32)),
        "proof": [b64(b"\x01" * 32), b64(b"\x02" * 32)],
    }


def _set(field: int | str, value: object) -> Callable[[str, dict[str, Any]], None]:
    """Set a field: an int picks a number field (0, 1) or a hash field (2, 3) of the kind."""

    def mutate(kind: str, doc: dict[str, Any]) -> None:
        _, numbers, hashes = KINDS[kind]
        name = (*numbers, *hashes)[field] if isinstance(field, int) else field
        doc[name] = value

    return mutate


def _delete(position: int) -> Callable[[str, dict[str, Any]], None]:
    def mutate(kind: str, doc: dict[str, Any]) -> None:
        del doc[list(doc)[position]]

    return mutate


def _extra(kind: str, doc: dict[str, Any]) -> None:
    doc["comment"] = "x"


MALFORMED = {
    "missing-first-number": _delete(0),
    "missing-size": _delete(1),
    "missing-first-hash": _delete(2),
    "missing-root": _delete(3),
    "missing-proof": _delete(4),
    "extra-field": _extra,
    "bool-as-int": _set(0, True),
    "false-as-zero": _set(1, False),
    "negative": _set(0, -1),
    "negative-size": _set(1, -5),
    "float": _set(1, 5.0),
    "decimal-string": _set(0, "2"),
    "null-number": _set(1, None),
    "non-canonical-base64": _set(2, NON_CANONICAL),
    "missing-padding": _set(3, CANONICAL[:-1]),
    "urlsafe-alphabet": _set(2, base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
    "embedded-newline": _set(3, CANONICAL[:20] + "\n" + CANONICAL[20:]),
    "surrounding-space": _set(2, " " + CANONICAL),
    "non-ascii": _set(3, "\u00e9" * 44),
    "hash-31-bytes": _set(2, b64(bytes(31))),
    "hash-33-bytes": _set(3, b64(bytes(33))),
    "hash-empty": _set(2, ""),
    "hash-as-int": _set(3, 0),
    "hash-as-list": _set(2, list(bytes(32))),
    "proof-hash-31-bytes": _set("proof", [b64(bytes(31))]),
    "proof-hash-non-canonical": _set("proof", [NON_CANONICAL]),
    "proof-hash-null": _set("proof", [None]),
    "proof-as-string": _set("proof", CANONICAL),
    "proof-as-dict": _set("proof", {"0": CANONICAL}),
    "too-many-hashes": _set("proof", [CANONICAL] * 129),
}


@pytest.mark.parametrize("kind", KINDS)
def test_from_json_accepts_the_valid_document(kind: str) -> None:
    parse = KINDS[kind][0]
    value = parse(_valid(kind))
    assert value.size == 5
    assert value.root == bytes(32)
    assert value.proof == (b"\x01" * 32, b"\x02" * 32)
    at_limit = _valid(kind) | {"proof": [CANONICAL] * 128}
    assert len(parse(at_limit).proof) == 128


@pytest.mark.parametrize("mutation", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("kind", KINDS)
def test_from_json_is_strict(kind: str, mutation: Callable[[str, dict[str, Any]], None]) -> None:
    doc = _valid(kind)
    mutation(kind, doc)
    with pytest.raises(FormatError):
        KINDS[kind][0](doc)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [None, [], "{}", 5, [("index", 1)]])
def test_from_json_refuses_a_non_object(kind: str, value: object) -> None:
    with pytest.raises(FormatError):
        KINDS[kind][0](value)


# --- verify() rejects flipped bits ----------------------------------------------------------------


def _bit_flips(value: bytes) -> Iterator[bytes]:
    for position in range(len(value)):
        for bit in range(8):
            yield value[:position] + bytes([value[position] ^ (1 << bit)]) + value[position + 1 :]


def _proof_variants(proof: tuple[bytes, ...]) -> Iterator[tuple[bytes, ...]]:
    for i, value in enumerate(proof):
        for flipped in _bit_flips(value):
            yield (*proof[:i], flipped, *proof[i + 1 :])


@pytest.mark.parametrize(("index", "size"), [(0, 1), (5, 13), (12, 13), (7, 8), (3, 6)])
def test_inclusion_verify_rejects_every_flipped_bit(
    book: ledger.Ledger, index: int, size: int
) -> None:
    proof = book.prove_inclusion(index, size)
    proof.verify()
    for leaf in _bit_flips(proof.leaf_hash):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, leaf_hash=leaf).verify()
    for root in _bit_flips(proof.root):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, root=root).verify()
    for path in _proof_variants(proof.proof):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, proof=path).verify()


@pytest.mark.parametrize(("old_size", "size"), [(1, 2), (4, 13), (5, 13), (7, 8), (3, 6), (6, 6)])
def test_consistency_verify_rejects_every_flipped_bit(
    book: ledger.Ledger, old_size: int, size: int
) -> None:
    proof = book.prove_consistency(old_size, size)
    proof.verify()
    for old_root in _bit_flips(proof.old_root):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, old_root=old_root).verify()
    for root in _bit_flips(proof.root):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, root=root).verify()
    for path in _proof_variants(proof.proof):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, proof=path).verify()


def test_verify_rejects_a_proof_of_the_wrong_length_or_order(book: ledger.Ledger) -> None:
    proof = book.prove_inclusion(5, 13)
    assert len(proof.proof) == 4
    for path in (proof.proof[:-1], (*proof.proof, proof.proof[0]), proof.proof[::-1], ()):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, proof=path).verify()
    cproof = book.prove_consistency(5, 13)
    assert len(cproof.proof) >= 2
    for path in (cproof.proof[:-1], (*cproof.proof, cproof.proof[0]), cproof.proof[::-1], ()):
        with pytest.raises(VerificationError):
            attrs.evolve(cproof, proof=path).verify()


def test_verify_rejects_a_moved_index_or_old_size(book: ledger.Ledger) -> None:
    proof = book.prove_inclusion(5, 13)
    for index in (4, 6):
        with pytest.raises(VerificationError):
            attrs.evolve(proof, index=index).verify()
    cproof = book.prove_consistency(5, 13)
    for old_size in (4, 6):
        with pytest.raises(VerificationError):
            attrs.evolve(cproof, old_size=old_size).verify()


def test_verify_of_impossible_sizes_from_json_raises_a_ledger_error() -> None:
    """index >= size (or old_size > size) parses, and verify() refuses it.

    Note: it refuses with UsageError, not the VerificationError its docstring promises; a
    caller catching only VerificationError around verify() of untrusted JSON would crash.
    """
    inclusion = inclusion_from_json(
        {"index": 5, "size": 3, "leaf_hash": CANONICAL, "root": CANONICAL, "proof": []}
    )
    with pytest.raises(LedgerError):
        inclusion.verify()
    consistency = consistency_from_json(
        {"old_size": 5, "size": 3, "old_root": CANONICAL, "root": CANONICAL, "proof": []}
    )
    with pytest.raises(LedgerError):
        consistency.verify()
    huge = InclusionProof(index=0, size=2**70, leaf_hash=bytes(32), root=bytes(32), proof=())
    with pytest.raises(VerificationError):
        huge.verify()


def test_an_inclusion_proof_does_not_bind_its_size(book: ledger.Ledger) -> None:
    """Documented limit (merkle.verify_inclusion): leaf 0 of 3 has the proof shape of leaf 0 of 4.

    So verify() with a self-asserted size proves nothing about the size: a proof is only as
    good as the (size, root) it is checked against, which must come from a signed checkpoint.
    """
    proof = book.prove_inclusion(0, 3)
    attrs.evolve(proof, size=4).verify()  # passes, with the root of the 3-entry tree
    assert book.prove_inclusion(0, 4).root != proof.root
