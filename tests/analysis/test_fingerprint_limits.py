"""Size limits of analysis.fingerprint (issue 8, point 5).

* A fingerprint is stored cut at ``MAX_FINGERPRINT_CHARS`` with ``…[cut]``, but its query ID
  is the MD5 of the whole fingerprint: long statements sharing a prefix stay two classes.
* A statement longer than ``_LONG_STATEMENT`` goes through the windowed path; it must give
  pt's fingerprint (checked against the Perl code, and against the ordinary path on the whole
  corpus in tiny windows) in a small multiple of its size (measured in a subprocess).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis.fingerprint as fp_module
from analysis.digest import DigestAggregator
from analysis.fingerprint import MAX_FINGERPRINT_CHARS, fingerprint, fingerprint_and_id, query_id
from analysis.slowlog import TRUNCATED, SlowLogEntry
from tests.analysis.test_fingerprint import (
    CORPUS,
    DIVERGENCES,
    EXACT_ONLY,
    PT_FINGERPRINT,
    PT_QUERY_DIGEST,
    file_mode_safe,
    pt_fingerprint_cli,
    pt_rewriter,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 10, 3, 10, 0, tzinfo=UTC)


def _columns(n: int, tail: str = "") -> str:
    """A SELECT whose fingerprint keeps its whole length (no digits, literals or lists)."""
    return "SELECT " + "a, " * n + "b FROM t" + tail


# --- The cap ----------------------------------------------------------------------------------


def test_a_short_fingerprint_is_whole() -> None:
    sql = _columns(20_000)  # 60 K: under the cap, so still byte-identical to pt
    fp, qid = fingerprint_and_id(sql)
    assert fp == sql.lower() and TRUNCATED not in fp
    assert qid == query_id(fp)


def test_a_long_fingerprint_is_cut_with_the_marker_and_keyed_by_the_whole() -> None:
    sql = _columns(50_000)
    whole = sql.lower()  # its fingerprint: nothing to replace
    assert len(whole) > MAX_FINGERPRINT_CHARS
    fp, qid = fingerprint_and_id(sql)
    assert fp == whole[:MAX_FINGERPRINT_CHARS] + TRUNCATED
    assert fingerprint(sql) == fp
    assert qid == query_id(whole) != query_id(fp)


def test_long_statements_sharing_a_prefix_keep_apart() -> None:
    first, second = _columns(50_000, " WHERE x = 1"), _columns(50_000, " WHERE y = 1")
    (fp1, id1), (fp2, id2) = fingerprint_and_id(first), fingerprint_and_id(second)
    assert fp1 == fp2 and fp1.endswith(TRUNCATED)
    assert id1 != id2
    agg = DigestAggregator(fingerprint_and_id)
    for sql in (first, second, first):
        agg.add("db-1", SlowLogEntry(sql=sql, query_time=1.0, time=T0))
    assert sorted(s.count for s in agg.digests()) == [1, 2]


def test_a_10_mb_statement_makes_a_small_digest() -> None:
    """The issue's case: one 10 MB statement made a 21 MB JSON digest."""
    sql = _columns(3_500_000)
    assert len(sql) > 10_000_000
    agg = DigestAggregator(fingerprint_and_id)
    agg.add("db-1", SlowLogEntry(sql=sql, query_time=1.0, time=T0))
    [stats] = agg.digests()
    line = json.dumps(stats.to_dict())
    assert len(line) < 3 * MAX_FINGERPRINT_CHARS  # fingerprint and example, each cut
    assert stats.fingerprint.endswith(TRUNCATED)
    assert stats.to_dict()["examples"][0]["truncated"] is True


# --- The windowed path gives the ordinary path's (and so pt's) result ---------------------------


@pytest.fixture
def tiny_windows(monkeypatch: pytest.MonkeyPatch):
    """Every statement through the windowed path, in windows of ``set(n)`` characters."""
    monkeypatch.setattr(fp_module, "_LONG_STATEMENT", 0)
    return lambda n: monkeypatch.setattr(fp_module, "_WINDOW", n)


_STATEMENTS = list(dict.fromkeys(
    CORPUS + EXACT_ONLY + [d.sql for d in DIVERGENCES] + [d.same_class_as for d in DIVERGENCES]
    + [
        "select 'a''b' , \"x\"\"y\" from t where a = 'unterminated and b = 1",
        "select /* c */ 1 /*! 50000 x */, 2 /* unterminated",
        "select a -- comment\n, b # c\r\n from t where x = tr\\'ue and n = nu\\'ll",
        "SELECT X'AB', 0xABCDEF, 1.5E10, -2e-3, +4 FROM t WHERE a IN ( 1 , 2 ) AND b = NULL\n",
        "  \n\t select\t\ta\n\nfrom t where c = 'é' and d = \udcc3/**/\udca9 and e = TRUE\n",
        "select 'abc\\' ' from t",
        "'",
        "/*",
    ]
))


