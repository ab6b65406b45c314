"""Real-time capture against a real MariaDB: statements recorded once, switches, failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pymysql
import pytest

from analysis.capture import CaptureTracker, ProcessRow
from app import create_app
from settings import Settings
from tests.mariadb_server import require_mariadb, start_mariadb
from tests.servers import free_port

MONITOR_PASSWORD = "monitor-pw-7"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory):
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("rt-mariadb"), networking=True)
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE shop")
        cursor.execute("USE shop")
        cursor.execute("CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40))")
        cursor.execute("CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT, "
                       "total DECIMAL(10,2))")
        cursor.execute("INSERT INTO shop.customers SELECT seq, CONCAT('c', seq) "
                       "FROM seq_1_to_50")
        cursor.execute("INSERT INTO shop.orders SELECT seq, seq % 50 + 1, seq FROM seq_1_to_500")
        cursor.execute(f"CREATE USER monitor@'%' IDENTIFIED BY '{MONITOR_PASSWORD}'")
        cursor.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
        cursor.execute("CREATE USER app@'%' IDENTIFIED BY 'app-pw'")
        cursor.execute("GRANT ALL ON shop.* TO app@'%'")
    yield server
    server.stop()


@pytest.fixture
def realtime_app(mariadb, settings: Settings, tmp_path: Path, monkeypatch) -> Iterator:
    monkeypatch.setenv("SHOP_MONITOR_PASSWORD", MONITOR_PASSWORD)
    static = tmp_path / "static.json"
    static.write_text(json.dumps([
        {"instance_id": "shop-db", "host": "127.0.0.1", "port": mariadb.port,
         "engine": "mariadb", "user": "monitor", "password_env": "SHOP_MONITOR_PASSWORD",
         "tags": {"env": "prd", "real_time_slow_sql": "true"}},
        {"instance_id": "dead-db", "host": "127.0.0.1", "port": free_port(),
         "engine": "mysql", "user": "monitor", "password_env": "SHOP_MONITOR_PASSWORD",
         "tags": {"real_time_slow_sql": "true"}},
    ]))
    app = create_app(replace(settings, static_instances_file=static))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    yield app, services
    services.realtime.shutdown()


def _run_as_app(mariadb, sql: str) -> threading.Thread:
    def run() -> None:
        conn = pymysql.connect(host="127.0.0.1", port=mariadb.port, user="app",
                               password="app-pw", database="shop", autocommit=True)
        with conn, conn.cursor() as cursor:
            cursor.execute(sql)
            cursor.fetchall()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _poll_while(services, threads: list[threading.Thread], interval: float = 0.4) -> None:
    while any(t.is_alive() for t in threads):
        services.realtime.poll_once()
        time.sleep(interval)
    services.realtime.poll_once()


HEAVY_JOIN = ("SELECT c.name, SUM(o.total) FROM orders o JOIN customers c "
              "ON c.id = o.customer_id WHERE SLEEP(0.3) = 0 AND o.id <= 10 GROUP BY c.name")


def test_slow_statements_are_recorded_once_with_their_full_text(realtime_app,
                                                                mariadb) -> None:
    app, services = realtime_app
    client = app.server.test_client()
    threads = [_run_as_app(mariadb, "SELECT SLEEP(3)"), _run_as_app(mariadb, HEAVY_JOIN),
               _run_as_app(mariadb, "SELECT SLEEP(0.5)")]  # too short to record
    _poll_while(services, threads)

    queries = client.get("/api/realtime/queries?instance_id=shop-db&literals=true") \
        .get_json()["queries"]
    by_text = {q["sql_text"]: q for q in queries}
    assert sorted(by_text) == sorted(["SELECT SLEEP(3)", HEAVY_JOIN])
    for text in by_text:
        assert sum(1 for q in queries if q["sql_text"] == text) == 1
    sleep = by_text["SELECT SLEEP(3)"]
    assert sleep["duration"] >= 2
    assert sleep["user"] == "app" and sleep["db"] == "shop"
    assert sleep["end"] is not None and sleep["finished"] is True
    assert sleep["fingerprint"] == "select sleep(?)"
    assert len(sleep["query_id"]) == 32
    assert by_text[HEAVY_JOIN]["duration"] >= 2

    status = client.get("/api/realtime/status").get_json()
    assert status["enabled"] is True
    states = {s["instance_id"]: s for s in status["instances"]}
    assert states["shop-db"]["last_error"] is None and states["shop-db"]["last_poll"]
    assert states["shop-db"]["source"] == "information_schema"
    assert "dead-db" in states and "cannot connect" in states["dead-db"]["last_error"]
    assert MONITOR_PASSWORD not in json.dumps(status)


def test_switching_capture_off_stops_new_records(realtime_app, mariadb) -> None:
    app, services = realtime_app
    client = app.server.test_client()
    assert client.post("/api/realtime/stop").get_json()["enabled"] is False
    _poll_while(services, [_run_as_app(mariadb, "SELECT SLEEP(3)")])
    assert client.get("/api/realtime/queries").get_json()["queries"] == []

    client.post("/api/realtime/start")
    off = client.post("/api/realtime/stop", json={"instance_id": "shop-db"}).get_json()
    assert off["enabled"] is True
    assert {s["instance_id"]: s["enabled"] for s in off["instances"]}["shop-db"] is False
    _poll_while(services, [_run_as_app(mariadb, "SELECT SLEEP(3)")])
    assert client.get("/api/realtime/queries").get_json()["queries"] == []

    client.post("/api/realtime/start", json={"instance_id": "shop-db"})
    _poll_while(services, [_run_as_app(mariadb, "SELECT SLEEP(3)")])
    assert len(client.get("/api/realtime/queries").get_json()["queries"]) == 1


def test_switches_survive_a_restart(realtime_app, settings) -> None:
    app, services = realtime_app
    app.server.test_client().post("/api/realtime/stop", json={"instance_id": "shop-db"})
    again = create_app(replace(settings, static_instances_file=services.settings
                               .static_instances_file))
    status = again.server.test_client().get("/api/realtime/status").get_json()
    assert {s["instance_id"]: s["enabled"] for s in status["instances"]}["shop-db"] is False


@pytest.mark.parametrize(("path", "body", "code", "message"), [
    ("/api/realtime/start", {"instance_id": "nope"}, 404, "unknown instance_id nope"),
    ("/api/realtime/stop", {"instance_id": 5}, 400, "instance_id must be a string"),
    ("/api/realtime/queries?limit=x", None, 400, "limit must be a whole number"),
])
def test_bad_requests(realtime_app, path, body, code, message) -> None:
    app, _ = realtime_app
    client = app.server.test_client()
    response = client.post(path, json=body) if body is not None else client.get(path)
    assert response.status_code == code
    assert message in response.get_json()["error"]


def test_tracker_keys_executions_not_process_ids() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    tracker = CaptureTracker(min_seconds=2)

    def row(pid: int, seconds: float, sql: str, **extra) -> ProcessRow:
        base = {"user": "app", "host": "h", "db": None, "command": "Query", "state": None}
        return ProcessRow(pid=pid, time=seconds, info=sql, **{**base, **extra})

    first = tracker.observe("a", t0, [row(7, 2.2, "SELECT 1"), row(7, 9, "SELECT 1",
                                                                     command="Sleep")])
    assert len(first.started) == 1
    # one second later TIME says 3.0 (start jitters by 0.2 s): the same execution
    assert tracker.observe("a", t0 + timedelta(seconds=1), [row(7, 3.0, "SELECT 1")]).started \
        == []
    # same pid, a new statement: the old one ends and a new execution starts
    swap = tracker.observe("a", t0 + timedelta(seconds=3), [row(7, 2.0, "SELECT 2")])
    assert [e.sql_text for e in swap.finished] == ["SELECT 1"]
    assert [e.sql_text for e in swap.started] == ["SELECT 2"]
    # the same pid on another instance is another execution
    other = tracker.observe("b", t0 + timedelta(seconds=3), [row(7, 2.0, "SELECT 2")])
    assert len(other.started) == 1
    # own connection, system users, skipped commands and NULL info are ignored; NULL db kept
    quiet = tracker.observe("c", t0, [row(1, 5, "SELECT own"), row(2, 5, "x", user="rdsadmin"),
                                      row(3, 5, None), row(4, 5, "SELECT x", db=None)],
                            own_pid=1)
    assert [e.pid for e in quiet.started] == [4]


@pytest.mark.browser
def test_realtime_page_lists_a_capture_and_opens_it(dash_duo, realtime_app, mariadb) -> None:
    app, services = realtime_app
    _poll_while(services, [_run_as_app(mariadb, "SELECT SLEEP(3) /* page-test 42 */")])
    assert [c["sql_text"] for c in services.store.captures.recent()] == [
        "SELECT SLEEP(3) /* page-test 42 */"]
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/realtime")
    dash_duo.wait_for_contains_text("#realtime-grid", "SELECT SLEEP(?) /* page-test 42 */",
                                    timeout=15)
    dash_duo.wait_for_contains_text("#realtime-instance-switches", "shop-db")
    dash_duo.wait_for_contains_text("#realtime-instance-switches", "cannot connect")
    assert dash_duo.find_element("#realtime-switch").is_selected()

    dash_duo.find_element("#realtime-grid [col-id='sql'].ag-cell").click()
    dash_duo.wait_for_text_to_equal("#realtime-sql", "SELECT SLEEP(?) /* page-test 42 */")
    dash_duo.wait_for_text_to_equal("#realtime-fingerprint", "select sleep(?)")
    dash_duo.find_element("label[for='realtime-show-literals']").click()
    dash_duo.wait_for_text_to_equal("#realtime-sql", "SELECT SLEEP(3) /* page-test 42 */")

    dash_duo.find_element("#realtime-modal .btn-close").click()
    dash_duo.wait_for_no_elements("#realtime-modal .modal-body", timeout=5)
    dash_duo.find_element("label[for='realtime-switch']").click()
    deadline = time.monotonic() + 10
    while services.realtime.globally_enabled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert services.realtime.globally_enabled() is False
    logs = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert logs == [], [e["message"] for e in logs]


def _wait_for_plans(services, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        captures = services.store.captures.recent()
        done = [c for c in captures if c.get("plan_id") or c.get("plan_error")]
        if len(done) >= count:
            return captures
        time.sleep(0.2)
    raise AssertionError(f"plans not taken: {services.store.captures.recent()}")


def test_captures_get_read_only_plans_updates_through_their_select(realtime_app,
                                                                   mariadb) -> None:
    app, services = realtime_app
    update = "UPDATE orders SET total = total + 0 WHERE id = 7 AND SLEEP(3) = 0"
    _poll_while(services, [_run_as_app(mariadb, update),
                           _run_as_app(mariadb, "SELECT SLEEP(3) /* with plan */")])
    by_text = {c["sql_text"]: c for c in _wait_for_plans(services, 2)}

    update_plan = services.store.plans.get(by_text[update]["plan_id"])
    assert update_plan["converted_from"] == "update"
    assert update_plan["explained_sql"].upper().startswith("SELECT")
    assert update_plan["formats"]["json"]["supported"] is True
    tree = update_plan["formats"]["tree"]
    assert tree["supported"] is False and tree["error"].startswith("1791")
    assert update_plan["root"] and update_plan["root"]["children"] is not None
    assert "mariadb" in update_plan["server_flavour"]

    client = app.server.test_client()
    plans = client.get(f"/api/plans?instance_id=shop-db&query_id="
                       f"{by_text[update]['query_id']}").get_json()["plans"]
    assert [p["plan_id"] for p in plans] == [update_plan["plan_id"]]
    listed = client.get("/api/realtime/queries").get_json()["queries"]
    assert {q["plan_id"] for q in listed} >= {update_plan["plan_id"]}


def test_multi_statement_text_gets_no_plan_and_says_why(realtime_app) -> None:
    from collectors.explain import PlanUnavailable
    from collectors.processlist import connection_params
    from jobs.plans import explain_and_record

    _app, services = realtime_app
    instance = services.store.instances.get("shop-db")
    params = connection_params(instance, services.settings)
    for text in ("SELECT 1; SELECT 2", "EXPLAIN ANALYZE SELECT * FROM orders"):
        with pytest.raises(PlanUnavailable, match="not explainable"):
            explain_and_record(services.store, "shop-db", text, "shop", params)
    assert services.store.plans.list() == []


@pytest.mark.browser
def test_from_a_captured_query_to_its_plan_in_three_views(dash_duo, realtime_app,
                                                          mariadb) -> None:
    from tests.test_plans_page import _click, _cy, _open_tab

    app, services = realtime_app
    _poll_while(services, [_run_as_app(mariadb, HEAVY_JOIN)])
    (capture,) = _wait_for_plans(services, 1)
    assert capture["plan_id"], capture
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/realtime")
    dash_duo.wait_for_contains_text("#realtime-grid", "SUM(o.total)", timeout=15)
    dash_duo.find_element("#realtime-grid [col-id='sql'].ag-cell").click()
    dash_duo.wait_for_contains_text("#realtime-plan", "Explained as captured")
    _click(dash_duo, dash_duo.find_element("#realtime-open-plan"))

    dash_duo.wait_for_contains_text("#plan-visual", "o · range", timeout=15)
    _open_tab(dash_duo, "Graph")
    deadline = time.monotonic() + 10
    while not _cy(dash_duo, "return cy.nodes().length;") and time.monotonic() < deadline:
        time.sleep(0.2)
    table_node = _cy(dash_duo, "var n = cy.nodes().filter(function (x) {"
                               " return x.data('table') === 'o'; }); return n.id();")
    assert table_node
    _cy(dash_duo, f"cy.getElementById('{table_node}').emit('tap'); return true;")
    dash_duo.wait_for_contains_text("#plan-node-details", "Access type range")
    dash_duo.wait_for_contains_text("#plan-node-details", "o.`id` <= ?")  # masked
    _open_tab(dash_duo, "Raw")
    dash_duo.wait_for_contains_text("#plan-raw-json", "switch on Show literals")
    _click(dash_duo, dash_duo.find_element("label[for='plan-show-literals']"))
    dash_duo.wait_for_contains_text("#plan-raw-json", '"query_block"')
    dash_duo.wait_for_contains_text("#plan-raw-tree", "1791")
    logs = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert logs == [], [e["message"] for e in logs]


def test_a_slow_instance_never_delays_the_others(realtime_app, mariadb) -> None:
    """A host that does not answer holds its own poll, not the round of the others."""
    import socket

    _app, services = realtime_app
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)  # accepts nothing: connects hang until the 3 s connect timeout
    dead = services.store.instances.get("dead-db")
    dead["endpoint"]["port"] = silent.getsockname()[1]
    services.store.instances.sync("static", [services.store.instances.get("shop-db"), dead],
                                  "2026-11-01T00:00:00Z")
    try:
        thread = _run_as_app(mariadb, "SELECT SLEEP(3) /* beside a silent host */")
        started = time.monotonic()
        while thread.is_alive():
            services.realtime.poll_once(wait_for_all=False)
            time.sleep(0.4)
        time.sleep(0.6)
        services.realtime.poll_once(wait_for_all=False)
        elapsed = time.monotonic() - started
        captured = [c for c in services.store.captures.recent()
                    if "beside a silent host" in c["sql_text"]]
        assert len(captured) == 1 and captured[0]["duration"] >= 2, captured
        assert elapsed < 6
    finally:
        silent.close()
