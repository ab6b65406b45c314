"""Query-string arguments, checked once the same way for every endpoint (400 with a message)."""

from __future__ import annotations

from flask import request

from api.errors import ApiError


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole number from the query string, within [low, high]; absent or empty: default."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be from {low} to {high}")
    return value
