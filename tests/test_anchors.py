"""``check_anchors``: signed checkpoints and cosignatures against the roots of the entries.

Pure tests: the roots are those of a hand-chained list of valid entries in a ``MemoryTree``, the
checkpoints are signed here with deterministic keys, and each attack is one signed claim that
contradicts those roots (or a key the reader does not trust).
"""

from __future__ import annotations

import hashlib
import itertools

import attrs
import pytest

from helpers import (
    LOG_KEY,
    ORIGIN,
    T0,
    chain,
    endorsement_entry,
    genesis_entry,
    org_endorsement,
    seeded_key,
    valid_entries,
)
from ledger import merkle
from ledger.anchors import ANCHOR_CHECKS, AnchorResult, check_anchors, checkpoint_size
from ledger.keys import SigningKey, VerifyingKey
from ledger.model import CheckpointInfo, Genesis
from ledger.note import (
    Checkpoint,
    add_signature,
    cosign_checkpoint,
    format_note,
    parse_note,
    sign_checkpoint,
    witness_verifier_key,
)
from ledger.policy import Policy, parse_policy
from ledger.verify import CHECKS

DATA = [data for _, data in chain(valid_entries(6))]
SIZE = len(DATA)  # 7
TREE = merkle.MemoryTree()
for _data in DATA:
    TREE.append(_data)
ROOTS = {n: merkle.root(TREE, n) for n in range(1, SIZE + 1)}

# The same list with entry 3 rewritten (another organisation): a fork from size 4 on.
FORK = merkle.MemoryTree()
for _data in [
    data
    for _, data in chain(
        [*valid_entries(2), endorsement_entry(3, org_endorsement(9)), *valid_entries(6)[4:]]
    )
]:
    FORK.append(_data)

GENESIS = genesis_entry().body
assert isinstance(GENESIS, Genesis)

# Same name as the log key (the origin), another key: what an impostor log would use.
IMPOSTOR = SigningKey.from_seed(ORIGIN, hashlib.sha256(b"impostor log").digest())
# The log's own key bytes under another name: signs checkpoints for another origin.
RENAMED = SigningKey.from_seed(
    "example.org/other", hashlib.sha256(f"ledger tests: {ORIGIN}".encode()).digest()
)
GAZETTE = seeded_key("gazette.example/witness")
COURIER = seeded_key("courier.example/witness")
HERALD = seeded_key("herald.example/witness")  # in no policy
WHEN = T0 + 1000


def signed(
    size: int, *, key: SigningKey = LOG_KEY, root: bytes | None = None, tree: object = TREE
) -> bytes:
    """A checkpoint of the first ``size`` entries (or of ``root``), signed by ``key``."""
    if root is None:
        assert isinstance(tree, merkle.MemoryTree)
        root = merkle.root(tree, size)
    return sign_checkpoint(Checkpoint(key.name, size, root), key)


def cosigned(note: bytes, *witnesses: SigningKey, at: int = WHEN) -> bytes:
    parsed = parse_note(note)
    for witness in witnesses:
        parsed = add_signature(parsed, cosign_checkpoint(parsed, witness, at))
    return format_note(parsed)


def with_cosignature_of(note: bytes, other: bytes) -> bytes:
    """``note`` carrying the cosignature lines of ``other`` (signed over another text)."""
    parsed = parse_note(note)
    for signature in parse_note(other).signatures[1:]:
        parsed = add_signature(parsed, signature)
    return format_note(parsed)


def policy(quorum: str = "gazette", *, log: str | None = None, extra: str = "") -> Policy:
    log_line = f"log {LOG_KEY.public.to_verifier_key()}\n" if log is None else log
    return parse_policy(
        f"{log_line}"
        f"witness gazette {witness_verifier_key(GAZETTE.public)}\n"
        f"witness courier {witness_verifier_key(COURIER.public)}\n"
        f"{extra}"
        f"quorum {quorum}\n"
    )


