"""Findings a DBA acts on, from a parsed execution plan (:mod:`analysis.plan`).

Findings are data: :data:`RULES` is a list of small rules, one per problem, each a function
``rule(plan) -> list[Finding]`` with its code, severities, when it fires and which findings it
makes redundant on the same table.  :data:`CODES` and the README's table of codes
(:func:`findings_table`) are derived from it.

:func:`find_problems` runs every rule and merges the results (:func:`merge_findings`):

* one finding per problem per table (a table scanned in three places is one finding);
* a finding a more severe one on the same table already covers is dropped (the join to
  ``oi`` without an index *is* the full scan of ``oi``), and so is a low "cheap while the table
  is small" finding on a table that has a medium or high one;
* most severe first, then the costliest (estimated cost, then rows).

Texts name tables and columns (`orders` (`status`, `total`)); they never show node ids or
optimizer internals (``<in_optimizer>``, ``<cache>``, ``<subquery2>``, ``<auto_key0>``, ...):
:func:`clean_sql_text` turns those into words.  A finding keeps the id of the operation it is
about (``node_id``) so the diagram can mark it, but that id is data, never text.

Reads of internal tables (``<temporary>``, ``<derived2>``, materialised views/CTEs) are not
reported as scans: reading them whole is what they are for.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from analysis.plan import PlanNode, iter_nodes

__all__ = [
    "CODES",
    "RULES",
    "SEVERITIES",
    "Finding",
    "PlanFacts",
    "Rule",
    "clean_sql_text",
    "find_problems",
    "findings_table",
    "merge_findings",
    "table_label",
]

SEVERITIES = ("high", "medium", "low")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}
FULL_SCAN_ROWS = 1000  # rows per scan from which a full read is "big"
LOW_FILTERED_PERCENT = 10.0
QUOTE_LIMIT = 120  # conditions up to this long are quoted (cleaned); longer ones are named


# ---- the finding -------------------------------------------------------------------------------
@dataclass(slots=True)
class Finding:
    """One problem, in words: ``title`` says what, ``detail`` why and what to do.

    ``table`` is the table it is about (as the query names it) and ``related`` the other tables
    it speaks for (a dependent subquery's tables); ``rows``/``cost`` order findings of one
    severity; ``node_id`` is the operation the diagram marks (never shown as text).
    """

    code: str
    severity: str  # "high" | "medium" | "low"
    title: str
    detail: str = ""
    table: str | None = None
    node_id: str = ""
    related: tuple[str, ...] = ()
    rows: float | None = None
    cost: float | None = None
    order: int = 0

    @property
    def tables(self) -> tuple[str, ...]:
        return ((self.table,) if self.table else ()) + self.related

    @property
    def message(self) -> str:
        """Title and detail as one text (hover texts, the API's ``message``)."""
        return f"{self.title}. {self.detail}" if self.detail else f"{self.title}."

    def to_dict(self) -> dict:
        return {"node_id": self.node_id, "severity": self.severity, "code": self.code,
                "table": table_label(self.table) if self.table else None,
                "title": self.title, "detail": self.detail, "message": self.message}


# ---- the plan, as the rules read it ------------------------------------------------------------
@dataclass
class PlanFacts:
    """A parsed plan with what every rule asks of it: nodes in plan order, parents, size."""

    root: PlanNode
    full_scan_rows: int = FULL_SCAN_ROWS
    nodes: list[PlanNode] = field(init=False)
    _parents: dict[int, PlanNode] = field(init=False, repr=False)
    _order: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.nodes = list(iter_nodes(self.root))
        self._order = {id(node): i for i, node in enumerate(self.nodes)}
        self._parents = {id(child): node for node in self.nodes for child in node.children}

    @property
    def flavour(self) -> str:
        return str(self.root.extra.get("flavour") or "")

    def order(self, node: PlanNode) -> int:
        return self._order.get(id(node), 0)

    def parent(self, node: PlanNode) -> PlanNode | None:
        return self._parents.get(id(node))

    def big(self, node: PlanNode) -> bool:
        return node.rows is not None and node.rows >= self.full_scan_rows

    @staticmethod
    def is_table(node: PlanNode) -> bool:
        """A read of a real table (not a temporary table or a materialised derived table)."""
        return node.table is not None and not node.extra.get("internal")

    def below(self, node: PlanNode, *, into_subqueries: bool = False) -> Iterator[PlanNode]:
        """The nodes under ``node``; without ``into_subqueries``, not those of subqueries and
        derived tables it contains (their tables are theirs, not this operation's)."""
        stack = list(reversed(node.children))
        while stack:
            sub = stack.pop()
            yield sub
            if into_subqueries or not _starts_block(sub):
                stack.extend(reversed(sub.children))

    def tables_below(self, node: PlanNode, *, into_subqueries: bool = False,
                     itself: bool = False) -> list[str]:
        """The real tables read under ``node`` (and by it, with ``itself``), in plan order."""
        nodes = self.below(node, into_subqueries=into_subqueries)
        if itself:
            nodes = iter([node, *nodes])
        return _unique(sub.table for sub in nodes if self.is_table(sub) and sub.table)

    def table_rows(self, table: str) -> float | None:
        rows = [n.rows for n in self.nodes if n.table == table and n.rows is not None]
        return max(rows) if rows else None

    def conditions(self, node: PlanNode) -> list[str]:
        """Every condition that applies to the rows of ``node``: its own, its join condition,
        its index lookup, and the Filter lines right above it (TREE)."""
        texts = [node.condition, node.extra.get("join_condition"), node.extra.get("lookup")]
        parent = self.parent(node)
        while parent is not None and parent.operation == "Filter":
            texts.append(parent.condition)
            parent = self.parent(parent)
        return [t for t in texts if isinstance(t, str) and t.strip()]

    def weight(self, node: PlanNode) -> tuple[float | None, float | None]:
        """(cost, rows) of an operation, from the biggest part under it when it has none."""
        cost, rows = node.cost, node.rows
        if cost is None or rows is None:
            under = [node, *self.below(node)]
            if cost is None:
                cost = max((n.cost for n in under if n.cost is not None), default=None)
            if rows is None:
                rows = max((n.rows for n in under if n.rows is not None), default=None)
        return cost, rows


def _starts_block(node: PlanNode) -> bool:
    return "select_id" in node.extra or "materialized" in node.flags \
        or "dependent_subquery" in node.flags


# ---- the rule list -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One problem the plan can have: its code, severities, when it fires (for the docs),
    the codes it makes redundant on the same table, and the check itself."""

    code: str
    severities: tuple[str, ...]
    when: str
    covers: tuple[str, ...]
    check: Callable[[PlanFacts], list[Finding]]

    def __call__(self, plan: PlanFacts) -> list[Finding]:
        return self.check(plan)


RULES: list[Rule] = []


def rule(code: str, severities: tuple[str, ...], when: str,
         covers: tuple[str, ...] = ()) -> Callable[[Callable[[PlanFacts], list[Finding]]],
                                                   Callable[[PlanFacts], list[Finding]]]:
    """Add the decorated check to :data:`RULES` (in definition order: the docs table's)."""
    def register(check: Callable[[PlanFacts], list[Finding]]
                 ) -> Callable[[PlanFacts], list[Finding]]:
        RULES.append(Rule(code, severities, when, covers, check))
        return check
    return register


def find_problems(root: PlanNode, full_scan_rows: int = FULL_SCAN_ROWS) -> list[Finding]:
    """Every problem of the plan: one finding per problem per table, most severe first."""
    plan = PlanFacts(root, full_scan_rows)
    return merge_findings([finding for check in RULES for finding in check(plan)])


def merge_findings(findings: Iterable[Finding],
                   covers: dict[str, Iterable[str]] | None = None) -> list[Finding]:
    """One finding per (code, table), nothing a stronger finding already says, worst first.

    * Of several findings with one code on one table the most severe (then the costliest)
      is kept.  Findings without a table are kept apart, by operation.
    * A finding is dropped when another one on the same table, at least as severe, covers its
      code (``covers``, from :data:`RULES` by default), or when it is low and the other one is
      medium or high: "cheap while the table is small" beside "this table is the problem"
      would contradict it.
    * The rest is sorted by severity, then estimated cost, then rows, then plan order.
    """
    covering = {r.code: set(r.covers) for r in RULES} if covers is None else \
        {code: set(codes) for code, codes in covers.items()}
    kept: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        key = (finding.code, finding.table if finding.table else f"@{finding.node_id}")
        other = kept.get(key)
        if other is None or _sort_key(finding) < _sort_key(other):
            kept[key] = finding
    found = list(kept.values())
    survivors = [f for f in found
                 if not any(_drops(g, f, covering) for g in found if g is not f)]
    return sorted(survivors, key=_sort_key)


def _drops(stronger: Finding, finding: Finding, covering: dict[str, set[str]]) -> bool:
    if not finding.table or finding.table not in stronger.tables:
        return False
    rank, own = _RANK[stronger.severity], _RANK[finding.severity]
    if finding.code in covering.get(stronger.code, ()) and rank <= own:
        return True
    return finding.severity == "low" and rank < own


def _sort_key(finding: Finding) -> tuple:
    return (_RANK[finding.severity], -(finding.cost or 0.0), -(finding.rows or 0.0),
            finding.order)


def findings_table(full_scan_rows: int = FULL_SCAN_ROWS) -> str:
    """The Markdown table of finding codes (the README's), from :data:`RULES`."""
    lines = ["| Code | Severity | When | Makes redundant on its table |",
             "|---|---|---|---|"]
    for r in RULES:
        when = r.when.replace("{rows}", f"{full_scan_rows:,}")
        covered = ", ".join(f"`{c}`" for c in r.covers) or "—"
        lines.append(f"| `{r.code}` | {' / '.join(r.severities)} | {when} | {covered} |")
    return "\n".join(lines)


# ---- words: names, columns, cleaned conditions -------------------------------------------------
_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z_$][\w$]*)"
_QUALIFIED = re.compile(rf"(?<![\w$`.])({_IDENT})\.({_IDENT})(?:\.({_IDENT}))?(?![\w$`])")
_BARE = re.compile(r"^[A-Za-z_$][\w$]*$")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_SUBQUERY_REF = re.compile(r"\(\s*(?:select\s*#|subquery\s*#)\s*(\d+)\s*\)", re.IGNORECASE)
_EXPR_CACHE = re.compile(r"<expr_cache>(?:<[^<>]*>)?")
_INTERNAL_TOKEN = re.compile(r"<([A-Za-z_#][\w ,#]*)>")
_WRAPPED_VALUE = re.compile(r"<[A-Za-z_]+>\(([^()]*)\)")  # a wrapper around a plain value
_INTERNAL_NAMES = [
    (re.compile(r"^subquery(\d+)$"), r"subquery \1"),
    (re.compile(r"^derived(\d+)$"), r"derived table \1"),
    (re.compile(r"^union[\d,]+$"), "UNION result"),
    (re.compile(r"^(?:intersect|except)[\d,]+$"), "set operation result"),
    (re.compile(r"^(?:\w+ )?temporary$"), "temporary table"),
    (re.compile(r"^auto_(?:distinct_)?key\d*$"), "automatic index"),
]


def _unquote(name: str) -> str:
    if len(name) > 1 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name


def _internal_word(inner: str) -> str | None:
    for pattern, words in _INTERNAL_NAMES:
        if pattern.match(inner):
            return pattern.sub(words, inner)
    return None


def table_label(name: str) -> str:
    """A table as a DBA reads it: ``<derived2>`` is "derived table 2", ``orders`` stays."""
    m = re.fullmatch(r"<([^<>]*)>", name)
    if m:
        return _internal_word(m.group(1)) or m.group(1)
    return name


def _code_part(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _SUBQUERY_REF.sub(lambda m: f"(subquery {m.group(1)})", text)
    text = _EXPR_CACHE.sub("", text)

    def qualified(m: re.Match[str]) -> str:
        parts = [m.group(1), m.group(2)] + ([m.group(3)] if m.group(3) else [])
        parts = parts[-2:]  # db.table.column -> table.column
        return ".".join(_name(p) for p in parts)

    text = _QUALIFIED.sub(qualified, text)
    text = re.sub(r"`([A-Za-z_$][\w$]*)`", r"\1", text)
    text = _WRAPPED_VALUE.sub(r"\1", text)  # <cache>(t5.c) -> t5.c
    text = re.sub(rf"{_INTERNAL_TOKEN.pattern}\.", "", text)  # <temporary>.col1 -> col1
    text = _INTERNAL_TOKEN.sub(lambda m: _internal_word(m.group(1)) or "", text)
    return re.sub(r"\bcount\(0\)", "count(*)", text)


def _name(part: str) -> str:
    inner = _unquote(part)
    return inner if _BARE.match(inner) else f"`{inner}`"


def clean_sql_text(text: str) -> str:
    """An optimizer's condition or sort key as a person would write it: no ``/* select#2 */``,
    ``<in_optimizer>``/``<cache>``/``<exists>`` wrappers, database prefixes or needless
    backquotes; ``<subquery2>`` is "subquery 2" and ``<derived3>`` "derived table 3".
    String literals are kept as they are."""
    out, last = [], 0
    for m in _STRING.finditer(text):
        out.append(_code_part(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_code_part(text[last:]))
    cleaned = re.sub(r"\s+", " ", "".join(out)).strip()
    cleaned = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", cleaned))
    while _wrapped(cleaned):
        cleaned = cleaned[1:-1].strip()
    return cleaned


def _wrapped(text: str) -> bool:
    """True when one pair of parentheses encloses the whole text."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(_STRING.sub(lambda m: "x" * len(m.group(0)), text)):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _column_refs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(table, column) of every qualified column in the texts (string literals skipped)."""
    refs = []
    for text in texts:
        code = _STRING.sub("''", _COMMENT.sub("", text))
        for m in _QUALIFIED.finditer(code):
            parts = [m.group(1), m.group(2)] + ([m.group(3)] if m.group(3) else [])
            table, column = (_unquote(p) for p in parts[-2:])
            if not column[:1].isdigit():
                refs.append((table, column))
    return _unique(refs)


def _columns_of(texts: Iterable[str], table: str) -> list[str]:
    return _unique(column for t, column in _column_refs(texts) if t == table)


def _quotable(text: str) -> str | None:
    """The cleaned condition when it reads well in a sentence, else None."""
    cleaned = clean_sql_text(text)
    if (not cleaned or len(cleaned) > QUOTE_LIMIT or _INTERNAL_TOKEN.search(cleaned)
            or re.search(r"\bselect\b", cleaned, re.IGNORECASE)):
        return None
    return cleaned


# ---- wording helpers ---------------------------------------------------------------------------
def _unique(items: Iterable) -> list:
    seen: list = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _q(name: str) -> str:
    return f"`{table_label(name)}`"


def _and(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cols(columns: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def _about(rows: float | None, noun: str = "row") -> str:
    if rows is None:
        return f"an unknown number of {noun}s"
    count = f"{round(rows):,}"
    return f"about {count} {noun}" + ("" if count == "1" else "s")


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _cond_phrase(plan: PlanFacts, nodes: list[PlanNode], table: str) -> tuple[list[str], str]:
    """The columns of ``table`` its conditions use, and "on `a`, `b` (t.a = 5 and ...)"."""
    texts = _unique(t for node in nodes for t in plan.conditions(node))
    columns = _columns_of(texts, table)
    quoted = [q for q in (_quotable(t) for t in texts) if q]
    quote = f" ({' and '.join(quoted)})" if quoted and len(quoted) == len(texts) else ""
    if columns:
        return columns, f" on {_cols(columns)}{quote}"
    return columns, quote


def _finding(plan: PlanFacts, code: str, severity: str, title: str, detail: str,
             node: PlanNode, table: str | None, related: Iterable[str] = (),
             rows: float | None = None) -> Finding:
    cost, node_rows = plan.weight(node)
    return Finding(code, severity, title, detail, table, node.node_id,
                   tuple(t for t in _unique(related) if t != table),
                   node_rows if rows is None else rows, cost, plan.order(node))


def _grouped(nodes: Iterable[PlanNode], key: Callable[[PlanNode], str | None]
             ) -> dict[str | None, list[PlanNode]]:
    groups: dict[str | None, list[PlanNode]] = {}
    for node in nodes:
        groups.setdefault(key(node), []).append(node)
    return groups


def _worst(plan: PlanFacts, nodes: list[PlanNode]) -> PlanNode:
    return max(nodes, key=lambda n: (n.rows or 0.0, -plan.order(n)))


def _access_words(node: PlanNode) -> str:
    if node.access_type == "ALL":
        what = "full table scan"
    elif node.access_type == "index":
        what = "full index scan"
    else:
        what = node.operation[:1].lower() + node.operation[1:]
    if node.key and not node.key.startswith("<") and node.access_type != "ALL":
        what += f" on `{node.key}`"
    return f"{_q(node.table or '')} ({what}, {_about(node.rows)})"


# ---- the rules ---------------------------------------------------------------------------------
@rule("dependent_subquery", ("high",),
      "a correlated subquery (or LATERAL derived table) runs again for every row of the outer "
      "query", covers=("full_table_scan", "full_index_scan", "low_filtered"))
def dependent_subquery(plan: PlanFacts) -> list[Finding]:
    found = []
    for node in plan.nodes:
        if "dependent_subquery" not in node.flags:
            continue
        inner_nodes = [n for n in plan.below(node) if plan.is_table(n) and n.table]
        inner = _unique(n.table for n in inner_nodes)
        local = set(inner) | {n.table for n in iter_nodes(node) if n.table}
        texts = [t for n in iter_nodes(node) for t in plan.conditions(n)]
        texts += [r for n in iter_nodes(node) if isinstance(n.extra.get("ref"), list)
                  for r in n.extra["ref"] if isinstance(r, str)]
        outer = [(t, c) for t, c in _column_refs(texts) if t not in local]
        outer_tables = _unique(t for t, _ in outer)
        select_id = node.extra.get("select_id")
        if select_id is not None:
            label = f"Subquery {select_id}"
        elif node.operation.startswith("Materialize"):
            label = "A LATERAL derived table"
        else:
            label = "A subquery"
        rows = plan.table_rows(outer_tables[0]) if outer_tables else None
        if outer_tables:
            title = f"{label} runs again for every row of {_q(outer_tables[0])}"
            uses = _and(f"`{table_label(t)}`.`{c}`" for t, c in outer)
            per = (f"for each of {_about(rows)} of {_q(outer_tables[0])}" if rows is not None
                   else "once per outer row")
            detail = f"It uses {uses} from the outer query, so it runs {per}."
        else:
            title = f"{label} runs again for every row of the outer query"
            detail = "It depends on the outer query, so it runs once per outer row."
        if inner_nodes:
            detail += " Each run reads " + _and(_access_words(n) for n in inner_nodes) + "."
        if "expression_cache" in node.extra:
            detail += (" MariaDB caches its result per distinct outer value (subquery cache), "
                       "which helps only when those values repeat.")
        on = f" on {_and(f'`{c}`' for _, c in outer)}" if outer else ""
        detail += f" Rewriting it as a JOIN (or a join to a derived table){on} runs it once."
        found.append(_finding(plan, "dependent_subquery", "high", title, detail, node,
                              inner[0] if inner else None, inner[1:], rows))
    return found


def _join_kind(node: PlanNode) -> tuple[bool, str]:
    """(is a hash join, how the plan names the buffer)."""
    kind = str(node.extra.get("join_buffer") or "join buffer")
    return kind.lower().startswith("hash") or kind.upper().startswith(("BNLH", "BKAH")), kind


def _buffer_words(kind: str) -> str:
    """"BNL (flat, 15KiB)" -> "BNL, flat, 15KiB"."""
    return kind.replace(" (", ", ").replace("(", "").replace(")", "")


@rule("join_buffer", ("high", "medium"),
      "a join that cannot use an index (block nested loop, BNL/BKA join buffer, hash join); "
      "high when a joined table reads at least {rows} rows",
      covers=("full_table_scan", "full_index_scan", "low_filtered"))
def join_buffer(plan: PlanFacts) -> list[Finding]:
    joins: list[tuple[PlanNode, str | None, list[str], list[str], bool]] = []
    for node in plan.nodes:
        if "join_buffer" not in node.flags:
            continue
        texts = plan.conditions(node) if node.table else (
            [node.condition] if node.condition else [])
        named = _unique(t for t, _ in _column_refs(texts))
        if node.table:
            table, partners = node.table, [t for t in named if t != node.table]
            if not partners:
                parent = plan.parent(node)
                partners = [t for t in (plan.tables_below(parent) if parent else [])
                            if t != node.table][:1]
        else:  # a TREE hash join: the hashed (build) input is the joined table
            build = (plan.tables_below(node.children[1], itself=True)
                     if len(node.children) > 1 else [])
            probe = plan.tables_below(node.children[0], itself=True) if node.children else []
            table = next((t for t in named if t in build), build[0] if build else None)
            partners = [t for t in named if t != table] or probe[:1]
        joins.append((node, table, texts, partners, bool(texts)))
    found = []
    for table, group in _grouped(joins, lambda j: j[1] or f"@{j[0].node_id}").items():
        nodes = [j[0] for j in group]
        node = nodes[0]
        real = table if table and not table.startswith("@") else None
        big = any(plan.big(n) or any(plan.big(s) for s in plan.below(n) if s.table)
                  for n in nodes)
        rows = plan.table_rows(real) if real else None
        partners = _unique(p for j in group for p in j[3])
        texts = _unique(t for j in group for t in j[2])
        hashed, kind = _join_kind(node)
        with_ = f" with {_and(map(_q, partners))}" if partners else ""
        if real is None:
            title = "Join without an index"
            detail = (f"No index is used for this join{with_}: one input is loaded into an "
                      "in-memory hash table and the other is scanned.")
        elif not any(j[4] for j in group):
            title = f"{_q(real)} is joined{with_} without a join condition"
            detail = (f"Every row{' of ' + _and(map(_q, partners)) if partners else ''} is "
                      f"combined with every row of {_q(real)} ({_about(rows)}): a cartesian "
                      f"product ({'hash join' if hashed else kind}). Check the query for a "
                      "missing join condition.")
        else:
            columns = _columns_of(texts, real)
            quoted = [q for q in (_quotable(t) for t in texts) if q]
            quote = f" ({' and '.join(quoted)})" if quoted and len(quoted) == len(texts) else ""
            on = f" on {_cols(columns)}{quote}" if columns else quote
            title = f"Join to {_q(real)} without an index"
            if hashed:
                how = (f"builds a hash table from {_q(real)} ({_about(rows)}) and probes it "
                       f"with every row{' of ' + _and(map(_q, partners)) if partners else ''}")
            else:
                how = (f"buffers rows{' of ' + _and(map(_q, partners)) if partners else ''} "
                       f"in a block nested-loop join buffer ({_buffer_words(kind)}) and "
                       f"compares each buffer with every row of {_q(real)} ({_about(rows)})")
            detail = f"No index on {_q(real)} fits the join condition{on}, so the server {how}."
            if len(nodes) > 1:
                detail += f" It is joined this way {_times(len(nodes))} in this plan."
            if columns and not real.startswith("<") and not any(
                    n.extra.get("internal") for n in nodes if n.table):
                detail += (f" An index on {_q(real)} ({_cols(columns)}) lets each row be "
                           "joined by an index lookup instead.")
            elif columns:
                detail += (f" {_q(real)} is a derived table; joining its base tables directly "
                           "lets an index be used.")
        found.append(_finding(plan, "join_buffer", "high" if big else "medium", title, detail,
                              node, real, partners if real is None else (), rows))
    return found


@rule("full_table_scan", ("high", "low"),
      "access type `ALL` on a real table: high when it reads at least {rows} rows per scan, "
      "low below (cheap while the table is small)", covers=("low_filtered",))
def full_table_scan(plan: PlanFacts) -> list[Finding]:
    scans = [n for n in plan.nodes if plan.is_table(n) and n.access_type == "ALL"]
    found = []
    for table, nodes in _grouped(scans, lambda n: n.table).items():
        assert table is not None
        worst = _worst(plan, nodes)
        big = any(plan.big(n) for n in nodes)
        detail = f"It reads every row of {_q(table)} ({_about(worst.rows)})"
        if len(nodes) > 1:
            detail += f", {_times(len(nodes))} in this plan"
        filtered = [n.filtered for n in nodes if n.filtered is not None]
        if filtered and min(filtered) < LOW_FILTERED_PERCENT:
            detail += f", and only about {min(filtered):.1f}% of them match"
        detail += "."
        columns, on = _cond_phrase(plan, nodes, table)
        possible = _unique(k for n in nodes for k in (n.possible_keys or [])
                           if not k.startswith("<"))
        filtered_by = any(plan.conditions(n) for n in nodes)
        if possible and filtered_by:
            keys = _and(f"`{k}`" for k in possible)
            detail += (f" {keys} could be used but the optimizer reads the whole table: check "
                       f"the condition{on or ''} for functions on the column, type or "
                       "collation mismatches, or low selectivity.")
        elif columns:
            detail += (f" No index is used for its condition{on}; an index on {_q(table)} "
                       f"({_cols(columns)}) lets the server read only the matching rows.")
        elif on:
            detail += f" No index is used for its condition{on}."
        elif not filtered_by:
            detail += " Nothing in the query filters it, so every row is needed."
        if not big:
            detail += " Cheap while the table is this small; the cost grows with the table."
        found.append(_finding(plan, "full_table_scan", "high" if big else "low",
                              f"Full table scan on {_q(table)}", detail, worst, table))
    return found


@rule("full_index_scan", ("medium",),
      "access type `index` (the whole index is read) on a table of at least {rows} rows")
def full_index_scan(plan: PlanFacts) -> list[Finding]:
    scans = [n for n in plan.nodes
             if plan.is_table(n) and n.access_type == "index" and plan.big(n)]
    found = []
    for table, nodes in _grouped(scans, lambda n: n.table).items():
        assert table is not None
        worst = _worst(plan, nodes)
        key = f" `{worst.key}`" if worst.key and not worst.key.startswith("<") else ""
        detail = (f"It reads the whole index{key} of {_q(table)} ({_about(worst.rows, 'entry')}"
                  .replace("entrys", "entries") + ") instead of the part it needs.")
        columns, on = _cond_phrase(plan, nodes, table)
        if columns:
            detail += (f" An index on {_q(table)} ({_cols(columns)}) lets the server look up "
                       f"only the rows its condition{on} selects.")
        found.append(_finding(plan, "full_index_scan", "medium",
                              f"Full index scan on {_q(table)}", detail, worst, table))
    return found


@rule("low_filtered", ("medium",),
      f"fewer than {LOW_FILTERED_PERCENT:g}% of the rows read from a table (at least {{rows}}) "
      "match its condition")
def low_filtered(plan: PlanFacts) -> list[Finding]:
    reads = [n for n in plan.nodes if plan.is_table(n) and n.filtered is not None
             and n.filtered < LOW_FILTERED_PERCENT and plan.big(n)]
    found = []
    for table, nodes in _grouped(reads, lambda n: n.table).items():
        assert table is not None
        worst = _worst(plan, nodes)
        columns, on = _cond_phrase(plan, nodes, table)
        detail = (f"Only about {worst.filtered:.1f}% of the {_about(worst.rows)} read from "
                  f"{_q(table)} match its condition{on}")
        detail += (f"; an index on {_q(table)} ({_cols(columns)}) would read only those."
                   if columns else "; an index on the filtered columns would read only those.")
        found.append(_finding(plan, "low_filtered", "medium",
                              f"Most rows read from {_q(table)} are discarded", detail, worst,
                              table))
    return found


_SORT_PURPOSES = {
    "Group by": "GROUP BY",
    "Window functions": "window functions",
    "Union": "the ORDER BY of a UNION",
    "Ordered result": "ORDER BY",
    "Sort with duplicate removal": "DISTINCT",
}
_LIMITED = re.compile(r",\s*limit input to (\d+) row\(s\) per chunk\s*$")


def _sort_purpose(plan: PlanFacts, node: PlanNode) -> str | None:
    if node.operation == "Filesort":  # MySQL's ordering_operation; MariaDB sorts for either
        return None if plan.flavour == "mariadb" else "ORDER BY"
    return _SORT_PURPOSES.get(node.operation)


def _sort_keys(node: PlanNode) -> tuple[list[str], int | None]:
    """The cleaned sort keys and, for a top-N sort, N."""
    raw = node.extra.get("sort_key")
    keys = [str(k) for k in raw] if isinstance(raw, list) else [str(raw)] if raw else []
    limit = None
    out = []
    for key in keys:
        m = _LIMITED.search(key)
        if m:
            limit, key = int(m.group(1)), key[:m.start()]
        out.extend(clean_sql_text(part) for part in _split_top(key) if part.strip())
    return out, limit


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and strings."""
    parts, depth, start = [], 0, 0
    masked = _STRING.sub(lambda m: "x" * len(m.group(0)), text)
    for i, ch in enumerate(masked):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _key_column(key: str, qualified_only: bool = False) -> tuple[str | None, str] | None:
    """(table or None, column) of a plain sort key ("t.a desc", "a"); None when computed.
    TREE output qualifies every table column, so there a bare name (``tmp1``) is computed."""
    body = re.sub(r"\s+(?:asc|desc)$", "", key.strip(), flags=re.IGNORECASE)
    if "(" in body:
        return None
    parts = [_unquote(p) for p in re.findall(_IDENT, body)]
    if len(parts) == 1:
        return None if qualified_only else (None, parts[0])
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None


@rule("filesort", ("medium",),
      "rows are sorted after they are read (ORDER BY, GROUP BY, window functions) instead "
      "of being read in index order")
def filesort(plan: PlanFacts) -> list[Finding]:
    sorts = []
    for node in plan.nodes:
        if "filesort" not in node.flags:
            continue
        keys, limit = _sort_keys(node)
        tables = plan.tables_below(node, itself=True)
        known = {n.table for n in plan.nodes if plan.is_table(n)}
        named = _unique(c[0] for k in keys if (c := _key_column(k)) and c[0] in known)
        table = named[0] if len(named) == 1 else tables[0] if len(tables) == 1 else None
        sorts.append((node, table, keys, limit, tables))
    found = []
    for key, group in _grouped(sorts, lambda s: s[1]).items():
        node = max((s[0] for s in group), key=lambda n: plan.weight(n)[0] or 0.0)
        purposes = _unique(p for s in group if (p := _sort_purpose(plan, s[0])))
        keys = _unique(k for s in group for k in s[2])
        limits = [s[3] for s in group if s[3] is not None]
        tables = _unique(t for s in group for t in s[4])
        on = f" on {_q(key)}" if key else ""
        purpose = f" for {_and(purposes)}" if purposes else ""
        whose = (f" of {_q(key)}" if key else
                 f" of {_and(map(_q, tables))}" if tables else "")
        by = f" by {', '.join(keys)}" if keys else ""
        detail = f"The rows{whose} are sorted{by} after they are read, not read in index order"
        if limits and len(limits) == len(group):
            top = max(limits)
            kept = "row is" if top == 1 else f"{top:,} rows are"
            detail += f" (only the first {kept} kept, but every row is read)"
        detail += "."
        tree = plan.root.extra.get("format") == "tree"
        columns = [c for k in keys if (c := _key_column(k, tree)) and (c[0] in (None, key))]
        computed = [re.sub(r"\s+(?:asc|desc)$", "", k, flags=re.IGNORECASE)
                    for k in keys if _key_column(k, tree) is None]
        if computed:
            what = "is not a table column" if len(computed) == 1 else "are not table columns"
            detail += (f" {_and(computed)} {what} (computed, or from a derived result), so no "
                       "index can give this order; it stays cheap only while few rows reach "
                       "the sort.")
        elif key and columns and not key.startswith("<"):
            detail += (f" An index on {_q(key)} ({_cols(_unique(c for _, c in columns))}), "
                       "after the columns it is filtered on with =, returns them in order.")
        else:
            detail += " An index matching the ORDER BY / GROUP BY columns avoids the sort."
        title = f"Filesort{purpose}{on}" if purpose or on else "Rows sorted after reading " \
            "(filesort)"
        found.append(_finding(plan, "filesort", "medium", title, detail, node, key))
    return found


_TEMP_PURPOSES = {
    "Group by": "GROUP BY",
    "Aggregate using temporary table": "GROUP BY",
    "Remove duplicates": "DISTINCT",
    "Temporary table with deduplication": "DISTINCT",
    "Window functions": "window functions",
    "Union": "UNION",
    "Ordered result": "UNION",
    "Remove duplicates (weedout)": "a semi-join",
    "Filesort": "ORDER BY",
}
_TEMP_ADVICE = {
    "GROUP BY": "An index on the GROUP BY columns lets the server group rows as it reads them.",
    "DISTINCT": "An index on the DISTINCT columns lets the server skip duplicates as it reads.",
    "window functions": ("An index matching the window's PARTITION BY / ORDER BY lets the rows "
                         "stream in order."),
    "UNION": "UNION ALL needs none when duplicates cannot occur or do not matter.",
    "a semi-join": ("The server removes duplicate rows of an IN/EXISTS subquery this way "
                    "(weedout); an index on the subquery's join columns allows a cheaper "
                    "strategy."),
    "ORDER BY": ("ORDER BY on columns of more than one table needs the joined rows stored "
                 "first; ordering by columns of the first table avoids it."),
}


@rule("temporary_table", ("medium", "low"),
      "an internal temporary table (GROUP BY, DISTINCT, window functions); low for UNION, "
      "which needs one")
def temporary_table(plan: PlanFacts) -> list[Finding]:
    temps = []
    for node in plan.nodes:
        if "temporary" not in node.flags:
            continue
        purpose = _TEMP_PURPOSES.get(node.operation)
        if node.operation == "Filesort" and plan.flavour == "mariadb":
            purpose = None
        tables = plan.tables_below(node)
        table = tables[0] if len(tables) == 1 and purpose != "UNION" else None
        temps.append((node, table, purpose, tables))
    found = []
    for key, group in _grouped(temps, lambda t: t[1]).items():
        node = group[0][0]
        purposes = _unique(t[2] for t in group if t[2])
        inherent = all(t[2] == "UNION" or t[0].extra.get("internal") for t in group)
        on = f" on {_q(key)}" if key else ""
        purpose = f" for {_and(purposes)}" if purposes else ""
        whose = f" of {_q(key)}" if key else ""
        detail = (f"The server keeps the rows{whose} in an internal temporary table"
                  f"{purpose}; a big one goes to disk.")
        advice = [_TEMP_ADVICE[p] for p in purposes if p in _TEMP_ADVICE]
        detail += " " + (" ".join(advice) if advice else
                         "An index on the GROUP BY / DISTINCT / ORDER BY columns can avoid it.")
        title = f"Temporary table{purpose}{on}" if purpose or on else \
            "Internal temporary table"
        found.append(_finding(plan, "temporary_table", "low" if inherent else "medium",
                              title, detail, node, key))
    return found


CODES = tuple(r.code for r in RULES)
