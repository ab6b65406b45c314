"""The Digests page in headless Chromium on a real store filled by the real aggregator.

Plus the pure parts the page relies on: the grid-request -> store-query whitelist, row
flattening, the CSV and the detail builders.
"""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from analysis.digest import DigestAggregator
from analysis.fingerprint import fingerprint_and_id
from analysis.period import period_label
from analysis.slowlog import SlowLogEntry
from analysis.units import human_duration
from app import create_app
from components.digest_detail import (
    create_digest_examples,
    create_digest_summary,
    create_hourly_figure,
)
from components.digest_table import (
    COLUMNS,
    SORT_FIELDS,
    digest_rows,
    digests_csv,
    parse_row_id,
    store_query_from_request,
    with_fingerprint_filter,
)
from settings import Settings
from store.digests import SORTABLE

pytestmark = pytest.mark.browser

# Set DIGESTS_SCREENSHOTS=/some/dir to keep screenshots of the page and the digest window.
SCREENSHOTS = os.environ.get("DIGESTS_SCREENSHOTS")
TABLES = ("orders", "customers", "invoices", "products", "payments", "shipments")
# pt's fingerprint folds digits inside names too (col7 -> col?), so shapes differ by words
COLUMNS_USED = ("status", "total", "amount", "created_at", "updated_at", "note", "email",
                "name", "price", "qty", "sku", "region", "currency", "channel", "owner",
                "title", "score", "weight", "color", "label")
SECRET = "kim.minji@example.com"
OCT = datetime(2026, 10, 1, tzinfo=UTC)
SEP = datetime(2026, 9, 1, tzinfo=UTC)


def _entry(sql: str, at: datetime, query_time: float, db: str = "shop") -> SlowLogEntry:
    return SlowLogEntry(time=at, user="app", host="ip-10-0-0-5.ec2.internal", ip="10.0.0.5",
                        db=db, query_time=query_time, lock_time=0.0002, rows_sent=1,
                        rows_examined=1000 + int(query_time * 100), sql=sql)


def _digests(instance_id: str, statements: list[tuple[str, int, float]],
             start: datetime) -> list[dict]:
    """Real digest documents: each (sql, calls, seconds per call) logged `calls` times."""
    agg = DigestAggregator(fingerprint_and_id)
    for n, (sql, calls, seconds) in enumerate(statements):
        for k in range(calls):
            at = start + timedelta(hours=(n * 5 + k * 7) % (24 * 28), minutes=k % 60)
            # literals vary per call (as real traffic does); the class stays the same
            agg.add(instance_id, _entry(sql.replace("{k}", str(k)), at,
                                        seconds * (1 + (k % 3) / 10)))
    return [d.to_dict() for d in agg.digests(instance_id)]


