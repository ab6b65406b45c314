"""Regenerate docs/casefile.png: a case file from the demo, opened from disk with no network.

Run from the repository root: `.venv/bin/python docs/make_casefile_screenshot.py`. It starts
`python app.py --demo` in a scratch directory on a free port, waits for its two months to be
collected, downloads the case file of orders-prd-1's heaviest statement (the one whose plan
flipped to a full scan) through the digest window's link route, opens the file in headless
Chromium with the network switched off, and photographs its Plans section.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from components.casefile_link import casefile_href  # noqa: E402
from docs.make_demo_screenshots import demo_and_browser  # noqa: E402

INSTANCE = "orders-prd-1"
WIDTH, HEIGHT = 1400, 1150


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def main() -> None:
    with demo_and_browser(WIDTH, HEIGHT) as (url, scratch, driver):
        period = _get(f"{url}/api/digests?instance_id={INSTANCE}&limit=1")["digests"][0][
            "period"]
        top = _get(f"{url}/api/digests?instance_id={INSTANCE}&period={period}&limit=1")
        digest = top["digests"][0]
        time.sleep(8)  # let the simulated real-time capture record the statement's new plan
        path = scratch / "casefile.html"
        href = casefile_href(INSTANCE, period, digest["query_id"])
        with urllib.request.urlopen(url + href, timeout=60) as answer:
            path.write_bytes(answer.read())
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.get(path.as_uri())
        time.sleep(4)
        driver.execute_script("document.getElementById('plans').scrollIntoView(); "
                              "window.scrollBy(0, -16);")
        time.sleep(1)
        driver.save_screenshot(str(ROOT / "docs" / "casefile.png"))
        print("docs/casefile.png")


if __name__ == "__main__":
    main()
