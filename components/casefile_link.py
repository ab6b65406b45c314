"""The digest window's "Case file" link: the statement's case file as a download.

A plain link to the API route (api/casefile.py) rather than a callback: the file is a few
megabytes (plotly.js is inside it), which a browser download handles better than a Dash
store, and the route is what scripts use too. Every role may follow it (the file is
read-only and holds no literals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from dash import html

from components.casefile import casefile_filename

CASEFILE_HINT = ("Download a self-contained HTML file with this statement's statistics, "
                 "charts, masked examples, plans, history and tables, to attach to a ticket "
                 "(no literals; it opens without the dashboard)")


def casefile_href(instance_id: str, period: str, query_id: str) -> str:
    """The route of a digest's case file (each part quoted: instance ids may hold anything).

    >>> casefile_href("(fleet)", "2026-10", "A1B2")
    '/api/digests/%28fleet%29/2026-10/A1B2/casefile'
    """
    parts = (quote(str(p), safe="") for p in (instance_id, period, query_id))
    return "/api/digests/{}/{}/{}/casefile".format(*parts)


def create_casefile_link(digest: Mapping[str, Any]) -> html.A:
    """A small button-like link for the digest window's title bar."""
    key = (str(digest.get("instance_id") or ""), str(digest.get("period") or ""),
           str(digest.get("query_id") or ""))
    return html.A("Case file", href=casefile_href(*key), download=casefile_filename(*key),
                  id="digest-casefile", title=CASEFILE_HINT,
                  className="btn btn-outline-secondary btn-sm ms-3 align-baseline")
