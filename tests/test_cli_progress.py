"""The progress bar: on stderr, only on a terminal, never with --json; stdout never changes.

``CliRunner`` streams are not terminals, so without help no bar may appear; with
``stderr_is_terminal`` made true (as on a terminal) the bar is drawn on stderr, and stdout
stays byte for byte what a script reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli import progress
from cli.main import cli
from click.testing import CliRunner, Result

from helpers import LOG_KEY, T0, make_ledger, org_endorsement


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    with make_ledger(tmp_path / "l.db", 5) as book:
        book.checkpoint(LOG_KEY, now=T0 + 100)
    return tmp_path / "l.db"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)


@pytest.mark.parametrize("extra", [(), ("--json",)])
def test_verify_on_a_terminal_draws_on_stderr_only(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    piped = run("verify", ledger_file, *extra)
    assert piped.exit_code == 0
    assert piped.stderr == ""  # not a terminal: nothing drawn
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    shown = run("verify", ledger_file, *extra)
    assert shown.exit_code == 0
    assert shown.stdout == piped.stdout  # byte for byte
    if extra:
        assert shown.stderr == ""  # --json: never a bar
    else:
        assert "\rverifying [" in shown.stderr
        assert "100%  6 / 6" in shown.stderr
        assert shown.stderr.endswith("\r")  # the line is cleared at the end


@pytest.mark.usefixtures("terminal")
def test_publish_and_fetch_on_a_terminal(ledger_file: Path, tmp_path: Path) -> None:
    published = run("publish", ledger_file, "--out", tmp_path / "b")
    assert published.exit_code == 0, published.stderr
    assert "\rverifying [" in published.stderr
    fetched = run("fetch", tmp_path / "b", tmp_path / "mirror")
    assert fetched.exit_code == 0, fetched.stderr
    assert "\rfetching [" in fetched.stderr
    quiet = run("fetch", tmp_path / "b", tmp_path / "mirror2", "--json")
    assert quiet.exit_code == 0, quiet.stderr
    assert "\r" not in quiet.stderr  # --json: never a bar


def test_append_of_many_files_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ledger(tmp_path / "l.db", 0).close()
    files = []
    for number in range(1, 4):
        path = tmp_path / f"org{number}.cose"
        path.write_bytes(org_endorsement(number))
        files.append(path)
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    result = run("append", tmp_path / "l.db", *files, "--time", str(T0 + 10))
    assert result.exit_code == 0, result.stderr
    assert "\rchecking [" in result.stderr
    assert result.stdout == "".join(f"entry {n}: {files[n - 1]}\n" for n in range(1, 4))


def test_the_bar_is_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stream:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    stream = Stream()
    bar = progress._Bar("x", stream)  # type: ignore[arg-type]
    clock = iter([10.0, 10.01, 10.02, 10.5])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    for done in (0, 1, 2):
        bar(done, 10)
    assert stream.text.count("\r") == 1  # within 0.1 s: drawn once
    bar(10, 10)  # the end is always drawn
    assert stream.text.count("\r") == 2
    assert "100%  10 / 10" in stream.text
