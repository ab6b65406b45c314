"""Refreshing the instance inventory: discover from each source, sync the store, keep status.

The status of the last refresh (per source: when, how many, or the error) is stored, so
`/healthz` and the pages of every gunicorn worker show the same thing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from collectors.inventory import COLLECTOR as INVENTORY
from collectors.inventory import DiscoveryError, DiscoveryResult, discover_rds, load_static
from collectors.rds_events import COLLECTOR as RDS_EVENTS
from jobs.rds_events import keep_recent_events
from jobs.registry import ScheduledJob
from settings import Settings
from store import Store
from store.flags import utc_iso

log = logging.getLogger(__name__)
STATUS_FLAG = "inventory.status"


class InventoryService:
    """Runs refreshes one at a time and records what each source returned."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._lock = threading.Lock()

    def _sources(self) -> dict[str, Any]:
        sources: dict[str, Any] = {}
        if self._settings.aws_configured:
            sources["rds"] = lambda: discover_rds(self._settings)
        if self._settings.static_instances_file:
            sources["static"] = lambda: load_static(self._settings.static_instances_file)
        return sources

    def refresh(self) -> dict[str, Any]:
        """Discover every configured source now; one failing source leaves the others intact."""
        with self._lock:
            now = utc_iso(datetime.now(UTC))
            status: dict[str, Any] = {"refreshed_at": now, "sources": {}}
            for name, discover in self._sources().items():
                try:
                    result: DiscoveryResult = discover()
                except DiscoveryError as exc:
                    log.warning("inventory source %s failed: %s", name, exc)
                    status["sources"][name] = {"ok": False, "error": str(exc)}
                    continue
                sync = self._store.instances.sync(name, result.instances, now)
                status["sources"][name] = {
                    "ok": True, "discovered": len(result.instances),
                    "marked_gone": sync.marked_gone, "skipped": result.skipped[:50],
                }
            if (status["sources"].get("rds") or {}).get("ok"):  # events only of RDS instances
                status["events"] = keep_recent_events(self._settings, self._store)
            self._store.flags.set(STATUS_FLAG, status)
        return self.summary(status)

    def summary(self, status: dict[str, Any] | None = None) -> dict[str, Any]:
        """Counts over live instances plus per-source errors, for the API and the pages."""
        status = status if status is not None else self.last_status()
        live = self._store.instances.list(include_gone=False)
        errors = {name: s["error"] for name, s in (status or {}).get("sources", {}).items()
                  if not s.get("ok")}
        return {
            "discovered": len(live),
            "collect_targets": sum(1 for i in live if i["collect_target"]),
            "realtime_targets": sum(1 for i in live if i["realtime_target"]),
            "errors": errors,
            # RDS events are extra: their failure is not a failed refresh (no 502 for it)
            "events_error": ((status or {}).get("events") or {}).get("error"),
            "refreshed_at": (status or {}).get("refreshed_at"),
        }

    def last_status(self) -> dict[str, Any] | None:
        return self._store.flags.get(STATUS_FLAG)

    def aws_health(self) -> dict[str, Any]:
        """The `aws` block of /healthz."""
        if not self._settings.aws_configured:
            return {"configured": False,
                    "message": "AWS_REGION is not set: RDS discovery is off"}
        rds = ((self.last_status() or {}).get("sources") or {}).get("rds")
        health: dict[str, Any] = {"configured": True, "region": self._settings.aws_region,
                                  "endpoint_override": bool(self._settings.aws_endpoint_url)}
        if rds is None:
            health["ok"] = None
            health["message"] = "no refresh has run yet"
        else:
            health["ok"] = rds["ok"]
            if not rds["ok"]:
                health["error"] = rds["error"]
        return health


def _refresh_every(settings: Settings) -> float | None:
    if not INVENTORY.is_configured(settings):
        return None
    return settings.inventory_refresh_minutes * 60


SCHEDULED_JOBS = (
    ScheduledJob("inventory-refresh", _refresh_every,
                 task=lambda services: services.inventory.refresh,
                 reads=(INVENTORY.name, RDS_EVENTS.name), run_now=True),
)