def anchors(
    *,
    latest: bytes | None = None,
    saved: bytes | None = None,
    pinned: VerifyingKey | None = None,
    policy: Policy | None = None,
    genesis: Genesis | None = GENESIS,
    size: int = SIZE,
) -> AnchorResult:
    return check_anchors(
        genesis=genesis,
        size=size,
        roots={n: root for n, root in ROOTS.items() if n <= size},
        latest=latest,
        saved=saved,
        pinned=pinned,
        policy=policy,
    )


def found(result: AnchorResult) -> set[tuple[int | None, str]]:
    return {(problem.seq, problem.check) for problem in result.problems}


def message(result: AnchorResult, check: str) -> str:
    messages = [problem.message for problem in result.problems if problem.check == check]
    assert messages, (check, result.problems)
    return "\n".join(messages)


def test_anchor_checks_are_the_last_checks() -> None:
    assert ANCHOR_CHECKS == ("checkpoint", "consistency", "witnesses")
    assert CHECKS[-3:] == ANCHOR_CHECKS


def test_renamed_key_helper_really_is_the_log_key_under_another_name() -> None:
    assert RENAMED.public.raw == LOG_KEY.public.raw
    assert RENAMED.name != ORIGIN


# --- The ledger's latest checkpoint -------------------------------------------------------------


def test_latest_checkpoint_of_every_size_verifies() -> None:
    for size in range(1, SIZE + 1):
        result = anchors(latest=signed(size))
        assert result.problems == ()
        assert result.checks_run == {"checkpoint"}
        assert result.checkpoint == CheckpointInfo(ORIGIN, size, ROOTS[size], ())
        assert result.saved is None
        assert result.policy_explanation is None


def test_attack_checkpoint_signed_by_an_impostor_key() -> None:
    result = anchors(latest=signed(SIZE, key=IMPOSTOR))
    assert found(result) == {(None, "checkpoint")}
    assert "the ledger's checkpoint does not verify" in message(result, "checkpoint")
    assert "not signed by the log key" in message(result, "checkpoint")
    assert result.checkpoint is None


def test_attack_checkpoint_for_another_origin() -> None:
    """The log's own key, signing under another name (origin): not a checkpoint of this log."""
    result = anchors(latest=signed(SIZE, key=RENAMED))
    assert found(result) == {(None, "checkpoint")}
    assert "checkpoint origin 'example.org/other' is not the log key name" in message(
        result, "checkpoint"
    )
    assert result.checkpoint is None


def test_attack_checkpoint_signs_another_root() -> None:
    forged = signed(SIZE, root=ROOTS[SIZE - 1])
    result = anchors(latest=forged)
    assert found(result) == {(None, "checkpoint")}
    text = message(result, "checkpoint")
    assert f"signs root {ROOTS[SIZE - 1].hex()[:16]}… for {SIZE} entries" in text
    assert f"hash to {ROOTS[SIZE].hex()[:16]}…" in text
    # The signature itself verified, so the report still shows what the log signed.
    assert result.checkpoint == CheckpointInfo(ORIGIN, SIZE, ROOTS[SIZE - 1], ())


def test_attack_entries_cut_from_the_end_make_the_checkpoint_incomplete() -> None:
    result = anchors(latest=signed(SIZE), size=SIZE - 2)
    assert found(result) == {(None, "checkpoint")}
    assert message(result, "checkpoint") == (
        f"incomplete: the ledger's checkpoint covers {SIZE} entries "
        f"but the ledger holds only {SIZE - 2}"
    )


def test_checkpoint_size_reads_the_claim_without_verifying() -> None:
    assert checkpoint_size(signed(4)) == 4
    assert checkpoint_size(signed(4, key=IMPOSTOR)) == 4  # not verified here
    assert checkpoint_size(None) is None
    assert checkpoint_size(b"garbage") is None
    not_a_size = "example.org/letter\nseven\nAAAA\n\n\u2014 x AAAAAAAA\n".encode()
    assert checkpoint_size(not_a_size) is None


