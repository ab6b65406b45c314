"""One way to write a duration for people: 410 ms, 2.85 s, 12 m 5 s, 3 h 48 m, 2 d 3 h.

Pure, shared by pages, exports and reports, so the same number reads the same everywhere.
Three significant figures below a minute; two units above it (the second is rounded down, so
"3 h 48 m" never reads as more than it was).

>>> [human_duration(s) for s in (0.00042, 0.41, 2.849, 59.99, 725, 13711.851, 183600)]
['0.42 ms', '410 ms', '2.85 s', '60.0 s', '12 m 5 s', '3 h 48 m', '2 d 3 h']
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["human_duration", "short_query_id", "status_label", "utc_iso"]

# a stored status as people say it; assets/dashAgGridFunctions.js holds the same words
STATUS_LABELS = {"started": "starting", "in_progress": "running", "completed": "completed",
                 "error": "failed", "completed with warnings": "completed with warnings"}


def status_label(status: str | None) -> str:
    """"in_progress" -> "running"; an unknown status with its _ and - read as spaces.

    >>> [status_label(s) for s in ("error", "in_progress", "backing-up", None)]
    ['failed', 'running', 'backing up', '']
    """
    if not status:
        return ""
    return STATUS_LABELS.get(status) or status.replace("_", " ").replace("-", " ")


def short_query_id(query_id: str) -> str:
    """A query id as pt-query-digest's reports show it: 0x and 16 upper-case hex digits (the
    rightmost, as pt 2 kept them); pages show the full id on hover.

    >>> short_query_id("db601627fa8c63f6a13849d52500369b")
    '0xA13849D52500369B'
    """
    return "0x" + query_id[-16:].upper()


def _three_figures(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def human_duration(seconds: float | None) -> str:
    """A duration in seconds, in the largest units that fit; "—" for None."""
    if seconds is None:
        return "—"
    if seconds < 0:
        return "-" + human_duration(-seconds)
    if seconds == 0:
        return "0 s"
    if seconds < 1:
        return f"{_three_figures(seconds * 1000)} ms"
    if seconds < 60:
        return f"{_three_figures(seconds)} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} m {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} m"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def utc_iso(moment: datetime) -> str:
    """The one stored timestamp format: fixed width, so text order is time order; always UTC.

    Here, in a pure module, so every layer (collectors, store, jobs) writes the same text.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
