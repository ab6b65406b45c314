"""The findings list shown beside the plan views: what is wrong, in plain words, worst first.

A DBA reads this before the diagram: each finding has a severity badge, a title that names
the table ("Join to `oi` without an index") and a detail that says why and what to do. The
operation a finding is about is marked in the diagram; its internal node id is never shown.
Pure: findings (analysis.findings' dicts) in, components out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

SEVERITY_BADGES = {"high": ("High", "danger"), "medium": ("Medium", "warning"),
                   "low": ("Low", "secondary")}
_ORDER = {"high": 0, "medium": 1, "low": 2}


def _texts(finding: Mapping[str, Any]) -> tuple[str, str]:
    """(title, detail); a finding stored before titles existed has only its message."""
    title = str(finding.get("title") or "")
    if title:
        return title, str(finding.get("detail") or "")
    return str(finding.get("message") or ""), ""


def create_finding_item(finding: Mapping[str, Any],
                        node: Mapping[str, Any] | None = None) -> html.Div:
    """One finding: severity badge, title and detail. (``node`` is accepted for callers that
    pass the operation; the diagram marks it, so it is not repeated here.)"""
    del node
    text, color = SEVERITY_BADGES.get(str(finding.get("severity")),
                                      (str(finding.get("severity") or "?"), "secondary"))
    title, detail = _texts(finding)
    parts: list[Any] = [
        html.Div([
            dbc.Badge(text, color=color, className="me-2 plan-finding-severity",
                      text_color="dark" if color == "warning" else None),
            html.Span(title, className="fw-semibold plan-finding-title"),
        ]),
    ]
    if detail:
        parts.append(html.Div(detail, className="mt-1 plan-finding-detail"))
    return html.Div(parts, className="plan-finding border-bottom py-2 small",
                    title=str(finding.get("code") or ""))


def create_findings_panel(findings: list[Mapping[str, Any]] | None,
                          root: Mapping[str, Any] | None) -> html.Div:
    """The whole panel: a summary line and every finding, most severe first (the order
    analysis.findings gives within a severity is kept: the costliest first)."""
    findings = sorted(findings or [], key=lambda f: _ORDER.get(str(f.get("severity")), 9))
    if root is None:
        return html.Div()
    if not findings:
        return html.Div([
            html.H5("Findings", className="mb-2"),
            dbc.Alert("No problems found in this plan.", color="success", className="small"),
        ])
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITY_BADGES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return html.Div([
        html.H5(["Findings ", dbc.Badge(str(len(findings)), color="dark", pill=True)],
                className="mb-1"),
        html.Div(summary, className="text-muted small mb-1"),
        html.Div([create_finding_item(f) for f in findings]),
    ])
