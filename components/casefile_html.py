"""The page around a case file: inline CSS, plotly.js inlined once, figures, small tables.

A case file is opened years later, from a ticket, with no dashboard and maybe no network, so
everything it needs is in the file: the stylesheet is inline and uses the system's fonts, and
plotly.js is inlined once in the head (figures after it only call ``Plotly.newPlot``). The
library's own source holds URL strings (its docs, the CDN of map tiles and topojson); they are
only fetched by map traces, which a case file never draws, so the file references nothing
outside itself (tests/test_casefile.py checks every ``src``/``href``/``url()``/``@import``).

Every text put into the page goes through :func:`esc`: statements, table names and error
messages are data, never markup.

Pure: strings in, strings out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

PLOTLY_SCRIPT_ID = "casefile-plotlyjs"
# No mode bar (its logo links to plotly.com, and a printed chart needs no buttons); hover
# texts still work. Nothing here makes plotly.js load a file.
FIGURE_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True,
                 "showLink": False, "showSendToCloud": False}

CSS = """
:root { --muted: #6c757d; --line: #dee2e6; --soft: #f8f9fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #212529; margin: 0 auto; max-width: 1240px; padding: 24px 32px;
       font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
            monospace; font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px;
      padding: 8px 10px; white-space: pre-wrap; word-break: break-word; margin: 0 0 8px;
      max-height: 28em; overflow: auto; }
table { border-collapse: collapse; margin: 0 0 10px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; vertical-align: top; }
thead th { background: var(--soft); text-align: left; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.current td { background: #fff3cd; font-weight: 600; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr));
         gap: 6px 18px; margin: 12px 0; }
.facts div span { display: block; color: var(--muted); font-size: 12px; }
nav.toc { margin: 8px 0 0; font-size: 13px; }
nav.toc a { margin-right: 14px; }
.note { border-left: 4px solid #0dcaf0; background: #f0fbfd; padding: 6px 10px;
        margin: 8px 0; }
.empty { border: 1px dashed #adb5bd; color: var(--muted); padding: 10px 12px;
         border-radius: 4px; margin: 6px 0 10px; }
.warn { border-left: 4px solid #ffc107; background: #fffbea; padding: 6px 10px;
        margin: 6px 0; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 11.5px;
         font-weight: 600; color: white; background: #6c757d; margin-right: 6px; }
.badge.high { background: #c92a2a; } .badge.medium { background: #e8590c; }
.badge.low { background: #868e96; } .badge.changed { background: #ffc107; color: #212529; }
.names { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
.names ul { margin: 2px 0; padding-left: 18px; }
.plan { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
        margin: 10px 0 16px; }
.diagram { overflow: auto; border: 1px solid var(--line); border-radius: 4px; }
.legend span.key { display: inline-block; margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 13px; height: 13px; vertical-align: -2px;
            margin-right: 4px; border-radius: 3px; }
.finding { border-bottom: 1px solid var(--line); padding: 5px 0; }
.table-context { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
                 margin: 8px 0; }
.table-context .head { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline;
                       margin-bottom: 4px; }
.table-context .head .read { margin-left: auto; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px;
         border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav.toc { display: none; }
  h2 { break-after: avoid; }
  pre, .diagram { max-height: none; overflow: visible; }
  table, .finding, .plan-head, .table-context { break-inside: avoid; }
  .plan { break-inside: auto; }
}
"""
# <details> hide their body in print; a case file printed to PDF should show it all.
PRINT_SCRIPT = ("window.addEventListener('beforeprint', function () {"
                "document.querySelectorAll('details').forEach(function (d) { d.open = true; });"
                "});")


def esc(value: Any) -> str:
    """Text for HTML (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def figure_html(figure: go.Figure, div_id: str) -> str:
    """One chart; plotly.js comes from the head (:func:`page`), never from a CDN."""
    width, height = figure.layout.width, figure.layout.height
    return figure.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                          div_id=div_id, config=FIGURE_CONFIG,
                          default_width=f"{width}px" if width else "100%",
                          default_height=f"{height}px" if height else "360px")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Iterable[int] = (), row_classes: Sequence[str] | None = None,
          table_id: str | None = None) -> str:
    """A plain table of escaped texts."""
    right = set(numeric)

    def cell(tag: str, n: int, value: Any) -> str:
        css = ' class="num"' if n in right else ""
        return f"<{tag}{css}>{esc(value)}</{tag}>"

    head = "".join(cell("th", n, h) for n, h in enumerate(headers))
    body = []
    for i, row in enumerate(rows):
        css = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{css}>" + "".join(cell("td", n, v) for n, v in enumerate(row))
                    + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return (f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table>")


def empty(text: str, ident: str | None = None) -> str:
    """An explicit empty state: says what is missing and why."""
    attr = f' id="{esc(ident)}"' if ident else ""
    return f'<p class="empty"{attr}>{esc(text)}</p>'


def page(title: str, body: str) -> str:
    """The whole self-contained document; plotly.js (4.8 MB) only when a chart needs it."""
    library = (f"<script id=\"{PLOTLY_SCRIPT_ID}\">{get_plotlyjs()}</script>\n"
               if "Plotly.newPlot(" in body else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f"{library}<script>{PRINT_SCRIPT}</script>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
