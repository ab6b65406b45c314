"""Digests (placeholder): SQL digests per instance and month, ranked by total time."""

from __future__ import annotations

import dash
from dash import html

from components.empty_state import create_placeholder

dash.register_page(__name__, path="/digests", name="Digests", order=3, title="Digests")


def layout(**_kwargs: object) -> html.Div:
    return create_placeholder("Digests", __doc__.split(": ", 1)[1], "digests-placeholder")
