"""`GET /api/instances`, `POST /api/instances/refresh` and `GET /api/instances/<id>/coverage`."""

from __future__ import annotations

from flask import Blueprint, jsonify

from analysis.inventory import SUPPORTED_ENGINES
from api.errors import ApiError
from api.params import choice, query_args
from auth.access import operator_required
from jobs.coverage import check_instance
from services import current_services

blueprint = Blueprint("instances", __name__, url_prefix="/api/instances")
PUBLIC_FIELDS = (
    "instance_id", "engine", "engine_version", "instance_class", "status", "endpoint",
    "cluster_id", "tags", "collect_target", "realtime_target", "source", "gone",
)


@blueprint.get("")
def list_instances():
    args = query_args(engine=choice(SUPPORTED_ENGINES))
    rows = current_services().store.instances.list(engine=args["engine"])
    return jsonify({"instances": [{k: row.get(k) for k in PUBLIC_FIELDS} for row in rows]})


@blueprint.post("/refresh")
@operator_required
def refresh_instances():
    query_args()
    services = current_services()
    if not services.settings.aws_configured and not services.settings.static_instances_file:
        raise ApiError(
            "no instance source is configured: set AWS_REGION (RDS discovery) "
            "or STATIC_INSTANCES_FILE", status=409,
        )
    summary = services.inventory.refresh()
    status = 200 if not summary["errors"] else 502
    return jsonify(summary), status


@blueprint.get("/<instance_id>/coverage")
def instance_coverage(instance_id: str):
    """Does the slow log catch everything on this instance, and does it reach us?  RDS is read
    at most once an hour per instance (``refresh=1`` reads it now); the stored months are read
    every time."""
    args = query_args(refresh=choice(("0", "1")))
    services = current_services()
    report = check_instance(services.store, services.settings, instance_id,
                            refresh=args["refresh"] == "1")
    if report is None:
        raise ApiError(f"no instance {instance_id!r}: refresh the instances first", status=404)
    return jsonify({k: report[k] for k in ("instance_id", "checks", "problems",
                                            "checked_at", "aws_read_at")})
