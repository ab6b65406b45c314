"""CloudWatch collection end to end: moto holds the fleet and its slow logs, the app collects."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from analysis.fingerprint import fingerprint_and_id
from app import create_app
from settings import Settings
from store.flags import utc_iso
from tests.conftest import REGION
from tests.cw_seed import put_events, rds_entry
from tests.rds_seed import seed_rds

OCT = datetime(2026, 10, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return OCT.replace(day=day, hour=hour, minute=minute)


# (instance, stream group kind, statements with query times)
ORDERS = [("SELECT * FROM orders WHERE id = 1", 2.5), ("SELECT * FROM orders WHERE id = 2", 1.5),
          ("SELECT * FROM orders WHERE id = 3", 3.0),
          ("UPDATE stock SET qty = qty - 1 WHERE sku = 'A-1'", 0.75)]
AURORA_1 = [("SELECT name FROM products WHERE category_id IN (1, 2, 3)", 4.0),
            ("SELECT name FROM products WHERE category_id IN (7)", 1.0)]
AURORA_2 = [("DELETE FROM carts WHERE updated_at < '2026-09-01'", 9.0)]


def _seed_logs(aws_url: str) -> None:
    orders = [(_ms(_at(d + 1, 10 + d)), rds_entry(_at(d + 1, 10 + d), sql, qt, db="shop"))
              for d, (sql, qt) in enumerate(ORDERS)]
    # outside the period: the last second of September and the first of November
    orders.append((_ms(datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC)),
                   rds_entry(datetime(2026, 9, 30, 23, 59, 59), "SELECT 1", 100.0)))
    orders.append((_ms(datetime(2026, 11, 1, tzinfo=UTC)),
                   rds_entry(datetime(2026, 11, 1), "SELECT 2", 100.0)))
    put_events(aws_url, REGION, "/aws/rds/instance/orders-prd-1/slowquery", "orders-prd-1",
               orders)

    group = "/aws/rds/cluster/catalog-cluster/slowquery"
    put_events(aws_url, REGION, group, "catalog-aurora-1",
               [(_ms(_at(5, 1, n)), rds_entry(_at(5, 1, n), sql, qt, db="catalog"))
                for n, (sql, qt) in enumerate(AURORA_1)])
    put_events(aws_url, REGION, group, "catalog-aurora-2",
               [(_ms(_at(6)), rds_entry(_at(6), AURORA_2[0][0], AURORA_2[0][1]))])
    # orders-prd-2: two good events and two malformed ones
    put_events(aws_url, REGION, "/aws/rds/instance/orders-prd-2/slowquery", "orders-prd-2", [
        (_ms(_at(7)), rds_entry(_at(7), "SELECT * FROM invoices WHERE total > 10", 2.0)),
        (_ms(_at(7, 13)), "this is not a slow log entry"),
        (_ms(_at(7, 14)), "# Time: 2026-10-07T14:00:00Z\n# User@Host: a[a] @ h []\nSELECT 1;"),
        (_ms(_at(8)), rds_entry(_at(8), "SELECT * FROM invoices WHERE total > 99", 1.0)),
    ])
    # legacy-maria is a collection target with no log group: it must fail alone.


@pytest.fixture
def collecting_app(aws_settings: Settings):
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    app = create_app(aws_settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    return app, services


def _run(client, services, body: dict | None = None) -> dict:
    response = client.post("/cloudwatch/run", json=body if body is not None else {"month":
                                                                                  "2026-10"})
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    services.collection.wait(started["collection_id"], timeout=60)
    return started


def _digests(client, instance_id: str) -> dict[str, dict]:
    body = client.get(f"/api/digests?instance_id={instance_id}&month=2026-10&limit=500")
    return {d["query_id"]: d for d in body.get_json()["digests"]}


def test_collects_the_month_per_instance_and_carries_on_past_a_failure(collecting_app) -> None:
    app, services = collecting_app
    client = app.server.test_client()
    started = _run(client, services)
    assert started["status"] == "started"
    assert started["period"] == {"start_date": "2026-10-01", "end_date": "2026-10-31"}

    run = client.get(f"/cloudwatch/runs/{started['collection_id']}").get_json()
    assert run["status"] == "completed", run
    assert run["progress"] == 100
    # collect targets: orders-prd-1, orders-prd-2, catalog-aurora-1/2, legacy-maria
    assert (run["processed_instances"], run["total_instances"]) == (5, 5)
    assert run["total_queries"] == len(ORDERS) + len(AURORA_1) + len(AURORA_2) + 2
    assert run["malformed_events"] == 2
    assert [e["instance_id"] for e in run["errors"]] == ["legacy-maria"]
    assert "log group /aws/rds/instance/legacy-maria/slowquery not found" in \
        run["errors"][0]["error"]
    levels = {line["level"] for line in run["logs"]}
    assert {"info", "warning", "error"} <= levels
    assert run["completed_at"]

    orders = _digests(client, "orders-prd-1")
    fp, qid = fingerprint_and_id("SELECT * FROM orders WHERE id = 1")
    assert orders[qid]["fingerprint"] == fp == "select * from orders where id = ?"
    assert orders[qid]["count"] == 3
    assert orders[qid]["query_time"]["sum"] == pytest.approx(7.0)
    assert orders[qid]["query_time"]["max"] == pytest.approx(3.0)
    assert orders[qid]["databases"] == {"shop": 3}
    assert len(orders) == 2  # the events outside October are not counted
    # Aurora members read only their own streams of the cluster's group
    assert sum(d["count"] for d in _digests(client, "catalog-aurora-1").values()) == 2
    assert sum(d["count"] for d in _digests(client, "catalog-aurora-2").values()) == 1
    assert len(_digests(client, "catalog-aurora-1")) == 1  # IN lists of any length: one class

    listed = client.get("/cloudwatch/runs").get_json()["runs"]
    assert [r["collection_id"] for r in listed] == [started["collection_id"]]


def test_rerunning_a_period_replaces_it_and_never_double_counts(collecting_app) -> None:
    app, services = collecting_app
    client = app.server.test_client()
    _run(client, services)
    first = _digests(client, "orders-prd-1")
    second_run = _run(client, services)
    assert client.get(f"/cloudwatch/runs/{second_run['collection_id']}").get_json()[
        "status"] == "completed"
    second = _digests(client, "orders-prd-1")
    assert {k: (v["count"], v["query_time"]["sum"]) for k, v in second.items()} == {
        k: (v["count"], v["query_time"]["sum"]) for k, v in first.items()}
    body = client.get("/api/digests?month=2026-10&limit=500").get_json()
    assert body["total"] == 2 + 1 + 1 + 1  # orders-1, aurora-1, aurora-2, orders-2


def test_a_second_run_for_a_running_period_is_409(collecting_app) -> None:
    app, services = collecting_app
    client = app.server.test_client()
    services.store.runs.create({"collection_id": "busy", "status": "in_progress",
                                "period_key": "2026-10", "started_at": "2026-11-01T00:00:00Z",
                                "heartbeat_at": utc_iso(datetime.now(UTC))})  # alive
    assert services.store.flags.acquire_lease("collection:2026-10", "busy", 600)
    response = client.post("/cloudwatch/run", json={"month": "2026-10"})
    assert response.status_code == 409
    assert response.get_json()["collection_id"] == "busy"
    # another period is free
    other = client.post("/cloudwatch/run", json={"month": "2026-09",
                                                 "instance_ids": ["orders-prd-1"]})
    assert other.status_code == 202
    services.collection.wait(other.get_json()["collection_id"], timeout=60)


def test_a_dead_runs_period_frees_and_the_run_is_marked_interrupted(
        collecting_app) -> None:
    app, services = collecting_app
    services.store.runs.create({"collection_id": "dead", "status": "in_progress",
                                "period_key": "2026-10", "started_at": "2026-11-01T00:00:00Z"})
    services.store.flags.acquire_lease("collection:2026-10", "dead", -1)  # already expired
    started = _run(app.server.test_client(), services)
    assert started["collection_id"] != "dead"
    dead = services.store.runs.get("dead")
    assert dead["status"] == "error" and "interrupted" in dead["error"]


def test_instance_ids_and_a_custom_range(collecting_app) -> None:
    app, services = collecting_app
    client = app.server.test_client()
    started = _run(client, services, {"start_date": "2026-10-01", "end_date": "2026-10-02",
                                      "instance_ids": ["orders-prd-1"]})
    run = client.get(f"/cloudwatch/runs/{started['collection_id']}").get_json()
    assert run["instance_ids"] == ["orders-prd-1"]
    assert run["total_queries"] == 2  # days 1 and 2 only
    body = client.get("/api/digests?instance_id=orders-prd-1&period=2026-10-01_2026-10-02")
    assert sum(d["count"] for d in body.get_json()["digests"]) == 2


@pytest.mark.parametrize(("body", "message"), [
    ({"month": "2026-13"}, "month must look like YYYY-MM"),
    ({"month": "2026-10", "start_date": "2026-10-01"}, "either month or start_date"),
    ({"start_date": "2026-10-05", "end_date": "2026-10-01"}, "end_date is before start_date"),
    ({"instance_ids": ["nope"]}, "unknown instance_ids: nope"),
    ({"instance_ids": "orders-prd-1"}, "instance_ids must be a non-empty list"),
    ({"colour": "blue"}, "unknown field(s): colour"),
    ({"month": "2099-01"}, "starts in the future"),
])
def test_bad_requests_are_400_with_a_message(collecting_app, body: dict, message: str) -> None:
    app, _services = collecting_app
    response = app.server.test_client().post("/cloudwatch/run", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_non_json_body_is_refused(collecting_app) -> None:
    app, _ = collecting_app
    client = app.server.test_client()
    # text/plain is what a cross-site form can send: refused before the route runs
    plain = client.post("/cloudwatch/run", data="month=2026-10", content_type="text/plain")
    assert plain.status_code == 415
    assert "JSON" in plain.get_json()["error"]
    untyped = client.post("/cloudwatch/run", data="month=2026-10")
    assert untyped.status_code == 400
    assert "JSON object" in untyped.get_json()["error"]


def test_without_aws_the_run_is_refused(settings: Settings) -> None:
    response = create_app(settings).server.test_client().post("/cloudwatch/run", json={})
    assert response.status_code == 400
    assert "AWS_REGION" in response.get_json()["error"]


def test_unknown_run_and_bad_digest_queries(collecting_app) -> None:
    app, _ = collecting_app
    client = app.server.test_client()
    assert client.get("/cloudwatch/runs/nope").status_code == 404
    assert client.get("/api/digests?sort=fingerprint").status_code == 400
    assert client.get("/api/digests?limit=0").status_code == 400
    assert client.get("/api/digests?offset=x").status_code == 400


def test_every_instance_failing_ends_the_run_in_error(aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)  # no log groups at all
    app = create_app(replace(aws_settings))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    started = _run(app.server.test_client(), services)
    deadline = time.monotonic() + 10
    run = services.store.runs.get(started["collection_id"])
    while run["status"] not in ("completed", "error") and time.monotonic() < deadline:
        time.sleep(0.1)
        run = services.store.runs.get(started["collection_id"])
    assert run["status"] == "error"
    assert len(run["errors"]) == 5
    assert "not found" in run["error"]


def test_the_same_collection_on_mongodb(aws_settings: Settings, mongo_url: str) -> None:
    """The production store: a run, a re-run and the digest API on MongoDB (nx-27017)."""
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    app = create_app(replace(aws_settings, database_url=mongo_url))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    client = app.server.test_client()
    for _ in range(2):
        started = _run(client, services)
        run = client.get(f"/cloudwatch/runs/{started['collection_id']}").get_json()
        assert run["status"] == "completed" and run["total_queries"] == 9
    orders = _digests(client, "orders-prd-1")
    assert sorted(d["count"] for d in orders.values()) == [1, 3]
    assert client.get("/healthz").get_json()["store"] == "mongodb"
    assert client.get("/api/digests?month=2026-10").get_json()["total"] == 5
