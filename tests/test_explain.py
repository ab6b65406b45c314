"""Safe EXPLAIN against a REAL MariaDB: formats, conversions, refusals, read-only session,
timeouts with KILL QUERY, and the stored plan through store.plans and the API.

One private server per test session (networking on, so the monitoring account connects over
TCP as it would to RDS), with a small shop schema and a SELECT + PROCESS monitoring account.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pymysql
import pytest

from analysis.explainable import NotExplainable
from analysis.fingerprint import fingerprint_and_id
from analysis.plan import PlanNode, iter_nodes
from collectors.explain import (
    ConnectionParams,
    ExplainError,
    ExplainResult,
    _parse_into,
    explain,
    explain_text,
    kill_query,
    prepare_session,
    quote_identifier,
)
from jobs.plans import record_plan
from settings import Settings
from store import open_store
from tests.mariadb_server import MariaDBServer, require_mariadb, start_mariadb

MONITOR_PASSWORD = "m0nitor-S3cret!"
ODD_DB = "odd`name"
TREE_ERROR = "1791: Unknown EXPLAIN/ANALYZE format name: 'TREE'"


@dataclass
class Lab:
    server: MariaDBServer
    monitor: ConnectionParams


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("explain"), networking=True)
    try:
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE shop")
            conn.select_db("shop")
            cur.execute("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL,"
                        " city VARCHAR(30) NOT NULL)")
            cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL,"
                        " total INT NOT NULL, status VARCHAR(10) NOT NULL,"
                        " KEY idx_customer (customer_id))")
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s)",
                            [(i, f"customer {i}", ("Seoul", "Busan")[i % 2])
                             for i in range(1, 201)])
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)",
                            [(i, 1 + i % 200, i % 500, ("new", "paid")[i % 2])
                             for i in range(1, 3001)])
            cur.execute("ANALYZE TABLE customers, orders")
            cur.fetchall()
            cur.execute(f"CREATE DATABASE {quote_identifier(ODD_DB)}")
            cur.execute(f"CREATE TABLE {quote_identifier(ODD_DB)}.t (a INT PRIMARY KEY)")
            cur.execute("CREATE USER monitor@'%%' IDENTIFIED BY %s", (MONITOR_PASSWORD,))
            cur.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
        yield Lab(server, ConnectionParams(host="127.0.0.1", port=server.port, user="monitor",
                                           password=MONITOR_PASSWORD))
    finally:
        server.stop()


def _tables(root: dict) -> set[str]:
    return {n.table for n in iter_nodes(PlanNode.from_dict(root)) if n.table}


def _processlist(lab: Lab, thread_id: int) -> list[tuple]:
    with lab.server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT COMMAND, STATE, INFO FROM information_schema.PROCESSLIST"
                    " WHERE ID = %s", (thread_id,))
        return list(cur.fetchall())


def _wait_gone(lab: Lab, thread_id: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = _processlist(lab, thread_id)
        if not rows or rows[0][2] is None:
            return True
        time.sleep(0.05)
    return False


# ---- formats -----------------------------------------------------------------------------------
def test_select_gives_json_and_tree_is_marked_unsupported(lab: Lab) -> None:
    sql = "SELECT * FROM orders WHERE customer_id = 42"
    result = explain(lab.monitor, sql, "shop", instance_id="db-1")
    assert result.server_flavour == "mariadb"
    assert "MariaDB" in result.server_version
    assert (result.fingerprint, result.query_id) == fingerprint_and_id(sql)
    assert result.converted_from is None
    assert result.explained_sql == sql
    json_format = result.formats["json"]
    assert json_format["supported"] is True and json_format["error"] is None
    assert json.loads(json_format["text"])["query_block"]["nested_loop"]
    # the real server error, recorded: MariaDB has no FORMAT=TREE
    assert result.formats["tree"] == {"supported": False, "text": None, "error": TREE_ERROR}
    assert result.parsed_from == "json"
    assert result.root is not None
    leaf = result.root if not result.root["children"] else result.root["children"][0]
    assert (leaf["table"], leaf["access_type"], leaf["key"]) == ("orders", "ref", "idx_customer")
    assert len(result.plan_hash) == 16 and not result.plan_hash.startswith("unparsed")
    assert result.timed_out is False


def test_full_scan_comes_with_a_finding(lab: Lab) -> None:
    result = explain(lab.monitor, "SELECT * FROM orders WHERE total > 10", "shop")
    codes = {f["code"] for f in result.findings}
    assert "full_table_scan" in codes
    assert all(set(f) == {"node_id", "severity", "code", "table", "title", "detail", "message"}
               for f in result.findings)
    scan = next(f for f in result.findings if f["code"] == "full_table_scan")
    assert scan["table"] == "orders" and scan["title"] == "Full table scan on `orders`"


def test_same_shape_different_literals_gives_the_same_plan_hash(lab: Lab) -> None:
    one = explain(lab.monitor, "SELECT * FROM orders WHERE customer_id = 42", "shop")
    two = explain(lab.monitor, "SELECT * FROM orders WHERE customer_id = 7", "shop")
    scan = explain(lab.monitor, "SELECT * FROM orders WHERE total = 7", "shop")
    assert one.plan_hash == two.plan_hash != scan.plan_hash
    assert one.query_id == two.query_id != scan.query_id


# ---- conversions with a read-only account ------------------------------------------------------
def test_explain_update_is_denied_to_the_read_only_account(lab: Lab) -> None:
    """Why UPDATE is converted: the SELECT-only account may not EXPLAIN it (error 1142)."""
    conn = pymysql.connect(host="127.0.0.1", port=lab.server.port, user="monitor",
                           password=MONITOR_PASSWORD, database="shop")
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.MySQLError) as caught:
            cur.execute("EXPLAIN UPDATE orders SET total = 0 WHERE customer_id = 42")
    finally:
        conn.close()
    code, message = caught.value.args
    assert code == 1142
    assert message == ("UPDATE command denied to user 'monitor'@'127.0.0.1' for table "
                       "`shop`.`orders`")


def test_update_is_explained_through_its_select_and_changes_nothing(lab: Lab) -> None:
    sql = "UPDATE orders SET total = total + 1 WHERE customer_id = 42"
    with lab.server.connect(database="shop") as conn, conn.cursor() as cur:
        cur.execute("SELECT SUM(total) FROM orders")
        before = cur.fetchone()
    result = explain(lab.monitor, sql, "shop")
    assert result.converted_from == "update"
    assert result.explained_sql == "SELECT * FROM orders WHERE customer_id = 42"
    assert result.query_id == fingerprint_and_id(sql)[1]  # the UPDATE's digest, not the SELECT's
    assert result.formats["json"]["supported"] is True
    assert "idx_customer" in result.formats["json"]["text"]
    with lab.server.connect(database="shop") as conn, conn.cursor() as cur:
        cur.execute("SELECT SUM(total) FROM orders")
        assert cur.fetchone() == before


@pytest.mark.parametrize("sql", [
    "DELETE o FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.city = 'Busan'",
    "DELETE FROM o USING orders AS o JOIN customers AS c ON c.id = o.customer_id "
    "WHERE c.city = 'Busan'",
])
def test_multi_table_delete_is_explained_through_its_select(lab: Lab, sql: str) -> None:
    result = explain(lab.monitor, sql, "shop")
    assert result.converted_from == "delete"
    assert result.explained_sql.startswith("SELECT o.* FROM ")
    assert result.formats["json"]["error"] is None
    assert _tables(result.root) == {"o", "c"}


def test_insert_select_is_explained_through_its_select(lab: Lab) -> None:
    sql = ("INSERT INTO orders (id, customer_id, total, status) SELECT id + 10000, id, 0, 'new' "
           "FROM customers WHERE city = 'Seoul' ON DUPLICATE KEY UPDATE total = 0")
    result = explain(lab.monitor, sql, "shop")
    assert result.converted_from == "insert_select"
    assert _tables(result.root) == {"customers"}


def test_database_name_with_a_backtick_is_quoted(lab: Lab) -> None:
    result = explain(lab.monitor, "SELECT * FROM t WHERE a = 1", ODD_DB)
    assert result.formats["json"]["error"] is None
    assert result.db == ODD_DB
    assert quote_identifier(ODD_DB) == "`odd``name`"


def test_statement_errors_are_kept_per_format(lab: Lab) -> None:
    result = explain(lab.monitor, "SELECT * FROM no_such_table", "shop")
    assert result.formats["json"] == {
        "supported": True, "text": None,
        "error": "1146: Table 'shop.no_such_table' doesn't exist"}
    assert result.root is None and not result.explained
    assert result.plan_hash.startswith("unparsed-") and len(result.plan_hash) == 9 + 32


# ---- refusals ----------------------------------------------------------------------------------
UNREACHABLE = ConnectionParams(host="127.0.0.1", port=1, user="x", password="never-shown")


@pytest.mark.parametrize(("sql", "reason"), [
    ("SELECT 1; SELECT 2", "more than one statement"),
    ("SELECT * FROM orders; DELETE FROM orders", "more than one statement"),
    ("EXPLAIN ANALYZE SELECT * FROM orders", "never wrapped in EXPLAIN"),
    ("ANALYZE FORMAT=JSON SELECT * FROM orders", "never wrapped in EXPLAIN"),
    ("INSERT INTO orders VALUES (1, 1, 1, 'x')", "reads nothing"),
])
def test_refused_before_any_connection(sql: str, reason: str) -> None:
    """Refusals happen before connecting (the params here point nowhere)."""
    with pytest.raises(NotExplainable, match=reason):
        explain(UNREACHABLE, sql, "shop")


def test_last_check_refuses_executing_statements() -> None:
    assert explain_text("json", "SELECT 1") == "EXPLAIN FORMAT=JSON SELECT 1"
    assert explain_text("tree", " (SELECT 1)") == "EXPLAIN FORMAT=TREE (SELECT 1)"
    for body in ("ANALYZE SELECT 1", "EXPLAIN ANALYZE SELECT 1", "analyze format=json select 1",
                 "DESCRIBE SELECT 1", "DELETE FROM t", "UPDATE t SET a = 1"):
        with pytest.raises(NotExplainable):
            explain_text("json", body)


def test_refused_statements_are_not_recorded(tmp_path: Path, lab: Lab) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    try:
        assert record_plan(store, "db-1", "EXPLAIN ANALYZE SELECT 1", "shop", lab.monitor) is None
        assert record_plan(store, "db-1", "SELECT 1; SELECT 2", "shop", lab.monitor) is None
        assert store.plans.list() == []
    finally:
        store.close()


# ---- the session -------------------------------------------------------------------------------
def test_explain_session_is_read_only_and_time_limited(lab: Lab) -> None:
    with lab.server.connect() as conn:  # root: only READ ONLY stops the write
        info = prepare_session(conn, "shop", timeout_seconds=3)
        assert info.flavour == "mariadb" and info.thread_id == conn.thread_id()
        with conn.cursor() as cur:
            with pytest.raises(pymysql.MySQLError) as caught:
                cur.execute("INSERT INTO orders VALUES (99999, 1, 1, 'x')")
            assert caught.value.args == (1792,
                                         "Cannot execute statement in a READ ONLY transaction")
            cur.execute("SELECT @@SESSION.max_statement_time, @@SESSION.lock_wait_timeout,"
                        " @@SESSION.tx_read_only, DATABASE()")
            assert cur.fetchone() == (3.0, 3, 1, "shop")


def test_session_reads_quotes_the_way_the_tokenizer_does(lab: Lab) -> None:
    with lab.server.connect() as conn:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = 'ANSI,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES'")
        prepare_session(conn, None, timeout_seconds=3)
        with conn.cursor() as cur:
            cur.execute("SELECT @@SESSION.sql_mode")
            modes = set(cur.fetchone()[0].split(","))
    assert "STRICT_TRANS_TABLES" in modes
    assert not modes & {"ANSI", "ANSI_QUOTES", "NO_BACKSLASH_ESCAPES"}


def test_unknown_database_is_an_explain_error(lab: Lab) -> None:
    with pytest.raises(ExplainError, match="could not use database 'nope': 1049"):
        explain(lab.monitor, "SELECT 1", "nope")


def test_connection_errors_never_show_the_password(lab: Lab, caplog: pytest.LogCaptureFixture,
                                                   tmp_path: Path) -> None:
    wrong = replace(lab.monitor, password="Wr0ng-pa55word")
    with pytest.raises(ExplainError) as caught:
        explain(wrong, "SELECT 1", "shop")
    assert "1045" in str(caught.value) and "Wr0ng-pa55word" not in str(caught.value)
    assert "Wr0ng-pa55word" not in repr(wrong)
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    try:
        with caplog.at_level(logging.INFO, logger="collectors.explain"):
            assert record_plan(store, "db-1", "SELECT 1", "shop", wrong) is None
            assert record_plan(store, "db-2", "SELECT 1", "shop", UNREACHABLE) is None
    finally:
        store.close()
    assert "1045" in caplog.text and "2003" in caplog.text
    assert "Wr0ng-pa55word" not in caplog.text and "never-shown" not in caplog.text


# ---- timeouts ----------------------------------------------------------------------------------
@pytest.fixture
def orders_locked(lab: Lab) -> Iterator[None]:
    """Another session holds LOCK TABLES orders WRITE: EXPLAIN waits for the metadata lock."""
    conn = lab.server.connect(database="shop")
    with conn.cursor() as cur:
        cur.execute("LOCK TABLES orders WRITE")
    try:
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        conn.close()


SLOW_EXPLAIN = "SELECT * FROM (SELECT SLEEP(20) AS s) AS d"  # MariaDB runs it while optimising


def test_explain_really_can_be_slow(lab: Lab) -> None:
    """Why EXPLAIN needs a time limit at all: this one sleeps on the server."""
    started = time.monotonic()
    result = explain(lab.monitor, "SELECT * FROM (SELECT SLEEP(1) AS s) AS d", "shop")
    assert time.monotonic() - started >= 1
    assert result.explained and not result.timed_out


def test_server_side_limit_stops_a_slow_explain(lab: Lab) -> None:
    started = time.monotonic()
    result = explain(lab.monitor, SLOW_EXPLAIN, "shop", timeout_seconds=1)
    assert time.monotonic() - started < 2.9  # before the client's read timeout (1 + 2 s)
    assert result.timed_out and not result.killed and not result.explained
    assert result.formats["json"]["error"] == (
        "1969: Query execution was interrupted (max_statement_time exceeded) "
        "(MariaDB max_statement_time exceeded)")
    assert result.formats["tree"] == {"supported": None, "text": None,
                                      "error": "not run: the previous EXPLAIN timed out"}


def test_lock_wait_timeout_stops_an_explain_blocked_by_a_lock(lab: Lab,
                                                               orders_locked: None) -> None:
    started = time.monotonic()
    result = explain(lab.monitor, "SELECT * FROM orders WHERE customer_id = 1", "shop",
                     timeout_seconds=1)
    assert time.monotonic() - started < 2.9
    assert result.timed_out and not result.explained
    assert result.formats["json"]["error"] in (
        "1969: Query execution was interrupted (max_statement_time exceeded) "
        "(MariaDB max_statement_time exceeded)",
        "1205: Lock wait timeout exceeded; try restarting transaction (lock wait timeout)")


def test_client_timeout_kills_the_query_on_the_server(lab: Lab) -> None:
    """Without a server-side limit our read timeout fires, and KILL QUERY stops the server's
    work at once (MariaDB itself would notice the dropped client only ~5 s later)."""
    started = time.monotonic()
    result = explain(lab.monitor, SLOW_EXPLAIN, "shop", timeout_seconds=1, server_limit=False)
    assert result.timed_out and result.killed and not result.explained
    error = result.formats["json"]["error"]
    assert error.startswith("timed out after 1.")
    assert "2013: Lost connection" in error and error.endswith(": killed")
    thread_id = int(error.split("KILL QUERY ")[1].split(":")[0])
    assert _wait_gone(lab, thread_id, seconds=1.5)
    assert time.monotonic() - started < 3.5


def test_kill_query_ends_a_query_the_client_gave_up_on(lab: Lab) -> None:
    """The mechanics: after a read timeout the server still runs the EXPLAIN; KILL QUERY ends it."""
    conn = pymysql.connect(host="127.0.0.1", port=lab.server.port, user="monitor",
                           password=MONITOR_PASSWORD, read_timeout=0.5, autocommit=True)
    info = prepare_session(conn, "shop", timeout_seconds=None)
    with pytest.raises(pymysql.err.OperationalError) as caught, conn.cursor() as cur:
        cur.execute(explain_text("json", SLOW_EXPLAIN))
    assert caught.value.args[0] == 2013
    rows = _processlist(lab, info.thread_id)
    assert rows and rows[0][0] == "Query" and "SLEEP(20)" in rows[0][2]  # still running
    assert kill_query(lab.monitor, info.thread_id) == "killed"
    assert _wait_gone(lab, info.thread_id, seconds=1.5)
    assert kill_query(lab.monitor, 987654) == "already ended"


def test_timeout_with_a_lock_held_and_no_server_limit(lab: Lab, orders_locked: None) -> None:
    """A lock wait: MariaDB may notice the dropped client itself, so KILL can be unneeded."""
    result = explain(lab.monitor, "SELECT * FROM orders", "shop", timeout_seconds=1,
                     server_limit=False)
    assert result.timed_out and not result.explained
    error = result.formats["json"]["error"]
    assert error.endswith((": killed", ": already ended"))
    assert _wait_gone(lab, int(error.split("KILL QUERY ")[1].split(":")[0]), seconds=3)


def test_nothing_recorded_when_every_format_failed(tmp_path: Path, lab: Lab) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    try:
        assert record_plan(store, "db-1", SLOW_EXPLAIN, "shop", lab.monitor,
                           timeout_seconds=1) is None
        assert record_plan(store, "db-1", "SELECT * FROM nope", "shop", lab.monitor) is None
        assert store.plans.list() == []
    finally:
        store.close()


# ---- parsing fallbacks (no server needed) ------------------------------------------------------
def _bare(formats: dict) -> ExplainResult:
    return ExplainResult(instance_id="i", query_id="q", fingerprint="select ?", db=None,
                         server_version="8.0.36", server_flavour="mysql", converted_from=None,
                         explained_sql="SELECT * FROM t WHERE a = 1", formats=formats)


def test_tree_is_parsed_when_json_is_missing() -> None:
    result = _bare({
        "json": {"supported": True, "text": "{not json", "error": None},
        "tree": {"supported": True, "text": "-> Table scan on t  (cost=10.25 rows=100)\n",
                 "error": None},
    })
    _parse_into(result)
    assert result.parsed_from == "tree"
    assert result.root["operation"] == "Table scan" and result.root["table"] == "t"


def test_unparsable_output_keeps_an_unparsed_hash_of_the_sql_shape() -> None:
    one = _bare({"json": {"supported": True, "text": "garbage", "error": None}})
    _parse_into(one)
    two = replace(_bare({"json": {"supported": True, "text": "garbage", "error": None}}),
                  explained_sql="SELECT * FROM t WHERE a = 2")
    _parse_into(two)
    assert one.root is None and one.findings == [] and "json:" in one.parse_error
    assert one.plan_hash.startswith("unparsed-") and one.plan_hash == two.plan_hash


# ---- stored and served -------------------------------------------------------------------------
def test_recorded_plan_round_trips_through_the_store_and_the_api(
        tmp_path: Path, lab: Lab, settings: Settings) -> None:
    from app import create_app

    url = f"sqlite:///{tmp_path}/x.db"
    sql = "UPDATE orders SET status = 'paid' WHERE customer_id = 42"
    store = open_store(url)
    try:
        plan_id = record_plan(store, "db-1", sql, "shop", lab.monitor)
        assert plan_id is not None
        stored = store.plans.get(plan_id)
        assert stored["plan_id"] == plan_id and stored["seen_count"] == 1
        assert stored["query_id"] == fingerprint_and_id(sql)[1]
        assert stored["converted_from"] == "update"
        assert stored["formats"]["tree"]["error"] == TREE_ERROR
        assert stored["first_seen"] == stored["last_seen"]
        # the same plan again: one document, seen twice
        assert record_plan(store, "db-1", sql.replace("42", "43"), "shop", lab.monitor) == plan_id
        again = store.plans.get(plan_id)
        assert again["seen_count"] == 2 and again["first_seen"] == stored["first_seen"]
    finally:
        store.close()

    client = create_app(replace(settings, database_url=url)).server.test_client()
    listed = client.get(f"/api/plans?instance_id=db-1&query_id={stored['query_id']}")
    assert listed.status_code == 200
    (plan,) = listed.get_json()["plans"]
    for key in ("plan_id", "instance_id", "query_id", "plan_hash", "server_version", "formats",
                "root", "findings", "first_seen", "last_seen", "converted_from", "seen_count"):
        assert key in plan
    assert plan["root"] == stored["root"] and plan["seen_count"] == 2
    one = client.get(f"/api/plans/{quote(plan_id, safe='')}")
    assert one.status_code == 200 and one.get_json()["plan_id"] == plan_id
    assert client.get("/api/plans?instance_id=other").get_json() == {"plans": []}
