"""Nothing stuck at exit: the app's shutdown hook, gunicorn's worker exit, and the logs.

The hook is driven through the real app on both stores; gunicorn and `python app.py --demo`
run as real processes on free loopback ports, with the repository's gunicorn.conf.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from app import create_app
from jobs.scheduler import LEASE_NAME, Scheduler
from settings import Settings
from store import open_store
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# gunicorn's "[2026-11-30 18:13:44 +0000] [123] [INFO] name: message"; python app.py's
# "2026-11-30 18:13:44,504 INFO name: message"
STAMPED_INFO = r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[^\]]*\]? (\[\d+\] )?\[?INFO\]? "


def _wait_for(condition: Callable[[], object], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout}s"
        time.sleep(0.05)
    return time.monotonic() - started


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def test_the_shutdown_hook_hands_the_lease_over_and_stops_capture(database_url) -> None:
    from webapp import shutdown_services

    app = create_app(Settings(database_url=database_url, scheduler_enabled=True))
    services = app.server.extensions["slowquery"]
    other_store = open_store(database_url)
    other = Scheduler(other_store, lease_seconds=30)
    refreshed: list[str] = []
    other.add_interval_job("inventory-refresh", lambda: refreshed.append("yes"),
                           seconds=3600, run_now=True)
    try:
        _wait_for(lambda: services.scheduler.is_leader, 3)
        other.start()
        health = app.server.test_client().get("/healthz").get_json()["scheduler"]
        assert health["is_leader"] is True and health["leader"] == services.scheduler.owner

        shutdown_services(services)
        shutdown_services(services)  # atexit runs it again after gunicorn's worker_exit
        assert other_store.flags.lease_holder(LEASE_NAME) in (None, other.owner)
        assert _wait_for(lambda: other.is_leader, 3) < 2  # a 30 s lease: released, not expired
        _wait_for(lambda: refreshed, 2)  # the new leader's start-up job runs at once
        assert services.realtime.closed is True
        services.realtime.poll_once()  # a late tick after shutdown does nothing
    finally:
        other.shutdown()
        other_store.close()


def _gunicorn(tmp_path: Path, port: int, database_url: str,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATABASE_URL": database_url,
           "REALTIME_INTERVAL_SECONDS": "0.2", **(extra_env or {})}
    return subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"),
         "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(ROOT), "app:server"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_gunicorn_logs_with_times_and_hands_the_lease_over(tmp_path: Path) -> None:
    port, database_url = free_port(), f"sqlite:///{tmp_path / 'app.db'}"
    url = f"http://127.0.0.1:{port}"
    process = _gunicorn(tmp_path, port, database_url)
    try:
        _wait_for(lambda: (_health(url) or {}).get("scheduler", {}).get("leader"), 30)
        leader = _health(url)["scheduler"]["leader"]
        os.kill(int(leader.split(":")[-2]), signal.SIGTERM)  # one worker goes (a restart)
        # the other worker leads long before the 30 s lease could have expired
        took = _wait_for(lambda: (_health(url) or {}).get("scheduler", {}).get("leader")
                         not in (None, leader), 10)
        assert took < 3
        time.sleep(1)  # a few real-time ticks, five a second
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    store = open_store(database_url)
    assert store.flags.lease_holder(LEASE_NAME) is None  # released by worker_exit at SIGTERM
    store.close()

    lines = stderr.splitlines()
    app_lines = [line for line in lines if "jobs.scheduler:" in line]
    assert any(re.match(STAMPED_INFO + r"jobs\.scheduler: scheduler: this process", line)
               for line in app_lines), stderr
    assert sum("released the lease" in line for line in app_lines) == 2, stderr
    assert all(re.match(STAMPED_INFO, line) or "WARNING" in line for line in app_lines)
    assert not [line for line in lines if "Running job" in line or "executed successfully"
                in line]


def test_the_demo_log_has_the_app_and_not_the_emulator(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port),
           "REALTIME_INTERVAL_SECONDS": "0.2"}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--demo"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        _wait_for(lambda: _health(url), 60)
        time.sleep(1)  # the demo's collection talks to the emulator meanwhile
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: atexit releases the lease
        _, stderr = process.communicate(timeout=30)
    lines = stderr.splitlines()
    assert any(re.match(STAMPED_INFO + r"jobs\.scheduler: scheduler: this process", line)
               for line in lines), stderr
    assert any("released the lease" in line for line in lines), stderr
    assert any('"GET /healthz HTTP/1.1" 200' in line for line in lines)  # the app's own
    assert not [line for line in lines if '"POST / HTTP/1.1"' in line]  # the emulator's
    assert not [line for line in lines if "Running job" in line]
