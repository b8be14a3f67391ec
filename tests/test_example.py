"""The bundled example: its ledger and its published bundle verify, from disk and over HTTP.

The bundle in docs/example/bundle is served from a real HTTP server on the loopback interface
and verified by URL, as a journalist would verify a campaign's site.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli.main import cli
from click.testing import CliRunner

import ledger

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "example"
STATEMENT = (EXAMPLE / "statement.txt").read_bytes()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def bundle_url() -> Iterator[str]:
    """The example bundle served on 127.0.0.1 (port chosen by the system)."""
    handler = functools.partial(_Quiet, directory=str(EXAMPLE / "bundle"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_example_ledger_file_verifies() -> None:
    report = ledger.check_ledger_file(EXAMPLE / "ledger.db", statement=STATEMENT)
    assert report.ok, report.problems
    assert report.statement_checked is True
    assert len(report.signatories) == 23
    assert [d.how for d in report.departed] == ["withdrawn"]


def test_example_bundle_verifies_from_a_directory() -> None:
    report = ledger.check_location(EXAMPLE / "bundle", statement=STATEMENT)
    assert report.ok, report.problems
    assert "bundle" in report.checks_run


def test_example_bundle_verifies_from_a_loopback_url(bundle_url: str) -> None:
    report = ledger.check_location(bundle_url, statement=STATEMENT)
    assert report.ok, report.problems
    assert report.checkpoint is not None
    assert report.checkpoint.size == report.size == 27
    names = {s.name for s in report.signatories}
    assert "Save the Children (demo key)" in names


def test_example_bundle_through_the_cli(bundle_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["verify", bundle_url, "--statement", str(EXAMPLE / "statement.txt")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"VERIFIED: {bundle_url}: 27 entries, 23 current signatories")
    assert "[  ok] bundle" in result.output


def test_example_page_is_the_one_publish_generates() -> None:
    # The pages are regenerated and compared by verify; here: the list names every signatory,
    # and index.html links to it.
    index = (EXAMPLE / "bundle" / "index.html").read_text(encoding="utf-8")
    assert '<a href="list/0.html">entries 0 to 26</a>' in index
    page = (EXAMPLE / "bundle" / "list" / "0.html").read_text(encoding="utf-8")
    report = ledger.check_ledger_file(EXAMPLE / "ledger.db")
    for signatory in report.signatories:
        assert signatory.fingerprint in page
