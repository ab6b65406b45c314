"""`POST /cloudwatch/run`, `GET /cloudwatch/runs[/<id>]`: start and follow collection runs."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api.errors import ApiError
from api.params import int_arg
from jobs.collection import CollectionConflict, CollectionRequestError
from services import current_services

blueprint = Blueprint("cloudwatch", __name__, url_prefix="/cloudwatch")
RUN_LIST_FIELDS = ("collection_id", "status", "progress", "message", "period",
                   "processed_instances", "total_instances", "total_queries",
                   "malformed_events", "errors", "started_at", "completed_at", "instance_ids")


def json_body() -> dict:
    """The request's JSON object (an empty body means {}); anything else is a 400."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object")
    return body


@blueprint.post("/run")
def start_run():
    try:
        run = current_services().collection.start(json_body())
    except CollectionRequestError as exc:
        raise ApiError(str(exc), 400) from None
    except CollectionConflict as exc:
        raise ApiError(str(exc), 409, collection_id=exc.running_id) from None
    return jsonify({"collection_id": run["collection_id"], "status": "started",
                    "period": run["period"]}), 202


@blueprint.get("/runs")
def list_runs():
    runs = current_services().store.runs.recent(int_arg("limit", 50, 1, 500))
    return jsonify({"runs": [{k: r.get(k) for k in RUN_LIST_FIELDS} for r in runs]})


@blueprint.get("/runs/<collection_id>")
def get_run(collection_id: str):
    run = current_services().store.runs.get(collection_id)
    if run is None:
        raise ApiError(f"no collection run {collection_id}", 404)
    return jsonify(run)
