"""Real-time capture: poll every enabled real-time target, record slow statements once each.

The on/off switches live in the store (they survive a restart and every worker sees them);
the scheduler calls `poll_once` every REALTIME_INTERVAL_SECONDS in the one process holding
the lease. Its thread and the pools' threads share the readers, back-off and busy state; all
of it is touched only under one lock that is never held during network I/O, and a reader is
closed only when no poll is using it. An unreachable instance is marked with its error and
retried with exponential backoff while the others go on; its running executions are kept, so
when it answers again a statement still running keeps its capture and one that ended meanwhile
is finished, never recorded twice. An outage is logged once as a warning when it starts and
once as info when the instance answers again, not on every retry. New SELECT-like captures get
their plan explained on a separate small pool, so a slow EXPLAIN never delays the next poll.

Scale (bench/realtime_poll.py: 500 instances polled every second on 2 cores): each poll is
one round trip returning a few rows (the server filters, see ProcesslistReader); polls of
connected instances and polls that must connect first run on separate pools, so switching
capture on for a fleet, or hosts that never answer, never hold back the connected ones.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analysis.capture import CaptureFilter, CaptureTracker, Execution
from analysis.fingerprint import fingerprint_and_id
from collectors.processlist import COLLECTOR as PROCESSLIST
from collectors.processlist import (
    ConnectionSettingsError,
    ProcesslistError,
    ProcesslistReader,
    connection_params,
)
from jobs.registry import ScheduledJob
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
ENABLED_FLAG = "realtime.enabled"
INSTANCES_FLAG = "realtime.instances"
STATUS_FLAG = "realtime.status"
MAX_BACKOFF_SECONDS = 15.0  # after an RDS reboot capture resumes within 15 s: statements
# that start and end in the gap are missed, so the cap stays short (one refused connect a try)
# Polls of connected instances: one short round trip each (the server filters, see
# ProcesslistReader), so a few threads poll hundreds of instances a second; more threads let
# that many slow answers (up to the 5 s read timeout) wait without delaying the rest. They are
# started only as the load needs them.
POLL_WORKERS = 32
# Polls that must connect first (capture switched on, a new instance, a retry after a failure)
# run on their own pool, so a wave of connects or a host that never answers (a 3 s connect
# timeout) never holds back the polls of connected instances; bounded, so switching capture
# on for a whole fleet ramps up without opening hundreds of connections at once.
CONNECT_WORKERS = 16

# An instance stopped in this process: its id and its reader, if one was made.
Retired = tuple[str, ProcesslistReader | None]
# (instance document, capture document) -> plan_id or None; set by whoever wires EXPLAIN in.
PlanRecorder = Callable[[dict[str, Any], dict[str, Any]], str | None]
# instance document -> its reader (read(), source, close(), like ProcesslistReader); the demo
# passes a simulated processlist, everything else polls the server (see _checkout_reader).
ReaderFactory = Callable[[dict[str, Any]], ProcesslistReader]


@dataclass(frozen=True)
class Backoff:
    """An instance whose polls fail: how many in a row, when to try next, since when."""

    failures: int
    retry_at: float  # time.monotonic()
    since: float  # time.monotonic() of the first failure of this outage


class RealtimeService:
    """Owns the tracker, the per-instance readers and the switches."""

    def __init__(self, settings: Settings, store: Store,
                 plan_recorder: PlanRecorder | None = None,
                 reader_factory: ReaderFactory | None = None) -> None:
        self._settings = settings
        self._store = store
        self._plan_recorder = plan_recorder
        self._reader_factory = reader_factory
        self._tracker = CaptureTracker(
            min_seconds=settings.realtime_min_seconds,
            capture_filter=CaptureFilter(
                skip_users=CaptureFilter().skip_users | settings.realtime_skip_users,
                skip_schemas=settings.realtime_skip_schemas))
        # Shared between the scheduler's thread and the pools' threads: only touched under
        # self._lock, which is never held while a server or the store answers.
        self._lock = threading.Lock()
        self._readers: dict[str, ProcesslistReader] = {}
        self._busy: set[str] = set()  # instances with a poll submitted and not yet released
        self._retiring: set[str] = set()  # switched off while busy: stop when released
        self._finished: list[Execution] = []  # executions of stopped instances, to store
        self._backoff: dict[str, Backoff] = {}  # instances whose last poll failed
        self._status: dict[str, dict[str, Any]] = {}
        self._closed = False
        self._pid = os.getpid()  # connections made here are closed only here
        self._capture_lock = threading.Lock()  # poll and explain both update a capture
        self._pool = ThreadPoolExecutor(max_workers=POLL_WORKERS,
                                        thread_name_prefix="processlist")
        self._connect_pool = ThreadPoolExecutor(max_workers=CONNECT_WORKERS,
                                                thread_name_prefix="processlist-connect")
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
        `wait_for_all=False` and the next tick simply finds the slow one still busy. The
        switches are read once, before the shared state is touched, so one round sees one
        consistent setting and the lock is never held while the store answers.
        """
        if self.closed:
            return
        enabled = self.globally_enabled()
        switches = self._store.flags.get(INSTANCES_FLAG, {}) or {}
        active = [t for t in self.targets()
                  if enabled and self._instance_enabled(t["instance_id"], switches)]
        planned = self._plan_round(active)
        if planned is None:
            return
        retired, due = planned
        self._retire(retired)
        futures = [f for f in (self._submit_poll(target) for target in due) if f is not None]
        if wait_for_all:
            wait(futures)
        self._store.flags.set(STATUS_FLAG, self._status_snapshot())

    def _plan_round(self, active: list[dict[str, Any]]
                    ) -> tuple[list[Retired], list[dict[str, Any]]] | None:
        """Under the lock: which instances stop now, and which are polled (marked busy);
        None once shut down."""
        active_ids = {t["instance_id"] for t in active}
        now = time.monotonic()
        with self._lock:
            if self._closed:
                return None
            self._retiring -= active_ids  # switched back on before its last poll ended
            retired = []
            for iid in [i for i in self._readers if i not in active_ids]:
                if iid in self._busy:
                    self._retiring.add(iid)  # closed when its poll releases it
                else:
                    retired.append(self._take_reader(iid))
            due = [t for t in active if t["instance_id"] not in self._busy
                   and (t["instance_id"] not in self._backoff
                        or self._backoff[t["instance_id"]].retry_at <= now)]
            self._busy.update(t["instance_id"] for t in due)
        return retired, due

    def _take_reader(self, instance_id: str) -> Retired:
        """Under the lock: remove an instance's reader and running executions."""
        self._retiring.discard(instance_id)
        self._finished.extend(self._tracker.forget(instance_id))
        return instance_id, self._readers.pop(instance_id, None)

    def _retire(self, retired: list[Retired]) -> None:
        """Outside the lock: close retired readers and store their finished executions."""
        for _iid, reader in retired:
            if reader is not None:
                reader.close()
        with self._lock:
            finished, self._finished = self._finished, []
        for execution in finished:
            self._save(execution)

    def _submit_poll(self, target: dict[str, Any]) -> Future | None:
        """Queue one instance's poll: on the poll pool when its reader holds a connection,
        else on the connect pool (see CONNECT_WORKERS)."""
        iid = target["instance_id"]
        with self._lock:
            reader = self._readers.get(iid)
        connected = reader is not None and getattr(reader, "connected", True)
        try:
            pool = self._pool if connected else self._connect_pool
            future = pool.submit(self._poll_instance, target)
        except RuntimeError:  # the pool was shut down while this round was planned
            self._release(iid)
            return None
        # a done callback also runs for a poll cancelled by shutdown, so nothing stays busy
        future.add_done_callback(lambda done: self._poll_done(iid, done))
        return future

    def _poll_done(self, instance_id: str, future: Future) -> None:
        """Say why a poll died (a store error while saving), instead of losing it silently."""
        if not future.cancelled() and future.exception() is not None:
            exc = future.exception()
            log.log(logging.DEBUG if self.closed else logging.WARNING,
                    "real-time poll of %s failed: %s: %s", instance_id, type(exc).__name__, exc)
        self._release(instance_id)

    def _release(self, instance_id: str) -> None:
        """A poll is over: the reader is free, and closed now if it was retired meanwhile."""
        with self._lock:
            self._busy.discard(instance_id)
            if instance_id not in self._retiring and not self._closed:
                return
            closing = self._closed
            retired = [self._take_reader(instance_id)]
        if not closing:
            self._retire(retired)
        elif retired[0][1] is not None:
            retired[0][1].close()  # shutting down: close it, but store nothing more

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def _status_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {k: dict(v) for k, v in self._status.items()}

    def _checkout_reader(self, instance: dict[str, Any]) -> ProcesslistReader:
        """The instance's reader, made on first use; only its busy poll uses it."""
        iid = instance["instance_id"]
        with self._lock:
            reader = self._readers.get(iid)
        if reader is None:
            if self._reader_factory is not None:
                reader = self._reader_factory(instance)
            else:
                reader = ProcesslistReader(connection_params(instance, self._settings),
                                           min_seconds=self._settings.realtime_min_seconds)
            with self._lock:
                reader = self._readers.setdefault(iid, reader)
        return reader

    def _poll_instance(self, instance: dict[str, Any]) -> None:
        iid = instance["instance_id"]
        try:
            reader = self._checkout_reader(instance)
            own_pid, rows = reader.read()
        except (ConnectionSettingsError, ProcesslistError) as exc:
            self._record_failure(iid, exc)
            return
        now = datetime.now(UTC)
        with self._lock:
            outage = self._backoff.pop(iid, None)
            closed = self._closed
            observation = None  # switched off while reading: nothing new is recorded
            if iid not in self._retiring and not closed:
                observation = self._tracker.observe(iid, now, rows, own_pid)
        if outage is not None and not closed:
            log.info("real-time capture of %s resumed: it answers again after %.0fs and %d "
                     "failed polls", iid, time.monotonic() - outage.since, outage.failures)
        if observation is None:
            return
        for execution in observation.started:
            capture = self._save(execution)
            if self._plan_recorder is not None:
                self._submit_explain(instance, capture)
        for execution in observation.updated + observation.finished:
            self._save(execution)
        self._set_status(iid, last_poll=utc_iso(now), last_error=None, source=reader.source)

    def _record_failure(self, instance_id: str, exc: Exception) -> None:
        """Mark the instance failing and retry it after 1, 2, 4 ... MAX_BACKOFF_SECONDS.

        Only the first failure of an outage is a warning: a server down for an hour would
        otherwise repeat the same line on every retry. The retries are debug lines, and the
        first poll that works again says so once (see `_poll_instance`); the status keeps
        the current error for the API and the Real-time page meanwhile.
        """
        now = time.monotonic()
        with self._lock:
            previous = self._backoff.get(instance_id)
            failures = previous.failures + 1 if previous else 1
            delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - 1))
            self._backoff[instance_id] = Backoff(failures, now + delay,
                                                 previous.since if previous else now)
            self._status.setdefault(instance_id, {}).update(last_error=str(exc))
        if previous is None:
            log.warning("real-time capture of %s failed, retrying with back-off (up to every "
                        "%.0fs) until it answers: %s", instance_id, MAX_BACKOFF_SECONDS, exc)
        else:
            log.debug("real-time capture of %s still failing (%d in a row, next try in %.0fs): "
                      "%s", instance_id, failures, delay, exc)

    def _submit_explain(self, instance: dict[str, Any], capture: dict[str, Any]) -> None:
        try:
            self._explain_pool.submit(self._explain, instance, capture)
        except RuntimeError:  # shut down meanwhile: the capture stays, without a plan
            log.info("no plan for capture %s: shutting down", capture["id"])

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
        """Stop polling and explaining, and close every reader (a reader in use by a poll is
        closed when that poll ends). Safe to call twice: atexit may follow gunicorn's
        worker_exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if os.getpid() != self._pid:
                return  # a forked copy (gunicorn --preload): its sockets are the parent's
            idle = [self._readers.pop(iid) for iid in list(self._readers)
                    if iid not in self._busy]
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._connect_pool.shutdown(wait=False, cancel_futures=True)
        self._explain_pool.shutdown(wait=False, cancel_futures=True)
        for reader in idle:
            reader.close()


# Always scheduled (it polls only the instances switched on, and shows "set MYSQL_USER" on
# those when no account is set; the demo polls simulated processlists without one).
SCHEDULED_JOBS = (
    ScheduledJob("realtime-capture", lambda settings: settings.realtime_interval_seconds,
                 task=lambda services: lambda: services.realtime.poll_once(wait_for_all=False),
                 reads=(PROCESSLIST.name,)),
)
