"""The execution-plan model (analysis.plan) and its findings (analysis.findings).

Fixtures (tests/fixtures/plans/):

* ``mysql/*`` - MySQL 8 EXPLAIN FORMAT=JSON / FORMAT=TREE / EXPLAIN ANALYZE outputs transcribed
  from the MySQL Reference Manual and mysql-server's mysql-test results; every file has a
  ``.source.txt`` sidecar with the URL (pinned commit for the test suite) and the statement.
* ``mariadb/*.json`` - real MariaDB output recorded by ``record_mariadb.py`` as
  ``{"query", "command", "server_version", "explain"}``.  The same statements are also run
  against a live throwaway MariaDB here, so a server upgrade that changes the format is caught.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import AnalysisError, PlanParseError
from analysis.findings import (
    CODES,
    SEVERITIES,
    Finding,
    PlanFacts,
    find_problems,
    low_filtered,
)
from analysis.plan import (
    FLAGS,
    PlanNode,
    costliest_path,
    iter_nodes,
    parse_plan,
    plan_hash,
)
from tests.fixtures.plans import record_mariadb

PLANS = Path(__file__).resolve().parent.parent / "fixtures" / "plans"
MYSQL = PLANS / "mysql"
MARIADB = PLANS / "mariadb"

MYSQL_FIXTURES = sorted(p.name for p in MYSQL.iterdir() if not p.name.endswith(".source.txt"))
MARIADB_FIXTURES = sorted(p.name for p in MARIADB.glob("*.json")
                          if p.name != "format_tree_error.json")


def mysql_text(name: str) -> str:
    return (MYSQL / name).read_text(encoding="utf-8")


def mariadb_doc(name: str) -> dict:
    return json.loads((MARIADB / name).read_text(encoding="utf-8"))


def load(name: str) -> PlanNode:
    if name in MARIADB_FIXTURES:
        return parse_plan(mariadb_doc(name)["explain"])
    return parse_plan(mysql_text(name))


def outline(root: PlanNode) -> list[str]:
    """One line per node: indentation by depth, operation, table, [access/key], {flags}."""
    out = []
    for n in iter_nodes(root):
        line = "  " * n.node_id.count(".") + n.operation
        if n.table:
            line += f" {n.table}"
        if n.access_type:
            line += f" [{n.access_type}{'/' + n.key if n.key else ''}]"
        if n.flags:
            line += " {" + ",".join(n.flags) + "}"
        out.append(line)
    return out


def node(root: PlanNode, node_id: str) -> PlanNode:
    for n in iter_nodes(root):
        if n.node_id == node_id:
            return n
    raise AssertionError(f"no node {node_id}")


def by_table(root: PlanNode, table: str) -> PlanNode:
    matches = [n for n in iter_nodes(root) if n.table == table]
    assert matches, f"no node reads {table}"
    return matches[0]


# ---- every fixture parses, with its provenance -------------------------------------------------
def test_fixture_inventory():
    json_fixtures = [n for n in MYSQL_FIXTURES if n.startswith("json_")]
    tree_fixtures = [n for n in MYSQL_FIXTURES if n.startswith("tree_")]
    assert len(json_fixtures) >= 4 and len(tree_fixtures) >= 4
    assert len(MARIADB_FIXTURES) >= 8
    assert set(OUTLINES) == set(MYSQL_FIXTURES) | set(MARIADB_FIXTURES)


@pytest.mark.parametrize("name", MYSQL_FIXTURES)
def test_mysql_fixture_has_a_cited_source(name):
    source = (MYSQL / (name.rsplit(".", 1)[0] + ".source.txt")).read_text(encoding="utf-8")
    assert re.search(r"^Source: https://(dev\.mysql\.com/doc/refman/8\.0/|github\.com/mysql/"
                     r"mysql-server/blob/[0-9a-f]{40}/mysql-test/r/)", source, re.M), source
    assert re.search(r"^Statement: (EXPLAIN|CREATE VIEW)", source, re.M)


@pytest.mark.parametrize("name", MARIADB_FIXTURES)
def test_mariadb_fixture_is_a_recording(name):
    doc = mariadb_doc(name)
    assert "MariaDB" in doc["server_version"]
    assert doc["command"] in ("EXPLAIN FORMAT=JSON", "ANALYZE FORMAT=JSON")
    stem = name[: -len(".json")]
    queries = {**record_mariadb.QUERIES, **record_mariadb.ANALYZE_QUERIES}
    assert doc["query"] == queries[stem]
    assert "query_block" in doc["explain"]


def test_recorded_mariadb_format_tree_error():
    doc = mariadb_doc("format_tree_error.json")
    assert doc["query"] == record_mariadb.TREE_PROBE
    assert doc["error"] == {"code": 1791,
                            "message": "Unknown EXPLAIN/ANALYZE format name: 'TREE'"}


@pytest.mark.parametrize("name", MYSQL_FIXTURES + MARIADB_FIXTURES)
def test_fixture_shape(name):
    root = load(name)
    assert outline(root) == OUTLINES[name]
    ids = [n.node_id for n in iter_nodes(root)]
    assert ids[0] == "n0" and len(set(ids)) == len(ids)
    expected_format = "tree" if name.startswith("tree_") else "json"
    assert root.extra["format"] == expected_format
    if expected_format == "json":
        assert root.extra["flavour"] == ("mariadb" if name in MARIADB_FIXTURES else "mysql")
    for n in iter_nodes(root):
        assert set(n.flags) <= set(FLAGS)
        for i, child in enumerate(n.children):
            assert child.node_id == f"{n.node_id}.{i}"


# Expected outline of every fixture (reviewed by hand against the EXPLAIN text).
OUTLINES: dict[str, list[str]] = {
    "json_dependent_subqueries.txt": [
        "Select #1",
        "  Table scan t5 [ALL] {full_scan}",
        "    Subquery #3 (dependent) {dependent_subquery}",
        "      Nested loop",
        "        Table scan t4 [ALL] {full_scan}",
        "        Index lookup t3 [ref/c_key] {using_index}",
        "    Subquery #2 (dependent) {dependent_subquery}",
        "      Nested loop",
        "        Table scan t2 [ALL] {full_scan}",
        "        Index lookup t1 [ref/c_key] {using_index}",
    ],
    "json_derived_hash_join.txt": [
        "Select #1",
        "  Table scan a4 [ALL] {full_scan}",
        "    Materialize {materialized}",
        "      Table scan a3 [ALL] {full_scan}",
        "        Materialize {materialized}",
        "          Table scan a2 [ALL] {full_scan}",
        "            Materialize {materialized}",
        "              Nested loop",
        "                Table scan t2 [ALL] {full_scan}",
        "                Table scan a1 [ALL] {full_scan,join_buffer}",
        "                  Materialize {materialized}",
        "                    Table scan t1 [ALL] {full_scan}",
    ],
    "json_group_order_nested_loop.txt": [
        "Select #1",
        "  Filesort {filesort,temporary}",
        "    Group by {filesort}",
        "      Nested loop",
        "        Table scan t1 [ALL] {full_scan}",
        "        Index lookup t2 [ref/PRIMARY] {using_index}",
    ],
    "json_no_tables.txt": [
        "Select #1",
    ],
    "json_order_by_dependent_subquery.txt": [
        "Select #1",
        "  Filesort {filesort}",
        "    Table scan t1 [ALL] {full_scan}",
        "    Subquery #2 (dependent) {dependent_subquery}",
        "      Table scan t2 [ALL] {full_scan}",
    ],
    "json_range_manual.json": [
        "Select #1",
        "  Index range scan country [range/PRIMARY]",
    ],
    "json_union_order.txt": [
        "Query",
        "  Union <union1,2> [ALL] {filesort,temporary}",
        "    Select #1",
        "      Table scan t1 [ALL] {full_scan}",
        "    Select #2",
        "      Table scan t2 [ALL] {full_scan}",
    ],
    "json_window_order_by.json": [
        "Select #1",
        "  Filesort {filesort}",
        "    Window functions {filesort,temporary}",
        "      Table scan t [ALL] {full_scan}",
    ],
    "json_windowing_view.json": [
        "Select #1",
        "  Table scan v [ALL] {full_scan}",
        "    Materialize {materialized}",
        "      Window functions {filesort}",
        "        Table scan t [ALL] {full_scan}",
    ],
    "tree_analyze_hash_join_manual.txt": [
        "Inner hash join {join_buffer}",
        "  Table scan t2 [ALL] {full_scan}",
        "  Hash",
        "    Table scan t1 [ALL] {full_scan}",
    ],
    "tree_analyze_index_range_manual.txt": [
        "Filter",
        "  Index range scan t3 [range/PRIMARY]",
    ],
    "tree_antijoin_materialize.txt": [
        "Nested loop antijoin",
        "  Table scan t1 [ALL] {full_scan}",
        "  Single-row index lookup <subquery2> [eq_ref/<auto_distinct_key>]",
        "    Materialize with deduplication {materialized}",
        "      Filter",
        "        Filter",
        "          Table scan t1 [ALL] {full_scan}",
    ],
    "tree_dependent_subquery.txt": [
        "Filter",
        "  Covering index scan t1 [index/PRIMARY] {full_scan,using_index}",
        "  Subquery #2 (dependent) {dependent_subquery}",
        "    Aggregate",
        "      Filter",
        "        Index range scan i [range]",
    ],
    "tree_distinct_index_lookup.txt": [
        "Table scan <temporary> [ALL] {full_scan}",
        "  Temporary table with deduplication {temporary}",
        "    Nested loop inner join",
        "      Table scan t1 [ALL] {full_scan}",
        "      Limit",
        "        Filter",
        "          Index lookup t2 [ref/a]",
    ],
    "tree_hash_join_cartesian.txt": [
        "Inner hash join {join_buffer}",
        "  Table scan t2 [ALL] {full_scan}",
        "  Hash",
        "    Filter",
        "      Table scan t1 [ALL] {full_scan}",
    ],
    "tree_hash_join_sort.txt": [
        "Sort {filesort}",
        "  Stream results",
        "    Inner hash join {join_buffer}",
        "      Table scan t2 [ALL] {full_scan}",
        "      Hash",
        "        Table scan t1 [ALL] {full_scan}",
    ],
    "tree_hash_join_three_tables.txt": [
        "Inner hash join {join_buffer}",
        "  Table scan t3 [ALL] {full_scan}",
        "  Hash",
        "    Filter",
        "      Inner hash join {join_buffer}",
        "        Table scan t2 [ALL] {full_scan}",
        "        Hash",
        "          Table scan t1 [ALL] {full_scan}",
    ],
    "tree_lateral_materialize.txt": [
        "Nested loop left join",
        "  Table scan t1 [ALL] {full_scan}",
        "  Nested loop inner join",
        "    Invalidate materialized tables (row from t3)",
        "      Nested loop left join",
        "        Table scan t2 [ALL] {full_scan}",
        "        Filter",
        "          Table scan t3 [ALL] {full_scan}",
        "    Covering index lookup t4d [ref/<auto_key0>] {using_index}",
        "      Materialize {materialized}",
        "        Limit",
        "          Filter",
        "            Table scan t4 [ALL] {full_scan}",
    ],
    "tree_left_join_const_row.txt": [
        "Nested loop left join",
        "  Covering index scan t1 [index/PRIMARY] {full_scan,using_index}",
        "  Filter",
        "    Constant row t2 [const]",
    ],
    "tree_projection_subquery_two_roots.txt": [
        "Query plan",
        "  Sort {filesort}",
        "    Stream results",
        "      Covering index scan t1 [index/PRIMARY] {full_scan,using_index}",
        "  Subquery #2 (dependent) {dependent_subquery}",
        "    Limit",
        "      Filter",
        "        Index range scan inner_t1 [range]",
    ],
    "tree_union_cost_ranges.txt": [
        "Sort {filesort}",
        "  Table scan <result temporary> [ALL] {full_scan}",
        "    Temporary table {temporary}",
        "      Limit",
        "        Sort {filesort}",
        "          Table scan <union temporary> [ALL] {full_scan}",
        "            Union materialize with deduplication {materialized}",
        "              Table scan r [ALL] {full_scan}",
        "              Limit",
        "                Sort {filesort}",
        "                  Table scan s [ALL] {full_scan}",
        "              Limit",
        "                Table scan <union temporary> [ALL] {full_scan}",
        "                  Union materialize with deduplication {materialized}",
        "                    Limit table size",
        "                      Table scan s [ALL] {full_scan}",
        "                    Limit table size",
        "                      Rows fetched before execution [const]",
    ],
    "analyze_dependent_subquery.json": [
        "Select #1",
        "  Table scan o [ALL] {full_scan}",
        "  Subquery #2 (dependent) {dependent_subquery}",
        "    Index lookup o2 [ref/idx_customer]",
    ],
    "dependent_subquery.json": [
        "Select #1",
        "  Table scan o [ALL] {full_scan}",
        "  Subquery #2 (dependent) {dependent_subquery}",
        "    Index lookup o2 [ref/idx_customer]",
    ],
    "derived_lateral.json": [
        "Select #1",
        "  Nested loop",
        "    Table scan c [ALL] {full_scan}",
        "    Index lookup <derived2> [ref/key0]",
        "      Materialize {materialized}",
        "        Index lookup orders [ref/idx_customer] {using_index}",
    ],
    "derived_table.json": [
        "Select #1",
        "  Filesort {filesort}",
        "    Table scan <derived2> [ALL] {full_scan}",
        "      Materialize {materialized}",
        "        Filesort {filesort}",
        "          Temporary table {temporary}",
        "            Table scan orders [ALL] {full_scan}",
    ],
    "eq_ref_join.json": [
        "Select #1",
        "  Nested loop",
        "    Index range scan o [range/PRIMARY]",
        "    Single-row index lookup c [eq_ref/PRIMARY]",
    ],
    "full_scan.json": [
        "Select #1",
        "  Table scan order_items [ALL] {full_scan}",
    ],
    "group_by_temporary_filesort.json": [
        "Select #1",
        "  Filesort {filesort}",
        "    Temporary table {temporary}",
        "      Table scan orders [ALL] {full_scan}",
    ],
    "join_without_index.json": [
        "Select #1",
        "  Nested loop",
        "    Table scan p [ALL] {full_scan}",
        "    Table scan oi [ALL] {full_scan,join_buffer}",
    ],
    "low_filtered.json": [
        "Select #1",
        "  Table scan orders [ALL] {full_scan}",
    ],
    "order_by_filesort.json": [
        "Select #1",
        "  Filesort {filesort}",
        "    Table scan products [ALL] {full_scan}",
    ],
    "range.json": [
        "Select #1",
        "  Index range scan orders [range/PRIMARY]",
    ],
    "ref_lookup.json": [
        "Select #1",
        "  Index lookup orders [ref/idx_customer]",
    ],
    "union.json": [
        "Query",
        "  Union <union1,2> [ALL]",
        "    Select #1",
        "      Table scan customers [ALL] {full_scan}",
        "    Select #2",
        "      Table scan orders [ALL] {full_scan}",
    ],
}


# ---- field-level details -----------------------------------------------------------------------
def test_mysql_json_fields_and_end_markers():
    root = load("json_group_order_nested_loop.txt")
    assert root.operation == "Select #1" and root.cost == 1.85 and root.extra["select_id"] == 1
    order = node(root, "n0.0")
    assert order.operation == "Filesort" and order.flags == ["filesort", "temporary"]
    t1, t2 = by_table(root, "t1"), by_table(root, "t2")
    assert (t1.access_type, t1.key, t1.possible_keys) == ("ALL", None, ["PRIMARY"])
    assert (t1.rows, t1.filtered, t1.cost) == (3.0, 100.0, 0.8)
    assert t1.extra["read_cost"] == "0.50" and t1.extra["used_columns"] == ["a", "b"]
    assert (t2.operation, t2.access_type, t2.key) == ("Index lookup", "ref", "PRIMARY")
    assert t2.flags == ["using_index"] and t2.extra["ref"] == ["test.t1.a"]
    assert t2.extra["used_key_parts"] == ["a"] and t2.extra["key_length"] == "4"
    # the /* ... */ end markers (end_markers_in_json=on) are comments, not plan content
    plain = re.sub(r" /\* \w+ \*/", "", mysql_text("json_group_order_nested_loop.txt"))
    json.loads(plain)
    assert parse_plan(plain).to_dict() == root.to_dict()


def test_mysql_json_subqueries_and_materialisation():
    root = load("json_dependent_subqueries.txt")
    subs = [n for n in iter_nodes(root) if n.operation.startswith("Subquery")]
    assert [(s.operation, s.extra["select_id"], s.extra["cacheable"]) for s in subs] == [
        ("Subquery #3 (dependent)", 3, False), ("Subquery #2 (dependent)", 2, False)]
    assert all(s.extra["subquery_kind"] == "attached" for s in subs)
    assert by_table(root, "t4").filtered == 33.33

    derived = load("json_derived_hash_join.txt")
    a1 = by_table(derived, "a1")
    assert a1.flags == ["full_scan", "join_buffer"] and a1.extra["join_buffer"] == "hash join"
    assert a1.extra["internal"] is True  # a materialised derived table
    assert a1.children[0].operation == "Materialize" and a1.children[0].cost == 1.2
    assert by_table(derived, "t1").extra.get("internal") is None

    union = load("json_union_order.txt")
    u = node(union, "n0.0")
    assert (u.table, u.access_type, u.extra["select_id"]) == ("<union1,2>", "ALL", 4)
    assert [c.extra["select_id"] for c in u.children] == [1, 2]
    assert u.children[0].extra["dependent"] is False

    view = load("json_windowing_view.json")
    window = next(n for n in iter_nodes(view) if n.operation == "Window functions")
    assert window.extra["windows"][0]["functions"] == ["sum"]
    assert window.extra["sort_key"] == ["`j` desc"]

    empty = load("json_no_tables.txt")
    assert empty.children == [] and empty.extra["message"] == "No tables used"


def test_mysql_tree_fields():
    root = load("tree_hash_join_three_tables.txt")  # "EXPLAIN: " label of \G output accepted
    assert (root.operation, root.condition, root.cost, root.rows) == (
        "Inner hash join", "t3.c1 = t1.c1", 1.05, 1.0)
    assert root.extra["text"] == "Inner hash join (t3.c1 = t1.c1)"
    filt = node(root, "n0.1.0")
    assert (filt.operation, filt.condition) == ("Filter", "(t1.c2 < t2.c2)")
    assert load("tree_hash_join_cartesian.txt").condition is None  # "Inner hash join" alone

    analyze = load("tree_analyze_hash_join_manual.txt")  # wrapped "(actual time=...)" lines
    scan = node(analyze, "n0.0")
    assert (scan.table, scan.cost, scan.rows) == ("t2", 0.06, 6.0)
    assert scan.extra["actual_time_first_ms"] == 0.003 and scan.extra["actual_time_ms"] == 0.005
    assert scan.extra["actual_rows"] == 6.0 and scan.extra["loops"] == 1.0
    rng = node(load("tree_analyze_index_range_manual.txt"), "n0.0")
    assert (rng.operation, rng.table, rng.access_type, rng.key) == (
        "Index range scan", "t3", "range", "PRIMARY")

    costs = load("tree_union_cost_ranges.txt")  # cost=first..total
    assert (costs.cost, costs.extra["cost_first_row"], costs.rows) == (13.1, 13.1, 3.0)
    assert node(costs, "n0.0").cost == 12.3 and node(costs, "n0.0").extra["cost_first_row"] == 10.6

    lookup = load("tree_distinct_index_lookup.txt")
    t2 = by_table(lookup, "t2")
    assert (t2.operation, t2.access_type, t2.key, t2.rows) == ("Index lookup", "ref", "a", 5.0)
    assert t2.extra["lookup"] == "a = t1.a" and t2.cost is None and t2.possible_keys is None
    assert node(lookup, "n0.0.0.1.0").rows == 1.67

    two = load("tree_projection_subquery_two_roots.txt")
    assert two.operation == "Query plan" and two.extra["synthetic"] is True
    assert [c.operation for c in two.children] == ["Sort", "Subquery #2 (dependent)"]
    assert two.children[1].extra["subquery_kind"] == "subquery in projection; dependent"

    const = load("tree_left_join_const_row.txt")
    assert by_table(const, "t2").access_type == "const"
    lateral = load("tree_lateral_materialize.txt")
    t4d = by_table(lateral, "t4d")
    assert (t4d.operation, t4d.key, t4d.flags) == ("Covering index lookup", "<auto_key0>",
                                                   ["using_index"])
    assert t4d.extra["internal"] is True
    assert node(lateral, "n0.1.0").flags == []  # "Invalidate materialized tables" != Materialize


@pytest.mark.parametrize("line, expected", [
    ("Table scan on c  (cost=0.35 rows=1)", ("Table scan", "c", "ALL", None, ["full_scan"])),
    ("Index scan on t using k  (cost=1 rows=10)", ("Index scan", "t", "index", "k",
                                                   ["full_scan"])),
    ("Covering index scan on t1 using PRIMARY (reverse)  (rows=3)",
     ("Covering index scan", "t1", "index", "PRIMARY", ["full_scan", "using_index"])),
    ("Index lookup on o using idx_customer (customer_id=c.id)  (cost=4.95 rows=9)",
     ("Index lookup", "o", "ref", "idx_customer", [])),
    ("Covering index lookup on o using idx_customer (customer_id=c.id)",
     ("Covering index lookup", "o", "ref", "idx_customer", ["using_index"])),
    ("Single-row index lookup on c using PRIMARY (id=o.customer_id)  (cost=0.25 rows=1)",
     ("Single-row index lookup", "c", "eq_ref", "PRIMARY", [])),
    ("Index range scan on t using idx over (10 < a)  (cost=2.1 rows=4)",
     ("Index range scan", "t", "range", "idx", [])),
    ("Constant row from t2  (rows=1)", ("Constant row", "t2", "const", None, [])),
    ("Rows fetched before execution", ("Rows fetched before execution", None, "const", None,
                                       [])),
    ("Filter: (o.total > 100)  (cost=1.2 rows=3)", ("Filter", None, None, None, [])),
    ("Sort: o.created_at DESC", ("Sort", None, None, None, ["filesort"])),
    ("Aggregate using temporary table", ("Aggregate using temporary table", None, None, None,
                                         ["temporary"])),
    ("Temporary table with deduplication  (rows=2)",
     ("Temporary table with deduplication", None, None, None, ["temporary"])),
    ("Remove duplicate t2 rows using temporary table (weedout)  (cost=1.10 rows=2)",
     ("Remove duplicates (weedout)", None, None, None, ["temporary"])),
    ("Hash", ("Hash", None, None, None, [])),
    ("Inner hash join (t2.c2 = t1.c1)  (cost=0.70 rows=1)",
     ("Inner hash join", None, None, None, ["join_buffer"])),
    ("Hash semijoin (t2.c2 = t1.c1)  (cost=0.70 rows=1)",
     ("Hash semijoin", None, None, None, ["join_buffer"])),
    ("Left hash join (t2.c1 = t1.c1)  (cost=0.70 rows=1)",
     ("Left hash join", None, None, None, ["join_buffer"])),
    ("Nested loop inner join  (cost=4.95 rows=9)",
     ("Nested loop inner join", None, None, None, [])),
    ("Materialize  (cost=2.5 rows=3)", ("Materialize", None, None, None, ["materialized"])),
    ("Materialize CTE my_cte  (rows=1)", ("Materialize CTE my_cte", None, None, None,
                                          ["materialized"])),
    ("Select #2 (subquery in condition; dependent)",
     ("Subquery #2 (dependent)", None, None, None, ["dependent_subquery"])),
    ("Select #3 (subquery in condition; run only once)",
     ("Subquery #3", None, None, None, [])),
    ("Limit: 10 row(s)", ("Limit", None, None, None, [])),
    ("Limit/Offset: 2/1 row(s)  (rows=0)", ("Limit/Offset", None, None, None, [])),
    ("Zero rows (no matching row in const table)  (rows=0)",
     ("Zero rows", None, None, None, [])),
    ("Insert into t2", ("Insert into", None, None, None, [])),
    ("Group aggregate: count(0)  (rows=1.73)", ("Group aggregate", None, None, None, [])),
])
def test_tree_line_classification(line, expected):
    n = parse_plan("-> " + line)
    assert (n.operation, n.table, n.access_type, n.key, n.flags) == expected
    assert n.extra["text"] == re.sub(r"\s+\((cost|rows)=[^()]*\)$", "", line)


def test_tree_line_details():
    assert parse_plan("-> Filter: (o.total > 100)").condition == "(o.total > 100)"
    assert parse_plan("-> Sort: o.created_at DESC").extra["sort_key"] == "o.created_at DESC"
    assert parse_plan("-> Limit: 10 row(s)").extra["limit"] == "10 row(s)"
    zero = parse_plan("-> Zero rows (no matching row in const table)  (rows=0)")
    assert zero.extra["reason"] == "no matching row in const table" and zero.rows == 0.0
    assert parse_plan("-> Index range scan on t using idx over (10 < a)").extra["detail"] == (
        "over (10 < a)")
    assert parse_plan("-> Insert into t2").extra["target"] == "t2"
    sub = parse_plan("-> Select #3 (subquery in condition; run only once)")
    assert sub.extra == {"text": "Select #3 (subquery in condition; run only once)",
                         "select_id": 3, "subquery_kind": "subquery in condition; run only once",
                         "format": "tree"}


def test_tree_masked_cost_from_mysql_test_suite():
    # mysql-test/r/hash_join.result (commit 06d27cbe...) masks machine-dependent costs as ***
    text = ("-> Aggregate: sum(t1.col1), sum(t2.col1)\n"
            "    -> Inner hash join (t2.col1 = t1.col1)  (cost=*** rows=26214)\n"
            "        -> Table scan on t2  (cost=*** rows=512)\n"
            "        -> Hash\n"
            "            -> Table scan on t1  (cost=*** rows=512)\n")
    root = parse_plan(text)
    assert (root.operation, root.extra["detail"]) == ("Aggregate", "sum(t1.col1), sum(t2.col1)")
    join = root.children[0]
    assert join.cost is None and join.rows == 26214.0


def test_tree_never_executed_and_inline_actuals():
    text = ("-> Nested loop inner join  (cost=0.70 rows=1) "
            "(actual time=0.05..0.06 rows=2 loops=1)\n"
            "    -> Table scan on a  (cost=0.35 rows=1) (actual time=0.02..0.03 rows=2 loops=1)\n"
            "    -> Single-row covering index lookup on b using PRIMARY (id=a.id)  "
            "(cost=0.25 rows=1) (never executed)\n")
    root = parse_plan(text, fmt="tree")
    assert root.extra["actual_rows"] == 2.0 and root.cost == 0.7
    b = by_table(root, "b")
    assert (b.operation, b.access_type, b.key, b.flags) == (
        "Single-row covering index lookup", "eq_ref", "PRIMARY", ["using_index"])
    assert b.extra["never_executed"] is True and b.extra["lookup"] == "id=a.id"


def test_mariadb_fields():
    bnl = load("join_without_index.json")
    oi = by_table(bnl, "oi")
    assert oi.flags == ["full_scan", "join_buffer"]
    assert oi.extra["join_buffer"].startswith("BNL (flat, ") and oi.extra["join_type"] == "BNL"
    assert oi.condition == "oi.product_id = p.`id`"
    assert (oi.rows, oi.possible_keys) == (900.0, [])
    assert by_table(bnl, "p").filtered < 100

    dep = load("dependent_subquery.json")
    sub = node(dep, "n0.1")
    assert sub.operation == "Subquery #2 (dependent)" and sub.flags == ["dependent_subquery"]
    assert sub.extra["expression_cache"] == {"state": "uninitialized"}
    assert by_table(dep, "o2").extra["ref"] == ["shop.o.customer_id"]

    analyze = load("analyze_dependent_subquery.json")
    o = by_table(analyze, "o")
    assert o.extra["r_rows"] == 600 and "r_filtered" in o.extra
    assert "r_total_time_ms" in analyze.extra and "query_optimization" in analyze.extra
    assert node(analyze, "n0.1").extra["expression_cache"]["r_loops"] == 600

    derived = load("derived_table.json")
    d = by_table(derived, "<derived2>")
    assert d.extra["internal"] is True and d.condition == "t.top > 100"
    mat = d.children[0]
    assert mat.operation == "Materialize" and mat.condition == "top > 100"  # HAVING
    assert node(derived, "n0.0").extra["sort_key"] == "t.n desc"
    assert load("derived_lateral.json").children[0].children[1].children[0].extra["lateral"] == 1

    union = load("union.json")
    assert union.operation == "Query"
    assert node(union, "n0.0.1").extra["operation"] == "UNION"


def test_mariadb_dependency_without_expression_cache():
    """With subquery_cache=off MariaDB prints no expression_cache; the ref naming the outer
    table (shop.o.customer_id) still marks the subquery dependent."""
    doc = copy.deepcopy(mariadb_doc("dependent_subquery.json")["explain"])
    item = doc["query_block"]["subqueries"][0]
    doc["query_block"]["subqueries"][0] = {"query_block": item["expression_cache"]["query_block"]}
    sub = node(parse_plan(doc), "n0.1")
    assert sub.flags == ["dependent_subquery"] and "expression_cache" not in sub.extra
    # ...but a ref to a table of the subquery itself does not
    doc["query_block"]["subqueries"][0]["query_block"]["nested_loop"][0]["table"]["ref"] = [
        "shop.o2.customer_id"]
    assert node(parse_plan(doc), "n0.1").flags == []


def test_flavour_detection():
    assert load("json_range_manual.json").extra["flavour"] == "mysql"
    assert load("range.json").extra["flavour"] == "mariadb"
    assert parse_plan('{"query_block": {"select_id": 1}}').extra["flavour"] == "mysql"


# ---- plan_hash ---------------------------------------------------------------------------------
_ESTIMATES = {"query_cost", "read_cost", "eval_cost", "prefix_cost", "sort_cost", "cost",
              "rows_examined_per_scan", "rows_produced_per_join", "rows", "filtered",
              "data_read_per_join", "r_rows", "r_filtered", "r_loops", "buffer_size"}


def _perturb(value, factor: float = 3.7):
    """Every estimate scaled; strings stay strings the way the server prints them."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _ESTIMATES and isinstance(item, bool) is False and isinstance(
                    item, (int, float)):
                out[key] = round(item * factor + 1, 2)
            elif key in _ESTIMATES and isinstance(item, str):
                out[key] = f"{float(re.sub(r'[^0-9.]', '', item) or 0) * factor + 1:.2f}"
            else:
                out[key] = _perturb(item, factor)
        return out
    if isinstance(value, list):
        return [_perturb(v, factor) for v in value]
    return value


