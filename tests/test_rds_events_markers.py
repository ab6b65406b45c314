"""RDS events, the pure parts: which events are drawn (and as what), and how a time chart
draws them (markers per kind and hour, hover text, no flood), and the list Compare shows."""

from __future__ import annotations

import doctest

import plotly.graph_objects as go
import pytest

import analysis.rds_events
from analysis.rds_events import KINDS, MARKED, OTHER, classify, event_line, period_window
from components.digest_detail import create_hourly_figure
from components.event_markers import (
    HOVER_LINES,
    HOVER_WIDTH,
    KIND_COLOURS,
    LIST_LINES,
    MAX_LINES,
    MAX_MARKERS,
    add_event_markers,
    create_event_list,
)
from components.overview_charts import daily_by_instance_figure


def test_the_documented_examples() -> None:
    assert doctest.testmod(analysis.rds_events).failed == 0


# Categories and messages as RDS lists them (the RDS event catalogue's wording).
@pytest.mark.parametrize(("categories", "message", "kind"), [
    (["failover"], "A Multi-AZ failover that resulted in the promotion of a standby instance "
                   "has started.", "failover"),
    (["notification"], "Multi-AZ instance failover completed", "failover"),
    (["availability"], "DB instance shutdown", "restart"),
    (["availability"], "DB instance restarted", "restart"),
    (["notification"], "DB instance stopped", "restart"),
    (["notification"], "DB instance started", "restart"),
    (["configuration change"], "Updated to use DBParameterGroup orders-tuned", "parameters"),
    (["configuration change", "notification"], "Finished updating DB parameter group",
     "parameters"),
    (["maintenance"], "Database instance engine version upgrade started.", "engine"),
    (["maintenance", "notification"], "Database instance patched", "engine"),
    (["maintenance"], "Offline maintenance of the DB instance is complete. The DB instance is "
                      "now available.", "maintenance"),
    (["security patching"], "Operating system update applied", "maintenance"),
    (["configuration change"], "Applying modification to database instance class",
     "configuration"),
    (["recovery"], "Recovery of the DB instance has started. Recovery time will vary with the "
                   "amount of data to be recovered.", "recovery"),
    (["restoration"], "The DB instance has been restored from a DB snapshot.", "recovery"),
    (["low storage"], "Allocated storage has been exhausted.", "failure"),
    (["failure"], "The DB instance has failed due to an incompatible configuration", "failure"),
    # kept, never drawn: routine work, and notices of what has not happened
    (["backup"], "Backing up DB instance", OTHER),
    (["creation"], "DB instance created", OTHER),
    (["maintenance", "notification"], "The DB instance has a DB engine minor version upgrade "
                                      "available.", OTHER),
    (["notification"], "Patching of the DB instance has been delayed", OTHER),
    (["maintenance"], "An engine upgrade is scheduled for the next maintenance window", OTHER),
    ([], "", OTHER),
    (None, None, OTHER),
])
def test_classification(categories, message, kind) -> None:
    assert classify(categories, message) == kind
    assert (kind in MARKED) == (kind != OTHER)


def test_categories_are_read_without_case_or_spaces() -> None:
    assert classify([" Failover "], "") == "failover"
    assert classify(["AVAILABILITY"], "x") == "restart"


def test_period_windows() -> None:
    start, end = period_window("2026-10")
    assert (start.isoformat(), end.isoformat()) == ("2026-10-01T00:00:00+00:00",
                                                    "2026-11-01T00:00:00+00:00")
    start, end = period_window("2026-10-01_2026-10-15")
    assert end.isoformat() == "2026-10-16T00:00:00+00:00"
    for bad in ("2026-13", "2026-10-15_2026-10-01", "october", "", "2026-10-01_x"):
        assert period_window(bad) is None, bad


def _event(time: str, kind: str = "failover", instance: str = "orders-prd-1",
           message: str = "Multi-AZ instance failover completed") -> dict:
    return {"time": time, "instance_id": instance, "kind": kind, "message": message,
            "categories": []}


def _event_traces(fig: go.Figure) -> list:
    return [t for t in fig.data if (t.meta or {}).get("rds_events")]


DAILY = {"orders-prd-1": {"2026-10-13": 40.0, "2026-10-14": 90.0, "2026-10-15": 35.0},
         "orders-prd-2": {"2026-10-14": 10.0}}


def test_daily_chart_has_a_marker_per_kind_and_day_with_the_text_on_hover() -> None:
    events = [_event("2026-10-14T03:12:00.000000Z"),
              _event("2026-10-14T21:40:00.000000Z", instance="orders-prd-2"),
              _event("2026-10-13T14:20:00.000000Z", "parameters", "orders-prd-2",
                     "Updated to use DBParameterGroup <tuned> & co")]
    fig = daily_by_instance_figure(DAILY, events)
    traces = {t.name: t for t in _event_traces(fig)}
    assert set(traces) == {"RDS failover", "RDS parameter change"}  # a legend entry per kind
    failover = traces["RDS failover"]
    assert list(failover.x) == ["2026-10-14"]  # both failovers of the day share one marker
    assert failover.hovertext[0] == (
        "2026-10-14 03:12:00 UTC · orders-prd-1 · failover: Multi-AZ instance failover "
        "completed<br>2026-10-14 21:40:00 UTC · orders-prd-2 · failover: Multi-AZ instance "
        "failover completed")
    assert failover.marker.color == KIND_COLOURS["failover"]
    assert traces["RDS parameter change"].marker.color != failover.marker.color
    # a stacked chart's legend is listed backwards: ranks put the kinds after the instances,
    # worst first
    assert 1000 > failover.legendrank > traces["RDS parameter change"].legendrank
    # a message is text, not markup
    assert "&lt;tuned&gt; &amp; co" in traces["RDS parameter change"].hovertext[0]
    assert "<tuned>" not in traces["RDS parameter change"].hovertext[0]
    # a dotted line per marker, in its kind's colour; bars untouched
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted((s.x0, s.line.color) for s in lines) == [
        ("2026-10-13", KIND_COLOURS["parameters"]), ("2026-10-14", KIND_COLOURS["failover"])]
    assert [t.name for t in fig.data if t.type == "bar"] == ["orders-prd-1", "orders-prd-2"]
    # markers live on a hidden 0..1 axis over the bars: the top of the plot at any scale
    axis = fig.layout[f"yaxis{failover.yaxis[1:]}"]
    assert axis.overlaying == "y" and tuple(axis.range) == (0, 1) and axis.visible is False


