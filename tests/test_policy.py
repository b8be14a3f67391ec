"""Tests of ``ledger.policy``: the C2SP tlog-policy format and quorum evaluation."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import FormatError, UsageError
from ledger.keys import SigningKey, VerifyingKey
from ledger.note import (
    Checkpoint,
    add_signature,
    cosign_checkpoint,
    format_note,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    witness_verifier_key,
)
from ledger.policy import (
    NONE,
    Policy,
    PolicyGroup,
    PolicyWitness,
    evaluate_policy,
    explain_policy,
    parse_policy,
    policy_satisfied,
)


def _key(name: str) -> SigningKey:
    return SigningKey.from_seed(name, hashlib.sha256(name.encode()).digest())


LOG = _key("example.org/log")
LOG_VKEY = LOG.public.to_verifier_key()
NAMES = ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
WITNESSES = {name: _key(f"{name.lower()}.witness.example") for name in NAMES}
VKEYS = {name: witness_verifier_key(key.public) for name, key in WITNESSES.items()}

# The example of C2SP tlog-policy.md ("Example policy"), with real keys.
SPEC_EXAMPLE = f"""log {LOG_VKEY}

witness X1 {VKEYS["X1"]}
witness X2 {VKEYS["X2"]}
witness X3 {VKEYS["X3"]}
group X-witnesses 2 X1 X2 X3

