"""Verification reports for people (plain text) and for programs (versioned JSON).

Text from endorsements is displayed through ``inert``: whatever an organisation named itself,
the terminal shows characters, never control sequences or reordered text.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterator
from itertools import chain
from typing import Any, Final

from ledger.findings import CHECKS, Departure, Report, Signatory
from ledger.model import CheckpointInfo
from ledger.timefmt import format_time

REPORT_SCHEMA: Final = "endorsement-ledger/verify-report/v1"

CHECK_TEXT: Final = {
    "encoding": "every entry is in the one canonical encoding of the format",
    "sequence": "sequence numbers run from 0 without gaps or repeats",
    "links": "every entry holds the hash of the entry before it (hash chain)",
    "statement": "one statement hash throughout, the SHA-256 of the statement text",
    "signatures": "every endorsement is signed by the key it names, for this statement",
    "signers": "every change to the list is allowed: one live endorsement per organisation, "
    "withdrawals, rotations and revocations by the right keys, removals and closing by the "
    "log key, nothing after closing",
    "times": "record times never go backwards",
    "checkpoint": "the log signed a checkpoint whose Merkle root is the root of these entries",
    "consistency": "the ledger extends the checkpoint you saved: nothing rewritten or cut",
    "witnesses": "independent witnesses cosigned the checkpoint, as your policy requires",
    "bundle": "every published file matches the verified entries and checkpoint: tiles, "
    "entry bundles, statement.txt, log.pub and the generated views",
}

NOT_RUN_TEXT: Final = {
    "signers": "incremental mode does not re-check the list's rules; run a full check",
    "checkpoint": "the ledger has no signed checkpoint",
    "consistency": "give --checkpoint with a checkpoint you saved earlier",
    "witnesses": "give --policy with the witnesses you trust",
    "bundle": "only for a published bundle (a directory or URL)",
}

ALWAYS_NOT_PROVEN: Final = (
    "that a key belongs to the organisation it names, unless the list says 'identity "
    "confirmed': only then was the key found published on the organisation's own domain; "
    "otherwise the identity is self-asserted",
    "that the person who signed had authority to commit the organisation",
    "the times: 'signed' is the organisation's own claim, 'recorded' the log's",
)
NOT_PROVEN_WITHOUT: Final = {
    "checkpoint": "that the log stands by this list: without a signed checkpoint, anyone "
    "holding the file could have cut entries from its end or changed the last entry's "
    "record time",
    "consistency": "that no entry was removed or rewritten since you last looked: keep this "
    "checkpoint and give it with --checkpoint next time",
    "witnesses": "that everyone is shown the same list: only witness cosignatures (--policy) "
    "show that the log did not fork it",
}


def inert(text: str, limit: int = 200) -> str:
    """Make text safe to print: escape controls, bidi and format characters; cap the length."""
    out = []
    for char in text[:limit]:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out) + ("…" if len(text) > limit else "")


def check_status(report: Report, check: str) -> str:
    """``passed``, ``failed`` or ``not run`` for one of ``CHECKS``."""
    if check in report.failed_checks:
        return "failed"
    return "passed" if check in report.checks_run else "not run"


def not_proven(report: Report) -> list[str]:
    """What this verification does not establish, given the checks that ran."""
    missing = [
        text
        for check, text in NOT_PROVEN_WITHOUT.items()
        if check_status(report, check) != "passed"
    ]
    if report.checkpoint is not None and report.checkpoint.size < report.size:
        missing.append(
            f"that the log stands by the last {report.size - report.checkpoint.size} "
            "entries: they came after its latest signed checkpoint"
        )
    if report.mode == "incremental":
        missing.append(
            "who is on the list now: incremental mode checks the new entries' "
            "signatures and links, not the list they make; run a full check for it"
        )
    return [*ALWAYS_NOT_PROVEN[:2], *missing, ALWAYS_NOT_PROVEN[2]]


def render_text(report: Report, source: str) -> str:
    """The plain-language report: verdict, what was checked, what is not proven, signatories."""
    return "".join(iter_render_text(report, source))


def iter_render_text(report: Report, source: str) -> Iterator[str]:
    """``render_text`` line by line (each ending in a newline), for a list too long to hold
    as one string: the signatories are read from the report as they are written."""
    for line in chain(_head(report, source), _people(report)):
        yield line + "\n"


def _head(report: Report, source: str) -> Iterator[str]:
    yield from _verdict(report, source)
    yield from _checks(report)
    yield from _findings(report)
    yield from ("", "What this does not prove:")
    yield from (f"  - {item}" for item in not_proven(report))


def _verdict(report: Report, source: str) -> list[str]:
    count = len(report.signatories)
    if report.ok:
        lines = [f"VERIFIED: {inert(source)}: {report.size} entries, {count} current signatories"]
    else:
        lines = [
            f"DOES NOT VERIFY: {inert(source)}: {len(report.problems)} problem(s) in "
            f"{report.size} entries"
        ]
    if report.genesis is not None and report.statement_hash is not None:
        lines += [
            "",
            f"Statement: {inert(report.genesis.title)}",
            f"  sha256:{report.statement_hash.hex()}",
            f"  log origin: {inert(report.genesis.origin)}",
        ]
    if report.checkpoint is not None:
        lines.append(f"  checkpoint: {_checkpoint_line(report.checkpoint)}")
    return lines


def _checks(report: Report) -> list[str]:
    mode = (
        "every entry"
        if report.mode == "full"
        else f"incremental: entries from {report.entries_from} on, trusting your checkpoint "
        "for the ones before"
    )
    lines = ["", f"What was checked ({mode}):"]
    for check in CHECKS:
        status = check_status(report, check)
        mark = {"passed": "ok", "failed": "FAIL", "not run": "--"}[status]
        detail = CHECK_TEXT[check] if status != "not run" else f"not run: {NOT_RUN_TEXT[check]}"
        lines.append(f"  [{mark:>4}] {check:<11} {detail}")
    if report.statement_checked is not None:
        mark = "ok" if report.statement_checked else "FAIL"
        lines.append(f"  [{mark:>4}] {'text':<11} the statement text you gave is the ledger's")
    if report.policy_explanation:
        lines += ["", "Witness policy:"]
        lines += [f"  {inert(line, 300)}" for line in report.policy_explanation.splitlines()]
    return lines


def _findings(report: Report) -> Iterator[str]:
    if report.problems:
        yield from ("", "Problems:")
        yield from (f"  {inert(str(problem), 400)}" for problem in report.problems)
        if report.problems_truncated:
            yield "  (more problems were found; only the first ones are listed)"
    if report.flags:
        yield from ("", "Worth a look (not failures):")
        yield from (f"  {inert(str(flag), 400)}" for flag in report.flags)


def _people(report: Report) -> Iterator[str]:
    if report.mode == "incremental":
        yield from ("", "Signatories: not computed in incremental mode (run a full check).")
        return
    yield from ("", f"Signatories ({len(report.signatories)}, verified entries only):")
    if report.signatories:
        yield from (f"  {_signatory_line(s)}" for s in report.signatories)
    else:
        yield "  (none)"
    if report.departed:
        yield from ("", f"No longer on the list ({len(report.departed)}):")
        yield from (f"  {_departure_line(d)}" for d in report.departed)
    if report.closed_at is not None:
        yield from ("", f"The statement was closed to new signatories at entry {report.closed_at}.")


def _departure_line(d: Departure) -> str:
    how = {
        "withdrawn": "withdrawn by the organisation",
        "removed": "removed by the campaign",
        "revoked": "invalidated: its key was revoked",
    }.get(d.how, d.how)
    why = f" ({inert(d.reason)}{': ' + inert(d.note, 300) if d.note else ''})" if d.reason else ""
    return (
        f"#{d.seq:<4} {inert(d.name)}  key {d.fingerprint}  {how}{why} at entry "
        f"{d.ended_at_entry}, {format_time(d.when)}"
    )


def _checkpoint_line(cp: CheckpointInfo) -> str:
    witnesses = f", cosigned by {len(cp.witnesses)} witness(es)" if cp.witnesses else ""
    return f"size {cp.size}, root {_b64(cp.root)}{witnesses}"


def _signatory_line(s: Signatory) -> str:
    extra = ", ".join(inert(part) for part in (s.domain, s.country) if part)
    where = f" ({extra})" if extra else ""
    identity = (
        f"  identity confirmed: {inert(s.identity_note or '', 300)}"
        if s.identity == "confirmed"
        else "  self-asserted"
    )
    return (
        f"#{s.seq:<4} {inert(s.name)}{where}  key {s.fingerprint}  "
        f"signed {format_time(s.signed_at)}  recorded {format_time(s.recorded_at)}{identity}"
    )


def signatory_json(s: Signatory) -> dict[str, Any]:
    """One signatory as JSON (times as RFC 3339 strings and as integers)."""
    return {
        "entry": s.seq,
        "name": s.name,
        "domain": s.domain,
        "url": s.url,
        "country": s.country,
        "fingerprint": s.fingerprint,
        "key_id": s.key_id.hex(),
        "signed_at": format_time(s.signed_at),
        "signed_at_unix": s.signed_at,
        "recorded_at": format_time(s.recorded_at),
        "recorded_at_unix": s.recorded_at,
        "identity": s.identity,
        "identity_note": s.identity_note,
    }


def departure_json(d: Departure) -> dict[str, Any]:
    """One departure as JSON."""
    return {
        "entry": d.seq,
        "name": d.name,
        "fingerprint": d.fingerprint,
        "how": d.how,
        "ended_at_entry": d.ended_at_entry,
        "when": format_time(d.when),
        "when_unix": d.when,
        "reason": d.reason,
        "note": d.note,
    }


def checkpoint_json(cp: CheckpointInfo | None) -> dict[str, Any] | None:
    """A verified checkpoint as JSON (root in standard base64, as in the checkpoint text)."""
    if cp is None:
        return None
    return {
        "origin": cp.origin,
        "size": cp.size,
        "root": _b64(cp.root),
        "witnesses": [{"name": name, "timestamp": when} for name, when in cp.witnesses],
    }


def report_json(report: Report, source: str) -> dict[str, Any]:
    """The machine-readable report, schema ``endorsement-ledger/verify-report/v1``."""
    return {
        key: list(value) if key in _LISTS else value
        for key, value in _report_fields(report, source).items()
    }


def iter_report_json(report: Report, source: str) -> Iterator[str]:
    """``json.dumps(report_json(report, source), indent=2, ensure_ascii=False)`` in pieces.

    The same text, written as the lists are read (one piece per signatory, departure or
    flag), so a report of a million signatories is never held as one object or string.
    """
    yield "{"
    for number, (key, value) in enumerate(_report_fields(report, source).items()):
        yield f"{',' if number else ''}\n  {_dumps(key)}: "
        if key not in _LISTS:
            yield _indent(_dumps(value, indent=2), "  ")
            continue
        empty = True
        for item in value:
            yield f"{'[' if empty else ','}\n    {_indent(_dumps(item, indent=2), '    ')}"
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "\n}"


_LISTS: Final = frozenset({"signatories", "departed", "flags"})
"""The members of the JSON report whose length grows with the ledger."""


def _report_fields(report: Report, source: str) -> dict[str, Any]:
    # The members in schema order; the growing lists as iterators, read when written.
    genesis = report.genesis
    return {
        "schema": REPORT_SCHEMA,
        "source": source,
        "verified": report.ok,
        "mode": report.mode,
        "entries_from": report.entries_from,
        "size": report.size,
        "root": _b64(report.root),
        "statement_hash": None
        if report.statement_hash is None
        else f"sha256:{report.statement_hash.hex()}",
        "title": None if genesis is None else genesis.title,
        "origin": None if genesis is None else genesis.origin,
        "log_key": None if genesis is None else genesis.log_key,
        "checks": {check: check_status(report, check) for check in CHECKS},
        "statement_text_matches": report.statement_checked,
        "checkpoint": checkpoint_json(report.checkpoint),
        "saved_checkpoint": checkpoint_json(report.saved_checkpoint),
        "policy": report.policy_explanation,
        "problems": [
            {"entry": p.seq, "check": p.check, "message": p.message} for p in report.problems
        ],
        "problems_truncated": report.problems_truncated,
        "not_proven": not_proven(report),
        "signatories": map(signatory_json, report.signatories),
        "departed": map(departure_json, report.departed),
        "flags": ({"entry": f.seq, "message": f.message} for f in report.flags),
        "closed_at_entry": report.closed_at,
    }


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False)


def _indent(text: str, prefix: str) -> str:
    # json.dumps nests by indenting every line after the first; do the same one level down.
    return text.replace("\n", "\n" + prefix)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


__all__ = [
    "CHECK_TEXT",
    "REPORT_SCHEMA",
    "check_status",
    "checkpoint_json",
    "departure_json",
    "format_time",
    "inert",
    "iter_render_text",
    "iter_report_json",
    "not_proven",
    "render_text",
    "report_json",
    "signatory_json",
]
