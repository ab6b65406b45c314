"""The banner every page shows while the store is unreachable, and its way back.

A callback that meets a StoreError (the database file gone, the MongoDB server down) shows
this banner instead of failing silently (Dash, without debug, only logs a callback's
exception: the page would just stop updating). While the banner is up, a timer asks the
store every few seconds; when it answers, the banner goes and `STORE_BACK` changes, which
the pages' loading callbacks listen to, so they fetch their data again by themselves
(the error handler and that callback know the store, so they live in shell_callbacks.py;
this module only builds the banner).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

ALERT = "store-alert"
ALERT_TEXT = "store-alert-text"
RETRY = "store-alert-retry"
STORE_BACK = "store-back"  # dcc.Store: the time the store answered again
RETRY_MILLISECONDS = 5000


def create_store_alert() -> html.Div:
    return html.Div([
        dbc.Alert([
            html.Strong("The store cannot be reached. "),
            html.Span(id=ALERT_TEXT),
            html.Span(". This page may be out of date; it checks again every "
                      f"{RETRY_MILLISECONDS // 1000} s and reloads its data when the store "
                      "is back.", className="text-muted"),
        ], id=ALERT, is_open=False, color="warning", className="rounded-0 mb-0 py-2 small"),
        dcc.Interval(id=RETRY, interval=RETRY_MILLISECONDS, disabled=True),
        dcc.Store(id=STORE_BACK),
    ])
