"""`/ws/collection/<collection_id>`: a run's progress as the original's WebSocket messages.

It reads the run document from the store (not process memory), so a client reaches the run
from any gunicorn worker, and a late or reconnecting client first gets the current status
and the recent log lines. The sockets of one process following the same run share one read
per tick (`api/run_watch.py`) and wake when the document changes. Text `ping` gets `pong`
(within POLL_SECONDS); the server also sends protocol pings every `WS_PING_SECONDS`. After
the final `completed` or `error` status the socket is closed.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

from flask import Flask, request
from flask_sock import ConnectionClosed, Sock

from analysis.safe_text import excerpt
from api import run_watch
from jobs.collection import FINAL_STATUSES, status_details
from services import current_services

sock = Sock()
POLL_SECONDS = 0.3  # how soon a text ping is answered (run changes wake a socket at once)
FIRST_READ_SECONDS = 10  # a store that does not answer by then: close with 1011, retry later


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
    watcher = run_watch.watcher_for(current_services().store.runs)
    with watcher.follow(collection_id) as follow:
        if not follow.wait_loaded(FIRST_READ_SECONDS):
            reason = "server shutting down" if follow.stopped else "store unavailable"
            _close(ws, 1001 if follow.stopped else 1011, reason)
            return
        run = follow.latest()
        if run is None:
            ws.send(status_message("error", {"error": f"unknown collection_id "
                                                      f"{excerpt(collection_id, quote=False)}",
                                             "message": "no such collection run"}))
            _close(ws, 1008, "unknown collection_id")
            return
        _follow(ws, follow, run)


def _follow(ws: Any, follow: run_watch.Follow, run: dict[str, Any]) -> None:
    """Send new log lines and status changes until the run ends; answer pings meanwhile."""
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
            # the watcher wakes us when the run changes; pings are answered within a tick
            while (text := ws.receive(timeout=0)) is not None:
                _answer(ws, text)
            if follow.wait(POLL_SECONDS):
                if follow.stopped:
                    _close(ws, 1001, "server shutting down")
                    return
                run = follow.latest() or run
    except ConnectionClosed:
        return


def init_app(server: Flask, ping_seconds: float) -> None:
    server.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": ping_seconds}
    sock.init_app(server)
