"""The demo's real-time capture: a simulated processlist and plans recorded from MariaDB.

The service is the real one (jobs/realtime.py) on both stores; only its reader and its plan
recorder are the demo's, wired as webapp.py wires them when settings.demo.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from analysis.capture import CaptureTracker
from analysis.compare import plan_change, plans_by_statement
from analysis.fingerprint import fingerprint_and_id
from analysis.period import previous_month
from collectors.explain import ExplainError
from demo.processlist import SimulatedProcesslist, simulated_reader
from demo.recorded_plans import (
    ORDERS_FULL_SCAN,
    ORDERS_INDEXED,
    demo_plan_recorder,
    explain_recorded,
    plan_for,
    recorded_plans,
    seed_plan_history,
)
from demo.slowlog_generator import TEMPLATES
from jobs.realtime import RealtimeService
from settings import Settings
from store import Store
from store.flags import utc_iso

TARGETS = ("orders-prd-1", "catalog-aurora-2", "maria-stg")


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_simulated_processlist_captures_statements_with_plans(store: Store) -> None:
    store.instances.sync("static", [
        {"instance_id": iid, "engine": "mysql", "realtime_target": True,
         "collect_target": False, "endpoint": {"address": f"{iid}.demo", "port": 3306}}
        for iid in TARGETS], utc_iso(datetime.now(UTC)))
    service = RealtimeService(Settings(), store, plan_recorder=demo_plan_recorder(store),
                              reader_factory=simulated_reader)
    try:
        polls = 0
        while polls < 8 and len({c["instance_id"] for c in store.captures.recent()}) < 3:
            service.poll_once()
            polls += 1
            time.sleep(1)
        captures = store.captures.recent()
        assert {c["instance_id"] for c in captures} == set(TARGETS), polls
        assert all(c["duration"] >= 2 for c in captures)  # REALTIME_MIN_SECONDS
        assert _wait_for(lambda: all(
            c.get("plan_id") or c.get("plan_error") for c in store.captures.recent()))
        captures = store.captures.recent()
        planned = [c for c in captures if c.get("plan_id")]
        assert planned, [c.get("plan_error") for c in captures]
        assert not [c["plan_error"] for c in captures if c.get("plan_error")]
        for capture in planned:
            plan = store.plans.get(capture["plan_id"])
            assert plan["query_id"] == capture["query_id"]
            assert plan["server_flavour"] == "mariadb" and plan["root"]["children"]
        statuses = service.status()["instances"]
        assert [s["last_error"] for s in statuses] == [None] * 3
        assert {s["source"] for s in statuses} == {"simulated"}
    finally:
        service.shutdown()


def test_statements_run_longer_while_polled_and_new_ones_keep_arriving() -> None:
    now = [1_800_000_000.0]
    reader = SimulatedProcesslist("orders-prd-1", clock=lambda: now[0])
    tracker = CaptureTracker(min_seconds=2)
    started, grew = [], False
    seen: dict[int, float] = {}
    for _ in range(300):  # five minutes of one-second polls
        own_pid, rows = reader.read()
        assert own_pid in {r.pid for r in rows}  # the monitoring connection sees itself
        for row in rows:
            if row.info and row.pid != own_pid:
                grew |= row.time > seen.get(row.pid, row.time)
                seen[row.pid] = row.time
        started += tracker.observe("orders-prd-1", datetime.fromtimestamp(now[0], UTC), rows,
                                   own_pid).started
        now[0] += 1
    assert grew
    assert len(started) >= 10  # several captures a minute
    assert all(e.finished or e.max_time >= 2 for e in started)
    assert len({e.sql_text for e in started}) == len(started)  # realistic, varied literals
    assert not [e for e in started if e.sql_text.upper().startswith("SELECT SLEEP")]


def test_plans_are_real_mariadb_output_and_orders_prd_1_lost_its_index() -> None:
    plans = recorded_plans()
    assert {ORDERS_INDEXED, ORDERS_FULL_SCAN} <= set(plans)
    assert all("MariaDB" in p.server_version and p.explain.get("query_block")
               for p in plans.values())
    orders_sql = TEMPLATES[0].build(__import__("random").Random(3))
    assert plan_for(orders_sql, "orders-prd-1").name == ORDERS_FULL_SCAN
    assert plan_for(orders_sql, "catalog-aurora-2").name == ORDERS_INDEXED
    assert plan_for("SELECT 1", "orders-prd-1") is None
    result = explain_recorded(orders_sql, "orders-prd-1")  # parsed as a live EXPLAIN is
    assert result.explained and result.parsed_from == "json" and result.plan_hash
    assert [f["title"] for f in result.findings if f["severity"] == "high"] == [
        "Full table scan on `o`"]
    assert result.formats["tree"]["error"].startswith("1791: ")  # MariaDB has no TREE
    with pytest.raises(ExplainError):
        explain_recorded("SELECT 1", "orders-prd-1")


def test_seeded_history_makes_the_later_month_a_plan_change(store: Store) -> None:
    latest = previous_month(date(2026, 12, 5))
    before = previous_month(latest.start)
    ids = seed_plan_history(store, before, latest)
    assert len(ids) == 2
    _fp, qid = fingerprint_and_id(TEMPLATES[0].build(__import__("random").Random(1)))
    history = plans_by_statement(store.plans.history("orders-prd-1"))[("orders-prd-1", qid)]
    assert len(history) == 2

    def month(period) -> tuple[str, str]:
        start = datetime(period.start.year, period.start.month, 1, tzinfo=UTC)
        end = datetime(period.end.year, period.end.month, period.end.day, 23, 59, 59,
                       tzinfo=UTC)
        return utc_iso(start), utc_iso(end)

    change = plan_change(history, month(latest), month(before))
    assert change["plan_changed"] is True
    assert "range on o (idx_created_at)" in change["plan_before"]
    assert "ALL on o" in change["plan_now"]


@pytest.mark.parametrize("sql", [
    "INSERT INTO order_items (order_id, product_id, qty, price) VALUES (1, 2, 3, 4.00)"])
def test_what_cannot_be_explained_is_refused_as_a_live_explain_refuses_it(
        store: Store, sql: str) -> None:
    from collectors.explain import PlanUnavailable

    record = demo_plan_recorder(store)
    with pytest.raises(PlanUnavailable, match="not explainable"):
        record({"instance_id": "orders-prd-1"}, {"sql_text": sql})
