"""The store goes away and comes back: a run in flight ends with a message and counts nothing
twice, the API answers 503 (never a 500 page), /healthz says degraded, and everything works
again without a restart once the store is back.

The outages are real: the nx-27017 server process is stopped and started again on its port
and data directory; the SQLite file is made immutable (`chattr +i`, which binds root too) or
its directory moved away and back. AWS is moto behind a gate that holds CloudWatch Logs
calls, so the outage lands while the run is reading, before it writes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.servers import NxServer, start_nx
from tests.test_aws_faults import FaultyProxy
from tests.test_collection import _seed_logs

PERIOD = "2026-10"


class GatedProxy(FaultyProxy):
    """moto behind a gate: while it is closed, CloudWatch Logs calls wait at it."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def pick(self, logs_call: bool) -> str | None:
        if logs_call and not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(60)
        return None


@dataclass
class Outage:
    """A store that can be taken down and brought back for real."""

    database_url: str
    down: Callable[[], None]
    up: Callable[[], None]


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@pytest.fixture(params=["sqlite", "mongodb"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        if shutil.which("chattr") is None:
            pytest.fail("chattr (e2fsprogs) is needed to make the SQLite file unwritable")
        db = tmp_path / "data" / "app.db"
        files = (db, db.with_name("app.db-wal"))
        state = {"down": False}

        def down() -> None:
            _chattr("+i", *files)  # writes fail (disk I/O error); reads still work
            state["down"] = True

        def up() -> None:
            _chattr("-i", *files)
            state["down"] = False

        yield Outage(f"sqlite:///{db}", down, up)
        if state["down"]:
            up()
        return
    servers: list[NxServer] = [start_nx(tmp_path / "nx")]

    def stop() -> None:
        servers[-1].stop()

    def start() -> None:
        servers.append(start_nx(tmp_path / "nx", port=servers[0].port))

    # a short server selection, so each call during the outage fails in about a second
    yield Outage(servers[0].url("outage") + "?serverSelectionTimeoutMS=1000", stop, start)
    servers[-1].stop()


@pytest.fixture
def gated(aws_settings: Settings) -> Iterator[tuple[Settings, GatedProxy]]:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    proxy = GatedProxy(aws_settings.aws_endpoint_url)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    host, port = proxy.server_address[:2]
    yield replace(aws_settings, aws_endpoint_url=f"http://{host}:{port}"), proxy
    proxy.gate.set()
    proxy.shutdown()


def _stored(services) -> tuple[dict, int, float]:
    """The period's totals, and the sum over its digest documents (they must agree)."""
    totals = services.store.digests.totals(period=PERIOD)
    rows, _count = services.store.digests.page(period=PERIOD, limit=100_000)
    return totals, sum(r["count"] for r in rows), sum(r["query_time"]["sum"] for r in rows)


def test_a_run_during_a_store_outage_ends_with_a_message_and_counts_nothing_twice(
        outage: Outage, gated, request: pytest.FixtureRequest) -> None:
    settings, proxy = gated
    app = create_app(replace(settings, database_url=outage.database_url))
    services = app.server.extensions["slowquery"]
    client = app.server.test_client()
    services.inventory.refresh()
    first = services.collection.start({"month": PERIOD})
    services.collection.wait(first["collection_id"], timeout=60)
    before = _stored(services)
    assert before[0]["count"] == before[1] > 0

    refused = threading.Event()

    class Refusals(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "could not be stored" in record.getMessage():
                refused.set()

    handler = Refusals()
    logging.getLogger("jobs.run_recorder").addHandler(handler)
    request.addfinalizer(lambda: logging.getLogger("jobs.run_recorder").removeHandler(handler))
    proxy.gate.clear()
    run = services.collection.start({"month": PERIOD})
    assert proxy.waiting.wait(30), "the run never reached CloudWatch Logs"
    outage.down()
    went_down = time.monotonic()
    proxy.gate.set()
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    assert "the store cannot be read or written" in health["reasons"]
    assert "Traceback" not in health["store_error"]
    if services.store.kind == "mongodb":  # a SQLite file that refuses writes still reads
        answer = client.get("/api/digests")
        assert answer.status_code == 503
        assert answer.get_json()["error"].startswith("the store is unavailable: MongoDB:")
        assert answer.headers["Retry-After"]
        page = client.get("/_dash-layout")  # the page skeleton needs no store
        assert page.status_code == 200
    # the outage lasts until an instance of the run has met it (on a loaded machine its
    # parsing may take longer than any fixed pause), and at least 1.5 s
    assert refused.wait(60), "no instance of the run tried to store during the outage"
    time.sleep(max(0.0, 1.5 - (time.monotonic() - went_down)))
    outage.up()
    services.collection.wait(run["collection_id"], timeout=90)
    print(f"\n{services.store.kind}: store down for {time.monotonic() - went_down:.1f} s "
          f"while the run wrote")

    final = services.store.runs.get(run["collection_id"])
    failed = {e["instance_id"] for e in final["errors"] if "could not be stored" in e["error"]}
    assert failed, final["errors"]
    assert all("Traceback" not in e["error"] for e in final["errors"])
    # an instance that reached the store after it came back stored its digests; the counters
    # count only those (the others failed with a message)
    assert final["total_queries"] < services.store.runs.get(first["collection_id"])[
        "total_queries"]
    stored_from = final["total_instances"] - len(final["errors"])
    assert (f"from {stored_from} of" in final["message"] if stored_from
            else final["status"] == "error")
    assert _stored(services) == before  # the previous set intact: nothing lost, nothing twice
    assert client.get("/healthz").get_json()["status"] == "ok"

    again = services.collection.start({"month": PERIOD})
    services.collection.wait(again["collection_id"], timeout=60)
    assert services.store.runs.get(again["collection_id"])["total_queries"] == \
        services.store.runs.get(first["collection_id"])["total_queries"]
    assert _stored(services) == before


def test_a_sqlite_file_deleted_with_its_directory_fails_clearly_then_reopens(
        settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = create_app(replace(settings, database_url=f"sqlite:///{data / 'app.db'}"))
    services = app.server.extensions["slowquery"]
    client = app.server.test_client()
    services.store.flags.set("kept", {"n": 1})
    assert client.get("/api/digests").status_code == 200

    shutil.rmtree(data)  # an operator wipes the data directory under a running app
    answer = client.get("/api/digests")
    assert answer.status_code == 503
    assert "its directory is gone" in answer.get_json()["error"]
    assert client.get("/healthz").get_json()["status"] == "degraded"

    data.mkdir()  # ... and recreates it: no restart needed, and writes land in the new file
    assert client.get("/api/digests").status_code == 200
    services.store.flags.set("after", {"n": 2})
    assert client.get("/healthz").get_json()["status"] == "ok"
    from store import open_store

    fresh = open_store(f"sqlite:///{data / 'app.db'}")
    try:
        assert fresh.flags.get("after") == {"n": 2}  # in the file on disk, not a deleted inode
        assert fresh.flags.get("kept") is None
    finally:
        fresh.close()


def test_a_sqlite_file_moved_away_and_back_is_used_again(settings: Settings,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = create_app(replace(settings, database_url=f"sqlite:///{data / 'app.db'}"))
    services = app.server.extensions["slowquery"]
    services.store.flags.set("kept", {"n": 1})
    data.rename(tmp_path / "away")
    client = app.server.test_client()
    assert client.get("/api/instances").status_code == 503
    (tmp_path / "away").rename(data)
    assert client.get("/api/instances").status_code == 200
    assert services.store.flags.get("kept") == {"n": 1}


@pytest.mark.browser
def test_pages_show_a_clear_banner_and_recover_by_themselves(dash_duo, aws_settings: Settings,
                                                             tmp_path: Path) -> None:
    from tests.rds_seed import EXPECTED
    from tests.test_pages_browser import _wait_for_ids

    seed_rds(aws_settings.aws_endpoint_url, REGION)
    data = tmp_path / "data"
    app = create_app(replace(aws_settings, database_url=f"sqlite:///{data / 'app.db'}"))
    app.server.extensions["slowquery"].inventory.refresh()
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_element("#overview-content")
    assert not dash_duo.find_elements("#store-alert")  # closed: not in the page at all

    data.rename(tmp_path / "away")  # the store is unreachable while a page loads its data
    dash_duo.find_element("#nav-instances").click()
    dash_duo.wait_for_contains_text("#store-alert", "The store cannot be reached.", timeout=10)
    alert = dash_duo.find_element("#store-alert").text
    assert "its directory is gone" in alert and "Traceback" not in alert
    assert _wait_for_ids(dash_duo, [], timeout=1) == []

    (tmp_path / "away").rename(data)  # back: the banner goes and the page loads by itself
    assert _wait_for_ids(dash_duo, sorted(EXPECTED), timeout=15) == sorted(EXPECTED)
    deadline = time.monotonic() + 5
    while dash_duo.find_elements("#store-alert") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not dash_duo.find_elements("#store-alert")
