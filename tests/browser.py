"""Run headless Chromium on a local HTML file: a screenshot, or the DOM after parsing.

For the page tests only. Chromium runs offline (no background networking, every host name
resolves to nothing), in a fresh profile directory, in its own process group, and is killed
with its children when it exceeds its time limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 120.0
_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # the page must need no network: make sure
)


def available() -> bool:
    """True when the Chromium binary is installed (Debian package ``chromium``)."""
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def screenshot(page: Path, png: Path, *, width: int = 1200, height: int = 2000) -> None:
    """Render ``page`` in a ``width`` x ``height`` window and write the screenshot to ``png``.

    Raises:
        RuntimeError: Chromium failed, timed out, or wrote no file.
    """
    _run(f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri())
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after Chromium parsed it, serialised as HTML.

    Raises:
        RuntimeError: Chromium failed or timed out.
    """
    return _run("--dump-dom", page.resolve().as_uri())


def _run(*args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *args]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one process group: Chromium and its helpers
        )
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise RuntimeError(f"chromium took longer than {TIMEOUT:.0f}s") from None
        finally:
            # Helpers left behind by the browser we started (its own process group only).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if process.returncode != 0:
            tail = err.decode(errors="replace")[-2000:]
            raise RuntimeError(f"chromium exited with {process.returncode}: {tail}")
        return out.decode("utf-8")
