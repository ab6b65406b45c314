"""Slow-log coverage of an instance: gather the inputs, run :mod:`analysis.coverage`, keep it.

RDS is asked (:mod:`collectors.rds_params`) at most once an hour per instance: its answer is
cached in the store (``store.coverage``), because log settings change rarely and a page listing
hundreds of instances must not call AWS for each.  What the store knows (months collected,
per-day totals, statements cut) is read fresh every time.  The last report of each instance
is kept, so the Instances page and the Overview show coverage without calling AWS at all.

``truncated_events`` counts the events CloudWatch cut at its size limit (256 KiB), as the
collection counted them while parsing (per instance and month, days summed). A month
collected by an older version has no count: there, the statements whose logged example was
cut are counted (at most :data:`TRUNCATION_SCAN` of the heaviest per month are looked at).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analysis.coverage import CoverageInputs, evaluate
from collectors.rds_params import CoverageReadError, read_log_settings
from settings import Settings
from store import Store, StoreError

log = logging.getLogger(__name__)

__all__ = ["AWS_TTL", "TRUNCATION_SCAN", "cached_reports", "check_all", "check_instance"]

AWS_TTL = timedelta(hours=1)
TRUNCATION_SCAN = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fresh(answer: dict[str, Any] | None, now: datetime) -> bool:
    if not answer or not answer.get("read_at"):
        return False
    try:
        read_at = datetime.strptime(answer["read_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return now - read_at < AWS_TTL


def _aws_answer(store: Store, settings: Settings, instance: dict[str, Any], *,
                refresh: bool, allow_aws: bool, now: datetime) -> dict[str, Any] | None:
    """RDS's answer for the instance: cached if fresh, else read (and cached) when allowed."""
    instance_id = instance["instance_id"]
    cached = store.coverage.aws_answer(instance_id)
    if not allow_aws or (not refresh and _fresh(cached, now)):
        return cached
    if not settings.aws_configured:
        return {"error": "AWS is not configured: set AWS_REGION to read the instance's log "
                         "settings", "read_at": _iso(now)}
    try:
        answer = {**read_log_settings(settings, instance_id), "error": None}
    except CoverageReadError as exc:
        answer = {"error": str(exc)}
    answer["read_at"] = _iso(now)
    store.coverage.save_aws_answer(instance_id, answer)
    return answer


def _truncated(store: Store, instance_id: str, period: str) -> int:
    """Events of the month CloudWatch cut at its size limit, as the collection counted them;
    for a month collected before it counted them, the statements whose example was cut."""
    stored = store.digests.stored(instance_id, period) or {}
    if stored.get("cut_events") is not None:
        return int(stored["cut_events"])
    rows, _total = store.digests.page(instance_id=instance_id, period=period,
                                      limit=TRUNCATION_SCAN)
    return sum(1 for row in rows if any(ex.get("truncated") for ex in row.get("examples") or []))


def check_instance(store: Store, settings: Settings, instance_id: str, *,
                   refresh: bool = False, allow_aws: bool = True,
                   today: date | None = None) -> dict[str, Any] | None:
    """The coverage report of one instance (None when the store does not know it), saved as
    its last report.  ``allow_aws=False`` uses only what is cached; ``refresh`` ignores the
    cache."""
    instance = store.instances.get(instance_id)
    if instance is None:
        return None
    now = _now()
    source = instance.get("source", "rds")
    answer = None
    if source == "rds":
        answer = _aws_answer(store, settings, instance, refresh=refresh, allow_aws=allow_aws,
                             now=now)
    aws_error = (answer or {}).get("error")
    exports = (answer or {}).get("exports") if answer and not aws_error else None
    exports_from = (answer or {}).get("exports_from", "instance")
    if exports is None and not instance.get("cluster_id") and "log_exports" in instance \
            and not aws_error:
        exports = instance["log_exports"]  # from discovery: no call needed for this one
    periods = store.digests.periods(instance_id)
    inputs = CoverageInputs(
        instance_id=instance_id,
        today=today or now.date(),
        source=source,
        exports=exports,
        exports_from=exports_from if exports is not None else
        ("cluster" if instance.get("cluster_id") else "instance"),
        aws_error=aws_error or (None if answer else "not read from RDS yet: check it"),
        parameters=(answer or {}).get("parameters") if answer and not aws_error else None,
        parameters_error=(answer or {}).get("parameters_error"),
        parameter_group=(answer or {}).get("parameter_group") or instance.get(
            "parameter_group", ""),
        periods=periods,
        daily={period: store.digests.daily(period).get(instance_id) or {}
               for period in periods},
        truncated={period: _truncated(store, instance_id, period) for period in periods},
    )
    report = evaluate(inputs)
    report["checked_at"] = _iso(now)
    report["aws_read_at"] = (answer or {}).get("read_at")
    try:
        store.coverage.save_report(instance_id, report)
    except StoreError as exc:  # the answer stands; the pages just show the older one
        log.warning("coverage report of %s not kept: %s", instance_id, exc)
    return report


def check_all(store: Store, settings: Settings, *, refresh: bool = False) -> int:
    """Check every instance not gone (RDS read where the cache is stale); how many."""
    count = 0
    for instance in store.instances.list(include_gone=False):
        check_instance(store, settings, instance["instance_id"], refresh=refresh)
        count += 1
    return count


def cached_reports(store: Store) -> dict[str, dict[str, Any]]:
    """Every instance's last report, without calling AWS or reading digests."""
    return store.coverage.reports()

