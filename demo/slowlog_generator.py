"""Realistic MySQL 8 slow-log entries, as RDS writes them, from a seeded random generator.

Used by `python app.py --demo` (a month of CloudWatch events), by the benchmark (a slow-log
file of any size for pt-query-digest and our digest command) and by tests. The statements
vary the way production ones do: IN lists of different lengths, multi-row INSERTs, quotes
and escapes, Korean text, NULL, negative numbers, comments, multi-line SQL.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

KOREAN_NAMES = ("김민준", "이서연", "박지후", "최하윤", "정도윤", "홍길동")
WORDS = ("refund", "O'Brien", "50% off", "back\\slash", "line\nbreak", "promo")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


@dataclass(frozen=True)
class Template:
    """One kind of statement: its schema, a builder for a concrete text, and its speed."""

    db: str
    build: Callable[[random.Random], str]
    median_seconds: float
    weight: float
    rows_examined: int


def _in_list(rng: random.Random) -> str:
    return ", ".join(str(rng.randint(1, 500)) for _ in range(rng.randint(1, 30)))


TEMPLATES: tuple[Template, ...] = (
    Template("shop", lambda r: (
        "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id"
        f" WHERE o.created_at >= '2026-{r.randint(1, 9):02d}-{r.randint(1, 28):02d}'"
        f" AND c.country = {_quote(r.choice(['KR', 'US', 'DE', 'JP']))}"
        f" ORDER BY o.total DESC LIMIT {r.choice([10, 20, 50])}"), 2.4, 20, 250_000),
    Template("shop", lambda r: (
        f"SELECT * FROM products WHERE category_id IN ({_in_list(r)})"
        f" AND price BETWEEN {r.randint(1, 50)} AND {r.randint(51, 900)}"), 1.1, 25, 40_000),
    Template("shop", lambda r: (
        f"UPDATE inventory SET qty = qty - {r.randint(1, 5)}"
        f" WHERE sku = {_quote(f'SKU-{r.randint(1000, 9999)}')}"), 0.6, 15, 1),
    Template("shop", lambda r: (
        "INSERT INTO order_items (order_id, product_id, qty, price) VALUES " + ", ".join(
            f"({r.randint(1, 10**6)}, {r.randint(1, 5000)}, {r.randint(1, 9)}, "
            f"{r.randint(100, 99999) / 100:.2f})" for _ in range(r.randint(1, 12)))),
        0.4, 10, 0),
    Template("shop", lambda r: (
        f"DELETE FROM carts WHERE updated_at < '2026-{r.randint(1, 9):02d}-01'"
        f" AND user_id <> {-r.randint(1, 99)}"), 3.5, 3, 800_000),
    Template("billing", lambda r: (
        "SELECT customer_id, SUM(amount) AS due\n  FROM invoices\n WHERE status = 'open'\n"
        f" GROUP BY customer_id\nHAVING SUM(amount) > {r.randint(100, 5000)}"),
        5.2, 4, 1_200_000),
    Template("billing", lambda r: (
        f"SELECT * FROM payments WHERE note LIKE {_quote('%' + r.choice(WORDS) + '%')}"
        f" AND refunded_at IS NULL /* report:{r.randint(1, 9)} */"), 2.0, 6, 300_000),
    Template("catalog", lambda r: (
        "SELECT p.name, COUNT(*) FROM reviews r JOIN products p ON p.id = r.product_id"
        f" WHERE r.rating <= {r.randint(1, 3)} GROUP BY p.name ORDER BY 2 DESC"),
        1.6, 8, 90_000),
    Template("members", lambda r: (
        f"SELECT id, email FROM members WHERE name = {_quote(r.choice(KOREAN_NAMES))}"
        f" AND deleted_at IS NULL"), 0.9, 8, 60_000),
    Template("members", lambda r: (
        f"SELECT SLEEP({r.choice([2, 3, 5])})"), 3.0, 1, 0),
)
COUPON_LOOKUP = Template("shop", lambda r: (
    f"SELECT * FROM coupons WHERE code = {_quote(f'WINTER-{r.randint(100, 999)}')}"
    " AND expires_at > NOW()"), 0.8, 6, 120_000)


@dataclass(frozen=True)
class Workload:
    """How one instance's month differs from the templates' defaults: weight factors per
    template (0 drops it), slow-downs (time factor, rows-examined factor) and extra
    templates. The demo uses it to make instances differ and one month differ from the
    next (a statement regresses, one appears, one vanishes)."""

    weights: Mapping[int, float] = field(default_factory=dict)
    slower: Mapping[int, tuple[float, float]] = field(default_factory=dict)
    extra: tuple[Template, ...] = ()


USERS = (("app", "10.0.1.15"), ("app", "10.0.1.16"), ("batch", "10.0.2.40"),
         ("report", "10.0.3.7"))


def _pick(rng: random.Random, workload: Workload | None = None) -> tuple[Template, float,
                                                                         float]:
    """A template, and its time and rows factors under `workload`."""
    if workload is None:
        return rng.choices(TEMPLATES, weights=[t.weight for t in TEMPLATES])[0], 1.0, 1.0
    templates = (*TEMPLATES, *workload.extra)
    weights = [t.weight * workload.weights.get(n, 1.0) for n, t in enumerate(templates)]
    index = rng.choices(range(len(templates)), weights=weights)[0]
    time_factor, rows_factor = workload.slower.get(index, (1.0, 1.0))
    return templates[index], time_factor, rows_factor


def format_entry(when: datetime, sql: str, query_time: float, *, db: str | None = None,
                 user: str = "app", host: str = "10.0.1.5", thread_id: int = 42,
                 rows_examined: int = 100, rows_sent: int = 1,
                 lock_time: float = 0.0001) -> str:
    """One entry as RDS MySQL 8 writes it (`use` only when the database changes)."""
    lines = [
        f"# Time: {when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
        f"# User@Host: {user}[{user}] @  [{host}]  Id: {thread_id:>6}",
        f"# Query_time: {query_time:.6f}  Lock_time: {lock_time:.6f} Rows_sent: {rows_sent}"
        f"  Rows_examined: {rows_examined}",
    ]
    if db:
        lines.append(f"use {db};")
    lines.append(f"SET timestamp={int(when.timestamp())};")
    lines.append(sql if sql.rstrip().endswith(";") else f"{sql};")
    return "\n".join(lines)


def generate(rng: random.Random, start: datetime, end: datetime,
             count: int, workload: Workload | None = None) -> Iterator[tuple[datetime, str]]:
    """`count` entries spread in time order over [start, end), each as (time, entry text)."""
    span = (end - start).total_seconds()
    step = span / max(count, 1)
    current_db: str | None = None
    for n in range(count):
        when = start + timedelta(seconds=n * step + rng.random() * step * 0.9)
        template, time_factor, rows_factor = _pick(rng, workload)
        user, host = rng.choice(USERS)
        query_time = template.median_seconds * time_factor * math.exp(rng.gauss(0, 0.6))
        examined = int(template.rows_examined * rows_factor * math.exp(rng.gauss(0, 0.3)))
        db = template.db if template.db != current_db else None
        current_db = template.db
        yield when, format_entry(
            when, template.build(rng), query_time, db=db, user=user, host=host,
            thread_id=rng.randint(1000, 99999), rows_examined=examined,
            rows_sent=min(examined, rng.randint(0, 50)), lock_time=rng.random() / 1000)


FILE_BANNER = ("/rdsdbbin/mysql/bin/mysqld, Version: 8.0.35 (Source distribution). "
               "started with:\nTcp port: 3306  Unix socket: /tmp/mysql.sock\n"
               "Time                 Id Command    Argument\n")


def write_slow_log(path: str, target_bytes: int, seed: int = 1) -> int:
    """Write a slow-log file of about `target_bytes`; returns the number of entries."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    written = 0
    entries = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(FILE_BANNER)
        while written < target_bytes:
            # batches of a day's worth keep time increasing across the file
            day = start + timedelta(days=entries // 50_000)
            for _when, text in generate(rng, day, day + timedelta(days=1), 50_000):
                out.write(text + "\n")
                written += len(text.encode("utf-8")) + 1
                entries += 1
                if written >= target_bytes:
                    break
    return entries
