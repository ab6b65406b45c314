"""The HTTP API: Flask blueprints registered on the Dash app's server."""

from __future__ import annotations

from flask import Flask

from api import errors, health, instances


def init_app(server: Flask) -> None:
    errors.init_app(server)
    server.register_blueprint(health.blueprint)
    server.register_blueprint(instances.blueprint)
