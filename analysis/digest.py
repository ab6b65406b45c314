"""Streaming aggregation of slow-log entries into per-(instance, query id) digests.

Memory grows with the number of digests (and, per digest, with the number of distinct users,
hosts, databases and clock hours seen), never with the number of events: no per-event lists
are kept.  Per digest:

* count; sum/min/max/avg of ``query_time`` and ``lock_time``;
* sum/max/avg of ``rows_sent``, ``rows_examined`` and, when the log has them,
  ``rows_affected`` and ``bytes_sent`` (their avg is over the entries that had the field);
* p50/p95/p99 of ``query_time`` from a :class:`QuantileSketch` (relative error <= 1%);
* first/last seen; ``{name: count}`` of users, hosts and databases (at most
  ``MAX_DISTINCT`` names each, the rest counted under ``"(other)"``);
* the K slowest example statements (a bounded heap; a statement longer than
  ``max_example_chars``, 64 Ki characters by default, is cut and its example carries
  ``"truncated": True``) and per-hour count/time buckets (UTC, ``"YYYY-MM-DDTHH"``).

Aggregates from several threads or worker processes (they pickle) combine with
:meth:`DigestAggregator.merge`.  Pure: no I/O.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.errors import SlowLogParseError
from analysis.slowlog import SlowLogEntry, iter_entries

__all__ = [
    "DigestAggregator",
    "DigestStats",
    "Fingerprinter",
    "QuantileSketch",
    "digest_lines",
]

Fingerprinter = Callable[[str], tuple[str, str]]

MAX_DISTINCT = 1000
OTHER = "(other)"
DEFAULT_EXAMPLE_CHARS = 65536
_FP_CACHE_SIZE = 4096
_FP_CACHE_MAX_SQL = 4096
_FP_CACHE_CHARS = _FP_CACHE_SIZE * _FP_CACHE_MAX_SQL  # what 4,096 entries could hold
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()
# Example heaps hold (query_time, seq, ...), seq counting *down*: the heap's root is the
# fastest example and, among equally fast ones, the latest, so the K kept are the K slowest,
# earliest first on ties -- one total order, which makes merging exact (see merge).
_seq = itertools.count(0, -1)
_log = math.log
_ceil = math.ceil


class QuantileSketch:
    """A DDSketch-style log-bucket histogram for non-negative values.

    A value ``x > 0`` goes to bucket ``k = ceil(log(x) / log(gamma))`` with
    ``gamma = (1 + alpha) / (1 - alpha)``, and bucket ``k`` reports ``2 * gamma**k / (gamma + 1)``.
    So for ``quantile(q)`` the answer is within a *relative* error of ``alpha`` (default 1%)
    of the exact sample at rank ``floor(q * (count - 1))`` of the sorted values (the
    "lower" percentile); it is also clamped to the exact [min, max], so a single value or a
    constant series is reported exactly.  Zero (and values below ``1e-9``) are counted
    exactly in a separate bucket.

    Size: one bucket per occupied factor-of-gamma band, so at most
    ``log(max / min) / log(gamma)`` buckets -- about 1,400 for anything between 1 us and
    11 days at alpha = 1%, independent of how many values are added.  Mergeable by adding
    bucket counts (both sketches must use the same alpha).
    """

    __slots__ = ("alpha", "gamma", "_inv_log_gamma", "bins", "zero", "count", "min", "max")

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self._inv_log_gamma = 1.0 / math.log(self.gamma)
        self.bins: dict[int, int] = {}
        self.zero = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> None:
        self.count += 1
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x
        if x < 1e-9:
            self.zero += 1
        else:
            k = math.ceil(math.log(x) * self._inv_log_gamma)
            bins = self.bins
            bins[k] = bins.get(k, 0) + 1

    def merge(self, other: QuantileSketch) -> None:
        if other.alpha != self.alpha:
            raise ValueError("cannot merge sketches with different alpha")
        bins = self.bins
        for k, c in other.bins.items():
            bins[k] = bins.get(k, 0) + c
        self.zero += other.zero
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1), or None when empty."""
        if self.count == 0:
            return None
        if not 0 <= q <= 1:
            raise ValueError("q must be in [0, 1]")
        rank = int(q * (self.count - 1))
        if rank < self.zero:
            value = 0.0
        else:
            seen = self.zero
            value = self.max
            for k in sorted(self.bins):
                seen += self.bins[k]
                if seen > rank:
                    value = 2.0 * self.gamma ** k / (self.gamma + 1.0)
                    break
        return min(max(value, self.min), self.max)


