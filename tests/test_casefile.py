"""A statement's case file (`GET /api/digests/<instance>/<period>/<query_id>/casefile`): one
self-contained HTML file with no external reference and no literal, through the real app on
both store adapters, and opened from disk in headless Chromium with the network off.

The store holds a statement whose examples, explained statement, plan conditions, raw
EXPLAIN output and CREATE TABLE (default, comment, partition bound, AUTO_INCREMENT) carry
distinctive literals; none may appear anywhere in the file. The plans are real MariaDB
output (tests/fixtures/plans/mariadb/flips: an index dropped between two EXPLAINs).
"""

from __future__ import annotations

import doctest
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import pytest
from flask.testing import FlaskClient
from plotly.offline import get_plotlyjs

import analysis.ddl_masking
import components.casefile
import components.casefile_link
from analysis.ddl_masking import mask_create_table
from analysis.digest import DigestAggregator
from analysis.findings import find_problems
from analysis.fingerprint import fingerprint_and_id
from analysis.inventory import instance_from_static
from analysis.plan import parse_plan, plan_hash
from analysis.slowlog import SlowLogEntry
from analysis.units import human_duration
from app import create_app
from collectors.processlist import ConnectionParams
from collectors.table_context import read_table_context
from components.casefile_html import PLOTLY_SCRIPT_ID
from components.digest_detail import stats_rows
from settings import Settings
from store import Store, open_store
from tests.mariadb_server import require_mariadb, start_mariadb

FLIPS = Path(__file__).resolve().parent / "fixtures" / "plans" / "mariadb" / "flips"
INSTANCE = "orders-prd-1"
IDLE = "idle-db-2"
SECRET_TEXT = "secret-lit-7731"
SECRET_NUMBER = "98765431"
HOSTILE = "<img src=x onerror=alert(1)>"  # an identifier: kept, but only as text
# the recorded statement's own literal, swapped for ours everywhere it appears
RECORDED_LITERAL = "2025-03-04 12:00:00"
SQL = (f"SELECT id, total, `{HOSTILE}` FROM orders WHERE created_at = '{SECRET_TEXT}' "
       f"AND customer_id = {SECRET_NUMBER}")
CREATE_TABLE = (
    "CREATE TABLE `orders` (\n"
    "  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
    "  `customer_id` int(11) NOT NULL,\n"
    f"  `state` varchar(255) NOT NULL DEFAULT '{SECRET_TEXT}' COMMENT 'ask {SECRET_NUMBER}',\n"
    f"  `total` decimal(10,2) NOT NULL DEFAULT {SECRET_NUMBER}.50,\n"
    "  `created_at` datetime NOT NULL,\n"
    "  PRIMARY KEY (`id`,`created_at`),\n"
    "  KEY `idx_state` (`state`(10))\n"
    f") ENGINE=InnoDB AUTO_INCREMENT={SECRET_NUMBER} DEFAULT CHARSET=utf8mb4\n"
    "/*!50100 PARTITION BY RANGE (year(`created_at`))\n"
    f"(PARTITION p1 VALUES LESS THAN ({SECRET_NUMBER}) ENGINE = InnoDB) */")
SEP, OCT = datetime(2026, 9, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC)


def _digests(instance: str, start: datetime, calls: int, seconds: float) -> list[dict]:
    aggregator = DigestAggregator(fingerprint_and_id)
    for n in range(calls):
        aggregator.add(instance, SlowLogEntry(
            time=start + timedelta(hours=n % 30), user="app", host="10.0.0.5", ip="10.0.0.5",
            db="shop", query_time=seconds + n * 0.01, lock_time=0.001, rows_sent=1,
            rows_examined=600, sql=SQL))
    return [d.to_dict() for d in aggregator.digests(instance)]


def _plan(side: str, query_id: str) -> dict[str, Any]:
    """A plan document as collectors/explain.py stores it, from a recorded flip whose literal
    is replaced by ours (in the statement, the JSON and a TREE text)."""
    raw = (FLIPS / f"flip_created_index_dropped_{side}.json").read_text(encoding="utf-8")
    recorded = json.loads(raw.replace(RECORDED_LITERAL, SECRET_TEXT))
    explain = recorded["explain"]
    root = parse_plan(explain)
    return {
        "instance_id": INSTANCE, "query_id": query_id, "fingerprint": "select ...",
        "plan_hash": plan_hash(root), "server_version": recorded["server_version"],
        "server_flavour": "mariadb", "converted_from": None,
        "explained_sql": recorded["query"] + f" AND customer_id = {SECRET_NUMBER}",
        "db": "shop",
        "formats": {"json": {"supported": True, "text": json.dumps(explain), "error": None},
                    "tree": {"supported": False, "text": None,
                             "error": f"1064: near '{SECRET_TEXT}' at line 1"}},
        "root": root.to_dict(), "findings": [f.to_dict() for f in find_problems(root)],
        "parsed_from": "json", "parse_error": None, "timed_out": False,
    }