# --- A checkpoint the reader saved ----------------------------------------------------------------


def test_saved_checkpoint_consistent_with_the_ledger() -> None:
    for saved_size in range(1, SIZE + 1):
        result = anchors(latest=signed(SIZE), saved=signed(saved_size))
        assert result.problems == (), saved_size
        assert result.checks_run == {"checkpoint", "consistency"}
        assert result.saved == CheckpointInfo(ORIGIN, saved_size, ROOTS[saved_size], ())
    alone = anchors(saved=signed(3))  # no latest checkpoint: consistency still checked
    assert alone.problems == ()
    assert alone.checks_run == {"consistency"}


def test_attack_fork_saved_root_differs_at_the_same_size() -> None:
    for size in range(4, SIZE + 1):
        other = signed(size, tree=FORK)
        assert merkle.root(FORK, size) != ROOTS[size]
        result = anchors(latest=signed(SIZE), saved=other)
        assert found(result) == {(None, "consistency")}, size
        text = message(result, "consistency")
        assert text.startswith(f"rewritten history: the first {size} entries no longer hash")
        assert text.endswith("a fork")
        assert f"({merkle.root(FORK, size).hex()[:16]}… signed, {ROOTS[size].hex()[:16]}… now)" in (
            text
        )
    # Before the rewritten entry, the two lists agree.
    assert anchors(latest=signed(SIZE), saved=signed(3, tree=FORK)).problems == ()


def test_attack_truncated_ledger_against_the_saved_checkpoint() -> None:
    result = anchors(latest=signed(SIZE - 2), saved=signed(SIZE), size=SIZE - 2)
    assert found(result) == {(None, "consistency")}
    text = message(result, "consistency")
    assert (
        f"truncated: the checkpoint you saved covers {SIZE} entries but the ledger holds only "
        f"{SIZE - 2}"
    ) in text
    # The log also signed the shorter list: that is a rollback of what it signed before.
    assert f"rolled back: the checkpoint you saved covers {SIZE} entries" in text


def test_attack_latest_checkpoint_rolled_back_behind_the_saved_one() -> None:
    result = anchors(latest=signed(4), saved=signed(6))
    assert found(result) == {(None, "consistency")}
    assert message(result, "consistency") == (
        "rolled back: the checkpoint you saved covers 6 entries, the ledger's latest only 4"
    )


def test_attack_saved_checkpoint_signed_by_another_key() -> None:
    result = anchors(latest=signed(SIZE), saved=signed(4, key=IMPOSTOR))
    assert found(result) == {(None, "consistency")}
    assert "the checkpoint you saved does not verify" in message(result, "consistency")
    assert result.saved is None


# --- Which log key is trusted ---------------------------------------------------------------------


def test_pinned_key_equal_to_the_genesis_key_is_fine() -> None:
    result = anchors(latest=signed(SIZE), pinned=LOG_KEY.public)
    assert result.problems == ()


def test_attack_pinned_key_differs_from_the_genesis_log_key() -> None:
    """The reader trusts one log key; this ledger's genesis names another: another ledger."""
    result = anchors(latest=signed(SIZE), pinned=IMPOSTOR.public)
    assert found(result) == {(0, "checkpoint"), (None, "checkpoint")}
    text = message(result, "checkpoint")
    assert LOG_KEY.public.fingerprint in text
    assert IMPOSTOR.public.fingerprint in text
    assert (
        f"the genesis entry names log key {LOG_KEY.public.fingerprint}, not the key you trust "
        f"({IMPOSTOR.public.fingerprint}): this is another ledger"
    ) in text
    # Even when the checkpoint is signed by the pinned key, the genesis mismatch remains.
    result = anchors(latest=signed(SIZE, key=IMPOSTOR), pinned=IMPOSTOR.public)
    assert found(result) == {(0, "checkpoint")}
    # And with nothing else to check, the mismatch alone fails the anchors.
    assert found(anchors(pinned=IMPOSTOR.public)) == {(0, "checkpoint")}


