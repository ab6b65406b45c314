"""The plans API through the real app: stored plans (list, one) and parsing pasted EXPLAIN output.

The plans stored by a real EXPLAIN session are covered in tests/test_explain.py; here the
documents are written straight into the store so every filter and error is cheap to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from analysis.plan import costliest_path, parse_plan, plan_hash
from app import create_app
from settings import Settings
from store import open_store

# MySQL 8 EXPLAIN FORMAT=TREE (from the MySQL test suite, as in tests/fixtures/plans/mysql).
TREE = """\
-> Sort: <temporary>.col1
    -> Stream results
        -> Inner hash join (t2.col1 = t1.col1)  (cost=2.10 rows=4)
            -> Table scan on t2  (cost=0.25 rows=4)
            -> Hash
                -> Table scan on t1  (cost=0.25 rows=4)
"""

# MariaDB 10.11 EXPLAIN FORMAT=JSON of "SELECT * FROM order_items WHERE qty > 3".
MARIADB_JSON = """\
{
  "query_block": {
    "select_id": 1,
    "nested_loop": [
      {
        "table": {
          "table_name": "order_items",
          "access_type": "ALL",
          "rows": 900,
          "filtered": 57.8125,
          "attached_condition": "order_items.qty > 3"
        }
      }
    ]
  }
}"""


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> FlaskClient:
    return create_app(replace(settings, database_url=f"sqlite:///{tmp_path}/x.db")) \
        .server.test_client()


# ---- POST /api/plans/parse ---------------------------------------------------------------------
def test_parse_tree_text(client: FlaskClient) -> None:
    response = client.post("/api/plans/parse", json={"text": TREE, "format": "tree"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"root", "findings", "plan_hash", "costliest_path"}
    root = parse_plan(TREE, "tree")
    assert body["root"] == json.loads(json.dumps(root.to_dict()))
    assert body["plan_hash"] == plan_hash(root)
    assert body["costliest_path"] == costliest_path(root)
    assert body["root"]["operation"].startswith("Sort")
    assert {"join_buffer", "filesort"} <= {f["code"] for f in body["findings"]}
    assert all(set(f) == {"node_id", "severity", "code", "table", "title", "detail", "message"}
               for f in body["findings"])
    join = next(f for f in body["findings"] if f["code"] == "join_buffer")
    assert join["table"] == "t1" and "(t2.col1 = t1.col1)" in join["detail"]
    sort = next(f for f in body["findings"] if f["code"] == "filesort")
    assert "<temporary>" not in sort["message"] and "col1" in sort["detail"]


def test_parse_mariadb_json_text(client: FlaskClient) -> None:
    response = client.post("/api/plans/parse", json={"text": MARIADB_JSON, "format": "json"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["plan_hash"] == plan_hash(parse_plan(MARIADB_JSON, "json"))
    leaf = body["root"] if not body["root"]["children"] else body["root"]["children"][0]
    assert (leaf["table"], leaf["access_type"]) == ("order_items", "ALL")
    assert "full_table_scan" in {f["code"] for f in body["findings"]}
    assert body["costliest_path"][0] == "n0"


def test_parse_detects_the_format_and_accepts_decoded_json(client: FlaskClient) -> None:
    auto_tree = client.post("/api/plans/parse", json={"text": TREE}).get_json()
    assert auto_tree["plan_hash"] == plan_hash(parse_plan(TREE, "tree"))
    auto_json = client.post("/api/plans/parse", json={"text": MARIADB_JSON, "format": "auto"})
    decoded = client.post("/api/plans/parse", json={"text": json.loads(MARIADB_JSON)})
    assert auto_json.status_code == decoded.status_code == 200
    assert auto_json.get_json() == decoded.get_json()


@pytest.mark.parametrize(("body", "message"), [
    ({"text": "{"}, "EXPLAIN output is not valid JSON"),
    ({"text": "{", "format": "json"}, "not valid JSON"),
    ({"text": "hello"}, "could not recognise the EXPLAIN format"),
    ({"text": "-> Table scan on t\n  -> bad indent", "format": "tree"}, "line 2"),
    ({"text": "{\"query_block\": 3}", "format": "json"}, "query_block"),
    ({"text": ""}, "non-empty string"),
    ({"text": "   "}, "non-empty string"),
    ({"text": 42}, "non-empty string"),
    ({}, "non-empty string"),
    ({"text": TREE, "format": "yaml"}, "format must be one of auto, json, tree"),
    ({"text": {"query_block": {}}, "format": "tree"}, "format 'tree' needs text"),
    ([TREE], "must be a JSON object"),
])
def test_parse_rejects_bad_input_with_400(client: FlaskClient, body: object,
                                          message: str) -> None:
    response = client.post("/api/plans/parse", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_parse_rejects_a_body_that_is_not_json(client: FlaskClient) -> None:
    response = client.post("/api/plans/parse", data="{", content_type="application/json")
    assert response.status_code == 400
    assert "must be a JSON object" in response.get_json()["error"]
    # text/plain is what a cross-site form can send: the guard refuses it before the route
    response = client.post("/api/plans/parse", data=TREE, content_type="text/plain")
    assert response.status_code == 415


def test_parse_rejects_huge_text(settings: Settings) -> None:
    """Past MAX_REQUEST_BYTES the body is a 413; within a bigger limit, text past the plan
    cap (2,000,000 characters) is a 400."""
    big = create_app(replace(settings, max_request_bytes=4 * 1024 * 1024)).server.test_client()
    response = big.post("/api/plans/parse", json={"text": "-> x\n" * 500_000})
    assert response.status_code == 400
    assert "too long" in response.get_json()["error"]
    small = create_app(settings).server.test_client()
    response = small.post("/api/plans/parse", json={"text": "-> x\n" * 500_000})
    assert response.status_code == 413


# ---- GET /api/plans ----------------------------------------------------------------------------
def _plan(instance_id: str, query_id: str, plan_hash_: str) -> dict:
    root = parse_plan(MARIADB_JSON, "json")
    return {
        "instance_id": instance_id, "query_id": query_id, "fingerprint": "select * from t",
        "plan_hash": plan_hash_, "server_version": "10.11.19-MariaDB",
        "server_flavour": "mariadb", "converted_from": None,
        "explained_sql": "SELECT * FROM t", "db": "shop",
        "formats": {"json": {"supported": True, "text": MARIADB_JSON, "error": None},
                    "tree": {"supported": False, "text": None,
                             "error": "1791: Unknown EXPLAIN/ANALYZE format name: 'TREE'"}},
        "root": root.to_dict(), "findings": [],
    }


@pytest.fixture
def seeded(settings: Settings, tmp_path: Path) -> Iterator[tuple[FlaskClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path}/plans.db"
    store = open_store(url)
    ids = {
        "a1": store.plans.record(_plan("db/a", "Q1", "h1"), "2026-01-01T00:00:00.000000Z"),
        "a1b": store.plans.record(_plan("db/a", "Q1", "h2"), "2026-01-03T00:00:00.000000Z"),
        "a2": store.plans.record(_plan("db/a", "Q2", "h1"), "2026-01-02T00:00:00.000000Z"),
        "b1": store.plans.record(_plan("db-b", "Q1", "h1"), "2026-01-04T00:00:00.000000Z"),
    }
    store.plans.record(_plan("db-b", "Q1", "h1"), "2026-01-05T00:00:00.000000Z")
    store.close()
    yield create_app(replace(settings, database_url=url)).server.test_client(), ids


def test_list_filters_by_instance_and_query(seeded) -> None:
    client, ids = seeded
    every = client.get("/api/plans").get_json()["plans"]
    assert [p["plan_id"] for p in every] == [ids["b1"], ids["a1b"], ids["a2"], ids["a1"]]
    by_instance = client.get("/api/plans", query_string={"instance_id": "db/a"}).get_json()
    assert {p["plan_id"] for p in by_instance["plans"]} == {ids["a1"], ids["a1b"], ids["a2"]}
    both = client.get("/api/plans", query_string={"instance_id": "db/a", "query_id": "Q1"})
    assert [p["plan_hash"] for p in both.get_json()["plans"]] == ["h2", "h1"]
    by_query = client.get("/api/plans?query_id=Q1").get_json()["plans"]
    assert {p["instance_id"] for p in by_query} == {"db/a", "db-b"}
    assert client.get("/api/plans?instance_id=none").get_json() == {"plans": []}
    assert len(client.get("/api/plans?limit=2").get_json()["plans"]) == 2


def test_listed_plans_carry_the_documented_fields(seeded) -> None:
    client, ids = seeded
    (plan,) = client.get("/api/plans?instance_id=db-b").get_json()["plans"]
    assert {"plan_id", "instance_id", "query_id", "plan_hash", "server_version", "formats",
            "root", "findings", "first_seen", "last_seen", "converted_from",
            "seen_count"} <= set(plan)
    assert (plan["first_seen"], plan["last_seen"], plan["seen_count"]) == (
        "2026-01-04T00:00:00.000000Z", "2026-01-05T00:00:00.000000Z", 2)
    assert plan["formats"]["tree"]["supported"] is False


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
def test_list_rejects_a_bad_limit(seeded, limit: str) -> None:
    client, _ = seeded
    response = client.get(f"/api/plans?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.get_json()["error"]


def test_get_one_plan_by_id(seeded) -> None:
    client, ids = seeded
    plan_id = ids["a1"]  # "db/a|Q1|h1": a slash and pipes
    encoded = client.get(f"/api/plans/{quote(plan_id, safe='')}?literals=true")
    raw = client.get(f"/api/plans/{plan_id}?literals=true")
    assert encoded.status_code == raw.status_code == 200
    assert encoded.get_json() == raw.get_json()
    assert encoded.get_json()["plan_id"] == plan_id
    assert encoded.get_json()["root"] == parse_plan(MARIADB_JSON, "json").to_dict()


def test_missing_plan_is_a_json_404(seeded) -> None:
    client, _ = seeded
    response = client.get("/api/plans/db-b|Q9|nope")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no such plan: db-b|Q9|nope"}


def test_wrong_method_is_a_json_405(client: FlaskClient) -> None:
    response = client.delete("/api/plans/x")
    assert response.status_code == 405
    assert "error" in response.get_json()
