"""Overview: how many instances are watched, and what to configure when nothing is."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html

from components.empty_state import create_empty_state
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


@callback(Output("overview-content", "children"), Input("overview-url", "pathname"))
def show_overview(_pathname: str | None):
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
    refreshed = summary["refreshed_at"] or "never"
    blocks.append(html.P(f"Inventory last refreshed: {refreshed}", className="text-muted",
                         id="overview-refreshed"))
    return blocks
