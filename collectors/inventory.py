"""Instance discovery: RDS `describe_db_instances` (paginated, with tags) and the static file.

Failures are turned into one clear sentence (no credentials, access denied, endpoint
unreachable) so the page and `/healthz` can say what to fix; they never crash the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from analysis.inventory import (
    InventoryError,
    instance_from_rds,
    instance_from_static,
    is_supported_engine,
)
from analysis.safe_text import redact_urls
from collectors.aws import aws_client, explain_aws_error
from collectors.base import Collector, uses_aws
from settings import Settings

PAGE_SIZE = 100


class DiscoveryError(RuntimeError):
    """Discovery failed; the message is safe to show on a page (no secrets, no stack)."""


@dataclass
class DiscoveryResult:
    """Instances found in one source, plus entries skipped with the reason."""

    instances: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def discover_rds(settings: Settings, page_size: int = PAGE_SIZE) -> DiscoveryResult:
    """All MySQL-family instances of the region; other engines are skipped and listed."""
    result = DiscoveryResult()
    try:
        client = aws_client(settings, "rds")
        paginator = client.get_paginator("describe_db_instances")
        for page in paginator.paginate(PaginationConfig={"PageSize": page_size}):
            for record in page.get("DBInstances", []):
                if is_supported_engine(record.get("Engine")):
                    result.instances.append(instance_from_rds(record))
                else:
                    result.skipped.append(
                        f"{record.get('DBInstanceIdentifier')}: engine {record.get('Engine')}"
                    )
    except (BotoCoreError, ClientError) as exc:
        raise DiscoveryError(explain_aws_error(exc)) from None
    except ValueError as exc:  # urllib3 on a bad AWS_ENDPOINT_URL ("Port could not be cast")
        raise DiscoveryError(f"AWS call failed: {redact_urls(str(exc))[:200]}") from None
    return result


def load_static(path: Path) -> DiscoveryResult:
    """Read STATIC_INSTANCES_FILE; a bad entry is skipped with its reason, the rest load."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DiscoveryError(f"STATIC_INSTANCES_FILE {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"cannot read STATIC_INSTANCES_FILE {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DiscoveryError(
            f"STATIC_INSTANCES_FILE {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(entries, list):
        raise DiscoveryError(f"STATIC_INSTANCES_FILE {path} must hold a JSON list of instances")
    result = DiscoveryResult()
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        try:
            instance = instance_from_static(entry, position)
        except InventoryError as exc:
            result.skipped.append(str(exc))
            continue
        if instance["instance_id"] in seen:
            result.skipped.append(f"entry {position}: duplicate instance_id "
                                  f"{instance['instance_id']!r}")
            continue
        seen.add(instance["instance_id"])
        result.instances.append(instance)
    return result


COLLECTOR = Collector(
    name="rds-inventory",
    title="Instances (RDS API or a static file)",
    reads=("the MySQL-family instances of the region with their tags (rds:DescribeDBInstances, "
           "rds:ListTagsForResource), or the instances listed in STATIC_INSTANCES_FILE"),
    needs="set AWS_REGION and AWS credentials, or STATIC_INSTANCES_FILE",
    is_configured=lambda settings: uses_aws(settings) or bool(settings.static_instances_file),
)