def _json_of(name: str):
    if name in MARIADB_FIXTURES:
        return mariadb_doc(name)["explain"]
    return json.loads(re.sub(r" /\* \w+ \*/", "", mysql_text(name)))


def _tree_with_new_estimates(text: str) -> str:
    def scale(m: re.Match) -> str:
        return re.sub(r"\d+(?:\.\d+)?", lambda n: f"{float(n.group()) * 2.5 + 1:.3g}", m.group())
    return re.sub(r"\((?:cost|rows|actual time)=[^()]*\)", scale, text)


JSON_NAMES = [n for n in MYSQL_FIXTURES if n.startswith("json_")] + MARIADB_FIXTURES
TREE_NAMES = [n for n in MYSQL_FIXTURES if n.startswith("tree_")]


@pytest.mark.parametrize("name", JSON_NAMES)
def test_plan_hash_ignores_estimates_json(name):
    original = _json_of(name)
    perturbed = _perturb(original)
    before, after = parse_plan(original), parse_plan(perturbed)
    if name != "json_no_tables.txt":
        assert after.to_dict() != before.to_dict()  # the estimates really changed
    assert plan_hash(after) == plan_hash(before)


@pytest.mark.parametrize("name", TREE_NAMES)
def test_plan_hash_ignores_estimates_tree(name):
    text = mysql_text(name)
    changed = _tree_with_new_estimates(text)
    assert changed != text or "cost" not in text
    assert plan_hash(parse_plan(changed)) == plan_hash(parse_plan(text))


