"""`/ws/collection/<id>` with a real WebSocket client against the app on a real HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import websocket

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.servers import serving
from tests.test_collection import _seed_logs

STATUS_DETAIL_KEYS = {"progress", "message", "processed_instances", "total_queries",
                      "total_instances", "error", "completed_at", "period"}


@pytest.fixture
def live(aws_settings: Settings) -> Iterator[tuple[str, object]]:
    """The app served over HTTP on a free port; yields (ws base url, services)."""
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    app = create_app(replace(aws_settings, ws_ping_seconds=1))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    with serving(app.server) as port:
        yield f"ws://127.0.0.1:{port}", services


def _read_until_closed(ws: websocket.WebSocket, timeout: float = 30) -> list[dict]:
    messages = []
    deadline = time.monotonic() + timeout
    ws.settimeout(timeout)
    while time.monotonic() < deadline:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return messages
        if opcode == websocket.ABNF.OPCODE_TEXT:
            messages.append(json.loads(data))
    raise AssertionError("the server did not close the socket")


def _check_shape(message: dict) -> None:
    if message["type"] == "log":
        assert set(message) == {"type", "message", "level"}
        assert message["level"] in {"info", "error", "warning"}
        assert isinstance(message["message"], str)
    else:
        assert message["type"] == "status"
        assert set(message) == {"type", "data"}
        assert set(message["data"]) == {"status", "details"}
        assert message["data"]["status"] in {"started", "in_progress", "completed", "error"}
        assert set(message["data"]["details"]) <= STATUS_DETAIL_KEYS


def _start(services, body: dict) -> str:
    return services.collection.start(body)["collection_id"]


def test_live_run_streams_progress_to_completion_then_closes(live) -> None:
    base, services = live
    collection_id = _start(services, {"month": "2026-10"})
    ws = websocket.create_connection(f"{base}/ws/collection/{collection_id}", timeout=10)
    messages = _read_until_closed(ws)
    for message in messages:
        _check_shape(message)
    statuses = [m["data"] for m in messages if m["type"] == "status"]
    assert statuses[-1]["status"] == "completed"
    final = statuses[-1]["details"]
    assert final["progress"] == 100
    assert final["processed_instances"] == final["total_instances"] == 5
    assert final["total_queries"] == 9
    assert final["period"] == {"start_date": "2026-10-01", "end_date": "2026-10-31"}
    assert final["completed_at"]
    progress = [s["details"]["progress"] for s in statuses]
    assert progress == sorted(progress)
    logs = [m for m in messages if m["type"] == "log"]
    assert any(m["level"] == "error" and "legacy-maria" in m["message"] for m in logs)
    assert any(m["level"] == "warning" and "malformed" in m["message"] for m in logs)


def test_a_late_client_catches_up_at_once(live) -> None:
    base, services = live
    collection_id = _start(services, {"month": "2026-10"})
    services.collection.wait(collection_id, timeout=60)
    run = services.store.runs.get(collection_id)
    ws = websocket.create_connection(f"{base}/ws/collection/{collection_id}", timeout=10)
    messages = _read_until_closed(ws, timeout=5)
    assert [m["message"] for m in messages if m["type"] == "log"] == [
        line["message"] for line in run["logs"]]
    assert messages[-1]["type"] == "status"
    assert messages[-1]["data"]["status"] == "completed"


def test_ping_pong_and_progress_written_by_another_process(live) -> None:
    base, services = live
    run = {"collection_id": "elsewhere", "status": "in_progress", "progress": 40,
           "message": "working", "period": {"start_date": "2026-10-01",
                                            "end_date": "2026-10-31"},
           "period_key": "2026-10", "processed_instances": 2, "total_instances": 5,
           "total_queries": 10, "logs": [{"seq": 1, "time": "t", "level": "info",
                                          "message": "hello"}],
           "errors": [], "started_at": "2026-11-01T00:00:00Z"}
    services.store.runs.create(run)
    ws = websocket.create_connection(f"{base}/ws/collection/elsewhere", timeout=10)
    assert json.loads(ws.recv()) == {"type": "log", "message": "hello", "level": "info"}
    first = json.loads(ws.recv())
    assert first["data"]["status"] == "in_progress"
    assert first["data"]["details"]["progress"] == 40

    ws.send("ping")
    assert ws.recv() == "pong"
    ws.send(json.dumps({"type": "ping"}))
    assert json.loads(ws.recv()) == {"type": "pong"}

    # the run is written by "another worker": the socket follows the store
    services.store.runs.save({**run, "status": "completed", "progress": 100,
                              "completed_at": "2026-11-01T00:10:00Z",
                              "logs": run["logs"] + [{"seq": 2, "time": "t", "level": "info",
                                                      "message": "done"}]})
    rest = _read_until_closed(ws, timeout=5)
    assert rest[0] == {"type": "log", "message": "done", "level": "info"}
    assert rest[-1]["data"]["status"] == "completed"
    assert rest[-1]["data"]["details"]["completed_at"] == "2026-11-01T00:10:00Z"


def test_server_sends_keepalive_pings(live) -> None:
    base, services = live
    services.store.runs.create({"collection_id": "slow", "status": "in_progress",
                                "period": None, "logs": [], "errors": [],
                                "started_at": "2026-11-01T00:00:00Z"})
    ws = websocket.create_connection(f"{base}/ws/collection/slow", timeout=10)
    deadline = time.monotonic() + 5
    opcodes = []
    while time.monotonic() < deadline and websocket.ABNF.OPCODE_PING not in opcodes:
        frame = ws.recv_data_frame(control_frame=True)[1]
        opcodes.append(frame.opcode)
    assert websocket.ABNF.OPCODE_PING in opcodes
    ws.close()


def test_unknown_id_gets_an_error_status_and_a_close(live) -> None:
    base, _services = live
    ws = websocket.create_connection(f"{base}/ws/collection/does-not-exist", timeout=10)
    messages = _read_until_closed(ws, timeout=5)
    assert len(messages) == 1
    _check_shape(messages[0])
    assert messages[0]["data"]["status"] == "error"
    assert "unknown collection_id" in messages[0]["data"]["details"]["error"]
