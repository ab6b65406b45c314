"""The raw EXPLAIN output of a plan (FORMAT=JSON and FORMAT=TREE), as the server printed it.

The diagrams are our reading of a plan; the raw text is the evidence a DBA pastes into a
ticket or compares with the manual, so each view has a copy button. A server that cannot
produce a format (MariaDB and MySQL before 8.0.16 have no TREE) left its answer in the stored
plan; that is expected, so it is one quiet line, not a warning. A format that failed (a
timeout, an error) is a warning. Pure: a plan's ``formats`` entry in, components out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

FORMAT_TITLES = {"json": "EXPLAIN FORMAT=JSON", "tree": "EXPLAIN FORMAT=TREE"}
PRE_STYLE = {"maxHeight": "600px", "overflow": "auto", "fontSize": "12.5px",
             "background": "var(--bs-tertiary-bg)", "padding": "0.75rem",
             "borderRadius": "0.375rem", "whiteSpace": "pre", "marginBottom": 0}


def pretty_json(text: str) -> str:
    """The JSON indented by 2; text that is not plain JSON (MySQL's `/* end markers */`, a
    truncated capture) is shown exactly as stored rather than not at all."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


def create_raw_view(fmt: str, entry: Mapping[str, Any] | None) -> html.Div:
    """One format's text with a copy button, or why the plan has no such text."""
    title = FORMAT_TITLES.get(fmt, f"EXPLAIN FORMAT={fmt.upper()}")
    entry = entry or {}
    text = entry.get("text")
    if text:
        shown = pretty_json(text) if fmt == "json" else str(text)
        return html.Div([
            html.Div([
                html.H6(title, className="mb-0 me-auto"),
                html.Span("Copy", className="small text-muted me-1"),
                dcc.Clipboard(content=shown, title=f"Copy the {title} output",
                              className="btn btn-sm btn-outline-secondary py-0 px-2"),
            ], className="d-flex align-items-center mb-1"),
            html.Pre(shown, style=PRE_STYLE, className="font-monospace plan-raw-text"),
        ], className="mb-3")
    error = entry.get("error")
    if error and entry.get("supported") is False:
        # Expected, not a failure (MariaDB has no TREE): one quiet line, the answer on hover.
        return html.Div(f"{title} is not available on this server ({error}).",
                        className="text-muted small mb-3 plan-raw-unsupported")
    if error:
        body: list[Any] = [html.Div(f"{title} failed:", className="mb-1"),
                           html.Code(str(error), className="text-body")]
        color = "warning"
    else:
        body = [entry.get("note") or f"{title} was not recorded for this plan."]
        color = "secondary"
    return html.Div([html.H6(title, className="mb-1"),
                     dbc.Alert(body, color=color, className="small mb-3")])
