"""Live captures tied to their digests: the capture list (API and Real-time page) links each
capture to its month's digest with where it sits; the digest window's "Caught running"
section shows the live runs and plans. Real stores (both adapters), real app, real browser."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By

from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import SlowLogEntry
from app import create_app
from settings import Settings

SCREENSHOTS = os.environ.get("LIVE_DIGESTS_SCREENSHOTS")
OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
ORDERS = "SELECT * FROM orders WHERE customer_id = {k} AND status = 'new'"
REPORT = "SELECT region, SUM(total) FROM invoices WHERE created_at > '{k}' GROUP BY region"
NEVER = "SELECT * FROM audit_log WHERE actor = 'x{k}'"


def _digests(instance_id: str, sql: str, seconds: list[float], start: datetime) -> list[dict]:
    agg = DigestAggregator(fingerprint_and_id)
    for n, value in enumerate(seconds):
        agg.add(instance_id, SlowLogEntry(
            time=start + timedelta(minutes=7 * n), user="app", host="10.0.0.5", ip="10.0.0.5",
            db="shop", query_time=value, lock_time=0.0001, rows_sent=1, rows_examined=500,
            sql=sql.replace("{k}", str(n))))
    # stored as the collection job stores them: with the quantile sketch
    return [{**d.to_dict(), "sketch": sketch_to_dict(d.sketch)} for d in agg.digests(instance_id)]


def _capture(n: int, instance_id: str, sql: str, start: datetime, duration: float,
             plan_id: str | None = None) -> dict:
    fingerprint, query_id = fingerprint_and_id(sql)
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"id": f"{instance_id}|{n}", "instance_id": instance_id, "pid": 100 + n,
            "user": "app", "host": "10.0.0.5:5000", "db": "shop", "sql_text": sql,
            "start": iso, "last_seen": iso, "end": iso, "duration": duration,
            "finished": True, "fingerprint": fingerprint, "query_id": query_id,
            "plan_id": plan_id, "plan_error": None}


def _qid(sql: str) -> str:
    return fingerprint_and_id(sql.replace("{k}", "1"))[1]


def _plan(instance_id: str, sql: str, plan_hash: str) -> dict:
    return {"instance_id": instance_id, "query_id": _qid(sql), "plan_hash": plan_hash,
            "fingerprint": "f", "explained_sql": sql.replace("{k}", "1"), "db": "shop",
            "formats": {}, "root": None, "findings": []}


def _fill(store) -> None:
    """October and November digests of `orders` on db-1 (100 calls of 0.1..10 s in
    October), October of `orders` on db-2, captures of it on both, and plans."""
    october = [0.1 * (n + 1) for n in range(100)]  # p50 ~5 s, p95 ~9.5 s, max 10 s
    store.digests.replace_period("db-1", "2026-10", _digests("db-1", ORDERS, october, OCT)
                                 + _digests("db-1", REPORT, [3.0, 4.0], OCT))
    store.digests.replace_period("db-1", "2026-11", _digests("db-1", ORDERS, [1.0] * 10, NOV))
    store.digests.replace_period("db-2", "2026-10", _digests("db-2", ORDERS, [2.0] * 5, OCT))
    first = store.plans.record(_plan("db-1", ORDERS, "hash-a"), "2026-10-05T10:00:00.000000Z")
    store.plans.record(_plan("db-1", ORDERS, "hash-b"), "2026-10-20T10:00:00.000000Z")
    captures = [
        _capture(1, "db-1", ORDERS.replace("{k}", "7"), OCT + timedelta(days=4), 12.5, first),
        _capture(2, "db-1", ORDERS.replace("{k}", "8"), OCT + timedelta(days=5), 9.9),
        _capture(3, "db-1", ORDERS.replace("{k}", "9"), OCT + timedelta(days=6), 2.5),
        # December is not collected: the latest collected month (November) is used
        _capture(4, "db-1", ORDERS.replace("{k}", "9"), datetime(2026, 12, 2, tzinfo=UTC), 3.0),
        _capture(5, "db-2", ORDERS.replace("{k}", "3"), OCT + timedelta(days=2), 4.0),
        _capture(6, "db-1", NEVER.replace("{k}", "1"), OCT + timedelta(days=3), 6.0),
    ]
    for capture in captures:
        store.captures.save(capture)


@pytest.fixture
def live_app(settings: Settings, database_url: str):
    from dataclasses import replace

    app = create_app(replace(settings, database_url=database_url))
    store = app.server.extensions["slowquery"].store
    _fill(store)
    return app, store


def test_captures_come_with_their_digest_and_position(live_app) -> None:
    app, _store = live_app
    queries = app.server.test_client().get("/api/realtime/queries").get_json()["queries"]
    by_id = {q["id"]: q for q in queries}
    first = by_id["db-1|1"]
    assert first["digest"] == {
        "instance_id": "db-1", "period": "2026-10", "period_label": "October 2026",
        "query_id": _qid(ORDERS), "count": 100,
        "url": f"/digests?instance_id=db-1&period=2026-10&query_id={_qid(ORDERS)}"}
    assert first["position"]["band"] == "above_max"
    assert first["position"]["label"] == "slower than every call in October 2026 (max 10.0 s)"
    assert first["position"]["faster_share"] == 1.0
    assert first["note"] is None
    assert by_id["db-1|2"]["position"]["label"] == "above p99 of October 2026"
    assert by_id["db-1|2"]["position"]["faster_share"] == pytest.approx(0.98, abs=0.011)
    assert by_id["db-1|3"]["position"]["label"] == "below p50 of October 2026"
    assert by_id["db-1|4"]["digest"]["period"] == "2026-11"  # December not collected
    assert by_id["db-2|5"]["digest"]["instance_id"] == "db-2"
    assert by_id["db-2|5"]["position"]["band"] == "above_max"
    never = by_id["db-1|6"]
    assert never["digest"] is None and never["position"] is None
    assert never["note"] == "not in any collected month"


def test_store_counts_and_longest_runs_of_a_statement(live_app) -> None:
    _app, store = live_app
    qid = _qid(ORDERS)
    assert store.captures.count_for(qid) == 5
    assert store.captures.count_for(qid, "db-1") == 4
    assert store.captures.count_for(qid, "nope") == 0
    assert [c["duration"] for c in store.captures.longest(qid, limit=3)] == [12.5, 9.9, 4.0]
    assert [c["id"] for c in store.captures.longest(qid, "db-2")] == ["db-2|5"]
    assert "sql_text" not in store.captures.longest(qid)[0]
    assert [d["period"] for d in store.digests.for_statement("db-1", qid)] == [
        "2026-11", "2026-10"]
    assert store.digests.for_statement("db-1", "0" * 32) == []


# -- browser ----------------------------------------------------------------------------

def _shot(dash_duo, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        dash_duo.driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def _severe(dash_duo) -> list[str]:
    return [e["message"] for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]


@pytest.fixture
def browser_app(settings: Settings):
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    _fill(store)
    return app, store


@pytest.mark.browser
def test_a_digest_link_opens_the_window_with_caught_running(dash_duo, browser_app) -> None:
    app, _store = browser_app
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.start_server(app)
    query = urlencode({"instance_id": "db-1", "period": "2026-10", "query_id": _qid(ORDERS)})
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?{query}")
    dash_duo.wait_for_text_to_equal("#digest-live-summary", "4 times on this instance.",
                                    timeout=15)
    durations = [row.find_elements(By.TAG_NAME, "td")[0].text for row in
                 dash_duo.find_elements("#digest-live-longest tbody tr")]
    assert durations == ["12.5 s", "9.90 s", "3.00 s", "2.50 s"]
    dash_duo.wait_for_contains_text("#digest-live-longest",
                                    "slower than every call (max 10.0 s)")
    badge = dash_duo.find_element("#digest-live-longest .live-position")
    assert "slower than 100 % of the month's calls" in badge.get_attribute("title")
    assert "2026-10-05 00:00:00 UTC" in dash_duo.find_element("#digest-live-longest").text
    links = [a.get_attribute("href") for a in
             dash_duo.find_elements("#digest-live-longest a.live-plan-link")]
    assert len(links) == 1 and "/plans?plan_id=db-1%7C" in links[0]
    dash_duo.wait_for_text_to_equal("#digest-plan-changed", "plan changed")
    plans = dash_duo.find_element("#digest-live-plans").text
    assert "hash-b" in plans and "hash-a" in plans
    assert plans.index("hash-b") < plans.index("hash-a")  # newest first
    button = dash_duo.find_element("#digest-run-explain")
    assert button.is_displayed() and button.is_enabled()  # no sign-in: local operator
    _shot(dash_duo, "digest-caught-running.png")

    # a statement never caught running: one quiet sentence, no table
    query = urlencode({"instance_id": "db-1", "period": "2026-10", "query_id": _qid(REPORT)})
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?{query}")
    dash_duo.wait_for_contains_text("#digest-live-summary", "Never caught running", timeout=15)
    assert not dash_duo.find_elements("#digest-live-longest")
    assert dash_duo.find_element("#digest-live-plans").text == "No plan recorded yet."
    assert not dash_duo.find_elements("#digest-plan-changed")

    # the fleet row: captures across instances, no EXPLAIN button
    query = urlencode({"instance_id": "(fleet)", "period": "2026-10",
                       "query_id": _qid(ORDERS)})
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?{query}")
    dash_duo.wait_for_text_to_equal("#digest-live-summary", "5 times across all instances.",
                                    timeout=15)
    assert "db-2" in dash_duo.find_element("#digest-live-longest").text
    assert not dash_duo.find_element("#digest-run-explain").is_displayed()
    assert _severe(dash_duo) == []


@pytest.mark.browser
def test_realtime_page_links_each_capture_to_its_digest(dash_duo, browser_app) -> None:
    app, _store = browser_app
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/realtime")
    dash_duo.find_element("#realtime-since")  # "Last 24 hours" hides 2026's captures
    dash_duo.select_dcc_dropdown("#realtime-since", "Everything")
    dash_duo.wait_for_contains_text("#realtime-grid", "above p99", timeout=15)
    row = dash_duo.find_element("#realtime-grid .ag-row[row-id='db-1|2']")
    assert row.find_element(By.CSS_SELECTOR, "[col-id='position']").text == "above p99"
    grid = dash_duo.find_element("#realtime-grid").text
    assert "not in any collected month" in grid
    assert "November 2026" in grid
    _shot(dash_duo, "realtime-digest-links.png")
    link = dash_duo.find_element("#realtime-grid .ag-row[row-id='db-1|1'] "
                                 "[col-id='digest'] a")
    assert link.text == "October 2026"
    link.click()
    dash_duo.wait_for_contains_text("#digest-live-summary", "4 times", timeout=15)
    assert "/digests?instance_id=db-1&period=2026-10" in dash_duo.driver.current_url
    assert _severe(dash_duo) == []
