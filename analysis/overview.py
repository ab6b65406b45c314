"""The Overview's filters (instances, schema, user) applied to a month's fleet rows.

A fleet row (analysis/fleet.py) keeps each instance's share of the statement (`per_instance`:
calls and query time), so narrowing to some instances re-totals the statement from exactly
those shares: nothing is estimated and nothing counted twice. Schema and user select whole
statements: a slow log attributes a statement's calls to schemas and users but its time only to
the statement, so "the statements run in schema X" is what can be said truthfully. A fleet row
keeps the ten busiest schemas and users of its statement (fleet.TOP_NAMES); a statement run
in more than ten schemas may be missed for its rarest ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_NAMES = 500  # schema or user names offered as filter choices, per month


@dataclass(frozen=True)
class OverviewFilter:
    """What the Overview is narrowed to; empty means the whole fleet."""

    instances: frozenset[str] = frozenset()
    schema: str | None = None
    user: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.instances or self.schema or self.user)

    @property
    def by_statement(self) -> bool:
        """Schema and user select statements; their time cannot be split by day."""
        return bool(self.schema or self.user)


def _keeps(row: Mapping[str, Any], flt: OverviewFilter) -> bool:
    if flt.schema and flt.schema not in (row.get("databases") or {}):
        return False
    return not (flt.user and flt.user not in (row.get("users") or {}))


def filter_statements(rows: Iterable[Mapping[str, Any]],
                      flt: OverviewFilter) -> list[dict[str, Any]]:
    """The statements the filter keeps, each re-totalled over the kept instances, heaviest
    first: {query_id, fingerprint, count, query_time: {sum, avg}, instance_ids,
    instance_count, per_instance}."""
    kept = []
    for row in rows:
        if not _keeps(row, flt):
            continue
        parts = [p for p in row.get("per_instance") or []
                 if not flt.instances or p["instance_id"] in flt.instances]
        if not parts:
            continue
        count = sum(p.get("count") or 0 for p in parts)
        seconds = sum(p.get("query_time") or 0.0 for p in parts)
        instance_ids = sorted({p["instance_id"] for p in parts})
        kept.append({
            "query_id": row["query_id"], "fingerprint": row.get("fingerprint") or "",
            "count": count,
            "query_time": {"sum": seconds, "avg": seconds / count if count else None},
            "instance_ids": instance_ids, "instance_count": len(instance_ids),
            "per_instance": parts,
        })
    kept.sort(key=lambda r: (-r["query_time"]["sum"], r["query_id"]))
    return kept


def time_by_instance(statements: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Query time per instance of the kept statements (for the by-instance chart)."""
    totals: dict[str, float] = {}
    for statement in statements:
        for part in statement["per_instance"]:
            totals[part["instance_id"]] = (totals.get(part["instance_id"], 0.0)
                                           + (part.get("query_time") or 0.0))
    return totals


def filter_names(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The schemas and users a month's statements ran under (the filters' choices), busiest
    first by calls, at most MAX_NAMES each."""
    schemas: dict[str, int] = {}
    users: dict[str, int] = {}
    for row in rows:
        for name, calls in (row.get("databases") or {}).items():
            schemas[name] = schemas.get(name, 0) + (calls or 0)
        for name, calls in (row.get("users") or {}).items():
            users[name] = users.get(name, 0) + (calls or 0)

    def busiest(counts: dict[str, int]) -> list[str]:
        return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                if name][:MAX_NAMES]

    return {"schemas": busiest(schemas), "users": busiest(users)}
