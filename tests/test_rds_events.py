"""RDS events: read from moto's RDS (its own events of created instances), kept by the
inventory refresh once each on both store adapters, refused or unreachable AWS in one
sentence, and `GET /api/events`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest

from analysis.rds_events import classify
from app import create_app
from collectors.rds_events import EventReadError, read_events
from jobs.rds_events import OVERLAP
from settings import Settings
from store import Store
from store.flags import utc_iso
from tests.conftest import REGION
from tests.rds_seed import EXPECTED, PASSWORD, seed_rds
from tests.servers import free_port
from tests.test_aws_faults import _Handler as _ForwardingHandler

EVERYTHING = ("0000", "9999")  # a window holding every stored time


def _create(endpoint_url: str, instance_id: str, engine: str = "mysql") -> None:
    boto3.client("rds", region_name=REGION, endpoint_url=endpoint_url).create_db_instance(
        DBInstanceIdentifier=instance_id, Engine=engine, DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="admin", MasterUserPassword=PASSWORD)


# ---- the reader against moto ---------------------------------------------------------------------
def test_reader_lists_every_db_instance_event_in_the_window(aws_settings: Settings) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    _create(aws_settings.aws_endpoint_url, "orders-1")
    _create(aws_settings.aws_endpoint_url, "reports-1", engine="postgres")
    after = datetime.now(UTC) + timedelta(seconds=1)
    events = read_events(aws_settings, before - timedelta(days=30), after)
    assert {e["instance_id"] for e in events} == {"orders-1", "reports-1"}
    created = [e for e in events if e["instance_id"] == "orders-1" and
               e["categories"] == ["creation"]]
    assert [e["message"] for e in created] == ["DB instance created"]
    for event in events:
        assert event["time"].tzinfo is UTC and before <= event["time"] < after
        assert event["categories"] and event["message"]
    assert events == sorted(events, key=lambda e: (e["time"], e["instance_id"]))
    # the window holds: nothing from an hour that had no events
    assert read_events(aws_settings, before - timedelta(hours=2), before) == []


def test_an_unreachable_endpoint_is_one_sentence(aws_settings: Settings) -> None:
    closed = replace(aws_settings, aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
                     aws_timeout_seconds=1, aws_max_attempts=1)
    now = datetime.now(UTC)
    with pytest.raises(EventReadError) as caught:
        read_events(closed, now - timedelta(days=1), now)
    message = str(caught.value)
    assert message.startswith("cannot reach the AWS endpoint (http://127.0.0.1:")
    assert message.endswith("(reading RDS events)")
    assert "testing" not in message and "\n" not in message


class _DenyEvents(ThreadingHTTPServer):
    """Forwards to moto, but answers DescribeEvents as AWS does for a policy without it."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _DenyingHandler)
        self.target = urlsplit(target)


class _DenyingHandler(_ForwardingHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if b"Action=DescribeEvents" not in body:
            self._forward(body)
            return
        payload = (b'<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error>'
                   b"<Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::"
                   b"123456789012:user/dash is not authorized to perform: rds:DescribeEvents"
                   b"</Message></Error><RequestId>r1</RequestId></ErrorResponse>")
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def denied(aws_settings: Settings) -> Iterator[Settings]:
    proxy = _DenyEvents(aws_settings.aws_endpoint_url)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    host, port = proxy.server_address[:2]
    yield replace(aws_settings, aws_endpoint_url=f"http://{host}:{port}", aws_max_attempts=1)
    proxy.shutdown()


def test_refused_by_the_policy_names_the_permission(denied: Settings) -> None:
    now = datetime.now(UTC)
    with pytest.raises(EventReadError, match=r"^access denied by AWS reading RDS events "
                                             r"\(AccessDenied\): the credentials need "
                                             r"rds:DescribeEvents$"):
        read_events(denied, now - timedelta(days=1), now)


def test_a_refused_read_is_reported_and_the_refresh_goes_on(denied: Settings,
                                                            database_url: str) -> None:
    seed_rds(denied.aws_endpoint_url, REGION)
    app = create_app(replace(denied, database_url=database_url))
    response = app.server.test_client().post("/api/instances/refresh")
    body = response.get_json()
    assert response.status_code == 200, body  # the instances were refreshed
    assert body["discovered"] == len(EXPECTED) and body["errors"] == {}
    assert body["events_error"].endswith("the credentials need rds:DescribeEvents")
    store = app.server.extensions["slowquery"].store
    assert store.rds_events.between(*EVERYTHING) == []
    assert store.rds_events.read_until() is None  # the next refresh reads the 14 days again


# ---- the inventory refresh keeps them ------------------------------------------------------------
def test_refresh_keeps_events_of_discovered_instances_once(aws_settings: Settings,
                                                           database_url: str) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    app = create_app(replace(aws_settings, database_url=database_url))
    services = app.server.extensions["slowquery"]
    assert services.inventory.refresh()["events_error"] is None
    store: Store = services.store
    kept = store.rds_events.between(*EVERYTHING)
    # every discovered instance's creation; never reports-pg (postgres: not discovered)
    assert {e["instance_id"] for e in kept} == set(EXPECTED)
    for event in kept:
        assert event["kind"] == classify(event["categories"], event["message"])
    assert {(e["instance_id"], e["message"]) for e in kept
            if e["categories"] == ["creation"]} == {(i, "DB instance created") for i in EXPECTED}
    first = services.inventory.last_status()["events"]
    assert first["ok"] and first["kept"] == len(kept)
    assert first["read_from"] < utc_iso(datetime.now(UTC) - timedelta(days=13))  # 14 days

    services.inventory.refresh()  # the same events again, from the overlap: no duplicates
    assert store.rds_events.between(*EVERYTHING) == kept
    second = services.inventory.last_status()["events"]
    assert second["read_from"] == utc_iso(
        datetime.strptime(first["read_until"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        - OVERLAP)

    _create(aws_settings.aws_endpoint_url, "orders-prd-9")
    services.inventory.refresh()
    now_kept = store.rds_events.between(*EVERYTHING)
    added = [e for e in now_kept if e not in kept]
    assert added and {e["instance_id"] for e in added} == {"orders-prd-9"}
    assert len(now_kept) == len(kept) + len(added)


def test_no_aws_no_events_read(settings: Settings, tmp_path) -> None:
    static = tmp_path / "static.json"
    static.write_text('[{"instance_id": "onprem-1", "host": "10.0.0.9", "engine": "mysql"}]')
    app = create_app(replace(settings, static_instances_file=static))
    services = app.server.extensions["slowquery"]
    summary = services.inventory.refresh()
    assert summary["discovered"] == 1 and summary["events_error"] is None
    assert "events" not in services.inventory.last_status()  # no RDS source: not even tried


# ---- the store, on both adapters -----------------------------------------------------------------
def _stored(instance_id: str, time: str, categories: list[str], message: str) -> dict:
    return {"instance_id": instance_id, "time": time, "categories": categories,
            "message": message, "kind": classify(categories, message)}


FAILOVER = _stored("orders-prd-1", "2026-10-01T03:12:05.000000Z", ["failover"],
                   "A Multi-AZ failover has completed.")
PARAMS = _stored("orders-prd-2", "2026-10-12T14:20:00.000000Z", ["configuration change"],
                 "Updated to use DBParameterGroup orders-tuned")
BACKUP = _stored("orders-prd-2", "2026-10-12T05:10:00.000000Z", ["backup"],
                 "Backing up DB instance")
LAST_SECOND = _stored("orders-prd-1", "2026-10-31T23:59:59.999999Z", ["availability"],
                      "DB instance restarted")
NEXT_MONTH = _stored("orders-prd-1", "2026-11-01T00:00:00.000000Z", ["availability"],
                     "DB instance restarted")


def test_store_keeps_each_event_once_and_reads_a_window(store: Store) -> None:
    assert store.rds_events.between(*EVERYTHING) == []
    assert store.rds_events.save([FAILOVER, PARAMS, BACKUP, FAILOVER]) == 3
    assert store.rds_events.save([FAILOVER, LAST_SECOND, NEXT_MONTH]) == 3  # overlap
    everything = store.rds_events.between(*EVERYTHING)
    assert [(e["instance_id"], e["time"]) for e in everything] == [
        (e["instance_id"], e["time"]) for e in (FAILOVER, BACKUP, PARAMS, LAST_SECOND,
                                                NEXT_MONTH)]
    assert len({e["event_id"] for e in everything}) == 5
    # same instance and second, another message: another event
    store.rds_events.save([{**FAILOVER, "message": "Multi-AZ instance failover started"}])
    assert len(store.rds_events.between(*EVERYTHING)) == 6

    october = ("2026-10-01T00:00:00.000000Z", "2026-11-01T00:00:00.000000Z")
    in_october = store.rds_events.between(*october)
    assert NEXT_MONTH["time"] not in [e["time"] for e in in_october]  # end excluded
    assert LAST_SECOND["time"] in [e["time"] for e in in_october]
    assert {e["time"] for e in store.rds_events.between(FAILOVER["time"], "9999")} >= {
        FAILOVER["time"]}  # start included
    marked = store.rds_events.between(*october, kinds={"failover", "parameters", "restart"})
    assert {e["kind"] for e in marked} == {"failover", "parameters", "restart"}
    only_2 = store.rds_events.between(*october, instance_ids=["orders-prd-2"])
    assert [e["message"] for e in only_2] == [BACKUP["message"], PARAMS["message"]]
    assert store.rds_events.between(*october, instance_ids=[]) == []
    assert store.rds_events.between(*october, instance_ids=["nope"]) == []
    one = only_2[1]
    assert (one["categories"], one["kind"]) == (["configuration change"], "parameters")


def test_store_remembers_up_to_when_it_read(store: Store) -> None:
    assert store.rds_events.read_until() is None
    store.rds_events.save_read_until("2026-10-14T03:00:00.000000Z")
    store.rds_events.save_read_until("2026-10-14T03:15:00.000000Z")
    assert store.rds_events.read_until() == "2026-10-14T03:15:00.000000Z"


# ---- GET /api/events -----------------------------------------------------------------------------
@pytest.fixture
def client(settings: Settings, database_url: str):
    app = create_app(replace(settings, database_url=database_url))
    app.server.extensions["slowquery"].store.rds_events.save(
        [FAILOVER, PARAMS, BACKUP, LAST_SECOND, NEXT_MONTH])
    return app.server.test_client()


def test_api_lists_a_months_marked_events(client) -> None:
    response = client.get("/api/events?month=2026-10")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["month"], body["instance_id"]) == ("2026-10", None)
    assert body["events"] == [
        {"time": "2026-10-01T03:12:05Z", "instance_id": "orders-prd-1", "kind": "failover",
         "label": "failover", "categories": ["failover"],
         "message": "A Multi-AZ failover has completed."},
        {"time": "2026-10-12T14:20:00Z", "instance_id": "orders-prd-2", "kind": "parameters",
         "label": "parameter change", "categories": ["configuration change"],
         "message": "Updated to use DBParameterGroup orders-tuned"},
        {"time": "2026-10-31T23:59:59Z", "instance_id": "orders-prd-1", "kind": "restart",
         "label": "restart", "categories": ["availability"],
         "message": "DB instance restarted"},
    ]
    one = client.get("/api/events?month=2026-10&instance_id=orders-prd-2").get_json()
    assert [e["kind"] for e in one["events"]] == ["parameters"]
    every = client.get("/api/events?month=2026-10&instance_id=orders-prd-2&all=1").get_json()
    assert [e["kind"] for e in every["events"]] == ["other", "parameters"]
    assert client.get("/api/events?month=2026-09").get_json()["events"] == []
    november = client.get("/api/events?month=2026-11").get_json()["events"]
    assert [e["time"] for e in november] == ["2026-11-01T00:00:00Z"]


@pytest.mark.parametrize(("query", "words"), [
    ("", "month is required"),
    ("?month=2026-13", "month must be a month YYYY-MM"),
    ("?month=October", "month must be a month YYYY-MM"),
    ("?month=2026-10&all=yes", "all must be one of 0, 1"),
    ("?month=2026-10&instance=x", "unknown query parameter"),
])
def test_api_bad_input_is_a_400_sentence(client, query: str, words: str) -> None:
    response = client.get(f"/api/events{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert words in error and "\n" not in error


def test_the_instances_page_says_when_events_were_not_read(dash_duo, denied: Settings) -> None:
    seed_rds(denied.aws_endpoint_url, REGION)
    app = create_app(denied)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/instances")
    dash_duo.find_element("#instances-refresh").click()
    dash_duo.wait_for_contains_text("#instances-refresh-result",
                                    "but RDS events were not read: access denied by AWS")
    assert "rds:DescribeEvents" in dash_duo.find_element("#instances-refresh-result").text
