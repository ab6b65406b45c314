"""Real-time capture's shared state under real threads, against a real MariaDB, on both stores.

A slow TCP relay in front of MariaDB keeps a poll in flight long enough to switch its
instance off, or to shut the service down, under it: the reader it uses must not be closed
mid-read (which would show as a second connection through the relay), and must be closed
as soon as the poll ends.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from jobs.realtime import RealtimeService
from settings import Settings
from store import Store
from store.flags import utc_iso
from tests.test_realtime import MONITOR_PASSWORD, _run_as_app, mariadb  # noqa: F401

SLOW_REPLY_SECONDS = 0.25  # a first poll through the relay takes ~0.75 s (greeting, login
# and the processlist: three replies), a poll on a kept connection ~0.25 s


class SlowRelay:
    """Relays TCP to MariaDB, holding each reply from the server for a while."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self._upstream_port = upstream_port
        self._delay = delay
        self._lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self._sent = bytearray()  # what clients sent, to tell how far a poll has got
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
            with self._lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self._pump, args=(client, upstream, 0.0),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._delay),
                             daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delay: float) -> None:
        try:
            while data := source.recv(65536):
                if delay:
                    time.sleep(delay)
                else:
                    with self._lock:
                        self._sent += data
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if delay:  # the server-to-client pump counts the connection's end once
                with self._lock:
                    self.open -= 1
            source.close()

    def client_sent(self, fragment: bytes) -> bool:
        with self._lock:
            return fragment in self._sent

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.accepted, self.open

    def close(self) -> None:
        self._listener.close()


def _instance(instance_id: str, port: int) -> dict:
    return {"instance_id": instance_id, "engine": "mariadb", "engine_version": "10.11",
            "instance_class": None, "status": "available", "cluster_id": None,
            "endpoint": {"address": "127.0.0.1", "port": port}, "tags": {},
            "collect_target": False, "realtime_target": True}


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _monitor_connections(mariadb) -> int:  # noqa: F811
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                       "WHERE USER = 'monitor'")
        return cursor.fetchone()[0]


@pytest.fixture
def relay(mariadb) -> Iterator[SlowRelay]:  # noqa: F811
    relay = SlowRelay(mariadb.port, SLOW_REPLY_SECONDS)
    yield relay
    relay.close()


@pytest.fixture
def service(store: Store, mariadb, relay) -> Iterator[RealtimeService]:  # noqa: F811
    """A service watching `slow-db` (through the relay) and `shop-db` (direct)."""
    store.instances.sync("static", [_instance("slow-db", relay.port),
                                    _instance("shop-db", mariadb.port)],
                         utc_iso(datetime.now(UTC)))
    settings = Settings(database_url="sqlite:///unused.db", scheduler_enabled=False,
                        mysql_user="monitor", mysql_password=MONITOR_PASSWORD)
    service = RealtimeService(settings, store)
    yield service
    service.shutdown()


def _status(service: RealtimeService) -> dict[str, dict]:
    return {s["instance_id"]: s for s in service.status()["instances"]}


def test_switching_off_mid_poll_never_closes_the_reader_under_it(service, relay) -> None:
    service.poll_once(wait_for_all=False)
    # connected and logging in: two slow answers to go (login, then the processlist)
    _wait_for(lambda: relay.client_sent(b"monitor"))
    service.set_enabled(False, "slow-db")
    service.poll_once(wait_for_all=False)  # would close its reader, were it not in use

    _wait_for(lambda: relay.counts() == (1, 0))  # closed once its poll let go of it
    assert relay.counts()[0] == 1  # one connection for the whole poll: never cut and redone
    service.poll_once()
    assert _status(service)["slow-db"]["last_error"] is None

    service.set_enabled(True, "slow-db")
    service.poll_once()  # back on: a fresh reader
    assert relay.counts() == (2, 1)
    assert _status(service)["slow-db"]["last_poll"] is not None


def test_shutdown_closes_every_reader_even_one_in_use(service, relay, mariadb,  # noqa: F811
                                                      store) -> None:
    service.set_enabled(False, "slow-db")
    service.poll_once()
    assert _monitor_connections(mariadb) == 1  # shop-db's reader stays connected
    service.set_enabled(True, "slow-db")
    service.poll_once(wait_for_all=False)
    _wait_for(lambda: relay.counts()[1] == 1)

    service.shutdown()
    service.shutdown()  # atexit after gunicorn's worker_exit: harmless
    _wait_for(lambda: relay.counts() == (1, 0))  # the busy one, when its poll ended
    _wait_for(lambda: _monitor_connections(mariadb) == 0)
    service.poll_once()  # the scheduler's last tick may still come: it does nothing
    assert relay.counts() == (1, 0) and _monitor_connections(mariadb) == 0
    assert store.captures.recent() == []


def test_polls_from_many_threads_with_switches_flipping_record_once(
        service, mariadb, store, caplog) -> None:  # noqa: F811
    service.set_enabled(False, "slow-db")
    statement = _run_as_app(mariadb, "SELECT SLEEP(3) /* threads */")
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_polling() -> None:
        try:
            while not stop.is_set():
                service.poll_once(wait_for_all=False)
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def keep_flipping() -> None:
        for n in range(12):
            service.set_enabled(n % 2 == 1, "slow-db")
            time.sleep(0.25)
        service.set_enabled(False, "slow-db")

    caplog.set_level(logging.WARNING, logger="jobs.realtime")
    threads = [threading.Thread(target=keep_polling) for _ in range(4)]
    threads.append(threading.Thread(target=keep_flipping))
    for thread in threads:
        thread.start()
    statement.join()
    threads[-1].join()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    service.poll_once()

    assert errors == []
    assert [r.getMessage() for r in caplog.records] == []
    captured = [c for c in store.captures.recent() if "/* threads */" in c["sql_text"]]
    # slow-db sees the same server through the relay: switched off, its executions are
    # finished, and switched on again it may catch the statement anew (one poll through the
    # relay takes ~0.75 s, shorter than the statement); shop-db, never switched, records once
    on_shop = [c for c in captured if c["instance_id"] == "shop-db"]
    assert len(on_shop) == 1 and on_shop[0]["finished"] is True, captured
    assert all(c["finished"] for c in captured), captured
    assert captured[0]["duration"] >= 2
    assert _status(service)["shop-db"]["last_error"] is None
    service.shutdown()
    _wait_for(lambda: _monitor_connections(mariadb) == 0)
