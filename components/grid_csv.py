"""CSV of what a grid shows: its columns, its header names, its rows in their current order.

Every grid's "CSV" button sends the grid's `virtualRowData` (the rows after the user's
filters and sort) here, so the file is the screen: the same columns, the same masking (rows
are masked before they reach the grid), no row the user filtered away. Values stay raw (seconds
as numbers, times as ISO text) so a spreadsheet can compute with them; a header says its unit
when the screen shows the value formatted. Text a spreadsheet would run as a formula is quoted
(components/csv_safety.py).

Pure: rows in, text out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from components.csv_safety import safe_row

__all__ = ["grid_csv", "csv_button"]

MAX_ROWS = 100_000  # a grid in the browser holds fewer; a crafted request cannot ask for more


def _header(column: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    return str(headers.get(column["field"]) or column.get("headerName") or column["field"])


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return json.dumps(value, default=str)


def grid_csv(columns: Iterable[Mapping[str, Any]], rows: Iterable[Mapping[str, Any]] | None,
             headers: Mapping[str, str] | None = None, skip: Iterable[str] = ()) -> str:
    """CSV text: one header row (the columns' names as on screen, or `headers[field]` where
    the file holds the raw value, e.g. "Duration (s)"), then the rows' values of those
    columns; hidden columns, columns without a field and `skip` are left out."""
    headers = headers or {}
    skipped = set(skip)
    shown = [c for c in columns if c.get("field") and not c.get("hide")
             and c["field"] not in skipped]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_header(c, headers) for c in shown])
    for n, row in enumerate(rows or []):
        if n >= MAX_ROWS or not isinstance(row, Mapping):
            break
        values = [_cell(row.get(c["field"])) for c in shown]
        writer.writerow(safe_row(["" if v is None else v for v in values]))
    return out.getvalue()


def csv_button(button_id: str, title: str = "The rows as shown (filters and sort applied)"):
    """The small outline button every grid's page puts above its grid."""
    import dash_bootstrap_components as dbc

    return dbc.Button("CSV", id=button_id, color="secondary", outline=True, size="sm",
                      title=title)
