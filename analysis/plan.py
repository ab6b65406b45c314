"""One execution-plan model for three EXPLAIN formats.

* MySQL 8 ``EXPLAIN FORMAT=JSON`` (``query_block`` / ``nested_loop`` / ``ordering_operation`` ...;
  the ``/* ... */`` end markers printed with ``end_markers_in_json=on`` are accepted),
* MySQL 8 ``EXPLAIN FORMAT=TREE`` and ``EXPLAIN ANALYZE`` text (``-> Table scan on t  (cost=..
  rows=..)``, nesting by 4-space indentation),
* MariaDB 10.6-11.x ``EXPLAIN FORMAT=JSON`` / ``ANALYZE FORMAT=JSON`` (``block-nl-join``,
  ``read_sorted_file``, ``expression_cache``, ``recursive_union``, ``materialization`` in
  ``subqueries``, ``window_functions_computation``, ``"table": {"message": ...}`` ...).

Every plan a server prints must parse (a 400 for an ordinary statement is a bug): a member
the model does not know becomes a *generic* node named after the member, with its scalar
members kept in ``extra`` and ``extra["unknown_member"]`` naming it, instead of an error.
:class:`PlanParseError` is kept for input that is not EXPLAIN output at all (not JSON, no
``query_block``, an empty query block, a known member of the wrong JSON type), and for input
past the size and depth limits.

:func:`parse_plan` turns any of them into a tree of :class:`PlanNode`.  Node ids are positional
(``n0`` is the root, ``n0.1`` its second child, ...), so the same plan always gets the same ids.
:func:`plan_hash` fingerprints the *shape* of a plan (operations, tables, access types, keys,
flags, child order) and ignores every estimate, so two samples of one query that were executed
with the same plan hash equal even when costs, row estimates or literals differ.

Pure: no I/O, no database drivers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.errors import PlanParseError
from analysis.nesting import json_size, json_text_depth, value_depth
from analysis.safe_text import excerpt

__all__ = [
    "FLAGS",
    "MAX_PLAN_CHARS",
    "MAX_PLAN_DEPTH",
    "MAX_PLAN_JSON_DEPTH",
    "PlanNode",
    "costliest_path",
    "iter_nodes",
    "parse_plan",
    "plan_hash",
]

# Every flag a node can carry, in the order they are listed in PlanNode.flags.
FLAGS = (
    "full_scan",
    "using_index",
    "join_buffer",
    "filesort",
    "temporary",
    "materialized",
    "dependent_subquery",
)
_FLAG_ORDER = {name: i for i, name in enumerate(FLAGS)}

# Limits on what parse_plan reads. Real plans are far inside them (the deepest fixture is 12
# nodes and 18 JSON levels; a 61-table left-deep join is ~65 nodes); past them a plan is an
# attack or an accident, and the recursive parts (the JSON builder, to_dict, the encoder)
# must never meet it.
MAX_PLAN_DEPTH = 100  # nodes from the root to the deepest leaf
MAX_PLAN_JSON_DEPTH = 200  # nested arrays/objects in EXPLAIN JSON
MAX_PLAN_CHARS = 2_000_000  # a big EXPLAIN FORMAT=JSON is ~100 kB; this stops abuse, not use

# MySQL access types (the `type` column) -> human label of the table access.
_ACCESS_LABELS = {
    "system": "Constant row",
    "const": "Constant row",
    "eq_ref": "Single-row index lookup",
    "ref": "Index lookup",
    "fulltext": "Full-text index search",
    "ref_or_null": "Index lookup (or NULL)",
    "index_merge": "Index merge",
    "unique_subquery": "Unique subquery lookup",
    "index_subquery": "Index subquery lookup",
    "range": "Index range scan",
    "index": "Index scan",
    "ALL": "Table scan",
}
_FULL_SCAN_ACCESS = frozenset({"ALL", "index"})
# MariaDB's hash joins (join_cache_level >= 3) print the inner table's access as ``hash_ALL``,
# ``hash_index``, ``hash_range`` ...: the table is read that way to build the hash table.
_HASH_ACCESS_PREFIX = "hash_"


def _access_label(access: str | None) -> str:
    """The readable name of a table access type (``hash_ALL`` -> ``Hash join (table scan)``)."""
    if access and access.startswith(_HASH_ACCESS_PREFIX):
        base = _ACCESS_LABELS.get(access[len(_HASH_ACCESS_PREFIX):])
        return f"Hash join ({base.lower()})" if base else "Hash join"
    return _ACCESS_LABELS.get(access or "", "Table access")


def _is_full_scan(access: str | None) -> bool:
    if access and access.startswith(_HASH_ACCESS_PREFIX):
        access = access[len(_HASH_ACCESS_PREFIX):]
    return access in _FULL_SCAN_ACCESS


@dataclass(slots=True)
class PlanNode:
    """One operation of an execution plan.  ``flags`` uses the names in :data:`FLAGS`."""

    node_id: str
    operation: str
    table: str | None = None
    access_type: str | None = None
    key: str | None = None
    possible_keys: list[str] | None = None
    rows: float | None = None
    filtered: float | None = None
    cost: float | None = None
    condition: str | None = None
    flags: list[str] = field(default_factory=list)
    children: list[PlanNode] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add_flag(self, flag: str) -> None:
        if flag not in _FLAG_ORDER:
            raise ValueError(f"unknown plan flag {flag!r}; known flags: {', '.join(FLAGS)}")
        if flag not in self.flags:
            self.flags.append(flag)
            self.flags.sort(key=_FLAG_ORDER.__getitem__)

    def to_dict(self) -> dict:
        """The API NODE shape (JSON-ready, children included)."""
        return {
            "node_id": self.node_id,
            "operation": self.operation,
            "table": self.table,
            "access_type": self.access_type,
            "key": self.key,
            "possible_keys": None if self.possible_keys is None else list(self.possible_keys),
            "rows": self.rows,
            "filtered": self.filtered,
            "cost": self.cost,
            "condition": self.condition,
            "flags": list(self.flags),
            "extra": dict(self.extra),
            "children": [child.to_dict() for child in self.children],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanNode:
        """Inverse of :meth:`to_dict` (for plans read back from storage)."""
        try:
            return cls(
                node_id=str(data["node_id"]),
                operation=str(data["operation"]),
                table=data.get("table"),
                access_type=data.get("access_type"),
                key=data.get("key"),
                possible_keys=(None if data.get("possible_keys") is None
                               else list(data["possible_keys"])),
                rows=data.get("rows"),
                filtered=data.get("filtered"),
                cost=data.get("cost"),
                condition=data.get("condition"),
                flags=list(data.get("flags") or []),
                children=[cls.from_dict(c) for c in data.get("children") or []],
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlanParseError(f"not a serialised plan node: {exc!r}") from exc


# ---- public helpers ----------------------------------------------------------------------------
def iter_nodes(root: PlanNode) -> Iterator[PlanNode]:
    """Every node of the tree, parents before children, children in order (pre-order)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def plan_hash(root: PlanNode) -> str:
    """A 16-hex-digit fingerprint of the plan's shape.

    Covers each node's operation, table, access type, key and flags and the order of children;
    ignores costs, row estimates, filtered, conditions, ids and ``extra`` (which hold literals
    and measurements that change from one execution of the same plan to the next).
    """

    def shape(node: PlanNode) -> list:
        return [node.operation, node.table, node.access_type, node.key, list(node.flags),
                [shape(child) for child in node.children]]

    blob = json.dumps(shape(root), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]


