"""The findings list shown beside the plan views: what is wrong, in plain words, worst first.

A DBA reads this before the diagram, so each finding names the operation it is about (the
same words the diagram's box shows) and carries its severity as a coloured badge. Pure:
findings (analysis.findings' dicts) and the plan's ``root`` dict in, components out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from components.plan_visual import find_plan_node

SEVERITY_BADGES = {"high": ("High", "danger"), "medium": ("Medium", "warning"),
                   "low": ("Low", "secondary")}
_ORDER = {"high": 0, "medium": 1, "low": 2}


def operation_label(node: Mapping[str, Any] | None) -> str:
    """"Table scan on `orders`" / "Nested loop": how a finding points at its operation."""
    if node is None:
        return ""
    operation = str(node.get("operation") or "")
    return f"{operation} on `{node['table']}`" if node.get("table") else operation


def create_finding_item(finding: Mapping[str, Any], node: Mapping[str, Any] | None = None,
                        ) -> html.Div:
    """One finding: severity badge, the plain message and (optionally) its operation."""
    text, color = SEVERITY_BADGES.get(str(finding.get("severity")),
                                      (str(finding.get("severity") or "?"), "secondary"))
    parts: list[Any] = [
        dbc.Badge(text, color=color, className="me-2 plan-finding-severity",
                  text_color="dark" if color == "warning" else None),
        html.Span(str(finding.get("message") or ""), className="plan-finding-message"),
    ]
    if node is not None:
        parts.append(html.Div(f"{operation_label(node)} · {finding.get('node_id')}",
                              className="text-muted small mt-1"))
    return html.Div(parts, className="plan-finding border-bottom py-2 small",
                    title=str(finding.get("code") or ""))


def create_findings_panel(findings: list[Mapping[str, Any]] | None,
                          root: Mapping[str, Any] | None) -> html.Div:
    """The whole panel: a summary line and every finding, high severity first."""
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
        html.Div([create_finding_item(f, find_plan_node(root, str(f.get("node_id"))))
                  for f in findings]),
    ])
