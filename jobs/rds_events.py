"""Keep the region's RDS events, read with every inventory refresh, and hand them to charts.

AWS answers ``describe_events`` for 14 days only, while the dashboard shows whole past
months: so each refresh reads from where the last read ended (less :data:`OVERLAP`, since an
event can be listed a little after its time), the first one the full 14 days, and the store
keeps them (deduplicated by the store's event id).  Only instances discovered on RDS get
events; self-managed ones have none.  A failure is one sentence in the refresh's status and
never stops the refresh: the instances matter more than their events.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.rds_events import MARKED, classify, label, period_window
from collectors.rds_events import RETENTION, EventReadError, read_events
from settings import Settings
from store import Store, StoreError
from store.flags import utc_iso

log = logging.getLogger(__name__)

__all__ = ["OVERLAP", "keep_recent_events", "period_events"]

OVERLAP = timedelta(hours=1)


def _parse(iso: str) -> datetime | None:
    try:
        return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def keep_recent_events(settings: Settings, store: Store,
                       now: datetime | None = None) -> dict[str, Any]:
    """Read the events since the last read and keep those of RDS-discovered instances.

    Returns the status the inventory keeps: ``{"ok": True, "kept": n, "read_from",
    "read_until"}`` or ``{"ok": False, "error": sentence}``; never raises.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        ours = {i["instance_id"] for i in store.instances.list()
                if i.get("source", "rds") == "rds"}
        if not ours:
            return {"ok": True, "kept": 0, "read_from": None, "read_until": None}
        start = now - RETENTION
        last = _parse(store.rds_events.read_until() or "")
        if last is not None:
            start = max(start, last - OVERLAP)
        events = read_events(settings, start, now)
        kept = store.rds_events.save(
            {"instance_id": e["instance_id"], "time": utc_iso(e["time"]),
             "categories": e["categories"], "message": e["message"],
             "kind": classify(e["categories"], e["message"])}
            for e in events if e["instance_id"] in ours)
        store.rds_events.save_read_until(utc_iso(now))
    except EventReadError as exc:
        log.warning("RDS events not read: %s", exc)
        return {"ok": False, "error": str(exc)}
    except StoreError as exc:
        log.warning("RDS events not kept: %s", exc)
        return {"ok": False, "error": f"RDS events could not be stored: {exc}"}
    return {"ok": True, "kept": kept, "read_from": utc_iso(start), "read_until": utc_iso(now)}


def period_events(store: Store, period: str, instance_ids: Collection[str] | None = None,
                  *, marked_only: bool = True) -> list[dict[str, Any]]:
    """The kept events of a stored period (a month or a day range), oldest first, each with
    its ``label``; only the kinds drawn on charts unless ``marked_only`` is False.  An
    unknown period has none."""
    window = period_window(period)
    if window is None:
        return []
    events = store.rds_events.between(utc_iso(window[0]), utc_iso(window[1]), instance_ids,
                                      kinds=MARKED if marked_only else None)
    for event in events:
        event["label"] = label(event.get("kind") or "other")
    return events
