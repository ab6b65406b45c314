"""`GET /api/compare?month=YYYY-MM&baseline=YYYY-MM&instance_id=ID`: month over month.

Without `instance_id` the fleet is compared (one row per statement across instances). Each
category lists at most `limit` items, the worst first; `counts` has the full sizes.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from analysis.compare import CATEGORIES
from api.errors import ApiError
from api.params import month, query_args, text, whole
from jobs.compare import month_over_month
from services import current_services

blueprint = Blueprint("compare", __name__, url_prefix="/api/compare")
MAX_LIMIT = 5000


@blueprint.get("")
def compare():
    args = query_args(month=month(), baseline=month(), instance_id=text(),
                      limit=whole(100, 1, MAX_LIMIT))
    if not args["month"]:
        raise ApiError("month is required (YYYY-MM); baseline defaults to the month before")
    if args["baseline"] == args["month"]:
        raise ApiError("baseline must be another month than month")
    services = current_services()
    result = month_over_month(services.store, services.settings, args["month"],
                              args["baseline"], args["instance_id"])
    for name in CATEGORIES:
        result[name] = result[name][:args["limit"]]
    return jsonify(result)
