"""Real-time (placeholder): Statements caught while they run on real-time targets, with plans."""

from __future__ import annotations

import dash
from dash import html

from components.empty_state import create_placeholder

dash.register_page(__name__, path="/realtime", name="Real-time", order=4, title="Real-time")


def layout(**_kwargs: object) -> html.Div:
    return create_placeholder("Real-time", __doc__.split(": ", 1)[1], "realtime-placeholder")
