"""GET /api/plans/diff through the real app on both store adapters, with plan pairs recorded
from a real MariaDB before and after an index change (tests/fixtures/plans/mariadb/flips)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from analysis.findings import find_problems
from analysis.plan import parse_plan, plan_hash
from app import create_app
from settings import Settings
from store import open_store

FLIPS = Path(__file__).resolve().parent / "fixtures" / "plans" / "mariadb" / "flips"
INSTANCE = "orders/prd-1"  # a slash in the id, like the other plan tests


def flip_plan(name: str, side: str, query_id: str = "5A1F0C3D9E8B7A61") -> dict:
    """A plan document as collectors/explain.py stores it, from a recorded flip."""
    recorded = json.loads((FLIPS / f"flip_{name}_{side}.json").read_text(encoding="utf-8"))
    root = parse_plan(recorded["explain"])
    return {
        "instance_id": INSTANCE, "query_id": query_id, "fingerprint": "select ...",
        "plan_hash": plan_hash(root), "server_version": recorded["server_version"],
        "server_flavour": "mariadb", "converted_from": None,
        "explained_sql": recorded["query"], "db": "shop",
        "formats": {"json": {"supported": True, "text": json.dumps(recorded["explain"]),
                             "error": None}},
        "root": root.to_dict(), "findings": [f.to_dict() for f in find_problems(root)],
        "parsed_from": "json", "parse_error": None, "timed_out": False,
    }


@pytest.fixture
def seeded(settings: Settings, database_url: str) -> tuple[FlaskClient, dict[str, str]]:
    store = open_store(database_url)
    ids = {
        "before": store.plans.record(flip_plan("created_index_dropped", "before"),
                                     "2026-01-01T10:00:00.000000Z"),
        "after": store.plans.record(flip_plan("created_index_dropped", "after"),
                                    "2026-01-02T10:00:00.000000Z"),
        "join_before": store.plans.record(flip_plan("customer_index_dropped", "before", "Q2"),
                                          "2026-01-01T10:00:00.000000Z"),
        "join_after": store.plans.record(flip_plan("customer_index_dropped", "after", "Q2"),
                                         "2026-01-03T10:00:00.000000Z"),
    }
    store.close()
    app = create_app(replace(settings, database_url=database_url))
    return app.server.test_client(), ids


def _diff(client: FlaskClient, a: str, b: str, extra: str = ""):
    return client.get(f"/api/plans/diff?a={quote(a, safe='')}&b={quote(b, safe='')}{extra}")


def test_diff_names_what_changed(seeded) -> None:
    client, ids = seeded
    response = _diff(client, ids["before"], ids["after"])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"a", "b", "changes", "added", "removed", "table_order", "summary"}
    assert body["a"]["plan_id"] == ids["before"] and body["b"]["plan_id"] == ids["after"]
    assert set(body["a"]) == {"plan_id", "plan_hash", "first_seen", "last_seen"}
    assert body["a"]["first_seen"] == "2026-01-01T10:00:00.000000Z"
    (change,) = body["changes"]
    assert change["table"] == "orders"
    assert change["fields"]["access_type"] == ["ref", "ALL"]
    assert change["fields"]["key"] == ["idx_created", None]
    assert body["summary"].startswith("orders: ref on idx_created → ALL; rows 1 → 600")
    assert body["added"] == [] and body["removed"] == []


def test_diff_of_a_join_whose_order_turned(seeded) -> None:
    client, ids = seeded
    body = _diff(client, ids["join_before"], ids["join_after"]).get_json()
    assert body["table_order"] == {"a": ["c", "o"], "b": ["o", "c"]}
    assert {c["table"]: c["fields"]["access_type"] for c in body["changes"]} == {
        "c": ["ALL", "eq_ref"], "o": ["ref", "ALL"]}


def test_diff_is_masked_unless_literals_are_asked_for(seeded) -> None:
    client, ids = seeded
    masked = _diff(client, ids["before"], ids["after"])
    assert "2025-03-04" not in masked.get_data(as_text=True)
    shown = _diff(client, ids["before"], ids["after"], "&literals=true")
    assert shown.status_code == 200
    assert "2025-03-04 12:00:00" in shown.get_data(as_text=True)


def test_diff_errors(seeded) -> None:
    client, ids = seeded
    missing = client.get(f"/api/plans/diff?a={quote(ids['before'], safe='')}")
    assert missing.status_code == 400
    assert "b is required" in missing.get_json()["error"]
    assert client.get("/api/plans/diff").status_code == 400
    unknown = _diff(client, ids["before"], "orders/prd-1|Q9|nope")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "no such plan (b): orders/prd-1|Q9|nope"}
    typo = client.get(f"/api/plans/diff?a={quote(ids['before'], safe='')}&bb=x")
    assert typo.status_code == 400 and "bb" in typo.get_json()["error"]
    # the stored plans are still reachable by id: "diff" did not shadow them
    assert client.get(f"/api/plans/{quote(ids['after'], safe='')}").status_code == 200
