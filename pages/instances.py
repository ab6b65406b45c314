"""Instances: every discovered instance with its tags, target flags and slow-log coverage;
filter and refresh; a click on a row says what its coverage problems are."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from auth.access import OPERATORS_ONLY_HINT, can_operate
from components.constants import ENGINE_LABELS
from components.grid_csv import csv_button, grid_csv
from components.instance_grid import COLUMNS, create_instance_grid, instance_rows
from components.store_alert import STORE_BACK
from jobs.coverage import cached_reports, check_all, check_instance
from services import current_services

dash.register_page(__name__, path="/instances", name="Instances", order=1, title="Instances")

TARGET_OPTIONS = [
    {"label": "All instances", "value": "all"},
    {"label": "Collection targets", "value": "collect"},
    {"label": "Real-time targets", "value": "realtime"},
    {"label": "Not gone", "value": "live"},
]


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Instances", className="me-auto"),
            csv_button("instances-csv"),
            dcc.Download(id="instances-download"),
            dbc.Button("Check coverage", id="instances-coverage-check", color="secondary",
                       outline=True, className="me-2", disabled=not can_operate(),
                       title="Read every instance's log exports and parameters (cached an "
                             "hour) and check its collected months"
                       if can_operate() else OPERATORS_ONLY_HINT),
            dbc.Button("Refresh now", id="instances-refresh", color="primary",
                       disabled=not can_operate(),
                       title=None if can_operate() else OPERATORS_ONLY_HINT),
        ], className="d-flex align-items-center mb-2"),
        dbc.Row([
            dbc.Col(dbc.Input(id="instances-search", type="search", debounce=False,
                              placeholder="Quick search (any column)…"), md=4),
            dbc.Col(dcc.Dropdown(
                id="instances-engine",
                options=[{"label": v, "value": k} for k, v in ENGINE_LABELS.items()],
                placeholder="All engines", clearable=True), md=3),
            dbc.Col(dcc.Dropdown(id="instances-targets", options=TARGET_OPTIONS, value="all",
                                 clearable=False), md=3),
        ], className="g-2 mb-2"),
        dcc.Loading(html.Div(id="instances-feedback"), type="dot"),
        dcc.Store(id="instances-version", data=0),
        create_instance_grid("instances-grid"),
        html.Div(id="instances-count", className="text-muted small mt-1"),
        html.Div(id="instances-coverage", className="mt-3"),
    ])


@callback(
    Output("instances-feedback", "children"),
    Output("instances-version", "data"),
    Input("instances-refresh", "n_clicks"),
    State("instances-version", "data"),
    prevent_initial_call=True,
)
def refresh_now(_clicks: int | None, version: int):
    if not can_operate():
        return dbc.Alert(OPERATORS_ONLY_HINT, color="warning",
                         id="instances-refresh-result"), no_update
    services = current_services()
    settings = services.settings
    if not settings.aws_configured and not settings.static_instances_file:
        return dbc.Alert("Nothing to refresh: set AWS_REGION or STATIC_INSTANCES_FILE.",
                         color="warning", id="instances-refresh-result", dismissable=True), \
            no_update
    summary = services.inventory.refresh()
    if summary["errors"]:
        text = "; ".join(f"{k.upper()}: {v}" for k, v in summary["errors"].items())
        alert = dbc.Alert(f"Refresh finished with errors — {text}", color="danger",
                          id="instances-refresh-result", dismissable=True)
    elif summary.get("events_error"):  # the instances are in; their RDS events are not
        alert = dbc.Alert(
            f"Refreshed: {summary['discovered']} instances, but RDS events were not read: "
            f"{summary['events_error']}", color="warning", id="instances-refresh-result",
            dismissable=True)
    else:
        alert = dbc.Alert(
            f"Refreshed: {summary['discovered']} instances, {summary['collect_targets']} "
            f"collection targets, {summary['realtime_targets']} real-time targets.",
            color="success", id="instances-refresh-result", dismissable=True, duration=8000)
    return alert, (version or 0) + 1


@callback(
    Output("instances-grid", "rowData"),
    Output("instances-count", "children"),
    Input("instances-engine", "value"),
    Input("instances-targets", "value"),
    Input("instances-version", "data"),
    Input(STORE_BACK, "data"),
)
def load_rows(engine: str | None, targets: str, _version: int, _store_back: str | None):
    store = current_services().store
    rows = instance_rows(store.instances.list(engine=engine or None), cached_reports(store))
    if targets == "collect":
        rows = [r for r in rows if r["collect_target"]]
    elif targets == "realtime":
        rows = [r for r in rows if r["realtime_target"]]
    elif targets == "live":
        rows = [r for r in rows if r["status"] != "gone"]
    return rows, f"{len(rows)} instances"


@callback(
    Output("instances-grid", "dashGridOptions"),
    Input("instances-search", "value"),
    State("instances-grid", "dashGridOptions"),
)
def quick_filter(text: str | None, options: dict | None):
    return {**(options or {}), "quickFilterText": text or ""}


@callback(Output("instances-download", "data"), Input("instances-csv", "n_clicks"),
          State("instances-grid", "virtualRowData"), prevent_initial_call=True)
def download_csv(_clicks: int | None, rows: list[dict] | None):
    """The instances as the grid shows them (search, filters and sort applied)."""
    return dcc.send_string(grid_csv(COLUMNS, rows), "instances.csv")


@callback(
    Output("instances-feedback", "children", allow_duplicate=True),
    Output("instances-version", "data", allow_duplicate=True),
    Input("instances-coverage-check", "n_clicks"),
    State("instances-version", "data"),
    prevent_initial_call=True,
)
def check_coverage(_clicks: int | None, version: int):
    """Check every instance now (RDS is read only where its answer is over an hour old)."""
    if not can_operate():
        return dbc.Alert(OPERATORS_ONLY_HINT, color="warning"), no_update
    services = current_services()
    count = check_all(services.store, services.settings)
    return dbc.Alert(f"Coverage checked on {count} instances.", color="success",
                     id="instances-coverage-result", dismissable=True, duration=8000), \
        (version or 0) + 1


@callback(Output("instances-coverage", "children"), Input("instances-grid", "cellClicked"),
          prevent_initial_call=True)
def show_coverage(cell: dict | None):
    """The clicked instance's coverage in words (RDS read at most once an hour)."""
    instance_id = (cell or {}).get("rowId")
    if not instance_id:
        return no_update
    services = current_services()
    report = check_instance(services.store, services.settings, instance_id)
    if report is None:
        return dbc.Alert(f"{instance_id} is no longer known: refresh the instances.",
                         color="warning")
    return coverage_panel(report)


