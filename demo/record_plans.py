"""Record real MariaDB ``EXPLAIN FORMAT=JSON`` output for the demo's statements, once.

    .venv/bin/python -m demo.record_plans

The demo has no database server, yet its Real-time and Plans pages should show plans a DBA
would believe. So this script starts a throwaway MariaDB (tests/mariadb_server.py; nothing is
read from system option files), builds the schemas the demo's statement templates
(demo/slowlog_generator.py) run on, with deterministic data, and writes one
``demo/plans/<name>.json`` per statement as ``{"name", "statement", "query",
"converted_from", "command", "server_version", "note", "explain", "tree_error"}``:
``statement`` is the demo statement, ``query`` the SELECT actually explained (UPDATE/DELETE
are converted the way the real capture converts them, by analysis.explainable), ``explain``
the server's JSON, decoded, ``tree_error`` what the server answered to ``EXPLAIN
FORMAT=TREE`` (MariaDB has no TREE).

The orders-by-date statement is recorded twice: with ``orders.idx_created_at`` (a range
scan) and after ``DROP INDEX`` (a full scan), the plan flip behind the demo's regression on
orders-prd-1. The outputs are committed; the demo only reads them (demo/recorded_plans.py).

The Plans page's Tables tab needs the tables too (indexes, estimated rows, CREATE TABLE), so
every table the recorded plans read (analysis.plan_tables, as the tab finds them) is read
with the real collector, collectors.table_context.read_table_context, as a SELECT-only
account in a read-only session, into ``demo/plans/tables.json``: ``{"command",
"server_version", "note", "tables": [...], "after_drop_index": [...]}``, each table the
collector's fields but ``read_at`` (the demo says "read now"). ``after_drop_index`` holds the
tables that read differently after the DROP INDEX (shop.orders), which the demo serves for
orders-prd-1 (demo/recorded_tables.py). ``rows_estimate`` is InnoDB's sampled estimate, so a
new recording differs from the last by a few percent there; the plans do not change.
"""

from __future__ import annotations

import json
import random
import secrets
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from analysis.explainable import explainable_select
from analysis.fingerprint import fingerprint
from analysis.plan import parse_plan
from analysis.plan_tables import plan_tables
from collectors.processlist import ConnectionParams
from collectors.table_context import read_table_context
from demo.recorded_plans import TABLES_FILE
from demo.slowlog_generator import COUPON_LOOKUP, TEMPLATES

OUT_DIR = Path(__file__).resolve().parent / "plans"
MONITOR_USER = "demo_monitor"

SCHEMAS: dict[str, list[str]] = {
    "shop": [
        "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL,"
        " country CHAR(2) NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL,"
        " total DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL,"
        " KEY idx_created_at (created_at)) ENGINE=InnoDB",
        "CREATE TABLE products (id INT PRIMARY KEY, category_id INT NOT NULL,"
        " name VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL,"
        " KEY idx_category (category_id)) ENGINE=InnoDB",
        "CREATE TABLE inventory (sku VARCHAR(20) PRIMARY KEY, qty INT NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE carts (id INT PRIMARY KEY, user_id INT NOT NULL,"
        " updated_at DATETIME NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE coupons (id INT PRIMARY KEY, code VARCHAR(30) NOT NULL,"
        " expires_at DATETIME NOT NULL) ENGINE=InnoDB",
    ],
    "billing": [
        "CREATE TABLE invoices (id INT PRIMARY KEY, customer_id INT NOT NULL,"
        " amount DECIMAL(10,2) NOT NULL, status VARCHAR(10) NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE payments (id INT PRIMARY KEY, note VARCHAR(200) NOT NULL,"
        " refunded_at DATETIME NULL) ENGINE=InnoDB",
    ],
    "catalog": [
        "CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE reviews (id INT PRIMARY KEY, product_id INT NOT NULL,"
        " rating TINYINT NOT NULL, KEY idx_product (product_id)) ENGINE=InnoDB",
    ],
    "members": [
        "CREATE TABLE members (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL,"
        " name VARCHAR(50) NOT NULL, deleted_at DATETIME NULL) ENGINE=InnoDB",
    ],
}


