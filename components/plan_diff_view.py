"""The Plans page's Compare and Tables tabs: two plans side by side with what changed marked,
and each table a plan reads (indexes, estimated rows, CREATE TABLE).

A DBA looking at "plan changed" wants to see *where*: both diagrams (components/plan_visual)
with the changed nodes outlined, and the changes in words ("orders: ref on idx_created →
ALL; rows 1 → 600"). The Tables tab answers the next question, "which index was there?".

Pure builders: dicts in (a stored plan's ``root``, the ``analysis.plan_diff`` answer, the
``jobs.table_context`` answer), Dash components and figures out. No store, no services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from analysis.plan_diff import format_estimate
from components.digest_detail import format_time
from components.plan_visual import create_plan_figure

# outline colours of the nodes a diff marks (distinct from the access colours and severities)
CHANGED_COLOR = "#1971c2"
ADDED_COLOR = "#2f9e44"
REMOVED_COLOR = "#868e96"
FIELD_LABELS = {"operation": "operation", "access_type": "access type", "key": "key",
                "rows": "rows (estimate)", "filtered": "filtered", "cost": "cost",
                "flags": "flags", "condition": "condition"}
GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": "hover",
                "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


# ---- plan choice --------------------------------------------------------------------------------
def plan_option_label(plan: Mapping[str, Any]) -> str:
    """How a plan is named in the Compare pickers: its hash and when it was seen."""
    return f"{plan.get('plan_hash') or '?'} · first seen {format_time(plan.get('first_seen'))}"


def plan_options(history: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Dropdown options, oldest plan first (A is usually the older one)."""
    ordered = sorted(history, key=lambda p: str(p.get("first_seen") or ""))
    return [{"label": plan_option_label(p), "value": p["plan_id"]} for p in ordered]


def default_pair(history: list[Mapping[str, Any]], shown_id: str | None) -> tuple[str | None,
                                                                                  str | None]:
    """(A, B) to compare first: the plan before the shown one, and the shown one (the shown
    one is the oldest: it and the next)."""
    ordered = [p["plan_id"] for p in sorted(history, key=lambda p: str(p.get("first_seen")
                                                                        or ""))]
    if len(ordered) < 2:
        return None, None
    if shown_id not in ordered:
        return ordered[-2], ordered[-1]
    at = ordered.index(shown_id)
    return (ordered[at - 1], shown_id) if at else (shown_id, ordered[1])


# ---- the diagrams -------------------------------------------------------------------------------
def highlight_nodes(figure: go.Figure, marks: Mapping[str, str]) -> go.Figure:
    """Outline the boxes named ``node:<id>`` in ``marks`` (node id -> colour); added and
    removed nodes get a dashed outline, changed ones a solid one."""
    shapes = []
    for shape in figure.layout.shapes or ():
        name = shape.name or ""
        node_id = name[5:] if name.startswith("node:") else None
        if node_id in marks:
            color = marks[node_id]
            shape = shape.to_plotly_json()
            shape["line"] = {"color": color, "width": 4,
                             "dash": "solid" if color == CHANGED_COLOR else "dash"}
            shape["name"] = f"{name}:marked"
        shapes.append(shape)
    figure.update_layout(shapes=shapes)
    return figure


