"""Plans (placeholder): Execution plans as a diagram, an interactive graph and raw JSON/TREE."""

from __future__ import annotations

import dash
from dash import html

from components.empty_state import create_placeholder

dash.register_page(__name__, path="/plans", name="Plans", order=5, title="Plans")


def layout(**_kwargs: object) -> html.Div:
    return create_placeholder("Plans", __doc__.split(": ", 1)[1], "plans-placeholder")