def _seed(store: Store) -> str:
    """Two months of one statement on orders-prd-1 with two plans (the index was dropped in
    between) and a cached table read; one month of it on an idle instance with nothing else.
    Returns the statement's query id."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.instances.sync("static", [instance_from_static(
        {"instance_id": INSTANCE, "host": "10.0.0.9", "tags": {"env": "prd"}}, 1)], stamp)
    store.digests.replace_period(INSTANCE, "2026-09", _digests(INSTANCE, SEP, 40, 0.2))
    october = _digests(INSTANCE, OCT, 60, 2.5)
    store.digests.replace_period(INSTANCE, "2026-10", october)
    query_id = october[0]["query_id"]
    store.plans.record(_plan("before", query_id), "2026-09-10T10:00:00.000000Z")
    store.plans.record(_plan("after", query_id), "2026-10-06T10:00:00.000000Z")
    # read two hours ago: stale, and with no MYSQL_USER it is served as it is, with the reason
    store.table_context.put(INSTANCE, {
        "schema": "shop", "table": "orders", "table_type": "BASE TABLE", "engine": "InnoDB",
        "rows_estimate": 600, "data_bytes": 65536, "index_bytes": 16384,
        "indexes": [{"name": "PRIMARY", "unique": True, "primary": True, "type": "BTREE",
                     "columns": ["id", "created_at"], "cardinality": 600},
                    {"name": "idx_state", "unique": False, "primary": False, "type": "BTREE",
                     "columns": ["state(10)"], "cardinality": 3}],
        "create_table": CREATE_TABLE,
        "read_at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    idle = _digests(IDLE, OCT, 1, 1.5)
    idle[0].update(examples=[], hourly={})
    store.digests.replace_period(IDLE, "2026-10", idle)
    return query_id


@pytest.fixture
def seeded(settings: Settings, database_url: str) -> tuple[FlaskClient, str]:
    store = open_store(database_url)
    query_id = _seed(store)
    store.close()
    app = create_app(replace(settings, database_url=database_url))
    return app.server.test_client(), query_id


def _casefile_url(instance: str, period: str, query_id: str) -> str:
    return f"/api/digests/{quote(instance, safe='')}/{period}/{query_id}/casefile"


def _outside_library(page: str) -> str:
    """The file without the one inlined plotly.js (checked to be the library, unchanged)."""
    match = re.search(rf'<script id="{PLOTLY_SCRIPT_ID}">(.*?)</script>', page, re.DOTALL)
    assert match is not None
    assert match.group(1) == get_plotlyjs()
    return page[:match.start()] + page[match.end():]


class _Tags(HTMLParser):
    """Every attribute of every real tag, and the text of <style> and <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[tuple[str, str]] = []
        self.code: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(name, value or "") for name, value in attrs]
        self._in_code = tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.code.append(data)


def _references(page: str) -> list[str]:
    """Everything in the page (the library aside) that could make a browser fetch: URL
    attributes that are not in-page anchors, url() and @import in styles, and any http(s)
    address at all, even in text."""
    tags = _Tags()
    tags.feed(page)
    found = [f"{name}={value}" for name, value in tags.attributes
             if name in ("src", "href", "action", "poster", "srcset", "data", "formaction")
             and not value.startswith("#")]
    styles = "\n".join(tags.code + [v for n, v in tags.attributes if n == "style"])
    found += re.findall(r"url\(\s*['\"]?[^'\")]*", styles, re.IGNORECASE)
    found += re.findall(r"@import\s+[^;]*", styles, re.IGNORECASE)
    found += re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'<>]*", page, re.IGNORECASE)
    return found


