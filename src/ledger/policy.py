"""Witness policies in the C2SP tlog-policy format: parsing and quorum evaluation (pure).

Specification: C2SP ``tlog-policy.md`` (https://github.com/C2SP/C2SP/blob/main/tlog-policy.md,
c2sp.org/tlog-policy), the vkey successor of the Sigsum policy file (sigsum-go
``doc/policy.md``, which writes raw hex keys and is *not* accepted here).

Grammar
=======

Every line ends in ``"\\n"``. Items are separated by runs of ASCII space and tab only;
leading and trailing whitespace is allowed. Empty (whitespace-only) lines and lines whose first
non-blank character is ``#`` are ignored (there are no end-of-line comments)::

    log <vkey> [<url>]                      Ed25519 vkey, type 0x01; key name = log origin
    witness <name> <vkey> [<url>]           cosignature/v1 vkey, type 0x04
    group <name> <k> <member>...            at least k of the n >= 1 members (1 <= k <= n)
    group <name> any <member>...            k = 1
    group <name> all <member>...            k = n
    quorum <name>                           exactly one line; a witness, a group or none

Rules: witnesses and groups share one namespace; ``none`` is predefined (the empty quorum: no
cosignature needed) and cannot be redefined or be a group member. A group or the quorum may
only name witnesses and groups defined on *earlier* lines, which also rules out cycles (a
cycle always shows up as a reference to a name not yet defined). Each name may be listed as a
group member at most once in the whole file (so a witness contributes to the quorum in only one
way). Two logs, or two witnesses, wrapping the same Ed25519 public key are duplicates (even
with different key names). Allowed characters: tab, newline, U+0020..U+007E and anything
non-ASCII (names compare as exact strings, no Unicode normalisation); so CR, other controls
and DEL are errors. Keywords are lower case. ``k`` is a decimal without leading zeros.

Our limits (the spec recommends supporting at least 32 of each): 1 MiB of text, 1024 logs,
1024 witnesses, 1024 groups. Errors are :class:`~ledger.errors.FormatError` naming the line.

A checkpoint satisfies the policy when a listed log signed it (see :meth:`Policy.log_key`) and
the witnesses whose cosignatures verified (see :func:`ledger.note.open_checkpoint`, given
:attr:`Policy.witness_keys`) satisfy the quorum (:func:`policy_satisfied`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from attrs import frozen

from ledger.errors import FormatError, UsageError
from ledger.keys import VerifyingKey
from ledger.note import parse_witness_verifier_key

__all__ = [
    "NONE",
    "GroupStatus",
    "Policy",
    "PolicyEvaluation",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "evaluate_policy",
    "explain_policy",
    "parse_policy",
    "policy_satisfied",
]

NONE: Final = "none"
MAX_POLICY_SIZE: Final = 1 << 20
MAX_ITEMS: Final = 1024

_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_BLANK: Final = re.compile("[ \t]+")
_THRESHOLD: Final = re.compile("[1-9][0-9]{0,8}")


@frozen
class PolicyLog:
    """A trusted log.

    Attributes:
        key: the log key (type 0x01 vkey); its name is the log origin.
        url: the optional URL (application-specific).
    """

    key: VerifyingKey
    url: str | None = None


@frozen
class PolicyWitness:
    """A trusted witness.

    Attributes:
        name: the policy-local name used by groups and the quorum.
        key: the witness key (type 0x04 vkey); its name is the cosignature key name.
        url: the optional URL (the witness submission prefix).
    """

    name: str
    key: VerifyingKey
    url: str | None = None


@frozen
class PolicyGroup:
    """A k-of-n group of witnesses and earlier groups.

    Attributes:
        name: the group name.
        threshold: k, 1 <= k <= len(members).
        members: the member names, in file order.
    """

    name: str
    threshold: int
    members: tuple[str, ...]


@frozen
class Policy:
    """A parsed policy; construct with :func:`parse_policy`.

    Attributes:
        logs: the trusted logs, in file order.
        witnesses: the witnesses, in file order.
        groups: the groups, in file order (a group only names witnesses and earlier groups).
        quorum: the quorum name: a witness, a group, or ``"none"``.
    """

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def __attrs_post_init__(self) -> None:
        """Check that names, thresholds and references are consistent.

        Raises:
            UsageError: duplicate or undefined names, a bad threshold, a forward reference, or
                a name that is a group member more than once.
        """
        defined: set[str] = {w.name for w in self.witnesses}
        if len(defined) != len(self.witnesses) or NONE in defined:
            raise UsageError("witness names must be unique and not 'none'")
        for group in self.groups:
            if group.name in defined or group.name == NONE:
                raise UsageError(f"group name {group.name!r} is already defined")
            if not set(group.members) <= defined or not 1 <= group.threshold <= len(group.members):
                raise UsageError(f"group {group.name!r} has undefined members or a bad threshold")
            defined.add(group.name)
        members = [m for group in self.groups for m in group.members]
        if len(set(members)) != len(members):
            raise UsageError("a name is a group member more than once")
        if self.quorum != NONE and self.quorum not in defined:
            raise UsageError(f"quorum {self.quorum!r} is not defined")

    @property
    def witness_keys(self) -> tuple[VerifyingKey, ...]:
        """The witness keys, to give to :func:`ledger.note.open_checkpoint`."""
        return tuple(w.key for w in self.witnesses)

    def log_key(self, origin: str) -> VerifyingKey | None:
        """The first listed log key whose name is ``origin``.

        Args:
            origin: a checkpoint origin.

        Returns:
            The key, or ``None`` if no listed log has that origin.
        """
        return next((log.key for log in self.logs if log.key.name == origin), None)


class _Parser:
    """State of one :func:`parse_policy` call."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: dict[str, PolicyWitness] = {}
        self.groups: dict[str, PolicyGroup] = {}
        self.member_of: dict[str, str] = {}
        self.quorum: str | None = None

    def text_line(self, line: str, *, last: bool) -> None:
        if (bad := _FORBIDDEN.search(line)) is not None:
            raise FormatError(f"control character U+{ord(bad.group()):04X} is not allowed")
        if last:
            raise FormatError("the last line does not end with a newline")
        stripped = line.strip(" \t")
        if stripped and not stripped.startswith("#"):
            keyword, *args = _BLANK.split(stripped)
            self.line(keyword, args)

    def line(self, keyword: str, args: list[str]) -> None:
        if keyword == "log":
            self.log(args)
        elif keyword == "witness":
            self.witness(args)
        elif keyword == "group":
            self.group(args)
        elif keyword == "quorum":
            self.set_quorum(args)
        else:
            raise FormatError(f"unknown keyword {keyword!r}")

    def log(self, args: list[str]) -> None:
        if len(args) not in (1, 2):
            raise FormatError("expected: log <vkey> [<url>]")
        key = VerifyingKey.from_verifier_key(args[0])
        if any(log.key.raw == key.raw for log in self.logs):
            raise FormatError("duplicate log: this public key is already listed")
        if len(self.logs) >= MAX_ITEMS:
            raise FormatError(f"more than {MAX_ITEMS} logs")
        self.logs.append(PolicyLog(key, args[1] if len(args) == 2 else None))

    def new_name(self, name: str) -> None:
        if name == NONE or name in self.witnesses or name in self.groups:
            raise FormatError(f"name {name!r} is already defined")

    def witness(self, args: list[str]) -> None:
        if len(args) not in (2, 3):
            raise FormatError("expected: witness <name> <vkey> [<url>]")
        self.new_name(args[0])
        key = parse_witness_verifier_key(args[1])
        if any(w.key.raw == key.raw for w in self.witnesses.values()):
            raise FormatError("duplicate witness: this public key is already listed")
        if len(self.witnesses) >= MAX_ITEMS:
            raise FormatError(f"more than {MAX_ITEMS} witnesses")
        url = args[2] if len(args) == 3 else None
        self.witnesses[args[0]] = PolicyWitness(args[0], key, url)

    def group(self, args: list[str]) -> None:
        if len(args) < 3:
            raise FormatError("expected: group <name> <k|all|any> <member>...")
        name, k, members = args[0], args[1], args[2:]
        self.new_name(name)
        if k in ("all", "any"):
            threshold = len(members) if k == "all" else 1
        elif _THRESHOLD.fullmatch(k):
            threshold = int(k)
        else:
            raise FormatError(f"group threshold {k!r} is not 'all', 'any' or a decimal k >= 1")
        if threshold > len(members):
            raise FormatError(f"group threshold {threshold} exceeds its {len(members)} members")
        for member in members:
            self.member(name, member)
        if len(self.groups) >= MAX_ITEMS:
            raise FormatError(f"more than {MAX_ITEMS} groups")
        self.groups[name] = PolicyGroup(name, threshold, tuple(members))

    def member(self, group: str, member: str) -> None:
        if member == NONE:
            raise FormatError("'none' cannot be a group member")
        if member not in self.witnesses and member not in self.groups:
            raise FormatError(
                f"group member {member!r} is not defined on an earlier line "
                "(undefined, a forward reference or a cycle)"
            )
        if (other := self.member_of.get(member)) is not None:
            where = "twice in this group" if other == group else f"already in group {other!r}"
            raise FormatError(f"{member!r} is listed {where}; a name may be a member only once")
        self.member_of[member] = group

    def set_quorum(self, args: list[str]) -> None:
        if len(args) != 1:
            raise FormatError("expected: quorum <name>")
        if self.quorum is not None:
            raise FormatError("a second quorum line")
        if args[0] != NONE and args[0] not in self.witnesses and args[0] not in self.groups:
            raise FormatError(f"quorum {args[0]!r} is not defined on an earlier line")
        self.quorum = args[0]


