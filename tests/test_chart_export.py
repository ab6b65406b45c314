"""Chart exports: `/api/charts/<chart>.html` and `.png` on both store adapters, the files
opened in headless Chromium with the network off, PNG drawn by kaleido on the real Chromium
(and refused in a sentence without one), and the Export menu on the pages."""

from __future__ import annotations

import json
import re
import struct
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

import charts.png
from analysis.fleet import FLEET_INSTANCE
from app import create_app
from settings import Settings
from tests.chart_seed import EMAIL, INSTANCES, SLOWER, Seeded, seed_charts

NO_BROWSER = "/nonexistent/chromium"


@pytest.fixture(params=["sqlite", "mongodb"])
def seeded(request: pytest.FixtureRequest, settings: Settings):
    if request.param == "mongodb":
        settings = replace(settings, database_url=request.getfixturevalue("mongo_url"))
    app = create_app(settings)
    return app, seed_charts(app.server.extensions["slowquery"].store)


def _urls(seeded_data: Seeded) -> dict[str, str]:
    """One query string per chart, as the pages build them."""
    return {
        "overview-load": "month=2026-10",
        "digest-hourly": f"instance_id=db1&month=2026-10&query_id={seeded_data.ids[SLOWER]}",
        "compare-movers": "month=2026-10&baseline=2026-09",
        "plan-visual": f"plan_id={quote(seeded_data.plan_id)}",
    }


def _figure_json(page: str) -> dict:
    """The figure a plotly HTML file draws (its Plotly.newPlot arguments)."""
    match = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"displaylogo"',
                      page, flags=re.DOTALL)
    assert match, "no Plotly.newPlot call in the file"
    return {"data": json.loads(match.group(1)), "layout": json.loads(match.group(2))}


def test_the_catalogue_lists_the_charts(seeded) -> None:
    app, _data = seeded
    body = app.server.test_client().get("/api/charts").get_json()
    assert [c["name"] for c in body["charts"]] == ["overview-load", "digest-hourly",
                                                   "compare-movers", "plan-visual"]
    assert body["png"] == {"available": True, "reason": None}


@pytest.mark.parametrize("chart", ["overview-load", "digest-hourly", "compare-movers",
                                   "plan-visual"])
