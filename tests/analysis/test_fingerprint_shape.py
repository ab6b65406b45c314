"""The shape key that caches fingerprints (analysis/fingerprint.py, `_shape`).

Two statements of one shape must have one fingerprint (tests/test_digest_command.py fuzzes
that against the uncached fingerprint). These tests pin the two shortcuts the key takes for
speed: strings found by splitting at quotes instead of by the string regex, and digit runs
collapsed by bytes.split() instead of a regex."""

from __future__ import annotations

import random

import pytest

from analysis.fingerprint import (
    _STRINGS,
    _fingerprint,
    _shape,
    _single_quoted_key,
    fingerprint,
)

_PIECES = ["'", "''", "'''", "a", "b c", " ", "1", "--", "#", "/*", "*/", "values", "\n", "é"]


def _statement(rnd: random.Random) -> str:
    return "".join(rnd.choice(_PIECES) for _ in range(rnd.randint(0, 14)))


def test_split_at_quotes_finds_the_strings_the_regex_finds() -> None:
    """Without a backslash or a double quote, the strings between the odd and even quotes
    (joined across a doubled quote) are _STRINGS's, and an odd number of quotes is exactly
    when _STRINGS leaves a quote outside any string."""
    rnd = random.Random(7)
    split_keys = 0
    for _ in range(20000):
        sql = _statement(rnd)
        key, n = _STRINGS.subn("''", sql)
        well_formed = key.count("'") == 2 * n
        ours = _single_quoted_key(sql)
        if well_formed:
            assert ours == key, sql
            split_keys += sql.count("'") > 0
        else:
            assert ours is None, sql
    assert split_keys > 5000


@pytest.mark.parametrize("sql, key", [
    ("a = 'x'", "a = ''"),
    ("a = 'it''s' and b = 'y'", "a = '' and b = ''"),
    ("'a' 'b'", "'' ''"),
    ("x = ''''", "x = ''"),
    ("x = ''", "x = ''"),
    ("x = 'open", None),
    ("x = '''", None),
])
def test_single_quoted_key_examples(sql: str, key: str | None) -> None:
    assert _single_quoted_key(sql) == key


@pytest.mark.parametrize("a, b", [
    ("SELECT * FROM t WHERE id IN (1, 22, 333)", "SELECT * FROM t WHERE id IN (4, 5, 6)"),
    ("SELECT 12345", "SELECT 6"),
    ("SELECT a FROM t LIMIT 10", "SELECT a FROM t LIMIT 99999999"),
    ("INSERT INTO t VALUES (1,'a'),(22,'bb')", "INSERT INTO t VALUES (3,'c'),(4,'')"),
    ("SELECT col1 FROM t1", "SELECT col22 FROM t333"),
])
def test_digit_runs_of_any_length_share_a_shape(a: str, b: str) -> None:
    assert _shape(a) == _shape(b) is not None
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("a, b", [
    ("SELECT 1, 2", "SELECT 1"),                   # one number more: another statement
    ("SELECT a1b FROM t", "SELECT ab FROM t"),     # a digit run is not nothing
    ("SELECT 1", "SELECT 1 "),                     # a run at the end keeps its place
    ("1 SELECT", " SELECT"),                       # and at the start
    ("SELECT 1 FROM t", "SELECT\t1 FROM t"),       # spaces and tabs stay apart in the key
    ("SELECT\x0b1", "SELECT 1"),
    ("SELECT 1 x", "SELECT 1\nx"),
    ("SELECT '1'", "SELECT 1"),                    # a string is not a number
])
def test_statements_that_differ_beyond_literals_have_other_shapes(a: str, b: str) -> None:
    assert _shape(a) != _shape(b)


@pytest.mark.parametrize("sql", [
    "SELECT 0x1F", "SELECT 1X", "SELECT 0XAB FROM t",          # hex: pt's rules differ
    "call p(1)", "  CALL p(2)", "administrator command: Quit",
    "SELECT /*!40001 SQL_NO_CACHE */ * FROM t",                  # mysqldump's prefix
    "SELECT 1 /*t.c:1/2*/",                                      # pt's checksum comment
    "use db1", "x = 'open",
])
def test_statements_pt_treats_by_their_literal_text_are_not_keyed(sql: str) -> None:
    assert _shape(sql) is None


def test_the_shape_collapses_long_in_lists_in_one_pass() -> None:
    numbers = ", ".join(str(n * 7919 % 100000) for n in range(500))
    sql = f"SELECT * FROM t WHERE id IN ({numbers}) AND x = 'a'"
    shape = _shape(sql)
    assert shape is not None and shape.count(b" ") == 500  # one mark per number
    assert fingerprint(sql) == _fingerprint(sql)