def test_plan_hash_ignores_literals_and_explain_vs_analyze():
    text = mysql_text("tree_hash_join_cartesian.txt")
    assert plan_hash(parse_plan(text.replace("> 50", "> 99"))) == plan_hash(parse_plan(text))
    assert plan_hash(load("dependent_subquery.json")) == plan_hash(
        load("analyze_dependent_subquery.json"))


def test_plan_hash_changes_with_key_access_type_table_and_order():
    doc = _json_of("json_group_order_nested_loop.txt")
    base = plan_hash(parse_plan(doc))
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    t2 = doc["query_block"]["ordering_operation"]["grouping_operation"]["nested_loop"][1]["table"]

    other_key = copy.deepcopy(doc)
    other_key["query_block"]["ordering_operation"]["grouping_operation"]["nested_loop"][1][
        "table"]["key"] = "idx_a"
    assert plan_hash(parse_plan(other_key)) != base

    other_access = copy.deepcopy(doc)
    other_access["query_block"]["ordering_operation"]["grouping_operation"]["nested_loop"][1][
        "table"]["access_type"] = "eq_ref"
    assert plan_hash(parse_plan(other_access)) != base

    no_filesort = copy.deepcopy(doc)
    no_filesort["query_block"]["ordering_operation"]["using_filesort"] = False
    assert plan_hash(parse_plan(no_filesort)) != base

    swapped = copy.deepcopy(doc)
    loop = swapped["query_block"]["ordering_operation"]["grouping_operation"]["nested_loop"]
    loop.reverse()
    assert plan_hash(parse_plan(swapped)) != base
    assert t2["key"] == "PRIMARY"  # the original is untouched

    text = mysql_text("tree_analyze_index_range_manual.txt")
    assert plan_hash(parse_plan(text.replace("using PRIMARY", "using idx_pk"))) != plan_hash(
        parse_plan(text))
    assert plan_hash(parse_plan(text.replace("Index range scan on t3 using PRIMARY",
                                             "Table scan on t3"))) != plan_hash(parse_plan(text))


