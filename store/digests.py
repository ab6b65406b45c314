"""Pre-aggregated SQL digests per (instance, period, query id).

A period's digests for one instance are replaced as a set, so re-running a collection for
the same month never double counts. Sorting, filtering and paging happen here (on indexed
fields), so the digest grid stays fast with 100,000 digests.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from store.backend import Backend, FindQuery, IndexSpec
from store.flags import utc_iso

COLLECTION = "digests"
TOTALS = "digest_totals"
FLEET = "fleet_digests"  # one row per query id across instances, per period
HOURLY = "digest_hourly"  # a digest's per-hour series, by the digest's id
FLEET_STATE = "fleet_state"  # per period: the source its fleet rows were built from
# what merging into fleet rows reads: not the per-hour series (~40 kB a digest)
FLEET_FIELDS = ("instance_id", "query_id", "fingerprint", "count", "query_time", "lock_time",
                "rows_examined", "rows_sent", "first_seen", "last_seen", "users", "hosts",
                "databases", "examples", "sketch", "rank")
SORTABLE = {
    "rank",
    "query_time.sum", "query_time.avg", "query_time.max", "query_time.p95", "count",
    "lock_time.sum", "rows_examined.sum", "rows_sent.sum", "last_seen", "first_seen",
}
INDEXES = (
    IndexSpec(COLLECTION, ("instance_id", "period", "query_time.sum")),
    IndexSpec(COLLECTION, ("instance_id", "period", "count")),
    IndexSpec(COLLECTION, ("period", "query_time.sum")),
    IndexSpec(TOTALS, ("period",)),
    IndexSpec(HOURLY, ("instance_id", "period")),
    IndexSpec(FLEET, ("period", "query_time.sum")),
    IndexSpec(FLEET, ("period", "count")),
    # one statement's digests over every period (a live capture finds its month's digest)
    IndexSpec(COLLECTION, ("instance_id", "query_id")),
)
STATEMENT_FIELDS = ("instance_id", "period", "query_id", "count", "query_time", "sketch")
GROUPS = ("instance", "fleet")
FLEET_FORMAT = "fleet-v2"  # v2: the state holds the schema and user names


def digest_id(instance_id: str, period: str, query_id: str) -> str:
    return f"{instance_id}|{period}|{query_id}"


def _daily(hourly: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds of query time per day ("2026-10-05") from the digests' per-hour series."""
    days: dict[str, float] = {}
    for doc in hourly:
        for hour, figures in doc["hourly"].items():
            day = hour[:10]
            days[day] = days.get(day, 0.0) + (figures.get("query_time") or 0.0)
    return {day: round(seconds, 6) for day, seconds in sorted(days.items())}