witness Y1 {VKEYS["Y1"]}
witness Y2 {VKEYS["Y2"]}
witness Y3 {VKEYS["Y3"]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_spec_example_parses() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    assert [log.key for log in policy.logs] == [LOG.public]
    assert [w.name for w in policy.witnesses] == NAMES
    assert policy.witness_keys == tuple(WITNESSES[n].public for n in NAMES)
    assert policy.groups == (
        PolicyGroup("X-witnesses", 2, ("X1", "X2", "X3")),
        PolicyGroup("Y-witnesses", 1, ("Y1", "Y2", "Y3")),
        PolicyGroup("X-and-Y", 2, ("X-witnesses", "Y-witnesses")),
    )
    assert policy.quorum == "X-and-Y"
    assert policy.log_key(LOG.name) == LOG.public
    assert policy.log_key("other.example/log") is None


def test_spec_example_truth_table() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    for bits in itertools.product((False, True), repeat=6):
        present = {n for n, bit in zip(NAMES, bits, strict=True) if bit}
        x = len(present & {"X1", "X2", "X3"}) >= 2
        y = len(present & {"Y1", "Y2", "Y3"}) >= 1
        assert policy_satisfied(policy, present) == (x and y)
        keys = [WITNESSES[n].public for n in present]
        assert policy_satisfied(policy, keys) == (x and y)


def test_whitespace_comments_urls_and_simple_quorums() -> None:
    text = (
        "# a comment\n"
        "   \t\n"
        f"\tlog  {LOG_VKEY}\thttps://log.example/ \n"
        f"  # indented comment\n"
        f"witness\tX1 {VKEYS['X1']} https://w1.example/add\n"
        "quorum X1\n"
        "\n"
    )
    policy = parse_policy(text)
    assert policy.logs[0].url == "https://log.example/"
    assert policy.witnesses == (
        PolicyWitness("X1", WITNESSES["X1"].public, "https://w1.example/add"),
    )
    assert policy_satisfied(policy, ["X1"])
    assert not policy_satisfied(policy, [])
    none = parse_policy(f"log {LOG_VKEY}\nquorum none\n")
    assert none.quorum == NONE
    assert policy_satisfied(none, [])
    assert parse_policy("quorum none\n").logs == ()  # logs are optional


def test_nested_groups_and_non_ascii_names() -> None:
    text = (
        f"witness A {VKEYS['X1']}\n"
        f"witness K {VKEYS['X2']}\n"
        f"witness \u212a {VKEYS['X3']}\n"  # KELVIN SIGN: a different name from "K"
        "group inner 2 K \u212a\n"
        "group outer any A inner\n"
        "quorum outer\n"
    )
    policy = parse_policy(text)
    assert [w.name for w in policy.witnesses] == ["A", "K", "\u212a"]
    assert policy_satisfied(policy, ["A"])
    assert policy_satisfied(policy, ["K", "\u212a"])
    assert not policy_satisfied(policy, ["K"])


def _expect_error(text: str, line: int | None, fragment: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_policy(text)
    message = str(info.value)
    if line is not None:
        assert message.startswith(f"policy line {line}:"), message
    assert fragment in message, message


W1 = f"witness X1 {VKEYS['X1']}\n"
W2 = f"witness X2 {VKEYS['X2']}\n"
W3 = f"witness X3 {VKEYS['X3']}\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("frobnicate x\nquorum none\n", 1, "unknown keyword"),
        ("Quorum none\n", 1, "unknown keyword"),
        (W1 + W1.replace("X1 ", "X1b ") + "quorum none\n", 2, "duplicate witness"),
        (W1 + W2.replace("X2", "X1", 1) + "quorum none\n", 2, "already defined"),
        (W1 + "group X1 any X1\nquorum none\n", 2, "already defined"),
        (W1 + f"witness none {VKEYS['X2']}\nquorum none\n", 2, "already defined"),
        (W1 + "group none any X1\nquorum none\n", 2, "already defined"),
        (W1 + "group g any X9\nquorum g\n", 2, "not defined on an earlier line"),
        ("group g any X1\n" + W1 + "quorum g\n", 1, "not defined on an earlier line"),
        (W1 + "group g any g\nquorum g\n", 2, "not defined on an earlier line"),  # cycle
        (W1 + "group a any X1 b\ngroup b any a\nquorum a\n", 2, "not defined"),  # cycle
        (W1 + W2 + "group g 3 X1 X2\nquorum g\n", 3, "exceeds"),
        (W1 + W2 + "group g 0 X1 X2\nquorum g\n", 3, "threshold"),
        (W1 + W2 + "group g 01 X1 X2\nquorum g\n", 3, "threshold"),
        (W1 + W2 + "group g -1 X1 X2\nquorum g\n", 3, "threshold"),
        (W1 + W2 + "group g ALL X1 X2\nquorum g\n", 3, "threshold"),
        (W1 + "group g any\nquorum g\n", 2, "expected: group"),
        (W1 + "group g\nquorum g\n", 2, "expected: group"),
        (W1 + W2 + "group g any X1 X1\nquorum g\n", 3, "twice in this group"),
        (W1 + W2 + "group a any X1\ngroup b any X1 X2\nquorum b\n", 4, "already in group 'a'"),
        (W1 + "group g any X1 none\nquorum g\n", 2, "'none' cannot be a group member"),
        (W1, None, "no quorum"),
        ("", None, "no quorum"),
        ("# only a comment\n", None, "no quorum"),
        (W1 + "quorum X1\nquorum X1\n", 3, "second quorum"),
        ("quorum X1\n" + W1, 1, "not defined on an earlier line"),
        (W1 + "quorum\n", 2, "expected: quorum"),
        (W1 + "quorum X1 X1\n", 2, "expected: quorum"),
        (f"log {VKEYS['X1']}\nquorum none\n", 1, "0x04"),  # witness key as a log
        (f"witness X1 {LOG_VKEY}\nquorum none\n", 1, "0x04"),  # log key as a witness
        (f"log {LOG_VKEY}\nlog {LOG.public.to_verifier_key()}\nquorum none\n", 2, "duplicate log"),
        (
            f"log {LOG_VKEY}\nlog {VerifyingKey('renamed', LOG.public.raw).to_verifier_key()}\n"
            "quorum none\n",
            2,
            "duplicate log",
        ),
        (f"log {LOG_VKEY[:-1]}\nquorum none\n", 1, "base64"),
        (f"log {LOG.name}+00000000+{LOG_VKEY.split('+', 2)[2]}\nquorum none\n", 1, "key id"),
        ("log\nquorum none\n", 1, "expected: log"),
        (f"log {LOG_VKEY} url extra\nquorum none\n", 1, "expected: log"),
        ("witness X1\nquorum none\n", 1, "expected: witness"),
        (W1.rstrip("\n") + " url # comment\nquorum none\n", 1, "expected: witness"),
        (W1 + "quorum X1\r\n", 2, "U+000D"),
        (W1 + "quorum X1\x7f\n", 2, "U+007F"),
        (W1 + "quorum\x0bX1\n", 2, "U+000B"),
        (W1 + "quorum X1", 2, "does not end with a newline"),
        (W1 + "quorum X1\n# trailing", 3, "does not end with a newline"),
    ],
)
def test_errors(text: str, line: int | None, fragment: str) -> None:
    _expect_error(text, line, fragment)


def test_limits() -> None:
    _expect_error("#" * (2**20 + 1), None, "exceeds")
    with pytest.raises(UsageError):
        parse_policy(b"quorum none\n")  # type: ignore[arg-type]


def test_policy_value_checks() -> None:
    w = PolicyWitness("w", WITNESSES["X1"].public)
    with pytest.raises(UsageError):
        Policy((), (w, w), (), NONE)
    with pytest.raises(UsageError):
        Policy((), (w,), (PolicyGroup("g", 2, ("w",)),), "g")
    with pytest.raises(UsageError):
        Policy((), (w,), (PolicyGroup("g", 1, ("h",)),), "g")
    with pytest.raises(UsageError):
        Policy((), (w,), (), "g")
    with pytest.raises(UsageError):
        Policy((), (w,), (PolicyGroup("w", 1, ("w",)),), NONE)
    with pytest.raises(UsageError):
        Policy((), (w,), (PolicyGroup("g", 1, ("w",)), PolicyGroup("h", 1, ("w",))), NONE)


