"""The Compare page in headless Chromium, and its exports, on a store holding two months."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from app import create_app
from components.compare_view import compare_csv, compare_markdown
from settings import Settings
from tests.test_compare_api import fill_two_months


def _wait(condition, timeout: float = 15, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.2)
    return value


def _texts(dash_duo, col_id: str) -> list[str]:
    """The column's cells now ([] while the grid re-renders them under us)."""
    try:
        return [c.text for c in dash_duo.driver.find_elements(
            By.CSS_SELECTOR, f"#compare-grid .ag-center-cols-container [col-id='{col_id}']")]
    except StaleElementReferenceException:
        return []


def _why(dash_duo) -> list[str]:
    return _texts(dash_duo, "causes")


@pytest.mark.browser
def test_the_compare_page(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    fill_two_months(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1500, 1100)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/compare")
    dash_duo.wait_for_contains_text("#compare-tab-regressed", "Regressed (1)")
    dash_duo.wait_for_contains_text("#compare-tab-new", "New (1)")
    dash_duo.wait_for_contains_text("#compare-summary", "the fleet")
    dash_duo.wait_for_contains_text("#compare-instance", "All instances (fleet)")
    _wait(lambda: any("3.1× slower per call" in w for w in _why(dash_duo)),
          message="the regression's causes")
    assert any("plan changed" in w for w in _why(dash_duo))  # db1's plan flipped
    dash_duo.wait_for_element("#compare-movers .main-svg")

    dash_duo.select_dcc_dropdown("#compare-instance", value="db2")
    dash_duo.wait_for_contains_text("#compare-summary", "db2")
    _wait(lambda: (lambda w: w and all("plan changed" not in x for x in w))(_why(dash_duo)),
          message="db2 kept its plan")

    dash_duo.find_element("#compare-tab-gone").click()
    _wait(lambda: any("delete from carts" in t for t in _texts(dash_duo, "fingerprint")),
          message="the gone row")

    dash_duo.find_element("#compare-md-button").click()  # the grid's view, as a report
    report = Path(dash_duo.download_path) / "compare-db2-2026-10-vs-2026-09.md"
    _wait(lambda: report.exists() and report.stat().st_size, message="the Markdown report")
    assert report.read_text().startswith("# 2026-10 compared with 2026-09 (`db2`)")
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe


def _result() -> dict:
    item = {"query_id": "ab" * 16, "instance_id": "=cmd()", "fingerprint": "select | 1",
            "month": {"calls": 20, "total": 40.0, "avg": 2.0, "p95": 3.0},
            "baseline": {"calls": 10, "total": 10.0, "avg": 1.0, "p95": 1.0},
            "causes": {"calls_share": 0.4, "per_call_share": 0.6, "per_call_ratio": 2.0,
                       "rows_examined_ratio": None, "lock_ratio": None, "plan_changed": None}}
    return {"month": "2026-10", "baseline": "2026-09", "instance_id": "(fleet)",
            "counts": {"regressed": 1, "new": 0, "improved": 0, "gone": 0, "changed": 0},
            "regressed": [item], "new": [], "improved": [], "gone": [], "changed": []}


def test_exports_are_safe_and_complete() -> None:
    rows = list(csv.DictReader(io.StringIO(compare_csv(_result()))))
    assert len(rows) == 1 and rows[0]["category"] == "regressed"
    assert rows[0]["instance"] == "'=cmd()"  # a spreadsheet will not run it
    assert rows[0]["total_change_s"] == "30.0"
    report = compare_markdown(_result())
    assert "select \\| 1" in report  # a pipe cannot break the table
    assert "2.00 s → 1.00 s" not in report and "1.00 s → 2.00 s" in report
    assert "2.0× slower per call" in report


@pytest.mark.browser
def test_with_fewer_than_two_months_it_says_what_is_needed(dash_duo, settings: Settings) -> None:
    dash_duo.start_server(create_app(settings))
    dash_duo.wait_for_page(f"{dash_duo.server_url}/compare")
    dash_duo.wait_for_contains_text("#compare-empty", "Compare needs digests of two months")
    assert not dash_duo.find_element("#compare-body").is_displayed()


@pytest.mark.browser
def test_the_overview_charts_a_month(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    fill_two_months(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_contains_text("#overview-month-title", "October 2026")
    dash_duo.wait_for_contains_text("#overview-changes", "1 regressed")
    dash_duo.wait_for_contains_text("#overview-changes", "1 new")
    for chart in ("#overview-daily", "#overview-by-instance", "#overview-top-chart"):
        dash_duo.wait_for_element(f"{chart} .main-svg")
    dash_duo.wait_for_contains_text("#overview-top-digests", "select * from orders")
    dash_duo.select_dcc_dropdown("#overview-month", value="September 2026")
    dash_duo.wait_for_contains_text("#overview-changes", "No digests of August 2026")
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe


def test_the_daily_chart_groups_the_smallest_instances() -> None:
    from components.overview_charts import MAX_STACKS, daily_by_instance_figure

    daily = {f"db{n:02d}": {"2026-10-01": float(n + 1), "2026-10-02": 1.0}
             for n in range(MAX_STACKS + 3)}
    figure = daily_by_instance_figure(daily)
    names = [trace.name for trace in figure.data]
    assert len(names) == MAX_STACKS + 1 and names[-1] == "3 others"
    assert names[0] == f"db{MAX_STACKS + 2:02d}"  # the heaviest first
    assert sum(trace.y[0] for trace in figure.data) == sum(n + 1.0 for n in range(MAX_STACKS
                                                                                   + 3))