def parse_policy(text: str) -> Policy:
    """Parse a policy file strictly (grammar in the module docstring).

    Args:
        text: the whole file, decoded (UTF-8 recommended).

    Returns:
        The policy.

    Raises:
        FormatError: a syntax or consistency error, with its line number.
        UsageError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise UsageError("policy text must be a str")
    if len(text) > MAX_POLICY_SIZE:
        raise FormatError(f"policy exceeds {MAX_POLICY_SIZE} characters")
    parser = _Parser()
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if number == len(lines) and line == "":
            break
        try:
            parser.text_line(line, last=number == len(lines))
        except FormatError as exc:
            raise FormatError(f"policy line {number}: {exc}") from None
    if parser.quorum is None:
        raise FormatError("policy has no quorum line")
    return Policy(
        tuple(parser.logs),
        tuple(parser.witnesses.values()),
        tuple(parser.groups.values()),
        parser.quorum,
    )


@frozen
class GroupStatus:
    """How far one group is from being satisfied.

    Attributes:
        name: the group name.
        threshold: k.
        members: all member names.
        satisfied_members: the members that are satisfied (cosigned, or satisfied groups).
        satisfied: whether at least k members are.
    """

    name: str
    threshold: int
    members: tuple[str, ...]
    satisfied_members: tuple[str, ...]
    satisfied: bool


@frozen
class PolicyEvaluation:
    """The evaluation of a policy's quorum against a set of cosigners.

    Attributes:
        quorum: the quorum name.
        satisfied: whether the quorum is satisfied.
        cosigned: the names of the policy witnesses that cosigned, in policy order.
        groups: the status of every group, in policy order.
    """

    quorum: str
    satisfied: bool
    cosigned: tuple[str, ...]
    groups: tuple[GroupStatus, ...]


def evaluate_policy(policy: Policy, cosigned_by: Iterable[VerifyingKey | str]) -> PolicyEvaluation:
    """Evaluate the quorum given who cosigned.

    Args:
        policy: the policy.
        cosigned_by: witness keys whose cosignatures verified (matched to policy witnesses by
            public key; keys not in the policy are ignored) or policy witness names.

    Returns:
        The evaluation.

    Raises:
        UsageError: a name that is not a witness of the policy, or another type.
    """
    by_raw = {w.key.raw: w.name for w in policy.witnesses}
    names = {w.name for w in policy.witnesses}
    present: set[str] = set()
    for item in cosigned_by:
        if isinstance(item, VerifyingKey):
            if item.raw in by_raw:
                present.add(by_raw[item.raw])
        elif isinstance(item, str) and item in names:
            present.add(item)
        else:
            raise UsageError(f"{item!r} is neither a VerifyingKey nor a witness of the policy")
    satisfied = set(present)
    statuses = []
    for group in policy.groups:
        members = tuple(m for m in group.members if m in satisfied)
        ok = len(members) >= group.threshold
        if ok:
            satisfied.add(group.name)
        statuses.append(GroupStatus(group.name, group.threshold, group.members, members, ok))
    cosigned = tuple(w.name for w in policy.witnesses if w.name in present)
    quorum_ok = policy.quorum == NONE or policy.quorum in satisfied
    return PolicyEvaluation(policy.quorum, quorum_ok, cosigned, tuple(statuses))


def policy_satisfied(policy: Policy, cosigned_by: Iterable[VerifyingKey | str]) -> bool:
    """Tell whether the quorum is satisfied.

    Args:
        policy: the policy.
        cosigned_by: as for :func:`evaluate_policy`.

    Returns:
        ``True`` if the quorum is ``none`` or satisfied.

    Raises:
        UsageError: as for :func:`evaluate_policy`.
    """
    return evaluate_policy(policy, cosigned_by).satisfied


def explain_policy(policy: Policy, cosigned_by: Iterable[VerifyingKey | str]) -> str:
    """Explain, one line per group and a last line for the quorum, what is satisfied.

    Args:
        policy: the policy.
        cosigned_by: as for :func:`evaluate_policy`.

    Returns:
        Human-readable text ending in a newline.

    Raises:
        UsageError: as for :func:`evaluate_policy`.
    """
    result = evaluate_policy(policy, cosigned_by)
    lines = [f"cosigned by: {', '.join(result.cosigned) or 'no policy witness'}"]
    for g in result.groups:
        state = "satisfied" if g.satisfied else "NOT satisfied"
        have = ", ".join(g.satisfied_members) or "none"
        lines.append(
            f"group {g.name}: {state} ({len(g.satisfied_members)} of {len(g.members)}, "
            f"{g.threshold} needed; satisfied: {have})"
        )
    if result.quorum == NONE:
        lines.append("quorum none: satisfied (no cosignature required)")
    else:
        state = "satisfied" if result.satisfied else "NOT satisfied"
        lines.append(f"quorum {result.quorum}: {state}")
    return "\n".join(lines) + "\n"
