"""Execution plans: one document per (instance, query id, plan shape), with when it was seen.

Keying by the plan's shape hash means a changed plan becomes a second document, which is
what lets the UI flag "the plan changed" for a digest.
"""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "plans"
INDEXES = (IndexSpec(COLLECTION, ("instance_id", "query_id")),)


def plan_id(instance_id: str, query_id: str, plan_hash: str) -> str:
    return f"{instance_id}|{query_id}|{plan_hash}"


class PlanRepository:
    """Record plans, keeping the first sighting and moving the last one forward."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def record(self, plan: dict[str, Any], seen_at: str) -> str:
        key = plan_id(plan["instance_id"], plan["query_id"], plan["plan_hash"])
        previous = self._backend.get(COLLECTION, key)
        first_seen = previous["first_seen"] if previous else seen_at
        seen_count = (previous.get("seen_count", 0) if previous else 0) + 1
        self._backend.put(COLLECTION, key, {
            **plan, "plan_id": key, "first_seen": first_seen, "last_seen": seen_at,
            "seen_count": seen_count,
        })
        return key

    def get(self, key: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, key)
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def list(self, instance_id: str | None = None, query_id: str | None = None,
             limit: int = 200) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if instance_id:
            where["instance_id"] = instance_id
        if query_id:
            where["query_id"] = query_id
        docs = self._backend.find(COLLECTION, FindQuery(where=where, sort=("last_seen", -1),
                                                        limit=limit))
        for doc in docs:
            doc.pop("_id", None)
        return docs

    def history(self, instance_id: str | None = None) -> list[dict[str, Any]]:
        """Every plan's identity and sightings (no raw EXPLAIN texts), for "did the plan
        change between two months"."""
        where = {"instance_id": instance_id} if instance_id else {}
        return self._backend.find(COLLECTION, FindQuery(where=where, fields=(
            "instance_id", "query_id", "plan_hash", "plan_id", "first_seen", "last_seen",
            "root")))
