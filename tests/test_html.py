"""The bundle page (``index.html``) and the Markdown summary: content, determinism, inertness.

Hostile organisation texts are built directly as ``Signatory`` values: the library refuses them
at signing, but the page must stay inert whatever a report holds.
"""

from __future__ import annotations

import html
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import attrs
import pytest

import ledger
from helpers import LOG_KEY, STATEMENT, make_ledger
from ledger.findings import Departure, Problem, Report, Signatory
from ledger.html import CSP, quotable_fingerprint, render_index_html, render_markdown
from ledger.model import CheckpointInfo, Genesis
from ledger.render import CHECK_TEXT, not_proven

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "example"
SOURCE = "https://example.org/letter/"

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAKOUT = '"><img src=x onerror=alert(1)>'
BIDI = "Good Org \u202eevil\u202c (\u2066x\u2069)"
LONG = "W" * 5000
AMPERSANDS = "Smith & \"Sons\" <Ltd> 'quoted' &amp; &#x3c;"
HOSTILE = (SCRIPT, ATTRIBUTE_BREAKOUT, BIDI, LONG, AMPERSANDS)

# Everything the page may contain: text structure and one inline style sheet.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "section", "h1", "h2",
    "h3", "p", "br", "span", "code", "pre", "dl", "dt", "dd", "ul", "li", "div", "bdi",
    "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "style"}


