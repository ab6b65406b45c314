"""Collection runs lose nothing and never stay stuck: kept months, interrupted runs, bounded
runs and bad events, on both store adapters (moto holds the fleet and its slow logs)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest

from app import create_app
from jobs.collection import INTERRUPTED, CollectionBusy
from settings import Settings
from store.flags import utc_iso
from tests.conftest import REGION
from tests.cw_seed import put_events, rds_entry
from tests.rds_seed import seed_rds
from tests.test_collection import _seed_logs

OCT = datetime(2026, 10, 5, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "mongodb"])
def app_and_services(request: pytest.FixtureRequest, aws_settings: Settings):
    settings = aws_settings
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    seed_rds(settings.aws_endpoint_url, REGION)
    _seed_logs(settings.aws_endpoint_url)
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    return app, services


def _collect(app, services, body: dict) -> dict:
    response = app.server.test_client().post("/cloudwatch/run", json=body)
    assert response.status_code == 202, response.get_json()
    collection_id = response.get_json()["collection_id"]
    services.collection.wait(collection_id, timeout=60)
    return services.store.runs.get(collection_id)


def test_a_period_with_no_events_keeps_what_was_collected(app_and_services) -> None:
    app, services = app_and_services
    first = _collect(app, services, {"month": "2026-10", "instance_ids": ["orders-prd-1"]})
    assert first["status"] == "completed" and first["total_queries"] == 4
    # CloudWatch retention: the month's events are gone
    services.inventory  # noqa: B018 - the same fleet

    from tests.servers import MotoServer  # noqa: F401 - documents where the reset happens

    logs = boto3.client("logs", region_name=REGION,
                        endpoint_url=services.settings.aws_endpoint_url)
    logs.delete_log_group(logGroupName="/aws/rds/instance/orders-prd-1/slowquery")
    logs.create_log_group(logGroupName="/aws/rds/instance/orders-prd-1/slowquery")
    put_events(services.settings.aws_endpoint_url, REGION,
               "/aws/rds/instance/orders-prd-1/slowquery", "orders-prd-1", [])

    again = _collect(app, services, {"month": "2026-10", "instance_ids": ["orders-prd-1"]})
    assert again["status"] == "completed"
    assert again["total_queries"] == 0
    (warning,) = again["warnings"]
    assert warning.startswith("orders-prd-1: 0 events: CloudWatch retention? kept 2 digests "
                              "collected on ")
    assert services.store.digests.stored("orders-prd-1", "2026-10")["digests"] == 2
    assert any(line["level"] == "warning" and "kept 2 digests" in line["message"]
               for line in again["logs"])

    forced = _collect(app, services, {"month": "2026-10", "instance_ids": ["orders-prd-1"],
                                      "replace_empty": True})
    assert forced["status"] == "completed" and not forced["warnings"]
    assert services.store.digests.stored("orders-prd-1", "2026-10")["digests"] == 0


def test_counters_count_only_what_was_stored(app_and_services) -> None:
    app, services = app_and_services
    run = _collect(app, services, {"month": "2026-10", "instance_ids": ["legacy-maria"]})
    assert run["status"] == "error"
    assert run["total_queries"] == 0
    assert run["message"] == "every instance failed (1)"
    assert run["error"].startswith("legacy-maria: ")


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_run_whose_process_died_is_interrupted_at_once_and_its_period_freed(
        app_and_services) -> None:
    app, services = app_and_services
    now = utc_iso(datetime.now(UTC))
    services.store.runs.create({
        "collection_id": "killed", "status": "in_progress", "period_key": "2026-10",
        "owner": f"{socket.gethostname()}:{_dead_pid()}", "heartbeat_at": now,
        "started_at": now, "logs": [], "errors": []})
    assert services.store.flags.acquire_lease("collection:2026-10", "killed", 600)
    assert services.collection.sweep() == ["killed"]
    killed = services.store.runs.get("killed")
    assert killed["status"] == "error" and killed["error"] == INTERRUPTED
    rerun = _collect(app, services, {"month": "2026-10", "instance_ids": ["orders-prd-1"]})
    assert rerun["status"] == "completed" and rerun["total_queries"] == 4


def test_a_live_owner_elsewhere_is_left_alone_until_its_heartbeat_stops(
        app_and_services) -> None:
    _app, services = app_and_services
    now = utc_iso(datetime.now(UTC))
    services.store.runs.create({
        "collection_id": "elsewhere", "status": "in_progress", "period_key": "2026-09",
        "owner": "another-host:1234", "heartbeat_at": now, "started_at": now,
        "logs": [], "errors": []})
    assert services.collection.sweep() == []
    stale = services.store.runs.get("elsewhere")
    stale["heartbeat_at"] = "2026-11-01T00:00:00.000000Z"
    services.store.runs.save(stale)
    assert services.collection.sweep() == ["elsewhere"]


def test_runs_beyond_the_limit_are_refused(app_and_services) -> None:
    app, services = app_and_services
    now = utc_iso(datetime.now(UTC))
    for n, period in enumerate(("2026-07", "2026-08")):
        services.store.runs.create({
            "collection_id": f"busy{n}", "status": "in_progress", "period_key": period,
            "owner": "another-host:1", "heartbeat_at": now, "started_at": now,
            "logs": [], "errors": []})
    with pytest.raises(CollectionBusy, match="COLLECTION_MAX_RUNS=2"):
        services.collection.start({"month": "2026-10"})
    response = app.server.test_client().post("/cloudwatch/run", json={"month": "2026-10"})
    assert response.status_code == 429
    assert "COLLECTION_MAX_RUNS" in response.get_json()["error"]
    # the refused run left its period free
    assert services.store.flags.acquire_lease("collection:2026-10", "probe", 5)


def test_an_event_that_breaks_the_fingerprinter_is_counted_not_fatal(app_and_services) -> None:
    app, services = app_and_services
    group = "/aws/rds/instance/orders-prd-1/slowquery"
    put_events(services.settings.aws_endpoint_url, REGION, group, "orders-prd-1-b", [
        (int(OCT.timestamp() * 1000), rds_entry(OCT, "SELECT \ud800 FROM t", 1.0)),
        (int(OCT.timestamp() * 1000) + 1, rds_entry(OCT, "SELECT 5 FROM t", 1.0)),
    ])
    run = _collect(app, services, {"month": "2026-10", "instance_ids": ["orders-prd-1"]})
    assert run["status"] == "completed", run
    assert run["errors"] == []
    assert run["malformed_events"] >= 1
    assert run["total_queries"] == 4 + 1
