"""`python app.py --demo`: the whole product with no AWS account.

An in-process AWS emulator (moto's server) holds the tagged fleet of demo/fleet.py and two
months of realistic slow-log events for every collection target (Aurora members in their
cluster's log group): instances differ, and the later month has a regression, a new and a
vanished statement, for the Compare page. The app uses its own embedded database
(`data/demo.db`, made anew at every start), and every page is marked DEMO. The real-time
targets are simulated processlists (demo/processlist.py) and plans are real MariaDB EXPLAIN
output recorded once (demo/recorded_plans.py); webapp.py wires both in when settings.demo.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from analysis.period import previous_month
from demo.fleet import FLEET, REGION, put_log_events, seed_rds
from demo.slowlog_generator import COUPON_LOOKUP, TEMPLATES, Workload, generate
from settings import Settings

EVENTS_PER_INSTANCE = 1500
DEMO_DB = "data/demo.db"


def _start_afresh(path: str) -> None:
    """Remove the previous demo run's database: the emulator starts empty every time, and the
    plan history seeded for the two demo months must not meet sightings from other months."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def _start_emulator() -> str:
    """moto's server on a free loopback port, without its access log; returns its URL.

    moto's ThreadedMotoServer logs every request it answers through werkzeug's logger, the
    logger `python app.py` shows at INFO: the demo's log would be thousands of emulator lines
    around the app's own. Its request handler here logs errors only.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """An emulator answering the demo is not the app's traffic."""

    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                         threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name="demo-aws-emulator",
                     daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def _log_group(instance_id: str, extra: dict) -> tuple[str, str]:
    cluster = extra.get("DBClusterIdentifier")
    if cluster:
        return f"/aws/rds/cluster/{cluster}/slowquery", instance_id
    return f"/aws/rds/instance/{instance_id}/slowquery", instance_id


ORDERS_BY_DATE, PRODUCTS_IN, SLEEP = 0, 1, 9  # indexes into TEMPLATES


def _latest_workload(instance_id: str, mix: dict[int, float]) -> Workload:
    """The later month, so Compare has a story: on orders-prd-1 the orders query lost its
    index (3.2x slower per call, 16x the rows examined); catalog-aurora-1's product query
    got faster; a coupon lookup appears everywhere; SELECT SLEEP vanishes."""
    slower: dict[int, tuple[float, float]] = {}
    if instance_id == "orders-prd-1":
        slower[ORDERS_BY_DATE] = (3.2, 16.0)
    if instance_id == "catalog-aurora-1":
        slower[PRODUCTS_IN] = (0.35, 0.5)
    return Workload(weights={**mix, SLEEP: 0.0}, slower=slower, extra=(COUPON_LOOKUP,))


def start_demo(settings: Settings, seed: int = 7) -> Settings:
    """Start the emulator, fill it, and return settings that point the app at it."""
    # moto accepts any credentials; boto3 only needs some to sign requests.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    endpoint = _start_emulator()
    seed_rds(endpoint, REGION)

    latest = previous_month(datetime.now(UTC).date())
    before = previous_month(latest.start)
    rng = random.Random(seed)
    for instance_id, engine, extra, _tags, collect, _realtime in FLEET:
        if not collect or engine == "postgres":
            continue
        group, stream = _log_group(instance_id, extra)
        # instances differ: each has its own mix of the templates, the same in both months
        mix = {n: rng.uniform(0.3, 1.8) for n in range(len(TEMPLATES))}
        events = []
        for period, workload in ((before, Workload(weights=mix)),
                                 (latest, _latest_workload(instance_id, mix))):
            start = datetime(period.start.year, period.start.month, period.start.day,
                             tzinfo=UTC)
            end = start + timedelta(days=(period.end - period.start).days + 1)
            events += [(int(when.timestamp() * 1000), text) for when, text in
                       generate(rng, start, end, EVENTS_PER_INSTANCE, workload)]
        put_log_events(endpoint, REGION, group, stream, events)

    database_url = settings.database_url
    if database_url == Settings().database_url:
        database_url = f"sqlite:///{DEMO_DB}"
        _start_afresh(DEMO_DB)
    # the demo collects its two months at start; a scheduled run of the month before today
    # would be a third, unexplained one
    return replace(settings, aws_region=REGION, aws_endpoint_url=endpoint,
                   database_url=database_url, demo=True, collect_monthly_at="")
