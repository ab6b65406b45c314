"""Yesterday collected every night into its month, on COLLECT_DAILY_AT (issue 11).

`ScheduledCollection.tick` (jobs/scheduled_collection.py, run every minute by the scheduler's
leader only) calls `DailyCollection.tick`. What it did is kept in one flag document
(`schedule:daily`: the last day settled, the day and run in flight, attempts, the last
outcome), so a restart or a new leader neither forgets a day nor runs it twice. Days go one
run at a time, oldest first: missed nights are caught up (at most CATCH_UP_DAYS back; on the
first night the month so far is filled from its 1st). A day that failed as a whole is tried
again an hour later, and the instances that failed in a run that otherwise worked are tried
again alone; after MAX_ATTEMPTS the day is settled with its outcome shown. A day run holds its
month's lease, so it waits while a run of the whole month goes (and the other way round).

For the 1st of a month, "yesterday" is the last day of the month before, and goes into that
month: the month's days are whole before the monthly run (COLLECT_MONTHLY_AT) re-reads it,
which replaces the days. A day already held by a month read whole after it ended is settled
without a run.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from analysis.schedule import DailyAt, due_days, month_days_label, next_daily_run
from jobs.collection import (
    CollectionBusy,
    CollectionConflict,
    CollectionRequestError,
    CollectionService,
)
from jobs.day_collection import covered_by_month
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
STATE_FLAG = "schedule:daily"
# shared with the monthly schedule (jobs/scheduled_collection.py imports them from here)
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 3
GOING = ("started", "in_progress")


def parse_stamp(value: str | None) -> datetime | None:
    """A stored utc_iso timestamp back as a datetime (None stays None)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def run_outcome(store: Store, run_id: str, now: datetime
                ) -> tuple[dict[str, Any] | None, dict[str, Any]] | None:
    """A scheduled run's end, as both schedules record it: None while it is still going,
    else (the run document, or None when it was lost; {"collection_id", "status", "message",
    "ended_at"})."""
    run = store.runs.get(run_id)
    if run is not None and run.get("status") in GOING:
        return None
    return run, {"collection_id": run_id, "status": (run or {}).get("status", "error"),
                 "message": (run or {}).get("message", "the run was lost"),
                 "ended_at": (run or {}).get("completed_at") or utc_iso(now)}


