"""RDS events next to the numbers: markers on a time chart, or a short list where time has no
axis (Compare).

Pure builders (kept events in, a figure or components out).  A chart gets one marker per kind
and hour (or day) at the top of its plot, over a dotted line, coloured by kind with one legend
entry per kind, and the events' text on hover; same-hour events share a marker, so a
maintenance window across a fleet is one marker saying "and 40 more", not a wall of lines.
"""

from __future__ import annotations

import html as html_text
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import html

from analysis.period import period_label
from analysis.rds_events import KINDS, event_line, label

__all__ = ["KIND_COLOURS", "add_event_markers", "create_event_list"]

KIND_COLOURS = {
    "failover": "#c0392b", "failure": "#1b1b1b", "restart": "#8e44ad", "recovery": "#27ae60",
    "maintenance": "#d35400", "engine": "#0e6e8c", "parameters": "#2e86de",
    "configuration": "#7f8c8d",
}
HOVER_LINES = 6  # events named in one marker's hover text; the rest are counted
MESSAGE_CHARS = 160  # an event's message in a hover (the API has it whole)
HOVER_WIDTH = 96  # characters per hover line: a long message wraps inside the chart
HEADROOM = 1.2  # the data's top sits below the marker row
LEGEND_BAND = 30  # pixels added under a chart that had no legend
MAX_MARKERS = 150  # more hour markers than this: one marker per day instead
MAX_LINES = 40  # more markers than this: no vertical lines (markers only)
LIST_LINES = 8  # events listed per month in create_event_list


def _bucket(time: str, per: str) -> str:
    """The bar an event belongs to: its clock hour (`2026-10-14 03:00`) or its day."""
    return time[:10] if per == "day" else f"{time[:10]} {time[11:13]}:00"


def _short(event: Mapping[str, Any]) -> Mapping[str, Any]:
    message = " ".join(str(event.get("message") or "").split())
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS - 1] + "…"
    return {**event, "message": message}


def _hover(events: Sequence[Mapping[str, Any]]) -> str:
    lines = [html_text.escape(part, quote=False) for e in events[:HOVER_LINES]
             for part in textwrap.wrap(event_line(_short(e)), HOVER_WIDTH,
                                       subsequent_indent="    ")]
    if len(events) > HOVER_LINES:
        lines.append(f"… and {len(events) - HOVER_LINES} more")
    return "<br>".join(lines)


def _overlay_axis(fig: go.Figure) -> str:
    """A hidden y axis over the first plot, 0 to 1, so markers sit at its top whatever the
    data's scale; returns its name for traces ("y3")."""
    used = [1] + [int(key[5:]) for key in fig.layout.to_plotly_json()
                  if key.startswith("yaxis") and key[5:].isdigit()]
    number = max(used) + 1
    fig.update_layout({f"yaxis{number}": {"overlaying": "y", "range": [0, 1], "visible": False,
                                          "fixedrange": True, "showgrid": False}})
    return f"y{number}"


def _make_headroom(fig: go.Figure) -> None:
    """Lift the first plot's top above its tallest bar (stacks summed), so the marker row
    does not sit on the data."""
    stacked = fig.layout.barmode in ("stack", "relative")
    tops: dict[Any, float] = {}
    for trace in fig.data:
        if (trace.yaxis or "y") != "y" or trace.y is None:
            continue
        for x, y in zip(trace.x if trace.x is not None else range(len(trace.y)), trace.y,
                        strict=False):
            value = max(float(y or 0), 0.0)
            tops[x] = tops.get(x, 0.0) + value if stacked and trace.type == "bar" \
                else max(tops.get(x, 0.0), value)
    if tops and max(tops.values()) > 0:
        fig.update_layout(yaxis={"range": [0, max(tops.values()) * HEADROOM],
                                 "autorange": False})


def _groups(events: Sequence[Mapping[str, Any]], per: str) -> dict[tuple[str, str], list]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for event in sorted(events, key=lambda e: (e["time"], e["instance_id"])):
        groups.setdefault((event["kind"], _bucket(event["time"], per)), []).append(event)
    return groups


