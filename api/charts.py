"""Charts out of the dashboard: `GET /api/charts` (the catalogue), `GET /api/charts/<chart>.html`
and `.png` (downloads), and `GET /embed/<chart>` (the chart alone, for an iframe).

The charts and their parameters are in charts/catalogue.py. Downloads answer a bad request
like every API route (JSON, 4xx, one sentence). An embed is a page inside someone else's
page, so it answers with a small HTML page holding the same sentence and status instead of
JSON nobody would read. Sign-in is the guard's (auth/guard.py): an embed is a page, so
without a session it redirects to /login, unless it carries an operator's signed link
(EMBED_LINK_DAYS, auth/embed_link.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly
from flask import Blueprint, Response, jsonify, send_file, url_for

from analysis.units import utc_iso
from api.errors import ApiError
from api.params import query_args, text
from auth.embed_link import EXPIRES, SIGNATURE
from charts.catalogue import CHARTS, Chart, ChartFigure, build_chart, find_chart
from charts.documents import EMBED_LOADER_JS, embed_html, message_html, standalone_html
from charts.png import PngUnavailable, png_unavailable, render_png
from components.digest_detail import format_time
from services import current_services

blueprint = Blueprint("charts", __name__)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC_MAX_AGE = 7 * 86400  # the URLs carry plotly's version, so a new one is a new URL
LOADER = "embed.js"


def _build(name: str, **extra: Any) -> ChartFigure:
    chart: Chart = find_chart(name)
    args = query_args(**chart.params, **extra)
    return build_chart(current_services(), chart, args)


def _download(body: str | bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/api/charts")
def catalogue():
    """The exportable charts, their parameters, and whether PNG export works here."""
    query_args()
    reason = png_unavailable(current_services().settings.png_browser)
    return jsonify({
        "charts": [{"name": chart.name, "title": chart.title, "params": list(chart.params),
                    "required": list(chart.required),
                    "html": f"/api/charts/{chart.name}.html", "png": f"/api/charts/"
                    f"{chart.name}.png", "embed": f"/embed/{chart.name}"}
                   for chart in CHARTS.values()],
        "png": {"available": reason is None, "reason": reason},
    })


@blueprint.get("/api/charts/<name>.html")
def chart_html(name: str):
    """One HTML file with plotly.js inside: it opens offline, from a ticket or a mail."""
    chart = _build(name)
    exported_at = format_time(utc_iso(datetime.now(UTC)))
    return _download(standalone_html(chart, exported_at), f"{chart.filename}.html",
                     "text/html")


@blueprint.get("/api/charts/<name>.png")
def chart_png(name: str):
    """The chart as a PNG drawn by kaleido; 503 with a sentence when no browser can draw it."""
    chart = _build(name)
    try:
        png = render_png(chart.figure, current_services().settings.png_browser,
                         fixed_size=chart.fixed_size)
    except PngUnavailable as exc:
        raise ApiError(exc.message, exc.status) from None
    return _download(png, f"{chart.filename}.png", "image/png")


@blueprint.get("/embed/<name>")
def embed(name: str):
    """The chart alone, filling its frame; `exp` and `sig` belong to a signed link."""
    try:
        chart = _build(name, **{EXPIRES: text(), SIGNATURE: text()})
    except ApiError as exc:
        return Response(message_html(exc.message), status=exc.status, mimetype="text/html")
    version = plotly.__version__
    page = embed_html(chart, url_for("charts.embed_static", filename=PLOTLY_JS.name, v=version),
                      url_for("charts.embed_static", filename=LOADER, v=version))
    return Response(page, mimetype="text/html")


@blueprint.get("/embed/static/<filename>")
def embed_static(filename: str):
    """plotly.js and the embed loader: public code (no data), cached for a week."""
    if filename == PLOTLY_JS.name:
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=STATIC_MAX_AGE)
    if filename != LOADER:
        return Response("no such file", status=404, mimetype="text/plain")
    response = Response(EMBED_LOADER_JS, mimetype="text/javascript")
    response.cache_control.max_age = STATIC_MAX_AGE
    response.cache_control.public = True
    return response
