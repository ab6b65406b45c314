"""`GET /api/schedule`: the scheduled collections (monthly and daily): their schedules, next
runs and last outcomes."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.params import query_args
from services import current_services

blueprint = Blueprint("schedule", __name__, url_prefix="/api/schedule")


@blueprint.get("")
def schedule():
    """{"monthly_at", "description", "next_run", "running", "last", "daily": {...}} (see
    jobs/scheduled_collection.py and jobs/daily_collection.py); `next_run` is None when a
    schedule is off."""
    query_args()
    services = current_services()
    if services.schedule is None:
        return jsonify({"monthly_at": "", "description": "off", "next_run": None,
                        "running": None, "last": None,
                        "daily": {"daily_at": "", "description": "off", "next_run": None,
                                  "running": None, "day": None, "pending": [], "missed": None,
                                  "last": None,
                                  "month": None}})
    return jsonify(services.schedule.status())
