"""Real-time: the capture switch, statements caught running, and each one's SQL and plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from analysis.live_position import NOT_COLLECTED, link_captures
from analysis.masking import mask_literals, mask_message, mask_plan_and_findings
from analysis.sqlformat import format_sql
from analysis.units import human_duration, short_query_id
from auth.access import can_operate
from components.digest_table import DURATION
from components.grid_csv import csv_button, grid_csv
from services import current_services
from store.flags import utc_iso

dash.register_page(__name__, path="/realtime", name="Real-time", order=4, title="Real-time")

SINCE_OPTIONS = [{"label": "Last hour", "value": 1}, {"label": "Last 24 hours", "value": 24},
                 {"label": "Last 7 days", "value": 168}, {"label": "Everything", "value": 0}]
COLUMNS = [
    {"field": "start", "headerName": "Started (UTC)", "minWidth": 180, "sort": "desc"},
    {"field": "instance_id", "headerName": "Instance", "minWidth": 150},
    {"field": "duration", "headerName": "Duration", "minWidth": 110, "maxWidth": 130,
     "type": "rightAligned",
     "valueFormatter": DURATION},
    {"field": "state", "headerName": "", "maxWidth": 110, "cellRenderer": "StatusBadge"},
    {"field": "user", "headerName": "User", "maxWidth": 130},
    {"field": "db", "headerName": "DB", "maxWidth": 130},
    {"field": "sql", "headerName": "Statement (literals masked)", "flex": 3, "minWidth": 320},
    {"field": "plan", "headerName": "Plan", "maxWidth": 110},
    # the statement's digest (its month's, else the latest collected) and where this run
    # sits in it; the tooltip has the share of the month's calls and its percentiles
    {"field": "digest", "headerName": "Digest", "cellRenderer": "markdown", "minWidth": 190,
     "maxWidth": 210, "filter": False, "tooltipField": "digest_note"},
    {"field": "position", "headerName": "In its month", "minWidth": 170,
     "tooltipField": "position_detail"},
]


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        dcc.Interval(id="realtime-tick", interval=3000),
        dcc.Store(id="realtime-selected"),
        html.Div([
            html.H2("Real-time", className="me-auto"),
            html.Div([csv_button("realtime-csv"), dcc.Download(id="realtime-download")],
                     className="me-3"),
            dbc.Switch(id="realtime-switch", label="Capture on", value=False,
                       className="fs-5", disabled=not can_operate()),
        ], className="d-flex align-items-center mb-2"),
        html.P("Statements that run longer than REALTIME_MIN_SECONDS on instances tagged "
               "real_time_slow_sql=true, recorded once per execution.",
               className="text-muted"),
        html.Div(id="realtime-empty-slot"),
        dbc.Checklist(id="realtime-instance-switches", switch=True, inline=True, options=[],
                      value=[], className="mb-3"),
        None if can_operate() else html.P(
            "Capture switches and literals are for operators: your role is viewer.",
            className="text-muted small", id="realtime-viewer-note"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id="realtime-instance", placeholder="All instances"), md=4),
            dbc.Col(dcc.Dropdown(id="realtime-since", options=SINCE_OPTIONS, value=24,
                                 clearable=False), md=3),
        ], className="g-2 mb-2"),
        dag.AgGrid(id="realtime-grid", columnDefs=COLUMNS, rowData=[],
                   defaultColDef={"sortable": True, "filter": True, "resizable": True,
                                  "flex": 1},
                   dashGridOptions={"pagination": True, "paginationPageSize": 50,
                                    "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                     "enableClickSelection": True},
                                    "localeText": {"noRowsToShow": "Nothing captured."}},
                   getRowId="params.data.id", className="ag-theme-quartz",
                   style={"height": "520px"}),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle(id="realtime-modal-title")),
            dbc.ModalBody([
                dbc.Switch(id="realtime-show-literals", value=False, className="mb-2",
                           label="Show literals (may hold personal data)",
                           disabled=not can_operate()),
                html.Div(id="realtime-modal-body"),
            ]),
        ], id="realtime-modal", size="xl", is_open=False, scrollable=True),
    ])


def _since(hours: int | None) -> str | None:
    if not hours:
        return None
    return utc_iso(datetime.now(UTC) - timedelta(hours=hours))


@callback(
    Output("realtime-switch", "value"),
    Output("realtime-empty-slot", "children"),
    Output("realtime-instance-switches", "options"),
    Output("realtime-instance-switches", "value"),
    Output("realtime-instance", "options"),
    Input("realtime-tick", "n_intervals"),
)
def show_status(_tick: int | None):
    status = current_services().realtime.status()
    empty = None if status["instances"] else dbc.Alert(
        "No real-time targets: tag an instance real_time_slow_sql=true and refresh the "
        "inventory on the Instances page.", color="secondary", id="realtime-empty")
    switches = [{"label": _instance_label(s), "value": s["instance_id"],
                 "disabled": not can_operate()} for s in status["instances"]]
    enabled = [s["instance_id"] for s in status["instances"] if s["enabled"]]
    options = [{"label": s["instance_id"], "value": s["instance_id"]}
               for s in status["instances"]]
    return status["enabled"], empty, switches, enabled, options


def _instance_label(state: dict) -> html.Span:
    if state.get("last_error"):
        note = html.Span(f" — {mask_message(state['last_error'])}",
                         className="text-danger small")
    elif state.get("last_poll"):
        note = html.Span(f" — polled {state['last_poll'][11:19]} UTC",
                         className="text-muted small")
    else:
        note = html.Span(" — not polled yet", className="text-muted small")
    return html.Span([html.Strong(state["instance_id"]), note])


@callback(
    Output("realtime-tick", "n_intervals"),
    Input("realtime-switch", "value"),
    State("realtime-tick", "n_intervals"),
    prevent_initial_call=True,
)
def switch_capture(enabled: bool, ticks: int | None):
    service = current_services().realtime
    if not can_operate():
        return (ticks or 0) + 1  # a viewer cannot switch: the tick puts the switch back
    if bool(enabled) == service.globally_enabled():
        return no_update  # the tick itself set the switch: nothing to do, no loop
    service.set_enabled(bool(enabled))
    return (ticks or 0) + 1


@callback(
    Output("realtime-tick", "n_intervals", allow_duplicate=True),
    Input("realtime-instance-switches", "value"),
    State("realtime-instance-switches", "options"),
    State("realtime-tick", "n_intervals"),
    prevent_initial_call=True,
)
def switch_instances(enabled: list[str] | None, options: list[dict], ticks: int | None):
    service = current_services().realtime
    if not can_operate():
        return (ticks or 0) + 1
    current = {s["instance_id"]: s["enabled"] for s in service.status()["instances"]}
    changed = False
    for option in options or []:
        wanted = option["value"] in (enabled or [])
        if current.get(option["value"]) != wanted:
            service.set_enabled(wanted, option["value"])
            changed = True
    return (ticks or 0) + 1 if changed else no_update


@callback(
    Output("realtime-grid", "rowData"),
    Input("realtime-tick", "n_intervals"),
    Input("realtime-instance", "value"),
    Input("realtime-since", "value"),
)
def load_captures(_tick: int | None, instance_id: str | None, hours: int | None):
    store = current_services().store
    rows = store.captures.recent(instance_id=instance_id or None, since=_since(hours),
                                 limit=1000)
    links = link_captures(rows, store.digests.for_statement)
    return [{**_digest_cells(links[r["id"]]),
        "id": r["id"], "start": r["start"][:19].replace("T", " "),
        "instance_id": r["instance_id"], "duration": r.get("duration"),
        "state": "completed" if r.get("finished") else "in_progress",
        "user": r.get("user"), "db": r.get("db"),
        "sql": " ".join(mask_literals(r.get("sql_text") or "").split())[:300],
        "plan": "yes" if r.get("plan_id") else ("error" if r.get("plan_error") else "—"),
    } for r in rows]


def _digest_cells(link: dict) -> dict:
    """The grid's Digest link (markdown) and position text for one capture."""
    digest, where = link.get("digest"), link.get("position")
    if digest is None:
        return {"digest": f"*{NOT_COLLECTED}*", "digest_note": NOT_COLLECTED,
                "digest_period": NOT_COLLECTED, "position": "", "position_detail": None}
    return {"digest": f"[{digest['period_label']}]({digest['url']})", "digest_note": None,
            "digest_period": digest["period_label"], "position": where["short"],
            "position_detail": where["detail"]}


