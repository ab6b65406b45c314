"""The plan view builders (components/plan_*.py) and the Plans page's pure helpers, on real
EXPLAIN outputs (tests/fixtures/plans) and on a synthetic 40-node plan."""

from __future__ import annotations

import json
import os
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.plan import PlanNode, costliest_path, iter_nodes, parse_plan
from components.plan_findings import create_findings_panel
from components.plan_graph import (
    create_node_details,
    create_plan_elements,
    create_plan_graph,
    create_plan_stylesheet,
)
from components.plan_raw import create_raw_view, pretty_json
from components.plan_visual import (
    ACCESS_STYLES,
    BOX_H_PX,
    BOX_W_PX,
    COSTLIEST_COLOR,
    LEVEL_PX,
    SLOT_PX,
    access_category,
    create_plan_figure,
    format_number,
    tidy_tree,
)

PLANS = Path(__file__).resolve().parent / "fixtures" / "plans"


def _parsed(name: str) -> PlanNode:
    path = PLANS / name
    if path.parent.name == "mariadb":
        return parse_plan(json.loads(path.read_text(encoding="utf-8"))["explain"])
    return parse_plan(path.read_text(encoding="utf-8"))


def _inputs(root: PlanNode) -> tuple[dict, list[str], list[dict]]:
    return root.to_dict(), costliest_path(root), [f.to_dict() for f in find_problems(root)]


