"""A fleet's month collected against a local stand-in for CloudWatch Logs, next to the quota.

The stand-in (a separate process, so its CPU and memory are not the collector's) answers the
calls the collector makes -- DescribeLogStreams, GetLogEvents, FilterLogEvents -- in AWS's
JSON protocol and response shapes, after a fixed latency per call (default 80 ms), with
AWS-sized pages (at most 1 MB or 10,000 events: about 2,000 RDS slow-log events of ~500
bytes), and enforces a request quota per API (a token bucket: GetLogEvents 25/s,
FilterLogEvents 5/s, DescribeLogStreams 5/s by default, a burst of `--burst` calls); past it,
it answers ThrottlingException as AWS does.

The collector runs unchanged: `CollectionService` on a SQLite store in a temporary
directory, its instances in the store as the inventory would have put them. Printed per
fleet size: wall time against the quota-bound minimum (calls needed ÷ allowed rate, for the
API that binds), calls and throttled calls, peak memory (RSS of the collector's process plus
its parser processes, sampled every 50 ms) and whether the stored totals (queries and
Query_time sum per instance) are exactly what the stand-in served.

    .venv/bin/python bench/collect_fleet.py [--instances 10,100] [--events 20000]
        [--latency-ms 80] [--get-rate 25] [--filter-rate 5] [--describe-rate 5]

Each fleet size runs in a fresh process, so peak memory compares like with like.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTH = "2026-10"
START_MS = 1790812800000  # 2026-10-01T00:00:00Z
END_MS = 1793491200000  # 2026-11-01T00:00:00Z
PAGE_BYTES = 1_048_576
PAGE_EVENTS = 10_000
TEMPLATES = 400


# ---- the data: deterministic, generated on the fly (nothing holds a fleet's month) ------
def _templates() -> list[tuple[str, float]]:
    """(message, Query_time) pairs of ~500 bytes each, MySQL 8 RDS shape."""
    rng = random.Random(11)
    tables = ["orders", "order_lines", "customers", "stock", "invoices", "carts", "products"]
    out = []
    for n in range(TEMPLATES):
        table = tables[n % len(tables)]
        qt = round(rng.uniform(0.5, 9.5), 6)
        cols = ", ".join(f"c{k}_{table}" for k in range(rng.randint(8, 16)))
        sql = (f"SELECT {cols} FROM {table} WHERE id = {rng.randint(1, 10**6)} "
               f"AND status IN ('new', 'paid') AND k{n % 37} > {rng.randint(1, 999)} "
               f"ORDER BY created_at DESC LIMIT {rng.randint(1, 50)};")
        message = (f"# Time: 2026-10-15T12:00:00.000000Z\n"
                   f"# User@Host: app[app] @ 10.0.{n % 9}.{n % 200} []  Id: {1000 + n}\n"
                   f"# Query_time: {qt:.6f}  Lock_time: 0.000100 Rows_sent: 1  "
                   f"Rows_examined: {rng.randint(1, 10**6)}\n"
                   f"use shop{n % 3};\nSET timestamp=1792065600;\n{sql}")
        out.append((message, qt))
    return out


class FleetData:
    """Instance `k` has `events` events spread evenly over the month, in one stream."""

    def __init__(self, instances: int, events: int) -> None:
        self.instances = [f"fleet-{k:04d}" for k in range(instances)]
        self.events = events
        self.step = (END_MS - START_MS) // events
        templates = _templates()
        self.messages = [json.dumps(m) for m, _ in templates]
        self.times = [qt for _, qt in templates]

    def template(self, k: int, i: int) -> int:
        return (k * 7919 + i * 31 + (i * i) % 17) % TEMPLATES

    def timestamp(self, i: int) -> int:
        return START_MS + i * self.step

    def expected(self) -> dict[str, tuple[int, float]]:
        """Per instance: (events, Query_time sum), what the collector must store."""
        out = {}
        for k, name in enumerate(self.instances):
            total = sum(self.times[self.template(k, i)] for i in range(self.events))
            out[name] = (self.events, total)
        return out


# ---- the stand-in ------------------------------------------------------------------------
class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, data: FleetData, latency: float, rates: dict[str, float],
                 burst: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.data = data
        self.latency = latency
        self.buckets = {api: Bucket(rate, burst) for api, rate in rates.items()}
        self.counts: dict[str, list[int]] = {api: [0, 0] for api in rates}  # ok, throttled
        self.lock = threading.Lock()
        self.index = {name: k for k, name in enumerate(data.instances)}


class Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "bench")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, kind: str, message: str) -> None:
        self._send(400, json.dumps({"__type": kind, "message": message}).encode())

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))
                          or b"{}")
        api = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        server = self.server
        time.sleep(server.latency)
        bucket = server.buckets.get(api)
        allowed = bucket.take() if bucket else True
        with server.lock:
            server.counts.setdefault(api, [0, 0])[0 if allowed else 1] += 1
        if not allowed:
            self._error("ThrottlingException", "Rate exceeded")
            return
        group = body.get("logGroupName", "")
        name = group.removeprefix("/aws/rds/instance/").removesuffix("/slowquery")
        k = server.index.get(name)
        if k is None:
            self._error("ResourceNotFoundException", "The specified log group does not exist.")
            return
        if api == "DescribeLogStreams":
            data = server.data
            stream = {"logStreamName": name, "firstEventTimestamp": data.timestamp(0),
                      "lastEventTimestamp": data.timestamp(data.events - 1),
                      "creationTime": START_MS, "storedBytes": 0}
            self._send(200, json.dumps({"logStreams": [stream]}).encode())
        elif api == "GetLogEvents":
            self._get(k, name, body)
        elif api == "FilterLogEvents":
            self._filter(k, name, body)
        else:
            self._error("InvalidAction", f"{api} is not served by the stand-in")

    def _range(self, body: dict, end_inclusive: bool) -> tuple[int, int]:
        data = self.server.data
        stamps = range(START_MS, START_MS + data.events * data.step, data.step)
        lo = bisect.bisect_left(stamps, body.get("startTime", 0))
        end = body.get("endTime")
        if end is None:
            return lo, data.events
        hi = (bisect.bisect_right if end_inclusive else bisect.bisect_left)(stamps, end)
        return lo, hi

    def _page(self, k: int, first: int, last: int, stream: str | None) -> tuple[str, int]:
        data = self.server.data
        parts, size, i = [], 0, first
        extra = f',"logStreamName":"{stream}","eventId":"%d"' if stream else ""
        while i < last and len(parts) < PAGE_EVENTS:
            message = data.messages[data.template(k, i)]
            if size + len(message) + 26 > PAGE_BYTES and parts:
                break
            ts = data.timestamp(i)
            parts.append(f'{{"timestamp":{ts},"message":{message},"ingestionTime":{ts}'
                         + (extra % i if stream else "") + "}")
            size += len(message) + 26
            i += 1
        return ",".join(parts), i

    def _get(self, k: int, name: str, body: dict) -> None:
        lo, hi = self._range(body, end_inclusive=False)
        token = body.get("nextToken")
        start = int(token.split("/")[1]) if token else lo
        events, nxt = self._page(k, start, hi, None)
        forward = f"f/{nxt}"
        self._send(200, (f'{{"events":[{events}],"nextForwardToken":"{forward}",'
                         f'"nextBackwardToken":"b/{start}"}}').encode())

    def _filter(self, k: int, name: str, body: dict) -> None:
        lo, hi = self._range(body, end_inclusive=True)
        token = body.get("nextToken")
        start = int(token) if token else lo
        events, nxt = self._page(k, start, hi, name)
        more = f',"nextToken":"{nxt}"' if nxt < hi else ""
        self._send(200, f'{{"events":[{events}],"searchedLogStreams":[]{more}}}'.encode())


def _serve(instances: int, events: int, latency: float, rates: dict[str, float],
           burst: float, port_out: multiprocessing.Queue, stop: multiprocessing.Event,
           counts_out: multiprocessing.Queue) -> None:
    server = StandIn(FleetData(instances, events), latency, rates, burst)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port_out.put(server.server_address[1])
    stop.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with server.lock:
        counts_out.put({"counts": dict(server.counts),
                        "cpu": usage.ru_utime + usage.ru_stime})
    server.shutdown()


# ---- measuring ---------------------------------------------------------------------------
def _rss_tree(pid: int, skip: set[int], cpu_seen: dict[int, float]) -> int:
    """RSS in bytes of `pid` and its descendants (but not `skip`); records each one's CPU
    seconds so far in `cpu_seen` (the last sample of a process that ends is kept)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        if proc.pid in skip:
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
            times = proc.cpu_times()
            cpu_seen[proc.pid] = times.user + times.system
    return total


