"""One store read per tick for every WebSocket of this process following the same run.

Each `/ws/collection/<id>` socket used to read the run document itself every tick: 50
browsers following one run in a worker made 50 reads (and 50 JSON parses of a document with
up to 200 log lines) every 0.3 s. A `RunWatcher` reads each followed run once per tick in
one background thread and hands the latest document to its followers, who wake when it
changes. The thread starts with the first follower and ends when the last one leaves.

A failed read (the store is down) is logged once per outage and the followers keep the last
document; the thread carries on and reads again at the next tick. A run that vanishes from
the store also keeps its last document. Documents handed out are shared: read, never change.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from store.runs import RunRepository

log = logging.getLogger(__name__)

TICK_SECONDS = 0.3


class _Followed:
    """One followed run: its latest document, a version bumped on change, its followers."""

    def __init__(self, lock: threading.Lock) -> None:
        self.doc: dict[str, Any] | None = None
        self.loaded = False  # a first read answered (the run may still be unknown: doc None)
        self.version = 0
        self.followers = 0
        self.changed = threading.Condition(lock)


class Follow:
    """One follower of one run (a WebSocket); use as a context manager, or call `close()`."""

    def __init__(self, watcher: RunWatcher, collection_id: str, entry: _Followed) -> None:
        self._watcher = watcher
        self.collection_id = collection_id
        self._entry = entry
        self._seen = 0
        self._closed = False

    def __enter__(self) -> Follow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stopped(self) -> bool:
        """The watcher was shut down (the process is exiting): nothing new will come."""
        return self._watcher.stopped

    def wait_loaded(self, timeout: float) -> bool:
        """Wait for the run's first read; False when the store did not answer in time."""
        entry = self._entry
        with entry.changed:
            return entry.changed.wait_for(lambda: entry.loaded or self._watcher.stopped,
                                          timeout) and entry.loaded

    def wait(self, timeout: float) -> bool:
        """Block until the document changed since the last `latest()` (True), the watcher
        stopped (True), or `timeout` seconds passed (False)."""
        entry = self._entry
        with entry.changed:
            return entry.changed.wait_for(
                lambda: entry.version != self._seen or self._watcher.stopped, timeout)

    def latest(self) -> dict[str, Any] | None:
        """The run's latest document (None: unknown run or not read yet); marks it seen."""
        entry = self._entry
        with entry.changed:
            self._seen = entry.version
            return entry.doc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._watcher._leave(self.collection_id, self._entry)


class RunWatcher:
    """Reads every followed run once per `tick_seconds` and wakes its followers on change."""

    def __init__(self, runs: RunRepository, tick_seconds: float = TICK_SECONDS,
                 name: str = "run-watch") -> None:
        # A weak reference: the registry below is keyed by the repository, and a strong one
        # here would keep every app's store of a test session alive.
        self._runs = weakref.ref(runs)
        self.tick_seconds = tick_seconds
        self.name = name
        self._lock = threading.Lock()
        self._followed: dict[str, _Followed] = {}
        self._thread: threading.Thread | None = None
        self._kick = threading.Event()  # a new run to read at once
        self.stopped = False
        # figures, for tests and the load benchmark: due ticks, reads made, most followers
        self.ticks = 0
        self.reads = 0
        self.most_followers = 0
        self._failing = False

    # -- followers ------------------------------------------------------------------------
    def follow(self, collection_id: str) -> Follow:
        """Follow a run; its first read happens at once in the watcher's thread (see
        `Follow.wait_loaded`), later ones once per tick, shared with its other followers."""
        with self._lock:
            entry = self._followed.get(collection_id)
            if entry is None:
                entry = self._followed[collection_id] = _Followed(self._lock)
                self._kick.set()
            entry.followers += 1
            self.most_followers = max(self.most_followers,
                                      sum(e.followers for e in self._followed.values()))
            if self._thread is None and not self.stopped:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        return Follow(self, collection_id, entry)

    def _leave(self, collection_id: str, entry: _Followed) -> None:
        with self._lock:
            entry.followers -= 1
            if entry.followers <= 0 and self._followed.get(collection_id) is entry:
                del self._followed[collection_id]

    def following(self) -> dict[str, int]:
        """Followed run ids and their number of followers."""
        with self._lock:
            return {cid: entry.followers for cid, entry in self._followed.items()}

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def stop(self) -> None:
        """Stop the thread and wake every follower (they see `stopped`); may run twice."""
        with self._lock:
            self.stopped = True
            thread = self._thread
            for entry in self._followed.values():
                entry.changed.notify_all()
        self._kick.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- the thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        next_tick = time.monotonic() + self.tick_seconds
        while True:
            self._kick.clear()
            now = time.monotonic()
            due = now >= next_tick
            with self._lock:
                runs = self._runs()
                if self.stopped or not self._followed or runs is None:
                    self._thread = None
                    break
                targets = [(cid, entry) for cid, entry in self._followed.items()
                           if due or not entry.loaded]
                if due:
                    self.ticks += 1
            if due:
                next_tick = max(next_tick + self.tick_seconds, now)
            for collection_id, entry in targets:
                self._read(runs, collection_id, entry)
            del runs
            self._kick.wait(max(0.0, next_tick - time.monotonic()))
        log.info("%s: stopped after %d read(s) in %d tick(s), at most %d follower(s)",
                 self.name, self.reads, self.ticks, self.most_followers)

    def _read(self, runs: RunRepository, collection_id: str, entry: _Followed) -> None:
        try:
            doc = runs.get(collection_id)
        except Exception as exc:  # the thread must outlive any store failure
            with self._lock:
                self.reads += 1
                first = not self._failing
                self._failing = True
            if first:
                log.warning("%s: cannot read run %s (%s); its followers keep the last "
                            "state, retrying every %g s", self.name, collection_id, exc,
                            self.tick_seconds)
            return
        with self._lock:
            self.reads += 1
            if self._failing:
                self._failing = False
                log.info("%s: the store answers again", self.name)
            if entry.loaded and (doc is None or doc == entry.doc):
                return  # unchanged, or vanished from the store: keep the last document
            entry.doc = doc
            entry.loaded = True
            entry.version += 1
            entry.changed.notify_all()


# -- one watcher per runs repository (per store) in this process ---------------------------
_watchers: weakref.WeakKeyDictionary[RunRepository, RunWatcher] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def watcher_for(runs: RunRepository) -> RunWatcher:
    """This process's watcher of a store's runs, made on first use."""
    with _registry_lock:
        watcher = _watchers.get(runs)
        if watcher is None:
            watcher = _watchers[runs] = RunWatcher(runs)
        return watcher


def shutdown(runs: RunRepository) -> None:
    """Stop the watcher of these runs, if any (at exit: its followers close their sockets)."""
    with _registry_lock:
        watcher = _watchers.pop(runs, None)
    if watcher is not None:
        watcher.stop()
