"""Puts slow-log events into moto's CloudWatch Logs.

Like AWS, moto rejects PutLogEvents older than 14 days, and a collection reads a past month.
So the group and stream are created over HTTP, and the events go in through moto's backend in
this process (the ThreadedMotoServer shares it); the app then reads them over HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime

import boto3
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from analysis.slowlog import split_entries


def put_events(endpoint_url: str, region: str, group: str, stream: str,
               events: Iterable[tuple[int, str]]) -> int:
    client = boto3.client("logs", region_name=region, endpoint_url=endpoint_url)
    exists = client.exceptions.ResourceAlreadyExistsException
    with contextlib.suppress(exists):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(exists):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    batch = sorted(({"timestamp": ts, "message": msg} for ts, msg in events),
                   key=lambda e: e["timestamp"])
    get_backend("logs")[DEFAULT_ACCOUNT_ID][region].groups[group].put_log_events(stream, batch)
    return len(batch)


def events_from_log(text: str, start: datetime, step_ms: int = 1000) -> list[tuple[int, str]]:
    """Cut a slow-log file into one event per entry, as RDS does, spaced from `start`."""
    base = int(start.replace(tzinfo=UTC).timestamp() * 1000)
    return [(base + n * step_ms, entry.rstrip("\n"))
            for n, entry in enumerate(split_entries(text.splitlines(keepends=True)))]


def rds_entry(when: datetime, sql: str, query_time: float, *, db: str | None = None,
              user: str = "app", host: str = "10.0.1.5", rows_examined: int = 100,
              rows_sent: int = 1, lock_time: float = 0.0001) -> str:
    """One entry as RDS MySQL 8 writes it to CloudWatch."""
    lines = [
        f"# Time: {when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
        f"# User@Host: {user}[{user}] @  [{host}]  Id:    42",
        f"# Query_time: {query_time:.6f}  Lock_time: {lock_time:.6f} Rows_sent: {rows_sent}"
        f"  Rows_examined: {rows_examined}",
    ]
    if db:
        lines.append(f"use {db};")
    lines.append(f"SET timestamp={int(when.replace(tzinfo=UTC).timestamp())};")
    lines.append(sql if sql.rstrip().endswith(";") else f"{sql};")
    return "\n".join(lines)
