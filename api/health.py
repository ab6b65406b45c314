"""`GET /healthz`: is the store usable, is AWS reachable, is the scheduler alive."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from analysis.safe_text import redact_urls
from api.params import query_args
from services import current_services
from store import StoreError

blueprint = Blueprint("health", __name__)


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
    degraded = False
    store_error = None
    try:
        services.store.backend.ping()
        aws = services.inventory.aws_health()
    except StoreError as exc:
        degraded = True
        store_error = str(exc)
        aws = {"configured": services.settings.aws_configured}
    if aws.get("ok") is False:
        degraded = True
    scheduler = services.scheduler.status() if services.scheduler else {"running": False,
                                                                        "jobs": []}
    body = {
        "status": "degraded" if degraded else "ok",
        "store": services.store.kind,
        "aws": aws,
        "scheduler": scheduler,
    }
    if store_error:
        body["store_error"] = store_error
    return jsonify(_redacted(body)), 200
