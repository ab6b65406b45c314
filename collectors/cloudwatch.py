"""Reading RDS slow-query log events from CloudWatch Logs.

RDS writes one slow-log entry per event in `/aws/rds/instance/<id>/slowquery`; Aurora writes
one group per cluster, `/aws/rds/cluster/<cluster>/slowquery`, with one stream per instance,
so an Aurora instance reads only its own streams.

Two ways to read, both paced by the shared per-API limiters of `collectors.aws_limits`:

* **GetLogEvents per stream** (the default): the streams are listed once (DescribeLogStreams),
  then each stream's period is cut into time slices read concurrently. GetLogEvents has five
  times FilterLogEvents' quota (25 against 5 requests/s per account and Region), and an
  instance's streams are known, so this is what makes a fleet's month fit in a night.
* **FilterLogEvents over the group** (`iter_log_events`, and `read_slice` with no stream):
  the fallback when the IAM policy refuses DescribeLogStreams or GetLogEvents.

Slices are half-open, `[start_ms, end_ms)`, and every event is checked against its slice
client-side, so an event on a border is read exactly once whatever the server's reading of
`endTime` (AWS: exclusive for GetLogEvents, inclusive for FilterLogEvents; moto: inclusive).
Collectors read and never store: pages go to a callback (the job's parsers).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from analysis.safe_text import redact_urls
from collectors.aws import BadEndpointError, aws_client, explain_aws_error
from collectors.aws_limits import ApiLimits, paced_call, shared_limits
from collectors.base import AWS_NEEDS, Collector, uses_aws
from settings import Settings

DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# (timestamp ms, message) of the events of one page, for one parse state
Page = list[tuple[int | None, str]]
PageSink = Callable[[tuple[str, int], Page], None]


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
    """Every event of the period (`end_ms` exclusive), page by page, in the order AWS sends.

    Unpaced and in one thread: for a look at one instance (tests, scripts); a collection
    reads through `read_slice`.
    """
    with read_errors(source):
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


# ---- paced, sliced reading (GetLogEvents, FilterLogEvents as the fallback) ----------------
class UseFilterInstead(RuntimeError):
    """GetLogEvents (or DescribeLogStreams) is refused by the IAM policy: read the instance
    again with FilterLogEvents over its group."""


@dataclass(frozen=True)
class LogSlice:
    """One request sequence: a stream (None: FilterLogEvents over the source) and a half-open
    time range `[start_ms, end_ms)`; `index` names its parse state with the stream."""

    stream: str | None
    start_ms: int
    end_ms: int
    index: int


def cloudwatch_limits(settings: Settings) -> ApiLimits:
    """The limiters every collection of this process shares for this account and Region."""
    return shared_limits(
        (settings.aws_region, settings.aws_endpoint_url),
        {"GetLogEvents": settings.cloudwatch_get_log_events_per_second,
         "FilterLogEvents": settings.cloudwatch_filter_log_events_per_second,
         "DescribeLogStreams": settings.cloudwatch_describe_log_streams_per_second})


_CLIENT_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def logs_client(settings: Settings) -> Any:
    """The process's CloudWatch Logs client for these settings, made once and shared.

    Making a client loads and parses botocore's service model (a fresh Session each time):
    made per instance, that was a sixth of a fleet collection's request-thread CPU. Clients
    are thread-safe (sessions are not, and the one session here is used only to make the
    client). The key holds the credentials' environment (hashed), so new credentials get a
    new client; an instance role's credentials refresh inside the client."""
    identity = "\0".join([settings.aws_region, settings.aws_endpoint_url,
                          str(settings.aws_timeout_seconds), str(settings.collection_readers),
                          *(os.environ.get(name, "") for name in _CLIENT_ENV)])
    key = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= 8:
                _clients.clear()
            client = _clients[key] = _new_logs_client(settings)
        return client


def _new_logs_client(settings: Settings) -> Any:
    """A CloudWatch Logs client that never retries by itself (`paced_call` retries through
    the limiter) and keeps a connection per reader thread."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1},
                    connect_timeout=settings.aws_timeout_seconds,
                    read_timeout=settings.aws_timeout_seconds,
                    max_pool_connections=max(10, settings.collection_readers + 2))
    try:
        client = boto3.session.Session().client(
            "logs", region_name=settings.aws_region or None,
            endpoint_url=settings.aws_endpoint_url or None, config=config)
    except ValueError as exc:  # "Invalid endpoint: http://user:secret@...", a bad port
        raise BadEndpointError(reason=redact_urls(str(exc))[:200]) from None
    for operation in ("GetLogEvents", "FilterLogEvents"):
        client.meta.events.register(f"before-parse.cloudwatch-logs.{operation}",
                                    _events_as_json)
    return client


def _events_as_json(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                    **_kwargs: Any) -> None:
    """Decode a page's events with `json.loads` instead of botocore's shape-driven parser.

    A 1 MB page of 2,000 events takes botocore 9.4 ms to parse and `json.loads` 1.9 ms: at a
    fleet's 25 pages a second, that was a third of the request threads' CPU (one GIL). The
    events come back as the same dicts (JSON numbers and strings are the shapes' longs and
    strings); botocore still parses the rest of the page (tokens) and every error answer."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not body:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # botocore's parser says what is wrong with it
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return
    customized_response_dict["events"] = data.pop("events")
    response_dict["body"] = json.dumps(data).encode()


