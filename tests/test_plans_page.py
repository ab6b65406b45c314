"""The Plans page in headless Chromium: stored plans from recorded MariaDB output, the three
views, the plan history, pasting MySQL TREE output, and a paste that cannot be read."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from analysis.findings import find_problems
from analysis.plan import parse_plan, plan_hash
from app import create_app
from settings import Settings
from tests.test_table_context import lab  # noqa: F401  (the real MariaDB of the Tables tab)

pytestmark = pytest.mark.browser

PLANS = Path(__file__).resolve().parent / "fixtures" / "plans"
INSTANCE = "orders-prd-1"
QUERY_ID = "5A1F0C3D9E8B7A61"


def _tree_error() -> str:
    """What MariaDB answers to EXPLAIN FORMAT=TREE (recorded from a real server)."""
    error = json.loads((PLANS / "mariadb" / "format_tree_error.json").read_text())["error"]
    return f"{error['code']}: {error['message']}"


def _stored_plan(fixture: str) -> dict:
    """A plan document as collectors/explain.py writes it, from a recorded MariaDB EXPLAIN."""
    recorded = json.loads((PLANS / "mariadb" / fixture).read_text(encoding="utf-8"))
    text = json.dumps(recorded["explain"], indent=2)
    root = parse_plan(text, "json")
    return {
        "instance_id": INSTANCE, "query_id": QUERY_ID,
        "fingerprint": "select oi.id, p.name, oi.qty from order_items oi join products p "
                       "on p.id = oi.product_id where p.category = ?",
        "plan_hash": plan_hash(root), "server_version": recorded["server_version"],
        "server_flavour": "mariadb", "converted_from": None,
        "explained_sql": recorded["query"], "db": "shop",
        "formats": {"json": {"supported": True, "text": text, "error": None},
                    "tree": {"supported": False, "text": None, "error": _tree_error()}},
        "root": root.to_dict(), "findings": [f.to_dict() for f in find_problems(root)],
        "parsed_from": "json", "parse_error": None, "timed_out": False,
    }


def _severe_logs(dash_duo) -> list[dict]:
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"]


def _click(dash_duo, element) -> None:
    """Click after scrolling the element to the middle at once (Bootstrap makes scrolling
    smooth, so a plain click can land where the element was mid-animation)."""
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _open_tab(dash_duo, label: str) -> None:
    for link in dash_duo.find_elements("#plan-tabs .nav-link"):
        if link.text.strip() == label:
            _click(dash_duo, link)
            return
    raise AssertionError(f"no tab {label!r}")


def _cy(dash_duo, script: str):
    """Run `script` with `cy` bound to the plan graph's cytoscape instance."""
    return dash_duo.driver.execute_script(
        "var el = document.getElementById('plan-graph');"
        "var cy = (el && el._cyreg && el._cyreg.cy) || window.cy;"
        "if (!cy) { return null; }" + script)


def _screenshot(dash_duo, name: str) -> None:
    """With PLANS_SCREENSHOT_DIR set, save the plan views (for a human to look at)."""
    folder = os.environ.get("PLANS_SCREENSHOT_DIR")
    if not folder:
        return
    dash_duo.driver.set_window_size(1500, 1150)
    dash_duo.driver.execute_script(
        "document.getElementById('plan-header').scrollIntoView({block: 'start', "
        "behavior: 'instant'});")
    time.sleep(0.6)
    dash_duo.driver.save_screenshot(str(Path(folder) / name))


