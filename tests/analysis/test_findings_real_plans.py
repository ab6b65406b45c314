"""Findings (analysis.findings) on every real recorded plan in tests/fixtures/plans.

MySQL outputs are transcribed from the MySQL manual and mysql-server's test results, MariaDB
outputs recorded from a real server (see tests/analysis/test_plan.py). On each of them:
one finding per problem per table, most severe first, nothing a stronger finding on the same
table contradicts or already says, and no node ids or optimizer internals in any text. Then
the merge rules on their own, and the README's table of codes against the rule list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis.findings import (
    CODES,
    RULES,
    SEVERITIES,
    Finding,
    PlanFacts,
    clean_sql_text,
    find_problems,
    findings_table,
    merge_findings,
    table_label,
)
from analysis.masking import mask_plan
from analysis.plan import PlanNode, iter_nodes, parse_plan

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "tests" / "fixtures" / "plans"
FIXTURES = sorted(
    [f"mysql/{p.name}" for p in (PLANS / "mysql").iterdir()
     if not p.name.endswith(".source.txt")]
    + [f"mariadb/{p.name}" for p in (PLANS / "mariadb").glob("*.json")
       if "explain" in json.loads(p.read_text(encoding="utf-8"))])

NODE_ID = re.compile(r"\bn\d+(?:\.\d+)+\b")
INTERNALS = re.compile(
    r"<(?:in_optimizer|cache|exists|expr_cache|if|is_not_null_test|not|nop|ref_null_helper"
    r"|materialize|primary_index_lookup|index_lookup|subquery\d+|derived\d+|union[\d,]+"
    r"|temporary|result temporary|union temporary|auto_key\d*|auto_distinct_key)>"
    r"|/\*\s*select#|\bsubquery#\d|\(select #\d")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
COVERS = {r.code: set(r.covers) for r in RULES}


def load(name: str) -> PlanNode:
    path = PLANS / name
    if name.startswith("mariadb/"):
        return parse_plan(json.loads(path.read_text(encoding="utf-8"))["explain"])
    return parse_plan(path.read_text(encoding="utf-8"))


def texts(finding: Finding) -> list[str]:
    data = finding.to_dict()
    return [data["title"], data["detail"], data["message"], data["table"] or ""]


def test_every_recorded_plan_is_covered() -> None:
    assert len([f for f in FIXTURES if f.startswith("mysql/")]) >= 15
    assert len([f for f in FIXTURES if f.startswith("mariadb/")]) >= 13
    # the plans that made findings repeat themselves are among them
    assert {"mysql/json_dependent_subqueries.txt", "mariadb/join_without_index.json",
            "mariadb/dependent_subquery.json"} <= set(FIXTURES)


@pytest.mark.parametrize("threshold", [1, 1000])
@pytest.mark.parametrize("name", FIXTURES)
def test_findings_on_real_plans(name: str, threshold: int) -> None:
    root = load(name)
    ids = {n.node_id for n in iter_nodes(root)}
    for tree in (root, PlanNode.from_dict(mask_plan(root.to_dict()))):
        findings = find_problems(tree, full_scan_rows=threshold)
        # one finding per problem per table (table-less ones: one per operation)
        keys = [(f.code, f.table or f.node_id) for f in findings]
        assert len(keys) == len(set(keys)), keys
        # most severe first, then the costliest
        ranks = [RANK[f.severity] for f in findings]
        assert ranks == sorted(ranks)
        weights = [(RANK[f.severity], -(f.cost or 0), -(f.rows or 0), f.order)
                   for f in findings]
        assert weights == sorted(weights)
        for f in findings:
            assert f.code in CODES and f.node_id in ids
            assert f.message.endswith(".") and f.title and f.detail
            for text in texts(f):
                assert not NODE_ID.search(text), (name, text)
                assert not INTERNALS.search(text), (name, text)
            assert set(f.to_dict()) == {"node_id", "severity", "code", "table", "title",
                                        "detail", "message"}
        # nothing contradicts or repeats a stronger finding on the same table
        for f in findings:
            for g in findings:
                if g is f or not f.table or f.table not in g.tables:
                    continue
                assert not (f.severity == "low" and g.severity != "low"), (name, f, g)
                assert not (f.code in COVERS[g.code] and RANK[g.severity] <= RANK[f.severity])


@pytest.mark.parametrize("name", FIXTURES)
def test_each_rule_reports_only_its_code_and_severities(name: str) -> None:
    plan = PlanFacts(load(name), 1)
    for rule in RULES:
        for finding in rule(plan):
            assert finding.code == rule.code and finding.severity in rule.severities


# ---- what the repeated findings of real plans became -------------------------------------------
def test_dependent_subqueries_speak_for_the_tables_they_read() -> None:
    findings = find_problems(load("mysql/json_dependent_subqueries.txt"))
    # was 8 findings: two subqueries, and a scan plus a "no usable index" on t5, t4 and t2
    assert [(f.code, f.severity, f.table) for f in findings] == [
        ("dependent_subquery", "high", "t2"), ("dependent_subquery", "high", "t4"),
        ("full_table_scan", "low", "t5")]
    sub = findings[1]
    assert sub.title == "Subquery 3 runs again for every row of `t5`"
    assert "`t5`.`c` from the outer query" in sub.detail
    assert "`t4` (full table scan, about 3 rows)" in sub.detail
    scan = findings[2]
    assert "its condition on `c`" in scan.detail and "(`t5`.`c`" not in scan.detail
    assert "in_optimizer" not in scan.message and "cache" not in scan.message


def test_mariadb_dependent_subquery_names_the_outer_column() -> None:
    sub, scan = find_problems(load("mariadb/dependent_subquery.json"))
    assert (sub.code, sub.severity, sub.title) == (
        "dependent_subquery", "high", "Subquery 2 runs again for every row of `o`")
    assert "uses `o`.`customer_id`" in sub.detail and "about 600 rows of `o`" in sub.detail
    assert "subquery cache" in sub.detail
    assert (scan.code, scan.severity, scan.table) == ("full_table_scan", "low", "o")
    assert "(o.total > (subquery 2))" in scan.detail


def test_a_join_without_an_index_is_one_finding_about_the_joined_table() -> None:
    small = find_problems(load("mariadb/join_without_index.json"))
    assert [(f.code, f.severity, f.table) for f in small] == [
        ("join_buffer", "medium", "oi"), ("full_table_scan", "low", "p")]
    join = small[0]
    assert join.title == "Join to `oi` without an index"
    assert "join condition on `product_id` (oi.product_id = p.id)" in join.detail
    assert "in a block nested-loop join buffer (BNL, flat, 15KiB)" in join.detail
    assert "An index on `oi` (`product_id`)" in join.detail
    assert "p.category = 'books'" in small[1].detail
    # past the size threshold the join is high and still the only finding on oi
    big = find_problems(load("mariadb/join_without_index.json"), full_scan_rows=100)
    assert [(f.code, f.severity, f.table) for f in big] == [
        ("join_buffer", "high", "oi"), ("full_table_scan", "high", "p")]


def test_a_table_scanned_in_two_places_is_one_finding() -> None:
    [scan] = find_problems(load("mysql/tree_antijoin_materialize.txt"))
    assert (scan.code, scan.table) == ("full_table_scan", "t1")
    assert "twice in this plan" in scan.detail
    assert "(t1.b > 2 and t1.b is not null)" in scan.detail
    joins = [f for f in find_problems(load("mysql/tree_hash_join_three_tables.txt"))
             if f.code == "join_buffer"]
    assert len(joins) == 1 and joins[0].table == "t1" and "twice" in joins[0].detail


def test_low_filtered_is_said_by_the_full_scan_of_the_same_table() -> None:
    findings = find_problems(load("mariadb/low_filtered.json"), full_scan_rows=500)
    assert [(f.code, f.severity, f.table) for f in findings] == [
        ("full_table_scan", "high", "orders")]
    assert "only about 0.6% of them match" in findings[0].detail
    assert "an index on `orders` (`status`, `total`)" in findings[0].detail


def test_cartesian_hash_join_is_named() -> None:
    join = next(f for f in find_problems(load("mysql/tree_hash_join_cartesian.txt"))
                if f.code == "join_buffer")
    assert join.title == "`t1` is joined with `t2` without a join condition"
    assert "cartesian product" in join.detail


def test_sort_keys_are_cleaned_and_computed_keys_get_no_index_advice() -> None:
    sort = next(f for f in find_problems(load("mysql/tree_hash_join_sort.txt"))
                if f.code == "filesort")
    assert "sorted by col1" in sort.detail and "no index can give this order" in sort.detail
    grouped = next(f for f in find_problems(load("mariadb/group_by_temporary_filesort.json"))
                   if f.code == "filesort")
    assert "count(*) desc" in grouped.detail and "count(0)" not in grouped.detail
    ordered = find_problems(load("mariadb/order_by_filesort.json"))
    assert [(f.code, f.table) for f in ordered] == [("filesort", "products")]
    assert "An index on `products` (`price`)" in ordered[0].detail


@pytest.mark.parametrize("name", ["mariadb/ref_lookup.json", "mariadb/range.json",
                                  "mariadb/eq_ref_join.json", "mysql/json_range_manual.json",
                                  "mysql/json_no_tables.txt"])
def test_good_plans_have_no_findings(name: str) -> None:
    assert find_problems(load(name)) == []


# ---- the merge, on its own ---------------------------------------------------------------------
def _f(code: str, severity: str, table: str | None, node: str = "n0", **kw) -> Finding:
    return Finding(code, severity, f"{code} on {table}", "Detail.", table, node, **kw)


def test_merge_keeps_the_most_severe_finding_per_code_and_table() -> None:
    merged = merge_findings([
        _f("full_table_scan", "low", "t", "n0.0", rows=10),
        _f("full_table_scan", "high", "t", "n0.1", rows=5000),
        _f("full_table_scan", "low", "u", "n0.2"),
        _f("filesort", "medium", None, "n0.3"),
        _f("filesort", "medium", None, "n0.4"),  # no table: one per operation
    ], covers={})
    assert [(f.code, f.severity, f.table, f.node_id) for f in merged] == [
        ("full_table_scan", "high", "t", "n0.1"), ("filesort", "medium", None, "n0.3"),
        ("filesort", "medium", None, "n0.4"), ("full_table_scan", "low", "u", "n0.2")]


def test_merge_drops_what_a_finding_at_least_as_severe_covers() -> None:
    covers = {"join_buffer": ["full_table_scan"]}
    same = merge_findings([_f("full_table_scan", "high", "t"),
                           _f("join_buffer", "high", "t")], covers)
    assert [f.code for f in same] == ["join_buffer"]
    # a less severe finding does not silence a more severe one
    weaker = merge_findings([_f("full_table_scan", "high", "t"),
                             _f("join_buffer", "medium", "t")], covers)
    assert [f.code for f in weaker] == ["full_table_scan", "join_buffer"]
    # nor does it reach another table
    other = merge_findings([_f("full_table_scan", "high", "t"),
                            _f("join_buffer", "high", "u")], covers)
    assert len(other) == 2
    # related tables count: a dependent subquery speaks for every table it reads
    related = merge_findings([_f("full_table_scan", "high", "t2"),
                              _f("dependent_subquery", "high", "t1", related=("t2",))],
                             {"dependent_subquery": ["full_table_scan"]})
    assert [f.code for f in related] == ["dependent_subquery"]


def test_merge_drops_a_low_finding_contradicted_on_its_table() -> None:
    merged = merge_findings([_f("full_table_scan", "low", "t"), _f("filesort", "medium", "t"),
                             _f("full_table_scan", "low", "u"),
                             _f("temporary_table", "low", None)], covers={})
    assert [(f.code, f.table) for f in merged] == [
        ("filesort", "t"), ("full_table_scan", "u"), ("temporary_table", None)]
    # two lows on one table do not contradict each other
    lows = merge_findings([_f("full_table_scan", "low", "t"),
                           _f("temporary_table", "low", "t")], covers={})
    assert len(lows) == 2


def test_merge_orders_by_severity_then_cost_then_rows() -> None:
    merged = merge_findings([
        _f("a", "medium", "t1", order=0, cost=1.0, rows=10),
        _f("b", "high", "t2", order=1, rows=5),
        _f("c", "medium", "t3", order=2, cost=90.0, rows=1),
        _f("d", "medium", "t4", order=3, rows=999),
        _f("e", "medium", "t5", order=4, cost=1.0, rows=50),
    ], covers={})
    assert [f.code for f in merged] == ["b", "c", "e", "a", "d"]


# ---- the rule list is the data -----------------------------------------------------------------
def test_codes_and_docs_come_from_the_rule_list() -> None:
    assert tuple(r.code for r in RULES) == CODES and len(set(CODES)) == len(CODES)
    for r in RULES:
        assert set(r.severities) <= set(SEVERITIES) and r.when
        assert set(r.covers) <= set(CODES) - {r.code}
    # "covers" has no cycle, so the merge can never drop both of two findings
    def reach(code: str, seen: frozenset[str] = frozenset()) -> None:
        assert code not in seen, f"cycle through {code}"
        for covered in COVERS[code]:
            reach(covered, seen | {code})
    for code in CODES:
        reach(code)
    table = findings_table()
    assert all(f"| `{code}` |" in table for code in CODES)


def test_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- findings-table[^>]*-->\n(.*?)\n<!-- /findings-table -->", readme,
                  re.DOTALL)
    assert m, "README.md has no findings table between its markers"
    assert m.group(1) == findings_table(), (
        "README's table of finding codes is stale: paste the output of "
        "`python -c 'from analysis.findings import findings_table; print(findings_table())'`")


# ---- words -------------------------------------------------------------------------------------
def test_clean_sql_text_on_recorded_conditions() -> None:
    t5 = next(n for n in iter_nodes(load("mysql/json_dependent_subqueries.txt"))
              if n.table == "t4").condition
    assert clean_sql_text(t5) == "(t5.c = t4.c) and (t4.c_key is not null)"
    assert clean_sql_text("oi.product_id = p.`id`") == "oi.product_id = p.id"
    assert clean_sql_text("o.total > (subquery#2)") == "o.total > (subquery 2)"
    assert clean_sql_text("(t1.f1 = (select #2))") == "t1.f1 = (subquery 2)"
    assert clean_sql_text("<temporary>.col1") == "col1"
    assert clean_sql_text("orders.`status` = 'a `b` <cache>'") == "orders.status = 'a `b` <cache>'"
    assert table_label("<derived2>") == "derived table 2"
    assert table_label("<subquery2>") == "subquery 2"
    assert table_label("<union1,2>") == "UNION result"
    assert table_label("orders") == "orders"