def _orders_statements() -> list[tuple[str, int, float]]:
    """120 shapes whose order by total time differs from their order by calls."""
    out = []
    for n in range(119):
        table, column = TABLES[n % len(TABLES)], COLUMNS_USED[n // len(TABLES)]
        calls = 1 + (n * 37) % 23
        seconds = 0.2 + ((n * 13) % 29) / 20
        out.append((f"SELECT {column} FROM {table} WHERE id = {{k}} AND state = 'new'",
                    calls, seconds))
    # the slowest in total: few calls, very slow, with personal data in its literal
    out.append((f"SELECT * FROM customers WHERE email = '{SECRET}' AND id > {{k}}", 4, 30.0))
    return out


@pytest.fixture
def digest_app(settings: Settings):
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    orders_oct = _digests("orders-prd-1", _orders_statements(), OCT)
    store.digests.replace_period("orders-prd-1", "2026-10", orders_oct)
    store.digests.replace_period("orders-prd-1", "2026-09", _digests(
        "orders-prd-1", [("DELETE FROM carts WHERE updated_at < '2026-08-01'", 3, 2.0)], SEP))
    catalog_oct = _digests("catalog-prd-1", [
        (f"SELECT {column} FROM catalog_items WHERE category_id = {{k}}", 2 + n, 0.5)
        for n, column in enumerate(("name", "slug", "brand", "views", "rating"))], OCT)
    store.digests.replace_period("catalog-prd-1", "2026-10", catalog_oct)
    store.digests.replace_period("catalog-prd-1", "2026-09", _digests(
        "catalog-prd-1", [("UPDATE catalog_items SET views = views + 1 WHERE id = {k}", 8,
                           0.3)], SEP))
    return app, orders_oct + catalog_oct


# -- browser helpers ------------------------------------------------------------------------

def _cells(dash_duo, col_id: str) -> list[str]:
    """The given column's text for the rendered rows, in row order ([] while re-rendering)."""
    try:
        rows = dash_duo.driver.find_elements(
            By.CSS_SELECTOR, "#digests-grid .ag-center-cols-container .ag-row")
        found = []
        for row in rows:
            index = row.get_attribute("row-index")
            cell = row.find_elements(By.CSS_SELECTOR, f"[col-id='{col_id}']")
            if index is not None and cell:
                found.append((int(index), cell[0].text))
        return [text for _, text in sorted(found)]
    except StaleElementReferenceException:
        return []


def _wait(condition, timeout: float = 15, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.2)


def _first_cell(dash_duo, col_id: str) -> str:
    cells = _cells(dash_duo, col_id)
    return cells[0] if cells else ""


def _severe_logs(dash_duo) -> list[dict]:
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"]


def _screenshot(dash_duo, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        dash_duo.driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def _short(fingerprint: str) -> str:
    return fingerprint[:40]


def test_digests_page_sorts_searches_and_opens_a_digest(dash_duo, digest_app) -> None:
    app, docs = digest_app
    assert len(docs) == 125
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1600, 1000)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests")

    # newest period, all instances: the largest total first (the store ranks, not the browser)
    top = max(docs, key=lambda d: d["query_time"]["sum"])
    _wait(lambda: _first_cell(dash_duo, "fingerprint").startswith(_short(top["fingerprint"])),
          message="the largest total in the first row")
    assert _first_cell(dash_duo, "query_id") == "0x" + top["query_id"][-16:].upper()
    # all instances: one row per statement across the fleet
    dash_duo.wait_for_contains_text("#digests-summary",
                                    f"{len(docs)} statements on 2 instances")
    # totals read as people read durations (the browser's formatter is analysis.units')
    fleet_totals: dict[str, float] = {}
    for doc in docs:
        fleet_totals[doc["query_id"]] = (fleet_totals.get(doc["query_id"], 0.0)
                                         + doc["query_time"]["sum"])
    expected = [human_duration(s) for s in sorted(fleet_totals.values(), reverse=True)]
    totals = _cells(dash_duo, "total_time")
    assert len(totals) >= 5 and totals == expected[:len(totals)]

    # sort by Calls (first click: most calls first), in the store
    dash_duo.find_element(
        "#digests-grid .ag-header-cell[col-id='calls'] .ag-header-cell-label").click()
    most_calls = max(docs, key=lambda d: (d["count"], d["query_time"]["sum"]))
    _wait(lambda: int(_first_cell(dash_duo, "calls").replace(",", "") or 0)
          == most_calls["count"], message="the most calls in the first row")
    calls = [int(c.replace(",", "")) for c in _cells(dash_duo, "calls")]
    assert calls == sorted(calls, reverse=True)
    assert _first_cell(dash_duo, "fingerprint") != _short(top["fingerprint"])

    # search: rows narrow to the fingerprints that contain the text
    dash_duo.find_element("#digests-search").send_keys("invoices")
    invoices = [d for d in docs if "invoices" in d["fingerprint"]]
    dash_duo.wait_for_contains_text("#digests-summary", f"{len(invoices)} statements match")
    _wait(lambda: (lambda cells: cells and all("invoices" in c for c in cells))(
        _cells(dash_duo, "fingerprint")), message="only invoices rows")

    # clear the search; another instance and period refetch through the store
    search = dash_duo.find_element("#digests-search")
    search.clear()
    search.send_keys(" ")
    dash_duo.wait_for_contains_text("#digests-summary", f"{len(docs)} statements")
    dash_duo.select_dcc_dropdown("#digests-instance", value="catalog-prd-1")
    dash_duo.wait_for_contains_text("#digests-summary", "5 digests")
    _wait(lambda: (lambda c: len(c) == 5 and all("catalog_items" in x for x in c))(
        _cells(dash_duo, "fingerprint")), message="the catalog digests")
    dash_duo.select_dcc_dropdown("#digests-period", value="September 2026")
    dash_duo.wait_for_contains_text("#digests-summary", "1 digest ·")
    _wait(lambda: _first_cell(dash_duo, "fingerprint").startswith("update catalog_items"),
          message="the September digest")

    # back to all instances in October, sorted by total again; open the top digest
    dash_duo.select_dcc_dropdown("#digests-instance", value="All instances")
    dash_duo.select_dcc_dropdown("#digests-period", value="October 2026")
    dash_duo.find_element(
        "#digests-grid .ag-header-cell[col-id='total_time'] .ag-header-cell-label").click()
    _wait(lambda: _first_cell(dash_duo, "fingerprint").startswith(_short(top["fingerprint"])),
          message="the top digest again")
    _screenshot(dash_duo, "digests.png")

    first = dash_duo.driver.find_element(
        By.CSS_SELECTOR, "#digests-grid .ag-center-cols-container "
        ".ag-row[row-index='0'] [col-id='fingerprint']")
    first.click()
    dash_duo.wait_for_element("#digest-modal", timeout=10)
    dash_duo.wait_for_text_to_equal("#digest-query-id", "0x" + top["query_id"][-16:].upper())
    assert top["query_id"] in dash_duo.find_element("#digest-query-id").get_attribute("title")
    dash_duo.wait_for_text_to_equal("#digest-fingerprint", top["fingerprint"])
    dash_duo.wait_for_contains_text("#digest-stats", "Query time")
    fleet_max = max(d["query_time"]["max"] for d in docs if d["query_id"] == top["query_id"])
    assert human_duration(fleet_max) in dash_duo.find_element("#digest-stats").text
    dash_duo.wait_for_contains_text("#digest-instances", "orders-prd-1")  # a fleet row
    dash_duo.wait_for_contains_text("#digest-example-0", "email = ?")
    assert SECRET not in dash_duo.find_element("#digest-modal").text
    # one click away: that instance's own digest, with its per-hour chart
    dash_duo.find_element("#digest-instances button").click()
    dash_duo.wait_for_element("#digest-hourly .main-svg")
    dash_duo.wait_for_contains_text("#digest-modal-title", "orders-prd-1")
    dash_duo.wait_for_contains_text("#digest-example-0", "email = ?")
    assert SECRET not in dash_duo.find_element("#digest-modal").text
    _screenshot(dash_duo, "digests-modal.png")

    dash_duo.find_element("#digest-show-literals").click()
    dash_duo.wait_for_contains_text("#digest-example-0", f"email = '{SECRET}'")
    dash_duo.driver.execute_script(
        "document.querySelector('#digest-examples').scrollIntoView()")
    _screenshot(dash_duo, "digests-examples.png")

    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


def test_download_csv_is_the_current_view(dash_duo, digest_app) -> None:
    app, docs = digest_app
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1600, 1000)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests")
    dash_duo.find_element("#digests-search").send_keys("payments")
    payments = [d for d in docs if "payments" in d["fingerprint"]]
    dash_duo.wait_for_contains_text("#digests-summary", f"{len(payments)} statements match")
    dash_duo.find_element("#digests-download-button").click()
    target = Path(dash_duo.download_path) / "digests-all-instances-2026-10.csv"
    _wait(lambda: target.exists() and target.stat().st_size > 0, message="the CSV file")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == len(payments)
    assert [r["query_id"] for r in rows] == [
        d["query_id"] for d in sorted(payments, key=lambda d: -d["query_time"]["sum"])]
    assert all("payments" in r["fingerprint"] for r in rows)
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