def test_html_export_is_one_offline_file_of_the_page_chart(seeded, chart: str) -> None:
    app, data = seeded
    store = app.server.extensions["slowquery"].store
    response = app.server.test_client().get(f"/api/charts/{chart}.html?{_urls(data)[chart]}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.html"')
    assert chart in disposition
    page = response.get_data(as_text=True)
    assert "plotly.js v" in page  # inline, not fetched
    assert not re.search(r"<script[^>]+src=", page)
    assert EMAIL not in page  # masked like on screen, the plan's condition included
    figure = _figure_json(page)
    if chart == "overview-load":
        assert {t["name"] for t in figure["data"] if t["type"] == "bar"} == set(
            store.digests.daily("2026-10"))
        assert "October 2026" in figure["layout"]["title"]["text"]
    elif chart == "digest-hourly":
        hourly = store.digests.get("db1", "2026-10", data.ids[SLOWER])["hourly"]
        calls = next(t for t in figure["data"] if t["name"] == "Calls")
        assert sum(calls["y"]) == sum(h["count"] for h in hourly.values()) == 60
    elif chart == "compare-movers":
        labels = " ".join(figure["data"][0]["y"])
        assert "orders" in labels and "products" in labels  # regressed and new
    else:
        boxes = [s for s in figure["layout"]["shapes"] if s["name"].startswith("node:")]
        assert len(boxes) == len(figure["data"][0]["x"]) >= 1  # one box per operation
        assert "`email` = ?" in page  # the condition is there, its value masked


@pytest.mark.parametrize(("path", "status", "fragment"), [
    ("/api/charts/overview-load.html", 400, "month is required for the overview-load chart"),
    ("/api/charts/overview-load.html?month=2026-13", 400, "month must be a month YYYY-MM"),
    ("/api/charts/overview-load.html?month=2026-10&colour=red", 400,
     "unknown query parameter 'colour'"),
    ("/api/charts/overview-load.html?month=2026-11", 404,
     "no query time per day is stored for any instance in November 2026"),
    ("/api/charts/overview-load.html?month=2026-10&instances=nope", 404,
     "no query time per day is stored for these instances"),
    ("/api/charts/pie.html?month=2026-10", 404, "no such chart; the charts are overview-load"),
    ("/api/charts/digest-hourly.png?instance_id=db1&query_id=abc", 400,
     "month is required (YYYY-MM)"),
    ("/api/charts/digest-hourly.html?instance_id=db9&month=2026-10&query_id=abc", 404,
     "no digest 0xABC on db9 in October 2026"),
    (f"/api/charts/digest-hourly.html?instance_id={FLEET_INSTANCE}&month=2026-10&query_id=a",
     400, "a fleet row has no per-hour series"),
    ("/api/charts/compare-movers.html?month=2026-10&baseline=2026-10", 400,
     "baseline must be another month"),
    ("/api/charts/compare-movers.png?month=2026-11", 404, "no digests of November 2026"),
    ("/api/charts/plan-visual.png?plan_id=nope", 404, "no such plan"),
])
def test_bad_or_missing_parameters_get_one_sentence(seeded, path: str, status: int,
                                                   fragment: str) -> None:
    app, _data = seeded
    response = app.server.test_client().get(path)
    assert response.status_code == status
    assert fragment in response.get_json()["error"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _render_leftovers() -> list[int]:
    """Processes still running with a PNG render's own profile directory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"slowquery-png-" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_png_export_is_drawn_by_chromium_and_leaves_no_browser(seeded) -> None:
    app, data = seeded
    client = app.server.test_client()
    response = client.get(f"/api/charts/compare-movers.png?{_urls(data)['compare-movers']}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="compare-movers-fleet-2026-10-vs-2026-09.png"')
    width, height = _png_size(response.data)
    page = client.get(f"/api/charts/compare-movers.html?{_urls(data)['compare-movers']}")
    figure_height = _figure_json(page.get_data(as_text=True))["layout"]["height"]
    assert (width, height) == (charts.png.DEFAULT_WIDTH * charts.png.SCALE,
                               figure_height * charts.png.SCALE)
    assert len(response.data) > 20_000
    assert _render_leftovers() == []
    plan = client.get(f"/api/charts/plan-visual.png?{_urls(data)['plan-visual']}")
    assert plan.status_code == 200
    plan_width, _ = _png_size(plan.data)
    assert plan_width < width  # a one-table plan keeps its own, smaller pixel size
    assert _render_leftovers() == []


def test_png_without_a_browser_says_so(settings: Settings) -> None:
    app = create_app(replace(settings, png_browser=Path(NO_BROWSER)))
    seed_charts(app.server.extensions["slowquery"].store)
    client = app.server.test_client()
    response = client.get("/api/charts/overview-load.png?month=2026-10")
    assert response.status_code == 503
    assert response.get_json()["error"] == (
        f"PNG export needs Chromium, and PNG_BROWSER ({NO_BROWSER}) is not an executable file:"
        " install chromium or correct PNG_BROWSER.")
    catalogue = client.get("/api/charts").get_json()
    assert catalogue["png"]["available"] is False
    assert client.get("/api/charts/overview-load.html?month=2026-10").status_code == 200


def test_one_png_at_a_time(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a PNG is drawn, another waits its turn a while, then is told to retry."""
    app = create_app(settings)
    seed_charts(app.server.extensions["slowquery"].store)
    monkeypatch.setattr(charts.png, "WAIT_FOR_TURN_SECONDS", 0.2)
    holder = threading.Event()
    release = threading.Event()

    def draw_forever() -> None:
        with charts.png._TURN:
            holder.set()
            release.wait(10)

    thread = threading.Thread(target=draw_forever)
    thread.start()
    try:
        assert holder.wait(5)
        response = app.server.test_client().get("/api/charts/overview-load.png?month=2026-10")
        assert response.status_code == 503
        assert "another PNG is being drawn" in response.get_json()["error"]
    finally:
        release.set()
        thread.join()


@pytest.mark.browser
def test_exported_html_opens_offline_in_chromium(dash_duo, settings: Settings,
                                                 tmp_path: Path) -> None:
    """Both files drawn from disk with the network off: plotly.js is inside them."""
    app = create_app(settings)
    data = seed_charts(app.server.extensions["slowquery"].store)
    client = app.server.test_client()
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    expected = {"overview-load": len(INSTANCES), "compare-movers": 1, "digest-hourly": 2}
    for chart, traces in expected.items():
        page = client.get(f"/api/charts/{chart}.html?{_urls(data)[chart]}").get_data()
        path = tmp_path / f"{chart}.html"
        path.write_bytes(page)
        driver.get(path.as_uri())
        dash_duo.wait_for_element(".js-plotly-plot .main-svg", timeout=20)
        drawn = driver.execute_script(
            "return document.querySelector('.js-plotly-plot').data.length")
        assert drawn >= traces, chart
        bars = driver.execute_script(
            "return document.querySelectorAll('.js-plotly-plot g.trace.bars').length")
        assert bars >= traces, chart
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert fetched == [], fetched
    title = dash_duo.find_element(".js-plotly-plot .gtitle").text
    assert title.startswith("0x") and "October 2026" in title
    page = client.get(f"/api/charts/plan-visual.html?{_urls(data)['plan-visual']}").get_data()
    (tmp_path / "plan.html").write_bytes(page)
    driver.get((tmp_path / "plan.html").as_uri())
    dash_duo.wait_for_element(".js-plotly-plot .main-svg", timeout=20)
    assert len(dash_duo.find_elements(".js-plotly-plot .shapelayer path")) >= 1
    assert EMAIL not in driver.page_source


@pytest.mark.browser
def test_the_overview_export_menu_links_and_embeds(dash_duo, settings: Settings) -> None:
    """The Overview's Export menu: HTML and PNG links with the month, PNG greyed out with the
    reason when the server has no browser, and the iframe snippet of the same chart."""
    app = create_app(replace(settings, png_browser=Path(NO_BROWSER)))
    seed_charts(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_element("#overview-daily .main-svg")
    dash_duo.find_element("#overview-daily-export-menu .dropdown-toggle").click()
    link = dash_duo.wait_for_element("#overview-daily-export-html")
    assert link.get_attribute("href").endswith("/api/charts/overview-load.html?month=2026-10")
    png = dash_duo.find_element("#overview-daily-export-png")
    assert "disabled" in png.get_attribute("class")
    assert "PNG export needs Chromium" in dash_duo.find_element(
        "#overview-daily-export-png-note").text
    dash_duo.find_element("#overview-daily-export-embed").click()
    dash_duo.wait_for_contains_text("#overview-daily-export-snippet", "<iframe", timeout=5)
    snippet = dash_duo.find_element("#overview-daily-export-snippet").text
    assert snippet.startswith(f'<iframe src="{dash_duo.server_url}/embed/overview-load?'
                              'month=2026-10"')
    assert "only this dashboard's own pages" in dash_duo.find_element(
        "#overview-daily-export-embed-note").text.lower()
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe
