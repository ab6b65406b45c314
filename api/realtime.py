"""Real-time capture switch and captured statements (the original's on/off API).

Captured statements are masked unless an operator asks with `?literals=true`, as on the
Real-time page; the store keeps them whole because EXPLAIN needs the real text.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from analysis.live_position import link_captures
from analysis.masking import mask_capture
from analysis.safe_text import excerpt
from api.body import json_body
from api.errors import ApiError
from api.params import literals, query_args, text, timestamp, whole
from auth.access import operator_required
from services import current_services

blueprint = Blueprint("realtime", __name__, url_prefix="/api/realtime")
QUERY_FIELDS = ("id", "instance_id", "pid", "user", "host", "db", "sql_text", "query_id",
                "fingerprint", "start", "end", "duration", "plan_id", "plan_error",
                "finished")


def _switch(enabled: bool):
    query_args()
    body = json_body()
    unknown = sorted(set(body) - {"instance_id"})
    if unknown:
        raise ApiError(f"unknown field {excerpt(unknown[0], 40)}; the body may hold only "
                       "instance_id")
    instance_id = body.get("instance_id")
    services = current_services()
    if instance_id is not None:
        if not isinstance(instance_id, str):
            raise ApiError("instance_id must be a string")
        instance = services.store.instances.get(instance_id)
        shown = excerpt(instance_id, quote=False)
        if instance is None:
            raise ApiError(f"unknown instance_id {shown}", 404)
        if not instance["realtime_target"]:
            raise ApiError(f"{shown} is not a real-time target (tag it real_time_slow_sql=true)")
    services.realtime.set_enabled(enabled, instance_id)
    return jsonify(services.realtime.status())


@blueprint.post("/start")
@operator_required
def start():
    return _switch(True)


@blueprint.post("/stop")
@operator_required
def stop():
    return _switch(False)


@blueprint.get("/status")
def status():
    query_args()
    return jsonify(current_services().realtime.status())


@blueprint.get("/queries")
def queries():
    args = query_args(instance_id=text(), since=timestamp(), limit=whole(100, 1, 1000),
                      literals=literals())
    store = current_services().store
    rows = store.captures.recent(
        instance_id=args["instance_id"], since=args["since"], limit=args["limit"])
    # each statement's digest (its month's, else the latest collected) and where the live
    # duration sits in it: one read per distinct (instance, query id)
    links = link_captures(rows, store.digests.for_statement)
    rows = [{**{k: r.get(k) for k in QUERY_FIELDS}, **links[r["id"]]} for r in rows]
    if not args["literals"]:
        rows = [mask_capture(row) for row in rows]
    return jsonify({"queries": rows})
