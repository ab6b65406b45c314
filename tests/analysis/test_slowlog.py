from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import SlowLogParseError
from analysis.slowlog import (
    MAX_NAME_CHARS,
    TRUNCATED,
    SlowLogEntry,
    SlowLogStream,
    iter_entries,
    iter_entries_text,
    parse_entry,
    split_entries,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slowlog"


def read(name: str) -> list[SlowLogEntry | SlowLogParseError]:
    with open(FIXTURES / name, encoding="utf-8") as fh:
        return list(iter_entries(fh))


def only_entries(items) -> list[SlowLogEntry]:
    assert all(isinstance(i, SlowLogEntry) for i in items), items
    return items


RDS_EVENT = """\
# Time: 2026-10-03T10:15:42.123456Z
# User@Host: app[app] @ ip-10-0-0-5.ec2.internal [10.0.0.5]  Id: 1234
# Query_time: 2.000123  Lock_time: 0.000101 Rows_sent: 1  Rows_examined: 1000000
use shop;
SET timestamp=1759486542;
SELECT * FROM orders WHERE id = 1;
"""


# ---- single entries (CloudWatch events) -----------------------------------------------------
def test_parse_rds_event():
    e = parse_entry(RDS_EVENT)
    assert e == SlowLogEntry(
        time=datetime(2026, 10, 3, 10, 15, 42, 123456, tzinfo=UTC),
        user="app", host="ip-10-0-0-5.ec2.internal", ip="10.0.0.5", thread_id=1234,
        db="shop", query_time=2.000123, lock_time=0.000101, rows_sent=1,
        rows_examined=1000000, rows_affected=None, bytes_sent=None, extra={},
        sql="SELECT * FROM orders WHERE id = 1", timestamp=1759486542,
    )
    assert e.time.tzinfo is UTC


def test_entry_is_slotted():
    e = parse_entry(RDS_EVENT)
    assert not hasattr(e, "__dict__")
    with pytest.raises(AttributeError):
        e.not_a_field = 1  # type: ignore[attr-defined]


def test_parse_entry_uses_given_current_db_without_use_line():
    text = RDS_EVENT.replace("use shop;\n", "")
    assert parse_entry(text).db is None
    assert parse_entry(text, current_db="shop").db == "shop"
    assert parse_entry(RDS_EVENT, current_db="other").db == "shop"


def test_stream_carries_use_db_across_events():
    stream = SlowLogStream()
    first = stream.parse(RDS_EVENT)
    second = stream.parse(RDS_EVENT.replace("use shop;\n", ""))
    third = stream.parse(RDS_EVENT.replace("use shop;", "use `other db`;"))
    fourth = stream.parse(RDS_EVENT.replace("use shop;\n", ""))
    assert [first.db, second.db, third.db, fourth.db] == ["shop", "shop", "other db", "other db"]
    assert stream.current_db == "other db"


def test_time_falls_back_to_set_timestamp():
    e = parse_entry(RDS_EVENT.replace("# Time: 2026-10-03T10:15:42.123456Z\n", ""))
    assert e.timestamp == 1759486542
    assert e.time == datetime.fromtimestamp(1759486542, UTC)


def test_iso_time_with_offset_is_converted_to_utc():
    e = parse_entry(RDS_EVENT.replace("2026-10-03T10:15:42.123456Z",
                                      "2026-10-03T19:15:42.123456+09:00"))
    assert e.time == datetime(2026, 10, 3, 10, 15, 42, 123456, tzinfo=UTC)


@pytest.mark.parametrize("stamp, expected", [
    ("261003 10:15:42", datetime(2026, 10, 3, 10, 15, 42, tzinfo=UTC)),
    ("261003  1:05:09", datetime(2026, 10, 3, 1, 5, 9, tzinfo=UTC)),
    ("2026-10-03T10:15:42.5Z", datetime(2026, 10, 3, 10, 15, 42, 500000, tzinfo=UTC)),
    ("2026-10-03T10:15:42", datetime(2026, 10, 3, 10, 15, 42, tzinfo=UTC)),
])
def test_time_formats(stamp, expected):
    e = parse_entry(RDS_EVENT.replace("2026-10-03T10:15:42.123456Z", stamp))
    assert e.time == expected


def test_set_names_is_the_statement_not_metadata():
    e = parse_entry(RDS_EVENT.replace("SELECT * FROM orders WHERE id = 1;", "SET NAMES utf8mb4;"))
    assert e.sql == "SET NAMES utf8mb4"
    assert e.timestamp == 1759486542


def test_insert_id_metadata_goes_to_extra():
    text = RDS_EVENT.replace("SET timestamp=", "SET last_insert_id=7;\nSET insert_id=8;\n"
                                                "SET timestamp=")
    e = parse_entry(text)
    assert e.extra == {"last_insert_id": 7, "insert_id": 8}
    assert e.sql == "SELECT * FROM orders WHERE id = 1"


def test_statement_that_is_only_use():
    e = parse_entry(RDS_EVENT.replace("SET timestamp=1759486542;\nSELECT * FROM orders WHERE"
                                      " id = 1;\n", ""))
    assert e.sql == "use shop"


def test_multiline_statement_kept_intact_only_trailing_semicolon_stripped():
    sql = "SELECT a,\n  b -- c;\n# not a header line\nFROM t WHERE s = 'x;'\n  AND k = '한국어';"
    e = parse_entry(RDS_EVENT.replace("SELECT * FROM orders WHERE id = 1;", sql))
    assert e.sql == sql[:-1]


def test_crlf_and_lines_without_newlines():
    crlf = RDS_EVENT.replace("\n", "\r\n")
    assert parse_entry(crlf).sql == "SELECT * FROM orders WHERE id = 1"
    bare = [ln for ln in RDS_EVENT.replace("1;", "1\n  AND 2;").split("\n") if ln]
    [e] = list(iter_entries(bare))
    assert e.sql == "SELECT * FROM orders WHERE id = 1\n  AND 2"


def test_user_host_variants():
    def uh(line: str) -> tuple:
        e = parse_entry(RDS_EVENT.replace(
            "# User@Host: app[app] @ ip-10-0-0-5.ec2.internal [10.0.0.5]  Id: 1234", line))
        return e.user, e.host, e.ip, e.thread_id

    assert uh("# User@Host: root[root] @ localhost []") == ("root", "localhost", None, None)
    assert uh("# User@Host: app[app] @  [10.0.0.7]  Id:    99") == ("app", None, "10.0.0.7", 99)
    assert uh("# User@Host: [SQL_SLAVE] @  []") == ("SQL_SLAVE", None, None, None)
    assert uh("# User@Host: rdsadmin[rdsadmin] @ localhost [127.0.0.1]  Id:     3") == (
        "rdsadmin", "localhost", "127.0.0.1", 3)


def test_korean_text():
    sql = "SELECT * FROM 고객 WHERE 이름 = '김철수' /* 주문 */"
    e = parse_entry(RDS_EVENT.replace("SELECT * FROM orders WHERE id = 1", sql))
    assert e.sql == sql


@pytest.mark.parametrize("text, reason", [
    ("", "no '# ' header lines"),
    ("complete garbage\nmore garbage\n", "no '# ' header lines"),
    (RDS_EVENT.replace(
        "# Query_time: 2.000123  Lock_time: 0.000101 Rows_sent: 1  Rows_examined: 1000000\n",
        ""), "no '# Query_time:' line"),
    (RDS_EVENT.replace("SELECT * FROM orders WHERE id = 1;\n", "").replace("use shop;\n", ""),
     "no statement"),
    (RDS_EVENT.replace("Query_time: 2.000123", "Query_time: fast"), "bad value"),
    (RDS_EVENT.replace("Rows_sent: 1", "Rows_sent: many"), "bad value"),
    (RDS_EVENT.replace("Query_time: 2.000123", "Query_time: nan"), "bad value"),
    (RDS_EVENT.replace("Lock_time: 0.000101", "Lock_time: -1"), "bad value"),
    (RDS_EVENT.replace("2026-10-03T10:15:42.123456Z", "yesterday"), "bad value"),
    (RDS_EVENT.replace("SELECT * FROM orders WHERE id = 1;", ";"), "empty statement"),
])
def test_malformed_entries_raise_with_reason(text, reason):
    with pytest.raises(SlowLogParseError, match=reason) as info:
        parse_entry(text)
    assert info.value.reason
    assert info.value.text == text[:500]


_FRAGMENTS = [
    "# Time: 2026-10-03T10:15:42.123456Z", "# Time: 261003  1:05:09", "# Time: ",
    "# Time: 2026-13-45T99:99:99Z", "# User@Host: app[app] @ h [1.2.3.4]  Id: 5",
    "# User@Host: ", "# User@Host: x @", "# Query_time: 1.0  Lock_time: 0.0 Rows_sent: 1"
    "  Rows_examined: 2", "# Query_time:", "# Query_time: 1 Lock_time: x Rows_sent: 1"
    " Rows_examined: 1 Extra:", "# Thread_id: 8  Schema:   QC_hit: No",
    "# Rows_affected: x  Bytes_sent: 1", "# explain: id", "#", "# administrator command: Quit;",
    "use shop;", "use ;", "use `a``b`;", "SET timestamp=1759486542;", "SET timestamp=;",
    "SET insert_id=;", "SET timestamp=99999999999999999999;", "SET NAMES utf8mb4;",
    "SELECT 1;", ";", "", "   ", "한국어 '#' ;",
    "/usr/sbin/mariadbd, Version: 10.11 started with:", "Tcp port: 0",
    "Time  Id Command  Argument",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=40)), max_size=25))
