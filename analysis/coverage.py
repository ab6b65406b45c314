"""Slow-log coverage of one instance: does the slow log catch everything, and does it reach us?

A month's numbers are only as good as the log behind them: an instance that does not export
``slowquery`` to CloudWatch Logs, writes its slow log to a table, logs only statements slower
than 10 s, or had days without a single event, looks *fast* on the dashboard when it is merely
*unseen*.  This module turns what is known about an instance (its log exports and parameters
as RDS reports them, the months collected, the per-day totals, the statements cut short) into
``checks`` (what was found, per check) and ``problems`` (one sentence each, saying what to
change).

Rules are data: :data:`RULES` lists one small function per check, each returning the check's
entry and, when something is wrong, the problems it finds.  A check whose source could not be
read is ``"unreachable"`` (with the reason) and the others still answer.  Pure: no I/O.

>>> report = evaluate(CoverageInputs("db1", date(2026, 10, 3), exports=["slowquery"],
...                                  parameters={"slow_query_log": "1", "long_query_time": "1",
...                                              "log_output": "FILE"}))
>>> [p["code"] for p in report["problems"]]
[]
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

__all__ = [
    "CODES",
    "INFO_PARAMETERS",
    "LONG_QUERY_TIME_MAX",
    "PARAMETERS",
    "RULES",
    "CoverageInputs",
    "CoverageRule",
    "evaluate",
    "missing_days",
]

LONG_QUERY_TIME_MAX = 2.0  # seconds; above this, the slow log misses the statements that add up
MAX_DAYS_LISTED = 5  # a sentence names at most this many missing days
# RDS leaves a parameter without a value when the engine's default applies; these are MySQL's
# defaults (and RDS's): the slow log off, 10 s, to a file.
ENGINE_DEFAULTS = {"slow_query_log": "0", "long_query_time": "10", "log_output": "FILE"}
INFO_PARAMETERS = ("log_slow_extra", "log_slow_verbosity", "log_queries_not_using_indexes")
PARAMETERS = ("slow_query_log", "long_query_time", "log_output", *INFO_PARAMETERS)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class CoverageInputs:
    """Everything the rules read, gathered by ``jobs.coverage``.

    ``exports`` / ``parameters`` are None when they could not be read (``aws_error`` /
    ``parameters_error`` say why) or do not apply (``source`` is not ``"rds"``).
    ``parameters`` maps names to values as RDS lists them (None: the engine default).
    ``daily`` is {period: {day: seconds}}; ``truncated`` is {period: events cut}.
    """

    instance_id: str
    today: date
    source: str = "rds"
    exports: list[str] | None = None
    exports_from: str = "instance"  # "cluster" for Aurora: the cluster exports the logs
    aws_error: str | None = None
    parameters: Mapping[str, str | None] | None = None
    parameters_error: str | None = None
    parameter_group: str = ""
    periods: list[str] = field(default_factory=list)
    daily: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    truncated: Mapping[str, int] = field(default_factory=dict)


Problem = dict[str, str]
Check = tuple[dict[str, Any], list[Problem]]


@dataclass(frozen=True)
class CoverageRule:
    """One check: its key in ``checks``, the problem codes it can raise, and the function."""

    key: str
    codes: tuple[str, ...]
    check: Callable[[CoverageInputs], Check]


RULES: list[CoverageRule] = []


def rule(key: str, *codes: str) -> Callable[[Callable[[CoverageInputs], Check]],
                                             Callable[[CoverageInputs], Check]]:
    """Add the decorated check to :data:`RULES` (in definition order: the problems' order)."""
    def register(check: Callable[[CoverageInputs], Check]) -> Callable[[CoverageInputs], Check]:
        RULES.append(CoverageRule(key, codes, check))
        return check
    return register


def evaluate(inputs: CoverageInputs) -> dict[str, Any]:
    """The API's answer: ``{"instance_id", "checks": {...}, "problems": [{code, message}]}``."""
    checks: dict[str, Any] = {}
    problems: list[Problem] = []
    for item in RULES:
        entry, found = item.check(inputs)
        checks[item.key] = entry
        problems.extend(found)
    return {"instance_id": inputs.instance_id, "checks": checks, "problems": problems}


def _problem(code: str, message: str) -> Problem:
    return {"code": code, "message": message}


def _not_rds(inputs: CoverageInputs) -> dict[str, Any] | None:
    if inputs.source != "rds":
        return {"status": "not_applicable",
                "detail": "not an RDS instance: its log settings are not read from AWS"}
    return None


def _group(inputs: CoverageInputs) -> str:
    return f"parameter group {inputs.parameter_group}" if inputs.parameter_group \
        else "its parameter group"


def _parameter(inputs: CoverageInputs, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """(an entry to answer with instead, or None) and the value in force."""
    skip = _not_rds(inputs)
    if skip:
        return skip, None
    if inputs.parameters is None:
        return {"status": "unreachable",
                "detail": inputs.parameters_error or inputs.aws_error
                or "the parameter group has not been read yet"}, None
    value = inputs.parameters.get(name)
    if value is None or value == "":
        value = ENGINE_DEFAULTS.get(name)
    return None, value


# ---- the rules (definition order is the order of the problems) ---------------------------------
@rule("slowquery_export", "slowquery_not_exported")
def check_export(inputs: CoverageInputs) -> Check:
    skip = _not_rds(inputs)
    if skip:
        return skip, []
    if inputs.exports is None:
        return {"status": "unreachable",
                "detail": inputs.aws_error or "the instance has not been read yet"}, []
    exports = sorted(inputs.exports)
    if "slowquery" in exports:
        return {"status": "ok", "value": exports, "from": inputs.exports_from}, []
    target = ("the cluster's (Aurora exports its logs per cluster)"
              if inputs.exports_from == "cluster" else "the instance's")
    return {"status": "problem", "value": exports, "from": inputs.exports_from}, [_problem(
        "slowquery_not_exported",
        f"Add slowquery to {target} CloudWatch Logs exports (Modify, Log exports), or no slow "
        "query reaches CloudWatch and nothing can be collected.")]


@rule("slow_query_log", "slow_query_log_off")
def check_slow_query_log(inputs: CoverageInputs) -> Check:
    skip, value = _parameter(inputs, "slow_query_log")
    if skip:
        return skip, []
    on = str(value).strip().upper() in {"1", "ON", "TRUE"}
    if on:
        return {"status": "ok", "value": value}, []
    return {"status": "problem", "value": value}, [_problem(
        "slow_query_log_off",
        f"Set slow_query_log to 1 in {_group(inputs)}: the slow log is off, so no slow query "
        "is written at all.")]


@rule("log_output", "log_output_table")
def check_log_output(inputs: CoverageInputs) -> Check:
    skip, value = _parameter(inputs, "log_output")
    if skip:
        return skip, []
    targets = {part.strip().upper() for part in str(value).split(",")}
    if "FILE" in targets:
        return {"status": "ok", "value": value}, []
    return {"status": "problem", "value": value}, [_problem(
        "log_output_table",
        f"Set log_output to FILE in {_group(inputs)}: with {value} the slow log goes to the "
        "mysql.slow_log table, which never reaches CloudWatch Logs.")]


@rule("long_query_time", "long_query_time_high")
def check_long_query_time(inputs: CoverageInputs) -> Check:
    skip, value = _parameter(inputs, "long_query_time")
    if skip:
        return skip, []
    try:
        seconds = float(str(value))
    except ValueError:
        return {"status": "unknown", "value": value,
                "detail": f"long_query_time {value!r} is not a number"}, []
    if seconds <= LONG_QUERY_TIME_MAX:
        return {"status": "ok", "value": seconds}, []
    return {"status": "problem", "value": seconds}, [_problem(
        "long_query_time_high",
        f"Lower long_query_time from {seconds:g} s to 1 s or less in {_group(inputs)}: "
        f"statements faster than {seconds:g} s are never logged, however often they run.")]


@rule("extra_parameters")
def check_extra_parameters(inputs: CoverageInputs) -> Check:
    """log_slow_extra (MySQL 8), log_slow_verbosity (MariaDB), log_queries_not_using_indexes:
    reported for information, where the group lists them; they never make a problem."""
    skip = _not_rds(inputs)
    if skip:
        return skip, []
    if inputs.parameters is None:
        return {"status": "unreachable",
                "detail": inputs.parameters_error or inputs.aws_error
                or "the parameter group has not been read yet"}, []
    present = {name: inputs.parameters[name] for name in INFO_PARAMETERS
               if name in inputs.parameters}
    return {"status": "info", "value": present}, []


@rule("collected_months")
def check_collected_months(inputs: CoverageInputs) -> Check:
    periods = sorted(inputs.periods, reverse=True)
    return {"status": "ok" if periods else "none", "value": periods}, []


def missing_days(period: str, days: Mapping[str, float], today: date) -> list[str]:
    """Days of a month (up to yesterday, for the current month: today is not over) with no
    events; empty for a period that is not a calendar month or lies in the future."""
    match = _MONTH.match(period)
    if not match:
        return []
    year, month = int(match[1]), int(match[2])
    last = calendar.monthrange(year, month)[1]
    end = min(date(year, month, last), today - timedelta(days=1))
    out = []
    day = date(year, month, 1)
    while day <= end:
        key = day.isoformat()
        if not days.get(key):
            out.append(key)
        day += timedelta(days=1)
    return out


@rule("days_without_events", "days_without_events")
def check_days(inputs: CoverageInputs) -> Check:
    gaps = {period: missing_days(period, inputs.daily.get(period) or {}, inputs.today)
            for period in sorted(inputs.periods)}
    gaps = {period: days for period, days in gaps.items() if days}
    if not gaps:
        return {"status": "ok", "value": {}}, []
    problems = []
    for period, days in sorted(gaps.items(), reverse=True):
        named = ", ".join(days[:MAX_DAYS_LISTED]) + (" …" if len(days) > MAX_DAYS_LISTED else "")
        problems.append(_problem(
            "days_without_events",
            f"Find out why {period} has {len(days)} day(s) without a single slow query "
            f"({named}): turn the slow log or its export back on if it was off, then collect "
            f"{period} again."))
    return {"status": "problem", "value": gaps}, problems


@rule("truncated_events", "truncated_events")
def check_truncated(inputs: CoverageInputs) -> Check:
    cut = {period: n for period, n in sorted(inputs.truncated.items()) if n}
    if not cut:
        return {"status": "ok", "value": {}}, []
    return {"status": "problem", "value": cut}, [_problem(
        "truncated_events",
        f"Shorten the statements that were cut in {period} ({n} event(s) at CloudWatch's "
        "256 KB limit, e.g. huge IN lists or multi-row INSERTs): their logged text is "
        "incomplete and cannot be explained.")
        for period, n in sorted(cut.items(), reverse=True)]


CODES: tuple[str, ...] = tuple(code for item in RULES for code in item.codes)
