"""explainable_select: what may go behind EXPLAIN, and how UPDATE/DELETE/INSERT are converted."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisError
from analysis.explainable import Explainable, NotExplainable, explainable_select

# ---- pass-through ------------------------------------------------------------------------------
PASS_THROUGH = [
    ("SELECT 1", "SELECT 1"),
    ("SELECT * FROM t WHERE id = 1;", "SELECT * FROM t WHERE id = 1"),
    ("  select * from t ;  ", "select * from t"),
    ("SELECT 1;;", "SELECT 1"),
    ("SELECT 1; -- trailing comment", "SELECT 1"),
    ("/* app=shop, req=42 */ SELECT a FROM t", "SELECT a FROM t"),
    ("-- leading line comment\nSELECT a FROM t", "SELECT a FROM t"),
    ("# hash comment\nSELECT a FROM t", "SELECT a FROM t"),
    ("SELECT a FROM t /* trailing */", "SELECT a FROM t"),
    ("SELECT a /* inside */ FROM t", "SELECT a   FROM t"),
    ("SELECT * FROM t WHERE s = 'a;b'", "SELECT * FROM t WHERE s = 'a;b'"),
    ('SELECT * FROM t WHERE s = "x; DROP TABLE t"', 'SELECT * FROM t WHERE s = "x; DROP TABLE t"'),
    ("SELECT * FROM `we;ird` WHERE 1", "SELECT * FROM `we;ird` WHERE 1"),
    ("SELECT 'it''s; fine'", "SELECT 'it''s; fine'"),
    ("SELECT 'a\\'; DROP TABLE t; -- '", "SELECT 'a\\'; DROP TABLE t; -- '"),
    ("SELECT `a``;b` FROM t", "SELECT `a``;b` FROM t"),
    ("SELECT '-- not a comment; really' AS x", "SELECT '-- not a comment; really' AS x"),
    ("SELECT 5--1", "SELECT 5--1"),  # "--" without a following blank is not a comment
    ("SELECT /*!40001 SQL_NO_CACHE */ * FROM t", "SELECT   SQL_NO_CACHE   * FROM t"),
    ("SELECT /*M!100301 1 + */ 2", "SELECT   1 +   2"),
    ("SELECT /*+ MAX_EXECUTION_TIME(999999) */ * FROM t", "SELECT   * FROM t"),
    ("SELECT /*+ NO_INDEX(t idx) */ * FROM t", "SELECT /*+ NO_INDEX(t idx) */ * FROM t"),
    ("SELECT /*+ SET_VAR(sort_buffer_size = 16M) */ 1", "SELECT   1"),
    ("WITH c AS (SELECT 1 AS x) SELECT * FROM c", "WITH c AS (SELECT 1 AS x) SELECT * FROM c"),
    ("WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5), "
     "`b` AS (SELECT 2) SELECT * FROM r, b;",
     "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5), "
     "`b` AS (SELECT 2) SELECT * FROM r, b"),
    ("(SELECT a FROM t) UNION (SELECT a FROM u) ORDER BY a",
     "(SELECT a FROM t) UNION (SELECT a FROM u) ORDER BY a"),
    ("((SELECT 1))", "((SELECT 1))"),
    ("SELECT * FROM t FOR UPDATE", "SELECT * FROM t FOR UPDATE"),
    ("SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE z = 'SET')",
     "SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE z = 'SET')"),
    ("TABLE t", "TABLE t"),
    ("SELECT '김철수' AS 이름 FROM 주문", "SELECT '김철수' AS 이름 FROM 주문"),
    ("SELECT 1\r\n;\r\n", "SELECT 1"),
]


@pytest.mark.parametrize(("sql", "expected"), PASS_THROUGH)
def test_selects_pass_through(sql: str, expected: str) -> None:
    result = explainable_select(sql)
    assert result.select_sql == expected
    assert result.converted_from is None


def test_result_names_the_statement() -> None:
    assert explainable_select("WITH c AS (SELECT 1) SELECT * FROM c") == Explainable(
        "WITH c AS (SELECT 1) SELECT * FROM c", None, "with")
    assert explainable_select("select 1").statement == "select"
    assert explainable_select("(select 1)").statement == "select"


# ---- UPDATE ------------------------------------------------------------------------------------
UPDATES = [
    ("UPDATE t SET a = 1 WHERE id = 5", "SELECT * FROM t WHERE id = 5"),
    ("update t set a = 1", "SELECT * FROM t"),
    ("UPDATE LOW_PRIORITY IGNORE t SET a = a + 1 WHERE id > 5 ORDER BY id LIMIT 10;",
     "SELECT * FROM t WHERE id > 5 ORDER BY id LIMIT 10"),
    ("UPDATE t1 JOIN t2 ON t1.id = t2.t1_id SET t1.a = 1, t2.b = 2 WHERE t2.c = 3",
     "SELECT * FROM t1 JOIN t2 ON t1.id = t2.t1_id WHERE t2.c = 3"),
    ("UPDATE t1, t2 SET t1.a = t2.a WHERE t1.id = t2.id",
     "SELECT * FROM t1, t2 WHERE t1.id = t2.id"),
    # the word SET, WHERE and ';' inside strings do not cut the statement
    ("UPDATE t SET note = 'SET x WHERE y; LIMIT 3', b = \"WHERE\" WHERE id = 7",
     "SELECT * FROM t WHERE id = 7"),
    ("UPDATE `set` SET `where` = 1 WHERE `limit` = 2",
     "SELECT * FROM `set` WHERE `limit` = 2"),
    ("UPDATE t SET t.set = 1 WHERE t.where = 2",  # keywords after '.' are column names
     "SELECT * FROM t WHERE t.where = 2"),
    ("UPDATE t SET a = CONVERT(b USING utf8mb4), c = CAST(d AS CHAR CHARACTER SET latin1) "
     "WHERE e = 1", "SELECT * FROM t WHERE e = 1"),
    ("UPDATE t SET a = DEFAULT, b = VALUES(b) WHERE id IN (1, 2)",
     "SELECT * FROM t WHERE id IN (1, 2)"),
    # a subquery in SET is part of the plan: kept as a select-list item
    ("UPDATE t SET a = (SELECT MAX(x) FROM u WHERE u.id = t.id), b = 2 WHERE c = 1",
     "SELECT *, (SELECT MAX(x) FROM u WHERE u.id = t.id) FROM t WHERE c = 1"),
    ("UPDATE t SET a = 1 + (SELECT COUNT(*) FROM u), b = (SELECT 2) WHERE c = 1",
     "SELECT *, 1 + (SELECT COUNT(*) FROM u), (SELECT 2) FROM t WHERE c = 1"),
    ("UPDATE t SET a = 1 WHERE id IN (SELECT id FROM u WHERE flag = 'SET')",
     "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE flag = 'SET')"),
    ("/* job=nightly */ UPDATE t SET a = 1 -- why\n WHERE b = 2",
     "SELECT * FROM t WHERE b = 2"),
    ("UPDATE /*+ NO_RANGE_OPTIMIZATION(t) */ t SET a = 1 WHERE b = 2",
     "SELECT /*+ NO_RANGE_OPTIMIZATION(t) */ * FROM t WHERE b = 2"),
    ("UPDATE /*! LOW_PRIORITY */ t SET a = 1 WHERE b = 2",
     "SELECT * FROM t WHERE b = 2"),
    ("UPDATE db.t AS x USE INDEX (idx) SET x.a = 1 WHERE x.b = 2",
     "SELECT * FROM db.t AS x USE INDEX (idx) WHERE x.b = 2"),
    ("WITH c AS (SELECT id FROM u WHERE z = 1) UPDATE t JOIN c USING (id) SET t.a = 1",
     "WITH c AS (SELECT id FROM u WHERE z = 1) SELECT * FROM t JOIN c USING (id)"),
]


@pytest.mark.parametrize(("sql", "expected"), UPDATES)
def test_update_is_converted_to_the_select_reading_the_same_rows(sql: str, expected: str) -> None:
    result = explainable_select(sql)
    assert result.select_sql == expected
    assert result.converted_from == "update"


# ---- DELETE ------------------------------------------------------------------------------------
DELETES = [
    ("DELETE FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 1"),
    ("delete from t", "SELECT * FROM t"),
    ("DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE a = 1 ORDER BY id LIMIT 5",
     "SELECT * FROM t WHERE a = 1 ORDER BY id LIMIT 5"),
    ("DELETE FROM t AS x WHERE x.a = 'FROM t2 USING y'", "SELECT * FROM t AS x WHERE x.a = "
     "'FROM t2 USING y'"),
    ("DELETE FROM t PARTITION (p0, p1) WHERE a < 10", "SELECT * FROM t PARTITION (p0, p1) "
     "WHERE a < 10"),
    ("DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.x = 1",
     "SELECT t1.* FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.x = 1"),
    ("DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id AND t2.id = t3.id",
     "SELECT t1.*, t2.* FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id "
     "AND t2.id = t3.id"),
    ("DELETE t1.*, `db`.`t2`.* FROM t1 JOIN db.t2 USING (id) WHERE 1",
     "SELECT t1.*, `db`.`t2`.* FROM t1 JOIN db.t2 USING (id) WHERE 1"),
    ("DELETE FROM t1, t2 USING t1 INNER JOIN t2 INNER JOIN t3 "
     "WHERE t1.id = t2.id AND t2.id = t3.id",
     "SELECT t1.*, t2.* FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id "
     "AND t2.id = t3.id"),
    ("DELETE FROM t1 USING t1 JOIN t2 USING (id) WHERE t2.gone = 1",
     "SELECT t1.* FROM t1 JOIN t2 USING (id) WHERE t2.gone = 1"),
    ("DELETE FROM t WHERE a = 1 RETURNING id, a", "SELECT * FROM t WHERE a = 1"),
    ("DELETE FROM t WHERE id IN (SELECT id FROM u WHERE u.s = ';') LIMIT 3;",
     "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE u.s = ';') LIMIT 3"),
    ("DELETE /*+ BKA(t1) */ t1 FROM t1 JOIN t2 ON t1.a = t2.a",
     "SELECT /*+ BKA(t1) */ t1.* FROM t1 JOIN t2 ON t1.a = t2.a"),
    ("WITH old AS (SELECT id FROM t WHERE d < '2020-01-01') DELETE t FROM t JOIN old USING (id)",
     "WITH old AS (SELECT id FROM t WHERE d < '2020-01-01') SELECT t.* FROM t JOIN old "
     "USING (id)"),
]


@pytest.mark.parametrize(("sql", "expected"), DELETES)
def test_delete_is_converted(sql: str, expected: str) -> None:
    result = explainable_select(sql)
    assert result.select_sql == expected
    assert result.converted_from == "delete"


# ---- INSERT/REPLACE ... SELECT -----------------------------------------------------------------
INSERTS = [
    ("INSERT INTO t (a, b) SELECT x, y FROM u WHERE z = 1", "SELECT x, y FROM u WHERE z = 1",
     "insert_select"),
    ("INSERT IGNORE INTO t SELECT * FROM u ON DUPLICATE KEY UPDATE a = VALUES(a)",
     "SELECT * FROM u", "insert_select"),
    ("insert low_priority t select * from u join v on u.id = v.id where v.s = 'VALUES'",
     "select * from u join v on u.id = v.id where v.s = 'VALUES'", "insert_select"),
    ("INSERT INTO t (SELECT a FROM u)", "(SELECT a FROM u)", "insert_select"),
    ("INSERT INTO t PARTITION (p1) (a) SELECT a FROM u", "SELECT a FROM u", "insert_select"),
    ("INSERT INTO t WITH c AS (SELECT 1 AS a) SELECT a FROM c",
     "WITH c AS (SELECT 1 AS a) SELECT a FROM c", "insert_select"),
    ("REPLACE INTO t SELECT * FROM u WHERE a > 3;", "SELECT * FROM u WHERE a > 3",
     "replace_select"),
    ("REPLACE t (a) SELECT a FROM u", "SELECT a FROM u", "replace_select"),
    ("INSERT INTO t SELECT * FROM u RETURNING id", "SELECT * FROM u", "insert_select"),
]


@pytest.mark.parametrize(("sql", "expected", "kind"), INSERTS)
def test_insert_select_gives_its_select(sql: str, expected: str, kind: str) -> None:
    result = explainable_select(sql)
    assert (result.select_sql, result.converted_from) == (expected, kind)


# ---- refusals ----------------------------------------------------------------------------------
REFUSED = [
    ("SELECT 1; SELECT 2", "more than one statement"),
    ("SELECT 1; DROP TABLE t", "more than one statement"),
    ("SELECT 'a'; DROP TABLE t; -- '", "more than one statement"),
    ("SELECT 1 /*!; DROP TABLE t */", "more than one statement"),
    ("UPDATE t SET a = 1; DELETE FROM t", "more than one statement"),
    ("SELECT 1;\nSELECT 2;", "more than one statement"),
    ("SELECT 'a\\'; DROP TABLE t", "unterminated quoted string"),
    ("SELECT `a", "unterminated quoted identifier"),
    ("SELECT 1 /* never closed", "unterminated /* comment"),
    ("SELECT /*!50000 1", "unterminated executable comment"),
    ("SELECT (1", "unbalanced parentheses"),
    ("SELECT 1)", "unbalanced parentheses"),
    ("", "empty statement"),
    ("  ; ", "empty statement"),
    ("-- only a comment", "empty statement"),
    ("EXPLAIN SELECT 1", "never wrapped in EXPLAIN"),
    ("EXPLAIN ANALYZE SELECT * FROM t", "EXPLAIN ANALYZE executes"),
    ("explain format=json select 1", "never wrapped"),
    ("ANALYZE FORMAT=JSON SELECT * FROM t", "executes the statement"),
    ("ANALYZE TABLE t", "never wrapped"),
    ("/* hi */ DESCRIBE SELECT 1", "never wrapped"),
    ("DESC t", "never wrapped"),
    ("CREATE TABLE t (a INT)", "DDL"),
    ("ALTER TABLE t ADD COLUMN b INT", "DDL"),
    ("DROP TABLE t", "DDL"),
    ("TRUNCATE TABLE t", "DDL"),
    ("RENAME TABLE a TO b", "DDL"),
    ("SET autocommit = 0", "SET changes"),
    ("SET @x = (SELECT 1)", "SET changes"),
    ("CALL refresh_totals(1)", "stored procedure"),
    ("LOAD DATA INFILE '/tmp/x' INTO TABLE t", "LOAD DATA"),
    ("LOCK TABLES t WRITE", "LOCK TABLES"),
    ("UNLOCK TABLES", "UNLOCK"),
    ("DO SLEEP(5)", "DO evaluates"),
    ("INSERT INTO t VALUES (1, 'SELECT')", "INSERT ... VALUES reads nothing"),
    ("INSERT INTO t (a, b) VALUE (1, 2)", "INSERT ... VALUE reads nothing"),
    ("INSERT INTO t SET a = (SELECT 1)", "INSERT ... SET reads nothing"),
    ("REPLACE INTO t VALUES (1)", "REPLACE ... VALUES reads nothing"),
    ("INSERT INTO t", "could not find the SELECT"),
    ("SHOW PROCESSLIST", "SHOW statements have no plan"),
    ("BEGIN", "BEGIN statements have no plan"),
    ("COMMIT", "COMMIT statements have no plan"),
    ("GRANT ALL ON *.* TO x", "GRANT statements"),
    ("KILL 42", "KILL statements"),
    ("USE shop", "USE statements"),
    ("HANDLER t READ FIRST", "HANDLER"),
    ("VALUES ROW(1, 2)", "reads no table"),
    ("UPDATE t WHERE a = 1", "without table and SET"),
    ("UPDATE SET a = 1", "without table and SET"),
    ("UPDATE t SET WHERE a = 1", "empty SET"),
    ("DELETE t1", "DELETE without FROM"),
    ("DELETE FROM WHERE a = 1", "DELETE without a table"),
    ("DELETE t1 + 1 FROM t1", "list of tables"),
    ("WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c", "WITH ... INSERT"),
    ("WITH AS (SELECT 1) SELECT 1", "must be followed by AS"),
    ("WITH c AS (SELECT 1)", "without a statement"),
    ("(UPDATE t SET a = 1)", "parenthesised statement must be a SELECT"),
    ("'SELECT 1'", "not an SQL statement"),
    ("SELECT 1 /*!50000 /*!50000 2 */ */", "nested executable comments"),
]


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_refused_with_a_reason(sql: str, reason: str) -> None:
    with pytest.raises(NotExplainable) as caught:
        explainable_select(sql)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_not_explainable_is_an_analysis_error() -> None:
    assert issubclass(NotExplainable, AnalysisError)
    with pytest.raises(NotExplainable, match="expected SQL text"):
        explainable_select(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("sql", [sql for sql, _ in UPDATES + DELETES]
                         + [sql for sql, _, _ in INSERTS])
def test_every_conversion_is_itself_a_plain_select(sql: str) -> None:
    """What we explain is a SELECT and passes the same checks unchanged."""
    converted = explainable_select(sql).select_sql
    again = explainable_select(converted)
    assert again.converted_from is None
    assert again.select_sql == converted
    assert converted.split(None, 1)[0].upper() in ("SELECT", "WITH", "(SELECT")


def test_long_statement_with_many_strings_is_fast_enough() -> None:
    values = ", ".join(f"'v{i};'" for i in range(20000))
    result = explainable_select(f"DELETE FROM t WHERE s IN ({values})")
    assert result.select_sql.startswith("SELECT * FROM t WHERE s IN ('v0;'")
