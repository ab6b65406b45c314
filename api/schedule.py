"""`GET /api/schedule`: the monthly collection's schedule, next run and last outcome."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.params import query_args
from services import current_services

blueprint = Blueprint("schedule", __name__, url_prefix="/api/schedule")


@blueprint.get("")
def schedule():
    """{"monthly_at", "description", "next_run", "running", "last"} (see
    jobs/scheduled_collection.py); `next_run` is None when COLLECT_MONTHLY_AT is empty."""
    query_args()
    services = current_services()
    if services.schedule is None:
        return jsonify({"monthly_at": "", "description": "off", "next_run": None,
                        "running": None, "last": None})
    return jsonify(services.schedule.status())
