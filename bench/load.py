"""Load: gunicorn with the repository's gunicorn.conf.py, WebSockets following a live run
and a steady stream of API and page requests, for a bounded time.

Run from the repository root (about 1.5 minutes with the defaults):

    .venv/bin/python bench/load.py [--seconds 60] [--rate 20] [--clients 50]
                                   [--workers 2] [--threads N] [--env NAME=VALUE]

It builds a fresh SQLite store in a temporary directory with realistic data (12 instances,
digests made by the real aggregator from a generated month of slow log: 120 digests of
~40 kB each; a finished run with 200 log lines; a long `in_progress` run), starts
`gunicorn --config gunicorn.conf.py --workers 2 app:server` on a free loopback port (the
config's `threads` unless `--threads` is given) and then, for `--seconds`:

- this process writes the live run's document directly to the store every 0.5 s (a new
  log line, progress, heartbeat), as the worker that owns a run does;
- `--clients` WebSocket clients follow that run, each checking that the log lines arrive in
  order, without duplicates or gaps, and sending a text `ping` every 5 s (timing the `pong`);
- `--rate` GET requests a second, open loop (a request is sent when due, whether or not
  earlier ones have answered), in a fixed mix of API endpoints and pages. Latency is timed
  from the moment a request was due, so a slow server is not hidden by a waiting client.

Then the run is marked completed: every client must get the final status and a close. It
prints requests, errors, latency percentiles, the WebSocket figures, each gunicorn process's
RSS (and threads and open files) before and after, and the store reads per tick of the run
watchers (from the line each worker logs when its last follower leaves). It exits 1 when a
target is missed: 0 errors, p95 under 300 ms, memory flat (RSS growth after the warm-up
within `--max-growth-mb`; the warm-up is the first third of the run).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websocket  # noqa: E402  (websocket-client, from requirements-dev.txt)

from analysis.digest import DigestAggregator  # noqa: E402
from analysis.fingerprint import fingerprint_and_id  # noqa: E402
from analysis.inventory import instance_from_rds  # noqa: E402
from analysis.slowlog import iter_entries  # noqa: E402
from demo.slowlog_generator import generate  # noqa: E402
from jobs.run_recorder import KEEP_LOG_LINES, now_iso  # noqa: E402
from store import open_store  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PERIOD = "2026-10"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
INSTANCES = [f"{app}-prd-{n}" for app in ("orders", "billing", "catalog", "search")
             for n in (1, 2, 3)]
LIVE_RUN = "bench-live-run"
DONE_RUN = "bench-finished-run"
WRITE_SECONDS = 0.5
PING_SECONDS = 5
# (path, weight): a weight of 20 in all, so the mix repeats every 20 requests
MIX = [
    ("/api/digests?limit=100", 4),
    (f"/api/digests?limit=100&period={PERIOD}&sort=-count", 1),
    ("/cloudwatch/runs", 2),
    (f"/cloudwatch/runs/{DONE_RUN}", 2),
    ("/api/instances", 2),
    ("/healthz", 3),
    ("/", 2),
    ("/digests", 2),
    ("/_dash-layout", 2),
]
SEQ = re.compile(r"\(#(\d+)\)$")
WATCH_LINE = re.compile(r"run-watch: stopped after (\d+) read\(s\) in (\d+) tick\(s\), "
                        r"at most (\d+) follower")


# -- the store ---------------------------------------------------------------------------------

def _digests(instance_id: str, seed: int, entries: int) -> list[dict]:
    """A month of generated slow log for one instance, through the real aggregator."""
    rng = random.Random(seed)
    lines: list[str] = []
    for _when, text in generate(rng, MONTH_START, MONTH_START + timedelta(days=31), entries):
        lines.extend(text.split("\n"))
    aggregator = DigestAggregator(fingerprint_and_id)
    aggregator.add_all(instance_id, iter_entries(lines))
    return [d.to_dict() for d in aggregator.digests(instance_id)]


def _log_line(seq: int, instance_id: str, events: int) -> dict:
    return {"seq": seq, "time": now_iso(), "level": "info",
            "message": f"{instance_id}: {events:,} events read (#{seq})"}


def _run_doc(collection_id: str, status: str, lines: int) -> dict:
    return {
        "collection_id": collection_id, "status": status, "progress": 0,
        "message": f"collecting {len(INSTANCES)} instance(s)",
        "period": {"start_date": "2026-10-01", "end_date": "2026-10-31"},
        "period_key": PERIOD if status != "completed" else "2026-09",
        "processed_instances": 0, "total_instances": len(INSTANCES), "total_queries": 0,
        "malformed_events": 0, "errors": [], "warnings": [],
        "logs": [_log_line(n, INSTANCES[n % len(INSTANCES)], n * 1000)
                 for n in range(1, lines + 1)][-KEEP_LOG_LINES:],
        "log_seq": lines, "owner": f"{socket.gethostname()}:{os.getpid()}",
        "started_at": now_iso(), "heartbeat_at": now_iso(), "updated_at": now_iso(),
        "completed_at": None,
    }


def seed(url: str) -> int:
    """Instances, digests and two runs; returns the number of digests."""
    store = open_store(url)
    try:
        records = [{"DBInstanceIdentifier": i, "Engine": "mysql", "EngineVersion": "8.0.35",
                    "DBInstanceClass": "db.r6g.large", "DBInstanceStatus": "available",
                    "Endpoint": {"Address": f"{i}.example.internal", "Port": 3306},
                    "TagList": [{"Key": "env", "Value": "prd"}]} for i in INSTANCES]
        store.instances.sync("rds", [instance_from_rds(r) for r in records], now_iso())
        total = 0
        for n, instance_id in enumerate(INSTANCES):
            digests = _digests(instance_id, seed=n, entries=4000)
            store.digests.replace_period(instance_id, PERIOD, digests)
            total += len(digests)
        done = _run_doc(DONE_RUN, "completed", 240)
        done.update(progress=100, processed_instances=len(INSTANCES), total_queries=48_000,
                    message="completed: 48,000 slow queries stored from 12 of 12 instance(s)",
                    completed_at=now_iso())
        store.runs.create(done)
        store.runs.create(_run_doc(LIVE_RUN, "in_progress", 40))
        return total
    finally:
        store.close()


class RunWriter(threading.Thread):
    """Writes the live run every WRITE_SECONDS, as the process owning a run does."""

    def __init__(self, url: str) -> None:
        super().__init__(name="run-writer", daemon=True)
        self.store = open_store(url)
        self.doc = self.store.runs.get(LIVE_RUN)
        self.stop = threading.Event()
        self.writes = 0
        self.errors = 0

    def _save(self) -> None:
        self.doc["updated_at"] = self.doc["heartbeat_at"] = now_iso()
        try:
            self.store.runs.save(self.doc)
            self.writes += 1
        except Exception as exc:  # counted and reported, the bench goes on
            self.errors += 1
            print(f"  run writer: {exc}", file=sys.stderr)

    def run(self) -> None:  # noqa: D102 - threading.Thread.run
        while not self.stop.wait(WRITE_SECONDS):
            seq = self.doc["log_seq"] + 1
            self.doc["log_seq"] = seq
            self.doc["logs"] = [*self.doc["logs"], _log_line(
                seq, INSTANCES[seq % len(INSTANCES)], seq * 1000)][-KEEP_LOG_LINES:]
            self.doc["progress"] = min(99, seq // 3)
            self.doc["total_queries"] = seq * 40
            self.doc["processed_instances"] = min(len(INSTANCES) - 1, seq // 20)
            self._save()

    def finish(self) -> int:
        """Mark the run completed; returns the last log line's number."""
        self.stop.set()
        self.join()
        self.doc.update(status="completed", progress=100, completed_at=now_iso(),
                        processed_instances=len(INSTANCES),
                        message=f"completed: {self.doc['total_queries']:,} slow queries")
        self._save()
        self.store.close()
        return self.doc["log_seq"]