def sketch_to_dict(sketch: QuantileSketch) -> dict[str, Any]:
    """A sketch as stored beside its digest, so digests of several instances (the fleet view)
    merge into exact-bucket percentiles instead of averaged ones. Bins as [key, count] pairs:
    a few hundred at most, a few kB."""
    return {"alpha": sketch.alpha, "zero": sketch.zero, "count": sketch.count,
            "min": sketch.min if sketch.count else None,
            "max": sketch.max if sketch.count else None,
            "bins": [[k, c] for k, c in sorted(sketch.bins.items())]}


def sketch_from_dict(data: Mapping[str, Any]) -> QuantileSketch:
    sketch = QuantileSketch(float(data["alpha"]))
    sketch.zero = int(data["zero"])
    sketch.count = int(data["count"])
    if sketch.count:
        sketch.min, sketch.max = float(data["min"]), float(data["max"])
    sketch.bins = {int(k): int(c) for k, c in data["bins"]}
    return sketch


def merge_stored_sketch(sketch: QuantileSketch, data: Mapping[str, Any]) -> None:
    """`sketch.merge(sketch_from_dict(data))` without building the second sketch (the fleet
    view merges 100,000 of them)."""
    if float(data["alpha"]) != sketch.alpha:
        raise ValueError("cannot merge sketches with different alpha")
    bins = sketch.bins
    for k, c in data["bins"]:
        bins[k] = bins.get(k, 0) + c
    sketch.zero += data["zero"]
    sketch.count += data["count"]
    if data["count"]:
        sketch.min = min(sketch.min, data["min"])
        sketch.max = max(sketch.max, data["max"])


class _Metric:
    """sum / max / count-present of an integer field."""

    __slots__ = ("sum", "max", "n")

    def __init__(self) -> None:
        self.sum = 0
        self.max = 0
        self.n = 0

    def merge(self, other: _Metric) -> None:
        self.sum += other.sum
        self.n += other.n
        if other.max > self.max:
            self.max = other.max

    def to_dict(self) -> dict[str, Any] | None:
        if self.n == 0:
            return None
        return {"sum": self.sum, "max": self.max, "avg": round(self.sum / self.n, 6)}


def _bump(counts: dict[str, int], key: str | None, by: int = 1) -> None:
    if key is None:
        key = ""
    if key in counts:
        counts[key] += by
    elif len(counts) < MAX_DISTINCT:
        counts[key] = by
    else:
        counts[OTHER] = counts.get(OTHER, 0) + by


def _hour_index(t: datetime) -> int:
    if t.tzinfo is not UTC and t.utcoffset():
        t = t.astimezone(UTC)
    return (t.toordinal() - _EPOCH_ORDINAL) * 24 + t.hour


def _hour_key(index: int) -> str:
    day, hour = divmod(index, 24)
    d = datetime(1970, 1, 1) + timedelta(days=day)
    return f"{d:%Y-%m-%d}T{hour:02d}"


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


class DigestStats:
    """Running statistics of one (instance_id, query_id)."""

    __slots__ = (
        "instance_id", "query_id", "fingerprint", "count",
        "qt_sum", "qt_min", "qt_max", "lt_sum", "lt_min", "lt_max", "sketch",
        "rs_sum", "rs_max", "re_sum", "re_max", "rows_affected", "bytes_sent",
        "first_seen", "last_seen", "users", "hosts", "databases",
        "examples", "examples_per_digest", "max_example_chars", "hourly",
    )

    def __init__(self, instance_id: str, query_id: str, fingerprint: str,
                 examples_per_digest: int = 5,
                 max_example_chars: int | None = DEFAULT_EXAMPLE_CHARS) -> None:
        self.instance_id = instance_id
        self.query_id = query_id
        self.fingerprint = fingerprint
        self.count = 0
        self.qt_sum = 0.0
        self.qt_min = math.inf
        self.qt_max = 0.0
        self.lt_sum = 0.0
        self.lt_min = math.inf
        self.lt_max = 0.0
        self.sketch = QuantileSketch()
        self.rs_sum = 0
        self.rs_max = 0
        self.re_sum = 0
        self.re_max = 0
        self.rows_affected = _Metric()
        self.bytes_sent = _Metric()
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.users: dict[str, int] = {}
        self.hosts: dict[str, int] = {}
        self.databases: dict[str, int] = {}
        # min-heap of (query_time, seq, sql, db, time, truncated): the K slowest (see _seq)
        self.examples: list[tuple[float, int, str, str | None, datetime | None, bool]] = []
        self.examples_per_digest = examples_per_digest
        self.max_example_chars = max_example_chars
        # hours since the epoch (UTC) -> [count, query_time sum]
        self.hourly: dict[int, list[float]] = {}

    # -- adding ---------------------------------------------------------------------------
    def add(self, e: SlowLogEntry) -> None:
        qt = e.query_time
        lt = e.lock_time
        self.count += 1
        self.qt_sum += qt
        if qt < self.qt_min:
            self.qt_min = qt
        if qt > self.qt_max:
            self.qt_max = qt
        self.lt_sum += lt
        if lt < self.lt_min:
            self.lt_min = lt
        if lt > self.lt_max:
            self.lt_max = lt
        sk = self.sketch  # QuantileSketch.add, inlined: this is the per-event hot path
        sk.count += 1
        if qt < sk.min:
            sk.min = qt
        if qt > sk.max:
            sk.max = qt
        if qt < 1e-9:
            sk.zero += 1
        else:
            k = _ceil(_log(qt) * sk._inv_log_gamma)
            bins = sk.bins
            bins[k] = bins.get(k, 0) + 1
        v = e.rows_sent
        self.rs_sum += v
        if v > self.rs_max:
            self.rs_max = v
        v = e.rows_examined
        self.re_sum += v
        if v > self.re_max:
            self.re_max = v
        v = e.rows_affected
        if v is not None:
            m = self.rows_affected
            m.sum += v
            m.n += 1
            if v > m.max:
                m.max = v
        v = e.bytes_sent
        if v is not None:
            m = self.bytes_sent
            m.sum += v
            m.n += 1
            if v > m.max:
                m.max = v
        t = e.time
        if t is not None:
            if self.first_seen is None or t < self.first_seen:
                self.first_seen = t
            if self.last_seen is None or t > self.last_seen:
                self.last_seen = t
            if t.tzinfo is not UTC and t.utcoffset():  # _hour_index, inlined
                t = t.astimezone(UTC)
            h = (t.toordinal() - _EPOCH_ORDINAL) * 24 + t.hour
            t = e.time
            bucket = self.hourly.get(h)
            if bucket is None:
                self.hourly[h] = [1, qt]
            else:
                bucket[0] += 1
                bucket[1] += qt
        # users, hosts, databases: _bump, unrolled
        key = e.user
        if key is None:
            key = ""
        counts = self.users
        c = counts.get(key)
        if c is not None:
            counts[key] = c + 1
        elif len(counts) < MAX_DISTINCT:
            counts[key] = 1
        else:
            counts[OTHER] = counts.get(OTHER, 0) + 1
        key = e.host or e.ip
        if key is None:
            key = ""
        counts = self.hosts
        c = counts.get(key)
        if c is not None:
            counts[key] = c + 1
        elif len(counts) < MAX_DISTINCT:
            counts[key] = 1
        else:
            counts[OTHER] = counts.get(OTHER, 0) + 1
        key = e.db
        if key is None:
            key = ""
        counts = self.databases
        c = counts.get(key)
        if c is not None:
            counts[key] = c + 1
        elif len(counts) < MAX_DISTINCT:
            counts[key] = 1
        else:
            counts[OTHER] = counts.get(OTHER, 0) + 1
        ex = self.examples
        if len(ex) < self.examples_per_digest or (ex and qt > ex[0][0]):
            self._push_example((qt, next(_seq), e.sql, e.db, t, False))

    def _push_example(self, item: tuple[float, int, str, str | None, datetime | None, bool]
                      ) -> None:
        limit = self.max_example_chars
        if limit is not None and len(item[2]) > limit:
            item = (item[0], item[1], item[2][:limit], item[3], item[4], True)
        ex = self.examples
        if len(ex) < self.examples_per_digest:
            heapq.heappush(ex, item)
        elif self.examples_per_digest > 0 and item[0] > ex[0][0]:
            heapq.heapreplace(ex, item)

    def merge(self, other: DigestStats) -> None:
        """Fold ``other`` (same instance and query id, e.g. from another thread) into this."""
        if (other.instance_id, other.query_id) != (self.instance_id, self.query_id):
            raise ValueError("can only merge statistics of the same instance and query id")
        self.count += other.count
        self.qt_sum += other.qt_sum
        self.qt_min = min(self.qt_min, other.qt_min)
        self.qt_max = max(self.qt_max, other.qt_max)
        self.lt_sum += other.lt_sum
        self.lt_min = min(self.lt_min, other.lt_min)
        self.lt_max = max(self.lt_max, other.lt_max)
        self.sketch.merge(other.sketch)
        self.rs_sum += other.rs_sum
        self.rs_max = max(self.rs_max, other.rs_max)
        self.re_sum += other.re_sum
        self.re_max = max(self.re_max, other.re_max)
        self.rows_affected.merge(other.rows_affected)
        self.bytes_sent.merge(other.bytes_sent)
        for t in (other.first_seen, other.last_seen):
            if t is None:
                continue
            if self.first_seen is None or t < self.first_seen:
                self.first_seen = t
            if self.last_seen is None or t > self.last_seen:
                self.last_seen = t
        for mine, theirs in ((self.users, other.users), (self.hosts, other.hosts),
                             (self.databases, other.databases)):
            for k, c in theirs.items():
                _bump(mine, k, c)
        # Re-numbered in their original order (sequence numbers from another process could
        # collide with ours), after ours: the result is what one pass over our entries and
        # then other's would keep, provided other's entries came later in the log.
        for qt, _, sql, db, t, truncated in sorted(other.examples, key=lambda x: -x[1]):
            self._push_example((qt, next(_seq), sql, db, t, truncated))
        for h, (c, qt) in other.hourly.items():
            bucket = self.hourly.get(h)
            if bucket is None:
                self.hourly[h] = [c, qt]
            else:
                bucket[0] += c
                bucket[1] += qt

    # -- reading --------------------------------------------------------------------------
    @property
    def query_time_avg(self) -> float:
        return self.qt_sum / self.count if self.count else 0.0

    def percentile(self, q: float) -> float | None:
        return self.sketch.quantile(q)

    def to_dict(self) -> dict[str, Any]:
        """The API shape (times as ISO-8601 UTC strings, seconds rounded to 1 us)."""
        n = self.count or 1
        sk = self.sketch
        r6 = _round6
        return {
            "instance_id": self.instance_id,
            "query_id": self.query_id,
            "fingerprint": self.fingerprint,
            "count": self.count,
            "query_time": {
                "sum": r6(self.qt_sum), "min": r6(self.qt_min if self.count else 0.0),
                "max": r6(self.qt_max), "avg": r6(self.qt_sum / n),
                "p50": r6(sk.quantile(0.50)), "p95": r6(sk.quantile(0.95)),
                "p99": r6(sk.quantile(0.99)),
            },
            "lock_time": {
                "sum": r6(self.lt_sum), "min": r6(self.lt_min if self.count else 0.0),
                "max": r6(self.lt_max), "avg": r6(self.lt_sum / n),
            },
            "rows_sent": {"sum": self.rs_sum, "max": self.rs_max,
                          "avg": round(self.rs_sum / n, 6)},
            "rows_examined": {"sum": self.re_sum, "max": self.re_max,
                              "avg": round(self.re_sum / n, 6)},
            "rows_affected": self.rows_affected.to_dict(),
            "bytes_sent": self.bytes_sent.to_dict(),
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "users": dict(self.users),
            "hosts": dict(self.hosts),
            "databases": dict(self.databases),
            "examples": [
                {"sql": sql, "db": db, "time": _iso(t), "query_time": r6(qt),
                 "truncated": truncated}
                for qt, _, sql, db, t, truncated in sorted(
                    self.examples, key=lambda x: (-x[0], -x[1]))
            ],
            "hourly": {
                _hour_key(h): {"count": int(c), "query_time": r6(qt)}
                for h, (c, qt) in sorted(self.hourly.items())
            },
        }


