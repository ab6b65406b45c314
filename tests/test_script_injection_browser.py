"""Hostile data is shown as text, never run: statements, users, schemas, hosts, tags, instance
ids, error messages, log lines and plan texts holding `<script>`, `"><img src=x onerror=...>`
and markdown, stored through the store's own repositories, on every page and window in
headless Chromium (graph nodes tapped, literals shown, a hostile plan pasted).

Each payload sets `window.__pwned` to its own number if it ever runs. The pages' Content
Security Policy would also stop an injected inline handler from running, so the DOM is checked
too: no `<img src=x>`, no element with an inline `on...` handler or a `javascript:` URL, no
script or SVG/iframe made from data, no `<b>`/`<strong>` made from markdown, and no CSP report
in the console; and each page shows the hostile text as text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from analysis.digest import DigestAggregator
from analysis.findings import find_problems
from analysis.fingerprint import fingerprint_and_id
from analysis.inventory import instance_from_static
from analysis.plan import parse_plan, plan_hash
from analysis.slowlog import SlowLogEntry
from app import create_app
from jobs.inventory import STATUS_FLAG as INVENTORY_STATUS
from jobs.realtime import STATUS_FLAG as REALTIME_STATUS
from settings import Settings
from tests.test_plans_page import _click, _cy, _open_tab

pytestmark = pytest.mark.browser

INSTANCE = "evil<script>window.__pwned=1</script>"
TAG = '"><img src=x onerror="window.__pwned=2">'
COLUMN = "<img src=x onerror=window.__pwned=3>"
MARKDOWN = "**bold** [link](javascript:window.__pwned=4)"
HOST = "<svg onload=window.__pwned=9>"
LITERAL = "<script>window.__pwned=10</script>"
QUOTE_LITERAL = '"><img src=x onerror=window.__pwned=11>'
SQL = (f"SELECT `{COLUMN}`, '{LITERAL}' FROM `{MARKDOWN}` "
       f"WHERE note = '{QUOTE_LITERAL.replace(chr(34), chr(92) + chr(34))}'")
ERROR = "<img src=x onerror=window.__pwned=12> **failed** [retry](javascript:window.__pwned=13)"
TABLE_1 = "<img src=x onerror=window.__pwned=5>"
TABLE_2 = '"><img src=x onerror="window.__pwned=7">'
CONDITION = f"(`shop`.`<script>window.__pwned=6</script>`.`note` = '{MARKDOWN}')"
OCT = datetime(2026, 10, 1, tzinfo=UTC)
RUN_ID = 'run-"><img src=x onerror=window.__pwned=14>'  # no "/": ids are one path segment


# ---- the hostile store -------------------------------------------------------------------------
def _plan_json(second_table: str) -> str:
    return json.dumps({"query_block": {
        "select_id": 1, "cost_info": {"query_cost": "1501.50"},
        "nested_loop": [
            {"table": {"table_name": TABLE_1, "access_type": "ALL",
                       "rows_examined_per_scan": 1000, "rows_produced_per_join": 100,
                       "filtered": "10.00", "attached_condition": CONDITION,
                       "cost_info": {"read_cost": "100.0", "eval_cost": "10.0",
                                     "prefix_cost": "110.0"}}},
            {"table": {"table_name": second_table, "access_type": "ALL",
                       "rows_examined_per_scan": 500, "rows_produced_per_join": 1000,
                       "filtered": "100.00", "using_join_buffer": "hash join",
                       "attached_condition": f"(`t2`.`id` = `{MARKDOWN}`.`id`)",
                       "cost_info": {"read_cost": "100.0", "eval_cost": "10.0",
                                     "prefix_cost": "1501.5"}}},
        ]}}, indent=2)


def _plan(second_table: str) -> dict[str, Any]:
    """A stored plan document as collectors/explain.py writes one, from hostile EXPLAIN."""
    text = _plan_json(second_table)
    root = parse_plan(text, "json")
    fingerprint, query_id = fingerprint_and_id(SQL)
    return {
        "instance_id": INSTANCE, "query_id": query_id, "fingerprint": fingerprint,
        "plan_hash": plan_hash(root), "server_version": f"8.0.35 {TAG}",
        "server_flavour": "mysql", "converted_from": None, "explained_sql": SQL,
        "db": MARKDOWN,
        "formats": {"json": {"supported": True, "text": text, "error": None},
                    "tree": {"supported": True, "text": None,
                             "error": f"1064: near '{LITERAL}' {ERROR}"}},
        "root": root.to_dict(), "findings": [f.to_dict() for f in find_problems(root)],
        "parsed_from": "json", "parse_error": None, "timed_out": False,
    }


def _digests() -> list[dict[str, Any]]:
    aggregator = DigestAggregator(fingerprint_and_id)
    for n in range(3):
        aggregator.add(INSTANCE, SlowLogEntry(
            time=OCT + timedelta(hours=n), user=MARKDOWN, host=HOST, ip="10.0.0.5",
            db=MARKDOWN, query_time=2.0 + n, lock_time=0.001, rows_sent=1,
            rows_examined=1000, sql=SQL))
    return [d.to_dict() for d in aggregator.digests(INSTANCE)]


def _capture(pid: int, plan_id: str | None, plan_error: str | None) -> dict[str, Any]:
    fingerprint, query_id = fingerprint_and_id(SQL)
    start = datetime.now(UTC) - timedelta(minutes=pid)
    stamp = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"id": f"{INSTANCE}|{pid}|{int(start.timestamp())}", "instance_id": INSTANCE,
            "pid": pid, "user": MARKDOWN, "host": HOST, "db": MARKDOWN, "sql_text": SQL,
            "start": stamp, "last_seen": stamp, "end": stamp, "duration": 3.5,
            "finished": True, "fingerprint": fingerprint, "query_id": query_id,
            "plan_id": plan_id, "plan_error": plan_error}


@pytest.fixture
def hostile_app(settings: Settings):
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    instance = instance_from_static({
        "instance_id": INSTANCE, "host": HOST, "port": 3306, "engine": "mysql",
        "engine_version": MARKDOWN, "tags": {"env": "prd", "real_time_slow_sql": "true",
                                             "owner": TAG, "<b>k</b>": MARKDOWN}}, 1)
    store.instances.sync("static", [instance], now)
    store.digests.replace_period(INSTANCE, "2026-10", _digests())
    old_plan = store.plans.record(_plan("t2"), "2026-11-01T00:00:00Z")
    plan_id = store.plans.record(_plan(TABLE_2), "2026-11-02T00:00:00Z")
    store.captures.save(_capture(1, plan_id, None))
    store.captures.save(_capture(2, None, f"EXPLAIN failed: {ERROR}"))
    store.runs.create({
        "collection_id": RUN_ID, "status": "error", "progress": 100, "message": ERROR,
        "period": {"start_date": "2026-10-01", "end_date": "2026-10-31"},
        "period_key": "2026-10", "instance_ids": [INSTANCE], "processed_instances": 1,
        "total_instances": 1, "total_queries": 0, "malformed_events": 0,
        "errors": [{"instance_id": INSTANCE, "error": ERROR}], "warnings": [TAG],
        "logs": [{"seq": 1, "message": f"{INSTANCE}: {ERROR}", "level": "error"},
                 {"seq": 2, "message": MARKDOWN, "level": "warning"}],
        "log_seq": 2, "error": ERROR, "started_at": now, "completed_at": now,
        "heartbeat_at": now})
    store.flags.set(INVENTORY_STATUS, {"refreshed_at": now, "sources": {
        "rds": {"ok": False, "error": ERROR}}})
    store.flags.set(REALTIME_STATUS, {INSTANCE: {"last_poll": None, "last_error": ERROR,
                                                 "source": None}})
    return app, plan_id, old_plan


# ---- the checks --------------------------------------------------------------------------------
SAFETY_JS = r"""
var found = {pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
             problems: []};
