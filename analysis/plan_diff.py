"""What changed between two plans of one query: per-table access, key, estimates, join order.

A changed plan is the usual answer to "why did this query get slow", and the question a DBA
asks next is *what* changed: "orders: ref on idx_created → ALL; rows 1 → 600". Two stored
plans of a query differ in shape (that is why they are two documents, see
:func:`analysis.plan.plan_hash`), so reading them side by side is slow and error-prone; this
module pairs their nodes and words the differences.

Alignment, in three passes over the two trees:

1. **Table nodes by table** (the alias the plan shows): the n-th node reading ``o`` in plan A
   pairs with the n-th node reading ``o`` in plan B, wherever it sits. A join whose order
   turned round still pairs ``o`` with ``o`` (and marks it ``moved``).
2. **Other operations by operation**, in tree order (the n-th "Nested loop" with the n-th).
3. **What is left, by tree position** (the positional node id), when both are operations:
   "Nested loop" at ``n0.0`` in A and "Hash join" at ``n0.0`` in B are one changed node.

Unpaired nodes are ``removed`` (only in A) or ``added`` (only in B).

Literals: plans quote the statement's values in conditions and TREE operation texts. Nodes
are always aligned and compared on the masked trees (:func:`analysis.masking.mask_plan`), so a
different literal is never "a change"; the values reported are masked too unless the caller
asks for literals (an operator, see ``api.params.literals``).

Estimates jitter between two EXPLAINs of one plan, so ``rows``, ``cost`` and ``filtered``
count as changed only when they differ by more than :data:`ESTIMATE_TOLERANCE` (relative).

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.masking import mask_plan

__all__ = ["ESTIMATE_TOLERANCE", "FIELDS", "NodeChange", "PlanDiff", "diff_plans"]

# Compared on every paired node, in this order (also the order of the summary).
FIELDS = ("operation", "access_type", "key", "rows", "filtered", "cost", "flags", "condition")
ESTIMATE_TOLERANCE = 0.10  # rows/cost/filtered: a 10 % move is noise, not a changed plan
_ESTIMATES = frozenset({"rows", "filtered", "cost"})


@dataclass
class NodeChange:
    """One node found in both plans whose fields differ (or whose join position moved)."""

    node_a: str
    node_b: str
    table: str | None
    operation: str
    fields: dict[str, list[Any]] = field(default_factory=dict)  # name -> [old, new]
    moved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"node_a": self.node_a, "node_b": self.node_b, "table": self.table,
                "operation": self.operation, "fields": {k: list(v) for k, v in
                                                        self.fields.items()},
                "moved": self.moved}


@dataclass
class PlanDiff:
    """The answer of :func:`diff_plans`; ``to_dict`` is the API shape."""

    changes: list[NodeChange]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    table_order_a: list[str]
    table_order_b: list[str]
    summary: str
    pairs: dict[str, str] = field(default_factory=dict)  # node id in A -> node id in B

    @property
    def identical(self) -> bool:
        return not (self.changes or self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [c.to_dict() for c in self.changes],
            "added": list(self.added),
            "removed": list(self.removed),
            "table_order": {"a": list(self.table_order_a), "b": list(self.table_order_b)},
            "summary": self.summary,
        }


# ---- tree walking ------------------------------------------------------------------------------
def _walk(root: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Pre-order, iteratively (a deep plan must not meet the recursion limit)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or []))


def _index(root: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list(_walk(root)) if root else []


def _table_order(nodes: list[Mapping[str, Any]]) -> list[str]:
    return [str(n["table"]) for n in nodes if n.get("table")]


# ---- alignment ---------------------------------------------------------------------------------
def _align(a_nodes: list[Mapping[str, Any]],
           b_nodes: list[Mapping[str, Any]]) -> dict[str, str]:
    """node id in A -> node id in B (three passes; see the module docstring)."""
    pairs: dict[str, str] = {}
    taken_b: set[str] = set()

    def pair_by(key_of) -> None:
        queues: dict[Any, list[str]] = defaultdict(list)
        for node in b_nodes:
            key = key_of(node)
            if key is not None and node["node_id"] not in taken_b:
                queues[key].append(node["node_id"])
        for node in a_nodes:
            if node["node_id"] in pairs:
                continue
            key = key_of(node)
            if key is not None and queues.get(key):
                other = queues[key].pop(0)
                pairs[node["node_id"]] = other
                taken_b.add(other)

    pair_by(lambda n: ("table", n["table"]) if n.get("table") else None)
    pair_by(lambda n: ("op", n.get("operation")) if not n.get("table") else None)
    b_by_id = {n["node_id"]: n for n in b_nodes}
    for node in a_nodes:
        other = b_by_id.get(node["node_id"])
        if (node["node_id"] not in pairs and other is not None
                and other["node_id"] not in taken_b
                and not node.get("table") and not other.get("table")):
            pairs[node["node_id"]] = other["node_id"]
            taken_b.add(other["node_id"])
    return pairs


def _estimate_changed(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is not new
    old, new = float(old), float(new)
    if old == new:
        return False
    return abs(new - old) > ESTIMATE_TOLERANCE * max(abs(old), abs(new))


def _changed(name: str, old: Any, new: Any) -> bool:
    if name in _ESTIMATES:
        return _estimate_changed(old, new)
    if name == "flags":
        return sorted(old or []) != sorted(new or [])
    return (old or None) != (new or None)


def _compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The names of the fields that differ between two paired (masked) nodes."""
    names = []
    for name in FIELDS:
        if name == "operation" and a.get("table") and b.get("table"):
            continue  # a table's operation is worded from its access type, reported there
        if _changed(name, a.get(name), b.get(name)):
            names.append(name)
    return names


