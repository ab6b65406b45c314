"""api/run_watch.py: WebSockets following the same run share one store read per tick.

Reads are counted by a small RunRepository subclass over the real store (both adapters);
the last test drives real WebSocket clients against the app on a real HTTP server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import websocket

from api import run_watch
from api.run_watch import RunWatcher
from app import create_app
from settings import Settings
from store import Store, StoreError
from store.runs import RunRepository
from tests.servers import serving
from tests.test_websocket import _read_until_closed

TICK = 0.05


class CountingRuns(RunRepository):
    """The real repository, counting `get` calls per run (and failing them on demand)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.backend)
        self.reads: Counter[str] = Counter()
        self.failing = False
        self._lock = threading.Lock()

    def get(self, collection_id: str):
        with self._lock:
            self.reads[collection_id] += 1
        if self.failing:
            raise StoreError("the store is down (test)")
        return super().get(collection_id)


def _run(collection_id: str, lines: int = 1, status: str = "in_progress") -> dict:
    return {"collection_id": collection_id, "status": status, "progress": 10,
            "message": "working", "period": {"start_date": "2026-10-01",
                                             "end_date": "2026-10-31"},
            "period_key": f"2026-10-{collection_id}", "processed_instances": 0,
            "total_instances": 5, "total_queries": 0, "errors": [], "log_seq": lines,
            "logs": [{"seq": n, "time": "t", "level": "info", "message": f"line {n}"}
                     for n in range(1, lines + 1)],
            "started_at": "2026-11-01T00:00:00Z"}


def _wait_for(condition: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        time.sleep(0.01)


@pytest.fixture
def runs(store: Store) -> CountingRuns:
    return CountingRuns(store)


@pytest.fixture
def watcher(runs: CountingRuns) -> Iterator[RunWatcher]:
    watcher = RunWatcher(runs, tick_seconds=TICK)
    yield watcher
    watcher.stop()


def test_followers_of_one_run_share_one_read_per_tick(runs, watcher) -> None:
    runs.create(_run("one"))
    follows = [watcher.follow("one") for _ in range(10)]
    assert all(follow.wait_loaded(5) for follow in follows)
    assert [follow.latest()["collection_id"] for follow in follows] == ["one"] * 10
    _wait_for(lambda: watcher.ticks >= 10)
    for follow in follows:
        follow.close()
    _wait_for(lambda: not watcher.running)  # the last follower gone, the thread ends

    # the first read (at once, for the first follower) and then one a tick, not ten (the
    # first read counts as a tick's when the thread started late, on a busy machine)
    assert watcher.ticks >= 10
    assert watcher.ticks <= runs.reads["one"] <= watcher.ticks + 1
    assert watcher.reads == runs.reads["one"]
    assert watcher.most_followers == 10


def test_followers_of_different_runs_get_their_own_run(runs, watcher) -> None:
    runs.create(_run("a"))
    runs.create(_run("b", lines=2))
    of_a = [watcher.follow("a") for _ in range(3)]
    of_b = [watcher.follow("b") for _ in range(3)]
    for follow in of_a + of_b:
        assert follow.wait_loaded(5)
    assert {follow.latest()["collection_id"] for follow in of_a} == {"a"}
    assert {len(follow.latest()["logs"]) for follow in of_b} == {2}
    assert watcher.following() == {"a": 3, "b": 3}

    runs.save(_run("a", lines=3))  # written by "another process": the watcher notices
    for follow in of_a:
        assert follow.wait(5)
        assert [line["message"] for line in follow.latest()["logs"]] == [
            "line 1", "line 2", "line 3"]
    for follow in of_b:
        assert not follow.wait(3 * TICK)  # b did not change: its followers sleep on
        assert follow.latest()["collection_id"] == "b"

    for follow in of_a + of_b:
        follow.close()
    _wait_for(lambda: not watcher.running)
    # one read of each run per tick (plus each one's first read)
    for collection_id in "ab":
        assert watcher.ticks - 1 <= runs.reads[collection_id] <= watcher.ticks + 1


def test_an_unknown_run_is_answered_as_none(runs, watcher) -> None:
    with watcher.follow("nope") as follow:
        assert follow.wait_loaded(5)
        assert follow.latest() is None
    _wait_for(lambda: not watcher.running)
    assert watcher.following() == {}


def test_a_store_error_keeps_the_thread_and_the_last_state(runs, watcher, caplog) -> None:
    caplog.set_level(logging.INFO, logger="api.run_watch")
    runs.create(_run("r"))
    with watcher.follow("r") as follow:
        assert follow.wait_loaded(5)
        first = follow.latest()
        runs.failing = True
        before = runs.reads["r"]
        _wait_for(lambda: runs.reads["r"] >= before + 5)  # five failed ticks
        assert watcher.running
        assert not follow.wait(0)
        assert follow.latest() == first  # the last state stays
        runs.failing = False
        runs.save(_run("r", lines=2))
        assert follow.wait(5)  # the store is back: the change arrives
        assert len(follow.latest()["logs"]) == 2
    failures = [r for r in caplog.records if "cannot read run r" in r.getMessage()]
    assert len(failures) == 1  # once per outage, not once a tick
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_a_run_that_vanishes_keeps_its_last_state(store, runs, watcher) -> None:
    runs.create(_run("gone"))
    with watcher.follow("gone") as follow:
        assert follow.wait_loaded(5)
        assert follow.latest() is not None
        assert store.backend.delete("runs", {"collection_id": "gone"}) == 1
        before = watcher.ticks
        _wait_for(lambda: watcher.ticks >= before + 3)
        assert not follow.wait(0)
        assert follow.latest()["collection_id"] == "gone"


def test_the_thread_starts_and_stops_with_its_followers(runs, watcher) -> None:
    runs.create(_run("x"))
    assert not watcher.running
    with watcher.follow("x") as follow:
        assert watcher.running
        assert follow.wait_loaded(5)
    _wait_for(lambda: not watcher.running)
    with watcher.follow("x") as follow:  # a new follower starts it again
        assert follow.wait_loaded(5)
        assert watcher.running


def test_stop_wakes_every_follower(runs, watcher) -> None:
    runs.create(_run("s"))
    follow = watcher.follow("s")
    assert follow.wait_loaded(5)
    follow.latest()
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(follow.wait(30)))
    waiter.start()
    time.sleep(2 * TICK)
    started = time.monotonic()
    watcher.stop()
    waiter.join(5)
    assert woke == [True] and follow.stopped
    assert time.monotonic() - started < 2
    assert not watcher.running
    follow.close()


