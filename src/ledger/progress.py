"""Progress reports of long operations: a callback the caller may give, nothing else.

The library never draws anything: ``verify``, ``publish``, ``fetch`` and ``append`` call
``progress(done, total)`` now and then (every ``PROGRESS_EVERY`` items, and once at the end with
``done == total``), and the command line decides whether and how to show it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

Progress: TypeAlias = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` of ``total`` items (entries, files) are processed."""

PROGRESS_EVERY: Final = 1024
