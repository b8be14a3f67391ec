"""Verification reports for people (plain text) and for programs (versioned JSON).

Text from endorsements is displayed through ``inert``: whatever an organisation named itself,
the terminal shows characters, never control sequences or reordered text.
"""

from __future__ import annotations

import time
import unicodedata
from typing import Any, Final

from ledger.verify import CHECKS, Report, Signatory

REPORT_SCHEMA: Final = "endorsement-ledger/verify-report/v1"

CHECK_TEXT: Final = {
    "encoding": "every entry is in the one canonical encoding of the format",
    "sequence": "sequence numbers run from 0 without gaps or repeats",
    "links": "every entry holds the hash of the entry before it (hash chain)",
    "statement": "one statement hash throughout, the SHA-256 of the statement text",
    "signatures": "every endorsement is signed by the key it names, for this statement",
    "signers": "no key has more than one live endorsement",
    "times": "record times never go backwards",
}

NOT_PROVEN: Final = (
    "that a key belongs to the organisation it names: no evidence of key publication by the "
    "organisations was checked, so every identity is self-asserted",
    "that the person who signed had authority to commit the organisation",
    "that this copy is the one everyone else sees, or that no entries were cut from its end "
    "(compare a signed checkpoint you saved earlier)",
    "the times: 'signed' is the organisation's own claim, 'recorded' the log's",
)


def inert(text: str, limit: int = 200) -> str:
    """Make text safe to print: escape controls, bidi and format characters; cap the length."""
    out = []
    for char in text[:limit]:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out) + ("…" if len(text) > limit else "")


def format_time(seconds: int) -> str:
    """RFC 3339 UTC time, e.g. ``2021-01-19T10:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def render_text(report: Report, source: str) -> str:
    """The plain-language report: verdict, what was checked, what is not proven, signatories."""
    lines: list[str] = []
    count = len(report.signatories)
    if report.ok:
        lines.append(
            f"VERIFIED: {inert(source)}: {report.size} entries, {count} current signatories"
        )
    else:
        lines.append(
            f"DOES NOT VERIFY: {inert(source)}: {len(report.problems)} problem(s) in "
            f"{report.size} entries"
        )
    if report.genesis is not None and report.statement_hash is not None:
        lines += [
            "",
            f"Statement: {inert(report.genesis.title)}",
            f"  sha256:{report.statement_hash.hex()}",
            f"  log origin: {inert(report.genesis.origin)}",
        ]
    lines += ["", "What was checked:"]
    for check in CHECKS:
        mark = "FAIL" if check in report.failed_checks else "ok"
        lines.append(f"  [{mark:>4}] {check:<10} {CHECK_TEXT[check]}")
    if report.statement_checked is not None:
        mark = "ok" if report.statement_checked else "FAIL"
        lines.append(f"  [{mark:>4}] {'text':<10} the statement text you gave is the ledger's")
    if report.problems:
        lines += ["", "Problems:"]
        lines += [f"  {inert(str(problem), 400)}" for problem in report.problems]
        if report.problems_truncated:
            lines.append("  (more problems were found; only the first ones are listed)")
    lines += ["", "What this does not prove:"]
    lines += [f"  - {item}" for item in NOT_PROVEN]
    lines += ["", f"Signatories ({count}, verified entries only):"]
    lines += [f"  {_signatory_line(s)}" for s in report.signatories]
    if not report.signatories:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def _signatory_line(s: Signatory) -> str:
    extra = ", ".join(inert(part) for part in (s.domain, s.country) if part)
    where = f" ({extra})" if extra else ""
    return (
        f"#{s.seq:<4} {inert(s.name)}{where}  key {s.fingerprint}  "
        f"signed {format_time(s.signed_at)}  recorded {format_time(s.recorded_at)}"
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
        "identity": "self-asserted",
    }


def report_json(report: Report, source: str) -> dict[str, Any]:
    """The machine-readable report, schema ``endorsement-ledger/verify-report/v1``."""
    genesis = report.genesis
    return {
        "schema": REPORT_SCHEMA,
        "source": source,
        "verified": report.ok,
        "size": report.size,
        "statement_hash": None
        if report.statement_hash is None
        else f"sha256:{report.statement_hash.hex()}",
        "title": None if genesis is None else genesis.title,
        "origin": None if genesis is None else genesis.origin,
        "log_key": None if genesis is None else genesis.log_key,
        "checks": {
            check: "failed" if check in report.failed_checks else "passed" for check in CHECKS
        },
        "statement_text_matches": report.statement_checked,
        "problems": [
            {"entry": p.seq, "check": p.check, "message": p.message} for p in report.problems
        ],
        "problems_truncated": report.problems_truncated,
        "not_proven": list(NOT_PROVEN),
        "signatories": [signatory_json(s) for s in report.signatories],
    }
