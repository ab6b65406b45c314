"""Plans: stored execution plans as a diagram, an interactive graph and raw JSON/TREE text.

Plans are recorded by the real-time capture (EXPLAIN FORMAT=JSON and FORMAT=TREE of a slow
SELECT; never EXPLAIN ANALYZE). One query can have several plans over time, and a changed
plan is the usual answer to "why did this get slow", so the list flags queries whose plan
changed and the plan view lists the query's plan history. A DBA can also paste EXPLAIN output
from anywhere and read it the same way. `/plans?plan_id=<id>` opens one plan (the Real-time
page links here).

When a query has had several plans, the Compare tab shows two of them side by side with the
changed operations outlined and the changes in words (analysis.plan_diff). The Tables tab
shows each table the plan reads (indexes, estimated rows, CREATE TABLE), read with the
monitoring account only when the tab is opened and cached for an hour (jobs.table_context).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import (
    ALL,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.masking import mask_message
from analysis.plan import PlanNode, costliest_path, parse_plan, plan_hash
from analysis.plan_diff import diff_plans
from analysis.plan_view import plan_to_draw
from analysis.units import short_query_id
from auth.access import can_operate
from charts.catalogue import CAPTION_PX
from charts.menu import chart_export_menu
from components.digest_detail import format_time
from components.digest_table import QUERY_ID_FORMAT
from components.empty_state import create_empty_state
from components.grid_csv import csv_button, grid_csv
from components.plan_diff_view import (
    create_diff_view,
    create_tables_view,
    default_pair,
    plan_options,
)
from components.plan_findings import create_findings_panel
from components.plan_graph import create_node_details, create_plan_elements, create_plan_graph
from components.plan_raw import create_raw_view
from components.plan_visual import create_plan_figure, create_plan_legend, find_plan_node
from components.store_alert import STORE_BACK
from jobs.table_context import plan_table_context
from services import current_services

dash.register_page(__name__, path="/plans", name="Plans", order=5, title="Plans")

LIST_LIMIT = 500
HIDDEN = {"display": "none"}
FORMAT_OPTIONS = [{"label": "Detect", "value": "auto"}, {"label": "JSON", "value": "json"},
                  {"label": "TREE", "value": "tree"}]
COLUMNS = [
    {"field": "instance_id", "headerName": "Instance", "minWidth": 140},
    {"field": "query_id", "headerName": "Query ID", "minWidth": 170, "maxWidth": 190,
     "valueFormatter": {"function": QUERY_ID_FORMAT}, "tooltipField": "query_id",
     "cellClass": "font-monospace"},
    {"field": "changed", "headerName": "Plan", "cellRenderer": "TargetBadge", "maxWidth": 110,
     "minWidth": 100, "cellRendererParams": {"label": "changed", "color": "warning"},
     "filter": False},
    {"field": "findings", "headerName": "Findings", "maxWidth": 110, "minWidth": 100,
     "filter": False},
    {"field": "fingerprint", "headerName": "Fingerprint", "flex": 3, "minWidth": 260,
     "tooltipField": "fingerprint"},
    {"field": "last_seen", "headerName": "Last seen", "minWidth": 150, "sort": "desc"},
    {"field": "first_seen", "headerName": "First seen", "minWidth": 150},
    {"field": "seen_count", "headerName": "Seen", "maxWidth": 90, "minWidth": 80,
     "filter": False},
    {"field": "server", "headerName": "Server", "minWidth": 190},
]
EMPTY_TEXT = [
    html.P("Plans are recorded when the real-time capture sees a slow SELECT on a real-time "
           "target: the collector runs EXPLAIN FORMAT=JSON and FORMAT=TREE for it (never "
           "EXPLAIN ANALYZE, which would run the query) and keeps every distinct plan."),
    html.P("Select a plan in the list, open one from a capture on the Real-time page, or paste "
           "EXPLAIN output into “Paste a plan”.", className="mb-0"),
]
# Cytoscape cannot measure a container inside a hidden tab; once the tab shows, re-read the
# size and fit the tree into view.
FIT_GRAPH_JS = """
function (activeTab) {
    if (activeTab !== 'plan-tab-graph') { return window.dash_clientside.no_update; }
    setTimeout(function () {
        var el = document.getElementById('plan-graph');
        var cy = (el && el._cyreg && el._cyreg.cy) || window.cy;
        if (cy) { cy.resize(); cy.fit(undefined, 24); }
    }, 150);
    return Date.now();
}
"""


def layout(plan_id: str | None = None, **_kwargs: object) -> html.Div:
    """A static skeleton (app.py builds it at start for validation); data comes by callbacks.

    `plan_id` is the query-string argument Dash passes (`/plans?plan_id=...`, already
    URL-decoded); it is only remembered here and loaded by a callback.
    """
    return html.Div([
        dcc.Store(id="plans-url-plan", data=plan_id if isinstance(plan_id, str) else None),
        dcc.Store(id="plans-current"),
        dcc.Store(id="plans-version", data=0),
        dcc.Store(id="plan-graph-fitted"),
        html.Div([
            html.H2("Plans", className="me-auto"),
            html.Div([csv_button("plans-csv"), dcc.Download(id="plans-download")],
                     className="me-2"),
            dbc.Button("Reload list", id="plans-reload", color="secondary", outline=True),
        ], className="d-flex align-items-center mb-2"),
        dbc.Row([
            dbc.Col([
                dag.AgGrid(
                    id="plans-grid", columnDefs=COLUMNS, rowData=[],
                    defaultColDef={"sortable": True, "filter": True, "resizable": True,
                                   "flex": 1},
                    dashGridOptions={
                        "pagination": True, "paginationPageSize": 20,
                        "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                         "enableClickSelection": True},
                        "tooltipShowDelay": 400,
                        "localeText": {"noRowsToShow": "No plans stored yet."}},
                    getRowId="params.data.plan_id", className="ag-theme-quartz",
                    style={"height": "290px"}),
                html.Div(id="plans-count", className="text-muted small mt-1"),
            ], lg=8),
            dbc.Col(_paste_card(), lg=4),
        ], className="g-3 mb-3"),
        create_empty_state("No plan selected", EMPTY_TEXT, component_id="plans-empty"),
        html.Div(id="plan-view", style=HIDDEN, children=[
            html.Div(id="plan-header", className="mb-2"),
            html.Div(id="plan-history", className="mb-2"),
            dbc.Switch(id="plan-show-literals", value=False, className="mb-2",
                       label="Show literals (conditions and raw output may hold personal "
                             "data)", disabled=not can_operate()),
            create_plan_legend(),
            dbc.Row([
                dbc.Col(dbc.Tabs(id="plan-tabs", active_tab="plan-tab-visual", children=[
                    dbc.Tab(label="Visual", tab_id="plan-tab-visual", id="plan-tab-visual",
                            children=html.Div([
                                html.Div(id="plan-visual-note"),
                                html.Div(id="plan-visual-export", className="mb-1"),
                                html.Div(dcc.Graph(
                                    id="plan-visual", figure=create_plan_figure(None, [], []),
                                    config={"displaylogo": False, "displayModeBar": "hover",
                                            "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                                            "toImageButtonOptions": {"filename": "plan"}},
                                    style={"width": "fit-content", "margin": "0 auto"}),
                                    style={"overflow": "auto", "maxHeight": "78vh"}),
                            ], className="pt-3")),
                    dbc.Tab(label="Graph", tab_id="plan-tab-graph", id="plan-tab-graph",
                            children=dbc.Row([
                                dbc.Col(create_plan_graph("plan-graph", []), md=8),
                                dbc.Col(html.Div(create_node_details(None, []),
                                                 id="plan-node-details"), md=4),
                            ], className="pt-3 g-3")),
                    dbc.Tab(label="Raw", tab_id="plan-tab-raw", id="plan-tab-raw",
                            children=html.Div([html.Div(id="plan-raw-json"),
                                               html.Div(id="plan-raw-tree")],
                                              className="pt-3")),
                    dbc.Tab(label="Compare", tab_id="plan-tab-compare", id="plan-tab-compare",
                            children=_compare_pane()),
                    dbc.Tab(label="Tables", tab_id="plan-tab-tables", id="plan-tab-tables",
                            children=_tables_pane()),
                ]), md=9),
                dbc.Col(html.Div(id="plan-findings"), md=3),
            ], className="g-3"),
        ]),
    ])


def _compare_pane() -> html.Div:
    return html.Div([
        dbc.Row([
            dbc.Col([dbc.Label("A (before)", html_for="plan-diff-a", className="small mb-0"),
                     dcc.Dropdown(id="plan-diff-a", options=[], clearable=False,
                                  className="small")], md=6),
            dbc.Col([dbc.Label("B (after)", html_for="plan-diff-b", className="small mb-0"),
                     dcc.Dropdown(id="plan-diff-b", options=[], clearable=False,
                                  className="small")], md=6),
        ], className="g-2 mb-2", id="plan-diff-pickers"),
        dcc.Loading(html.Div(id="plan-diff-view"), type="dot"),
    ], className="pt-3")


def _tables_pane() -> html.Div:
    return html.Div([
        html.Div([
            html.Span("Indexes, estimated rows and CREATE TABLE of every table this plan "
                      "reads, from the server, with the monitoring account (read-only; kept "
                      "for an hour).", className="small text-muted me-auto"),
            dbc.Button("Refresh", id="plan-tables-refresh", size="sm", color="secondary",
                       outline=True, className="ms-2"),
        ], className="d-flex align-items-center mb-2"),
        dcc.Loading(html.Div(id="plan-tables-view"), type="dot"),
    ], className="pt-3")


def _paste_card() -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader("Paste a plan"),
        dbc.CardBody([
            dbc.Textarea(id="plan-paste-text", rows=6, className="font-monospace small mb-2",
                         placeholder="EXPLAIN FORMAT=JSON or EXPLAIN FORMAT=TREE output "
                                     "(MySQL 8 or MariaDB)"),
            html.Div([
                dbc.RadioItems(id="plan-paste-format", options=FORMAT_OPTIONS, value="auto",
                               inline=True, className="me-auto small"),
                dbc.Button("Show plan", id="plan-paste-show", color="primary", size="sm"),
            ], className="d-flex align-items-center"),
            dbc.Alert(id="plan-paste-error", color="danger", is_open=False,
                      className="small mt-2 mb-0"),
        ]),
    ], className="h-100")


# ---- data shaping (pure) -----------------------------------------------------------------------
def _when(value: Any) -> str:
    text = str(value or "")
    return text.replace("T", " ")[:19] if text else ""


def plan_rows(plans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Grid rows; `changed` is set on every plan of a query that has had several plans."""
    plans = list(plans)
    hashes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for plan in plans:
        hashes[(plan.get("instance_id"), plan.get("query_id"))].add(plan.get("plan_hash"))
    return [{
        "plan_id": plan["plan_id"],
        "instance_id": plan.get("instance_id") or "",
        "query_id": plan.get("query_id") or "",
        "fingerprint": (plan.get("fingerprint") or "")[:500],
        "server": " ".join(x for x in (plan.get("server_flavour"), plan.get("server_version"))
                           if x),
        "first_seen": _when(plan.get("first_seen")),
        "last_seen": _when(plan.get("last_seen")),
        "seen_count": plan.get("seen_count") or 0,
        "findings": len(plan.get("findings") or []),
        "changed": len(hashes[(plan.get("instance_id"), plan.get("query_id"))]) > 1,
    } for plan in plans]