# ---- tree helpers ------------------------------------------------------------------------------
def test_iter_nodes_is_preorder():
    root = load("tree_hash_join_three_tables.txt")
    assert [n.node_id for n in iter_nodes(root)] == [
        "n0", "n0.0", "n0.1", "n0.1.0", "n0.1.0.0", "n0.1.0.0.0", "n0.1.0.0.1", "n0.1.0.0.1.0"]


def test_costliest_path():
    assert costliest_path(load("json_group_order_nested_loop.txt")) == [
        "n0", "n0.0", "n0.0.0", "n0.0.0.0", "n0.0.0.0.1"]  # t2, prefix_cost 1.85
    # no costs at all: rows decide (Index lookup on t2, rows=5)
    assert costliest_path(load("tree_distinct_index_lookup.txt"))[-1] == "n0.0.0.1.0.0"
    # Hash side t1 (cost 0.85) beats the probe side t2 (0.06)
    assert costliest_path(load("tree_analyze_hash_join_manual.txt")) == ["n0", "n0.1", "n0.1.0"]
    assert costliest_path(load("json_no_tables.txt")) == ["n0"]
    for name in MYSQL_FIXTURES + MARIADB_FIXTURES:
        root = load(name)
        path = costliest_path(root)
        assert path[0] == "n0"
        for parent, child in zip(path, path[1:], strict=False):
            assert child.rsplit(".", 1)[0] == parent
        assert node(root, path[-1]).children == []


