"""The body of the digest detail window: fingerprint, statistics, examples, per-hour chart.

Pure builders (a digest document in, components out): the page loads the digest from the
store and hands it here. Example statements are shown with their literals masked unless the
caller asks for them (`show_literals`), because literals in a slow log may hold personal data
and a masked statement is usually all one needs to read a plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from analysis.masking import mask_literals
from analysis.period import period_label
from analysis.units import human_duration, short_query_id
from components.chart_export import create_chart_frame
from components.event_markers import add_event_markers

TOP_NAMES = 10
_HOUR_MS = 3_600_000


def format_count(value: float | None) -> str:
    """Counts with thousands separators; averages (not whole) with two decimals."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def format_time(iso: str | None) -> str:
    """`2026-10-03T10:15:42.123456Z` -> `2026-10-03 10:15:42 UTC` (stored times are UTC)."""
    if not iso:
        return "—"
    text = iso.replace("T", " ")
    if text.endswith("Z"):
        text = text[:-1]
    return text.split(".", 1)[0] + " UTC"


_STAT_KEYS = ("sum", "min", "max", "avg", "p50", "p95", "p99")
STAT_HEADERS = ("Total", "Min", "Max", "Avg", "p50", "p95", "p99")
_STAT_METRICS = (("Query time", "query_time", human_duration),
                 ("Lock time", "lock_time", human_duration),
                 ("Rows sent", "rows_sent", format_count),
                 ("Rows examined", "rows_examined", format_count),
                 ("Rows affected", "rows_affected", format_count),
                 ("Bytes sent", "bytes_sent", format_count))


