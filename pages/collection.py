"""Collection (placeholder): Collect a month of CloudWatch slow logs; watch its progress live."""

from __future__ import annotations

import dash
from dash import html

from components.empty_state import create_placeholder

dash.register_page(__name__, path="/collection", name="Collection", order=2, title="Collection")


def layout(**_kwargs: object) -> html.Div:
    return create_placeholder("Collection", __doc__.split(": ", 1)[1], "collection-placeholder")
