"""Month over month for the API and the Compare page: reads both months from the store and
hands them to analysis/compare.py (which is pure)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from analysis.compare import CATEGORIES, CompareRules, compare_months, plans_by_statement
from analysis.fleet import FLEET_INSTANCE
from analysis.period import Period, month_period, previous_month
from jobs.fleet import ensure_fleet
from settings import Settings
from store import Store


def _month(key: str) -> Period:
    year, number = (int(part) for part in key.split("-"))
    return month_period(year, number)


def previous_month_key(month: str) -> str:
    """"2026-01" -> "2025-12"."""
    return previous_month(_month(month).start).key


def _range(month: str) -> tuple[str, str]:
    """[start, end) of a month as ISO text that sorts with the stored timestamps."""
    period = _month(month)
    return (f"{period.start.isoformat()}T00:00:00",
            f"{(period.end + timedelta(days=1)).isoformat()}T00:00:00")


def month_over_month(store: Store, settings: Settings, month: str,
                     baseline: str | None = None,
                     instance_id: str | None = None) -> dict[str, Any]:
    """{"month", "baseline", "instance_id", "rules", "counts", "new", "gone", "regressed",
    "improved", "changed", "seconds"}: no instance id compares the fleet rows."""
    started = time.monotonic()
    baseline = baseline or previous_month_key(month)
    if instance_id is None:
        for period in (month, baseline):
            ensure_fleet(store, period)
    now = store.digests.for_compare(month, instance_id)
    before = store.digests.for_compare(baseline, instance_id)
    plans = plans_by_statement(store.plans.history(instance_id))
    rules = CompareRules(settings.regression_ratio, settings.regression_min_calls)
    result = compare_months(now, before, rules=rules, plans=plans, month_range=_range(month),
                            baseline_range=_range(baseline))
    return {
        "month": month, "baseline": baseline, "instance_id": instance_id or FLEET_INSTANCE,
        "rules": {"ratio": rules.ratio, "min_calls": rules.min_calls},
        "counts": {name: len(result[name]) for name in CATEGORIES},
        **result,
        "seconds": round(time.monotonic() - started, 3),
    }


_COUNTS_CACHE: dict[tuple, dict[str, int]] = {}
_COUNTS_LOCK = threading.Lock()
_COUNTS_KEPT = 32


def change_counts(store: Store, settings: Settings, month: str,
                  baseline: str | None = None) -> dict[str, int]:
    """How many statements of the fleet are new, gone, regressed, improved or changed (the
    Overview's badges), remembered until either month's fleet rows are rebuilt: a comparison
    of 100,000 statements takes about a second, and the Overview is the page opened most.
    Which category a statement falls in does not depend on plans, so a new plan keeps them."""
    baseline = baseline or previous_month_key(month)
    for period in (month, baseline):
        ensure_fleet(store, period)
    key = (month, baseline, store.digests.fleet_built_from(month),
           store.digests.fleet_built_from(baseline), settings.regression_ratio,
           settings.regression_min_calls)
    with _COUNTS_LOCK:
        cached = _COUNTS_CACHE.get(key)
    if cached is not None:
        return dict(cached)
    rules = CompareRules(settings.regression_ratio, settings.regression_min_calls)
    result = compare_months(store.digests.for_compare(month), store.digests.for_compare(baseline),
                            rules=rules, plans={}, month_range=_range(month),
                            baseline_range=_range(baseline))
    counts = {name: len(result[name]) for name in CATEGORIES}
    with _COUNTS_LOCK:
        if len(_COUNTS_CACHE) >= _COUNTS_KEPT:
            _COUNTS_CACHE.pop(next(iter(_COUNTS_CACHE)))
        _COUNTS_CACHE[key] = counts
    return dict(counts)