def test_to_dict_shape_and_round_trip():
    root = load("json_dependent_subqueries.txt")
    d = root.to_dict()
    assert set(d) == {"node_id", "operation", "table", "access_type", "key", "possible_keys",
                      "rows", "filtered", "cost", "condition", "flags", "extra", "children"}
    json.dumps(d)  # JSON-ready
    assert PlanNode.from_dict(json.loads(json.dumps(d))) == root
    assert not hasattr(root, "__dict__")  # slotted
    with pytest.raises(PlanParseError):
        PlanNode.from_dict({"operation": "x"})


# ---- findings (more in test_findings_real_plans.py) --------------------------------------------
def codes(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.node_id, f.code) for f in findings}


@pytest.mark.parametrize("name, node_id", [
    ("json_dependent_subqueries.txt", "n0.0.0"),
    ("json_dependent_subqueries.txt", "n0.0.1"),
    ("json_order_by_dependent_subquery.txt", "n0.0.1"),
    ("tree_dependent_subquery.txt", "n0.1"),
    ("tree_projection_subquery_two_roots.txt", "n0.1"),
    ("dependent_subquery.json", "n0.1"),
    ("analyze_dependent_subquery.json", "n0.1"),
])
def test_dependent_subquery_finding(name, node_id):
    findings = find_problems(load(name))
    hit = [f for f in findings if f.code == "dependent_subquery" and f.node_id == node_id]
    assert len(hit) == 1 and hit[0].severity == "high"
    assert hit[0].title.startswith("Subquery ") and "runs again for every row of" in hit[0].title
    assert "runs it once" in hit[0].detail
    assert findings[0].severity == "high"


