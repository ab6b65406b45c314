"""Table context (the Plans page's Tables tab) against a REAL MariaDB: the collector's read
with a SELECT-only monitoring account, the read-through cache on both store adapters, the
errors a user sees, and GET /api/plans/tables through the app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from analysis.plan_tables import plan_tables, statement_aliases
from app import create_app
from collectors.processlist import ConnectionParams
from collectors.table_context import TableContextError, read_table_context
from jobs.table_context import FRESH_SECONDS, plan_table_context
from settings import Settings
from store import Store, open_store
from tests.fixtures.plans import record_mariadb
from tests.mariadb_server import MariaDBServer, require_mariadb, start_mariadb
from tests.servers import free_port
from tests.test_plan_diff_api import INSTANCE, flip_plan

MONITOR_PASSWORD = "tbl-m0nitor-S3cret!"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@dataclass
class Lab:
    server: MariaDBServer
    monitor: ConnectionParams


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("tables"), networking=True)
    try:
        with server.connect() as conn:
            record_mariadb.build_schema(conn)
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE secret")
                cur.execute("CREATE TABLE secret.t (a INT PRIMARY KEY)")
                cur.execute("CREATE USER monitor@'%%' IDENTIFIED BY %s", (MONITOR_PASSWORD,))
                cur.execute("GRANT SELECT ON shop.* TO monitor@'%'")
        yield Lab(server, ConnectionParams("127.0.0.1", server.port, "monitor",
                                           MONITOR_PASSWORD))
    finally:
        server.stop()


def _global_writes(lab: Lab) -> dict[str, int]:
    """Server-wide counters of every statement kind that changes something."""
    with lab.server.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert', 'Com_update', "
                    "'Com_delete', 'Com_create_table', 'Com_alter_table', 'Com_drop_table', "
                    "'Com_replace', 'Com_analyze')")
        return {name: int(value) for name, value in cur.fetchall()}


# ---- the collector ----------------------------------------------------------------------------
def test_reads_rows_indexes_and_create_table_without_writing(lab: Lab) -> None:
    writes = _global_writes(lab)
    context = read_table_context(lab.monitor, "shop", "orders", now=T0)
    assert _global_writes(lab) == writes
    assert context["schema"] == "shop" and context["table"] == "orders"
    assert context["engine"] == "InnoDB" and context["table_type"] == "BASE TABLE"
    assert 300 <= context["rows_estimate"] <= 1200  # InnoDB's estimate of 600 rows
    assert context["read_at"] == "2026-03-01T10:00:00.000000Z"
    assert [(i["name"], i["columns"], i["unique"], i["primary"])
            for i in context["indexes"]] == [("PRIMARY", ["id"], True, True),
                                             ("idx_customer", ["customer_id"], False, False)]
    assert context["create_table"].startswith("CREATE TABLE `orders`")
    assert "KEY `idx_customer` (`customer_id`)" in context["create_table"]
    assert MONITOR_PASSWORD not in json.dumps(context)


def test_a_table_without_indexes(lab: Lab) -> None:
    context = read_table_context(lab.monitor, "shop", "products")
    assert context["indexes"] == []
    assert context["rows_estimate"] and context["data_bytes"] > 0


def test_missing_and_hidden_tables_are_one_sentence(lab: Lab) -> None:
    with pytest.raises(TableContextError, match=r"shop\.nope was not found on the server"):
        read_table_context(lab.monitor, "shop", "nope")
    # monitor has no grant on `secret`: the server hides the table altogether
    with pytest.raises(TableContextError, match="may not see it") as hidden:
        read_table_context(lab.monitor, "secret", "t")
    assert MONITOR_PASSWORD not in str(hidden.value)


def test_unreachable_server_is_one_sentence() -> None:
    params = ConnectionParams("127.0.0.1", free_port(), "monitor", MONITOR_PASSWORD)
    with pytest.raises(TableContextError, match="could not be reached") as unreachable:
        read_table_context(params, "shop", "orders", timeout_seconds=2)
    assert "check that it is running" in str(unreachable.value)
    assert MONITOR_PASSWORD not in str(unreachable.value)


def test_wrong_password_is_one_sentence(lab: Lab) -> None:
    params = replace(lab.monitor, password="wrong")
    with pytest.raises(TableContextError, match="1045") as denied:
        read_table_context(params, "shop", "orders")
    assert "wrong" not in str(denied.value).replace("wrong password", "")


# ---- which tables a plan reads ----------------------------------------------------------------
def test_plan_aliases_resolve_to_tables() -> None:
    plan = flip_plan("customer_index_dropped", "before")
    refs = plan_tables(plan["root"], plan["explained_sql"], "shop")
    assert [(r.schema, r.table, r.aliases) for r in refs] == [
        ("shop", "customers", ("c",)), ("shop", "orders", ("o",))]
    assert statement_aliases("SELECT * FROM other.`odd``name` AS x, t y WHERE a IN "
                             "(SELECT b FROM z)") == {
        "odd`name": ("other", "odd`name"), "x": ("other", "odd`name"), "t": (None, "t"),
        "y": (None, "t"), "z": (None, "z")}
    derived = json.loads((Path(__file__).parent / "fixtures" / "plans" / "mariadb"
                          / "derived_table.json").read_text())
    from analysis.plan import parse_plan

    refs = plan_tables(parse_plan(derived["explain"]).to_dict(), derived["query"], "shop")
    assert [(r.schema, r.table) for r in refs] == [("shop", "orders")]  # no <derived2>


# ---- the read-through cache, on both store adapters -------------------------------------------
def _instance(lab: Lab, **overrides) -> dict:
    return {"instance_id": INSTANCE, "engine": "mariadb", "user": "monitor",
            "password_env": "TBL_MONITOR_PASSWORD",
            "endpoint": {"address": "127.0.0.1", "port": lab.server.port}, **overrides}


def test_cache_reads_through_and_refreshes(lab: Lab, store: Store, settings: Settings,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TBL_MONITOR_PASSWORD", MONITOR_PASSWORD)
    store.instances.sync("static", [_instance(lab)], "2026-03-01T00:00:00Z")
    plan = flip_plan("customer_index_dropped", "before")
    reads: list[str] = []

    def counting_reader(*args, **kwargs):
        reads.append(args[2])
        return read_table_context(*args, **kwargs)

    first = plan_table_context(store, settings, plan, now=T0, reader=counting_reader)
    assert first["error"] is None and first["schema"] == "shop"
    assert [(t["table"], t["aliases"], t["cached"], t["error"]) for t in first["tables"]] == [
        ("customers", ["c"], False, None), ("orders", ["o"], False, None)]
    assert reads == ["customers", "orders"]
    orders = store.table_context.get(INSTANCE, "shop", "orders")
    assert orders["read_at"] == "2026-03-01T10:00:00.000000Z"
    assert [i["name"] for i in orders["indexes"]] == ["PRIMARY", "idx_customer"]

    later = T0 + timedelta(seconds=FRESH_SECONDS - 60)
    second = plan_table_context(store, settings, plan, now=later, reader=counting_reader)
    assert reads == ["customers", "orders"]  # served from the store
    assert all(t["cached"] and t["read_at"] == "2026-03-01T10:00:00.000000Z"
               for t in second["tables"])
    assert second["tables"][1]["indexes"] == first["tables"][1]["indexes"]

    refreshed = plan_table_context(store, settings, plan, now=later, refresh=True,
                                   reader=counting_reader)
    assert reads == ["customers", "orders"] * 2
    assert not any(t["cached"] for t in refreshed["tables"])
    assert store.table_context.get(INSTANCE, "shop", "orders")["read_at"].startswith(
        "2026-03-01T10:59:00")

    stale = T0 + timedelta(hours=3)
    plan_table_context(store, settings, plan, now=stale, reader=counting_reader)
    assert len(reads) == 6  # older than FRESH_SECONDS: read again


def test_errors_keep_the_last_good_read(lab: Lab, store: Store, settings: Settings,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TBL_MONITOR_PASSWORD", MONITOR_PASSWORD)
    store.instances.sync("static", [_instance(lab)], "2026-03-01T00:00:00Z")
    plan = flip_plan("created_index_dropped", "after")
    plan_table_context(store, settings, plan, now=T0)
    # the server moves away: a refresh keeps the last read and says why it is not newer
    store.instances.sync("static", [_instance(lab, endpoint={"address": "127.0.0.1",
                                                             "port": free_port()})],
                         "2026-03-01T00:00:00Z")
    answer = plan_table_context(store, settings, plan, now=T0, refresh=True)
    (orders,) = answer["tables"]
    assert orders["cached"] and orders["read_at"] == "2026-03-01T10:00:00.000000Z"
    assert "could not be reached" in orders["error"]
    assert orders["indexes"][0]["name"] == "PRIMARY"


def test_no_monitoring_account_is_one_sentence(lab: Lab, store: Store,
                                               settings: Settings) -> None:
    instance = _instance(lab)
    del instance["user"], instance["password_env"]
    store.instances.sync("static", [instance], "2026-03-01T00:00:00Z")
    answer = plan_table_context(store, replace(settings, mysql_user=""),
                                flip_plan("created_index_dropped", "after"), now=T0)
    assert answer["error"] == ("The tables cannot be read: MYSQL_USER is not set (the "
                               "monitoring account).")
    assert answer["tables"][0]["error"] == answer["error"]
    assert "indexes" not in answer["tables"][0]


def test_instance_not_in_inventory(store: Store, settings: Settings) -> None:
    answer = plan_table_context(store, settings, flip_plan("created_index_dropped", "after"))
    assert "is not in the inventory" in answer["error"]


# ---- the API ----------------------------------------------------------------------------------
def test_api_tables_of_a_plan(lab: Lab, settings: Settings, database_url: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TBL_MONITOR_PASSWORD", MONITOR_PASSWORD)
    store = open_store(database_url)
    store.instances.sync("static", [_instance(lab)], "2026-03-01T00:00:00Z")
    plan_id = store.plans.record(flip_plan("customer_index_dropped", "after"),
                                 "2026-03-01T00:00:00.000000Z")
    store.close()
    client = create_app(replace(settings, database_url=database_url)).server.test_client()
    url = f"/api/plans/tables?plan_id={quote(plan_id, safe='')}"
    body = client.get(url).get_json()
    assert body["plan_id"] == plan_id and body["error"] is None
    assert [(t["table"], t["cached"]) for t in body["tables"]] == [
        ("orders", False), ("customers", False)]
    customers = body["tables"][1]
    assert customers["indexes"][0]["columns"] == ["id"]
    assert "CREATE TABLE `customers`" in customers["create_table"]
    assert all(t["cached"] for t in client.get(url).get_json()["tables"])
    assert not any(t["cached"] for t in client.get(url + "&refresh=true").get_json()["tables"])
    assert MONITOR_PASSWORD not in client.get(url).get_data(as_text=True)
    assert client.get("/api/plans/tables").status_code == 400
    gone = client.get("/api/plans/tables?plan_id=nope")
    assert gone.status_code == 404 and "no such plan" in gone.get_json()["error"]
    assert client.get(url + "&refresh=maybe").status_code == 400
