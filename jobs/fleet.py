"""Keeping a period's fleet rows (analysis/fleet.py) in step with its per-instance digests.

A collection run rebuilds them when it ends; anything else that replaces a period's digests
(the demo, a test, a run that died before its end) leaves them stale, and the first fleet
read rebuilds them. Staleness is cheap to check: one small document per instance-period.
"""

from __future__ import annotations

import logging
import time

from analysis.fleet import FleetMerger
from analysis.overview import filter_names
from jobs.registry import ScheduledJob
from store import Store
from store.backend import no_gc_pauses

log = logging.getLogger(__name__)
REFRESH_SECONDS = 300


def ensure_fleet(store: Store, period: str, force: bool = False) -> int | None:
    """Rebuild the period's fleet rows if its digests changed since; the number of rows
    when rebuilt, None when they were current. Raises StoreError."""
    digests = store.digests
    source = digests.fleet_source(period)
    if not force and digests.fleet_built_from(period) == source:
        return None
    started = time.monotonic()
    merger = FleetMerger(period)
    with no_gc_pauses():  # one pause for the whole fold, not one per batch (see there)
        for batch in digests.for_fleet(period):
            for digest in batch:
                merger.add(digest)
        rows = merger.rows()
    digests.replace_fleet(period, rows, source, filter_names(rows))
    log.info("fleet view of %s: %d statements rebuilt in %.2f s", period, len(rows),
             time.monotonic() - started)
    return len(rows)


# stale fleet views (an upgrade, digests replaced outside a run) are rebuilt here, not by the
# first page that reads them
SCHEDULED_JOBS = (
    ScheduledJob("fleet-views", lambda _settings: REFRESH_SECONDS,
                 task=lambda services: services.collection.refresh_stale_fleets,
                 run_now=True),
)