def test_filesort_and_temporary_findings():
    mysql = find_problems(load("json_group_order_nested_loop.txt"))
    # the ORDER BY and the GROUP BY sort of the same joined rows are one finding
    sort = next(f for f in mysql if f.code == "filesort")
    assert sort.severity == "medium" and sort.title == "Filesort for ORDER BY and GROUP BY"
    assert ("n0.0", "temporary_table") in codes(mysql)

    maria = find_problems(load("group_by_temporary_filesort.json"))
    assert {("n0.0", "filesort"), ("n0.0.0", "temporary_table")} <= codes(maria)
    assert "by count(*) desc" in next(f for f in maria if f.code == "filesort").detail

    order = find_problems(load("order_by_filesort.json"))
    assert ("n0.0", "filesort") in codes(order)
    assert ("n0", "filesort") in codes(find_problems(load("tree_hash_join_sort.txt")))
    # UNION's own temporary table is inherent: low
    union = find_problems(load("json_union_order.txt"))
    assert [f.severity for f in union if f.code == "temporary_table"] == ["low"]


def test_full_scan_findings_depend_on_size():
    small = find_problems(load("full_scan.json"))  # 900 rows < default 1000
    scan = next(f for f in small if f.code == "full_table_scan")
    assert (scan.node_id, scan.severity, scan.table) == ("n0.0", "low", "order_items")
    assert "Cheap while the table is this small" in scan.detail
    big = find_problems(load("full_scan.json"), full_scan_rows=500)
    scan = next(f for f in big if f.code == "full_table_scan")
    assert scan.severity == "high" and big == [scan]  # no second finding on the same table
    assert scan.title == "Full table scan on `order_items`"
    assert scan.detail == (
        "It reads every row of `order_items` (about 900 rows). No index is used for its "
        "condition on `qty` (order_items.qty > 3); an index on `order_items` (`qty`) lets "
        "the server read only the matching rows.")
    # a possible key that was not chosen is named
    lateral = find_problems(load("derived_lateral.json"), full_scan_rows=100)
    c_scan = next(f for f in lateral if f.code == "full_table_scan")
    assert "`PRIMARY` could be used" in c_scan.detail


