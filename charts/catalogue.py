"""The charts that can leave the dashboard: downloaded as HTML or PNG, or embedded elsewhere.

Each chart is a name, the query parameters it takes (checked like every API parameter: a
bad or missing one is a 400 with a sentence), and a builder that reads the store through the
same repository methods as its page and draws the figure with the page's own component
builder. So an export is what the page shows, masked the same way; only a caption saying
what, where and when is added, because an exported chart is read far from its page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import plotly.graph_objects as go

from analysis.fleet import FLEET_INSTANCE
from analysis.period import period_label
from analysis.plan_view import plan_to_draw
from analysis.units import short_query_id
from api.errors import ApiError
from api.params import Parser, month, period, text
from components.compare_view import movers_figure
from components.digest_detail import create_hourly_figure
from components.overview_charts import daily_by_instance_figure
from components.plan_visual import SLOT_PX, create_plan_figure
from jobs.compare import month_over_month, previous_month_key
from jobs.rds_events import period_events
from services import Services
from store import Store

MAX_INSTANCES = 200  # instances a chart can be narrowed to
CAPTION_PX = 40  # room added above a figure for its caption
CAPTION_CHAR_PX = 7.5  # about one character of the 14 px caption
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ChartFigure:
    """A built chart: the figure (caption included), its caption and a download file name."""

    figure: go.Figure
    caption: str
    filename: str
    fixed_size: bool = False  # drawn at its own pixel size (the plan diagram), never stretched


@dataclass(frozen=True)
class Chart:
    """One exportable chart: what it shows, the parameters it takes, how it is built."""

    name: str
    title: str
    params: Mapping[str, Parser]
    required: tuple[str, ...]
    build: Callable[[Services, dict[str, Any]], ChartFigure]


def _instances() -> Parser:
    """Comma-separated instance ids (the Overview's instance filter); absent: every one."""
    parse_text = text(max_chars=MAX_INSTANCES * 64)

    def parse(name: str, raw: str | None) -> frozenset[str]:
        value = parse_text(name, raw)
        ids = frozenset(part.strip() for part in (value or "").split(",") if part.strip())
        if len(ids) > MAX_INSTANCES:
            raise ApiError(f"{name} lists {len(ids)} instances; at most {MAX_INSTANCES}")
        return ids

    return parse


def overview_daily(store: Store, month_key: str,
                   instances: Collection[str] = ()) -> dict[str, dict[str, float]]:
    """Query time per instance and day of a month, narrowed to `instances` when given: the
    Overview's "per day" chart and its export read it here, so both show the same bars."""
    return {iid: days for iid, days in store.digests.daily(month_key).items()
            if days and (not instances or iid in instances)}


def _name(*parts: str) -> str:
    """A download file name from ids and months (anything odd in them becomes `_`)."""
    return "-".join(_UNSAFE_IN_NAME.sub("_", part).strip("_") or "_" for part in parts)


def _captioned(figure: go.Figure, caption: str) -> go.Figure:
    """The figure with `caption` as its title; a figure that had none gets room above it."""
    if figure.layout.title.text:
        figure.update_layout(title_text=escape(caption))
        return figure
    margin_top = figure.layout.margin.t or 0
    height = figure.layout.height
    figure.update_layout(title={"text": escape(caption), "font": {"size": 14}, "x": 0.01,
                                "xanchor": "left", "y": 1, "yanchor": "top",
                                "pad": {"t": 12}},
                         margin_t=margin_top + CAPTION_PX)
    if height:
        figure.update_layout(height=height + CAPTION_PX)
    return figure


def _widened(figure: go.Figure, caption: str) -> go.Figure:
    """A fixed-size diagram made wide enough for its caption, its boxes kept at their size
    (the x range grows with the pixels, so nothing stretches)."""
    needed = int(len(caption) * CAPTION_CHAR_PX) + 40
    width = figure.layout.width
    if not width or needed <= width or not figure.layout.xaxis.range:
        return figure
    low, high = figure.layout.xaxis.range
    extra = (needed - width) / SLOT_PX / 2
    figure.update_layout(width=needed, xaxis_range=[low - extra, high + extra])
    return figure


def _overview_load(services: Services, args: dict[str, Any]) -> ChartFigure:
    key, instances = args["month"], args["instances"]
    daily = overview_daily(services.store, key, instances)
    if not daily:
        scope = "these instances" if instances else "any instance"
        raise ApiError(f"no query time per day is stored for {scope} in {period_label(key)}: "
                       "collect that month first", 404)
    scope = (", ".join(sorted(instances)) if 0 < len(instances) <= 3
             else f"{len(instances)} instances" if instances else "all instances")
    caption = f"Query time per day, by instance — {period_label(key)}, {scope}"
    figure = daily_by_instance_figure(daily, period_events(services.store, key, list(daily)))
    return ChartFigure(_captioned(figure, caption), caption,
                       _name("overview-load", key, *sorted(instances)[:3]))


def _period_of(args: dict[str, Any]) -> str:
    """`month` (YYYY-MM) or `period` (a stored key, also day ranges), as /api/digests takes."""
    if args["month"] and args["period"] and args["month"] != args["period"]:
        raise ApiError("give month or period, not both")
    return args["month"] or args["period"]


def _digest_hourly(services: Services, args: dict[str, Any]) -> ChartFigure:
    instance_id, query_id, key = args["instance_id"], args["query_id"], _period_of(args)
    if not key:
        raise ApiError("month is required (YYYY-MM), or period for a range of days")
    if instance_id == FLEET_INSTANCE:
        raise ApiError("a fleet row has no per-hour series: give one instance_id")
    digest = services.store.digests.get(instance_id, key, query_id)
    if digest is None:
        raise ApiError(f"no digest {short_query_id(query_id)} on {instance_id} in "
                       f"{period_label(key)}", 404)
    if not digest.get("hourly"):
        raise ApiError("this digest has no per-hour series: its slow log had no timestamps",
                       404)
    caption = (f"{short_query_id(query_id)} on {instance_id}, {period_label(key)}: "
               "calls and query time per hour (UTC)")
    figure = create_hourly_figure(digest["hourly"],
                                  period_events(services.store, key, [instance_id]))
    return ChartFigure(_captioned(figure, caption), caption,
                       _name("digest-hourly", instance_id, key, short_query_id(query_id)))


def _compare_movers(services: Services, args: dict[str, Any]) -> ChartFigure:
    key = args["month"]
    baseline = args["baseline"] or previous_month_key(key)
    if baseline == key:
        raise ApiError("baseline must be another month than month")
    instance_id = None if args["instance_id"] in (None, FLEET_INSTANCE) else args["instance_id"]
    stored = services.store.digests.periods(instance_id)
    for needed in (key, baseline):
        if needed not in stored:
            where = f"on {instance_id}" if instance_id else "for the fleet"
            raise ApiError(f"no digests of {period_label(needed)} {where}: collect that month "
                           "first", 404)
    result = month_over_month(services.store, services.settings, key, baseline, instance_id)
    caption = (f"Change in total query time (s), biggest movers — {period_label(key)} against "
               f"{period_label(baseline)}, {instance_id or 'the fleet'}")
    return ChartFigure(_captioned(movers_figure(result), caption), caption,
                       _name("compare-movers", instance_id or "fleet", key, "vs", baseline))


def _plan_visual(services: Services, args: dict[str, Any]) -> ChartFigure:
    plan = services.store.plans.get(args["plan_id"])
    if plan is None:
        raise ApiError("no such plan: it may have been removed", 404)
    root, findings, costliest = plan_to_draw(plan, masked=True)  # exports travel: no values
    if not root:
        raise ApiError("this plan could not be drawn: no EXPLAIN output could be read", 404)
    query = short_query_id(str(plan.get("query_id") or "")) if plan.get("query_id") else None
    caption = " ".join(part for part in (
        f"Plan {plan.get('plan_hash') or ''}".strip(),
        f"of {query}" if query else "", f"on {plan['instance_id']}"
        if plan.get("instance_id") else "") if part)
    figure = _widened(_captioned(create_plan_figure(root, costliest, findings), caption),
                      caption)
    return ChartFigure(figure, caption,
                       _name("plan-visual", str(plan.get("plan_hash") or "plan")),
                       fixed_size=True)


CHARTS: dict[str, Chart] = {chart.name: chart for chart in (
    Chart("overview-load", "Query time per day, by instance (Overview)",
          {"month": month(), "instances": _instances()}, ("month",), _overview_load),
    Chart("digest-hourly", "A digest's calls and query time per hour (Digests)",
          {"instance_id": text(), "month": month(), "period": period(), "query_id": text()},
          ("instance_id", "query_id"), _digest_hourly),
    Chart("compare-movers", "The biggest movers between two months (Compare)",
          {"month": month(), "baseline": month(), "instance_id": text()}, ("month",),
          _compare_movers),
    Chart("plan-visual", "A stored plan's diagram, values masked (Plans)",
          {"plan_id": text()}, ("plan_id",), _plan_visual),
)}


def find_chart(name: str) -> Chart:
    """The chart called `name`, or a 404 listing the ones there are."""
    chart = CHARTS.get(name)
    if chart is None:
        raise ApiError(f"no such chart; the charts are {', '.join(CHARTS)}", 404)
    return chart


def build_chart(services: Services, chart: Chart, args: dict[str, Any]) -> ChartFigure:
    """The chart for checked parameters (see api.params.query_args); 400 when a required one
    is missing, 404 when there is no such data."""
    missing = [name for name in chart.required if not args.get(name)]
    if missing:
        raise ApiError(f"{missing[0]} is required for the {chart.name} chart (it takes "
                       f"{', '.join(chart.params)})")
    return chart.build(services, args)
