"""The HTTP API: Flask blueprints registered on the Dash app's server."""

from __future__ import annotations

from flask import Flask

from api import cloudwatch, digests, errors, health, instances, plans, realtime, ws


def init_app(server: Flask, ws_ping_seconds: float = 30) -> None:
    errors.init_app(server)
    ws.init_app(server, ws_ping_seconds)
    server.register_blueprint(cloudwatch.blueprint)
    server.register_blueprint(digests.blueprint)
    server.register_blueprint(health.blueprint)
    server.register_blueprint(instances.blueprint)
    server.register_blueprint(plans.blueprint)
    server.register_blueprint(realtime.blueprint)
