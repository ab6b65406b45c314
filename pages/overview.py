"""Overview: how many instances are watched, and what to configure when nothing is."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from components.empty_state import create_empty_state
from components.store_alert import STORE_BACK
from services import current_services

dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview")


def _stat_card(label: str, value: int | str, card_id: str) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="text-muted small"),
        html.H3(str(value), id=card_id, className="mb-0"),
    ])), md=3)


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        html.H2("Overview"),
        html.Div(id="overview-content"),
        dash.dcc.Location(id="overview-url"),
    ])


@callback(Output("overview-content", "children"), Input("overview-url", "pathname"),
          Input(STORE_BACK, "data"))
def show_overview(_pathname: str | None, _store_back: str | None):
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
    blocks.extend(_latest_collection(services))
    return blocks


def _latest_collection(services) -> list:
    """The newest run and the period's heaviest statements: where a DBA starts reading."""
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
    if periods:
        rows, _total = services.store.digests.page(period=periods[0], limit=5)
        totals = services.store.digests.totals(period=periods[0])
        share = totals["query_time"] or 1.0
        blocks.append(html.H5(f"Heaviest statements in {periods[0]}"))
        blocks.append(dbc.Table([
            html.Thead(html.Tr([html.Th("Instance"), html.Th("Fingerprint"),
                                html.Th("Total s", className="text-end"),
                                html.Th("% of all", className="text-end"),
                                html.Th("Calls", className="text-end")])),
            html.Tbody([html.Tr([
                html.Td(d["instance_id"]),
                html.Td(html.Code(d["fingerprint"][:110]), className="text-truncate"),
                html.Td(f"{d['query_time']['sum']:,.1f}", className="text-end"),
                html.Td(f"{100 * d['query_time']['sum'] / share:.1f}", className="text-end"),
                html.Td(f"{d['count']:,}", className="text-end"),
            ]) for d in rows]),
        ], size="sm", hover=True, id="overview-top-digests"))
        blocks.append(dcc.Link("All digests", href="/digests"))
    return blocks
