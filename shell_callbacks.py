"""Callbacks of the frame around the pages (not of one page): they read the store through
the services, which components/ (pure builders) may not.

Registered on each app with `app.callback` (not `dash.callback`): Dash hands the global
callback list to the first app that starts and empties it, and this module is imported only
once, so a second app in the same process (tests, several apps) would lack them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, no_update, set_props

from components.store_alert import ALERT, ALERT_TEXT, RETRY, STORE_BACK
from services import current_services
from store import StoreError


def show_store_error(exc: Exception) -> Any:
    """Dash's app-wide `on_error`: a StoreError raises the banner; anything else stays an
    error (logged by Dash), as before."""
    if not isinstance(exc, StoreError):
        raise exc
    set_props(ALERT, {"is_open": True})
    set_props(ALERT_TEXT, {"children": str(exc).rstrip(".")})
    set_props(RETRY, {"disabled": False})
    return None  # outputs keep what they show


def retry_store(_ticks: int, is_open: bool) -> tuple:
    """While the banner is up, ask the store; when it answers, drop the banner and tell the
    pages (STORE_BACK) to load again."""
    if not is_open:
        return False, True, no_update, no_update
    try:
        current_services().store.ping()
    except StoreError as exc:
        return True, False, no_update, str(exc).rstrip(".")
    return False, True, datetime.now(UTC).isoformat(), ""


def register(app: dash.Dash) -> None:
    app.callback(
        Output(ALERT, "is_open"),
        Output(RETRY, "disabled"),
        Output(STORE_BACK, "data"),
        Output(ALERT_TEXT, "children"),
        Input(RETRY, "n_intervals"),
        State(ALERT, "is_open"),
        prevent_initial_call=True,
    )(retry_store)