CHECK_LABELS = {
    "slowquery_export": "slowquery exported to CloudWatch Logs",
    "slow_query_log": "slow_query_log",
    "log_output": "log_output",
    "long_query_time": "long_query_time",
    "extra_parameters": "log_slow_extra / log_slow_verbosity / log_queries_not_using_indexes",
    "collected_months": "months collected",
    "days_without_events": "days without events",
    "truncated_events": "statements cut",
}


def _check_value(check: dict) -> str:
    value = check.get("value")
    if isinstance(value, dict):
        text = ", ".join(f"{k}: {v if not isinstance(v, list) else len(v)}"
                         for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "none"
    else:
        text = "" if value is None else str(value)
    detail = check.get("detail")
    return " — ".join(part for part in (text, detail) if part)


def coverage_panel(report: dict) -> dbc.Card:
    """The problems, one sentence each, then every check's finding."""
    problems = report.get("problems") or []
    body: list = []
    if problems:
        body.append(html.Ul([html.Li([html.Code(p["code"]), " ", p["message"]])
                             for p in problems], id="instances-coverage-problems"))
    else:
        body.append(html.P("No coverage problem found.", id="instances-coverage-problems",
                           className="text-success"))
    body.append(html.Table([
        html.Tbody([html.Tr([html.Td(CHECK_LABELS.get(key, key), className="pe-3"),
                             html.Td(check.get("status", ""), className="pe-3"),
                             html.Td(_check_value(check), className="text-muted")])
                    for key, check in (report.get("checks") or {}).items()])
    ], className="table table-sm small mb-0"))
    read = report.get("aws_read_at")
    note = f"RDS read {read}" if read else "RDS not read"
    return dbc.Card([
        dbc.CardHeader([html.Strong(f"Slow-log coverage of {report['instance_id']}"),
                        html.Span(f" · checked {report.get('checked_at', '')} · {note}",
                                  className="text-muted small")]),
        dbc.CardBody(body),
    ], id="instances-coverage-card")