@dataclass(frozen=True)
class Recording:
    """One statement to explain: a demo statement (its fingerprint must be a template's)."""

    name: str
    db: str
    statement: str
    note: str


ORDERS_BY_DATE = ("SELECT o.id, o.total, c.email FROM orders o JOIN customers c"
                  " ON c.id = o.customer_id WHERE o.created_at >= '2026-09-19'"
                  " AND c.country = 'KR' ORDER BY o.total DESC LIMIT 20")
RECORDINGS: tuple[Recording, ...] = (
    Recording("orders_by_date_indexed", "shop", ORDERS_BY_DATE,
              "with orders.idx_created_at (created_at)"),
    Recording("products_by_category", "shop",
              "SELECT * FROM products WHERE category_id IN (12, 87, 301, 455)"
              " AND price BETWEEN 20 AND 400", "idx_category on category_id"),
    Recording("inventory_update", "shop",
              "UPDATE inventory SET qty = qty - 2 WHERE sku = 'SKU-4261'", "sku is the key"),
    Recording("carts_cleanup", "shop",
              "DELETE FROM carts WHERE updated_at < '2026-03-01' AND user_id <> -7",
              "no index on updated_at"),
    Recording("coupon_lookup", "shop",
              "SELECT * FROM coupons WHERE code = 'WINTER-188' AND expires_at > NOW()",
              "no index on code"),
    Recording("invoices_due", "billing",
              "SELECT customer_id, SUM(amount) AS due\n  FROM invoices\n WHERE status = 'open'\n"
              " GROUP BY customer_id\nHAVING SUM(amount) > 1011", "no index on status"),
    Recording("payments_note", "billing",
              "SELECT * FROM payments WHERE note LIKE '%refund%' AND refunded_at IS NULL"
              " /* report:3 */", "a leading-wildcard LIKE cannot use an index"),
    Recording("reviews_low_rating", "catalog",
              "SELECT p.name, COUNT(*) FROM reviews r JOIN products p ON p.id = r.product_id"
              " WHERE r.rating <= 2 GROUP BY p.name ORDER BY 2 DESC", "no index on rating"),
    Recording("members_by_name", "members",
              "SELECT id, email FROM members WHERE name = '김민준' AND deleted_at IS NULL",
              "no index on name"),
)
# recorded after `DROP INDEX idx_created_at ON orders`
ORDERS_BY_DATE_FULL_SCAN = Recording("orders_by_date_full_scan", "shop", ORDERS_BY_DATE,
                                     "after DROP INDEX idx_created_at ON orders")


def template_fingerprints() -> set[str]:
    """The fingerprints of the demo's templates (each template has exactly one)."""
    rng = random.Random(0)
    return {fingerprint(t.build(rng)) for t in (*TEMPLATES, COUPON_LOOKUP)}


