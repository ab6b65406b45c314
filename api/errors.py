"""JSON error responses: a bad request gets a 4xx with a message, never an HTML page.

Dash's pages answer every path (`/<path:path>`), so without the catch-all routes here a typo
under `/api`, `/cloudwatch` or `/ws` would get the dashboard's HTML with a 200, and a wrong
method a page instead of a 405.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import WebsocketMismatch

from analysis.safe_text import excerpt, redact_urls
from store import StoreError

log = logging.getLogger(__name__)
STORE_RETRY_SECONDS = 5


class ApiError(Exception):
    """Raised by a route to answer with `status` and a message the caller can act on."""

    def __init__(self, message: str, status: int = 400, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
API_PREFIXES = ("/api", "/cloudwatch", "/ws")
MAX_MESSAGE_CHARS = 280  # a message quotes at most ~100 characters of input; this is a net
_CATCH_ALL = "_unknown_api_path"


def short_message(message: str) -> str:
    """An error message cut to MAX_MESSAGE_CHARS (each quote of input is already short)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:MAX_MESSAGE_CHARS - 1] + "…"


def _methods_elsewhere(server: Flask) -> set[str]:
    """Methods another route accepts on this path (so a wrong method is 405, not 404)."""
    adapter = server.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != _CATCH_ALL:
            allowed.add(method)
    return allowed


def _is_websocket_route(server: Flask) -> bool:
    """Does a WebSocket route (flask-sock) serve this path?"""
    adapter = server.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(request.path, method="GET", websocket=True)
    except HTTPException:
        return False
    return True


def _is_api_path() -> bool:
    path = request.path
    return path == "/healthz" or any(path == p or path.startswith(p + "/")
                                     for p in API_PREFIXES)


def _error(message: str, status: int):
    return jsonify({"error": short_message(message)}), status


def _too_large(_exc: RequestEntityTooLarge):
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return _error(f"the request body is larger than {limit} bytes", 413)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _enforce_body_limit() -> None:
    """MAX_CONTENT_LENGTH for every request, whether or not its route reads the body.

    A declared Content-Length past the limit is refused at once. A chunked body (no
    Content-Length) is read here up to the limit and cached for the route: Werkzeug stops
    such a body at the limit *without* an error (the route would see it cut short, as
    invalid JSON or worse, as valid JSON missing its end), so one byte more is asked of
    the server's stream, and a body that has one is a 413.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
        return
    if (request.method in _BODY_METHODS and request.environ.get("wsgi.input_terminated")
            and not request.headers.get("Upgrade")):
        request.get_data(cache=True)
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def _unknown_path(server: Flask):
    path = excerpt(request.path, 100, quote=False)
    if _is_websocket_route(server):
        return _error(f"{path} is a WebSocket endpoint: connect with a WebSocket client "
                      "(Upgrade: websocket)", 400)
    allowed = _methods_elsewhere(server)
    if allowed:
        return _error(f"{request.method} is not allowed here; use "
                      f"{' or '.join(sorted(allowed))}", 405)
    return _error(f"no such API endpoint: {request.method} {path}", 404)


def _websocket_mismatch(exc: WebsocketMismatch):
    """A WebSocket handshake to a path that serves plain HTTP (or nothing)."""
    if not _is_api_path():
        return exc
    path = excerpt(request.path, 100, quote=False)
    if request.path.startswith("/ws"):
        return _error(f"no such WebSocket endpoint: {path}", 404)
    return _error(f"{path} is not a WebSocket endpoint: send a plain HTTP request", 400)


def init_app(server: Flask) -> None:
    rules = [rule for prefix in API_PREFIXES for rule in (prefix, f"{prefix}/<path:_rest>")]

    def unknown_api_path(_rest: str = ""):
        return _unknown_path(server)

    for rule in rules:
        server.add_url_rule(rule, _CATCH_ALL, unknown_api_path, methods=list(_METHODS))
    server.before_request(_enforce_body_limit)
    server.register_error_handler(RequestEntityTooLarge, _too_large)
    server.register_error_handler(WebsocketMismatch, _websocket_mismatch)

    @server.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify({"error": short_message(exc.message), **exc.extra}), exc.status

    @server.errorhandler(StoreError)
    def _store_unavailable(exc: StoreError):
        """The store is down or refuses writes: 503 with its (safe) message, never a 500 page
        with a traceback; the client may retry, and the app reopens the store by itself."""
        message = redact_urls(f"the store is unavailable: {exc}")
        log.warning("%s %s: %s", request.method, excerpt(request.path, 100, quote=False),
                    message)
        headers = {"Retry-After": str(STORE_RETRY_SECONDS)}
        if _is_api_path():
            return jsonify({"error": short_message(message)}), 503, headers
        return short_message(message), 503, {**headers, "Content-Type": "text/plain"}

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _is_api_path():
            return exc
        return _error(exc.description or exc.name, exc.code or 500)
