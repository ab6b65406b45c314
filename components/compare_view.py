"""Builders for the Compare page: grid rows, the movers chart, CSV and Markdown exports.

Pure: they take the result of jobs/compare.month_over_month (a dict) and return rows, a
plotly figure or text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from analysis.compare import describe_causes
from analysis.units import human_duration, short_query_id
from components.csv_safety import safe_row

CATEGORY_LABELS = {
    "regressed": "Regressed", "new": "New", "improved": "Improved", "gone": "Gone",
    "changed": "Other changes",
}
CATEGORY_HELP = {
    "regressed": "slower per call (average or p95) by the ratio or more",
    "new": "not seen in the baseline month",
    "improved": "faster per call by the ratio or more",
    "gone": "not seen in this month",
    "changed": "in both months, within the ratio or with too few calls",
}


def _figure(side: Mapping[str, Any] | None, key: str) -> float | None:
    return None if side is None else side.get(key)


def compare_rows(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One grid row per item: both months side by side, the change and its causes."""
    rows = []
    for item in items:
        now, before = item.get("month"), item.get("baseline")
        delta = (_figure(now, "total") or 0.0) - (_figure(before, "total") or 0.0)
        instances = item.get("instance_ids")
        causes = item.get("causes") or {}
        rows.append({
            "query_id": item["query_id"],
            "instance": (", ".join(instances) if instances else item.get("instance_id")),
            "fingerprint": item.get("fingerprint") or "",
            "calls_before": _figure(before, "calls"), "calls_now": _figure(now, "calls"),
            "avg_before": _figure(before, "avg"), "avg_now": _figure(now, "avg"),
            "p95_before": _figure(before, "p95"), "p95_now": _figure(now, "p95"),
            "total_before": _figure(before, "total"), "total_now": _figure(now, "total"),
            "delta": delta,
            "calls": f"{_count(_figure(before, 'calls'))} → {_count(_figure(now, 'calls'))}",
            "per_call": (f"{human_duration(_figure(before, 'avg'))} → "
                         f"{human_duration(_figure(now, 'avg'))}"),
            "plan_changed": causes.get("plan_changed"),
            "causes": describe_causes(item) if causes else "",
        })
    return rows


def _label(row: Mapping[str, Any]) -> str:
    text = row["fingerprint"]
    return (text[:38] + "…" if len(text) > 39 else text) + f" {short_query_id(row['query_id'])[:6]}"


def movers_figure(result: Mapping[str, Any], top: int = 10) -> go.Figure:
    """The statements whose total time moved most, up in red and down in green."""
    moved = [row for name in ("regressed", "new", "improved", "gone", "changed")
             for row in compare_rows(result.get(name, []))]
    moved.sort(key=lambda r: -abs(r["delta"]))
    moved = [r for r in moved[:top] if r["delta"]][::-1]
    fig = go.Figure(go.Bar(
        x=[r["delta"] for r in moved],
        y=[_label(r) for r in moved],
        orientation="h",
        marker_color=["#dc3545" if r["delta"] > 0 else "#198754" for r in moved],
        customdata=[[r["fingerprint"][:90], r["instance"], r["query_id"][-16:].upper()]
                    for r in moved],
        hovertemplate="0x%{customdata[2]}<br>%{customdata[0]}<br>%{customdata[1]}"
                      "<br>change %{x:+,.1f} s"
                      "<extra></extra>",
    ))
    fig.update_layout(template="plotly_white", height=max(220, 34 * len(moved) + 80),
                      margin={"l": 330, "r": 20, "t": 40, "b": 40},
                      title={"text": "Change in total query time (s), biggest movers",
                             "font": {"size": 14}},
                      xaxis={"zeroline": True, "zerolinecolor": "#888"},
                      font={"size": 12})
    return fig


CSV_FIELDS = [
    ("category", "category"), ("query_id", "query_id"), ("instance", "instance"),
    ("fingerprint", "fingerprint"), ("calls_before", "calls_baseline"),
    ("calls_now", "calls_month"), ("avg_before", "avg_s_baseline"), ("avg_now", "avg_s_month"),
    ("p95_before", "p95_s_baseline"), ("p95_now", "p95_s_month"),
    ("total_before", "total_s_baseline"), ("total_now", "total_s_month"),
    ("delta", "total_change_s"), ("plan_changed", "plan_changed"), ("causes", "causes"),
]


def compare_csv(result: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header for _, header in CSV_FIELDS])
    for name in CATEGORY_LABELS:
        for row in compare_rows(result.get(name, [])):
            row = {**row, "category": name}
            writer.writerow(safe_row(["" if row.get(key) is None else row.get(key)
                                      for key, _ in CSV_FIELDS]))
    return out.getvalue()


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _signed(seconds: float) -> str:
    """A change of total time as the grid shows it: "+3 h 48 m", "-410 ms"."""
    return ("+" if seconds > 0 else "") + human_duration(seconds)


def compare_markdown(result: Mapping[str, Any], per_category: int = 20) -> str:
    """A report to paste into a ticket or a chat: the worst of each category, causes in
    words."""
    scope = ("the fleet" if result.get("instance_id") in (None, "(fleet)")
             else f"`{result['instance_id']}`")
    lines = [f"# {result['month']} compared with {result['baseline']} ({scope})", ""]
    counts = result.get("counts") or {}
    lines.append(" · ".join(f"{CATEGORY_LABELS[name]}: {counts.get(name, 0)}"
                            for name in CATEGORY_LABELS))
    for name in ("regressed", "new", "improved", "gone"):
        rows = compare_rows(result.get(name, []))[:per_category]
        if not rows:
            continue
        lines += ["", f"## {CATEGORY_LABELS[name]} ({counts.get(name, len(rows))})", "",
                  "| Query | Instance | Calls | Per call | Total change | Why |",
                  "|---|---|---:|---:|---:|---|"]
        for row in rows:
            calls = row["calls"]
            avg = row["per_call"]
            lines.append(f"| `{short_query_id(row['query_id'])}` {_md(row['fingerprint'][:80])} | "
                         f"{_md(row['instance'])} | {calls} | {avg} | {_signed(row['delta'])} | "
                         f"{_md(row['causes'])} |")
    return "\n".join(lines) + "\n"
