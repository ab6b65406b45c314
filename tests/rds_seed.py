"""Seeds moto's RDS with a realistic, awkward fleet: every rule of the tag contract is hit."""

from __future__ import annotations

from typing import Any

import boto3

PASSWORD = "not-a-secret-1"

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


def seed_rds(endpoint_url: str, region: str) -> None:
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