def test_garbage_never_crashes(fragments):
    text = "\n".join(fragments) + "\n"
    try:
        e = parse_entry(text)
    except SlowLogParseError:
        pass
    else:
        assert isinstance(e, SlowLogEntry) and e.sql
    for item in iter_entries(text.splitlines(keepends=True)):
        assert isinstance(item, SlowLogEntry | SlowLogParseError)


def test_parse_error_is_an_analysis_error():
    from analysis.errors import AnalysisError

    with pytest.raises(AnalysisError):
        parse_entry("nope")


# ---- hand-written fixture files ---------------------------------------------------------------
def test_fixture_mysql8_rds():
    es = only_entries(read("mysql8_rds.log"))
    assert len(es) == 5
    assert [e.sql.split()[0] for e in es] == ["SELECT", "SELECT", "SET", "INSERT",
                                             "administrator"]
    assert [e.db for e in es] == ["shop", "shop", "shop", "billing", "billing"]
    assert [e.query_time for e in es] == [2.000123, 0.5, 0.00001, 1.25, 3.0]
    assert es[1].sql.startswith("SELECT o.id, c.name\n  FROM orders o\n")
    assert "'김철수'" in es[1].sql and "'# not a header'" in es[1].sql
    assert es[1].sql.endswith(" LIMIT 10, 20")
    assert es[2].sql == "SET NAMES utf8mb4"
    assert (es[2].user, es[2].host, es[2].ip, es[2].thread_id) == ("report", None, "10.0.0.7", 99)
    assert es[3].extra == {"insert_id": 42}
    assert es[3].sql == "INSERT INTO invoices (customer_id, amount) VALUES (7, -12.50)"
    assert es[4].sql == "administrator command: Quit"
    assert es[4].time == datetime(2026, 10, 3, 10, 15, 46, tzinfo=UTC)
    assert all(e.rows_affected is None and e.bytes_sent is None for e in es)


