"""Parsing CloudWatch slow-log events away from the threads that make the requests.

Measured through a proxy at 25 requests/s, a collection that parsed in its request threads
was held at half the quota by parsing under the one GIL. So request threads only hand pages
(lists of `(timestamp, message)`) to a parser: a worker process (`COLLECTION_PARSE_PROCESSES`,
started with `spawn`, safe in a threaded server) or, with 0, one thread of this process. Each
instance being collected is pinned to one parser, which keeps its `DigestAggregator` and one
`SlowLogStream` per (stream, slice) -- pages of a slice arrive in order, so a `use db;` or
`# Time:` carries over as in a sequential read -- and sends the aggregate back when the
instance is finished. Inboxes are bounded: a parser that falls behind makes the readers wait
(memory stays flat: a few pages per parser plus the aggregates of the instances in flight).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from analysis.digest import DigestAggregator, _bump
from analysis.errors import SlowLogParseError
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import CUT_EVENT_MIN_BYTES, SlowLogStream, cut_by_cloudwatch

INBOX_PAGES = 6  # pages waiting per parser (a page is about 1 MB)
MALFORMED_SAMPLES = 5
CUT_CHECK_CHARS = CUT_EVENT_MIN_BYTES // 4  # shorter events cannot have reached the limit
POLL_SECONDS = 0.5


class ParserGone(RuntimeError):
    """The parser process of an instance died (killed, out of memory)."""


class _InstanceState:
    """What a parser holds for one instance: the aggregate and the parse state per
    `(stream, slice index)`.

    A slice read on its own does not know the database in effect at its start (MySQL writes
    `use db;` only when it changes, so it may be in an earlier slice). Its entries before its
    own first `use`/`Schema:` are aggregated apart (`heads`: memory ~ digests, not entries)
    and, at `finish`, counted under the database the previous slice of the stream ended
    with -- which is what one sequential read gives."""

    __slots__ = ("instance_id", "aggregator", "streams", "heads", "samples")

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.aggregator = DigestAggregator(fingerprint_and_id)
        self.streams: dict[Any, SlowLogStream] = {}
        self.heads: dict[Any, DigestAggregator] = {}
        self.samples: list[tuple[int | None, str]] = []

    def add(self, stream_key: Any, events: list[tuple[int | None, str]]) -> None:
        stream = self.streams.get(stream_key)
        if stream is None:
            stream = self.streams[stream_key] = SlowLogStream(keep_extra=False)
        instance_id = self.instance_id
        sliced = isinstance(stream_key, tuple) and stream_key[1] > 0
        for timestamp, message in events:
            if len(message) > CUT_CHECK_CHARS and cut_by_cloudwatch(message):
                self.aggregator.cut_events += 1  # still parsed: its head is whole
            try:
                entry = stream.parse(message)
                if entry.time is None and timestamp is not None:
                    entry.time = datetime.fromtimestamp(timestamp / 1000, UTC)
                if sliced and entry.db is None:
                    head = self.heads.get(stream_key)
                    if head is None:
                        head = self.heads[stream_key] = DigestAggregator(fingerprint_and_id)
                    head.add(instance_id, entry)
                    self.aggregator.entries += 1  # counted here, merged without it
                    continue
                self.aggregator.add(instance_id, entry)
            except Exception as exc:  # noqa: BLE001 - one bad event must not fail the instance
                if not isinstance(exc, SlowLogParseError):
                    exc = SlowLogParseError(f"{type(exc).__name__}: {str(exc)[:200]}")
                self.aggregator.add_error(exc)
                if len(self.samples) < MALFORMED_SAMPLES:
                    self.samples.append((timestamp, str(exc)[:300]))

    def resolved(self) -> DigestAggregator:
        """The aggregate, each slice's head counted under the database it inherits."""
        ends: dict[Any, str | None] = {}
        for key in sorted(self.streams, key=_order):
            name = _order(key)[0]
            own = self.streams[key].current_db
            previous = ends.get(name)  # the last slice before this one that had events
            if key in self.heads:
                head = self.heads.pop(key)
                for stats in head.digests():
                    unknown = stats.databases.pop("", 0)
                    if unknown:
                        _bump(stats.databases, previous, unknown)
                    # and its examples' (EXPLAIN on demand runs an example in its schema)
                    stats.examples = [(qt, seq, sql, previous, t, cut)
                                      for qt, seq, sql, _db, t, cut in stats.examples]
                head.entries = 0
                self.aggregator.merge(head)
            ends[name] = own if own is not None else previous
        self.aggregator.stream_dbs = ends
        return self.aggregator


def _order(key: Any) -> tuple[str, int]:
    return key if isinstance(key, tuple) else (str(key), 0)


