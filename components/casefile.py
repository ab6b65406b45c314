"""A case file: one statement's evidence in one self-contained HTML file, for a ticket.

A ticket about a slow statement outlives the dashboard's retention, its login and sometimes
the dashboard itself. The case file holds what the digest window, the Plans page and Compare
show about one statement, frozen: its statistics and per-hour chart, masked examples, every
plan with its diagram and findings (and what changed between them), its month-over-month
history and the tables its plans read. It opens from disk with no network and prints to PDF.

No literals, whoever calls: examples, explained statements and the fingerprint are masked
here (analysis.masking), plan trees and findings are masked together and the raw EXPLAIN
output is left out (``mask_plan_document``, as the API answers while literals are hidden),
CREATE TABLE statements are masked (analysis.ddl_masking) and stored error messages are
masked where they quote a statement. The caller hands in store documents as they are.

Pure: :class:`CaseFileData` in, one HTML string out (components/casefile_html.py makes the
page around it). api/casefile.py gathers the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.ddl_masking import mask_create_table
from analysis.errors import PlanParseError
from analysis.fleet import FLEET_INSTANCE
from analysis.live_position import distinct_plans
from analysis.masking import mask_literals, mask_message, mask_plan_document
from analysis.period import period_label
from analysis.plan import PlanNode, costliest_path
from analysis.plan_diff import diff_plans
from analysis.units import human_duration, short_query_id
from components.casefile_html import empty, esc, figure_html, page, table
from components.digest_detail import (
    STAT_HEADERS,
    create_hourly_figure,
    format_count,
    format_time,
    stats_rows,
)
from components.plan_diff_view import _bytes as format_bytes
from components.plan_visual import (
    ACCESS_STYLES,
    COSTLIEST_COLOR,
    SEVERITY_COLORS,
    create_plan_figure,
)

__all__ = ["CaseFileData", "casefile_filename", "create_casefile", "create_history_figure"]

MAX_PLANS = 8  # diagrams in one file; a statement with more lists the rest by hash
TOP_NAMES = 10
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
NO_PLAN = ("No plan recorded for this statement: plans are recorded when the real-time "
           "capture sees it running, or with Run EXPLAIN in its digest window.")
NO_TABLES = ("No table context: no plan was recorded, so which tables the statement reads "
             "is not known.")
RAW_LEFT_OUT = ("The raw EXPLAIN output is left out: it quotes the statement's values. The "
                "diagram and findings above are read from it, with values masked.")


@dataclass(frozen=True)
class CaseFileData:
    """What a case file shows, as the store keeps it (literals included: masked here)."""

    digest: Mapping[str, Any]  # store.digests.get(...) or get_fleet(...)
    generated_at: str  # the store's UTC timestamp format
    total_query_time: float | None = None  # the instance's (fleet's) time in the period
    history: Sequence[Mapping[str, Any]] = ()  # the statement in every stored period
    plans: Sequence[Mapping[str, Any]] = ()  # stored plan documents of the statement
    tables: Sequence[Mapping[str, Any]] = ()  # jobs.table_context entries (+ instance_id)
    tables_error: str | None = None  # why no table could be read at all


def casefile_filename(instance_id: str, period: str, query_id: str) -> str:
    """``casefile-<instance>-<period>-<query id>.html``, safe as a file name anywhere.

    >>> casefile_filename("(fleet)", "2026-10", "A1B2")
    'casefile-fleet-2026-10-A1B2.html'
    """
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "x"
             for p in (instance_id, period, query_id)]
    return "casefile-" + "-".join(parts) + ".html"


# ---- charts -------------------------------------------------------------------------------------
def create_history_figure(history: Sequence[Mapping[str, Any]], current: str) -> go.Figure:
    """Total time per period (the current one in colour) over time per call (avg and p95)."""
    rows = sorted(history, key=lambda d: str(d.get("period")))
    labels = [period_label(str(d.get("period"))) for d in rows]
    stats = [d.get("query_time") or {} for d in rows]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.16,
                        subplot_titles=("Total query time per period (s)",
                                        "Time per call (s): average and p95"))
    fig.add_trace(go.Bar(
        x=labels, y=[s.get("sum") or 0.0 for s in stats], name="Total time",
        marker_color=["#fd7e14" if d.get("period") == current else "#adb5bd" for d in rows],
        customdata=[human_duration(s.get("sum")) for s in stats],
        hovertemplate="%{x}<br>%{customdata} in total<extra></extra>"), row=1, col=1)
    for key, name, color in (("avg", "Average", "#0d6efd"), ("p95", "p95", "#d6336c")):
        fig.add_trace(go.Scatter(
            x=labels, y=[s.get(key) for s in stats], name=name, mode="lines+markers",
            line={"color": color}, customdata=[human_duration(s.get(key)) for s in stats],
            hovertemplate=f"%{{x}}<br>{name} %{{customdata}}<extra></extra>"), row=2, col=1)
    fig.update_layout(template="plotly_white", height=380, bargap=0.35,
                      margin={"l": 56, "r": 16, "t": 36, "b": 36}, font={"size": 12},
                      legend={"orientation": "h", "y": -0.12})
    fig.update_xaxes(type="category")
    fig.update_annotations(font_size=13)
    return fig


# ---- sections -----------------------------------------------------------------------------------
def _facts(data: CaseFileData) -> str:
    digest = data.digest
    query_id = str(digest.get("query_id") or "")
    fleet = digest.get("instance_id") == FLEET_INSTANCE
    qt_sum = (digest.get("query_time") or {}).get("sum") or 0.0
    facts: list[tuple[str, str]] = [
        ("Query ID", f"{short_query_id(query_id)} (full: {query_id})"),
        ("Instances" if fleet else "Instance",
         f"All instances ({len(digest.get('instance_ids') or [])})" if fleet
         else str(digest.get("instance_id") or "")),
        ("Period", period_label(str(digest.get("period") or ""))),
        ("Rank", f"#{digest['rank']}" if digest.get("rank") is not None else "—"),
    ]
    if data.total_query_time:
        facts.append(("Share of the fleet's time" if fleet else "Share of the instance's time",
                      f"{qt_sum / data.total_query_time * 100:.1f} %"))
    facts += [("First seen", format_time(digest.get("first_seen"))),
              ("Last seen", format_time(digest.get("last_seen"))),
              ("Case file made", format_time(data.generated_at))]
    cells = "".join(f"<div><span>{esc(label)}</span>{esc(value)}</div>"
                    for label, value in facts)
    return f'<div class="facts" id="casefile-facts">{cells}</div>'


def _header(data: CaseFileData) -> str:
    digest = data.digest
    toc = "".join(f'<a href="#{anchor}">{esc(label)}</a>' for anchor, label in (
        ("statistics", "Statistics"), ("activity", "Activity"), ("examples", "Examples"),
        ("plans", "Plans"), ("history", "Month over month"), ("tables", "Tables")))
    return (
        '<header id="casefile-header">'
        f"<h1>Case file: query {esc(short_query_id(str(digest.get('query_id') or '')))}</h1>"
        '<div class="muted">One statement\'s statistics, plans and history from the Slow Query '
        "Dashboard, in one file that opens without the dashboard or a network.</div>"
        f"{_facts(data)}"
        '<p class="note small">Literals are masked: every value a statement carried '
        "(strings, numbers) reads <code>?</code>, in examples, plans and table definitions "
        "alike.</p>"
        "<h3>Fingerprint</h3>"
        f'<pre id="casefile-fingerprint">{esc(mask_literals(str(digest.get("fingerprint") or "")))}'
        "</pre>"
        f'<nav class="toc">{toc}</nav></header>'
    )


def _names(title: str, counts: Mapping[str, int] | None) -> str:
    items = sorted((counts or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    lines = "".join(f"<li>{esc(name or '(none)')} <span class='muted'>{count:,}</span></li>"
                    for name, count in items[:TOP_NAMES])
    more = (f'<div class="muted small">+{len(items) - TOP_NAMES} more</div>'
            if len(items) > TOP_NAMES else "")
    return (f"<div><strong>{esc(title)}</strong>"
            + (f"<ul>{lines}</ul>{more}" if lines else '<div class="muted">—</div>')
            + "</div>")


def _statistics(digest: Mapping[str, Any]) -> str:
    rows = [[label, *cells] for label, cells in stats_rows(digest)]
    return (
        '<section id="statistics"><h2>Statistics</h2>'
        + table(["Attribute", *STAT_HEADERS], rows, numeric=range(1, len(STAT_HEADERS) + 1),
                table_id="casefile-stats")
        + '<div class="names">' + _names("Users", digest.get("users"))
        + _names("Hosts", digest.get("hosts")) + _names("Databases", digest.get("databases"))
        + "</div></section>"
    )


def _per_instance(per_instance: Sequence[Mapping[str, Any]]) -> str:
    total = sum(p.get("query_time") or 0.0 for p in per_instance) or 1.0
    rows = [[p.get("instance_id"), format_count(p.get("count")),
             human_duration(p.get("query_time")), human_duration(p.get("p95")),
             f"{(p.get('query_time') or 0.0) / total * 100:.1f} %"] for p in per_instance]
    return table(["Instance", "Calls", "Total time", "p95", "Share of the statement's time"],
                 rows, numeric=(1, 2, 3, 4), table_id="casefile-instances")


def _activity(digest: Mapping[str, Any]) -> str:
    if digest.get("per_instance"):
        body = _per_instance(digest["per_instance"])
        title = "Activity per instance"
    elif digest.get("hourly"):
        body = figure_html(create_hourly_figure(digest["hourly"]), "casefile-hourly")
        title = "Activity per hour (UTC)"
    else:
        body = empty("No timestamps were logged for this digest.", "casefile-no-hourly")
        title = "Activity per hour (UTC)"
    return f'<section id="activity"><h2>{esc(title)}</h2>{body}</section>'


def _examples(examples: Sequence[Mapping[str, Any]] | None) -> str:
    if not examples:
        body = empty("No example statements were kept for this digest.", "casefile-no-examples")
    else:
        blocks = []
        for example in examples:
            meta = [f"<strong>{esc(human_duration(example.get('query_time')))}</strong>",
                    esc(format_time(example.get("time")))]
            if example.get("db"):
                meta.append(f"db <code>{esc(example['db'])}</code>")
            if example.get("truncated"):
                meta.append('<span class="badge changed">truncated</span>')
            sql = mask_literals(str(example.get("sql") or ""))
            blocks.append(f'<div class="small muted">{" · ".join(meta)}</div>'
                          f'<pre class="example">{esc(sql)}</pre>')
        body = "".join(blocks)
    return ('<section id="examples"><h2>Example statements (slowest first)</h2>'
            f"{body}</section>")


def _legend() -> str:
    keys = [f'<span class="key"><i style="background:{fill};border:1.5px solid {border}">'
            f"</i>{esc(label)}</span>" for fill, border, label in ACCESS_STYLES.values()]
    keys.append(f'<span class="key"><i style="background:{COSTLIEST_COLOR};height:4px;'
                'width:22px;vertical-align:middle"></i>Costliest path</span>')
    keys.append(f'<span class="key"><i style="background:{SEVERITY_COLORS["high"]}"></i>'
                "Operation with findings (⚠)</span>")
    return f'<div class="legend small muted">{"".join(keys)}</div>'


def _findings(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return '<p class="small">No problems found in this plan.</p>'
    items = []
    for finding in sorted(findings, key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 9)):
        severity = str(finding.get("severity") or "")
        title = str(finding.get("title") or finding.get("message") or "")
        detail = str(finding.get("detail") or "") if finding.get("title") else ""
        items.append(f'<div class="finding"><span class="badge {esc(severity)}">'
                     f"{esc(severity.capitalize())}</span><strong>{esc(title)}</strong>"
                     + (f'<div class="small">{esc(detail)}</div>' if detail else "")
                     + "</div>")
    return f"<h3>Findings ({len(findings)})</h3>" + "".join(items)


def _costliest(root: Mapping[str, Any] | None) -> list[str]:
    try:
        return costliest_path(PlanNode.from_dict(root)) if root else []
    except PlanParseError:
        return []


def _plan(n: int, shape: Mapping[str, Any], doc: Mapping[str, Any],
          older: Mapping[str, Any] | None, fleet: bool) -> str:
    masked = mask_plan_document(doc)
    root, findings = masked.get("root"), list(masked.get("findings") or [])
    badges = '<span class="badge changed">newest</span>' if n == 1 else ""
    if doc.get("source") == "on_demand":
        badges += '<span class="badge">explained on demand</span>'
    facts = [f"first seen {format_time(shape.get('first_seen'))}",
             f"last seen {format_time(shape.get('last_seen'))}",
             f"seen {int(shape.get('seen_count') or 1):,}×"]
    if fleet:
        facts.append("on " + ", ".join(str(i) for i in shape.get("instances") or []))
    server = " ".join(str(x) for x in (doc.get("server_flavour"), doc.get("server_version"))
                      if x)
    if server:
        facts.append(server)
    if doc.get("converted_from"):
        facts.append(f"explained as a SELECT converted from {doc['converted_from']}")
    parts = [f'<div class="plan-head"><h3>Plan {esc(str(doc.get("plan_hash") or "")[:12])} '
             f"{badges}</h3>"
             f'<div class="small muted">{esc(" · ".join(facts))}</div></div>']
    if older is not None:
        change = diff_plans(older.get("root"), doc.get("root"), literals=False)
        summary = change.summary or "no difference in the operations compared"
        parts.append(f'<div class="warn small">Changed from plan '
                     f'{esc(str(older.get("plan_hash") or "")[:12])}: {esc(summary)}</div>')
    if masked.get("explained_sql"):
        parts.append(f'<div class="small muted">Explained statement</div>'
                     f'<pre>{esc(masked["explained_sql"])}</pre>')
    if root:
        figure = create_plan_figure(root, _costliest(root), findings)
        parts.append(f'<div class="diagram">{figure_html(figure, f"casefile-plan-{n}")}</div>')
    else:
        why = mask_message(str(doc.get("parse_error") or "")) or "no EXPLAIN output was read"
        parts.append(f'<div class="warn">This plan could not be drawn: {esc(why)}.</div>')
    parts.append(_findings(findings) if root else "")
    return f'<div class="plan" id="casefile-plan-{n}-box">{"".join(parts)}</div>'


def _plans(plans: Sequence[Mapping[str, Any]], fleet: bool) -> str:
    if not plans:
        return f'<section id="plans"><h2>Plans</h2>{empty(NO_PLAN, "casefile-no-plan")}</section>'
    shapes = distinct_plans(plans)  # newest first, one per plan shape
    by_id = {p.get("plan_id"): p for p in plans}
    head = (f"<p>{len(shapes)} different plan{'s' if len(shapes) > 1 else ''} recorded"
            + (' <span class="badge changed">plan changed</span>' if len(shapes) > 1 else "")
            + "</p>")
    blocks = []
    for n, shape in enumerate(shapes[:MAX_PLANS], start=1):
        older = by_id.get(shapes[n]["plan_id"]) if n < len(shapes) else None
        blocks.append(_plan(n, shape, by_id[shape["plan_id"]], older, fleet))
    if len(shapes) > MAX_PLANS:
        rest = ", ".join(str(s.get("plan_hash"))[:12] for s in shapes[MAX_PLANS:])
        blocks.append(f'<p class="muted small">{len(shapes) - MAX_PLANS} older plans are not '
                      f"drawn: {esc(rest)}.</p>")
    return (f'<section id="plans"><h2>Plans</h2>{head}{_legend()}{"".join(blocks)}'
            f'<p class="muted small">{esc(RAW_LEFT_OUT)}</p></section>')


def _ratio(now: float | None, before: float | None) -> str:
    if not now or not before:
        return "—"
    return f"{now / before:.2f}×"


def _history(history: Sequence[Mapping[str, Any]], current: str) -> str:
    rows = sorted(history, key=lambda d: str(d.get("period")))
    if not rows:
        return ('<section id="history"><h2>Month over month</h2>'
                + empty("No period holds this statement.", "casefile-no-history")
                + "</section>")
    cells, classes, previous = [], [], None
    for doc in rows:
        stats = doc.get("query_time") or {}
        cells.append([period_label(str(doc.get("period"))), format_count(doc.get("count")),
                      human_duration(stats.get("sum")), human_duration(stats.get("avg")),
                      human_duration(stats.get("p95")), human_duration(stats.get("max")),
                      _ratio(stats.get("avg"), (previous or {}).get("avg"))])
        classes.append("current" if doc.get("period") == current else "")
        previous = stats
    body = table(["Period", "Calls", "Total time", "Avg", "p95", "Max",
                  "Avg vs the period before"], cells, numeric=range(1, 7),
                 row_classes=classes, table_id="casefile-history")
    if len(rows) > 1:
        body += figure_html(create_history_figure(rows, current), "casefile-history-chart")
    else:
        body += empty(f"Only {period_label(current)} holds this statement: no other collected "
                      "period to compare it with.", "casefile-single-period")
    return f'<section id="history"><h2>Month over month</h2>{body}</section>'


def _indexes(indexes: Sequence[Mapping[str, Any]]) -> str:
    if not indexes:
        return ('<div class="warn small">No indexes at all: every lookup reads the table '
                "whole.</div>")
    rows = [[i.get("name"), ", ".join(i.get("columns") or []),
             "primary" if i.get("primary") else ("yes" if i.get("unique") else "no"),
             "—" if i.get("cardinality") is None else f"{i['cardinality']:,}"]
            for i in indexes]
    return table(["Index", "Columns", "Unique", "Cardinality"], rows, numeric=(3,))


def _table_card(entry: Mapping[str, Any], said: str | None, fleet: bool) -> str:
    name = ".".join(str(x) for x in (entry.get("schema"), entry.get("table")) if x)
    head = [f"<strong><code>{esc(name)}</code></strong>"]
    if entry.get("aliases"):
        head.append(f"<span>as {esc(', '.join(entry['aliases']))}</span>")
    if fleet and entry.get("instance_id"):
        head.append(f"<span>on {esc(entry['instance_id'])}</span>")
    read = entry.get("read_at")
    head.append((f'<span class="read muted small">read at {esc(format_time(read))}'
                 + (" (cached)" if entry.get("cached") else "") + "</span>") if read
                else '<span class="read muted small">not read</span>')
    body = []
    if entry.get("error") and entry["error"] != said:
        body.append(f'<div class="warn small">{esc(mask_message(str(entry["error"])))}</div>')
    if "indexes" in entry:
        rows = entry.get("rows_estimate")
        size = f"≈ {rows:,} rows" if rows is not None else "rows unknown"
        body.append(f'<div class="small">{size} · {esc(entry.get("engine") or "")} · data '
                    f"{esc(format_bytes(entry.get('data_bytes')))} · indexes "
                    f"{esc(format_bytes(entry.get('index_bytes')))}</div>")
        body.append(_indexes(list(entry.get("indexes") or [])))
        create = mask_create_table(str(entry.get("create_table") or ""))
        body.append(f"<details><summary class=\"small\">CREATE TABLE (values masked)</summary>"
                    f"<pre>{esc(create)}</pre></details>")
    return (f'<div class="table-context"><div class="head">{"".join(head)}</div>'
            f'{"".join(body)}</div>')


def _tables(data: CaseFileData, fleet: bool) -> str:
    said = mask_message(data.tables_error) if data.tables_error else None
    if not data.tables:
        text = said or (NO_TABLES if not data.plans else
                        "The plans read no table on the server (only derived or temporary "
                        "tables).")
        body = empty(text, "casefile-no-tables")
    else:
        body = (f'<div class="warn small">{esc(said)}</div>' if said else "") + "".join(
            _table_card(entry, data.tables_error, fleet) for entry in data.tables)
    return (f'<section id="tables"><h2>Tables</h2><p class="muted small">Every table the '
            "plans read: estimated rows, sizes, indexes and CREATE TABLE, as read with the "
            f"monitoring account (read-only).</p>{body}</section>")


def create_casefile(data: CaseFileData) -> str:
    """The whole case file, one HTML document (see the module's docstring)."""
    digest = data.digest
    fleet = digest.get("instance_id") == FLEET_INSTANCE
    period = str(digest.get("period") or "")
    where = "All instances" if fleet else str(digest.get("instance_id") or "")
    title = (f"Case file: query {short_query_id(str(digest.get('query_id') or ''))} · "
             f"{where} · {period_label(period)}")
    body = "".join([
        _header(data), _statistics(digest), _activity(digest),
        _examples(digest.get("examples")), _plans(list(data.plans), fleet),
        _history(list(data.history), period), _tables(data, fleet),
        f"<footer>Made by the Slow Query Dashboard on {esc(format_time(data.generated_at))}. "
        "Durations as the dashboard writes them; times in UTC. This file is self-contained: "
        "its charts are drawn by plotly.js inside it.</footer>",
    ])
    return page(title, body)
