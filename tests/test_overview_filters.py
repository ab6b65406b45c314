"""The Overview's filters (instances, schema, user): exact re-totals from the fleet rows, on
both store adapters, and the page narrowing its charts and statements in a browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from analysis.digest import DigestAggregator, sketch_to_dict
from analysis.fingerprint import fingerprint_and_id
from analysis.overview import OverviewFilter, filter_names, filter_statements, time_by_instance
from analysis.slowlog import SlowLogEntry
from analysis.units import human_duration
from app import create_app
from jobs.fleet import ensure_fleet
from settings import Settings

OCT = datetime(2026, 10, 1, tzinfo=UTC)
ORDERS = "SELECT * FROM orders WHERE id = 5"
REPORT = "SELECT SUM(total) FROM invoices WHERE month = 3"
SEARCH = "SELECT id FROM products WHERE name LIKE '%x%'"
# instance -> [(sql, calls, seconds per call, user, schema)]
WORKLOAD = {
    "db1": [(ORDERS, 30, 0.5, "app", "shop"), (REPORT, 4, 6.0, "bi", "finance")],
    "db2": [(ORDERS, 10, 0.7, "app", "shop"), (SEARCH, 50, 0.2, "app", "catalog")],
    "db3": [(REPORT, 2, 9.0, "bi", "finance"), (SEARCH, 5, 0.3, "web", "catalog")],
}


def _fill(store) -> dict[str, str]:
    ids = {}
    for instance_id, statements in WORKLOAD.items():
        aggregator = DigestAggregator(fingerprint_and_id)
        for sql, calls, seconds, user, schema in statements:
            ids[sql] = fingerprint_and_id(sql)[1]
            for n in range(calls):
                aggregator.add(instance_id, SlowLogEntry(
                    time=OCT + timedelta(hours=n * 7), user=user, host="h", db=schema,
                    query_time=seconds, lock_time=0.0, rows_sent=1, rows_examined=10,
                    sql=sql))
        store.digests.replace_period(instance_id, "2026-10", [
            {**d.to_dict(), "sketch": sketch_to_dict(d.sketch)}
            for d in aggregator.digests(instance_id)])
    return ids


def _expected(flt: OverviewFilter) -> dict[str, tuple[int, float]]:
    """What the filter should keep, from the workload itself: {sql: (calls, seconds)}."""
    out: dict[str, tuple[int, float]] = {}
    for instance_id, statements in WORKLOAD.items():
        if flt.instances and instance_id not in flt.instances:
            continue
        for sql, calls, seconds, _user, _schema in statements:
            touched = {(u, s) for inst in WORKLOAD.values() for q, _c, _s, u, s in inst
                       if q == sql}
            if flt.schema and flt.schema not in {s for _u, s in touched}:
                continue
            if flt.user and flt.user not in {u for u, _s in touched}:
                continue
            before = out.get(sql, (0, 0.0))
            out[sql] = (before[0] + calls, before[1] + calls * seconds)
    return out


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request: pytest.FixtureRequest, settings: Settings):
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    return create_app(settings).server.extensions["slowquery"].store


@pytest.mark.parametrize("flt", [
    OverviewFilter(),
    OverviewFilter(instances=frozenset({"db2"})),
    OverviewFilter(instances=frozenset({"db1", "db3"})),
    OverviewFilter(schema="finance"),
    OverviewFilter(user="web"),
    OverviewFilter(instances=frozenset({"db2"}), schema="catalog"),
    OverviewFilter(instances=frozenset({"db1"}), schema="catalog"),
], ids=["all", "db2", "db1+db3", "finance", "web", "db2-catalog", "nothing"])
def test_filters_re_total_exactly(store, flt: OverviewFilter) -> None:
    ids = _fill(store)
    ensure_fleet(store, "2026-10")
    kept = filter_statements(store.digests.fleet_statements("2026-10"), flt)
    expected = _expected(flt)
    by_id = {ids[sql]: value for sql, value in expected.items()}
    assert {r["query_id"] for r in kept} == set(by_id)
    for row in kept:
        calls, seconds = by_id[row["query_id"]]
        assert row["count"] == calls
        assert row["query_time"]["sum"] == pytest.approx(seconds)
        assert row["query_time"]["avg"] == pytest.approx(seconds / calls)
    sums = [r["query_time"]["sum"] for r in kept]
    assert sums == sorted(sums, reverse=True)
    # the by-instance chart adds up to the same time, and only over the kept instances
    per_instance = time_by_instance(kept)
    assert sum(per_instance.values()) == pytest.approx(sum(s for _c, s in expected.values()))
    assert not flt.instances or set(per_instance) <= flt.instances


def test_the_filter_choices_are_kept_with_the_fleet_rows(store) -> None:
    _fill(store)
    ensure_fleet(store, "2026-10")
    names = store.digests.fleet_names("2026-10")
    # busiest first by calls: shop 40, catalog 55, finance 6; app 90, bi 6, web 5
    assert names == {"schemas": ["catalog", "shop", "finance"], "users": ["app", "bi", "web"]}
    assert filter_names([]) == {"schemas": [], "users": []}


def test_a_fleet_built_before_names_existed_is_rebuilt(store) -> None:
    """Fleet rows stored by an older version (no names in their state) are rebuilt once."""
    _fill(store)
    ensure_fleet(store, "2026-10")
    source = store.digests.fleet_built_from("2026-10")
    store.digests.replace_fleet("2026-10", [], "an older source")  # as an old build left it
    assert ensure_fleet(store, "2026-10") == 3
    assert store.digests.fleet_built_from("2026-10") == source
    assert store.digests.fleet_names("2026-10")["users"] == ["app", "bi", "web"]


@pytest.mark.browser
def test_the_overview_narrows_to_instances_schema_and_user(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    ids = _fill(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    everything = sum(c * s for inst in WORKLOAD.values() for _q, c, s, _u, _d in inst)
    dash_duo.wait_for_contains_text("#overview-month-title",
                                    f"October 2026: {human_duration(everything)}")
    dash_duo.wait_for_element("#overview-daily .main-svg")

    dash_duo.select_dcc_dropdown("#overview-filter-instances", value="db2")
    dash_duo.find_element("h2").click()  # a multi-select takes its value when it closes
    db2 = _expected(OverviewFilter(instances=frozenset({"db2"})))
    seconds = sum(s for _c, s in db2.values())
    dash_duo.wait_for_contains_text("#overview-month-title",
                                    f"October 2026, db2: {human_duration(seconds)}")
    dash_duo.wait_for_contains_text("#overview-month-title", "60 calls in 2 statements")
    dash_duo.wait_for_element("#overview-daily .main-svg")  # days still known per instance
    table = dash_duo.find_element("#overview-top-digests").text
    assert "invoices" not in table and "orders" in table and "products" in table

    dash_duo.select_dcc_dropdown("#overview-filter-schema", value="catalog")
    dash_duo.find_element("h2").click()
    dash_duo.wait_for_contains_text("#overview-month-title", "db2, schema catalog")
    dash_duo.wait_for_element("#overview-filter-note")
    assert not dash_duo.find_elements("#overview-daily")  # a day has no schema
    link = dash_duo.find_element("#overview-top-digests a")
    assert link.text == "0x" + ids[SEARCH][-16:].upper()
    assert "query_id=" + ids[SEARCH] in link.get_attribute("href")
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe


def test_stale_fleet_views_are_rebuilt_in_the_background(settings: Settings) -> None:
    """The scheduler's fleet-views job rebuilds what an upgrade left stale, so the first page
    that reads the month does not wait for it."""
    services = create_app(settings).server.extensions["slowquery"]
    _fill(services.store)
    assert services.collection.refresh_stale_fleets() == ["2026-10"]  # never built yet
    assert services.collection.refresh_stale_fleets() == []  # current: nothing to do
    services.store.digests.replace_fleet("2026-10", [], "an older source")
    assert services.collection.refresh_stale_fleets() == ["2026-10"]
    assert len(services.store.digests.fleet_statements("2026-10")) == 3
