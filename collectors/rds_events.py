"""What happened to the region's RDS instances: ``describe_events`` for DB instances, over a
time window.

Read only, through the same clients as discovery (:func:`collectors.aws.aws_client`:
AWS_ENDPOINT_URL, adaptive retries, short timeouts).  One paginated call covers every instance
of the region (``SourceType=db-instance`` without an identifier): a call per instance would
cost hundreds of requests at every inventory refresh, against the account's RDS API rate that
discovery shares.  AWS keeps events for 14 days, so the caller reads often and keeps them.

A failure becomes one :class:`EventReadError` sentence a user can act on (no secrets).
Nothing here writes to the store; :func:`parse_event` is pure, beside the paging.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from analysis.safe_text import redact_urls
from collectors.aws import aws_client, explain_aws_error
from collectors.base import AWS_NEEDS, Collector, uses_aws
from settings import Settings

__all__ = ["COLLECTOR", "MAX_RECORDS", "RETENTION", "EventReadError", "parse_event",
           "read_events"]

RETENTION = timedelta(days=14)  # how far back RDS answers describe_events
MAX_RECORDS = 100  # the largest page describe_events gives
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


class EventReadError(RuntimeError):
    """RDS could not list its events; the message is one sentence, safe to show."""


def _sentence(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _DENIED:
            return (f"access denied by AWS reading RDS events ({code}): the credentials need "
                    "rds:DescribeEvents")
    return f"{explain_aws_error(exc)} (reading RDS events)"


def parse_event(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """One ``describe_events`` entry as ``{"instance_id", "time" (aware UTC datetime),
    "categories" (sorted, lower case), "message"}``; None for an entry without a source or a
    date (nothing to draw it against)."""
    instance_id = record.get("SourceIdentifier")
    when = record.get("Date")
    if not instance_id or not isinstance(when, datetime):
        return None
    return {
        "instance_id": str(instance_id),
        "time": (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC),
        "categories": sorted({str(c).strip().lower() for c in record.get("EventCategories")
                              or () if str(c).strip()}),
        "message": str(record.get("Message") or "").strip(),
    }


def read_events(settings: Settings, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every DB-instance event from ``start`` (included) to ``end`` (excluded), oldest first,
    as :func:`parse_event` shapes them.  Raises :class:`EventReadError`."""
    start = max(start, end - RETENTION)  # RDS keeps nothing older
    events: list[dict[str, Any]] = []
    try:
        client = aws_client(settings, "rds")
        pages = client.get_paginator("describe_events").paginate(
            SourceType="db-instance", StartTime=start, EndTime=end,
            PaginationConfig={"PageSize": MAX_RECORDS})
        for page in pages:
            for record in page.get("Events") or []:
                event = parse_event(record)
                # the window is checked here too: an emulator may answer more than asked
                if event is not None and start <= event["time"] < end:
                    events.append(event)
    except (BotoCoreError, ClientError) as exc:
        raise EventReadError(_sentence(exc)) from None
    except ValueError as exc:  # urllib3 on a bad AWS_ENDPOINT_URL
        raise EventReadError(f"AWS call failed reading RDS events: "
                             f"{redact_urls(str(exc))[:200]}") from None
    events.sort(key=lambda e: (e["time"], e["instance_id"]))
    return events


COLLECTOR = Collector(
    name="rds-events",
    title="RDS events (failovers, restarts, parameter and engine changes, maintenance)",
    reads=("the region's DB-instance events of the last 14 days, read with every inventory "
           "refresh and kept (rds:DescribeEvents)"),
    needs=AWS_NEEDS,
    is_configured=uses_aws,
)
