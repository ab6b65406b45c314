"""The instances table: column definitions and the row shape the grid expects (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_ag_grid as dag

from components.constants import ENGINE_LABELS


def coverage_text(report: Mapping[str, Any] | None) -> str:
    """A coverage report as the badge says it: "ok", "N problems", "unreachable" or
    "not checked" (no report kept yet)."""
    if not report:
        return "not checked"
    problems = len(report.get("problems") or [])
    if problems:
        return f"{problems} problem{'s' if problems > 1 else ''}"
    checks = (report.get("checks") or {}).values()
    return "unreachable" if any(c.get("status") == "unreachable" for c in checks) else "ok"


def instance_rows(instances: Iterable[Mapping[str, Any]],
                  coverage: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> list[dict[str, Any]]:
    """Flatten instance documents for the grid (endpoint as text, tags kept for the chips);
    ``coverage`` holds the instances' last coverage reports, by id."""
    coverage = coverage or {}
    rows = []
    for inst in instances:
        endpoint = inst.get("endpoint") or {}
        address = endpoint.get("address")
        rows.append({
            "instance_id": inst["instance_id"],
            "engine": ENGINE_LABELS.get(inst.get("engine", ""), inst.get("engine", "")),
            "engine_version": inst.get("engine_version", ""),
            "instance_class": inst.get("instance_class", ""),
            "status": "gone" if inst.get("gone") else inst.get("status", ""),
            "endpoint": f"{address}:{endpoint.get('port')}" if address else "",
            "cluster_id": inst.get("cluster_id") or "",
            "tags": inst.get("tags") or {},
            "tags_text": " ".join(f"{k}={v}" for k, v in sorted((inst.get("tags") or {}).items())),
            "collect_target": bool(inst.get("collect_target")),
            "realtime_target": bool(inst.get("realtime_target")),
            "source": inst.get("source", ""),
            "coverage": coverage_text(coverage.get(inst["instance_id"])),
        })
    return rows


COLUMNS = [
    {"field": "instance_id", "headerName": "Instance", "pinned": "left", "minWidth": 180},
    {"field": "engine", "headerName": "Engine"},
    {"field": "engine_version", "headerName": "Version"},
    {"field": "instance_class", "headerName": "Class"},
    {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge"},
    {"field": "collect_target", "headerName": "Collect", "cellRenderer": "TargetBadge",
     "cellRendererParams": {"label": "collect", "color": "primary"}, "maxWidth": 120,
     "filter": False},
    {"field": "realtime_target", "headerName": "Real-time", "cellRenderer": "TargetBadge",
     "cellRendererParams": {"label": "real-time", "color": "danger"}, "maxWidth": 130,
     "filter": False},
    {"field": "coverage", "headerName": "Coverage", "maxWidth": 140,
     "headerTooltip": "Slow-log coverage: click a row for the problems in words",
     "cellClassRules": {"coverage-ok text-success": "params.value === 'ok'",
                        "coverage-problems text-danger fw-semibold":
                            "params.value && params.value.indexOf('problem') >= 0",
                        "text-muted": "params.value === 'not checked' || "
                                      "params.value === 'unreachable'"}},
    {"field": "tags_text", "headerName": "Tags", "cellRenderer": "TagChips", "minWidth": 300,
     "flex": 2, "wrapText": True, "autoHeight": True},
    {"field": "endpoint", "headerName": "Endpoint", "minWidth": 260, "flex": 2},
    {"field": "cluster_id", "headerName": "Cluster"},
    {"field": "source", "headerName": "Source", "maxWidth": 110},
]


def create_instance_grid(grid_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=COLUMNS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "flex": 1,
                       "minWidth": 110},
        dashGridOptions={"pagination": True, "paginationPageSize": 50,
                         "animateRows": False, "quickFilterText": "",
                         "localeText": {"noRowsToShow": "No instances match."}},
        getRowId="params.data.instance_id",
        style={"height": "560px"},
        className="ag-theme-quartz",
    )
