"""A day's digests kept whole, so a month built from its days equals the month read at once.

Issue 11: with `COLLECT_DAILY_AT` each night's day lands in its month, and a re-run of a
day must replace that day, not add to it. Stored digests (`DigestStats.to_dict`) cannot be
merged back exactly: they round sums, drop how many entries had `rows_affected` and
`bytes_sent`, and keep examples without their order. A *partial* keeps every field of a
`DigestStats` as JSON-safe values; `MonthFromDays` folds a month's partials back, oldest day
first, with `DigestStats.merge` -- the same code that folds a month's time slices -- so every
figure is what one read of the month gives: counts, sums, min/max, the quantile sketch
(bucket-exact), hourly series, first/last seen, names, and the K slowest examples (earliest
first on equal times, as in one pass).

One thing a day read alone cannot know is the database in effect at its start: MySQL writes
`use db;` only when it changes, so a day's first statements before its first `use` are
counted under "" (unknown) and their examples have none. The month read knows it (the
previous day's last `use`), so each day keeps the database its log streams ended in and the
next day's unknown count and examples move to it, as jobs/parse_pool.py does between time
slices. An instance reads one stream (RDS writes one
per instance); when its streams ended in different databases the count stays unknown.

Pure: no I/O.

>>> from analysis.digest import DigestAggregator
>>> from analysis.slowlog import SlowLogEntry
>>> def day(n):
...     agg = DigestAggregator(lambda sql: ("select ?", "q1"))
...     agg.add("db1", SlowLogEntry(sql="SELECT 1", query_time=float(n)))
...     return [partial_of(s) for s in agg.digests("db1")]
>>> month = MonthFromDays("db1")
>>> month.add_day("2026-12-01", day(1), {})
>>> month.add_day("2026-12-02", day(2), {})
>>> [(d["count"], d["query_time"]["sum"], d["query_time"]["max"]) for d in month.digests()]
[(2, 3.0, 2.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from analysis.digest import DigestStats, _bump, _Metric, sketch_from_dict, sketch_to_dict

__all__ = ["MonthFromDays", "partial_of", "stats_of"]

PARTIAL_FORMAT = 1  # a change of the fields below must bump it (old partials are re-collected)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _metric(metric: _Metric) -> list[int]:
    return [metric.sum, metric.max, metric.n]


def partial_of(stats: DigestStats) -> dict[str, Any]:
    """Everything merging needs of one digest of one day, as JSON-safe values (names and
    hours as pairs: a user or host name may hold a dot, which a MongoDB key may not)."""
    examples = sorted(stats.examples, key=lambda item: -item[1])  # log order
    return {
        "format": PARTIAL_FORMAT,
        "query_id": stats.query_id,
        "fingerprint": stats.fingerprint,
        "count": stats.count,
        "query_time": [stats.qt_sum, stats.qt_min, stats.qt_max],
        "lock_time": [stats.lt_sum, stats.lt_min, stats.lt_max],
        "sketch": sketch_to_dict(stats.sketch),
        "rows_sent": [stats.rs_sum, stats.rs_max],
        "rows_examined": [stats.re_sum, stats.re_max],
        "rows_affected": _metric(stats.rows_affected),
        "bytes_sent": _metric(stats.bytes_sent),
        "first_seen": _iso(stats.first_seen),
        "last_seen": _iso(stats.last_seen),
        "users": [[k, c] for k, c in stats.users.items()],
        "hosts": [[k, c] for k, c in stats.hosts.items()],
        "databases": [[k, c] for k, c in stats.databases.items()],
        "examples": [[qt, sql, db, _iso(t), truncated]
                     for qt, _seq, sql, db, t, truncated in examples],
        "hourly": [[h, c, qt] for h, (c, qt) in sorted(stats.hourly.items())],
    }


def stats_of(instance_id: str, query_id: str, partial: Mapping[str, Any]) -> DigestStats:
    """The `DigestStats` a partial was made from (to be merged into another, which gives its
    examples their place in the month's order)."""
    stats = DigestStats(instance_id, query_id, partial["fingerprint"])
    stats.count = partial["count"]
    stats.qt_sum, stats.qt_min, stats.qt_max = partial["query_time"]
    stats.lt_sum, stats.lt_min, stats.lt_max = partial["lock_time"]
    stats.sketch = sketch_from_dict(partial["sketch"])
    stats.rs_sum, stats.rs_max = partial["rows_sent"]
    stats.re_sum, stats.re_max = partial["rows_examined"]
    for metric, values in ((stats.rows_affected, partial["rows_affected"]),
                           (stats.bytes_sent, partial["bytes_sent"])):
        metric.sum, metric.max, metric.n = values
    stats.first_seen = _time(partial["first_seen"])
    stats.last_seen = _time(partial["last_seen"])
    stats.users = {k: c for k, c in partial["users"]}
    stats.hosts = {k: c for k, c in partial["hosts"]}
    stats.databases = {k: c for k, c in partial["databases"]}
    # sequence numbers count down in log order (see analysis.digest._seq); merge() renumbers
    stats.examples = [(qt, -n, sql, db, _time(t), truncated)
                      for n, (qt, sql, db, t, truncated) in enumerate(partial["examples"])]
    stats.hourly = {int(h): [c, qt] for h, c, qt in partial["hourly"]}
    return stats


class MonthFromDays:
    """One instance's month folded from its days' partials, oldest day first."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.days: list[str] = []
        self._stats: dict[str, DigestStats] = {}
        self._ended_in: dict[str, str | None] = {}  # stream -> database, after the last day

    def add_day(self, day: str, partials: Iterable[Mapping[str, Any]],
                stream_dbs: Mapping[str, str | None]) -> None:
        """Fold one day in: `partials` are its digests' partials (`partial_of`),
        `stream_dbs` the database each log stream ended the day in (None: no `use` seen)."""
        follows = bool(self.days) and (date.fromisoformat(day) - timedelta(days=1)
                                       == date.fromisoformat(self.days[-1]))
        inherited = self._single_db() if follows else None
        for partial in partials:
            stats = stats_of(self.instance_id, partial["query_id"], partial)
            if inherited is not None and stats.databases.get("", 0):
                _bump(stats.databases, inherited, stats.databases.pop(""))
                stats.examples = [(qt, seq, sql, inherited if db is None else db, t, cut)
                                  for qt, seq, sql, db, t, cut in stats.examples]
            mine = self._stats.get(stats.query_id)
            if mine is None:
                mine = self._stats[stats.query_id] = DigestStats(
                    self.instance_id, stats.query_id, stats.fingerprint)
            mine.merge(stats)
        before = self._ended_in if follows else {}
        self._ended_in = {**before, **{name: db if db is not None else before.get(name)
                                       for name, db in stream_dbs.items()}}
        self.days.append(day)

    def _single_db(self) -> str | None:
        names = set(self._ended_in.values())
        return names.pop() if len(names) == 1 else None

    def digests(self) -> list[dict[str, Any]]:
        """The month's digests in the stored shape (what a month's collection stores)."""
        return [{**stats.to_dict(), "sketch": sketch_to_dict(stats.sketch)}
                for stats in self._stats.values()]
