"""CSV on every grid: the file is the screen (columns, order, filters, masking), and a
spreadsheet never runs a cell of it."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from components.grid_csv import grid_csv
from tests.test_demo_pages import demo_app  # noqa: F401 - the demo, collected, as a fixture

COLUMNS = [{"field": "name", "headerName": "Name"}, {"field": "seconds", "headerName": "Time"},
           {"field": "hidden", "headerName": "Hidden", "hide": True},
           {"field": "tags", "headerName": "Tags"}, {"field": "on", "headerName": "On"},
           {"headerName": "no field"}]


def test_the_file_has_the_grid_columns_raw_values_and_no_formula() -> None:
    rows = [{"name": "=HYPERLINK(\"http://evil\")", "seconds": 2.5, "hidden": "x",
             "tags": {"env": "prd", "app": "shop"}, "on": True},
            {"name": "-- x", "seconds": -3, "tags": None, "on": False}]
    text = grid_csv(COLUMNS, rows, headers={"seconds": "Time (s)"})
    assert list(csv.reader(io.StringIO(text))) == [
        ["Name", "Time (s)", "Tags", "On"],
        ["'=HYPERLINK(\"http://evil\")", "2.5", "app=shop env=prd", "yes"],
        ["'-- x", "-3", "", "no"],
    ]
    assert grid_csv(COLUMNS, None, skip=["tags"]).strip() == "Name,Time,On"


def _download(dash_duo, button: str, name: str) -> list[dict[str, str]]:
    target = Path(dash_duo.download_path) / name
    if target.exists():
        target.unlink()
    dash_duo.find_element(button).click()
    deadline = time.monotonic() + 20
    while not (target.exists() and target.stat().st_size > 0):
        assert time.monotonic() < deadline, f"{name} was not downloaded"
        time.sleep(0.2)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


def _grid_texts(dash_duo, grid: str, col: str) -> list[str]:
    return [e.text for e in dash_duo.driver.find_elements(
        By.CSS_SELECTOR, f"#{grid} .ag-row [col-id='{col}']") if e.text]


@pytest.mark.browser
def test_every_grid_downloads_what_it_shows(dash_duo, demo_app) -> None:  # noqa: F811
    dash_duo.start_server(demo_app)
    dash_duo.driver.set_window_size(1400, 1000)
    url = dash_duo.server_url

    dash_duo.wait_for_page(f"{url}/instances")
    dash_duo.wait_for_text_to_equal("#instances-count", "8 instances", timeout=20)
    dash_duo.find_element("#instances-search").send_keys("catalog")
    deadline = time.monotonic() + 10
    while sorted(_grid_texts(dash_duo, "instances-grid", "instance_id")) != [
            "catalog-aurora-1", "catalog-aurora-2"]:
        assert time.monotonic() < deadline, "the quick search did not narrow the grid"
        time.sleep(0.2)
    rows = _download(dash_duo, "#instances-csv", "instances.csv")
    assert [r["Instance"] for r in rows] == ["catalog-aurora-1", "catalog-aurora-2"]
    assert rows[0]["Collect"] == "yes" and "env=prd" in rows[0]["Tags"]

    dash_duo.wait_for_page(f"{url}/collection")
    rows = _download(dash_duo, "#collection-csv", "collection-runs.csv")
    assert len(rows) == 2 and {r["Status"] for r in rows} == {"completed"}
    assert {r["Period"] for r in rows} == set(
        _grid_texts(dash_duo, "collection-history", "period"))

    dash_duo.wait_for_page(f"{url}/realtime")
    deadline = time.monotonic() + 30
    while len(_grid_texts(dash_duo, "realtime-grid", "instance_id")) < 3:
        assert time.monotonic() < deadline, "no captures"
        time.sleep(0.5)
    rows = _download(dash_duo, "#realtime-csv", "realtime-captures.csv")
    assert len(rows) >= 3 and all(float(r["Duration (s)"]) >= 0 for r in rows)
    # literals masked as on the screen: no quoted string and no number in a WHERE survives
    assert all(not re.search(r"'[^?]", r["Statement (literals masked)"]) for r in rows)
    assert all(r["Digest"] for r in rows)

    dash_duo.wait_for_page(f"{url}/plans")
    deadline = time.monotonic() + 20
    while len(_grid_texts(dash_duo, "plans-grid", "instance_id")) < 2:
        assert time.monotonic() < deadline, "no plans"
        time.sleep(0.5)
    rows = _download(dash_duo, "#plans-csv", "plans.csv")
    assert len(rows) >= 2 and {"yes", "no"} >= {r["Plan changed"] for r in rows}
    assert any(r["Plan changed"] == "yes" for r in rows)
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe
