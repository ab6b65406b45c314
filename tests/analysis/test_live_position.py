"""Where a live duration sits in its month, checked against exact percentiles of generated
query times (the sketch's error is bounded by one bucket: a factor gamma either way)."""

from __future__ import annotations

import bisect
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.digest import QuantileSketch, sketch_to_dict
from analysis.live_position import (
    NOT_COLLECTED,
    choose_digest,
    digest_url,
    distinct_plans,
    faster_share,
    format_share,
    link_captures,
    position,
)
from analysis.period import period_label


def _month(values: list[float], alpha: float = 0.01) -> tuple[dict, dict]:
    """(query_time as a digest stores it, the stored sketch) for these call times."""
    sketch = QuantileSketch(alpha)
    for value in values:
        sketch.add(value)
    query_time = {"max": max(values), "p50": sketch.quantile(0.50),
                  "p95": sketch.quantile(0.95), "p99": sketch.quantile(0.99)}
    return query_time, sketch_to_dict(sketch)


def _exact_percentile(ordered: list[float], q: float) -> float:
    """The sample the sketch approximates: rank floor(q * (n - 1)) of the sorted values."""
    return ordered[int(q * (len(ordered) - 1))]


def _share_below(ordered: list[float], x: float) -> float:
    return bisect.bisect_left(ordered, x) / len(ordered)


def _share_at_or_below(ordered: list[float], x: float) -> float:
    return bisect.bisect_right(ordered, x) / len(ordered)


@pytest.mark.parametrize("seed", range(5))
def test_share_is_within_one_bucket_of_the_exact_share(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(0.0, 1.2) for _ in range(5000)]
    ordered = sorted(values)
    _qt, sketch = _month(values)
    gamma = (1 + sketch["alpha"]) / (1 - sketch["alpha"])
    probes = ordered[::97] + [rng.uniform(ordered[0], ordered[-1]) for _ in range(200)]
    worst = 0.0
    for duration in probes:
        share = faster_share(sketch, duration)
        assert share is not None
        low, high = _share_below(ordered, duration / gamma), _share_at_or_below(
            ordered, duration * gamma)
        assert low <= share + 1e-12 and share <= high + 1e-12, (duration, low, share, high)
        worst = max(worst, abs(share - _share_below(ordered, duration)))
    # and in practice close: a bucket of a 1% sketch holds well under 2% of these calls
    assert worst < 0.02


def test_share_is_exact_outside_the_range_and_for_empty_sketches() -> None:
    _qt, sketch = _month([0.5, 1.0, 2.0, 4.0])
    assert faster_share(sketch, 4.0001) == 1.0
    assert faster_share(sketch, 0.5) == 0.0
    assert faster_share(sketch, 0.1) == 0.0
    assert faster_share(None, 3.0) is None
    assert faster_share({"alpha": 0.01, "zero": 0, "count": 0, "min": None, "max": None,
                         "bins": []}, 3.0) is None
    # calls that took 0 s count as faster than anything above 0
    _qt, zeros = _month([0.0] * 3 + [1.0])
    assert faster_share(zeros, 0.5) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", range(3))
def test_bands_agree_with_the_exact_percentiles(seed: int) -> None:
    rng = random.Random(100 + seed)
    values = [rng.expovariate(1 / 3.0) for _ in range(20000)]
    ordered = sorted(values)
    qt, sketch = _month(values)
    exact = {q: _exact_percentile(ordered, q) for q in (0.50, 0.95, 0.99)}
    # the stored percentiles are within alpha of the exact ones ...
    for q, key in ((0.50, "p50"), (0.95, "p95"), (0.99, "p99")):
        assert abs(qt[key] - exact[q]) <= 0.01 * exact[q] + 1e-12
    # ... so 3% beyond an exact percentile is always on the right side of the stored one
    cases = [(exact[0.50] * 0.97, "below_p50", "below p50 of October 2026"),
             (exact[0.50] * 1.03, "p50_p95", "between p50 and p95 of October 2026"),
             (exact[0.95] * 1.03, "p95_p99", "between p95 and p99 of October 2026"),
             (exact[0.99] * 1.03, "above_p99", "above p99 of October 2026")]
    for duration, band, label in cases:
        where = position(qt, sketch, duration, "2026-10")
        assert (where.band, where.label) == (band, label), duration
        assert label.startswith(where.short) and where.short + " of October 2026" == label
        assert where.faster_share is not None
    # the share agrees with the band: past p99 means faster than ~99% of the calls
    assert position(qt, sketch, exact[0.99] * 1.03, "2026-10").faster_share > 0.985
    assert position(qt, sketch, exact[0.50] * 0.97, "2026-10").faster_share < 0.5


def test_slower_than_every_call_names_the_max() -> None:
    qt, sketch = _month([1.0, 2.0, 12.3])
    where = position(qt, sketch, 15.0, "2026-10")
    assert where.band == "above_max"
    assert where.label == "slower than every call in October 2026 (max 12.3 s)"
    assert where.short == "slower than every call (max 12.3 s)"
    assert where.faster_share == 1.0
    assert "slower than 100 % of the month's calls" in where.detail
    assert "p99 1.99 s · max 12.3 s" in where.detail  # the lower percentile: rank 1 of 3