def test_join_buffer_findings():
    maria = find_problems(load("join_without_index.json"), full_scan_rows=500)
    hit = next(f for f in maria if f.code == "join_buffer")
    assert (hit.node_id, hit.severity, hit.table) == ("n0.0.1", "high", "oi")
    assert "`oi`" in hit.title and "BNL" in hit.detail
    assert ("n0.0.1", "full_table_scan") not in codes(maria)  # the join says it
    derived = find_problems(load("json_derived_hash_join.txt"))
    hit = next(f for f in derived if f.code == "join_buffer")
    assert hit.severity == "medium" and "hash join" in hit.detail and "`a1`" in hit.title
    tree = find_problems(load("tree_hash_join_three_tables.txt"))
    assert [(f.node_id, f.table) for f in tree if f.code == "join_buffer"] == [("n0", "t1")]


def test_low_filtered_finding():
    plan = load("low_filtered.json")
    # the rule on its own, and in find_problems, where the full scan of the table says it
    [hit] = low_filtered(PlanFacts(plan, 500))
    assert hit.node_id == "n0.0" and hit.severity == "medium"
    assert hit.detail.startswith("Only about 0.6% of the about 600 rows read from `orders`")
    findings = find_problems(plan, full_scan_rows=500)
    assert [f.code for f in findings] == ["full_table_scan"]
    assert "only about 0.6% of them match" in findings[0].detail
    assert not low_filtered(PlanFacts(plan, 1000))


@pytest.mark.parametrize("name", ["ref_lookup.json", "range.json", "eq_ref_join.json",
                                  "json_range_manual.json"])
def test_good_plans_have_no_findings(name):
    assert find_problems(load(name)) == []


def test_internal_tables_are_not_scans():
    for name in ("derived_table.json", "tree_distinct_index_lookup.txt",
                 "tree_union_cost_ranges.txt", "json_derived_hash_join.txt"):
        for f in find_problems(load(name), full_scan_rows=1):
            if f.code in ("full_table_scan", "full_index_scan"):
                assert not node(load(name), f.node_id).extra.get("internal"), (name, f)


@pytest.mark.parametrize("name", MYSQL_FIXTURES + MARIADB_FIXTURES)
def test_findings_are_sorted_unique_and_point_at_nodes(name):
    root = load(name)
    ids = {n.node_id for n in iter_nodes(root)}
    for threshold in (1, 1000):
        findings = find_problems(root, full_scan_rows=threshold)
        ranks = [SEVERITIES.index(f.severity) for f in findings]
        assert ranks == sorted(ranks)
        assert len(codes(findings)) == len(findings)
        for f in findings:
            assert f.node_id in ids and f.code in CODES and f.message.endswith(".")
            assert f.to_dict()["code"] == f.code


# ---- malformed input ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, fmt, pattern", [
    ("{", "auto", r"not valid JSON at line 1 column 2"),
    ("[]", "auto", r"expected a JSON object with a top-level 'query_block'.*got a list"),
    ('{"foo": 1}', "auto", r"expected a top-level 'query_block' member.*found: foo"),
    ("", "auto", r"empty EXPLAIN output"),
    ("   \n\t", "json", r"empty EXPLAIN output"),
    ("EXPLAIN\n", "auto", r"empty EXPLAIN output"),
    ("hello, this is not a plan", "auto", r"could not recognise the EXPLAIN format"),
    ("hello, this is not a plan", "tree", r"line 1: expected '-> <operation>'"),
    ("-> Table scan on t\nSELECT 1", "tree", r"line 2: expected '-> <operation>'"),
    ("-> Filter: (a > 1)\n      -> Table scan on t", "tree",
     r"line 2: indentation of 6 spaces is not a multiple of 4"),
    ("-> Filter: (a > 1)\n        -> Table scan on t", "tree", r"line 2: nested 2 levels"),
    ("    -> Filter: (a > 1)\n-> Table scan on t", "tree", r"line 2: indented less"),
    ("->   (cost=1 rows=2)", "tree", r"only estimates, no operation|'->' without"),
    ("-> Table scan on t", "json", r"not valid JSON"),
    ('{"query_block": 5}', "auto", r"\$\.query_block: expected an object \(a query block\)"),
    ('{"query_block": {}}', "auto", r"\$\.query_block: a query block needs"),
    ('{"query_block": {"table": "garbage"}}', "auto",
     r"\$\.query_block\.table: expected an object \(a table access"),
    ('{"query_block": {"select_id": 1, "table": {"table_name": null, "access_type": "ALL"}}}',
     "auto",
     r"\$\.query_block\.table\.table_name: expected the table name as a string, got null"),
    ('{"query_block": {"select_id": 1, "table": {"table_name": 7}}}', "auto",
     r"table_name: expected the table name as a string, got a number"),
    ('{"query_block": {"select_id": 1, "table": {"table_name": "t", '
     '"rows_examined_per_scan": "lots"}}}', "auto",
     r"\.table\.rows_examined_per_scan: expected a number, got a string 'lots'"),
    ('{"query_block": {"select_id": 1, "table": {"table_name": "t", "possible_keys": "k"}}}',
     "auto", r"\.table\.possible_keys: expected a list of strings"),
    ('{"query_block": {"select_id": 1, "nested_loop": {"table": {}}}}', "auto",
     r"\$\.query_block\.nested_loop: expected a list \(join members\), got an object"),
    ('{"query_block": {"select_id": "1"}}', "auto", r"select_id: expected an integer"),
    ('{"query_block": {"select_id": 1, "ordering_operation": {"using_filesort": "yes", '
     '"table": {"table_name": "t"}}}}', "auto", r"using_filesort: expected true or false"),
    ('{"query": "select 1", "inputs": [], "operation": "Table scan"}', "auto",
     r"explain_json_format_version=2"),
    ('{"query_block": {"select_id": 1 /* unterminated', "auto", r"unterminated /\* comment"),
])
def test_malformed_input_raises_plan_parse_error(text, fmt, pattern):
    with pytest.raises(PlanParseError, match=pattern) as info:
        parse_plan(text, fmt=fmt)
    assert isinstance(info.value, AnalysisError)


def test_bad_arguments():
    with pytest.raises(ValueError):
        parse_plan("{}", fmt="xml")
    with pytest.raises(PlanParseError, match="got int"):
        parse_plan(42)  # type: ignore[arg-type]
    with pytest.raises(PlanParseError, match="already-decoded"):
        parse_plan({"query_block": {"select_id": 1}}, fmt="tree")
    with pytest.raises(ValueError):
        PlanNode("n0", "x").add_flag("slow")


def test_deeply_nested_json_is_an_error_not_a_crash():
    deep = '{"query_block": ' * 5000 + "{}" + "}" * 5000
    with pytest.raises(PlanParseError):
        parse_plan(deep)


