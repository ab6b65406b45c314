"""`/embed/<chart>`: one chart alone, sized to its frame, drawn in headless Chromium under
the app's Content-Security-Policy; and the sign-in rules every page obeys, with the framing
setting (EMBED_FRAME_ANCESTORS) and operators' signed links (EMBED_LINK_DAYS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from app import create_app
from auth.credentials import add_token, add_user
from auth.embed_link import sign_embed_query, verify_embed_link
from settings import Settings, SettingsError, load_settings
from tests.chart_seed import EMAIL, INSTANCES, SLOWER, seed_charts

SECRET = "embed-test-secret-0123456789"
PASSWORD = "viewer-pass-5678"
WIKI = "https://wiki.example.com"


@pytest.fixture(params=["sqlite", "mongodb"])
def secured(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Settings:
    users, tokens = tmp_path / "users.json", tmp_path / "tokens.json"
    add_user(users, "victor", PASSWORD, "viewer")
    add_token(tokens, "unused", "viewer")
    configured = replace(settings, auth_users_file=users, auth_tokens_file=tokens,
                         secret_key=SECRET)
    if request.param == "mongodb":
        configured = replace(configured, database_url=request.getfixturevalue("mongo_url"))
    return configured


def _client(settings: Settings):
    app = create_app(settings)
    seed_charts(app.server.extensions["slowquery"].store)
    return app.server.test_client()


def _sign_in(client) -> None:
    response = client.post("/login", data={"username": "victor", "password": PASSWORD,
                                            "next": "/"})
    assert response.status_code == 302


def test_an_embed_without_sign_in_goes_to_login_like_a_page(secured: Settings) -> None:
    client = _client(secured)
    response = client.get("/embed/overview-load?month=2026-10")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/embed/overview-load%3Fmonth%3D2026-10"
    assert client.get("/api/charts/overview-load.html?month=2026-10").status_code == 401
    # plotly.js and the loader are code, not data: an iframe can load them before sign-in
    assert client.get("/embed/static/embed.js").status_code == 200
    _sign_in(client)
    page = client.get("/embed/overview-load?month=2026-10")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "navbar" not in text and "Query time per day, by instance" in text
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self';" in page.headers["Content-Security-Policy"] + ";"
    assert page.headers["Cache-Control"] == "no-store"


def test_frame_ancestors_open_embeds_only(secured: Settings) -> None:
    client = _client(replace(secured, embed_frame_ancestors=(WIKI,)))
    _sign_in(client)
    embed = client.get("/embed/overview-load?month=2026-10")
    assert f"frame-ancestors 'self' {WIKI}" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers  # it would refuse the wiki
    page = client.get("/")
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert WIKI not in page.headers["Content-Security-Policy"]


def test_a_signed_link_opens_its_one_chart_only(secured: Settings) -> None:
    client = _client(replace(secured, embed_link_days=30))
    query = sign_embed_query(SECRET, "overview-load", {"month": "2026-10"}, 30)
    assert client.get(f"/embed/overview-load?{urlencode(query)}").status_code == 200
    tampered = {**query, "month": "2026-09"}
    assert client.get(f"/embed/overview-load?{urlencode(tampered)}").status_code == 302
    assert client.get(f"/embed/compare-movers?{urlencode(query)}").status_code == 302
    assert client.get(f"/api/charts/overview-load.html?{urlencode(query)}").status_code == 401
    assert client.get(f"/?{urlencode(query)}").status_code == 302
    old = sign_embed_query(SECRET, "overview-load", {"month": "2026-10"}, 30,
                           today=date.today() - timedelta(days=40))
    assert client.get(f"/embed/overview-load?{urlencode(old)}").status_code == 302
    # the same link once signed links are switched off (EMBED_LINK_DAYS=0)
    off = _client(secured)
    assert off.get(f"/embed/overview-load?{urlencode(query)}").status_code == 302


def test_signatures_cover_path_parameters_and_day() -> None:
    query = sign_embed_query(SECRET, "plan-visual", {"plan_id": "a|b|c"}, 1,
                             today=date(2026, 10, 1))
    pairs = list(query.items())
    assert verify_embed_link(SECRET, "/embed/plan-visual", pairs, today=date(2026, 10, 2))
    assert not verify_embed_link(SECRET, "/embed/plan-visual", pairs, today=date(2026, 10, 3))
    assert not verify_embed_link("another-secret-0123456789", "/embed/plan-visual", pairs,
                                 today=date(2026, 10, 1))
    assert not verify_embed_link(SECRET, "/embed/plan-visual", pairs + [("x", "1")],
                                 today=date(2026, 10, 1))
    assert not verify_embed_link(SECRET, "/api/charts/plan-visual.html", pairs,
                                 today=date(2026, 10, 1))


def test_embed_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match="EMBED_FRAME_ANCESTORS: expected origins"):
        load_settings({"EMBED_FRAME_ANCESTORS": "https://wiki.example.com; script-src *"},
                      dotenv_path=None)
    with pytest.raises(SettingsError, match="SECRET_KEY: required when EMBED_LINK_DAYS"):
        load_settings({"EMBED_LINK_DAYS": "7"}, dotenv_path=None)
    loaded = load_settings({"EMBED_FRAME_ANCESTORS": "https://Wiki.Example.com/, "
                                                     "http://10.0.0.5:8090"}, dotenv_path=None)
    assert loaded.embed_frame_ancestors == ("https://wiki.example.com", "http://10.0.0.5:8090")


@pytest.mark.parametrize(("path", "status", "sentence"), [
    ("/embed/overview-load", 400, "month is required for the overview-load chart"),
    ("/embed/overview-load?month=2026-11", 404, "no query time per day is stored for any "
                                                "instance in November 2026"),
    ("/embed/pie?month=2026-10", 404, "no such chart"),
    ("/embed/plan-visual?plan_id=nope", 404, "no such plan"),
])
def test_an_embed_that_cannot_draw_says_why_in_html(settings: Settings, path: str, status: int,
                                                    sentence: str) -> None:
    response = _client(settings).get(path)
    assert response.status_code == status and response.mimetype == "text/html"
    assert sentence in response.get_data(as_text=True)


@pytest.mark.browser
def test_an_embed_draws_alone_and_fills_its_frame(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    data = seed_charts(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    driver = dash_duo.driver
    driver.set_window_size(1200, 900)
    driver.get(f"{dash_duo.server_url}/embed/overview-load?month=2026-10")
    dash_duo.wait_for_element("#chart .main-svg", timeout=20)
    assert driver.find_elements("css selector", "nav, .navbar") == []
    drawn = driver.execute_script("return document.getElementById('chart').data.length")
    assert drawn >= len(INSTANCES)
    size = driver.execute_script(
        "var r = document.querySelector('#chart .main-svg').getBoundingClientRect();"
        "return [r.width, r.height, window.innerWidth, window.innerHeight]")
    assert abs(size[0] - size[2]) <= 2 and abs(size[1] - size[3]) <= 2, size

    # inside an iframe of the dashboard's own origin (allowed by frame-ancestors 'self')
    plan_src = f"/embed/plan-visual?plan_id={quote(data.plan_id)}"
    hourly_src = ("/embed/digest-hourly?" + urlencode({
        "instance_id": "db1", "month": "2026-10", "query_id": data.ids[SLOWER]}))
    driver.execute_script(
        "document.body.innerHTML = '<iframe id=\"f\" width=\"640\" height=\"300\" "
        "style=\"border:0\" src=\"' + arguments[0] + '\"></iframe>';", hourly_src)
    driver.switch_to.frame(driver.find_element("css selector", "#f"))
    dash_duo.wait_for_element("#chart .main-svg", timeout=20)
    width, height = driver.execute_script(
        "var r = document.querySelector('#chart .main-svg').getBoundingClientRect();"
        "return [r.width, r.height]")
    assert (round(width), round(height)) == (640, 300)
    assert "UTC" in dash_duo.find_element(".gtitle").text
    driver.switch_to.default_content()

    driver.get(f"{dash_duo.server_url}{plan_src}")
    dash_duo.wait_for_element("#chart .main-svg", timeout=20)
    assert len(driver.find_elements("css selector", "#chart .shapelayer path")) >= 1
    assert EMAIL not in driver.page_source
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe  # no Content-Security-Policy refusal, no script error