function note(what) { found.problems.push(what); }
document.querySelectorAll('img').forEach(function (img) {
  var src = img.getAttribute('src') || '';
  if (src === 'x' || /\/x$/.test(src)) { note('img src=' + src); }
});
document.querySelectorAll('*').forEach(function (el) {
  Array.prototype.forEach.call(el.attributes, function (a) {
    if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value) || /__pwned/.test(a.name)) {
      note(el.tagName + ' ' + a.name + '=' + a.value.slice(0, 60));
    }
  });
});
Array.prototype.forEach.call(document.scripts, function (s) {
  if (/__pwned/.test(s.text || '') || /__pwned/.test(s.src || '')) { note('script ' + s.text); }
});
document.querySelectorAll('iframe, object, embed, svg[onload]').forEach(function (el) {
  note('element ' + el.tagName);
});
document.querySelectorAll('b, strong, a').forEach(function (el) {
  if (/^(bold|link|k)$/.test((el.textContent || '').trim())) { note('markdown ' + el.outerHTML); }
});
found.text = document.body.innerText + '\n' + document.body.textContent;
return found;
"""


class Checker:
    """Runs the DOM checks after every step and keeps the console to look at last."""

    def __init__(self, dash_duo) -> None:
        self.dash_duo = dash_duo
        self.console: list[dict] = []

    def __call__(self, where: str, *visible: str) -> str:
        found = self.dash_duo.driver.execute_script(SAFETY_JS)
        self.console += self.dash_duo.driver.get_log("browser")
        assert found["pwned"] is None, f"{where}: payload {found['pwned']} ran"
        assert found["problems"] == [], f"{where}: {found['problems']}"
        for text in visible:
            assert text in found["text"], f"{where}: {text!r} is not shown as text"
        return found["text"]

    def no_policy_reports(self) -> None:
        self.console += self.dash_duo.driver.get_log("browser")
        reports = [e["message"] for e in self.console
                   if "Content Security Policy" in e["message"] or "__pwned" in e["message"]]
        assert reports == [], reports


def _wait(predicate: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - the DOM re-renders under us; try again
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _cell(dash_duo, css: str):
    return _wait(lambda: dash_duo.driver.find_element(By.CSS_SELECTOR, css), what=css)


# ---- the test ----------------------------------------------------------------------------------
def test_hostile_values_are_text_on_every_page_and_window(dash_duo, hostile_app) -> None:
    app, plan_id, old_plan_id = hostile_app
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(2400, 1400)  # every grid column rendered
    base = dash_duo.server_url
    check = Checker(dash_duo)

    # Overview: the failed source's error, the heaviest statements
    dash_duo.wait_for_page(f"{base}/")
    dash_duo.wait_for_contains_text("#overview-content", "discovery failed", timeout=15)
    dash_duo.wait_for_contains_text("#overview-top-digests", "onerror", timeout=15)
    check("overview", ERROR, INSTANCE, COLUMN.replace("3", "?"))

    # Instances: id, tags as chips, engine version, endpoint
    dash_duo.wait_for_page(f"{base}/instances")
    dash_duo.wait_for_contains_text("#instances-grid", "__pwned=1", timeout=15)
    check("instances", INSTANCE, f"owner={TAG}", f"<b>k</b>={MARKDOWN}", HOST, MARKDOWN)

    # Collection: the failed run in the history, its log replayed over the WebSocket
    dash_duo.wait_for_page(f"{base}/collection")
    _cell(dash_duo, "#collection-history .ag-center-cols-container [col-id='status']")
    check("collection", INSTANCE, RUN_ID)
    _click(dash_duo, _cell(dash_duo, "#collection-history .ag-center-cols-container "
                                     "[col-id='status']"))
    _wait(lambda: len(dash_duo.driver.find_elements(By.CSS_SELECTOR,
                                                    ".collection-log-line")) == 2,
          what="the run's log lines")
    dash_duo.wait_for_contains_text("#collection-status", "failed", timeout=10)
    check("collection run log", f"{INSTANCE}: {ERROR}", MARKDOWN)

    # Digests: the grid, the digest's window, its examples with and without literals
    dash_duo.wait_for_page(f"{base}/digests")
    row = "#digests-grid .ag-center-cols-container .ag-row[row-index='0'] "
    _wait(lambda: "onerror" in _cell(dash_duo, row + "[col-id='fingerprint']").text,
          what="the hostile digest row")
    check("digests", INSTANCE, COLUMN.replace("3", "?"))
    _click(dash_duo, _cell(dash_duo, row + "[col-id='fingerprint']"))
    dash_duo.wait_for_element("#digest-example-0", timeout=15)
    dash_duo.wait_for_contains_text("#digest-hosts", "__pwned=9", timeout=15)
    masked = check("digest window", INSTANCE, MARKDOWN, HOST, COLUMN)
    assert LITERAL not in masked and QUOTE_LITERAL not in masked  # masked until asked
    _click(dash_duo, dash_duo.find_element("#digest-show-literals"))
    dash_duo.wait_for_contains_text("#digest-example-0", "__pwned=10", timeout=10)
    check("digest window with literals", LITERAL, QUOTE_LITERAL.replace('"', '\\"'))

    # Real-time: the target's error, the captures, each capture's window
    dash_duo.wait_for_page(f"{base}/realtime")
    dash_duo.wait_for_contains_text("#realtime-instance-switches", "__pwned=12", timeout=15)
    _wait(lambda: len(dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#realtime-grid .ag-center-cols-container .ag-row")) == 2,
        what="two captures")
    check("realtime", INSTANCE, ERROR, MARKDOWN)
    for index, plan_text in ((0, "Open plan"), (1, "EXPLAIN failed")):
        _click(dash_duo, _cell(dash_duo, f"#realtime-grid .ag-row[row-index='{index}'] "
                                         "[col-id='sql']"))
        dash_duo.wait_for_contains_text("#realtime-plan", plan_text, timeout=15)
        check(f"capture {index}", INSTANCE, MARKDOWN, HOST, COLUMN)
        _click(dash_duo, dash_duo.find_element("label[for='realtime-show-literals']"))
        dash_duo.wait_for_contains_text("#realtime-sql", "__pwned=10", timeout=10)
        check(f"capture {index} with literals", LITERAL)
        if index == 1:
            check("capture plan error", ERROR)
        _click(dash_duo, dash_duo.find_element("label[for='realtime-show-literals']"))
        _click(dash_duo, dash_duo.find_element("#realtime-modal .btn-close"))
        dash_duo.wait_for_no_elements("#realtime-modal .modal-body", timeout=5)

    # Plans: the list, the diagram, the graph with a tapped node, the raw output, history
    dash_duo.wait_for_page(f"{base}/plans?plan_id={quote(plan_id, safe='')}")
    dash_duo.wait_for_contains_text("#plan-visual", "<img src=x onerror=window._", timeout=15)
    dash_duo.wait_for_contains_text("#plan-findings", "__pwned=7", timeout=15)
    check("plan diagram", INSTANCE, TABLE_2, TAG)
    box = next(e for e in dash_duo.find_elements("#plan-visual .annotation-text")
               if "<img" in e.text)  # a box's text is cut short; its hover text is whole
    ActionChains(dash_duo.driver).move_to_element(box).perform()
    dash_duo.wait_for_contains_text("#plan-visual .hoverlayer", "__pwned=5", timeout=10)
    check("plan diagram hover", TABLE_1)
    _open_tab(dash_duo, "Graph")
    assert _wait(lambda: _cy(dash_duo, "return cy.nodes().length;"), what="graph") == 4
    for node, table in (("n0.0.0", TABLE_1), ("n0.0.1", TABLE_2)):
        def tapped(node=node, table=table) -> bool:
            _cy(dash_duo, f"cy.getElementById('{node}').emit('tap'); return true;")
            time.sleep(0.5)
            return table in dash_duo.find_element("#plan-node-details").text
        _wait(tapped, what=f"the details of {node}")
        check(f"graph node {node}", table)
    labels = _cy(dash_duo, "return cy.nodes().map(function (n) { return n.data('label'); });")
    assert any(TABLE_2 in label for label in labels)  # canvas text, drawn as is
    _open_tab(dash_duo, "Raw")
    _click(dash_duo, dash_duo.find_element("label[for='plan-show-literals']"))
    dash_duo.wait_for_contains_text("#plan-raw-json", "query_block", timeout=10)
    check("raw plan with literals", CONDITION, LITERAL, ERROR)
    _click(dash_duo, dash_duo.find_element("#plan-history .list-group-item-action"))
    dash_duo.wait_for_contains_text("#plan-header", old_plan_id.rsplit("|", 1)[1], timeout=10)
    check("older plan", INSTANCE, TABLE_1)
    check("plan list", INSTANCE, COLUMN.replace("3", "?"))
    _click(dash_duo, _cell(dash_duo, "#plans-grid .ag-center-cols-container "
                                     ".ag-row[row-index='0'] [col-id='query_id']"))
    dash_duo.wait_for_contains_text("#plan-header", plan_id.rsplit("|", 1)[1], timeout=10)
    check("plan chosen in the list", INSTANCE, TABLE_2)

    # a pasted plan with hostile names is shown the same way
    pasted = _plan_json(f"pasted{TABLE_2}")
    dash_duo.find_element("#plan-paste-text").send_keys(pasted)
    _click(dash_duo, dash_duo.find_element("#plan-paste-show"))
    dash_duo.wait_for_contains_text("#plan-header", "pasted", timeout=10)
    _open_tab(dash_duo, "Visual")
    dash_duo.wait_for_contains_text("#plan-visual", "pasted", timeout=10)
    check("pasted plan", f"pasted{TABLE_2}")
    box = dash_duo.find_element("#plan-paste-text")
    box.clear()
    box.send_keys(f"{{ {LITERAL} {TAG}")
    _click(dash_duo, dash_duo.find_element("#plan-paste-show"))
    dash_duo.wait_for_contains_text("#plan-paste-error", "Could not read", timeout=10)
    check("paste error")

    check.no_policy_reports()

    # the checks can fail: markup planted in the page is caught
    dash_duo.driver.execute_script(
        "document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__pwned=99\">"
        "<b>bold</b>');")
    with pytest.raises(AssertionError, match="img src=x"):
        check("planted markup")