def test_the_case_file_has_no_external_reference_and_no_literal(seeded) -> None:
    client, query_id = seeded
    answer = client.get(_casefile_url(INSTANCE, "2026-10", query_id))
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="casefile-{INSTANCE}-2026-10-{query_id}.html"')
    page = answer.get_data(as_text=True)

    for literal in (SECRET_TEXT, SECRET_NUMBER, RECORDED_LITERAL):
        assert literal not in page  # the whole file, the inlined library too
    assert page.count("* plotly.js v") == 1  # the library once; every chart reuses it
    rest = _outside_library(page)
    for part in ("7731", "8765431", "secret-lit", "2025-03-04"):
        assert part not in rest
    assert _references(rest) == []
    assert "<script src" not in rest and "<link" not in rest

    # what a DBA came for, values masked but the statement's shape and the schema intact
    assert "customer_id = ?" in rest and "created_at = ?" in rest
    assert HOSTILE not in rest and "&lt;img src=x onerror=alert(1)&gt;" in rest
    assert "`state` varchar(255) NOT NULL DEFAULT ? COMMENT ?" in rest
    assert "AUTO_INCREMENT=? " in rest and "VALUES LESS THAN (?)" in rest
    assert "KEY `idx_state` (`state`(10))" in rest
    assert "The tables cannot be read: MYSQL_USER is not set" in rest
    for section in ("statistics", "activity", "examples", "plans", "history", "tables"):
        assert f'<section id="{section}">' in rest
    assert rest.count('class="plan"') == 2 and "plan changed" in rest
    assert re.search(r"Changed from plan \w{12}: orders: ref on idx_created → ALL; rows 1 → 600",
                     rest)
    assert "Full table scan" in rest  # the newest plan's finding, in words
    assert rest.count('id="casefile-plan-') == 2 + 2  # two diagrams, each in its box
    assert 'id="casefile-hourly"' in rest and 'id="casefile-history-chart"' in rest

    detail = client.get(f"/api/digests/{INSTANCE}/2026-10/{query_id}").get_json()
    for label, cells in stats_rows(detail):  # the digest window's figures, as it writes them
        assert f"<td>{label}</td>" + "".join(f'<td class="num">{c}</td>' for c in cells) in rest
    history = re.search(r'<table id="casefile-history">.*?</table>', rest, re.DOTALL).group(0)
    assert history.index("September 2026") < history.index("October 2026")
    assert human_duration(detail["query_time"]["sum"]) in history
    assert '<tr class="current"><td>October 2026</td>' in history


def test_empty_states_are_said(seeded) -> None:
    client, query_id = seeded
    page = client.get(_casefile_url(IDLE, "2026-10", query_id)).get_data(as_text=True)
    for ident, words in (("casefile-no-examples", "No example statements were kept"),
                         ("casefile-no-hourly", "No timestamps were logged"),
                         ("casefile-no-plan", "No plan recorded for this statement"),
                         ("casefile-single-period", "Only October 2026 holds this statement"),
                         ("casefile-no-tables", "No table context")):
        assert re.search(rf'id="{ident}">{words}', page), ident
    assert PLOTLY_SCRIPT_ID not in page and "Plotly.newPlot" not in page  # no chart: no library


def test_fleet_case_file(seeded) -> None:
    client, query_id = seeded
    answer = client.get(_casefile_url("(fleet)", "2026-10", query_id))
    assert answer.status_code == 200
    assert 'filename="casefile-fleet-2026-10-' in answer.headers["Content-Disposition"]
    page = answer.get_data(as_text=True)
    assert SECRET_TEXT not in page and SECRET_NUMBER not in page
    instances = re.search(r'<table id="casefile-instances">.*?</table>', page, re.DOTALL)
    assert instances and INSTANCE in instances.group(0) and IDLE in instances.group(0)
    assert "All instances (2)" in page
    history = re.search(r'<table id="casefile-history">.*?</table>', page, re.DOTALL).group(0)
    assert "September 2026" in history and "October 2026" in history


@pytest.mark.parametrize(("path", "status", "fragment"), [
    (_casefile_url(INSTANCE, "2026-10", "ABCDEF0123456789"), 404, "no such digest"),
    (_casefile_url(INSTANCE, "2026-13", "ABCDEF0123456789"), 400, "period must be a month"),
    (_casefile_url(INSTANCE, "2026-10", "not-an-id"), 400, "query_id must be"),
    (_casefile_url("x" * 300, "2026-10", "ABCDEF0123456789"), 400, "instance_id is too long"),
    (_casefile_url(INSTANCE, "2026-10", "ABCDEF0123456789") + "?literals=true", 400,
     "accepts: no parameters"),
])
def test_bad_requests_are_json(seeded, path: str, status: int, fragment: str) -> None:
    answer = seeded[0].get(path)
    assert answer.status_code == status
    assert fragment in answer.get_json()["error"]


def test_a_viewer_may_download_it(tmp_path: Path, settings: Settings) -> None:
    from auth.credentials import add_token

    tokens = tmp_path / "tokens.json"
    token = add_token(tokens, "viewer", "viewer")
    app = create_app(replace(settings, auth_tokens_file=tokens))
    store = app.server.extensions["slowquery"].store
    digests = _digests(INSTANCE, OCT, 3, 1.0)
    store.digests.replace_period(INSTANCE, "2026-10", digests)
    client = app.server.test_client()
    url = _casefile_url(INSTANCE, "2026-10", digests[0]["query_id"])
    assert client.get(url).status_code == 401
    answer = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and SECRET_TEXT not in answer.get_data(as_text=True)


