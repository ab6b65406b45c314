"""`GET /api/digests`: a page of one instance's (or all instances') digests for a period."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api.errors import ApiError
from api.params import int_arg
from services import current_services
from store.digests import SORTABLE

blueprint = Blueprint("digests", __name__, url_prefix="/api/digests")
MAX_LIMIT = 500


@blueprint.get("")
def list_digests():
    sort = request.args.get("sort") or "-query_time.sum"
    descending = sort.startswith("-")
    field = sort.lstrip("-+")
    if field not in SORTABLE:
        raise ApiError(f"sort must be one of {', '.join(sorted(SORTABLE))} "
                       "(prefix - for descending)")
    rows, total = current_services().store.digests.page(
        instance_id=request.args.get("instance_id") or None,
        period=request.args.get("month") or request.args.get("period") or None,
        text=request.args.get("q") or None,
        sort=field, descending=descending,
        offset=int_arg("offset", 0, 0, 10**9),
        limit=int_arg("limit", 100, 1, MAX_LIMIT),
    )
    return jsonify({"total": total, "digests": rows})


@blueprint.get("/<instance_id>/<period>/<query_id>")
def get_digest(instance_id: str, period: str, query_id: str):
    digest = current_services().store.digests.get(instance_id, period, query_id)
    if digest is None:
        raise ApiError("no such digest", 404)
    return jsonify(digest)
