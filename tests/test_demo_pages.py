"""`python app.py --demo` in headless Chromium: every page shows data and no error.

The demo is built in-process the way app.py builds it (start_demo, create_app,
start_demo_collection), on a scratch database; the scheduler runs, so the simulated
real-time targets are polled and their plans recorded as in the real demo.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from app import create_app
from demo.recorded_plans import REGRESSED_INSTANCE
from demo.server import start_demo
from settings import Settings
from tests.servers import MotoServer

pytestmark = pytest.mark.browser

def _wait(what: Callable[[], object], timeout: float = 30, message: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = what()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "timed out")
        time.sleep(0.3)

@pytest.fixture
def demo_app(tmp_path: Path, aws: MotoServer) -> Iterator:
    """The demo app, collected. `aws` empties moto's in-process state, which the demo's own
    emulator shares, and sets fake credentials."""
    from webapp import shutdown_services, start_demo_collection

    settings = start_demo(Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}"))
    app = create_app(settings)
    start_demo_collection(app)
    services = app.server.extensions["slowquery"]
    _wait(lambda: len(runs := services.store.runs.recent()) >= 2 and all(
        r["status"] == "completed" for r in runs), 90, "the demo did not collect")
    yield app
    shutdown_services(services)

def _texts(dash_duo, selector: str) -> list[str]:
    return [e.text for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, selector) if e.text]

def _open_tab(dash_duo, label: str) -> None:
    for link in dash_duo.find_elements("#plan-tabs .nav-link"):
        if link.text.strip() == label:
            dash_duo.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", link)
            link.click()
            return
    raise AssertionError(f"no tab {label!r}")

def _no_red_errors(dash_duo, page: str) -> None:
    shown = [e.text for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".text-danger, "
                                                           ".alert-danger") if e.text.strip()]
    assert shown == [], f"{page}: {shown}"

def test_every_demo_page_shows_data_and_no_error(dash_duo, demo_app) -> None:
    services = demo_app.server.extensions["slowquery"]
    dash_duo.start_server(demo_app)
    dash_duo.driver.set_window_size(1400, 1000)
    url = dash_duo.server_url

    dash_duo.wait_for_page(f"{url}/")
    dash_duo.wait_for_contains_text("#overview-month-title", "of slow queries", timeout=20)
    dash_duo.wait_for_contains_text("#overview-changes", "1 regressed")
    assert not dash_duo.driver.find_elements(By.ID, "overview-empty")
    # no "MYSQL_USER is not set" or any other instance problem the demo cannot fix
    _wait(lambda: services.realtime.status()["instances"] and all(
        s["last_poll"] for s in services.realtime.status()["instances"]), 20)
    dash_duo.wait_for_page(f"{url}/")
    dash_duo.wait_for_contains_text("#overview-month-title", "of slow queries", timeout=20)
    assert not dash_duo.driver.find_elements(By.ID, "overview-problems")
    assert "MYSQL_USER" not in dash_duo.driver.page_source
    _no_red_errors(dash_duo, "overview")

    dash_duo.wait_for_page(f"{url}/instances")
    dash_duo.wait_for_text_to_equal("#instances-count", "8 instances", timeout=20)
    _no_red_errors(dash_duo, "instances")

    dash_duo.wait_for_page(f"{url}/collection")
    _wait(lambda: len([t for t in _texts(dash_duo, "#collection-history [col-id='status']")
                       if t == "completed"]) == 2, 20, "collection history")
    _no_red_errors(dash_duo, "collection")

    dash_duo.wait_for_page(f"{url}/digests")
    _wait(lambda: len(_texts(dash_duo, "#digests-grid .ag-row [col-id='fingerprint']")) >= 10,
          20, "digests grid")
    assert not dash_duo.driver.find_elements(By.ID, "digests-empty")
    _no_red_errors(dash_duo, "digests")
    # EXPLAIN on demand works in the demo too (its recorded plans stand in for a server)
    month = services.store.digests.periods(REGRESSED_INSTANCE)[0]
    rows, _ = services.store.digests.page(instance_id=REGRESSED_INSTANCE, period=month,
                                          limit=100)
    orders = next(r for r in rows if r["fingerprint"].startswith("select o.id"))
    dash_duo.wait_for_page(f"{url}/digests?instance_id={REGRESSED_INSTANCE}&period={month}"
                           f"&query_id={orders['query_id']}")
    dash_duo.wait_for_element("#digest-live", timeout=20)
    dash_duo.find_element("#digest-run-explain").click()
    dash_duo.wait_for_element("#digest-explain-ok", timeout=20)
    _no_red_errors(dash_duo, "digest window")

    dash_duo.wait_for_page(f"{url}/compare")
    dash_duo.wait_for_contains_text("#compare-tab-regressed", "Regressed (1)", timeout=20)
    why = _wait(lambda: _texts(dash_duo, "#compare-grid .ag-row [col-id='causes']"), 20)
    assert any("plan changed from range on o (idx_created_at)" in w and "to ALL on o" in w
               for w in why), why
    assert not dash_duo.driver.find_elements(By.ID, "compare-empty")
    _no_red_errors(dash_duo, "compare")

    dash_duo.wait_for_page(f"{url}/realtime")
    _wait(lambda: len(_texts(dash_duo, "#realtime-grid .ag-row [col-id='instance_id']")) >= 3,
          30, "real-time captures")
    labels = " ".join(_texts(dash_duo, "#realtime-instance-switches"))
    assert "polled" in labels and "MYSQL_USER" not in labels, labels
    _wait(lambda: "yes" in _texts(dash_duo, "#realtime-grid .ag-row [col-id='plan']"), 20,
          "a capture with its plan")
    assert not dash_duo.driver.find_elements(By.ID, "realtime-empty")
    _no_red_errors(dash_duo, "realtime")

    dash_duo.wait_for_page(f"{url}/plans")
    _wait(lambda: len(_texts(dash_duo, "#plans-grid .ag-row [col-id='instance_id']")) >= 2, 20,
          "plans list")
    dash_duo.wait_for_contains_text("#plans-count", "1 query has a changed plan")
    changed = [p for p in services.store.plans.list(instance_id=REGRESSED_INSTANCE)
               if p["explained_sql"].startswith("SELECT o.id")]
    newest = max(changed, key=lambda p: p["last_seen"])
    dash_duo.wait_for_page(f"{url}/plans?plan_id={quote(newest['plan_id'], safe='')}")
    dash_duo.wait_for_contains_text("#plan-history", "2 different plans", timeout=20)
    dash_duo.wait_for_contains_text("#plan-findings", "Full table scan")
    _no_red_errors(dash_duo, "plans")
    # its Tables tab: the tables as a real MariaDB showed them (demo/recorded_tables.py), on
    # orders-prd-1 after its index was dropped, and no monitoring account to set up
    _open_tab(dash_duo, "Tables")
    dash_duo.wait_for_contains_text("#plan-tables-view", "shop.orders", timeout=20)
    cards = dash_duo.find_elements("#plan-tables-view .table-context")
    assert [c.find_element(By.CSS_SELECTOR, ".card-header").text.split()[0] for c in cards] \
        == ["shop.orders", "shop.customers"]
    orders = cards[0].text
    assert "as o" in orders and "PRIMARY" in orders and "rows" in orders, orders
    assert "InnoDB" in orders and "read at 20" in orders, orders
    assert "idx_created_at" not in orders  # dropped on orders-prd-1: why the plan is ALL
    view = dash_duo.find_element("#plan-tables-view")
    assert "MYSQL_USER" not in view.text and "monitoring account" not in view.text, view.text
    assert not view.find_elements(By.CSS_SELECTOR, ".alert-warning, .alert-secondary")
    _no_red_errors(dash_duo, "plans tables")

    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], [e["message"] for e in severe]