def _texts(component: Any) -> str:
    """Every string in a Dash component tree (children and the Clipboard's content)."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_texts(c) for c in component)
    parts = [_texts(getattr(component, "children", None))]
    content = getattr(component, "content", None)
    if isinstance(content, str):
        parts.append(content)
    return " ".join(p for p in parts if p)


def _find(component: Any, type_name: str) -> list[Any]:
    found = []
    if isinstance(component, list | tuple):
        for child in component:
            found += _find(child, type_name)
        return found
    if component is None or isinstance(component, str | int | float):
        return found
    if type(component).__name__ == type_name:
        found.append(component)
    return found + _find(getattr(component, "children", None), type_name)


def _big_plan() -> PlanNode:
    """A bushy 40+-node TREE plan: hash joins and filters over 16 tables (a reporting query)."""
    lines: list[str] = []
    tables = iter(range(1, 100))

    def emit(depth: int, indent: int) -> None:
        pad = " " * (4 * indent)
        if depth == 0:
            t = next(tables)
            if t % 3:
                lines.append(f"{pad}-> Table scan on t{t}  (cost={t * 10}.5 rows={t * 1000})")
            else:
                lines.append(f"{pad}-> Index lookup on t{t} using idx_a (a=t{t - 1}.b)  "
                             f"(cost={t}.25 rows=3)")
            return
        if depth % 2:
            lines.append(f"{pad}-> Filter: (t{depth}.c > 5)  (cost={depth * 40}.1 rows=50)")
            indent += 1
            pad = " " * (4 * indent)
        lines.append(f"{pad}-> Inner hash join (t{depth}.a = t{depth + 1}.b)  "
                     f"(cost={depth * 50}.2 rows=100)")
        emit(depth - 1, indent + 1)
        emit(depth - 1, indent + 1)

    emit(4, 0)
    return parse_plan("\n".join(lines), "tree")


# ---- the visual diagram ------------------------------------------------------------------------
def _shapes(figure, prefix: str) -> list:
    return [s for s in figure.layout.shapes if (s.name or "").startswith(prefix)]


@pytest.mark.parametrize("name", ["mariadb/join_without_index.json",
                                  "mysql/tree_union_cost_ranges.txt",
                                  "mysql/json_dependent_subqueries.txt",
                                  "mysql/json_no_tables.txt"])
def test_figure_has_one_box_per_node_and_highlights_the_costliest_path(name: str) -> None:
    root = _parsed(name)
    tree, costliest, findings = _inputs(root)
    figure = create_plan_figure(tree, costliest, findings)
    nodes = list(iter_nodes(root))
    boxes = _shapes(figure, "node:")
    assert sorted(s.name for s in boxes) == sorted(f"node:{n.node_id}" for n in nodes)
    edges = _shapes(figure, "edge:")
    assert len(edges) == len(nodes) - 1
    hot = {f"edge:{a}->{b}" for a, b in zip(costliest, costliest[1:], strict=False)}
    for edge in edges:
        if edge.name in hot:
            assert edge.line.width == 4 and edge.line.color == COSTLIEST_COLOR
        else:
            assert edge.line.width < 4 and edge.line.color != COSTLIEST_COLOR
    assert {e.name for e in edges if e.line.width == 4} == hot
    # one ⚠ badge per operation with findings
    flagged = {f["node_id"] for f in findings}
    badges = [a for a in figure.layout.annotations if (a.name or "").startswith("badge:")]
    assert sorted(a.name for a in badges) == sorted(f"badge:{n}" for n in flagged)
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False


def test_figure_texts_colours_and_hover() -> None:
    root = _parsed("mariadb/join_without_index.json")
    tree, costliest, findings = _inputs(root)
    figure = create_plan_figure(tree, costliest, findings)
    labels = " ".join(a.text for a in figure.layout.annotations)
    assert "p · ALL" in labels and "oi · ALL" in labels and "rows 900" in labels
    scan = next(s for s in figure.layout.shapes if s.name == "node:n0.0.1")
    assert scan.fillcolor == ACCESS_STYLES["all"][0]
    hover = " ".join(figure.data[0].text)
    assert "oi.product_id = p.`id`" in hover  # the condition in full
    assert "block nested-loop join buffer" in hover  # and the findings
    # plan text is data, never markup: `<derived2>`/`a < b` are escaped for plotly
    derived = _parsed("mariadb/derived_table.json")
    figure = create_plan_figure(*_inputs(derived))
    texts = " ".join(a.text for a in figure.layout.annotations)
    assert "&lt;derived" in texts and "<derived" not in texts


def test_big_plan_stays_legible() -> None:
    root = _big_plan()
    nodes = list(iter_nodes(root))
    assert len(nodes) >= 40
    tree, costliest, findings = _inputs(root)
    figure = create_plan_figure(tree, costliest, findings)
    positions = tidy_tree(tree)
    leaves = sum(1 for n in nodes if not n.children)
    depth = max(d for _, d in positions.values())
    # the figure grows with the tree (fixed pixels per box) instead of shrinking the boxes
    assert figure.layout.width >= leaves * SLOT_PX
    assert figure.layout.height >= (depth + 1) * LEVEL_PX
    # no two boxes overlap, in pixels
    boxes = {nid: (x * SLOT_PX, d * LEVEL_PX) for nid, (x, d) in positions.items()}
    for (a, (ax, ay)), (b, (bx, by)) in combinations(boxes.items(), 2):
        assert abs(ax - bx) >= BOX_W_PX or abs(ay - by) >= BOX_H_PX, (a, b)
    assert len(_shapes(figure, "node:")) == len(nodes)


def test_tidy_tree_counts_leaves_and_centres_parents() -> None:
    root = _parsed("mysql/json_dependent_subqueries.txt").to_dict()
    positions = tidy_tree(root)

    def walk(node: dict) -> None:
        children = node["children"]
        if children:
            xs = [positions[c["node_id"]][0] for c in children]
            assert positions[node["node_id"]][0] == (xs[0] + xs[-1]) / 2
            assert xs == sorted(xs)
            for child in children:
                assert positions[child["node_id"]][1] == positions[node["node_id"]][1] + 1
                walk(child)

    walk(root)
    leaf_xs = sorted(x for nid, (x, _) in positions.items()
                     if not _node(root, nid)["children"])
    assert leaf_xs == [float(i) for i in range(len(leaf_xs))]


def _node(root: dict, node_id: str) -> dict:
    stack = [root]
    while stack:
        node = stack.pop()
        if node["node_id"] == node_id:
            return node
        stack.extend(node["children"])
    raise KeyError(node_id)


def test_access_categories() -> None:
    assert access_category({"table": "t", "access_type": "ALL"}) == "all"
    assert access_category({"table": "t", "access_type": "eq_ref"}) == "const"
    assert access_category({"table": "t", "access_type": "ref"}) == "ref"
    assert access_category({"table": "t", "access_type": "range"}) == "range"
    assert access_category({"table": "t", "access_type": "index"}) == "index"
    assert access_category({"table": "<derived2>", "access_type": "ALL",
                            "extra": {"internal": True}}) == "internal"
    assert access_category({"operation": "Nested loop"}) == "operation"
    assert [format_number(v) for v in (950, 12500, 3_400_000, 0.35, None)] == [
        "950", "12.5k", "3.4M", "0.35", "—"]


def test_empty_figure_for_no_plan() -> None:
    figure = create_plan_figure(None, [], [])
    assert not figure.layout.shapes and not figure.data


# ---- the cytoscape graph -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mariadb/join_without_index.json",
                                  "mysql/tree_lateral_materialize.txt"])
def test_elements_are_nodes_plus_edges_with_classes(name: str) -> None:
    root = _parsed(name)
    tree, costliest, findings = _inputs(root)
    elements = create_plan_elements(tree, costliest, findings)
    count = len(list(iter_nodes(root)))
    nodes = [e for e in elements if "source" not in e["data"]]
    edges = [e for e in elements if "source" in e["data"]]
    assert len(elements) == count + (count - 1)
    assert len(nodes) == count and len(edges) == count - 1
    ids = {n["data"]["id"] for n in nodes}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids for e in edges)
    flagged = {f["node_id"] for f in findings}
    for node in nodes:
        classes = node["classes"].split()
        assert any(c.startswith("access-") for c in classes)
        assert ("finding" in classes) == (node["data"]["id"] in flagged)
        assert ("costliest" in classes) == (node["data"]["id"] in costliest)
    hot = [e for e in edges if e["classes"] == "costliest"]
    assert len(hot) == len(costliest) - 1


def test_graph_uses_a_local_tree_layout_and_the_diagram_colours() -> None:
    import dash_cytoscape

    graph = create_plan_graph("g", [])
    assert graph.layout["name"] == "dagre"
    # load_extra_layouts() switched to the bundle that holds dagre, shipped in the package
    dist = dash_cytoscape._js_dist[0]
    assert dist["relative_package_path"] == "dash_cytoscape_extra.min.js"
    assert os.path.exists(os.path.join(os.path.dirname(dash_cytoscape.__file__),
                                       dist["relative_package_path"]))
    styles = {s["selector"]: s["style"] for s in create_plan_stylesheet()}
    assert styles["node.access-all"]["background-color"] == ACCESS_STYLES["all"][0]
    assert styles["edge.costliest"]["line-color"] == COSTLIEST_COLOR


def test_node_details_show_the_condition_and_findings() -> None:
    root = _parsed("mariadb/join_without_index.json")
    tree, _costliest, findings = _inputs(root)
    oi = _node(tree, "n0.0.1")
    text = _texts(create_node_details(oi, findings))
    assert "oi.product_id = p.`id`" in text and "block nested-loop join buffer" in text
    assert "p.category" not in text  # only this operation's findings
    assert "Tap an operation" in _texts(create_node_details(None, []))


# ---- raw views and findings --------------------------------------------------------------------
def test_raw_view_shows_text_with_a_copy_button() -> None:
    view = create_raw_view("json", {"supported": True, "text": '{"query_block": {"a": 1}}',
                                    "error": None})
    pre = _find(view, "Pre")
    assert pre and '"query_block": {\n    "a": 1' in pre[0].children
    clipboard = _find(view, "Clipboard")
    assert clipboard and clipboard[0].content == pre[0].children
    tree_text = "-> Table scan on t  (cost=0.35 rows=1)"
    assert tree_text in _texts(create_raw_view("tree", {"supported": True, "text": tree_text}))


def test_raw_view_shows_the_server_error_for_an_unsupported_format() -> None:
    error = json.loads((PLANS / "mariadb" / "format_tree_error.json").read_text())["error"]
    message = f"{error['code']}: {error['message']}"
    view = create_raw_view("tree", {"supported": False, "text": None, "error": message})
    text = _texts(view)
    assert "1791: Unknown EXPLAIN/ANALYZE format name: 'TREE'" in text
    assert "EXPLAIN FORMAT=TREE is not available on this server" in text
    assert not _find(view, "Pre") and not _find(view, "Clipboard")
    # expected on MariaDB, so a quiet line: no warning box, no heading
    assert not _find(view, "Alert") and not _find(view, "H6")
    assert "text-muted" in view.className
    failed = _texts(create_raw_view("json", {"supported": None, "text": None,
                                             "error": "3024: Query execution was interrupted"}))
    assert "EXPLAIN FORMAT=JSON failed" in failed and "3024" in failed
    assert "was not recorded" in _texts(create_raw_view("json", None))


def test_pretty_json_keeps_text_that_is_not_json() -> None:
    marked = '{\n  "query_block": {\n  } /* query_block */\n}'
    assert pretty_json(marked) == marked


def test_findings_panel_lists_worst_first_with_badges() -> None:
    root = _parsed("mariadb/join_without_index.json")
    tree, _costliest, findings = _inputs(root)
    panel = create_findings_panel(list(reversed(findings)), tree)
    badges = [b.children for b in _find(panel, "Badge")][1:]  # the first is the count
    assert badges[0] in ("High", "Medium") and badges[-1] == "Low"
    assert len(badges) == len(findings)
    text = _texts(panel)
    assert "Join to `oi` without an index" in text and "Full table scan on `p`" in text
    assert "n0." not in text  # node ids are for the diagram, never shown
    assert "No problems found" in _texts(create_findings_panel([], tree))
    # a finding stored before titles existed still reads
    old = {"node_id": "n0.0", "severity": "low", "code": "full_table_scan",
           "message": "Full table scan on `p`."}
    assert "Full table scan on `p`." in _texts(create_findings_panel([old], tree))


# ---- the page's pure helpers -------------------------------------------------------------------
@pytest.fixture
def plans_page(settings):
    """pages.plans, imported the only way a page can be: by building the app."""
    import sys

    from app import create_app

    create_app(settings)
    return sys.modules["pages.plans"]


def test_plan_rows_flag_changed_plans(plans_page) -> None:
    plan_rows = plans_page.plan_rows

    base = {"instance_id": "i1", "query_id": "q1", "fingerprint": "select ?",
            "server_flavour": "mysql", "server_version": "8.0.36", "findings": [{}],
            "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-02T00:00:00Z",
            "seen_count": 3}
    rows = plan_rows([{**base, "plan_id": "a", "plan_hash": "h1"},
                      {**base, "plan_id": "b", "plan_hash": "h2"},
                      {**base, "plan_id": "c", "plan_hash": "h1", "query_id": "q2"}])
    assert [r["changed"] for r in rows] == [True, True, False]
    assert rows[0]["server"] == "mysql 8.0.36" and rows[0]["findings"] == 1
    assert rows[0]["last_seen"] == "2026-11-02 00:00:00"


def test_pasted_plan_and_unreadable_paste(plans_page) -> None:
    pasted_plan = plans_page.pasted_plan

    tree = (PLANS / "mysql" / "tree_hash_join_three_tables.txt").read_text(encoding="utf-8")
    plan = pasted_plan(tree, "auto")
    assert plan["formats"]["tree"]["text"].startswith("EXPLAIN: -> Inner hash join")
    assert plan["formats"]["json"]["text"] is None
    assert "pasted FORMAT=TREE" in plan["formats"]["json"]["note"]
    assert len(list(iter_nodes(PlanNode.from_dict(plan["root"])))) == 8
    assert plan["findings"]
    with pytest.raises(PlanParseError):
        pasted_plan("{", "auto")