def test_pinned_key_is_used_when_the_genesis_entry_did_not_verify() -> None:
    result = anchors(latest=signed(SIZE), genesis=None, pinned=LOG_KEY.public)
    assert result.problems == ()
    assert result.checkpoint is not None


@pytest.mark.parametrize(
    "genesis",
    [None, attrs.evolve(GENESIS, log_key="not a verifier key")],
    ids=["no-genesis", "malformed-genesis-log-key"],
)
def test_no_trusted_log_key(genesis: Genesis | None) -> None:
    result = anchors(
        genesis=genesis,
        latest=cosigned(signed(SIZE), GAZETTE),
        saved=signed(3),
        policy=policy(),
    )
    assert result.checks_run == {"checkpoint", "consistency", "witnesses"}
    assert found(result) == {(None, "checkpoint"), (None, "consistency"), (None, "witnesses")}
    assert all(p.message == "no trusted log key to check signatures with" for p in result.problems)
    assert result.checkpoint is None
    assert result.saved is None
    assert result.policy_explanation is None
    # Nothing asked, nothing to fail.
    empty = anchors(genesis=genesis)
    assert empty.problems == ()
    assert empty.checks_run == frozenset()


# --- Witness policies -----------------------------------------------------------------------------


def test_policy_satisfied() -> None:
    latest = cosigned(signed(SIZE), GAZETTE)
    result = anchors(latest=latest, policy=policy("gazette"))
    assert result.problems == ()
    assert result.checks_run == {"checkpoint", "witnesses"}
    assert result.checkpoint == CheckpointInfo(ORIGIN, SIZE, ROOTS[SIZE], ((GAZETTE.name, WHEN),))
    assert result.policy_explanation is not None
    assert "cosigned by: gazette" in result.policy_explanation
    assert "quorum gazette: satisfied" in result.policy_explanation


def test_policy_not_satisfied() -> None:
    latest = cosigned(signed(SIZE), GAZETTE)
    result = anchors(latest=latest, policy=policy("courier"))
    assert found(result) == {(None, "witnesses")}
    assert message(result, "witnesses") == "the witness policy's quorum 'courier' is not satisfied"
    assert result.policy_explanation is not None
    assert "quorum courier: NOT satisfied" in result.policy_explanation
    # The log signature and the root are fine: only the witnesses check fails.
    assert result.checkpoint is not None


@pytest.mark.parametrize(
    ("cosigners", "satisfied"),
    [((), False), ((GAZETTE,), False), ((GAZETTE, COURIER), True), ((COURIER, HERALD), False)],
    ids=["none", "one-of-two", "both", "one-and-a-stranger"],
)
def test_policy_group_of_two(cosigners: tuple[SigningKey, ...], satisfied: bool) -> None:
    rule = policy("both", extra="group both all gazette courier\n")
    result = anchors(latest=cosigned(signed(SIZE), *cosigners), policy=rule)
    assert (result.problems == ()) is satisfied
    if not satisfied:
        assert found(result) == {(None, "witnesses")}


def test_policy_quorum_none_needs_no_cosignature() -> None:
    result = anchors(latest=signed(SIZE), policy=policy("none"))
    assert result.problems == ()
    assert result.policy_explanation is not None
    assert "quorum none: satisfied" in result.policy_explanation


def test_cosignature_by_a_witness_outside_the_policy_does_not_count() -> None:
    result = anchors(latest=cosigned(signed(SIZE), HERALD), policy=policy("gazette"))
    assert found(result) == {(None, "witnesses")}
    assert result.checkpoint is not None
    assert result.checkpoint.witnesses == ()


