"""CloudWatch collection runs: validate a request, run it in the background, record progress.

The run document in the store is the single source of truth (see jobs/run_recorder.py). This
module is its only writer; the API and the WebSocket read it, so progress works across
gunicorn workers and page reloads. A lease per period makes a second run for the same period
a 409 while the first is alive. The owner's heartbeat renews that lease; when the owner dies,
`sweep()` (at start-up, before every new run and every few seconds) marks the run interrupted
and frees its period at once.

Nothing is lost or counted twice: an instance's digests are replaced as one set only after it
was read whole; an instance that read 0 events keeps the digests it already had (CloudWatch
retention may have dropped the events) unless `replace_empty` is asked; counters count only
what was stored.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.period import Period, PeriodError, month_period, parse_period
from collectors.cloudwatch import (
    LogReadError,
    LogSlice,
    LogSource,
    UseFilterInstead,
    cloudwatch_limits,
    list_streams,
    log_source_for,
    logs_client,
    plan_slices,
    read_errors,
    read_slice,
)
from jobs.day_collection import covered_by_month, month_read_whole, store_day
from jobs.fleet import ensure_fleet
from jobs.parse_pool import ParsePool, ParserGone
from jobs.run_recorder import RunRecorder, now_iso
from settings import Settings
from store import Store, StoreError
from store.flags import utc_iso

log = logging.getLogger(__name__)

STALE_AFTER_SECONDS = 15  # no heartbeat for this long: the owner is gone
SWEEP_SECONDS = 5
EVENTS_PER_PROGRESS_LINE = 20000
MALFORMED_SAMPLES_LOGGED = 5
FINAL_STATUSES = ("completed", "error")
INTERRUPTED = "interrupted: the process running it stopped"
REQUEST_FIELDS = {"month", "start_date", "end_date", "instance_ids", "replace_empty"}
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}"


class CollectionRequestError(ValueError):
    """The request cannot be run as asked (400); the message says why."""


class CollectionConflict(RuntimeError):
    """A run for the same period is already going (409)."""

    def __init__(self, running_id: str) -> None:
        super().__init__(f"a collection for this period is already running: {running_id}")
        self.running_id = running_id


class CollectionBusy(RuntimeError):
    """COLLECTION_MAX_RUNS runs are going already (429); the message names them."""


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
    if run.get("warnings"):
        details["warnings"] = list(run["warnings"])
    if run.get("completed_at"):
        details["completed_at"] = run["completed_at"]
    return details


def _owner_is_dead_here(owner: str | None) -> bool:
    """A run owned by a process on this host whose pid no longer exists (a restart, SIGKILL)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def lease_name(period_key: str) -> str:
    return f"collection:{period_key}"