# ---- property tests ----------------------------------------------------------------------------
VALID_LINES = sorted({
    re.sub(r"^(EXPLAIN: )?\s*-> ", "", line)
    for name in TREE_NAMES
    for line in mysql_text(name).splitlines()
    if "->" in line
} | {
    "Zero rows (no matching row in const table)",
    "Index lookup on o using idx_customer (customer_id=c.id)  (cost=4.95 rows=9)",
    "Aggregate using temporary table",
    "Remove duplicate t2 rows using temporary table (weedout)  (cost=1.10 rows=2)",
    "Insert into t2",
    "Materialize CTE my_cte  (rows=1)",
    "Full-text index search on t using ft (match(t.body) against ('x'))  (cost=1 rows=1)",
    "Window aggregate with buffering: sum(t.a) OVER (ORDER BY t.b )",
})


@st.composite
def tree_texts(draw, single_root: bool = True):
    lines = draw(st.lists(st.sampled_from(VALID_LINES), min_size=1, max_size=25))
    depths = [0]
    for _ in lines[1:]:
        low = 1 if single_root else 0
        depths.append(draw(st.integers(min_value=low, max_value=depths[-1] + 1)))
    stats = draw(st.lists(st.one_of(
        st.just(""),
        st.builds(lambda c, r: f"  (cost={c:.3g} rows={r:.3g})",
                  st.floats(0, 1e7, allow_nan=False), st.floats(0, 1e7, allow_nan=False)),
        st.builds(lambda r: f"  (rows={r})", st.integers(0, 10**9)),
    ), min_size=len(lines), max_size=len(lines)))
    text = "\n".join(" " * (4 * d) + "-> " + line + extra
                     for d, line, extra in zip(depths, lines, stats, strict=True))
    return text, depths


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tree_texts())
def test_random_valid_tree_nesting(case):
    text, depths = case
    root = parse_plan(text)
    nodes = list(iter_nodes(root))
    assert len(nodes) == len(depths)
    assert [n.node_id.count(".") for n in nodes] == depths
    assert plan_hash(root) == plan_hash(parse_plan(text, fmt="tree"))
    find_problems(root)
    costliest_path(root)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(tree_texts(single_root=False))
def test_random_tree_with_several_roots(case):
    text, depths = case
    root = parse_plan(text)
    roots = depths.count(0)
    assert len(list(iter_nodes(root))) == len(depths) + (1 if roots > 1 else 0)
    assert (root.operation == "Query plan") == (roots > 1)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_plan_parse_error(text):
    try:
        root = parse_plan(text)
    except PlanParseError as exc:
        assert str(exc)
    else:
        assert root.node_id == "n0"


# ---- live MariaDB ------------------------------------------------------------------------------
def _check_features(name: str, root: PlanNode) -> None:
    """What each recorded statement must show, whatever the server version."""
    nodes = list(iter_nodes(root))

    def any_node(**want) -> PlanNode:
        for n in nodes:
            if all((want[k] in n.flags) if k == "flag" else getattr(n, k) == v
                   for k, v in want.items()):
                return n
        raise AssertionError(f"{name}: no node with {want}:\n" + "\n".join(outline(root)))

    if name == "full_scan":
        any_node(table="order_items", access_type="ALL", flag="full_scan")
    elif name == "eq_ref_join":
        any_node(table="c", access_type="eq_ref", key="PRIMARY")
    elif name == "ref_lookup":
        any_node(table="orders", access_type="ref", key="idx_customer")
    elif name == "range":
        any_node(table="orders", access_type="range", key="PRIMARY")
    elif name == "group_by_temporary_filesort":
        any_node(flag="filesort")
        any_node(flag="temporary")
    elif name == "order_by_filesort":
        any_node(flag="filesort")
        any_node(table="products", access_type="ALL")
    elif name == "join_without_index":
        buffered = any_node(flag="join_buffer")
        assert buffered.table in ("oi", "p") and buffered.extra["join_buffer"].startswith("BNL")
    elif name in ("dependent_subquery", "analyze_dependent_subquery"):
        any_node(flag="dependent_subquery")
    elif name in ("derived_table", "derived_lateral"):
        any_node(flag="materialized")
        any_node(table="<derived2>")
    elif name == "low_filtered":
        assert any_node(table="orders").filtered < 10
    elif name == "union":
        union = any_node(operation="Union")
        assert [c.operation for c in union.children] == ["Select #1", "Select #2"]
    else:  # pragma: no cover
        raise AssertionError(f"no feature check for {name}")


@pytest.mark.parametrize("name", MARIADB_FIXTURES)
def test_recorded_mariadb_features(name):
    _check_features(name[: -len(".json")], load(name))


@pytest.fixture(scope="session")
def live_mariadb(tmp_path_factory):
    if not (shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")):
        pytest.skip("mariadbd is not installed (apt-get install mariadb-server)")
    server = record_mariadb.start_server(tmp_path_factory.mktemp("plans-mariadb"))
    conn = server.connect()
    try:
        record_mariadb.build_schema(conn)
        yield conn
    finally:
        conn.close()
        server.stop()


LIVE = [(n, q, "EXPLAIN FORMAT=JSON") for n, q in record_mariadb.QUERIES.items()] + [
    (n, q, "ANALYZE FORMAT=JSON") for n, q in record_mariadb.ANALYZE_QUERIES.items()]


@pytest.mark.parametrize("name, query, command", LIVE, ids=[n for n, _, _ in LIVE])
def test_live_mariadb_plan(live_mariadb, name, query, command):
    raw = record_mariadb.explain_json(live_mariadb, query, command)
    root = parse_plan(raw)  # the text exactly as the server printed it
    assert root.extra["flavour"] == "mariadb"
    _check_features(name, root)
    recorded = mariadb_doc(f"{name}.json")
    if recorded["server_version"] == record_mariadb.server_version(live_mariadb):
        # same server, same data: the recording must be reproducible
        assert plan_hash(root) == plan_hash(parse_plan(recorded["explain"]))
        assert outline(root) == OUTLINES[f"{name}.json"]


def test_live_mariadb_rejects_format_tree(live_mariadb):
    code, message = record_mariadb.tree_error(live_mariadb)
    assert (code, message) == (1791, "Unknown EXPLAIN/ANALYZE format name: 'TREE'")
    assert mariadb_doc("format_tree_error.json")["error"] == {"code": code, "message": message}


def test_live_mariadb_dependent_subquery_without_cache(live_mariadb):
    cur = live_mariadb.cursor()
    cur.execute("SET SESSION optimizer_switch='subquery_cache=off'")
    try:
        raw = record_mariadb.explain_json(live_mariadb,
                                          record_mariadb.QUERIES["dependent_subquery"])
    finally:
        cur.execute("SET SESSION optimizer_switch='subquery_cache=on'")
        cur.close()
    assert "expression_cache" not in raw
    sub = next(n for n in iter_nodes(parse_plan(raw)) if n.operation.startswith("Subquery"))
    assert sub.operation == "Subquery #2 (dependent)"
    assert [f.code for f in find_problems(parse_plan(raw)) if f.node_id == sub.node_id] == [
        "dependent_subquery"]
