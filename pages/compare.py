"""Compare: a month against another (the one before by default), for the fleet or one
instance. What got worse, what is new, what vanished, what improved — worst first, with the
causes in words — plus a chart of the biggest movers and CSV / Markdown exports."""

from __future__ import annotations

import re
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from analysis.period import period_label
from analysis.units import human_duration
from charts.menu import chart_export_menu
from components.chart_export import create_chart_frame
from components.compare_view import (
    CATEGORY_HELP,
    CATEGORY_LABELS,
    compare_csv,
    compare_markdown,
    compare_rows,
    movers_figure,
)
from components.digest_table import ALL_INSTANCES, QUERY_ID_FORMAT
from components.empty_state import create_empty_state
from components.event_markers import create_event_list
from components.store_alert import STORE_BACK
from jobs.compare import month_over_month, previous_month_key
from jobs.rds_events import period_events
from services import current_services

dash.register_page(__name__, path="/compare", name="Compare", order=3.5, title="Compare")

_MONTH = re.compile(r"^\d{4}-\d{2}$")
SHOWN_PER_CATEGORY = 500  # the grid's rows per category; the exports have as many
HIDDEN = {"display": "none"}


COLUMNS = [
    {"field": "query_id", "headerName": "Query ID", "width": 180, "suppressSizeToFit": True,
     "valueFormatter": {"function": QUERY_ID_FORMAT},
     "tooltipField": "query_id", "cellClass": "font-monospace small"},
    {"field": "instance", "headerName": "Instance", "width": 150, "tooltipField": "instance"},
    {"field": "fingerprint", "headerName": "Fingerprint", "flex": 2, "minWidth": 220,
     "tooltipField": "fingerprint", "cellClass": "font-monospace small"},
    {"field": "delta", "headerName": "Total change",
     "valueFormatter": {"function": "signedDuration(params.value)"},
     "type": "rightAligned", "width": 165, "sort": "desc"},
    {"field": "calls", "headerName": "Calls", "width": 150, "sortable": False},
    {"field": "per_call", "headerName": "Per call", "width": 170, "sortable": False},
    {"field": "causes", "headerName": "Why", "flex": 3, "minWidth": 300,
     "tooltipField": "causes", "wrapText": True, "autoHeight": True,
     "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px", "paddingBottom": "6px"}},
]


def layout(month: str | None = None, tab: str | None = None, **_kwargs: object) -> html.Div:
    """`/compare?month=YYYY-MM&tab=regressed` opens on that month and category (the
    Overview's badges link so)."""
    return html.Div([
        dcc.Location(id="compare-url"),
        dcc.Store(id="compare-asked", data={
            "month": month if isinstance(month, str) and _MONTH.match(month) else None}),
        html.Div([
            html.Div([
                html.H2("Compare", className="mb-0"),
                html.Div("A month against another: what got slower, what is new, what "
                         "vanished, and why.", className="text-muted small"),
            ], className="me-auto"),
            dbc.ButtonGroup([
                dbc.Button("CSV", id="compare-csv-button", color="secondary", outline=True,
                           title="Every item of every category"),
                dbc.Button("Markdown", id="compare-md-button", color="secondary",
                           outline=True, title="A report to paste into a ticket"),
            ]),
        ], className="d-flex align-items-center mb-3"),
        html.Div(id="compare-empty-slot"),
        html.Div([
            dbc.Row([
                dbc.Col(dcc.Dropdown(id="compare-instance", clearable=False), md=3),
                dbc.Col(dcc.Dropdown(id="compare-month", clearable=False,
                                     placeholder="Month"), md=3),
                dbc.Col(html.Div("compared with", className="text-muted text-nowrap"),
                        width="auto", className="d-flex align-items-center"),
                dbc.Col(dcc.Dropdown(id="compare-baseline", clearable=False,
                                     placeholder="Baseline"), md=3),
            ], className="g-2 mb-2"),
            html.Div(id="compare-summary", className="small text-muted mb-2"),
            html.Div(id="compare-events"),
            create_chart_frame(
                html.Div(id="compare-movers-export", className="chart-export-slot"),
                dcc.Loading(dcc.Graph(id="compare-movers", config={"displaylogo": False,
                                                                   "displayModeBar": False}),
                            type="dot")),
            dbc.Tabs(id="compare-tabs", className="mt-2",
                     active_tab=tab if tab in CATEGORY_LABELS else "regressed"),
            html.Div(id="compare-tab-help", className="small text-muted my-2"),
            dag.AgGrid(id="compare-grid", columnDefs=COLUMNS, rowData=[],
                       defaultColDef={"sortable": True, "resizable": True, "filter": True},
                       dashGridOptions={"tooltipShowDelay": 300,
                                        "localeText": {"noRowsToShow":
                                                       "Nothing in this category."}},
                       style={"height": "560px"}, className="ag-theme-alpine"),
        ], id="compare-body", style=HIDDEN),
        dcc.Store(id="compare-result"),
        dcc.Download(id="compare-download"),
    ])