def test_a_digest_without_a_sketch_still_gets_a_band() -> None:
    where = position({"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0}, None, 2.5, "2026-09")
    assert (where.band, where.label, where.faster_share) == (
        "p95_p99", "between p95 and p99 of September 2026", None)
    assert position({}, None, 1.0, "2026-09").band == "unknown"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=1e5), min_size=1, max_size=300),
       st.floats(min_value=1e-7, max_value=2e5))
def test_share_bound_holds_for_any_data(values: list[float], duration: float) -> None:
    ordered = sorted(values)
    _qt, sketch = _month(values)
    gamma = (1 + sketch["alpha"]) / (1 - sketch["alpha"])
    share = faster_share(sketch, duration)
    assert share is not None and 0.0 <= share <= 1.0
    assert _share_below(ordered, duration / gamma) <= share + 1e-9
    assert share <= _share_at_or_below(ordered, duration * gamma) + 1e-9
    assert not math.isnan(share)


def test_format_share_never_rounds_up_to_all() -> None:
    assert [format_share(s) for s in (None, 1.0, 0.99996, 0.9968, 0.5, 0.0004, 0.0)] == [
        "—", "100 %", "more than 99.9 %", "99.7 %", "50.0 %", "less than 0.1 %", "0.0 %"]


def test_period_label() -> None:
    assert period_label("2026-10") == "October 2026"
    assert period_label("2026-10-01_2026-10-15") == "2026-10-01 – 2026-10-15"
    assert period_label("2026-13") == "2026-13"


def test_the_capture_month_wins_else_the_latest_collected_month() -> None:
    digests = [{"period": "2026-11"}, {"period": "2026-10"}, {"period": "2026-09"},
               {"period": "2026-12-01_2026-12-15"}]
    assert choose_digest(digests, "2026-10")["period"] == "2026-10"
    assert choose_digest(digests, "2027-01")["period"] == "2026-11"  # months before ranges
    assert choose_digest([{"period": "2026-12-01_2026-12-15"}], "2027-01")["period"] == \
        "2026-12-01_2026-12-15"
    assert choose_digest([], "2026-10") is None


def test_link_captures_reads_once_per_statement() -> None:
    qt, sketch = _month([1.0, 2.0, 3.0, 4.0, 5.0])
    stored = {("db-1", "q1"): [{"period": "2026-10", "query_time": qt, "sketch": sketch,
                                "count": 5}]}
    calls: list[tuple[str, str]] = []

    def lookup(instance_id: str, query_id: str) -> list[dict]:
        calls.append((instance_id, query_id))
        return stored.get((instance_id, query_id), [])

    captures = [{"id": f"c{n}", "instance_id": "db-1", "query_id": "q1", "duration": 6.0,
                 "start": "2026-11-02T10:00:00.000000Z"} for n in range(4)]
    captures += [{"id": "x", "instance_id": "db-2", "query_id": "q1", "duration": 3.0,
                  "start": "2026-10-02T10:00:00.000000Z"},
                 {"id": "y", "instance_id": "db-1", "query_id": None, "duration": 3.0}]
    links = link_captures(captures, lookup)
    assert calls == [("db-1", "q1"), ("db-2", "q1")]
    assert links["c0"]["digest"] == {
        "instance_id": "db-1", "period": "2026-10", "period_label": "October 2026",
        "query_id": "q1", "count": 5,
        "url": "/digests?instance_id=db-1&period=2026-10&query_id=q1"}
    assert links["c0"]["position"]["band"] == "above_max"
    assert links["x"] == {"digest": None, "position": None, "note": NOT_COLLECTED}
    assert links["y"]["note"] == NOT_COLLECTED


def test_digest_url_quotes_odd_instance_ids() -> None:
    assert digest_url("db 1&x", "2026-10", "ab") == \
        "/digests?instance_id=db+1%26x&period=2026-10&query_id=ab"


def test_distinct_plans_merge_instances_by_shape() -> None:
    plans = [
        {"plan_id": "a|q|h1", "instance_id": "a", "plan_hash": "h1", "seen_count": 2,
         "first_seen": "2026-10-01T00:00:00Z", "last_seen": "2026-10-03T00:00:00Z"},
        {"plan_id": "b|q|h1", "instance_id": "b", "plan_hash": "h1", "seen_count": 1,
         "first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-10-05T00:00:00Z"},
        {"plan_id": "a|q|h2", "instance_id": "a", "plan_hash": "h2", "seen_count": 1,
         "first_seen": "2026-10-04T00:00:00Z", "last_seen": "2026-10-04T00:00:00Z",
         "findings": [{"code": "filesort"}]},
    ]
    merged = distinct_plans(plans)
    assert [p["plan_hash"] for p in merged] == ["h1", "h2"]
    assert merged[0] == {"plan_hash": "h1", "plan_id": "b|q|h1",
                         "first_seen": "2026-09-01T00:00:00Z",
                         "last_seen": "2026-10-05T00:00:00Z", "seen_count": 3,
                         "instances": ["a", "b"], "findings": 0, "source": None}
    assert merged[1]["findings"] == 1
