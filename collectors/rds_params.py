"""What RDS says about an instance's slow log: its CloudWatch Logs exports and log parameters.

Read only (``describe_db_instances``, ``describe_db_clusters``, ``describe_db_parameters``,
``describe_db_cluster_parameters``), through the same clients as discovery
(:func:`collectors.aws.aws_client`: AWS_ENDPOINT_URL, adaptive retries, short
timeouts).  Aurora exports its logs per cluster and takes log parameters from the cluster
parameter group, overridden by the instance's own group: both are read.

Failures become one :class:`CoverageReadError` sentence a user can act on (no secrets).  When
the instance answers but a parameter group does not, the exports are still returned and the
parameters carry the reason, so one unreadable group does not hide the other checks.  Nothing
here writes to the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from analysis.coverage import PARAMETERS
from analysis.safe_text import redact_urls
from collectors.aws import aws_client, explain_aws_error
from collectors.base import AWS_NEEDS, Collector, uses_aws
from settings import Settings

__all__ = ["CoverageReadError", "read_log_settings"]

PERMISSIONS = ("rds:DescribeDBInstances, rds:DescribeDBClusters, rds:DescribeDBParameters "
               "and rds:DescribeDBClusterParameters")


class CoverageReadError(RuntimeError):
    """RDS could not tell the instance's log settings; the message is safe to show."""


def _sentence(exc: Exception, what: str) -> str:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return (f"access denied by AWS reading {what} ({code}): the credentials need "
                    f"{PERMISSIONS}")
        if code in {"DBInstanceNotFound", "DBInstanceNotFoundFault"}:
            return f"RDS does not know {what}: refresh the instances, it may have been deleted"
        if code in {"DBParameterGroupNotFound", "DBParameterGroupNotFoundFault",
                    "DBClusterParameterGroupNotFound", "DBClusterParameterGroupNotFoundFault"}:
            return f"RDS cannot find {what}: refresh the instances and check it again"
        if code in {"DBClusterNotFoundFault", "DBClusterNotFound"}:
            return f"RDS does not know {what}: refresh the instances"
    return f"{explain_aws_error(exc)} (reading {what})"


def read_log_settings(settings: Settings, instance_id: str) -> dict[str, Any]:
    """The instance's slow-log settings as RDS reports them.

    ``{"exports": [...], "exports_from": "instance"|"cluster", "parameter_group": name,
    "cluster_parameter_group": name|None, "parameters": {name: value|None} | None,
    "parameters_error": sentence|None}``; parameters hold only :data:`PARAMETERS`, a value
    None meaning "the engine default".  Raises :class:`CoverageReadError` when the instance
    itself cannot be read.
    """
    try:
        client = aws_client(settings, "rds")
        [record] = client.describe_db_instances(
            DBInstanceIdentifier=instance_id)["DBInstances"][:1] or [None]
    except (BotoCoreError, ClientError) as exc:
        raise CoverageReadError(_sentence(exc, f"instance {instance_id}")) from None
    except ValueError as exc:  # urllib3 on a bad AWS_ENDPOINT_URL
        raise CoverageReadError(f"AWS call failed: {redact_urls(str(exc))[:200]}") from None
    if record is None:
        raise CoverageReadError(f"RDS does not know instance {instance_id}: refresh the "
                                "instances, it may have been deleted")
    groups = [g.get("DBParameterGroupName") for g in record.get("DBParameterGroups") or []]
    answer: dict[str, Any] = {
        "exports": list(record.get("EnabledCloudwatchLogsExports") or []),
        "exports_from": "instance",
        "parameter_group": next((g for g in groups if g), ""),
        "cluster_parameter_group": None,
        "parameters": None,
        "parameters_error": None,
    }
    cluster_id = record.get("DBClusterIdentifier")
    try:
        parameters: dict[str, str | None] = {}
        if cluster_id:
            cluster = client.describe_db_clusters(
                DBClusterIdentifier=cluster_id)["DBClusters"][0]
            answer["exports"] = list(cluster.get("EnabledCloudwatchLogsExports") or [])
            answer["exports_from"] = "cluster"
            answer["cluster_parameter_group"] = cluster.get("DBClusterParameterGroup")
            if answer["cluster_parameter_group"]:
                parameters.update(_read(client, "describe_db_cluster_parameters",
                                        DBClusterParameterGroupName=answer[
                                            "cluster_parameter_group"]))
        if answer["parameter_group"]:
            # The instance's group overrides the cluster's, where it sets a value.
            own = _read(client, "describe_db_parameters",
                        DBParameterGroupName=answer["parameter_group"])
            parameters.update({k: v for k, v in own.items() if v is not None or k not in
                               parameters})
        answer["parameters"] = parameters
    except (BotoCoreError, ClientError) as exc:
        what = (f"parameter group {answer['parameter_group']}" if answer["parameter_group"]
                else f"the parameters of {instance_id}")
        answer["parameters_error"] = _sentence(exc, what)
    except ValueError as exc:
        answer["parameters_error"] = f"AWS call failed: {redact_urls(str(exc))[:200]}"
    return answer


def _read(client: Any, operation: str, **kwargs: str) -> dict[str, str | None]:
    """The log parameters of one group (paginated: a group lists ~400 parameters)."""
    found: dict[str, str | None] = {}
    for page in client.get_paginator(operation).paginate(**kwargs):
        found.update(_pick(page.get("Parameters") or []))
    return found


def _pick(parameters: Iterable[dict[str, Any]]) -> dict[str, str | None]:
    return {p["ParameterName"]: p.get("ParameterValue") for p in parameters
            if p.get("ParameterName") in PARAMETERS}


COLLECTOR = Collector(
    name="rds-log-settings",
    title="Slow-log settings (RDS parameter groups)",
    reads=("whether each instance exports its slow log and its slow-log parameters "
           "(rds:DescribeDBInstances, rds:DescribeDBParameters)"),
    needs=AWS_NEEDS,
    is_configured=uses_aws,
)