def pasted_plan(text: str, fmt: str) -> dict[str, Any]:
    """A plan document like a stored one, from pasted EXPLAIN output (raises PlanParseError)."""
    root = parse_plan(text, fmt)
    used = str(root.extra.get("format") or fmt)
    other = "tree" if used == "json" else "json"
    return {
        "plan_id": None, "source": "pasted", "plan_hash": plan_hash(root),
        "server_flavour": root.extra.get("flavour"), "root": root.to_dict(),
        "findings": [f.to_dict() for f in find_problems(root)],
        "formats": {
            used: {"supported": True, "text": text.strip(), "error": None},
            other: {"supported": None, "text": None, "error": None,
                    "note": f"Only the pasted FORMAT={used.upper()} output is available "
                            "for a pasted plan."},
        },
    }


def _costliest(root: Mapping[str, Any] | None) -> list[str]:
    if not root:
        return []
    try:
        return costliest_path(PlanNode.from_dict(root))
    except PlanParseError:
        return []


# ---- callbacks ---------------------------------------------------------------------------------
@callback(
    Output("plans-grid", "rowData"),
    Output("plans-count", "children"),
    Input("plans-version", "data"),
    Input("plans-reload", "n_clicks"),
    Input(STORE_BACK, "data"),
)
def load_rows(_version: int, _clicks: int | None, _store_back: str | None):
    rows = plan_rows(current_services().store.plans.list(limit=LIST_LIMIT))
    changed = len({(r["instance_id"], r["query_id"]) for r in rows if r["changed"]})
    text = f"{len(rows)} plans" + (" (the latest)" if len(rows) >= LIST_LIMIT else "")
    if changed:
        text += f" · {changed} {'query has' if changed == 1 else 'queries have'} a changed plan"
    return rows, text


