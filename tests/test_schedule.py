"""The monthly collection on its own (COLLECT_MONTHLY_AT): when it is due, that it runs once
per month whatever restarts happen, how it reports, and that the real scheduler fires it."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from analysis.schedule import MonthlyAt, due_month, next_run, parse_monthly_at
from app import create_app
from jobs.scheduled_collection import STATE_FLAG, ScheduledCollection
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.test_collection import _seed_logs


def _at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_spec_is_checked() -> None:
    assert parse_monthly_at(" 3 4:05 ") == MonthlyAt(3, 4, 5)
    assert parse_monthly_at("") is None
    for bad, reason in (("29 02:00", "1-28"), ("1 24:00", "not a time"), ("monthly", "DAY"),
                        ("1 2:5", "DAY")):
        with pytest.raises(ValueError, match=reason):
            parse_monthly_at(bad)


def test_due_and_next_across_the_year() -> None:
    spec = MonthlyAt(1, 2, 0)
    assert due_month(spec, _at(1, 1, 1, 59, 2027)) is None  # not yet
    assert due_month(spec, _at(1, 1, 2, 0, 2027)) == "2026-12"  # December, in January
    assert due_month(spec, _at(1, 20, year=2027)) == "2026-12"  # a late leader catches up
    assert due_month(spec, _at(1, 20, year=2027), done="2026-12") is None
    assert next_run(spec, _at(12, 15), done="2026-11") == _at(1, 1, 2, 0, 2027)
    assert next_run(spec, _at(12, 1, 1)) == _at(12, 1, 2)
    assert next_run(spec, _at(12, 1, 3)) == _at(12, 1, 3)  # due now


@pytest.fixture(params=["sqlite", "mongodb"])
def collecting(request: pytest.FixtureRequest, aws_settings: Settings):
    aws_settings = replace(aws_settings, collect_monthly_at="1 02:00")
    if request.param == "mongodb":
        aws_settings = replace(aws_settings, database_url=request.getfixturevalue("mongo_url"))
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)  # October 2026
    app = create_app(aws_settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    return app, services


def test_the_month_runs_once_and_reports(collecting) -> None:
    app, services = collecting
    schedule = ScheduledCollection(services.settings, services.store, services.collection)
    assert schedule.tick(_at(11, 1, 1, 59)) is None  # before 02:00: nothing
    run_id = schedule.tick(_at(11, 1, 2, 0))
    assert run_id is not None
    assert schedule.tick(_at(11, 1, 2, 1)) is None  # going: not twice
    assert schedule.status(_at(11, 1, 2, 1))["running"] == run_id
    services.collection.wait(run_id, timeout=60)
    run = services.store.runs.get(run_id)
    assert run["period_key"] == "2026-10" and run["status"] == "completed"

    # a restart (a new object, as a new leader has) settles the run and does not re-run it
    again = ScheduledCollection(services.settings, services.store, services.collection)
    assert again.tick(_at(11, 3)) is None
    status = again.status(_at(11, 3))
    assert status["running"] is None
    assert status["last"]["month"] == "2026-10" and status["last"]["status"] == "completed"
    assert status["next_run"] == "2026-12-01T02:00:00.000000Z"
    assert services.store.flags.get(STATE_FLAG)["done"] == "2026-10"
    assert len([r for r in services.store.runs.recent() if r["period_key"] == "2026-10"]) == 1

    body = app.server.test_client().get("/api/schedule").get_json()
    assert body["monthly_at"] == "1 02:00" and body["last"]["collection_id"] == run_id
    assert app.server.test_client().get("/api/schedule?x=1").status_code == 400


def test_a_run_that_cannot_start_says_why_and_retries_hourly(settings: Settings) -> None:
    services = create_app(replace(settings, collect_monthly_at="1 02:00")).server.extensions[
        "slowquery"]  # no AWS configured
    schedule = ScheduledCollection(services.settings, services.store, services.collection)
    assert schedule.tick(_at(11, 1, 3)) is None  # no instance listed yet: it waits
    assert not services.store.flags.get(STATE_FLAG)
    services.store.instances.sync("static", [{"instance_id": "db1", "engine": "mysql"}],
                                  "2026-11-01T00:00:00.000000Z")
    assert schedule.tick(_at(11, 1, 3)) is None
    status = schedule.status(_at(11, 1, 3))
    assert status["last"]["status"] == "error"
    assert "AWS is not configured" in status["last"]["message"]
    assert status["next_run"] == "2026-11-01T04:00:00.000000Z"  # an hour later
    assert schedule.tick(_at(11, 1, 3, 30)) is None  # not every minute
    assert schedule.tick(_at(11, 1, 4)) is None  # second attempt
    assert schedule.tick(_at(11, 1, 5)) is None  # third: the month is settled
    assert schedule.status(_at(11, 2))["next_run"] == "2026-12-01T02:00:00.000000Z"


def test_switched_off(settings: Settings) -> None:
    app = create_app(replace(settings, collect_monthly_at=""))
    body = app.server.test_client().get("/api/schedule").get_json()
    assert body["monthly_at"] == "" and body["next_run"] is None
    assert app.server.extensions["slowquery"].schedule.tick(_at(11, 1, 3)) is None


def test_the_scheduler_fires_it(aws_settings: Settings) -> None:
    """The real scheduler, leading at start, runs the due month's collection (the month
    before today: on day 1 at 00:00 it is due whatever day the test runs)."""
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    app = create_app(replace(aws_settings, scheduler_enabled=True, collect_monthly_at="1 00:00"))
    services = app.server.extensions["slowquery"]
    try:
        deadline = time.monotonic() + 60
        while not services.store.flags.get(STATE_FLAG):
            assert time.monotonic() < deadline, "the scheduler never ran the monthly job"
            time.sleep(0.2)
        state = services.store.flags.get(STATE_FLAG)
        today = datetime.now(UTC).date()
        previous = (f"{today.year - 1}-12" if today.month == 1
                    else f"{today.year}-{today.month - 1:02d}")
        assert state["month"] == previous and state["collection_id"]
        assert services.store.runs.get(state["collection_id"])["period_key"] == previous
    finally:
        services.scheduler.shutdown()
