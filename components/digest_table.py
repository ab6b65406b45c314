"""The digest profile grid (pt-query-digest's profile as a table) and its pure helpers.

The grid uses AG Grid's infinite row model: it asks for one block of rows at a time with its
sort and filter model, and the page answers from the store, so sorting, filtering and paging
happen in the database and the browser never holds 100,000 digests. This module turns such a
request into the store's paging arguments (`store_query_from_request`, a whitelist: the grid
is a client and its column ids are untrusted), flattens digest documents into grid rows, and
writes the CSV download. No store import: the page passes data in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

import dash_ag_grid as dag

from components.csv_safety import safe_row

ALL_INSTANCES = "__all__"
# a query id as pt shows it (analysis.units.short_query_id), in the browser; hover: the full id
QUERY_ID_FORMAT = "params.value == null ? '' : '0x' + params.value.slice(-16).toUpperCase()"
DEFAULT_SORT = "query_time.sum"
BLOCK_SIZE = 50
MAX_BLOCK = 500
CSV_MAX_ROWS = 10_000
GRID_FINGERPRINT_CHARS = 1000

# grid column id -> digest field the store may sort on (each one in store.digests.SORTABLE;
# tests/test_digests_page.py checks that). "% of total" orders exactly as total time does.
SORT_FIELDS = {
    "rank": "rank",
    "total_time": "query_time.sum",
    "pct": "query_time.sum",
    "calls": "count",
    "avg_time": "query_time.avg",
    "p95_time": "query_time.p95",
    "max_time": "query_time.max",
    "rows_examined": "rows_examined.sum",
    "rows_sent": "rows_sent.sum",
    "lock_time": "lock_time.sum",
    "last_seen": "last_seen",
}
# grid column id -> keyword argument of DigestRepository.page for a "contains" text filter
FILTER_ARGS = {"fingerprint": "text", "query_id": "query_id"}


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _filter_text(model: Any) -> str | None:
    """The text of a "contains" text filter (plain, or the first of combined conditions)."""
    if not isinstance(model, Mapping):
        return None
    conditions = model.get("conditions")
    if isinstance(conditions, list) and conditions:
        return _filter_text(conditions[0])
    if model.get("type", "contains") != "contains":
        return None
    text = model.get("filter")
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        return None
    text = str(text).strip()
    return text or None


def store_query_from_request(request: Mapping[str, Any] | None) -> dict[str, Any]:
    """Map an AG Grid `getRowsRequest` to keyword arguments of `DigestRepository.page`.

    Only whitelisted sorts and filters get through: an unknown column id, an unknown sort
    direction or a filter on another column is ignored (the default order, total time
    descending, is used), so a crafted request can never reach the store's query builder.

    >>> store_query_from_request({"startRow": 50, "endRow": 100,
    ...     "sortModel": [{"colId": "calls", "sort": "asc"}],
    ...     "filterModel": {"fingerprint": {"filterType": "text", "type": "contains",
    ...                                     "filter": "orders"}}})  # doctest: +ELLIPSIS
    {'sort': 'count', 'descending': False, 'offset': 50, 'limit': 50, 'text': 'orders', ...}
    """
    request = request or {}
    start = max(0, _as_int(request.get("startRow"), 0))
    end = _as_int(request.get("endRow"), start + BLOCK_SIZE)
    limit = min(max(1, end - start), MAX_BLOCK)
    sort, descending = DEFAULT_SORT, True
    sort_model = request.get("sortModel")
    if isinstance(sort_model, list) and sort_model and isinstance(sort_model[0], Mapping):
        first = sort_model[0]
        field = SORT_FIELDS.get(str(first.get("colId")))
        if field is not None and first.get("sort") in ("asc", "desc"):
            sort, descending = field, first["sort"] == "desc"
    filters = request.get("filterModel")
    filters = filters if isinstance(filters, Mapping) else {}
    args: dict[str, str | None] = {"text": None, "query_id": None}
    for col_id, arg in FILTER_ARGS.items():
        args[arg] = _filter_text(filters.get(col_id))
    if args["query_id"] and args["query_id"][:2].lower() == "0x":  # pt prints IDs as 0x...
        args["query_id"] = args["query_id"][2:] or None
    return {"sort": sort, "descending": descending, "offset": start, "limit": limit, **args}


def with_fingerprint_filter(filter_model: Mapping[str, Any] | None,
                            text: str | None) -> dict[str, Any]:
    """The grid's filter model with the quick search as its fingerprint "contains" filter.

    The search box and the Fingerprint column filter are one filter, so they never disagree
    (the store takes a single fingerprint text).
    """
    model = {k: v for k, v in (filter_model or {}).items() if k != "fingerprint"}
    text = (text or "").strip()
    if text:
        model["fingerprint"] = {"filterType": "text", "type": "contains", "filter": text}
    return model


def row_id(instance_id: str, period: str, query_id: str) -> str:
    """The grid's row id: a click reports it, and it names the digest to load."""
    return f"{instance_id}|{period}|{query_id}"


