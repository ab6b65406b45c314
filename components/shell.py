"""The frame around every page: navbar (built from the page registry) and the page slot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html, page_container

from components.constants import APP_TITLE


def create_navbar(pages: Iterable[Mapping[str, Any]], demo: bool = False) -> dbc.Navbar:
    """One nav link per registered page, in the pages' `order`."""
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact",
                                id=f"nav-{page['module'].split('.')[-1]}"))
        for page in sorted(pages, key=lambda p: p.get("order", 99))
    ]
    brand = [html.Span(APP_TITLE)]
    if demo:
        brand.append(dbc.Badge("DEMO", color="warning", className="ms-2", id="demo-badge"))
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand(brand, href="/"),
            dbc.Nav(links, navbar=True, className="me-auto"),
        ], fluid=True),
        color="dark", dark=True, className="mb-3",
    )


def create_shell(pages: Iterable[Mapping[str, Any]], demo: bool = False) -> html.Div:
    return html.Div([
        create_navbar(pages, demo=demo),
        dbc.Container(page_container, fluid=True, className="pb-4"),
    ])
