"""RDS events on the Overview's daily chart, in headless Chromium: the kept events of the
instances shown are markers with their text on hover, and follow the instance filter."""

from __future__ import annotations

from dash.testing.wait import until

from analysis.rds_events import classify
from app import create_app
from settings import Settings
from tests.test_overview_filters import _fill

# The page renders the chart again when its filters arrive: read a drawn chart, else null.
FIGURE_EVENTS = """
const plot = document.querySelector('#overview-daily .js-plotly-plot');
if (!plot || !plot.data || !plot.querySelector('.scatterlayer .point')) return null;
return plot.data.filter(t => t.meta && t.meta.rds_events)
    .map(t => ({name: t.name, x: t.x, hover: t.hovertext}));
"""
HOVER_FIRST_MARKER = """
const plot = document.querySelector('#overview-daily .js-plotly-plot');
if (!plot || !plot.data) return '';
const curve = plot.data.findIndex(t => t.meta && t.meta.rds_events);
const trace = plot.data[curve];
Plotly.Fx.hover(plot, [{curveNumber: curve, pointNumber: 0}], [trace.xaxis + trace.yaxis]);
return plot.querySelector('.hoverlayer').textContent;
"""


def _events_drawn(dash_duo, names: list[str]) -> list[dict]:
    """The chart's event traces once they are the ones expected (the page settles first)."""
    found: list = []

    def settled() -> bool:
        found[:] = dash_duo.driver.execute_script(FIGURE_EVENTS) or []
        return [t["name"] for t in found] == names

    until(settled, timeout=10, msg=f"event traces {names} not drawn: {found}")
    return found


def _event(instance_id: str, time: str, categories: list[str], message: str) -> dict:
    return {"instance_id": instance_id, "time": time, "categories": categories,
            "message": message, "kind": classify(categories, message)}


def test_overview_marks_the_shown_instances_events(dash_duo, settings: Settings) -> None:
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    _fill(store)  # October 2026 on db1, db2, db3
    store.rds_events.save([
        _event("db1", "2026-10-02T03:12:05.000000Z", ["failover"],
               "A Multi-AZ failover has completed."),
        _event("db2", "2026-10-04T14:20:00.000000Z", ["configuration change"],
               "Updated to use DBParameterGroup <db2-tuned>"),
        _event("db2", "2026-10-04T05:10:00.000000Z", ["backup"], "Backing up DB instance"),
        _event("db9", "2026-10-05T01:00:00.000000Z", ["failover"], "not an instance shown"),
        _event("db1", "2026-11-01T00:10:00.000000Z", ["failover"], "the month after"),
    ])
    dash_duo.start_server(app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/")
    dash_duo.wait_for_contains_text("#overview-month-title", "October 2026")
    traces = _events_drawn(dash_duo, ["RDS failover", "RDS parameter change"])
    assert [(t["name"], t["x"]) for t in traces] == [("RDS failover", ["2026-10-02"]),
                                                    ("RDS parameter change", ["2026-10-04"])]
    assert traces[0]["hover"] == ["2026-10-02 03:12:05 UTC · db1 · failover: A Multi-AZ "
                                  "failover has completed."]
    assert traces[1]["hover"] == ["2026-10-04 14:20:00 UTC · db2 · parameter change: Updated "
                                  "to use DBParameterGroup &lt;db2-tuned&gt;"]
    points = dash_duo.find_elements("#overview-daily .scatterlayer .point")
    assert len(points) == 2
    legend = dash_duo.find_element("#overview-daily .legend").text
    assert "RDS failover" in legend and "RDS parameter change" in legend

    # plotly's own hover, as a mouse over the marker: the label shows the event's text
    until(lambda: "2026-10-02 03:12:05 UTC · db1 · failover" in dash_duo.driver.execute_script(
        HOVER_FIRST_MARKER), timeout=10, msg="no hover label with the event")
    assert "<db2-tuned>" not in dash_duo.find_element("#overview-daily").text

    dash_duo.select_dcc_dropdown("#overview-filter-instances", value="db2")
    dash_duo.find_element("h2").click()  # a multi-select takes its value when it closes
    dash_duo.wait_for_contains_text("#overview-month-title", "October 2026, db2")
    _events_drawn(dash_duo, ["RDS parameter change"])  # db1's failover is not db2's
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == [], severe