def test_empty_store_points_to_the_collection_page(dash_duo, settings: Settings) -> None:
    dash_duo.start_server(create_app(settings))
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests")
    dash_duo.wait_for_contains_text("#digests-empty", "Run one on the Collection page")
    assert not dash_duo.find_element("#digests-body").is_displayed()
    dash_duo.find_element("#digests-empty-link").click()
    dash_duo.wait_for_element("#collection-placeholder, #collection-page, h2")
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


# -- pure parts -----------------------------------------------------------------------------

def test_sort_columns_map_only_to_fields_the_store_allows() -> None:
    assert set(SORT_FIELDS.values()) <= SORTABLE
    sortable_columns = {c["field"] for c in COLUMNS if c.get("sortable", True)}
    assert sortable_columns == set(SORT_FIELDS)


@pytest.mark.parametrize(("request_", "expected"), [
    (None, {"sort": "query_time.sum", "descending": True, "offset": 0, "limit": 50,
            "text": None, "query_id": None}),
    ({"startRow": 100, "endRow": 150, "sortModel": [], "filterModel": {}},
     {"sort": "query_time.sum", "descending": True, "offset": 100, "limit": 50,
      "text": None, "query_id": None}),
    ({"startRow": 0, "endRow": 50, "sortModel": [{"colId": "calls", "sort": "asc"}]},
     {"sort": "count", "descending": False}),
    ({"sortModel": [{"colId": "pct", "sort": "desc"}, {"colId": "rank", "sort": "asc"}]},
     {"sort": "query_time.sum", "descending": True}),
    ({"sortModel": [{"colId": "rows_examined", "sort": "desc"}]},
     {"sort": "rows_examined.sum", "descending": True}),
    # unknown column, unknown direction, injected field: the default order
    ({"sortModel": [{"colId": "fingerprint", "sort": "asc"}]},
     {"sort": "query_time.sum", "descending": True}),
    ({"sortModel": [{"colId": "$where", "sort": "asc"}]},
     {"sort": "query_time.sum", "descending": True}),
    ({"sortModel": [{"colId": "calls", "sort": "sideways"}]},
     {"sort": "query_time.sum", "descending": True}),
    ({"sortModel": "calls"}, {"sort": "query_time.sum"}),
    # paging: bad numbers, negative start, a huge block is capped
    ({"startRow": "x", "endRow": None}, {"offset": 0, "limit": 50}),
    ({"startRow": -5, "endRow": 20}, {"offset": 0, "limit": 20}),
    ({"startRow": 0, "endRow": 10**9}, {"offset": 0, "limit": 500}),
    ({"startRow": 10, "endRow": 10}, {"offset": 10, "limit": 1}),
    # filters: fingerprint and query id "contains"; other columns and types are ignored
    ({"filterModel": {"fingerprint": {"filterType": "text", "type": "contains",
                                      "filter": "  orders "}}},
     {"text": "orders", "query_id": None}),
    ({"filterModel": {"query_id": {"filterType": "text", "type": "contains",
                                   "filter": "0xABCD"}}},
     {"query_id": "ABCD", "text": None}),
    ({"filterModel": {"query_id": {"filterType": "text", "type": "contains", "filter": "0x"}}},
     {"query_id": None}),
    ({"filterModel": {"fingerprint": {"filterType": "text", "operator": "AND", "conditions": [
        {"filterType": "text", "type": "contains", "filter": "select"},
        {"filterType": "text", "type": "contains", "filter": "x"}]}}},
     {"text": "select"}),
    ({"filterModel": {"fingerprint": {"filterType": "text", "type": "equals",
                                      "filter": "x"}}}, {"text": None}),
    ({"filterModel": {"fingerprint": {"filterType": "text", "type": "contains",
                                      "filter": "   "}}}, {"text": None}),
    ({"filterModel": {"fingerprint": {"type": "contains", "filter": {"$ne": 1}}}},
     {"text": None}),
    ({"filterModel": {"instance_id": {"type": "contains", "filter": "x"},
                      "calls": {"filterType": "number", "type": "greaterThan", "filter": 3}}},
     {"text": None, "query_id": None}),
    ({"filterModel": ["fingerprint"]}, {"text": None, "query_id": None}),
])
def test_store_query_from_request(request_, expected: dict) -> None:
    query = store_query_from_request(request_)
    assert set(query) == {"sort", "descending", "offset", "limit", "text", "query_id"}
    assert {k: query[k] for k in expected} == expected
    assert query["sort"] in SORTABLE


