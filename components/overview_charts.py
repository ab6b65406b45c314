"""The Overview's charts: where the month's query time went, by day and by instance.

Pure builders: data in (the store's daily totals, fleet rows), plotly figures out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from analysis.units import human_duration, short_query_id
from components.event_markers import add_event_markers

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
           "#ff9da6", "#9d755d", "#bab0ac")
MAX_STACKS = 8  # more instances than this: the smallest are drawn together as "others"


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, title={"text": title,
                                                                     "font": {"size": 14}},
                      margin={"l": 60, "r": 16, "t": 44, "b": 40}, font={"size": 12},
                      legend={"orientation": "h", "y": -0.18})
    return fig


def daily_by_instance_figure(daily: Mapping[str, Mapping[str, float]],
                             events: Sequence[Mapping[str, Any]] | None = None) -> go.Figure:
    """Stacked bars: each day's query time, split by instance (the biggest first), with the
    instances' RDS ``events`` (jobs.rds_events.period_events) marked on their days."""
    totals = {iid: sum(days.values()) for iid, days in daily.items()}
    ranked = sorted(totals, key=lambda iid: -totals[iid])
    shown, others = ranked[:MAX_STACKS], ranked[MAX_STACKS:]
    days = sorted({day for per_day in daily.values() for day in per_day})
    fig = go.Figure()
    series = [(iid, daily[iid]) for iid in shown]
    if others:
        merged: dict[str, float] = {}
        for iid in others:
            for day, seconds in daily[iid].items():
                merged[day] = merged.get(day, 0.0) + seconds
        series.append((f"{len(others)} others", merged))
    for n, (name, per_day) in enumerate(series):
        values = [per_day.get(day, 0.0) for day in days]
        fig.add_bar(x=days, y=values, name=name, marker_color=PALETTE[n % len(PALETTE)],
                    customdata=[human_duration(v) for v in values],
                    hovertemplate=f"{name}<br>%{{x|%Y-%m-%d}}: %{{customdata}}<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="query time (s)")
    fig.update_xaxes(type="date")
    add_event_markers(fig, events, per="day")
    return _layout(fig, "Query time per day, by instance")


def instance_totals_figure(seconds_by_instance: Mapping[str, float]) -> go.Figure:
    """One bar per instance: its query time in the month (the heaviest on top)."""
    totals = sorted((seconds, iid) for iid, seconds in seconds_by_instance.items())
    fig = go.Figure(go.Bar(
        x=[seconds for seconds, _ in totals], y=[iid for _, iid in totals], orientation="h",
        marker_color="#4c78a8",
        text=[human_duration(seconds) for seconds, _ in totals], textposition="auto",
        hovertemplate="%{y}: %{text}<extra></extra>"))
    fig.update_xaxes(title_text="query time (s)")
    return _layout(fig, "Query time by instance", height=max(240, 40 * len(totals) + 90))


def top_statements_figure(rows: list[Mapping[str, Any]],
                          title: str = "Heaviest statements across the fleet") -> go.Figure:
    """The fleet's heaviest statements (fleet rows), with how many instances run each."""
    rows = list(reversed(rows))
    labels = [(r["fingerprint"] or "")[:48] + ("…" if len(r["fingerprint"] or "") > 48
                                               else "") for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["query_time"]["sum"] for r in rows], y=labels, orientation="h",
        marker_color="#e45756",
        customdata=[[short_query_id(r["query_id"]), r.get("instance_count", 1), r["count"],
                     human_duration(r["query_time"]["sum"])] for r in rows],
        hovertemplate="%{customdata[0]} on %{customdata[1]} instance(s)<br>%{customdata[2]:,}"
                      " calls, %{customdata[3]}<extra></extra>"))
    fig.update_xaxes(title_text="total query time (s)")
    fig.update_layout(margin={"l": 330})
    figure = _layout(fig, title,
                     height=max(240, 34 * len(rows) + 90))
    figure.update_layout(margin={"l": 330, "r": 16, "t": 44, "b": 40})
    return figure
