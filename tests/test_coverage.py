"""Slow-log coverage: RDS log exports and parameter groups read from moto's HTTP server,
months and days from digests made by the real aggregator, the API on both store adapters, and
the Instances page in headless Chromium."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from analysis.coverage import CODES, CoverageInputs, evaluate, missing_days
from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.slowlog import SlowLogEntry
from app import create_app
from collectors.rds_params import CoverageReadError, read_log_settings
from settings import Settings
from tests.conftest import REGION
from tests.servers import free_port

OCT = datetime(2026, 10, 1, tzinfo=UTC)
MISSING_DAY = 7
LONG_SQL = "SELECT * FROM orders WHERE id IN (" + ",".join(str(n) for n in range(20000)) + ")"
PASSWORD = "not-a-secret-1"


def _set(client, group: str, values: dict[str, str], cluster: bool = False) -> None:
    parameters = [{"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"}
                  for k, v in values.items()]
    if cluster:
        client.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group,
                                                 Parameters=parameters)
    else:
        client.modify_db_parameter_group(DBParameterGroupName=group, Parameters=parameters)


def seed(endpoint_url: str) -> None:
    """`bad`: no export, slow log off, 10 s, to a table; `good`: exported, 0.5 s, to a file;
    `aurora-1`: its cluster exports nothing, the cluster group is fine, the instance's own
    group raises long_query_time to 5 s."""
    client = boto3.client("rds", region_name=REGION, endpoint_url=endpoint_url)
    for name in ("pg-bad", "pg-good", "pg-aurora"):
        client.create_db_parameter_group(DBParameterGroupName=name, Description=name,
                                         DBParameterGroupFamily="mysql8.0")
    _set(client, "pg-bad", {"slow_query_log": "0", "long_query_time": "10",
                            "log_output": "TABLE"})
    _set(client, "pg-good", {"slow_query_log": "1", "long_query_time": "0.5",
                             "log_output": "FILE", "log_slow_extra": "ON"})
    _set(client, "pg-aurora", {"long_query_time": "5"})
    client.create_db_cluster_parameter_group(DBClusterParameterGroupName="cpg", Description="c",
                                             DBParameterGroupFamily="aurora-mysql8.0")
    _set(client, "cpg", {"slow_query_log": "1", "long_query_time": "1", "log_output": "FILE"},
         cluster=True)
    common = {"DBInstanceClass": "db.r6g.large", "Tags": [{"Key": "env", "Value": "prd"}]}
    client.create_db_instance(DBInstanceIdentifier="bad", Engine="mysql", AllocatedStorage=20,
                              MasterUsername="admin", MasterUserPassword=PASSWORD,
                              DBParameterGroupName="pg-bad", **common)
    client.create_db_instance(DBInstanceIdentifier="good", Engine="mysql", AllocatedStorage=20,
                              MasterUsername="admin", MasterUserPassword=PASSWORD,
                              DBParameterGroupName="pg-good",
                              EnableCloudwatchLogsExports=["slowquery", "error"], **common)
    client.create_db_cluster(DBClusterIdentifier="cl", Engine="aurora-mysql",
                             MasterUsername="admin", MasterUserPassword=PASSWORD,
                             DBClusterParameterGroupName="cpg")
    client.create_db_instance(DBInstanceIdentifier="aurora-1", Engine="aurora-mysql",
                              DBClusterIdentifier="cl", DBParameterGroupName="pg-aurora",
                              **common)


def store_october(store, instance_id: str, *, skip_day: int | None, long_sql: bool) -> None:
    """October 2026, a few slow queries every day (but ``skip_day``), through the real
    aggregator; with ``long_sql`` one statement longer than an example keeps."""
    aggregator = DigestAggregator(fingerprint_and_id)
    for day in range(31):
        if skip_day is not None and day + 1 == skip_day:
            continue
        for sql in ("SELECT name FROM customers WHERE id = 7",
                    *([LONG_SQL] if long_sql and day == 3 else [])):
            aggregator.add(instance_id, SlowLogEntry(
                time=OCT + timedelta(days=day, hours=3), user="app", host="h", db="shop",
                query_time=1.5, lock_time=0.001, rows_sent=1, rows_examined=10, sql=sql))
    store.digests.replace_period(instance_id, "2026-10", [
        {**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
        for d in aggregator.digests(instance_id)])


@pytest.fixture
def app(aws_settings: Settings, database_url: str):
    seed(aws_settings.aws_endpoint_url)
    app = create_app(replace(aws_settings, database_url=database_url))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    store_october(services.store, "good", skip_day=MISSING_DAY, long_sql=True)
    store_october(services.store, "bad", skip_day=None, long_sql=False)
    return app


def _coverage(app, instance_id: str, refresh: bool = False) -> dict:
    response = app.server.test_client().get(
        f"/api/instances/{instance_id}/coverage" + ("?refresh=1" if refresh else ""))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _codes(body: dict) -> list[str]:
    return [p["code"] for p in body["problems"]]


# ---- the collector against moto ----------------------------------------------------------------
def test_collector_reads_exports_and_parameters(aws_settings: Settings) -> None:
    seed(aws_settings.aws_endpoint_url)
    bad = read_log_settings(aws_settings, "bad")
    assert bad["exports"] == [] and bad["parameter_group"] == "pg-bad"
    assert bad["parameters"] == {"slow_query_log": "0", "long_query_time": "10",
                                 "log_output": "TABLE"}
    good = read_log_settings(aws_settings, "good")
    assert sorted(good["exports"]) == ["error", "slowquery"]
    assert good["parameters"]["log_slow_extra"] == "ON"
    aurora = read_log_settings(aws_settings, "aurora-1")
    assert (aurora["exports_from"], aurora["cluster_parameter_group"]) == ("cluster", "cpg")
    # the instance's group overrides the cluster's where it sets a value
    assert aurora["parameters"] == {"slow_query_log": "1", "long_query_time": "5",
                                    "log_output": "FILE"}
    with pytest.raises(CoverageReadError, match="RDS does not know instance nope"):
        read_log_settings(aws_settings, "nope")


def test_collector_says_when_aws_cannot_be_reached(aws_settings: Settings) -> None:
    closed = replace(aws_settings, aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
                     aws_timeout_seconds=1, aws_max_attempts=1)
    with pytest.raises(CoverageReadError, match="cannot reach the AWS endpoint") as caught:
        read_log_settings(closed, "bad")
    assert "testing" not in str(caught.value)  # no credential in the sentence


# ---- the API on both adapters ------------------------------------------------------------------
def test_api_reports_every_problem_in_one_sentence(app) -> None:
    bad = _coverage(app, "bad")
    assert bad["instance_id"] == "bad"
    assert _codes(bad) == ["slowquery_not_exported", "slow_query_log_off", "log_output_table",
                           "long_query_time_high"]
    messages = {p["code"]: p["message"] for p in bad["problems"]}
    assert "from 10 s to 1 s or less in parameter group pg-bad" in messages[
        "long_query_time_high"]
    assert "mysql.slow_log" in messages["log_output_table"]
    for message in messages.values():  # one sentence each, saying what to change
        assert message.count(". ") == 0 and message.endswith(".")
    assert bad["checks"]["collected_months"]["value"] == ["2026-10"]
    assert bad["checks"]["days_without_events"]["status"] == "ok"

    good = _coverage(app, "good")
    assert _codes(good) == ["days_without_events", "truncated_events"]
    assert good["checks"]["slowquery_export"]["status"] == "ok"
    assert good["checks"]["long_query_time"]["value"] == 0.5
    assert good["checks"]["extra_parameters"]["value"] == {"log_slow_extra": "ON"}
    assert good["checks"]["days_without_events"]["value"] == {"2026-10": ["2026-10-07"]}
    assert good["checks"]["truncated_events"]["value"] == {"2026-10": 1}
    assert "2026-10-07" in good["problems"][0]["message"]

    aurora = _coverage(app, "aurora-1")
    assert _codes(aurora) == ["slowquery_not_exported", "long_query_time_high"]
    assert "cluster" in aurora["problems"][0]["message"]
    assert aurora["checks"]["collected_months"] == {"status": "none", "value": []}

    response = app.server.test_client().get("/api/instances/nope/coverage")
    assert response.status_code == 404
    assert app.server.test_client().get(
        "/api/instances/bad/coverage?refresh=yes").status_code == 400


def test_rds_is_read_once_an_hour_unless_refreshed(app, aws_settings: Settings) -> None:
    assert "slow_query_log_off" in _codes(_coverage(app, "bad"))
    client = boto3.client("rds", region_name=REGION, endpoint_url=aws_settings.aws_endpoint_url)
    _set(client, "pg-bad", {"slow_query_log": "1"})
    assert "slow_query_log_off" in _codes(_coverage(app, "bad"))  # the cached answer
    assert "slow_query_log_off" not in _codes(_coverage(app, "bad", refresh=True))


def test_unreachable_aws_leaves_the_stored_checks_answering(app, aws_settings: Settings,
                                                            database_url: str) -> None:
    closed = replace(aws_settings, database_url=database_url, aws_timeout_seconds=1,
                     aws_max_attempts=1, aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    cut_off = create_app(closed)
    body = _coverage(cut_off, "good", refresh=True)
    for key in ("slowquery_export", "slow_query_log", "log_output", "long_query_time"):
        assert body["checks"][key]["status"] == "unreachable", key
        assert "cannot reach the AWS endpoint" in body["checks"][key]["detail"]
    assert _codes(body) == ["days_without_events", "truncated_events"]


# ---- the pure rules ----------------------------------------------------------------------------
def test_missing_days_stop_before_today_in_the_current_month() -> None:
    days = {"2026-12-01": 3.0, "2026-12-03": 1.0}
    assert missing_days("2026-12", days, date(2026, 12, 5)) == ["2026-12-02", "2026-12-04"]
    assert missing_days("2027-01", {}, date(2026, 12, 5)) == []
    assert len(missing_days("2026-02", {}, date(2026, 12, 5))) == 28


def test_engine_defaults_apply_where_the_group_sets_nothing() -> None:
    report = evaluate(CoverageInputs("db", date(2026, 12, 1), exports=["slowquery"],
                                     parameters={}, parameter_group="default.mysql8.0"))
    assert [p["code"] for p in report["problems"]] == ["slow_query_log_off",
                                                       "long_query_time_high"]
    static = evaluate(CoverageInputs("db", date(2026, 12, 1), source="static"))
    assert static["problems"] == []
    assert static["checks"]["slowquery_export"]["status"] == "not_applicable"
    assert set(CODES) >= {"slowquery_not_exported", "slow_query_log_off", "log_output_table",
                          "long_query_time_high", "days_without_events", "truncated_events"}


# ---- the pages ---------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_instances_page_shows_coverage_problems(dash_duo, app) -> None:
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/instances")
    dash_duo.wait_for_text_to_equal("#instances-count", "3 instances")
    dash_duo.find_element("#instances-coverage-check").click()
    dash_duo.wait_for_contains_text("#instances-coverage-result", "3 instances", timeout=20)
    dash_duo.wait_for_text_to_equal(".ag-row[row-id='bad'] [col-id='coverage']", "4 problems")
    dash_duo.wait_for_text_to_equal(".ag-row[row-id='good'] [col-id='coverage']", "2 problems")
    dash_duo.find_element(".ag-row[row-id='bad'] [col-id='coverage']").click()
    dash_duo.wait_for_contains_text("#instances-coverage-problems",
                                    "Set log_output to FILE in parameter group pg-bad")
    text = dash_duo.find_element("#instances-coverage-problems").text
    assert "Lower long_query_time from 10 s" in text and "slowquery" in text

    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_contains_text("#overview-problems", "bad: slow-log coverage")
    assert len(dash_duo.find_elements(".coverage-problem")) == 3


def test_events_cut_by_cloudwatch_are_counted_by_the_collection(aws_settings: Settings,
                                                                database_url: str) -> None:
    from analysis.slowlog import CLOUDWATCH_EVENT_MAX_BYTES
    from tests.cw_seed import put_events, rds_entry

    seed(aws_settings.aws_endpoint_url)
    app = create_app(replace(aws_settings, database_url=database_url))
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    start = datetime(2026, 10, 3, tzinfo=UTC)
    base = int(start.timestamp() * 1000)
    huge = rds_entry(start, "SELECT id FROM t WHERE id IN ("
                     + ", ".join(str(n) for n in range(60_000)) + ")", 2.0)
    assert len(huge.encode()) > CLOUDWATCH_EVENT_MAX_BYTES
    cut = huge.encode()[:CLOUDWATCH_EVENT_MAX_BYTES].decode()  # what CloudWatch keeps
    events = [(base + n * 1000, rds_entry(start + timedelta(seconds=n), f"SELECT {n}", 0.5))
              for n in range(20)]
    events.append((base + 60_000, cut))
    put_events(aws_settings.aws_endpoint_url, REGION, "/aws/rds/instance/good/slowquery",
               "good", events)
    run = services.collection.start({"month": "2026-10", "instance_ids": ["good"]})
    services.collection.wait(run["collection_id"], timeout=120)
    assert services.store.runs.get(run["collection_id"])["status"] == "completed"

    stored = services.store.digests.stored("good", "2026-10")
    assert stored["cut_events"] == 1  # counted while parsing, not guessed from examples
    body = _coverage(app, "good")
    assert body["checks"]["truncated_events"] == {"status": "problem",
                                                  "value": {"2026-10": 1}}
    message = next(p["message"] for p in body["problems"] if p["code"] == "truncated_events")
    assert "(1 event(s) at CloudWatch's 256 KB limit" in message
