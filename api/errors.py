"""JSON error responses: a bad request gets a 4xx with a message, never an HTML page."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raised by a route to answer with `status` and a message the caller can act on."""

    def __init__(self, message: str, status: int = 400, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _methods_elsewhere(server: Flask) -> set[str]:
    """Methods another route accepts on this path (so a wrong method is 405, not 404)."""
    adapter = server.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "_unknown_api_path":
            allowed.add(method)
    return allowed


def _is_api_path() -> bool:
    return request.path.startswith(("/api/", "/cloudwatch/", "/healthz"))


def init_app(server: Flask) -> None:
    # Dash's pages catch every path; without this an API typo would get an HTML page.
    @server.route("/api/<path:_rest>", methods=list(_METHODS))
    def _unknown_api_path(_rest: str):
        allowed = _methods_elsewhere(server)
        if allowed:
            return jsonify({"error": f"{request.method} is not allowed here; use "
                                     f"{' or '.join(sorted(allowed))}"}), 405
        return jsonify({"error": f"no such API endpoint: {request.method} {request.path}"}), 404

    @server.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify({"error": exc.message, **exc.extra}), exc.status

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _is_api_path():
            return exc
        return jsonify({"error": exc.description or exc.name}), exc.code
