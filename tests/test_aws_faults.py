"""A collection survives a faulty AWS: a proxy in front of moto answers a share of the
CloudWatch Logs calls with throttling, 500s, dropped connections or slow answers, and the run
still completes with exactly the totals of a clean run (boto3's adaptive retries at work)."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.cw_seed import put_events, rds_entry
from tests.rds_seed import seed_rds
from tests.test_collection import _seed_logs

FAULT_SHARE = 0.4
KINDS = ("throttle", "500", "reset", "slow")
EXTRA_EVENTS = 3000  # enough for many pages of filter_log_events


class FaultyProxy(ThreadingHTTPServer):
    """Forwards to moto; a seeded share of CloudWatch Logs calls get a fault instead."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = urlsplit(target)
        self.random = random.Random(7)
        self.lock = threading.Lock()
        self.calls = 0
        self.faults: dict[str, int] = {"throttle": 0, "500": 0, "reset": 0, "slow": 0}

    def pick(self, logs_call: bool) -> str | None:
        with self.lock:
            self.calls += 1
            if not logs_call or self.random.random() >= FAULT_SHARE:
                return None
            fault = KINDS[sum(self.faults.values()) % len(KINDS)]  # each kind in turn
            self.faults[fault] += 1
            return fault


class _Handler(BaseHTTPRequestHandler):
    server: FaultyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.pick("Logs_" in self.headers.get("X-Amz-Target", ""))
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            self.close_connection = True
            return
        if fault in ("throttle", "500"):
            status, payload = ((400, b'{"__type":"ThrottlingException","message":"Rate '
                                     b'exceeded"}') if fault == "throttle"
                               else (500, b'{"__type":"ServiceUnavailableException",'
                                          b'"message":"try again"}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault == "slow":
            time.sleep(0.4)
        self._forward(body)

    do_GET = do_POST

    def _forward(self, body: bytes) -> None:
        target = self.server.target
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = target.netloc
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()


@pytest.fixture
def faulty(aws_settings: Settings) -> Iterator[tuple[Settings, FaultyProxy]]:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    start = datetime(2026, 10, 20, tzinfo=UTC)
    put_events(aws_settings.aws_endpoint_url, REGION,
               "/aws/rds/instance/orders-prd-1/slowquery", "orders-prd-1-busy",
               [(int(start.timestamp() * 1000) + n * 1000,
                 rds_entry(start, f"SELECT * FROM t WHERE id = {n}", 0.5))
                for n in range(EXTRA_EVENTS)])
    proxy = FaultyProxy(aws_settings.aws_endpoint_url)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    host, port = proxy.server_address[:2]
    yield replace(aws_settings, aws_endpoint_url=f"http://{host}:{port}",
                  aws_max_attempts=10), proxy
    proxy.shutdown()


def _collect(settings: Settings) -> dict:
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    run = services.collection.start({"month": "2026-10"})
    services.collection.wait(run["collection_id"], timeout=240)
    return services.store.runs.get(run["collection_id"])


def test_a_collection_through_faults_has_the_totals_of_a_clean_one(faulty) -> None:
    settings, proxy = faulty
    clean = _collect(replace(settings, aws_endpoint_url=str(
        urlsplit(settings.aws_endpoint_url)._replace(
            netloc=f"{proxy.target.hostname}:{proxy.target.port}").geturl()),
        database_url=settings.database_url.replace("app.db", "clean.db")))
    proxy.calls = 0
    faulted = _collect(settings)
    injected = sum(proxy.faults.values())
    print(f"\ncalls through the proxy: {proxy.calls}, faults injected: {proxy.faults} "
          f"({injected / max(proxy.calls, 1):.0%} of all calls)")
    assert injected >= 4 and all(proxy.faults.values())
    assert injected / proxy.calls >= 0.2
    assert faulted["status"] == "completed", faulted.get("error")
    for key in ("total_queries", "malformed_events", "processed_instances"):
        assert faulted[key] == clean[key], key
    assert [e["instance_id"] for e in faulted["errors"]] == ["legacy-maria"]  # no log group
    assert clean["total_queries"] == 9 + EXTRA_EVENTS
