"""A consistent "nothing here yet, and here is what to do" block."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def create_empty_state(title: str, body: str | list, component_id: str | None = None,
                       color: str = "secondary") -> dbc.Alert:
    kwargs = {"id": component_id} if component_id else {}
    return dbc.Alert([html.H5(title, className="alert-heading"), html.Div(body)],
                     color=color, **kwargs)


def create_placeholder(name: str, description: str, component_id: str) -> html.Div:
    """The body of a page whose feature has not landed yet: says what it will show."""
    return html.Div([
        html.H2(name),
        create_empty_state("Not available yet", [html.P(description),
                                                 html.P("This page is not built yet.",
                                                        className="mb-0")],
                           component_id=component_id),
    ])
