"""Collection: start a CloudWatch slow-log collection and watch it live over the WebSocket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from analysis.period import period_label, recent_months
from analysis.units import status_label
from auth.access import OPERATORS_ONLY_HINT, can_operate
from components.digest_detail import format_time
from components.grid_csv import csv_button, grid_csv
from components.store_alert import STORE_BACK
from jobs.collection import CollectionBusy, CollectionConflict, CollectionRequestError
from services import current_services

dash.register_page(__name__, path="/collection", name="Collection", order=2,
                   title="Collection")

HISTORY_COLUMNS = [
    {"field": "started_at", "headerName": "Started (UTC)", "minWidth": 190},
    # text: a day run's "2026-10-05 into October 2026" first would make the grid read the
    # column as dates and blank "September 2026"
    {"field": "period", "headerName": "Period", "minWidth": 220, "cellDataType": "text"},
    {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "minWidth": 190},
    {"field": "progress", "headerName": "%", "minWidth": 70, "maxWidth": 90},
    {"field": "instances", "headerName": "Instances", "minWidth": 115},
    {"field": "total_queries", "headerName": "Queries", "minWidth": 110,
     "valueFormatter": {"function": "d3.format(',')(params.value)"}},
    {"field": "malformed_events", "headerName": "Malformed", "minWidth": 125},
    {"field": "failed", "headerName": "Failed instances", "minWidth": 200, "flex": 2},
    {"field": "warnings", "headerName": "Warnings", "minWidth": 200, "flex": 2,
     "tooltipField": "warnings"},
    {"field": "collection_id", "headerName": "Run id", "minWidth": 120},
]


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        dcc.Location(id="collection-url"),
        dcc.Store(id="collection-run-id"),
        dcc.Store(id="collection-finished"),
        html.H2("Collection"),
        html.P("Collect a month of CloudWatch slow-query logs from the collection targets "
               "(tag env=prd) into SQL digests. Re-collecting a month replaces it.",
               className="text-muted mb-1"),
        html.P(id="collection-schedule", className="small mb-3"),
        dbc.Row([
            dbc.Col([dbc.Label("Month (UTC)"),
                     dcc.Dropdown(id="collection-month", clearable=False)], md=3, lg=2),
            dbc.Col([dbc.Label("Instances"),
                     dcc.Dropdown(id="collection-instances", multi=True,
                                  placeholder="Collection targets")], md=7, lg=8),
            dbc.Col(dbc.Button("Collect", id="collection-start", color="primary",
                               className="w-100", disabled=not can_operate(),
                               title=None if can_operate() else OPERATORS_ONLY_HINT),
                    md=2, className="d-flex align-items-end"),
        ], className="g-2 mb-3"),
        html.Div(id="collection-feedback"),
        dbc.Alert(id="collection-ws-error", color="danger", is_open=False),
        dbc.Card(dbc.CardBody([
            html.Div([html.Strong("Progress "), html.Span(id="collection-status",
                                                          children="no run selected")],
                     className="mb-2"),
            dbc.Progress(id="collection-progress", value=0, label="", className="mb-2",
                         style={"height": "1.4rem"}),
            html.Div(id="collection-log", className="collection-log"),
        ]), className="mb-4"),
        html.Div([html.H4("History", className="me-auto mb-0"),
                  csv_button("collection-csv"), dcc.Download(id="collection-download")],
                 className="d-flex align-items-center mb-1"),
        html.P("Click a run to follow it (or replay its log).", className="text-muted small"),
        dag.AgGrid(id="collection-history", columnDefs=HISTORY_COLUMNS, rowData=[],
                   defaultColDef={"sortable": True, "resizable": True, "flex": 1,
                                  "wrapHeaderText": True, "autoHeaderHeight": True},
                   dashGridOptions={"domLayout": "autoHeight", "pagination": True,
                                    "paginationPageSize": 10,
                                    "paginationPageSizeSelector": False},
                   getRowId="params.data.collection_id", className="ag-theme-quartz"),
    ])


@callback(
    Output("collection-month", "options"),
    Output("collection-month", "value"),
    Output("collection-instances", "options"),
    Output("collection-instances", "value"),
    Input("collection-url", "pathname"),
    Input(STORE_BACK, "data"),
)
def load_choices(_pathname: str | None, _store_back: str | None):
    months = recent_months(datetime.now(UTC).date(), 12)
    instances = current_services().store.instances.list(include_gone=False)
    options = [{"label": f"{i['instance_id']} ({i['engine']})"
                + ("" if i["collect_target"] else " — not tagged env=prd"),
                "value": i["instance_id"]} for i in instances]
    targets = [i["instance_id"] for i in instances if i["collect_target"]]
    return ([{"label": period_label(m.key), "value": m.key} for m in months], months[0].key,
            options, targets)


@callback(
    Output("collection-run-id", "data"),
    Output("collection-feedback", "children"),
    Input("collection-start", "n_clicks"),
    State("collection-month", "value"),
    State("collection-instances", "value"),
    prevent_initial_call=True,
)
def start_collection(_clicks: int, month: str | None, instance_ids: list[str] | None):
    if not can_operate():
        return dash.no_update, dbc.Alert(OPERATORS_ONLY_HINT, color="warning",
                                         id="collection-start-result")
    body: dict = {"month": month} if month else {}
    if instance_ids:
        body["instance_ids"] = instance_ids
    try:
        run = current_services().collection.start(body)
    except (CollectionRequestError, CollectionBusy) as exc:
        return dash.no_update, dbc.Alert(str(exc), color="warning", dismissable=True,
                                         id="collection-start-result")
    except CollectionConflict as exc:
        return exc.running_id, dbc.Alert(f"{exc} — following it below.", color="info",
                                         dismissable=True, id="collection-start-result")
    return run["collection_id"], dbc.Alert(
        f"Run {run['collection_id'][:8]} started for {run['period']['start_date']} .. "
        f"{run['period']['end_date']}.", color="success", dismissable=True, duration=6000,
        id="collection-start-result")


clientside_callback(
    ClientsideFunction(namespace="collection", function_name="watch"),
    Output("collection-status", "title"),
    Input("collection-run-id", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("collection-history", "rowData"),
    Input("collection-finished", "data"),
    Input("collection-run-id", "data"),
    Input("collection-url", "pathname"),
    Input(STORE_BACK, "data"),
)
def load_history(_finished, _run_id, _pathname, _store_back):
    rows = []
    for run in current_services().store.runs.recent(50):
        period = run.get("period") or {}
        rows.append({
            "collection_id": run["collection_id"],
            "started_at": (run.get("started_at") or "")[:19].replace("T", " "),
            "period": (f"{run['day']} into {period_label(run['period_key'])}"
                       if run.get("day") else period_label(run["period_key"])
                       if run.get("period_key")
                       else f"{period.get('start_date', '?')} – {period.get('end_date', '?')}"),
            "status": ("completed with warnings"
                       if run.get("status") == "completed" and run.get("warnings")
                       else run.get("status")),
            "progress": run.get("progress", 0),
            "instances": f"{run.get('processed_instances', 0)}/{run.get('total_instances', 0)}",
            "total_queries": run.get("total_queries", 0),
            "malformed_events": run.get("malformed_events", 0),
            "failed": ", ".join(e["instance_id"] for e in run.get("errors") or []),
            "warnings": "; ".join(run.get("warnings") or []),
        })
    return rows


@callback(
    Output("collection-run-id", "data", allow_duplicate=True),
    Input("collection-history", "cellClicked"),
    State("collection-history", "rowData"),
    prevent_initial_call=True,
)
def follow_run(cell: dict | None, rows: list[dict] | None):
    if not cell or cell.get("rowIndex") is None or not rows:
        return dash.no_update
    row_id = cell.get("rowId")
    return row_id or rows[cell["rowIndex"]]["collection_id"]


@callback(Output("collection-download", "data"), Input("collection-csv", "n_clicks"),
          State("collection-history", "virtualRowData"), prevent_initial_call=True)
def download_csv(_clicks: int | None, rows: list[dict] | None):
    """The run history as the grid shows it."""
    return dcc.send_string(grid_csv(HISTORY_COLUMNS, rows), "collection-runs.csv")


@callback(Output("collection-schedule", "children"), Input("collection-url", "pathname"),
          Input("collection-finished", "data"), Input(STORE_BACK, "data"))
def show_schedule(_pathname: str | None, _finished: Any, _store_back: str | None):
    """The monthly and daily schedules, when each runs next, and how its last run ended;
    with the daily one, how much of the month being built from days is in."""
    schedule = current_services().schedule
    status = schedule.status() if schedule is not None else {"monthly_at": ""}
    daily = status.get("daily") or {"daily_at": ""}
    if not status["monthly_at"] and not daily["daily_at"]:
        return [html.Strong("Schedule: "), "off — set COLLECT_MONTHLY_AT (e.g. ",
                html.Code("1 02:00"), ") to collect each month on its own, and "
                "COLLECT_DAILY_AT (e.g. ", html.Code("02:30"), ") to add each day."]
    return [html.Strong("Schedule: "), _monthly_line(status), html.Br(), _daily_line(daily)]


def _next(status: dict) -> str:
    if status["running"]:
        return "A scheduled run is going now. "
    return f"Next run {format_time(status['next_run'])}. " if status["next_run"] else ""


def _outcome(last: dict) -> str:
    """"completed (242 slow queries stored …)." — the run's message without its status."""
    message = (last.get("message") or "").removeprefix(f"{last['status']}: ")
    return f"{status_label(last['status'])}" + (f" ({message})" if message else "") + "."


