"""Month-over-month maths on crafted months: every category, every cause, shares add to 1."""

from __future__ import annotations

import math
import random

import pytest

from analysis.compare import (
    CompareRules,
    compare_months,
    decompose,
    describe_causes,
    month_figures,
    plan_change,
)


def digest(query_id: str, calls: int, total: float, *, p95: float | None = None,
           rows: int = 0, lock: float = 0.0, instance_id: str = "db1") -> dict:
    return {"instance_id": instance_id, "query_id": query_id, "fingerprint": f"select {query_id}",
            "count": calls, "query_time": {"sum": total, "p95": p95 if p95 is not None
                                           else total / calls},
            "rows_examined": {"sum": rows}, "lock_time": {"sum": lock}}


def _by_id(result: dict, category: str) -> dict:
    return {item["query_id"]: item for item in result[category]}


def test_each_category() -> None:
    baseline = [digest("slower", 100, 10.0), digest("faster", 100, 30.0),
                digest("same", 100, 10.0), digest("gone", 5, 1.0),
                digest("few", 3, 0.3), digest("tail", 100, 10.0, p95=0.1)]
    month = [digest("slower", 100, 15.0), digest("faster", 100, 20.0),
             digest("same", 120, 12.5), digest("new", 7, 2.0),
             digest("few", 3, 30.0), digest("tail", 100, 10.0, p95=0.15)]
    result = compare_months(month, baseline)
    assert set(_by_id(result, "regressed")) == {"slower", "tail"}  # avg, or p95 alone
    assert set(_by_id(result, "improved")) == {"faster"}  # 30 -> 20 is exactly 1.5x
    assert set(_by_id(result, "changed")) == {"same", "few"}  # "few": under 10 calls
    assert set(_by_id(result, "new")) == {"new"}
    assert set(_by_id(result, "gone")) == {"gone"}
    assert _by_id(result, "new")["new"]["baseline"] is None
    assert _by_id(result, "gone")["gone"]["month"] is None
    assert "causes" not in _by_id(result, "new")["new"]


def test_thresholds_are_settings() -> None:
    result = compare_months([digest("q", 5, 5.0)], [digest("q", 5, 1.0)],
                            rules=CompareRules(ratio=2.0, min_calls=5))
    assert [i["query_id"] for i in result["regressed"]] == ["q"]
    result = compare_months([digest("q", 50, 5.0 * 1.9)], [digest("q", 50, 5.0)],
                            rules=CompareRules(ratio=2.0, min_calls=5))
    assert [i["query_id"] for i in result["changed"]] == ["q"]


@pytest.mark.parametrize("before, now, calls_share", [
    ((100, 1.0), (200, 1.0), 1.0),     # only more calls
    ((100, 1.0), (100, 3.0), 0.0),     # only slower calls
    ((100, 1.0), (200, 2.0), 1 / 3),   # both doubled: ΔT = 3; calls (100)(1.5) = 1.5... /3
])
def test_decomposition_splits_the_change(before, now, calls_share) -> None:
    (n0, a0), (n1, a1) = before, now
    shares = decompose(month_figures(digest("q", n0, n0 * a0)),
                       month_figures(digest("q", n1, n1 * a1)))
    expected_calls = ((n1 - n0) * (a0 + a1) / 2) / (n1 * a1 - n0 * a0)
    assert shares["calls_share"] == pytest.approx(expected_calls, abs=1e-6)
    if calls_share in (0.0, 1.0):
        assert shares["calls_share"] == pytest.approx(calls_share)
    assert shares["calls_share"] + shares["per_call_share"] == pytest.approx(1, abs=1e-9)