def test_cosigners_by_key_and_name() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    renamed = VerifyingKey("another.name", WITNESSES["X1"].public.raw)  # matched by public key
    stranger = _key("stranger.example").public  # not in the policy: ignored
    result = evaluate_policy(policy, [renamed, stranger, "X2", "Y3"])
    assert result.satisfied
    assert result.cosigned == ("X1", "X2", "Y3")
    assert [g.satisfied_members for g in result.groups] == [
        ("X1", "X2"),
        ("Y3",),
        ("X-witnesses", "Y-witnesses"),
    ]
    with pytest.raises(UsageError):
        policy_satisfied(policy, ["X-witnesses"])  # a group is not a cosigner
    with pytest.raises(UsageError):
        policy_satisfied(policy, ["nobody"])
    with pytest.raises(UsageError):
        policy_satisfied(policy, [42])  # type: ignore[list-item]


def test_explanation() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    text = explain_policy(policy, ["X1", "Y2"])
    assert text.splitlines() == [
        "cosigned by: X1, Y2",
        "group X-witnesses: NOT satisfied (1 of 3, 2 needed; satisfied: X1)",
        "group Y-witnesses: satisfied (1 of 3, 1 needed; satisfied: Y2)",
        "group X-and-Y: NOT satisfied (1 of 2, 2 needed; satisfied: Y-witnesses)",
        "quorum X-and-Y: NOT satisfied",
    ]
    assert explain_policy(parse_policy("quorum none\n"), []).splitlines() == [
        "cosigned by: no policy witness",
        "quorum none: satisfied (no cosignature required)",
    ]


def test_end_to_end_with_cosigned_checkpoint() -> None:
    policy = parse_policy(SPEC_EXAMPLE)
    note = parse_note(sign_checkpoint(Checkpoint(LOG.name, 3, bytes(32)), LOG))
    for name in ("X1", "X3", "Y2"):
        note = add_signature(note, cosign_checkpoint(note, WITNESSES[name], 1_700_000_000))
    log_key = policy.log_key(LOG.name)
    assert log_key is not None
    verified = open_checkpoint(format_note(note), log_key, witnesses=policy.witness_keys)
    assert policy_satisfied(policy, [key for key, _ in verified.witnesses_verified])


# --- Satisfaction against a naive reference --------------------------------------------------

Description = tuple[int, list[tuple[str, str, list[str]]], str]


def _render(description: Description) -> str:
    count, groups, quorum = description
    lines = [f"witness {NAMES[i]} {VKEYS[NAMES[i]]}" for i in range(count)]
    lines += [f"group {name} {k} {' '.join(members)}" for name, k, members in groups]
    return "\n".join([*lines, f"quorum {quorum}"]) + "\n"


def _reference(description: Description, present: set[str]) -> bool:
    """Brute force: a group holds iff some k-subset of its members all hold."""
    _, groups, quorum = description
    table = {name: (k, members) for name, k, members in groups}

    def holds(name: str) -> bool:
        if name not in table:
            return name in present
        k, members = table[name]
        need = {"any": 1, "all": len(members)}.get(k) or int(k)
        return any(all(map(holds, combo)) for combo in itertools.combinations(members, need))

    return quorum == NONE or holds(quorum)


@st.composite
def _descriptions(draw: st.DrawFn) -> Description:
    count = draw(st.integers(min_value=1, max_value=6))
    free = list(NAMES[:count])  # defined and not yet a member of any group
    defined = list(free)
    groups: list[tuple[str, str, list[str]]] = []
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        if not free:
            break
        members = draw(st.lists(st.sampled_from(free), min_size=1, unique=True))
        k = draw(
            st.sampled_from(["any", "all"]) | st.integers(1, len(members)).map(str),
        )
        name = f"g{index}"
        groups.append((name, k, members))
        free = [n for n in free if n not in members] + [name]
        defined.append(name)
    quorum = draw(st.sampled_from([NONE, *defined]))
    return count, groups, quorum


@given(_descriptions())
def test_satisfaction_matches_reference(description: Description) -> None:
    policy = parse_policy(_render(description))
    count = description[0]
    for bits in itertools.product((False, True), repeat=count):
        present = {NAMES[i] for i in range(count) if bits[i]}
        expected = _reference(description, present)
        assert policy_satisfied(policy, present) == expected
        keys: Iterable[VerifyingKey] = (WITNESSES[n].public for n in present)
        assert evaluate_policy(policy, keys).satisfied == expected