def test_fixture_mysql8_log_slow_extra():
    a, b = only_entries(read("mysql8_slow_extra.log"))
    assert (a.query_time, a.lock_time, a.rows_sent, a.rows_examined) == (
        2.000123, 0.000101, 1, 1000000)
    assert a.thread_id == 22 and a.bytes_sent == 56
    assert a.extra["Read_rnd_next"] == 1000001
    assert a.extra["Start"] == "2026-10-03T10:15:40.123333Z"
    assert a.extra["End"] == "2026-10-03T10:15:42.123456Z"
    assert set(a.extra) == {
        "Errno", "Killed", "Bytes_received", "Read_first", "Read_last", "Read_key",
        "Read_next", "Read_prev", "Read_rnd", "Read_rnd_next", "Sort_merge_passes",
        "Sort_range_count", "Sort_rows", "Sort_scan_count", "Created_tmp_disk_tables",
        "Created_tmp_tables", "Count_hit_tmp_table_size", "Start", "End",
    }
    assert b.extra["Errno"] == 1062 and b.bytes_sent == 11
    assert b.time == datetime(2026, 10, 3, 10, 15, 43, tzinfo=UTC)  # +09:00 converted
    assert b.db == "shop"  # carried from the first entry


def test_fixture_mariadb_old_time_banners_and_inheritance():
    a, b, c = only_entries(read("mariadb_old_time.log"))
    assert a.time == datetime(2026, 10, 3, 1, 5, 9, tzinfo=UTC)
    assert b.time == a.time  # no '# Time:' line: inherited, like pt --inherit-attributes
    assert (a.thread_id, a.db, a.rows_affected, a.bytes_sent) == (8, "shop", 0, 63)
    assert a.extra == {"QC_hit": "No"}
    assert b.sql == "select a, b from t\n# hash comment inside the statement\norder by b"
    assert b.extra["Full_scan"] == "Yes" and b.extra["Merge_passes"] == 0
    assert "explain" not in b.extra
    # the server restart banner between b and c is dropped, not glued onto b's statement
    assert "mariadbd" not in b.sql
    assert c.sql == "create database `new db`"
    assert c.db is None  # explicit empty Schema: the session had no database
    assert (c.user, c.host, c.ip) == ("web", "app1.internal", "10.1.2.3")
    assert c.time == datetime(2026, 10, 3, 11, 15, 42, tzinfo=UTC)