def serve(inbox: Any, outbox: Any) -> None:
    """A parser's loop (in a worker process or a thread): `open`, `feed`, `finish`, `drop`
    messages in; `(key, aggregator, samples)` out at `finish`; `None` stops it."""
    states: dict[str, _InstanceState] = {}
    while True:
        message = inbox.get()
        if message is None:
            return
        kind, key = message[0], message[1]
        if kind == "feed":
            states[key].add(message[2], message[3])
        elif kind == "open":
            states[key] = _InstanceState(message[2])
        elif kind == "finish":
            state = states.pop(key)
            outbox.put((key, state.resolved(), state.samples))
        elif kind == "drop":
            states.pop(key, None)


class _Parser:
    """One parser (process or thread) and the futures of the instances it was given."""

    def __init__(self, processes: bool, name: str) -> None:
        if processes:
            context = multiprocessing.get_context("spawn")
            self.inbox: Any = context.Queue(INBOX_PAGES)
            self.outbox: Any = context.Queue()
            self.worker: Any = context.Process(target=serve, args=(self.inbox, self.outbox),
                                               name=name, daemon=True)
        else:
            self.inbox = queue.Queue(INBOX_PAGES)
            self.outbox = queue.Queue()
            self.worker = threading.Thread(target=serve, args=(self.inbox, self.outbox),
                                           name=name, daemon=True)
        self.worker.start()
        self.pending: dict[str, Future] = {}
        self.open_keys: set[str] = set()
        self.lock = threading.Lock()
        self.receiver = threading.Thread(target=self._receive, name=f"{name}-results",
                                         daemon=True)
        self.receiver.start()

    def alive(self) -> bool:
        return self.worker.is_alive()

    def put(self, message: tuple[Any, ...]) -> None:
        """Queue a message, waiting while the inbox is full; raise if the parser died."""
        while True:
            try:
                self.inbox.put(message, timeout=POLL_SECONDS)
                return
            except queue.Full:
                if not self.alive():
                    raise ParserGone("the parsing process stopped") from None

    def _receive(self) -> None:
        while True:
            try:
                key, aggregator, samples = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self.alive():
                    continue
                with self.lock:
                    waiting = list(self.pending.values())
                    self.pending.clear()
                for future in waiting:
                    future.set_exception(ParserGone("the parsing process stopped"))
                return
            except (EOFError, OSError):
                return
            with self.lock:
                future = self.pending.pop(key, None)
            if future is not None:
                future.set_result((aggregator, samples))

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self.inbox.put(None, timeout=2)
        self.worker.join(timeout=5)
        if hasattr(self.worker, "kill") and self.worker.is_alive():
            self.worker.kill()


class ParsePool:
    """Parsers for one collection run. `open(instance_id)` pins the instance to the parser
    with the fewest instances open and returns a `ParseSession`."""

    def __init__(self, processes: int) -> None:
        use_processes = processes > 0
        self._parsers = [_Parser(use_processes, f"slowlog-parser-{n}")
                         for n in range(max(1, processes))]
        self._keys = itertools.count()
        self._lock = threading.Lock()

    def open(self, instance_id: str) -> ParseSession:
        with self._lock:
            parser = min(self._parsers, key=lambda p: (not p.alive(), len(p.open_keys)))
            key = f"{instance_id}#{next(self._keys)}"
            parser.open_keys.add(key)
        parser.put(("open", key, instance_id))
        return ParseSession(self, parser, key)

    def _release(self, parser: _Parser, key: str) -> None:
        with self._lock:
            parser.open_keys.discard(key)

    def close(self) -> None:
        for parser in self._parsers:
            parser.stop()


class ParseSession:
    """One instance's events on their way to its parser: `feed` pages (in order per stream
    key), then `finish` for the aggregate, or `drop` to forget them (a failed read)."""

    def __init__(self, pool: ParsePool, parser: _Parser, key: str) -> None:
        self._pool, self._parser, self._key = pool, parser, key

    def feed(self, stream_key: Any, events: list[tuple[int | None, str]]) -> None:
        self._parser.put(("feed", self._key, stream_key, events))

    def finish(self) -> tuple[DigestAggregator, list[tuple[int | None, str]]]:
        """Wait for the parser to have parsed every page fed, and take the aggregate."""
        future: Future = Future()
        with self._parser.lock:
            self._parser.pending[self._key] = future
        try:
            self._parser.put(("finish", self._key))
            while True:
                try:
                    return future.result(POLL_SECONDS)
                except FutureTimeout:
                    if not self._parser.alive() and not future.done():
                        raise ParserGone("the parsing process stopped") from None
        finally:
            self._pool._release(self._parser, self._key)

    def drop(self) -> None:
        try:
            if self._parser.alive():
                self._parser.put(("drop", self._key))
        finally:
            self._pool._release(self._parser, self._key)
