"""Plans of statements caught running: explained by the collector, stored here.

The real-time capture asks for a plan of each new SELECT-like statement it catches. The
collector (collectors.explain.explain_plan) only reads the plan from the instance; this job
keeps it in store.plans, so collectors stay free of the store (the architecture's rule: jobs
are the only writers of what collectors read).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from collectors.explain import PlanUnavailable, explain_plan
from collectors.processlist import ConnectionParams, connection_params
from jobs.realtime import PlanRecorder
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)


def explain_and_record(store: Store, instance_id: str, sql: str, db: str | None,
                       params: ConnectionParams, *, timeout_seconds: float = 5.0,
                       now: datetime | None = None) -> str:
    """Explain ``sql`` on its instance and keep the plan; return its id.

    Raises PlanUnavailable with the reason, which the real-time capture shows beside the
    statement.
    """
    document = explain_plan(params, sql, db, instance_id=instance_id,
                            timeout_seconds=timeout_seconds)
    return store.plans.record(document, utc_iso(now or datetime.now(UTC)))


def record_plan(store: Store, instance_id: str, sql: str, db: str | None,
                params: ConnectionParams, *, timeout_seconds: float = 5.0,
                now: datetime | None = None) -> str | None:
    """Like explain_and_record, but None instead of raising (the reason is logged)."""
    try:
        return explain_and_record(store, instance_id, sql, db, params,
                                  timeout_seconds=timeout_seconds, now=now)
    except PlanUnavailable as exc:
        log.warning("plan for %s not recorded: %s", instance_id, exc)
        return None


def live_plan_recorder(settings: Settings, store: Store) -> PlanRecorder:
    """The real-time capture's plan step: EXPLAIN with the monitoring account (read-only)."""

    def record(instance: dict[str, Any], capture: dict[str, Any]) -> str:
        return explain_and_record(store, instance["instance_id"], capture["sql_text"],
                                  capture.get("db"), connection_params(instance, settings),
                                  timeout_seconds=settings.explain_timeout_seconds)

    return record
