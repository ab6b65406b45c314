"""The HTTP API through the real app (`create_app` + Flask's test client)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import EXPECTED, seed_rds
from tests.servers import free_port

INSTANCE_KEYS = {"instance_id", "engine", "engine_version", "instance_class", "status",
                 "endpoint", "cluster_id", "tags", "collect_target", "realtime_target",
                 "source", "gone"}


def test_healthz_on_the_embedded_default(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["store"] == "sqlite"
    assert body["aws"]["configured"] is False
    assert body["scheduler"] == {"running": False, "jobs": []}


def test_refresh_then_list_classifies_every_instance(aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    client = create_app(aws_settings).server.test_client()
    assert client.get("/api/instances").get_json() == {"instances": []}

    response = client.post("/api/instances/refresh")
    assert response.status_code == 200
    summary = response.get_json()
    assert (summary["discovered"], summary["collect_targets"], summary["realtime_targets"]) == (
        8, sum(c for c, _ in EXPECTED.values()), sum(r for _, r in EXPECTED.values()))

    instances = client.get("/api/instances").get_json()["instances"]
    assert {i["instance_id"] for i in instances} == set(EXPECTED)
    for instance in instances:
        assert set(instance) == INSTANCE_KEYS
        assert (instance["collect_target"], instance["realtime_target"]) == EXPECTED[
            instance["instance_id"]]
        assert instance["source"] == "rds" and instance["gone"] is False
    maria = client.get("/api/instances?engine=mariadb").get_json()["instances"]
    assert sorted(i["instance_id"] for i in maria) == ["legacy-maria", "maria-stg"]
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["aws"]["ok"] is True


def test_refresh_with_unreachable_aws_is_502_with_message_and_degraded_health(
        settings: Settings, aws) -> None:
    dead = replace(settings, aws_region=REGION, aws_timeout_seconds=1, aws_max_attempts=1,
                   aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    client = create_app(dead).server.test_client()
    response = client.post("/api/instances/refresh")
    assert response.status_code == 502
    assert "cannot reach the AWS endpoint" in response.get_json()["errors"]["rds"]
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    assert "cannot reach the AWS endpoint" in health["aws"]["error"]


def test_refresh_without_any_source_is_409(settings: Settings) -> None:
    response = create_app(settings).server.test_client().post("/api/instances/refresh")
    assert response.status_code == 409
    assert "AWS_REGION" in response.get_json()["error"]


def test_static_instances_come_through_the_api(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "static.json"
    path.write_text(json.dumps([{"instance_id": "onprem-1", "host": "10.1.1.1",
                                 "tags": {"env": "prd"}}]))
    client = create_app(replace(settings, static_instances_file=path)).server.test_client()
    assert client.post("/api/instances/refresh").get_json()["collect_targets"] == 1
    (instance,) = client.get("/api/instances").get_json()["instances"]
    assert instance["source"] == "static" and instance["collect_target"] is True


@pytest.mark.parametrize(("method", "path"), [("get", "/api/nothing"),
                                              ("post", "/api/instances/nothing")])
def test_unknown_api_paths_are_json_404(settings: Settings, method: str, path: str) -> None:
    response = getattr(create_app(settings).server.test_client(), method)(path)
    assert response.status_code == 404
    assert "no such API endpoint" in response.get_json()["error"]


def test_wrong_method_is_json_405(settings: Settings) -> None:
    response = create_app(settings).server.test_client().get("/api/instances/refresh")
    assert response.status_code == 405
    assert response.get_json()["error"]


def test_scheduler_refreshes_at_start(aws_settings: Settings) -> None:
    import time

    seed_rds(aws_settings.aws_endpoint_url, REGION)
    app = create_app(replace(aws_settings, scheduler_enabled=True))
    services = app.server.extensions["slowquery"]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not services.store.instances.list():
            time.sleep(0.1)
        assert len(services.store.instances.list()) == 8
        health = app.server.test_client().get("/healthz").get_json()
        assert health["scheduler"]["running"] is True
        assert sorted(j["id"] for j in health["scheduler"]["jobs"]) == [
            "fleet-views", "inventory-refresh", "realtime-capture"]
    finally:
        services.scheduler.shutdown()


def test_health_is_degraded_when_no_process_runs_the_jobs(settings: Settings) -> None:
    import time

    from jobs.scheduler import LEASE_JOB_ID, LEASE_NAME

    app = create_app(replace(settings, scheduler_enabled=True, scheduler_lease_seconds=5))
    services = app.server.extensions["slowquery"]
    client = app.server.test_client()
    try:
        assert client.get("/healthz").get_json()["status"] == "ok"  # still settling
        # a leader that stopped renewing (hung, or cut off) and whose lease ran out
        services.scheduler._scheduler.remove_job(LEASE_JOB_ID)
        services.store.flags.release_lease(LEASE_NAME, services.scheduler.owner)
        deadline = time.monotonic() + 10
        body = client.get("/healthz").get_json()
        while body["status"] == "ok" and time.monotonic() < deadline:
            time.sleep(0.25)
            body = client.get("/healthz").get_json()
        assert body["status"] == "degraded"
        assert body["reasons"] == ["no process runs the scheduled jobs (no lease holder)"]
        assert body["scheduler"]["leader"] is None
    finally:
        services.scheduler.shutdown()


def test_health_writes_to_the_store(settings: Settings) -> None:
    app = create_app(settings)
    app.server.test_client().get("/healthz")
    assert app.server.extensions["slowquery"].store.flags.get("healthz.write-probe")["at"]
