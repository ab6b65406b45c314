"""EXPLAIN on demand for a collected digest, against a REAL MariaDB, through the API on both
store adapters: the plan is stored with the digest's query id; every refusal is one sentence
with the right status; a viewer gets 403."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from analysis.digest import DigestAggregator
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import SlowLogEntry
from app import create_app
from auth.credentials import add_token
from jobs.explain_on_demand import ExplainRefused, pick_example
from settings import Settings
from tests.mariadb_server import MariaDBServer, require_mariadb, start_mariadb
from tests.servers import free_port

MONITOR_PASSWORD = "on-demand-M0nitor"
OCT = datetime(2026, 10, 3, 9, tzinfo=UTC)
ORDERS_SQL = "SELECT o.id, o.total FROM orders o WHERE o.customer_id = {k} ORDER BY o.total"
SLOW_SQL = "SELECT * FROM (SELECT SLEEP(20) AS s) d"  # MariaDB executes it while optimising
INSERT_SQL = "INSERT INTO orders (id, customer_id, total) VALUES ({k}, 1, 2)"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("on-demand"), networking=True)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute("USE shop")  # the seq_1_to_N tables live in every database
        cur.execute("CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL,"
                    " total INT NOT NULL, KEY idx_customer (customer_id))")
        cur.execute("INSERT INTO shop.orders SELECT seq, seq % 50 + 1, seq % 700 "
                    "FROM seq_1_to_2000")
        cur.execute(f"CREATE USER monitor@'%' IDENTIFIED BY '{MONITOR_PASSWORD}'")
        cur.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
    yield server
    server.stop()


@dataclass
class Lab:
    settings: Settings
    app: object
    store: object
    ids: dict[str, str]  # statement name -> query id

    def client(self):
        return self.app.server.test_client()


def _digests(instance_id: str, statements: dict[str, tuple[str, float]]) -> list[dict]:
    agg = DigestAggregator(fingerprint_and_id)
    for n, (sql, seconds) in enumerate(statements.values()):
        for k in range(6):
            agg.add(instance_id, SlowLogEntry(
                time=OCT + timedelta(hours=n, minutes=k), user="app", host="10.0.0.5",
                ip="10.0.0.5", db="shop", query_time=seconds * (1 + k / 10), lock_time=0.0,
                rows_sent=1, rows_examined=100, sql=sql.replace("{k}", str(k + 1))))
    return [d.to_dict() for d in agg.digests(instance_id)]


def _make_lab(mariadb: MariaDBServer, settings: Settings, tmp_path: Path, database_url: str,
              monkeypatch: pytest.MonkeyPatch, **extra) -> Lab:
    monkeypatch.setenv("ON_DEMAND_MONITOR_PASSWORD", MONITOR_PASSWORD)
    static = tmp_path / "static.json"
    common = {"engine": "mariadb", "tags": {"env": "prd"}}
    static.write_text(json.dumps([
        {**common, "instance_id": "shop-db", "host": "127.0.0.1", "port": mariadb.port,
         "user": "monitor", "password_env": "ON_DEMAND_MONITOR_PASSWORD"},
        {**common, "instance_id": "dead-db", "host": "127.0.0.1", "port": free_port(),
         "user": "monitor", "password_env": "ON_DEMAND_MONITOR_PASSWORD"},
        {**common, "instance_id": "nouser-db", "host": "127.0.0.1", "port": mariadb.port},
    ]))
    configured = replace(settings, database_url=database_url, static_instances_file=static,
                         explain_timeout_seconds=1.0, **extra)
    app = create_app(configured)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    statements = {"orders": (ORDERS_SQL, 2.0), "slow": (SLOW_SQL, 20.0),
                  "insert": (INSERT_SQL, 3.0)}
    for instance_id in ("shop-db", "dead-db", "nouser-db", "imported-db"):
        services.store.digests.replace_period(instance_id, "2026-10",
                                              _digests(instance_id, statements))
    ids = {name: fingerprint_and_id(sql.replace("{k}", "1"))[1]
           for name, (sql, _s) in statements.items()}
    return Lab(configured, app, services.store, ids)


@pytest.fixture
def lab(mariadb, settings, tmp_path, database_url, monkeypatch) -> Lab:
    return _make_lab(mariadb, settings, tmp_path, database_url, monkeypatch)


def _explain(lab: Lab, instance_id: str, name: str, **kwargs):
    path = f"/api/digests/{quote(instance_id, safe='')}/2026-10/{lab.ids[name]}/explain"
    return lab.client().post(path, **kwargs)


def test_explain_stores_the_plan_with_the_digests_query_id(lab: Lab) -> None:
    response = _explain(lab, "shop-db", "orders")
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"plan_id", "plan_hash"}
    plans = lab.store.plans.list(instance_id="shop-db", query_id=lab.ids["orders"])
    assert [p["plan_id"] for p in plans] == [answer["plan_id"]]
    plan = plans[0]
    assert plan["plan_hash"] == answer["plan_hash"] and not plan["plan_hash"].startswith(
        "unparsed")
    assert plan["source"] == "on_demand" and plan["db"] == "shop"
    # the slowest example (customer_id = 6, 1.5x the base time) was the one explained
    assert plan["explained_sql"] == ORDERS_SQL.replace("{k}", "6")
    assert plan["formats"]["json"]["text"] and '"table_name": "o"' in \
        plan["formats"]["json"]["text"]
    # the Plans API lists it by the digest's query id, literals masked
    listed = lab.client().get(f"/api/plans?query_id={lab.ids['orders']}").get_json()["plans"]
    assert [p["plan_id"] for p in listed] == [answer["plan_id"]]
    assert listed[0]["explained_sql"] == ORDERS_SQL.replace("{k}", "?")
    again = _explain(lab, "shop-db", "orders", json={})
    assert again.status_code == 201 and again.get_json() == answer
    assert lab.store.plans.get(answer["plan_id"])["seen_count"] == 2


@pytest.mark.parametrize(("instance_id", "name", "status", "message"), [
    ("shop-db", "insert", 422, "not explainable: "),
    ("nouser-db", "orders", 409, "MYSQL_USER is not set"),
    ("dead-db", "orders", 502, "dead-db could not be reached: could not connect to "
                               "monitor@127.0.0.1"),
    ("imported-db", "orders", 409, "imported-db is not in the inventory"),
    ("(fleet)", "orders", 400, "EXPLAIN runs on one instance"),
])
def test_refusals_say_why_in_one_sentence(lab: Lab, instance_id, name, status,
                                          message) -> None:
    response = _explain(lab, instance_id, name)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error.startswith(message) or message in error, error
    assert MONITOR_PASSWORD not in error
    assert lab.store.plans.list(query_id=lab.ids[name]) == []


def test_unknown_digest_and_a_body_are_refused(lab: Lab) -> None:
    missing = lab.client().post("/api/digests/shop-db/2026-10/" + "0" * 32 + "/explain")
    assert missing.status_code == 404 and missing.get_json()["error"] == "no such digest"
    body = _explain(lab, "shop-db", "orders", json={"sql": "DROP TABLE orders"})
    assert body.status_code == 400 and "no body fields" in body.get_json()["error"]


def test_a_timeout_is_a_502_and_the_query_is_killed(lab: Lab, mariadb) -> None:
    started = time.monotonic()
    response = _explain(lab, "shop-db", "slow")
    assert time.monotonic() - started < 10  # 1 s server limit, not the 20 s sleep
    assert response.status_code == 502, response.get_json()
    assert "EXPLAIN timed out on shop-db" in response.get_json()["error"]
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE info LIKE 'EXPLAIN%SLEEP%'")
        assert cur.fetchone()[0] == 0


def test_a_viewer_gets_403_and_an_operator_token_works(mariadb, settings, tmp_path,
                                                       monkeypatch) -> None:
    tokens = tmp_path / "tokens.json"
    viewer, operator = add_token(tokens, "grafana", "viewer"), add_token(tokens, "ci",
                                                                         "operator")
    lab = _make_lab(mariadb, settings, tmp_path, settings.database_url, monkeypatch,
                    auth_tokens_file=tokens, secret_key="test-secret-key-0123456789")
    refused = _explain(lab, "shop-db", "orders", headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "operators only: your role is viewer"
    assert lab.store.plans.list(query_id=lab.ids["orders"]) == []
    assert _explain(lab, "shop-db", "orders").status_code == 401
    allowed = _explain(lab, "shop-db", "orders", headers={"Authorization": f"Bearer {operator}"})
    assert allowed.status_code == 201


def test_the_slowest_explainable_whole_example_is_picked() -> None:
    examples = [{"sql": "SELECT a FROM t WHERE id = 1", "query_time": 1.0},
                {"sql": "SELECT a FROM t WHERE id = 2", "query_time": 9.0, "truncated": True},
                {"sql": "SELECT a FROM t WHERE id = 3", "query_time": 4.0, "db": "x"}]
    assert pick_example(examples)["sql"].endswith("id = 3")
    with pytest.raises(ExplainRefused) as refused:
        pick_example([{"sql": "SET @a = 1", "query_time": 1.0}])
    assert refused.value.status == 422 and refused.value.message.startswith("not explainable")
    with pytest.raises(ExplainRefused, match="kept no example"):
        pick_example([])


@pytest.mark.browser
def test_run_explain_from_the_digest_window(dash_duo, mariadb, settings, tmp_path,
                                           monkeypatch) -> None:
    lab = _make_lab(mariadb, settings, tmp_path, settings.database_url, monkeypatch)
    dash_duo.start_server(lab.app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?instance_id=shop-db&period=2026-10"
                           f"&query_id={lab.ids['orders']}")
    dash_duo.wait_for_text_to_equal("#digest-live-plans", "No plan recorded yet.", timeout=15)
    dash_duo.find_element("#digest-run-explain").click()
    dash_duo.wait_for_contains_text("#digest-explain-ok", "Plan recorded", timeout=20)
    plan = lab.store.plans.list(instance_id="shop-db", query_id=lab.ids["orders"])[0]
    dash_duo.wait_for_contains_text("#digest-live-plans", plan["plan_hash"][:12], timeout=10)
    assert "on demand" in dash_duo.find_element("#digest-live-plans").text
    # a statement that cannot be explained says why, next to the button
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?instance_id=shop-db&period=2026-10"
                           f"&query_id={lab.ids['insert']}")
    dash_duo.wait_for_text_to_equal("#digest-live-plans", "No plan recorded yet.", timeout=15)
    dash_duo.find_element("#digest-run-explain").click()
    dash_duo.wait_for_contains_text("#digest-explain-error", "not explainable", timeout=20)
    assert [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"] == []
