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

from analysis.digest import merge_stored_sketch, sketch_from_dict

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
    merger = FleetMerger(period)
    for digest in digests:
        merger.add(digest)
    return merger.rows()


class _Group:
    """One statement's running totals; member documents are folded in and let go, so
    100,000 digests need the memory of their statements, not of the documents."""

    __slots__ = ("query_id", "fingerprint", "count", "qt_sum", "qt_min", "qt_max", "lt_sum",
                 "lt_max", "re_sum", "re_max", "rs_sum", "rs_max", "sketch", "sketched",
                 "users", "hosts", "databases", "examples", "first", "last", "parts")

    def __init__(self, query_id: str, fingerprint: str | None) -> None:
        self.query_id, self.fingerprint = query_id, fingerprint
        self.count = self.re_sum = self.re_max = self.rs_sum = self.rs_max = 0
        self.qt_sum = self.qt_max = self.lt_sum = self.lt_max = 0.0
        self.qt_min: float | None = None
        self.sketch: Any = None
        self.sketched = True
        self.users, self.hosts, self.databases = Counter(), Counter(), Counter()
        self.examples: list[Mapping[str, Any]] = []
        self.first: str | None = None
        self.last: str | None = None
        self.parts: list[dict[str, Any]] = []

    def add(self, m: Mapping[str, Any]) -> None:
        qt, lt = m.get("query_time") or {}, m.get("lock_time") or {}
        rows_examined, rows_sent = m.get("rows_examined") or {}, m.get("rows_sent") or {}
        self.count += m.get("count") or 0
        self.qt_sum += qt.get("sum") or 0.0
        if qt.get("min") is not None:
            self.qt_min = qt["min"] if self.qt_min is None else min(self.qt_min, qt["min"])
        self.qt_max = max(self.qt_max, qt.get("max") or 0.0)
        self.lt_sum += lt.get("sum") or 0.0
        self.lt_max = max(self.lt_max, lt.get("max") or 0.0)
        self.re_sum += rows_examined.get("sum") or 0
        self.re_max = max(self.re_max, rows_examined.get("max") or 0)
        self.rs_sum += rows_sent.get("sum") or 0
        self.rs_max = max(self.rs_max, rows_sent.get("max") or 0)
        if m.get("sketch") and self.sketched:
            if self.sketch is None:
                self.sketch = sketch_from_dict(m["sketch"])
            else:
                merge_stored_sketch(self.sketch, m["sketch"])
        else:
            self.sketched, self.sketch = False, None
        _add_counts(self.users, m.get("users"))
        _add_counts(self.hosts, m.get("hosts"))
        _add_counts(self.databases, m.get("databases"))
        self.examples = sorted([*self.examples, *(m.get("examples") or [])],
                               key=lambda e: -(e.get("query_time") or 0))[:EXAMPLES_PER_ROW]
        if m.get("first_seen") and (self.first is None or m["first_seen"] < self.first):
            self.first = m["first_seen"]
        if m.get("last_seen") and (self.last is None or m["last_seen"] > self.last):
            self.last = m["last_seen"]
        self.parts.append({"instance_id": m["instance_id"], "count": m.get("count") or 0,
                           "query_time": qt.get("sum") or 0.0, "p95": qt.get("p95"),
                           "rank": m.get("rank")})

    def row(self, period: str) -> dict[str, Any]:
        n = self.count or 1
        percentiles: dict[str, float | None] = {"p50": None, "p95": None, "p99": None}
        if self.sketched and self.sketch is not None:
            percentiles = {"p50": _round6(self.sketch.quantile(0.50)),
                           "p95": _round6(self.sketch.quantile(0.95)),
                           "p99": _round6(self.sketch.quantile(0.99))}
        instance_ids = sorted({p["instance_id"] for p in self.parts})
        return {
            "query_id": self.query_id,
            "instance_id": FLEET_INSTANCE,
            "period": period,
            "instance_ids": instance_ids,
            "instance_count": len(instance_ids),
            "fingerprint": self.fingerprint,
            "count": self.count,
            "query_time": {"sum": _round6(self.qt_sum), "avg": _round6(self.qt_sum / n),
                           "min": _round6(self.qt_min or 0.0), "max": _round6(self.qt_max),
                           **percentiles},
            "lock_time": {"sum": _round6(self.lt_sum), "avg": _round6(self.lt_sum / n),
                          "max": _round6(self.lt_max)},
            "rows_examined": {"sum": self.re_sum, "avg": round(self.re_sum / n, 6),
                              "max": self.re_max},
            "rows_sent": {"sum": self.rs_sum, "avg": round(self.rs_sum / n, 6),
                          "max": self.rs_max},
            "first_seen": self.first,
            "last_seen": self.last,
            "users": dict(self.users.most_common(TOP_NAMES)),
            "hosts": dict(self.hosts.most_common(TOP_NAMES)),
            "databases": dict(self.databases.most_common(TOP_NAMES)),
            "examples": self.examples,
            "per_instance": sorted(self.parts, key=lambda r: -r["query_time"]),
        }


class FleetMerger:
    """Fold a period's per-instance digests, in any order and in batches, into fleet rows."""

    def __init__(self, period: str) -> None:
        self.period = period
        self._groups: dict[str, _Group] = {}

    def add(self, digest: Mapping[str, Any]) -> None:
        group = self._groups.get(digest["query_id"])
        if group is None:
            group = self._groups[digest["query_id"]] = _Group(digest["query_id"],
                                                              digest.get("fingerprint"))
        group.add(digest)

    def rows(self) -> list[dict[str, Any]]:
        rows = [group.row(self.period) for group in self._groups.values()]
        rows.sort(key=lambda r: (-r["query_time"]["sum"], r["query_id"]))
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank
        return rows
