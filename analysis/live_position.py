"""Where a statement caught running sits in its month: "above p99 of October 2026".

A capture says "this ran 14 s"; whether that is normal for the statement is only known from its
digest. This module answers it from what the digest already stores — the quantile sketch of
the month's query times (analysis.digest.QuantileSketch as a dict) and p50/p95/p99/max — so
no slow log is read again. Pure: the caller hands in the digests (see `link_captures`, which
takes a lookup function so the store stays the only code that reads).

The share of the month's calls that ran faster comes from the sketch's bucket counts. A value
shares its bucket with calls up to a factor gamma = (1 + alpha) / (1 - alpha) away, so the
estimate obeys ``F(d / gamma) <= share <= F(d * gamma)`` where F(x) is the exact share of calls
at or below x (the tests check exactly this bound). Inside the duration's own bucket the
calls are assumed spread evenly on the log scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from analysis.period import period_label
from analysis.units import human_duration

__all__ = ["BANDS", "NOT_COLLECTED", "LivePosition", "choose_digest", "digest_url",
           "distinct_plans", "faster_share", "format_share", "link_captures",
           "position"]

NOT_COLLECTED = "not in any collected month"
ZERO = 1e-9  # the sketch counts values below this in its exact zero bucket
# worst first; "unknown" when the digest holds no percentiles and no max
BANDS = ("above_max", "above_p99", "p95_p99", "p50_p95", "below_p50", "unknown")


def faster_share(sketch: Mapping[str, Any] | None, duration: float) -> float | None:
    """The share (0..1) of the sketch's calls that ran faster than `duration`; None without a
    sketch or calls. Exact below the fastest and above the slowest call."""
    if not sketch or not sketch.get("count"):
        return None
    count = int(sketch["count"])
    low, high = sketch.get("min"), sketch.get("max")
    if high is not None and duration > float(high):
        return 1.0
    if duration <= ZERO or (low is not None and duration <= float(low)):
        return 0.0
    alpha = float(sketch["alpha"])
    log_gamma = math.log((1 + alpha) / (1 - alpha))
    position = math.log(duration) / log_gamma
    bucket = math.ceil(position)
    below = float(sketch.get("zero") or 0)
    for key, calls in sketch.get("bins") or ():
        if int(key) < bucket:
            below += int(calls)
        elif int(key) == bucket:
            # the bucket spans (gamma^(k-1), gamma^k]: the part below the duration, on the
            # log scale (always within the bound above, whatever share is taken)
            below += int(calls) * (position - (bucket - 1))
    return min(1.0, max(0.0, below / count))


def format_share(share: float | None) -> str:
    """0.9968 -> "99.7 %"; never rounds a share below 1 up to "100.0 %"."""
    if share is None:
        return "—"
    if share >= 1.0:
        return "100 %"
    if share > 0.999:
        return "more than 99.9 %"
    if 0 < share < 0.001:
        return "less than 0.1 %"
    return f"{share * 100:.1f} %"


@dataclass(frozen=True)
class LivePosition:
    """A live duration against one digest's month."""

    duration: float
    period: str
    band: str  # one of BANDS
    label: str  # "above p99 of October 2026"
    short: str  # the label without the month ("above p99"), where the month is shown beside
    faster_share: float | None  # share of the month's calls that ran faster; None: no sketch
    detail: str  # the label with the share and the month's figures, for a tooltip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def position(query_time: Mapping[str, Any] | None, sketch: Mapping[str, Any] | None,
             duration: float, period: str) -> LivePosition:
    """Where `duration` (seconds) sits among the digest's calls of `period`.

    The band uses the digest's stored p50/p95/p99/max — the numbers its window shows — so the
    label never contradicts the statistics table; the share comes from the sketch.
    """
    stats = query_time or {}
    month = period_label(period)
    top, p99, p95, p50 = (stats.get(k) for k in ("max", "p99", "p95", "p50"))
    if top is not None and duration > top:
        band, short = "above_max", f"slower than every call (max {human_duration(top)})"
        label = f"slower than every call in {month} (max {human_duration(top)})"
    elif p99 is not None and duration > p99:
        band, short = "above_p99", "above p99"
    elif p95 is not None and duration > p95:
        band, short = "p95_p99", "between p95 and p99"
    elif p50 is not None and duration > p50:
        band, short = "p50_p95", "between p50 and p95"
    elif p50 is not None:
        band, short = "below_p50", "below p50"
    else:
        band, short = "unknown", "no percentiles kept"
    if band != "above_max":
        label = f"{short} of {month}"
    share = faster_share(sketch, duration)
    figures = " · ".join(f"{name} {human_duration(stats.get(key))}" for name, key in
                         (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max"))
                         if stats.get(key) is not None)
    parts = [f"{human_duration(duration)}: {label}"]
    if share is not None:
        parts.append(f"slower than {format_share(share)} of the month's calls")
    if figures:
        parts.append(figures)
    return LivePosition(duration=duration, period=period, band=band, label=label, short=short,
                        faster_share=share, detail="; ".join(parts))


def choose_digest(digests: Iterable[Mapping[str, Any]],
                  month: str | None) -> Mapping[str, Any] | None:
    """The digest to measure a capture against: its own month's when that month was collected
    and holds the statement, else the most recent collected month that holds it (months before
    day ranges). None: the statement is in no collected period."""
    found = list(digests)
    for digest in found:
        if month and digest.get("period") == month:
            return digest
    months = [d for d in found if len(str(d.get("period") or "")) == 7]
    pool = months or found
    return max(pool, key=lambda d: str(d.get("period") or "")) if pool else None


def digest_url(instance_id: str, period: str, query_id: str) -> str:
    """The Digests page with this digest's window open."""
    return "/digests?" + urlencode({"instance_id": instance_id, "period": period,
                                    "query_id": query_id})


# (instance_id, query_id) -> that statement's digests in every stored period
DigestLookup = Callable[[str, str], list[dict[str, Any]]]


def link_captures(captures: Iterable[Mapping[str, Any]],
                  lookup: DigestLookup) -> dict[str, dict[str, Any]]:
    """{capture id: {"digest": {...} | None, "position": {...} | None, "note": str | None}}.

    `lookup` is called once per distinct (instance, query id), however many captures share
    it, so a page of 1,000 captures of 20 statements costs 20 reads.
    """
    cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
    out: dict[str, dict[str, Any]] = {}
    for capture in captures:
        instance_id, query_id = capture.get("instance_id"), capture.get("query_id")
        if not instance_id or not query_id:
            out[capture["id"]] = {"digest": None, "position": None, "note": NOT_COLLECTED}
            continue
        key = (instance_id, query_id)
        if key not in cache:
            cache[key] = lookup(instance_id, query_id)
        start = str(capture.get("start") or "")
        digest = choose_digest(cache[key], start[:7] if len(start) >= 7 else None)
        if digest is None:
            out[capture["id"]] = {"digest": None, "position": None, "note": NOT_COLLECTED}
            continue
        period = str(digest["period"])
        where = position(digest.get("query_time"), digest.get("sketch"),
                         float(capture.get("duration") or 0.0), period)
        out[capture["id"]] = {
            "digest": {"instance_id": instance_id, "period": period,
                       "period_label": period_label(period), "query_id": query_id,
                       "count": digest.get("count"),
                       "url": digest_url(instance_id, period, query_id)},
            "position": where.to_dict(), "note": None,
        }
    return out


def distinct_plans(plans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Plans by shape (plan hash), across instances for a fleet row: first seen the earliest,
    last seen the latest, newest first. `plan_id` is the most recently seen document of the
    shape (what a link opens); more than one entry means the plan changed."""
    shapes: dict[str, dict[str, Any]] = {}
    for plan in plans:
        shape = str(plan.get("plan_hash") or plan.get("plan_id"))
        first, last = plan.get("first_seen") or "", plan.get("last_seen") or ""
        entry = shapes.get(shape)
        if entry is None:
            shapes[shape] = {"plan_hash": shape, "plan_id": plan.get("plan_id"),
                             "first_seen": first, "last_seen": last,
                             "seen_count": int(plan.get("seen_count") or 1),
                             "instances": [plan.get("instance_id")],
                             "findings": len(plan.get("findings") or []),
                             "source": plan.get("source")}
            continue
        entry["first_seen"] = min(entry["first_seen"], first) if first else entry["first_seen"]
        if last > entry["last_seen"]:
            entry.update(last_seen=last, plan_id=plan.get("plan_id"),
                         findings=len(plan.get("findings") or []), source=plan.get("source"))
        entry["seen_count"] += int(plan.get("seen_count") or 1)
        if plan.get("instance_id") not in entry["instances"]:
            entry["instances"].append(plan.get("instance_id"))
    return sorted(shapes.values(), key=lambda e: e["last_seen"], reverse=True)
