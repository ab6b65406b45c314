"""Pre-aggregated SQL digests per (instance, period, query id).

A period's digests for one instance are replaced as a set, so re-running a collection for
the same month never double counts. Sorting, filtering and paging happen here (on indexed
fields), so the digest grid stays fast with 100,000 digests.
"""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

COLLECTION = "digests"
SORTABLE = {
    "query_time.sum", "query_time.avg", "query_time.max", "query_time.p95", "count",
    "lock_time.sum", "rows_examined.sum", "rows_sent.sum", "last_seen", "first_seen",
}
INDEXES = (
    IndexSpec(COLLECTION, ("instance_id", "period", "query_time.sum")),
    IndexSpec(COLLECTION, ("instance_id", "period", "count")),
    IndexSpec(COLLECTION, ("period", "query_time.sum")),
)


def digest_id(instance_id: str, period: str, query_id: str) -> str:
    return f"{instance_id}|{period}|{query_id}"


class DigestRepository:
    """Replace a period's digests as one set; page through them with a whitelisted sort."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def replace_period(self, instance_id: str, period: str, digests: list[dict[str, Any]]) -> None:
        docs = [
            {**d, "_id": digest_id(instance_id, period, d["query_id"]),
             "instance_id": instance_id, "period": period}
            for d in digests
        ]
        self._backend.replace_set(
            COLLECTION, {"instance_id": instance_id, "period": period}, docs
        )

    def page(
        self,
        *,
        instance_id: str | None = None,
        period: str | None = None,
        text: str | None = None,
        sort: str = "query_time.sum",
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        if sort not in SORTABLE:
            raise ValueError(f"cannot sort digests by {sort!r}; choose one of {sorted(SORTABLE)}")
        where: dict[str, Any] = {}
        if instance_id:
            where["instance_id"] = instance_id
        if period:
            where["period"] = period
        if text:
            where["fingerprint"] = {"$contains": text}
        rows = self._backend.find(
            COLLECTION,
            FindQuery(where=where, sort=(sort, -1 if descending else 1), skip=offset, limit=limit),
        )
        for row in rows:
            row.pop("_id", None)
        return rows, self._backend.count(COLLECTION, where)

    def get(self, instance_id: str, period: str, query_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(COLLECTION, digest_id(instance_id, period, query_id))
        if doc is not None:
            doc.pop("_id", None)
        return doc