@callback(
    Output("plans-current", "data"),
    Output("plan-paste-error", "children"),
    Output("plan-paste-error", "is_open"),
    Input("plans-url-plan", "data"),
    Input("plans-grid", "cellClicked"),
    Input({"type": "plan-history-item", "plan_id": ALL}, "n_clicks"),
    Input("plan-paste-show", "n_clicks"),
    State("plan-paste-text", "value"),
    State("plan-paste-format", "value"),
)
def choose_plan(url_plan: str | None, cell: dict | None, _history: list, _paste: int | None,
                text: str | None, fmt: str | None):
    """One place decides which plan is shown: the URL's, a clicked row, a history entry or
    pasted text (the last action wins)."""
    trigger = ctx.triggered_id
    if trigger is None or trigger == "plans-url-plan":
        return (_stored(url_plan) if url_plan else None), no_update, no_update
    if not any(t.get("value") for t in ctx.triggered):
        return no_update, no_update, no_update  # history entries (re)appeared, none clicked
    if trigger == "plans-grid":
        row_id = (cell or {}).get("rowId")
        return (_stored(row_id) if row_id else no_update), no_update, no_update
    if trigger == "plan-paste-show":
        if not (text or "").strip():
            return no_update, "Paste EXPLAIN FORMAT=JSON or FORMAT=TREE output first.", True
        try:
            return pasted_plan(text or "", fmt or "auto"), None, False
        except (PlanParseError, ValueError) as exc:
            return no_update, f"Could not read this plan: {exc}", True
    return _stored(trigger["plan_id"]), no_update, no_update


