"""Which real tables a plan reads: plan nodes name aliases (``o``, ``c``), the server wants
``shop.orders``.

The Plans page's Tables tab shows each table's indexes, estimated rows and CREATE TABLE next
to the plan (like PMM's Tables tab), because "why is this a full scan" is answered by the
table's indexes. EXPLAIN output (MariaDB JSON, MySQL JSON and TREE) names a table by the alias
the statement gave it, so the aliases are resolved from the explained statement's FROM and
JOIN clauses; a plan table with no alias in the statement is taken as a table name itself.
Derived and temporary tables (``<derived2>``, ``<subquery3>``) are not tables on the server.

Pure: no I/O. The tokenizer is the one that decides what may be explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analysis.errors import AnalysisError
from analysis.explainable import COMMENT, PUNCT, QID, WORD, WS, _tokenize

__all__ = ["TableRef", "plan_tables", "statement_aliases"]

# Words that end a table reference (after them no alias follows).
_NOT_ALIAS = frozenset([
    "WHERE", "JOIN", "ON", "USING", "LEFT", "RIGHT", "INNER", "OUTER", "CROSS",
    "STRAIGHT_JOIN", "NATURAL", "GROUP", "ORDER", "LIMIT", "HAVING", "UNION", "EXCEPT",
    "INTERSECT", "FOR", "LOCK", "USE", "IGNORE", "FORCE", "PARTITION", "WINDOW", "INTO",
    "SET", "LATERAL", "AS", "FULL", "SELECT", "VALUES", "RETURNING",
])
_ENDS_FROM = frozenset([
    "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT", "INTERSECT",
    "WINDOW", "FOR", "LOCK", "INTO", "SELECT",
])


@dataclass(frozen=True)
class TableRef:
    """One table on the server and the names the plan gives it."""

    schema: str | None
    table: str
    aliases: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "aliases": list(self.aliases)}


def _name(tok: Any) -> str:
    if tok.kind == QID:
        return tok.text[1:-1].replace("``", "`")
    return tok.text


def statement_aliases(sql: str) -> dict[str, tuple[str | None, str]]:
    """alias (and bare table name), lower-cased -> (schema or None, table) for every table
    reference in FROM / JOIN clauses, at every nesting level. Unreadable SQL gives {}."""
    try:
        toks = [t for t in _tokenize(sql) if t.kind not in (WS, COMMENT)]
    except AnalysisError:
        return {}
    found: dict[str, tuple[str | None, str]] = {}
    in_from: dict[int, bool] = {}
    i = 0
    while i < len(toks):
        tok = toks[i]
        word = tok.word()
        starts = False
        if word in ("FROM", "JOIN", "STRAIGHT_JOIN"):
            in_from[tok.depth] = True
            starts = True
        elif word in _ENDS_FROM:
            in_from[tok.depth] = False
        elif tok.kind == PUNCT and tok.text == "," and in_from.get(tok.depth):
            starts = True
        i += 1
        if not starts or i >= len(toks) or toks[i].kind not in (WORD, QID):
            continue
        if toks[i].kind == WORD and toks[i].word() in _NOT_ALIAS:
            continue
        schema, table = None, _name(toks[i])
        i += 1
        if i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].kind in (WORD, QID):
            schema, table = table, _name(toks[i + 1])
            i += 2
        alias = None
        if i < len(toks) and toks[i].word() == "AS":
            i += 1
        if (i < len(toks) and toks[i].kind in (WORD, QID)
                and not (toks[i].kind == WORD and toks[i].word() in _NOT_ALIAS)):
            alias = _name(toks[i])
            i += 1
        found.setdefault(table.lower(), (schema, table))
        if alias:
            found[alias.lower()] = (schema, table)
    return found


def _walk(root: Mapping[str, Any]):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or []))


def plan_tables(root: Mapping[str, Any] | None, sql: str | None,
                default_schema: str | None) -> list[TableRef]:
    """The server tables a plan reads, in plan order, each once with the aliases it had."""
    if not root:
        return []
    aliases = statement_aliases(sql or "")
    order: list[tuple[str | None, str]] = []
    names: dict[tuple[str | None, str], list[str]] = {}
    for node in _walk(root):
        shown = node.get("table")
        if not shown or str(shown).startswith("<") or (node.get("extra") or {}).get("internal"):
            continue
        shown = str(shown)
        schema, table = aliases.get(shown.lower(), (None, shown))
        key = (schema or default_schema, table)
        if key not in names:
            order.append(key)
            names[key] = []
        if shown != table and shown not in names[key]:
            names[key].append(shown)
    return [TableRef(schema, table, tuple(names[(schema, table)])) for schema, table in order]