# the file holds the digest's month as text (the grid's cell is a markdown link) and seconds
CSV_COLUMNS = [{"field": "digest_period", "headerName": "Digest"} if c["field"] == "digest"
               else c for c in COLUMNS]


@callback(Output("realtime-download", "data"), Input("realtime-csv", "n_clicks"),
          State("realtime-grid", "virtualRowData"), prevent_initial_call=True)
def download_csv(_clicks: int | None, rows: list[dict] | None):
    """The captures as the grid shows them (literals masked, filters and sort applied)."""
    return dcc.send_string(grid_csv(CSV_COLUMNS, rows, headers={"duration": "Duration (s)",
                                                                "state": "State"}),
                           "realtime-captures.csv")


@callback(
    Output("realtime-selected", "data"),
    Input("realtime-grid", "cellClicked"),
    prevent_initial_call=True,
)
def select_capture(cell: dict | None):
    return (cell or {}).get("rowId") or no_update


@callback(
    Output("realtime-modal", "is_open"),
    Output("realtime-modal-title", "children"),
    Output("realtime-modal-body", "children"),
    Input("realtime-selected", "data"),
    Input("realtime-show-literals", "value"),
    prevent_initial_call=True,
)
def open_capture(capture_id: str | None, show_literals: bool | None):
    services = current_services()
    show_literals = bool(show_literals) and can_operate()
    capture = services.store.captures.get(capture_id) if capture_id else None
    if capture is None:
        return no_update, no_update, no_update
    sql = capture.get("sql_text") or ""
    shown = sql if show_literals else mask_literals(sql)
    plan = services.store.plans.get(capture["plan_id"]) if capture.get("plan_id") else None
    title = (f"{capture['instance_id']} · pid {capture['pid']} · "
             f"{human_duration(capture['duration'])}")
    body = [
        html.Div([dcc.Clipboard(target_id="realtime-sql", className="float-end"),
                  html.Pre(format_sql(shown), id="realtime-sql",
                           className="bg-body-tertiary p-2 rounded")]),
        dbc.Table([html.Tbody([
            html.Tr([html.Th("Query ID"), html.Td(html.Code(
                short_query_id(capture.get("query_id") or ""),
                title=f"full id: {capture.get('query_id')}"))]),
            html.Tr([html.Th("Fingerprint"), html.Td(html.Code(capture.get("fingerprint"),
                                                               id="realtime-fingerprint"))]),
            html.Tr([html.Th("User / host / db"), html.Td(
                f"{capture.get('user')} @ {capture.get('host')} / {capture.get('db') or '—'}")]),
            html.Tr([html.Th("Started / last seen"), html.Td(
                f"{capture['start']} / {capture.get('last_seen')}")]),
            html.Tr([html.Th("Digest"), html.Td(_digest_link(
                link_captures([capture], services.store.digests.for_statement)[capture["id"]]))]),
        ])], size="sm", bordered=False, className="mt-2"),
        html.H5("Plan"),
        _plan_summary(capture, plan, bool(show_literals)),
    ]
    return True, title, body


