"""`GET /api/digests`: a page of one instance's (or all instances') digests for a period.

Example statements are masked unless an operator asks with `?literals=true`; the store keeps
them whole (EXPLAIN and the operator need the real text).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from analysis.fleet import FLEET_INSTANCE
from analysis.masking import mask_digest
from api.body import json_body
from api.errors import ApiError
from api.params import choice, literals, month, period, query_args, sort_field, text, whole
from auth.access import operator_required
from jobs.explain_on_demand import ExplainRefused, explain_digest
from services import current_services
from store.digests import GROUPS, SORTABLE

blueprint = Blueprint("digests", __name__, url_prefix="/api/digests")
MAX_LIMIT = 500
MAX_SEARCH_CHARS = 1000
LIST_OMITS = frozenset({"hourly", "sketch"})


def _period(args: dict) -> str | None:
    """`month` (documented) or `period` (a stored key, also day ranges); not two different."""
    if args["month"] and args["period"] and args["month"] != args["period"]:
        raise ApiError("give month or period, not both")
    return args["month"] or args["period"]


@blueprint.get("")
def list_digests():
    args = query_args(instance_id=text(), month=month(), period=period(),
                      q=text(MAX_SEARCH_CHARS), sort=sort_field(SORTABLE, "-query_time.sum"),
                      offset=whole(0, 0, 10**9), limit=whole(100, 1, MAX_LIMIT),
                      literals=literals(), group=choice(GROUPS))
    field, descending = args["sort"]
    group = args["group"] or "instance"
    if group == "fleet" and args["instance_id"]:
        raise ApiError("group=fleet spans every instance: leave out instance_id")
    if group == "fleet" and not _period(args):
        raise ApiError("group=fleet needs a month (fleet rows are per period)")
    if group == "fleet":
        current_services().collection.fleet_ready(_period(args))
    rows, total = current_services().store.digests.page(
        instance_id=args["instance_id"], period=_period(args), text=args["q"],
        sort=field, descending=descending, offset=args["offset"], limit=args["limit"],
        group=group,
    )
    # a list shows no per-hour series (~40 kB a digest): the detail endpoint has it
    rows = [{k: v for k, v in row.items() if k not in LIST_OMITS} for row in rows]
    if not args["literals"]:
        rows = [mask_digest(row) for row in rows]
    return jsonify({"total": total, "digests": rows})


@blueprint.get("/<instance_id>/<period>/<query_id>")
def get_digest(instance_id: str, period: str, query_id: str):
    """One digest whole (hourly series included); instance `(fleet)` gives the fleet row."""
    args = query_args(literals=literals())
    services = current_services()
    if instance_id == FLEET_INSTANCE:
        services.collection.fleet_ready(period)
        digest = services.store.digests.get_fleet(period, query_id)
    else:
        digest = services.store.digests.get(instance_id, period, query_id)
    if digest is None:
        raise ApiError("no such digest", 404)
    return jsonify(digest if args["literals"] else mask_digest(digest))


@blueprint.post("/<instance_id>/<period>/<query_id>/explain")
@operator_required
def explain_on_demand(instance_id: str, period: str, query_id: str):
    """EXPLAIN the digest's slowest explainable example on its instance now; 201 with the
    stored plan's {plan_id, plan_hash}. The body, if any, must be an empty JSON object."""
    query_args()
    if json_body():
        raise ApiError("this request takes no body fields")
    services = current_services()
    try:
        plan = explain_digest(services.store, services.settings, instance_id, period, query_id,
                              explainer=services.explainer)
    except ExplainRefused as exc:
        raise ApiError(exc.message, exc.status) from None
    return jsonify(plan), 201