def _stored(plan_id: str) -> dict[str, Any]:
    plan = current_services().store.plans.get(plan_id)
    if plan is None:
        return {"missing": plan_id}
    return {**plan, "source": "stored"}


@callback(
    Output("plans-empty", "children"),
    Output("plans-empty", "style"),
    Output("plan-view", "style"),
    Output("plan-header", "children"),
    Output("plan-history", "children"),
    Output("plan-visual", "figure"),
    Output("plan-visual-note", "children"),
    Output("plan-graph", "elements"),
    Output("plan-raw-json", "children"),
    Output("plan-raw-tree", "children"),
    Output("plan-findings", "children"),
    Input("plans-current", "data"),
    Input("plan-show-literals", "value"),
)
def show_plan(plan: dict | None, show_literals: bool | None):
    show_literals = bool(show_literals) and can_operate()
    if not plan or "missing" in plan:
        heading = "No plan selected"
        body: list[Any] = list(EMPTY_TEXT)
        if plan:
            heading = "Plan not found"
            body = [html.P(f"No stored plan has the id {plan['missing']!r}; it may have been "
                           "removed."), *EMPTY_TEXT]
        empty = [html.H5(heading, className="alert-heading"), html.Div(body)]
        return (empty, {}, HIDDEN, None, None, create_plan_figure(None, [], []), None, [],
                None, None, None)
    masked = _masked(plan, show_literals)
    root, findings = _visible(plan, show_literals)
    costliest = _costliest(root)
    history = (current_services().store.plans.list(instance_id=plan.get("instance_id"),
                                                   query_id=plan.get("query_id"))
               if plan.get("source") == "stored" else [])
    note = None
    if not root:
        why = plan.get("parse_error") or "no EXPLAIN output could be read"
        if masked:
            why = mask_message(why)
        note = dbc.Alert(f"This plan could not be drawn: {why}. The raw output is on the Raw "
                         "tab.", color="warning", className="small")
    formats = plan.get("formats") or {}
    return (
        no_update, HIDDEN, {},
        _header(plan, len(history)),
        _history(plan, history),
        create_plan_figure(root, costliest, findings), note,
        create_plan_elements(root, costliest, findings),
        _raw("json", formats.get("json"), masked),
        _raw("tree", formats.get("tree"), masked),
        create_findings_panel(findings, root or {}),
    )


