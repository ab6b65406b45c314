"""The interactive plan graph (dash-cytoscape) and the details panel of a tapped operation.

The diagram (plan_visual) is for reading a plan at a glance; this graph is for exploring a big
one: pan, zoom, and tap an operation to read everything about it (condition, keys, findings).
Both use the same colours. The dagre tree layout comes from dash-cytoscape's bundled "extra"
layouts, which `load_extra_layouts()` serves from the package like any other Dash component
asset (no CDN: the app runs offline).

Pure builders: a stored plan's ``root`` dict, costliest path and findings in, elements out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import dash_cytoscape as cyto
from dash import html

from components.plan_findings import create_finding_item
from components.plan_visual import (
    ACCESS_STYLES,
    COSTLIEST_COLOR,
    EDGE_COLOR,
    FONT,
    SEVERITY_COLORS,
    access_category,
    costliest_edges,
    findings_by_node,
    format_number,
    iter_plan_nodes,
    node_details,
    worst_severity,
)

# Swaps dash-cytoscape's bundle for the one that also holds dagre (served locally by Dash).
cyto.load_extra_layouts()

NODE_W = 178
NODE_H = 62
LAYOUT = {"name": "dagre", "rankDir": "TB", "nodeSep": 26, "rankSep": 48, "padding": 24,
          "fit": True, "animate": False}


def _label(node: Mapping[str, Any]) -> str:
    operation = str(node.get("operation") or "?")
    lines = [operation if len(operation) <= 26 else operation[:25] + "…"]
    if node.get("table"):
        access = node.get("access_type")
        lines.append(f"{node['table']} · {access}" if access else str(node["table"]))
    stats = []
    if node.get("rows") is not None:
        stats.append(f"rows {format_number(node['rows'])}")
    if node.get("cost") is not None:
        stats.append(f"cost {format_number(node['cost'])}")
    if stats:
        lines.append(" · ".join(stats))
    return "\n".join(lines)


def create_plan_elements(root: Mapping[str, Any] | None, costliest: list[str],
                         findings: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cytoscape nodes (one per operation) and edges (parent -> child).

    Node classes: ``access-<category>`` (colour), ``finding finding-<severity>`` when the
    operation has findings, ``costliest`` on the costliest path; edges on it are
    ``costliest`` too.
    """
    if not root:
        return []
    by_node = findings_by_node(list(findings or []))
    on_path = set(costliest or [])
    hot = costliest_edges(list(costliest or []))
    nodes, edges = [], []
    for node, parent, depth in iter_plan_nodes(root):
        node_id = str(node["node_id"])
        node_findings = by_node.get(node_id, [])
        classes = [f"access-{access_category(node)}"]
        if node_findings:
            classes += ["finding", f"finding-{worst_severity(node_findings)}"]
        if node_id in on_path:
            classes.append("costliest")
        nodes.append({
            "data": {"id": node_id, "label": _label(node), "operation": node.get("operation"),
                     "table": node.get("table"), "access_type": node.get("access_type"),
                     "depth": depth, "findings": len(node_findings)},
            "classes": " ".join(classes),
        })
        if parent is not None:
            edges.append({
                "data": {"id": f"{parent}->{node_id}", "source": parent, "target": node_id},
                "classes": "costliest" if (parent, node_id) in hot else "",
            })
    return nodes + edges


def create_plan_stylesheet() -> list[dict[str, Any]]:
    """Colours of the diagram, as cytoscape styles."""
    styles: list[dict[str, Any]] = [
        {"selector": "node", "style": {
            "shape": "round-rectangle", "width": NODE_W, "height": NODE_H,
            "label": "data(label)", "text-wrap": "wrap", "text-max-width": NODE_W - 12,
            "text-valign": "center", "text-halign": "center", "font-size": 11,
            "font-family": FONT, "color": "#212529", "border-width": 1.2,
            "line-height": 1.3}},
        {"selector": "edge", "style": {
            "width": 1.5, "line-color": EDGE_COLOR, "curve-style": "taxi",
            "taxi-direction": "downward", "taxi-turn": 24}},
        {"selector": "edge.costliest", "style": {"width": 4, "line-color": COSTLIEST_COLOR}},
    ]
    for category, (fill, border, _label) in ACCESS_STYLES.items():
        styles.append({"selector": f"node.access-{category}",
                       "style": {"background-color": fill, "border-color": border}})
    styles.append({"selector": "node.finding-low",
                   "style": {"border-style": "dashed", "border-width": 2}})
    for severity in ("medium", "high"):
        styles.append({"selector": f"node.finding-{severity}",
                       "style": {"border-color": SEVERITY_COLORS[severity], "border-width": 3}})
    styles.append({"selector": "node:selected", "style": {
        "border-color": "#0d6efd", "border-width": 4, "overlay-opacity": 0}})
    return styles


def create_plan_graph(graph_id: str, elements: list[dict[str, Any]]) -> cyto.Cytoscape:
    """The cytoscape component: a top-down dagre tree, zoomable, nodes not draggable."""
    return cyto.Cytoscape(
        id=graph_id, elements=elements, layout=dict(LAYOUT), stylesheet=create_plan_stylesheet(),
        minZoom=0.15, maxZoom=1.3, autoungrabify=True, boxSelectionEnabled=False,
        style={"width": "100%", "height": "560px", "background": "#fbfcfd",
               "border": "1px solid var(--bs-border-color)", "borderRadius": "0.375rem"},
    )


def create_node_details(node: Mapping[str, Any] | None,
                        findings: list[Mapping[str, Any]]) -> html.Div:
    """Everything about one operation (with its condition in full) and its findings."""
    if node is None:
        return html.Div("Tap an operation in the graph to see its details.",
                        className="text-muted small")
    rows = [
        html.Tr([html.Th(label, className="text-nowrap fw-semibold pe-2"),
                 html.Td(html.Code(value, className="text-body text-break")
                         if label == "Condition" else value, className="text-break")])
        for label, value in node_details(node)
    ]
    own = [f for f in findings if f.get("node_id") == node.get("node_id")]
    body: list[Any] = [
        html.H6(str(node.get("operation") or ""), className="mb-2"),
        dbc.Table(html.Tbody(rows), size="sm", borderless=True, className="small mb-2"),
    ]
    if own:
        body.append(html.Div([create_finding_item(f) for f in own]))
    else:
        body.append(html.Div("No findings on this operation.", className="text-muted small"))
    return html.Div(body)