class DigestRepository:
    """Replace a period's digests as one set; page through them with a whitelisted sort."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def replace_period(self, instance_id: str, period: str, digests: list[dict[str, Any]],
                       *, days: list[str] | None = None, malformed: int | None = None,
                       read_at: str | None = None, cut_events: int | None = None) -> None:
        """Store one instance's digests for a period, ranked by total time as pt does.

        `days`: the UTC days a month was built from (the daily schedule), None when it was
        read whole; `malformed`: the events skipped; `read_at`: when the reading started (a
        month read after its end holds all its days); `cut_events`: the events CloudWatch cut
        at its size limit (None: not counted, as before this was)."""
        ranked = sorted(digests, key=lambda d: (-d["query_time"]["sum"], d["query_id"]))
        docs, hourly = [], []
        for rank, digest in enumerate(ranked, start=1):
            key = digest_id(instance_id, period, digest["query_id"])
            doc = {k: v for k, v in digest.items() if k != "hourly"}
            docs.append({**doc, "_id": key, "instance_id": instance_id, "period": period,
                         "rank": rank})
            if digest.get("hourly"):
                hourly.append({"_id": key, "instance_id": instance_id, "period": period,
                               "hourly": digest["hourly"]})
        where = {"instance_id": instance_id, "period": period}
        # The per-hour series (up to 744 hours, ~40 kB) lives apart: only a digest's detail
        # shows it, and lists, the fleet view and comparisons read lean documents.
        self._backend.replace_set(HOURLY, where, hourly)
        self._backend.replace_set(COLLECTION, where, docs)
        # Totals are kept beside the set, so "% of all time" and the Overview's charts need
        # no scan of 100k digests.
        self._backend.put(TOTALS, f"{instance_id}|{period}", {
            "instance_id": instance_id, "period": period, "digests": len(docs),
            "count": sum(d["count"] for d in docs),
            "query_time": sum(d["query_time"]["sum"] for d in docs),
            "daily": _daily(hourly),
            "collected_at": utc_iso(datetime.now(UTC)),
            "version": uuid.uuid4().hex,  # what the period's fleet rows were built from
            "days": days, "malformed": malformed, "read_at": read_at,
            "cut_events": cut_events,
        })

    def for_fleet(self, period: str) -> Iterator[list[dict[str, Any]]]:
        """Every instance's digests of a period, one instance at a time (an indexed read
        each), with what a fleet row needs."""
        for instance_id in self.instances(period):
            yield self._backend.find(COLLECTION, FindQuery(
                where={"instance_id": instance_id, "period": period}, fields=FLEET_FIELDS))

    def daily(self, period: str) -> dict[str, dict[str, float]]:
        """Query time per instance per UTC day of a period: {instance: {day: seconds}}."""
        docs = self._backend.find(TOTALS, FindQuery(where={"period": period},
                                                    fields=("instance_id", "daily")))
        return {d["instance_id"]: d.get("daily") or {} for d in docs}

    def fleet_source(self, period: str) -> str:
        """Which instance sets the period holds now (changes with every replace_period): fleet
        rows built from another source are stale."""
        docs = self._backend.find(TOTALS, FindQuery(where={"period": period},
                                                    fields=("instance_id", "version")))
        pairs = sorted(f"{d.get('instance_id')}:{d.get('version')}" for d in docs)
        pairs.insert(0, FLEET_FORMAT)  # a new format of fleet rows rebuilds them once
        return hashlib.sha256("|".join(pairs).encode()).hexdigest()[:32]

    def fleet_built_from(self, period: str) -> str | None:
        doc = self._backend.get(FLEET_STATE, period)
        return doc.get("source") if doc else None

    def replace_fleet(self, period: str, rows: list[dict[str, Any]], source: str,
                      names: dict[str, list[str]] | None = None) -> None:
        """Store a period's fleet rows (made by analysis.fleet) as one set, what they were
        built from, and the schema and user names they hold (the Overview's filter choices,
        so offering them reads one small document)."""
        docs = [{**row, "_id": f"{period}|{row['query_id']}", "period": period}
                for row in rows]
        self._backend.replace_set(FLEET, {"period": period}, docs)
        self._backend.put(FLEET_STATE, period, {"period": period, "source": source,
                                                "rows": len(docs), "names": names or {},
                                                "built_at": utc_iso(datetime.now(UTC))})

    def fleet_names(self, period: str) -> dict[str, list[str]]:
        """{"schemas": [...], "users": [...]} of the period's statements, busiest first."""
        doc = self._backend.get(FLEET_STATE, period) or {}
        names = doc.get("names") or {}
        return {"schemas": list(names.get("schemas") or []),
                "users": list(names.get("users") or [])}

    def fleet_statements(self, period: str) -> list[dict[str, Any]]:
        """Every fleet row of a period with what the Overview's filters need (no examples,
        no percentiles): narrowing to instances, a schema or a user reads them all."""
        return self._backend.find(FLEET, FindQuery(where={"period": period}, fields=(
            "query_id", "fingerprint", "count", "query_time", "users", "databases",
            "per_instance")))

    def for_compare(self, period: str, instance_id: str | None = None) -> list[dict[str, Any]]:
        """A period's digests with the figures a comparison needs: one instance's, or the
        fleet rows when `instance_id` is None."""
        fields = ("instance_id", "query_id", "fingerprint", "count", "query_time",
                  "lock_time", "rows_examined", "instance_ids")
        if instance_id is None:
            return self._backend.find(FLEET, FindQuery(where={"period": period},
                                                       fields=fields))
        return self._backend.find(COLLECTION, FindQuery(
            where={"instance_id": instance_id, "period": period}, fields=fields))

    def built_from_days(self, period: str) -> dict[str, list[str]]:
        """The days each instance's month was built from by the daily schedule; instances
        whose month was collected whole are not in it."""
        docs = self._backend.find(TOTALS, FindQuery(where={"period": period},
                                                    fields=("instance_id", "days")))
        return {d["instance_id"]: list(d["days"]) for d in docs if d.get("days") is not None}

    def stored(self, instance_id: str, period: str) -> dict[str, Any] | None:
        """What one instance-period holds now: {digests, count, query_time, collected_at,
        days, malformed, read_at} (the last three may be missing on older documents)."""
        doc = self._backend.get(TOTALS, f"{instance_id}|{period}")
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def totals(self, instance_id: str | None = None,
               period: str | None = None) -> dict[str, float]:
        """Sum of calls and query time over the matching instance-periods."""
        where: dict[str, Any] = {}
        if instance_id:
            where["instance_id"] = instance_id
        if period:
            where["period"] = period
        docs = self._backend.find(TOTALS, FindQuery(where=where))
        return {"digests": sum(d["digests"] for d in docs),
                "count": sum(d["count"] for d in docs),
                "query_time": sum(d["query_time"] for d in docs)}

    def periods(self, instance_id: str | None = None) -> list[str]:
        """Periods that hold digests, newest first."""
        where = {"instance_id": instance_id} if instance_id else {}
        return sorted(self._backend.distinct(TOTALS, "period", where), reverse=True)

    def instances(self, period: str | None = None) -> list[str]:
        where = {"period": period} if period else {}
        return self._backend.distinct(TOTALS, "instance_id", where)

    def page(
        self,
        *,
        instance_id: str | None = None,
        period: str | None = None,
        text: str | None = None,
        query_id: str | None = None,
        sort: str = "query_time.sum",
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
        group: str = "instance",
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of digests; `group="fleet"` pages the fleet rows (one per query id across
        instances; `instance_id` does not apply to them)."""
        if sort not in SORTABLE:
            raise ValueError(f"cannot sort digests by {sort!r}; choose one of {sorted(SORTABLE)}")
        if group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}")
        collection = FLEET if group == "fleet" else COLLECTION
        where: dict[str, Any] = {}
        if instance_id and group != "fleet":
            where["instance_id"] = instance_id
        if period:
            where["period"] = period
        if text:
            where["fingerprint"] = {"$contains": text}
        if query_id:
            where["query_id"] = {"$contains": query_id}
        rows = self._backend.find(
            collection,
            FindQuery(where=where, sort=(sort, -1 if descending else 1), skip=offset, limit=limit),
        )
        for row in rows:
            row.pop("_id", None)
        return rows, self._backend.count(collection, where)

    def get_fleet(self, period: str, query_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(FLEET, f"{period}|{query_id}")
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def get(self, instance_id: str, period: str, query_id: str) -> dict[str, Any] | None:
        """One digest whole, its per-hour series included."""
        key = digest_id(instance_id, period, query_id)
        doc = self._backend.get(COLLECTION, key)
        if doc is None:
            return None
        doc.pop("_id", None)
        if "hourly" not in doc:  # stored apart (digests stored before kept it inline)
            hourly = self._backend.get(HOURLY, key)
            doc["hourly"] = hourly["hourly"] if hourly else {}
        return doc

    def for_statement(self, instance_id: str, query_id: str) -> list[dict[str, Any]]:
        """One instance's digests of one statement in every stored period, newest first, with
        what placing a live duration needs (the quantile sketch, no examples or series): a
        capture is measured against its month's digest, or the latest month that has it."""
        docs = self._backend.find(COLLECTION, FindQuery(
            where={"instance_id": instance_id, "query_id": query_id},
            sort=("period", -1), fields=STATEMENT_FIELDS))
        for doc in docs:
            doc.pop("_id", None)
        return docs
