"""A light SQL layout for reading a captured statement: one clause per line (pure).

Only line breaks are added — before FROM, WHERE, JOIN, GROUP BY and the like, outside strings,
comments and backquoted names — so the text stays exactly what the server ran. Statements that
already have line breaks are left alone: their author's layout is better than ours.

>>> print(format_sql("select a, b from t join u on u.id = t.id where x = 'from y' order by a"))
select a, b
from t
join u on u.id = t.id
where x = 'from y'
order by a
"""

from __future__ import annotations

import re

_CLAUSES = re.compile(
    r"\s+(?=(?:from|where|(?:left |right |inner |outer |cross |straight_)*join|group by|"
    r"order by|having|limit|union(?: all)?|values|set|on duplicate key update)\b)",
    re.IGNORECASE)
_OPAQUE = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`|/\*.*?\*/",
                     re.DOTALL)


def format_sql(sql: str) -> str:
    """Break a one-line statement into clauses; keep multi-line statements as written."""
    text = sql.strip()
    if "\n" in text:
        return text
    pieces = []
    last = 0
    for match in _OPAQUE.finditer(text):
        pieces.append(_CLAUSES.sub("\n", text[last:match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_CLAUSES.sub("\n", text[last:]))
    return "".join(pieces)
