"""RDS events for the demo's two months, seeded into the store at start.

moto records events only "now" (it cannot backdate them), and the demo shows the two months
before the current one, so their events are written the way an inventory refresh would have
kept them then: a Multi-AZ failover on orders-prd-1 the day its regression starts, a
parameter group change with the reboot that applies it, an engine upgrade and a maintenance
window, plus the nightly backups that are kept but not drawn.  The messages are RDS's own
wording.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from analysis.period import Period
from analysis.rds_events import classify
from store import Store
from store.flags import utc_iso

FAILOVER_STARTED = ("A Multi-AZ failover that resulted in the promotion of a standby "
                    "instance has started.")
FAILOVER_DONE = ("A Multi-AZ failover that resulted in the promotion of a standby instance is "
                 "complete. It may take several minutes for the DNS to transfer to the new "
                 "primary DB instance.")
BACKED_UP = ("orders-prd-1", "orders-prd-2")  # instances with nightly automated backups


def _at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=UTC)


def demo_events(before: Period, latest: Period) -> list[dict]:
    """The events of both months: (instance, time, categories, message) as RDS lists them."""
    earlier_day = before.start + timedelta(days=8)
    window_day = before.start + timedelta(days=19)
    params_day = latest.start + timedelta(days=11)
    reboot_day = latest.start + timedelta(days=17)
    rows = [
        ("legacy-maria", _at(earlier_day, 2, 10), ["maintenance"],
         "Database instance engine version upgrade started."),
        ("legacy-maria", _at(earlier_day, 2, 31), ["maintenance"],
         "Database instance engine version upgrade finished. New engine version: 10.11.8."),
        ("catalog-aurora-1", _at(window_day, 23, 5), ["maintenance"],
         "Offline maintenance of the DB instance is taking place. The DB instance is currently "
         "unavailable."),
        ("catalog-aurora-1", _at(window_day, 23, 19), ["maintenance"],
         "Offline maintenance of the DB instance is complete. The DB instance is now "
         "available."),
        ("orders-prd-1", _at(latest.start, 3, 12, 5), ["failover"], FAILOVER_STARTED),
        ("orders-prd-1", _at(latest.start, 3, 13, 40), ["failover"], FAILOVER_DONE),
        ("orders-prd-2", _at(params_day, 14, 20), ["configuration change"],
         "Updated to use DBParameterGroup orders-mysql80-tuned"),
        ("orders-prd-2", _at(params_day, 14, 31), ["availability"], "DB instance restarted"),
        ("legacy-maria", _at(reboot_day, 4, 2), ["availability"], "DB instance shutdown"),
        ("legacy-maria", _at(reboot_day, 4, 6), ["availability"], "DB instance restarted"),
    ]
    day = before.start
    while day <= latest.end:
        for n, instance_id in enumerate(BACKED_UP):
            rows.append((instance_id, _at(day, 5, 10 + 20 * n), ["backup"],
                         "Backing up DB instance"))
            rows.append((instance_id, _at(day, 5, 14 + 20 * n), ["backup"],
                         "Finished DB instance backup"))
        day += timedelta(days=1)
    return [{"instance_id": iid, "time": utc_iso(when), "categories": cats, "message": text,
             "kind": classify(cats, text)} for iid, when, cats, text in rows]


def seed_demo_events(store: Store, before: Period, latest: Period) -> int:
    """Keep the demo months' events; how many."""
    return store.rds_events.save(demo_events(before, latest))
