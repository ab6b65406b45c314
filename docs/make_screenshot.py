"""Regenerate docs/instances.png: the Instances page over a moto fleet, in headless Chromium.

Run from the repository root: `.venv/bin/python docs/make_screenshot.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402

from app import create_app  # noqa: E402
from settings import Settings  # noqa: E402
from tests.rds_seed import seed_rds  # noqa: E402
from tests.servers import free_port, start_moto, wait_for_port  # noqa: E402


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    moto = start_moto()
    seed_rds(moto.url, "us-east-1")
    workdir = Path(tempfile.mkdtemp())
    settings = Settings(database_url=f"sqlite:///{workdir / 'shot.db'}", aws_region="us-east-1",
                        aws_endpoint_url=moto.url, scheduler_enabled=False)
    app = create_app(settings)
    app.server.extensions["slowquery"].inventory.refresh()
    port = free_port()
    threading.Thread(target=lambda: app.run(port=port), daemon=True).start()
    wait_for_port(port)

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1500,700",
                 "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/instances")
        time.sleep(4)
        driver.save_screenshot(str(ROOT / "docs" / "instances.png"))
    finally:
        driver.quit()
        moto.stop()


if __name__ == "__main__":
    main()
