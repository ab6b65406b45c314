"""Slow-log events for moto's CloudWatch Logs (helpers shared with the demo)."""

from __future__ import annotations

from datetime import UTC, datetime

from analysis.slowlog import split_entries
from demo.fleet import put_log_events as put_events
from demo.slowlog_generator import format_entry

__all__ = ["events_from_log", "put_events", "rds_entry"]


def rds_entry(when: datetime, sql: str, query_time: float, **fields: object) -> str:
    """One RDS MySQL 8 entry at a naive-or-aware UTC time."""
    moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    return format_entry(moment, sql, query_time, **fields)


def events_from_log(text: str, start: datetime, step_ms: int = 1000) -> list[tuple[int, str]]:
    """Cut a slow-log file into one event per entry, as RDS does, spaced from `start`."""
    base = int(start.replace(tzinfo=UTC).timestamp() * 1000)
    return [(base + n * step_ms, entry.rstrip("\n"))
            for n, entry in enumerate(split_entries(text.splitlines(keepends=True)))]
