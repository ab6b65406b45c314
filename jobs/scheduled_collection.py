"""The collections nobody has to press: the previous month on COLLECT_MONTHLY_AT, and
yesterday into its month on COLLECT_DAILY_AT (jobs/daily_collection.py).

The scheduler's leader calls `tick()` every minute (SCHEDULED_JOBS below), one tick at a
time. What the monthly schedule did is kept in one small flag document in the store
(`schedule:monthly`: the run it started, the last month it finished, the last outcome), so a
restart, a deploy or a new leader neither forgets a run nor starts it twice. A run that ends
is a month done, whatever its outcome (the outcome is shown on the Collection page and by
`GET /api/schedule`; a failed month is re-run by hand), except a run that failed as a whole
or could not start, which is tried again an hour later, three times at most: a CloudWatch
outage at 02:00 must not cost a month. Nothing starts before the first inventory refresh has
listed the instances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from analysis.schedule import MonthlyAt, due_month, next_run, parse_daily_at, parse_monthly_at
from jobs.collection import (
    CollectionBusy,
    CollectionConflict,
    CollectionRequestError,
    CollectionService,
)
from jobs.daily_collection import (
    MAX_ATTEMPTS,
    RETRY_AFTER,
    DailyCollection,
    parse_stamp,
    run_outcome,
)
from jobs.registry import ScheduledJob
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
STATE_FLAG = "schedule:monthly"
TICK_SECONDS = 60


class ScheduledCollection:
    """Starts the due month's and day's collections from the scheduler, and says what they
    did."""

    def __init__(self, settings: Settings, store: Store, collection: CollectionService,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.spec: MonthlyAt | None = parse_monthly_at(settings.collect_monthly_at)
        self.daily = DailyCollection(parse_daily_at(settings.collect_daily_at), store,
                                     collection)
        self._store = store
        self._collection = collection
        self._clock = clock
        self._ticking = threading.Lock()  # a tick wired twice, or slow, never overlaps itself

    @property
    def enabled(self) -> bool:
        """Is either schedule on (the scheduler then ticks it)?"""
        return self.spec is not None or self.daily.spec is not None

    def _state(self) -> dict[str, Any]:
        return dict(self._store.flags.get(STATE_FLAG) or {})

    def _settle(self, state: dict[str, Any], now: datetime) -> bool:
        """Fold a finished run of ours into the state; True while it is still going."""
        run_id = state.get("collection_id")
        if not run_id:
            return False
        outcome = run_outcome(self._store, run_id, now)
        if outcome is None:
            return True
        run, ended = outcome
        status = ended["status"]
        state["last"] = {"month": state.get("month"), **ended,
                         "message": (run or {}).get("message", "")}
        state["collection_id"] = None
        failed_whole = run is None or (status == "error" and not run.get("total_queries"))
        if failed_whole and state.get("attempts", 0) < MAX_ATTEMPTS:
            state["retry_at"] = utc_iso(now + RETRY_AFTER)
        else:
            state["done"], state["attempts"], state["retry_at"] = state.get("month"), 0, None
        return False

    def tick(self, now: datetime | None = None) -> str | None:
        """Start the due month's run, then the due day's, if due; a new run's id (the
        month's first), or None."""
        if not self._ticking.acquire(blocking=False):
            return None
        try:
            now = now or self._clock()
            monthly = self._tick_monthly(now)
            daily = self.daily.tick(now)
        finally:
            self._ticking.release()
        return monthly or daily

    def _tick_monthly(self, now: datetime) -> str | None:
        if self.spec is None:
            return None
        state = self._state()
        if self._settle(state, now):
            return None
        month = due_month(self.spec, now, state.get("done"))
        if month is None or (state.get("retry_at") and utc_iso(now) < state["retry_at"]
                             and state.get("month") == month):
            self._store.flags.set(STATE_FLAG, state)
            return None
        if state.get("month") != month:
            state["attempts"] = 0
        if not self._store.instances.list():  # the first inventory refresh has not ended yet
            return None
        try:
            run = self._collection.start({"month": month})
        except (CollectionBusy, CollectionConflict) as exc:  # try again at the next tick
            log.info("scheduled collection of %s waits: %s", month, exc)
            self._store.flags.set(STATE_FLAG, state)
            return None
        except CollectionRequestError as exc:  # e.g. AWS not configured: say it, retry hourly
            attempts = state.get("attempts", 0) + 1
            state.update(month=month, collection_id=None, attempts=attempts, last={
                "month": month, "collection_id": None, "status": "error",
                "message": str(exc), "ended_at": utc_iso(now)})
            if attempts < MAX_ATTEMPTS:
                state["retry_at"] = utc_iso(now + RETRY_AFTER)
            else:
                state.update(done=month, attempts=0, retry_at=None)
            self._store.flags.set(STATE_FLAG, state)
            log.warning("scheduled collection of %s not started: %s", month, exc)
            return None
        state.update(month=month, collection_id=run["collection_id"],
                     started_at=utc_iso(now), attempts=state.get("attempts", 0) + 1,
                     retry_at=None)
        self._store.flags.set(STATE_FLAG, state)
        log.info("scheduled collection of %s started (run %s)", month, run["collection_id"])
        return run["collection_id"]

    def status(self, now: datetime | None = None) -> dict[str, Any]:
        """{"monthly_at", "description", "next_run", "running", "last", "daily"} for the API
        and the Collection page; "monthly_at" is "" and "next_run" None when it is switched
        off; "daily" is DailyCollection.status()."""
        now = now or self._clock()
        return {**self._monthly_status(now), "daily": self.daily.status(now)}

    def _monthly_status(self, now: datetime) -> dict[str, Any]:
        if self.spec is None:
            return {"monthly_at": "", "description": "off (COLLECT_MONTHLY_AT is empty)",
                    "next_run": None, "running": None, "last": None}
        state = self._state()
        self._settle(state, now)  # a run that ended shows as the last one (not saved here)
        going = state.get("collection_id")
        upcoming = (None if going else
                    max(next_run(self.spec, now, state.get("done")),
                        parse_stamp(state.get("retry_at")) or now))
        return {"monthly_at": self.spec.text(), "description": self.spec.describe(),
                "next_run": utc_iso(upcoming) if upcoming else None,
                "running": going, "last": state.get("last")}




def _tick_every(settings: Settings) -> float | None:
    """A tick a minute while either schedule is on."""
    return TICK_SECONDS if settings.collect_monthly_at or settings.collect_daily_at else None


SCHEDULED_JOBS = (
    ScheduledJob("scheduled-collection", _tick_every,
                 task=lambda services: services.schedule.tick,
                 reads=("cloudwatch-slowlog",), run_now=True),
)