def fill(conn: Any) -> None:
    """Create the four schemas and fill them deterministically; ANALYZE for real estimates."""
    rng = random.Random(20261101)
    cur = conn.cursor()
    for db, statements in SCHEMAS.items():
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
        cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
        cur.execute(f"USE {db}")
        for statement in statements:
            cur.execute(statement)
    countries = ["KR", "US", "DE", "JP", "FR", "GB", "BR", "IN"]
    start = datetime(2025, 1, 1)
    cur.execute("USE shop")
    cur.executemany("INSERT INTO customers VALUES (%s, %s, %s)",
                    [(i, f"user{i}@example.com", rng.choice(countries)) for i in range(1, 4001)])
    cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)", [
        (i, rng.randint(1, 4000), f"{rng.uniform(5, 900):.2f}",
         (start + timedelta(minutes=i * 32)).strftime("%Y-%m-%d %H:%M:%S"))
        for i in range(1, 30001)])  # 2025-01-01 .. 2026-10
    cur.executemany("INSERT INTO products VALUES (%s, %s, %s, %s)", [
        (i, rng.randint(1, 500), f"product {i}", f"{rng.uniform(1, 900):.2f}")
        for i in range(1, 8001)])
    cur.executemany("INSERT INTO inventory VALUES (%s, %s)",
                    [(f"SKU-{i}", rng.randint(0, 500)) for i in range(1000, 10000)])
    cur.executemany("INSERT INTO carts VALUES (%s, %s, %s)", [
        (i, rng.randint(1, 4000),
         (start + timedelta(hours=rng.randint(0, 15000))).strftime("%Y-%m-%d %H:%M:%S"))
        for i in range(1, 12001)])
    cur.executemany("INSERT INTO coupons VALUES (%s, %s, %s)", [
        (i, f"{rng.choice(['WINTER', 'SPRING', 'VIP'])}-{rng.randint(100, 999)}",
         (start + timedelta(days=rng.randint(0, 800))).strftime("%Y-%m-%d %H:%M:%S"))
        for i in range(1, 6001)])
    cur.execute("USE billing")
    cur.executemany("INSERT INTO invoices VALUES (%s, %s, %s, %s)", [
        (i, rng.randint(1, 3000), f"{rng.uniform(10, 2000):.2f}",
         rng.choice(["open", "paid", "paid", "paid", "void"])) for i in range(1, 20001)])
    cur.executemany("INSERT INTO payments VALUES (%s, %s, %s)", [
        (i, rng.choice(["card", "refund requested", "bank transfer", "promo 50% off"]),
         None if rng.random() < 0.8 else "2026-05-01 10:00:00") for i in range(1, 10001)])
    cur.execute("USE catalog")
    cur.executemany("INSERT INTO products VALUES (%s, %s)",
                    [(i, f"product {i}") for i in range(1, 3001)])
    cur.executemany("INSERT INTO reviews VALUES (%s, %s, %s)", [
        (i, rng.randint(1, 3000), rng.randint(1, 5)) for i in range(1, 15001)])
    cur.execute("USE members")
    names = ["김민준", "이서연", "박지후", "최하윤", "정도윤", "홍길동", "Anna", "Lee"]
    cur.executemany("INSERT INTO members VALUES (%s, %s, %s, %s)", [
        (i, f"m{i}@example.com", rng.choice(names),
         None if rng.random() < 0.9 else "2026-01-01 00:00:00") for i in range(1, 10001)])
    for db, tables in (("shop", "customers, orders, products, inventory, carts, coupons"),
                       ("billing", "invoices, payments"), ("catalog", "products, reviews"),
                       ("members", "members")):
        cur.execute(f"USE {db}")
        cur.execute(f"ANALYZE TABLE {tables} PERSISTENT FOR ALL")
        cur.fetchall()
    cur.close()


def explain(conn: Any, recording: Recording, version: str) -> dict[str, Any]:
    """The wrapper document for one recording (the statement converted as the capture does)."""
    import pymysql

    target = explainable_select(recording.statement)
    cur = conn.cursor()
    cur.execute(f"USE {recording.db}")
    cur.execute("EXPLAIN FORMAT=JSON " + target.select_sql)
    ((text,),) = cur.fetchall()
    try:
        cur.execute("EXPLAIN FORMAT=TREE " + target.select_sql)
        raise RuntimeError("EXPLAIN FORMAT=TREE unexpectedly worked on MariaDB")
    except pymysql.MySQLError as exc:
        tree_error = {"code": int(exc.args[0]), "message": str(exc.args[1])}
    cur.close()
    return {"name": recording.name, "db": recording.db, "statement": recording.statement,
            "query": target.select_sql, "converted_from": target.converted_from,
            "command": "EXPLAIN FORMAT=JSON", "server_version": version,
            "note": recording.note, "explain": json.loads(text), "tree_error": tree_error}