def add_event_markers(fig: go.Figure, events: Sequence[Mapping[str, Any]] | None, *,
                      per: str = "hour", start: str | None = None,
                      end: str | None = None) -> go.Figure:
    """Draw ``events`` (kept events: ``time`` in the store's format, ``instance_id``,
    ``kind``, ``message``) on ``fig``, a figure whose first x axis is time and whose bars
    stand at the start of each hour (``per="hour"``) or day (``per="day"``).

    Only the kinds charts show are drawn, and only those from ``start`` to ``end`` (stored
    times, both included) when given.  Returns ``fig``, changed in place.
    """
    shown = [e for e in events or () if e.get("kind") in KIND_COLOURS and e.get("time")
             and (start is None or e["time"] >= start) and (end is None or e["time"] <= end)]
    if not shown:
        return fig
    groups = _groups(shown, per)
    if per == "hour" and len(groups) > MAX_MARKERS:
        per, groups = "day", _groups(shown, "day")
    _make_headroom(fig)
    axis = _overlay_axis(fig)
    if fig.layout.showlegend is False:  # a chart without a legend gets one for the events only
        fig.update_traces(showlegend=False)
        # below the axis, in a band of its own (a chart's top corners hold titles and buttons)
        top, bottom = fig.layout.margin.t or 80, fig.layout.margin.b or 80
        height = fig.layout.height or 450
        plot = max(height - top - bottom, 100)  # pixels of the plot area (paper's 0 to 1)
        fig.update_layout(showlegend=True, height=height + LEGEND_BAND,
                          margin={"b": bottom + LEGEND_BAND},
                          legend={"orientation": "h", "x": 0, "xanchor": "left",
                                  "y": -(bottom - 4) / plot, "yanchor": "top"})
    kinds = [kind for kind in KINDS if any(k == kind for k, _ in groups)]
    # plotly lists a stacked bar chart's legend backwards: rank the kinds so that either way
    # they come after the data, worst first
    backwards = fig.layout.barmode == "stack" and any(t.type == "bar" for t in fig.data)
    for level, kind in enumerate(kinds):
        buckets = sorted((bucket, found) for (k, bucket), found in groups.items() if k == kind)
        fig.add_trace(go.Scatter(
            x=[bucket for bucket, _ in buckets], y=[0.96 - 0.05 * level] * len(buckets),
            xaxis="x", yaxis=axis, mode="markers", name=f"RDS {label(kind)}",
            legendrank=999 - level if backwards else 2000 + level,
            marker={"symbol": "triangle-down", "size": 12, "color": KIND_COLOURS[kind],
                    "line": {"width": 1, "color": "#ffffff"}},
            hovertext=[_hover(found) for _, found in buckets], hoverinfo="text",
            hoverlabel={"bgcolor": "#ffffff", "bordercolor": KIND_COLOURS[kind],
                        "font": {"color": "#212529"}, "align": "left"},
            meta={"rds_events": kind},
        ))
    if len(groups) <= MAX_LINES:
        for (kind, bucket), _found in sorted(groups.items(), key=lambda item: item[0][1]):
            fig.add_shape(type="line", xref="x", yref="paper", x0=bucket, x1=bucket, y0=0,
                          y1=1, layer="below",
                          line={"color": KIND_COLOURS[kind], "width": 1, "dash": "dot"},
                          opacity=0.6)
    return fig


def _counts(events: Sequence[Mapping[str, Any]]) -> str:
    """"failover ×2, parameter change": each kind once, worst first, with how many."""
    found = [(kind, sum(1 for e in events if e["kind"] == kind)) for kind in KINDS]
    return ", ".join(label(kind) + (f" ×{n}" if n > 1 else "") for kind, n in found if n)


def create_event_list(months: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
                      component_id: str) -> html.Details:
    """Each month's kept events for a page that shows months without a time axis: one summary
    line (kinds and counts per month, or "none kept"), opening onto the events themselves."""
    summary: list[Any] = [html.Span("RDS events", className="fw-semibold me-2")]
    blocks: list[Any] = []
    for n, (period, events) in enumerate(months):
        shown = [e for e in events if e.get("kind") in KIND_COLOURS]
        name = period_label(period)
        summary.append(html.Span([" · " if n else "", html.Span(f"{name}: ",
                                                                className="fw-semibold"),
                                  _counts(shown) or "none kept"]))
        if not shown:
            blocks.append(html.Div(f"{name}: no RDS events kept.",
                                   className="text-muted rds-events-month"))
            continue
        items = [html.Li([
            html.Span("▼ ", style={"color": KIND_COLOURS[e["kind"]]}),
            event_line(_short(e)),
        ]) for e in shown[:LIST_LINES]]
        if len(shown) > LIST_LINES:
            items.append(html.Li(f"… and {len(shown) - LIST_LINES} more (GET /api/events)",
                                 className="text-muted"))
        blocks.append(html.Div([html.Div(name, className="fw-semibold"),
                                html.Ul(items, className="list-unstyled mb-1 ps-2")],
                               className="rds-events-month"))
    return html.Details([
        html.Summary(summary),
        html.Div([*blocks, html.Div(
            "RDS keeps events for 14 days; the dashboard keeps what it read since it started "
            "(with each inventory refresh).", className="text-muted")], className="mt-1"),
    ], id=component_id, className="small mb-2")
