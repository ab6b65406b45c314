"""Month over month: which statements are new, gone, regressed or improved, and why.

Pure: it takes the two months' digests (dicts in the store's shape) and, optionally, the
plans seen for them, and returns the comparison the API and the Compare page show.

**Causes.** A statement's total time is calls × time per call, T = n·a. Its change
ΔT = T₁ − T₀ is split into a part from the number of calls and a part from the time per call
with the symmetric (Shapley, "midpoint") two-factor decomposition:

    calls part    = (n₁ − n₀) · (a₀ + a₁) / 2
    per-call part = (a₁ − a₀) · (n₀ + n₁) / 2

The two parts add up to ΔT exactly, whatever the sizes of the changes, and neither factor is
favoured by the order of evaluation (unlike the usual "hold one fixed" split). The shares are
each part ÷ ΔT, so they add up to 1; a share above 1 with the other negative means the two
factors pulled in opposite directions (calls fell, but each call got much slower). When the
total did not change, the shares are null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REGRESSION_RATIO = 1.5
REGRESSION_MIN_CALLS = 10
CATEGORIES = ("regressed", "new", "improved", "gone", "changed")
FLEET = "(fleet)"


@dataclass(frozen=True)
class CompareRules:
    """When a change counts: per-call ratio and the calls needed in both months."""

    ratio: float = REGRESSION_RATIO
    min_calls: int = REGRESSION_MIN_CALLS


DEFAULT_RULES = CompareRules()


def _per_call(digest: Mapping[str, Any], name: str) -> float:
    count = digest.get("count") or 0
    total = (digest.get(name) or {}).get("sum") or 0
    return total / count if count else 0.0


def month_figures(digest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One month's side of an item: calls, total, avg, p95, rows examined and lock time."""
    if digest is None:
        return None
    query_time = digest.get("query_time") or {}
    return {
        "calls": digest.get("count") or 0,
        "total": query_time.get("sum") or 0.0,
        "avg": _per_call(digest, "query_time"),
        "p95": query_time.get("p95"),
        "rows_examined": (digest.get("rows_examined") or {}).get("sum") or 0,
        "rows_examined_avg": _per_call(digest, "rows_examined"),
        "lock_time": (digest.get("lock_time") or {}).get("sum") or 0.0,
        "lock_time_avg": _per_call(digest, "lock_time"),
    }


def _ratio(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return now / before


def decompose(before: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, float | None]:
    """Shares of the change in total time from calls and from time per call (sum to 1)."""
    n0, n1 = before["calls"], now["calls"]
    a0, a1 = before["avg"], now["avg"]
    delta = now["total"] - before["total"]
    if abs(delta) < 1e-9:
        return {"calls_share": None, "per_call_share": None}
    calls_part = (n1 - n0) * (a0 + a1) / 2  # + (a1 - a0)(n0 + n1)/2, the per-call part, = ΔT
    calls_share = round(calls_part / delta, 6)
    return {"calls_share": calls_share, "per_call_share": round(1 - calls_share, 6)}


def _category(before: Mapping[str, Any], now: Mapping[str, Any], rules: CompareRules) -> str:
    if before["calls"] < rules.min_calls or now["calls"] < rules.min_calls:
        return "changed"
    ratios = [_ratio(now["avg"], before["avg"]), _ratio(now["p95"], before["p95"])]
    at_least = rules.ratio * (1 - 1e-9)  # 0.15 / 0.1 is 1.4999999999999998 in floats
    if any(r is not None and r >= at_least for r in ratios):
        return "regressed"
    if any(r is not None and r > 0 and 1 / r >= at_least for r in ratios):
        return "improved"
    return "changed"


def plan_shape(plan: Mapping[str, Any]) -> str:
    """"ALL on orders" / "ref on orders (idx_created)": how each table is read, in words."""
    parts: list[str] = []
    stack = [plan.get("root")] if plan.get("root") else []
    while stack:
        node = stack.pop()
        if node.get("table") and node.get("access_type"):
            key = f" ({node['key']})" if node.get("key") else ""
            parts.append(f"{node['access_type']} on {node['table']}{key}")
        stack.extend(reversed(node.get("children") or []))
    return ", ".join(parts) or "unparsed plan"


def plan_change(plans: Iterable[Mapping[str, Any]], month: tuple[str, str],
                baseline: tuple[str, str]) -> dict[str, Any]:
    """Did the plan change between the months? Plans count for a month when they were seen in
    it ([first_seen, last_seen] overlaps [start, end)); the latest one seen stands for it.
    `plan_changed` is None when either month has no plan."""

    def latest_in(period: tuple[str, str]) -> Mapping[str, Any] | None:
        start, end = period
        seen = [p for p in plans if p.get("first_seen", "") < end
                and p.get("last_seen", "") >= start]
        return max(seen, key=lambda p: p.get("last_seen", ""), default=None)

    plans = list(plans)
    now, before = latest_in(month), latest_in(baseline)
    if now is None or before is None:
        return {"plan_changed": None}
    changed = now.get("plan_hash") != before.get("plan_hash")
    result: dict[str, Any] = {"plan_changed": changed}
    if changed:
        result["plan_before"] = plan_shape(before)
        result["plan_now"] = plan_shape(now)
        result["plan_ids"] = [before.get("plan_id"), now.get("plan_id")]
    return result


def _plan_causes(key: tuple[str, str],
                 plans: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]],
                 month: tuple[str, str], baseline: tuple[str, str]) -> dict[str, Any]:
    """An instance's plan change; for a fleet row, changed if any instance's plan changed
    (that instance is named), unchanged if every instance with plans kept its plan."""
    if key[0] != FLEET:
        return plan_change(plans.get(key, ()), month, baseline)
    found: dict[str, Any] = {"plan_changed": None}
    for (instance_id, query_id), instance_plans in sorted(plans.items()):
        if query_id != key[1]:
            continue
        change = plan_change(instance_plans, month, baseline)
        if change["plan_changed"]:
            return {**change, "plan_instance_id": instance_id}
        if change["plan_changed"] is False:
            found = change
    return found


