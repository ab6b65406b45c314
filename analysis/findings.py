"""Plain-language findings about a parsed execution plan (:mod:`analysis.plan`).

:func:`find_problems` walks a :class:`~analysis.plan.PlanNode` tree and reports what usually makes
a MySQL/MariaDB query slow, one :class:`Finding` per (node, problem), most severe first:

==========================  ========  ========================================================
code                        severity  when
==========================  ========  ========================================================
``full_table_scan``         high/low  access type ``ALL`` on a real table; high when it reads
                                      at least ``full_scan_rows`` rows per scan
``no_usable_index``         med/low   ``ALL``/``index`` access and the server listed no
                                      possible keys at all (known only from JSON plans)
``join_buffer``             high/med  join buffer / block nested loop / hash join: the join
                                      condition cannot use an index (high on big tables)
``dependent_subquery``      high      a correlated subquery, executed again per outer row
``filesort``                medium    rows are sorted after reading (not in index order)
``temporary_table``         med/low   an internal temporary table (low for UNION/derived)
``low_filtered``            medium    < 10% of at least ``full_scan_rows`` examined rows match
==========================  ========  ========================================================

Reads of internal tables (``<temporary>``, ``<derived2>``, materialised views/CTEs) are not
reported as scans: reading them whole is what they are for.  Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.plan import PlanNode, iter_nodes

__all__ = ["CODES", "SEVERITIES", "Finding", "find_problems"]

SEVERITIES = ("high", "medium", "low")
CODES = (
    "full_table_scan",
    "no_usable_index",
    "join_buffer",
    "dependent_subquery",
    "filesort",
    "temporary_table",
    "low_filtered",
)
_RANK = {name: i for i, name in enumerate(SEVERITIES)}
LOW_FILTERED_PERCENT = 10.0


@dataclass(slots=True)
class Finding:
    node_id: str
    severity: str  # "high" | "medium" | "low"
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"node_id": self.node_id, "severity": self.severity, "code": self.code,
                "message": self.message}


def find_problems(root: PlanNode, full_scan_rows: int = 1000) -> list[Finding]:
    """Every problem found in the plan, high severity first (plan order within a severity)."""
    found: list[tuple[int, int, Finding]] = []
    seen: set[tuple[str, str]] = set()

    def add(node: PlanNode, severity: str, code: str, message: str) -> None:
        if (node.node_id, code) in seen:
            return
        seen.add((node.node_id, code))
        found.append((_RANK[severity], len(found), Finding(node.node_id, severity, code,
                                                           message)))

    for node in iter_nodes(root):
        for severity, code, message in _node_problems(node, full_scan_rows):
            add(node, severity, code, message)
    found.sort(key=lambda item: (item[0], item[1]))
    return [finding for _, _, finding in found]


# ---- wording helpers ---------------------------------------------------------------------------
def _q(name: str) -> str:
    return f"`{name}`"


def _about(rows: float) -> str:
    return f"{round(rows):,}"


def _rows_phrase(node: PlanNode) -> str:
    if node.rows is None:
        return "an unknown number of rows"
    count = _about(node.rows)
    return f"about {count} row" + ("" if count == "1" else "s")


def _is_internal(node: PlanNode) -> bool:
    return bool(node.extra.get("internal"))


def _big(node: PlanNode, threshold: int) -> bool:
    return node.rows is not None and node.rows >= threshold


def _join_kind(node: PlanNode) -> str:
    kind = str(node.extra.get("join_buffer") or "join buffer")
    if kind.lower().startswith("hash"):
        return "a hash join"
    if kind.upper().startswith(("BNL", "BKA", "BLOCK")):
        return f"a block nested-loop join buffer ({kind})"
    return f"a join buffer ({kind})"


def _sort_key(node: PlanNode) -> str:
    key = node.extra.get("sort_key")
    if isinstance(key, list):
        key = ", ".join(str(k) for k in key)
    return f" by {key}" if key else ""


_PURPOSES = {
    "Filesort": "ORDER BY",
    "Ordered by index": "ORDER BY",
    "Group by": "GROUP BY",
    "Remove duplicates": "DISTINCT",
    "Window functions": "window functions",
    "Union": "UNION",
    "Ordered result": "the ORDER BY/LIMIT of a query expression",
    "Aggregate using temporary table": "aggregation",
}


def _purpose(node: PlanNode) -> str:
    purpose = _PURPOSES.get(node.operation)
    return f" for {purpose}" if purpose else ""


def _sub_tables(node: PlanNode) -> list[str]:
    tables = []
    for sub in iter_nodes(node):
        if sub.table and not _is_internal(sub) and sub.table not in tables:
            tables.append(sub.table)
    return tables


# ---- the rules ---------------------------------------------------------------------------------
def _node_problems(node: PlanNode, threshold: int) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    table = node.table
    is_table_access = table is not None and not _is_internal(node)

    if is_table_access and node.access_type == "ALL":
        if _big(node, threshold):
            message = (f"Full table scan on {_q(table)} reads {_rows_phrase(node)} per "
                       "execution; no index is used.")
            if node.possible_keys:
                message = message[:-1] + (
                    f" although {', '.join(map(_q, node.possible_keys))} could apply; check "
                    "the condition for functions, type mismatches or low selectivity.")
            problems.append(("high", "full_table_scan", message))
        else:
            problems.append((
                "low", "full_table_scan",
                f"Full table scan on {_q(table)} ({_rows_phrase(node)}); harmless while the "
                "table is this small, but it will grow with the table."))

    if is_table_access and node.access_type in ("ALL", "index") and node.possible_keys == []:
        detail = f": {node.condition}" if node.condition else ""
        problems.append((
            "medium" if _big(node, threshold) else "low", "no_usable_index",
            f"No index on {_q(table)} can be used for this query (no possible keys), so it "
            f"reads {_rows_phrase(node)} per scan; consider an index on the columns of the "
            f"WHERE or JOIN condition{detail}."))

    if "join_buffer" in node.flags:
        if table is not None:
            message = (f"Join to {_q(table)} uses {_join_kind(node)}: no index can be used for "
                       f"the join condition, so the buffered rows are compared with "
                       f"{_rows_phrase(node)} of {_q(table)}.")
        else:
            on = f" on {node.condition}" if node.condition else ""
            message = (f"{node.operation}{on}: no index is used for this join; one input is "
                       "loaded into an in-memory hash table and the other is scanned.")
        big = _big(node, threshold) or any(
            _big(sub, threshold) for sub in iter_nodes(node) if sub.table)
        problems.append(("high" if big else "medium", "join_buffer", message))

    if "dependent_subquery" in node.flags:
        tables = _sub_tables(node)
        reads = f" (reads {', '.join(map(_q, tables))})" if tables else ""
        cache = ("; MariaDB caches its results per distinct outer value (expression cache)"
                 if "expression_cache" in node.extra else "")
        what = node.operation.replace(" (dependent)", "")
        problems.append((
            "high", "dependent_subquery",
            f"{what} is a dependent (correlated) subquery{reads}: it runs again for every row "
            f"of the outer query{cache}. Rewriting it as a JOIN or a derived table usually "
            "avoids that."))

    if "filesort" in node.flags:
        where = f" on {_q(table)}" if table else ""
        problems.append((
            "medium", "filesort",
            f"Rows are sorted with a filesort{_purpose(node)}{_sort_key(node)}{where} instead "
            "of being read in index order; an index matching the ORDER BY / GROUP BY columns "
            "avoids the sort."))

    if "temporary" in node.flags:
        inherent = node.operation in ("Union", "Ordered result") or _is_internal(node)
        problems.append((
            "low" if inherent else "medium", "temporary_table",
            f"An internal temporary table is created{_purpose(node)}; large results spill to "
            "disk. GROUP BY / DISTINCT on indexed columns can avoid it."))

    if (is_table_access and node.filtered is not None
            and node.filtered < LOW_FILTERED_PERCENT and _big(node, threshold)):
        problems.append((
            "medium", "low_filtered",
            f"Only about {node.filtered:.1f}% of the {_about(node.rows or 0)} rows read from "
            f"{_q(table)} match the condition; an index on the filtered columns would avoid "
            "reading the rest."))
    return problems
