"""The Visual Explain diagram of a plan: one box per operation, laid out as a tidy tree.

Like MySQL Workbench's Visual Explain, the reader should see at a glance where a plan is
expensive: boxes are coloured by how a table is read (green for single-row lookups through
red for full table scans), the edges of the costliest path are drawn thick, and operations
with findings get a severity border and a ⚠ badge. Everything is drawn with plotly shapes
and annotations on hidden axes; the figure's pixel size grows with the tree (a fixed size per
box), so a 30-node plan stays legible and scrolls instead of shrinking.

Pure: a stored plan's ``root`` (:meth:`analysis.plan.PlanNode.to_dict`) and findings in,
figure out. The colours and node texts are shared with the cytoscape graph (plan_graph).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import plotly.graph_objects as go
from dash import html

# Pixel geometry: each leaf gets one slot, each depth one level; boxes are a fixed size.
SLOT_PX = 190
LEVEL_PX = 118
BOX_W_PX = 174
BOX_H_PX = 78
CORNER_PX = 7
MARGIN_PX = 14
LINE_CHARS = 28
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# category -> (fill, border, legend label)
ACCESS_STYLES: dict[str, tuple[str, str, str]] = {
    "const": ("#c7ebcf", "#2b8a3e", "Single row (system, const, eq_ref)"),
    "ref": ("#e3f4c6", "#5c940d", "Index lookup (ref)"),
    "range": ("#fff3bf", "#e0a800", "Index range scan"),
    "index": ("#ffd8a8", "#e8590c", "Full index scan"),
    "all": ("#ffc9c9", "#c92a2a", "Full table scan (ALL)"),
    "internal": ("#e5dbff", "#7048e8", "Internal / temporary table"),
    "operation": ("#e7eef8", "#4c6ef5", "Operation (join, sort, subquery...)"),
}
_ACCESS_CATEGORY = {
    "system": "const", "const": "const", "eq_ref": "const",
    "ref": "ref", "ref_or_null": "ref", "fulltext": "ref", "unique_subquery": "ref",
    "index_subquery": "ref",
    "range": "range", "index_merge": "range",
    "index": "index",
    "ALL": "all",
}
SEVERITY_COLORS = {"high": "#c92a2a", "medium": "#e8590c", "low": "#868e96"}
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
COSTLIEST_COLOR = "#d6336c"
EDGE_COLOR = "#adb5bd"


# ---- tree helpers ------------------------------------------------------------------------------
def iter_plan_nodes(root: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str | None,
                                                                int]]:
    """(node, parent id, depth) for every node of a NODE dict, parents before children."""
    stack: list[tuple[Mapping[str, Any], str | None, int]] = [(root, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        yield node, parent, depth
        for child in reversed(node.get("children") or []):
            stack.append((child, node["node_id"], depth + 1))


def find_plan_node(root: Mapping[str, Any] | None, node_id: str) -> Mapping[str, Any] | None:
    """The node with this id, or None (ids are positional: the same plan keeps its ids)."""
    if not root:
        return None
    for node, _parent, _depth in iter_plan_nodes(root):
        if node["node_id"] == node_id:
            return node
    return None


def tidy_tree(root: Mapping[str, Any]) -> dict[str, tuple[float, int]]:
    """node id -> (x, depth): leaves on consecutive integer slots in plan order, each parent
    centred over its first and last child, so subtrees never overlap (leaf counting)."""
    positions: dict[str, tuple[float, int]] = {}
    next_leaf = 0
    # Iterative post-order: a deep plan must not hit Python's recursion limit.
    stack: list[tuple[Mapping[str, Any], int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, expanded = stack.pop()
        children = node.get("children") or []
        if not children:
            positions[node["node_id"]] = (float(next_leaf), depth)
            next_leaf += 1
        elif expanded:
            first = positions[children[0]["node_id"]][0]
            last = positions[children[-1]["node_id"]][0]
            positions[node["node_id"]] = ((first + last) / 2, depth)
        else:
            stack.append((node, depth, True))
            for child in reversed(children):
                stack.append((child, depth + 1, False))
    return positions


def access_category(node: Mapping[str, Any]) -> str:
    """The colour category of a node: how it reads its table, or "operation"."""
    access = node.get("access_type")
    if not node.get("table") or not access:
        return "operation"
    if (node.get("extra") or {}).get("internal") and access in ("ALL", "index"):
        return "internal"  # reading a temporary/derived table whole is what it is for
    return _ACCESS_CATEGORY.get(access, "operation")


def worst_severity(findings: list[Mapping[str, Any]]) -> str | None:
    ranked = sorted((f.get("severity") for f in findings),
                    key=lambda s: _SEVERITY_RANK.get(s or "", 9))
    return ranked[0] if ranked else None


def findings_by_node(findings: list[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for finding in findings or []:
        grouped.setdefault(str(finding.get("node_id")), []).append(finding)
    return grouped


def costliest_edges(costliest: list[str]) -> set[tuple[str, str]]:
    return set(zip(costliest, costliest[1:], strict=False))


# ---- text --------------------------------------------------------------------------------------
def format_number(value: float | None) -> str:
    """Compact estimates: 950, 12.5k, 3.4M (the box has room for about 28 characters)."""
    if value is None:
        return "—"
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}"


def _escape(text: str) -> str:
    """Plotly renders a few HTML tags in texts; plan texts (`<derived2>`, `a < b`) are data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = LINE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _operation_detail(node: Mapping[str, Any]) -> str | None:
    """What a non-table operation works on: its sort key, limit, condition or flags."""
    extra = node.get("extra") or {}
    sort_key = extra.get("sort_key")
    if isinstance(sort_key, list):
        sort_key = ", ".join(str(k) for k in sort_key)
    if sort_key:
        return f"by {sort_key}"
    if extra.get("limit"):
        return f"limit {extra['limit']}"
    if node.get("condition"):
        return str(node["condition"])
    if node.get("flags"):
        return ", ".join(str(f).replace("_", " ") for f in node["flags"])
    return None


