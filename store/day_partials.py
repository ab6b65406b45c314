"""Each day's digests of an instance, kept whole while its month is built from days.

The daily schedule (`COLLECT_DAILY_AT`) collects one UTC day at a time. A day's partials
(analysis/day_partial.py) are stored as one set per (instance, day), so a re-run of the day
replaces it; the instance's month digests are then rebuilt from all its days (jobs/
day_collection.py). A collection of the whole month, once the month is over, drops them.
Beside the partials, one small document per (instance, day) says what the day held and the
database each log stream ended in (the next day's first statements inherit it).

Documents are keyed by composite ids (`instance|day|query_id`, `instance|day`): upserts and
set replacement stay plain `_id` and equality operations on both adapters.
"""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery, IndexSpec

PARTIALS = "day_partials"  # one digest of one instance on one day
DAYS = "day_partial_days"  # one instance's day: counts, stream databases, when collected
INDEXES = (
    IndexSpec(PARTIALS, ("instance_id", "day")),
    IndexSpec(PARTIALS, ("instance_id", "month")),
    IndexSpec(DAYS, ("instance_id", "month")),
)


class DayPartialRepository:
    """Store, list, read and drop an instance's day partials."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def replace_day(self, instance_id: str, day: str, partials: list[dict[str, Any]],
                    meta: dict[str, Any]) -> None:
        """Store one instance's day as one set (each partial carries its `query_id`), then
        the day's summary: a day is listed only once its partials are in."""
        month = day[:7]
        docs = [{**partial, "_id": f"{instance_id}|{day}|{partial['query_id']}",
                 "instance_id": instance_id, "month": month, "day": day}
                for partial in partials]
        self._backend.replace_set(PARTIALS, {"instance_id": instance_id, "day": day}, docs)
        self._backend.put(DAYS, f"{instance_id}|{day}", {
            **meta, "instance_id": instance_id, "month": month, "day": day,
            "digests": len(docs)})

    def day(self, instance_id: str, day: str) -> dict[str, Any] | None:
        """One instance's day summary, or None when the day was not collected on its own."""
        doc = self._backend.get(DAYS, f"{instance_id}|{day}")
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def days(self, instance_id: str, month: str) -> list[dict[str, Any]]:
        """The instance's collected days of a month, oldest first."""
        docs = self._backend.find(DAYS, FindQuery(where={"instance_id": instance_id,
                                                         "month": month}, sort=("day", 1)))
        for doc in docs:
            doc.pop("_id", None)
        return docs

    def partials(self, instance_id: str, day: str) -> list[dict[str, Any]]:
        """One instance's partials of one day (an indexed read)."""
        return self._backend.find(PARTIALS, FindQuery(where={"instance_id": instance_id,
                                                             "day": day}))

    def drop_month(self, instance_id: str, month: str) -> int:
        """Forget an instance's days of a month (its whole month was collected since)."""
        self._backend.delete(DAYS, {"instance_id": instance_id, "month": month})
        return self._backend.delete(PARTIALS, {"instance_id": instance_id, "month": month})
