"""The demo's Tables tab: the table context recorded from a real MariaDB
(demo/plans/tables.json, demo/recorded_tables.py) served through jobs.table_context with no
monitoring account, on both store adapters, and through GET /api/plans/tables of a demo app.

The demo's instances have no MYSQL_USER; without the recorded reader the tab could only say
"MYSQL_USER is not set", which a newcomer trying the demo cannot fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from collectors.table_context import TableContextError
from demo.recorded_plans import (
    ORDERS_FULL_SCAN,
    ORDERS_INDEXED,
    REGRESSED_INSTANCE,
    plan_document,
    recorded_plans,
)
from demo.recorded_tables import read_recorded_table, recorded_tables
from jobs.table_context import plan_table_context
from settings import Settings
from store import Store, open_store

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
OTHER = "orders-prd-2"  # any demo instance that kept orders.idx_created_at
NO_ACCOUNT = Settings(mysql_user="", scheduler_enabled=False)


def _inventory(store: Store) -> None:
    """The demo's instances as the inventory has them: an endpoint, no monitoring account."""
    store.instances.sync("static", [
        {"instance_id": i, "engine": "mariadb",
         "endpoint": {"address": f"{i}.demo.internal", "port": 3306}}
        for i in (REGRESSED_INSTANCE, OTHER)], "2026-11-01T00:00:00Z")


def _plan(name: str, instance_id: str) -> dict:
    recorded = recorded_plans()[name]
    return plan_document(recorded, instance_id, recorded.statement)


def _indexes(table: dict) -> list[tuple[str, list[str]]]:
    return [(i["name"], i["columns"]) for i in table["indexes"]]


def test_every_recorded_plan_gets_its_recorded_tables(store: Store) -> None:
    _inventory(store)
    for name in recorded_plans():
        answer = plan_table_context(store, NO_ACCOUNT, _plan(name, OTHER), now=T0,
                                    instance_reader=read_recorded_table)
        assert answer["error"] is None, (name, answer["error"])
        assert answer["tables"], name
        for table in answer["tables"]:
            assert table["error"] is None, (name, table)  # (cached when an earlier plan read it)
            assert table["engine"] == "InnoDB" and table["rows_estimate"] > 1000, table
            assert table["indexes"][0]["name"] == "PRIMARY"
            assert table["create_table"].startswith(f"CREATE TABLE `{table['table']}`")
            assert table["read_at"] == "2026-11-02T09:30:00.000000Z"
    # the read is kept in the store like a live one: a second opening is served from it
    again = plan_table_context(store, NO_ACCOUNT, _plan(ORDERS_INDEXED, OTHER), now=T0,
                               instance_reader=read_recorded_table)
    assert all(t["cached"] for t in again["tables"])
    assert store.table_context.get(OTHER, "shop", "orders")["schema"] == "shop"


def test_orders_prd_1_shows_the_dropped_index(store: Store) -> None:
    _inventory(store)
    regressed = plan_table_context(store, NO_ACCOUNT, _plan(ORDERS_FULL_SCAN, REGRESSED_INSTANCE),
                                   now=T0, instance_reader=read_recorded_table)
    other = plan_table_context(store, NO_ACCOUNT, _plan(ORDERS_INDEXED, OTHER), now=T0,
                               instance_reader=read_recorded_table)
    assert [(t["schema"], t["table"], t["aliases"]) for t in regressed["tables"]] == [
        ("shop", "orders", ["o"]), ("shop", "customers", ["c"])]
    orders = {a["instance_id"]: next(t for t in a["tables"] if t["table"] == "orders")
              for a in (regressed, other)}
    assert _indexes(orders[REGRESSED_INSTANCE]) == [("PRIMARY", ["id"])]
    assert "idx_created_at" not in orders[REGRESSED_INSTANCE]["create_table"]
    assert _indexes(orders[OTHER]) == [("PRIMARY", ["id"]), ("idx_created_at", ["created_at"])]
    assert "KEY `idx_created_at` (`created_at`)" in orders[OTHER]["create_table"]


def test_a_table_the_recording_lacks_is_a_table_gone_error(store: Store) -> None:
    with pytest.raises(TableContextError, match=r"shop\.nope was not found on the server"):
        read_recorded_table({"instance_id": OTHER}, "shop", "nope")
    _inventory(store)
    plan = {**_plan(ORDERS_INDEXED, OTHER), "db": "archive"}  # the tables resolve elsewhere
    answer = plan_table_context(store, NO_ACCOUNT, plan, now=T0,
                                instance_reader=read_recorded_table)
    assert answer["error"] is None
    assert [t["error"] for t in answer["tables"]] == [
        f"archive.{t} was not found on the server (dropped or renamed since the plan was "
        "recorded?), or the monitoring account may not see it." for t in ("orders", "customers")]


def test_the_real_path_is_unchanged(store: Store) -> None:
    """Without the demo's reader, a server with no MYSQL_USER says so, as before; with it,
    an instance gone from the inventory is still one plan-wide error."""
    _inventory(store)
    plan = _plan(ORDERS_INDEXED, OTHER)
    answer = plan_table_context(store, NO_ACCOUNT, plan, now=T0)
    assert answer["error"] == ("The tables cannot be read: MYSQL_USER is not set (the "
                               "monitoring account).")
    gone = plan_table_context(store, NO_ACCOUNT, {**plan, "instance_id": "nowhere-1"}, now=T0,
                              instance_reader=read_recorded_table)
    assert "is not in the inventory" in gone["error"]
    assert all(t["error"] == gone["error"] for t in gone["tables"])


def test_the_recording_covers_every_table_once() -> None:
    tables, after_drop = recorded_tables()
    assert ("shop", "orders") in tables and list(after_drop) == [("shop", "orders")]
    assert all("read_at" not in t for t in (*tables.values(), *after_drop.values()))
    served = read_recorded_table({"instance_id": OTHER}, "shop", "orders", now=T0)
    served["indexes"].clear()  # a caller's copy: the recording stays as it was
    assert tables[("shop", "orders")]["indexes"]


def test_api_tables_in_a_demo_app(database_url: str) -> None:
    """GET /api/plans/tables on an app built with settings.demo uses the recorded tables."""
    from app import create_app

    store = open_store(database_url)
    _inventory(store)
    plan_id = store.plans.record(_plan(ORDERS_FULL_SCAN, REGRESSED_INSTANCE),
                                 "2026-11-01T00:00:00.000000Z")
    store.close()
    settings = replace(NO_ACCOUNT, database_url=database_url, demo=True)
    client = create_app(settings).server.test_client()
    body = client.get(f"/api/plans/tables?plan_id={quote(plan_id, safe='')}").get_json()
    assert body["error"] is None, body
    assert [(t["table"], t["error"]) for t in body["tables"]] == [("orders", None),
                                                                    ("customers", None)]
    assert [i["name"] for i in body["tables"][0]["indexes"]] == ["PRIMARY"]
    assert "MYSQL_USER" not in str(body)