def _monthly_line(status: dict) -> html.Span:
    if not status["monthly_at"]:
        return html.Span(["Monthly: off (set COLLECT_MONTHLY_AT, e.g. ", html.Code("1 02:00"),
                          ")."], id="collection-schedule-monthly")
    text = f"Monthly: {status['description']}. {_next(status)}"
    last = status.get("last")
    if last:
        text += f"Last: {period_label(last['month'] or '')} — {_outcome(last)}"
    return html.Span(text, id="collection-schedule-monthly")


def _daily_line(daily: dict) -> html.Span:
    if not daily["daily_at"]:
        return html.Span(["Daily: off (set COLLECT_DAILY_AT, e.g. ", html.Code("02:30"),
                          ", to add yesterday to its month every night)."],
                         id="collection-schedule-daily")
    text = f"Daily: {daily['description']}. {_next(daily)}"
    if daily.get("missed"):
        text += (f"{daily['missed'][0]} – {daily['missed'][1]} were missed too long ago to "
                 "catch up: collect their month whole. ")
    if len(daily.get("pending") or []) > 1:
        text += f"{len(daily['pending'])} days to catch up, from {daily['pending'][0]}. "
    last = daily.get("last")
    if last:
        text += (f"Last: {last['day']} into {period_label(last['month'])} — "
                 f"{_outcome(last)} ")
    month = daily.get("month") or {}
    parts: list = [text]
    if month.get("label"):
        parts.append(html.Strong(month["label"], id="collection-month-days"))
        parts.append(".")
    return html.Span(parts, id="collection-schedule-daily")
