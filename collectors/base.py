"""What every collector declares: its name, whether this deployment can use it, what it reads.

The shape is Redash's query runners: one module per source, each with a small description the
rest of the app can list and ask, so adding a source is one file in `collectors/` (with a
`COLLECTOR`), one job in `jobs/` and a test, and nothing hand-wired elsewhere. The
registry (collectors/registry.py) finds the modules; `GET /api/collectors` and `/healthz` say
which sources are configured and, for the others, what to set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from settings import Settings


@dataclass(frozen=True)
class Collector:
    """One source of data, described; the reading functions live beside it in its module."""

    name: str  # stable id, used by jobs and the API: "cloudwatch-slowlog"
    title: str  # for people: "Slow log (CloudWatch Logs)"
    reads: str  # one sentence: what it reads, from where, with which access
    needs: str  # one sentence: what to set when it is not configured
    is_configured: Callable[[Settings], bool]

    def status(self, settings: Settings) -> dict[str, Any]:
        """{"name", "title", "reads", "configured", "needs"}; `needs` only when unconfigured."""
        configured = bool(self.is_configured(settings))
        return {"name": self.name, "title": self.title, "reads": self.reads,
                "configured": configured, "needs": None if configured else self.needs}


def uses_aws(settings: Settings) -> bool:
    """AWS credentials and a region are set (or an endpoint such as the demo's emulator)."""
    return settings.aws_configured


def uses_mysql(settings: Settings) -> bool:
    """A monitoring account is set for the instances: MYSQL_USER, or per instance in the
    static instances file (whose entries may name their own account)."""
    return bool(settings.mysql_user or settings.static_instances_file)


AWS_NEEDS = "set AWS_REGION and AWS credentials (or run on a host with an instance role)"
MYSQL_NEEDS = ("set MYSQL_USER and MYSQL_PASSWORD to a read-only monitoring account "
               "(PROCESS and SELECT), or an account per instance in STATIC_INSTANCES_FILE")
