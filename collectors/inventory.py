"""Instance discovery: RDS `describe_db_instances` (paginated, with tags) and the static file.

Failures are turned into one clear sentence (no credentials, access denied, endpoint
unreachable) so the page and `/healthz` can say what to fix; they never crash the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from analysis.inventory import (
    InventoryError,
    instance_from_rds,
    instance_from_static,
    is_supported_engine,
)
from analysis.safe_text import redact_urls
from settings import Settings

PAGE_SIZE = 100


class DiscoveryError(RuntimeError):
    """Discovery failed; the message is safe to show on a page (no secrets, no stack)."""


class BadEndpointError(BotoCoreError):
    """AWS_ENDPOINT_URL cannot be used: botocore raised ValueError (quoting the URL)."""

    fmt = "AWS_ENDPOINT_URL is not a usable URL ({reason})"


@dataclass
class DiscoveryResult:
    """Instances found in one source, plus entries skipped with the reason."""

    instances: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client with adaptive retries and short timeouts, honouring AWS_ENDPOINT_URL."""
    config = Config(
        retries={"mode": "adaptive", "max_attempts": settings.aws_max_attempts},
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
    )
    # A session per client: the default session caches credentials for the process, and
    # sessions are not thread-safe to share across the scheduler's and requests' threads.
    try:
        return boto3.session.Session().client(
            service,
            region_name=settings.aws_region or None,
            endpoint_url=settings.aws_endpoint_url or None,
            config=config,
        )
    except ValueError as exc:  # "Invalid endpoint: http://user:secret@...", a bad port
        raise BadEndpointError(reason=redact_urls(str(exc))[:200]) from None


def explain_aws_error(exc: Exception) -> str:
    """One sentence a user can act on, for the AWS failures we expect in the field.

    botocore quotes the endpoint URL in its messages, and AWS_ENDPOINT_URL may carry
    credentials (``http://user:secret@host``): they are redacted from every sentence.
    """
    return redact_urls(_describe_aws_error(exc))


def _describe_aws_error(exc: Exception) -> str:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE, or run on a host with an instance role")
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the AWS endpoint ({exc.kwargs.get('endpoint_url', 'unknown')})"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return (f"access denied by AWS ({code}): the credentials need "
                    "rds:DescribeDBInstances and rds:ListTagsForResource")
        if code in {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                    "UnrecognizedClientException"}:
            return f"AWS rejected the credentials ({code})"
        if code in {"401", "403"}:  # an error body botocore could not read (no AWS code)
            return (f"AWS refused the request (HTTP {code}): check the credentials and "
                    "their permissions")
        if code.isdigit():
            return f"AWS answered HTTP {code}"
        return f"AWS error {code}: {error.get('Message', '')}".strip()
    if isinstance(exc, BotoCoreError):
        return f"AWS call failed: {exc}"
    return f"unexpected error: {type(exc).__name__}"


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
