"""EXPLAIN on demand: the plan of a collected digest's statement, taken now on its instance.

A digest from CloudWatch holds the month's slowest examples but no plan (only statements
caught running get one). An operator asks for one from the digest window or
`POST /api/digests/<instance_id>/<period>/<query_id>/explain`; this job picks the slowest
example that can be explained, runs the same safe EXPLAIN the real-time capture uses
(collectors.explain.explain: its own read-only, time-limited session, SELECT only, never
EXPLAIN ANALYZE) with the monitoring account, and stores the plan under the digest's query id.
Per the architecture the collector only returns the plan; storing it is the job's.

Every refusal is an `ExplainRefused` with an HTTP status and one sentence the operator can act
on: 400/404/409/422 for what is wrong with the request or the setup, 502 when the server did
not answer or ran out of time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from analysis.explainable import NotExplainable, explainable_select
from analysis.fleet import FLEET_INSTANCE
from collectors.explain import ExplainError, ExplainResult, explain
from collectors.processlist import ConnectionSettingsError, connection_params
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
SOURCE = "on_demand"  # stored with the plan: taken on request, not from a live capture


class ExplainRefused(RuntimeError):
    """No plan was taken; `status` is the HTTP answer and the message says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def pick_example(examples: list[Mapping[str, Any]] | None) -> Mapping[str, Any]:
    """The slowest example that can be explained whole (a truncated text cannot be parsed by
    the server). Raises ExplainRefused (422) with the slowest one's reason otherwise."""
    if not examples:
        raise ExplainRefused("not explainable: the digest kept no example statement", 422)
    reasons = []
    for example in sorted(examples, key=lambda e: -(e.get("query_time") or 0.0)):
        if example.get("truncated"):
            reasons.append("its text was truncated in the slow log")
            continue
        try:
            explainable_select(example.get("sql") or "")
        except NotExplainable as exc:
            reasons.append(exc.reason)
            continue
        return example
    raise ExplainRefused(f"not explainable: {reasons[0]}", 422)


def _failure(result: ExplainResult, where: str) -> ExplainRefused | None:
    """A refusal for an EXPLAIN that produced nothing (timed out or every format failed)."""
    if result.explained:
        return None
    reasons = "; ".join(f"{name}: {value.get('error')}" for name, value in
                        result.formats.items() if value.get("error"))
    if result.timed_out:
        killed = " (the query was killed on the server)" if result.killed else ""
        return ExplainRefused(f"EXPLAIN timed out on {where}{killed}: {reasons}", 502)
    return ExplainRefused(f"EXPLAIN failed on {where}: {reasons}", 502)


# (instance, sql, db) -> the plan: the instance's server by default; the demo's recordings
Explainer = Callable[[Mapping[str, Any], str, "str | None"], ExplainResult]


def explain_digest(store: Store, settings: Settings, instance_id: str, period: str,
                   query_id: str, *, now: datetime | None = None,
                   explainer: Explainer | None = None) -> dict[str, str]:
    """Explain one digest's statement on its instance now and store the plan.

    Returns {"plan_id", "plan_hash"}; raises ExplainRefused with the status and reason.
    `explainer` replaces the server (the demo has none: services.explainer).
    """
    if instance_id == FLEET_INSTANCE:
        raise ExplainRefused("EXPLAIN runs on one instance: open the statement's digest of "
                             "one instance", 400)
    digest = store.digests.get(instance_id, period, query_id)
    if digest is None:
        raise ExplainRefused("no such digest", 404)
    instance = store.instances.get(instance_id)
    if instance is None:
        raise ExplainRefused(f"{instance_id} is not in the inventory, so there is no server "
                             "to explain on", 409)
    if instance.get("gone"):
        raise ExplainRefused(f"{instance_id} is gone from the inventory", 409)
    example = pick_example(digest.get("examples"))
    if explainer is None:
        try:
            params = connection_params(instance, settings)
        except ConnectionSettingsError as exc:
            raise ExplainRefused(str(exc), 409) from None
        where = f"{instance_id} ({params.host}:{params.port})"

        def explainer(_instance: Mapping[str, Any], sql: str, db: str | None) -> ExplainResult:
            return explain(params, sql, db, settings.explain_timeout_seconds,
                           instance_id=instance_id)
    else:
        where = instance_id
    try:
        result = explainer(instance, example["sql"], example.get("db"))
    except NotExplainable as exc:
        raise ExplainRefused(f"not explainable: {exc.reason}", 422) from None
    except ExplainError as exc:
        raise ExplainRefused(f"{instance_id} could not be reached: {exc}", 502) from None
    failure = _failure(result, where)
    if failure is not None:
        log.info("EXPLAIN on demand of %s on %s: %s", query_id, instance_id, failure.message)
        raise failure
    document = {**result.document(), "query_id": query_id, "source": SOURCE,
                "period": period}
    plan_id = store.plans.record(document, utc_iso(now or datetime.now(UTC)))
    return {"plan_id": plan_id, "plan_hash": result.plan_hash}
