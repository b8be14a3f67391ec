"""A progress bar on stderr for long commands: only on a terminal, never with ``--json``.

The library reports progress through a callback (``ledger.Progress``); this draws it, at most
ten times a second, on one line that is cleared when the command is done. Piped, redirected or
with ``--json`` nothing is drawn, so what a script reads never changes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, TextIO

from ledger import Progress

WIDTH: Final = 30
INTERVAL: Final = 0.1  # seconds between two drawings


def stderr_is_terminal() -> bool:
    """True when stderr is a terminal (a person is watching)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Bar:
    """``label [#####.....]  45%  4,500 / 10,000`` redrawn in place."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.last = 0.0
        self.drawn = 0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < INTERVAL:
            return
        self.last = now
        share = 1.0 if total <= 0 else min(1.0, done / total)
        filled = round(WIDTH * share)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}  "
            f"{done:,} / {total:,}"
        )
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()


@contextmanager
def progress_bar(label: str, *, enabled: bool = True) -> Iterator[Progress | None]:
    """A progress callback drawing on stderr, or None when it must stay quiet.

    Args:
        label: what is being done ("verifying").
        enabled: False for ``--json`` (and any machine-read output).
    """
    if not enabled or not stderr_is_terminal():
        yield None
        return
    bar = _Bar(label, sys.stderr)
    try:
        yield bar
    finally:
        bar.close()
