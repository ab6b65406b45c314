"""The background scheduler (APScheduler), running jobs in exactly one process.

Under gunicorn every worker builds the app, so every worker has a scheduler; a lease in the
store decides which one (the leader) runs the jobs. A lease job, apart from the real jobs,
renews the lease every third of its length in the leader and tries to take it every second
(at most) in the others. `shutdown()` releases it, so after a restart or a deploy another
process takes over at its next try; after a crash the lease expires and another process
takes over within one lease period (plus one try). Jobs added with `run_now` run as soon as
this process becomes the leader, at start or when it takes over, instead of waiting a whole
interval.

A job only starts while this process believes it leads, and it believes so only until the
lease it last wrote would expire, so a leader cut off from the store stops by itself before
another one can take over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from store import Store, StoreError

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"
LEASE_JOB_ID = "scheduler-lease"
MAX_TRY_SECONDS = 1.0  # a follower's longest wait between tries once the lease is free


def quiet_apscheduler_logs() -> None:
    """APScheduler logs two INFO lines per job run; with a job every second that floods the
    log. Only its warnings are kept, unless someone configured its loggers on purpose."""
    logger = logging.getLogger("apscheduler")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


class Scheduler:
    """A BackgroundScheduler whose jobs run only while this process holds the lease."""

    def __init__(self, store: Store, lease_seconds: float = 30.0) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._renew_seconds = lease_seconds / 3
        self._try_seconds = min(self._renew_seconds, MAX_TRY_SECONDS)
        self._pid = os.getpid()
        self.owner = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._state_lock = threading.Lock()  # guards the fields below; never held for I/O
        self._leader_until = 0.0  # monotonic time our last written lease runs out
        self._started: float | None = None
        self._renewed_at = float("-inf")
        self._stopped = False
        self._startup_jobs: set[str] = set()
        self._lease_error: str | None = None
        self._lease_lock = threading.Lock()  # one lease write at a time, release last
        self.last_errors: dict[str, str] = {}
        quiet_apscheduler_logs()

    # -- leadership ---------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while the lease this process last took or renewed is still valid."""
        with self._state_lock:
            return not self._stopped and time.monotonic() < self._leader_until

    def _lease_tick(self) -> None:
        """Renew the lease when due (leader) or try to take it (follower)."""
        with self._state_lock:
            now = time.monotonic()
            renewing = now < self._leader_until
            # half a try of slack, so tick jitter never pushes a renewal a whole try later
            if renewing and now - self._renewed_at + self._try_seconds / 2 < self._renew_seconds:
                return
        with self._lease_lock:
            with self._state_lock:
                if self._stopped:
                    return
            started = time.monotonic()
            try:
                held = self._store.flags.acquire_lease(LEASE_NAME, self.owner,
                                                       self._lease_seconds)
            except StoreError as exc:
                self._note_lease_error(str(exc))
                return
            self._note_lease_error(None)
            self._record(held, started, renewing)

    def _record(self, held: bool, started: float, was_leader: bool) -> None:
        with self._state_lock:
            if self._stopped:
                return
            if held:
                self._leader_until = started + self._lease_seconds
                self._renewed_at = started
            else:
                self._leader_until = 0.0
            startup = sorted(self._startup_jobs) if held and not was_leader else []
        if held and not was_leader:
            log.info("scheduler: this process (%s) now runs the background jobs", self.owner)
            self._run_soon(startup)
        elif was_leader and not held:
            log.warning("scheduler: lost the lease to another process; jobs stop here")

    def _note_lease_error(self, error: str | None) -> None:
        """Log a store problem once when it starts and once when it ends, not every try."""
        with self._state_lock:
            changed, self._lease_error = error != self._lease_error, error
        if changed and error:
            log.warning("scheduler lease unavailable: %s", error)
        elif changed:
            log.info("scheduler lease reachable again")

    def _run_soon(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            try:
                self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
            except Exception as exc:  # noqa: BLE001 - the job was removed or we are stopping
                log.debug("start-up run of %s not scheduled: %s", job_id, exc)

    # -- jobs ---------------------------------------------------------------------------------
    def add_interval_job(self, job_id: str, func: Callable[[], Any], *, seconds: float,
                         run_now: bool = False) -> None:
        """Run `func` every `seconds` in the leader; `run_now` also runs it as soon as this
        process becomes the leader (a start-up refresh that must not wait an interval)."""

        def guarded() -> None:
            if not self.is_leader:
                return
            try:
                func()
            except Exception as exc:  # one failing run must not kill the schedule
                error = f"{type(exc).__name__}: {exc}"
                # a job ticking every second against a store that is down would print a
                # traceback a second: say it once, and again only when the error changes
                if self.last_errors.get(job_id) != error:
                    if isinstance(exc, StoreError):
                        log.warning("scheduled job %s failed (until the store answers "
                                    "again): %s", job_id, exc)
                    else:
                        log.exception("scheduled job %s failed", job_id)
                self.last_errors[job_id] = error
                return
            if self.last_errors.pop(job_id, None) is not None:
                log.info("scheduled job %s works again", job_id)

        self._scheduler.add_job(
            guarded, "interval", seconds=seconds, id=job_id, replace_existing=True,
            max_instances=1, coalesce=True,
        )
        if run_now:
            with self._state_lock:
                self._startup_jobs.add(job_id)
            if self.is_leader:
                self._run_soon([job_id])

    def start(self) -> None:
        """Start the jobs and try for the lease at once (a fresh process leads immediately
        when the lease is free)."""
        if self._scheduler.running or self._stopped:
            return
        self._started = time.monotonic()
        # APScheduler reads an explicit next_run_time=None as "paused": pass a time.
        self._scheduler.add_job(
            self._lease_tick, "interval", seconds=self._try_seconds, id=LEASE_JOB_ID,
            replace_existing=True, max_instances=1, coalesce=True,
            next_run_time=datetime.now(UTC))
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop the jobs and release the lease, so another process takes over at once.

        Safe to call twice (atexit after gunicorn's worker_exit). A job already running is not
        waited for: an exiting worker must not hold the lease hostage to a slow AWS call.
        """
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            self._leader_until = 0.0
        if os.getpid() != self._pid:
            return  # a forked copy (gunicorn --preload): the lease is its parent's to release
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._lease_lock:  # after any lease write in flight, so none can follow it
            try:
                if self._store.flags.release_lease(LEASE_NAME, self.owner):
                    log.info("scheduler: released the lease (%s)", self.owner)
            except StoreError as exc:
                log.warning("scheduler lease not released (it expires in %.0fs): %s",
                            self._lease_seconds, exc)

    # -- health -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """For /healthz: whether jobs run, whether this process leads and who does (None: no
        process holds a live lease, so no job runs anywhere)."""
        jobs = []
        if self._scheduler.running:
            for job in self._scheduler.get_jobs():
                if job.id == LEASE_JOB_ID:
                    continue
                jobs.append({"id": job.id, "next_run": job.next_run_time.isoformat()
                             if job.next_run_time else None,
                             "last_error": self.last_errors.get(job.id)})
        try:
            leader = self._store.flags.lease_holder(LEASE_NAME)
            lease_error = None
        except StoreError as exc:
            leader, lease_error = None, str(exc)
        body = {"running": self._scheduler.running, "jobs": jobs, "owner": self.owner,
                "is_leader": self.is_leader, "leader": leader,
                "lease_seconds": self._lease_seconds,
                # a leader is expected within one lease of the start (a crashed one's
                # lease must run out first)
                "settled": (self._started is not None
                            and time.monotonic() - self._started > self._lease_seconds)}
        if lease_error:
            body["lease_error"] = lease_error
        return body