def costliest_path(root: PlanNode) -> list[str]:
    """Node ids from the root down to the most expensive leaf.

    Leaves are compared by ``cost``; leaves without a cost lose to any leaf with one and are
    compared by ``rows`` among themselves.  Ties go to the leaf that comes first.
    """
    parents: dict[int, PlanNode | None] = {id(root): None}
    best: PlanNode | None = None
    best_key = (-math.inf, -math.inf)
    for node in iter_nodes(root):
        for child in node.children:
            parents[id(child)] = node
        if node.children:
            continue
        key = (node.cost if node.cost is not None else -math.inf,
               node.rows if node.rows is not None else -math.inf)
        if best is None or key > best_key:
            best, best_key = node, key
    path = []
    current: PlanNode | None = best
    while current is not None:
        path.append(current.node_id)
        current = parents[id(current)]
    return path[::-1]


def parse_plan(text: str | Mapping[str, Any], fmt: str = "auto") -> PlanNode:
    """Parse EXPLAIN output into a :class:`PlanNode` tree.

    ``fmt`` is ``"json"``, ``"tree"`` or ``"auto"`` (JSON when the text starts with ``{`` or
    ``[``, TREE when it has ``->`` lines).  The JSON flavour (MySQL or MariaDB) is detected from
    the members present and reported in ``root.extra["flavour"]``.  A mapping is taken as
    already-decoded EXPLAIN JSON.  A member the model does not know becomes a generic node
    (``extra["unknown_member"]``) rather than an error; :class:`PlanParseError` is raised for
    input that is not EXPLAIN output at all and for input past the size and depth limits.
    """
    if fmt not in ("auto", "json", "tree"):
        raise ValueError(f"fmt must be 'auto', 'json' or 'tree', not {excerpt(fmt, 20)}")
    if isinstance(text, Mapping):
        if fmt == "tree":
            raise PlanParseError("expected EXPLAIN FORMAT=TREE text, got an already-decoded "
                                 "JSON object")
        _check_decoded_size(text)
        return _finish(_parse_json_doc(text), "json")
    if not isinstance(text, str):
        raise PlanParseError(f"expected EXPLAIN output as text, got {type(text).__name__}")
    if len(text) > MAX_PLAN_CHARS:
        raise PlanParseError(f"the EXPLAIN output is too long ({len(text):,} characters; at "
                             f"most {MAX_PLAN_CHARS:,})")
    body = _strip_header(text)
    if not body.strip():
        raise PlanParseError("empty EXPLAIN output: expected EXPLAIN FORMAT=JSON (an object "
                             "with a 'query_block') or FORMAT=TREE lines starting with '->'")
    if fmt == "auto":
        if body.lstrip()[0] in "{[":
            fmt = "json"
        elif body.lstrip().startswith("->"):
            fmt = "tree"
        else:
            raise PlanParseError(
                "could not recognise the EXPLAIN format: expected JSON (starting with '{') or "
                f"TREE lines starting with '->', got {_excerpt(body)}")
    if fmt == "json":
        return _finish(_parse_json_doc(_load_json(body)), "json")
    return _finish(_parse_tree(body), "tree")


# ---- shared plumbing ---------------------------------------------------------------------------
def _excerpt(text: str, limit: int = 60) -> str:
    """The first line of ``text``, quoted and cut (error messages never echo a whole plan)."""
    stripped = text.strip()
    first = stripped[:limit + 1].splitlines()[0] if stripped else ""
    return repr(first if len(first) <= limit else first[:limit] + "...")


def _names(keys: Any, count: int = 5) -> str:
    """The first ``count`` member names, each cut short, for "found: ..." messages."""
    names = [str(k)[:40] for k in list(keys)[:count + 1]]
    shown = ", ".join(names[:count])
    return (shown + ", ...") if len(names) > count else (shown or "none")


def _check_decoded_size(doc: Mapping[str, Any]) -> None:
    """Already-decoded JSON gets the limits text gets, measured without recursion."""
    if value_depth(doc, MAX_PLAN_JSON_DEPTH) > MAX_PLAN_JSON_DEPTH:
        raise PlanParseError(_too_deep_json())
    size = json_size(doc, MAX_PLAN_CHARS)
    if size > MAX_PLAN_CHARS:
        raise PlanParseError(f"the EXPLAIN JSON is too long (more than {MAX_PLAN_CHARS:,} "
                             "characters)")


def _short_message(message: str, limit: int = 300) -> str:
    """A builder error whose JSON path runs long (200 levels deep): its start and its end."""
    if len(message) <= limit:
        return message
    return f"{message[:80]} ... {message[-(limit - 85):]}"


def _too_deep_json() -> str:
    return f"EXPLAIN JSON is nested too deeply (more than {MAX_PLAN_JSON_DEPTH} levels)"


