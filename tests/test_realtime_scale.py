"""What lets real-time capture scale to hundreds of instances, against a real MariaDB.

The server filters the processlist (our own row and statements running long enough, not the
idle connections), connections share one TLS context, and polls that must connect first run
on their own pool, so hosts that never answer do not hold back the connected ones. Speed is
measured by bench/realtime_poll.py, not here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pymysql
import pytest

from collectors.processlist import ConnectionParams, ProcesslistReader, connect
from jobs.realtime import POLL_WORKERS, RealtimeService
from settings import Settings
from store import Store
from store.flags import utc_iso
from tests.test_realtime import MONITOR_PASSWORD, _run_as_app, mariadb  # noqa: F401


def _params(server) -> ConnectionParams:
    return ConnectionParams("127.0.0.1", server.port, "monitor", MONITOR_PASSWORD)


def _idle_connections(server, count: int) -> list[pymysql.connections.Connection]:
    return [pymysql.connect(host="127.0.0.1", port=server.port, user="app", password="app-pw")
            for _ in range(count)]


def _wait_running(server, marker: str, seconds: float, timeout: float = 10) -> None:
    """Until the statement carrying `marker` has run `seconds` (seen as root)."""
    deadline = time.monotonic() + timeout
    with server.connect() as conn, conn.cursor() as cursor:
        while True:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                           "INFO LIKE %s AND TIME_MS >= %s", (f"%{marker}%", seconds * 1000))
            if cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, f"{marker} never ran {seconds}s"
            time.sleep(0.05)


def test_the_server_sends_our_row_and_long_statements_not_idle_connections(
        mariadb) -> None:  # noqa: F811
    idle = _idle_connections(mariadb, 5)
    long_one = _run_as_app(mariadb, "SELECT SLEEP(3) /* long enough */")
    short_one = _run_as_app(mariadb, "SELECT SLEEP(1.2) /* too short */")
    filtered = ProcesslistReader(_params(mariadb), min_seconds=1.5)
    whole = ProcesslistReader(_params(mariadb))
    try:
        _wait_running(mariadb, "long enough", 1.2)
        own_pid, rows = filtered.read()
        texts = {r.info for r in rows}
        # the floor is 1.5 - SERVER_FILTER_MARGIN = 1 s: the 1.2 s one still comes back
        # (the tracker drops it), the idle connections do not
        assert any("long enough" in (t or "") for t in texts), rows
        assert {r.pid for r in rows if r.command == "Sleep"} == set(), rows
        with mariadb.connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'monitor'")
            monitor_ids = {row[0] for row in cursor.fetchall()}
        assert own_pid in monitor_ids and own_pid in {r.pid for r in rows}
        assert filtered.source == "information_schema"

        whole_pid, everything = whole.read()  # no floor: the whole list, as before
        assert whole_pid != own_pid and whole_pid in {r.pid for r in everything}
        assert {c.thread_id() for c in idle} <= {r.pid for r in everything}
        assert len(everything) > len(rows)

        filtered.close()  # a new connection: the new id comes with the next answer
        again_pid, _ = filtered.read()
        assert again_pid not in (None, own_pid)
        assert filtered.connects == 2
    finally:
        filtered.close()
        whole.close()
        long_one.join()
        short_one.join()
        for conn in idle:
            conn.close()


def test_connections_share_one_tls_context(mariadb) -> None:  # noqa: F811
    first, second = connect(_params(mariadb)), connect(_params(mariadb))
    try:
        # PyMySQL builds a context per connection (CA store loaded: ~20 ms of CPU each)
        assert first.ctx is not None and first.ctx is second.ctx
    finally:
        first.close()
        second.close()


def _static(instance_id: str, port: int) -> dict:
    return {"instance_id": instance_id, "engine": "mariadb", "engine_version": "10.11",
            "instance_class": None, "status": "available", "cluster_id": None,
            "endpoint": {"address": "127.0.0.1", "port": port}, "tags": {},
            "collect_target": False, "realtime_target": True}


@pytest.fixture
def silent_hosts() -> Iterator[list[int]]:
    """Ports that accept nothing: a connect there hangs until its 3 s timeout."""
    sockets = []
    for _ in range(POLL_WORKERS + 4):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        sockets.append(silent)
    # fill each one's backlog, so the capture's connects get no answer at all
    fillers = [socket.create_connection(s.getsockname(), timeout=1) for s in sockets]
    yield [s.getsockname()[1] for s in sockets]
    for sock in fillers + sockets:
        sock.close()


def test_hosts_that_never_answer_do_not_delay_a_connected_one(
        store: Store, mariadb, silent_hosts) -> None:  # noqa: F811
    """More silent hosts than poll threads: they wait on the connect pool, while the
    connected instance is polled every tick and its statement caught once."""
    instances = [_static("shop-db", mariadb.port)]
    store.instances.sync("static", instances, utc_iso(datetime.now(UTC)))
    settings = Settings(database_url="sqlite:///unused.db", scheduler_enabled=False,
                        mysql_user="monitor", mysql_password=MONITOR_PASSWORD)
    service = RealtimeService(settings, store)
    try:
        service.poll_once()  # shop-db connected
        instances += [_static(f"silent-{n}", port) for n, port in enumerate(silent_hosts)]
        store.instances.sync("static", instances, utc_iso(datetime.now(UTC)))
        statement = _run_as_app(mariadb, "SELECT SLEEP(3) /* beside silent hosts */")
        gaps: list[float] = []
        while statement.is_alive():
            service.poll_once(wait_for_all=False)  # the silent ones retry, on their pool
            time.sleep(0.25)
            status = service._status_snapshot()["shop-db"]
            seen = datetime.fromisoformat(status["last_poll"].replace("Z", "+00:00"))
            gaps.append(time.time() - seen.timestamp())
        statement.join()
        time.sleep(0.3)
        service.poll_once()
        captured = [c for c in store.captures.recent()
                    if "beside silent hosts" in c["sql_text"]]
        assert len(captured) == 1 and captured[0]["duration"] >= 2, captured
        assert max(gaps) < 1.0, gaps  # each tick polled it, none waited for a connect
    finally:
        service.shutdown()
