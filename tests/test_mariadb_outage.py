"""A MySQL outage during real-time capture (issue 8, point 12), on both store adapters.

Two private MariaDB servers are two real-time targets, polled by the app's own scheduler (the
capture thread of production, every REALTIME_INTERVAL_SECONDS = 1 s). One server is stopped
(its process ends, its data directory stays) while statements run on both: that instance must
show unreachable within seconds, the other one must still be captured on time, and the log
must say so once, not once per tick. The same server is then started again on the same data
directory and port: capture resumes there, and nothing captured before the outage is recorded
a second time. The measured figures are printed (`pytest -rP` or `-s` shows them).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import pytest

import collectors.processlist as processlist
from app import create_app
from settings import Settings
from store.flags import utc_iso
from tests.mariadb_server import MariaDBServer, require_mariadb, start_mariadb

MONITOR_PASSWORD = "outage-monitor-pw"
APP_PASSWORD = "outage-app-pw"
INTERVAL = 1.0  # the default REALTIME_INTERVAL_SECONDS
MIN_SECONDS = 2.0  # the default REALTIME_MIN_SECONDS


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MariaDBServer]]:
    """`down-db` (stopped and started again by the test) and `up-db` (always running)."""
    require_mariadb()
    started: dict[str, MariaDBServer] = {}
    try:
        for name in ("down-db", "up-db"):
            server = start_mariadb(tmp_path_factory.mktemp(name), networking=True)
            started[name] = server
            with server.connect() as conn, conn.cursor() as cursor:
                cursor.execute(f"CREATE USER monitor@'%' IDENTIFIED BY '{MONITOR_PASSWORD}'")
                cursor.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
                cursor.execute(f"CREATE USER app@'%' IDENTIFIED BY '{APP_PASSWORD}'")
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def capturing_app(servers, database_url: str, tmp_path: Path, monkeypatch) -> Iterator:
    """The app with its scheduler on: real-time capture runs in its own thread, as served."""
    from webapp import shutdown_services

    monkeypatch.setenv("OUTAGE_MONITOR_PASSWORD", MONITOR_PASSWORD)
    static = tmp_path / "static.json"
    static.write_text(json.dumps([
        {"instance_id": name, "host": "127.0.0.1", "port": server.port, "engine": "mariadb",
         "user": "monitor", "password_env": "OUTAGE_MONITOR_PASSWORD",
         "tags": {"real_time_slow_sql": "true"}}
        for name, server in servers.items()]))
    settings = Settings(database_url=database_url, scheduler_enabled=True,
                        static_instances_file=static, inventory_refresh_minutes=0,
                        realtime_interval_seconds=INTERVAL, realtime_min_seconds=MIN_SECONDS)
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    try:
        services.inventory.refresh()
        yield app, services
    finally:
        shutdown_services(services)
        for server in servers.values():
            server.start()  # up again for the next store, even after a failed test


class Statement(threading.Thread):
    """One statement run by the application's account; a server stopping under it is noted,
    not raised (the statement running across the outage dies with its server)."""

    def __init__(self, server: MariaDBServer, sql: str) -> None:
        super().__init__(daemon=True)
        self.server, self.sql = server, sql
        self.error: BaseException | None = None
        self.started_at = time.monotonic()
        self.start()

    def run(self) -> None:
        try:
            conn = pymysql.connect(host="127.0.0.1", port=self.server.port, user="app",
                                   password=APP_PASSWORD, autocommit=True)
            with conn, conn.cursor() as cursor:
                cursor.execute(self.sql)
                cursor.fetchall()
        except pymysql.MySQLError as exc:
            self.error = exc


class ConnectCounter:
    """Counts the capture's connection attempts per port (to see its back-off)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self.by_port: dict[int, int] = {}
        real = processlist.connect

        def counted(params, *args, **kwargs):
            with self._lock:
                self.by_port[params.port] = self.by_port.get(params.port, 0) + 1
            return real(params, *args, **kwargs)

        monkeypatch.setattr(processlist, "connect", counted)

    def __getitem__(self, port: int) -> int:
        with self._lock:
            return self.by_port.get(port, 0)


