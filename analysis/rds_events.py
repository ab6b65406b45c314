"""What an RDS event means for a DBA reading a month's numbers: its kind, a short label, and
whether it belongs on a time chart.

A slow month often has a cause outside the SQL: a Multi-AZ failover (cold buffer pool on the
new primary), a restart, a parameter group or engine version change, maintenance.  RDS says
so in ``describe_events`` (kept 14 days), as free text plus ``EventCategories``.  The API
gives no event id, so the kind is read from the categories first and the message second.
Backups, snapshots, notifications that something *could* be done ("a minor version upgrade
is available") and the like are kept (``other``) but not drawn: a chart with a marker per
nightly backup hides the one failover that matters.  Pure: no I/O.

>>> classify(["failover"], "A Multi-AZ failover has completed.")
'failover'
>>> classify(["configuration change"], "Updated to use DBParameterGroup orders-tuned")
'parameters'
>>> classify(["maintenance", "notification"],
...          "The DB instance has a DB engine minor version upgrade available.")
'other'
>>> event_line({"time": "2026-10-14T03:12:00.000000Z", "instance_id": "orders-prd-1",
...             "kind": "failover", "message": "Multi-AZ instance failover completed"})
'2026-10-14 03:12:00 UTC · orders-prd-1 · failover: Multi-AZ instance failover completed'
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["KINDS", "MARKED", "OTHER", "classify", "event_line", "label", "period_window",
           "shown_time"]

OTHER = "other"
# Kinds drawn on the charts, in legend order (worst first), with their short labels.
KINDS: dict[str, str] = {
    "failover": "failover",
    "failure": "failure",
    "restart": "restart",
    "recovery": "recovery",
    "maintenance": "maintenance",
    "engine": "engine upgrade",
    "parameters": "parameter change",
    "configuration": "configuration change",
}
MARKED = frozenset(KINDS)

_FAILOVER = re.compile(r"fail[ -]?over", re.I)
_PARAMETERS = re.compile(r"parameter", re.I)
_ENGINE = re.compile(r"upgrad|engine version|(?:minor|major) version|patch(?:ed|ing)\b", re.I)
# Announcements of something that has not happened (yet): not an event on the timeline.
_ANNOUNCEMENT = re.compile(
    r"\b(?:upgrades?|versions?|updates?|patch(?:es)?)\s+(?:is\s+|are\s+)?available\b"
    r"|\bavailable\s+for\b|\bdelayed\b|\bscheduled\b|\bwill\b|\bpostponed\b", re.I)
_STOP_START = re.compile(r"\b(?:restart(?:ed|ing)?|reboot(?:ed|ing)?|shut ?down|stopp(?:ed|ing)"
                         r"|start(?:ed|ing))\b", re.I)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def classify(categories: Iterable[str] | None, message: str | None) -> str:
    """The kind of one event (a key of :data:`KINDS`, or :data:`OTHER`).

    >>> classify(["availability"], "DB instance restarted")
    'restart'
    >>> classify(["notification"], "DB instance stopped")
    'restart'
    >>> classify(["maintenance"], "Database instance engine version upgrade started.")
    'engine'
    >>> classify(["backup"], "Finished DB instance backup")
    'other'
    """
    cats = {c.strip().lower() for c in categories or () if isinstance(c, str)}
    text = message or ""
    if "failover" in cats or _FAILOVER.search(text):
        return "failover"
    if cats & {"failure", "low storage"}:
        return "failure"
    if cats & {"recovery", "restoration"}:
        return "recovery"
    if "availability" in cats:
        return "restart"
    announcing = bool(_ANNOUNCEMENT.search(text))
    if cats & {"configuration change", "maintenance", "notification", "security patching"}:
        if announcing:
            return OTHER
        if _PARAMETERS.search(text):
            return "parameters"
        if _ENGINE.search(text):
            return "engine"
        if cats & {"maintenance", "security patching"}:
            return "maintenance"
        if "configuration change" in cats:
            return "configuration"
        if _STOP_START.search(text):  # "DB instance stopped/started" are notifications
            return "restart"
    return OTHER


def label(kind: str) -> str:
    """The short words for a kind ("parameter change"); an unknown kind reads as itself."""
    return KINDS.get(kind, kind)


def shown_time(iso: str) -> str:
    """A stored time (``2026-10-14T03:12:00.000000Z``) as pages show it:
    ``2026-10-14 03:12:00 UTC``."""
    return iso[:19].replace("T", " ") + " UTC"


def event_line(event: Mapping[str, Any]) -> str:
    """One event in one line, for hover text and lists (not escaped: the caller escapes for
    its medium)."""
    message = " ".join(str(event.get("message") or "").split())
    return (f"{shown_time(event['time'])} · {event['instance_id']} · "
            f"{label(event.get('kind') or OTHER)}: {message}")


def period_window(key: str) -> tuple[datetime, datetime] | None:
    """The UTC instants a stored period covers, end exclusive: ``2026-10`` or
    ``2026-10-01_2026-10-15``; None for anything else.

    >>> [t.isoformat() for t in period_window("2026-02")]
    ['2026-02-01T00:00:00+00:00', '2026-03-01T00:00:00+00:00']
    """
    match = _MONTH.match(key or "")
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return None
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
    else:
        start, sep, end = (key or "").partition("_")
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            return None
        if not sep or last < first:
            return None
    begin = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return begin, datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