def _header(plan: Mapping[str, Any], versions: int) -> html.Div:
    badges = []
    if plan.get("source") == "pasted":
        badges.append(dbc.Badge("pasted", color="info", className="me-1"))
    server = " ".join(x for x in (plan.get("server_flavour"), plan.get("server_version")) if x)
    if server:
        badges.append(dbc.Badge(server, color="light", text_color="dark",
                                className="me-1 border"))
    if versions > 1:
        badges.append(dbc.Badge(f"plan changed ({versions} plans)", color="warning",
                                text_color="dark", className="me-1", id="plan-changed-badge"))
    facts = []
    if plan.get("source") == "stored":
        facts = [f"instance {plan.get('instance_id')}",
                 f"query {short_query_id(str(plan.get('query_id') or ''))}",
                 f"first seen {format_time(plan.get('first_seen'))}",
                 f"last seen {format_time(plan.get('last_seen'))}",
                 f"seen {plan.get('seen_count') or 0}×"]
    if plan.get("converted_from"):
        facts.append(f"explained as a SELECT converted from {plan['converted_from']}")
    children: list[Any] = [
        html.Div([html.H4(f"Plan {plan.get('plan_hash') or ''}", className="mb-0 me-2"),
                  *badges], className="d-flex align-items-center flex-wrap"),
        html.Div(" · ".join(facts), className="text-muted small",
                 title=f"query id {plan.get('query_id')}" if plan.get("query_id") else None),
    ]
    if plan.get("fingerprint"):
        children.append(html.Pre(plan["fingerprint"], className="small mb-0 mt-1 text-wrap",
                                 style={"maxHeight": "5.5em", "overflow": "auto"}))
    return html.Div(children)