class CollectionService:
    """Starts runs, executes them on background threads, and sweeps up runs whose owner died.

    Reading is shared by every run: one pool of instance threads, one pool of reader threads
    (`COLLECTION_READERS`: the AWS requests in flight, whatever the number of runs) and the
    process-wide per-API limiters; each run parses on its own `ParsePool`."""

    def __init__(self, settings: Settings, store: Store, max_workers: int | None = None
                 ) -> None:
        self._settings = settings
        self._store = store
        workers = max_workers or settings.collection_readers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect")
        self._readers = ThreadPoolExecutor(max_workers=settings.collection_readers,
                                           thread_name_prefix="collect-read")
        self._threads: dict[str, threading.Thread] = {}
        self._unsaved: dict[str, RunRecorder] = {}  # final statuses the store refused
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()
        self._sweep_error: str | None = None  # the last one logged, so it is said once
        self._safe_sweep()

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
            shown = ", ".join(u[:100] for u in unknown[:5])
            raise CollectionRequestError(f"unknown instance_ids: {shown}"
                                         + (" …" if len(unknown) > 5 else ""))
        return [known[i] for i in dict.fromkeys(requested)]

    def _check_request(self, body: Mapping[str, Any]) -> Period:
        if not isinstance(body, Mapping):
            raise CollectionRequestError("the request body must be a JSON object")
        extra = sorted(set(body) - REQUEST_FIELDS)
        if extra:
            raise CollectionRequestError(
                f"unknown field(s): {', '.join(e[:40] for e in extra[:5])} (accepted: "
                f"{', '.join(sorted(REQUEST_FIELDS))})")
        if not isinstance(body.get("replace_empty", False), bool):
            raise CollectionRequestError("replace_empty must be true or false")
        try:
            return parse_period(body)
        except PeriodError as exc:
            raise CollectionRequestError(str(exc)) from None

    def start(self, body: Mapping[str, Any], *, day: date | None = None) -> dict[str, Any]:
        """Validate and launch a run; returns the new run document. `day` (the daily
        schedule; `body` may then name only instance_ids) reads that UTC day into its month
        (jobs/day_collection.py); the run holds the month's lease and `period_key`, so it
        never runs beside another run of that month."""
        period = Period(day, day) if day else self._check_request(body)
        key = month_period(day.year, day.month).key if day else period.key
        if not self._settings.aws_configured:
            raise CollectionRequestError("AWS is not configured: set AWS_REGION")
        targets = self._targets(body)
        collection_id = uuid.uuid4().hex
        with self._start_lock:
            self.sweep()
            if not self._store.flags.acquire_lease(lease_name(key), collection_id,
                                                   STALE_AFTER_SECONDS):
                running = [r["collection_id"] for r in self._store.runs.active(key)]
                raise CollectionConflict(running[0] if running else "unknown")
            active = self._store.runs.active()
            if len(active) >= self._settings.collection_max_runs:
                self._release(key, collection_id)
                raise CollectionBusy(
                    f"{len(active)} collection run(s) are going already (COLLECTION_MAX_RUNS="
                    f"{self._settings.collection_max_runs}): try again when one ends")
            run = {
                "collection_id": collection_id, "status": "started", "progress": 0,
                "message": (f"collecting {day or period.key} for {len(targets)} instance(s)"
                            + (f" into {key}" if day else "")),
                "period": period.as_dict(), "period_key": key,
                "day": day.isoformat() if day else None,
                "instance_ids": [t["instance_id"] for t in targets],
                "replace_empty": bool(body.get("replace_empty", False)),
                "processed_instances": 0, "total_instances": len(targets),
                "total_queries": 0, "malformed_events": 0, "errors": [], "warnings": [],
                "logs": [], "log_seq": 0, "owner": PROCESS_OWNER, "started_at": now_iso(),
                "heartbeat_at": now_iso(), "completed_at": None,
            }
            self._store.runs.create(run)
        recorder = RunRecorder(
            self._store, run,
            lambda: self._store.flags.acquire_lease(lease_name(key), collection_id,
                                                    STALE_AFTER_SECONDS))
        thread = threading.Thread(target=self._execute, args=(recorder, targets, period),
                                  name=f"collection-{collection_id[:8]}", daemon=True)
        self._threads[collection_id] = thread
        recorder.start_heartbeat()
        thread.start()
        return dict(run)

    def _release(self, period_key: str, collection_id: str) -> None:
        try:
            self._store.flags.release_lease(lease_name(period_key), collection_id)
        except StoreError as exc:
            log.warning("could not free the lease of %s: %s", period_key, exc)

    # -- sweeping -------------------------------------------------------------------------
    def sweep(self) -> list[str]:
        """Mark runs whose owner is gone as interrupted and free their periods at once."""
        for collection_id, recorder in list(self._unsaved.items()):
            if recorder.save():
                self._unsaved.pop(collection_id, None)
        cutoff = utc_iso(datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS))
        interrupted = []
        for run in self._store.runs.active():
            collection_id = run["collection_id"]
            if collection_id in self._threads or collection_id in self._unsaved:
                continue
            beat = run.get("heartbeat_at") or run.get("updated_at") or run.get("started_at")
            if (beat or "") >= cutoff and not _owner_is_dead_here(run.get("owner")):
                continue
            run.pop("_id", None)
            run.update(status="error", error=INTERRUPTED, message=INTERRUPTED,
                       completed_at=now_iso())
            self._store.runs.save(run)
            if run.get("period_key"):
                self._release(run["period_key"], collection_id)
            log.warning("run %s: %s", collection_id, INTERRUPTED)
            interrupted.append(collection_id)
        return interrupted

    def _safe_sweep(self) -> None:
        """Sweep; while the store is down, say so once (not every few seconds)."""
        try:
            self.sweep()
        except StoreError as exc:
            if self._sweep_error != str(exc):
                log.warning("could not check for interrupted runs: %s", exc)
            self._sweep_error = str(exc)
            return
        if self._sweep_error is not None:
            log.info("checking for interrupted runs again: the store answers")
            self._sweep_error = None

    def start_sweeper(self, seconds: float = SWEEP_SECONDS) -> None:
        """Sweep every few seconds in this process (every process may: it is idempotent)."""

        def loop() -> None:
            while not self._stopped.wait(seconds):
                self._safe_sweep()

        threading.Thread(target=loop, name="collection-sweeper", daemon=True).start()

    def stop_sweeper(self) -> None:
        self._stopped.set()

    def wait(self, collection_id: str, timeout: float | None = None) -> None:
        """Block until a run started by this process ends (for the CLI and the tests)."""
        thread = self._threads.get(collection_id)
        if thread is not None:
            thread.join(timeout)

    # -- running --------------------------------------------------------------------------
    def _execute(self, recorder: RunRecorder, targets: list[dict[str, Any]],
                 period: Period) -> None:
        run = recorder.run
        final: dict[str, Any]
        parsers: ParsePool | None = None
        try:
            recorder.update(status="in_progress")
            recorder.log(f"collecting {period.start} .. {period.end} (UTC) from "
                         f"{len(targets)} instance(s)")
            parsers = ParsePool(self._settings.collection_parse_processes)
            slices = max(1, min(self._settings.collection_slices,
                                -(-self._settings.collection_readers // len(targets))))
            futures: dict[Future, dict[str, Any]] = {
                self._pool.submit(self._collect_instance, t, period, recorder, parsers,
                                  slices): t
                for t in targets}
            for future in as_completed(futures):
                self._account(recorder, futures[future]["instance_id"], future)
                processed = run["processed_instances"] + 1
                recorder.update(processed_instances=processed,
                                progress=round(100 * processed / len(targets), 1))
            self._refresh_fleet(recorder, period)
            final = self._final_fields(run)
            level = ("error" if final["status"] == "error"
                     else "warning" if run["errors"] or run.get("warnings") else "info")
            recorder.log(final["message"], level)
        except Exception as exc:  # the run ends with a message, never as a dead thread
            log.exception("collection run %s failed", run["collection_id"])
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            recorder.log(f"run failed: {reason}", "error")
            final = {"status": "error", "error": reason, "message": "the run failed"}
        finally:
            if parsers is not None:
                parsers.close()
        final.setdefault("completed_at", now_iso())
        if not recorder.finish(**final):
            self._unsaved[run["collection_id"]] = recorder
        self._release(run["period_key"], run["collection_id"])
        self._threads.pop(run["collection_id"], None)

    def fleet_ready(self, period: str) -> None:
        """Make the period's fleet rows current before they are read (see jobs/fleet.py)."""
        ensure_fleet(self._store, period)

    def refresh_stale_fleets(self) -> list[str]:
        """Rebuild every period's fleet rows that are stale (digests replaced outside a run,
        or rows of an older format after an upgrade), so no page waits for a rebuild of
        100,000 statements; the scheduler runs it at start and every few minutes. Returns
        the periods rebuilt."""
        rebuilt = []
        for period in self._store.digests.periods():
            if ensure_fleet(self._store, period) is not None:
                rebuilt.append(period)
        return rebuilt

    def _refresh_fleet(self, recorder: RunRecorder, period: Period) -> None:
        """Rebuild the period's fleet rows from every instance's digests (those of this run and
        those collected before); a failure is a warning, the instances' digests stand."""
        started = time.monotonic()
        key = recorder.run["period_key"]  # a day run's is its month
        try:
            rows = ensure_fleet(self._store, key, force=True)
        except StoreError as exc:
            recorder.warn(f"the fleet view of {key} could not be rebuilt: {exc}")
            return
        recorder.log(f"fleet view: {rows or 0:,} statements across instances "
                     f"({time.monotonic() - started:.1f} s)")

    def _account(self, recorder: RunRecorder, instance_id: str, future: Future) -> None:
        """Add an instance's stored counts to the run, or record why it failed."""
        try:
            stored: InstanceResult = future.result()
        except Exception as exc:  # one instance failing must not stop the others
            if isinstance(exc, LogReadError):
                message = str(exc)
            elif isinstance(exc, ParserGone):
                message = f"its events could not be parsed: {exc}"
            elif isinstance(exc, StoreError):
                message = f"its digests could not be stored: {exc}"
            else:
                log.exception("collection of %s failed", instance_id)
                message = f"unexpected {type(exc).__name__}: {str(exc)[:300]}"
            recorder.fail_instance(instance_id, message)
            return
        recorder.add(total_queries=stored.queries, malformed_events=stored.malformed)
        if stored.warning:
            recorder.warn(f"{instance_id}: {stored.warning}")

    @staticmethod
    def _final_fields(run: Mapping[str, Any]) -> dict[str, Any]:
        failed = len(run["errors"])
        total = run["total_instances"]
        summary = (f"{run['total_queries']:,} slow queries stored from {total - failed} of "
                   f"{total} instance(s)")
        if run["malformed_events"]:
            summary += f"; {run['malformed_events']:,} malformed event(s) skipped"
        if failed and failed == total:
            return {"status": "error", "progress": 100,
                    "message": f"every instance failed ({total})",
                    "error": "; ".join(f"{e['instance_id']}: {e['error']}"
                                       for e in run["errors"])[:2000]}
        if failed:
            summary += f"; {failed} failed"
        if run.get("warnings"):
            summary += f"; {len(run['warnings'])} warning(s)"
        return {"status": "completed", "progress": 100, "message": f"completed: {summary}"}

    def _collect_instance(self, instance: Mapping[str, Any], period: Period,
                          recorder: RunRecorder, parsers: ParsePool,
                          slices: int) -> InstanceResult:
        instance_id = instance["instance_id"]
        day = recorder.run.get("day")
        covered = covered_by_month(self._store, instance_id, day) if day else None
        if covered:
            recorder.log(f"{instance_id}: {covered}")
            return InstanceResult(0, 0, None)
        source = log_source_for(instance)
        recorder.log(f"{instance_id}: reading {source.describe()}")
        try:
            events, aggregator, samples = self._read_instance(
                instance_id, source, period, recorder, parsers, slices, use_filter=False)
        except UseFilterInstead as why:
            recorder.log(f"{instance_id}: {why}: reading with FilterLogEvents instead",
                         "warning")
            events, aggregator, samples = self._read_instance(
                instance_id, source, period, recorder, parsers, slices, use_filter=True)
        for timestamp, reason in samples[:MALFORMED_SAMPLES_LOGGED]:
            recorder.log(f"{instance_id}: skipped a malformed event (ts {timestamp}): "
                         f"{reason}", "warning")
        if day:
            kept = store_day(self._store, instance_id, day, aggregator, events,
                             replace_empty=bool(recorder.run.get("replace_empty")),
                             collection_id=recorder.run["collection_id"])
            if not kept.warning:
                recorder.log(f"{instance_id}: {events:,} events, {kept.queries:,} queries "
                             f"on {day}, its month rebuilt from its days")
            return InstanceResult(*kept)
        digests = [{**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
                   for d in aggregator.digests(instance_id)]
        kept = None if recorder.run.get("replace_empty") else self._kept_instead(
            instance_id, period, events)
        if kept is not None:
            return InstanceResult(0, 0, _kept_warning(kept))
        self._store.digests.replace_period(instance_id, period.key, digests,
                                           malformed=aggregator.malformed,
                                           read_at=recorder.run["started_at"],
                                           cut_events=aggregator.cut_events)
        month_read_whole(self._store, instance_id, period, recorder.run["started_at"])
        recorder.log(f"{instance_id}: {events:,} events, {aggregator.entries:,} queries, "
                     f"{len(digests):,} digests"
                     + (f", {aggregator.malformed:,} malformed" if aggregator.malformed else ""))
        return InstanceResult(aggregator.entries, aggregator.malformed, None)

    def _read_instance(self, instance_id: str, source: LogSource, period: Period,
                       recorder: RunRecorder, parsers: ParsePool, slices: int,
                       use_filter: bool) -> tuple[int, DigestAggregator, list]:
        """Read every slice of the instance on the reader pool, pages going to its parser;
        all or nothing: a failed slice drops what the others parsed and raises."""
        settings = self._settings
        attempts = settings.aws_max_attempts
        limits = cloudwatch_limits(settings)
        with read_errors(source):
            client = logs_client(settings)
            streams = None if use_filter else list_streams(client, limits, source, attempts)
        plan = plan_slices(streams, period.start_ms, period.end_ms,
                           1 if use_filter else slices)
        session = parsers.open(instance_id)
        progress = _Progress(instance_id, recorder)
        failed = threading.Event()

        def read(part: LogSlice) -> int:
            def on_page(key: tuple[str, int], page: list) -> None:
                if failed.is_set():  # another slice failed: the instance is dropped
                    raise _SliceAbandoned
                session.feed(key, page)
                progress.add(len(page))

            with read_errors(source):
                return read_slice(client, limits, source, part, on_page, attempts)

        futures = [self._readers.submit(read, part) for part in plan]
        try:
            events = sum(f.result() for f in futures)
        except BaseException:
            failed.set()
            for future in futures:
                future.cancel()
            for future in futures:
                if not future.cancelled():
                    future.exception()  # wait: no reader may feed a dropped session
            session.drop()
            raise
        aggregator, samples = session.finish()
        return events, aggregator, samples

    def _kept_instead(self, instance_id: str, period: Period,
                      events: int) -> dict[str, Any] | None:
        """With 0 events and digests already stored for the period: what is kept."""
        if events:
            return None
        stored = self._store.digests.stored(instance_id, period.key)
        return stored if stored and stored.get("digests") else None

class _SliceAbandoned(Exception):
    """Another slice of the instance failed: this one stops reading."""


class _Progress:
    """A progress line every EVENTS_PER_PROGRESS_LINE events of an instance (slices add
    from several reader threads)."""

    def __init__(self, instance_id: str, recorder: RunRecorder) -> None:
        self._instance_id, self._recorder = instance_id, recorder
        self._events = 0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            before, self._events = self._events, self._events + count
            crossed = self._events // EVENTS_PER_PROGRESS_LINE > before // EVENTS_PER_PROGRESS_LINE
            total = self._events
        if crossed:
            self._recorder.log(f"{self._instance_id}: {total:,} events read")


class InstanceResult:
    """What one instance's collection stored: entries, malformed events, and a warning."""

    __slots__ = ("queries", "malformed", "warning")

    def __init__(self, queries: int, malformed: int, warning: str | None) -> None:
        self.queries = queries
        self.malformed = malformed
        self.warning = warning


def _kept_warning(stored: Mapping[str, Any]) -> str:
    when = (stored.get("collected_at") or "")[:10] or "an earlier run"
    return (f"0 events: CloudWatch retention? kept {stored['digests']:,} digests collected "
            f'on {when} (send "replace_empty": true to replace them with nothing)')


