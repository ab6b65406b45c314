"""The README's way of running the app, as a real process on a free port, with no settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _wait_for_health(url: str, process: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                assert response.status == 200
                return json.loads(response.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError("no answer from /healthz")


@pytest.mark.parametrize("runner", ["python", "gunicorn"])
def test_serves_the_embedded_default_with_no_environment(tmp_path: Path, runner: str) -> None:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    if runner == "python":
        command = [sys.executable, str(ROOT / "app.py")]
        env["PORT"] = str(port)
    else:
        command = [str(VENV_BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "2",
                   "--threads", "4", "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
                   "app:server"]
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'data' / 'slowquery.db'}"
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}", process)
        assert health["status"] == "ok"
        assert health["store"] == "sqlite"
        assert (tmp_path / "data" / "slowquery.db").exists()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/instances", timeout=5) as page:
            assert b"Slow Query Dashboard" in page.read()
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_demo_serves_a_collected_month_with_no_aws_account(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port)}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--demo"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        health = _wait_for_health(url, process)
        assert health["aws"]["ok"] is True
        deadline = time.monotonic() + 60
        runs: list = []
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{url}/cloudwatch/runs", timeout=5) as response:
                runs = json.loads(response.read())["runs"]
            if runs and runs[0]["status"] in ("completed", "error"):
                break
            time.sleep(0.3)
        assert runs[0]["status"] == "completed", runs
        assert runs[0]["total_instances"] == 5 and runs[0]["total_queries"] > 5000
        with urllib.request.urlopen(f"{url}/api/digests?limit=5", timeout=5) as response:
            assert json.loads(response.read())["total"] > 10
        assert (tmp_path / "data" / "demo.db").exists()
        assert not (tmp_path / "data" / "slowquery.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=15)