def _history(plan: Mapping[str, Any], history: list[Mapping[str, Any]]) -> html.Div | None:
    if len(history) < 2:
        return None
    items = []
    for other in sorted(history, key=lambda p: str(p.get("last_seen") or ""), reverse=True):
        current = other.get("plan_id") == plan.get("plan_id")
        items.append(dbc.ListGroupItem([
            html.Span(other.get("plan_hash") or "", className="font-monospace me-3"),
            html.Span(f"{format_time(other.get('first_seen'))} → "
                      f"{format_time(other.get('last_seen'))}", className="me-3"),
            html.Span(f"seen {other.get('seen_count') or 0}×", className="me-3 text-muted"),
            html.Span(f"{len(other.get('findings') or [])} findings",
                      className="me-3 text-muted"),
            dbc.Badge("shown", color="primary") if current else None,
        ], id={"type": "plan-history-item", "plan_id": other["plan_id"]}, action=not current,
            active=False, className="py-1 small plan-history-item flex-grow-1"))
        # beside the entry, not inside it: a click inside would also show that plan
        items.append(dbc.Button(
            "Compare", id={"type": "plan-compare-item", "plan_id": other["plan_id"]},
            size="sm", color="link", className="py-0 small plan-compare-item",
            title="Compare this plan (A) with the one shown (B)",
            style={"visibility": "hidden"} if current else None))
    rows = [html.Div(items[i:i + 2], className="d-flex align-items-center")
            for i in range(0, len(items), 2)]
    return html.Div([
        html.Div(f"Plan history: this query has had {len(history)} different plans "
                 "(newest first; click one to show it, or compare it with the one shown).",
                 className="small fw-semibold mb-1"),
        dbc.ListGroup(rows),
    ])


def _masked(plan: Mapping[str, Any], show_literals: bool | None) -> bool:
    """Stored plans come from captured statements: their values are masked by default. A
    pasted plan is the user's own text and is shown as pasted."""
    return plan.get("source") == "stored" and not show_literals


def _visible(plan: Mapping[str, Any] | None,
             show_literals: bool | None) -> tuple[dict | None, list[dict]]:
    """The tree and findings to draw: masked for stored plans unless literals are shown
    (analysis.plan_view decides, for the exports too)."""
    root, findings, _costliest_path = plan_to_draw(plan, _masked(plan or {}, show_literals))
    return root, findings


def _raw(fmt: str, entry: Mapping[str, Any] | None, masked: bool) -> html.Div:
    if masked and entry and not entry.get("text") and entry.get("error"):
        return create_raw_view(fmt, {**entry, "error": mask_message(entry["error"])})
    if masked and entry and entry.get("text"):
        return create_raw_view(fmt, {**entry, "text": None, "error": None,
                                     "note": "The raw output quotes the statement's values: "
                                             "switch on Show literals to see it."})
    return create_raw_view(fmt, entry)


@callback(
    Output("plan-node-details", "children"),
    Input("plan-graph", "tapNodeData"),
    Input("plans-current", "data"),
    State("plan-show-literals", "value"),
)
def show_node(tapped: dict | None, plan: dict | None, show_literals: bool | None):
    show_literals = bool(show_literals) and can_operate()
    root, findings = _visible(plan, show_literals)
    if ctx.triggered_id != "plan-graph" or not tapped or not root:
        return create_node_details(None, [])
    return create_node_details(find_plan_node(root, str(tapped.get("id"))), findings)