def stats_rows(digest: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(label, one text per STAT_HEADERS column) of the attribute table, formatted here once
    so the window and the case file (components/casefile.py) show the same figures."""
    rows = [("Calls", [format_count(digest.get("count"))] + [""] * (len(_STAT_KEYS) - 1))]
    for label, key, fmt in _STAT_METRICS:
        stats = digest.get(key)
        if stats is None and key in ("rows_affected", "bytes_sent"):
            continue  # only some servers log these
        stats = stats or {}
        rows.append((label, [fmt(stats.get(k)) if k in stats else "—" for k in _STAT_KEYS]))
    return rows


def create_stats_table(digest: Mapping[str, Any]) -> dbc.Table:
    """pt-query-digest's attribute table: total, min, max, avg and percentiles per metric."""
    header = html.Thead(html.Tr([html.Th("Attribute")] + [
        html.Th(h, className="text-end") for h in STAT_HEADERS]))
    body = [html.Tr([html.Th(label, scope="row"),
                     *[html.Td(cell, className="text-end") for cell in cells]])
            for label, cells in stats_rows(digest)]
    return dbc.Table([header, html.Tbody(body)], id="digest-stats", size="sm", bordered=True,
                     striped=True, hover=True, responsive=True, className="mb-3 digest-stats")


def _names(title: str, counts: Mapping[str, int] | None, list_id: str) -> dbc.Col:
    """The busiest names of one kind (user, host, database) with their call counts."""
    items = sorted((counts or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    chips: list[Any] = [
        html.Span([html.Span(name or "(none)", className="me-1"),
                   dbc.Badge(f"{count:,}", color="secondary", pill=True)],
                  className="badge rounded-pill text-bg-light border me-1 mb-1 digest-name")
        for name, count in items[:TOP_NAMES]
    ]
    if len(items) > TOP_NAMES:
        chips.append(html.Span(f"+{len(items) - TOP_NAMES} more", className="text-muted small"))
    if not chips:
        chips = [html.Span("—", className="text-muted")]
    return dbc.Col([html.Div(title, className="text-muted small mb-1"),
                    html.Div(chips, id=list_id)], md=4)


def _event_span(keys: list[str]) -> tuple[str | None, str | None]:
    """The hours shown, a day wider each side, in stored time: events far from the statement's
    hours would stretch its chart into a month of empty axis."""
    if not keys:
        return None, None
    first = datetime.strptime(keys[0], "%Y-%m-%dT%H") - timedelta(days=1)
    last = datetime.strptime(keys[-1], "%Y-%m-%dT%H") + timedelta(days=1, hours=1)
    return f"{first:%Y-%m-%dT%H}:00:00.000000Z", f"{last:%Y-%m-%dT%H}:00:00.000000Z"


def create_hourly_figure(hourly: Mapping[str, Mapping[str, float]] | None,
                         events: Sequence[Mapping[str, Any]] | None = None) -> go.Figure:
    """Calls and total query time per clock hour (UTC), as two bar charts sharing an axis,
    with the instance's RDS ``events`` (jobs.rds_events.period_events) near those hours."""
    keys = sorted(hourly or {})
    x = [f"{k[:10]} {k[11:13]}:00" for k in keys]
    counts = [(hourly or {})[k].get("count", 0) for k in keys]
    times = [(hourly or {})[k].get("query_time", 0.0) for k in keys]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("Calls per hour", "Total query time per hour (s)"))
    fig.add_trace(go.Bar(x=x, y=counts, name="Calls", marker_color="#0d6efd",
                         width=_HOUR_MS * 0.85,
                         hovertemplate="%{x|%Y-%m-%d %H:00} UTC<br>%{y:,} calls<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=times, name="Total time (s)", marker_color="#fd7e14",
                         width=_HOUR_MS * 0.85,
                         hovertemplate="%{x|%Y-%m-%d %H:00} UTC<br>%{y:,.3f} s<extra></extra>"),
                  row=2, col=1)
    fig.update_layout(template="plotly_white", height=380, showlegend=False, bargap=0.1,
                      margin={"l": 56, "r": 16, "t": 36, "b": 36},
                      font={"size": 12})
    fig.update_xaxes(type="date")
    fig.update_annotations(font_size=13)
    start, end = _event_span(keys)
    add_event_markers(fig, events, per="hour", start=start, end=end)
    return fig


def create_digest_summary(digest: Mapping[str, Any],
                          total_query_time: float | None = None,
                          events: Sequence[Mapping[str, Any]] | None = None,
                          hourly_export: Any = None) -> list[Any]:
    """Everything about a digest except its example statements (those depend on a switch);
    `hourly_export` (the chart's export menu) goes over the per-hour chart."""
    query_id = digest.get("query_id", "")
    qt_sum = (digest.get("query_time") or {}).get("sum") or 0.0
    facts = [
        ("Query ID", html.Code(short_query_id(query_id), id="digest-query-id",
                               title=f"full id: {query_id}")),
        ("Instances" if digest.get("instance_ids") else "Instance",
         f"{len(digest['instance_ids'])} instances" if digest.get("instance_ids")
         else digest.get("instance_id", "")),
        ("Period", period_label(digest.get("period", ""))),
        ("Rank", f"#{digest.get('rank')}" if digest.get("rank") is not None else "—"),
    ]
    if total_query_time:
        facts.append(("Share of the fleet's time" if digest.get("instance_ids")
                      else "Share of the instance's time",
                      f"{qt_sum / total_query_time * 100:.1f} %"))
    facts += [("First seen", format_time(digest.get("first_seen"))),
              ("Last seen", format_time(digest.get("last_seen")))]
    fact_list = dbc.Row([
        dbc.Col([html.Div(label, className="text-muted small"), html.Div(value)],
                xs=12 if n == 0 else 6, md=6 if n == 0 else 2, className="mb-2")
        for n, (label, value) in enumerate(facts)
    ], className="g-2 mb-2")
    hourly = digest.get("hourly") or {}
    chart: Any
    if digest.get("per_instance"):
        chart = create_instance_breakdown(digest["per_instance"])
    elif hourly:
        chart = dcc.Graph(id="digest-hourly", figure=create_hourly_figure(hourly, events),
                          config={"displaylogo": False, "displayModeBar": False})
        if hourly_export is not None:
            chart = create_chart_frame(hourly_export, chart)
    else:
        chart = html.P("No timestamps were logged for this digest.", className="text-muted",
                       id="digest-hourly")
    return [
        fact_list,
        html.H6("Fingerprint", className="mt-2"),
        html.Div([
            html.Pre(digest.get("fingerprint", ""), id="digest-fingerprint",
                     className="digest-sql mb-0"),
            dcc.Clipboard(target_id="digest-fingerprint", title="Copy the fingerprint",
                          className="digest-copy"),
        ], className="digest-sql-block mb-3"),
        html.H6("Statistics"),
        create_stats_table(digest),
        dbc.Row([
            _names("Users", digest.get("users"), "digest-users"),
            _names("Hosts", digest.get("hosts"), "digest-hosts"),
            _names("Databases", digest.get("databases"), "digest-databases"),
        ], className="g-2 mb-3"),
        html.H6("Per instance" if digest.get("per_instance") else "Per hour (UTC)"),
        chart,
    ]


def create_instance_breakdown(per_instance: list[Mapping[str, Any]]) -> html.Div:
    """A fleet row's instances, heaviest first: a bar of each one's share of the statement's
    time, and a button that opens that instance's own digest (with its hourly chart)."""
    total = sum(p.get("query_time") or 0.0 for p in per_instance) or 1.0
    rows = []
    for part in per_instance:
        share = (part.get("query_time") or 0.0) / total * 100
        rows.append(html.Tr([
            html.Td(dbc.Button(part["instance_id"], color="link", size="sm",
                               className="p-0 text-start",
                               id={"type": "digest-instance-link",
                                   "instance_id": part["instance_id"]})),
            html.Td(format_count(part.get("count")), className="text-end"),
            html.Td(human_duration(part.get("query_time")), className="text-end"),
            html.Td(human_duration(part.get("p95")), className="text-end"),
            html.Td(dbc.Progress(value=share, label=f"{share:.1f} %", style={"height": "18px"},
                                 className="instance-share"), style={"minWidth": "160px"}),
        ]))
    header = html.Thead(html.Tr([html.Th("Instance"), html.Th("Calls", className="text-end"),
                                 html.Th("Total time", className="text-end"),
                                 html.Th("p95", className="text-end"),
                                 html.Th("Share of the statement's time")]))
    return html.Div([
        dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, className="mb-1",
                  id="digest-instances"),
        html.Div("Click an instance for its own digest and its per-hour chart.",
                 className="text-muted small"),
    ])


def create_digest_examples(examples: list[Mapping[str, Any]] | None,
                           show_literals: bool = False) -> list[Any]:
    """The slowest example statements, masked unless `show_literals`, each with a copy button."""
    if not examples:
        return [html.P("No example statements were kept for this digest.",
                       className="text-muted")]
    blocks = []
    for n, example in enumerate(examples):
        sql = example.get("sql") or ""
        text = sql if show_literals else mask_literals(sql)
        meta: list[Any] = [
            html.Strong(human_duration(example.get("query_time"))),
            html.Span(f" · {format_time(example.get('time'))}", className="text-muted"),
        ]
        if example.get("db"):
            meta.append(html.Span([" · db ", html.Code(example["db"])], className="text-muted"))
        if example.get("truncated"):
            meta.append(dbc.Badge("truncated", color="warning", className="ms-2"))
        pre_id = f"digest-example-{n}"
        blocks.append(html.Div([
            html.Div(meta, className="small mb-1"),
            html.Div([
                html.Pre(text, id=pre_id, className="digest-sql digest-example mb-0"),
                dcc.Clipboard(target_id=pre_id, title="Copy this statement",
                              className="digest-copy"),
            ], className="digest-sql-block"),
        ], className="mb-3"))
    return blocks
