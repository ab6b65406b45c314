"""Digests: SQL digests per instance and period, ranked by total time as pt-query-digest does.

The grid pages through the store (AG Grid's infinite row model), so a period with 100,000
digests costs one indexed query per block of rows; a click opens one digest in a window with
its statistics, masked example statements and per-hour chart.
"""

from __future__ import annotations

from typing import Any

import dash
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
from dash.exceptions import PreventUpdate

from analysis.fleet import FLEET_INSTANCE
from analysis.units import short_query_id
from auth.access import can_operate
from components.digest_detail import (
    create_digest_examples,
    create_digest_summary,
    format_seconds,
)
from components.digest_table import (
    ALL_INSTANCES,
    CSV_MAX_ROWS,
    create_digest_grid,
    digest_rows,
    digests_csv,
    parse_row_id,
    period_label,
    store_query_from_request,
    with_fingerprint_filter,
)
from components.empty_state import create_empty_state
from components.store_alert import STORE_BACK
from services import current_services

dash.register_page(__name__, path="/digests", name="Digests", order=3, title="Digests")

GRID = "digests-grid"


def _instance(value: str | None) -> str | None:
    """The store's instance argument: None means every instance."""
    return None if not value or value == ALL_INSTANCES else value


def _group(value: str | None) -> str:
    """All instances: one row per statement across the fleet (ranked fleet-wide); one
    instance: its own digests."""
    return "fleet" if _instance(value) is None else "instance"


def _modal() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(id="digest-modal-title")),
        dbc.ModalBody([
            html.Div(id="digest-detail"),
            html.Div([
                html.H6("Example statements (slowest first)", className="mb-0 me-auto"),
                dbc.Switch(id="digest-show-literals", label="Show literals", value=False,
                           className="mb-0", disabled=not can_operate()),
            ], className="d-flex align-items-center mt-3 mb-1"),
            html.P("Literals are masked by default: they may hold personal data."
                   + ("" if can_operate() else " Only operators can show them."),
                   className="text-muted small mb-2"),
            html.Div(id="digest-examples"),
        ]),
    ], id="digest-modal", size="xl", is_open=False, scrollable=True)


def layout(**_kwargs: object) -> html.Div:
    """A static skeleton (app.py builds it at start for validation); data comes by callbacks."""
    return html.Div([
        dcc.Location(id="digests-url"),
        html.Div([
            html.Div([
                html.H2("Digests", className="mb-0"),
                html.Div("Statements grouped by fingerprint, ranked by total time "
                         "(the pt-query-digest profile). Click a row for its details.",
                         className="text-muted small"),
            ], className="me-auto"),
            dbc.Button("Download CSV", id="digests-download-button", color="secondary",
                       outline=True, title=f"The current view, up to {CSV_MAX_ROWS:,} rows"),
        ], className="d-flex align-items-center mb-3"),
        html.Div(id="digests-empty-slot"),
        html.Div([
            dbc.Row([
                dbc.Col(dcc.Dropdown(
                    id="digests-instance", value=ALL_INSTANCES, clearable=False,
                    options=[{"label": "All instances", "value": ALL_INSTANCES}]), md=3),
                dbc.Col(dcc.Dropdown(id="digests-period", clearable=False,
                                     placeholder="Period"), md=3),
                dbc.Col(dbc.Input(id="digests-search", type="search", debounce=400,
                                  placeholder="Search fingerprints (e.g. orders, UPDATE)…"),
                        md=6),
            ], className="g-2 mb-2"),
            html.Div(id="digests-summary", className="text-muted small mb-1 digests-summary"),
            create_digest_grid(GRID),
        ], id="digests-body"),
        dcc.Download(id="digests-download"),
        dcc.Store(id="digests-selected"),
        dcc.Store(id="digests-refreshed"),
        _modal(),
    ])


