"""Real-time capture of N instances: how fresh every instance's last poll is, and what it caught.

    .venv/bin/python bench/realtime_poll.py                  # N = 100, 300, 500
    .venv/bin/python bench/realtime_poll.py --sizes 500 --min-seconds 2

Starts a throwaway MariaDB (as the tests do, with a TCP listener and room for the
connections), writes a STATIC_INSTANCES_FILE of N instance ids that all point at it, and
builds the app with `create_app` and its real scheduler (`realtime-capture` every
`--interval` seconds, inventory loaded by its start-up refresh). Capture starts switched
off; once the N instances are in the inventory it is switched on (t = 0) and, at that same
moment, a `SELECT SLEEP(5)` and a `SELECT SLEEP(2)` start on the server ("cold": the readers
are not even connected yet). After `--warmup` seconds two more start ("warm"). Every
`--sample` seconds the age of each instance's last successful poll is sampled (an instance
never polled counts from t = 0).

Printed for each N: last-poll age p50/p95/max over the cold phase and the warm phase; for
each statement how many instances recorded it exactly once (missed / twice); connections
the server accepted during the run (minus the bench's own and one per EXPLAIN of a new
capture, which the app makes on a fresh connection) against N; CPU of this process and of
mariadbd; and the load average. Exits 1 when a goal is missed: every instance polled within
`--max-age` seconds in the warm phase, every statement caught exactly once everywhere, at
most N reader connections.

A statement is caught when a poll sees it running at least REALTIME_MIN_SECONDS: one lasting
d seconds is certain to be caught only if d >= min_seconds + the longest gap between two
polls of its instance. Hence `--min-seconds 0.5` by default: with polls at most 1.5 s apart
it makes every statement of 2 s or more certain. With the app's default of 2 s, only
statements of 3.5 s or more are (the SLEEP(5)).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402

from tests.mariadb_server import start_mariadb  # noqa: E402

MONITOR_PASSWORD = "bench-monitor-pw"
APP_PASSWORD = "bench-app-pw"


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (0 where /proc is not there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchServer:
    """The throwaway MariaDB, with a monitoring account and an application account."""

    def __init__(self, base: Path, max_connections: int) -> None:
        self.server = start_mariadb(base, networking=True, max_connections=max_connections,
                                    thread_cache_size=max_connections)
        self.own_connections = 0
        with self.root() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE USER monitor@'%' IDENTIFIED BY '{MONITOR_PASSWORD}'")
            cursor.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
            cursor.execute(f"CREATE USER app@'%' IDENTIFIED BY '{APP_PASSWORD}'")

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def root(self) -> pymysql.connections.Connection:
        self.own_connections += 1
        return self.server.connect()

    def status(self, name: str) -> int:
        with self.root() as conn, conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
            return int(cursor.fetchone()[1])

    def monitor_connections(self) -> int:
        with self.root() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                           "WHERE USER = 'monitor'")
            return int(cursor.fetchone()[0])

    def run(self, sql: str) -> threading.Thread:
        """Run one statement as the application, on its own connection and thread."""
        self.own_connections += 1

        def run() -> None:
            conn = pymysql.connect(host="127.0.0.1", port=self.port, user="app",
                                   password=APP_PASSWORD, autocommit=True)
            with conn, conn.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.stop()


def _write_static(path: Path, count: int, port: int) -> None:
    path.write_text(json.dumps([
        {"instance_id": f"bench-{n:04d}", "host": "127.0.0.1", "port": port,
         "engine": "mariadb", "user": "monitor", "password_env": "BENCH_MONITOR_PASSWORD",
         "tags": {"real_time_slow_sql": "true"}}
        for n in range(count)]))


def _ages(realtime, ids: list[str], t0_wall: float, now_wall: float) -> list[float]:
    """Seconds since each instance's last successful poll (since t0 if never polled)."""
    status = realtime._status_snapshot()  # the service's own view: no store round trip
    ages = []
    for iid in ids:
        last = (status.get(iid) or {}).get("last_poll")
        polled = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp() \
            if last else None
        ages.append(now_wall - max(polled or t0_wall, t0_wall))
    return ages


