"""`GET /api/digests?group=fleet`: one row per statement across instances after a real
collection (moto holds the fleet's slow logs), on both store adapters."""

from __future__ import annotations

from urllib.parse import quote

from tests.test_collection_safety import _collect, app_and_services  # noqa: F401


def test_fleet_rows_after_a_collection(app_and_services) -> None:  # noqa: F811
    app, services = app_and_services
    run = _collect(app, services, {"month": "2026-10"})
    assert run["status"] == "completed"
    assert any("fleet view:" in line["message"] for line in run["logs"])
    client = app.server.test_client()
    per_instance = client.get("/api/digests?month=2026-10&limit=500").get_json()
    fleet = client.get("/api/digests?month=2026-10&group=fleet&limit=500").get_json()
    assert fleet["total"] == len({d["query_id"] for d in per_instance["digests"]})
    assert sum(d["count"] for d in fleet["digests"]) == sum(
        d["count"] for d in per_instance["digests"])
    assert [d["rank"] for d in fleet["digests"]] == list(range(1, fleet["total"] + 1))
    times = [d["query_time"]["sum"] for d in fleet["digests"]]
    assert times == sorted(times, reverse=True)
    row = fleet["digests"][0]
    assert row["instance_id"] == "(fleet)" and row["instance_count"] == len(row["instance_ids"])
    assert "sketch" not in row and "hourly" not in row
    assert row["query_time"]["p95"] is not None

    detail = client.get(f"/api/digests/{quote('(fleet)')}/2026-10/{row['query_id']}")
    assert detail.status_code == 200
    assert {p["instance_id"] for p in detail.get_json()["per_instance"]} == set(
        row["instance_ids"])

    wrong = client.get("/api/digests?group=fleet&instance_id=orders-prd-1")
    assert wrong.status_code == 400 and "leave out instance_id" in wrong.get_json()["error"]
    assert client.get("/api/digests?group=servers").status_code == 400