@callback(
    Output("digests-instance", "options"),
    Output("digests-empty-slot", "children"),
    Output("digests-body", "style"),
    Output("digests-download-button", "disabled"),
    Input("digests-url", "pathname"),
    Input(STORE_BACK, "data"),
)
def load_instances(_pathname: str | None, _store_back: str | None):
    """Instance choices, or the empty state when no collection has stored digests yet."""
    digests = current_services().store.digests
    options = [{"label": "All instances", "value": ALL_INSTANCES}]
    options += [{"label": i, "value": i} for i in sorted(digests.instances())]
    if not digests.periods():
        empty = create_empty_state("No digests yet", [
            "Digests appear here after a collection has read a period of slow logs. Run one "
            "on the ", dcc.Link("Collection page", href="/collection", id="digests-empty-link"),
            ".",
        ], component_id="digests-empty", color="info")
        return options, empty, {"display": "none"}, True
    return options, None, {}, False


@callback(
    Output("digests-period", "options"),
    Output("digests-period", "value"),
    Input("digests-instance", "value"),
    State("digests-period", "value"),
)
def load_periods(instance: str | None, current: str | None):
    """The instance's periods, newest first; keep the chosen one while it still applies."""
    periods = current_services().store.digests.periods(_instance(instance))
    options = [{"label": period_label(p), "value": p} for p in periods]
    if current in periods:
        return options, current
    return options, periods[0] if periods else None


# The infinite row model caches blocks: a new instance or period must drop them so the grid
# asks again (the request callback reads both as State).
clientside_callback(
    """
    function (_instance, _period) {
        window.dash_ag_grid.getApiAsync("digests-grid").then(function (api) {
            api.purgeInfiniteCache();
        });
        return Date.now();
    }
    """,
    Output("digests-refreshed", "data"),
    Input("digests-instance", "value"),
    Input("digests-period", "value"),
    prevent_initial_call=True,
)


@callback(
    Output(GRID, "filterModel"),
    Input("digests-search", "value"),
    State(GRID, "filterModel"),
    prevent_initial_call=True,
)
def search_fingerprints(text: str | None, filter_model: dict | None):
    """The search box is the Fingerprint column filter; changing it makes the grid refetch."""
    return with_fingerprint_filter(filter_model, text)


def _summary(matching: int, totals: dict[str, float], filtered: bool,
             fleet_instances: int | None = None) -> list[Any]:
    if fleet_instances is not None:  # fleet rows: statements, each over several instances
        noun = "statement" if matching == 1 else "statements"
        head = (f"{matching:,} {noun} match" if filtered
                else f"{matching:,} {noun} on {fleet_instances:,} instances")
        return [head, f" · {int(totals['count']):,} calls · "
                f"{format_seconds(totals['query_time'])} s of query time in the period"]
    digests = int(totals["digests"])
    noun = "digest" if digests == 1 else "digests"
    head = (f"{matching:,} of {digests:,} {noun} match" if filtered
            else f"{digests:,} {noun}")
    return [head, f" · {int(totals['count']):,} calls · "
            f"{format_seconds(totals['query_time'])} s of query time in the period"]


@callback(
    Output(GRID, "getRowsResponse"),
    Output("digests-summary", "children"),
    Input(GRID, "getRowsRequest"),
    State("digests-instance", "value"),
    State("digests-period", "value"),
)
def get_rows(request: dict | None, instance: str | None, period: str | None):
    """One block of rows for the grid, sorted, filtered and paged by the store."""
    if request is None:
        raise PreventUpdate
    digests = current_services().store.digests
    if not period:
        # Answer even now: a request left unanswered keeps the grid waiting for good (it
        # sends one request at a time). The period arrives next and purges the cache.
        return {"rowData": [], "rowCount": 0}, ""
    query = store_query_from_request(request)
    if _group(instance) == "fleet":
        current_services().collection.fleet_ready(period)
    rows, total = digests.page(instance_id=_instance(instance), period=period,
                               group=_group(instance), **query)
    totals = digests.totals(_instance(instance), period)
    filtered = bool(query["text"] or query["query_id"])
    fleet_instances = (len(digests.instances(period)) if _group(instance) == "fleet"
                       else None)
    return ({"rowData": digest_rows(rows, totals["query_time"]), "rowCount": total},
            _summary(total, totals, filtered, fleet_instances))


