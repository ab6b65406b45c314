"""Shared AWS plumbing for every collector: one way to build a client, one way to word an error.

Each reader (inventory, CloudWatch Logs, parameter groups, RDS events) gets its clients here,
so AWS_ENDPOINT_URL, retries and timeouts are honoured the same way everywhere, and every
AWS failure becomes one sentence with the endpoint's credentials redacted.
"""

from __future__ import annotations

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

from analysis.safe_text import redact_urls
from settings import Settings


class BadEndpointError(BotoCoreError):
    """AWS_ENDPOINT_URL cannot be used: botocore raised ValueError (quoting the URL)."""

    fmt = "AWS_ENDPOINT_URL is not a usable URL ({reason})"


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
