"""The Collection page in headless Chromium: collect, watch the socket drive the progress bar."""

from __future__ import annotations

import pytest

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.test_collection import _seed_logs

pytestmark = pytest.mark.browser


def test_collect_shows_live_progress_to_100_and_the_history(dash_duo,
                                                            aws_settings: Settings) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    _seed_logs(aws_settings.aws_endpoint_url)
    app = create_app(aws_settings)
    app.server.extensions["slowquery"].inventory.refresh()
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/collection")

    dash_duo.select_dcc_dropdown("#collection-month", value="October 2026")
    dash_duo.wait_for_text_to_equal("#collection-month .Select-value-label, "
                                    "#collection-month .dash-dropdown-value", "October 2026")
    dash_duo.find_element("#collection-start").click()
    dash_duo.wait_for_contains_text("#collection-start-result", "started for 2026-10-01")
    dash_duo.wait_for_contains_text("#collection-progress", "100 %", timeout=30)
    dash_duo.wait_for_contains_text("#collection-status", "completed", timeout=10)
    dash_duo.wait_for_contains_text("#collection-status", "5/5 instances")
    dash_duo.wait_for_contains_text("#collection-log", "legacy-maria")
    dash_duo.wait_for_contains_text("#collection-log", "completed: 9 slow queries stored")
    error_lines = dash_duo.find_elements("#collection-log .text-danger")
    assert any("legacy-maria" in line.text for line in error_lines)
    dash_duo.wait_for_contains_text("#collection-history", "completed", timeout=10)
    assert not [e for e in dash_duo.find_elements("#collection-ws-error") if e.is_displayed()]

    # the collected month is on the Digests page; open the top digest and read an example
    dash_duo.find_element("#nav-digests").click()
    dash_duo.wait_for_element("#digests-instance")
    dash_duo.select_dcc_dropdown("#digests-instance", value="orders-prd-1")
    dash_duo.wait_for_contains_text("#digests-grid", "select * from orders where id = ?",
                                    timeout=15)
    dash_duo.find_element("#digests-grid .ag-center-cols-container .ag-row[row-index='0'] "
                          "[col-id='fingerprint']").click()
    dash_duo.wait_for_text_to_equal("#digest-fingerprint", "select * from orders where id = ?")
    dash_duo.wait_for_contains_text("#digest-example-0", "SELECT * FROM orders WHERE id = ?")
    dash_duo.find_element("#digest-modal .btn-close").click()
    dash_duo.wait_for_no_elements("#digest-modal .modal-body", timeout=5)
    dash_duo.find_element("#nav-overview").click()
    dash_duo.wait_for_contains_text("#overview-latest-run", "completed, 9 slow queries")
    dash_duo.wait_for_contains_text("#overview-top-digests", "delete from carts")
    logs = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert logs == [], [e["message"] for e in logs]
