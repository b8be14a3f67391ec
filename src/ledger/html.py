"""The bundle's human-readable pages (``index.html``, ``list/<k>.html``) and a Markdown summary.

Pure: values in, a string out; no clock, no I/O. The same inputs give the same bytes, so a
bundle verifier can regenerate ``index.html`` and compare (DESIGN §2, published bundle).

Every text that came from an endorsement, the genesis entry, a checkpoint or the caller goes
through ``_shown`` (control, format and bidirectional characters made visible with
``render.inert``) and then ``html.escape(quote=True)``; names sit in ``<bdi>`` so that a
right-to-left name cannot reorder the text around it. The pages have no script, no external
resource and no link out of the bundle (a bundle's pages link to each other by relative URLs),
and their Content-Security-Policy forbids every fetch, so they read the same offline, archived
or printed. The Markdown summary escapes the characters that would start
markup (links, images, code, emphasis, raw HTML).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shlex
from collections.abc import Iterator, Sequence
from typing import Final

from attrs import frozen

from ledger.findings import CHECKS, Departure, Problem, Report, Signatory
from ledger.model import CheckpointInfo
from ledger.note import parse_checkpoint, parse_note
from ledger.render import CHECK_TEXT, NOT_RUN_TEXT, check_status, inert, not_proven
from ledger.statement import format_statement_hash
from ledger.timefmt import format_time

CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE: Final = """
html{background:#fff;color:#1a1a1a}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
margin:0 auto;max-width:70rem;padding:1.5rem;overflow-wrap:anywhere}
h1{font-size:1.7rem;line-height:1.25;margin:.2rem 0 1rem}
h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f4f4f4;border:1px solid #ddd;padding:.7rem;white-space:pre-wrap}
.kicker{color:#555;text-transform:uppercase;letter-spacing:.06em;font-size:.8rem;margin:0}
.verdict{font-size:1.15rem;padding:.7rem 1rem;border-left:.4rem solid;margin:1rem 0}
.ok{background:#e8f5e9;border-color:#2e7d32}.fail{background:#fdecea;border-color:#c62828}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.statement{border-left:3px solid #999;padding:0 0 0 1rem;max-width:46rem}
.statement p{white-space:pre-wrap}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .4rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr{break-inside:avoid}col.n{width:4.5rem}col.key{width:12.5rem}
col.time{width:16rem}col.id{width:12rem}td.nw{white-space:nowrap}
.small{color:#555;font-size:.85rem}ul.checks{list-style:none;padding:0}ul.checks li{margin:.2rem 0}
.mark{display:inline-block;width:4.5rem;font-weight:600}.passed .mark{color:#2e7d32}
.failed .mark{color:#c62828}.not-run .mark{color:#777}.warn{color:#c62828;font-weight:600}
@media (max-width:700px){table,tbody,tr,td{display:block}thead,colgroup{display:none}
td{border:0;padding:.1rem 0}tr{border-bottom:1px solid #ddd;padding:.4rem 0}
td:first-child::before{content:"Entry "}}
@media print{body{max-width:none;padding:0;font-size:11pt}pre,.ok,.fail{background:none}
h2{break-after:avoid}}
"""
EMPTY_ROW: Final = '<tr><td colspan="5">(none)</td></tr>\n'
_JOINERS: Final = re.compile("([\u200c\u200d])")
_MD_SPECIAL: Final = frozenset("\\`*_[]~|$")
_MD_ENTITIES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HOW: Final = {
    "withdrawn": "withdrawn by the organisation",
    "removed": "removed by the campaign",
    "revoked": "key revoked",
}


def quotable_fingerprint(statement_hash: bytes, checkpoint: CheckpointInfo | None) -> str:
    """A short form of what the list is, to quote in an article and compare by eye.

    Args:
        statement_hash: the ledger's 32-byte statement hash.
        checkpoint: the signed checkpoint the list refers to, if any.

    Returns:
        e.g. ``sha256:c72ad930e1b5c02f… / size 23 / root 5MZ3q0xWbQv1h8Hc…``: the first 16
        hex digits of the statement hash (as ``sha256sum`` prints it), the checkpoint size, and
        the first 16 characters of its base64 root (as the checkpoint file shows it).
    """
    head = f"sha256:{statement_hash.hex()[:16]}…"
    if checkpoint is None:
        return f"{head} / no signed checkpoint"
    return f"{head} / size {checkpoint.size} / root {_b64(checkpoint.root)[:16]}…"


@frozen
class ListPages:
    """The list as a published bundle splits it: counts, and the pages that show it.

    Attributes:
        signatories: current signatories; departed: no longer on the list; flags: look-alike
            flags (each page lists its own).
        links: ``(relative URL, label)`` of each page, in order.
    """

    signatories: int
    departed: int
    flags: int
    links: tuple[tuple[str, str], ...]


def render_index_html(
    report: Report,
    *,
    statement_text: str,
    checkpoint: bytes | None,
    source_hint: str,
    pages: ListPages | None = None,
) -> str:
    """The bundle's ``index.html``: statement, verdict, signatories, checkpoint, how to verify.

    Args:
        report: the verification report of the ledger being published.
        statement_text: the canonical statement text (as in ``statement.txt``).
        checkpoint: the bundle's checkpoint (signed note bytes), if it has one.
        source_hint: where readers fetch the bundle from (URL or path), for the commands.
        pages: the list is on separate pages (a published bundle): the page links and the
            counts replace the lists of signatories, departures and flags, which ``report``
            then need not hold.

    Returns:
        A self-contained HTML document (no script, no external resource); deterministic.

    Raises:
        FormatError: ``checkpoint`` is not a well-formed checkpoint note.
    """
    return "".join(
        iter_index_html(
            report,
            statement_text=statement_text,
            checkpoint=checkpoint,
            source_hint=source_hint,
            pages=pages,
        )
    )


def iter_index_html(
    report: Report,
    *,
    statement_text: str,
    checkpoint: bytes | None,
    source_hint: str,
    pages: ListPages | None = None,
) -> Iterator[str]:
    """``render_index_html`` in pieces (one per signatory), to write a long list as it is read.

    Raises:
        FormatError: ``checkpoint`` is not a well-formed checkpoint note.
    """
    info, note_text = _checkpoint_of(report, checkpoint)
    title = _h(report.genesis.title if report.genesis else "Statement (title unknown)")
    digest = report.statement_hash
    facts = []
    if digest is not None:
        facts += [
            ("Statement hash", f"<code>{format_statement_hash(digest)}</code>"),
            ("Fingerprint", f"<code>{_h(quotable_fingerprint(digest, info))}</code>"),
        ]
    if report.genesis is not None:
        facts.append(("Log", f"<code>{_h(report.genesis.origin)}</code>"))
    facts.append(("Entries", str(report.size)))
    if report.closed_at is not None:
        facts.append(("Closed", f"to new signatories at entry {report.closed_at}"))
    not_proven_items = "".join(f"<li>{_h(item)}</li>\n" for item in not_proven(report))
    current = len(report.signatories) if pages is None else pages.signatories
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}: signatories</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        '<header>\n<p class="kicker">Signatory list · endorsement ledger</p>\n'
        f"<h1><bdi>{title}</bdi></h1>\n"
        f'<p class="verdict {"ok" if report.ok else "fail"}">{_h(_verdict(report, current))}<br>'
        '<span class="small">The publisher\'s verification when this page was made. Do not '
        "take the page's word for it: verify it yourself (below).</span></p>\n"
        f"{_facts(facts)}</header>\n<main>\n" + _statement_section(statement_text, digest)
    )
    if pages is None:
        yield from _signatories_section(report.signatories)
        yield from _departed_section(report.departed)
    else:
        yield _pages_section(pages)
    yield (
        _checkpoint_section(report, info, note_text)
        + _checks_section(report, pages)
        + _section("not-proven", "What this does not prove", f"<ul>\n{not_proven_items}</ul>\n")
        + _verify_section(digest, info, source_hint)
        + "</main>\n</body>\n</html>\n"
    )


def render_markdown(report: Report, *, source_hint: str) -> str:
    """A Markdown block a journalist can paste: verdict, fingerprint, signatories, caveats.

    Args:
        report: the verification report.
        source_hint: where readers fetch the ledger or bundle from.

    Returns:
        Markdown text; every text from the ledger is escaped so it stays literal text.
    """
    return "".join(iter_markdown(report, source_hint=source_hint))


def iter_markdown(report: Report, *, source_hint: str) -> Iterator[str]:
    """``render_markdown`` line by line (each ending in a newline), the list as it is read."""
    for line in _markdown_lines(report, source_hint):
        yield line + "\n"


def _markdown_lines(report: Report, source_hint: str) -> Iterator[str]:
    cp, digest = report.checkpoint, report.statement_hash
    lines = [f"**{_md(_verdict(report))}**", ""]
    if report.genesis is not None:
        lines.append(f"- Statement: {_md(report.genesis.title)}")
    if digest is not None:
        lines.append(f"- Statement hash: `{format_statement_hash(digest)}`")
        lines.append(f"- Fingerprint: `{quotable_fingerprint(digest, cp)}`")
    signed = "none signed" if cp is None else f"size {cp.size}, root `{_b64(cp.root)[:16]}…`"
    lines += [
        f"- Checkpoint: {signed}",
        f"- Signatories: {len(report.signatories)} current, {len(report.departed)} no longer",
        "",
        f"Signatories ({len(report.signatories)}):",
        "",
    ]
    yield from lines
    for s in report.signatories:
        where = "".join(f"; {_md(part)}" for part in (s.domain, s.country) if part)
        yield (
            f"- entry {s.seq}: {_md(s.name)}{where}; key {_md(s.fingerprint)}; "
            f"signed {format_time(s.signed_at)}; {_md(_identity(s))}"
        )
    if report.departed:
        yield from ("", f"No longer signatories ({len(report.departed)}):", "")
        yield from (
            f"- entry {d.seq}: {_md(d.name)}; {_md(_departure(d))}" for d in report.departed
        )
    yield from ("", "What this does not prove:", "")
    yield from (f"- {_md(item)}" for item in not_proven(report))
    yield from ("", "Verify it yourself:", "", "```", _command(source_hint))
    yield from ("sha256sum statement.txt", "```")


def _checkpoint_of(
    report: Report, checkpoint: bytes | None
) -> tuple[CheckpointInfo | None, str | None]:
    if checkpoint is None:
        return report.checkpoint, None
    note = parse_note(checkpoint)
    body = parse_checkpoint(note.text)
    return CheckpointInfo(body.origin, body.size, body.root), checkpoint.decode()


def _statement_section(text: str, digest: bytes | None) -> str:
    paragraphs = (p.strip("\n") for p in text.split("\n\n") if p.strip("\n"))
    body = "".join(f"<p>{_h(p, block=True)}</p>\n" for p in paragraphs)
    if digest is not None and hashlib.sha256(text.encode("utf-8", "replace")).digest() != digest:
        note = '<p class="warn">This text does not hash to the statement hash.</p>\n'
    else:
        note = (
            '<p class="small">This is the exact text whose SHA-256 is the statement hash; '
            "the bundle holds it as <code>statement.txt</code>.</p>\n"
        )
    return _section("statement", "Statement", f'<div class="statement">\n{body}</div>\n{note}')


def _signatories_section(signatories: Sequence[Signatory]) -> Iterator[str]:
    yield (
        f'<section id="signatories">\n<h2>Signatories ({len(signatories)})</h2>\n'
        '<table>\n<colgroup><col class="n"><col><col class="key"><col class="time">'
        '<col class="id"></colgroup>\n<thead><tr><th>Entry</th><th>Organisation</th>'
        "<th>Key fingerprint</th><th>Signed / recorded (UTC)</th><th>Identity</th></tr></thead>"
        "\n<tbody>\n"
    )
    for s in signatories:
        details = " · ".join(_h(part) for part in (s.domain, s.country, s.url) if part)
        yield (
            f"<tr><td>{s.seq}</td><td><bdi>{_h(s.name)}</bdi>"
            + (f'<br><span class="small"><bdi>{details}</bdi></span>' if details else "")
            + f'</td><td><code>{_h(s.fingerprint)}</code></td><td class="nw">signed '
            f"{format_time(s.signed_at)}<br>recorded {format_time(s.recorded_at)}</td>"
            f"<td><bdi>{_h(_identity(s))}</bdi></td></tr>\n"
        )
    yield ("" if signatories else EMPTY_ROW) + "</tbody>\n</table>\n</section>\n"


def _departed_section(departed: Sequence[Departure]) -> Iterator[str]:
    yield f'<section id="departed">\n<h2>No longer signatories ({len(departed)})</h2>\n'
    if not departed:
        yield "<p>No signatory has withdrawn, been removed or had its key revoked.</p>\n"
    else:
        yield "<ul>\n"
        yield from (
            f"<li>Entry {d.seq}: <bdi>{_h(d.name)}</bdi> (key <code>{_h(d.fingerprint)}</code>): "
            f"<bdi>{_h(_departure(d))}</bdi></li>\n"
            for d in departed
        )
        yield "</ul>\n"
    yield "</section>\n"


def _checkpoint_section(report: Report, info: CheckpointInfo | None, note: str | None) -> str:
    if info is None:
        return _section("checkpoint", "Checkpoint", "<p>The ledger has no signed checkpoint.</p>\n")
    origin, root = f"<code>{_h(info.origin)}</code>", f"<code>{_b64(info.root)}</code>"
    body = _facts([("Origin", origin), ("Size", f"{info.size} entries"), ("Root", root)])
    cp = report.checkpoint
    if cp is not None and (cp.origin, cp.size, cp.root) == (info.origin, info.size, info.root):
        body += "<p>The log's signature on this checkpoint verified.</p>\n" + "".join(
            f"<p>Cosigned by witness <bdi>{_h(name)}</bdi> at {format_time(when)}.</p>\n"
            for name, when in cp.witnesses
        )
    else:
        body += '<p class="warn">Not verified in the report this page was made from.</p>\n'
    if note is not None:
        body += f"<pre>{_h(note.rstrip(chr(10)), block=True)}</pre>\n"
    return _section("checkpoint", "Checkpoint", body)


def render_list_page(
    *,
    title: str,
    first: int,
    last: int | None,
    signatories: tuple[Signatory, ...],
    departed: tuple[Departure, ...],
    flags: tuple[Problem, ...],
    index_href: str,
) -> str:
    """One page of a published bundle's list: what became of the endorsements of some entries.

    Args:
        title: the statement's title (from the genesis entry).
        first, last: the entries the page covers (``last`` None: the latest page, open-ended).
        signatories: current signatories whose endorsement is one of those entries.
        departed: those entries' endorsements that are no longer on the list.
        flags: the look-alike flags of those entries.
        index_href: the relative URL of the bundle's ``index.html``.

    Returns:
        A self-contained HTML document (no script, no external resource); deterministic.
    """
    span = f"entries {first} to {last}" if last is not None else f"entries {first} and after"
    heading = _h(title)
    body = (
        f'<p><a href="{_h(index_href)}">Statement, verification and every page</a></p>\n'
        + "".join(_signatories_section(signatories))
        + "".join(_departed_section(departed))
    )
    if flags:
        items = "".join(f"<li><bdi>{_h(str(flag))}</bdi></li>\n" for flag in flags)
        body += _section("flags", f"Not failures, but worth a look ({len(flags)})", items)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{heading}: signatories, {span}</title>\n<style>{STYLE}</style>\n</head>\n"
        '<body>\n<header>\n<p class="kicker">Signatory list · endorsement ledger · '
        f"{span}</p>\n<h1><bdi>{heading}</bdi></h1>\n</header>\n<main>\n{body}</main>\n"
        "</body>\n</html>\n"
    )


def _pages_section(pages: ListPages) -> str:
    items = "".join(
        f'<li><a href="{_h(href)}">{_h(label)}</a></li>\n' for href, label in pages.links
    )
    flagged = (
        f"; {pages.flags} look-alike name(s) flagged (not failures, but worth a look)"
        if pages.flags
        else ""
    )
    body = (
        f"<p>{pages.signatories} current signatories; {pages.departed} no longer on the "
        f"list{flagged}. The list is shown by the entries that recorded the endorsements, "
        f"{len(pages.links)} page(s):</p>\n<ul>\n{items}</ul>\n"
    )
    return _section("signatories", f"Signatories ({pages.signatories})", body)


def _checks_section(report: Report, pages: ListPages | None = None) -> str:
    items = []
    for check in CHECKS:
        status = check_status(report, check)
        text = NOT_RUN_TEXT[check] if status == "not run" else CHECK_TEXT[check]
        items.append((status, text))
    if report.statement_checked is not None:
        status = "passed" if report.statement_checked else "failed"
        items.append((status, "the statement text given is the ledger's"))
    body = '<ul class="checks">\n' + "".join(
        f'<li class="{status.replace(" ", "-")}"><span class="mark">{status}</span>'
        f"{_h(text)}</li>\n"
        for status, text in items
    )
    body += "</ul>\n"
    if report.policy_explanation:
        body += f"<pre>{_h(report.policy_explanation, block=True)}</pre>\n"
    if report.problems:
        more = "<li>(more problems were found; only the first ones are listed)</li>\n"
        body += f"<h3>Problems ({len(report.problems)})</h3>\n<ul>\n" + "".join(
            f"<li><bdi>{_h(str(problem))}</bdi></li>\n" for problem in report.problems
        )
        body += (more if report.problems_truncated else "") + "</ul>\n"
    if pages is not None and pages.flags:
        body += (
            f"<h3>Not failures, but worth a look ({pages.flags})</h3>\n<p>Look-alike names: "
            "each page of the list shows its own.</p>\n"
        )
    elif report.flags:
        body += f"<h3>Not failures, but worth a look ({len(report.flags)})</h3>\n<ul>\n"
        body += "".join(f"<li><bdi>{_h(str(flag))}</bdi></li>\n" for flag in report.flags)
        body += "</ul>\n"
    mode = "every entry" if report.mode == "full" else f"entries from {report.entries_from} on"
    return _section("checks", f"What was checked ({mode})", body)


def _verify_section(digest: bytes | None, info: CheckpointInfo | None, source: str) -> str:
    body = (
        "<p>With the <code>ledger</code> command-line tool, one command checks every "
        "signature, the hash chain and the signed checkpoint:</p>\n"
        f"<pre>{_h(_command(source))}</pre>\n"
        "<p>The statement hash is the SHA-256 of <code>statement.txt</code>:</p>\n"
        "<pre>sha256sum statement.txt</pre>\n"
    )
    if digest is not None:
        body += f"<p>It must print <code>{digest.hex()}</code>.</p>\n"
    if info is not None:
        body += (
            "<p>Keep a copy of the checkpoint: next time, this shows whether anything was "
            f"rewritten or cut since:</p>\n<pre>{_h(_command(source))} --checkpoint "
            "saved-checkpoint</pre>\n"
        )
    return _section("verify", "Verify it yourself", body)


def _section(ident: str, heading: str, body: str) -> str:
    return f'<section id="{ident}">\n<h2>{heading}</h2>\n{body}</section>\n'


def _facts(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>\n" for name, value in pairs)
    return f'<dl class="facts">\n{rows}</dl>\n'


def _verdict(report: Report, current: int | None = None) -> str:
    count = len(report.signatories) if current is None else current
    if report.ok:
        return f"Verified: {report.size} entries, {count} current signatories"
    return (
        f"Does not verify: {len(report.problems)} problem(s) in {report.size} entries; "
        f"{count} signatories from the entries that verified"
    )


def _identity(s: Signatory) -> str:
    if s.identity == "confirmed":
        return f"identity confirmed: {s.identity_note}" if s.identity_note else "identity confirmed"
    return s.identity


def _departure(d: Departure) -> str:
    text = f"{_HOW.get(d.how, d.how)} (entry {d.ended_at_entry}, {format_time(d.when)})"
    if d.how == "revoked" and d.reason:
        return f"{text}, from {d.reason}"
    extra = ": ".join(part for part in (d.reason, d.note) if part)
    return f"{text}: {extra}" if extra else text


def _command(source_hint: str) -> str:
    return f"ledger verify {shlex.quote(_shown(source_hint))}"


def _shown(text: str) -> str:
    """``render.inert`` without a length cap, keeping the joiners that scripts need."""
    return "".join(
        part if _JOINERS.fullmatch(part) else inert(part, len(part))
        for part in _JOINERS.split(text)
    )


def _h(text: str, *, block: bool = False) -> str:
    """Escaped, inert text; a ``block`` keeps its line breaks and tabs (for pre-wrap text)."""
    if block:
        return "\n".join("\t".join(map(_h, line.split("\t"))) for line in text.split("\n"))
    return html.escape(_shown(text), quote=True)


def _md(text: str) -> str:
    out: list[str] = []
    for char in _shown(text):
        if char in _MD_ENTITIES:
            out.append(_MD_ENTITIES[char])
        elif char in _MD_SPECIAL or (char == "(" and out and out[-1] == "\\]"):
            out.append(f"\\{char}")
        else:
            out.append(char)
    return "".join(out)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