def test_shares_add_up_to_one_on_random_months() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        n0, n1 = rng.randint(1, 10_000), rng.randint(1, 10_000)
        a0, a1 = rng.uniform(0.001, 50), rng.uniform(0.001, 50)
        before = month_figures(digest("q", n0, round(n0 * a0, 6)))
        now = month_figures(digest("q", n1, round(n1 * a1, 6)))
        shares = decompose(before, now)
        if shares["calls_share"] is None:
            continue
        assert math.isclose(shares["calls_share"] + shares["per_call_share"], 1, abs_tol=1e-6)
        # and the parts rebuild the change in total time
        delta = now["total"] - before["total"]
        parts = ((n1 - n0) * (now["avg"] + before["avg"]) / 2
                 + (now["avg"] - before["avg"]) * (n0 + n1) / 2)
        assert math.isclose(parts, delta, rel_tol=1e-9, abs_tol=1e-9)


def test_no_change_in_total_has_no_shares() -> None:
    assert decompose(month_figures(digest("q", 100, 10.0)),
                     month_figures(digest("q", 50, 10.0))) == {"calls_share": None,
                                                               "per_call_share": None}


def test_opposite_factors_give_a_share_above_one() -> None:
    # calls halved, each call four times slower: total doubles, all of it (and more) per call
    shares = decompose(month_figures(digest("q", 100, 10.0)), month_figures(digest("q", 50,
                                                                                   20.0)))
    assert shares["per_call_share"] > 1 and shares["calls_share"] < 0


def test_rows_and_lock_ratios_are_per_call() -> None:
    result = compare_months([digest("q", 200, 40.0, rows=200 * 4000, lock=2.0)],
                            [digest("q", 100, 10.0, rows=100 * 100, lock=0.5)])
    causes = result["regressed"][0]["causes"]
    assert causes["rows_examined_ratio"] == 40.0
    assert causes["lock_ratio"] == 2.0
    assert causes["per_call_ratio"] == 2.0
    assert causes["plan_changed"] is None  # no plans given


def _plan(plan_hash: str, first: str, last: str, access: str, key: str | None) -> dict:
    return {"plan_hash": plan_hash, "plan_id": f"db1|q|{plan_hash}", "first_seen": first,
            "last_seen": last, "root": {"operation": "Table scan", "children": [
                {"table": "orders", "access_type": access, "key": key, "children": []}]}}


def test_plan_change_between_months() -> None:
    october = ("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z")
    november = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    ref = _plan("a", "2026-10-03T00:00:00Z", "2026-11-02T00:00:00Z", "ref", "idx_created")
    scan = _plan("b", "2026-11-05T00:00:00Z", "2026-11-20T00:00:00Z", "ALL", None)
    changed = plan_change([ref, scan], november, october)
    assert changed["plan_changed"] is True
    assert changed["plan_before"] == "ref on orders (idx_created)"
    assert changed["plan_now"] == "ALL on orders"
    assert plan_change([ref], november, october) == {"plan_changed": False}
    assert plan_change([scan], november, october) == {"plan_changed": None}

    result = compare_months([digest("q", 100, 310.0, rows=100 * 4000)],
                            [digest("q", 100, 100.0, rows=100 * 100)],
                            plans={("db1", "q"): [ref, scan]}, month_range=november,
                            baseline_range=october)
    item = result["regressed"][0]
    assert item["causes"]["plan_changed"] is True
    assert describe_causes(item) == (
        "3.1× slower per call; 100% of the change from time per call; rows examined per call "
        "40×; plan changed from ref on orders (idx_created) to ALL on orders")


def test_worst_first() -> None:
    baseline = [digest(q, 100, 10.0) for q in ("a", "b", "c")]
    month = [digest("a", 100, 20.0), digest("b", 100, 90.0), digest("c", 100, 40.0)]
    assert [i["query_id"] for i in compare_months(month, baseline)["regressed"]] == \
        ["b", "c", "a"]


def test_fleet_rows_match_on_the_query_id() -> None:
    fleet = [{**digest("q", 100, 30.0), "instance_id": None, "instance_ids": ["db1", "db2"]}]
    before = [{**digest("q", 100, 10.0), "instance_id": None}]
    item = compare_months(fleet, before)["regressed"][0]
    assert item["instance_id"] == "(fleet)" and item["instance_ids"] == ["db1", "db2"]