def parse_row_id(value: Any) -> tuple[str, str, str] | None:
    """(instance_id, period, query_id) back from a grid row id; None if it is not one."""
    if not isinstance(value, str):
        return None
    parts = value.rsplit("|", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def _stat(doc: Mapping[str, Any], metric: str, key: str) -> Any:
    return (doc.get(metric) or {}).get(key)


def digest_rows(digests: Iterable[Mapping[str, Any]], total_query_time: float | None,
                fingerprint_chars: int | None = GRID_FINGERPRINT_CHARS) -> list[dict[str, Any]]:
    """Flatten digest documents into grid rows; `pct` is the share of `total_query_time`.

    Fingerprints longer than `fingerprint_chars` are cut (the grid shows one line; the detail
    view loads the whole digest), which keeps a block of rows small on the wire.
    """
    rows = []
    for doc in digests:
        total = _stat(doc, "query_time", "sum") or 0.0
        fingerprint = doc.get("fingerprint") or ""
        if fingerprint_chars is not None and len(fingerprint) > fingerprint_chars:
            fingerprint = fingerprint[:fingerprint_chars] + "…"
        instances = doc.get("instance_ids")
        rows.append({
            "row_id": row_id(doc["instance_id"], doc["period"], doc["query_id"]),
            "rank": doc.get("rank"),
            # a fleet row: on how many instances the statement ran (their names in `instances`)
            "instance_id": (doc["instance_id"] if instances is None
                            else instances[0] if len(instances) == 1
                            else f"{len(instances)} instances"),
            "instances": " ".join(instances) if instances is not None else doc["instance_id"],
            "period": doc["period"],
            "query_id": doc["query_id"],
            "fingerprint": fingerprint,
            "total_time": total,
            "pct": (total / total_query_time * 100) if total_query_time else None,
            "calls": doc.get("count", 0),
            "avg_time": _stat(doc, "query_time", "avg"),
            "p95_time": _stat(doc, "query_time", "p95"),
            "max_time": _stat(doc, "query_time", "max"),
            "rows_examined": _stat(doc, "rows_examined", "sum"),
            "rows_sent": _stat(doc, "rows_sent", "sum"),
            "lock_time": _stat(doc, "lock_time", "sum"),
            "first_seen": doc.get("first_seen"),
            "last_seen": doc.get("last_seen"),
        })
    return rows


CSV_FIELDS = [
    # instance_id: the instance, or for a fleet row its instances separated by spaces
    ("rank", "rank"), ("instances", "instance_id"), ("period", "period"),
    ("query_id", "query_id"), ("fingerprint", "fingerprint"),
    ("total_time", "total_time_s"), ("pct", "pct_of_total"), ("calls", "calls"),
    ("avg_time", "time_per_call_s"), ("p95_time", "p95_s"), ("max_time", "max_s"),
    ("rows_examined", "rows_examined"), ("rows_sent", "rows_sent"),
    ("lock_time", "lock_time_s"), ("first_seen", "first_seen"), ("last_seen", "last_seen"),
]


def digests_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of flattened rows (full fingerprints and query IDs; % rounded to 0.01).

    Text cells that a spreadsheet would run as a formula are quoted (see csv_safety).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header for _, header in CSV_FIELDS])
    for row in rows:
        values = []
        for key, _ in CSV_FIELDS:
            value = row.get(key)
            if key == "instances" and value is None:
                value = row.get("instance_id")
            if key == "pct" and value is not None:
                value = round(value, 2)
            values.append("" if value is None else value)
        writer.writerow(safe_row(values))
    return out.getvalue()


