"""Instances: every discovered instance with its tags and target flags; filter and refresh."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from auth.access import OPERATORS_ONLY_HINT, can_operate
from components.constants import ENGINE_LABELS
from components.grid_csv import csv_button, grid_csv
from components.instance_grid import COLUMNS, create_instance_grid, instance_rows
from components.store_alert import STORE_BACK
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
    rows = instance_rows(current_services().store.instances.list(engine=engine or None))
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
