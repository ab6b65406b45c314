"""Small persisted switches and values (e.g. real-time capture on/off), and process leases.

Flags live in the store so a switch survives a restart and every gunicorn worker sees it.
Leases make sure only one process runs the scheduler (and one run per collection period): a
lease is a named owner with an expiry, taken and renewed with `acquire_lease`, handed over at
once with `release_lease`, and otherwise free again when it expires (its owner died).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.units import utc_iso
from store.backend import Backend

__all__ = ["FlagRepository", "utc_iso"]  # utc_iso re-exported: its old home

COLLECTION = "flags"
LEASES = "leases"  # the adapters keep leases in their own collection
INDEXES = ()


class FlagRepository:
    """Named JSON values plus leases."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def get(self, name: str, default: Any = None) -> Any:
        doc = self._backend.get(COLLECTION, name)
        return default if doc is None else doc.get("value", default)

    def set(self, name: str, value: Any) -> None:
        self._backend.put(COLLECTION, name, {"value": value})

    def acquire_lease(self, name: str, owner: str, ttl_seconds: float,
                      now: datetime | None = None) -> bool:
        """Take or renew the lease; False while another live owner holds it."""
        moment = now or datetime.now(UTC)
        expires = moment + timedelta(seconds=ttl_seconds)
        return self._backend.acquire_lease(name, owner, utc_iso(moment), utc_iso(expires))

    def release_lease(self, name: str, owner: str) -> bool:
        """Free the lease if `owner` holds it, so the next process takes it without waiting
        for it to expire; False when it was not ours (already expired and taken, or free)."""
        return self._backend.release_lease(name, owner)

    def lease_holder(self, name: str, now: datetime | None = None) -> str | None:
        """Who holds the lease now, or None when it is free or expired (its owner is gone)."""
        doc = self._backend.get(LEASES, name)
        if doc is None or doc.get("expires", "") < utc_iso(now or datetime.now(UTC)):
            return None
        return doc.get("owner")
