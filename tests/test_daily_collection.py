"""The daily collection (COLLECT_DAILY_AT, issue 11): a month built from its days equals the
month collected at once, a day collected again replaces that day, a month read whole replaces
the days, and the schedule fires, catches up missed nights, retries and reports."""

from __future__ import annotations

import doctest
import random
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import analysis.day_partial
import analysis.schedule
from analysis.day_partial import MonthFromDays, partial_of
from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.schedule import (
    DailyAt,
    due_days,
    month_days_label,
    next_daily_run,
    parse_daily_at,
)
from analysis.slowlog import SlowLogStream
from app import create_app
from demo.slowlog_generator import generate
from jobs.collection import CollectionConflict
from jobs.daily_collection import STATE_FLAG
from jobs.scheduled_collection import ScheduledCollection
from settings import Settings, SettingsError, load_settings
from tests.conftest import REGION
from tests.cw_seed import put_events, rds_entry

MONTH = "2026-10"
# db-a: an RDS instance's own log group; db-c: an Aurora instance's stream in its cluster's
INSTANCES = [
    {"instance_id": "db-a", "engine": "mysql", "collect_target": True,
     "realtime_target": False, "tags": {"env": "prd"}},
    {"instance_id": "db-c", "engine": "aurora-mysql", "cluster_id": "cat",
     "collect_target": True, "realtime_target": False, "tags": {"env": "prd"}},
]
LOGS = {"db-a": ("/aws/rds/instance/db-a/slowquery", "db-a"),
        "db-c": ("/aws/rds/cluster/cat/slowquery", "db-c")}


def _at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _month_of_events(seed: int) -> list[tuple[datetime, str]]:
    """Four days of a realistic slow log (statements, users, hosts, schemas; `use` written
    only when the schema changes, so days start without one), and events on the borders."""
    rng = random.Random(seed)
    entries = list(generate(rng, _at(3), _at(7), 480))
    entries += [
        # the last millisecond of the 4th and the first of the 5th and of the 7th: each
        # in its own day, all inheriting the schema in effect
        (_at(4, 23, 59) + timedelta(seconds=59.999),
         rds_entry(_at(4, 23, 59) + timedelta(seconds=59.999),
                   "SELECT * FROM borders WHERE id = 1", 7.25, user="edge")),
        (_at(5), rds_entry(_at(5), "SELECT * FROM borders WHERE id = 2", 6.5, user="edge")),
        (_at(7), rds_entry(_at(7), "SELECT * FROM borders WHERE id = 3", 5.125)),
    ]
    return sorted(entries, key=lambda item: item[0])


def _seed(aws_url: str) -> None:
    for seed, (group, stream) in enumerate(LOGS.values()):
        events = [(_ms(when), text) for when, text in _month_of_events(seed)]
        events.append((_ms(_at(4, 13)), "this is not a slow log entry"))  # malformed
        put_events(aws_url, REGION, group, stream, events)


@pytest.fixture(params=["sqlite", "mongodb"])
def daily_app(request: pytest.FixtureRequest, aws_settings: Settings):
    """The app on each adapter, with two collection targets whose October logs are in moto."""
    settings = replace(aws_settings, collect_daily_at="02:30")
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    _seed(settings.aws_endpoint_url)
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    services.store.instances.sync("static", INSTANCES, "2026-10-01T00:00:00.000000Z")
    return app, services


def _run(services, body: dict[str, Any], day: date | None = None) -> dict[str, Any]:
    started = services.collection.start(body, day=day)
    services.collection.wait(started["collection_id"], timeout=60)
    run = services.store.runs.get(started["collection_id"])
    assert run["status"] == "completed" and not run["errors"], run
    return run


def _snapshot(store) -> dict[str, Any]:
    """Every stored figure of the month: each instance's digests whole (per-hour series
    included), its totals, and the fleet rows (per-instance shares, merged percentiles)."""
    digests = store.digests
    snap: dict[str, Any] = {}
    for instance_id in LOGS:
        rows, total = digests.page(instance_id=instance_id, period=MONTH, limit=10_000)
        assert total == len(rows) > 5
        for row in rows:
            row["hourly"] = digests.get(instance_id, MONTH, row["query_id"])["hourly"]
        snap[instance_id] = {row["query_id"]: row for row in rows}
        totals = digests.stored(instance_id, MONTH)
        snap[f"{instance_id} totals"] = {key: totals[key] for key in (
            "digests", "count", "query_time", "daily", "malformed")}
    fleet, _total = digests.page(period=MONTH, group="fleet", limit=10_000)
    snap["fleet"] = {row["query_id"]: row for row in fleet}
    return snap


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two snapshots differ. Seconds are sums of floats added in another order (days,
    or time slices), so a value rounded to the microsecond may land on the next one: floats
    may differ by 1 µs, everything else must be equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = [f"{path}/{k}: only on one side" for k in sorted(set(a) ^ set(b), key=str)]
        for key in sorted(set(a) & set(b), key=str):
            found += _differences(a[key], b[key], f"{path}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for n, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{path}[{n}]")]
    if isinstance(a, float) and isinstance(b, float) and abs(a - b) <= 1.000001e-6:
        return []
    return [] if a == b else [f"{path}: {str(a)[:120]} != {str(b)[:120]}"]


