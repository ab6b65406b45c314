"""Regenerate docs/overview.png and docs/compare.png from the demo, in headless Chromium.

Run from the repository root: `.venv/bin/python docs/make_demo_screenshots.py`. It starts
`python app.py --demo` in a scratch directory on a free port, waits for its two months to be
collected, and photographs the Overview and the Compare page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402

from tests.servers import free_port  # noqa: E402

SHOTS = (("/", "overview.png", 1500, 1500), ("/compare", "compare.png", 1500, 1050))


def _collected(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/cloudwatch/runs", timeout=2) as answer:
            runs = json.loads(answer.read())["runs"]
    except OSError:
        return False
    return len(runs) >= 2 and all(r["status"] == "completed" for r in runs)


@contextmanager
def demo_and_browser(width: int = 1400, height: int = 1000
                     ) -> Iterator[tuple[str, Path, webdriver.Chrome]]:
    """`python app.py --demo` on a free port with its two months collected, and a headless
    Chromium: (the demo's URL, its scratch directory, the driver). Shared by the scripts of
    docs/ that photograph the demo."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    scratch = Path(tempfile.mkdtemp())
    demo = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--demo"], cwd=scratch,
                            env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        deadline = time.monotonic() + 120
        while not _collected(url):
            if time.monotonic() > deadline:
                raise SystemExit("the demo did not finish collecting within 120 s")
            time.sleep(1)
        yield url, scratch, driver
    finally:
        driver.quit()
        demo.terminate()
        demo.wait(30)


def main() -> None:
    with demo_and_browser() as (url, _scratch, driver):
        for path, name, width, height in SHOTS:
            driver.set_window_size(width, height)
            driver.get(url + path)
            time.sleep(6)
            driver.save_screenshot(str(ROOT / "docs" / name))
            print(f"docs/{name}")


if __name__ == "__main__":
    main()
