"""The HTML around an exported chart: a standalone file that opens offline, the embed page
an iframe shows, and the one-sentence page an embed shows instead when it cannot draw.

Pure: a built chart in, text out. The standalone file carries plotly.js inline (about 4.6 MB),
so it opens from a ticket or a mail with no network and no dashboard. The embed page loads
plotly.js and its small loader from the dashboard (`/embed/static/`), because the guard's
Content-Security-Policy allows no inline script, and the browser keeps them cached.
"""

from __future__ import annotations

from html import escape

import plotly.io as pio

from charts.catalogue import ChartFigure

APP_NAME = "Slow Query Dashboard"
CONFIG = {"displaylogo": False, "responsive": True}

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
"""  # both pages' start, up to their own style

_STANDALONE = _HEAD + """<style>
body {{ margin: 16px; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #212529; }}
.chart {{ overflow: auto; }}
footer {{ margin-top: 8px; font-size: 12px; color: #6c757d; }}
</style>
</head>
<body>
<div class="chart">{plot}</div>
<footer>{footer}</footer>
</body>
</html>
"""

_EMBED = _HEAD + """<style>
html, body {{ margin: 0; height: 100%; background: white; }}
body {{ overflow: {overflow}; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }}
#chart {{ {size} }}
</style>
<script src="{plotly_src}"></script>
</head>
<body>
<div id="chart" data-fixed="{fixed}"></div>
<script type="application/json" id="chart-figure">{figure}</script>
<script src="{loader_src}"></script>
</body>
</html>
"""

_MESSAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; height: 100vh; display: flex; align-items: center; justify-content: center;
       font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #6c757d;
       background: #f8f9fa; text-align: center; padding: 0 16px; box-sizing: border-box; }}
</style></head>
<body><p id="embed-message">{message}</p></body>
</html>
"""

# What /embed/static/embed.js runs: the figure from its JSON block, filling the frame unless
# it has a pixel size of its own (the plan diagram, which scrolls instead of shrinking), with
# no toolbar (in a wiki it would sit on the caption; the HTML export keeps it).
EMBED_LOADER_JS = """(function () {
  var element = document.getElementById("chart");
  var figure = JSON.parse(document.getElementById("chart-figure").textContent);
  var layout = figure.layout || {};
  if (element.getAttribute("data-fixed") !== "1") {
    delete layout.width;
    delete layout.height;
    layout.autosize = true;
  }
  Plotly.newPlot(element, figure.data || [], layout,
                 {displaylogo: false, responsive: true, displayModeBar: false});
})();
"""


def standalone_html(chart: ChartFigure, exported_at: str) -> str:
    """One self-contained HTML file: the chart with plotly.js inline, and where it came from.

    `exported_at` is "YYYY-MM-DD HH:MM:SS UTC" (components.digest_detail.format_time).
    """
    height = chart.figure.layout.height
    plot = pio.to_html(chart.figure, include_plotlyjs=True, full_html=False, config=CONFIG,
                       default_width=f"{chart.figure.layout.width}px"
                       if chart.fixed_size and chart.figure.layout.width else "100%",
                       default_height=f"{height}px" if height else "480px")
    footer = (f"Exported from the {APP_NAME} on {exported_at}. Values in statements are "
              "masked.")
    return _STANDALONE.format(title=escape(chart.caption), plot=plot, footer=escape(footer))


def _script_json(figure_json: str) -> str:
    """JSON safe inside a <script> block: no `</script>`, `<!--` or `&` can end or bend it."""
    return (figure_json.replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def embed_html(chart: ChartFigure, plotly_src: str, loader_src: str) -> str:
    """The page `/embed/<chart>` serves: the chart alone, sized to its frame."""
    return _EMBED.format(
        title=escape(chart.caption), plotly_src=escape(plotly_src),
        loader_src=escape(loader_src), fixed="1" if chart.fixed_size else "0",
        overflow="auto" if chart.fixed_size else "hidden",
        size="" if chart.fixed_size else "width: 100vw; height: 100vh;",
        figure=_script_json(pio.to_json(chart.figure, validate=False)))


def message_html(message: str) -> str:
    """What an embed shows when it cannot draw its chart (bad parameters, no such data)."""
    return _MESSAGE.format(title=escape(APP_NAME), message=escape(message))