@contextmanager
def read_errors(source: LogSource) -> Iterator[None]:
    """Turn AWS failures into one `LogReadError` sentence naming the group (no secrets)."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise LogReadError(
                f"log group {source.group} not found: enable slow_query_log and export "
                "the slowquery log to CloudWatch Logs for this instance"
            ) from None
        if code in DENIED_CODES:
            raise LogReadError(f"{source.describe()}: access denied by AWS ({code}): the "
                               "credentials need logs:GetLogEvents and logs:DescribeLogStreams"
                               " (or logs:FilterLogEvents)") from None
        raise LogReadError(f"{source.describe()}: {explain_aws_error(exc)}") from None
    except BotoCoreError as exc:
        raise LogReadError(f"{source.describe()}: {explain_aws_error(exc)}") from None
    except ValueError as exc:  # urllib3 on a bad AWS_ENDPOINT_URL ("Port could not be cast")
        raise LogReadError(f"{source.describe()}: AWS call failed: "
                           f"{redact_urls(str(exc))[:200]}") from None


def _denied(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in DENIED_CODES


def _is_own_stream(source: LogSource, name: str) -> bool:
    prefix = source.stream_prefix
    return prefix is None or name == prefix or name.startswith(f"{prefix}.")


def list_streams(client: Any, limits: ApiLimits, source: LogSource,
                 attempts: int) -> list[dict[str, Any]]:
    """The instance's streams (RDS: every stream of its group; Aurora: its own), each with
    `logStreamName` and, when AWS knows it, `firstEventTimestamp`. Raises UseFilterInstead
    when DescribeLogStreams is refused."""
    streams: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": source.group}
    if source.stream_prefix:
        kwargs["logStreamNamePrefix"] = source.stream_prefix
    while True:
        try:
            page = paced_call(limits, "DescribeLogStreams", client.describe_log_streams,
                              attempts, **kwargs)
        except ClientError as exc:
            if _denied(exc):
                raise UseFilterInstead("DescribeLogStreams refused") from None
            raise
        streams.extend(s for s in page.get("logStreams", [])
                       if _is_own_stream(source, s["logStreamName"]))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return streams
        kwargs["nextToken"] = token


def plan_slices(streams: list[dict[str, Any]] | None, start_ms: int, end_ms: int,
                slices: int) -> list[LogSlice]:
    """Cut the period `[start_ms, end_ms)` into at most `slices` adjacent half-open ranges per
    stream (`streams` None: one FilterLogEvents sequence per range over the whole source).
    A stream's range starts at its first event when AWS says when that was. Adjacent,
    half-open and covering: every millisecond of the period is in exactly one slice."""
    slices = max(1, slices)
    plan: list[LogSlice] = []
    targets: list[tuple[str | None, int]] = (
        [(None, start_ms)] if streams is None else
        [(s["logStreamName"], max(start_ms, s.get("firstEventTimestamp") or start_ms))
         for s in streams])
    for stream, first in targets:
        if first >= end_ms:
            continue  # the stream's first event is after the period
        span = end_ms - first
        count = max(1, min(slices, span))
        bounds = [first + span * k // count for k in range(count)] + [end_ms]
        plan.extend(LogSlice(stream, lo, hi, k)
                    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)))
    return plan


def read_slice(client: Any, limits: ApiLimits, source: LogSource, part: LogSlice,
               on_page: PageSink, attempts: int) -> int:
    """Read one slice page by page, handing each page's in-range events to `on_page` under
    the key `(stream name, slice index)`; returns the events handed over. GetLogEvents is
    followed until it gives back the token it was sent (AWS may answer an empty page while
    more events follow); a refused GetLogEvents raises UseFilterInstead."""
    lo, hi = part.start_ms, part.end_ms
    sent = 0
    if part.stream is not None:
        kwargs: dict[str, Any] = {"logGroupName": source.group, "logStreamName": part.stream,
                                  "startTime": lo, "endTime": hi, "startFromHead": True}
        key = (part.stream, part.index)
        while True:
            try:
                page = paced_call(limits, "GetLogEvents", client.get_log_events, attempts,
                                  **kwargs)
            except ClientError as exc:
                if _denied(exc):
                    raise UseFilterInstead("GetLogEvents refused") from None
                raise
            events = [(e.get("timestamp"), e.get("message", ""))
                      for e in page.get("events", ())
                      if e.get("timestamp") is None or lo <= e["timestamp"] < hi]
            if events:
                sent += len(events)
                on_page(key, events)
            token = page.get("nextForwardToken")
            if not token or token == kwargs.get("nextToken"):
                return sent
            kwargs["nextToken"] = token
    kwargs = {"logGroupName": source.group, "startTime": lo, "endTime": hi - 1}
    if source.stream_prefix:
        kwargs["logStreamNamePrefix"] = source.stream_prefix
    while True:
        page = paced_call(limits, "FilterLogEvents", client.filter_log_events, attempts,
                          **kwargs)
        by_stream: dict[str, Page] = {}
        for e in page.get("events", ()):
            name = e.get("logStreamName", "")
            ts = e.get("timestamp")
            if _is_own_stream(source, name) and (ts is None or lo <= ts < hi):
                by_stream.setdefault(name, []).append((ts, e.get("message", "")))
        for name, events in by_stream.items():
            sent += len(events)
            on_page((name, part.index), events)
        token = page.get("nextToken")
        if not token:
            return sent
        kwargs["nextToken"] = token


COLLECTOR = Collector(
    name="cloudwatch-slowlog",
    title="Slow log (CloudWatch Logs)",
    reads=("each instance's exported slow log for a period (logs:GetLogEvents, "
           "logs:FilterLogEvents, logs:DescribeLogStreams)"),
    needs=AWS_NEEDS,
    is_configured=uses_aws,
)
