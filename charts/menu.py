"""The export menu of a chart for the page being served: its links, embed snippet and notes.

Pages call :func:`chart_export_menu` with the chart's name and the parameters they show it
with; what depends on the server and the viewer is decided here, once: whether PNGs can be
drawn, the dashboard's address for the snippet, and whether the snippet is an operator's
signed link (EMBED_LINK_DAYS) or relies on the viewer's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import urlencode

from dash import html
from flask import has_request_context, request

from auth.access import can_operate
from auth.embed_link import EMBED_PREFIX, sign_embed_query
from charts.catalogue import find_chart
from charts.png import png_unavailable
from components.chart_export import create_chart_export
from services import current_services
from settings import Settings

DEFAULT_BASE = "http://127.0.0.1:8050"


def _query(params: Mapping[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in params.items() if value}


def _embed_note(settings: Settings, signed: bool) -> str:
    """Who will see the iframe, in a sentence or two the viewer can act on."""
    if signed:
        last = datetime.now(UTC).date() + timedelta(days=settings.embed_link_days)
        return (f"This signed link shows this one chart without sign-in until "
                f"{last.isoformat()} (UTC): anyone who has it can see it, so share it like "
                f"a password.")
    framing = ("Pages on " + ", ".join(settings.embed_frame_ancestors) + " and this dashboard "
               "may show it" if settings.embed_frame_ancestors else
               "Only this dashboard's own pages may show it until EMBED_FRAME_ANCESTORS "
               "lists your wiki's origin")
    if not settings.auth_configured:
        return f"{framing}; with no sign-in configured it opens from this machine only."
    return (f"{framing}. Readers must be signed in to the dashboard in the same browser "
            "(the session cookie reaches the iframe only from the same site).")


def chart_export_menu(prefix: str, chart: str, params: Mapping[str, str | None],
                      height: int = 420) -> html.Div:
    """The Export/Embed buttons for `chart` shown with `params`; ids start with `prefix`."""
    find_chart(chart)  # a typo in a page is a 404 at once, not a broken link later
    settings = current_services().settings
    query = _query(params)
    encoded = urlencode(query)
    html_href = f"/api/charts/{chart}.html?{encoded}"
    png_note = png_unavailable(settings.png_browser)
    png_href = None if png_note else f"/api/charts/{chart}.png?{encoded}"
    signed = bool(settings.embed_link_days and settings.secret_key and can_operate()
                  and settings.auth_configured)
    if signed:
        query = sign_embed_query(settings.secret_key, chart, query, settings.embed_link_days)
    base = request.host_url.rstrip("/") if has_request_context() else DEFAULT_BASE
    # urlencode leaves no quote or angle bracket in the query; a bare & reads better there
    src = f"{escape(base)}{EMBED_PREFIX}{chart}?{urlencode(query)}"
    snippet = (f'<iframe src="{src}" width="100%" height="{int(height)}" '
               f'style="border:0" loading="lazy" title="{escape(chart)}"></iframe>')
    return create_chart_export(prefix, html_href, png_href, snippet,
                               _embed_note(settings, signed), png_note=png_note)
