"""A tagged RDS fleet for an AWS emulator (moto): every rule of the tag contract is hit.

The demo serves it; the tests assert the classification of exactly this fleet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import boto3

PASSWORD = "not-a-secret-1"
REGION = "us-east-1"

# (id, engine, extra create args, tags, expected collect, expected realtime)
FLEET: list[tuple[str, str, dict[str, Any], dict[str, str], bool, bool]] = [
    ("orders-prd-1", "mysql", {"EngineVersion": "8.0.35"},
     {"env": "prd", "real_time_slow_sql": "true"}, True, True),
    ("orders-prd-2", "mysql", {"EngineVersion": "8.0.35"}, {"Env": "PRD"}, True, False),
    ("billing-dev", "mysql", {"EngineVersion": "8.0.28"}, {"env": "dev"}, False, False),
    ("untagged-db", "mysql", {"EngineVersion": "5.7.44"}, {}, False, False),
    ("catalog-aurora-1", "aurora-mysql", {"DBClusterIdentifier": "catalog-cluster"},
     {"env": "prd"}, True, False),
    ("catalog-aurora-2", "aurora-mysql", {"DBClusterIdentifier": "catalog-cluster"},
     {"ENV": "prd", "Real_Time_Slow_SQL": "TRUE"}, True, True),
    ("legacy-maria", "mariadb", {"EngineVersion": "10.11.6"}, {"env": "prd"}, True, False),
    ("maria-stg", "mariadb", {"EngineVersion": "10.6.16"},
     {"env": "stg", "real_time_slow_sql": "True"}, False, True),
    ("reports-pg", "postgres", {"EngineVersion": "16.3"},
     {"env": "prd", "real_time_slow_sql": "true"}, False, False),
]
EXPECTED = {row[0]: (row[4], row[5]) for row in FLEET if row[1] != "postgres"}


def seed_rds(endpoint_url: str, region: str = REGION) -> None:
    client = boto3.client("rds", region_name=region, endpoint_url=endpoint_url)
    client.create_db_cluster(
        DBClusterIdentifier="catalog-cluster", Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.04.0", MasterUsername="admin",
        MasterUserPassword=PASSWORD,
    )
    for instance_id, engine, extra, tags, _collect, _realtime in FLEET:
        args: dict[str, Any] = {
            "DBInstanceIdentifier": instance_id, "Engine": engine,
            "DBInstanceClass": "db.r6g.large",
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()], **extra,
        }
        if engine != "aurora-mysql":
            args.update(AllocatedStorage=20, MasterUsername="admin", MasterUserPassword=PASSWORD)
        client.create_db_instance(**args)


def put_log_events(endpoint_url: str, region: str, group: str, stream: str,
                   events: Iterable[tuple[int, str]]) -> int:
    """Put (timestamp ms, message) events into moto's CloudWatch Logs, past ones included.

    Like AWS, moto refuses PutLogEvents older than 14 days, and a collection reads a past
    month; so group and stream are created over HTTP and the events go in through moto's
    backend, which must live in this process (ThreadedMotoServer).
    """
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    client = boto3.client("logs", region_name=region, endpoint_url=endpoint_url)
    exists = client.exceptions.ResourceAlreadyExistsException
    with contextlib.suppress(exists):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(exists):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    batch = sorted(({"timestamp": ts, "message": msg} for ts, msg in events),
                   key=lambda e: e["timestamp"])
    get_backend("logs")[DEFAULT_ACCOUNT_ID][region].groups[group].put_log_events(stream, batch)
    return len(batch)
