"""`POST /cloudwatch/run`, `GET /cloudwatch/runs[/<id>]`: start and follow collection runs.

Run documents hold no statement text (their log lines are counts, reasons and slow-log
header values), so they are answered as stored, with no literals to mask.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from analysis.safe_text import excerpt
from api.body import json_body
from api.errors import ApiError
from api.params import query_args, whole
from auth.access import operator_required
from jobs.collection import CollectionBusy, CollectionConflict, CollectionRequestError
from services import current_services

blueprint = Blueprint("cloudwatch", __name__, url_prefix="/cloudwatch")
RUN_LIST_FIELDS = ("collection_id", "status", "progress", "message", "period",
                   "processed_instances", "total_instances", "total_queries",
                   "malformed_events", "errors", "started_at", "completed_at", "instance_ids")


@blueprint.post("/run")
@operator_required
def start_run():
    query_args()
    try:
        run = current_services().collection.start(json_body())
    except CollectionRequestError as exc:
        raise ApiError(str(exc), 400) from None
    except CollectionConflict as exc:
        raise ApiError(str(exc), 409, collection_id=exc.running_id) from None
    except CollectionBusy as exc:  # COLLECTION_MAX_RUNS runs are going already
        raise ApiError(str(exc), 429) from None
    return jsonify({"collection_id": run["collection_id"], "status": "started",
                    "period": run["period"]}), 202


@blueprint.get("/runs")
def list_runs():
    args = query_args(limit=whole(50, 1, 500))
    runs = current_services().store.runs.recent(args["limit"])
    return jsonify({"runs": [{k: r.get(k) for k in RUN_LIST_FIELDS} for r in runs]})


@blueprint.get("/runs/<collection_id>")
def get_run(collection_id: str):
    query_args()
    run = current_services().store.runs.get(collection_id)
    if run is None:
        raise ApiError(f"no collection run {excerpt(collection_id, quote=False)}", 404)
    return jsonify(run)