# -- the schedule, pure ---------------------------------------------------------------------
def test_the_daily_spec_is_checked_and_documented_by_examples() -> None:
    assert parse_daily_at(" 2:05 ") == DailyAt(2, 5)
    assert parse_daily_at("") is None
    for bad, reason in (("24:00", "not a time"), ("02:60", "not a time"), ("1 02:00", "HH:MM"),
                        ("nightly", "HH:MM")):
        with pytest.raises(ValueError, match=reason):
            parse_daily_at(bad)
    assert load_settings({}, dotenv_path=None).collect_daily_at == ""
    assert load_settings({"COLLECT_DAILY_AT": "3:07"}, dotenv_path=None).collect_daily_at == \
        "03:07"
    with pytest.raises(SettingsError, match=r"^COLLECT_DAILY_AT: not a time of day: 25:00$"):
        load_settings({"COLLECT_DAILY_AT": "25:00"}, dotenv_path=None)
    for module in (analysis.schedule, analysis.day_partial):
        assert doctest.testmod(module).failed == 0


def test_due_days_catch_up_oldest_first_and_cross_months() -> None:
    spec = DailyAt(2, 30)
    # the first night fills the month so far; before 02:30 yesterday is not due yet
    assert due_days(spec, _at(4, 2, 29)) == [date(2026, 10, 1), date(2026, 10, 2)]
    assert due_days(spec, _at(4, 2, 30), done=date(2026, 10, 2)) == [date(2026, 10, 3)]
    assert due_days(spec, _at(4, 2, 29), done=date(2026, 10, 2)) == []
    # three nights missed: caught up oldest first
    assert due_days(spec, _at(8, 3), done=date(2026, 10, 4)) == [
        date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)]
    # the 1st's yesterday is the last day of the month before
    assert due_days(spec, _at(1, 3, month=11), done=date(2026, 10, 30)) == [date(2026, 10, 31)]
    assert due_days(spec, datetime(2027, 1, 1, 3, tzinfo=UTC), done=date(2026, 12, 30)) == [
        date(2026, 12, 31)]
    # down longer than the limit: the older days are skipped
    assert due_days(spec, _at(20, 3), done=date(2026, 10, 1), limit=5)[0] == date(2026, 10, 15)
    assert next_daily_run(spec, _at(4, 1), done=date(2026, 10, 2)) == _at(4, 2, 30)
    assert next_daily_run(spec, _at(4, 3), done=date(2026, 10, 3)) == _at(5, 2, 30)
    assert next_daily_run(spec, _at(4, 3), done=date(2026, 10, 2)) == _at(4, 3)  # due now
    assert month_days_label(MONTH, {}) is None
    assert month_days_label(MONTH, {"a": ["2026-10-01", "2026-10-02"]}) == \
        "October 2026 · 2 of 31 days, collected daily"


