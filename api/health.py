"""`GET /healthz`: is the store usable, is AWS reachable, is the scheduler alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify

from analysis.safe_text import redact_urls
from api.params import query_args
from services import current_services
from store import StoreError
from store.flags import utc_iso

blueprint = Blueprint("health", __name__)
PROBE_FLAG = "healthz.write-probe"


def _redacted(value: Any) -> Any:
    """Every string of the (small) health body without URL credentials: errors recorded by
    an older version, or by a job, may quote AWS_ENDPOINT_URL or DATABASE_URL."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


@blueprint.get("/healthz")
def healthz():
    query_args()
    services = current_services()
    store_error = None
    reasons: list[str] = []
    store_error = None
    try:
        services.store.backend.ping()
        # a store that reads but refuses writes (a read-only file, a full disk) loses runs
        services.store.flags.set(PROBE_FLAG, {"at": utc_iso(datetime.now(UTC))})
        aws = services.inventory.aws_health()
    except StoreError as exc:
        store_error = str(exc)
        reasons.append("the store cannot be read or written")
        aws = {"configured": services.settings.aws_configured}
    if aws.get("ok") is False:
        reasons.append("AWS calls fail")
    scheduler = services.scheduler.status() if services.scheduler else {"running": False,
                                                                        "jobs": []}
    if (services.scheduler is not None and scheduler.get("running") and not store_error
            and scheduler.get("settled") and scheduler.get("leader") is None):
        reasons.append("no process runs the scheduled jobs (no lease holder)")
    body = {
        "status": "degraded" if reasons else "ok",
        "store": services.store.kind,
        "aws": aws,
        "scheduler": scheduler,
    }
    if reasons:
        body["reasons"] = reasons
    if store_error:
        body["store_error"] = store_error
    return jsonify(_redacted(body)), 200