def _check_depth(root: PlanNode) -> None:
    """Refuse a tree deeper than MAX_PLAN_DEPTH before anything walks it recursively."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_PLAN_DEPTH:
            raise PlanParseError(f"the plan is nested too deeply (more than {MAX_PLAN_DEPTH} "
                                 "levels of operations)")
        stack.extend((child, depth + 1) for child in node.children)


def _strip_header(text: str) -> str:
    """Drop a BOM, the ``EXPLAIN`` column header of result files and the ``EXPLAIN: `` label
    the mysql client prints in ``\\G`` mode."""
    body = _BLANK_LINES.sub("", text.lstrip("\ufeff")).rstrip()
    first, _, rest = body.partition("\n")
    if first.strip().upper() == "EXPLAIN":
        body = _BLANK_LINES.sub("", rest)
    if body.lstrip()[:8].upper() == "EXPLAIN:":
        body = body.lstrip()[8:].lstrip(" \t")
    return body


_BLANK_LINES = re.compile(r"^(?:[ \t]*\r?\n)+")


def _finish(root: PlanNode, fmt: str) -> PlanNode:
    _check_depth(root)
    root.extra.setdefault("format", fmt)
    _assign_ids(root, "n0")
    _mark_internal(root)
    return root


def _assign_ids(root: PlanNode, root_id: str) -> None:
    root.node_id = root_id
    stack = [root]
    while stack:
        node = stack.pop()
        for i, child in enumerate(node.children):
            child.node_id = f"{node.node_id}.{i}"
            stack.append(child)


def _mark_internal(root: PlanNode) -> None:
    """Mark reads of internal tables (temporary tables, materialised derived tables/views/CTEs,
    table functions such as JSON_TABLE) with ``extra["internal"] = True``: scanning those fully
    is how they are meant to be read."""
    for node in iter_nodes(root):
        if node.table is None:
            continue
        if node.table.startswith("<") or "table_function" in node.extra or any(
                "materialized" in child.flags for child in node.children):
            node.extra["internal"] = True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _number(value: Any, path: str) -> float | None:
    """A JSON number, or a numeric string as MySQL prints them ("10.00")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PlanParseError(f"{path}: expected a number, got a boolean")
    if isinstance(value, (int, float, str)):
        try:
            number = float(value)
        except (ValueError, OverflowError):  # "abc"; an int too big for a float
            pass
        else:
            if math.isfinite(number):
                return number
    raise PlanParseError(f"{path}: expected a number, got {_kind(value)} {excerpt(value)}")