def _wait_for(predicate, timeout: float = 10, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def two_plans(settings: Settings):
    """An app whose store holds two plans of one query: the plan changed on the second day."""
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    old_id = store.plans.record(_stored_plan("join_without_index.json"), "2026-11-01T00:00:00Z")
    new_id = store.plans.record(_stored_plan("full_scan.json"), "2026-11-02T00:00:00Z")
    assert old_id != new_id
    return app, old_id, new_id


def test_plan_views_history_and_paste(dash_duo, two_plans) -> None:
    app, plan_id, other_id = two_plans
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/plans?plan_id={quote(plan_id, safe='')}")

    # the visual diagram: one box per operation, table names in the svg
    dash_duo.wait_for_contains_text("#plan-visual", "oi · ALL", timeout=15)
    svg_text = " ".join(e.text for e in dash_duo.find_elements("#plan-visual svg"))
    assert "p · ALL" in svg_text and "Nested loop" in svg_text
    labels = dash_duo.find_elements("#plan-visual .annotation-text")
    assert len([e for e in labels if "Table scan" in e.text]) == 2
    assert not dash_duo.find_element("#plans-empty").is_displayed()
    dash_duo.wait_for_contains_text("#plan-findings", "Full table scan on `p`")
    dash_duo.wait_for_contains_text("#plan-findings", "Join to `oi` without an index")
    dash_duo.wait_for_contains_text("#plan-findings", "block nested-loop join buffer")
    findings_text = dash_duo.find_element("#plan-findings").text
    assert "n0." not in findings_text and "Table scan on `oi`" not in findings_text
    # the plan changed: the header says so and the history lists both plans
    dash_duo.wait_for_contains_text("#plan-changed-badge", "plan changed (2 plans)")
    assert len(dash_duo.find_elements("#plan-history .plan-history-item")) == 2
    # the list shows both, each flagged as changed
    _wait_for(lambda: len(dash_duo.find_elements("#plans-grid .target-badge")) == 2,
              what="two 'changed' badges in the list")
    _screenshot(dash_duo, "plans_visual.png")
    # hovering a box shows everything about the operation, its condition included
    box = next(e for e in dash_duo.find_elements("#plan-visual .annotation-text")
               if "oi · ALL" in e.text)
    ActionChains(dash_duo.driver).move_to_element(box).perform()
    dash_duo.wait_for_contains_text("#plan-visual .hoverlayer", "oi.product_id = p.`id`")

    # the graph: tap the join-buffered table and read its details and findings
    _open_tab(dash_duo, "Graph")
    assert _wait_for(lambda: _cy(dash_duo, "return cy.nodes().length;"),
                     what="cytoscape nodes") == 4
    assert _cy(dash_duo, "return cy.edges('.costliest').length;") == 2
    _cy(dash_duo, "cy.getElementById('n0.0.1').emit('tap'); return true;")
    dash_duo.wait_for_contains_text("#plan-node-details", "oi.product_id = p.`id`")
    dash_duo.wait_for_contains_text("#plan-node-details", "block nested-loop join buffer")
    _screenshot(dash_duo, "plans_graph.png")

    # raw: the JSON as recorded and MariaDB's answer to FORMAT=TREE
    _open_tab(dash_duo, "Raw")
    dash_duo.wait_for_contains_text("#plan-raw-json", "switch on Show literals")
    dash_duo.wait_for_contains_text("#plan-findings", "p.category = ?")
    assert "'books'" not in dash_duo.find_element("#plan-findings").text
    _click(dash_duo, dash_duo.find_element("label[for='plan-show-literals']"))
    dash_duo.wait_for_contains_text("#plan-raw-json", '"query_block"')
    dash_duo.wait_for_contains_text("#plan-findings", "p.category = 'books'")
    dash_duo.wait_for_contains_text("#plan-raw-tree",
                                    "1791: Unknown EXPLAIN/ANALYZE format name: 'TREE'")
    # MariaDB has no TREE: that is a quiet line, not a warning
    assert not dash_duo.find_elements("#plan-raw-tree .alert")
    assert dash_duo.find_elements("#plan-raw-tree .plan-raw-unsupported")
    assert dash_duo.find_elements("#plan-raw-json [title^='Copy']")
    _screenshot(dash_duo, "plans_raw.png")

    # history: show the other plan of the same query
    _click(dash_duo, dash_duo.find_element("#plan-history .list-group-item-action"))
    dash_duo.wait_for_contains_text("#plan-header", other_id.rsplit("|", 1)[1])

    # paste MySQL TREE output: all three views follow it
    tree = (PLANS / "mysql" / "tree_hash_join_three_tables.txt").read_text(encoding="utf-8")
    dash_duo.find_element("#plan-paste-text").send_keys(tree)
    _click(dash_duo, dash_duo.find_element("#plan-paste-show"))
    dash_duo.wait_for_contains_text("#plan-raw-tree", "-> Inner hash join (t3.c1 = t1.c1)")
    dash_duo.wait_for_contains_text("#plan-raw-json", "Only the pasted FORMAT=TREE")
    dash_duo.wait_for_contains_text("#plan-header", "pasted")
    _open_tab(dash_duo, "Visual")
    dash_duo.wait_for_contains_text("#plan-visual", "t3 · ALL")
    _screenshot(dash_duo, "plans_visual_pasted.png")
    assert len([e for e in dash_duo.find_elements("#plan-visual .annotation-text")
                if "Table scan" in e.text]) == 3
    _open_tab(dash_duo, "Graph")
    assert _wait_for(lambda: _cy(dash_duo, "return cy.nodes().length === 8;"),
                     what="the pasted plan's 8 nodes in the graph")
    assert not dash_duo.find_element("#plan-paste-error").is_displayed() if \
        dash_duo.find_elements("#plan-paste-error") else True

    # a paste that is not a plan: a readable error, the shown plan stays
    box = dash_duo.find_element("#plan-paste-text")
    box.clear()
    box.send_keys("{")
    _click(dash_duo, dash_duo.find_element("#plan-paste-show"))
    dash_duo.wait_for_contains_text("#plan-paste-error", "Could not read this plan")
    assert "Traceback" not in dash_duo.find_element("#plan-paste-error").text
    assert "pasted" in dash_duo.find_element("#plan-header").text

    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


def test_list_selection_and_empty_states(dash_duo, two_plans) -> None:
    app, plan_id, other_id = two_plans
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/plans")
    dash_duo.wait_for_contains_text("#plans-empty", "No plan selected", timeout=15)
    assert not dash_duo.find_element("#plan-view").is_displayed()
    dash_duo.wait_for_contains_text("#plans-count", "2 plans · 1 query has a changed plan")

    # clicking a row shows that plan (the newest is listed first)
    cell = _wait_for(lambda: dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#plans-grid .ag-center-cols-container [col-id='query_id']"),
        what="grid rows")[0]
    _click(dash_duo, cell)
    dash_duo.wait_for_contains_text("#plan-header", other_id.rsplit("|", 1)[1])
    dash_duo.wait_for_contains_text("#plan-visual", "order_items · ALL")
    assert not dash_duo.find_element("#plans-empty").is_displayed()

    # an unknown id says so instead of failing
    dash_duo.wait_for_page(f"{dash_duo.server_url}/plans?plan_id={quote('nope|x|y', safe='')}")
    dash_duo.wait_for_contains_text("#plans-empty", "Plan not found", timeout=15)
    assert plan_id  # the other plan stays in the list
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


# ---- Compare and Tables ------------------------------------------------------------------------
def _flip_plan(name: str, side: str) -> dict:
    """A stored plan from a pair recorded around an index change (mariadb/flips)."""
    recorded = json.loads((PLANS / "mariadb" / "flips" / f"flip_{name}_{side}.json")
                          .read_text(encoding="utf-8"))
    text = json.dumps(recorded["explain"], indent=2)
    root = parse_plan(text, "json")
    return {
        "instance_id": INSTANCE, "query_id": QUERY_ID, "fingerprint": "select ...",
        "plan_hash": plan_hash(root), "server_version": recorded["server_version"],
        "server_flavour": "mariadb", "converted_from": None,
        "explained_sql": recorded["query"], "db": "shop",
        "formats": {"json": {"supported": True, "text": text, "error": None}},
        "root": root.to_dict(), "findings": [f.to_dict() for f in find_problems(root)],
        "parsed_from": "json", "parse_error": None, "timed_out": False,
    }


def test_compare_two_plans_and_the_tables_tab(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    before = store.plans.record(_flip_plan("customer_index_dropped", "before"),
                                "2026-11-01T00:00:00Z")
    after = store.plans.record(_flip_plan("customer_index_dropped", "after"),
                               "2026-11-02T00:00:00Z")
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/plans?plan_id={quote(after, safe='')}")
    dash_duo.wait_for_contains_text("#plan-changed-badge", "plan changed (2 plans)", timeout=15)
    # the header shows the short query id, the full one on hover
    header = dash_duo.find_element("#plan-header .text-muted")
    assert "query 0x5A1F0C3D9E8B7A61" in header.text
    assert header.get_attribute("title") == f"query id {QUERY_ID}"

    # "Compare" beside the older plan: it becomes A, the shown one B, the tab opens
    buttons = [b for b in dash_duo.find_elements("#plan-history .plan-compare-item")
               if b.is_displayed()]
    assert len(buttons) == 1
    _click(dash_duo, buttons[0])
    dash_duo.wait_for_contains_text("#plan-diff-summary",
                                    "c: ALL → eq_ref on PRIMARY; rows 200 → 1", timeout=10)
    summary = dash_duo.find_element("#plan-diff-summary").text
    assert "o: ref on idx_customer → ALL; rows 3 → 600" in summary
    assert "join order c, o → o, c" in summary
    assert "'Busan'" not in dash_duo.find_element("#plan-diff-view").text
    rows = dash_duo.find_element("#plan-diff-changes").text
    assert "access type" in rows and "idx_customer" in rows
    # both diagrams drawn, each with its two changed tables outlined
    for graph in ("#plan-diff-graph-a", "#plan-diff-graph-b"):
        dash_duo.wait_for_contains_text(graph, "Nested loop")
        marked = dash_duo.driver.execute_script(
            "return document.querySelector(arguments[0]).layout.shapes"
            ".filter(s => (s.name || '').endsWith(':marked')).length;", graph + " .js-plotly-plot")
        assert marked == 2
    assert "c · ALL" in dash_duo.find_element("#plan-diff-graph-a").text
    assert "c · eq_ref" in dash_duo.find_element("#plan-diff-graph-b").text
    _screenshot(dash_duo, "plans_compare.png")

    # swapping B for A's own plan says there is nothing to compare
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        dash_duo.find_element("#plan-diff-b"))
    dash_duo.select_dcc_dropdown("#plan-diff-b", index=0)
    dash_duo.wait_for_contains_text("#plan-diff-view", "A and B are the same plan")
    assert before

    # Tables: this instance is not in the inventory, which is said in one sentence
    _open_tab(dash_duo, "Tables")
    dash_duo.wait_for_contains_text("#plan-tables-view", "is not in the inventory", timeout=10)
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]


