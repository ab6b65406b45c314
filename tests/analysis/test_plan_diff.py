"""analysis.plan_diff on plan pairs recorded from a real MariaDB around an index change
(tests/fixtures/plans/mariadb/flips, see record_mariadb.FLIPS), plus a live re-run of those
flips so a MariaDB upgrade that changes the optimiser's choice is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from analysis.plan import parse_plan
from analysis.plan_diff import diff_plans, format_estimate
from tests.fixtures.plans import record_mariadb

FLIPS = Path(__file__).resolve().parent.parent / "fixtures" / "plans" / "mariadb" / "flips"


def _pair(name: str) -> tuple[dict, dict]:
    return tuple(parse_plan(json.loads((FLIPS / f"flip_{name}_{side}.json").read_text(
        encoding="utf-8"))["explain"]).to_dict() for side in ("before", "after"))


def test_every_flip_is_recorded_from_its_statement() -> None:
    for name, flip in record_mariadb.FLIPS.items():
        for side in ("before", "after"):
            doc = json.loads((FLIPS / f"flip_{name}_{side}.json").read_text(encoding="utf-8"))
            assert doc["query"] == flip.query and doc["side"] == side
            assert "MariaDB" in doc["server_version"]
            assert doc["change"] == "; ".join(flip.change)


def test_dropped_index_turns_ref_into_a_full_scan() -> None:
    before, after = _pair("created_index_dropped")
    diff = diff_plans(before, after)
    assert not diff.added and not diff.removed
    (change,) = diff.changes
    assert change.table == "orders" and not change.moved
    assert change.fields["access_type"] == ["ref", "ALL"]
    assert change.fields["key"] == ["idx_created", None]
    assert change.fields["rows"] == [1.0, 600.0]
    assert diff.summary.startswith("orders: ref on idx_created → ALL; rows 1 → 600")
    assert "now full scan" not in diff.summary  # "→ ALL" says it already


def test_a_table_that_moved_in_the_join_order_still_pairs() -> None:
    before, after = _pair("customer_index_dropped")
    diff = diff_plans(before, after)
    assert diff.table_order_a == ["c", "o"] and diff.table_order_b == ["o", "c"]
    by_table = {c.table: c for c in diff.changes}
    assert set(by_table) == {"c", "o"}
    assert by_table["o"].node_a == "n0.0.1" and by_table["o"].node_b == "n0.0.0"
    assert by_table["o"].moved and by_table["c"].moved
    assert by_table["o"].fields["access_type"] == ["ref", "ALL"]
    assert by_table["c"].fields["access_type"] == ["ALL", "eq_ref"]
    assert by_table["c"].fields["key"] == [None, "PRIMARY"]
    assert "join order c, o → o, c" in diff.summary
    assert not diff.added and not diff.removed
    # the nested loop above them is the same operation: paired, unchanged, not reported
    assert diff.pairs["n0.0"] == "n0.0"


def test_added_key_removes_the_join_buffer() -> None:
    before, after = _pair("products_key_added")
    diff = diff_plans(before, after)
    by_table = {c.table: c for c in diff.changes}
    assert by_table["p"].fields["access_type"] == ["ALL", "eq_ref"]
    assert by_table["oi"].fields == {"flags": [["full_scan", "join_buffer"], ["full_scan"]]}
    assert "oi: no longer join buffer" in diff.summary


def test_same_plan_has_no_changes_and_the_api_shape_is_json() -> None:
    before, _after = _pair("customer_index_dropped")
    diff = diff_plans(before, copy.deepcopy(before))
    assert diff.identical and diff.changes == [] and "no difference" in diff.summary
    body = json.loads(json.dumps(diff_plans(*_pair("customer_index_dropped")).to_dict()))
    assert set(body) == {"changes", "added", "removed", "table_order", "summary"}
    assert set(body["changes"][0]) == {"node_a", "node_b", "table", "operation", "fields",
                                       "moved"}


def test_estimates_move_only_past_the_tolerance() -> None:
    before, _ = _pair("created_index_dropped")
    jitter = copy.deepcopy(before)
    jitter["children"][0]["rows"] = 1.05  # 5 %: noise
    assert diff_plans(before, jitter).identical
    bigger = copy.deepcopy(before)
    bigger["children"][0]["rows"] = 48000
    diff = diff_plans(before, bigger)
    assert diff.changes[0].fields == {"rows": [1.0, 48000]}
    assert diff.summary == "orders: rows 1 → 48,000"


def test_added_and_removed_nodes() -> None:
    _before, after = _pair("created_index_dropped")  # one table under Select #1
    two, _ = _pair("customer_index_dropped")          # nested loop over c and o
    diff = diff_plans(after, two)
    assert {n["table"] for n in diff.removed} == {"orders"}
    assert {n["table"] for n in diff.added} == {"c", "o", None}
    assert "removed: Table scan on orders (ALL)" in diff.summary
    assert "added: Nested loop" in diff.summary


def test_literals_are_masked_unless_asked_for() -> None:
    before, after = _pair("created_index_dropped")
    masked = json.dumps(diff_plans(before, after).to_dict())
    assert "2025-03-04" not in masked and "TIMESTAMP?" in masked
    shown = json.dumps(diff_plans(before, after, literals=True).to_dict())
    assert "2025-03-04 12:00:00" in shown
    # a literal-only difference is never a change, with or without literals
    other = copy.deepcopy(after)
    other["children"][0]["condition"] = "orders.created_at = TIMESTAMP'2025-09-09 00:00:00'"
    assert diff_plans(after, other, literals=True).identical


def test_operations_pair_by_position_when_they_are_renamed() -> None:
    before, _ = _pair("customer_index_dropped")
    renamed = copy.deepcopy(before)
    renamed["children"][0]["operation"] = "Hash join"
    diff = diff_plans(before, renamed)
    (change,) = diff.changes
    assert (change.node_a, change.node_b) == ("n0.0", "n0.0")
    assert change.fields == {"operation": ["Nested loop", "Hash join"]}
    assert diff.summary == "Nested loop → Hash join"


def test_format_estimate() -> None:
    assert format_estimate("rows", 48000.0) == "48,000"
    assert format_estimate("cost", 12.5) == "12.5"
    assert format_estimate("filtered", 11.71875) == "11.7 %"
    assert format_estimate("rows", None) == "?"


def test_no_plan_on_one_side() -> None:
    before, _ = _pair("created_index_dropped")
    diff = diff_plans(before, None)
    assert len(diff.removed) == 2 and diff.added == [] and diff.changes == []


# ---- live: the same flips on a real server choose the recorded plans ------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    from tests.mariadb_server import require_mariadb, start_mariadb

    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("flips"))
    conn = server.connect()
    try:
        record_mariadb.build_schema(conn)
        yield conn
    finally:
        conn.close()
        server.stop()


@pytest.mark.parametrize("name", sorted(record_mariadb.FLIPS))
def test_live_flip_diffs_like_the_recording(shop, name: str) -> None:
    live = [parse_plan(doc).to_dict()
            for doc in record_mariadb.explain_flip(shop, record_mariadb.FLIPS[name])]
    recorded = diff_plans(*_pair(name))
    fresh = diff_plans(*live)
    assert [(c.table, c.fields.get("access_type"), c.fields.get("key")) for c in fresh.changes] \
        == [(c.table, c.fields.get("access_type"), c.fields.get("key"))
            for c in recorded.changes]
    assert fresh.table_order_a == recorded.table_order_a
    assert fresh.table_order_b == recorded.table_order_b
