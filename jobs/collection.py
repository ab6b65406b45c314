"""CloudWatch collection runs: validate a request, run it in the background, record progress.

The run document in the store is the single source of truth. This module is its only
writer; the API and the WebSocket read it, so progress works across gunicorn workers and
page reloads. A lease per period makes a second run for the same period a 409 while the first
is alive; the lease is renewed as the run progresses, so a run whose process died frees the
period after `LEASE_SECONDS` and is then marked abandoned.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Any

from analysis.digest import DigestAggregator
from analysis.errors import SlowLogParseError
from analysis.fingerprint import fingerprint_and_id
from analysis.period import Period, PeriodError, parse_period
from analysis.slowlog import SlowLogStream
from collectors.cloudwatch import LogReadError, iter_log_events, log_source_for
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)

LEASE_SECONDS = 600
KEEP_LOG_LINES = 200
SAVE_EVERY_SECONDS = 0.5
EVENTS_PER_PROGRESS_LINE = 20000
MALFORMED_SAMPLES_LOGGED = 5
FINAL_STATUSES = ("completed", "error")


class CollectionRequestError(ValueError):
    """The request cannot be run as asked (400); the message says why."""


class CollectionConflict(RuntimeError):
    """A run for the same period is already going (409)."""

    def __init__(self, running_id: str) -> None:
        super().__init__(f"a collection for this period is already running: {running_id}")
        self.running_id = running_id


def _now() -> str:
    return utc_iso(datetime.now(UTC))


def status_details(run: Mapping[str, Any]) -> dict[str, Any]:
    """The `details` object of the WebSocket status message, from a run document."""
    details: dict[str, Any] = {
        "progress": run.get("progress", 0),
        "message": run.get("message", ""),
        "processed_instances": run.get("processed_instances", 0),
        "total_instances": run.get("total_instances", 0),
        "total_queries": run.get("total_queries", 0),
        "period": run.get("period"),
    }
    if run.get("error"):
        details["error"] = run["error"]
    if run.get("completed_at"):
        details["completed_at"] = run["completed_at"]
    return details


class RunRecorder:
    """Owns one run document while it runs: counters, log lines, throttled saves."""

    def __init__(self, store: Store, run: dict[str, Any], lease: Callable[[], None]) -> None:
        self._store = store
        self._renew_lease = lease
        self.run = run
        self._lock = threading.Lock()
        self._last_save = 0.0

    def log(self, message: str, level: str = "info") -> None:
        with self._lock:
            self.run["log_seq"] = self.run.get("log_seq", 0) + 1
            self.run["logs"].append({"seq": self.run["log_seq"], "time": _now(),
                                     "level": level, "message": message})
            del self.run["logs"][:-KEEP_LOG_LINES]
        getattr(log, "warning" if level == "warning" else level, log.info)(
            "run %s: %s", self.run["collection_id"], message)
        self.save()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.run.update(fields)
        self.save()

    def fail_instance(self, instance_id: str, message: str) -> None:
        with self._lock:
            self.run["errors"].append({"instance_id": instance_id, "error": message})
        self.log(f"{instance_id}: {message}", "error")

    def add(self, **counters: int) -> None:
        with self._lock:
            for name, value in counters.items():
                self.run[name] = self.run.get(name, 0) + value
        self.save(force=False)

    def save(self, force: bool = True) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_save < SAVE_EVERY_SECONDS:
                return
            self._last_save = now
            self.run["updated_at"] = _now()
            snapshot = dict(self.run, logs=list(self.run["logs"]),
                            errors=list(self.run["errors"]))
        self._store.runs.save(snapshot)
        self._renew_lease()


class CollectionService:
    """Starts runs and executes them on a background thread with a bounded instance pool."""

    def __init__(self, settings: Settings, store: Store, max_workers: int = 4) -> None:
        self._settings = settings
        self._store = store
        self._max_workers = max_workers
        self._threads: dict[str, threading.Thread] = {}

    # -- starting -------------------------------------------------------------------------
    def _targets(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        requested = body.get("instance_ids")
        if requested is None:
            targets = [i for i in self._store.instances.list(include_gone=False)
                       if i["collect_target"]]
            if not targets:
                raise CollectionRequestError(
                    "no collection targets: tag RDS instances env=prd (then refresh the "
                    "inventory) or name instance_ids")
            return targets
        if (not isinstance(requested, list) or not requested
                or not all(isinstance(i, str) for i in requested)):
            raise CollectionRequestError("instance_ids must be a non-empty list of strings")
        known = {i["instance_id"]: i for i in self._store.instances.list()}
        unknown = [i for i in requested if i not in known]
        if unknown:
            raise CollectionRequestError(f"unknown instance_ids: {', '.join(unknown)}")
        return [known[i] for i in dict.fromkeys(requested)]

    def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and launch a run; returns the new run document."""
        if not isinstance(body, Mapping):
            raise CollectionRequestError("the request body must be a JSON object")
        allowed = {"month", "start_date", "end_date", "instance_ids"}
        extra = sorted(set(body) - allowed)
        if extra:
            raise CollectionRequestError(f"unknown field(s): {', '.join(extra)}")
        try:
            period = parse_period(body)
        except PeriodError as exc:
            raise CollectionRequestError(str(exc)) from None
        if not self._settings.aws_configured:
            raise CollectionRequestError("AWS is not configured: set AWS_REGION")
        targets = self._targets(body)

        collection_id = uuid.uuid4().hex
        lease_name = f"collection:{period.key}"
        if not self._store.flags.acquire_lease(lease_name, collection_id, LEASE_SECONDS):
            running = [r["collection_id"] for r in self._store.runs.active(period.key)]
            raise CollectionConflict(running[0] if running else "unknown")
        self._abandon_stale_runs(period.key)

        run = {
            "collection_id": collection_id, "status": "started", "progress": 0,
            "message": f"collecting {period.key} for {len(targets)} instance(s)",
            "period": period.as_dict(), "period_key": period.key,
            "instance_ids": [t["instance_id"] for t in targets],
            "processed_instances": 0, "total_instances": len(targets), "total_queries": 0,
            "malformed_events": 0, "errors": [], "logs": [], "log_seq": 0,
            "started_at": _now(), "completed_at": None,
        }
        self._store.runs.create(run)
        recorder = RunRecorder(
            self._store, run,
            lambda: self._store.flags.acquire_lease(lease_name, collection_id, LEASE_SECONDS))
        thread = threading.Thread(target=self._execute, args=(recorder, targets, period,
                                                              lease_name),
                                  name=f"collection-{collection_id[:8]}", daemon=True)
        self._threads[collection_id] = thread
        thread.start()
        return dict(run)

    def _abandon_stale_runs(self, period_key: str) -> None:
        """Runs still 'active' while we hold the period's lease were left by a dead process."""
        for stale in self._store.runs.active(period_key):
            stale.pop("_id", None)
            stale.update(status="error", error="abandoned: the process running it stopped",
                         completed_at=_now())
            self._store.runs.save(stale)

    def wait(self, collection_id: str, timeout: float | None = None) -> None:
        """Block until a run started by this process ends (for the CLI and the tests)."""
        thread = self._threads.get(collection_id)
        if thread is not None:
            thread.join(timeout)

    # -- running --------------------------------------------------------------------------
    def _execute(self, recorder: RunRecorder, targets: list[dict[str, Any]], period: Period,
                 lease_name: str) -> None:
        run = recorder.run
        try:
            recorder.update(status="in_progress")
            recorder.log(f"collecting {period.start} .. {period.end} (UTC) from "
                         f"{len(targets)} instance(s)")
            workers = max(1, min(self._max_workers, len(targets)))
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="collect") as pool:
                futures = {pool.submit(self._collect_instance, t, period, recorder): t
                           for t in targets}
                for future in as_completed(futures):
                    instance_id = futures[future]["instance_id"]
                    try:
                        future.result()
                    except Exception as exc:  # one instance failing must not stop the others
                        message = str(exc) if isinstance(exc, LogReadError) else (
                            f"unexpected {type(exc).__name__}: {exc}")
                        if not isinstance(exc, LogReadError):
                            log.exception("collection of %s failed", instance_id)
                        recorder.fail_instance(instance_id, message)
                    processed = run["processed_instances"] + 1
                    recorder.update(processed_instances=processed,
                                    progress=round(100 * processed / len(targets), 1))
            self._finish(recorder)
        except Exception as exc:
            log.exception("collection run %s failed", run["collection_id"])
            recorder.log(f"run failed: {type(exc).__name__}: {exc}", "error")
            recorder.update(status="error", error=f"{type(exc).__name__}: {exc}",
                            message="the run failed", completed_at=_now())
        finally:
            self._store.flags.acquire_lease(lease_name, run["collection_id"], -1)
            self._threads.pop(run["collection_id"], None)

    def _finish(self, recorder: RunRecorder) -> None:
        run = recorder.run
        failed = len(run["errors"])
        summary = (f"{run['total_queries']:,} slow queries from "
                   f"{run['total_instances'] - failed} of {run['total_instances']} instance(s)")
        if run["malformed_events"]:
            summary += f"; {run['malformed_events']:,} malformed event(s) skipped"
        if failed and failed == run["total_instances"]:
            recorder.log(f"no instance could be collected: {summary}", "error")
            recorder.update(status="error", progress=100, message="every instance failed",
                            error="; ".join(e["error"] for e in run["errors"])[:2000],
                            completed_at=_now())
            return
        recorder.log(f"completed: {summary}", "warning" if failed else "info")
        recorder.update(status="completed", progress=100, message=f"completed: {summary}",
                        completed_at=_now())

    def _collect_instance(self, instance: Mapping[str, Any], period: Period,
                          recorder: RunRecorder) -> None:
        instance_id = instance["instance_id"]
        source = log_source_for(instance)
        recorder.log(f"{instance_id}: reading {source.describe()}")
        aggregator = DigestAggregator(fingerprint_and_id)
        streams: dict[str, SlowLogStream] = {}
        events = 0
        for event in iter_log_events(self._settings, source, period.start_ms, period.end_ms):
            events += 1
            stream = streams.get(event.get("logStreamName", ""))
            if stream is None:
                stream = streams[event.get("logStreamName", "")] = SlowLogStream()
            try:
                entry = stream.parse(event.get("message", ""))
            except SlowLogParseError as exc:
                aggregator.add_error(exc)
                recorder.add(malformed_events=1)
                if aggregator.malformed <= MALFORMED_SAMPLES_LOGGED:
                    recorder.log(f"{instance_id}: skipped a malformed event "
                                 f"(ts {event.get('timestamp')}): {exc}", "warning")
                continue
            if entry.time is None and event.get("timestamp") is not None:
                entry.time = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
            aggregator.add(instance_id, entry)
            recorder.add(total_queries=1)
            if events % EVENTS_PER_PROGRESS_LINE == 0:
                recorder.log(f"{instance_id}: {events:,} events read")
        digests = [d.to_dict() for d in aggregator.digests(instance_id)]
        self._store.digests.replace_period(instance_id, period.key, digests)
        recorder.log(f"{instance_id}: {events:,} events, {aggregator.entries:,} queries, "
                     f"{len(digests):,} digests"
                     + (f", {aggregator.malformed:,} malformed" if aggregator.malformed else ""))
