"""Crashes, for real: the app is SIGKILLed in the middle of a run and started again, and a
gunicorn worker holding the scheduler lease is SIGKILLed (no clean shutdown, no release).

The app runs as `python app.py` / gunicorn processes on free loopback ports; AWS is the
session's moto behind a gate that holds CloudWatch Logs calls, so the kill lands while the
run is reading. Both store adapters.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.collection import INTERRUPTED
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.servers import free_port
from tests.test_collection import _seed_logs
from tests.test_shutdown import _gunicorn, _health, _wait_for
from tests.test_store_outage import GatedProxy

ROOT = Path(__file__).resolve().parent.parent
CLEAN_TOTAL = 9  # what tests/test_collection.py's logs hold for 2026-10 (test_collection)


@pytest.fixture
def gated(aws_settings: Settings) -> Iterator[GatedProxy]:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    proxy = GatedProxy(aws_settings.aws_endpoint_url)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.gate.set()
    proxy.shutdown()


def _call(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _start_app(tmp_path: Path, database_url: str, proxy: GatedProxy) -> tuple[subprocess.Popen,
                                                                               str]:
    port = free_port()
    host, proxy_port = proxy.server_address[:2]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port),
           "DATABASE_URL": database_url, "AWS_ENDPOINT_URL": f"http://{host}:{proxy_port}",
           "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_for(lambda: _health(url), 60)
    return process, url


def test_a_run_killed_with_its_process_is_interrupted_at_restart_and_runs_again(
        database_url: str, gated: GatedProxy, tmp_path: Path) -> None:
    first, url = _start_app(tmp_path, database_url, gated)
    try:
        _wait_for(lambda: _call(f"{url}/api/instances")[1].get("instances"), 30)
        gated.gate.clear()
        status, body = _call(f"{url}/cloudwatch/run", "POST", {"month": "2026-10"})
        assert status == 202, body
        killed_id = body["collection_id"]
        assert gated.waiting.wait(30), "the run never reached CloudWatch Logs"
        first.send_signal(signal.SIGKILL)  # a crash: no atexit, no release, nothing written
        first.wait(10)
    finally:
        first.kill()
        gated.gate.set()

    restarted = time.monotonic()
    second, url = _start_app(tmp_path, database_url, gated)
    try:
        _wait_for(lambda: _call(f"{url}/cloudwatch/runs/{killed_id}")[1].get("status")
                  == "error", 15)
        took = time.monotonic() - restarted
        run = _call(f"{url}/cloudwatch/runs/{killed_id}")[1]
        assert run["error"] == INTERRUPTED
        status, body = _call(f"{url}/cloudwatch/run", "POST", {"month": "2026-10"})
        assert status == 202, body  # the period is free at once, not after a lease
        again = body["collection_id"]
        _wait_for(lambda: _call(f"{url}/cloudwatch/runs/{again}")[1].get("status")
                  in ("completed", "error"), 60)
        run = _call(f"{url}/cloudwatch/runs/{again}")[1]
        assert run["status"] == "completed" and run["total_queries"] == CLEAN_TOTAL, run
        print(f"\n{database_url.split(':')[0]}: the killed run was marked interrupted "
              f"{took:.1f} s after the restart began; the re-run stored {run['total_queries']}")
    finally:
        second.terminate()
        second.wait(30)


def test_a_hard_killed_lease_holder_is_replaced_within_the_lease(tmp_path: Path) -> None:
    lease_seconds = 6
    port, database_url = free_port(), f"sqlite:///{tmp_path / 'app.db'}"
    url = f"http://127.0.0.1:{port}"
    process = _gunicorn(tmp_path, port, database_url,
                        {"SCHEDULER_LEASE_SECONDS": str(lease_seconds)})
    try:
        _wait_for(lambda: (_health(url) or {}).get("scheduler", {}).get("leader"), 30)
        leader = _health(url)["scheduler"]["leader"]
        os.kill(int(leader.split(":")[-2]), signal.SIGKILL)  # no worker_exit, no release
        killed = time.monotonic()
        _wait_for(lambda: (_health(url) or {}).get("scheduler", {}).get("leader")
                  not in (None, leader), lease_seconds + 5)
        took = time.monotonic() - killed
        print(f"\nlease holder SIGKILLed: another worker led after {took:.1f} s "
              f"(lease {lease_seconds} s)")
        assert took <= lease_seconds + 2
    finally:
        process.terminate()
        process.communicate(timeout=30)
