"""The background scheduler (APScheduler), running jobs in exactly one process.

Under gunicorn every worker builds the app, so every worker has a scheduler; each job first
takes a lease in the store and only the holder does the work. If that process dies, another
takes over when the lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from store import Store, StoreError

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"


class Scheduler:
    """A BackgroundScheduler whose jobs run only while this process holds the lease."""

    def __init__(self, store: Store, lease_seconds: float = 120) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self.last_errors: dict[str, str] = {}

    def _is_leader(self) -> bool:
        try:
            return self._store.flags.acquire_lease(LEASE_NAME, self.owner, self._lease_seconds)
        except StoreError as exc:
            log.warning("scheduler lease unavailable: %s", exc)
            return False

    def add_interval_job(self, job_id: str, func: Callable[[], Any], *, seconds: float,
                         run_now: bool = False) -> None:
        def guarded() -> None:
            if not self._is_leader():
                return
            try:
                func()
                self.last_errors.pop(job_id, None)
            except Exception as exc:  # one failing run must not kill the schedule
                log.exception("scheduled job %s failed", job_id)
                self.last_errors[job_id] = f"{type(exc).__name__}: {exc}"

        # APScheduler reads an explicit next_run_time=None as "paused": pass it only to run now.
        extra: dict[str, Any] = {"next_run_time": datetime.now(UTC)} if run_now else {}
        self._scheduler.add_job(
            guarded, "interval", seconds=seconds, id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, **extra,
        )

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def status(self) -> dict[str, Any]:
        jobs = []
        if self._scheduler.running:
            for job in self._scheduler.get_jobs():
                jobs.append({"id": job.id, "next_run": job.next_run_time.isoformat()
                             if job.next_run_time else None,
                             "last_error": self.last_errors.get(job.id)})
        return {"running": self._scheduler.running, "jobs": jobs}
