"""Collection runs: the run document is the single source of truth for a run's progress.

The worker thread writes it; the API and the WebSocket route read it, so progress survives
a page reload and works when requests land on another gunicorn worker.
"""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "runs"
INDEXES = (
    IndexSpec(COLLECTION, ("started_at",)),
    IndexSpec(COLLECTION, ("period_key", "status")),
)
ACTIVE_STATUSES = ("started", "in_progress")


class RunRepository:
    """Create, save and read run documents (keyed by `collection_id`)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create(self, run: dict[str, Any]) -> None:
        self._backend.insert(COLLECTION, run["collection_id"], run)

    def save(self, run: dict[str, Any]) -> None:
        self._backend.put(COLLECTION, run["collection_id"], run)

    def get(self, collection_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, collection_id)
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        docs = self._backend.find(
            COLLECTION, FindQuery(sort=("started_at", -1), limit=limit)
        )
        for doc in docs:
            doc.pop("_id", None)
        return docs

    def active(self, period_key: str | None = None) -> list[dict[str, Any]]:
        """Runs not yet ended, of one period or of every period."""
        where: dict[str, Any] = {"status": {"$in": list(ACTIVE_STATUSES)}}
        if period_key is not None:
            where["period_key"] = period_key
        return self._backend.find(COLLECTION, FindQuery(where=where))
