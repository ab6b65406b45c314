"""Session fixtures: a REAL slow log written by a throwaway MariaDB, and pt-query-digest on it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.mariadb_server import MariaDBUnavailable, find_binaries, start_mariadb

KOREAN = ["김철수", "이영희", "박지민", "서울특별시 강남구", "주문 취소 요청"]


def _workload(server) -> int:
    """Run a varied workload; return the number of statements sent (roughly)."""
    rnd = random.Random(20261003)
    sent = 0
    conn = server.connect()
    cur = conn.cursor()

    def run(sql: str, args=None) -> None:
        nonlocal sent
        cur.execute(sql, args)
        cur.fetchall()
        sent += 1

    run("CREATE DATABASE shop")
    run("CREATE DATABASE audit")
    conn.select_db("shop")  # COM_INIT_DB: not logged, but the next entry gets `use shop;`
    run("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100), city VARCHAR(100),"
        " note TEXT, flags VARBINARY(16)) DEFAULT CHARSET=utf8mb4")
    run("CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT,"
        " total DECIMAL(10,2), status VARCHAR(20), created DATETIME, KEY (customer_id))")
    run("CREATE TABLE audit.events (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(200))")

    # multi-row inserts of different lengths, Korean text, quotes, escapes, NULL, hex
    for start in range(0, 60, 12):
        n = rnd.randint(2, 12)
        rows = []
        for i in range(start, start + n):
            name = rnd.choice(KOREAN + ["O''Brien", "it\\'s", 'say "hi"', "back\\\\slash"])
            note = "NULL" if i % 3 == 0 else f"'note {i}'"
            rows.append(f"({i}, '{name}', '{rnd.choice(KOREAN)}', {note}, 0x{i:04X}BEEF)")
        run("INSERT INTO customers (id, name, city, note, flags) VALUES " + ", ".join(rows))
    for _ in range(8):
        n = rnd.randint(1, 20)
        vals = ", ".join(
            f"({rnd.randint(0, 59)}, {rnd.uniform(-50, 500):.2f}, "
            f"'{rnd.choice(['paid', 'new', 'cancelled'])}', NOW())"
            for _ in range(n))
        run(f"INSERT INTO orders (customer_id, total, status, created) VALUES {vals}")

    # point selects, IN lists of various lengths, negative numbers, hex literals
    for i in range(40):
        run(f"SELECT * FROM customers WHERE id = {rnd.randint(-5, 70)}")
        ids = ", ".join(str(rnd.randint(0, 70)) for _ in range(rnd.randint(1, 15)))
        run(f"SELECT id, name FROM customers WHERE id IN ({ids})")
        run(f"SELECT name FROM customers WHERE flags = X'{i:04X}BEEF' OR flags = 0x{i:02x}")
        run(f"SELECT * FROM orders WHERE total > {rnd.uniform(-100, 100):.3f} "
            f"ORDER BY total DESC LIMIT {rnd.randint(0, 5)}, {rnd.randint(1, 10)}")
        run("SELECT * FROM customers WHERE name = %s", (rnd.choice(KOREAN),))
    # joins, GROUP BY, comments, multi-line statements with -- and # comment lines
    for i in range(15):
        run(f"/* report:{i} */ SELECT c.city, COUNT(*) AS n, SUM(o.total) FROM customers c "
            f"JOIN orders o ON o.customer_id = c.id WHERE o.status <> 'cancelled' "
            f"GROUP BY c.city HAVING n > {i % 3} ORDER BY 3 DESC")
        run("SELECT c.id,\n       c.name\n  FROM customers c\n"
            "  -- only the ones with orders\n"
            "  LEFT JOIN orders o ON o.customer_id = c.id\n"
            "# hash comment line\n"
            f" WHERE o.id IS NULL AND c.id > {i}")
        run(f"SELECT COUNT(*) FROM orders WHERE created < NOW() - INTERVAL {i + 1} DAY "
            f"AND status IS NOT NULL AND total BETWEEN -1.5e3 AND {i * 10}")
    # updates / deletes, transactions, SET NAMES as a statement, a slow one
    for i in range(10):
        run("BEGIN")
        run(f"UPDATE orders SET status = 'paid', total = total * 1.1 WHERE id = {i + 1}")
        run(f"UPDATE customers SET note = 'it''s \\\"quoted\\\" {KOREAN[i % 5]}' "
            f"WHERE id IN ({i}, {i + 20})")
        run("COMMIT")
    run("DELETE FROM orders WHERE status = 'cancelled' AND total < -10")
    run("DELETE FROM customers WHERE id = -1")
    run("SET NAMES utf8mb4")
    run("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
    run("SELECT SLEEP(0.05)")
    run("SELECT 'a;b' AS semi, \"dq\" AS d, '' AS empty, -0.5 AS neg, NULL AS n")

    # database switches: a USE statement, and a second connection in another database
    run("USE audit")
    for i in range(5):
        run("INSERT INTO events (msg) VALUES (%s)", (f"event {i} {KOREAN[i]}",))
    run("SELECT COUNT(*) FROM events")
    other = server.connect(database="shop")
    ocur = other.cursor()
    for i in range(5):
        ocur.execute(f"SELECT name FROM customers WHERE id = {i}")
        ocur.fetchall()
        sent += 1
        run(f"SELECT msg FROM events WHERE id = {i}")  # interleaved with the other thread
    other.close()
    conn.close()
    return sent


@pytest.fixture(scope="session")
def mariadb_slowlog(tmp_path_factory) -> Path:
    """Path of a slow log written by a real MariaDB (long_query_time=0) for a varied workload.

    Skips when mariadbd is not installed.
    """
    try:
        find_binaries()
    except MariaDBUnavailable as exc:
        pytest.skip(f"no MariaDB server for the real slow-log test: {exc}")
    base = tmp_path_factory.mktemp("mariadb")
    log = base / "slow.log"
    server = start_mariadb(
        base,
        slow_query_log="ON",
        long_query_time=0,
        slow_query_log_file=str(log),
        log_slow_verbosity="query_plan,explain",
    )
    try:
        _workload(server)
    finally:
        server.stop()
    assert log.exists(), "MariaDB wrote no slow log"
    return log


def _require_pt() -> str:
    import shutil

    pt = shutil.which("pt-query-digest")
    if not pt:
        pytest.skip("pt-query-digest (percona-toolkit) not installed")
    return pt


@pytest.fixture(scope="session")
def pt_report(mariadb_slowlog) -> dict:
    """``pt-query-digest --output json --limit 100%`` of the real MariaDB slow log."""
    import json
    import subprocess

    pt = _require_pt()
    out = subprocess.run([pt, "--output", "json", "--limit", "100%", str(mariadb_slowlog)],
                         capture_output=True, check=True, timeout=300).stdout
    return json.loads(out)


# Prints one tab-separated line per event as pt-query-digest parsed it (no report):
# the statement as hex bytes, Query_time, db (with pt's default --inherit-attributes db,ts),
# user, host, Rows_examined and pt's own fingerprint of the statement.
_PT_EVENT_FILTER = (
    'do { print STDOUT join("\\t", "EV", unpack("H*", $event->{arg}), $event->{Query_time},'
    ' $event->{db} // "", $event->{user} // "", $event->{host} // "",'
    ' $event->{Rows_examined} // "", QueryRewriter->new()->fingerprint($event->{arg})), "\\n";'
    " 1 }"
)


@pytest.fixture(scope="session")
def pt_events(mariadb_slowlog) -> list[dict]:
    """Every event of the real slow log as pt-query-digest parses it, in file order."""
    return pt_events_of(mariadb_slowlog)


def pt_events_of(path) -> list[dict]:
    """Every event of a slow log file as pt-query-digest parses it, in file order."""
    import subprocess

    pt = _require_pt()
    out = subprocess.run([pt, "--no-report", "--filter", _PT_EVENT_FILTER, str(path)],
                         capture_output=True, check=True, timeout=300).stdout
    events = []
    for raw in out.split(b"\n"):
        if not raw.startswith(b"EV\t"):
            continue
        _, arg, qt, db, user, host, rows_examined, fp = raw.decode("utf-8").split("\t")
        events.append({
            "sql": bytes.fromhex(arg).decode("utf-8"), "query_time": float(qt), "db": db or None,
            "user": user, "host": host, "rows_examined": int(rows_examined), "fingerprint": fp,
        })
    return events