def run_size(server: BenchServer, count: int, args: argparse.Namespace) -> dict:
    from app import create_app
    from settings import Settings
    from store import open_store
    from webapp import shutdown_services

    work = Path(tempfile.mkdtemp(prefix=f"rt-bench-{count}-"))
    static = work / "static.json"
    _write_static(static, count, server.port)
    os.environ["BENCH_MONITOR_PASSWORD"] = MONITOR_PASSWORD
    database_url = f"sqlite:///{work / 'app.db'}"
    store = open_store(database_url)  # capture off until the inventory is there
    store.flags.set("realtime.enabled", False)
    store.close()
    settings = Settings(database_url=database_url, scheduler_enabled=True,
                        static_instances_file=static, auth_disabled=True,
                        realtime_interval_seconds=args.interval,
                        realtime_min_seconds=args.min_seconds)
    connections_before = server.status("Connections")
    own_before = server.own_connections
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    realtime = services.realtime
    deadline = time.monotonic() + 60
    while len(realtime.targets()) < count:
        assert time.monotonic() < deadline, "the inventory did not load"
        time.sleep(0.2)
    ids = sorted(t["instance_id"] for t in realtime.targets())

    cpu_before, db_cpu_before = time.process_time(), _proc_cpu_seconds(server.server.process.pid)
    load_before = os.getloadavg()
    realtime.set_enabled(True)
    t0_wall, t0 = time.time(), time.monotonic()
    statements = {"cold SLEEP(5)": server.run("SELECT SLEEP(5) /* rt-bench cold-5 */"),
                  "cold SLEEP(2)": server.run("SELECT SLEEP(2) /* rt-bench cold-2 */")}
    samples: dict[str, list[float]] = {"cold": [], "warm": []}
    all_polled: float | None = None
    warm_started = False
    end = args.warmup + args.warm_seconds
    while (elapsed := time.monotonic() - t0) < end:
        if not warm_started and elapsed >= args.warmup:
            statements["warm SLEEP(5)"] = server.run("SELECT SLEEP(5) /* rt-bench warm-5 */")
            statements["warm SLEEP(2)"] = server.run("SELECT SLEEP(2) /* rt-bench warm-2 */")
            warm_started = True
        phase = "warm" if elapsed >= args.warmup else "cold"
        ages = _ages(realtime, ids, t0_wall, time.time())
        samples[phase].extend(ages)
        if all_polled is None and max(ages) < elapsed:
            all_polled = elapsed
        time.sleep(args.sample)
    for thread in statements.values():
        thread.join()
    time.sleep(2 * args.interval + 0.5)  # the polls that see them end
    cpu = time.process_time() - cpu_before
    db_cpu = _proc_cpu_seconds(server.server.process.pid) - db_cpu_before
    wall = time.monotonic() - t0
    load_after = os.getloadavg()
    kept = server.monitor_connections()
    # every new capture is explained on a fresh connection: let them finish, to tell the
    # readers' connections from theirs
    deadline = time.monotonic() + args.explain_wait
    while True:
        captures = services.store.captures.recent(limit=1_000_000)
        explained = sum(1 for c in captures if c.get("plan_id") or c.get("plan_error"))
        if explained == len(captures) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    connections = server.status("Connections") - connections_before \
        - (server.own_connections - own_before)
    caught = {}
    for label in statements:
        marker = label.split()[0] + "-" + label[-2]
        per_instance: dict[str, int] = {}
        for capture in captures:
            if f"rt-bench {marker} " in capture["sql_text"]:
                per_instance[capture["instance_id"]] = per_instance.get(
                    capture["instance_id"], 0) + 1
        caught[label] = (sum(1 for i in ids if per_instance.get(i) == 1),
                         sum(1 for i in ids if i not in per_instance),
                         sum(1 for v in per_instance.values() if v > 1))
    shutdown_services(services)
    return {"count": count, "samples": samples, "caught": caught, "kept": kept,
            "connections": connections, "explained": explained,
            "captures": len(captures), "all_polled": all_polled, "cpu": cpu,
            "db_cpu": db_cpu, "wall": wall, "load": (load_before, load_after)}


def report(result: dict, args: argparse.Namespace) -> list[str]:
    """Print one size's figures; return the goals it missed."""
    count, failures = result["count"], []
    print(f"\nN = {count}  (interval {args.interval:g} s, REALTIME_MIN_SECONDS "
          f"{args.min_seconds:g}, load average {result['load'][0][0]:.2f} -> "
          f"{result['load'][1][0]:.2f})")
    print(f"  every instance polled at least once {result['all_polled'] or float('nan'):.2f} s "
          "after capture was switched on")
    for phase, ages in result["samples"].items():
        span = f"first {args.warmup:g} s" if phase == "cold" else "after warm-up"
        print(f"  last-poll age, {phase} ({span}): p50 {_percentile(ages, 0.5):5.2f} s  "
              f"p95 {_percentile(ages, 0.95):5.2f} s  max {max(ages or [0]):5.2f} s")
    warm_max = max(result["samples"]["warm"] or [0])
    if warm_max > args.max_age:
        failures.append(f"N={count}: an instance went {warm_max:.2f} s without a poll "
                        f"(goal {args.max_age:g} s)")
    for label, (once, missed, twice) in result["caught"].items():
        print(f"  {label}: caught exactly once on {once}/{count}, missed on {missed}, "
              f"recorded twice on {twice}")
        if once != count:
            failures.append(f"N={count}: {label} caught once on {once}/{count}")
    readers = result["connections"] - result["explained"]
    print(f"  connections: {result['connections']} opened by the app ({result['explained']} "
          f"for EXPLAINs of {result['captures']} captures, {readers} by readers), "
          f"{result['kept']} kept open at the end")
    if readers > count:
        failures.append(f"N={count}: {readers} reader connections for {count} instances")
    print(f"  CPU: this process {result['cpu']:.1f} s, mariadbd {result['db_cpu']:.1f} s, in "
          f"{result['wall']:.1f} s ({os.cpu_count()} CPUs)")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,300,500",
                        help="instance counts, comma-separated (default 100,300,500)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="REALTIME_INTERVAL_SECONDS (default 1)")
    parser.add_argument("--min-seconds", type=float, default=0.5,
                        help="REALTIME_MIN_SECONDS (default 0.5, see the module docstring)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of the cold phase (default 10)")
    parser.add_argument("--warm-seconds", type=float, default=8.0,
                        help="seconds sampled after the warm-up (default 8)")
    parser.add_argument("--sample", type=float, default=0.25,
                        help="seconds between samples of the ages (default 0.25)")
    parser.add_argument("--explain-wait", type=float, default=90.0,
                        help="longest wait for the EXPLAINs of new captures (default 90)")
    parser.add_argument("--max-age", type=float, default=1.5,
                        help="goal: longest last-poll age after the warm-up (default 1.5)")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as base:
        server = BenchServer(Path(base), max_connections=max(sizes) * 2 + 200)
        failures: list[str] = []
        try:
            for count in sizes:
                failures += report(run_size(server, count, args), args)
        finally:
            if not server.server.running:
                print("mariadbd is gone; its error log ends with:\n"
                      + server.server.error_log_tail(3000), file=sys.stderr)
            server.stop()
    print()
    for failure in failures:
        print("FAIL ", failure)
    if not failures:
        print("PASS  every goal met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