def test_search_box_becomes_the_fingerprint_filter() -> None:
    other = {"query_id": {"filterType": "text", "type": "contains", "filter": "AB"}}
    model = with_fingerprint_filter(other, " orders ")
    assert model == {**other, "fingerprint": {"filterType": "text", "type": "contains",
                                              "filter": "orders"}}
    assert with_fingerprint_filter(model, "") == other
    assert with_fingerprint_filter(None, None) == {}


def test_rows_csv_and_row_ids() -> None:
    docs = _digests("db-1", [("SELECT a FROM t WHERE id = {k}", 3, 1.0),
                             ("UPDATE t SET b = 'x' WHERE id = {k}", 1, 2.0)], OCT)
    for rank, doc in enumerate(docs, start=1):
        doc.update(period="2026-10", rank=rank)
    total = sum(d["query_time"]["sum"] for d in docs)
    rows = digest_rows(docs, total)
    assert [r["calls"] for r in rows] == [d["count"] for d in docs]
    assert sum(r["pct"] for r in rows) == pytest.approx(100)
    assert parse_row_id(rows[0]["row_id"]) == ("db-1", "2026-10", docs[0]["query_id"])
    assert parse_row_id("nope") is None and parse_row_id(None) is None
    assert digest_rows(docs, 0)[0]["pct"] is None
    long = {**docs[0], "fingerprint": "select " + "x" * 5000}
    assert len(digest_rows([long], total)[0]["fingerprint"]) == 1001
    assert len(digest_rows([long], total, fingerprint_chars=None)[0]["fingerprint"]) == 5007

    parsed = list(csv.DictReader(io.StringIO(digests_csv(rows))))
    assert [p["query_id"] for p in parsed] == [d["query_id"] for d in docs]
    assert parsed[0]["calls"] == str(docs[0]["count"])
    assert period_label("2026-10") == "October 2026"
    assert period_label("2026-10-01_2026-10-15") == "2026-10-01 – 2026-10-15"


def _text(component) -> str:
    """All text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def test_detail_masks_examples_unless_asked() -> None:
    docs = _digests("db-1", [(f"SELECT * FROM users WHERE email = '{SECRET}' AND n = {{k}}",
                              2, 1.5)], OCT)
    doc = {**docs[0], "period": "2026-10", "rank": 1}
    masked = _text(create_digest_examples(doc["examples"]))
    assert "email = ? AND n = ?" in masked and SECRET not in masked
    assert SECRET in _text(create_digest_examples(doc["examples"], show_literals=True))
    summary = _text(create_digest_summary(doc, doc["query_time"]["sum"] * 2))
    assert "0x" + doc["query_id"][-16:].upper() in summary
    assert "50.0 %" in summary and "app" in summary
    assert "No example" in _text(create_digest_examples([]))
    figure = create_hourly_figure(doc["hourly"])
    assert sum(figure.data[0].y) == doc["count"]