@pytest.mark.parametrize("window", [1, 2, 3, 5, 64])
def test_windowed_path_equals_the_ordinary_one(window: int, tiny_windows) -> None:
    expected = [fp_module._fingerprint(sql) for sql in _STATEMENTS]
    tiny_windows(window)
    assert [fp_module._fingerprint(sql) for sql in _STATEMENTS] == expected


_PIECES = st.sampled_from([
    "'", '"', "\\", "/*", "*/", "/*!", "#", "--", "\n", "\r", "\t", "  ", " ", ",", "(", ")",
    "?", "0x", "0xAB", "1", "42", "1.5E3", "-", "+", ".", "e", "E", "x", "b", "a", "IN",
    "in", "VALUES", "select ", "SELECT ", "union ", "limit ", "order by ", "asc", "TRUE",
    "false", "NULL", "null", "'x'", "''", '"y"', "é", "\udcc3", "\udca9", "use ", "call ",
])


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(_PIECES, max_size=30).map("".join), st.integers(min_value=1, max_value=9))
def test_windowed_path_equals_the_ordinary_one_generated(sql: str, window: int) -> None:
    expected = fp_module._fingerprint(sql)
    long_statement, old_window = fp_module._LONG_STATEMENT, fp_module._WINDOW
    fp_module._LONG_STATEMENT, fp_module._WINDOW = 0, window
    try:
        assert fp_module._fingerprint(sql) == expected
    finally:
        fp_module._LONG_STATEMENT, fp_module._WINDOW = long_statement, old_window


# Longer than _LONG_STATEMENT at its real value: windowed with the real window size.
LONG_STATEMENTS = {
    "ints": "SELECT id FROM users WHERE id IN ("
    + ", ".join(str(i) for i in range(50_000)) + ")",
    "strings": "SELECT id FROM users WHERE name IN ("
    + ",\n".join(f"'v{i}'" for i in range(40_000)) + ") AND deleted IS NULL",
    "mixed": "SELECT a FROM t WHERE " + "\n  AND ".join(
        f"(c{i} = {i} OR d = 'v{i}' OR e IS NULL OR f = TRUE OR g = 0x{i:x} OR h = -{i}.5e3)"
        f" /* n{i} */" for i in range(3000)
    ),
}


def test_long_statements_take_the_windowed_path() -> None:
    assert all(len(sql) > fp_module._LONG_STATEMENT for sql in LONG_STATEMENTS.values())


@pytest.mark.skipif(PT_FINGERPRINT is None, reason="pt-fingerprint (percona-toolkit) missing")
def test_long_in_lists_equal_pt_fingerprint(tmp_path: Path) -> None:
    names = [n for n, sql in LONG_STATEMENTS.items() if n != "mixed"]  # mixed has TRUE
    assert all(file_mode_safe(LONG_STATEMENTS[n]) for n in names)
    outputs = pt_fingerprint_cli([LONG_STATEMENTS[n] for n in names], tmp_path)
    for name, expected in zip(names, outputs, strict=True):
        assert fingerprint(LONG_STATEMENTS[name]) == expected, name


@pytest.mark.skipif(PT_QUERY_DIGEST is None, reason="pt-query-digest (percona-toolkit) missing")
def test_long_statements_equal_pt_query_digest() -> None:
    outputs = pt_rewriter(PT_QUERY_DIGEST, list(LONG_STATEMENTS.values()))
    for (name, sql), expected in zip(LONG_STATEMENTS.items(), outputs, strict=True):
        fp, qid = fingerprint_and_id(sql)
        assert qid == query_id(expected), name
        if len(expected) <= MAX_FINGERPRINT_CHARS:
            assert fp == expected, name
        else:  # mixed: 177 K
            assert fp == expected[:MAX_FINGERPRINT_CHARS] + TRUNCATED, name


# --- Memory ------------------------------------------------------------------------------------

# Peak RSS over the RSS with the statement built; Linux resets the peak via clear_refs.
_MEASURE = textwrap.dedent("""
    import json, sys, time
    from analysis.fingerprint import fingerprint_and_id

    def rss(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    sql = "SELECT * FROM t WHERE id IN (" + "1, " * int(sys.argv[1]) + "0)"
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = rss("VmRSS")
    start = time.perf_counter()
    fp, qid = fingerprint_and_id(sql)
    seconds = time.perf_counter() - start
    print(json.dumps({"chars": len(sql), "extra": rss("VmHWM") - before,
                      "seconds": seconds, "fingerprint": fp}))
""")


def _clear_refs_works() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _clear_refs_works(), reason="needs Linux /proc/self/clear_refs")
def test_a_20_mb_in_list_takes_a_small_multiple_of_its_size() -> None:
    """``IN (1, 1, ...)`` is the worst shape for re.sub: before, 27 times its size (a
    2-character piece object per number); bench/fingerprint_memory.py prints the figures."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(20_000_000 // 3)], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout)
    assert result["fingerprint"] == "select * from t where id in(?+)"
    assert result["extra"] < 3 * result["chars"], result  # measured: 1.9 to 2.1 times
    assert result["seconds"] < 8, result  # measured: 0.9 to 1.1 s