# ---- Compare -----------------------------------------------------------------------------------
def _history_of(plan: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not plan or plan.get("source") != "stored":
        return []
    return current_services().store.plans.list(instance_id=plan.get("instance_id"),
                                               query_id=plan.get("query_id"))


@callback(
    Output("plan-diff-a", "options"),
    Output("plan-diff-a", "value"),
    Output("plan-diff-b", "options"),
    Output("plan-diff-b", "value"),
    Output("plan-tabs", "active_tab"),
    Output("plan-diff-pickers", "style"),
    Input("plans-current", "data"),
    Input({"type": "plan-compare-item", "plan_id": ALL}, "n_clicks"),
)
def choose_pair(plan: dict | None, _clicks: list):
    """The two plans compared: by default the shown plan and the one before it; a history
    entry's "Compare" makes it A, the shown plan B, and opens the Compare tab."""
    trigger = ctx.triggered_id
    if isinstance(trigger, Mapping) and trigger.get("type") == "plan-compare-item":
        if not any(t.get("value") for t in ctx.triggered):
            return no_update, no_update, no_update, no_update, no_update, no_update
        return (no_update, trigger["plan_id"], no_update, (plan or {}).get("plan_id"),
                "plan-tab-compare", no_update)
    history = _history_of(plan)
    options = plan_options(history)
    first, second = default_pair(history, (plan or {}).get("plan_id"))
    return options, first, options, second, no_update, ({} if len(options) > 1 else HIDDEN)


@callback(
    Output("plan-diff-view", "children"),
    Input("plan-diff-a", "value"),
    Input("plan-diff-b", "value"),
    Input("plan-show-literals", "value"),
    State("plans-current", "data"),
)
def show_diff(a_id: str | None, b_id: str | None, show_literals: bool | None,
              plan: dict | None):
    if not a_id or not b_id:
        why = ("A pasted plan has no history to compare with." if (plan or {}).get(
            "source") == "pasted" else "This query has had one plan so far: there is nothing "
               "to compare. When its plan changes, both plans are kept and compared here.")
        return dbc.Alert(why, color="light", className="small border mb-0")
    if a_id == b_id:
        return dbc.Alert("A and B are the same plan: pick two different plans.",
                         color="light", className="small border mb-0")
    store = current_services().store
    plan_a, plan_b = store.plans.get(a_id), store.plans.get(b_id)
    if plan_a is None or plan_b is None:
        return dbc.Alert("One of the two plans is no longer stored.", color="warning",
                         className="small mb-0")
    literals = bool(show_literals) and can_operate()
    diff = diff_plans(plan_a.get("root"), plan_b.get("root"), literals=literals)
    root_a = plan_a.get("root") if literals else _visible({**plan_a, "source": "stored"},
                                                          False)[0]
    root_b = plan_b.get("root") if literals else _visible({**plan_b, "source": "stored"},
                                                          False)[0]
    return create_diff_view(root_a, root_b, {**diff.to_dict(), "a": plan_a, "b": plan_b})


# ---- Tables ------------------------------------------------------------------------------------
@callback(
    Output("plan-tables-view", "children"),
    Input("plan-tabs", "active_tab"),
    Input("plans-current", "data"),
    Input("plan-tables-refresh", "n_clicks"),
)
def show_tables(active_tab: str | None, plan: dict | None, _refresh: int | None):
    """Read only when the tab is open: opening a plan must not connect to its server."""
    if active_tab != "plan-tab-tables" or not plan or "missing" in plan:
        return None
    if plan.get("source") != "stored":
        return dbc.Alert("Tables are read from the plan's server, so they are shown for "
                         "stored plans only (a pasted plan has no server).", color="light",
                         className="small border mb-0")
    services = current_services()
    answer = plan_table_context(services.store, services.settings, plan,
                                refresh=ctx.triggered_id == "plan-tables-refresh",
                                instance_reader=services.table_reader)
    return create_tables_view(answer)


clientside_callback(FIT_GRAPH_JS, Output("plan-graph-fitted", "data"),
                    Input("plan-tabs", "active_tab"))


@callback(Output("plans-download", "data"), Input("plans-csv", "n_clicks"),
          State("plans-grid", "virtualRowData"), prevent_initial_call=True)
def download_csv(_clicks: int | None, rows: list[dict] | None):
    """The plan list as the grid shows it (fingerprints are masked by nature)."""
    return dcc.send_string(grid_csv(COLUMNS, rows, headers={"changed": "Plan changed"}),
                           "plans.csv")


@callback(Output("plan-visual-export", "children"), Input("plans-current", "data"))
def show_visual_export(plan: dict | None):
    """The diagram's Export / Embed buttons: a stored plan has a link; a pasted one has not."""
    if not plan or "missing" in plan or not plan.get("root"):
        return None
    if plan.get("source") != "stored":
        return html.Div("A pasted plan is not stored, so it has no export link: the camera "
                        "button over the diagram saves it as PNG.",
                        className="small text-muted text-end", id="plan-visual-export-note")
    root, findings, costliest = plan_to_draw(plan, masked=True)
    height = create_plan_figure(root, costliest, findings).layout.height or 400
    return chart_export_menu("plan-export", "plan-visual", {"plan_id": plan["plan_id"]},
                             height=min(900, int(height) + CAPTION_PX + 16))