def test_one_watcher_per_store_in_the_registry(store: Store) -> None:
    watcher = run_watch.watcher_for(store.runs)
    assert run_watch.watcher_for(store.runs) is watcher
    run_watch.shutdown(store.runs)
    assert watcher.stopped
    fresh = run_watch.watcher_for(store.runs)
    assert fresh is not watcher and not fresh.stopped
    run_watch.shutdown(store.runs)


# -- real WebSocket clients ------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "mongodb"])
def live(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path):
    """The app on a real HTTP server, its runs read through CountingRuns."""
    url = (f"sqlite:///{tmp_path / 'ws.db'}" if request.param == "sqlite"
           else request.getfixturevalue("mongo_url"))
    app = create_app(replace(settings, database_url=url, ws_ping_seconds=1))
    services = app.server.extensions["slowquery"]
    services.store.runs = CountingRuns(services.store)
    with serving(app.server) as port:
        yield f"ws://127.0.0.1:{port}", services
    from webapp import shutdown_services

    shutdown_services(services)




def test_websockets_of_one_run_share_reads_and_get_every_line_once(live) -> None:
    base, services = live
    runs: CountingRuns = services.store.runs
    run = _run("live")
    runs.create(run)
    clients = [websocket.create_connection(f"{base}/ws/collection/live", timeout=10)
               for _ in range(6)]
    watcher = run_watch.watcher_for(runs)
    _wait_for(lambda: watcher.following().get("live") == 6)
    clients[0].send("ping")
    assert [clients[0].recv() for _ in range(3)][-1] == "pong"  # after a log and a status

    results: dict[int, list] = {}

    def read(n: int, ws: websocket.WebSocket) -> None:
        results[n] = _read_until_closed(ws)

    readers = [threading.Thread(target=read, args=(n, ws)) for n, ws in enumerate(clients)]
    for reader in readers:
        reader.start()
    ticks_before, reads_before = watcher.ticks, runs.reads["live"]
    for seq in range(2, 41):  # another process writes a line every 20 ms
        run["logs"].append({"seq": seq, "time": "t", "level": "info", "message": f"line {seq}"})
        run["log_seq"] = seq
        runs.save(run)
        time.sleep(0.02)
    runs.save({**run, "status": "completed", "progress": 100, "completed_at": "2026-11-01"})
    for reader in readers:
        reader.join(30)
    ticks, reads = watcher.ticks - ticks_before, runs.reads["live"] - reads_before

    expected = [f"line {n}" for n in range(1, 41)]
    for n, messages in results.items():
        logs = [m["message"] for m in messages if m["type"] == "log"]
        if n == 0:
            logs = ["line 1", *logs]  # client 0 read its first lines before the ping
        assert logs == expected, n  # in order, none twice, none lost
        assert messages[-1]["data"]["status"] == "completed"
        assert messages[-1]["data"]["details"]["completed_at"] == "2026-11-01"
    assert len(results) == 6
    # six sockets, one read a tick (the last tick may end with the last socket)
    assert ticks >= 2 and reads <= ticks + 1, (reads, ticks)


def _close_code(ws: websocket.WebSocket, timeout: float = 5) -> int:
    ws.settimeout(timeout)
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big")


def test_shutdown_closes_the_followers_sockets_as_going_away(live) -> None:
    base, services = live
    services.store.runs.create(_run("long"))
    ws = websocket.create_connection(f"{base}/ws/collection/long", timeout=10)
    assert json.loads(ws.recv())["type"] == "log"
    assert json.loads(ws.recv())["data"]["status"] == "in_progress"
    run_watch.shutdown(services.store.runs)  # what shutdown_services does at exit
    assert _close_code(ws) == 1001


def test_a_store_down_at_connect_closes_with_1011(live, monkeypatch) -> None:
    from api import ws as ws_route

    base, services = live
    monkeypatch.setattr(ws_route, "FIRST_READ_SECONDS", 0.5)
    services.store.runs.create(_run("later"))
    services.store.runs.failing = True
    ws = websocket.create_connection(f"{base}/ws/collection/later", timeout=10)
    assert _close_code(ws) == 1011  # no made-up status: the client may try again
    services.store.runs.failing = False
    ws = websocket.create_connection(f"{base}/ws/collection/later", timeout=10)
    assert json.loads(ws.recv())["message"] == "line 1"
    ws.close()