@callback(
    Output("digests-download", "data"),
    Input("digests-download-button", "n_clicks"),
    State("digests-instance", "value"),
    State("digests-period", "value"),
    State(GRID, "getRowsRequest"),
    prevent_initial_call=True,
)
def download_csv(_clicks: int | None, instance: str | None, period: str | None,
                 request: dict | None):
    """The grid's current view (instance, period, filters, sort) from the store, as CSV."""
    if not period:
        raise PreventUpdate
    digests = current_services().store.digests
    query = {**store_query_from_request(request), "offset": 0, "limit": CSV_MAX_ROWS}
    if _group(instance) == "fleet":
        current_services().collection.fleet_ready(period)
    rows, _total = digests.page(instance_id=_instance(instance), period=period,
                                group=_group(instance), **query)
    totals = digests.totals(_instance(instance), period)
    text = digests_csv(digest_rows(rows, totals["query_time"], fingerprint_chars=None))
    name = f"digests-{_instance(instance) or 'all-instances'}-{period}.csv"
    return dcc.send_string(text, name, type="text/csv")


@callback(
    Output("digest-modal", "is_open"),
    Output("digests-selected", "data"),
    Output("digest-show-literals", "value"),
    Input(GRID, "cellClicked"),
    prevent_initial_call=True,
)
def open_digest(cell: dict | None):
    """A click on a row opens that digest; literals start masked every time."""
    key = parse_row_id((cell or {}).get("rowId"))
    if key is None:
        raise PreventUpdate
    instance_id, period, query_id = key
    return True, {"instance_id": instance_id, "period": period, "query_id": query_id}, False


@callback(
    Output("digests-selected", "data", allow_duplicate=True),
    Input({"type": "digest-instance-link", "instance_id": ALL}, "n_clicks"),
    State("digests-selected", "data"),
    prevent_initial_call=True,
)
def open_instance_digest(clicks: list[int | None], selected: dict | None):
    """From a fleet row to one instance's digest of the same statement and period."""
    if not selected or not any(clicks) or not isinstance(ctx.triggered_id, dict):
        raise PreventUpdate
    return {**selected, "instance_id": ctx.triggered_id["instance_id"]}


def _load(selected: dict | None) -> dict | None:
    if not selected:
        return None
    digests = current_services().store.digests
    if selected["instance_id"] == FLEET_INSTANCE:
        current_services().collection.fleet_ready(selected["period"])
        return digests.get_fleet(selected["period"], selected["query_id"])
    return digests.get(selected["instance_id"], selected["period"], selected["query_id"])


@callback(
    Output("digest-modal-title", "children"),
    Output("digest-detail", "children"),
    Input("digests-selected", "data"),
    prevent_initial_call=True,
)
def show_digest(selected: dict | None):
    digest = _load(selected)
    if digest is None:
        return "Digest not found", dbc.Alert(
            "This digest is no longer stored: its period was probably collected again. "
            "Close this window to see the current digests.", color="warning",
            id="digest-missing")
    # the share is of this digest's own instance and period (the grid's "% of total" is of
    # the selection, which may span every instance)
    fleet = digest["instance_id"] == FLEET_INSTANCE
    totals = current_services().store.digests.totals(None if fleet else digest["instance_id"],
                                                     digest["period"])
    title = [html.Span(f"Query {short_query_id(digest['query_id'])}", className="me-2"),
             html.Small(f"{'All instances' if fleet else digest['instance_id']} · "
                        f"{period_label(digest['period'])}",
                        className="text-muted fw-normal")]
    return title, create_digest_summary(digest, totals["query_time"])


@callback(
    Output("digest-examples", "children"),
    Input("digests-selected", "data"),
    Input("digest-show-literals", "value"),
    prevent_initial_call=True,
)
def show_examples(selected: dict | None, show_literals: bool | None):
    digest = _load(selected)
    if digest is None:
        return no_update if selected else []
    return create_digest_examples(digest.get("examples"),
                                  bool(show_literals) and can_operate())

