"""One collection run's document while it runs: counters, log lines, saves and a heartbeat.

The document in the store is the single source of truth for a run. Its owner process writes
`heartbeat_at` every HEARTBEAT_SECONDS from a thread of its own (so a long CloudWatch call
does not look like a dead process) and renews the period's lease with it; when the process
dies both stop, and `CollectionService.sweep()` in any process marks the run interrupted.
A store failure while saving never kills the run: the save is retried at the next change
or heartbeat, and the final status is retried until it lands or the store stays down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from store import Store, StoreError
from store.flags import utc_iso

log = logging.getLogger(__name__)

KEEP_LOG_LINES = 200
SAVE_EVERY_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0
FINAL_SAVE_ATTEMPTS = 8


def now_iso() -> str:
    return utc_iso(datetime.now(UTC))


class RunRecorder:
    """Owns one run document while it runs; every write goes through `save`."""

    def __init__(self, store: Store, run: dict[str, Any], renew_lease: Callable[[], Any]) -> None:
        self._store = store
        self._renew_lease = renew_lease
        self.run = run
        self._lock = threading.Lock()
        self._last_save = 0.0
        self._stopped = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, daemon=True,
                                           name=f"heartbeat-{run['collection_id'][:8]}")
        self.save_failures = 0

    # -- heartbeat ------------------------------------------------------------------------
    def start_heartbeat(self) -> None:
        self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        self._stopped.set()

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            self.save()

    # -- changes --------------------------------------------------------------------------
    def log(self, message: str, level: str = "info") -> None:
        with self._lock:
            self.run["log_seq"] = self.run.get("log_seq", 0) + 1
            self.run["logs"].append({"seq": self.run["log_seq"], "time": now_iso(),
                                     "level": level, "message": message})
            del self.run["logs"][:-KEEP_LOG_LINES]
        getattr(log, "warning" if level == "warning" else level, log.info)(
            "run %s: %s", self.run["collection_id"], message)
        self.save()

    def warn(self, message: str) -> None:
        """A warning the run ends with (kept in `warnings`, shown apart from errors)."""
        with self._lock:
            self.run.setdefault("warnings", []).append(message)
        self.log(message, "warning")

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

    # -- writing --------------------------------------------------------------------------
    def save(self, force: bool = True) -> bool:
        """Write the document (throttled unless forced); False when the store refused it."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_save < SAVE_EVERY_SECONDS:
                return True
            self._last_save = now
            self.run["updated_at"] = self.run["heartbeat_at"] = now_iso()
            snapshot = dict(self.run, logs=list(self.run["logs"]),
                            errors=list(self.run["errors"]),
                            warnings=list(self.run.get("warnings", [])))
        try:
            self._store.runs.save(snapshot)
            self._renew_lease()
        except StoreError as exc:
            self.save_failures += 1
            if self.save_failures in (1, 10, 100):
                log.warning("run %s: cannot save progress (%s); retrying",
                            self.run["collection_id"], exc)
            return False
        return True

    def finish(self, **fields: Any) -> bool:
        """Set the final status and write it, retrying with back-off while the store is down."""
        self.stop_heartbeat()
        with self._lock:
            self.run.update(fields)
        delay = 0.25
        for _attempt in range(FINAL_SAVE_ATTEMPTS):
            if self.save():
                return True
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
        log.error("run %s: its final status could not be stored; it will be marked "
                  "interrupted when the store is back", self.run["collection_id"])
        return False