def test_fixture_mariadb_iso_time():
    a, b = only_entries(read("mariadb_iso_time.log"))
    assert a.time == datetime(2026, 10, 3, 10, 15, 42, 654321, tzinfo=UTC)
    assert b.time == a.time
    assert (a.db, b.db) == ("shop", "shop")
    assert b.sql == "SELECT * FROM t WHERE id IN (4, 5)"


def test_fixture_malformed_entries_are_yielded_not_raised():
    items = read("malformed.log")
    errors = [i for i in items if isinstance(i, SlowLogParseError)]
    entries = [i for i in items if isinstance(i, SlowLogEntry)]
    assert [e.sql for e in entries] == ["SELECT 'the good one'"]
    assert len(errors) == 4
    assert [e.line for e in errors] == [1, 3, 7, 11]
    assert "no '# ' header" in errors[0].reason
    assert "Query_time" in errors[1].reason
    assert "no statement" in errors[2].reason
    assert "bad value" in errors[3].reason


def test_split_entries_drops_banners_and_keeps_text():
    with open(FIXTURES / "mariadb_old_time.log", encoding="utf-8") as fh:
        texts = list(split_entries(fh))
    assert len(texts) == 3
    assert texts[0].startswith("# Time: 261003  1:05:09\n# User@Host:")
    assert texts[1].startswith("# User@Host:")
    assert texts[1].endswith("order by b;\n")
    assert all("started with" not in t and "Tcp port" not in t for t in texts)
    # each text parses on its own
    assert parse_entry(texts[2]).sql == "create database `new db`"


def test_split_on_user_host_when_time_is_absent():
    body = "".join(RDS_EVENT.splitlines(keepends=True)[1:])
    texts = list(split_entries((RDS_EVENT + body + body).splitlines(keepends=True)))
    assert len(texts) == 3


