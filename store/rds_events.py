"""RDS events kept past AWS's 14 days, so every month the dashboard shows keeps its failovers,
restarts and parameter changes.

One document per event, keyed ``instance|time|hash of categories and message``: reads
overlap (each starts a little before the last one ended), and the same event read twice is
the same document, never a second marker.  Also kept: up to when the events were last read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "rds_events"
READS = "rds_event_reads"  # one document: up to when the region's events were read
INDEXES = (
    IndexSpec(COLLECTION, ("time",)),
    IndexSpec(COLLECTION, ("instance_id", "time")),
)
_READ_MARK = "region"


def event_id(instance_id: str, time: str, categories: Iterable[str], message: str) -> str:
    """The same event, read again, gets the same id (AWS's API gives events no id)."""
    digest = hashlib.sha1(f"{','.join(sorted(categories))}|{message}".encode(),
                          usedforsecurity=False).hexdigest()[:16]
    return f"{instance_id}|{time}|{digest}"


class RdsEventRepository:
    """Save events (idempotently) and read them back by instances and time window."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def save(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Store events (``instance_id``, ``time`` in the store's format, ``categories``,
        ``message``, ``kind``); how many distinct events were given."""
        docs: dict[str, dict[str, Any]] = {}
        for event in events:
            key = event_id(event["instance_id"], event["time"], event.get("categories") or (),
                           event.get("message") or "")
            docs[key] = {"_id": key, "instance_id": event["instance_id"],
                         "time": event["time"], "categories": list(event.get("categories") or ()),
                         "message": event.get("message") or "", "kind": event.get("kind")}
        if docs:
            self._backend.put_many(COLLECTION, list(docs.values()))
        return len(docs)

    def between(self, start: str, end: str, instance_ids: Collection[str] | None = None,
                kinds: Collection[str] | None = None, limit: int = 0) -> list[dict[str, Any]]:
        """Events from ``start`` (included) to ``end`` (excluded), oldest first; only those of
        ``instance_ids`` and ``kinds`` when given (an empty collection matches nothing)."""
        where: dict[str, Any] = {"time": {"$gte": start, "$lt": end}}
        if instance_ids is not None:
            where["instance_id"] = {"$in": sorted(instance_ids)}
        if kinds is not None:
            where["kind"] = {"$in": sorted(kinds)}
        docs = self._backend.find(COLLECTION, FindQuery(where=where, sort=("time", 1),
                                                        limit=limit))
        for doc in docs:
            doc["event_id"] = doc.pop("_id")
        docs.sort(key=lambda d: (d["time"], d["instance_id"], d["event_id"]))
        return docs

    def read_until(self) -> str | None:
        """Up to when the region's events were last read (the store's time format)."""
        doc = self._backend.get(READS, _READ_MARK)
        return doc.get("until") if doc else None

    def save_read_until(self, until: str) -> None:
        self._backend.put(READS, _READ_MARK, {"until": until})