@pytest.mark.parametrize("module", [analysis.ddl_masking, components.casefile,
                                    components.casefile_link])
def test_doctests(module) -> None:
    assert doctest.testmod(module).failed == 0


def test_create_table_of_a_real_server_is_masked(tmp_path: Path) -> None:
    """SHOW CREATE TABLE as MariaDB writes it (read by the real collector) keeps its types,
    sizes and prefix lengths, and loses every value: defaults, comments, ENUM members, a
    CHECK, a generated column's constant, partition bounds and AUTO_INCREMENT."""
    require_mariadb()
    server = start_mariadb(tmp_path / "maria", networking=True)
    try:
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE shop")
            cur.execute(f"""CREATE TABLE shop.orders (
                id INT NOT NULL AUTO_INCREMENT,
                state ENUM('{SECRET_TEXT}', 'paid') NOT NULL DEFAULT '{SECRET_TEXT}'
                    COMMENT 'ask {SECRET_NUMBER}',
                total DECIMAL(12,2) NOT NULL DEFAULT {SECRET_NUMBER}.25,
                taxed DECIMAL(12,2) AS (total * 1.{SECRET_NUMBER}) VIRTUAL,
                email VARCHAR(255) NOT NULL DEFAULT _utf8mb4'{SECRET_TEXT}',
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (id, created_at), KEY idx_email (email(10)),
                CONSTRAINT big CHECK (total < {SECRET_NUMBER}))
                AUTO_INCREMENT={SECRET_NUMBER} COMMENT='{SECRET_TEXT}'
                PARTITION BY RANGE (YEAR(created_at))
                (PARTITION p1 VALUES LESS THAN ({SECRET_NUMBER}),
                 PARTITION p2 VALUES LESS THAN MAXVALUE)""")
            cur.execute("CREATE USER monitor@'%' IDENTIFIED BY 'casefile-monitor'")
            cur.execute("GRANT SELECT ON shop.* TO monitor@'%'")
        read = read_table_context(ConnectionParams("127.0.0.1", server.port, "monitor",
                                                   "casefile-monitor"), "shop", "orders")
    finally:
        server.stop()
    written = read["create_table"]
    assert SECRET_TEXT in written and SECRET_NUMBER in written  # the server wrote them
    masked = mask_create_table(written)
    assert SECRET_TEXT not in masked and "7731" not in masked and "8765431" not in masked
    for kept in ("`state` enum(?,?) NOT NULL DEFAULT ? COMMENT ?", "decimal(12,2)",
                 "varchar(255)", "datetime(6)", "current_timestamp(6)", "(`email`(10))",
                 "PARTITION BY RANGE", "VALUES LESS THAN (?)", "VALUES LESS THAN MAXVALUE",
                 "AUTO_INCREMENT=?", "COMMENT=?"):
        assert kept.lower() in masked.lower(), kept


@pytest.mark.browser
def test_the_window_links_it_and_it_opens_offline(settings: Settings, dash_duo,
                                                  tmp_path: Path) -> None:
    """From the digest window's link to a file on disk, opened with the network off."""
    app = create_app(settings)
    query_id = _seed(app.server.extensions["slowquery"].store)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests?instance_id={INSTANCE}"
                           f"&period=2026-10&query_id={query_id}")
    link = dash_duo.wait_for_element("#digest-casefile", timeout=10)
    name = f"casefile-{INSTANCE}-2026-10-{query_id}.html"
    assert link.get_attribute("download") == name
    with urlopen(link.get_attribute("href"), timeout=30) as answer:
        assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        path = tmp_path / name
        path.write_bytes(answer.read())

    driver = dash_duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    driver.get(path.as_uri())
    deadline = time.monotonic() + 20
    charts = 0
    while time.monotonic() < deadline:
        charts = driver.execute_script(
            "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(function (p) { return p.querySelector('.main-svg'); }).length;")
        if charts == 4:
            break
        time.sleep(0.2)
    assert charts == 4  # per hour, two plan diagrams, month over month
    seen = driver.execute_script("""
        return {
          sections: Array.from(document.querySelectorAll('section')).map(function (s) {
            return s.id; }),
          boxes: document.querySelectorAll('#casefile-plan-1 path, #casefile-plan-2 path')
            .length,
          fetched: performance.getEntriesByType('resource').map(function (e) {
            return e.name; }),
          text: document.body.innerText};""")
    assert seen["sections"] == ["statistics", "activity", "examples", "plans", "history",
                                "tables"]
    assert seen["boxes"] > 4  # the plan boxes are drawn shapes
    assert seen["fetched"] == []  # nothing was asked for, from anywhere
    assert "Case file: query 0x" in seen["text"] and SECRET_TEXT not in seen["text"]
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []
