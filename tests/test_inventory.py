"""RDS discovery against moto's HTTP server, the static file, and the tag contract."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from analysis.inventory import classify_tags
from collectors.aws import explain_aws_error
from collectors.inventory import DiscoveryError, discover_rds, load_static
from jobs.inventory import InventoryService
from settings import Settings
from store import open_store
from tests.conftest import REGION
from tests.rds_seed import EXPECTED, seed_rds
from tests.servers import free_port


@pytest.mark.parametrize(("tags", "expected"), [
    ({"env": "prd"}, (True, False)),
    ({"ENV": "Prd", "real_time_slow_sql": "TRUE"}, (True, True)),
    ({"env": "prd "}, (True, False)),
    ({"env": "prod"}, (False, False)),
    ({"real_time_slow_sql": "yes"}, (False, False)),
    ({}, (False, False)),
])
def test_tag_rules(tags: dict, expected: tuple) -> None:
    assert classify_tags(tags) == expected


def test_discovery_classifies_the_fleet_across_pages(aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    result = discover_rds(aws_settings, page_size=2)  # 9 instances: five pages
    found = {i["instance_id"]: i for i in result.instances}
    assert set(found) == set(EXPECTED)
    assert [s for s in result.skipped if s.startswith("reports-pg")] == [
        "reports-pg: engine postgres"]
    for instance_id, (collect, realtime) in EXPECTED.items():
        assert (found[instance_id]["collect_target"], found[instance_id]["realtime_target"]) == (
            collect, realtime), instance_id
    aurora = found["catalog-aurora-2"]
    assert aurora["cluster_id"] == "catalog-cluster"
    assert aurora["engine"] == "aurora-mysql"
    assert aurora["tags"] == {"ENV": "prd", "Real_Time_Slow_SQL": "TRUE"}
    maria = found["legacy-maria"]
    assert (maria["engine"], maria["engine_version"]) == ("mariadb", "10.11.6")
    assert maria["endpoint"]["port"] == 3306 and maria["endpoint"]["address"]
    assert found["orders-prd-1"]["cluster_id"] is None


def test_deleted_instance_is_marked_gone(aws_settings: Settings) -> None:
    import boto3

    seed_rds(aws_settings.aws_endpoint_url, REGION)
    store = open_store(aws_settings.database_url)
    service = InventoryService(aws_settings, store)
    assert service.refresh()["discovered"] == 8
    boto3.client("rds", region_name=REGION, endpoint_url=aws_settings.aws_endpoint_url) \
        .delete_db_instance(DBInstanceIdentifier="billing-dev", SkipFinalSnapshot=True)
    summary = service.refresh()
    assert summary["discovered"] == 7
    assert store.instances.get("billing-dev")["gone"] is True
    store.close()


def test_unreachable_endpoint_is_a_clear_message(settings: Settings, aws) -> None:
    dead = replace(settings, aws_region=REGION, aws_timeout_seconds=1, aws_max_attempts=1,
                   aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DiscoveryError, match=r"cannot reach the AWS endpoint \(http://127"):
        discover_rds(dead)


def test_missing_credentials_is_a_clear_message(aws_settings: Settings, monkeypatch,
                                                tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DiscoveryError, match="no AWS credentials found"):
        discover_rds(aws_settings)


def test_access_denied_names_the_permissions() -> None:
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "nope"}},
                        "DescribeDBInstances")
    assert "rds:DescribeDBInstances" in explain_aws_error(error)


def test_static_file_applies_the_same_rules_and_reports_bad_entries(tmp_path: Path) -> None:
    path = tmp_path / "static.json"
    path.write_text(json.dumps([
        {"instance_id": "onprem-1", "host": "10.0.0.9", "port": 3307, "engine": "mysql",
         "tags": {"env": "prd", "real_time_slow_sql": "true"}, "user": "monitor",
         "password_env": "ONPREM1_PASSWORD"},
        {"instance_id": "onprem-2", "host": "db2.internal", "engine": "MariaDB", "tags": {}},
        {"instance_id": "broken", "port": 3306},
        {"instance_id": "pg", "host": "x", "engine": "postgres"},
        {"instance_id": "leaky", "host": "x", "password": "plain"},
        {"instance_id": "onprem-1", "host": "dup"},
        "not an object",
    ]))
    result = load_static(path)
    found = {i["instance_id"]: i for i in result.instances}
    assert set(found) == {"onprem-1", "onprem-2"}
    assert found["onprem-1"]["collect_target"] and found["onprem-1"]["realtime_target"]
    assert found["onprem-1"]["endpoint"] == {"address": "10.0.0.9", "port": 3307}
    assert found["onprem-1"]["password_env"] == "ONPREM1_PASSWORD"
    assert found["onprem-2"]["engine"] == "mariadb"
    assert found["onprem-2"]["endpoint"]["port"] == 3306
    assert result.skipped == [
        "entry 3 (broken): 'host' must be a non-empty string",
        "entry 4 (pg): engine 'postgres' is not one of aurora-mysql, mariadb, mysql",
        "entry 5 (leaky): put the password in an environment variable and name it in "
        "'password_env'; passwords are not read from the file",
        "entry 6: duplicate instance_id 'onprem-1'",
        "entry 7: expected an object, got str",
    ]


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    ("[{", r"is not valid JSON \(line 1"),
    ('{"instance_id": "x"}', "must hold a JSON list"),
])
def test_static_file_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "static.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DiscoveryError, match=message):
        load_static(path)
