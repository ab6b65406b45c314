"""The export menu beside a chart: download it as HTML or PNG, or copy its embed snippet.

Pure: the links, the snippet and the notes come in (charts/menu.py makes them for the
request), components come out. Downloads are plain links, so they need no callback and
carry the viewer's session like any other request; they open in a new tab, so an error
answer never replaces the dashboard. When the server cannot draw PNGs the PNG item is
disabled and says why, instead of failing when clicked.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

MASKED_NOTE = "Exports show statements with their values masked."


def create_chart_export(prefix: str, html_href: str, png_href: str | None,
                        embed_snippet: str, embed_note: str,
                        png_note: str | None = None) -> html.Div:
    """An "Export" menu and an "Embed" button with its snippet; ids start with `prefix`."""
    items: list = [dbc.DropdownMenuItem("Download HTML", href=html_href, external_link=True,
                                        target="_blank", id=f"{prefix}-html")]
    if png_href is not None:
        items.append(dbc.DropdownMenuItem("Download PNG", href=png_href, external_link=True,
                                          target="_blank", id=f"{prefix}-png"))
    else:
        items += [dbc.DropdownMenuItem("Download PNG (unavailable)", disabled=True,
                                       id=f"{prefix}-png"),
                  html.Div(png_note or "PNG export is unavailable here.",
                           id=f"{prefix}-png-note", role="note",
                           className="dropdown-header small chart-export-note")]
    items += [dbc.DropdownMenuItem(divider=True),
              html.Div(MASKED_NOTE, className="dropdown-header small chart-export-note")]
    snippet_id = f"{prefix}-snippet"
    return html.Div([
        dbc.DropdownMenu(items, label="Export", size="sm", color="secondary", align_end=True,
                         id=f"{prefix}-menu", toggle_class_name="py-0"),
        dbc.Button("Embed", id=f"{prefix}-embed", size="sm", color="secondary",
                   outline=True, className="ms-1 py-0",
                   title="Show this chart's iframe snippet, for a wiki or another page"),
        dbc.Popover([
            dbc.PopoverHeader("Embed this chart"),
            dbc.PopoverBody([
                html.Div([
                    html.Pre(embed_snippet, id=snippet_id,
                             className="chart-export-snippet small mb-0"),
                    dcc.Clipboard(target_id=snippet_id, title="Copy the snippet",
                                  className="chart-export-copy"),
                ], className="chart-export-snippet-block"),
                html.P(embed_note, className="small text-muted mt-2 mb-0",
                       id=f"{prefix}-embed-note"),
            ]),
        ], target=f"{prefix}-embed", trigger="legacy", placement="bottom-end",
            id=f"{prefix}-popover", class_name="chart-export-popover"),
    ], className="d-flex justify-content-end align-items-center chart-export",
        id=f"{prefix}")


def create_chart_frame(export: object, chart: object, frame_id: str | None = None) -> html.Div:
    """A chart with its export buttons over its top-right corner (the title band), so a chart
    beside another keeps its top aligned; `export` may be a container a callback fills."""
    kwargs = {"id": frame_id} if frame_id else {}
    return html.Div([chart, export], className="chart-export-host", **kwargs)