def node_lines(node: Mapping[str, Any]) -> list[str]:
    """The short lines inside a box: operation, table and access type, key, estimates."""
    lines = [_clip(str(node.get("operation") or "?"), LINE_CHARS - 3)]
    table, access = node.get("table"), node.get("access_type")
    if table:
        lines.append(f"{table} · {access}" if access else str(table))
        if node.get("key"):
            lines.append(f"key: {node['key']}")
        elif access and access_category(node) != "internal":
            lines.append("no index")
    else:
        detail = _operation_detail(node)
        if detail:
            lines.append(detail)
    stats = []
    if node.get("rows") is not None:
        stats.append(f"rows {format_number(node['rows'])}")
    if node.get("cost") is not None:
        stats.append(f"cost {format_number(node['cost'])}")
    if stats:
        lines.append(" · ".join(stats))
    return [_clip(line) for line in lines]


def _wrap(text: str, width: int = 70) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines or [""]


def node_details(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs describing a node in full, for hover texts and details panels."""
    rows: list[tuple[str, str]] = [("Operation", str(node.get("operation") or ""))]
    for label, key in (("Table", "table"), ("Access type", "access_type"), ("Key", "key")):
        if node.get(key):
            rows.append((label, str(node[key])))
    if node.get("possible_keys") is not None:
        rows.append(("Possible keys", ", ".join(node["possible_keys"]) or "none"))
    for label, key, suffix in (("Rows", "rows", ""), ("Filtered", "filtered", " %"),
                               ("Cost", "cost", "")):
        if node.get(key) is not None:
            value = node[key]
            shown = f"{value:,.0f}" if key == "rows" else f"{value:,.2f}"
            rows.append((label, shown + suffix))
    if node.get("flags"):
        rows.append(("Flags", ", ".join(str(f).replace("_", " ") for f in node["flags"])))
    if node.get("condition"):
        rows.append(("Condition", str(node["condition"])))
    for key, value in sorted((node.get("extra") or {}).items()):
        if key in ("flavour", "format", "text", "internal", "synthetic"):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append((key.replace("_", " ").capitalize(), str(value)))
    return rows


def _hover_text(node: Mapping[str, Any], findings: list[Mapping[str, Any]]) -> str:
    parts = []
    for label, value in node_details(node):
        lines = _wrap(value)
        parts.append(f"<b>{_escape(label)}:</b> " + "<br>   ".join(map(_escape, lines)))
    for finding in findings:
        lines = _wrap(str(finding.get("message", "")))
        parts.append(f"⚠ <b>{_escape(str(finding.get('severity', '')))}</b>: "
                     + "<br>   ".join(map(_escape, lines)))
    return "<br>".join(parts)


# ---- the figure --------------------------------------------------------------------------------
def _rounded_box(cx: float, cy: float, half_w: float, half_h: float, rx: float,
                 ry: float) -> str:
    """An SVG path (data coordinates) of a rectangle with rounded corners."""
    x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
    return (f"M {x0 + rx},{y0} L {x1 - rx},{y0} Q {x1},{y0} {x1},{y0 + ry} "
            f"L {x1},{y1 - ry} Q {x1},{y1} {x1 - rx},{y1} L {x0 + rx},{y1} "
            f"Q {x0},{y1} {x0},{y1 - ry} L {x0},{y0 + ry} Q {x0},{y0} {x0 + rx},{y0} Z")


def create_plan_figure(root: Mapping[str, Any] | None, costliest: list[str],
                       findings: list[Mapping[str, Any]]) -> go.Figure:
    """The Visual Explain figure of a plan (an empty, axis-less figure for no plan).

    Shapes are named ``node:<id>`` (one box per operation) and ``edge:<parent>-><child>``, so
    tests and readers can tell them apart; costliest-path edges are thicker and coloured.
    """
    figure = go.Figure()
    figure.update_layout(
        xaxis={"visible": False, "fixedrange": True},
        yaxis={"visible": False, "fixedrange": True},
        plot_bgcolor="white", paper_bgcolor="white", showlegend=False,
        margin={"l": MARGIN_PX, "r": MARGIN_PX, "t": MARGIN_PX + 6, "b": MARGIN_PX},
        font={"family": FONT, "size": 11, "color": "#212529"},
        hovermode="closest", hoverdistance=80, dragmode=False,
        hoverlabel={"bgcolor": "white", "bordercolor": "#adb5bd", "align": "left",
                    "font": {"family": FONT, "size": 12, "color": "#212529"}},
    )
    if not root:
        return figure
    positions = tidy_tree(root)
    leaves = int(max(x for x, _ in positions.values())) + 1
    depth = max(d for _, d in positions.values())
    half_w, half_h = BOX_W_PX / 2 / SLOT_PX, BOX_H_PX / 2 / LEVEL_PX
    rx, ry = CORNER_PX / SLOT_PX, CORNER_PX / LEVEL_PX
    by_node = findings_by_node(list(findings or []))
    hot = costliest_edges(list(costliest or []))

    edges_plain, edges_hot = [], []
    boxes, annotations = [], []
    hover_x, hover_y, hover_text = [], [], []
    for node, parent, _depth in iter_plan_nodes(root):
        node_id = node["node_id"]
        x, d = positions[node_id]
        y = -float(d)
        if parent is not None:
            px, pd = positions[parent]
            path = (f"M {px},{-pd - half_h} V {-pd - 0.5} H {x} V {y + half_h}"
                    if px != x else f"M {px},{-pd - half_h} V {y + half_h}")
            is_hot = (parent, node_id) in hot
            (edges_hot if is_hot else edges_plain).append({
                "type": "path", "path": path, "name": f"edge:{parent}->{node_id}",
                "layer": "below",
                "line": {"color": COSTLIEST_COLOR if is_hot else EDGE_COLOR,
                         "width": 4 if is_hot else 1.5},
            })
        node_findings = by_node.get(node_id, [])
        severity = worst_severity(node_findings)
        marked = severity in ("high", "medium")  # low findings get only the badge
        fill, border, _label = ACCESS_STYLES[access_category(node)]
        boxes.append({
            "type": "path", "path": _rounded_box(x, y, half_w, half_h, rx, ry),
            "name": f"node:{node_id}", "fillcolor": fill, "layer": "below",
            "line": {"color": SEVERITY_COLORS[severity] if marked else border,
                     "width": 3 if marked else 1.2},
        })
        lines = [_escape(line) for line in node_lines(node)]
        lines[0] = f"<b>{lines[0]}</b>"
        annotations.append({"x": x, "y": y, "text": "<br>".join(lines), "showarrow": False,
                            "align": "center", "font": {"size": 11},
                            "name": f"label:{node_id}"})
        if node_findings:
            annotations.append({
                "x": x + half_w, "y": y + half_h, "xanchor": "right", "yanchor": "middle",
                "text": f"⚠ {len(node_findings)}", "showarrow": False,
                "font": {"size": 10, "color": "white"},
                "bgcolor": SEVERITY_COLORS[severity or "low"], "borderpad": 2,
                "name": f"badge:{node_id}",
            })
        hover_x.append(x)
        hover_y.append(y)
        hover_text.append(_hover_text(node, node_findings))

    figure.update_layout(
        shapes=edges_plain + edges_hot + boxes, annotations=annotations,
        width=leaves * SLOT_PX + 2 * MARGIN_PX,
        height=(depth + 1) * LEVEL_PX + 2 * MARGIN_PX + 6,
        xaxis={"range": [-0.5, leaves - 0.5]},
        yaxis={"range": [-depth - 0.5, 0.5]},
    )
    figure.add_trace(go.Scatter(
        x=hover_x, y=hover_y, mode="markers", text=hover_text, hoverinfo="text",
        marker={"size": 40, "color": "rgba(0,0,0,0)"}, name="operations",
    ))
    return figure


def create_plan_legend() -> html.Div:
    """The colour key shared by the diagram and the graph."""
    items = [
        html.Span([
            html.Span(className="d-inline-block me-1 align-middle",
                      style={"width": "14px", "height": "14px", "background": fill,
                             "border": f"1.5px solid {border}", "borderRadius": "3px"}),
            label,
        ], className="me-3 text-nowrap")
        for fill, border, label in ACCESS_STYLES.values()
    ]
    items.append(html.Span([
        html.Span(className="d-inline-block me-1 align-middle",
                  style={"width": "22px", "height": "4px", "background": COSTLIEST_COLOR}),
        "Costliest path",
    ], className="me-3 text-nowrap"))
    items.append(html.Span([
        html.Span("⚠", className="badge me-1", style={"background": SEVERITY_COLORS["high"]}),
        "Operation with findings",
    ], className="text-nowrap"))
    return html.Div(items, className="small text-muted d-flex flex-wrap gap-1 mb-2")