class PageParser(HTMLParser):
    """Collects tags, attributes, text and the style sheet of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self.metas: list[dict[str, str | None]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        self._in_style = tag == "style"
        if tag == "meta":
            self.metas.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def assert_inert(page: str) -> PageParser:
    """No active content, no URL, no hidden control or bidi character anywhere in ``page``."""
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    assert parsed.tags.count("style") == 1
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name not in URL_ATTRIBUTES, (tag, name, value)
        assert "url(" not in (value or "").lower(), (tag, name)
    style = "".join(parsed.styles).lower()
    assert "url(" not in style
    assert "@import" not in style
    assert "http" not in style
    for char in set(page) - {"\n", "\t"}:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"), hex(ord(char))
    return parsed


def signatory(seq: int, name: str, **fields: object) -> Signatory:
    values: dict[str, object] = {
        "seq": seq,
        "name": name,
        "domain": None,
        "url": None,
        "country": None,
        "fingerprint": "AAAA-BBBB-CCCC-DDDD",
        "key_id": bytes(32),
        "signed_at": 1_700_000_000 + seq,
        "recorded_at": 1_700_000_060 + seq,
    }
    values.update(fields)
    return Signatory(**values)  # type: ignore[arg-type]  # test values of any type


def built_report(
    signatories: tuple[Signatory, ...] = (),
    *,
    title: str = "Our letter",
    problems: tuple[Problem, ...] = (),
    departed: tuple[Departure, ...] = (),
    origin: str = "example.org/letter",
) -> Report:
    genesis = Genesis(
        title=title, statement_text=STATEMENT.decode(), origin=origin, log_key="unused+00+AA"
    )
    return Report(
        size=len(signatories) + 1,
        root=bytes(range(32)),
        genesis=genesis,
        statement_hash=ledger.statement_hash(STATEMENT),
        statement_checked=None,
        problems=problems,
        problems_truncated=False,
        signatories=signatories,
        departed=departed,
    )


def page_of(report: Report, *, checkpoint: bytes | None = None, source: str = SOURCE) -> str:
    return render_index_html(
        report, statement_text=STATEMENT.decode(), checkpoint=checkpoint, source_hint=source
    )


@pytest.fixture(scope="module")
def example() -> tuple[Report, str]:
    report = ledger.check_ledger_file(EXAMPLE / "ledger.db")
    return report, (EXAMPLE / "statement.txt").read_text(encoding="utf-8")


@pytest.fixture
def checkpointed(tmp_path: Path) -> tuple[Report, bytes]:
    """A ledger of three endorsements with a signed checkpoint, verified."""
    path = tmp_path / "letter.db"
    with make_ledger(path, 3) as book:
        note = book.checkpoint(LOG_KEY, now=1_700_000_100)
    report = ledger.check_ledger_file(path)
    assert report.ok
    assert report.checkpoint is not None
    return report, note


# --- the bundled example -------------------------------------------------------------------


def test_example_page_has_statement_signatories_and_commands(example: tuple[Report, str]) -> None:
    report, text = example
    page = render_index_html(report, statement_text=text, checkpoint=None, source_hint=SOURCE)
    parsed = assert_inert(page)
    assert report.statement_hash is not None
    assert f"sha256:{report.statement_hash.hex()}" in page
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert len(paragraphs) == 6
    for paragraph in paragraphs:
        assert f"<p>{html.escape(paragraph.strip(), quote=True)}</p>" in page
    for s in report.signatories:
        assert f"<bdi>{html.escape(s.name, quote=True)}</bdi>" in page
        assert s.fingerprint in page
    assert "ledger verify https://example.org/letter/" in page
    assert "sha256sum statement.txt" in page
    assert f"Signatories ({len(report.signatories)})" in page
    text_content = "".join(parsed.text)
    count = len(report.signatories)
    assert f"Verified: {report.size} entries, {count} current signatories" in text_content


def test_page_head_is_self_contained(example: tuple[Report, str]) -> None:
    report, text = example
    page = render_index_html(report, statement_text=text, checkpoint=None, source_hint=SOURCE)
    parsed = parse(page)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    csp = [m for m in parsed.metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert [m["content"] for m in csp] == [CSP]
    assert CSP.startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert parsed.tags.count("title") == 1
    assert "overflow-wrap:anywhere" in page
    assert "<script" not in page.lower()


def test_render_is_deterministic(example: tuple[Report, str]) -> None:
    report, text = example
    again = ledger.check_ledger_file(EXAMPLE / "ledger.db")
    first = render_index_html(report, statement_text=text, checkpoint=None, source_hint=SOURCE)
    second = render_index_html(again, statement_text=text, checkpoint=None, source_hint=SOURCE)
    assert first == second
    assert render_markdown(report, source_hint=SOURCE) == render_markdown(again, source_hint=SOURCE)


def test_all_checks_are_described_with_the_report_wording(example: tuple[Report, str]) -> None:
    report, text = example
    page = render_index_html(report, statement_text=text, checkpoint=None, source_hint=SOURCE)
    for check in ("encoding", "sequence", "links", "statement", "signatures", "signers"):
        assert f'<span class="mark">passed</span>{html.escape(CHECK_TEXT[check])}' in page
    # The example ledger is checkpointed: the checkpoint check passed; the saved-checkpoint and
    # witness checks did not run.
    assert f'<span class="mark">passed</span>{html.escape(CHECK_TEXT["checkpoint"])}' in page
    assert '<span class="mark">not run</span>' in page
    for item in not_proven(report):
        assert f"<li>{html.escape(item)}</li>" in page


# --- checkpoint ----------------------------------------------------------------------------


def test_checkpoint_fingerprint_is_shown(checkpointed: tuple[Report, bytes]) -> None:
    report, note = checkpointed
    page = page_of(report, checkpoint=note)
    assert_inert(page)
    cp = report.checkpoint
    assert cp is not None
    assert report.statement_hash is not None
    quotable = quotable_fingerprint(report.statement_hash, cp)
    assert html.escape(quotable) in page
    origin, size, root = note.decode().split("\n")[:3]
    assert f"<code>{origin}</code>" in page
    assert f"<dd>{size} entries</dd>" in page
    assert f"<code>{root}</code>" in page
    assert "The log's signature on this checkpoint verified." in page
    assert "--checkpoint saved-checkpoint" in page
    # The signed note itself, to save for next time.
    for line in note.decode().rstrip("\n").split("\n"):
        assert html.escape(line) in page
    assert page == page_of(report, checkpoint=note)


def test_checkpoint_from_the_report_when_no_bytes_are_given(
    checkpointed: tuple[Report, bytes],
) -> None:
    report, _ = checkpointed
    page = page_of(report)
    assert report.checkpoint is not None
    assert f"<dd>{report.checkpoint.size} entries</dd>" in page


def test_unverified_checkpoint_is_marked(checkpointed: tuple[Report, bytes]) -> None:
    report, note = checkpointed
    page = page_of(attrs.evolve(report, checkpoint=None), checkpoint=note)
    assert "Not verified in the report this page was made from." in page


def test_malformed_checkpoint_is_refused(checkpointed: tuple[Report, bytes]) -> None:
    report, _ = checkpointed
    with pytest.raises(ledger.FormatError):
        page_of(report, checkpoint=b"not a checkpoint\n")


def test_quotable_fingerprint_form() -> None:
    digest = bytes.fromhex("c72ad930fa2324c3" + "00" * 24)
    info = CheckpointInfo("example.org/letter", 23, bytes(range(32)))
    assert quotable_fingerprint(digest, info) == (
        "sha256:c72ad930fa2324c3… / size 23 / root AAECAwQFBgcICQoL…"
    )
    assert quotable_fingerprint(digest, None) == "sha256:c72ad930fa2324c3… / no signed checkpoint"


# --- verdicts, departures, identity --------------------------------------------------------


def test_verdict_of_a_failing_report() -> None:
    problems = (Problem(2, "signatures", "endorsement does not verify: bad signature"),)
    page = page_of(built_report((signatory(1, "Org 1"),), problems=problems))
    assert '<p class="verdict fail">Does not verify: 1 problem(s) in 2 entries' in page
    assert '<span class="mark">failed</span>' in page
    assert "entry 2: endorsement does not verify: bad signature" in page
    markdown = render_markdown(built_report(problems=problems), source_hint=SOURCE)
    assert markdown.startswith("**Does not verify: 1 problem(s) in 1 entries")


def test_verdict_of_a_passing_report() -> None:
    page = page_of(built_report((signatory(1, "Org 1"), signatory(2, "Org 2"))))
    assert '<p class="verdict ok">Verified: 3 entries, 2 current signatories' in page


def test_departed_signatories_with_status_and_reasons() -> None:
    departed = (
        Departure(4, "Left Org", "WWWW-1111-2222-3333", "withdrawn", 9, 1_700_000_900),
        Departure(
            5,
            "Spam Org",
            "RRRR-1111-2222-3333",
            "removed",
            10,
            1_700_001_000,
            reason="impersonation",
            note="the named organisation denies signing",
        ),
        Departure(
            6,
            "Lost Key Org",
            "KKKK-1111-2222-3333",
            "revoked",
            11,
            1_700_001_100,
            reason="2023-11-14T00:00:00Z",
        ),
    )
    report = built_report((signatory(1, "Org 1"),), departed=departed)
    page = page_of(report)
    assert_inert(page)
    assert "No longer signatories (3)" in page
    assert "<bdi>Left Org</bdi>" in page
    assert "withdrawn by the organisation (entry 9, 2023-11-14T22:28:20Z)" in page
    assert (
        "removed by the campaign (entry 10, 2023-11-14T22:30:00Z): impersonation: "
        "the named organisation denies signing"
    ) in page
    assert "key revoked (entry 11, 2023-11-14T22:31:40Z), from 2023-11-14T00:00:00Z" in page
    markdown = render_markdown(report, source_hint=SOURCE)
    assert "No longer signatories (3):" in markdown
    assert "- entry 5: Spam Org; removed by the campaign" in markdown


def test_flags_and_closing_are_shown() -> None:
    flag = Problem(2, "names", "name looks like entry 1's (Org 1 / 0rg 1)")
    report = attrs.evolve(
        built_report((signatory(1, "Org 1"), signatory(2, "0rg 1"))), flags=(flag,), closed_at=2
    )
    page = page_of(report)
    assert "Not failures, but worth a look (1)" in page
    assert "<li><bdi>entry 2: name looks like entry 1&#x27;s (Org 1 / 0rg 1)</bdi></li>" in page
    assert "<dt>Closed</dt><dd>to new signatories at entry 2</dd>" in page
    assert '<p class="verdict ok">' in page


def test_no_departures_says_so() -> None:
    assert "No signatory has withdrawn, been removed or had its key revoked." in page_of(
        built_report((signatory(1, "Org 1"),))
    )


def test_identity_confirmed_or_self_asserted() -> None:
    confirmed = signatory(
        1,
        "Org 1",
        domain="org1.example",
        identity="confirmed",
        identity_note="key published at https://org1.example/.well-known/ (2024-01-01)",
    )
    page = page_of(built_report((confirmed, signatory(2, "Org 2"))))
    assert (
        "<bdi>identity confirmed: key published at https://org1.example/.well-known/ "
        "(2024-01-01)</bdi>"
    ) in page
    assert "<bdi>self-asserted</bdi>" in page
    assert_inert(page)  # the note's URL is text, never a link


# --- hostile texts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE, ids=["script", "attribute", "bidi", "long", "amp"])
def test_hostile_names_are_inert(name: str) -> None:
    s = signatory(1, name, domain=name, country=name, url=name, identity_note=name)
    gone = Departure(2, name, name, "removed", 3, 1_700_000_500, reason=name, note=name)
    report = attrs.evolve(
        built_report((s,), title=name, departed=(gone,), origin=name),
        problems=(Problem(1, "signatures", name),),
        flags=(Problem(1, "names", name),),
        policy_explanation=f"{name}\n{name}",
    )
    page = page_of(report, source=name)
    parsed = assert_inert(page)
    shown = ledger.inert(name, len(name))
    assert f"<bdi>{html.escape(shown, quote=True)}</bdi>" in page
    assert shown in "".join(parsed.text)
    assert f"<title>{html.escape(shown, quote=True)}: signatories</title>" in page


def test_markup_names_appear_only_escaped() -> None:
    page = page_of(built_report((signatory(1, SCRIPT), signatory(2, ATTRIBUTE_BREAKOUT))))
    assert SCRIPT not in page
    assert ATTRIBUTE_BREAKOUT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page


def test_bidi_controls_are_shown_as_escapes() -> None:
    page = page_of(built_report((signatory(1, BIDI),)))
    assert "\u202e" not in page
    assert "\u2066" not in page
    assert "<bdi>Good Org \\u202eevil\\u202c (\\u2066x\\u2069)</bdi>" in page


def test_joiners_that_scripts_need_are_kept() -> None:
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # Persian, with a ZWNJ
    page = page_of(built_report((signatory(1, name),)))
    assert f"<bdi>{name}</bdi>" in page


def test_long_names_are_shown_whole_and_wrap() -> None:
    page = page_of(built_report((signatory(1, LONG),)))
    assert f"<bdi>{LONG}</bdi>" in page
    assert "overflow-wrap:anywhere" in page
    assert "table-layout:fixed" in page


def test_ampersands_and_quotes_are_escaped_once() -> None:
    page = page_of(built_report((signatory(1, AMPERSANDS),)))
    assert (
        "Smith &amp; &quot;Sons&quot; &lt;Ltd&gt; &#x27;quoted&#x27; &amp;amp; &amp;#x3c;"
    ) in page
    assert AMPERSANDS in "".join(parse(page).text)


def test_source_hint_is_quoted_for_the_shell() -> None:
    page = page_of(built_report(), source="https://example.org/a b?x=1&y=$(rm -rf ~)")
    assert "ledger verify &#x27;https://example.org/a b?x=1&amp;y=$(rm -rf ~)&#x27;" in page


# --- Markdown ------------------------------------------------------------------------------


def test_markdown_summary(checkpointed: tuple[Report, bytes]) -> None:
    report, _ = checkpointed
    assert report.statement_hash is not None
    assert report.checkpoint is not None
    markdown = render_markdown(report, source_hint=SOURCE)
    lines = markdown.splitlines()
    assert lines[0] == "**Verified: 4 entries, 3 current signatories**"
    assert f"- Statement hash: `sha256:{report.statement_hash.hex()}`" in lines
    fingerprint = quotable_fingerprint(report.statement_hash, report.checkpoint)
    assert f"- Fingerprint: `{fingerprint}`" in lines
    assert "- Signatories: 3 current, 0 no longer" in lines
    assert "Signatories (3):" in lines
    assert sum(line.startswith("- entry ") for line in lines) == 3
    assert "- Checkpoint: size 4, root `" in markdown
    for item in not_proven(report):
        assert item in markdown
    assert lines[-4:] == [
        "```",
        "ledger verify https://example.org/letter/",
        "sha256sum statement.txt",
        "```",
    ]


def test_markdown_of_the_example(example: tuple[Report, str]) -> None:
    report, _ = example
    markdown = render_markdown(report, source_hint=SOURCE)
    assert report.checkpoint is not None
    assert f"size {report.checkpoint.size}" in markdown
    assert f"Signatories ({len(report.signatories)}):" in markdown
    for s in report.signatories:
        assert s.fingerprint in markdown


@pytest.mark.parametrize("name", HOSTILE, ids=["script", "attribute", "bidi", "long", "amp"])
def test_markdown_escapes_hostile_names(name: str) -> None:
    tricky = f"{name} [click](https://evil.example) ![x](y) `code` *b* _i_ ~s~ | $m$ \\"
    report = built_report((signatory(1, tricky, domain=tricky, identity_note=tricky),))
    line = next(
        line
        for line in render_markdown(report, source_hint=SOURCE).splitlines()
        if line.startswith("- entry 1:")
    )
    assert "<" not in line
    assert "](" not in line
    assert "\u202e" not in line
    for char in "[]`*_~|$":
        for index, found in enumerate(line):
            if found == char:
                assert line[index - 1] == "\\", (char, line[max(0, index - 20) : index + 5])
    # Backslashes come only in escape pairs: "\\" then an escaped character.
    body = line.replace("\\\\", "")
    for index, found in enumerate(body):
        if found == "\\":
            assert body[index + 1] in "[]`*_~|$(", body[index : index + 3]
