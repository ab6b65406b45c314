"""The frame around every page: navbar (built from the page registry) and the page slot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html, page_container

from auth.principal import Principal
from components.constants import APP_TITLE
from components.store_alert import create_store_alert


def create_user_menu(principal: Principal | None) -> html.Div | None:
    """Who is signed in, their role, and a sign-out button (a POST form, not a link)."""
    if principal is None or not principal.signed_in:
        return None
    items: list[Any] = [
        html.Span(principal.name, id="navbar-user", className="text-light me-2"),
        dbc.Badge(principal.role, id="navbar-role", className="me-3",
                  color="info" if principal.is_operator else "secondary"),
    ]
    if principal.via == "session":
        items.append(html.Form(
            html.Button("Sign out", type="submit", id="navbar-signout",
                        className="btn btn-outline-light btn-sm"),
            action="/logout", method="post", className="mb-0"))
    return html.Div(items, className="d-flex align-items-center", id="navbar-user-menu")


def create_navbar(pages: Iterable[Mapping[str, Any]], demo: bool = False,
                  principal: Principal | None = None) -> dbc.Navbar:
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
            create_user_menu(principal),
        ], fluid=True),
        color="dark", dark=True, className="mb-3",
    )


def create_shell(pages: Iterable[Mapping[str, Any]], demo: bool = False,
                 principal: Principal | None = None, open_to_all: bool = False) -> html.Div:
    banner = None
    if open_to_all:
        banner = dbc.Alert(
            "Sign-in is turned off (AUTH_DISABLED=true): anyone who can reach this server "
            "can read every statement and start work on production instances.",
            color="danger", className="rounded-0 mb-0 py-2 small", id="auth-disabled-banner")
    return html.Div([
        banner,
        create_store_alert(),
        create_navbar(pages, demo=demo, principal=principal),
        dbc.Container(page_container, fluid=True, className="pb-4"),
    ])
