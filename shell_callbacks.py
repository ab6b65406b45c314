"""Callbacks of the frame around the pages (not of one page): they read the store through
the services, which components/ (pure builders) may not."""

from __future__ import annotations

from datetime import UTC, datetime

from dash import Input, Output, State, callback, no_update

from components.store_alert import ALERT, ALERT_TEXT, RETRY, STORE_BACK
from services import current_services
from store import StoreError


@callback(
    Output(ALERT, "is_open"),
    Output(RETRY, "disabled"),
    Output(STORE_BACK, "data"),
    Output(ALERT_TEXT, "children"),
    Input(RETRY, "n_intervals"),
    State(ALERT, "is_open"),
    prevent_initial_call=True,
)
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
