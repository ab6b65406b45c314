"""Table context read from a monitored server (indexes, estimated rows, CREATE TABLE), cached.

One document per (instance, schema, table) with ``read_at``: the Plans page's Tables tab reads
through this cache so opening a plan does not connect to a production server every time; a
"Refresh" reads again (see jobs/table_context.py for how fresh is fresh enough).
"""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "table_context"
INDEXES = (IndexSpec(COLLECTION, ("instance_id",)),)


def context_id(instance_id: str, schema: str, table: str) -> str:
    return f"{instance_id}|{schema}|{table}"


class TableContextRepository:
    """Keep the last read of each table; a new read replaces the old one whole."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def put(self, instance_id: str, context: dict[str, Any]) -> str:
        """Store one read (``context`` carries ``schema``, ``table`` and ``read_at``)."""
        key = context_id(instance_id, context["schema"], context["table"])
        self._backend.put(COLLECTION, key, {**context, "instance_id": instance_id,
                                            "context_id": key})
        return key

    def get(self, instance_id: str, schema: str, table: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, context_id(instance_id, schema, table))
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def list(self, instance_id: str) -> list[dict[str, Any]]:
        docs = self._backend.find(COLLECTION, FindQuery(where={"instance_id": instance_id},
                                                        sort=("context_id", 1)))
        for doc in docs:
            doc.pop("_id", None)
        return docs
