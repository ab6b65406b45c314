"""Execution plans: the stored ones (``GET /api/plans``, ``GET /api/plans/<plan_id>``) and
parsing pasted EXPLAIN output (``POST /api/plans/parse``).

The parse endpoint lets a user paste an EXPLAIN from anywhere (a MySQL 8 TREE, a MariaDB JSON)
and get the same tree and findings the stored plans get, without any server access.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.plan import costliest_path, parse_plan, plan_hash
from api.errors import ApiError
from api.params import int_arg
from services import current_services

blueprint = Blueprint("plans", __name__, url_prefix="/api/plans")

MAX_LIMIT = 1000
MAX_TEXT_CHARS = 2_000_000  # a big EXPLAIN FORMAT=JSON is ~100 kB; this stops abuse, not use
PARSE_FORMATS = ("auto", "json", "tree")


@blueprint.get("")
def list_plans():
    """Plans of one instance and/or query id, most recently seen first."""
    plans = current_services().store.plans.list(
        instance_id=request.args.get("instance_id") or None,
        query_id=request.args.get("query_id") or None,
        limit=int_arg("limit", 200, 1, MAX_LIMIT),
    )
    return jsonify({"plans": plans})


@blueprint.get("/<path:plan_id>")
def get_plan(plan_id: str):
    plan = current_services().store.plans.get(plan_id)
    if plan is None:
        raise ApiError(f"no such plan: {plan_id}", 404)
    return jsonify(plan)


@blueprint.post("/parse")
def parse():
    """Parse pasted EXPLAIN output into {root, findings, plan_hash, costliest_path}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError('the body must be a JSON object: {"text": "<EXPLAIN output>", '
                       '"format": "auto"|"json"|"tree"}')
    fmt = body.get("format") or "auto"
    if fmt not in PARSE_FORMATS:
        raise ApiError(f"format must be one of {', '.join(PARSE_FORMATS)}, got {fmt!r}")
    text: Any = body.get("text")
    if isinstance(text, dict):  # already-decoded EXPLAIN JSON is accepted too
        if fmt == "tree":
            raise ApiError("format 'tree' needs text, not a JSON object")
    elif not isinstance(text, str) or not text.strip():
        raise ApiError("text must be the EXPLAIN output as a non-empty string")
    elif len(text) > MAX_TEXT_CHARS:
        raise ApiError(f"text is too long ({len(text)} characters; at most {MAX_TEXT_CHARS})")
    try:
        root = parse_plan(text, fmt)
    except PlanParseError as exc:
        raise ApiError(str(exc)) from None
    return jsonify({
        "root": root.to_dict(),
        "findings": [finding.to_dict() for finding in find_problems(root)],
        "plan_hash": plan_hash(root),
        "costliest_path": costliest_path(root),
    })
