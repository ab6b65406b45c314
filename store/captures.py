"""Statements caught running on real-time targets, one document per execution."""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "captures"
INDEXES = (
    IndexSpec(COLLECTION, ("start",)),
    IndexSpec(COLLECTION, ("instance_id", "start")),
    # one statement's captures, longest first: a digest's "Caught running" (fleet and one
    # instance)
    IndexSpec(COLLECTION, ("query_id", "duration")),
    IndexSpec(COLLECTION, ("instance_id", "query_id", "duration")),
)
LONGEST_FIELDS = ("id", "instance_id", "pid", "user", "db", "start", "end", "duration",
                  "finished", "query_id", "plan_id", "plan_error")


class CaptureRepository:
    """Save a capture by its execution key; list the newest first."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def save(self, capture: dict[str, Any]) -> None:
        self._backend.put(COLLECTION, capture["id"], capture)

    def get(self, capture_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, capture_id)
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def recent(
        self, instance_id: str | None = None, since: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if instance_id:
            where["instance_id"] = instance_id
        if since:
            where["start"] = {"$gte": since}
        docs = self._backend.find(COLLECTION, FindQuery(where=where, sort=("start", -1),
                                                        limit=limit))
        for doc in docs:
            doc.pop("_id", None)
        return docs

    @staticmethod
    def _statement(query_id: str, instance_id: str | None) -> dict[str, Any]:
        where: dict[str, Any] = {"query_id": query_id}
        if instance_id:
            where["instance_id"] = instance_id
        return where

    def count_for(self, query_id: str, instance_id: str | None = None) -> int:
        """How many executions of a statement were caught running (on one instance, or on
        every instance when `instance_id` is None)."""
        return self._backend.count(COLLECTION, self._statement(query_id, instance_id))

    def longest(self, query_id: str, instance_id: str | None = None,
                limit: int = 5) -> list[dict[str, Any]]:
        """A statement's longest live executions, longest first, without their text (the
        digest window shows durations, when and where, and the plan link)."""
        docs = self._backend.find(COLLECTION, FindQuery(
            where=self._statement(query_id, instance_id), sort=("duration", -1),
            limit=limit, fields=LONGEST_FIELDS))
        for doc in docs:
            doc.pop("_id", None)
        return docs