def plans_by_statement(plans: Iterable[Mapping[str, Any]]
                       ) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """Stored plans grouped the way compare_months looks them up."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for plan in plans:
        grouped.setdefault((plan["instance_id"], plan["query_id"]), []).append(plan)
    return grouped


def compare_months(
    month: Iterable[Mapping[str, Any]],
    baseline: Iterable[Mapping[str, Any]],
    *,
    rules: CompareRules = DEFAULT_RULES,
    plans: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]] | None = None,
    month_range: tuple[str, str] | None = None,
    baseline_range: tuple[str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Items per category, the worst first. Digests are matched on (instance_id, query_id);
    fleet rows carry instance_id FLEET. `plans` maps that key to the plans seen for it, and
    the ranges are each month's [start, end) as ISO strings, for `plan_changed`."""
    now_by = {(d.get("instance_id") or FLEET, d["query_id"]): d for d in month}
    before_by = {(d.get("instance_id") or FLEET, d["query_id"]): d for d in baseline}
    result: dict[str, list[dict[str, Any]]] = {name: [] for name in CATEGORIES}
    for key in now_by.keys() | before_by.keys():
        now_doc, before_doc = now_by.get(key), before_by.get(key)
        now, before = month_figures(now_doc), month_figures(before_doc)
        item: dict[str, Any] = {
            "query_id": key[1], "instance_id": key[0],
            "fingerprint": (now_doc or before_doc).get("fingerprint"),
            "month": now, "baseline": before,
        }
        if now_doc and now_doc.get("instance_ids"):
            item["instance_ids"] = now_doc["instance_ids"]
        if now is None:
            result["gone"].append(item)
            continue
        if before is None:
            result["new"].append(item)
            continue
        causes: dict[str, Any] = {
            **decompose(before, now),
            "rows_examined_ratio": _round(_ratio(now["rows_examined_avg"],
                                                 before["rows_examined_avg"])),
            "lock_ratio": _round(_ratio(now["lock_time_avg"], before["lock_time_avg"])),
            "per_call_ratio": _round(_ratio(now["avg"], before["avg"])),
            "plan_changed": None,
        }
        if plans is not None and month_range and baseline_range:
            causes.update(_plan_causes(key, plans, month_range, baseline_range))
        item["causes"] = causes
        result[_category(before, now, rules)].append(item)

    def growth(item: dict[str, Any]) -> float:
        return (item["month"] or {}).get("total", 0.0) - (item["baseline"] or {}).get("total",
                                                                                      0.0)

    result["regressed"].sort(key=lambda i: (-growth(i), i["query_id"], i["instance_id"]))
    result["new"].sort(key=lambda i: (-growth(i), i["query_id"], i["instance_id"]))
    result["changed"].sort(key=lambda i: (-growth(i), i["query_id"], i["instance_id"]))
    result["improved"].sort(key=lambda i: (growth(i), i["query_id"], i["instance_id"]))
    result["gone"].sort(key=lambda i: (growth(i), i["query_id"], i["instance_id"]))
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def describe_causes(item: Mapping[str, Any]) -> str:
    """The causes in words: "3.1× slower per call; rows examined per call 40×; plan changed
    from ref on orders (idx_created) to ALL on orders"."""
    causes = item.get("causes") or {}
    words: list[str] = []
    ratio = causes.get("per_call_ratio")
    if ratio is not None and abs(ratio - 1) >= 0.05:
        words.append(f"{ratio:.1f}× slower per call" if ratio > 1
                     else f"{1 / ratio:.1f}× faster per call" if ratio > 0 else "")
    now, before = item.get("month") or {}, item.get("baseline") or {}
    if before.get("calls") and now.get("calls") is not None:
        calls = now["calls"] / before["calls"]
        if abs(calls - 1) >= 0.05:
            words.append(f"{calls:.1f}× the calls" if calls >= 1
                         else f"{1 / calls:.1f}× fewer calls")
    share = causes.get("per_call_share")
    if share is not None and 0 <= share <= 1 and words:
        words.append(f"{share:.0%} of the change from time per call")
    rows = causes.get("rows_examined_ratio")
    if rows is not None and abs(rows - 1) >= 0.5:
        words.append(f"rows examined per call {rows:.3g}×")
    lock = causes.get("lock_ratio")
    if lock is not None and abs(lock - 1) >= 0.5:
        words.append(f"lock time per call {lock:.3g}×")
    if causes.get("plan_changed"):
        words.append(f"plan changed from {causes.get('plan_before')} to "
                     f"{causes.get('plan_now')}")
    return "; ".join(w for w in words if w) or "no notable change per call"