@callback(
    Output("compare-instance", "options"),
    Output("compare-instance", "value"),
    Output("compare-month", "options"),
    Output("compare-month", "value"),
    Output("compare-baseline", "options"),
    Output("compare-baseline", "value"),
    Output("compare-empty-slot", "children"),
    Output("compare-body", "style"),
    Input("compare-url", "pathname"),
    Input(STORE_BACK, "data"),
    State("compare-asked", "data"),
    State("compare-instance", "value"),
)
def load_choices(_pathname: str | None, _store_back: str | None, asked: dict | None,
                 current: str | None):
    """Months with digests (newest first); the baseline is the month before when it has
    digests, else the next older one. The instance is set with its options (Dash 4 clears a
    value its options do not hold yet, so a value given only in the layout can be lost)."""
    digests = current_services().store.digests
    months = [p for p in digests.periods() if _MONTH.match(p)]
    instances = [{"label": "All instances (fleet)", "value": ALL_INSTANCES}] + [
        {"label": i, "value": i} for i in sorted(digests.instances())]
    instance = current if current in {o["value"] for o in instances} else ALL_INSTANCES
    options = [{"label": period_label(m), "value": m} for m in months]
    if len(months) < 2:
        empty = create_empty_state("Nothing to compare yet", [
            "Compare needs digests of two months; there are ",
            f"{len(months)}. Collect another month on the ",
            dcc.Link("Collection page", href="/collection", id="compare-empty-link"), "."],
            component_id="compare-empty", color="info")
        return instances, instance, options, None, options, None, empty, HIDDEN
    asked_month = (asked or {}).get("month")
    month = asked_month if asked_month in months[:-1] else months[0]
    before = previous_month_key(month)
    baseline = before if before in months else months[months.index(month) + 1]
    return instances, instance, options, month, options, baseline, None, {}


@callback(
    Output("compare-result", "data"),
    Output("compare-summary", "children"),
    Output("compare-movers", "figure"),
    Output("compare-tabs", "children"),
    Input("compare-month", "value"),
    Input("compare-baseline", "value"),
    Input("compare-instance", "value"),
)
def run_compare(month: str | None, baseline: str | None, instance: str | None):
    if not month or not baseline:
        raise PreventUpdate
    if month == baseline:
        return None, "Choose two different months.", movers_figure({}), []
    services = current_services()
    instance_id = None if instance in (None, ALL_INSTANCES) else instance
    result = month_over_month(services.store, services.settings, month, baseline, instance_id)
    counts = result["counts"]
    shown = {name: result[name][:SHOWN_PER_CATEGORY] for name in CATEGORY_LABELS}
    rules = result["rules"]
    summary = (f"{period_label(month)} against {period_label(baseline)}, "
               f"{'the fleet' if instance_id is None else instance_id}: regressed or improved "
               f"means {rules['ratio']:g}× or more per call (average or p95) with at least "
               f"{rules['min_calls']} calls in both months. Compared in "
               f"{human_duration(result['seconds'])}.")
    tabs = [dbc.Tab(label=f"{CATEGORY_LABELS[name]} ({counts[name]:,})", tab_id=name,
                    id=f"compare-tab-{name}")
            for name in CATEGORY_LABELS]
    data = {**{k: v for k, v in result.items() if k not in CATEGORY_LABELS}, **shown}
    return data, summary, movers_figure(result), tabs


@callback(
    Output("compare-grid", "rowData"),
    Output("compare-tab-help", "children"),
    Input("compare-result", "data"),
    Input("compare-tabs", "active_tab"),
)
def show_category(result: dict | None, tab: str | None):
    if not result:
        return [], ""
    tab = tab if tab in CATEGORY_LABELS else "regressed"
    shown = result.get(tab, [])
    total = result["counts"][tab]
    more = (f" The first {len(shown):,} of {total:,} are shown; the exports have all."
            if total > len(shown) else "")
    return compare_rows(shown), f"{CATEGORY_LABELS[tab]}: {CATEGORY_HELP[tab]}.{more}"


@callback(
    Output("compare-download", "data"),
    Input("compare-csv-button", "n_clicks"),
    Input("compare-md-button", "n_clicks"),
    State("compare-month", "value"),
    State("compare-baseline", "value"),
    State("compare-instance", "value"),
    prevent_initial_call=True,
)
def export(_csv: int | None, _md: int | None, month: str | None, baseline: str | None,
           instance: str | None) -> Any:
    if not month or not baseline or month == baseline:
        raise PreventUpdate
    services = current_services()
    instance_id = None if instance in (None, ALL_INSTANCES) else instance
    result = month_over_month(services.store, services.settings, month, baseline, instance_id)
    scope = instance_id or "fleet"
    if dash.ctx.triggered_id == "compare-md-button":
        return dcc.send_string(compare_markdown(result),
                               f"compare-{scope}-{month}-vs-{baseline}.md",
                               type="text/markdown")
    if dash.ctx.triggered_id == "compare-csv-button":
        return dcc.send_string(compare_csv(result), f"compare-{scope}-{month}-vs-{baseline}.csv",
                               type="text/csv")
    return no_update


@callback(
    Output("compare-events", "children"),
    Input("compare-month", "value"),
    Input("compare-baseline", "value"),
    Input("compare-instance", "value"),
)
def show_events(month: str | None, baseline: str | None, instance: str | None):
    """The RDS events of both months (a failover, a parameter change): often the reason a
    month got slower that no statement explains. Compare has no time axis, so they are listed."""
    if not month or not baseline or month == baseline:
        return None
    store = current_services().store
    instance_ids = None if instance in (None, ALL_INSTANCES) else [instance]
    return create_event_list([(m, period_events(store, m, instance_ids))
                              for m in (month, baseline)], "compare-events-list")


@callback(
    Output("compare-movers-export", "children"),
    Input("compare-month", "value"),
    Input("compare-baseline", "value"),
    Input("compare-instance", "value"),
)
def show_movers_export(month: str | None, baseline: str | None, instance: str | None):
    """The movers chart's Export / Embed buttons, for the months and instance it shows."""
    if not month or not baseline or month == baseline:
        return None
    instance_id = None if instance in (None, ALL_INSTANCES) else instance
    return chart_export_menu("compare-export", "compare-movers", {
        "month": month, "baseline": baseline, "instance_id": instance_id}, height=440)
