"""When the scheduled collections run: `COLLECT_MONTHLY_AT` ("D HH:MM", UTC) and
`COLLECT_DAILY_AT` ("HH:MM", UTC) read and reasoned about, with no clock of its own (the job
passes `now`), so every case is testable.

The rule: in each month, from day D at HH:MM UTC on, the month before is due until a scheduled
run of it has ended. A process that was down at that minute catches up at its next tick the
same month; a month whose due time has not come yet waits. Days run 1-28, so every month has
the day.

>>> spec = parse_monthly_at("1 02:00")
>>> spec.describe()
'the previous month, on day 1 of each month at 02:00 UTC'
>>> due_month(spec, datetime(2026, 12, 1, 1, 59, tzinfo=UTC)) is None
True
>>> due_month(spec, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
'2026-11'
>>> next_run(spec, datetime(2026, 12, 1, 2, 0, tzinfo=UTC), done="2026-11").isoformat()
'2027-01-01T02:00:00+00:00'

The daily rule: from HH:MM UTC on, yesterday (a whole UTC day) is due, and so is every day
after the last one done that was missed (a leader that was down for three nights catches up
on them, oldest first, at most CATCH_UP_DAYS back). With nothing done yet, the month of the
latest due day is filled from its 1st, so the month is whole from the start.

>>> daily = parse_daily_at("02:30")
>>> [d.isoformat() for d in due_days(daily, datetime(2026, 12, 18, 3, 0, tzinfo=UTC),
...                                  done=date(2026, 12, 15))]
['2026-12-16', '2026-12-17']
>>> due_days(daily, datetime(2026, 12, 18, 2, 29, tzinfo=UTC), done=date(2026, 12, 16))
[]
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from analysis.period import period_label, previous_month

__all__ = ["CATCH_UP_DAYS", "DailyAt", "MonthlyAt", "due_days", "due_month",
           "month_days_label", "next_daily_run", "next_run", "parse_daily_at",
           "parse_monthly_at"]

_SPEC = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*$")
_DAILY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
# A leader down longer than this skips the older days (collect their month whole instead):
# a month of day runs is about one monthly run's reading.
CATCH_UP_DAYS = 31


@dataclass(frozen=True)
class MonthlyAt:
    """Day of the month (1-28) and time of day (UTC) the previous month is collected."""

    day: int
    hour: int
    minute: int

    def fire_time(self, year: int, month: int) -> datetime:
        return datetime(year, month, self.day, self.hour, self.minute, tzinfo=UTC)

    def describe(self) -> str:
        return (f"the previous month, on day {self.day} of each month at "
                f"{self.hour:02d}:{self.minute:02d} UTC")

    def text(self) -> str:
        return f"{self.day} {self.hour:02d}:{self.minute:02d}"


def parse_monthly_at(raw: str) -> MonthlyAt | None:
    """"1 02:00" -> MonthlyAt(1, 2, 0); "" -> None (no monthly collection). Raises ValueError
    with what is expected."""
    if not raw.strip():
        return None
    match = _SPEC.match(raw)
    if not match:
        raise ValueError(f"expected 'DAY HH:MM' (UTC), e.g. '1 02:00', got {raw.strip()[:40]!r}")
    day, hour, minute = (int(g) for g in match.groups())
    if not 1 <= day <= 28:
        raise ValueError(f"the day must be 1-28 (every month has it), got {day}")
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {hour:02d}:{minute:02d}")
    return MonthlyAt(day, hour, minute)


def due_month(spec: MonthlyAt, now: datetime, done: str | None = None) -> str | None:
    """The month to collect now ("YYYY-MM"), or None: the month before `now`'s month once
    this month's fire time has passed, unless `done` (the last month a scheduled run
    ended) is it already."""
    if now < spec.fire_time(now.year, now.month):
        return None
    month = previous_month(now.date()).key
    return None if done == month else month


def next_run(spec: MonthlyAt, now: datetime, done: str | None = None) -> datetime:
    """When the next scheduled run starts: now if one is due, else the next fire time."""
    if due_month(spec, now, done) is not None:
        return now
    fire = spec.fire_time(now.year, now.month)
    if now < fire:
        return fire
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return spec.fire_time(year, month)


@dataclass(frozen=True)
class DailyAt:
    """Time of day (UTC) from which yesterday is collected into its month."""

    hour: int
    minute: int

    def fire_time(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=UTC)

    def describe(self) -> str:
        return (f"yesterday (UTC) into its month, every day at "
                f"{self.hour:02d}:{self.minute:02d} UTC")

    def text(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


def parse_daily_at(raw: str) -> DailyAt | None:
    """"02:30" -> DailyAt(2, 30); "" -> None (no daily collection). Raises ValueError with
    what is expected."""
    if not raw.strip():
        return None
    match = _DAILY.match(raw)
    if not match:
        raise ValueError(f"expected 'HH:MM' (UTC), e.g. '02:30', got {raw.strip()[:40]!r}")
    hour, minute = (int(g) for g in match.groups())
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {hour:02d}:{minute:02d}")
    return DailyAt(hour, minute)


def _latest_due(spec: DailyAt, now: datetime) -> date:
    """Yesterday once today's fire time has passed, else the day before."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=1 if now >= spec.fire_time(today) else 2)


def due_days(spec: DailyAt, now: datetime, done: date | None = None,
             limit: int = CATCH_UP_DAYS) -> list[date]:
    """The days to collect now, oldest first: those after `done` (the last day settled) up to
    the latest due one, at most `limit` of the newest; with nothing done yet, the latest due
    day's month from its 1st."""
    last = _latest_due(spec, now)
    first = last.replace(day=1) if done is None else done + timedelta(days=1)
    first = max(first, last - timedelta(days=limit - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def next_daily_run(spec: DailyAt, now: datetime, done: date | None = None) -> datetime:
    """When the next day run starts: now if a day is due, else the next fire time."""
    if due_days(spec, now, done):
        return now
    today = now.astimezone(UTC).date()
    fire = spec.fire_time(today)
    return fire if now < fire else spec.fire_time(today + timedelta(days=1))


def month_days_label(month: str, days_by_instance: Mapping[str, list[str]]) -> str | None:
    """How much of a month built from days is in: "December 2026 · 17 of 31 days, collected
    daily", or None when no instance's month was built from days. Instances with fewer days
    (a day that failed for them) are counted, so a gap is never hidden.

    >>> month_days_label("2026-02", {"a": ["2026-02-01", "2026-02-02"], "b": ["2026-02-01"]})
    'February 2026 · 2 of 28 days, collected daily (1 instance has fewer)'
    """
    if not days_by_instance:
        return None
    year, number = int(month[:4]), int(month[5:7])
    length = calendar.monthrange(year, number)[1]
    most = max(len(days) for days in days_by_instance.values())
    fewer = sum(1 for days in days_by_instance.values() if len(days) < most)
    label = f"{period_label(month)} · {most} of {length} days, collected daily"
    if fewer:
        label += f" ({fewer} instance{'s have' if fewer > 1 else ' has'} fewer)"
    return label