DURATION = {"function": "humanDuration(params.value)"}  # assets/dashAgGridFunctions.js
UTC_TIME = {"function": "utcTime(params.value)"}


def _number(spec: str, suffix: str = "") -> dict[str, str]:
    """A d3-format value formatter that leaves loading rows (no value yet) blank."""
    tail = f" + '{suffix}'" if suffix else ""
    return {"function": f"params.value == null ? '' : d3.format('{spec}')(params.value){tail}"}


_NUMERIC = {"type": "numericColumn", "sortingOrder": ["desc", "asc"], "minWidth": 86,
            "maxWidth": 130}

COLUMNS: list[dict[str, Any]] = [
    {"field": "rank", "headerName": "Rank", "sortingOrder": ["asc", "desc"],
     "type": "numericColumn", "width": 72, "minWidth": 64, "maxWidth": 90, "flex": 0},
    {"field": "query_id", "headerName": "Query ID", "sortable": False,
     "filter": "agTextColumnFilter", "tooltipField": "query_id", "cellClass": "font-monospace",
     "valueFormatter": {"function": QUERY_ID_FORMAT}, "minWidth": 170, "maxWidth": 180},
    {"field": "instance_id", "headerName": "Instance", "sortable": False, "minWidth": 120,
     "maxWidth": 170, "tooltipField": "instances"},
    {"field": "fingerprint", "headerName": "Fingerprint", "sortable": False,
     "filter": "agTextColumnFilter", "tooltipField": "fingerprint",
     "cellClass": "font-monospace digest-fingerprint", "flex": 4, "minWidth": 300},
    {"field": "total_time", "headerName": "Total time", "sort": "desc",
     "valueFormatter": DURATION, **_NUMERIC},
    {"field": "pct", "headerName": "% of total", "valueFormatter": _number(".1f", " %"),
     **_NUMERIC, "minWidth": 84},
    {"field": "calls", "headerName": "Calls", "valueFormatter": _number(",d"), **_NUMERIC,
     "minWidth": 80},
    {"field": "avg_time", "headerName": "Time per call", "valueFormatter": DURATION,
     **_NUMERIC},
    {"field": "p95_time", "headerName": "p95", "valueFormatter": DURATION, **_NUMERIC},
    {"field": "max_time", "headerName": "Max", "valueFormatter": DURATION, **_NUMERIC},
    {"field": "rows_examined", "headerName": "Rows examined",
     "valueFormatter": _number(",d"), **_NUMERIC, "minWidth": 120, "maxWidth": 160},
    {"field": "rows_sent", "headerName": "Rows sent", "valueFormatter": _number(",d"),
     **_NUMERIC},
    {"field": "lock_time", "headerName": "Lock time", "valueFormatter": DURATION,
     **_NUMERIC},
    {"field": "last_seen", "headerName": "Last seen (UTC)", "sortingOrder": ["desc", "asc"],
     "valueFormatter": UTC_TIME, "minWidth": 150, "maxWidth": 170},
]


def create_digest_grid(grid_id: str) -> dag.AgGrid:
    """The profile grid on the infinite row model; rows arrive through `getRowsResponse`."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=COLUMNS,
        rowModelType="infinite",
        defaultColDef={"sortable": True, "filter": False, "resizable": True, "flex": 1,
                       "suppressHeaderMenuButton": True, "wrapHeaderText": True,
                       "autoHeaderHeight": True,
                       "filterParams": {"filterOptions": ["contains"],
                                        "maxNumConditions": 1, "debounceMs": 400,
                                        "buttons": ["reset"]}},
        dashGridOptions={
            "pagination": True, "paginationPageSize": BLOCK_SIZE,
            "paginationPageSizeSelector": False,
            "cacheBlockSize": BLOCK_SIZE, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
            "maxConcurrentDatasourceRequests": 1, "rowBuffer": 0,
            "animateRows": False, "tooltipShowDelay": 400,
            "localeText": {"noRowsToShow": "No digests match."},
        },
        getRowId="params.data.row_id",
        style={"height": "620px"},
        className="ag-theme-quartz digests-grid",
    )
