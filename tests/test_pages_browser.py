"""The pages in headless Chromium (dash[testing]): real app, real store, moto for AWS."""

from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import EXPECTED, seed_rds

pytestmark = pytest.mark.browser


def _grid_ids(dash_duo) -> list[str]:
    """Instance ids the grid shows now (empty while the grid re-renders under us)."""
    try:
        cells = dash_duo.driver.find_elements(
            By.CSS_SELECTOR, "#instances-grid .ag-pinned-left-cols-container "
            "[col-id='instance_id']")
        return sorted({c.text for c in cells if c.text})
    except StaleElementReferenceException:
        return []


def _wait_for_ids(dash_duo, expected: list[str], timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    ids = _grid_ids(dash_duo)
    while ids != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        ids = _grid_ids(dash_duo)
    return ids


def _severe_logs(dash_duo) -> list[dict]:
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"]


def test_instances_page_lists_filters_and_refreshes(dash_duo, aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    app = create_app(aws_settings)
    app.server.extensions["slowquery"].inventory.refresh()
    dash_duo.start_server(app)

    dash_duo.wait_for_page(f"{dash_duo.server_url}/instances")
    assert _wait_for_ids(dash_duo, sorted(EXPECTED)) == sorted(EXPECTED)
    dash_duo.wait_for_text_to_equal("#instances-count", f"{len(EXPECTED)} instances")
    # tag chips and target badges are rendered by our cell renderers
    assert dash_duo.find_elements(".tag-chip")
    assert len(dash_duo.find_elements(".target-badge")) == sum(
        c + r for c, r in EXPECTED.values())

    search = dash_duo.find_element("#instances-search")
    search.send_keys("catalog")
    assert _wait_for_ids(dash_duo, ["catalog-aurora-1", "catalog-aurora-2"]) == [
        "catalog-aurora-1", "catalog-aurora-2"]
    search.clear()
    search.send_keys("maria")
    assert _wait_for_ids(dash_duo, ["legacy-maria", "maria-stg"]) == [
        "legacy-maria", "maria-stg"]

    dash_duo.find_element("#instances-refresh").click()
    dash_duo.wait_for_contains_text("#instances-refresh-result", "Refreshed: 8 instances",
                                    timeout=20)
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


def test_overview_explains_what_to_configure(dash_duo, settings: Settings) -> None:
    dash_duo.start_server(create_app(settings))
    dash_duo.wait_for_contains_text("#overview-empty", "Set AWS_REGION", timeout=10)
    dash_duo.wait_for_text_to_equal("#overview-instances", "0")
    dash_duo.find_element("#nav-instances").click()
    dash_duo.wait_for_text_to_equal("#instances-count", "0 instances")
    dash_duo.find_element("#instances-refresh").click()
    dash_duo.wait_for_contains_text("#instances-refresh-result", "Nothing to refresh")
    for page, title in (("collection", "Collection"), ("digests", "Digests"),
                        ("realtime", "Real-time"), ("plans", "Plans")):
        dash_duo.find_element(f"#nav-{page}").click()
        dash_duo.wait_for_text_to_equal("#_pages_content h2", title)
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]
