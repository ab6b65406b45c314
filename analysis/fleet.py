"""The fleet view: one row per statement (query id) across every instance of a period.

Per-instance digests of a month merge here: calls and times add up, minimum and maximum are
the extremes, and the percentiles come from the per-instance quantile sketches merged bucket
by bucket — not averaged (an average of p95s is no percentile of anything). A digest stored
before sketches were kept has none; a fleet row that includes one reports its percentiles
as null rather than a guess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from analysis.digest import sketch_from_dict

EXAMPLES_PER_ROW = 3
FLEET_INSTANCE = "(fleet)"
TOP_NAMES = 20  # users, hosts and schemas kept per row, the busiest first


def _add_counts(into: Counter, counts: Mapping[str, int] | None) -> None:
    for name, n in (counts or {}).items():
        into[name] += n


def _round6(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def merge_fleet(digests: Iterable[Mapping[str, Any]], period: str) -> list[dict[str, Any]]:
    """Fleet rows for one period, ranked by total query time as pt ranks (rank 1 = most)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for digest in digests:
        groups.setdefault(digest["query_id"], []).append(digest)
    rows = [_merge_group(query_id, members, period) for query_id, members in groups.items()]
    rows.sort(key=lambda r: (-r["query_time"]["sum"], r["query_id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _merge_group(query_id: str, members: list[Mapping[str, Any]],
                 period: str) -> dict[str, Any]:
    count = sum(m.get("count") or 0 for m in members)
    n = count or 1
    qt = [m.get("query_time") or {} for m in members]
    lt = [m.get("lock_time") or {} for m in members]
    qt_sum = sum(q.get("sum") or 0.0 for q in qt)
    lt_sum = sum(q.get("sum") or 0.0 for q in lt)
    percentiles: dict[str, float | None] = {"p50": None, "p95": None, "p99": None}
    if all(m.get("sketch") for m in members):
        sketch = sketch_from_dict(members[0]["sketch"])
        for member in members[1:]:
            sketch.merge(sketch_from_dict(member["sketch"]))
        percentiles = {"p50": _round6(sketch.quantile(0.50)),
                       "p95": _round6(sketch.quantile(0.95)),
                       "p99": _round6(sketch.quantile(0.99))}
    rows_examined = sum((m.get("rows_examined") or {}).get("sum") or 0 for m in members)
    rows_sent = sum((m.get("rows_sent") or {}).get("sum") or 0 for m in members)
    users, hosts, databases = Counter(), Counter(), Counter()
    for member in members:
        _add_counts(users, member.get("users"))
        _add_counts(hosts, member.get("hosts"))
        _add_counts(databases, member.get("databases"))
    examples = sorted((e for m in members for e in (m.get("examples") or [])),
                      key=lambda e: -(e.get("query_time") or 0))[:EXAMPLES_PER_ROW]
    instance_ids = sorted({m["instance_id"] for m in members})
    seen = [m.get("first_seen") for m in members if m.get("first_seen")]
    last = [m.get("last_seen") for m in members if m.get("last_seen")]
    return {
        "query_id": query_id,
        "instance_id": FLEET_INSTANCE,
        "period": period,
        "instance_ids": instance_ids,
        "instance_count": len(instance_ids),
        "fingerprint": members[0].get("fingerprint"),
        "count": count,
        "query_time": {
            "sum": _round6(qt_sum), "avg": _round6(qt_sum / n),
            "min": _round6(min((q.get("min") for q in qt if q.get("min") is not None),
                               default=0.0)),
            "max": _round6(max((q.get("max") or 0.0 for q in qt), default=0.0)),
            **percentiles,
        },
        "lock_time": {
            "sum": _round6(lt_sum), "avg": _round6(lt_sum / n),
            "max": _round6(max((q.get("max") or 0.0 for q in lt), default=0.0)),
        },
        "rows_examined": {"sum": rows_examined, "avg": round(rows_examined / n, 6),
                          "max": max((m.get("rows_examined") or {}).get("max") or 0
                                     for m in members)},
        "rows_sent": {"sum": rows_sent, "avg": round(rows_sent / n, 6),
                      "max": max((m.get("rows_sent") or {}).get("max") or 0 for m in members)},
        "first_seen": min(seen) if seen else None,
        "last_seen": max(last) if last else None,
        "users": dict(users.most_common(TOP_NAMES)),
        "hosts": dict(hosts.most_common(TOP_NAMES)),
        "databases": dict(databases.most_common(TOP_NAMES)),
        "examples": examples,
        "per_instance": sorted(
            ({"instance_id": m["instance_id"], "count": m.get("count") or 0,
              "query_time": (m.get("query_time") or {}).get("sum") or 0.0,
              "p95": (m.get("query_time") or {}).get("p95"), "rank": m.get("rank")}
             for m in members), key=lambda r: -r["query_time"]),
    }
