"""`/ws/collection/<collection_id>`: a run's progress as the original's WebSocket messages.

It reads the run document from the store (not process memory), so a client reaches the run
from any gunicorn worker, and a late or reconnecting client first gets the current status
and the recent log lines. Text `ping` gets `pong`; the server also sends protocol pings every
`WS_PING_SECONDS`. After the final `completed` or `error` status the socket is closed.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

from flask import Flask, request
from flask_sock import ConnectionClosed, Sock

from analysis.safe_text import excerpt
from jobs.collection import FINAL_STATUSES, status_details
from services import current_services

sock = Sock()
POLL_SECONDS = 0.3


def status_message(status: str, details: dict[str, Any]) -> str:
    return json.dumps({"type": "status", "data": {"status": status, "details": details}})


def log_message(message: str, level: str) -> str:
    return json.dumps({"type": "log", "message": message, "level": level})


def _close(ws: Any, reason: int, message: str) -> None:
    """Close, wait for the client's close frame, then end the TCP stream ourselves.

    Werkzeug's development server (`python app.py`, the browser tests) writes an HTTP response
    after the handler returns; arriving after the close handshake it is harmless, but racing
    it a browser reports "Invalid frame header" and may drop the last messages.
    """
    ws.close(reason=reason, message=message)
    reader = getattr(ws, "thread", None)
    if reader is not None:
        reader.join(timeout=2)
    raw = request.environ.get("werkzeug.socket")
    if raw is not None:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)


def _answer(ws: Any, text: str | bytes | None) -> None:
    if text is None:
        return
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.strip().lower() == "ping":
        ws.send("pong")
        return
    try:
        message = json.loads(text)
    except ValueError:
        return
    if isinstance(message, dict) and message.get("type") == "ping":
        ws.send(json.dumps({"type": "pong"}))


@sock.route("/ws/collection/<collection_id>")
def collection_progress(ws: Any, collection_id: str) -> None:
    runs = current_services().store.runs
    run = runs.get(collection_id)
    if run is None:
        ws.send(status_message("error", {"error": f"unknown collection_id "
                                                  f"{excerpt(collection_id, quote=False)}",
                                         "message": "no such collection run"}))
        _close(ws, 1008, "unknown collection_id")
        return
    sent_state: tuple | None = None
    last_seq = 0
    try:
        while True:
            for line in run.get("logs", []):
                if line["seq"] > last_seq:
                    ws.send(log_message(line["message"], line["level"]))
                    last_seq = line["seq"]
            details = status_details(run)
            state = (run["status"], json.dumps(details, sort_keys=True))
            if state != sent_state:
                ws.send(status_message(run["status"], details))
                sent_state = state
            if run["status"] in FINAL_STATUSES:
                _close(ws, 1000, f"run {run['status']}")
                return
            _answer(ws, ws.receive(timeout=POLL_SECONDS))
            run = runs.get(collection_id) or run
    except ConnectionClosed:
        return


def init_app(server: Flask, ping_seconds: float) -> None:
    server.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": ping_seconds}
    sock.init_app(server)
