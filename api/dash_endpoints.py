"""Bad requests to Dash's own endpoints get a 4xx, not Dash's 500.

Dash answers a callback request naming an unknown output, a body that is not the object
its renderer sends, JSON nested thousands deep, or a script of an unregistered library with
an exception (a 500 and a traceback in the log). These checks run before Dash sees the
request and refuse it with a short JSON message, as the API does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, jsonify, request

from analysis.nesting import json_text_depth
from analysis.safe_text import excerpt

UPDATE_PATH = "/_dash-update-component"
MAX_DEPTH = 64  # the renderer's bodies nest about 8 levels


def _bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


def _check_update(callbacks: Mapping[str, Any]):
    text = request.get_data(cache=True, as_text=True)
    if json_text_depth(text) > MAX_DEPTH:
        return _bad(f"the callback request is nested too deeply (more than {MAX_DEPTH} levels)")
    try:
        body = json.loads(text)
    except ValueError:
        return _bad("the callback request must be JSON")
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return _bad("the callback request must be an object with an output")
    if body["output"] not in callbacks:
        return _bad(f"no callback has the output {excerpt(body['output'])}", 404)
    for key in ("inputs", "changedPropIds"):
        if not isinstance(body.get(key, []), list):
            return _bad(f"{key} must be a list")
    if not isinstance(body.get("state", []), list):
        return _bad("state must be a list")
    return None


def init_app(server: Flask, callbacks: Callable[[], Mapping[str, Any]]) -> None:
    """`callbacks()` gives Dash's callback map (filled before the first request is served)."""

    @server.before_request
    def _check_dash_request():
        if request.path == UPDATE_PATH and request.method == "POST":
            return _check_update(callbacks())
        return None

    @server.errorhandler(DependencyException)
    def _unknown_script(_exc: DependencyException):
        return _bad(f"no such script: {excerpt(request.path, quote=False)}", 404)
