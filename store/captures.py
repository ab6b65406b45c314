"""Statements caught running on real-time targets, one document per execution."""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "captures"
INDEXES = (
    IndexSpec(COLLECTION, ("start",)),
    IndexSpec(COLLECTION, ("instance_id", "start")),
)


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