def _digest_link(link: dict) -> html.Span:
    digest, where = link.get("digest"), link.get("position")
    if digest is None:
        return html.Span(NOT_COLLECTED, className="text-muted", id="realtime-digest")
    return html.Span([html.A(f"{digest['period_label']} digest", href=digest["url"]),
                      html.Span(f" · {where['label']}", title=where["detail"])],
                     id="realtime-digest")


def _plan_summary(capture: dict, plan: dict | None, show_literals: bool) -> html.Div:
    if plan is None:
        reason = capture.get("plan_error") or ("no plan yet (only statements that read "
                                               "data can be explained)")
        if not show_literals:
            reason = mask_message(reason)
        return html.Div(reason, className="text-muted", id="realtime-plan")
    findings = plan.get("findings") or []
    if not show_literals:
        _root, findings = mask_plan_and_findings(plan.get("root"), findings)
    items = [html.Li([dbc.Badge(f["severity"], color={"high": "danger", "medium": "warning"}
                                .get(f["severity"], "secondary"), className="me-2"),
                      f["message"]]) for f in findings] or [html.Li("No problems found.")]
    converted = plan.get("converted_from")
    return html.Div([
        html.P(f"Explained as a SELECT converted from {converted.upper()}" if converted
               else "Explained as captured.", className="small text-muted mb-1"),
        html.Ul(items),
        dbc.Button("Open plan", href=f"/plans?plan_id={quote(plan['plan_id'], safe='')}",
                   color="primary", size="sm", id="realtime-open-plan"),
    ], id="realtime-plan")