class CaptureClock(threading.Thread):
    """Notes when each statement's capture first reaches the store (checked every 50 ms),
    so a capture is timed even while the test waits for something else."""

    def __init__(self, services) -> None:
        super().__init__(daemon=True)
        self._services = services
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._first: dict[str, float] = {}
        self.start()

    def run(self) -> None:
        while not self._done.wait(0.05):
            try:
                captures = self._services.store.captures.recent(limit=1000)
            except Exception:  # noqa: BLE001 - the store closed under a failed test: stop
                return
            now = time.monotonic()
            with self._lock:
                for capture in captures:
                    self._first.setdefault(capture["sql_text"], now)

    def seconds_to_capture(self, statement: Statement, timeout: float) -> float:
        """Seconds from the statement's start to its capture in the store."""
        def seen() -> float | None:
            with self._lock:
                return self._first.get(statement.sql)

        _wait_for(lambda: seen() is not None, timeout, f"{statement.sql} captured")
        return seen() - statement.started_at

    def stop(self) -> None:
        self._done.set()
        self.join()


def _wait_for(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until `condition()` is true (polled every 50 ms)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def _status(client) -> dict[str, dict]:
    response = client.get("/api/realtime/status")
    assert response.status_code == 200
    return {s["instance_id"]: s for s in response.get_json()["instances"]}


def _captures(services, marker: str) -> list[dict]:
    return [c for c in services.store.captures.recent(limit=1000) if marker in c["sql_text"]]


def _captured(services, marker: str, finished: bool = False) -> Callable[[], bool]:
    return lambda: any(c["finished"] or not finished for c in _captures(services, marker))


def _iso_now() -> str:
    return utc_iso(datetime.now(UTC))


def test_an_instance_going_down_and_back_is_shown_skipped_and_resumed(
        capturing_app, servers, database_url, monkeypatch, caplog) -> None:
    from pages.realtime import _instance_label

    app, services = capturing_app
    down, up = servers["down-db"], servers["up-db"]
    client = app.server.test_client()
    connects = ConnectCounter(monkeypatch)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="jobs.realtime")
    _wait_for(lambda: all(s["last_poll"] and not s["last_error"]
                          for s in _status(client).values()), 10, "both instances polled")

    # -- before: statements on both servers are captured -------------------------------------
    before = Statement(down, "SELECT SLEEP(3) /* before, down-db */")
    across = Statement(down, "SELECT SLEEP(60) /* across the outage */")
    Statement(up, "SELECT SLEEP(3) /* before, up-db */")
    for marker in ("before, down-db", "across the outage", "before, up-db"):
        _wait_for(_captured(services, marker), 3 + 2 * INTERVAL, f"{marker} captured")
    before.join()
    _wait_for(_captured(services, "before, down-db", finished=True), 3, "before finished")
    captured_before = {c["id"]: c for c in services.store.captures.recent(limit=1000)}
    assert len(captured_before) == 3

    # -- the outage: down-db's process stops while capture runs ------------------------------
    clock = CaptureClock(services)
    during = Statement(up, "SELECT SLEEP(3) /* during the outage, up-db */")
    stopped_at = _iso_now()
    down.stop()  # SIGTERM, waited for: the process is gone, its data directory stays
    assert not down.running
    down_at = time.monotonic()
    attempts_at_stop = connects[down.port]
    to_unreachable = _wait_for(lambda: _status(client)["down-db"]["last_error"], 5,
                               "down-db shown unreachable")
    state = _status(client)["down-db"]
    assert "Can't connect" in state["last_error"] or "Lost connection" in state["last_error"]
    assert MONITOR_PASSWORD not in json.dumps(state)
    # the Real-time page reads the same status (RealtimeService.status): shown as an error
    page_source = {s["instance_id"]: s for s in services.realtime.status()["instances"]}
    assert page_source["down-db"]["last_error"]
    label = _instance_label(page_source["down-db"])
    assert label.children[1].className == "text-danger small"
    across.join(10)
    assert not across.is_alive() and across.error is not None  # it died with its server

    # the other instance goes on being captured, on time: at the first poll after it has run
    # MIN_SECONDS (plus a second's slack for a poll and a store write on a busy machine)
    to_capture_during = clock.seconds_to_capture(during, MIN_SECONDS + 3 * INTERVAL)
    assert to_capture_during <= MIN_SECONDS + INTERVAL + 1.0
    during.join()
    _wait_for(_captured(services, "during the outage, up-db", finished=True), 3,
              "during finished")
    up_state = _status(client)["up-db"]
    assert up_state["last_error"] is None and up_state["last_poll"] > stopped_at
    assert _status(client)["down-db"]["last_error"]  # still down: not polled as healthy

    # -- back: the same server on the same data directory and port ---------------------------
    port = down.port
    down.start()
    assert down.port == port
    outage = time.monotonic() - down_at
    attempts_down = connects[down.port] - attempts_at_stop
    to_resume = _wait_for(lambda: not _status(client)["down-db"]["last_error"],
                          outage + 5, "down-db polled again")
    assert _status(client)["down-db"]["last_poll"] > stopped_at
    after = Statement(down, "SELECT SLEEP(3) /* after the outage, down-db */")
    to_capture_after = clock.seconds_to_capture(after, MIN_SECONDS + 3 * INTERVAL)
    assert to_capture_after <= MIN_SECONDS + INTERVAL + 1.0
    clock.stop()
    after.join()
    _wait_for(_captured(services, "after the outage, down-db", finished=True), 3,
              "after finished")

    # -- nothing recorded twice ------------------------------------------------------------
    everything = services.store.captures.recent(limit=1000)
    texts = sorted(c["sql_text"] for c in everything)
    assert len(texts) == len(set(texts)) == 5, texts
    now = {c["id"]: c for c in everything}
    assert set(captured_before) <= set(now)  # the same execution keys as before the outage
    for capture_id, earlier in captured_before.items():
        assert now[capture_id]["start"] == earlier["start"]
    finished_before = [c for c in captured_before.values() if c["finished"]]
    assert finished_before and all(now[c["id"]] == c for c in finished_before)
    (across_capture,) = _captures(services, "across the outage")
    assert across_capture["finished"] is True  # ended once its server was seen again
    assert across_capture["end"] <= stopped_at and across_capture["duration"] < 60

    # -- the log: one warning down, one info back; no traceback; the capture thread lives ---
    mine = [r for r in caplog.records if r.name == "jobs.realtime"
            and "down-db" in r.getMessage()]
    warnings = [r for r in mine if r.levelno >= logging.WARNING]
    resumed = [r for r in mine if r.levelno == logging.INFO and "resumed" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert len(resumed) == 1, [r.getMessage() for r in mine]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert not [r for r in caplog.records if r.name == "jobs.realtime"
                and "up-db" in r.getMessage()]
    assert services.scheduler.last_errors == {}
    jobs = {j["id"]: j for j in services.scheduler.status()["jobs"]}
    assert jobs["realtime-capture"]["last_error"] is None
    # back-off: tries 1, 2, 4 ... s apart, so at most 1 + log2(outage + 1) tries while it was
    # down, where a try on every tick would have made about outage / INTERVAL
    assert 1 <= attempts_down <= 1 + math.floor(math.log2(outage + 1)), (attempts_down, outage)

    store_kind = database_url.split(":", 1)[0]
    print(f"\n[mariadb outage, {store_kind}] down-db shown unreachable "
          f"{to_unreachable:.2f}s after its process ended; up-db statement during the outage "
          f"captured {to_capture_during:.2f}s after it started (min {MIN_SECONDS:.0f}s, poll "
          f"every {INTERVAL:.0f}s); outage {outage:.1f}s with {attempts_down} connection "
          f"attempts (back-off); capture resumed {to_resume:.2f}s after the server was back "
          f"and a statement there was captured {to_capture_after:.2f}s after it started; "
          f"{len(everything)} captures, none twice; log: {len(warnings)} warning, "
          f"{len(resumed)} info for down-db, 0 tracebacks")
