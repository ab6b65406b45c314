"""When the monthly collection runs: `COLLECT_MONTHLY_AT` ("D HH:MM", UTC) read and reasoned
about, with no clock of its own (the job passes `now`), so every case is testable.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from analysis.period import previous_month

__all__ = ["MonthlyAt", "due_month", "next_run", "parse_monthly_at"]

_SPEC = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*$")


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
