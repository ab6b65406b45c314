"""The pure helpers behind the API's hardening: depth and size without recursion, short
excerpts, redacted URLs, CSV cells a spreadsheet will not run, and the plan parser's limits."""

from __future__ import annotations

import csv
import doctest
import io
import json
import random

import pytest

import analysis.nesting
import analysis.safe_text
import components.csv_safety
from analysis.errors import PlanParseError
from analysis.masking import mask_capture, mask_digest, mask_message
from analysis.nesting import json_size, json_text_depth, value_depth
from analysis.plan import MAX_PLAN_DEPTH, parse_plan
from analysis.safe_text import excerpt, redact_urls
from components.csv_safety import safe_cell
from components.digest_table import digests_csv


@pytest.mark.parametrize("module", [analysis.nesting, analysis.safe_text,
                                    components.csv_safety])
def test_doctests(module) -> None:
    assert doctest.testmod(module).failed == 0


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.choice(["list", "dict", "str", "num"] if depth < 6 else ["str", "num"])
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {rng.choice(["a", "[", "}", '"q"', "\\"]) + str(i): _random_json(rng, depth + 1)
                for i in range(rng.randint(0, 3))}
    if kind == "str":
        return rng.choice(["", "[[[", "]}", '"', "\\\"[", "x\ny", "é{"])
    return rng.choice([0, -1.5, 10**20, True, None])


def _reference_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_reference_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_reference_depth, value.values()), default=0)
    return 0


def test_depth_and_size_agree_with_json_on_random_documents() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = _random_json(rng)
        text = json.dumps(value, indent=rng.choice([None, 2]))
        assert json_text_depth(text) == _reference_depth(value), text
        assert value_depth(value, 100) == _reference_depth(value)
        # escapes are not expanded, so the size is at most the compact text's length
        compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        assert json_size(value, 10**9) <= len(compact)


def test_size_is_exact_without_escapes_and_stops_early() -> None:
    value = {"a": [1, "xy", None, True, 2.5, {}], "bb": []}
    assert json_size(value, 10**6) == len(json.dumps(value, separators=(",", ":")))
    assert json_size(["x" * 100] * 1_000_000, 1000) > 1000  # past the limit: stopped


def test_depth_of_a_million_levels_costs_no_recursion() -> None:
    assert json_text_depth("[" * 1_000_000) == 1_000_000
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert value_depth(deep, 50) == 51


def test_excerpts_are_short_whatever_the_input() -> None:
    assert len(excerpt("z" * 10**7)) < 130
    assert excerpt("abc", quote=False) == "abc"
    assert excerpt(list(range(10**5))) == "a list of 100,000 items"
    assert excerpt(10**5000) == "a number of 16,610 bits"


@pytest.mark.parametrize(("text", "expected"), [
    ("Could not connect to the endpoint URL: \"http://user:secret@10.0.0.1:4566/\"",
     "Could not connect to the endpoint URL: \"http://***@10.0.0.1:4566/\""),
    ("mongodb://u:p@ss:w@h1:27017,h2/db?x=1", "mongodb://***@h1:27017,h2/db?x=1"),
    ("https://host/path?q=a@b", "https://host/path?q=a@b"),
    ("mail admin@example.com at http://host:80", "mail admin@example.com at http://host:80"),
])
def test_urls_lose_their_credentials_only(text: str, expected: str) -> None:
    assert redact_urls(text) == expected


def test_csv_cells_that_would_run_are_quoted_and_numbers_kept() -> None:
    for value in ("=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\tx", "\rx"):
        assert safe_cell(value) == "'" + value
    assert [safe_cell(v) for v in (-3, -0.5, 0, "a=b", "", None)] == [-3, -0.5, 0, "a=b", "",
                                                                       None]
    rows = [{"rank": 1, "instance_id": "=HYPERLINK(\"http://evil\")", "period": "2026-10",
             "query_id": "-1", "fingerprint": "@x", "total_time": -1.5, "pct": 12.345,
             "calls": 3}]
    (record,) = list(csv.DictReader(io.StringIO(digests_csv(rows))))
    assert record["instance_id"] == "'=HYPERLINK(\"http://evil\")"
    assert (record["query_id"], record["fingerprint"]) == ("'-1", "'@x")
    assert (record["total_time_s"], record["pct_of_total"]) == ("-1.5", "12.35")


@pytest.mark.parametrize("text", [
    "".join("    " * i + "-> Filter: (a = 1)\n" for i in range(500)),
    "[" * 1_000_000,
    '{"query_block": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
    '{"query_block": ' + '{"query_block": ' * (MAX_PLAN_DEPTH + 5) + '{"select_id": 1}'
    + "}" * (MAX_PLAN_DEPTH + 6),
])
def test_deep_plans_are_a_parse_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(PlanParseError, match="nested too deeply"):
        parse_plan(text)


def test_a_deep_decoded_plan_is_a_parse_error() -> None:
    doc: dict = {"select_id": 1}
    for _ in range(100_000):
        doc = {"query_block": doc}
    with pytest.raises(PlanParseError, match="nested too deeply"):
        parse_plan(doc)


def test_plan_errors_quote_little_of_a_huge_value() -> None:
    huge = "9" * 1_000_000 + "x"
    with pytest.raises(PlanParseError) as failure:
        parse_plan({"query_block": {"select_id": 1, "table": {
            "table_name": "t", "access_type": "ALL", "rows": huge}}})
    assert len(str(failure.value)) < 300
    with pytest.raises(PlanParseError) as failure:
        parse_plan({"query_block": {"select_id": 1, "table": {
            "table_name": "t", "access_type": "ALL", "rows": 10**400}}})
    assert "expected a number" in str(failure.value) and len(str(failure.value)) < 300


def test_documents_are_masked_and_the_originals_left_alone() -> None:
    digest = {"fingerprint": "select ?", "examples": [{"sql": "SELECT 'a@b.c'", "db": "d"}]}
    assert mask_digest(digest)["examples"] == [{"sql": "SELECT ?", "db": "d"}]
    assert digest["examples"][0]["sql"] == "SELECT 'a@b.c'"
    capture = {"sql_text": "SELECT 42", "plan_error": "not explainable: unterminated quoted "
                                                      "string starting at offset 7"}
    assert mask_capture(capture) == {"sql_text": "SELECT ?",
                                     "plan_error": capture["plan_error"]}
    assert mask_message("1064: ... near 'x' AND b = 'y'' at line 3") == "1064: ... near ? at " \
                                                                         "line 3"