def test_the_marker_row_sits_above_the_tallest_stack() -> None:
    fig = daily_by_instance_figure(DAILY, [_event("2026-10-14T03:12:00.000000Z")])
    top = 90.0 + 10.0  # 2026-10-14: both instances stacked
    assert tuple(fig.layout.yaxis.range) == (0, pytest.approx(top * 1.2))
    [trace] = _event_traces(fig)
    assert top / fig.layout.yaxis.range[1] < min(trace.y)  # marker above the bars


def test_events_not_drawn_and_no_events_leave_the_chart_alone() -> None:
    plain = daily_by_instance_figure(DAILY)
    for events in (None, [], [_event("2026-10-14T05:10:00.000000Z", OTHER, message="backup")]):
        fig = daily_by_instance_figure(DAILY, events)
        assert fig.to_plotly_json() == plain.to_plotly_json()


def test_a_busy_hour_is_one_marker_that_counts_the_rest() -> None:
    events = [_event(f"2026-10-14T03:{m:02d}:00.000000Z", "maintenance", f"db-{m}",
                     "Offline maintenance of the DB instance is taking place.")
              for m in range(40)]
    fig = create_hourly_figure({"2026-10-14T03": {"count": 5, "query_time": 9.0}}, events)
    [trace] = _event_traces(fig)
    assert list(trace.x) == ["2026-10-14 03:00"]
    hover = trace.hovertext[0]
    assert hover.count(" UTC · db-") == HOVER_LINES
    assert all(len(line) <= HOVER_WIDTH for line in hover.split("<br>"))  # wrapped
    assert hover.endswith(f"… and {40 - HOVER_LINES} more")
    assert hover.startswith("2026-10-14 03:00:00 UTC · db-0 · maintenance:")


def test_many_hours_become_days_and_lose_their_lines() -> None:
    events = [_event(f"2026-10-{1 + n // 24:02d}T{n % 24:02d}:30:00.000000Z")
              for n in range(MAX_MARKERS + 1)]
    fig = go.Figure(go.Bar(x=["2026-10-01"], y=[1]))
    add_event_markers(fig, events)
    [trace] = _event_traces(fig)
    assert len(trace.x) == 7 and trace.x[0] == "2026-10-01"  # one marker a day
    assert len(trace.x) <= MAX_LINES and len(fig.layout.shapes) == 7
    fig = go.Figure(go.Bar(x=["2026-10-01"], y=[1]))
    add_event_markers(fig, events[:MAX_LINES + 1])
    assert len(_event_traces(fig)[0].x) == MAX_LINES + 1 and not fig.layout.shapes


def test_the_digest_chart_marks_only_events_near_its_hours_and_gets_a_legend() -> None:
    hourly = {"2026-10-14T02": {"count": 3, "query_time": 1.0},
              "2026-10-14T05": {"count": 9, "query_time": 7.5}}
    near = _event("2026-10-14T03:12:00.000000Z")
    day_before = _event("2026-10-13T04:00:00.000000Z", "restart", message="DB instance restarted")
    far = _event("2026-10-02T03:00:00.000000Z", "parameters", message="far away")
    fig = create_hourly_figure(hourly, [near, day_before, far])
    traces = {t.name: t for t in _event_traces(fig)}
    assert set(traces) == {"RDS failover", "RDS restart"}
    assert list(traces["RDS failover"].x) == ["2026-10-14 03:00"]  # on its hour's bar
    assert fig.layout.showlegend is True
    assert [t.showlegend for t in fig.data if t.type == "bar"] == [False, False]
    assert create_hourly_figure(hourly).layout.showlegend is False  # unchanged without events


def test_every_kind_has_a_colour() -> None:
    assert set(KIND_COLOURS) == set(KINDS) == MARKED
    assert len(set(KIND_COLOURS.values())) == len(KIND_COLOURS)


def test_event_list_per_month_says_when_there_is_none() -> None:
    october = [_event("2026-10-01T03:12:05.000000Z"),
               _event("2026-10-01T05:10:00.000000Z", OTHER, message="Backing up DB instance")]
    listing = create_event_list([("2026-10", october), ("2026-09", [])], "events-list")
    text = _text(listing)
    assert text.startswith("RDS eventsOctober 2026: failover · September 2026: none kept")
    assert event_line(october[0]) in text
    assert "Backing up" not in text
    assert "September 2026: no RDS events kept." in text
    many = [_event(f"2026-10-{d:02d}T03:00:00.000000Z") for d in range(1, 11)] + [
        _event("2026-10-12T01:00:00.000000Z", "parameters")]
    text = _text(create_event_list([("2026-10", many)], "events-list"))
    assert text.startswith("RDS eventsOctober 2026: failover ×10, parameter change")
    assert text.count(" UTC · ") == LIST_LINES and "… and 3 more" in text


def _text(component) -> str:
    children = getattr(component, "children", component)
    if isinstance(children, str):
        return children
    if isinstance(children, (list, tuple)):
        return "".join(_text(c) for c in children)
    return "" if children is None else _text(children)