def _brief(node: Mapping[str, Any]) -> dict[str, Any]:
    """An added or removed node, without its children or conditions."""
    return {"node_id": node["node_id"], "operation": node.get("operation"),
            "table": node.get("table"), "access_type": node.get("access_type"),
            "key": node.get("key"), "rows": node.get("rows"), "cost": node.get("cost")}


# ---- words -------------------------------------------------------------------------------------
def format_estimate(name: str, value: Any) -> str:
    """48,000 rows; cost 12.5; 11.7 % (a missing value is "?")."""
    if value is None:
        return "?"
    value = float(value)
    if name == "filtered":
        return f"{value:.1f} %".replace(".0 %", " %")
    if name == "rows" or value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _access(node: Mapping[str, Any]) -> str:
    access = node.get("access_type") or node.get("operation") or "?"
    return f"{access} on {node['key']}" if node.get("key") else str(access)


def _change_words(change: NodeChange, a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    parts = []
    fields = change.fields
    if "access_type" in fields or "key" in fields:
        parts.append(f"{_access(a)} → {_access(b)}")
    if "operation" in fields:
        old, new = fields["operation"]
        parts.append(f"{old} → {new}")
    for name in ("rows", "filtered", "cost"):
        if name in fields:
            old, new = fields[name]
            label = "rows" if name == "rows" else name
            parts.append(f"{label} {format_estimate(name, old)} → {format_estimate(name, new)}")
    if "flags" in fields:
        old, new = (set(v or []) for v in fields["flags"])
        if "access_type" in fields:  # "ref → ALL" already says it became a full scan
            old, new = old - {"full_scan"}, new - {"full_scan"}
        gained = ", ".join(sorted(f.replace("_", " ") for f in new - old))
        lost = ", ".join(sorted(f.replace("_", " ") for f in old - new))
        if gained:
            parts.append(f"now {gained}")
        if lost:
            parts.append(f"no longer {lost}")
    if "condition" in fields:
        parts.append("condition changed")
    if change.moved and not parts:
        parts.append("moved in the join order")
    if change.table is None and "operation" in fields:
        return "; ".join(parts)  # "Nested loop → Hash join" names the operation already
    who = change.table or change.operation
    return f"{who}: {'; '.join(parts)}"


def _brief_words(node: Mapping[str, Any]) -> str:
    what = str(node.get("operation") or "?")
    if node.get("table"):
        what += f" on {node['table']}"
        if node.get("access_type"):
            what += f" ({_access(node)})"
    return what


def _summary(changes: list[NodeChange], a_by: dict[str, Mapping[str, Any]],
             b_by: dict[str, Mapping[str, Any]], added: list[dict[str, Any]],
             removed: list[dict[str, Any]], order_a: list[str], order_b: list[str]) -> str:
    if not (changes or added or removed):
        return "The two plans read the tables the same way (no difference beyond noise)."
    sentences = [_change_words(c, a_by[c.node_a], b_by[c.node_b]) for c in changes
                 if c.table]
    if order_a != order_b and sorted(order_a) == sorted(order_b):
        sentences.append(f"join order {', '.join(order_a)} → {', '.join(order_b)}")
    sentences += [_change_words(c, a_by[c.node_a], b_by[c.node_b]) for c in changes
                  if not c.table]
    if removed:
        sentences.append("removed: " + ", ".join(_brief_words(n) for n in removed))
    if added:
        sentences.append("added: " + ", ".join(_brief_words(n) for n in added))
    return ". ".join(sentences)


# ---- entry point -------------------------------------------------------------------------------
def diff_plans(root_a: Mapping[str, Any] | None, root_b: Mapping[str, Any] | None, *,
               literals: bool = False) -> PlanDiff:
    """Compare plan A (before) with plan B (after); both are stored ``root`` dicts
    (:meth:`analysis.plan.PlanNode.to_dict`). ``literals=True`` reports conditions and
    operations as written; otherwise masked (the differences found are the same either way).
    """
    masked_a = mask_plan(dict(root_a)) if root_a else None
    masked_b = mask_plan(dict(root_b)) if root_b else None
    a_nodes, b_nodes = _index(masked_a), _index(masked_b)
    shown_a = _index(root_a) if literals else a_nodes
    shown_b = _index(root_b) if literals else b_nodes
    a_by = {n["node_id"]: n for n in shown_a}
    b_by = {n["node_id"]: n for n in shown_b}
    masked_b_by = {n["node_id"]: n for n in b_nodes}

    pairs = _align(a_nodes, b_nodes)
    order_a, order_b = _table_order(a_nodes), _table_order(b_nodes)
    position_a = {n["node_id"]: i for i, n in enumerate(n for n in a_nodes if n.get("table"))}
    position_b = {n["node_id"]: i for i, n in enumerate(n for n in b_nodes if n.get("table"))}

    changes = []
    for node in a_nodes:
        other_id = pairs.get(node["node_id"])
        if other_id is None:
            continue
        names = _compare(node, masked_b_by[other_id])
        moved = (node["node_id"] in position_a
                 and position_a[node["node_id"]] != position_b.get(other_id))
        if not names and not moved:
            continue
        shown_old, shown_new = a_by[node["node_id"]], b_by[other_id]
        changes.append(NodeChange(
            node_a=node["node_id"], node_b=other_id, table=node.get("table"),
            operation=str(shown_new.get("operation") or ""),
            fields={name: [_plain(shown_old.get(name)), _plain(shown_new.get(name))]
                    for name in names},
            moved=moved))
    paired_b = set(pairs.values())
    removed = [_brief(a_by[n["node_id"]]) for n in a_nodes if n["node_id"] not in pairs]
    added = [_brief(b_by[n["node_id"]]) for n in b_nodes if n["node_id"] not in paired_b]
    return PlanDiff(
        changes=changes, added=added, removed=removed, table_order_a=order_a,
        table_order_b=order_b,
        summary=_summary(changes, a_by, b_by, added, removed, order_a, order_b),
        pairs=dict(pairs))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value
