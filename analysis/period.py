"""Collection periods: the previous calendar month by default, a named month, or a date range.

A period has a `key` under which its digests are stored: `YYYY-MM` for a whole month, and
`YYYY-MM-DD_YYYY-MM-DD` for any other range, so re-collecting the same period replaces the
same set and never double counts.

>>> previous_month(date(2026, 1, 15)).key
'2025-12'
>>> parse_period({"month": "2026-02"}).as_dict()
{'start_date': '2026-02-01', 'end_date': '2026-02-28'}
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analysis.safe_text import excerpt

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 92


class PeriodError(ValueError):
    """The request names an impossible period; the message says what is accepted."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def key(self) -> str:
        last_day = calendar.monthrange(self.start.year, self.start.month)[1]
        if self.start.day == 1 and self.end == self.start.replace(day=last_day):
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def start_ms(self) -> int:
        return int(datetime(self.start.year, self.start.month, self.start.day,
                            tzinfo=UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """Exclusive end: midnight after the last day."""
        after = self.end + timedelta(days=1)
        return int(datetime(after.year, after.month, after.day, tzinfo=UTC).timestamp() * 1000)

    def as_dict(self) -> dict[str, str]:
        return {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}


def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last))


def previous_month(today: date) -> Period:
    first = today.replace(day=1) - timedelta(days=1)
    return month_period(first.year, first.month)


def _parse_date(name: str, value: Any) -> date:
    if not isinstance(value, str):
        raise PeriodError(f"{name} must be a date string YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"{name} must be a date YYYY-MM-DD, got {excerpt(value)}") from None


def parse_period(body: Mapping[str, Any], today: date | None = None) -> Period:
    """Read `month` or `start_date`/`end_date` from a request body; default: previous month."""
    today = today or datetime.now(UTC).date()
    month = body.get("month")
    has_range = "start_date" in body or "end_date" in body
    if month is not None and has_range:
        raise PeriodError("give either month or start_date/end_date, not both")
    if month is not None:
        match = _MONTH.match(month) if isinstance(month, str) else None
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise PeriodError(f"month must look like YYYY-MM, got {excerpt(month)}")
        period = month_period(int(match.group(1)), int(match.group(2)))
    elif has_range:
        if "start_date" not in body or "end_date" not in body:
            raise PeriodError("start_date and end_date go together")
        period = Period(_parse_date("start_date", body["start_date"]),
                        _parse_date("end_date", body["end_date"]))
        if period.end < period.start:
            raise PeriodError("end_date is before start_date")
        if (period.end - period.start).days + 1 > MAX_DAYS:
            raise PeriodError(f"a period spans at most {MAX_DAYS} days")
    else:
        return previous_month(today)
    if period.start > today:
        raise PeriodError(f"the period starts in the future ({period.start.isoformat()})")
    return period


def recent_months(today: date, count: int = 12) -> list[Period]:
    """The `count` whole months before the current one, newest first (for month pickers)."""
    months = []
    cursor = today
    for _ in range(count):
        period = previous_month(cursor)
        months.append(period)
        cursor = period.start
    return months


def period_label(key: str) -> str:
    """`2026-10` -> `October 2026`; a day range `2026-10-01_2026-10-15` -> `2026-10-01 – …`.

    The one way every page, export and API answer names a period."""
    if len(key) == 7 and key[4] == "-" and key[:4].isdigit() and key[5:].isdigit():
        month = int(key[5:])
        if 1 <= month <= 12:
            return f"{calendar.month_name[month]} {key[:4]}"
    if "_" in key:
        start, _, end = key.partition("_")
        return f"{start} – {end}"
    return key