def diff_marks(diff: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(marks on plan A, marks on plan B): node id -> outline colour."""
    marks_a = {c["node_a"]: CHANGED_COLOR for c in diff.get("changes") or []}
    marks_b = {c["node_b"]: CHANGED_COLOR for c in diff.get("changes") or []}
    marks_a.update({n["node_id"]: REMOVED_COLOR for n in diff.get("removed") or []})
    marks_b.update({n["node_id"]: ADDED_COLOR for n in diff.get("added") or []})
    return marks_a, marks_b


def diff_figures(root_a: Mapping[str, Any] | None, root_b: Mapping[str, Any] | None,
                 diff: Mapping[str, Any]) -> tuple[go.Figure, go.Figure]:
    """Both diagrams with the diff's nodes outlined (no costliest path: the outline is the
    story here)."""
    marks_a, marks_b = diff_marks(diff)
    return (highlight_nodes(create_plan_figure(root_a, [], []), marks_a),
            highlight_nodes(create_plan_figure(root_b, [], []), marks_b))


def _legend() -> html.Div:
    def swatch(color: str, dashed: bool, label: str) -> html.Span:
        return html.Span([
            html.Span(className="d-inline-block me-1 align-middle",
                      style={"width": "16px", "height": "12px", "borderRadius": "3px",
                             "border": f"3px {'dashed' if dashed else 'solid'} {color}"}),
            label], className="me-3 text-nowrap")
    return html.Div([swatch(CHANGED_COLOR, False, "Changed"),
                     swatch(REMOVED_COLOR, True, "Only in A (removed)"),
                     swatch(ADDED_COLOR, True, "Only in B (added)")],
                    className="small text-muted d-flex flex-wrap mb-2")


# ---- the changes in words -----------------------------------------------------------------------
def _value(name: str, value: Any) -> str:
    if value is None or value == []:
        return "—"
    if name in ("rows", "cost", "filtered"):
        return format_estimate(name, value)
    if name == "flags":
        return ", ".join(str(f).replace("_", " ") for f in value)
    return str(value)


def changes_table(diff: Mapping[str, Any]) -> html.Div:
    """One row per changed field, then the added and removed operations."""
    rows = []
    for change in diff.get("changes") or []:
        who = change.get("table") or change.get("operation") or "?"
        fields = change.get("fields") or {}
        first = True
        for name, (old, new) in fields.items():
            rows.append(html.Tr([
                html.Td(who if first else "", className="fw-semibold font-monospace"),
                html.Td(FIELD_LABELS.get(name, name)),
                html.Td(_value(name, old), className="font-monospace text-break"),
                html.Td(_value(name, new), className="font-monospace text-break")]))
            first = False
        if change.get("moved"):
            rows.append(html.Tr([
                html.Td(who if first else "", className="fw-semibold font-monospace"),
                html.Td("join order"),
                html.Td("moved", colSpan=2, className="text-muted")]))
    for label, nodes, color in (("only in A", diff.get("removed"), REMOVED_COLOR),
                                ("only in B", diff.get("added"), ADDED_COLOR)):
        for node in nodes or []:
            what = str(node.get("operation") or "?")
            if node.get("table"):
                what += f" on {node['table']}"
            rows.append(html.Tr([
                html.Td(node.get("table") or node.get("operation"),
                        className="fw-semibold font-monospace"),
                html.Td(label, style={"color": color}),
                html.Td(what, colSpan=2, className="text-break")]))
    if not rows:
        return html.Div("No difference beyond estimate noise.", className="text-muted small")
    return dbc.Table([
        html.Thead(html.Tr([html.Th("Table / operation"), html.Th("What"),
                            html.Th("A (before)"), html.Th("B (after)")])),
        html.Tbody(rows)], size="sm", bordered=False, hover=True, className="small mb-0",
        id="plan-diff-changes")


def summary_lines(summary: str) -> list[str]:
    """The summary, one table or operation per line (its sentences are joined by ". ")."""
    return [part for part in summary.split(". ") if part] or [""]


def create_diff_view(root_a: Mapping[str, Any] | None, root_b: Mapping[str, Any] | None,
                     diff: Mapping[str, Any]) -> html.Div:
    """Summary sentence, the changes table and the two outlined diagrams side by side."""
    figure_a, figure_b = diff_figures(root_a, root_b, diff)

    def side(title: str, plan: Mapping[str, Any], figure: go.Figure, graph_id: str) -> dbc.Col:
        return dbc.Col([
            html.Div([html.Span(title, className="fw-semibold me-2"),
                      html.Span(plan.get("plan_hash") or "", className="font-monospace me-2"),
                      html.Span(f"first seen {format_time(plan.get('first_seen'))}",
                                className="text-muted",
                                title=f"last seen {format_time(plan.get('last_seen'))}")],
                     className="small mb-1 text-truncate"),
            html.Div(dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG,
                               style={"width": "fit-content"}),
                     style={"overflow": "auto", "maxHeight": "70vh"},
                     className="border rounded"),
        ], md=6)

    return html.Div([
        dbc.Alert([html.Div(line) for line in summary_lines(diff.get("summary") or "")],
                  color="info", className="small mb-2", id="plan-diff-summary"),
        changes_table(diff),
        html.Hr(className="my-2"),
        _legend(),
        dbc.Row([side("A", diff.get("a") or {}, figure_a, "plan-diff-graph-a"),
                 side("B", diff.get("b") or {}, figure_b, "plan-diff-graph-b")],
                className="g-2"),
    ])


# ---- the Tables tab -----------------------------------------------------------------------------
def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def _indexes(indexes: list[Mapping[str, Any]]) -> Any:
    if not indexes:
        return dbc.Alert("No indexes at all: every lookup on this table reads it whole.",
                         color="warning", className="small py-1 mb-2")
    return dbc.Table([
        html.Thead(html.Tr([html.Th("Index"), html.Th("Columns"), html.Th("Unique"),
                            html.Th("Cardinality", className="text-end")])),
        html.Tbody([html.Tr([
            html.Td(i.get("name"), className="font-monospace"),
            html.Td(", ".join(i.get("columns") or []), className="font-monospace"),
            html.Td("primary" if i.get("primary") else ("yes" if i.get("unique") else "no")),
            html.Td("—" if i.get("cardinality") is None else f"{i['cardinality']:,}",
                    className="text-end"),
        ]) for i in indexes])], size="sm", className="small mb-2")


def table_card(entry: Mapping[str, Any], said: str | None = None) -> dbc.Card:
    """One table: name and aliases, estimated rows, sizes, indexes, CREATE TABLE, read at.
    ``said`` is the plan-wide error already shown above the cards (not repeated here)."""
    name = ".".join(x for x in (entry.get("schema"), entry.get("table")) if x)
    aliases = entry.get("aliases") or []
    header = [html.Span(name, className="fw-semibold font-monospace me-2")]
    if aliases:
        header.append(html.Span(f"as {', '.join(aliases)}", className="text-muted me-2"))
    body: list[Any] = []
    if entry.get("error") and entry["error"] != said:
        body.append(dbc.Alert(entry["error"], color="warning", className="small py-1 mb-2"))
    if "indexes" in entry:
        rows = entry.get("rows_estimate")
        body.append(html.Div([
            html.Span(f"≈ {rows:,} rows" if rows is not None else "rows unknown",
                      className="me-3 fw-semibold"),
            html.Span(f"{entry.get('engine') or ''}", className="me-3"),
            html.Span(f"data {_bytes(entry.get('data_bytes'))} · indexes "
                      f"{_bytes(entry.get('index_bytes'))}", className="me-3 text-muted"),
        ], className="small mb-2"))
        body.append(_indexes(list(entry.get("indexes") or [])))
        body.append(html.Details([
            html.Summary("CREATE TABLE", className="small"),
            html.Pre(entry.get("create_table") or "", className="small bg-light p-2 mb-0",
                     style={"maxHeight": "22em", "overflow": "auto",
                            "whiteSpace": "pre-wrap"}),
        ]))
    read = entry.get("read_at")
    footer = (f"read at {format_time(read)}" + (" (cached)" if entry.get("cached") else "")
              if read else "not read")
    header.append(html.Span(footer, className="ms-auto small text-muted"))
    card: list[Any] = [dbc.CardHeader(header, className="d-flex align-items-center py-1")]
    if body:
        card.append(dbc.CardBody(body, className="py-2"))
    return dbc.Card(card, className="mb-2 table-context")


def create_tables_view(answer: Mapping[str, Any] | None) -> html.Div:
    """Every table of the plan; a plan-wide error first as one sentence."""
    answer = answer or {}
    children: list[Any] = []
    if answer.get("error") and not answer.get("tables"):
        return html.Div(dbc.Alert(answer["error"], color="secondary", className="small mb-0"))
    if answer.get("error"):
        children.append(dbc.Alert(answer["error"], color="warning", className="small"))
    children += [table_card(t, answer.get("error")) for t in answer.get("tables") or []]
    return html.Div(children)
