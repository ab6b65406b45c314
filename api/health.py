"""`GET /healthz`: is the store usable, is AWS reachable, is the scheduler alive."""

from __future__ import annotations

from flask import Blueprint, jsonify

from services import current_services
from store import StoreError

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
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
    return jsonify(body), 200
