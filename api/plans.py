"""Execution plans: the stored ones (``GET /api/plans``, ``GET /api/plans/<plan_id>``), what
changed between two of them (``GET /api/plans/diff?a=&b=``), the tables a plan reads
(``GET /api/plans/tables?plan_id=``) and parsing pasted EXPLAIN output
(``POST /api/plans/parse``).

The parse endpoint lets a user paste an EXPLAIN from anywhere (a MySQL 8 TREE, a MariaDB JSON)
and get the same tree and findings the stored plans get, without any server access. Its answer
is the caller's own text and is not masked; stored plans come from captured statements and are
masked unless an operator asks with ``?literals=true`` (as on the Plans page).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.masking import mask_plan_document
from analysis.plan import MAX_PLAN_CHARS, MAX_PLAN_JSON_DEPTH, costliest_path, parse_plan, plan_hash
from analysis.plan_diff import diff_plans
from analysis.safe_text import excerpt
from api.body import json_body
from api.errors import ApiError
from api.params import choice, literals, query_args, text, whole
from jobs.table_context import plan_table_context
from services import current_services

blueprint = Blueprint("plans", __name__, url_prefix="/api/plans")

MAX_LIMIT = 1000
MAX_TEXT_CHARS = MAX_PLAN_CHARS
PARSE_FORMATS = ("auto", "json", "tree")
PARSE_SHAPE = '{"text": "<EXPLAIN output>", "format": "auto"|"json"|"tree"}'


@blueprint.get("")
def list_plans():
    """Plans of one instance and/or query id, most recently seen first."""
    args = query_args(instance_id=text(), query_id=text(), limit=whole(200, 1, MAX_LIMIT),
                      literals=literals())
    plans = current_services().store.plans.list(
        instance_id=args["instance_id"], query_id=args["query_id"], limit=args["limit"])
    if not args["literals"]:
        plans = [mask_plan_document(plan) for plan in plans]
    return jsonify({"plans": plans})


def _stored_plan(plan_id: str | None, name: str) -> dict[str, Any]:
    if not plan_id:
        raise ApiError(f"{name} is required: the plan_id of a stored plan")
    plan = current_services().store.plans.get(plan_id)
    if plan is None:
        raise ApiError(f"no such plan ({name}): {excerpt(plan_id, quote=False)}", 404)
    return plan


def _identity(plan: dict[str, Any]) -> dict[str, Any]:
    return {key: plan.get(key) for key in ("plan_id", "plan_hash", "first_seen", "last_seen")}


# Registered before "/<path:plan_id>" so these names are never read as plan ids.
@blueprint.get("/diff")
def diff():
    """What changed from plan ``a`` to plan ``b`` (see analysis.plan_diff); masked unless an
    operator asks for literals."""
    args = query_args(a=text(), b=text(), literals=literals())
    plan_a = _stored_plan(args["a"], "a")
    plan_b = _stored_plan(args["b"], "b")
    result = diff_plans(plan_a.get("root"), plan_b.get("root"), literals=args["literals"])
    return jsonify({"a": _identity(plan_a), "b": _identity(plan_b), **result.to_dict()})


@blueprint.get("/tables")
def tables():
    """Each table the plan reads: estimated rows, indexes, CREATE TABLE and when they were
    read (cached for an hour; ``refresh=true`` reads again with the monitoring account)."""
    args = query_args(plan_id=text(), refresh=choice(("true", "false")))
    plan = _stored_plan(args["plan_id"], "plan_id")
    services = current_services()
    return jsonify(plan_table_context(services.store, services.settings, plan,
                                      refresh=args["refresh"] == "true",
                                      instance_reader=services.table_reader))


@blueprint.get("/<path:plan_id>")
def get_plan(plan_id: str):
    args = query_args(literals=literals())
    plan = current_services().store.plans.get(plan_id)
    if plan is None:
        raise ApiError(f"no such plan: {excerpt(plan_id, quote=False)}", 404)
    return jsonify(plan if args["literals"] else mask_plan_document(plan))


def _parse_request() -> tuple[Any, str]:
    """(text or decoded JSON, format) from the body, checked before any parsing."""
    # the plan sits one level below the body: as deep as a plan may be, plus one
    body = json_body(max_depth=MAX_PLAN_JSON_DEPTH + 1, shape=PARSE_SHAPE)
    unknown = sorted(set(body) - {"text", "format"})
    if unknown:
        raise ApiError(f"unknown field {excerpt(unknown[0], 40)}; expected {PARSE_SHAPE}")
    fmt = body.get("format") or "auto"
    if fmt not in PARSE_FORMATS:
        raise ApiError(f"format must be one of {', '.join(PARSE_FORMATS)}, got {excerpt(fmt)}")
    plan_text: Any = body.get("text")
    if isinstance(plan_text, dict):  # already-decoded EXPLAIN JSON is accepted too
        if fmt == "tree":
            raise ApiError("format 'tree' needs text, not a JSON object")
    elif not isinstance(plan_text, str) or not plan_text.strip():
        raise ApiError("text must be the EXPLAIN output as a non-empty string")
    return plan_text, fmt


@blueprint.post("/parse")
def parse():
    """Parse pasted EXPLAIN output into {root, findings, plan_hash, costliest_path}."""
    query_args()
    plan_text, fmt = _parse_request()
    try:
        root = parse_plan(plan_text, fmt)
    except PlanParseError as exc:
        raise ApiError(str(exc)) from None
    return jsonify({
        "root": root.to_dict(),
        "findings": [finding.to_dict() for finding in find_problems(root)],
        "plan_hash": plan_hash(root),
        "costliest_path": costliest_path(root),
    })
