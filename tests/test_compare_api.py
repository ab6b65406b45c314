"""`GET /api/compare` on both store adapters: two months of digests made by the real
aggregator, plans recorded as real-time capture records them, per instance and for the fleet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import SlowLogEntry
from app import create_app
from settings import Settings

SEP, OCT = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
SLOWER = "SELECT * FROM orders WHERE created_at > '2026-01-01' AND id = 5"
STEADY = "SELECT name FROM customers WHERE id = 7"
NEW = "SELECT sku FROM products WHERE price > 3"
GONE = "DELETE FROM carts WHERE id = 9"


def _store_month(store, instance_id: str, start: datetime,
                 statements: list[tuple[str, int, float, int]]) -> dict[str, str]:
    """(sql, calls, seconds per call, rows examined per call) -> stored; query ids by sql."""
    aggregator = DigestAggregator(fingerprint_and_id)
    ids = {}
    for sql, calls, seconds, rows in statements:
        ids[sql] = fingerprint_and_id(sql)[1]
        for n in range(calls):
            aggregator.add(instance_id, SlowLogEntry(
                time=start + timedelta(hours=n), user="app", host="h", db="shop",
                query_time=seconds, lock_time=0.001, rows_sent=1, rows_examined=rows,
                sql=sql))
    store.digests.replace_period(instance_id, start.strftime("%Y-%m"), [
        {**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
        for d in aggregator.digests(instance_id)])
    return ids


def _plan(instance_id: str, query_id: str, access: str, key: str | None) -> dict:
    return {"instance_id": instance_id, "query_id": query_id, "fingerprint": "f",
            "plan_hash": f"{access}-{key}", "root": {
                "node_id": "n0", "operation": "Table access", "table": "orders",
                "access_type": access, "key": key, "children": []}}


@pytest.fixture(params=["sqlite", "mongodb"])
def app(request: pytest.FixtureRequest, settings: Settings):
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    app = create_app(settings)
    return app, fill_two_months(app.server.extensions["slowquery"].store)


def fill_two_months(store) -> dict[str, str]:
    """September and October on db1 and db2, db1's plan flipping; query ids by statement."""
    for instance_id in ("db1", "db2"):
        ids = _store_month(store, instance_id, SEP, [
            (SLOWER, 50, 0.2, 100), (STEADY, 40, 0.1, 1), (GONE, 12, 0.3, 10)])
        ids |= _store_month(store, instance_id, OCT, [
            (SLOWER, 60, 0.62, 4000), (STEADY, 44, 0.1, 1), (NEW, 15, 0.5, 10)])
    plans = store.plans
    plans.record(_plan("db1", ids[SLOWER], "ref", "idx_created"), "2026-09-10T00:00:00.000000Z")
    plans.record(_plan("db1", ids[SLOWER], "ALL", None), "2026-10-12T00:00:00.000000Z")
    plans.record(_plan("db2", ids[SLOWER], "ref", "idx_created"), "2026-09-10T00:00:00.000000Z")
    plans.record(_plan("db2", ids[SLOWER], "ref", "idx_created"), "2026-10-10T00:00:00.000000Z")
    return ids


def test_one_instance_month_over_month(app) -> None:
    app, ids = app
    body = app.server.test_client().get(
        "/api/compare?month=2026-10&instance_id=db1").get_json()
    assert body["baseline"] == "2026-09"  # the month before, by default
    assert body["counts"] == {"regressed": 1, "new": 1, "improved": 0, "gone": 1,
                              "changed": 1}
    [worse] = body["regressed"]
    assert worse["query_id"] == ids[SLOWER] and worse["instance_id"] == "db1"
    assert worse["month"]["calls"] == 60 and worse["baseline"]["calls"] == 50
    causes = worse["causes"]
    assert causes["calls_share"] + causes["per_call_share"] == pytest.approx(1)
    assert causes["per_call_share"] > 0.8
    assert causes["rows_examined_ratio"] == 40.0 and causes["per_call_ratio"] == 3.1
    assert causes["plan_changed"] is True
    assert causes["plan_before"] == "ref on orders (idx_created)"
    assert causes["plan_now"] == "ALL on orders"
    assert body["new"][0]["query_id"] == ids[NEW]
    assert body["gone"][0]["query_id"] == ids[GONE]
    assert body["changed"][0]["causes"]["plan_changed"] is None  # no plans for it


def test_the_fleet_month_over_month(app) -> None:
    app, ids = app
    body = app.server.test_client().get("/api/compare?month=2026-10").get_json()
    assert body["instance_id"] == "(fleet)"
    [worse] = body["regressed"]
    assert worse["month"]["calls"] == 120 and worse["instance_ids"] == ["db1", "db2"]
    # db2 kept its plan, db1's flipped: the fleet row says changed and names db1
    assert worse["causes"]["plan_changed"] is True
    assert worse["causes"]["plan_instance_id"] == "db1"
    assert body["counts"]["new"] == 1 and body["counts"]["gone"] == 1


@pytest.mark.parametrize("query, message", [
    ("", "month is required"),
    ("?month=2026-13", "month must be a month"),
    ("?month=2026-10&baseline=2026-10", "another month"),
    ("?month=2026-10&limit=0", "limit"),
    ("?month=2026-10&regression=2", "unknown query parameter"),
])
def test_bad_requests(app, query: str, message: str) -> None:
    app, _ids = app
    answer = app.server.test_client().get(f"/api/compare{query}")
    assert answer.status_code == 400 and message in answer.get_json()["error"]
