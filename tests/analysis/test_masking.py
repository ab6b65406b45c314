"""analysis.masking: literals become ``?``; every other byte of the statement stays as written."""

from __future__ import annotations

import doctest

import pytest

import analysis.masking
from analysis.masking import mask_literals


def test_doctests() -> None:
    result = doctest.testmod(analysis.masking)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(("sql", "masked"), [
    # strings: backslash escapes, doubled quotes, both quote kinds, the other quote inside
    (r"WHERE p = 'C:\\' AND b = 1", "WHERE p = ? AND b = ?"),
    (r"WHERE s = 'it\'s' OR s = 'it''s'", "WHERE s = ? OR s = ?"),
    ('WHERE s = "say ""hi""" AND t = \'5" disk\'', "WHERE s = ? AND t = ?"),
    ("WHERE s = '' AND t = \"\"", "WHERE s = ? AND t = ?"),
    ("WHERE s = 'no end", "WHERE s = ?"),
    ("WHERE d = DATE '2026-10-01'", "WHERE d = DATE ?"),
    ("SET NAMES utf8mb4 COLLATE 'x' , @a = _latin1'abc'",
     "SET NAMES utf8mb4 COLLATE ? , @a = _latin1?"),
    # numbers, but never digits that belong to an identifier
    ("SELECT t1.col_2, c3 FROM t1 WHERE id = 42", "SELECT t1.col_2, c3 FROM t1 WHERE id = ?"),
    ("SELECT 1.5, .25, 3e10, 1.5E-3, -7 FROM dual", "SELECT ?, ?, ?, ?, -? FROM dual"),
    ("LIMIT 10,20", "LIMIT ?,?"),
    ("x=1 AND y>=2.0", "x=? AND y>=?"),
    ("SELECT * FROM 2fa_codes JOIN `123` USING (id9)",
     "SELECT * FROM 2fa_codes JOIN `123` USING (id9)"),
    ("SELECT `a``1` FROM db1.tbl2", "SELECT `a``1` FROM db1.tbl2"),
    ("SELECT $1, v$2 FROM t", "SELECT $1, v$2 FROM t"),
    # hex and bit literals in every spelling
    ("WHERE h IN (0xDEADBEEF, 0xff, X'0AFF', x'0aff', 0b101, B'01')",
     "WHERE h IN (?, ?, ?, ?, ?, ?)"),
    ("WHERE n = N'이름'", "WHERE n = ?"),
    # keywords and placeholders are not literals
    ("WHERE a IS NULL AND b = TRUE AND c = ?", "WHERE a IS NULL AND b = TRUE AND c = ?"),
])
def test_masks_literals(sql: str, masked: str) -> None:
    assert mask_literals(sql) == masked


def test_korean_text_in_strings_is_masked_and_elsewhere_kept() -> None:
    sql = "SELECT 이름, 나이2 FROM 회원 WHERE 이름 = '홍길동' AND 주소 LIKE '%서울%' -- 한글 1"
    assert mask_literals(sql) == (
        "SELECT 이름, 나이2 FROM 회원 WHERE 이름 = ? AND 주소 LIKE ? -- 한글 1")


def test_comments_case_and_spacing_are_kept_byte_for_byte() -> None:
    sql = ("/* app:checkout id=42 */ SeLeCt   *\n\tFROM Orders  # 7 rows\n"
           "WHERE id = 9 -- last 3\n/*+ MAX_EXECUTION_TIME(1000) */ AND x = 'a'")
    assert mask_literals(sql) == (
        "/* app:checkout id=42 */ SeLeCt   *\n\tFROM Orders  # 7 rows\n"
        "WHERE id = ? -- last 3\n/*+ MAX_EXECUTION_TIME(1000) */ AND x = ?")


def test_double_dash_without_space_is_not_a_comment() -> None:
    assert mask_literals("SELECT 5--1") == "SELECT ?--?"
    assert mask_literals("SELECT 5 --\n") == "SELECT ? --\n"


def test_unterminated_comment_is_kept() -> None:
    assert mask_literals("SELECT 1 /* open 2") == "SELECT ? /* open 2"


def test_nothing_to_mask_returns_the_same_text() -> None:
    sql = "SELECT a, b FROM t WHERE c = d"
    assert mask_literals(sql) == sql
    assert mask_literals("") == ""


def test_multi_row_insert() -> None:
    sql = "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y\\n')"
    assert mask_literals(sql) == "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"


def test_plan_and_findings_are_masked_together() -> None:
    from analysis.findings import find_problems
    from analysis.masking import mask_plan_and_findings
    from analysis.plan import parse_plan

    root = parse_plan('{"query_block": {"select_id": 1, "table": {"table_name": "p", '
                      '"access_type": "ALL", "rows": 5000, "filtered": 100, '
                      '"attached_condition": "p.email = \'x@y.z\' and p.id > 42"}}}', "json")
    findings = [f.to_dict() for f in find_problems(root)]
    assert any("x@y.z" in f["message"] for f in findings)
    masked_root, masked_findings = mask_plan_and_findings(root.to_dict(), findings)
    assert "x@y.z" not in repr(masked_root) and "42" not in repr(masked_root)
    assert [f["code"] for f in masked_findings] == [f["code"] for f in findings]
    assert not any("x@y.z" in f["message"] for f in masked_findings)
    assert any("5,000" in f["message"] or "5000" in f["message"] for f in masked_findings)