# -- gunicorn and /proc ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(port: int, workers: int, threads: int | None) -> list[str]:
    return [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"),
            "--workers", str(workers), *(["--threads", str(threads)] if threads else []),
            "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "app:server"]


def start_gunicorn(tmp: Path, command: list[str], url: str, log_path: Path,
                   extra_env: dict[str, str]) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "DATABASE_URL": url, **extra_env}
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=tmp, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                if ppid == pid:
                    found.append(int(entry))
    return sorted(found)


def processes(master: int) -> dict[int, dict[str, float]]:
    """RSS (MB), threads, open files and CPU seconds of the master and its workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in [master, *children(master)]:
        with contextlib.suppress(OSError):
            status = _status(pid)
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            out[pid] = {"rss": int(status["VmRSS"].split()[0]) / 1024,
                        "threads": int(status["Threads"]),
                        "fds": len(os.listdir(f"/proc/{pid}/fd")),
                        "cpu": (int(fields[11]) + int(fields[12])) / ticks}
    return out


def total_rss(snapshot: dict[int, dict[str, float]]) -> float:
    return sum(p["rss"] for p in snapshot.values())


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(base, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                # every worker answers (each builds its app on its first request)
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz")


# -- HTTP load ---------------------------------------------------------------------------------

class HttpLoad:
    """Open-loop GETs at a fixed rate over keep-alive connections, one per sending thread."""

    def __init__(self, host: str, rate: float, seconds: float, pool: int) -> None:
        self.host, self.rate, self.seconds = host, rate, seconds
        self.pool = ThreadPoolExecutor(max_workers=pool, thread_name_prefix="http")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.reconnects = 0
        self.bytes = 0
        self.sent = 0
        rng = random.Random(1)
        self.paths = [path for path, weight in MIX for _ in range(weight)]
        rng.shuffle(self.paths)

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self.local.conn = http.client.HTTPConnection(self.host, timeout=10)
        return conn

    def _get(self, path: str, due: float) -> None:
        error = None
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                response = conn.getresponse()
                body = response.read()
            except (ConnectionResetError, BrokenPipeError,
                    http.client.RemoteDisconnected) as exc:
                # the server closed an idle keep-alive connection: like a browser, send
                # the (idempotent) GET again once on a new connection
                if attempt == 0:
                    with self.lock:
                        self.reconnects += 1
                    continue
                error = f"{type(exc).__name__}"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._connection(fresh=True)
            else:
                if response.status != 200:
                    error = f"HTTP {response.status}"
                if response.getheader("Connection", "").lower() == "close":
                    self._connection(fresh=True)
            break
        elapsed = time.monotonic() - due
        key = path.split("?")[0] if path.startswith("/api/digests") else path
        key = "/cloudwatch/runs/<id>" if key.startswith("/cloudwatch/runs/") else key
        with self.lock:
            if error:
                self.errors[f"{key}: {error}"] += 1
            else:
                self.latency[key].append(elapsed)
                self.bytes += len(body)

    def run(self) -> None:
        start = time.monotonic()
        total = int(self.rate * self.seconds)
        for n in range(total):
            due = start + n / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.pool.submit(self._get, self.paths[n % len(self.paths)], due)
            self.sent += 1
        self.pool.shutdown(wait=True)

    def all_latencies(self) -> list[float]:
        return sorted(v for values in self.latency.values() for v in values)


# -- WebSocket clients -------------------------------------------------------------------------

class Follower(threading.Thread):
    """One WebSocket following the live run; checks every log line arrives once, in order."""

    def __init__(self, url: str, n: int, stop: threading.Event) -> None:
        super().__init__(name=f"ws-{n}", daemon=True)
        self.url, self.stop = url, stop
        self.connected = False
        self.messages = 0
        self.errors: list[str] = []
        self.last_seq: int | None = None
        self.final: str | None = None
        self.closed = False
        self.pongs: list[float] = []
        self.connect_seconds: float | None = None

    def run(self) -> None:  # noqa: D102 - threading.Thread.run
        started = time.monotonic()
        try:
            ws = websocket.create_connection(self.url, timeout=10)
        except Exception as exc:
            self.errors.append(f"connect: {type(exc).__name__}: {exc}")
            return
        self.connect_seconds = time.monotonic() - started
        self.connected = True
        ws.settimeout(1)
        next_ping, ping_sent = time.monotonic() + PING_SECONDS, None
        deadline = None
        try:
            while True:
                now = time.monotonic()
                if self.stop.is_set() and deadline is None:
                    deadline = now + 15  # the final status must come within this
                if deadline is not None and now > deadline:
                    self.errors.append("no final status and close after the run ended")
                    return
                if ping_sent is None and now >= next_ping and self.final is None:
                    ws.send("ping")
                    ping_sent = now
                try:
                    opcode, data = ws.recv_data()
                except websocket.WebSocketTimeoutException:
                    continue
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self.closed = True
                    if self.final is None:
                        self.errors.append("closed before the final status")
                    return
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                self.messages += 1
                text = data.decode()
                if text == "pong":
                    if ping_sent is not None:
                        self.pongs.append(time.monotonic() - ping_sent)
                    ping_sent, next_ping = None, time.monotonic() + PING_SECONDS
                    continue
                self._check(json.loads(text))
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                ws.close()

    def _check(self, message: dict) -> None:
        if message["type"] == "log":
            match = SEQ.search(message["message"])
            seq = int(match.group(1)) if match else -1
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.errors.append(f"log line {seq} after {self.last_seq}")
            self.last_seq = seq
        elif message["type"] == "status":
            status = message["data"]["status"]
            if status in ("completed", "error"):
                self.final = status
                if status != "completed":
                    self.errors.append(f"final status {status}: "
                                       f"{message['data']['details'].get('error')}")
        else:
            self.errors.append(f"unexpected message {message}")


# -- report ------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def print_processes(label: str, snapshot: dict[int, dict[str, float]], master: int) -> None:
    parts = []
    for pid, p in snapshot.items():
        role = "master" if pid == master else "worker"
        parts.append(f"{role} {pid}: {p['rss']:.1f} MB, {p['threads']} threads, "
                     f"{p['fds']} fds")
    print(f"{label:<14} total {total_rss(snapshot):6.1f} MB  ({'; '.join(parts)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=20, help="HTTP requests a second")
    parser.add_argument("--clients", type=int, default=50, help="WebSocket clients")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="gunicorn --threads (default: gunicorn.conf.py's)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of load before the 'warm' memory figure, the baseline "
                             "of the memory check (default: a third of --seconds)")
    parser.add_argument("--max-p95-ms", type=float, default=300)
    parser.add_argument("--max-growth-mb", type=float, default=15,
                        help="allowed RSS growth (all processes) from warm to end")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for gunicorn (e.g. MALLOC_ARENA_MAX=2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = args.seconds / 3

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    started = time.monotonic()
    digests = seed(url)
    print(f"store: {tmp / 'bench.db'}: {len(INSTANCES)} instances, {digests} digests "
          f"({PERIOD}), 2 runs; seeded in {time.monotonic() - started:.1f} s")

    port = free_port()
    host = f"127.0.0.1:{port}"
    log_path = tmp / "gunicorn.log"
    extra_env = dict(item.split("=", 1) for item in args.env)
    command = gunicorn_command(port, args.workers, args.threads)
    gunicorn = start_gunicorn(tmp, command, url, log_path, extra_env)
    shown = " ".join(Path(part).name if part.startswith("/") else part for part in command)
    print(f"{shown}  (pid {gunicorn.pid}; {os.cpu_count()} CPUs"
          + "".join(f"; {item}" for item in args.env) + ")")
    try:
        wait_healthy(host, gunicorn)
        # each worker builds its app on import; give the second one time to be ready too
        time.sleep(2)
        before = processes(gunicorn.pid)

        writer = RunWriter(url)
        writer.start()
        stop = threading.Event()
        followers = [Follower(f"ws://{host}/ws/collection/{LIVE_RUN}", n, stop)
                     for n in range(args.clients)]
        for follower in followers:
            follower.start()
            time.sleep(0.02)
        load = HttpLoad(host, args.rate, args.seconds, pool=32)
        self_cpu = resource.getrusage(resource.RUSAGE_SELF)
        load_start = time.monotonic()
        driver = threading.Thread(target=load.run, name="http-driver")
        driver.start()
        samples = []
        while driver.is_alive() or time.monotonic() - load_start < args.seconds - 0.5:
            pause = min(5, max(0.5, args.seconds - (time.monotonic() - load_start)))
            if driver.is_alive():
                driver.join(timeout=pause)
            else:  # --rate 0: WebSockets only
                time.sleep(pause)
            samples.append((time.monotonic() - load_start, processes(gunicorn.pid)))
        load_seconds = time.monotonic() - load_start
        end_cpu = resource.getrusage(resource.RUSAGE_SELF)
        warm = next((s for t, s in samples if t >= args.warmup), samples[0][1])
        after = processes(gunicorn.pid)

        last_seq = writer.finish()
        stop.set()
        for follower in followers:
            follower.join(timeout=20)
        time.sleep(1.5)  # each worker's watcher notices it has no followers and logs
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=40)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
    log_text = log_path.read_text(errors="replace")

    # -- figures ---------------------------------------------------------------------------
    latencies = load.all_latencies()
    errors = sum(load.errors.values())
    print(f"\nHTTP: {load.sent} requests in {load_seconds:.1f} s "
          f"({load.sent / load_seconds:.1f}/s), {errors} errors, "
          f"{load.bytes / 1e6:.1f} MB received, {load.reconnects} keep-alive reconnects")
    print(f"latency (from when due): p50 {ms(pct(latencies, 0.5))} ms  "
          f"p95 {ms(pct(latencies, 0.95))} ms  max {ms(max(latencies, default=0))} ms")
    for key in sorted(load.latency):
        values = load.latency[key]
        print(f"  {key:<28} {len(values):5d}  p50 {ms(pct(values, 0.5))}  "
              f"p95 {ms(pct(values, 0.95))}  max {ms(max(values))} ms")
    for error, count in load.errors.most_common():
        print(f"  error x{count}: {error}")

    connected = sum(f.connected for f in followers)
    ws_errors = [e for f in followers for e in f.errors]
    finals = sum(f.final == "completed" and f.closed for f in followers)
    complete = sum(f.last_seq == last_seq for f in followers)
    pongs = [p for f in followers for p in f.pongs]
    connects = [f.connect_seconds for f in followers if f.connect_seconds is not None]
    print(f"\nWebSocket: {connected}/{args.clients} connected (connect p95 "
          f"{ms(pct(connects, 0.95))} ms), {sum(f.messages for f in followers)} messages "
          f"received, {len(ws_errors)} errors; {complete} got every log line up to "
          f"#{last_seq} in order; {finals} got the final status and a close")
    print(f"  text ping -> pong: {len(pongs)} answered, p50 {ms(pct(pongs, 0.5))} ms, "
          f"p95 {ms(pct(pongs, 0.95))} ms, max {ms(max(pongs, default=0))} ms")
    for error, count in Counter(ws_errors).most_common(5):
        print(f"  error x{count}: {error}")
    print(f"  run writer: {writer.writes} writes, {writer.errors} errors")

    watch = [tuple(map(int, m)) for m in WATCH_LINE.findall(log_text)]
    for reads, ticks, most in watch:
        print(f"  a worker's run watcher: {reads} store reads in {ticks} ticks "
              f"({reads / max(ticks, 1):.2f} a tick) for up to {most} followers")
    if not watch:
        print("  (no run-watch line in gunicorn's log)")

    print()
    print_processes("RSS before", before, gunicorn.pid)
    print_processes(f"RSS warm {args.warmup:g}s", warm, gunicorn.pid)
    print_processes("RSS after", after, gunicorn.pid)
    series = "  ".join(f"{t:.0f}s {total_rss(s):.0f}" for t, s in samples)
    print(f"RSS series (s, MB): {series}")
    cpu = sum(p["cpu"] for p in after.values()) - sum(p["cpu"] for p in before.values())
    own = (end_cpu.ru_utime + end_cpu.ru_stime) - (self_cpu.ru_utime + self_cpu.ru_stime)
    print(f"CPU during the load: gunicorn {cpu:.1f} s ({cpu / load_seconds * 100:.0f}% of one "
          f"CPU), this bench {own:.1f} s ({own / load_seconds * 100:.0f}%)")
    server_errors = [line for line in log_text.splitlines()
                     if "[ERROR]" in line or "Traceback" in line or "[CRITICAL]" in line]
    print(f"gunicorn log: {len(server_errors)} error line(s)" +
          "".join(f"\n  {line}" for line in server_errors[:10]))

    growth = total_rss(after) - total_rss(warm)
    p95 = pct(latencies, 0.95) * 1000
    checks = [
        (errors == 0 and not ws_errors and connected == args.clients
         and finals == args.clients and not server_errors,
         f"errors: HTTP {errors}, WebSocket {len(ws_errors)}, server log {len(server_errors)}"
         f"; target 0"),
        (p95 < args.max_p95_ms if latencies else True,
         f"p95 {p95:.0f} ms; target < {args.max_p95_ms:g} ms" if latencies
         else "p95: no HTTP requests (--rate 0)"),
        (growth <= args.max_growth_mb,
         f"memory: {total_rss(warm):.1f} MB warm -> {total_rss(after):.1f} MB after "
         f"({growth:+.1f} MB); target <= +{args.max_growth_mb:g} MB"),
        (all(reads <= ticks + 2 for reads, ticks, _ in watch) and bool(watch),
         "store reads: one per tick per worker for all its followers"),
    ]
    print()
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    status = 0 if all(ok for ok, _ in checks) else 1
    if args.keep:
        print(f"kept: {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
