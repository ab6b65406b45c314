"""Data for the chart export and embed tests: two months of digests made by the real
aggregator on two instances, and a plan parsed from real EXPLAIN JSON whose condition quotes
a value (so an export that forgot to mask would show it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.findings import find_problems
from analysis.fingerprint import fingerprint_and_id
from analysis.plan import parse_plan, plan_hash
from analysis.slowlog import SlowLogEntry

SEP, OCT = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
EMAIL = "alice@example.com"
SLOWER = f"SELECT * FROM orders WHERE email = '{EMAIL}'"
STEADY = "SELECT name FROM customers WHERE id = 7"
NEW = "SELECT sku FROM products WHERE price > 3"
INSTANCES = ("db1", "db2")
EXPLAIN_JSON = json.dumps({"query_block": {
    "select_id": 1, "cost_info": {"query_cost": "1012.25"},
    "table": {"table_name": "orders", "access_type": "ALL", "rows_examined_per_scan": 9800,
              "rows_produced_per_join": 98, "filtered": "1.00",
              "cost_info": {"read_cost": "992.65", "eval_cost": "19.60",
                            "prefix_cost": "1012.25", "data_read_per_join": "76K"},
              "used_columns": ["id", "email", "total"],
              "attached_condition": f"(`shop`.`orders`.`email` = '{EMAIL}')"}}})


@dataclass
class Seeded:
    ids: dict[str, str]  # query id by statement
    plan_id: str


def _store_month(store, instance_id: str, start: datetime,
                 statements: list[tuple[str, int, float]]) -> dict[str, str]:
    aggregator = DigestAggregator(fingerprint_and_id)
    ids = {}
    for sql, calls, seconds in statements:
        ids[sql] = fingerprint_and_id(sql)[1]
        for n in range(calls):
            aggregator.add(instance_id, SlowLogEntry(
                time=start + timedelta(hours=5 * n), user="app", host="h", db="shop",
                query_time=seconds, lock_time=0.001, rows_sent=1, rows_examined=100,
                sql=sql))
    store.digests.replace_period(instance_id, start.strftime("%Y-%m"), [
        {**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
        for d in aggregator.digests(instance_id)])
    return ids


def seed_charts(store) -> Seeded:
    """September and October on db1 and db2 (SLOWER regresses, NEW appears), and db1's plan
    of SLOWER: a full scan whose condition quotes an e-mail address."""
    ids: dict[str, str] = {}
    for instance_id in INSTANCES:
        ids |= _store_month(store, instance_id, SEP, [(SLOWER, 50, 0.2), (STEADY, 40, 0.1)])
        ids |= _store_month(store, instance_id, OCT, [(SLOWER, 60, 0.9), (STEADY, 44, 0.1),
                                                      (NEW, 15, 0.5)])
    root = parse_plan(EXPLAIN_JSON, "json")
    plan_id = store.plans.record({
        "instance_id": "db1", "query_id": ids[SLOWER], "fingerprint": "select * from orders "
        "where email = ?", "plan_hash": plan_hash(root), "root": root.to_dict(),
        "findings": [f.to_dict() for f in find_problems(root)],
        "formats": {"json": {"supported": True, "text": EXPLAIN_JSON, "error": None}},
    }, "2026-10-12T00:00:00.000000Z")
    return Seeded(ids, plan_id)
