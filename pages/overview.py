"""Overview: the fleet at a glance for a month — where the query time went (by day and by
instance), the heaviest statements across instances, what changed since the month before,
the last collection, and the instances that need attention; or, before any of that, what to
configure."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from analysis.fleet import FLEET_INSTANCE
from analysis.overview import OverviewFilter, filter_statements, time_by_instance
from analysis.period import period_label
from analysis.schedule import month_days_label
from analysis.units import human_duration, short_query_id, status_label
from charts.catalogue import overview_daily
from charts.menu import chart_export_menu
from components.chart_export import create_chart_frame
from components.empty_state import create_empty_state
from components.overview_charts import (
    daily_by_instance_figure,
    instance_totals_figure,
    top_statements_figure,
)
from components.store_alert import STORE_BACK
from jobs.compare import change_counts, previous_month_key
from jobs.rds_events import period_events
from services import current_services

dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview")

TOP = 10  # statements in the Overview's chart and table


def _stat_card(label: str, value: int | str, card_id: str) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="text-muted small"),
        html.H3(str(value), id=card_id, className="mb-0"),
    ])), md=3)


def _filter(component_id: str, placeholder: str, multi: bool = False) -> html.Div:
    return html.Div(dcc.Dropdown(id=component_id, placeholder=placeholder, multi=multi,
                                 options=[], value=[] if multi else None),
                    style={"minWidth": "240px" if multi else "210px"}, className="me-2")


def layout(**_kwargs: object) -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Overview", className="mb-0 me-auto"),
            html.Div(dcc.Dropdown(id="overview-month", clearable=False, placeholder="Month"),
                     style={"minWidth": "220px"}),
        ], className="d-flex align-items-center mb-2"),
        html.Div([
            _filter("overview-filter-instances", "All instances", multi=True),
            _filter("overview-filter-schema", "All schemas"),
            _filter("overview-filter-user", "All users"),
        ], id="overview-filters", className="d-flex flex-wrap justify-content-end mb-3"),
        # the cards' and charts' rows have negative gutters: no sideways scroll for them
        dcc.Loading(html.Div(id="overview-content", style={"overflowX": "hidden"}),
                    delay_show=400),
        dash.dcc.Location(id="overview-url"),
    ])


@callback(Output("overview-month", "options"), Output("overview-month", "value"),
          Input("overview-url", "pathname"), Input(STORE_BACK, "data"),
          State("overview-month", "value"))
def load_months(_pathname: str | None, _store_back: str | None, current: str | None):
    periods = current_services().store.digests.periods()
    options = [{"label": period_label(p), "value": p} for p in periods]
    return options, current if current in periods else (periods[0] if periods else None)


@callback(Output("overview-filter-instances", "options"),
          Output("overview-filter-instances", "value"),
          Output("overview-filter-schema", "options"), Output("overview-filter-schema", "value"),
          Output("overview-filter-user", "options"), Output("overview-filter-user", "value"),
          Output("overview-filters", "style"),
          Input("overview-month", "value"), Input(STORE_BACK, "data"),
          State("overview-filter-instances", "value"), State("overview-filter-schema", "value"),
          State("overview-filter-user", "value"))
def load_filters(month: str | None, _store_back: str | None, instances: list[str] | None,
                 schema: str | None, user: str | None):
    """The month's instances, schemas and users (names kept with its fleet rows); what was
    chosen stays chosen when the new month has it too."""
    if not month:
        return [], [], [], None, [], None, {"display": "none"}
    services = current_services()
    services.collection.fleet_ready(month)
    names = services.store.digests.fleet_names(month)
    known = sorted(services.store.digests.instances(month))

    def options(values: list[str]) -> list[dict[str, str]]:
        return [{"label": value, "value": value} for value in values]

    return (options(known), [i for i in instances or [] if i in known],
            options(names["schemas"]), schema if schema in names["schemas"] else None,
            options(names["users"]), user if user in names["users"] else None, {})


@callback(Output("overview-content", "children"), Input("overview-month", "value"),
          Input("overview-filter-instances", "value"), Input("overview-filter-schema", "value"),
          Input("overview-filter-user", "value"), Input(STORE_BACK, "data"))
def show_overview(month: str | None, instances: list[str] | None, schema: str | None,
                  user: str | None, _store_back: str | None):
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
    if summary.get("events_error"):
        blocks.append(dbc.Alert(f"RDS events were not read: {summary['events_error']}",
                                color="warning", id="overview-events-error"))
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
        flt = OverviewFilter(frozenset(instances or ()), schema or None, user or None)
        blocks.extend(_month(services, month, flt))
    return blocks


def _problems(services) -> list:
    """Instances that need attention: a failed collection in the latest run, a capture that
    cannot reach its server, a slow log that does not catch everything (last coverage check)."""
    items: list = []
    runs = services.store.runs.recent(1)
    for error in (runs[0].get("errors") or [] if runs else []):
        items.append(html.Li([html.Strong(error["instance_id"]), ": collection failed — ",
                              error["error"]]))
    for status in services.realtime.status()["instances"]:
        if status["enabled"] and status.get("last_error"):
            items.append(html.Li([html.Strong(status["instance_id"]),
                                  ": real-time capture fails — ", status["last_error"]]))
    for instance_id, report in sorted(services.store.coverage.reports().items()):
        if report.get("problems"):  # the last kept report: no AWS call on a page load
            items.append(html.Li([html.Strong(instance_id), ": slow-log coverage — ",
                                  report["problems"][0]["message"],
                                  f" (+{len(report['problems']) - 1} more, see Instances)"
                                  if len(report["problems"]) > 1 else ""],
                                 className="coverage-problem"))
    if not items:
        return []
    return [dbc.Alert([html.Strong(f"{len(items)} instance problem(s)"),
                       html.Ul(items[:12], className="mb-0 mt-1 small")],
                      color="warning", id="overview-problems")]


def _month(services, month: str, flt: OverviewFilter) -> list:
    """Charts of where the month's time went, the heaviest statements, and what changed
    since the month before; narrowed to instances, a schema or a user when asked."""
    digests = services.store.digests
    services.collection.fleet_ready(month)
    daily = overview_daily(services.store, month, flt.instances)
    if flt.active:
        statements = filter_statements(digests.fleet_statements(month), flt)
        seconds = sum(r["query_time"]["sum"] for r in statements)
        calls = sum(r["count"] for r in statements)
        by_instance = time_by_instance(statements)
        rows = statements[:TOP]
        title = (f"{period_label(month)}, {_describe(flt)}: {human_duration(seconds)} of slow "
                 f"queries, {calls:,} calls in {len(statements):,} statements")
    else:
        totals = digests.totals(period=month)
        seconds = totals["query_time"]
        by_instance = {iid: sum(days.values()) for iid, days in daily.items()}
        rows, _total = digests.page(period=month, limit=TOP, group="fleet")
        title = (f"{period_label(month)}: {human_duration(seconds)} of slow queries, "
                 f"{int(totals['count']):,} calls")
    blocks: list = [html.H4(title, className="mt-4", id="overview-month-title")]
    partial = month_days_label(month, digests.built_from_days(month))
    if partial:  # a month the daily schedule is still filling: its totals are not final
        blocks.append(html.P(partial, className="text-muted small mb-1",
                             id="overview-month-days"))
    if not flt.active:
        blocks.extend(_changes(services, month))
    charts: list = []
    if daily and not flt.by_statement:
        export = chart_export_menu("overview-daily-export", "overview-load", {
            "month": month, "instances": ",".join(sorted(flt.instances))}, height=380)
        charts.append(dbc.Col(create_chart_frame(export, dcc.Graph(
            id="overview-daily",
            figure=daily_by_instance_figure(daily, period_events(services.store, month,
                                                                 list(daily))),
            config={"displaylogo": False})), lg=8))
    if by_instance:
        charts.append(dbc.Col(dcc.Graph(id="overview-by-instance",
                                        figure=instance_totals_figure(by_instance),
                                        config={"displaylogo": False}),
                              lg=4 if len(charts) else 6))
    if charts:
        blocks.append(dbc.Row(charts, className="g-3"))
    if flt.by_statement:
        blocks.append(html.P("A slow log gives a statement's time, not a schema's or a user's: "
                             "these are the statements run in that schema or by that user, "
                             "with all their time. Per day is shown without this filter.",
                             className="text-muted small", id="overview-filter-note"))
    if not rows:
        if flt.active:
            blocks.append(html.P("No statement of this month matches these filters.",
                                 className="text-muted", id="overview-no-match"))
        return blocks
    share = seconds or 1.0
    chart_title = ("Heaviest statements across the fleet" if not flt.active
                   else "Heaviest statements, " + _describe(flt))
    blocks.append(dcc.Graph(id="overview-top-chart", figure=top_statements_figure(rows,
                                                                                  chart_title),
                            config={"displaylogo": False}))
    blocks.append(dbc.Table([
        html.Thead(html.Tr([html.Th("Query ID"), html.Th("Fingerprint"),
                            html.Th("Instances", className="text-end"),
                            html.Th("Total", className="text-end"),
                            html.Th("% of shown" if flt.active else "% of all",
                                    className="text-end"),
                            html.Th("Calls", className="text-end")])),
        html.Tbody([html.Tr([
            html.Td(dcc.Link(html.Code(short_query_id(d["query_id"]), title=d["query_id"]),
                             href=_digest_href(month, d["query_id"]))),
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


def _describe(flt: OverviewFilter) -> str:
    """The filter in words, for titles: "2 instances, schema shop, user app"."""
    parts = []
    if flt.instances:
        parts.append(next(iter(flt.instances)) if len(flt.instances) == 1
                     else f"{len(flt.instances)} instances")
    if flt.schema:
        parts.append(f"schema {flt.schema}")
    if flt.user:
        parts.append(f"user {flt.user}")
    return ", ".join(parts)


def _digest_href(month: str, query_id: str) -> str:
    """The fleet digest of a statement, opened on the Digests page."""
    return "/digests?" + urlencode({"instance_id": FLEET_INSTANCE, "period": month,
                                    "query_id": query_id})


def _changes(services, month: str) -> list:
    """New and regressed statements against the month before, linking to Compare."""
    baseline = previous_month_key(month)
    if baseline not in services.store.digests.periods():
        return [html.P(f"No digests of {period_label(baseline)} to compare with.",
                       className="text-muted small", id="overview-changes")]
    counts = change_counts(services.store, services.settings, month, baseline)
    badge = {"regressed": "danger", "new": "primary", "improved": "success", "gone": "secondary"}
    return [html.Div([
        html.Span(f"Since {period_label(baseline)}: ", className="me-2"),
        *[dcc.Link(dbc.Badge(f"{counts[name]:,} {name}", color=color, className="me-2"),
                   href="/compare?" + urlencode({"month": month, "tab": name}))
          for name, color in badge.items()],
    ], id="overview-changes", className="mb-2")]


def _run_period(run: dict) -> str:
    period = run.get("period") or {}
    if run.get("day"):  # the daily schedule's run of one day, into its month
        return f"{run['day']} into {period_label(run['period_key'])}"
    if run.get("period_key"):
        return period_label(run["period_key"])
    return f"{period.get('start_date')} – {period.get('end_date')}"


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
        blocks.append(html.P([
            html.Strong("Latest collection: "),
            f"{_run_period(run)} — {status_label(run['status'])}, "
            f"{run.get('total_queries', 0):,} slow queries from "
            f"{run.get('processed_instances', 0)}/{run.get('total_instances', 0)} instances. ",
            dcc.Link("History", href="/collection"),
        ], id="overview-latest-run"))
    return blocks
