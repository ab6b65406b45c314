"""The grids format in the browser (assets/dashAgGridFunctions.js) what analysis.units formats
in Python: one number must read the same on every page, in a grid cell or in a card."""

from __future__ import annotations

import random

from analysis.units import human_duration
from app import create_app
from settings import Settings

EDGES = [0, 1e-6, 0.00042, 0.0009999, 0.001, 0.0994, 0.09995, 0.41, 0.9994, 0.99995, 1,
         2.849, 2.845, 9.995, 9.9949, 10, 59.99, 59.999, 60, 61.5, 725, 3599.9, 3600, 13711.851,
         86399, 86400, 183600, 10 ** 7, -0.5, -725]


def test_the_browser_formats_durations_as_python_does(dash_duo, settings: Settings) -> None:
    dash_duo.start_server(create_app(settings))
    dash_duo.wait_for_page(f"{dash_duo.server_url}/digests")
    rnd = random.Random(5)
    values = EDGES + [10 ** rnd.uniform(-6, 6.5) for _ in range(400)]
    shown = dash_duo.driver.execute_script(
        "return arguments[0].map(v => window.dashAgGridFunctions.humanDuration(v));", values)
    expected = [human_duration(v) for v in values]
    differ = [(v, js, py) for v, js, py in zip(values, shown, expected, strict=True) if js != py]
    assert not differ, differ[:10]
    signed = dash_duo.driver.execute_script(
        "var f = window.dashAgGridFunctions; return [f.signedDuration(725), "
        "f.signedDuration(-0.41), f.signedDuration(0), f.humanDuration(null), "
        "f.utcTime('2026-10-03T10:15:42.123456Z')];")
    assert signed == ["+12 m 5 s", "-410 ms", "0 s", "", "2026-10-03 10:15:42"]


def test_the_browser_names_statuses_as_python_does(dash_duo, settings: Settings) -> None:
    from analysis.units import STATUS_LABELS, status_label

    dash_duo.start_server(create_app(settings))
    dash_duo.wait_for_page(f"{dash_duo.server_url}/collection")
    statuses = [*STATUS_LABELS, "backing-up", "in_progress", "gone", ""]
    shown = dash_duo.driver.execute_script(
        "return arguments[0].map(s => window.statusLabel(s));", statuses)
    assert shown == [status_label(s) for s in statuses]
