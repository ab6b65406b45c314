"""Real-time capture: poll every enabled real-time target, record slow statements once each.

The on/off switches live in the store (they survive a restart and every worker sees them);
the scheduler calls `poll_once` every REALTIME_INTERVAL_SECONDS in the one process holding
the lease. An unreachable instance is marked with its error and retried with exponential
backoff while the others go on. New SELECT-like captures get their plan explained on a
separate small pool, so a slow EXPLAIN never delays the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from analysis.capture import CaptureFilter, CaptureTracker, Execution
from analysis.fingerprint import fingerprint_and_id
from collectors.processlist import (
    ConnectionSettingsError,
    ProcesslistError,
    ProcesslistReader,
    connection_params,
)
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
ENABLED_FLAG = "realtime.enabled"
INSTANCES_FLAG = "realtime.instances"
STATUS_FLAG = "realtime.status"
MAX_BACKOFF_SECONDS = 60.0

# (instance document, capture document) -> plan_id or None; set by whoever wires EXPLAIN in.
PlanRecorder = Callable[[dict[str, Any], dict[str, Any]], str | None]


class RealtimeService:
    """Owns the tracker, the per-instance readers and the switches."""

    def __init__(self, settings: Settings, store: Store,
                 plan_recorder: PlanRecorder | None = None) -> None:
        self._settings = settings
        self._store = store
        self._plan_recorder = plan_recorder
        self._tracker = CaptureTracker(
            min_seconds=settings.realtime_min_seconds,
            capture_filter=CaptureFilter(
                skip_users=CaptureFilter().skip_users | settings.realtime_skip_users,
                skip_schemas=settings.realtime_skip_schemas))
        self._readers: dict[str, ProcesslistReader] = {}
        self._backoff: dict[str, tuple[int, float]] = {}  # id -> (failures, retry at)
        self._inflight: dict[str, Future] = {}
        self._status: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._capture_lock = threading.Lock()  # poll and explain both update a capture
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="processlist")
        self._explain_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="explain")

    # -- switches ---------------------------------------------------------------------------
    def set_enabled(self, enabled: bool, instance_id: str | None = None) -> None:
        if instance_id is None:
            self._store.flags.set(ENABLED_FLAG, enabled)
            return
        switches = dict(self._store.flags.get(INSTANCES_FLAG, {}) or {})
        switches[instance_id] = enabled
        self._store.flags.set(INSTANCES_FLAG, switches)

    def globally_enabled(self) -> bool:
        return bool(self._store.flags.get(ENABLED_FLAG, True))

    def _instance_enabled(self, instance_id: str, switches: dict[str, bool]) -> bool:
        return bool(switches.get(instance_id, True))

    def targets(self) -> list[dict[str, Any]]:
        return [i for i in self._store.instances.list(include_gone=False)
                if i["realtime_target"]]

    def status(self) -> dict[str, Any]:
        """`GET /api/realtime/status`: the switches plus each target's last poll and error."""
        switches = self._store.flags.get(INSTANCES_FLAG, {}) or {}
        shared = self._store.flags.get(STATUS_FLAG, {}) or {}
        instances = []
        for instance in self.targets():
            iid = instance["instance_id"]
            seen = shared.get(iid, {})
            instances.append({"instance_id": iid,
                              "enabled": self._instance_enabled(iid, switches),
                              "last_poll": seen.get("last_poll"),
                              "last_error": seen.get("last_error"),
                              "source": seen.get("source")})
        return {"enabled": self.globally_enabled(), "instances": instances}

    # -- polling ----------------------------------------------------------------------------
    def poll_once(self, wait_for_all: bool = True) -> None:
        """One round over every enabled target, in parallel.

        An instance whose previous poll is still running (a slow or black-holed host) is
        skipped this round, so it never delays the others; the scheduler passes
        `wait_for_all=False` and the next tick simply finds the slow one still busy.
        """
        targets = self.targets()
        switches = self._store.flags.get(INSTANCES_FLAG, {}) or {}
        active = [t for t in targets if self.globally_enabled()
                  and self._instance_enabled(t["instance_id"], switches)]
        active_ids = {t["instance_id"] for t in active}
        for stale in [iid for iid in list(self._readers) if iid not in active_ids]:
            self._stop_instance(stale)
        now = time.monotonic()
        due = [t for t in active
               if self._backoff.get(t["instance_id"], (0, 0.0))[1] <= now]
        futures = []
        for target in due:
            iid = target["instance_id"]
            busy = self._inflight.get(iid)
            if busy is not None and not busy.done():
                continue
            self._inflight[iid] = self._pool.submit(self._poll_instance, target)
            futures.append(self._inflight[iid])
        if wait_for_all:
            wait(futures)
        self._store.flags.set(STATUS_FLAG, self._status_snapshot())

    def _status_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {k: dict(v) for k, v in self._status.items()}

    def _stop_instance(self, instance_id: str) -> None:
        reader = self._readers.pop(instance_id, None)
        if reader is not None:
            reader.close()
        for execution in self._tracker.forget(instance_id):
            self._save(execution)

    def _poll_instance(self, instance: dict[str, Any]) -> None:
        iid = instance["instance_id"]
        try:
            reader = self._readers.get(iid)
            if reader is None:
                reader = ProcesslistReader(connection_params(instance, self._settings))
                self._readers[iid] = reader
            own_pid, rows = reader.read()
        except (ConnectionSettingsError, ProcesslistError) as exc:
            failures = self._backoff.get(iid, (0, 0.0))[0] + 1
            delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - 1))
            self._backoff[iid] = (failures, time.monotonic() + delay)
            self._set_status(iid, last_error=str(exc))
            log.warning("real-time capture of %s failed (retry in %.0fs): %s", iid, delay, exc)
            return
        self._backoff.pop(iid, None)
        now = datetime.now(UTC)
        observation = self._tracker.observe(iid, now, rows, own_pid)
        for execution in observation.started:
            capture = self._save(execution)
            if self._plan_recorder is not None:
                self._explain_pool.submit(self._explain, instance, capture)
        for execution in observation.updated + observation.finished:
            self._save(execution)
        self._set_status(iid, last_poll=utc_iso(now), last_error=None, source=reader.source)

    def _set_status(self, instance_id: str, **fields: Any) -> None:
        with self._lock:
            self._status.setdefault(instance_id, {}).update(fields)

    def _save(self, execution: Execution) -> dict[str, Any]:
        fingerprint, query_id = fingerprint_and_id(execution.sql_text)
        with self._capture_lock:
            previous = self._store.captures.get(execution.capture_id) or {}
            capture = {**execution.to_dict(), "fingerprint": fingerprint, "query_id": query_id,
                       "plan_id": previous.get("plan_id"),
                       "plan_error": previous.get("plan_error")}
            self._store.captures.save(capture)
        return capture

    def _explain(self, instance: dict[str, Any], capture: dict[str, Any]) -> None:
        try:
            plan_id = self._plan_recorder(instance, capture)
            update = {"plan_id": plan_id}
        except Exception as exc:  # a plan that cannot be had is shown, not fatal
            log.info("no plan for capture %s: %s", capture["id"], exc)
            update = {"plan_error": str(exc)}
        with self._capture_lock:
            current = self._store.captures.get(capture["id"]) or capture
            self._store.captures.save({**current, **update})

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)
        self._explain_pool.shutdown(wait=False)
        for iid in list(self._readers):
            self._readers.pop(iid).close()
