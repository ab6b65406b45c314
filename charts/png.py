"""PNG exports, drawn by kaleido 1.x in a headless Chromium started for each image.

A browser is a heavy child process, so rendering is bounded: one image at a time per
process (a second request waits a little, then gets 503), a timeout on the whole render,
and afterwards any process still holding the render's own profile directory is killed by
its id, so a stuck or crashed Chromium never lingers. MathJax is off: kaleido would fetch it
from a CDN, which a server without internet access waits on until the timeout.

Without a browser the export is refused up front with a sentence saying so (503), and the
pages grey the PNG button out with the same sentence (`png_unavailable`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import plotly.graph_objects as go

log = logging.getLogger("slowquery.charts")

RENDER_TIMEOUT_SECONDS = 45.0
WAIT_FOR_TURN_SECONDS = 20.0
DEFAULT_WIDTH = 1200
DEFAULT_HEIGHT = 500
SCALE = 2
_TURN = threading.Lock()


class PngUnavailable(Exception):
    """A PNG cannot be drawn now; `message` is one sentence for the user, `status` HTTP's."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def find_browser(configured: Path | None) -> str | None:
    """The Chromium to start: PNG_BROWSER when set (and only it), else what kaleido's
    choreographer would find (BROWSER_PATH, then chromium/chrome on the PATH)."""
    if configured is not None:
        path = str(configured)
    else:
        from choreographer.browsers.chromium import Chromium

        try:
            path = Chromium.find_browser(skip_local=False) or ""
        except (OSError, RuntimeError, ValueError):
            path = ""
    if path and not os.path.isabs(path):
        path = shutil.which(path) or ""
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def png_unavailable(configured: Path | None) -> str | None:
    """Why PNG export cannot work on this server, or None when a browser is there."""
    if find_browser(configured) is not None:
        return None
    if configured is not None:
        return (f"PNG export needs Chromium, and PNG_BROWSER ({configured}) is not an "
                "executable file: install chromium or correct PNG_BROWSER.")
    return ("PNG export needs Chromium on the server, and none was found: install chromium "
            "(or set PNG_BROWSER to its path).")


def _size(figure: go.Figure, fixed_size: bool) -> tuple[int, int]:
    width = figure.layout.width if fixed_size and figure.layout.width else DEFAULT_WIDTH
    return int(width), int(figure.layout.height or DEFAULT_HEIGHT)


async def _render(figure: go.Figure, browser: str, profile: str, width: int,
                  height: int) -> bytes:
    import kaleido

    async with kaleido.Kaleido(n=1, timeout=RENDER_TIMEOUT_SECONDS, mathjax=False,
                               path=browser, tmp_dir=profile) as renderer:
        return await renderer.calc_fig(figure, opts={"format": "png", "width": width,
                                                     "height": height, "scale": SCALE})


def _kill_leftovers(profile: str) -> int:
    """Kill (by id) processes still running with this render's profile directory."""
    killed = 0
    marker = f"--user-data-dir={profile}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in command:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def _run(figure: go.Figure, browser: str, width: int, height: int) -> bytes:
    """Render in a thread of its own (its own event loop, whatever the server runs)."""
    outcome: dict[str, object] = {}
    profile = tempfile.mkdtemp(prefix="slowquery-png-")

    def work() -> None:
        try:
            outcome["png"] = asyncio.run(asyncio.wait_for(
                _render(figure, browser, profile, width, height), RENDER_TIMEOUT_SECONDS))
        except BaseException as exc:  # reported below, in the request's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="png-export", daemon=True)
    worker.start()
    worker.join(RENDER_TIMEOUT_SECONDS + 15)
    if _kill_leftovers(profile):
        log.warning("PNG export: killed a browser left running after the render")
    shutil.rmtree(profile, ignore_errors=True)
    png = outcome.get("png")
    if isinstance(png, bytes):
        return png
    error = outcome.get("error")
    if worker.is_alive() or isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        raise PngUnavailable(f"drawing the PNG took longer than "
                             f"{RENDER_TIMEOUT_SECONDS:.0f} s and was stopped; try again")
    log.warning("PNG export failed: %s", f"{type(error).__name__}: {str(error)[:200]}"
                if error else "no image")
    raise PngUnavailable("the browser could not draw this PNG; the HTML export shows the "
                         "same chart")


def render_png(figure: go.Figure, configured: Path | None, fixed_size: bool = False) -> bytes:
    """The figure as PNG bytes (twice its pixel size, for sharp screens); PngUnavailable
    (503) without a browser, while another image is drawn too long, or on a failed render."""
    reason = png_unavailable(configured)
    browser = find_browser(configured)
    if reason is not None or browser is None:
        raise PngUnavailable(reason or "PNG export needs Chromium on the server.")
    if not _TURN.acquire(timeout=WAIT_FOR_TURN_SECONDS):
        raise PngUnavailable("another PNG is being drawn right now; try again in a minute")
    try:
        width, height = _size(figure, fixed_size)
        return _run(figure, browser, width, height)
    finally:
        _TURN.release()
