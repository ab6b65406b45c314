"""What a plan's diagram draws: its tree, findings and costliest path, masked when asked.

The Plans page and the chart exports (charts/catalogue.py) both draw a stored plan; they
must mask it the same way, or an exported diagram could quote a value the page hid. So the
decision lives here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from analysis.errors import PlanParseError
from analysis.findings import find_problems
from analysis.masking import mask_plan_and_findings
from analysis.plan import PlanNode, costliest_path


def plan_to_draw(plan: Mapping[str, Any] | None,
                 masked: bool) -> tuple[dict | None, list[dict], list[str]]:
    """(root, findings, costliest path) of a plan document, with values masked if `masked`.

    Unmasked findings are worded by today's rules, so a plan stored by an older version reads
    like a new one. A tree that no longer parses keeps its stored findings and no path.

    >>> plan_to_draw(None, True)
    (None, [], [])
    """
    plan = plan or {}
    root, findings = plan.get("root"), list(plan.get("findings") or [])
    if masked:
        root, findings = mask_plan_and_findings(root, findings)
    elif root:
        with suppress(PlanParseError):
            findings = [f.to_dict() for f in find_problems(PlanNode.from_dict(root))]
    if not root:
        return root, findings, []
    try:
        return root, findings, costliest_path(PlanNode.from_dict(root))
    except PlanParseError:
        return root, findings, []
