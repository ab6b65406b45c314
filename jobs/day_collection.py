"""A day collected on its own lands in its month: stored as the day's partials, and the
instance's month digests rebuilt from all its days (issue 11, `COLLECT_DAILY_AT`).

The month's digests are always either one reading of the whole month or the merge of its
days, never a mix, so nothing is counted twice:
- a day run stores the day as one set (a re-run replaces it) and rebuilds the month from every
  stored day of the instance (analysis/day_partial.py: equal to reading the month at once);
- a day whose month was read whole after the day had ended is in it already: not read again;
- a whole-month run that starts after the month ended holds every day: it drops the days.
  One that starts earlier (the current month, by hand) keeps them: the next day run rebuilds
  the month from the days again.
The day's UTC day and its month are strings ("2026-12-17", "2026-12") as stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from analysis.day_partial import MonthFromDays, partial_of
from analysis.digest import DigestAggregator
from analysis.period import Period, period_label
from store import Store
from store.flags import utc_iso


class DayStored(NamedTuple):
    """What one instance's day run stored: entries, malformed events, a warning."""

    queries: int
    malformed: int
    warning: str | None


def day_end(day: str) -> str:
    """The moment the day ends (its next midnight, UTC), in the store's timestamp format."""
    after = date.fromisoformat(day) + timedelta(days=1)
    return utc_iso(datetime(after.year, after.month, after.day, tzinfo=UTC))


def covered_by_month(store: Store, instance_id: str, day: str) -> str | None:
    """Why the instance's day needs no reading: its month was read whole after the day
    ended (it holds the day). None when the day must be read."""
    stored = store.digests.stored(instance_id, day[:7])
    if not stored or stored.get("days") is not None:
        return None
    read_at = stored.get("read_at") or stored.get("collected_at") or ""
    if read_at < day_end(day):
        return None
    return (f"{day} is already in {period_label(day[:7])}, collected whole on "
            f"{read_at[:10]}")


def store_day(store: Store, instance_id: str, day: str, aggregator: DigestAggregator,
              events: int, *, replace_empty: bool, collection_id: str) -> DayStored:
    """Store the instance's day and rebuild its month from its days. A day that read 0
    events where a stored one had digests is kept (CloudWatch retention), unless
    `replace_empty`."""
    if not events and not replace_empty:
        known = store.day_partials.day(instance_id, day)
        if known and known.get("digests"):
            return DayStored(0, 0, (
                f"0 events on {day}: CloudWatch retention? kept its {known['digests']:,} "
                f"digests collected on {(known.get('collected_at') or '')[:10]}"))
    partials = [partial_of(stats) for stats in aggregator.digests(instance_id)]
    store.day_partials.replace_day(instance_id, day, partials, {
        "events": events, "queries": aggregator.entries, "malformed": aggregator.malformed,
        "cut_events": aggregator.cut_events,
        "stream_dbs": [[name, db] for name, db in sorted(aggregator.stream_dbs.items())],
        "collected_at": utc_iso(datetime.now(UTC)), "collection_id": collection_id})
    rebuild_month(store, instance_id, day[:7])
    return DayStored(aggregator.entries, aggregator.malformed, None)


def rebuild_month(store: Store, instance_id: str, month: str) -> int:
    """Replace the instance's month digests by the merge of its stored days, oldest first
    (one day's partials in memory at a time, beside the month's digests); the digests'
    number."""
    merged = MonthFromDays(instance_id)
    malformed = cut = 0
    for meta in store.day_partials.days(instance_id, month):
        merged.add_day(meta["day"], store.day_partials.partials(instance_id, meta["day"]),
                       dict(meta.get("stream_dbs") or []))
        malformed += meta.get("malformed") or 0
        cut += meta.get("cut_events") or 0
    digests = merged.digests()
    store.digests.replace_period(instance_id, month, digests, days=merged.days,
                                 malformed=malformed, cut_events=cut)
    return len(digests)


def month_read_whole(store: Store, instance_id: str, period: Period, read_at: str) -> None:
    """After a whole month's digests were stored: drop its days when the reading started
    after the month had ended (it holds them all, and the days would be counted twice)."""
    if len(period.key) != 7:  # not a calendar month
        return
    if read_at >= day_end(period.end.isoformat()):
        store.day_partials.drop_month(instance_id, period.key)
