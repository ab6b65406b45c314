"""The shapes of tests/fixtures/plans/mariadb/shapes/, explained again by a live MariaDB.

The recordings pin what MariaDB 10.11 printed; this runs the same statements
(record_mariadb_shapes.SHAPES, same schema and data) on the server installed here, so a MariaDB
upgrade that changes the format shows up as a failure even when nobody re-records: every
output must parse from the exact text the server printed, into nodes the model knows (no
generic fallback node), keeping every table the JSON names, with findings that run and do not
repeat themselves. On the server version the recordings came from, the plan's shape must
also be the recorded one (same schema, same data, same optimiser).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.findings import find_problems
from analysis.plan import iter_nodes, parse_plan, plan_hash
from tests.analysis.test_plan_shapes import raw_tables
from tests.fixtures.plans.record_mariadb import server_version
from tests.fixtures.plans.record_mariadb_shapes import (
    OUT_DIR,
    SHAPES,
    build_shapes_schema,
    explain_shape,
)
from tests.mariadb_server import require_mariadb, start_mariadb


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("plan-shapes"))
    conn = server.connect()
    try:
        build_shapes_schema(conn)
        yield conn
    finally:
        conn.close()
        server.stop()


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((Path(OUT_DIR) / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(SHAPES))
def test_live_shape_parses(live: Any, name: str) -> None:
    raw = explain_shape(live, SHAPES[name])
    root = parse_plan(raw)  # the text exactly as the server printed it
    nodes = list(iter_nodes(root))
    unknown = [(n.operation, n.extra["unknown_member"]) for n in nodes
               if "unknown_member" in n.extra]
    assert not unknown, f"{name}: the server printed members the plan model does not know"
    counted = Counter(n.table for n in nodes if n.table is not None)
    assert counted == raw_tables(json.loads(raw))
    findings = find_problems(root, full_scan_rows=1)
    keys = [(f.code, f.table or f.node_id) for f in findings]
    assert len(keys) == len(set(keys)), keys
    recorded = _recorded(name)
    if recorded["server_version"] == server_version(live):
        # same server, same data: the recording must be reproducible
        assert plan_hash(root) == plan_hash(parse_plan(recorded["explain"]))


def test_live_not_in_is_still_a_materialization(live: Any) -> None:
    """The issue's NOT IN shape, asserted on the live output rather than the recording."""
    raw = json.loads(explain_shape(live, SHAPES["not_in_subquery"]))
    assert "materialization" in raw["query_block"]["subqueries"][0]
    [sub] = [n for n in iter_nodes(parse_plan(raw)) if n.operation.startswith("Subquery")]
    assert "materialized" in sub.flags


def test_live_impossible_where_is_a_message_table(live: Any) -> None:
    raw = json.loads(explain_shape(live, SHAPES["impossible_where"]))
    assert raw["query_block"]["table"] == {"message": "Impossible WHERE"}
    root = parse_plan(raw)
    assert [c.operation for c in root.children] == ["Impossible WHERE"]


def test_live_analyze_of_dml_changes_nothing(live: Any) -> None:
    """ANALYZE runs the statement: the recorder rolls DML back, so later shapes see the same
    data (otherwise the recordings would depend on their order)."""
    cur = live.cursor()
    cur.execute("SELECT COUNT(*), SUM(total) FROM orders")
    before = cur.fetchone()
    for name in ("analyze_delete_where", "analyze_update_multi_table",
                 "analyze_delete_in_subquery", "analyze_insert_select"):
        parse_plan(explain_shape(live, SHAPES[name]))
    cur.execute("SELECT COUNT(*), SUM(total) FROM orders")
    assert cur.fetchone() == before
    cur.execute("SELECT COUNT(*) FROM archive_orders")
    assert cur.fetchone() == (0,)
    cur.close()
