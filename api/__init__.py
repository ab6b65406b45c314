"""The HTTP API: Flask blueprints registered on the Dash app's server."""

from __future__ import annotations

from flask import Flask

from api import (
    casefile,
    charts,
    cloudwatch,
    collectors,
    compare,
    digests,
    errors,
    events,
    health,
    instances,
    plans,
    realtime,
    schedule,
    ws,
)


def init_app(server: Flask, ws_ping_seconds: float = 30,
             max_request_bytes: int | None = None) -> None:
    """Register the API on `server`; `max_request_bytes` (MAX_REQUEST_BYTES) caps every body.

    Werkzeug enforces MAX_CONTENT_LENGTH while the body is read, chunked bodies included;
    the API's error handler answers it with a 413 JSON message.
    """
    if max_request_bytes is not None:
        server.config["MAX_CONTENT_LENGTH"] = max_request_bytes
    errors.init_app(server)
    ws.init_app(server, ws_ping_seconds)
    server.register_blueprint(casefile.blueprint)
    server.register_blueprint(charts.blueprint)
    server.register_blueprint(cloudwatch.blueprint)
    server.register_blueprint(collectors.blueprint)
    server.register_blueprint(compare.blueprint)
    server.register_blueprint(digests.blueprint)
    server.register_blueprint(events.blueprint)
    server.register_blueprint(health.blueprint)
    server.register_blueprint(instances.blueprint)
    server.register_blueprint(plans.blueprint)
    server.register_blueprint(realtime.blueprint)
    server.register_blueprint(schedule.blueprint)
