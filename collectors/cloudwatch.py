"""Reading RDS slow-query log events from CloudWatch Logs (paginated, adaptive retries).

RDS writes one slow-log entry per event in `/aws/rds/instance/<id>/slowquery`; Aurora writes
one group per cluster, `/aws/rds/cluster/<cluster>/slowquery`, with one stream per instance,
so an Aurora instance reads only its own streams.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from analysis.safe_text import redact_urls
from collectors.inventory import aws_client, explain_aws_error
from settings import Settings


class LogReadError(RuntimeError):
    """Reading one instance's log failed; the message is safe to show and names the group."""


@dataclass(frozen=True)
class LogSource:
    """Where one instance's slow log lives."""

    group: str
    stream_prefix: str | None  # Aurora: only this instance's streams

    def describe(self) -> str:
        if self.stream_prefix:
            return f"{self.group} (streams of {self.stream_prefix})"
        return self.group


def log_source_for(instance: Mapping[str, Any]) -> LogSource:
    cluster = instance.get("cluster_id")
    if instance.get("engine") == "aurora-mysql" and cluster:
        return LogSource(f"/aws/rds/cluster/{cluster}/slowquery", instance["instance_id"])
    return LogSource(f"/aws/rds/instance/{instance['instance_id']}/slowquery", None)


def _instance_streams(client: Any, source: LogSource) -> list[str]:
    """Aurora stream names are the instance id (with an optional `.N` suffix on rotation)."""
    names: list[str] = []
    paginator = client.get_paginator("describe_log_streams")
    for page in paginator.paginate(logGroupName=source.group,
                                   logStreamNamePrefix=source.stream_prefix):
        for stream in page.get("logStreams", []):
            name = stream["logStreamName"]
            if name == source.stream_prefix or name.startswith(f"{source.stream_prefix}."):
                names.append(name)
    return names


def iter_log_events(settings: Settings, source: LogSource, start_ms: int,
                    end_ms: int) -> Iterator[dict[str, Any]]:
    """Every event of the period (`end_ms` exclusive), page by page, in the order AWS sends."""
    try:
        client = aws_client(settings, "logs")
        kwargs: dict[str, Any] = {"logGroupName": source.group, "startTime": start_ms,
                                  "endTime": end_ms - 1}
        if source.stream_prefix:
            streams = _instance_streams(client, source)
            if not streams:
                return
            # filter_log_events takes at most 100 stream names per call.
            batches = [streams[i:i + 100] for i in range(0, len(streams), 100)]
        else:
            batches = [None]
        paginator = client.get_paginator("filter_log_events")
        for batch in batches:
            call = dict(kwargs, logStreamNames=batch) if batch else kwargs
            for page in paginator.paginate(**call):
                yield from page.get("events", [])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise LogReadError(
                f"log group {source.group} not found: enable slow_query_log and export "
                "the slowquery log to CloudWatch Logs for this instance"
            ) from None
        raise LogReadError(f"{source.describe()}: {explain_aws_error(exc)}") from None
    except BotoCoreError as exc:
        raise LogReadError(f"{source.describe()}: {explain_aws_error(exc)}") from None
    except ValueError as exc:  # urllib3 on a bad AWS_ENDPOINT_URL ("Port could not be cast")
        raise LogReadError(f"{source.describe()}: AWS call failed: "
                           f"{redact_urls(str(exc))[:200]}") from None
