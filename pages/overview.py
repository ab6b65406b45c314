"""Overview: the fleet at a glance for a month — where the query time went (by day and by
instance), the heaviest statements across instances, what changed since the month before,
the last collection, and the instances that need attention; or, before any of that, what to
configure."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from analysis.units import human_duration, short_query_id
from components.digest_table import period_label
from components.empty_state import create_empty_state
from components.overview_charts import (
    daily_by_instance_figure,
    instance_totals_figure,
    top_statements_figure,
)
from components.store_alert import STORE_BACK
from jobs.compare import month_over_month, previous_month_key
from services import current_services

dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview")


def _stat_card(label: str, value: int | str, card_id: str) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="text-muted small"),
        html.H3(str(value), id=card_id, className="mb-0"),
    ])), md=3)


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Overview", className="mb-0 me-auto"),
            html.Div(dcc.Dropdown(id="overview-month", clearable=False, placeholder="Month"),
                     style={"minWidth": "220px"}),
        ], className="d-flex align-items-center mb-3"),
        html.Div(id="overview-content"),
        dash.dcc.Location(id="overview-url"),
    ])


@callback(Output("overview-month", "options"), Output("overview-month", "value"),
          Input("overview-url", "pathname"), Input(STORE_BACK, "data"),
          State("overview-month", "value"))
def load_months(_pathname: str | None, _store_back: str | None, current: str | None):
    periods = current_services().store.digests.periods()
    options = [{"label": period_label(p), "value": p} for p in periods]
    return options, current if current in periods else (periods[0] if periods else None)


@callback(Output("overview-content", "children"), Input("overview-month", "value"),
          Input(STORE_BACK, "data"))
def show_overview(month: str | None, _store_back: str | None):
    services = current_services()
    summary = services.inventory.summary()
    live = services.store.instances.list()
    gone = sum(1 for i in live if i["gone"])
    blocks: list = []
    settings = services.settings
    if not settings.aws_configured and not settings.static_instances_file:
        blocks.append(create_empty_state(
            "No instance source is configured",
            [html.P("Set AWS_REGION (with AWS credentials from the environment, a profile or "
                    "an instance role) to discover RDS instances by their tags, or list "
                    "self-managed MySQL servers in STATIC_INSTANCES_FILE."),
             html.P("Tag an instance env=prd to collect its slow logs, and "
                    "real_time_slow_sql=true to capture slow statements as they run.",
                    className="mb-0")],
            component_id="overview-empty", color="info"))
    for source, error in summary["errors"].items():
        blocks.append(dbc.Alert(f"{source.upper()} discovery failed: {error}", color="danger",
                                id=f"overview-error-{source}"))
    blocks.append(dbc.Row([
        _stat_card("Instances", summary["discovered"], "overview-instances"),
        _stat_card("Collection targets (env=prd)", summary["collect_targets"],
                   "overview-collect"),
        _stat_card("Real-time targets", summary["realtime_targets"], "overview-realtime"),
        _stat_card("Gone", gone, "overview-gone"),
    ], className="g-3 mb-3"))
    refreshed = (summary["refreshed_at"] or "never")[:19].replace("T", " ")
    blocks.append(html.P(f"Inventory last refreshed: {refreshed} UTC", className="text-muted",
                         id="overview-refreshed"))
    blocks.extend(_problems(services))
    blocks.extend(_latest_collection(services))
    if month:
        blocks.extend(_month(services, month))
    return blocks


def _problems(services) -> list:
    """Instances that need attention: a failed collection in the latest run, a capture that
    cannot reach its server."""
    items: list = []
    runs = services.store.runs.recent(1)
    for error in (runs[0].get("errors") or [] if runs else []):
        items.append(html.Li([html.Strong(error["instance_id"]), ": collection failed — ",
                              error["error"]]))
    for status in services.realtime.status()["instances"]:
        if status["enabled"] and status.get("last_error"):
            items.append(html.Li([html.Strong(status["instance_id"]),
                                  ": real-time capture fails — ", status["last_error"]]))
    if not items:
        return []
    return [dbc.Alert([html.Strong(f"{len(items)} instance problem(s)"),
                       html.Ul(items[:12], className="mb-0 mt-1 small")],
                      color="warning", id="overview-problems")]


def _month(services, month: str) -> list:
    """Charts of where the month's time went, the fleet's heaviest statements, and what
    changed since the month before."""
    digests = services.store.digests
    daily = {iid: days for iid, days in digests.daily(month).items() if days}
    totals = digests.totals(period=month)
    blocks: list = [html.H4(f"{period_label(month)}: {human_duration(totals['query_time'])} "
                            f"of slow queries, {int(totals['count']):,} calls",
                            className="mt-4", id="overview-month-title")]
    blocks.extend(_changes(services, month))
    if daily:
        blocks.append(dbc.Row([
            dbc.Col(dcc.Graph(id="overview-daily", figure=daily_by_instance_figure(daily),
                              config={"displaylogo": False}), lg=8),
            dbc.Col(dcc.Graph(id="overview-by-instance", figure=instance_totals_figure(daily),
                              config={"displaylogo": False}), lg=4),
        ], className="g-3"))
    services.collection.fleet_ready(month)
    rows, _total = digests.page(period=month, limit=10, group="fleet")
    if not rows:
        return blocks
    share = totals["query_time"] or 1.0
    blocks.append(dcc.Graph(id="overview-top-chart", figure=top_statements_figure(rows),
                            config={"displaylogo": False}))
    blocks.append(dbc.Table([
        html.Thead(html.Tr([html.Th("Query ID"), html.Th("Fingerprint"),
                            html.Th("Instances", className="text-end"),
                            html.Th("Total", className="text-end"),
                            html.Th("% of all", className="text-end"),
                            html.Th("Calls", className="text-end")])),
        html.Tbody([html.Tr([
            html.Td(html.Code(short_query_id(d["query_id"]), title=d["query_id"])),
            html.Td(html.Code(d["fingerprint"][:110]), className="text-truncate",
                    style={"maxWidth": "560px"}),
            html.Td(f"{d.get('instance_count', 1)}", className="text-end"),
            html.Td(human_duration(d["query_time"]["sum"]), className="text-end"),
            html.Td(f"{100 * d['query_time']['sum'] / share:.1f} %", className="text-end"),
            html.Td(f"{d['count']:,}", className="text-end"),
        ]) for d in rows]),
    ], size="sm", hover=True, id="overview-top-digests"))
    blocks.append(dcc.Link("All digests", href="/digests"))
    return blocks


def _changes(services, month: str) -> list:
    """New and regressed statements against the month before, linking to Compare."""
    baseline = previous_month_key(month)
    if baseline not in services.store.digests.periods():
        return [html.P(f"No digests of {period_label(baseline)} to compare with.",
                       className="text-muted small", id="overview-changes")]
    result = month_over_month(services.store, services.settings, month, baseline)
    counts = result["counts"]
    badge = {"regressed": "danger", "new": "primary", "improved": "success", "gone": "secondary"}
    return [html.Div([
        html.Span(f"Since {period_label(baseline)}: ", className="me-2"),
        *[dcc.Link(dbc.Badge(f"{counts[name]:,} {name}", color=color, className="me-2"),
                   href="/compare") for name, color in badge.items()],
    ], id="overview-changes", className="mb-2")]


def _latest_collection(services) -> list:
    """The newest run, or where to start when nothing was collected yet."""
    runs = services.store.runs.recent(1)
    periods = services.store.digests.periods()
    if not runs and not periods:
        return [dbc.Alert(["No slow logs collected yet. ",
                           dcc.Link("Collect a month", href="/collection"), "."],
                          color="light", id="overview-no-digests")]
    blocks: list = []
    if runs:
        run = runs[0]
        period = run.get("period") or {}
        blocks.append(html.P([
            html.Strong("Latest collection: "),
            f"{period.get('start_date')} .. {period.get('end_date')} — {run['status']}, "
            f"{run.get('total_queries', 0):,} slow queries from "
            f"{run.get('processed_instances', 0)}/{run.get('total_instances', 0)} instances. ",
            dcc.Link("History", href="/collection"),
        ], id="overview-latest-run"))
    return blocks
