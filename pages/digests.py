"""Digests: SQL digests per instance and period, ranked by total time as pt-query-digest does.

The grid pages through the store (AG Grid's infinite row model), so a period with 100,000
digests costs one indexed query per block of rows; a click opens one digest in a window with
its statistics, masked example statements and per-hour chart.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

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
from analysis.live_position import distinct_plans, position
from analysis.period import period_label
from analysis.schedule import month_days_label
from analysis.units import human_duration, short_query_id
from auth.access import OPERATORS_ONLY_HINT, can_operate
from charts.menu import chart_export_menu
from components.casefile_link import create_casefile_link
from components.digest_detail import (
    create_digest_examples,
    create_digest_summary,
)
from components.digest_live import create_caught_running, plan_href
from components.digest_table import (
    ALL_INSTANCES,
    CSV_MAX_ROWS,
    create_digest_grid,
    digest_rows,
    digests_csv,
    parse_row_id,
    store_query_from_request,
    with_fingerprint_filter,
)
from components.empty_state import create_empty_state
from components.store_alert import STORE_BACK
from jobs.explain_on_demand import ExplainRefused, explain_digest
from jobs.rds_events import period_events
from services import current_services

dash.register_page(__name__, path="/digests", name="Digests", order=3, title="Digests")

GRID = "digests-grid"
LONGEST = 5  # live executions listed in a digest's window
URL_KEYS = ("instance_id", "period", "query_id")
EXPLAIN_HINT = ("EXPLAIN the slowest example that can be explained, now, on this instance "
                "(read-only, time-limited; the plan is stored with this statement)")


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
                html.H6("Caught running", className="mt-3"),
                html.Div(id="digest-live"),
                html.Div(html.Div([  # bootstrap's d-flex would win over display: none
                    dbc.Button("Run EXPLAIN", id="digest-run-explain", color="primary",
                               outline=True, size="sm", className="me-2 text-nowrap",
                               disabled=not can_operate(),
                               title=EXPLAIN_HINT if can_operate() else OPERATORS_ONLY_HINT),
                    html.Span(id="digest-explain-result", className="small"),
                ], className="d-flex align-items-center mb-2"), id="digest-explain-row"),
            ], id="digest-live-section"),
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
        dcc.Store(id="digest-explain-done"),
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
                f"{human_duration(totals['query_time'])} of query time in the period"]
    digests = int(totals["digests"])
    noun = "digest" if digests == 1 else "digests"
    head = (f"{matching:,} of {digests:,} {noun} match" if filtered
            else f"{digests:,} {noun}")
    return [head, f" · {int(totals['count']):,} calls · "
            f"{human_duration(totals['query_time'])} of query time in the period"]


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
    summary = _summary(total, totals, filtered, fleet_instances)
    days = digests.built_from_days(period)
    if _instance(instance):
        days = {k: v for k, v in days.items() if k == _instance(instance)}
    partial = month_days_label(period, days)
    if partial:  # a month the daily schedule is still filling: say how much of it is in
        summary.append(f" · {partial}")
    return ({"rowData": digest_rows(rows, totals["query_time"]), "rowCount": total}, summary)


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


def _selected_from_url(search: str | None) -> dict | None:
    """`?instance_id=..&period=..&query_id=..` (a capture's digest link) -> the selection."""
    args = parse_qs((search or "").lstrip("?"))
    values = {key: (args.get(key) or [""])[0].strip() for key in URL_KEYS}
    return values if all(values.values()) else None


@callback(
    Output("digest-modal", "is_open", allow_duplicate=True),
    Output("digests-selected", "data", allow_duplicate=True),
    Output("digest-show-literals", "value", allow_duplicate=True),
    Input("digests-url", "search"),
    prevent_initial_call="initial_duplicate",
)
def open_from_url(search: str | None):
    """A link such as the Real-time page's opens that digest's window at once."""
    selected = _selected_from_url(search)
    if selected is None:
        raise PreventUpdate
    return True, selected, False


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
                        className="text-muted fw-normal"),
             create_casefile_link(digest)]
    # a fleet row shows its instances, not hours: no time axis to mark events on
    events = None if fleet else period_events(current_services().store, digest["period"],
                                              [digest["instance_id"]])
    export = None if fleet or not digest.get("hourly") else chart_export_menu(
        "digest-hourly-export", "digest-hourly",
        {"instance_id": digest["instance_id"],
         "month" if len(digest["period"]) == 7 else "period": digest["period"],
         "query_id": digest["query_id"]}, height=440)
    return title, create_digest_summary(digest, totals["query_time"], events, export)


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


@callback(
    Output("digest-live", "children"),
    Output("digest-explain-row", "style"),
    Output("digest-explain-result", "children", allow_duplicate=True),
    Input("digests-selected", "data"),
    Input("digest-explain-done", "data"),
    prevent_initial_call=True,
)
def show_live(selected: dict | None, _explained: Any):
    """How often the statement was caught running, its longest runs placed in the month, and
    its plans; the EXPLAIN button only for one instance's digest (the fleet row has none)."""
    digest = _load(selected)
    if digest is None:
        return [], {"display": "none"}, ""
    store = current_services().store
    fleet = digest["instance_id"] == FLEET_INSTANCE
    instance_id = None if fleet else digest["instance_id"]
    query_id = digest["query_id"]
    longest = store.captures.longest(query_id, instance_id, limit=LONGEST)
    for capture in longest:
        capture["position"] = position(digest.get("query_time"), digest.get("sketch"),
                                       float(capture.get("duration") or 0.0),
                                       digest["period"]).to_dict()
    plans = distinct_plans(store.plans.list(instance_id=instance_id, query_id=query_id))
    body = create_caught_running(store.captures.count_for(query_id, instance_id), longest,
                                 plans, fleet)
    message = "" if ctx.triggered_id == "digests-selected" else no_update
    return body, {"display": "none"} if fleet else {}, message


@callback(
    Output("digest-explain-result", "children"),
    Output("digest-explain-done", "data"),
    Input("digest-run-explain", "n_clicks"),
    State("digests-selected", "data"),
    running=[(Output("digest-run-explain", "disabled"), True, False)],
    prevent_initial_call=True,
)
def run_explain(clicks: int | None, selected: dict | None):
    """EXPLAIN on demand (operators only, checked here again: a viewer's button is disabled
    but a callback can be called by hand)."""
    if not clicks or not selected:
        raise PreventUpdate
    if not can_operate():
        return html.Span(OPERATORS_ONLY_HINT, className="text-danger"), no_update
    services = current_services()
    try:
        plan = explain_digest(services.store, services.settings, selected["instance_id"],
                              selected["period"], selected["query_id"],
                              explainer=services.explainer)
    except ExplainRefused as exc:
        return html.Span(exc.message, className="text-danger", id="digest-explain-error"), \
            no_update
    done = html.Span(["Plan recorded: ", html.A(html.Code(plan["plan_hash"][:12]),
                                                href=plan_href(plan["plan_id"]))],
                     className="text-success", id="digest-explain-ok")
    # a new value every time, so the plans list reloads even when the same plan comes back
    return done, {"plan_id": plan["plan_id"], "at": time.time()}
