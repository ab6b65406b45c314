"""Collection at fleet scale, against moto: GetLogEvents per stream, time slices read
concurrently, parsing in worker processes, one paced limiter per API. The totals must be
those of the sequential FilterLogEvents read, on both store adapters; a proxy in front of
moto throttles, refuses or breaks calls to show the backing off, the fallback and that one
instance failing fails alone."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from analysis.digest import DigestAggregator
from analysis.fingerprint import fingerprint_and_id
from analysis.period import month_period
from analysis.slowlog import SlowLogStream
from app import create_app
from collectors.cloudwatch import (
    LogSource,
    cloudwatch_limits,
    iter_log_events,
    list_streams,
    logs_client,
    plan_slices,
    read_slice,
)
from settings import Settings
from tests.conftest import REGION
from tests.cw_seed import put_events, rds_entry
from tests.rds_seed import seed_rds
from tests.test_aws_faults import _Handler as _FaultsHandler
from tests.test_collection import _seed_logs

OCT = month_period(2026, 10)
BUSY_EVENTS = 1500
DATABASES = ("shop", "billing", "audit")


def _busy_events(count: int, offset: int = 0) -> list[tuple[int, str]]:
    """`count` events spread over October, some with `use db;` (the next ones inherit it),
    some with no `# Time:` line (their time comes from the event's timestamp)."""
    step = (OCT.end_ms - OCT.start_ms) // count
    out = []
    for n in range(count):
        ts = OCT.start_ms + n * step + offset
        when = datetime.fromtimestamp(ts / 1000, UTC)
        text = rds_entry(when, f"SELECT * FROM t{n % 7} WHERE id = {n}", 0.001 * (n % 97 + 1),
                         db=DATABASES[n % 3])
        if n % 5 == 0:
            text = "\n".join(line for line in text.splitlines()
                             if not line.startswith(("# Time:", "use ")))
        out.append((ts, text))
    return out


def _seed_busy(aws_url: str) -> None:
    put_events(aws_url, REGION, "/aws/rds/instance/orders-prd-1/slowquery", "orders-prd-1-busy",
               _busy_events(BUSY_EVENTS))
    put_events(aws_url, REGION, "/aws/rds/instance/orders-prd-2/slowquery", "orders-prd-2b",
               _busy_events(BUSY_EVENTS // 3, offset=7))


def _sequential(settings: Settings, instance: dict) -> dict[str, tuple]:
    """The reference: the old sequential read (one FilterLogEvents pagination, one parse
    state per stream, in this thread)."""
    from collectors.cloudwatch import log_source_for

    aggregator = DigestAggregator(fingerprint_and_id)
    streams: dict[str, SlowLogStream] = {}
    for event in iter_log_events(settings, log_source_for(instance), OCT.start_ms, OCT.end_ms):
        stream = streams.setdefault(event["logStreamName"], SlowLogStream())
        try:
            entry = stream.parse(event["message"])
        except Exception as exc:  # noqa: BLE001 - counted, as the collection does
            aggregator.add_error(exc)
            continue
        if entry.time is None:
            entry.time = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
        aggregator.add(instance["instance_id"], entry)
    return {d.query_id: (d.count, round(d.qt_sum, 6), d.to_dict()["databases"])
            for d in aggregator.digests(instance["instance_id"])}


def _stored(services, instance_id: str) -> dict[str, tuple]:
    digests, _ = services.store.digests.page(instance_id=instance_id, period=OCT.key,
                                             limit=10_000)
    return {d["query_id"]: (d["count"], round(d["query_time"]["sum"], 6), d["databases"])
            for d in digests}


@pytest.fixture(params=["sqlite", "mongodb"])
def scale_settings(request: pytest.FixtureRequest, aws_settings: Settings) -> Settings:
    settings = replace(aws_settings, collection_slices=8, collection_readers=16)
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    seed_rds(settings.aws_endpoint_url, REGION)
    _seed_logs(settings.aws_endpoint_url)
    _seed_busy(settings.aws_endpoint_url)
    return settings


def _collect(settings: Settings, body: dict | None = None) -> tuple[dict, object]:
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    run = services.collection.start(body or {"month": "2026-10"})
    services.collection.wait(run["collection_id"], timeout=240)
    return services.store.runs.get(run["collection_id"]), services


@pytest.mark.parametrize("parse_processes", [0, 2])
def test_sliced_parallel_totals_equal_the_sequential_read(scale_settings: Settings,
                                                          parse_processes: int) -> None:
    settings = replace(scale_settings, collection_parse_processes=parse_processes)
    limits = cloudwatch_limits(settings)  # shared per endpoint: count this run's calls
    calls_before = limits.limiter("GetLogEvents").calls
    filter_before = limits.limiter("FilterLogEvents").calls
    run, services = _collect(settings)
    assert run["status"] == "completed", run.get("error")
    assert [e["instance_id"] for e in run["errors"]] == ["legacy-maria"]  # no log group
    assert run["total_queries"] == 9 + BUSY_EVENTS + BUSY_EVENTS // 3
    assert run["malformed_events"] == 2
    known = {i["instance_id"]: i for i in services.store.instances.list()}
    for instance_id in ("orders-prd-1", "orders-prd-2", "catalog-aurora-1", "catalog-aurora-2"):
        # same classes, counts, Query_time sums and database attribution, digest by digest
        assert _stored(services, instance_id) == _sequential(settings, known[instance_id]), \
            instance_id
    # the read was sliced: several GetLogEvents sequences per stream, no FilterLogEvents
    # 4 instances with streams, 16 readers: 4 slices per stream, each ending on a repeat
    assert limits.limiter("GetLogEvents").calls - calls_before >= 5 * 4
    assert limits.limiter("FilterLogEvents").calls == filter_before
    assert any("orders-prd-1: reading" in line["message"] for line in run["logs"])


def test_slices_cover_the_period_once_even_on_their_borders(aws_settings: Settings) -> None:
    group = "/aws/rds/instance/orders-prd-1/slowquery"
    source = LogSource(group, None)
    first = OCT.start_ms
    # the slices' borders for a stream whose first event opens the period
    plan = plan_slices([{"logStreamName": "s", "firstEventTimestamp": first}],
                       OCT.start_ms, OCT.end_ms, 7)
    assert len(plan) == 7
    assert [p.start_ms for p in plan[1:]] == [p.end_ms for p in plan[:-1]]
    assert (plan[0].start_ms, plan[-1].end_ms) == (OCT.start_ms, OCT.end_ms)
    stamps = {first, OCT.end_ms - 1}
    for part in plan[1:]:
        stamps |= {part.start_ms - 1, part.start_ms, part.start_ms + 1}
    outside = {OCT.start_ms - 1, OCT.end_ms, OCT.end_ms + 1}
    events = [(ts, rds_entry(datetime.fromtimestamp(ts / 1000, UTC), f"SELECT {ts}", 1.0))
              for ts in sorted(stamps | outside)]
    put_events(aws_settings.aws_endpoint_url, REGION, group, "s", events)

    client = logs_client(aws_settings)
    limits = cloudwatch_limits(aws_settings)
    streams = list_streams(client, limits, source, 3)
    assert [s["logStreamName"] for s in streams] == ["s"]
    got: list[int] = []
    lock = threading.Lock()

    def sink(_key: tuple[str, int], page: list) -> None:
        with lock:
            got.extend(ts for ts, _ in page)

    for part in plan_slices(streams, OCT.start_ms, OCT.end_ms, 7):
        read_slice(client, limits, source, part, sink, 3)
    assert Counter(got) == Counter(stamps)  # each border event once, nothing outside
    # the FilterLogEvents fallback cuts the same way
    got.clear()
    for part in plan_slices(None, OCT.start_ms, OCT.end_ms, 7):
        read_slice(client, limits, source, part, sink, 3)
    assert Counter(got) == Counter(stamps)


# ---- a proxy in front of moto that decides per call ---------------------------------------
Decide = Callable[[str, dict], tuple[int, str] | None]


class Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, decide: Decide) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.target = urlsplit(target)
        self.decide = decide
        self.lock = threading.Lock()
        self.answered: Counter[str] = Counter()


class _ProxyHandler(_FaultsHandler):
    """The fault proxy's handler (its forwarding), with faults decided per API and call."""

    server: Proxy  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        api = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = {}
        with self.server.lock:
            fault = self.server.decide(api, fields)
            self.server.answered[f"{api}:{fault[1] if fault else 'ok'}"] += 1
        if fault:
            payload = json.dumps({"__type": fault[1], "message": "injected"}).encode()
            self.send_response(fault[0])
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self._forward(body)

    do_GET = do_POST


@pytest.fixture
def proxied(scale_settings: Settings) -> Iterator[Callable[[Decide], tuple[Settings, Proxy]]]:
    proxies: list[Proxy] = []

    def start(decide: Decide) -> tuple[Settings, Proxy]:
        proxy = Proxy(scale_settings.aws_endpoint_url, decide)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        proxies.append(proxy)
        host, port = proxy.server_address[:2]
        # each proxy is its own "account": limiters are shared per endpoint
        return replace(scale_settings, aws_endpoint_url=f"http://{host}:{port}"), proxy

    yield start
    for proxy in proxies:
        proxy.shutdown()


def test_throttling_slows_the_pace_and_the_run_completes_exactly(proxied) -> None:
    calls = Counter()
    throttled_requests: set[str] = set()

    def every_third_get_is_throttled(api: str, fields: dict) -> tuple[int, str] | None:
        # Every third call, but a request once at most: with a fixed pattern, retries in
        # step with other readers' calls could all land on it (a run failed so, 1 in 8).
        calls[api] += 1
        if api == "GetLogEvents" and calls[api] % 3 == 0:
            request = json.dumps(fields, sort_keys=True)
            if request not in throttled_requests:
                throttled_requests.add(request)
                return 400, "ThrottlingException"
        return None

    settings, proxy = proxied(every_third_get_is_throttled)
    settings = replace(settings, aws_max_attempts=6)
    limiter = cloudwatch_limits(settings).limiter("GetLogEvents")
    throttles_before = limiter.throttles
    run, services = _collect(settings)
    assert run["status"] == "completed", run.get("error")
    assert run["total_queries"] == 9 + BUSY_EVENTS + BUSY_EVENTS // 3
    assert [e["instance_id"] for e in run["errors"]] == ["legacy-maria"]
    throttled = proxy.answered["GetLogEvents:ThrottlingException"]
    assert throttled >= 3
    # each throttle seen by the limiter, none retried behind its back
    assert limiter.throttles - throttles_before == throttled
    assert limiter.rate < limiter.configured_rate  # and it slowed down
    known = {i["instance_id"]: i for i in services.store.instances.list()}
    assert _stored(services, "orders-prd-1") == _sequential(
        replace(settings, aws_max_attempts=10), known["orders-prd-1"])


def test_a_failing_instance_fails_alone_and_keeps_its_digests(proxied) -> None:
    settings, _ = proxied(lambda _api, _fields: None)
    first, services = _collect(settings)
    assert first["status"] == "completed"
    before = _stored(services, "orders-prd-2")

    def orders_2_is_broken(api: str, fields: dict) -> tuple[int, str] | None:
        if api == "GetLogEvents" and fields.get("logStreamName") == "orders-prd-2b":
            return 500, "ServiceUnavailableException"
        return None

    broken, proxy = proxied(orders_2_is_broken)
    run, services = _collect(replace(broken, aws_max_attempts=2,
                                     database_url=settings.database_url))
    assert run["status"] == "completed", run.get("error")
    failed = {e["instance_id"]: e["error"] for e in run["errors"]}
    assert set(failed) == {"legacy-maria", "orders-prd-2"}
    assert "/aws/rds/instance/orders-prd-2/slowquery" in failed["orders-prd-2"]
    assert proxy.answered["GetLogEvents:ServiceUnavailableException"] >= 2
    # the others are whole; orders-prd-2 keeps the set it had (nothing half-replaced)
    assert run["total_queries"] == 9 + BUSY_EVENTS - 2  # orders-prd-2's 2 not stored again
    assert _stored(services, "orders-prd-2") == before


def test_get_log_events_refused_falls_back_to_filter_log_events(proxied) -> None:
    def no_get(api: str, _fields: dict) -> tuple[int, str] | None:
        return (400, "AccessDeniedException") if api == "GetLogEvents" else None

    settings, proxy = proxied(no_get)
    run, services = _collect(settings)
    assert run["status"] == "completed", run.get("error")
    assert run["total_queries"] == 9 + BUSY_EVENTS + BUSY_EVENTS // 3
    assert proxy.answered["FilterLogEvents:ok"] > 0
    assert any("reading with FilterLogEvents instead" in line["message"]
               for line in run["logs"])
    known = {i["instance_id"]: i for i in services.store.instances.list()}
    assert _stored(services, "orders-prd-1") == _sequential(settings, known["orders-prd-1"])


def test_aurora_members_read_their_own_streams(aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    group = "/aws/rds/cluster/catalog-cluster/slowquery"
    when = datetime(2026, 10, 9, tzinfo=UTC)

    def events(sql: str, count: int, qt: float) -> list[tuple[int, str]]:
        return [(int(when.timestamp() * 1000) + n * 1000, rds_entry(when, f"{sql} {n}", qt))
                for n in range(count)]

    url = aws_settings.aws_endpoint_url
    put_events(url, REGION, group, "catalog-aurora-1", events("SELECT a FROM x WHERE i =", 30, 1))
    put_events(url, REGION, group, "catalog-aurora-1.1", events("SELECT b FROM x WHERE i =", 20, 2))
    put_events(url, REGION, group, "catalog-aurora-10", events("SELECT c FROM x WHERE i =", 9, 4))
    put_events(url, REGION, group, "catalog-aurora-2", events("SELECT d FROM x WHERE i =", 7, 8))
    run, services = _collect(replace(aws_settings, collection_slices=4),
                             {"month": "2026-10",
                              "instance_ids": ["catalog-aurora-1", "catalog-aurora-2"]})
    assert run["status"] == "completed", run
    mine = _stored(services, "catalog-aurora-1")
    # its stream and its rotated stream; never catalog-aurora-10's, whose name it prefixes
    assert sorted((count, qt) for count, qt, _ in mine.values()) == [(20, 40.0), (30, 30.0)]
    assert [(c, q) for c, q, _ in _stored(services, "catalog-aurora-2").values()] == [(7, 56.0)]
