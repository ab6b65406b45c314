"""Fleet rows: sums add up across instances, and percentiles come from merged sketches, as
close to the exact percentile of all the values as one sketch is (1% relative error)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from analysis.digest import DigestAggregator, sketch_from_dict, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.fleet import FLEET_INSTANCE, merge_fleet
from analysis.slowlog import SlowLogEntry


def _entries(rng: random.Random, sql: str, times: list[float]) -> list[SlowLogEntry]:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return [SlowLogEntry(time=start + timedelta(seconds=n), user="app", host="10.0.0.1",
                         db="shop", query_time=t, lock_time=0.001, rows_sent=1,
                         rows_examined=rng.randint(1, 1000), sql=sql)
            for n, t in enumerate(times)]


def _stored(instance_id: str, entries: list[SlowLogEntry]) -> list[dict]:
    aggregator = DigestAggregator(fingerprint_and_id)
    for entry in entries:
        aggregator.add(instance_id, entry)
    return [{**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
            for d in aggregator.digests(instance_id)]


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def test_percentiles_are_merged_not_averaged() -> None:
    rng = random.Random(3)
    # three instances with very different distributions of the same statement
    shapes = {"db1": [rng.lognormvariate(-3, 0.5) for _ in range(5000)],
              "db2": [rng.lognormvariate(0, 1.0) for _ in range(300)],
              "db3": [rng.uniform(2, 9) for _ in range(1200)]}
    stored = [d for iid, times in shapes.items()
              for d in _stored(iid, _entries(rng, "SELECT * FROM t WHERE id = 5", times))]
    [row] = merge_fleet(stored, "2026-10")
    everything = [t for times in shapes.values() for t in times]
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = _exact(everything, q)
        assert abs(row["query_time"][name] - exact) <= 0.0101 * exact, (name, exact)
    averaged = sum(d["query_time"]["p95"] for d in stored) / len(stored)
    assert abs(averaged - _exact(everything, 0.95)) > 0.2 * _exact(everything, 0.95)
    assert row["count"] == len(everything)
    assert abs(row["query_time"]["sum"] - sum(everything)) < 1e-3
    assert row["instance_ids"] == ["db1", "db2", "db3"] and row["instance_count"] == 3
    assert row["instance_id"] == FLEET_INSTANCE
    assert [p["instance_id"] for p in row["per_instance"]][0] == "db3"  # heaviest first


def test_rank_is_fleet_wide_and_one_row_per_statement() -> None:
    rng = random.Random(4)
    stored = []
    for iid, own in zip(("db1", "db2", "db3", "db4", "db5"), "vwxyz", strict=True):
        stored += _stored(iid, _entries(rng, "SELECT 1 FROM a WHERE x = 1", [1.0] * 10)
                          + _entries(rng, f"SELECT 2 FROM b_{own} WHERE y = 2", [0.5]))
    rows = merge_fleet(stored, "2026-10")
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["instance_count"] == 5 and rows[0]["count"] == 50
    assert len({r["query_id"] for r in rows}) == len(rows) == 6


def test_a_digest_without_a_sketch_gives_no_percentile_rather_than_a_guess() -> None:
    rng = random.Random(5)
    stored = _stored("db1", _entries(rng, "SELECT 1", [1.0, 2.0]))
    old = {k: v for k, v in _stored("db2", _entries(rng, "SELECT 1", [3.0]))[0].items()
           if k != "sketch"}
    [row] = merge_fleet([*stored, old], "2026-10")
    assert row["query_time"]["p95"] is None and row["count"] == 3


def test_a_sketch_survives_its_round_trip() -> None:
    rng = random.Random(6)
    [digest] = _stored("db1", _entries(rng, "SELECT 1", [rng.expovariate(2) for _ in
                                                          range(999)]))
    again = sketch_from_dict(digest["sketch"])
    assert again.count == 999
    assert round(again.quantile(0.95), 6) == digest["query_time"]["p95"]
