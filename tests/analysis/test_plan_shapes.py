"""Every plan a server prints parses (issue 10, item 2).

The inputs are real MariaDB ``EXPLAIN FORMAT=JSON`` / ``ANALYZE FORMAT=JSON`` outputs of many
query shapes, recorded by tests/fixtures/plans/record_mariadb_shapes.py into
tests/fixtures/plans/mariadb/shapes/. On each of them: the parser builds a tree without a
generic (unknown-member) node, keeps every table the JSON names, findings run without error
and without repeating themselves, the API's parse endpoint answers 200 and the diagram
builders draw it. Then the generic fallback on its own: every structural member of every
recorded plan renamed to a name the parser cannot know still parses, keeps its tables and
keeps the raw members; only input that is not EXPLAIN at all is refused.

The same statements run against a live MariaDB in tests/test_plan_shapes_live.py.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.masking import mask_plan
from analysis.plan import (
    MAX_PLAN_CHARS,
    PlanNode,
    costliest_path,
    iter_nodes,
    parse_plan,
)
from app import create_app
from components.plan_graph import create_node_details, create_plan_elements
from components.plan_visual import create_plan_figure
from settings import Settings
from tests.fixtures.plans.record_mariadb_shapes import ANALYZE, SHAPES

SHAPES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "plans" / "mariadb" / "shapes"
FILES = sorted(p.stem for p in SHAPES_DIR.glob("*.json"))

# Recorded shapes the parser refused with a PlanParseError (a 400 from the API) before
# issue 10: a message instead of a table ("Impossible WHERE", "No tables used", ... anywhere,
# also inside a recursive CTE or a UNION), and NOT IN / NOT EXISTS subqueries holding a
# "materialization" instead of a query_block.
FAILED_BEFORE = {
    "impossible_where", "impossible_where_const", "impossible_where_in_join",
    "impossible_having", "impossible_subquery", "no_tables_used", "no_tables_from_dual",
    "select_tables_optimized_away", "no_matching_min_max", "zero_limit", "delete_all_rows",
    "update_impossible_where", "cte_recursive_numbers", "intersect_all_except_all",
    "sequence_like_values", "not_in_subquery", "not_in_materialization", "not_exists",
    "analyze_impossible_where", "analyze_impossible_where_const", "analyze_no_tables_used",
    "analyze_select_tables_optimized_away", "analyze_no_matching_min_max",
    "analyze_not_in_subquery", "analyze_not_in_materialization", "analyze_not_exists",
}


def recorded(name: str) -> dict[str, Any]:
    return json.loads((SHAPES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def load(name: str) -> PlanNode:
    return parse_plan(json.dumps(recorded(name)["explain"]))


def raw_tables(value: Any) -> Counter[str]:
    """Every ``table_name`` in raw EXPLAIN JSON, with repeats."""
    found: Counter[str] = Counter()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get("table_name"), str):
                found[item["table_name"]] += 1
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def tree_tables(root: PlanNode) -> Counter[str]:
    return Counter(n.table for n in iter_nodes(root) if n.table is not None)


def by_operation(root: PlanNode, operation: str) -> list[PlanNode]:
    return [n for n in iter_nodes(root) if n.operation == operation]


# ---- the recordings ----------------------------------------------------------------------------
def test_the_recording_covers_the_shapes_the_issue_asks_for() -> None:
    assert set(FILES) == set(SHAPES), "re-run record_mariadb_shapes.py"
    explains = [n for n in FILES if recorded(n)["command"] != ANALYZE]
    analyzes = [n for n in FILES if recorded(n)["command"] == ANALYZE]
    assert len(explains) >= 40 and len(analyzes) >= 20
    for name in FILES:
        doc = recorded(name)
        assert doc["query"] == SHAPES[name].query
        assert "MariaDB" in doc["server_version"] and "query_block" in doc["explain"]
        assert (SHAPES_DIR / f"{name}.json").stat().st_size < 8_000  # small files
    members = set()
    for name in FILES:
        stack = [recorded(name)["explain"]]
        while stack:
            item = stack.pop()
            if isinstance(item, Mapping):
                members.update(item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    # the formats the recordings were made for really are in them
    assert {"recursive_union", "materialization", "window_functions_computation",
            "index_merge", "rowid_filter", "block-nl-join", "duplicates_removal",
            "expression_cache", "union_result", "message", "first_match", "not_exists",
            "table_function", "lateral", "r_engine_stats", "sort_union", "intersect",
            "delete", "update", "using_index_for_group_by"} <= members
    assert set(FILES) >= FAILED_BEFORE


@pytest.mark.parametrize("name", FILES)
def test_every_recorded_shape_parses_into_known_nodes(name: str) -> None:
    raw = recorded(name)["explain"]
    root = load(name)
    # INSERT ... VALUES prints only a table name: nothing says which server wrote it
    assert root.extra["flavour"] == ("mysql" if name == "insert_values" else "mariadb")
    assert root.node_id == "n0"
    nodes = list(iter_nodes(root))
    # every shape a server prints is one the model knows: no generic fallback node
    assert not [n.operation for n in nodes if "unknown_member" in n.extra]
    # every table the JSON names is a node of the tree, as often as it is named
    assert tree_tables(root) == raw_tables(raw)
    assert len({n.node_id for n in nodes}) == len(nodes)
    assert PlanNode.from_dict(json.loads(json.dumps(root.to_dict()))) == root


@pytest.mark.parametrize("name", FILES)
def test_findings_run_on_every_shape_without_repeating_themselves(name: str) -> None:
    root = load(name)
    ids = {n.node_id for n in iter_nodes(root)}
    for tree in (root, PlanNode.from_dict(mask_plan(root.to_dict()))):
        for threshold in (1, 1000):
            findings = find_problems(tree, full_scan_rows=threshold)
            keys = [(f.code, f.table or f.node_id) for f in findings]
            assert len(keys) == len(set(keys)), keys
            assert all(f.node_id in ids and f.message.endswith(".") for f in findings)


# ---- what the new shapes became ----------------------------------------------------------------
def test_recursive_cte_is_a_recursive_union_of_its_two_parts() -> None:
    for name in ("cte_recursive", "analyze_cte_recursive", "cte_recursive_numbers"):
        root = load(name)
        [union] = by_operation(root, "Recursive union")
        assert union.table == "<union2,3>" and union.extra["internal"] is True
        assert [c.operation for c in union.children] == ["Select #2", "Select #3"]
        assert union.children[1].extra["operation"] == "UNION"
        materialize = next(n for n in iter_nodes(root) if n.operation == "Materialize")
        assert "materialized" in materialize.flags
    seed = by_operation(load("cte_recursive_numbers"), "Select #2")[0]
    assert [c.operation for c in seed.children] == ["No tables used"]
    # a full scan of the CTE's own work table is how it is read: no finding about it
    assert not [f for f in find_problems(load("cte_recursive"), full_scan_rows=1)
                if f.table and f.table.startswith("<")]


@pytest.mark.parametrize("name", ["not_in_subquery", "not_in_materialization", "not_exists",
                                  "analyze_not_in_subquery"])
def test_not_in_subquery_is_a_materialized_subquery(name: str) -> None:
    root = load(name)
    [sub] = [n for n in iter_nodes(root) if n.operation.startswith("Subquery")]
    assert sub.operation == "Subquery #2 (materialized)"
    assert "materialized" in sub.flags and "dependent_subquery" not in sub.flags
    assert sub.extra["strategy"] == "materialization" and sub.extra["select_id"] == 2
    assert sub.children and sub.children[0].table in ("orders", "order_items", "o")
    if name.startswith("analyze_"):
        assert sub.extra["r_strategy"] == "index_lookup" and sub.extra["r_loops"] == 200
    # run once, not per row: never reported as a dependent subquery
    assert "dependent_subquery" not in {f.code for f in find_problems(root)}


@pytest.mark.parametrize("name, message", [
    ("impossible_where", "Impossible WHERE"),
    ("analyze_impossible_where", "Impossible WHERE"),
    ("impossible_where_const", "Impossible WHERE noticed after reading const tables"),
    ("impossible_having", "Impossible HAVING"),
    ("no_tables_used", "No tables used"),
    ("select_tables_optimized_away", "Select tables optimized away"),
    ("no_matching_min_max", "No matching min/max row"),
    ("zero_limit", "Zero limit"),
    ("delete_all_rows", "Deleting all rows"),
    ("update_impossible_where", "Impossible WHERE"),
])
def test_a_message_instead_of_a_table_is_a_node_saying_it(name: str, message: str) -> None:
    root = load(name)
    assert [c.operation for c in root.children] == [message]
    node = root.children[0]
    assert node.extra["message"] == message and node.table is None and not node.children
    assert root.extra["flavour"] == "mariadb"
    assert find_problems(root) == []


def test_message_of_a_const_table_reads_as_a_sentence() -> None:
    root = load("analyze_impossible_where_const")
    # MariaDB's ANALYZE prints this one in lower case
    assert root.children[0].extra["message"] == "no matching row in const table"
    assert root.children[0].operation == "No matching row in const table"


def test_set_operations_are_named_by_what_they_do() -> None:
    assert load("intersect").children[0].operation == "Intersect"
    assert load("except").children[0].operation == "Except"
    assert load("union_all").children[0].operation == "Union"
    nested = load("intersect_all_except_all")
    assert [n.operation for n in iter_nodes(nested)
            if n.operation in ("Intersect", "Except", "Union")] == ["Except", "Intersect"]
    [no_tables] = by_operation(nested, "No tables used")
    assert no_tables.node_id.startswith("n0.0.")


def test_window_functions_show_their_sorts_and_temporary_table() -> None:
    [window] = by_operation(load("window_two_windows"), "Window functions")
    assert [c.operation for c in window.children] == ["Filesort", "Filesort", "Temporary table"]
    assert [c.extra["sort_key"] for c in window.children[:2]] == [
        "orders.`status`, orders.`id`", "orders.created_at"]  # in the order MariaDB runs them
    grouped = load("window_over_group")
    assert [n.operation for n in iter_nodes(grouped)][:3] == [
        "Select #1", "Filesort", "Window functions"]


def test_hash_join_and_bka_are_join_buffers() -> None:
    [inner] = [n for n in iter_nodes(load("hash_join_bnlh")) if n.table == "oi"]
    assert inner.access_type == "hash_ALL" and inner.operation == "Hash join (table scan)"
    assert {"join_buffer", "full_scan"} <= set(inner.flags)
    assert inner.extra["join_buffer"].startswith("BNLH")
    [bka] = [n for n in iter_nodes(load("bka_join")) if n.table == "o"]
    assert bka.extra["join_buffer"].startswith("BKA") and bka.extra["mrr_type"]
    join = next(f for f in find_problems(load("hash_join_bnlh")) if f.code == "join_buffer")
    assert join.table == "oi" and "hash" in join.detail.lower()


def test_index_merge_names_its_keys() -> None:
    for name, kind in (("index_merge_union", "union"), ("index_merge_intersect", "intersect"),
                       ("index_merge_sort_union", "sort_union")):
        [events] = [n for n in iter_nodes(load(name)) if n.table == "events"]
        assert events.access_type == "index_merge" and events.operation == "Index merge"
        assert kind in events.extra["index_merge"]
        assert sorted(events.key.split(",")) == sorted(
            r["range"]["key"] for r in events.extra["index_merge"][kind])


def test_other_members_are_kept_on_their_table() -> None:
    [e] = [n for n in iter_nodes(load("rowid_filter")) if n.table == "e"]
    assert e.extra["rowid_filter"]["range"]["key"] == "idx_kind"
    [jt] = [n for n in iter_nodes(load("json_table")) if n.table == "jt"]
    assert jt.extra["table_function"] == "json_table" and jt.extra["internal"] is True
    assert find_problems(load("json_table"), full_scan_rows=1) == []
    [o] = [n for n in iter_nodes(load("semijoin_firstmatch")) if n.table == "o"]
    assert o.extra["first_match"] == "c"
    [deleted] = [n for n in iter_nodes(load("delete_where")) if n.table == "orders"]
    assert deleted.extra["delete"] == 1 and "full_scan" in deleted.flags
    [derived] = [n for n in iter_nodes(load("derived_lateral")) if n.operation == "Materialize"]
    assert derived.extra["lateral"] == 1


# ---- the API -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    tmp = tmp_path_factory.mktemp("shapes-api")
    app = create_app(Settings(database_url=f"sqlite:///{tmp}/x.db", scheduler_enabled=False))
    yield app.server.test_client()


@pytest.mark.parametrize("name", FILES)
def test_the_parse_endpoint_answers_200_for_every_shape(client: FlaskClient, name: str) -> None:
    text = json.dumps(recorded(name)["explain"], indent=2)
    response = client.post("/api/plans/parse", json={"text": text, "format": "auto"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["root"] == json.loads(json.dumps(load(name).to_dict()))
    assert body["costliest_path"][0] == "n0"


# ---- the diagram -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cte_recursive", "not_in_subquery", "impossible_where",
                                  "window_two_windows", "intersect_all_except_all",
                                  "analyze_hash_join_bnlh", "index_merge_union"])
def test_the_diagram_draws_the_new_shapes(name: str) -> None:
    root = load(name)
    tree, costliest = root.to_dict(), costliest_path(root)
    findings = [f.to_dict() for f in find_problems(root)]
    nodes = list(iter_nodes(root))
    figure = create_plan_figure(tree, costliest, findings)
    boxes = [s.name for s in figure.layout.shapes if (s.name or "").startswith("node:")]
    assert sorted(boxes) == sorted(f"node:{n.node_id}" for n in nodes)
    labels = " ".join(a.text for a in figure.layout.annotations)
    for node in nodes:
        assert node.operation.split(" (")[0].replace("<", "&lt;") in labels
    elements = create_plan_elements(tree, costliest, findings)
    assert len(elements) == 2 * len(nodes) - 1
    for node in nodes:
        assert create_node_details(node.to_dict(), findings) is not None


# ---- the generic fallback ----------------------------------------------------------------------
# Members that shape the tree; renaming one of them is what a new server version could do.
STRUCTURAL = ("table", "nested_loop", "block-nl-join", "materialized", "subqueries",
              "union_result", "recursive_union", "query_specifications", "filesort",
              "temporary_table", "read_sorted_file", "duplicates_removal", "expression_cache",
              "materialization", "window_functions_computation", "sorts", "query_block")


def renamed(value: Any, old: str, new: str, top: bool = True) -> Any:
    """``value`` with every member ``old`` renamed to ``new`` (not the top-level query_block)."""
    if isinstance(value, Mapping):
        return {(new if k == old and not (top and k == "query_block") else k):
                renamed(v, old, new, False) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, old, new, False) for v in value]
    return value


CASES = [(name, member) for name in FILES for member in STRUCTURAL
         if f'"{member}"' in (SHAPES_DIR / f"{name}.json").read_text(encoding="utf-8")
         and not (member == "query_block"
                  and (SHAPES_DIR / f"{name}.json").read_text(encoding="utf-8")
                  .count('"query_block"') < 2)]


@pytest.mark.parametrize("name, member", CASES)
def test_an_unknown_member_becomes_a_generic_node_that_keeps_everything(
        name: str, member: str) -> None:
    raw = renamed(recorded(name)["explain"], member, f"{member}_v99")
    root = parse_plan(json.dumps(raw))  # never a PlanParseError
    nodes = list(iter_nodes(root))
    generic = [n for n in nodes if n.extra.get("unknown_member")]
    # a renamed member holding plan parts is a generic node named after it; one holding only
    # values (a message-only table) is kept as it was printed, on its parent
    kept = [n for n in nodes if f"{member}_v99" in n.extra]
    assert generic or kept, "the renamed member was lost"
    for node in generic:
        assert node.operation[:1].isupper() and "_" not in node.operation
    assert tree_tables(root) == raw_tables(raw)
    find_problems(root)
    create_plan_figure(root.to_dict(), costliest_path(root), [])


@pytest.mark.parametrize("doc, operation, kept", [
    ({"select_id": 1, "nested_loop": [{"foo": 1}]}, "Join member", {"foo": 1}),
    ({"select_id": 1, "attached_subqueries": [{"dependent": True}]}, "Attached subquery",
     {"dependent": True}),
    ({"select_id": 1, "table": {"access_type": "ALL", "rows": 5}}, "Table access",
     {"access_type": "ALL", "rows": 5}),
    ({"select_id": 1, "table": {"table_name": "t", "materialized": {"strategy": "x"}}},
     "Materialized", {"strategy": "x"}),
    ({"select_id": 1, "nested_loop": [{"block-nl-join": {"join_type": "BNLX"}}]},
     "Block nl join", {"join_type": "BNLX"}),
    ({"select_id": 1, "union_result": {"query_specifications": [{"sql": "x"}]}},
     "Query specification", {"sql": "x"}),
    ({"select_id": 1, "subqueries": [{"semi_materialization": {"n": 2}}]}, "Subquery",
     {"semi_materialization": {"n": 2}}),
    ({"select_id": 1, "window_functions_computation": {"sorts": [{"hash": "y"}]}},
     "Window sort", {"hash": "y"}),
])
def test_generic_nodes_keep_the_raw_members(doc: dict, operation: str, kept: dict) -> None:
    root = parse_plan(json.dumps({"query_block": doc}))
    [generic] = [n for n in iter_nodes(root) if n.extra.get("unknown_member")]
    assert generic.operation == operation
    assert {k: generic.extra[k] for k in kept} == kept


def test_a_table_under_an_unknown_member_stays_a_table() -> None:
    root = parse_plan(json.dumps({"query_block": {"select_id": 1, "hash_join_v2": {
        "table_name": "t", "access_type": "ALL", "rows": 10}}}))
    [t] = [n for n in iter_nodes(root) if n.table == "t"]
    assert t.operation == "Table scan" and t.rows == 10 and "full_scan" in t.flags
    assert t.extra["unknown_member"] == "hash_join_v2"


@pytest.mark.parametrize("text, pattern", [
    ("not json", r"could not recognise the EXPLAIN format"),
    ("{", r"not valid JSON"),
    ("[1]", r"expected a JSON object"),
    ('{"plan": {"table": {"table_name": "t"}}}', r"expected a top-level 'query_block'"),
    ('{"query_block": {}}', r"a query block needs"),
    ('{"query_block": ' * 300 + "{}" + "}" * 300, r"nested too deeply"),
    ('{"query_block": {"select_id": 1, "x": "' + "a" * MAX_PLAN_CHARS + '"}}', r"too long"),
])
def test_only_what_is_not_an_explain_is_refused(text: str, pattern: str) -> None:
    with pytest.raises(PlanParseError, match=pattern):
        parse_plan(text)