@pytest.mark.parametrize(
    "log_line",
    [
        "",
        f"log {seeded_key('example.org/other').public.to_verifier_key()}\n",
        f"log {IMPOSTOR.public.to_verifier_key()}\n",
    ],
    ids=["no-log-line", "another-origin", "same-origin-another-key"],
)
def test_policy_that_does_not_list_this_log_key(log_line: str) -> None:
    latest = cosigned(signed(SIZE), GAZETTE)
    result = anchors(latest=latest, policy=policy("gazette", log=log_line))
    assert found(result) == {(None, "witnesses")}
    assert message(result, "witnesses") == (
        f"the policy does not list this log's key for origin {ORIGIN!r}"
    )


def test_policy_without_a_checkpoint_to_cosign() -> None:
    result = anchors(policy=policy("gazette"))
    assert result.checks_run == {"witnesses"}
    assert found(result) == {(None, "witnesses")}
    assert message(result, "witnesses") == "the ledger has no checkpoint to cosign"


def test_attack_replayed_cosignature_of_a_known_witness() -> None:
    """A real cosignature by a policy witness, copied from an older checkpoint onto the latest.

    The signed-note rule: a known key's signature that fails rejects the whole checkpoint, even
    though another witness's valid cosignature would meet the quorum on its own.
    """
    old = cosigned(signed(4), GAZETTE)
    replayed = with_cosignature_of(signed(SIZE), old)
    result = anchors(latest=replayed, policy=policy("gazette"))
    assert found(result) == {(None, "checkpoint"), (None, "witnesses")}
    assert f"cosignature by {GAZETTE.name!r} does not verify" in message(result, "checkpoint")
    assert "quorum 'gazette' is not satisfied" in message(result, "witnesses")
    assert result.checkpoint is None

    both = cosigned(replayed, COURIER)
    either = policy("either", extra="group either any gazette courier\n")
    result = anchors(latest=both, policy=either)
    assert found(result) == {(None, "checkpoint"), (None, "witnesses")}

    # Without a policy the reader trusts no witness key, and unknown lines are ignored.
    assert anchors(latest=replayed).problems == ()


def test_attack_forged_cosignature_bytes() -> None:
    note = parse_note(cosigned(signed(SIZE), GAZETTE))
    log_signature, cosignature = note.signatures
    forged = attrs.evolve(
        cosignature, signature=cosignature.signature[:-1] + bytes([cosignature.signature[-1] ^ 1])
    )
    latest = format_note(attrs.evolve(note, signatures=(log_signature, forged)))
    result = anchors(latest=latest, policy=policy("gazette"))
    assert found(result) == {(None, "checkpoint"), (None, "witnesses")}


# --- What runs, for every combination -------------------------------------------------------------


@pytest.mark.parametrize(
    ("has_latest", "has_saved", "has_policy"), list(itertools.product([False, True], repeat=3))
)
def test_checks_run_for_each_combination(
    has_latest: bool, has_saved: bool, has_policy: bool
) -> None:
    latest = cosigned(signed(SIZE), GAZETTE) if has_latest else None
    saved = signed(4) if has_saved else None
    rule = policy("gazette") if has_policy else None
    expected = {
        name
        for name, present in (
            ("checkpoint", has_latest),
            ("consistency", has_saved),
            ("witnesses", has_policy),
        )
        if present
    }
    result = anchors(latest=latest, saved=saved, policy=rule)
    assert result.checks_run == expected
    # Valid inputs: the only possible failure is a policy with no checkpoint to cosign.
    if has_policy and not has_latest:
        assert found(result) == {(None, "witnesses")}
    else:
        assert result.problems == ()
    assert (result.checkpoint is not None) is has_latest
    assert (result.saved is not None) is has_saved
    assert (result.policy_explanation is not None) is (has_policy and has_latest)

    # Without a trusted key, the same checks run and each one fails.
    untrusted = anchors(latest=latest, saved=saved, policy=rule, genesis=None)
    assert untrusted.checks_run == expected
    assert {check for _, check in found(untrusted)} == expected