def run_one(args: argparse.Namespace, instances: int) -> dict:
    from jobs.collection import CollectionService
    from settings import Settings
    from store import open_store

    rates = {"GetLogEvents": args.get_rate, "FilterLogEvents": args.filter_rate,
             "DescribeLogStreams": args.describe_rate}
    ctx = multiprocessing.get_context("spawn")
    port_q, counts_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(instances, args.events, args.latency_ms / 1000,
                                              rates, args.burst, port_q, stop, counts_q),
                         daemon=True)
    server.start()
    port = port_q.get(timeout=60)
    data = FleetData(instances, args.events)
    expected = data.expected()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    workdir = tempfile.mkdtemp(prefix="collect_fleet_")
    settings = replace(
        Settings(database_url=f"sqlite:///{workdir}/bench.db", scheduler_enabled=False),
        aws_region="us-east-1", aws_endpoint_url=f"http://127.0.0.1:{port}",
        aws_max_attempts=10, collection_parse_processes=args.parse_processes,
        cloudwatch_get_log_events_per_second=args.get_rate,
        cloudwatch_filter_log_events_per_second=args.filter_rate,
        cloudwatch_describe_log_streams_per_second=args.describe_rate)
    store = open_store(settings.database_url)
    store.instances.sync("rds", [
        {"instance_id": name, "engine": "mysql", "cluster_id": None, "collect_target": True,
         "realtime_target": False, "status": "available", "tags": {"env": "prd"}}
        for name in data.instances], "2026-11-01T00:00:00Z")
    service = CollectionService(settings, store)

    peak = [0]
    cpu_seen: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_tree(os.getpid(), {server.pid}, cpu_seen))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load_before = os.getloadavg()
    _rss_tree(os.getpid(), {server.pid}, cpu_seen)
    cpu_before = sum(cpu_seen.values())
    main_before = cpu_seen[os.getpid()]
    started = time.monotonic()
    run = service.start({"month": MONTH, "instance_ids": data.instances})
    service.wait(run["collection_id"], timeout=3600)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    run = store.runs.get(run["collection_id"])
    stop.set()
    served = counts_q.get(timeout=30)
    counts = served["counts"]
    server.join(timeout=10)

    exact = run["status"] == "completed" and not run["errors"]
    for name, (count, qt_sum) in expected.items():
        digests, _ = store.digests.page(instance_id=name, period=MONTH, limit=100_000)
        got_count = sum(d["count"] for d in digests)
        got_sum = sum(d["query_time"]["sum"] for d in digests)
        if got_count != count or abs(got_sum - qt_sum) > 1e-6 * max(1.0, qt_sum):
            exact = False
    store.close()

    per_stream = -(-args.events // 2000)
    needed = {"GetLogEvents": instances * (per_stream + 1), "DescribeLogStreams": instances}
    minimum = max(needed[api] / rates[api] for api in needed)
    made = {api: ok for api, (ok, _) in counts.items()}
    made_minimum = max(made.get(api, 0) / rates[api] for api in rates)
    return {"instances": instances, "events": instances * args.events, "wall": wall,
            "minimum": minimum, "made_minimum": made_minimum, "needed": needed,
            "calls": counts, "throttled": sum(t for _, t in counts.values()),
            "peak_mb": peak[0] / 2**20, "exact": exact, "status": run["status"],
            "queries": run["total_queries"], "load": load_before,
            "cpu_ours": sum(cpu_seen.values()) - cpu_before, "cpu_stand_in": served["cpu"],
            "cpu_main": cpu_seen[os.getpid()] - main_before,
            "load_after": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="10,100",
                        help="fleet sizes, comma-separated (each in a fresh process)")
    parser.add_argument("--events", type=int, default=20_000, help="events per instance")
    parser.add_argument("--latency-ms", type=float, default=80)
    parser.add_argument("--get-rate", type=float, default=25)
    parser.add_argument("--filter-rate", type=float, default=5)
    parser.add_argument("--describe-rate", type=float, default=5)
    parser.add_argument("--burst", type=float, default=5,
                        help="calls the stand-in's quota lets through at once")
    parser.add_argument("--parse-processes", type=int,
                        default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args, args.one)))
        return
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"{args.events:,} events per instance, {args.latency_ms:g} ms per call, quotas "
          f"GetLogEvents {args.get_rate:g}/s, DescribeLogStreams {args.describe_rate:g}/s, "
          f"{args.parse_processes} parser process(es)")
    print(f"{'instances':>9} {'events':>10} {'wall s':>7} {'min s':>6} {'ratio':>6} "
          f"{'calls (Get/Describe)':>21} {'throttled':>9} {'peak MB':>8} {'exact':>6} "
          f"{'load':>10} {'CPU s ours':>10} {'(reader)':>8} {'stand-in':>8} {'busy':>5}")
    cores = os.cpu_count() or 1

    def busy(row: dict) -> float:
        """Share of the machine's CPU the collector and the stand-in used together: near
        100%, the wall time is bound by CPU, not by the quota."""
        return (row["cpu_ours"] + row["cpu_stand_in"]) / (row["wall"] * cores)

    rows = []
    for size in (int(n) for n in args.instances.split(",")):
        argv = [sys.executable, __file__, "--one", str(size), "--events", str(args.events),
                "--latency-ms", str(args.latency_ms), "--get-rate", str(args.get_rate),
                "--filter-rate", str(args.filter_rate), "--describe-rate",
                str(args.describe_rate), "--burst", str(args.burst), "--parse-processes",
                str(args.parse_processes)]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stderr[-3000:])
            raise SystemExit(f"the run with {size} instances failed")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        calls = row["calls"]
        get_calls = sum(calls.get("GetLogEvents", [0, 0]))
        describe = sum(calls.get("DescribeLogStreams", [0, 0]))
        print(f"{row['instances']:>9} {row['events']:>10,} {row['wall']:>7.1f} "
              f"{row['minimum']:>6.1f} {row['wall'] / row['minimum']:>5.2f}× "
              f"{f'{get_calls}/{describe}':>21} {row['throttled']:>9} "
              f"{row['peak_mb']:>8.0f} {'yes' if row['exact'] else 'NO':>6} "
              f"{row['load'][0]:>4.1f}→{row['load_after'][0]:<4.1f} "
              f"{row['cpu_ours']:>10.1f} {row['cpu_main']:>8.1f} {row['cpu_stand_in']:>8.1f} "
              f"{busy(row):>4.0%}", flush=True)
    worst = max(r["wall"] / r["minimum"] for r in rows)
    print(f"minimum = calls needed ÷ quota (GetLogEvents: ceil(events ÷ 2,000) + 1 per "
          f"stream); worst ratio {worst:.2f}× (goal ≤ 1.3×); totals "
          f"{'exact' if all(r['exact'] for r in rows) else 'NOT exact'}; peak memory "
          + " → ".join(f"{r['peak_mb']:.0f} MB" for r in rows))


if __name__ == "__main__":
    main()
