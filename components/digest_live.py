"""The digest window's "Caught running" section: live captures and plans of one statement.

Pure builders: the page reads the captures and plans from the store and places each live
duration in the month (analysis.live_position) before handing them here. A digest says how
the statement behaved over a month; this section says whether it was seen running long
right now, how long at worst, and which plans it had — with a badge when the plan changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import html

from analysis.units import human_duration
from components.digest_detail import format_time

NEVER_CAUGHT = ("Never caught running: no execution of this statement ran past the real-time "
                "threshold on a real-time target.")
NO_PLAN = "No plan recorded yet."
BAND_COLORS = {"above_max": "danger", "above_p99": "danger", "p95_p99": "warning",
               "p50_p95": "secondary", "below_p50": "light", "unknown": "light"}


def plan_href(plan_id: str) -> str:
    return f"/plans?plan_id={quote(plan_id, safe='')}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count:,} times"


def _position_badge(position: Mapping[str, Any] | None) -> Any:
    if not position:
        return html.Span("—", className="text-muted")
    color = BAND_COLORS.get(position.get("band", ""), "light")
    # the window is the month's digest: the badge leaves the month out, its title has it all
    return dbc.Badge(position.get("short") or position.get("label"), color=color,
                     title=position.get("detail"),
                     text_color="dark" if color in ("light", "warning") else None,
                     className="live-position fw-normal")


def _plan_cell(capture: Mapping[str, Any]) -> Any:
    if capture.get("plan_id"):
        return html.A("plan", href=plan_href(capture["plan_id"]), className="live-plan-link")
    if capture.get("plan_error"):
        return html.Span("no plan", className="text-muted", title=capture["plan_error"])
    return html.Span("—", className="text-muted")


def create_longest_table(captures: list[Mapping[str, Any]], fleet: bool) -> dbc.Table:
    """The longest live executions: duration, where it sits in the month, when, plan link."""
    header = [html.Th("Ran for", className="text-end"), html.Th("In the month")]
    if fleet:
        header.append(html.Th("Instance"))
    header += [html.Th("Started"), html.Th("Plan")]
    rows = []
    for capture in captures:
        cells = [html.Td(human_duration(capture.get("duration")),
                         className="text-end text-nowrap"),
                 html.Td(_position_badge(capture.get("position")))]
        if fleet:
            cells.append(html.Td(capture.get("instance_id")))
        cells += [html.Td(format_time(capture.get("start")), className="text-nowrap"),
                  html.Td(_plan_cell(capture))]
        rows.append(html.Tr(cells))
    return dbc.Table([html.Thead(html.Tr(header)), html.Tbody(rows)], size="sm", hover=True,
                     className="mb-2", id="digest-live-longest")


def create_plans_list(plans: list[Mapping[str, Any]], fleet: bool) -> Any:
    """Distinct plans by shape, newest first, each linking to the Plans page."""
    if not plans:
        return html.P(NO_PLAN, className="text-muted small mb-2", id="digest-live-plans")
    header = [html.Th("Plan"), html.Th("First seen"), html.Th("Last seen"),
              html.Th("Seen", className="text-end"), html.Th("Findings", className="text-end")]
    if fleet:
        header.append(html.Th("Instances"))
    rows = []
    for plan in plans:
        source = "on demand" if plan.get("source") == "on_demand" else None
        name: list[Any] = [html.A(html.Code(str(plan.get("plan_hash") or "")[:12]),
                                  href=plan_href(str(plan.get("plan_id"))),
                                  title=f"plan hash {plan.get('plan_hash')}",
                                  className="live-plan-link")]
        if source:
            name.append(html.Span(f" · {source}", className="text-muted small"))
        cells = [html.Td(name),
                 html.Td(format_time(plan.get("first_seen")), className="text-nowrap"),
                 html.Td(format_time(plan.get("last_seen")), className="text-nowrap"),
                 html.Td(f"{plan.get('seen_count', 1):,}", className="text-end"),
                 html.Td(f"{plan.get('findings', 0):,}", className="text-end")]
        if fleet:
            cells.append(html.Td(", ".join(str(i) for i in plan.get("instances") or [])))
        rows.append(html.Tr(cells))
    return dbc.Table([html.Thead(html.Tr(header)), html.Tbody(rows)], size="sm", hover=True,
                     className="mb-2", id="digest-live-plans")


def create_caught_running(count: int, longest: list[Mapping[str, Any]],
                          plans: list[Mapping[str, Any]], fleet: bool) -> list[Any]:
    """The section's body: how often it was caught, the longest runs, the distinct plans."""
    where = "across all instances" if fleet else "on this instance"
    if count:
        summary: Any = html.P([
            html.Strong(_times(count).capitalize()), f" {where}. ",
            html.Span(f"The longest {len(longest)}:" if count > len(longest) else "",
                      className="text-muted")], className="mb-1", id="digest-live-summary")
        captures: list[Any] = [summary, create_longest_table(longest, fleet)]
    else:
        captures = [html.P(NEVER_CAUGHT, className="text-muted mb-2", id="digest-live-summary")]
    changed = len(plans) > 1
    plans_head = html.Div([
        html.Span("Plans", className="fw-semibold me-2"),
        dbc.Badge("plan changed", color="warning", text_color="dark", id="digest-plan-changed",
                  title=f"{len(plans)} different plans were recorded for this statement")
        if changed else None,
    ], className="d-flex align-items-center small mb-1")
    return [*captures, plans_head, create_plans_list(plans, fleet)]