def _round6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


class DigestAggregator:
    """Fold :class:`SlowLogEntry` objects into :class:`DigestStats` per (instance, query id).

    ``fingerprinter(sql) -> (fingerprint, query_id)`` classifies statements; results for
    statements up to 4 KiB are memoised in a cache of at most ``fingerprint_cache`` entries
    and ``fingerprint_cache_chars`` characters (identical statements repeat a lot in slow
    logs; it is emptied when full, so memory stays bounded; 0 disables it, e.g. when the
    fingerprinter caches by itself).
    Malformed entries are counted with :meth:`add_error`, keeping the first
    ``max_error_samples`` of them.
    """

    def __init__(self, fingerprinter: Fingerprinter, examples_per_digest: int = 5, *,
                 max_example_chars: int | None = DEFAULT_EXAMPLE_CHARS,
                 max_error_samples: int = 20,
                 fingerprint_cache: int = _FP_CACHE_SIZE,
                 fingerprint_cache_chars: int = _FP_CACHE_CHARS) -> None:
        self.fingerprinter = fingerprinter
        self.fingerprint_cache = fingerprint_cache
        self.fingerprint_cache_chars = fingerprint_cache_chars
        self.examples_per_digest = examples_per_digest
        self.max_example_chars = max_example_chars
        self.max_error_samples = max_error_samples
        self.entries = 0
        self.malformed = 0
        self.cut_events = 0  # events CloudWatch cut at its size limit (jobs/parse_pool.py)
        self.error_samples: list[dict[str, Any]] = []
        # the database each log stream ended in (set by jobs/parse_pool.py): a day collected
        # alone hands it to the next day's first statements (analysis/day_partial.py)
        self.stream_dbs: dict[str, str | None] = {}
        self._stats: dict[str, dict[str, DigestStats]] = {}
        self._fp_cache: dict[str, tuple[str, str]] = {}
        self._fp_chars = 0  # characters of the statements in _fp_cache

    def _classified(self, sql: str) -> tuple[str, str]:
        """The fingerprinter's answer for a statement the cache does not hold, remembered.
        The cache is emptied when it holds ``fingerprint_cache`` statements or
        ``fingerprint_cache_chars`` characters, so its memory stays bounded whatever the
        log."""
        result = self.fingerprinter(sql)
        if len(sql) <= _FP_CACHE_MAX_SQL and self.fingerprint_cache > 0:
            cache = self._fp_cache
            if (len(cache) >= self.fingerprint_cache
                    or self._fp_chars >= self.fingerprint_cache_chars):
                cache.clear()
                self._fp_chars = 0
            cache[sql] = result
            self._fp_chars += len(sql)
        return result

    def add(self, instance_id: str, entry: SlowLogEntry) -> None:
        sql = entry.sql
        hit = self._fp_cache.get(sql)
        if hit is None:
            hit = self._classified(sql)
        fingerprint, query_id = hit
        per_instance = self._stats.get(instance_id)
        if per_instance is None:
            per_instance = self._stats[instance_id] = {}
        stats = per_instance.get(query_id)
        if stats is None:
            stats = per_instance[query_id] = DigestStats(
                instance_id, query_id, fingerprint, self.examples_per_digest,
                self.max_example_chars)
        stats.add(entry)
        self.entries += 1

    def add_error(self, error: BaseException | str) -> None:
        """Count one malformed entry; keep a sample (reason, line, start of text)."""
        self.malformed += 1
        if len(self.error_samples) < self.max_error_samples:
            if isinstance(error, SlowLogParseError):
                reason = getattr(error, "reason", None) or str(error)
            else:
                reason = str(error)
            self.error_samples.append({
                "reason": reason,
                "line": getattr(error, "line", None),
                "text": getattr(error, "text", None),
            })

    def add_all(self, instance_id: str,
                items: Iterable[SlowLogEntry | SlowLogParseError]) -> DigestAggregator:
        """Add the output of :func:`iter_entries` (entries and errors)."""
        # add(), inlined: this loop runs once per entry of a file
        cache = self._fp_cache
        classified = self._classified
        per_instance = self._stats.get(instance_id)
        for item in items:
            if not isinstance(item, SlowLogEntry):
                self.add_error(item)
                continue
            sql = item.sql
            hit = cache.get(sql)
            if hit is None:
                hit = classified(sql)
            if per_instance is None:
                per_instance = self._stats.setdefault(instance_id, {})
            stats = per_instance.get(hit[1])
            if stats is None:
                stats = per_instance[hit[1]] = DigestStats(
                    instance_id, hit[1], hit[0], self.examples_per_digest,
                    self.max_example_chars)
            stats.add(item)
            self.entries += 1
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fp_cache"] = {}  # a cache: not worth sending back from a worker process
        state["_fp_chars"] = 0
        return state

    def merge(self, other: DigestAggregator) -> DigestAggregator:
        """Fold another aggregator (e.g. built by another thread) into this one.

        Merging the aggregates of consecutive parts of a log, in log order, gives what one
        pass over the whole log gives, up to float rounding in sums; except for the names
        counted under ``"(other)"`` once a digest has seen ``MAX_DISTINCT`` users, hosts or
        databases, which depend on where the parts were cut."""
        for instance_id, theirs in other._stats.items():
            mine = self._stats.setdefault(instance_id, {})
            for query_id, stats in theirs.items():
                if query_id in mine:
                    mine[query_id].merge(stats)
                else:
                    copy = DigestStats(instance_id, query_id, stats.fingerprint,
                                       self.examples_per_digest, self.max_example_chars)
                    copy.merge(stats)
                    mine[query_id] = copy
        self.entries += other.entries
        self.malformed += other.malformed
        self.cut_events += getattr(other, "cut_events", 0)
        room = self.max_error_samples - len(self.error_samples)
        if room > 0:
            self.error_samples.extend(other.error_samples[:room])
        return self

    def digests(self, instance_id: str | None = None) -> list[DigestStats]:
        """All digests (or one instance's), ranked by total query time, descending."""
        if instance_id is not None:
            items = list(self._stats.get(instance_id, {}).values())
        else:
            items = [s for per in self._stats.values() for s in per.values()]
        items.sort(key=lambda s: (-s.qt_sum, -s.count, s.instance_id, s.query_id))
        return items

    def get(self, instance_id: str, query_id: str) -> DigestStats | None:
        return self._stats.get(instance_id, {}).get(query_id)

    def __len__(self) -> int:
        return sum(len(per) for per in self._stats.values())

    def summary(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "malformed": self.malformed,
            "digests": len(self),
            "error_samples": list(self.error_samples),
        }


def digest_lines(lines: Iterable[str], instance_id: str, fingerprinter: Fingerprinter,
                 examples_per_digest: int = 5) -> DigestAggregator:
    """Parse a whole slow-log file's lines and aggregate them (streaming)."""
    agg = DigestAggregator(fingerprinter, examples_per_digest)
    return agg.add_all(instance_id, iter_entries(lines))