def test_iter_entries_is_streaming():
    """Entries come out before the input is exhausted (an endless input works)."""
    endless = itertools.cycle(RDS_EVENT.splitlines(keepends=True))
    first = list(itertools.islice(iter_entries(endless), 1000))
    assert len(first) == 1000
    assert all(isinstance(e, SlowLogEntry) and e.db == "shop" for e in first)


def test_blank_lines_between_entries_are_ignored():
    items = list(iter_entries(("\n\n" + RDS_EVENT + "\n\n" + RDS_EVENT + "\n").splitlines(True)))
    assert len(items) == 2 and all(isinstance(i, SlowLogEntry) for i in items)


# ---- a real slow log from MariaDB ------------------------------------------------------------
def test_real_mariadb_log_every_entry_parses(mariadb_slowlog):
    text = mariadb_slowlog.read_text(encoding="utf-8")
    expected = text.count("\n# Query_time:")
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        items = list(iter_entries(fh))
    errors = [i for i in items if not isinstance(i, SlowLogEntry)]
    assert errors == []
    assert len(items) == expected > 300
    sqls = [e.sql for e in items]
    assert "SET NAMES utf8mb4" in sqls
    assert any("김철수" in s or "이영희" in s for s in sqls)
    assert any("\n# hash comment line\n" in s for s in sqls)
    assert all(e.time is not None and e.user == "root" for e in items)
    assert {"shop", "audit"} <= {e.db for e in items}


def test_real_mariadb_log_matches_pt_query_digest_event_by_event(mariadb_slowlog, pt_events):
    """pt-query-digest's parse of every event (statement text, Query_time, db, user, host,
    Rows_examined) equals ours, in order."""
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        ours = list(iter_entries(fh))
    assert len(ours) == len(pt_events)
    for i, (e, pt) in enumerate(zip(ours, pt_events, strict=True)):
        got = {"sql": e.sql, "query_time": e.query_time, "db": e.db, "user": e.user,
               "host": e.host or e.ip, "rows_examined": e.rows_examined}
        want = {k: pt[k] for k in got}
        assert got == want, f"event #{i} differs"


def test_real_mariadb_log_split_then_parse_per_event(mariadb_slowlog):
    """The CloudWatch path (one entry text at a time through a SlowLogStream) gives the same
    entries as parsing the whole file."""
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        whole = list(iter_entries(fh))
    stream = SlowLogStream()
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        per_event = [stream.parse(text) for text in split_entries(fh)]
    assert per_event == whole


def _entry(user: str = "app", rows: str = "1", query_time: str = "0.5") -> str:
    return (f"# Time: 2026-10-03T10:00:00.000001Z\n# User@Host: {user}[{user}] @  [10.0.1.15]"
            f"  Id: 7\n# Query_time: {query_time}  Lock_time: 0.0 Rows_sent: {rows}  "
            "Rows_examined: 10\nSET timestamp=1790935200;\nSELECT 2;\n")


@pytest.mark.parametrize(("field", "kwargs"), [
    ("rows_sent", {"rows": "1" + "0" * 30}),
    ("rows_sent", {"rows": "-5"}),
    ("query_time", {"query_time": "nan"}),
    ("query_time", {"query_time": "1e12"}),
])
def test_numbers_a_store_cannot_hold_make_the_entry_malformed(field: str, kwargs: dict) -> None:
    text = _entry(**kwargs)
    with pytest.raises(SlowLogParseError, match=f"{field} out of range|bad value"):
        SlowLogStream().parse(text)
    (item,) = list(iter_entries_text([text]))
    assert isinstance(item, SlowLogParseError)


def test_over_long_names_are_cut_with_a_marker() -> None:
    entry = SlowLogStream().parse(_entry(user="u" * 10_000))
    assert entry.user == "u" * MAX_NAME_CHARS + TRUNCATED
    (fast,) = list(iter_entries_text([_entry(user="u" * 10_000)]))
    assert fast.user == entry.user
