"""The bundle page in a real browser: headless Chromium renders it, and the result is checked.

The screenshot is decoded here (zlib and struct, no imaging library) to see that the page draws
dark text on a light background; ``--dump-dom`` shows what the browser built from the markup:
every signatory's name as text, and no script element even for a hostile name. Skipped when
Chromium is not installed (CI installs the Debian package ``chromium``).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

import browser
import ledger
from ledger.findings import Report, Signatory
from ledger.html import render_index_html
from ledger.model import Genesis

pytestmark = pytest.mark.skipif(
    not browser.available(),
    reason=f"{browser.CHROMIUM} is missing (apt-get install -y chromium)",
)

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "example"
WIDTH, HEIGHT = 1200, 2000
HOSTILE = '<script>document.title="pwned"</script>"><img src=x onerror=alert(1)>\u202eevil'


def read_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG: (width, height, channels, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, header, idat = 8, b"", bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), (depth, interlace)
    channels = {2: 3, 6: 4}[color]
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        rows.append(bytes(line))
        previous = rows[-1]
    return width, height, channels, rows


def _unfilter(kind: int, line: bytearray, up: bytes, bpp: int) -> None:
    """Undo one PNG row filter in place (PNG spec §9.2)."""
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, up, strict=True))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        upper = up[i]
        corner = up[i - bpp] if i >= bpp else 0
        if kind == 1:
            predictor = left
        elif kind == 3:
            predictor = (left + upper) >> 1
        else:
            p = left + upper - corner
            pa, pb, pc = abs(p - left), abs(p - upper), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else upper if pb <= pc else corner
        line[i] = (line[i] + predictor) & 0xFF


def example_page(tmp_path: Path) -> tuple[Path, Report]:
    report = ledger.check_ledger_file(EXAMPLE / "ledger.db")
    assert report.ok
    text = (EXAMPLE / "statement.txt").read_text(encoding="utf-8")
    page = render_index_html(
        report, statement_text=text, checkpoint=None, source_hint="https://example.org/letter/"
    )
    path = tmp_path / "index.html"
    path.write_text(page, encoding="utf-8")
    return path, report


def test_example_page_renders_dark_text_on_light_background(tmp_path: Path) -> None:
    page, _ = example_page(tmp_path)
    png = tmp_path / "page.png"
    browser.screenshot(page, png, width=WIDTH, height=HEIGHT)
    width, height, channels, rows = read_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    dark = light = 0
    for row in rows[::4]:  # every fourth row is plenty to measure the page
        for x in range(0, len(row), channels * 2):
            luma = (299 * row[x] + 587 * row[x + 1] + 114 * row[x + 2]) // 1000
            dark += luma < 100
            light += luma > 200
    sampled = len(rows[::4]) * len(range(0, WIDTH * channels, channels * 2))
    assert dark / sampled > 0.01, f"only {dark} of {sampled} sampled pixels are dark: blank page?"
    assert light / sampled > 0.5, f"only {light} of {sampled} sampled pixels are light"


def test_example_page_dom_has_title_and_every_signatory(tmp_path: Path) -> None:
    page, report = example_page(tmp_path)
    dom = browser.dump_dom(page)
    assert report.genesis is not None
    assert f"<title>{report.genesis.title}: signatories</title>" in dom
    assert f"<h1><bdi>{report.genesis.title}</bdi></h1>" in dom
    assert len(report.signatories) == 23  # 22 listed organisations and one fictional one
    for s in report.signatories:
        assert f"<bdi>{s.name}</bdi>" in dom, s.name
    assert "<script" not in dom


def test_hostile_name_stays_text_in_the_browser(tmp_path: Path) -> None:
    genesis = Genesis(
        title="Our letter", statement_text="Text.\n", origin="example.org/x", log_key="k+00+AA"
    )
    hostile = Signatory(
        seq=1,
        name=HOSTILE,
        domain=None,
        url=None,
        country=None,
        fingerprint="AAAA-BBBB",
        key_id=bytes(32),
        signed_at=1_700_000_000,
        recorded_at=1_700_000_001,
    )
    report = Report(
        size=2,
        root=bytes(32),
        genesis=genesis,
        statement_hash=bytes(32),
        statement_checked=None,
        problems=(),
        problems_truncated=False,
        signatories=(hostile,),
    )
    path = tmp_path / "index.html"
    path.write_text(
        render_index_html(report, statement_text="Text.\n", checkpoint=None, source_hint="x"),
        encoding="utf-8",
    )
    dom = browser.dump_dom(path)
    assert "<script" not in dom
    assert "<img" not in dom
    assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]
    # The serialised DOM escapes <, > and & in text: the name is there, literally, as text.
    shown = ledger.inert(HOSTILE, len(HOSTILE))
    serialised = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<bdi>{serialised}</bdi>" in dom


def test_example_bundle_pages_link_and_list_every_signatory() -> None:
    # The published bundle splits the list into pages of entries: index.html links to them.
    report = ledger.check_ledger_file(EXAMPLE / "ledger.db")
    index = browser.dump_dom(EXAMPLE / "bundle" / "index.html")
    assert '<a href="list/0.html">entries 0 to 26</a>' in index
    assert "<script" not in index
    page = browser.dump_dom(EXAMPLE / "bundle" / "list" / "0.html")
    assert '<a href="../index.html">' in page
    for s in report.signatories:
        assert f"<bdi>{s.name}</bdi>" in page, s.name
    for d in report.departed:
        assert f"<bdi>{d.name}</bdi>" in page, d.name
    assert "<script" not in page