def test_tables_tab_reads_the_real_server(dash_duo, settings: Settings, lab,  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The Tables tab against a real MariaDB: indexes, rows, CREATE TABLE, read at, Refresh."""
    from tests.test_table_context import MONITOR_PASSWORD

    monkeypatch.setenv("TBL_MONITOR_PASSWORD", MONITOR_PASSWORD)
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    store.instances.sync("static", [{
        "instance_id": INSTANCE, "engine": "mariadb", "user": "monitor",
        "password_env": "TBL_MONITOR_PASSWORD",
        "endpoint": {"address": "127.0.0.1", "port": lab.server.port}}], "2026-11-01T00:00:00Z")
    plan_id = store.plans.record(_flip_plan("customer_index_dropped", "after"),
                                 "2026-11-02T00:00:00Z")
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/plans?plan_id={quote(plan_id, safe='')}")
    dash_duo.wait_for_contains_text("#plan-header", "Plan ", timeout=15)
    assert store.table_context.get(INSTANCE, "shop", "orders") is None  # not read until asked
    # one plan only: the Compare tab says so and hides its empty pickers
    _open_tab(dash_duo, "Compare")
    dash_duo.wait_for_contains_text("#plan-diff-view", "one plan so far")
    assert not dash_duo.find_element("#plan-diff-pickers").is_displayed()

    _open_tab(dash_duo, "Tables")
    dash_duo.wait_for_contains_text("#plan-tables-view", "shop.orders", timeout=15)
    cards = dash_duo.find_elements("#plan-tables-view .table-context")
    assert [c.find_element(By.CSS_SELECTOR, ".card-header").text.split()[0] for c in cards] \
        == ["shop.orders", "shop.customers"]
    orders = cards[0].text
    assert "as o" in orders and "idx_customer" in orders and "customer_id" in orders
    assert "rows" in orders and "InnoDB" in orders and "read at 20" in orders
    assert "UTC" in orders and "(cached)" not in orders
    read_at = store.table_context.get(INSTANCE, "shop", "orders")["read_at"]
    _screenshot(dash_duo, "plans_tables.png")
    # the CREATE TABLE is there, folded
    _click(dash_duo, cards[0].find_element(By.CSS_SELECTOR, "summary"))
    dash_duo.wait_for_contains_text("#plan-tables-view", "CREATE TABLE `orders`")

    # back to the tab: served from the store; Refresh reads again
    _open_tab(dash_duo, "Visual")
    _open_tab(dash_duo, "Tables")
    dash_duo.wait_for_contains_text("#plan-tables-view", "(cached)", timeout=10)
    time.sleep(1.1)  # read_at has microseconds; make sure the next one differs anyway
    _click(dash_duo, dash_duo.find_element("#plan-tables-refresh"))
    _wait_for(lambda: store.table_context.get(INSTANCE, "shop", "orders")["read_at"] != read_at,
              what="a fresh read after Refresh")
    assert MONITOR_PASSWORD not in dash_duo.driver.page_source
    logs = _severe_logs(dash_duo)
    assert logs == [], [e["message"] for e in logs]