def _string(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise PlanParseError(f"{path}: expected a string, got {_kind(value)} {excerpt(value)}")


def _string_list(value: Any, path: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlanParseError(f"{path}: expected a list of strings, got {_kind(value)} "
                             f"{excerpt(value)}")
    return list(value)


def _object(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanParseError(f"{path}: expected an object ({what}), got {_kind(value)}")
    return value


def _list(value: Any, path: str, what: str) -> list:
    if not isinstance(value, list):
        raise PlanParseError(f"{path}: expected a list ({what}), got {_kind(value)}")
    return value


def _json_scalar(value: Any) -> bool:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True
    if isinstance(value, list):
        return all(_json_scalar(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _json_scalar(v) for k, v in value.items())
    return False


# ---- JSON --------------------------------------------------------------------------------------
def _strip_json_comments(text: str) -> str:
    """Remove ``/* ... */`` outside strings (MySQL's end_markers_in_json=on output)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
        elif ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise PlanParseError(f"unterminated /* comment at offset {i} in EXPLAIN JSON")
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (json.loads accepts them; the encoder would echo them)."""
    raise ValueError(f"{name} is not a JSON number")


def _loads(text: str) -> Any:
    """json.loads, refusing nesting past MAX_PLAN_JSON_DEPTH before it can recurse into it."""
    if json_text_depth(text) > MAX_PLAN_JSON_DEPTH:
        raise PlanParseError(_too_deep_json())
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise PlanParseError(_too_deep_json()) from exc


def _load_json(body: str) -> Any:
    try:
        return _loads(body)
    except ValueError as first:
        if "/*" in body:
            try:
                return _loads(_strip_json_comments(body))
            except ValueError:
                pass
        err = first if isinstance(first, json.JSONDecodeError) else None
        where = f" at line {err.lineno} column {err.colno}" if err else ""
        msg = err.msg if err else str(first)
        raise PlanParseError(
            f"EXPLAIN output is not valid JSON{where}: {msg} (expected the object printed by "
            "EXPLAIN FORMAT=JSON)") from first


_MYSQL_MARKERS = frozenset({
    "cost_info", "rows_examined_per_scan", "rows_produced_per_join", "using_join_buffer",
    "materialized_from_subquery", "ordering_operation", "grouping_operation", "windowing",
    "unary_result", "attached_subqueries", "optimized_away_subqueries", "select_list_subqueries",
    "having_subqueries", "order_by_subqueries", "group_by_subqueries", "used_columns",
    "data_read_per_join",
})
_MARIADB_MARKERS = frozenset({
    "block-nl-join", "read_sorted_file", "expression_cache", "subqueries", "materialized",
    "temporary_table", "filesort", "r_loops", "r_rows", "r_filtered", "having_condition",
    "outer_ref_condition", "query_optimization", "buffer_type", "join_type", "sort_key",
    "r_total_time_ms", "recursive_union", "window_functions_computation", "materialization",
    "r_engine_stats", "rowid_filter", "r_strategy",
})


def _detect_flavour(doc: Any) -> str:
    """"mysql" or "mariadb", from which members appear; ambiguous plans (e.g. only a message)
    count as MySQL."""
    mysql = mariadb = 0
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in _MYSQL_MARKERS:
                    mysql += 1
                elif key in _MARIADB_MARKERS or (
                        key == "rows" and isinstance(value.get("table_name"), str)) or (
                        key == "table" and isinstance(item, Mapping) and "message" in item
                        and "table_name" not in item):  # MariaDB's "Impossible WHERE" etc.
                    mariadb += 1
                elif key == "filtered":
                    if isinstance(item, str):
                        mysql += 1
                    elif isinstance(item, (int, float)):
                        mariadb += 1
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return "mariadb" if mariadb > mysql else "mysql"


def _parse_json_doc(doc: Any) -> PlanNode:
    if not isinstance(doc, Mapping):
        raise PlanParseError(
            f"expected a JSON object with a top-level 'query_block' (EXPLAIN FORMAT=JSON), got "
            f"{_kind(doc)}")
    if "query_block" not in doc:
        if "query_plan" in doc or "inputs" in doc or "operation" in doc:
            raise PlanParseError(
                "this looks like MySQL's EXPLAIN JSON format version 2 "
                "(explain_json_format_version=2), which is not supported: expected a top-level "
                "'query_block' (version 1)")
        raise PlanParseError("expected a top-level 'query_block' member (EXPLAIN FORMAT=JSON), "
                             f"found: {_names(sorted(map(str, doc)))}")
    flavour = _detect_flavour(doc)
    try:
        root = _JsonBuilder(flavour, doc).query_block(doc["query_block"], "$.query_block")
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise PlanParseError(_too_deep_json()) from exc
    except PlanParseError as exc:
        raise PlanParseError(_short_message(str(exc))) from None
    for key, value in doc.items():
        if key != "query_block" and _json_scalar(value):
            root.extra[key] = value
    root.extra["flavour"] = flavour
    return root


# members that make a JSON object part of the plan (used to recognise unknown wrappers)
_PLAN_KEYS = frozenset({
    "query_block", "table", "nested_loop", "ordering_operation", "grouping_operation",
    "duplicates_removal", "windowing", "union_result", "unary_result", "block-nl-join",
    "read_sorted_file", "filesort", "temporary_table", "subqueries", "query_specifications",
    "materialized", "materialized_from_subquery", "recursive_union", "materialization",
    "window_functions_computation", "table_name",
})
_WRAPPER_LABELS = {
    "grouping_operation": "Group by",
    "duplicates_removal": "Remove duplicates",
    "windowing": "Window functions",
    "insert_from": "Insert from",
}


def _plan_containers(doc: Any) -> set[int]:
    """The ids of every object and list in ``doc`` that holds plan members at any depth.

    One iterative post-order pass, so asking "is there a plan in here?" of an unknown member
    costs nothing, however deep the unknown wrappers nest (a member renamed by a newer server,
    e.g. ``{"materialization_v2": {"query_block_v2": {"nested_loop": ...}}}``, still yields
    its tables instead of being kept as an opaque value)."""
    found: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        value, done = stack.pop()
        if isinstance(value, Mapping):
            items = list(value.values())
        elif isinstance(value, list):
            items = value
        else:
            continue
        if not done:
            stack.append((value, True))
            stack.extend((item, False) for item in items)
            continue
        own = isinstance(value, Mapping) and any(
            k in _PLAN_KEYS or str(k).endswith("_subqueries") for k in value)
        if own or any(id(item) in found for item in items):
            found.add(id(value))
    return found


class _JsonBuilder:
    def __init__(self, flavour: str, doc: Any = None):
        self.flavour = flavour
        self._planful = _plan_containers(doc)

    def has_plan(self, value: Any) -> bool:
        """True when ``value`` (part of the document being parsed) holds plan members."""
        return id(value) in self._planful

    # -- containers ---------------------------------------------------------------------------
    def query_block(self, value: Any, path: str, operation: str | None = None) -> PlanNode:
        qb = _object(value, path, "a query block")
        select_id = qb.get("select_id")
        if select_id is not None and (isinstance(select_id, bool)
                                      or not isinstance(select_id, int)):
            raise PlanParseError(f"{path}.select_id: expected an integer, got {_kind(select_id)}")
        if operation is None:
            operation = f"Select #{select_id}" if select_id is not None else "Query"
        node = PlanNode("", operation)
        if select_id is not None:
            node.extra["select_id"] = select_id
        consumed = {"select_id"}
        if "cost_info" in qb:
            info = _object(qb["cost_info"], f"{path}.cost_info", "cost information")
            node.cost = _number(info.get("query_cost"), f"{path}.cost_info.query_cost")
            consumed.add("cost_info")
        elif "cost" in qb:  # MariaDB 11.x
            node.cost = _number(qb["cost"], f"{path}.cost")
            consumed.add("cost")
        if "having_condition" in qb:
            node.condition = _string(qb["having_condition"], f"{path}.having_condition")
            consumed.add("having_condition")
        if not qb:
            raise PlanParseError(
                f"{path}: a query block needs a select_id, a message or plan members such as "
                "table, nested_loop or union_result; found: none")
        children, extra = self.content(qb, path, skip=consumed)
        node.children = children
        node.extra.update(extra)
        return node

    def content(self, obj: Mapping[str, Any], path: str,
                skip: frozenset[str] | set[str] = frozenset()) -> tuple[list[PlanNode], dict]:
        """Children built from the plan members of ``obj``, in order, and its other scalars."""
        children: list[PlanNode] = []
        extra: dict = {}
        for key, value in obj.items():
            if key in skip:
                continue
            here = f"{path}.{str(key)[:40]}"  # a path names members; it never copies a huge one
            if key == "table":
                children.append(self.table(value, here))
            elif key == "nested_loop":
                children.append(self.nested_loop(value, here))
            elif key == "block-nl-join":
                children.append(self.block_nl_join(value, here))
            elif key == "read_sorted_file":  # MariaDB: just announces the filesort inside
                inner, more = self.content(_object(value, here, "a sorted read"), here)
                children.extend(inner)
                extra.update(more)
            elif key == "filesort":
                children.append(self.filesort(value, here))
            elif key == "temporary_table":
                children.append(self.temporary_table(value, here))
            elif key == "ordering_operation":
                children.append(self.ordering(value, here))
            elif key in ("grouping_operation", "windowing", "insert_from") or (
                    key == "duplicates_removal" and isinstance(value, Mapping)):
                children.append(self.wrapper(value, here, _WRAPPER_LABELS[key]))
            elif key == "duplicates_removal":  # MariaDB: a list of join tabs (weedout)
                node = self.join_list(value, here, "Remove duplicates (weedout)")
                node.add_flag("temporary")
                children.append(node)
            elif key in ("union_result", "unary_result", "recursive_union"):
                children.append(self.union(value, here, key))
            elif key == "window_functions_computation":
                children.append(self.window_functions(value, here))
            elif key == "subqueries" or key.endswith("_subqueries"):
                children.extend(self.subqueries(value, here, key))
            elif key == "query_block":
                children.append(self.query_block(value, here))
            elif key in ("materialized", "materialized_from_subquery", "derived"):
                children.append(self.materialized(value, here))
            elif self.has_plan(value):
                children.append(self.unknown(key, value, here))
            elif _json_scalar(value):
                extra[key] = value
            else:  # pragma: no cover - json.loads never produces other types
                raise PlanParseError(f"{here}: unexpected {_kind(value)}")
        return children, extra

    def nested_loop(self, value: Any, path: str) -> PlanNode:
        node = self.join_list(value, path, "Nested loop")
        if len(node.children) == 1 and not node.extra:
            return node.children[0]  # MariaDB wraps even single tables in a nested_loop
        return node

    def join_list(self, value: Any, path: str, operation: str) -> PlanNode:
        items = _list(value, path, "join members")
        node = PlanNode("", operation)
        for i, item in enumerate(items):
            here = f"{path}[{i}]"
            obj = _object(item, here, "a join member")
            inner, more = self.content(obj, here)
            if not inner:  # a join member of a kind this parser does not know
                node.children.append(self.generic("join member", obj, here))
                continue
            node.children.extend(inner)
            node.extra.update(more)
        return node

    def wrapper(self, value: Any, path: str, operation: str) -> PlanNode:
        obj = _object(value, path, operation.lower())
        node = PlanNode("", operation)
        skip = {"using_filesort", "using_temporary_table", "cost_info", "windows"}
        self._sort_flags(node, obj, path)
        if "cost_info" in obj:
            info = _object(obj["cost_info"], f"{path}.cost_info", "cost information")
            node.cost = _number(info.get("query_cost"), f"{path}.cost_info.query_cost")
            if "sort_cost" in info:
                node.extra["sort_cost"] = _number(info["sort_cost"], f"{path}.cost_info.sort_cost")
        if "windows" in obj:
            windows = _list(obj["windows"], f"{path}.windows", "window definitions")
            for i, window in enumerate(windows):
                w = _object(window, f"{path}.windows[{i}]", "a window")
                self._sort_flags(node, w, f"{path}.windows[{i}]")
            if _json_scalar(windows):
                node.extra["windows"] = windows
        node.children, more = self.content(obj, path, skip=skip)
        node.extra.update(more)
        return node

    def ordering(self, value: Any, path: str) -> PlanNode:
        obj = _object(value, path, "an ORDER BY operation")
        label = "Filesort" if obj.get("using_filesort") else "Ordered by index"
        return self.wrapper(obj, path, label)

    def _sort_flags(self, node: PlanNode, obj: Mapping[str, Any], path: str) -> None:
        for member, flag in (("using_filesort", "filesort"),
                             ("using_temporary_table", "temporary")):
            value = obj.get(member)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise PlanParseError(f"{path}.{member}: expected true or false, got "
                                     f"{_kind(value)}")
            if value:
                node.add_flag(flag)
        if "filesort_key" in obj and _json_scalar(obj["filesort_key"]):
            node.extra.setdefault("sort_key", obj["filesort_key"])

    def filesort(self, value: Any, path: str) -> PlanNode:
        obj = _object(value, path, "a filesort")
        node = PlanNode("", "Filesort")
        node.add_flag("filesort")
        node.children, node.extra = self.content(obj, path)
        return node

    def temporary_table(self, value: Any, path: str) -> PlanNode:
        obj = _object(value, path, "a temporary table")
        node = PlanNode("", "Temporary table")
        node.add_flag("temporary")
        node.children, node.extra = self.content(obj, path)
        return node

    def union(self, value: Any, path: str, key: str) -> PlanNode:
        obj = _object(value, path, "a union result")
        node = PlanNode("", "Ordered result" if key == "unary_result" else "Union")
        node.table = _string(obj.get("table_name"), f"{path}.table_name")
        if key == "union_result" and node.table:  # MariaDB 10.3+: <intersect2,3>, <except1,4>
            for prefix, label in (("<intersect", "Intersect"), ("<except", "Except")):
                if node.table.startswith(prefix):
                    node.operation = label
        if key == "recursive_union":
            node.operation = "Recursive union"
        node.access_type = _string(obj.get("access_type"), f"{path}.access_type")
        self._sort_flags(node, obj, path)
        specs = obj.get("query_specifications")
        skip = {"table_name", "access_type", "using_filesort", "using_temporary_table",
                "query_specifications"}
        if specs is not None:
            for i, spec in enumerate(_list(specs, f"{path}.query_specifications",
                                           "the united query blocks")):
                here = f"{path}.query_specifications[{i}]"
                spec = _object(spec, here, "a query specification")
                inner, more = self.content(spec, here, skip={"dependent", "cacheable"})
                if not inner:
                    inner = [self.generic("query specification", spec, here)]
                    more = {}
                for key_ in ("dependent", "cacheable"):
                    if key_ in spec:
                        inner[0].extra[key_] = spec[key_]
                inner[0].extra.update(more)
                node.children.extend(inner)
        inner, extra = self.content(obj, path, skip=skip)
        node.children.extend(inner)
        node.extra.update(extra)
        return node

    def subqueries(self, value: Any, path: str, key: str) -> list[PlanNode]:
        kind = "subquery" if key == "subqueries" else key[: -len("_subqueries")]
        nodes = []
        for i, item in enumerate(_list(value, path, "subqueries")):
            here = f"{path}[{i}]"
            item = _object(item, here, "a subquery")
            cache = materialization = None
            if "expression_cache" in item:  # MariaDB: only correlated subqueries get one
                cache = _object(item["expression_cache"], f"{here}.expression_cache",
                                "an expression cache")
                body, body_path = cache, f"{here}.expression_cache"
            elif "materialization" in item:  # MariaDB: NOT IN / NOT EXISTS run once into a
                materialization = _object(  # temporary table probed per outer row
                    item["materialization"], f"{here}.materialization", "a materialisation")
                body, body_path = materialization, f"{here}.materialization"
            else:
                body, body_path = item, here
            if "query_block" not in body:
                what = "subquery" if kind == "subquery" else f"{kind} subquery"
                nodes.append(self.generic(what, item, here))
                continue
            node = self.query_block(body["query_block"], f"{body_path}.query_block")
            node.extra["subquery_kind"] = kind.replace("_", " ")
            if materialization is not None:
                node.add_flag("materialized")
                node.extra["strategy"] = "materialization"
                for member, member_value in materialization.items():
                    if member != "query_block" and _json_scalar(member_value):
                        node.extra[member] = member_value
            for member in ("dependent", "cacheable", "using_temporary_table"):
                if member in item:
                    node.extra[member] = item[member]
            dependent = item.get("dependent") is True
            if cache is not None:
                node.extra["expression_cache"] = {k: v for k, v in cache.items()
                                                  if k != "query_block" and _json_scalar(v)}
                dependent = True
            elif "dependent" not in item and _references_outer_tables(node):
                dependent = True  # MariaDB with subquery_cache=off: refs name outer tables
            select_id = node.extra.get("select_id")
            label = f"Subquery #{select_id}" if select_id is not None else "Subquery"
            if dependent:
                node.add_flag("dependent_subquery")
                label += " (dependent)"
            elif materialization is not None:
                label += " (materialized)"
            node.operation = label
            nodes.append(node)
        return nodes

    def materialized(self, value: Any, path: str) -> PlanNode:
        obj = _object(value, path, "a materialised subquery")
        if "query_block" not in obj:
            node = self.generic("materialized", obj, path)
            node.add_flag("materialized")
            return node
        node = self.query_block(obj["query_block"], f"{path}.query_block", "Materialize")
        node.add_flag("materialized")
        if obj.get("dependent") is True:
            node.add_flag("dependent_subquery")
            node.operation = "Materialize (dependent)"
        for key, item in obj.items():
            if key != "query_block" and _json_scalar(item):
                node.extra[key] = item
        return node

    def unknown(self, key: str, value: Any, path: str) -> PlanNode:
        """A member this parser does not know but that contains plan parts (newer servers)."""
        label = _readable(key)
        if isinstance(value, Mapping) and isinstance(value.get("table_name"), str):
            node = self.table(value, path)  # a table access under a member name we do not know
        elif isinstance(value, list):
            node = self.join_list(value, path, label)
        else:
            node = PlanNode("", label)
            node.children, node.extra = self.content(value, path)
        node.extra["unknown_member"] = str(key)[:40]
        return node

    def generic(self, what: str, obj: Mapping[str, Any], path: str) -> PlanNode:
        """An object where a known part was expected (a table, a subquery, a join member) but
        of a shape this parser does not know: its plan members become children and its other
        members stay in ``extra``, so nothing the server printed is lost or refused."""
        node = PlanNode("", _readable(what))
        node.children, node.extra = self.content(obj, path)
        node.extra["unknown_member"] = what
        return node

    def window_functions(self, value: Any, path: str) -> PlanNode:
        """MariaDB's ``window_functions_computation``: the sorts it runs over a temporary
        table (``sorts: [{"filesort": ...}]``) become children, before the table it reads."""
        obj = _object(value, path, "a window function computation")
        node = PlanNode("", "Window functions")
        if "sorts" in obj:
            for i, sort in enumerate(_list(obj["sorts"], f"{path}.sorts", "window sorts")):
                here = f"{path}.sorts[{i}]"
                inner, more = self.content(_object(sort, here, "a window sort"), here)
                node.children.extend(inner or [self.generic("window sort", sort, here)])
                for member, item in more.items():
                    node.extra.setdefault(member, item)
        children, extra = self.content(obj, path, skip={"sorts"})
        node.children.extend(children)
        node.extra.update(extra)
        return node

    # -- table accesses -----------------------------------------------------------------------
    def table(self, value: Any, path: str) -> PlanNode:
        obj = _object(value, path, "a table access with table_name, access_type, ...")
        if "table_name" not in obj:
            if isinstance(obj.get("message"), str):
                return self.message_table(obj, path)
            return self.generic("table access", obj, path)
        name = obj.get("table_name")
        if not isinstance(name, str):
            raise PlanParseError(
                f"{path}.table_name: expected the table name as a string, got {_kind(name)}")
        access = _string(obj.get("access_type"), f"{path}.access_type")
        node = PlanNode("", _access_label(access), table=name, access_type=access)
        node.key = _string(obj.get("key"), f"{path}.key")
        if node.key is None and isinstance(obj.get("index_merge"), Mapping):
            keys = _index_merge_keys(obj["index_merge"])
            if keys:  # MySQL prints the merged keys as "key": "a,b"; MariaDB only nests them
                node.key = ",".join(keys)
        keys = _string_list(obj.get("possible_keys"), f"{path}.possible_keys")
        node.possible_keys = keys if keys is not None else []
        if "rows_examined_per_scan" in obj:
            node.rows = _number(obj["rows_examined_per_scan"], f"{path}.rows_examined_per_scan")
        elif "rows" in obj:
            node.rows = _number(obj["rows"], f"{path}.rows")
        node.filtered = _number(obj.get("filtered"), f"{path}.filtered")
        node.condition = _string(obj.get("attached_condition"), f"{path}.attached_condition")
        consumed = {"table_name", "access_type", "key", "possible_keys", "rows_examined_per_scan",
                    "rows", "filtered", "attached_condition", "cost_info", "cost"}
        if "cost_info" in obj:
            info = _object(obj["cost_info"], f"{path}.cost_info", "cost information")
            node.cost = _number(info.get("prefix_cost"), f"{path}.cost_info.prefix_cost")
            for member, item in info.items():
                if member != "prefix_cost" and _json_scalar(item):
                    node.extra[member] = item
        elif "cost" in obj:  # MariaDB 11.x
            node.cost = _number(obj["cost"], f"{path}.cost")
        if _is_full_scan(access):
            node.add_flag("full_scan")
        using_index = obj.get("using_index")
        if using_index is not None and not isinstance(using_index, bool):
            raise PlanParseError(f"{path}.using_index: expected true or false, got "
                                 f"{_kind(using_index)}")
        if using_index:
            node.add_flag("using_index")
        buffer = obj.get("using_join_buffer")
        if buffer:
            node.add_flag("join_buffer")
            node.extra["join_buffer"] = _string(buffer, f"{path}.using_join_buffer")
            consumed.add("using_join_buffer")
        consumed.add("using_index")
        node.children, extra = self.content(obj, path, skip=consumed)
        for member, item in extra.items():
            node.extra.setdefault(member, item)
        return node

    def message_table(self, obj: Mapping[str, Any], path: str) -> PlanNode:
        """MariaDB's ``"table": {"message": "Impossible WHERE"}`` (also ``No tables used``,
        ``Zero limit``, ``Deleting all rows`` ...): no table is read, the message says why.
        The operation is the message itself, so the diagram says what happened."""
        message = obj["message"]
        text = excerpt(message.strip(), 80, quote=False) or "Message"
        node = PlanNode("", text[:1].upper() + text[1:])
        node.children, node.extra = self.content(obj, path)
        return node

    def block_nl_join(self, value: Any, path: str) -> PlanNode:
        """MariaDB's join-buffered access: folded into the table node it wraps."""
        obj = _object(value, path, "a block nested-loop join")
        if "table" not in obj:
            node = self.generic("block-nl-join", obj, path)
            node.add_flag("join_buffer")
            return node
        node = self.table(obj["table"], f"{path}.table")
        if node.table is None:  # a message or an unknown table shape: nothing to buffer
            return node
        node.add_flag("join_buffer")
        join_type = _string(obj.get("join_type"), f"{path}.join_type") or "BNL"
        buffer = ", ".join(str(obj[k]) for k in ("buffer_type", "buffer_size") if k in obj)
        node.extra["join_buffer"] = f"{join_type} ({buffer})" if buffer else join_type
        join_condition = _string(obj.get("attached_condition"), f"{path}.attached_condition")
        if join_condition is not None:
            if node.condition is None:
                node.condition = join_condition
            else:
                node.extra["join_condition"] = join_condition
        children, extra = self.content(obj, path, skip={"table", "attached_condition"})
        node.children.extend(children)
        for member, item in extra.items():
            node.extra.setdefault(member, item)
        return node


def _readable(key: str) -> str:
    """``window_functions_computation`` -> ``Window functions computation``."""
    text = str(key)[:40].replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else "Unknown operation"


def _index_merge_keys(merge: Mapping[str, Any]) -> list[str]:
    """The keys of MariaDB's ``index_merge: {"union": [{"range": {"key": ...}}, ...]}`` (also
    ``intersect`` and ``sort_union``, nested in each other), in the order printed."""
    keys: list[str] = []
    stack: list[Any] = [merge]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            key = value.get("key")
            if isinstance(key, str) and key not in keys:
                keys.append(key)
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return keys


_QUALIFIED = re.compile(r"^(?:`?[\w$]+`?\.)?`?(?P<table>[\w$]+)`?\.`?[\w$]+`?$")


def _references_outer_tables(block: PlanNode) -> bool:
    """True when a ``ref`` in the block names a table that is not read inside the block
    (MariaDB prints ``"ref": ["shop.o.customer_id"]`` for correlated lookups)."""
    local = {n.table for n in iter_nodes(block) if n.table}
    for node in iter_nodes(block):
        refs = node.extra.get("ref")
        if not isinstance(refs, list):
            continue
        for ref in refs:
            m = _QUALIFIED.match(ref) if isinstance(ref, str) else None
            if m and m.group("table") not in local:
                return True
    return False


# ---- TREE --------------------------------------------------------------------------------------
_LINE = re.compile(r"^(?P<indent> *)-> ?(?P<text>.*)$")
_STATS = re.compile(
    r"\s*\((?P<group>(?:cost|rows)=[^()]*|actual time=[^()]*|actual rows=[^()]*"
    r"|never executed)\)\s*$")
_MAX_STATS_GROUPS = 4
_TABLE = r"(?P<table><[^>]*>|`[^`]+`|[^\s(]+)"
_KEY = r"(?P<key><[^>]*>|`[^`]+`|[^\s(]+)"


def _parse_tree(body: str) -> PlanNode:
    entries: list[list] = []  # [indent, text, line number]
    base: int | None = None
    for lineno, raw in enumerate(body.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            if entries and line.lstrip().startswith("("):
                entries[-1][1].append(line.strip())  # a wrapped "(actual time=...)" group
                continue
            raise PlanParseError(
                f"line {lineno}: expected '-> <operation>' (EXPLAIN FORMAT=TREE), got "
                f"{_excerpt(line)}")
        indent = len(m.group("indent"))
        if base is None:
            base = indent
        if indent < base:
            raise PlanParseError(f"line {lineno}: indented less than the first line")
        text = m.group("text").strip()
        if not text:
            raise PlanParseError(f"line {lineno}: '->' without an operation")
        entries.append([indent - base, [text], lineno])
    if not entries:
        raise PlanParseError("no '->' lines found: expected EXPLAIN FORMAT=TREE output")

    roots: list[PlanNode] = []
    stack: list[tuple[int, PlanNode]] = []  # (depth, node)
    for indent, parts, lineno in entries:
        if indent % 4:
            raise PlanParseError(
                f"line {lineno}: indentation of {indent} spaces is not a multiple of 4")
        depth = indent // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent_depth = stack[-1][0] if stack else -1
        if depth > parent_depth + 1:
            raise PlanParseError(
                f"line {lineno}: nested {depth - parent_depth} levels below the line above "
                "(expected one level, 4 spaces)")
        if depth >= MAX_PLAN_DEPTH:
            raise PlanParseError(f"line {lineno}: the plan is nested too deeply (more than "
                                 f"{MAX_PLAN_DEPTH} levels of operations)")
        node = _tree_node(" ".join(parts), lineno)
        if stack:
            stack[-1][1].children.append(node)
        else:
            roots.append(node)
        stack.append((depth, node))
    if len(roots) == 1:
        return roots[0]
    root = PlanNode("", "Query plan", children=roots)
    root.extra["synthetic"] = True  # several top-level iterators (e.g. select-list subqueries)
    return root


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None  # mysqltest masks some estimates as ***
    return value if math.isfinite(value) else None


def _apply_stats(node: PlanNode, group: str) -> None:
    if group == "never executed":
        node.extra["never_executed"] = True
        return
    fields = dict(re.findall(r"([a-z_]+)=(\S+)", group.replace("actual time", "actual_time")))
    if group.startswith("actual"):
        if "actual_time" in fields:
            first, _, last = fields["actual_time"].partition("..")
            node.extra["actual_time_first_ms"] = _float_or_none(first)
            node.extra["actual_time_ms"] = _float_or_none(last or first)
        if "rows" in fields:
            node.extra["actual_rows"] = _float_or_none(fields["rows"])
        if "loops" in fields:
            node.extra["loops"] = _float_or_none(fields["loops"])
        return
    if "cost" in fields:
        first, _, last = fields["cost"].partition("..")
        node.cost = _float_or_none(last or first)
        if last:
            node.extra["cost_first_row"] = _float_or_none(first)
    if "rows" in fields:
        node.rows = _float_or_none(fields["rows"])


def _access(label: str, access: str, *, covering: bool = False) -> dict:
    return {"operation": label, "access_type": access, "covering": covering}


# Table accesses of the TREE format: (pattern, builder); the first match wins.
_TREE_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(rf"^Table scan on {_TABLE}(?P<rest>.*)$"),
     lambda m: _access("Table scan", "ALL")),
    (re.compile(rf"^(?P<cov>Covering )?[Ii]ndex scan on {_TABLE} using {_KEY}(?P<rest>.*)$"),
     lambda m: _access("Covering index scan" if m["cov"] else "Index scan", "index",
                       covering=bool(m["cov"]))),
    (re.compile(rf"^(?P<cov>Covering )?[Ii]ndex range scan on {_TABLE}(?: using {_KEY})?"
                r"(?P<rest>.*)$"),
     lambda m: _access("Covering index range scan" if m["cov"] else "Index range scan",
                       "range", covering=bool(m["cov"]))),
    (re.compile(rf"^Single-row (?P<cov>covering )?index lookup on {_TABLE} using {_KEY}"
                r"(?P<rest>.*)$"),
     lambda m: _access("Single-row covering index lookup" if m["cov"]
                       else "Single-row index lookup", "eq_ref", covering=bool(m["cov"]))),
    (re.compile(rf"^(?P<cov>Covering )?[Ii]ndex lookup on {_TABLE} using {_KEY}(?P<rest>.*)$"),
     lambda m: _access("Covering index lookup" if m["cov"] else "Index lookup", "ref",
                       covering=bool(m["cov"]))),
    (re.compile(rf"^Full-text index search on {_TABLE} using {_KEY}(?P<rest>.*)$"),
     lambda m: _access("Full-text index search", "fulltext")),
    (re.compile(rf"^Constant row from {_TABLE}(?P<rest>.*)$"),
     lambda m: _access("Constant row", "const")),
    (re.compile(r"^Rows fetched before execution(?P<rest>.*)$"),
     lambda m: _access("Rows fetched before execution", "const")),
]
_SUBQUERY = re.compile(r"^Select #(?P<id>\d+)(?: \((?P<note>.*)\))?$")
_HASH_JOIN = re.compile(r"^(?P<op>(?:[\w-]+ )?hash (?:\w+ )?(?:semi|anti)?join)"
                        r"(?: \((?P<cond>.*)\))?$", re.IGNORECASE)
_SORT = re.compile(r"^(?P<op>Sort(?: row IDs)?(?: with duplicate removal)?): (?P<keys>.*)$")
_MATERIALIZE = re.compile(r"^(?P<op>(?:\w+ )?[Mm]aterialize\b(?: CTE (?P<cte>\S+))?"
                          r"(?: with deduplication)?)(?: \((?P<note>.*)\))?(?P<rest>.*)$")
_LIMIT = re.compile(r"^(?P<op>Limit(?:/Offset)?): (?P<limit>.*)$")
_WEEDOUT = re.compile(r"^Remove duplicate (?P<tables>.*) rows using temporary table "
                      r"\(weedout\)$")
_DML = re.compile(r"^(?P<op>Insert into|Replace into|Update|Delete from) (?P<target>.*)$")


def _tree_node(text: str, lineno: int) -> PlanNode:
    ops = text
    groups = []
    # MySQL prints at most two groups (estimates, then actuals); stopping after a few keeps a
    # crafted line of 100,000 groups linear instead of quadratic.
    for _ in range(_MAX_STATS_GROUPS):
        m = _STATS.search(ops)
        if m is None:
            break
        groups.append(m.group("group"))
        ops = ops[: m.start()].rstrip()
    if not ops:
        raise PlanParseError(f"line {lineno}: only estimates, no operation, in "
                             f"{_excerpt(text)}")
    node = PlanNode("", ops)
    node.extra["text"] = ops
    for group in reversed(groups):
        _apply_stats(node, group)
    _classify(node, ops)
    return node


def _classify(node: PlanNode, ops: str) -> None:
    for pattern, build in _TREE_RULES:
        m = pattern.match(ops)
        if m is None:
            continue
        info = build(m)
        groups = m.groupdict()
        node.operation = info["operation"]
        node.access_type = info["access_type"]
        node.table = _unquote(groups.get("table"))
        node.key = _unquote(groups.get("key"))
        if info["covering"]:
            node.add_flag("using_index")
        if node.access_type in _FULL_SCAN_ACCESS:
            node.add_flag("full_scan")
        rest = (groups.get("rest") or "").strip()
        if rest and node.access_type in ("ref", "eq_ref", "fulltext"):
            lookup, rest = _leading_parens(rest)
            if lookup is not None:
                node.extra["lookup"] = lookup
        if rest:
            node.extra["detail"] = rest.lstrip(", ")
        return
    m = _SUBQUERY.match(ops)
    if m:
        note = m["note"] or ""
        node.operation = f"Subquery #{m['id']}"
        node.extra["select_id"] = int(m["id"])
        if note:
            node.extra["subquery_kind"] = note
        if re.search(r"\bdependent\b", note):
            node.add_flag("dependent_subquery")
            node.operation += " (dependent)"
        return
    m = _HASH_JOIN.match(ops)
    if m:
        node.operation = m["op"]
        cond = m["cond"]
        if cond and cond != "no condition":
            node.condition = cond
        node.add_flag("join_buffer")
        node.extra["join_buffer"] = "hash join"
        return
    m = _SORT.match(ops)
    if m:
        node.operation = m["op"]
        node.extra["sort_key"] = m["keys"]
        node.add_flag("filesort")
        return
    if ops.startswith("Filter: "):
        node.operation = "Filter"
        node.condition = ops[len("Filter: "):]
        return
    m = _LIMIT.match(ops)
    if m:
        node.operation = m["op"]
        node.extra["limit"] = m["limit"]
        return
    if ops.startswith("Zero rows"):
        node.operation = "Zero rows"
        reason = ops[len("Zero rows"):].strip()
        if reason.startswith("(") and reason.endswith(")"):
            node.extra["reason"] = reason[1:-1]
        return
    m = _WEEDOUT.match(ops)
    if m:
        node.operation = "Remove duplicates (weedout)"
        node.extra["tables"] = m["tables"]
        node.add_flag("temporary")
        return
    if ops.startswith("Temporary table") or "using temporary table" in ops:
        node.operation, _, detail = ops.partition(":")
        if detail.strip():
            node.extra["detail"] = detail.strip()
        node.add_flag("temporary")
        return
    m = _MATERIALIZE.match(ops)
    if m:
        node.operation = m["op"]
        if m["cte"]:
            node.extra["cte"] = m["cte"]
        detail = " ".join(x for x in (m["note"], m["rest"].strip()) if x)
        if detail:
            node.extra["detail"] = detail
        node.add_flag("materialized")
        return
    m = _DML.match(ops)
    if m:
        node.operation = m["op"]
        node.extra["target"] = m["target"]
        return
    head, sep, detail = ops.partition(": ")
    if sep:
        node.operation = head
        node.extra["detail"] = detail


def _leading_parens(text: str) -> tuple[str | None, str]:
    """Split ``"(a = (b)) rest"`` into ``("a = (b)", "rest")``; ``(None, text)`` if ``text``
    does not start with a balanced parenthesised group."""
    if not text.startswith("("):
        return None, text
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1:].strip()
    return None, text


def _unquote(name: str | None) -> str | None:
    if name and len(name) > 1 and name[0] == name[-1] == "`":
        return name[1:-1]
    return name
