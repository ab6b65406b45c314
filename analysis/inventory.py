"""Turning RDS API records and static-file entries into instance documents (pure).

The tag rules are the product's core contract: `env=prd` makes a *collection target*,
`real_time_slow_sql=true` a *real-time target*. Keys and values are compared without case
(`ENV=PRD` counts), because RDS tag keys are case-sensitive but teams are not consistent and a
production instance silently left out of collection is the worst outcome.

>>> classify_tags({"Env": "PRD", "real_time_slow_sql": "True"})
(True, True)
>>> classify_tags({"env": "dev"})
(False, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.errors import AnalysisError

SUPPORTED_ENGINES = frozenset({"mysql", "aurora-mysql", "mariadb"})
COLLECT_TAG = ("env", "prd")
REALTIME_TAG = ("real_time_slow_sql", "true")


class InventoryError(AnalysisError):
    """An instance entry is unusable; the message says which entry and which field."""


def classify_tags(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """Return (collect_target, realtime_target) for a tag mapping."""
    lowered = {str(k).strip().lower(): str(v).strip().lower() for k, v in tags.items()}
    collect = lowered.get(COLLECT_TAG[0]) == COLLECT_TAG[1]
    realtime = lowered.get(REALTIME_TAG[0]) == REALTIME_TAG[1]
    return collect, realtime


def tags_from_taglist(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tag_list or [] if "Key" in t}


def is_supported_engine(engine: str | None) -> bool:
    return (engine or "").lower() in SUPPORTED_ENGINES


def instance_from_rds(record: Mapping[str, Any]) -> dict[str, Any]:
    """Map one `describe_db_instances` record to our instance document."""
    tags = tags_from_taglist(record.get("TagList"))
    collect, realtime = classify_tags(tags)
    endpoint = record.get("Endpoint") or {}
    groups = [g.get("DBParameterGroupName") for g in record.get("DBParameterGroups") or []]
    return {
        "instance_id": record["DBInstanceIdentifier"],
        "engine": record.get("Engine", ""),
        "engine_version": record.get("EngineVersion", ""),
        "instance_class": record.get("DBInstanceClass", ""),
        "status": record.get("DBInstanceStatus", ""),
        "endpoint": {"address": endpoint.get("Address"), "port": endpoint.get("Port")},
        "cluster_id": record.get("DBClusterIdentifier"),
        # What slow-log coverage reads first (Aurora: the cluster's exports are what count).
        "log_exports": list(record.get("EnabledCloudwatchLogsExports") or []),
        "parameter_group": next((g for g in groups if g), ""),
        "tags": tags,
        "collect_target": collect,
        "realtime_target": realtime,
        "source": "rds",
    }


def instance_from_static(entry: Any, position: int) -> dict[str, Any]:
    """Validate and map one entry of STATIC_INSTANCES_FILE; errors name the entry."""
    where = f"entry {position}"
    if not isinstance(entry, Mapping):
        raise InventoryError(f"{where}: expected an object, got {type(entry).__name__}")
    instance_id = entry.get("instance_id")
    if not isinstance(instance_id, str) or not instance_id.strip():
        raise InventoryError(f"{where}: 'instance_id' must be a non-empty string")
    where = f"entry {position} ({instance_id})"
    host = entry.get("host")
    if not isinstance(host, str) or not host.strip():
        raise InventoryError(f"{where}: 'host' must be a non-empty string")
    port = entry.get("port", 3306)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise InventoryError(f"{where}: 'port' must be a number from 1 to 65535")
    engine = str(entry.get("engine", "mysql")).lower()
    if engine not in SUPPORTED_ENGINES:
        raise InventoryError(
            f"{where}: engine {engine!r} is not one of {', '.join(sorted(SUPPORTED_ENGINES))}"
        )
    tags = entry.get("tags", {})
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        raise InventoryError(f"{where}: 'tags' must be an object of string values")
    collect, realtime = classify_tags(tags)
    document = {
        "instance_id": instance_id.strip(),
        "engine": engine,
        "engine_version": str(entry.get("engine_version", "")),
        "instance_class": "self-managed",
        "status": "configured",
        "endpoint": {"address": host.strip(), "port": port},
        "cluster_id": None,
        "tags": dict(tags),
        "collect_target": collect,
        "realtime_target": realtime,
        "source": "static",
    }
    # Only the *name* of the variable holding a password is kept; never the secret itself.
    for optional in ("user", "password_env"):
        if optional in entry:
            if not isinstance(entry[optional], str):
                raise InventoryError(f"{where}: {optional!r} must be a string")
            document[optional] = entry[optional]
    if "password" in entry:
        raise InventoryError(
            f"{where}: put the password in an environment variable and name it in "
            "'password_env'; passwords are not read from the file"
        )
    return document