def test_a_month_folded_from_days_equals_one_pass_over_it() -> None:
    """Pure: the log read in one pass, against each day read alone (a fresh parser state,
    as a day run has) and folded; the schemas of each day's first statements come from the
    day before."""
    whole = DigestAggregator(fingerprint_and_id)
    stream = SlowLogStream(keep_extra=False)
    by_day: dict[str, list[str]] = {}
    for when, text in _month_of_events(3):
        whole.add("i", stream.parse(text))
        by_day.setdefault(when.date().isoformat(), []).append(text)
    expected = {d.query_id: {**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
                for d in whole.digests("i")}

    def fold(carry_schema: bool) -> dict[str, dict]:
        month = MonthFromDays("i")
        for day, texts in sorted(by_day.items()):
            aggregator = DigestAggregator(fingerprint_and_id)
            day_stream = SlowLogStream(keep_extra=False)
            for text in texts:
                aggregator.add("i", day_stream.parse(text))
            month.add_day(day, [partial_of(s) for s in aggregator.digests("i")],
                          {"s": day_stream.current_db} if carry_schema else {})
        return {d["query_id"]: d for d in month.digests()}

    assert fold(carry_schema=True) == expected
    # without the schema carried over, days start under "" (unknown): the test can tell
    unknown = [d for d in fold(carry_schema=False).values() if "" in d["databases"]]
    assert unknown and not [d for d in expected.values() if "" in d["databases"]]


# -- collection into the month, against moto, on both adapters ------------------------------
def test_a_month_built_from_days_equals_the_month_collected_at_once(daily_app) -> None:
    _app, services = daily_app
    store = services.store
    day_runs = [_run(services, {}, day=date(2026, 10, d)) for d in range(2, 8)]
    assert [r["period_key"] for r in day_runs] == [MONTH] * 6
    assert day_runs[0]["period"] == {"start_date": "2026-10-02", "end_date": "2026-10-02"}
    by_days = _snapshot(store)
    assert store.digests.built_from_days(MONTH) == {
        i: [f"2026-10-0{d}" for d in range(2, 8)] for i in LOGS}
    assert not [d for i in LOGS for d in by_days[i].values() if "" in d["databases"]]

    # a day collected again replaces that day: nothing doubles
    again = _run(services, {"instance_ids": ["db-a"]}, day=date(2026, 10, 4))
    assert again["total_queries"] > 0
    assert _snapshot(store) == by_days  # the same days, folded alike: equal to the bit
    assert len(store.day_partials.days("db-a", MONTH)) == 6

    # the month read whole (after it ended) holds the same figures and replaces the days
    whole = _run(services, {"month": MONTH})
    assert whole["total_queries"] == sum(r["total_queries"] for r in day_runs)
    assert whole["malformed_events"] == sum(r["malformed_events"] for r in day_runs) == 2
    at_once = _snapshot(store)
    assert _differences(by_days, at_once) == []
    assert store.digests.built_from_days(MONTH) == {}
    assert store.day_partials.days("db-a", MONTH) == []

    # a day of a month read whole since is in it already: not read, nothing changes
    late = _run(services, {}, day=date(2026, 10, 5))
    assert late["total_queries"] == 0
    assert any("2026-10-05 is already in October 2026" in line["message"]
               for line in late["logs"])
    assert _snapshot(store) == at_once


def test_a_day_run_waits_for_a_run_of_its_month(daily_app) -> None:
    _app, services = daily_app
    assert services.store.flags.acquire_lease(f"collection:{MONTH}", "a-month-run", 60)
    with pytest.raises(CollectionConflict):
        services.collection.start({}, day=date(2026, 10, 5))
    services.store.flags.release_lease(f"collection:{MONTH}", "a-month-run")
    assert _run(services, {}, day=date(2026, 10, 5))["total_queries"] > 0


# -- the schedule, with a clock of the test's choosing --------------------------------------
def _settle(services, schedule: ScheduledCollection, now: datetime) -> str | None:
    """Tick; wait for a run it started; its day."""
    run_id = schedule.tick(now)
    if run_id is None:
        return None
    services.collection.wait(run_id, timeout=60)
    return services.store.runs.get(run_id)["day"]


def test_the_schedule_fills_the_month_catches_up_and_reports(daily_app) -> None:
    app, services = daily_app
    schedule = ScheduledCollection(replace(services.settings, collect_monthly_at=""),
                                   services.store, services.collection)
    assert schedule.enabled and schedule.spec is None
    # the first night (before 02:30 on the 4th: the 2nd is the latest due) fills the month
    assert _settle(services, schedule, _at(4, 2)) == "2026-10-01"
    assert _settle(services, schedule, _at(4, 2)) == "2026-10-02"
    assert schedule.tick(_at(4, 2, 29)) is None  # nothing due until 02:30
    status = schedule.status(_at(4, 2, 29))["daily"]
    assert status["next_run"] == "2026-10-04T02:30:00.000000Z" and status["pending"] == []
    assert status["last"]["day"] == "2026-10-02" and status["last"]["status"] == "completed"
    assert _settle(services, schedule, _at(4, 2, 30)) == "2026-10-03"

    # a restart (a new leader) settles the run and does not run the day again
    again = ScheduledCollection(services.settings, services.store, services.collection)
    assert again.tick(_at(4, 3)) is None
    assert services.store.flags.get(STATE_FLAG)["done"] == "2026-10-03"
    assert [r["day"] for r in services.store.runs.recent()].count("2026-10-03") == 1

    # four nights missed: caught up oldest first, one run at a time
    caught = [_settle(services, again, _at(8, 3)) for _ in range(5)]
    assert caught == ["2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07", None]
    status = again.status(_at(8, 3))["daily"]
    assert status["month"]["label"] == "October 2026 · 7 of 31 days, collected daily"
    body = app.server.test_client().get("/api/schedule").get_json()
    assert body["daily"]["daily_at"] == "02:30"
    assert body["daily"]["month"]["days_by_instance"]["db-a"][-1] == "2026-10-07"

    # once the month was read whole, a due day of it needs no run
    _run(services, {"month": MONTH})
    runs_before = len(services.store.runs.recent(100))
    assert again.tick(_at(9, 3)) is None
    assert len(services.store.runs.recent(100)) == runs_before
    last = again.status(_at(9, 3))["daily"]["last"]
    assert last["day"] == "2026-10-08" and "the month was collected whole" in last["message"]


def test_a_failing_instance_is_retried_alone_then_settled(daily_app) -> None:
    _app, services = daily_app
    store = services.store
    store.instances.sync("static", INSTANCES + [  # no log group: fails every time
        {"instance_id": "db-x", "engine": "mysql", "collect_target": True,
         "realtime_target": False, "tags": {"env": "prd"}}], "2026-10-01T00:00:00.000000Z")
    schedule = ScheduledCollection(services.settings, store, services.collection)
    assert _settle(services, schedule, _at(2, 3)) == "2026-10-01"
    assert schedule.tick(_at(2, 3, 1)) is None  # settled: db-x waits an hour
    status = schedule.status(_at(2, 3, 1))["daily"]
    assert status["next_run"] == "2026-10-02T04:01:00.000000Z"
    assert status["last"]["status"] == "completed" and "1 failed" in status["last"]["message"]
    assert schedule.tick(_at(2, 3, 30)) is None
    run_id = schedule.tick(_at(2, 4, 1))
    services.collection.wait(run_id, timeout=60)
    assert store.runs.get(run_id)["instance_ids"] == ["db-x"]  # only what failed
    assert schedule.tick(_at(2, 4, 2)) is None  # failed again: an hour more
    assert schedule.status(_at(2, 4, 2))["daily"]["next_run"] == "2026-10-02T05:02:00.000000Z"
    assert _settle(services, schedule, _at(2, 5, 2)) == "2026-10-01"  # the third attempt
    assert schedule.tick(_at(2, 5, 3)) is None  # settled for good
    assert schedule.status(_at(2, 5, 3))["daily"]["next_run"] == "2026-10-03T02:30:00.000000Z"
    state = store.flags.get(STATE_FLAG)
    assert state["done"] == "2026-10-01" and state["last"]["status"] == "error"
    assert "db-x" in store.runs.get(state["last"]["collection_id"])["error"]


def test_the_scheduler_fires_the_daily_collection(aws_settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The real scheduler, leading at start, ticks the schedule (every half second here) with
    only COLLECT_DAILY_AT set, and starts the first due day: the 1st of yesterday's month."""
    import jobs.scheduled_collection

    monkeypatch.setattr(jobs.scheduled_collection, "TICK_SECONDS", 0.5)
    app = create_app(replace(aws_settings, scheduler_enabled=True, collect_monthly_at="",
                             collect_daily_at="00:00"))
    services = app.server.extensions["slowquery"]
    services.store.instances.sync("static", INSTANCES, "2026-10-01T00:00:00.000000Z")
    try:
        deadline = time.monotonic() + 30
        while not (services.store.flags.get(STATE_FLAG) or {}).get("collection_id"):
            assert time.monotonic() < deadline, "the scheduler never ran the daily job"
            time.sleep(0.2)
    finally:
        services.scheduler.shutdown()
    state = services.store.flags.get(STATE_FLAG)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert state["day"] == yesterday.replace(day=1).isoformat()
    run = services.store.runs.get(state["collection_id"])
    assert run["day"] == state["day"] and run["period_key"] == state["day"][:7]
    services.collection.wait(state["collection_id"], timeout=60)


@pytest.mark.browser
def test_the_collection_page_shows_both_schedules_and_the_days_in(dash_duo,
                                                                  aws_settings: Settings) -> None:
    settings = replace(aws_settings, collect_daily_at="02:30", collect_monthly_at="")
    _seed(settings.aws_endpoint_url)
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    services.store.instances.sync("static", INSTANCES, "2026-10-01T00:00:00.000000Z")
    assert [_settle(services, services.schedule, _at(3, 3)) for _ in range(2)] == [
        "2026-10-01", "2026-10-02"]
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/collection")
    dash_duo.wait_for_contains_text("#collection-schedule-monthly", "Monthly: off")
    dash_duo.wait_for_contains_text(
        "#collection-schedule-daily", "Daily: yesterday (UTC) into its month, every day at "
        "02:30 UTC.")
    dash_duo.wait_for_contains_text("#collection-schedule-daily",
                                    "Last: 2026-10-02 into October 2026 — completed")
    dash_duo.wait_for_text_to_equal("#collection-month-days",
                                    "October 2026 · 2 of 31 days, collected daily")
    dash_duo.wait_for_contains_text("#collection-history", "2026-10-02 into October 2026")
    # the month's figures are not final yet: the Overview and the Digests page say so
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_text_to_equal("#overview-month-days",
                                    "October 2026 · 2 of 31 days, collected daily")
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests")
    dash_duo.wait_for_contains_text("#digests-summary",
                                    "October 2026 · 2 of 31 days, collected daily")
    logs = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert logs == [], [e["message"] for e in logs]
