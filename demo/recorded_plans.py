"""The demo's plans: real MariaDB EXPLAIN output (demo/plans/*.json) served as if explained now.

The demo has no database server to EXPLAIN on, but a plan a DBA looks at must be a real one.
So demo/record_plans.py recorded, once, ``EXPLAIN FORMAT=JSON`` of every demo statement on a
real MariaDB, and this module stands in for collectors.explain on the demo's instances: a
captured statement is matched to its recording by fingerprint, and the recorded server output
goes through the same path a live EXPLAIN does (analysis.explainable refuses what cannot be
explained, analysis.plan.parse_plan parses the JSON, the findings and the plan hash are
computed from it, collectors.explain.ExplainResult.document() is what store.plans keeps).

The orders-by-date statement has two recordings: with its index (a range scan) and without
it (a full scan). orders-prd-1 is the instance whose index was dropped: its captures get the
full scan, the others the range scan, and :func:`seed_plan_history` makes the earlier
demo month's plan the indexed one, so the Compare page can say "plan changed".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from analysis.explainable import NotExplainable, explainable_select
from analysis.findings import find_problems
from analysis.fingerprint import fingerprint, fingerprint_and_id
from analysis.period import Period
from analysis.plan import parse_plan, plan_hash
from collectors.explain import ExplainError, ExplainResult, PlanUnavailable
from store import Store
from store.flags import utc_iso

PLANS_DIR = Path(__file__).resolve().parent / "plans"
TABLES_FILE = "tables.json"
REGRESSED_INSTANCE = "orders-prd-1"  # lost orders.idx_created_at (see demo/server.py)
ORDERS_INDEXED, ORDERS_FULL_SCAN = "orders_by_date_indexed", "orders_by_date_full_scan"


@dataclass(frozen=True)
class RecordedPlan:
    """One file of demo/plans: a demo statement and what a real MariaDB said about it."""

    name: str
    db: str
    statement: str
    query: str
    converted_from: str | None
    server_version: str
    explain: dict[str, Any]
    tree_error: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.statement)


@functools.cache
def recorded_plans() -> dict[str, RecordedPlan]:
    """Every recording, by name (read once: the files never change while the demo runs)."""
    plans = {}
    for path in sorted(PLANS_DIR.glob("*.json")):
        if path.name == TABLES_FILE:  # the tables the plans read (demo/recorded_tables.py)
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        plans[doc["name"]] = RecordedPlan(
            name=doc["name"], db=doc["db"], statement=doc["statement"], query=doc["query"],
            converted_from=doc.get("converted_from"), server_version=doc["server_version"],
            explain=doc["explain"], tree_error=doc["tree_error"])
    return plans


def plan_for(sql: str, instance_id: str) -> RecordedPlan | None:
    """The recording for a captured statement on an instance, or None if it has none."""
    shape = fingerprint(sql)
    found = [p for p in recorded_plans().values() if p.fingerprint == shape]
    if len(found) > 1:  # the orders-by-date statement: which depends on the instance's index
        wanted = ORDERS_FULL_SCAN if instance_id == REGRESSED_INSTANCE else ORDERS_INDEXED
        found = [p for p in found if p.name == wanted]
    return found[0] if found else None


def plan_result(recorded: RecordedPlan, instance_id: str, sql: str) -> ExplainResult:
    """What collectors.explain.explain would return for `sql` on `instance_id`, from the
    recording: parsed like a live EXPLAIN's output.

    query_id and fingerprint are those of the captured statement (so the plan joins its
    digest); explained_sql is the statement MariaDB actually explained, whose literals the
    plan's conditions show."""
    fp, qid = fingerprint_and_id(sql)
    text = json.dumps(recorded.explain, indent=2, ensure_ascii=False)
    tree = recorded.tree_error
    result = ExplainResult(
        instance_id=instance_id, query_id=qid, fingerprint=fp, db=recorded.db,
        server_version=recorded.server_version, server_flavour="mariadb",
        converted_from=recorded.converted_from, explained_sql=recorded.query,
        formats={"json": {"supported": True, "text": text, "error": None},
                 "tree": {"supported": False, "text": None,
                          "error": f"{tree['code']}: {tree['message']}"}})
    root = parse_plan(text, "json")
    result.root = root.to_dict()
    result.findings = [f.to_dict() for f in find_problems(root)]
    result.plan_hash = plan_hash(root)
    result.parsed_from = "json"
    return result


def plan_document(recorded: RecordedPlan, instance_id: str, sql: str) -> dict[str, Any]:
    """The store.plans document for `sql` on `instance_id` (ExplainResult.document())."""
    return plan_result(recorded, instance_id, sql).document()


def explain_recorded(sql: str, instance_id: str) -> ExplainResult:
    """collectors.explain.explain for the demo's instances, which have no server: the same
    refusals (NotExplainable for what cannot be explained, ExplainError when there is no
    plan to be had) and the same result. EXPLAIN on demand can use it when settings.demo."""
    explainable_select(sql)  # raises NotExplainable, exactly as a live EXPLAIN does
    recorded = plan_for(sql, instance_id)
    if recorded is None:
        raise ExplainError("the demo has no recorded plan for this statement")
    return plan_result(recorded, instance_id, sql)


def demo_plan_recorder(store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                       ) -> Callable[[dict[str, Any], dict[str, Any]], str]:
    """A jobs.realtime PlanRecorder for the demo: the recorded plan of a captured statement.

    It fails the way jobs.plans.explain_and_record does (PlanUnavailable with the
    reason), so the Real-time page shows the demo's captures exactly as it shows real ones."""

    def record(instance: dict[str, Any], capture: dict[str, Any]) -> str:
        try:
            result = explain_recorded(capture["sql_text"], instance["instance_id"])
        except NotExplainable as exc:
            raise PlanUnavailable(f"not explainable: {exc.reason}") from None
        except ExplainError as exc:
            raise PlanUnavailable(str(exc)) from None
        return store.plans.record(result.document(), utc_iso(clock()))

    return record


def _at(day: Any, hour: int) -> str:
    return utc_iso(datetime.combine(day, time(hour), tzinfo=UTC))


def seed_plan_history(store: Store, before: Period, latest: Period) -> list[str]:
    """Plans seen during the demo's two months: orders-prd-1's orders-by-date statement ran
    with its index through the earlier month and as a full scan through the later one.

    Returns the plan ids. Each plan is recorded at its first and last sighting, both inside
    its month, which is what the Compare page's "plan changed" reads."""
    recordings = recorded_plans()
    ids = []
    for name, period in ((ORDERS_INDEXED, before), (ORDERS_FULL_SCAN, latest)):
        recorded = recordings[name]
        document = plan_document(recorded, REGRESSED_INSTANCE, recorded.statement)
        for seen in (_at(period.start + timedelta(days=1), 9), _at(period.end, 18)):
            plan_id = store.plans.record(document, seen)
        ids.append(plan_id)
    return ids
