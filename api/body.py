"""Request bodies: one reader of JSON objects for every route (400 or 413, never a 500).

The body is read at most MAX_CONTENT_LENGTH bytes (Werkzeug answers 413 past it, also for a
chunked body without Content-Length), its nesting is measured before `json.loads` could
recurse into it, and strings that cannot be stored (lone UTF-16 surrogates from `\\ud800`
escapes, which both stores refuse with an exception) are refused here.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from analysis.nesting import json_text_depth
from api.errors import ApiError

MAX_BODY_DEPTH = 32  # a request body is a flat object; 32 levels is generous


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _text() -> str:
    """The body as text; not UTF-8 is a 400."""
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("the request body is not UTF-8 text") from None


def _decode(text: str, shape: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        where = (f" at line {exc.lineno} column {exc.colno}"
                 if isinstance(exc, json.JSONDecodeError) else "")
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        raise ApiError(f"the request body must be a JSON object{shape}; it is not valid JSON"
                       f"{where}: {reason}") from None


def _refuse_surrogates(text: str, body: dict[str, Any]) -> None:
    """`"\\ud800"` decodes to a lone surrogate, which no store can encode."""
    if "\\u" not in text:  # valid UTF-8 text holds none; only an escape can make one
        return
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("the request body holds an invalid \\u escape (a lone UTF-16 "
                       "surrogate)") from None


def json_body(*, max_depth: int = MAX_BODY_DEPTH, shape: str = "") -> dict[str, Any]:
    """The request's JSON object; an empty body means ``{}`` (so `curl -X POST` works).

    `shape` is appended to "must be a JSON object" to show what is expected. Anything that
    is not a JSON object of at most `max_depth` levels is a 400 with a short message.
    """
    text = _text()
    if not text.strip():
        return {}
    if not request.is_json:
        raise ApiError("the request body must be a JSON object sent with Content-Type: "
                       "application/json")
    if json_text_depth(text) > max_depth:
        raise ApiError(f"the request body is nested too deeply (more than {max_depth} levels)")
    shape = f": {shape}" if shape else ""
    body = _decode(text, shape)
    if not isinstance(body, dict):
        raise ApiError(f"the request body must be a JSON object{shape}")
    _refuse_surrogates(text, body)
    return body