def _write(out_dir: Path, doc: dict[str, Any], name: str | None = None) -> Path:
    path = out_dir / (name or f"{doc['name']}.json")
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def monitoring_account(conn: Any, port: int) -> ConnectionParams:
    """A SELECT-only account on the demo's schemas, as a DBA would give the dashboard: the
    tables are read the way the Tables tab reads them on a real server (over TCP)."""
    password = secrets.token_urlsafe(16)  # a throwaway server's, never written anywhere
    cur = conn.cursor()
    cur.execute(f"CREATE USER IF NOT EXISTS {MONITOR_USER}@'%%' IDENTIFIED BY %s", (password,))
    for db in SCHEMAS:
        cur.execute(f"GRANT SELECT ON {db}.* TO {MONITOR_USER}@'%'")
    cur.close()
    return ConnectionParams("127.0.0.1", port, MONITOR_USER, password)


def tables_read(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(schema, table) of every server table a recorded plan reads, found the way the Tables
    tab finds them (analysis.plan_tables on the parsed plan)."""
    root = parse_plan(json.dumps(doc["explain"]), "json").to_dict()
    return [(ref.schema, ref.table) for ref in plan_tables(root, doc["query"], doc["db"])
            if ref.schema]


def read_tables(monitor: ConnectionParams, names: list[tuple[str, str]]
                ) -> list[dict[str, Any]]:
    """The collector's read of each table, without ``read_at`` (the demo serves it as now)."""
    contexts = []
    for schema, table in names:
        context = read_table_context(monitor, schema, table)
        contexts.append({k: v for k, v in context.items() if k != "read_at"})
    return contexts


def _unique(names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(set(names))


def record(conn: Any, monitor: ConnectionParams, out_dir: Path = OUT_DIR) -> list[Path]:
    """Fill the schemas, explain every recording, read the tables they read and write the
    files; returns their paths."""
    known = template_fingerprints()
    for recording in (*RECORDINGS, ORDERS_BY_DATE_FULL_SCAN):
        if fingerprint(recording.statement) not in known:
            raise ValueError(f"{recording.name} is not one of the demo's statements")
    out_dir.mkdir(parents=True, exist_ok=True)
    fill(conn)
    cur = conn.cursor()
    cur.execute("SELECT VERSION()")
    ((version,),) = cur.fetchall()
    docs = [explain(conn, r, version) for r in RECORDINGS]
    written = [_write(out_dir, doc) for doc in docs]
    tables = read_tables(monitor, _unique([t for doc in docs for t in tables_read(doc)]))
    cur.execute("USE shop")
    cur.execute("DROP INDEX idx_created_at ON orders")
    cur.close()
    full_scan = explain(conn, ORDERS_BY_DATE_FULL_SCAN, version)
    written.append(_write(out_dir, full_scan))
    after = [t for t in read_tables(monitor, _unique(tables_read(full_scan)))
             if t not in tables]  # only what the DROP INDEX changed
    written.append(_write(out_dir, {
        "command": "collectors.table_context.read_table_context", "server_version": version,
        "note": "tables the recorded plans read; after_drop_index: read again after "
                "DROP INDEX idx_created_at ON orders",
        "tables": tables, "after_drop_index": after}, TABLES_FILE))
    return written


def main(argv: list[str] | None = None) -> int:
    from tests.mariadb_server import start_mariadb  # a development tool: tests/ is there

    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else OUT_DIR
    with tempfile.TemporaryDirectory(prefix="demo-plans-") as tmp:
        server = start_mariadb(tmp, networking=True)  # the collector connects over TCP
        try:
            conn = server.connect(autocommit=True, charset="utf8mb4")
            monitor = monitoring_account(conn, server.port)
            for path in record(conn, monitor, out_dir):
                print(path)
            conn.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
