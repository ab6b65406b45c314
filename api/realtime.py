"""Real-time capture switch and captured statements (the original's on/off API)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api.cloudwatch import json_body
from api.errors import ApiError
from api.params import int_arg
from services import current_services

blueprint = Blueprint("realtime", __name__, url_prefix="/api/realtime")
QUERY_FIELDS = ("id", "instance_id", "pid", "user", "host", "db", "sql_text", "query_id",
                "fingerprint", "start", "end", "duration", "plan_id", "plan_error",
                "finished")


def _switch(enabled: bool):
    body = json_body()
    instance_id = body.get("instance_id")
    services = current_services()
    if instance_id is not None:
        if not isinstance(instance_id, str):
            raise ApiError("instance_id must be a string")
        instance = services.store.instances.get(instance_id)
        if instance is None:
            raise ApiError(f"unknown instance_id {instance_id}", 404)
        if not instance["realtime_target"]:
            raise ApiError(f"{instance_id} is not a real-time target (tag it "
                           "real_time_slow_sql=true)")
    services.realtime.set_enabled(enabled, instance_id)
    return jsonify(services.realtime.status())


@blueprint.post("/start")
def start():
    return _switch(True)


@blueprint.post("/stop")
def stop():
    return _switch(False)


@blueprint.get("/status")
def status():
    return jsonify(current_services().realtime.status())


@blueprint.get("/queries")
def queries():
    limit = int_arg("limit", 100, 1, 1000)
    rows = current_services().store.captures.recent(
        instance_id=request.args.get("instance_id") or None,
        since=request.args.get("since") or None, limit=limit)
    return jsonify({"queries": [{k: r.get(k) for k in QUERY_FIELDS} for r in rows]})