class DailyCollection:
    """Starts the due day's collection from the scheduler, and says what it did."""

    def __init__(self, spec: DailyAt | None, store: Store,
                 collection: CollectionService) -> None:
        self.spec = spec
        self._store = store
        self._collection = collection

    def _state(self) -> dict[str, Any]:
        return dict(self._store.flags.get(STATE_FLAG) or {})

    def _save(self, state: dict[str, Any]) -> None:
        self._store.flags.set(STATE_FLAG, state)

    @staticmethod
    def _done(state: dict[str, Any], day: str, last: dict[str, Any]) -> None:
        state.update(done=day, day=None, collection_id=None, attempts=0, retry_at=None,
                     instance_ids=None, last=last)

    def _settle(self, state: dict[str, Any], now: datetime) -> bool:
        """Fold a finished run of ours into the state; True while it is still going."""
        run_id = state.get("collection_id")
        if not run_id:
            return False
        outcome = run_outcome(self._store, run_id, now)
        if outcome is None:
            return True
        run, ended = outcome
        day, status = state["day"], ended["status"]
        last = {"day": day, "month": day[:7], **ended}
        failed = [e["instance_id"] for e in (run or {}).get("errors") or []]
        if state.get("attempts", 0) < MAX_ATTEMPTS and (status != "completed" or failed):
            # as a whole (every instance, or the run was lost) or the instances that failed
            retry = None if status != "completed" else failed
            state.update(collection_id=None, retry_at=utc_iso(now + RETRY_AFTER),
                         instance_ids=retry if retry else state.get("instance_ids"),
                         last=last)
        else:
            self._done(state, day, last)
        return False

    def tick(self, now: datetime) -> str | None:
        """Start the due day's run if one is due; the new run's id, or None."""
        if self.spec is None:
            return None
        state = self._state()
        if self._settle(state, now):
            return None
        if state.get("retry_at") and utc_iso(now) < state["retry_at"]:
            self._save(state)
            return None
        if not self._store.instances.list():  # the first inventory refresh has not ended yet
            return None
        targets = [i["instance_id"] for i in self._store.instances.list(include_gone=False)
                   if i["collect_target"]]
        day = state.get("day")
        while day is None:
            days = due_days(self.spec, now, date.fromisoformat(state["done"])
                            if state.get("done") else None)
            if not days:
                self._save(state)
                return None
            day = days[0].isoformat()
            covered = [covered_by_month(self._store, i, day) for i in targets]
            if targets and all(covered):  # the month was read whole since: nothing to read
                self._done(state, day, {
                    "day": day, "month": day[:7], "collection_id": None,
                    "status": "completed", "message": "already there: the month was collected "
                    "whole", "ended_at": utc_iso(now)})
                day = None
        body = {"instance_ids": state["instance_ids"]} if state.get("instance_ids") else {}
        attempts = state.get("attempts", 0) + 1 if state.get("day") == day else 1
        try:
            run = self._collection.start(body, day=date.fromisoformat(day))
        except (CollectionBusy, CollectionConflict) as exc:  # try again at the next tick
            log.info("scheduled collection of %s waits: %s", day, exc)
            self._save(state)
            return None
        except CollectionRequestError as exc:  # e.g. AWS not configured: say it, retry hourly
            last = {"day": day, "month": day[:7], "collection_id": None, "status": "error",
                    "message": str(exc), "ended_at": utc_iso(now)}
            if attempts < MAX_ATTEMPTS:
                state.update(day=day, attempts=attempts, last=last,
                             retry_at=utc_iso(now + RETRY_AFTER))
            else:
                self._done(state, day, last)
            self._save(state)
            log.warning("scheduled collection of %s not started: %s", day, exc)
            return None
        state.update(day=day, collection_id=run["collection_id"], attempts=attempts,
                     retry_at=None, started_at=utc_iso(now))
        self._save(state)
        log.info("scheduled collection of %s started (run %s)", day, run["collection_id"])
        return run["collection_id"]

    def status(self, now: datetime) -> dict[str, Any]:
        """{"daily_at", "description", "next_run", "running", "day", "pending", "missed",
        "last", "month"} for the API and the Collection page: the day in flight or next, the
        days due now, the first and last day left behind when the leader was away longer
        than CATCH_UP_DAYS, and how much of the latest day's month is in ("month":
        {"month", "days_by_instance", "label"})."""
        if self.spec is None:
            return {"daily_at": "", "description": "off (COLLECT_DAILY_AT is empty)",
                    "next_run": None, "running": None, "day": None, "pending": [],
                    "missed": None, "last": None, "month": None}
        state = self._state()
        self._settle(state, now)  # a run that ended shows as the last one (not saved here)
        done = date.fromisoformat(state["done"]) if state.get("done") else None
        pending = [d.isoformat() for d in due_days(self.spec, now, done)]
        first = date.fromisoformat(pending[0]) if pending else None
        missed = ([(done + timedelta(days=1)).isoformat(),
                   (first - timedelta(days=1)).isoformat()]
                  if done and first and first > done + timedelta(days=1) else None)
        going = state.get("collection_id")
        upcoming = (None if going else
                    max(next_daily_run(self.spec, now, done), parse_stamp(state.get("retry_at"))
                        or now))
        shown = state.get("day") or (state.get("last") or {}).get("day")
        month = None
        if shown:
            days = self._store.digests.built_from_days(shown[:7])
            month = {"month": shown[:7], "days_by_instance": days,
                     "label": month_days_label(shown[:7], days)}
        return {"daily_at": self.spec.text(), "description": self.spec.describe(),
                "next_run": utc_iso(upcoming) if upcoming else None, "running": going,
                "day": state.get("day") or (pending[0] if pending else None),
                "pending": pending, "missed": missed, "last": state.get("last"),
                "month": month}
