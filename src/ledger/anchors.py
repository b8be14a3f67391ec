"""Anchoring a ledger: its signed checkpoint, a reader's saved checkpoint, witness cosignatures.

Pure: the entries were already streamed through ``verify.EntryChecker``, which recorded the RFC
9162 root at each size asked for. Here those roots meet the signed claims:

- ``checkpoint``: the latest checkpoint is signed by the log key, for this origin, and its root
  is the root of the first ``size`` entries. This binds the list to a statement the log cannot
  later deny, and catches entries cut from the end of a copy.
- ``consistency``: a checkpoint the reader saved earlier is signed by the same key and its root
  is the root of the same first entries: history was neither rewritten nor truncated.
- ``witnesses``: the latest checkpoint carries enough valid cosignatures for the reader's
  policy (C2SP tlog-policy), so the log cannot show different lists to different readers
  without a witness seeing a fork.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from ledger.errors import FormatError, LedgerError, UsageError, VerificationError
from ledger.keys import VerifyingKey
from ledger.model import CheckpointInfo, Genesis
from ledger.note import (
    Checkpoint,
    VerifiedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
)
from ledger.policy import Policy, evaluate_policy, explain_policy
from ledger.verify import Problem


@frozen
class AnchorResult:
    """What the anchor checks found (problems use the check names of ``ANCHOR_CHECKS``)."""

    problems: tuple[Problem, ...]
    checks_run: frozenset[str]
    checkpoint: CheckpointInfo | None
    saved: CheckpointInfo | None
    policy_explanation: str | None


ANCHOR_CHECKS = ("checkpoint", "consistency", "witnesses")


def checkpoint_size(note: bytes | None) -> int | None:
    """The size a signed checkpoint claims, read without verifying (None if unreadable).

    Used only to know at which sizes to record roots while streaming; every claim is verified
    afterwards by ``check_anchors``.
    """
    if note is None:
        return None
    try:
        return parse_checkpoint(parse_note(note).text).size
    except LedgerError:
        return None


def check_anchors(
    *,
    genesis: Genesis | None,
    size: int,
    roots: Mapping[int, bytes],
    latest: bytes | None,
    saved: bytes | None,
    pinned: VerifyingKey | None,
    policy: Policy | None,
) -> AnchorResult:
    """Check the signed checkpoints and cosignatures against the roots of the entries.

    Args:
        genesis: the verified genesis body (None if entry 0 did not verify).
        size: how many entries the ledger holds.
        roots: RFC 9162 root of the first n entries, for each n recorded while streaming.
        latest: the ledger's latest signed checkpoint, if it has one.
        saved: a checkpoint the reader saved earlier, to check consistency with.
        pinned: the log key the reader trusts; default: the one the genesis entry names.
        policy: witness policy the latest checkpoint must satisfy.

    Returns:
        The problems found and what was checked; never raises on bad data.
    """
    problems: list[Problem] = []
    run: set[str] = set()
    if saved is not None:
        run.add("consistency")
    if policy is not None:
        run.add("witnesses")
    if latest is not None:
        run.add("checkpoint")
    log_key = _log_key(genesis, pinned, problems)
    if log_key is None:
        for check in run:
            problems.append(Problem(None, check, "no trusted log key to check signatures with"))
        return AnchorResult(tuple(problems), frozenset(run), None, None, None)
    witnesses = policy.witness_keys if policy is not None else ()
    if policy is not None:
        listed = policy.log_key(log_key.name)
        if listed is None or listed.raw != log_key.raw:
            problems.append(
                Problem(
                    None,
                    "witnesses",
                    f"the policy does not list this log's key for origin {log_key.name!r}",
                )
            )
    latest_info = _check_one(
        latest,
        check="checkpoint",
        log_key=log_key,
        witnesses=witnesses,
        size=size,
        roots=roots,
        problems=problems,
    )
    saved_info = _check_one(
        saved,
        check="consistency",
        log_key=log_key,
        witnesses=(),
        size=size,
        roots=roots,
        problems=problems,
    )
    if latest_info is not None and saved_info is not None and saved_info.size > latest_info.size:
        problems.append(
            Problem(
                None,
                "consistency",
                f"rolled back: the checkpoint you saved "
                f"covers {saved_info.size} entries, the ledger's latest only "
                f"{latest_info.size}",
            )
        )
    explanation = None
    if policy is not None:
        if latest is None:
            problems.append(Problem(None, "witnesses", "the ledger has no checkpoint to cosign"))
        else:
            cosigners = _cosigners(latest, log_key, witnesses)
            evaluation = evaluate_policy(policy, cosigners)
            explanation = explain_policy(policy, cosigners)
            if not evaluation.satisfied:
                problems.append(
                    Problem(
                        None,
                        "witnesses",
                        f"the witness policy's quorum {evaluation.quorum!r} is not satisfied",
                    )
                )
    return AnchorResult(tuple(problems), frozenset(run), latest_info, saved_info, explanation)


def _log_key(
    genesis: Genesis | None, pinned: VerifyingKey | None, problems: list[Problem]
) -> VerifyingKey | None:
    named: VerifyingKey | None = None
    if genesis is not None:
        try:
            named = VerifyingKey.from_verifier_key(genesis.log_key)
        except LedgerError:
            named = None
    if pinned is None:
        return named
    if named is not None and named.raw != pinned.raw:
        problems.append(
            Problem(
                0,
                "checkpoint",
                "the genesis entry names log key "
                f"{named.fingerprint}, not the key you trust "
                f"({pinned.fingerprint}): this is another ledger",
            )
        )
    return pinned


def _check_one(
    note: bytes | None,
    *,
    check: str,
    log_key: VerifyingKey,
    witnesses: tuple[VerifyingKey, ...],
    size: int,
    roots: Mapping[int, bytes],
    problems: list[Problem],
) -> CheckpointInfo | None:
    if note is None:
        return None
    what = "the ledger's checkpoint" if check == "checkpoint" else "the checkpoint you saved"
    try:
        verified = open_checkpoint(note, log_key, witnesses=witnesses)
    except (FormatError, VerificationError, UsageError) as exc:
        problems.append(Problem(None, check, f"{what} does not verify: {exc}"))
        return None
    cp = verified.checkpoint
    info = _info(verified)
    if cp.size > size:
        kind = "truncated" if check == "consistency" else "incomplete"
        problems.append(
            Problem(
                None,
                check,
                f"{kind}: {what} covers {cp.size} entries but the ledger holds only {size}",
            )
        )
    elif roots.get(cp.size) != cp.root:
        problems.append(Problem(None, check, _mismatch(check, what, cp, roots.get(cp.size))))
    return info


def _mismatch(check: str, what: str, cp: Checkpoint, actual: bytes | None) -> str:
    found = "unknown" if actual is None else actual.hex()[:16] + "…"
    if check == "consistency":
        return (
            f"rewritten history: the first {cp.size} entries no longer hash to the root you "
            f"saved ({cp.root.hex()[:16]}… signed, {found} now): a fork"
        )
    return (
        f"{what} signs root {cp.root.hex()[:16]}… for {cp.size} entries, but those entries "
        f"hash to {found}"
    )


def _info(verified: VerifiedCheckpoint) -> CheckpointInfo:
    cp = verified.checkpoint
    return CheckpointInfo(
        origin=cp.origin,
        size=cp.size,
        root=cp.root,
        witnesses=tuple((key.name, when) for key, when in verified.witnesses_verified),
    )


def _cosigners(
    note: bytes, log_key: VerifyingKey, witnesses: tuple[VerifyingKey, ...]
) -> list[VerifyingKey]:
    try:
        verified = open_checkpoint(note, log_key, witnesses=witnesses)
    except LedgerError:
        return []
    return [key for key, _ in verified.witnesses_verified]
