"""Instances discovered on RDS or listed in the static file, keyed by instance id.

An instance that disappears from its source is marked `gone` rather than deleted, so its
digests and plans keep a name and a DBA can see that it went away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "instances"
INDEXES = (
    IndexSpec(COLLECTION, ("source",)),
    IndexSpec(COLLECTION, ("engine",)),
)


@dataclass(frozen=True)
class SyncResult:
    """What one refresh of one source changed."""

    upserted: int
    marked_gone: int


class InstanceRepository:
    """Reads and writes instance documents (the `GET /api/instances` shape plus timestamps)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def sync(self, source: str, instances: list[dict[str, Any]], seen_at: str) -> SyncResult:
        """Replace what `source` knows: upsert the given instances, mark the missing ones gone."""
        current = {
            doc["_id"]: doc
            for doc in self._backend.find(COLLECTION, FindQuery(where={"source": source}))
        }
        docs = []
        for instance in instances:
            previous = current.get(instance["instance_id"], {})
            docs.append({
                **instance,
                "_id": instance["instance_id"],
                "source": source,
                "gone": False,
                "first_seen": previous.get("first_seen", seen_at),
                "last_seen": seen_at,
            })
        seen = {d["_id"] for d in docs}
        gone = [
            {**doc, "gone": True}
            for doc_id, doc in current.items()
            if doc_id not in seen and not doc.get("gone")
        ]
        self._backend.put_many(COLLECTION, docs + gone)
        return SyncResult(upserted=len(docs), marked_gone=len(gone))

    def list(self, engine: str | None = None, include_gone: bool = True) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if engine:
            where["engine"] = engine
        docs = self._backend.find(COLLECTION, FindQuery(where=where, sort=("_id", 1)))
        return [_public(d) for d in docs if include_gone or not d.get("gone")]

    def get(self, instance_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, instance_id)
        return _public(doc) if doc else None


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "_id"}
    # Booleans can come back as 0/1 from some servers; the API promises booleans.
    for flag in ("collect_target", "realtime_target", "gone"):
        out[flag] = bool(out.get(flag))
    return out
