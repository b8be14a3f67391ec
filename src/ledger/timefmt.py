"""Times as people read them: RFC 3339 in UTC."""

from __future__ import annotations

import time
from typing import Final

MAX_DISPLAY_TIME: Final = 253_402_300_800  # 10000-01-01T00:00:00Z


def format_time(seconds: int) -> str:
    """RFC 3339 UTC time, e.g. ``2021-01-19T10:00:00Z`` (raw seconds past the year 9999)."""
    if not 0 <= seconds < MAX_DISPLAY_TIME:
        return f"{seconds}s after 1970"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
