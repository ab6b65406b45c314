"""`GET /api/digests/<instance_id>/<period>/<query_id>/casefile`: a statement's case file.

One self-contained HTML file (components/casefile.py) to attach to a ticket, downloaded from
the digest window's "Case file" link or by a script. Viewers may download it: it is
read-only and holds no literals, for any role (there is no `?literals=`).

This route gathers what the file shows from the store: the digest, the same statement in
every stored period, its plans, and the tables those plans read (through
jobs.table_context, as the Plans page's Tables tab does: fresh reads are served from the
store, older ones are read again with the monitoring account, read-only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from analysis.fleet import FLEET_INSTANCE
from analysis.live_position import distinct_plans
from api.errors import ApiError
from api.params import period as period_param
from api.params import query_args
from api.params import text as text_param
from components.casefile import MAX_PLANS, CaseFileData, casefile_filename, create_casefile
from jobs.table_context import plan_table_context
from services import Services, current_services
from store.flags import utc_iso

blueprint = Blueprint("casefile", __name__, url_prefix="/api/digests")
_QUERY_ID = re.compile(r"[0-9A-Za-z]{1,64}")


def _digest(services: Services, instance_id: str, period: str,
            query_id: str) -> dict[str, Any] | None:
    digests = services.store.digests
    if instance_id == FLEET_INSTANCE:
        services.collection.fleet_ready(period)
        return digests.get_fleet(period, query_id)
    return digests.get(instance_id, period, query_id)


def _history(services: Services, instance_id: str, query_id: str) -> list[dict[str, Any]]:
    """The statement in every stored period: an instance's digests (one indexed read), or
    the fleet row of each period."""
    digests = services.store.digests
    if instance_id != FLEET_INSTANCE:
        return digests.for_statement(instance_id, query_id)
    rows = []
    for period in digests.periods():
        services.collection.fleet_ready(period)
        row = digests.get_fleet(period, query_id)
        if row is not None:
            rows.append(row)
    return rows


def _tables(services: Services,
            plans: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """Every table the drawn plans read, once per (instance, schema, table), and the first
    plan-wide reason tables could not be read."""
    by_id = {p.get("plan_id"): p for p in plans}
    tables: dict[tuple[str, str, str], dict[str, Any]] = {}
    error = None
    for shape in distinct_plans(plans)[:MAX_PLANS]:
        plan = by_id[shape["plan_id"]]
        answer = plan_table_context(services.store, services.settings, plan,
                                    instance_reader=services.table_reader)
        error = error or answer.get("error")
        for entry in answer.get("tables") or []:
            key = (answer["instance_id"], str(entry.get("schema")), str(entry.get("table")))
            tables.setdefault(key, {**entry, "instance_id": answer["instance_id"]})
    return list(tables.values()), error


def gather_casefile(services: Services, instance_id: str, period: str, query_id: str, *,
                    now: datetime | None = None) -> CaseFileData | None:
    """What the case file of one digest shows, or None when the digest is not stored."""
    digest = _digest(services, instance_id, period, query_id)
    if digest is None:
        return None
    store = services.store
    fleet = instance_id == FLEET_INSTANCE
    plans = store.plans.list(instance_id=None if fleet else instance_id, query_id=query_id)
    tables, tables_error = _tables(services, plans)
    return CaseFileData(
        digest=digest, generated_at=utc_iso(now or datetime.now(UTC)),
        total_query_time=store.digests.totals(None if fleet else instance_id,
                                              period)["query_time"],
        history=_history(services, instance_id, query_id), plans=plans, tables=tables,
        tables_error=tables_error)


def _check(instance_id: str, period: str, query_id: str) -> None:
    """A 400 naming the part of the path that cannot be a digest's."""
    text_param()("instance_id", instance_id)
    period_param()("period", period)
    if not _QUERY_ID.fullmatch(query_id):
        raise ApiError("query_id must be a digest's query id (letters and digits, at most 64)")


@blueprint.get("/<instance_id>/<period>/<query_id>/casefile")
def casefile(instance_id: str, period: str, query_id: str) -> Response:
    """The case file as a download (`casefile-<instance>-<period>-<query_id>.html`)."""
    query_args()
    _check(instance_id, period, query_id)
    data = gather_casefile(current_services(), instance_id, period, query_id)
    if data is None:
        raise ApiError("no such digest", 404)
    name = casefile_filename(instance_id, period, query_id)
    return Response(create_casefile(data), mimetype="text/html", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})
