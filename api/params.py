"""Query-string parameters, checked once the same way for every endpoint (400 with a message).

Every route calls :func:`query_args` with a parser per parameter it accepts, even a route
that accepts none: a misspelt parameter (`?limt=5`, `?snce=...`) is then a 400 naming it and
listing the accepted ones, instead of being ignored and answering every row. A parser gets
the parameter's name and its raw value (None when absent) and returns the value to use or
raises ApiError; the factories below build the common ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime
from typing import Any

from flask import request

from analysis.safe_text import excerpt
from api.errors import ApiError
from auth.access import literals_requested
from store.flags import utc_iso

Parser = Callable[[str, str | None], Any]

MAX_TEXT_CHARS = 200
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "+02:00" sent unencoded in a URL arrives as " 02:00"; read it as the offset it was
_PLUS_AS_SPACE = re.compile(r"(\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def query_args(**parsers: Parser) -> dict[str, Any]:
    """The request's query parameters, each checked by its parser; an unknown one is a 400."""
    unknown = [name for name in request.args if name not in parsers]
    if unknown:
        accepted = ", ".join(sorted(parsers)) or "no parameters"
        raise ApiError(f"unknown query parameter {excerpt(unknown[0], 40)}; this endpoint "
                       f"accepts: {accepted}")
    return {name: parse(name, _single(name)) for name, parse in parsers.items()}


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ApiError(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def text(max_chars: int = MAX_TEXT_CHARS) -> Parser:
    """Free text (an id, a search); absent or empty: None. No control characters."""

    def parse(name: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        if len(raw) > max_chars:
            raise ApiError(f"{name} is too long ({len(raw):,} characters; at most {max_chars})")
        if _CONTROL.search(raw):
            raise ApiError(f"{name} must not hold control characters")
        return raw

    return parse


def whole(default: int, low: int, high: int) -> Parser:
    """A whole number within [low, high]; absent or empty: `default`."""

    def parse(name: str, raw: str | None) -> int:
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"[+-]?\d{1,19}", raw.strip()):
            raise ApiError(f"{name} must be a whole number, got {excerpt(raw, 40)}")
        value = int(raw)
        if not low <= value <= high:
            raise ApiError(f"{name} must be from {low} to {high}, got {value}")
        return value

    return parse


def choice(values: Collection[str]) -> Parser:
    """One of `values`; absent or empty: None."""

    def parse(name: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        if raw not in values:
            raise ApiError(f"{name} must be one of {', '.join(sorted(values))}, got "
                           f"{excerpt(raw, 40)}")
        return raw

    return parse


def _month_key(raw: str) -> str | None:
    match = _MONTH.match(raw)
    return raw if match and 1 <= int(match.group(2)) <= 12 else None


def month() -> Parser:
    """A calendar month `YYYY-MM`; absent or empty: None."""

    def parse(name: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        if _month_key(raw) is None:
            raise ApiError(f"{name} must be a month YYYY-MM (01 to 12), got {excerpt(raw, 40)}")
        return raw

    return parse


def _day_range_key(raw: str) -> str | None:
    start, sep, end = raw.partition("_")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return None
    if not sep or len(start) != 10 or len(end) != 10 or last < first:
        return None
    return raw


def period() -> Parser:
    """A stored period key: a month `YYYY-MM` or days `YYYY-MM-DD_YYYY-MM-DD`; absent: None."""

    def parse(name: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        if _month_key(raw) is None and _day_range_key(raw) is None:
            raise ApiError(f"{name} must be a month YYYY-MM or days YYYY-MM-DD_YYYY-MM-DD, "
                           f"got {excerpt(raw, 40)}")
        return raw

    return parse


def timestamp() -> Parser:
    """An ISO-8601 date or time, returned in the store's format (UTC, so text compares right).

    Without a zone it is UTC; `2026-03-01`, `2026-03-01T10:00`, `...Z` and `...+02:00` all
    work. The store compares timestamps as text, so `since=yesterday` must be a 400, not a
    filter that silently matches every row.
    """

    def parse(name: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        try:
            moment = datetime.fromisoformat(_PLUS_AS_SPACE.sub(r"\1+\2", raw.strip()))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return utc_iso(moment)
        except (ValueError, OverflowError):  # not ISO-8601; year 1 with a positive offset
            raise ApiError(f"{name} must be an ISO-8601 date or time such as "
                           f"2026-03-01T10:00:00Z, got {excerpt(raw, 40)}") from None

    return parse


def sort_field(allowed: Collection[str], default: str) -> Parser:
    """`field` or `-field` (descending) among `allowed`; returns (field, descending)."""

    def parse(name: str, raw: str | None) -> tuple[str, bool]:
        value = raw or default
        descending = value.startswith("-")
        field = value[1:] if value[:1] in "+-" else value
        if field not in allowed:
            raise ApiError(f"{name} must be one of {', '.join(sorted(allowed))} (prefix - for "
                           f"descending), got {excerpt(value, 40)}")
        return field, descending

    return parse


def literals() -> Parser:
    """`literals=true` reveals literals to an operator (auth.access decides; 403/400)."""

    def parse(name: str, raw: str | None) -> bool:
        return literals_requested()

    return parse

