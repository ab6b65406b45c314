"""`GET /api/events?month=YYYY-MM[&instance_id=ID][&all=1]`: the RDS events kept for a month.

What the charts draw as markers (failovers, restarts, parameter and engine changes,
maintenance, recovery, failures), oldest first; `all=1` adds the events that are not drawn
(backups, snapshots, notices). Events are read from RDS with every inventory refresh and kept,
because RDS itself forgets them after 14 days.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.errors import ApiError
from api.params import choice, month, query_args, text
from jobs.rds_events import period_events
from services import current_services

blueprint = Blueprint("events", __name__, url_prefix="/api/events")
FIELDS = ("instance_id", "kind", "label", "categories", "message")


def _iso(stored: str) -> str:
    """The store's `2026-10-14T03:12:00.000000Z` as ISO UTC to the second."""
    return stored[:19] + "Z"


@blueprint.get("")
def events():
    args = query_args(month=month(), instance_id=text(), all=choice(("0", "1")))
    if not args["month"]:
        raise ApiError("month is required (YYYY-MM)")
    instance_id = args["instance_id"]
    found = period_events(current_services().store, args["month"],
                          [instance_id] if instance_id else None,
                          marked_only=args["all"] != "1")
    return jsonify({
        "month": args["month"],
        "instance_id": instance_id,
        "events": [{"time": _iso(e["time"]), **{k: e.get(k) for k in FIELDS}} for e in found],
    })
