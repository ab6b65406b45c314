"""The fast path (`_STANDARD` + `_parse_standard`, used by `iter_entries_text`) covers what
MariaDB 10.x/11.x writes (``# Thread_id: … Schema: … QC_hit:``, ``# Rows_affected: …
Bytes_sent:``, log_slow_verbosity=query_plan,explain lines) and MySQL 8's
``log_slow_extra=ON`` fields, and gives exactly what the general way (`iter_entries`) gives,
whatever the deviations; pt-query-digest is the oracle on crafted logs of these shapes.

The equivalence is checked on random logs that mix the layouts with lines the general way
treats specially; the coverage test fails if an entry of these shapes stops taking the fast
path (that is what made MariaDB's logs 3x slower to read than MySQL's)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from analysis.slowlog import (
    _MYSQL_DEFAULT_LF,
    _STANDARD,
    _STANDARD_LF,
    SlowLogEntry,
    SlowLogStream,
    _next_entry_start,
    iter_entries,
    iter_entries_text,
)
from tests.slowlog_fixtures import pt_events_of
from tests.test_digest_command import _chunks, _items

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slowlog"

MARIADB = """\
# Time: 261130 22:08:37
# User@Host: root[root] @ localhost []
# Thread_id: 4  Schema:   QC_hit: No
# Query_time: 0.000096  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# Rows_affected: 0  Bytes_sent: 11
SET timestamp=1796076517;
SET NAMES utf8mb4;
# User@Host: app[app] @ web1 [10.0.0.5]
# Thread_id: 6  Schema: shop  QC_hit: No
# Query_time: 0.000144  Lock_time: 0.000019  Rows_sent: 8  Rows_examined: 102
# Rows_affected: 0  Bytes_sent: 299
# Tmp_tables: 1  Tmp_disk_tables: 0  Tmp_table_sizes: 1114048
# Full_scan: Yes  Full_join: No  Tmp_table: Yes  Tmp_table_on_disk: No
# Filesort: Yes  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No
#
# explain: id\tselect_type\ttable\ttype\tpossible_keys\tkey\tkey_len\tref\trows\tExtra
# explain: 1\tSIMPLE\tc\tALL\tPRIMARY\tNULL\tNULL\tNULL\t34\tUsing temporary; Using filesort
#
use `shop`;
SET timestamp=1796076517;
SELECT c.name, SUM(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id
 GROUP BY c.name;
# User@Host: app[app] @ web1 [10.0.0.5]
# Thread_id: 6  Schema: shop  QC_hit: Yes
# Query_time: 0.000045  Lock_time: 0.000012  Rows_sent: 1  Rows_examined: 1
# Rows_affected: 0  Bytes_sent: 88
SET timestamp=1796076518;
SELECT name FROM customers WHERE id IN (71,13);
"""

MYSQL8_EXTRA = """\
# Time: 2026-10-03T10:15:42.123456Z
# User@Host: app[app] @ ip-10-0-0-5 [10.0.0.5]  Id:    22
# Query_time: 2.000123  Lock_time: 0.000101 Rows_sent: 1  Rows_examined: 1000000 \
Thread_id: 22 Errno: 0 Killed: 0 Bytes_received: 0 Bytes_sent: 56 Read_first: 1 Read_last: 0 \
Read_key: 1 Read_next: 0 Read_prev: 0 Read_rnd: 0 Read_rnd_next: 1000001 Sort_merge_passes: 0 \
Sort_range_count: 0 Sort_rows: 0 Sort_scan_count: 0 Created_tmp_disk_tables: 0 \
Created_tmp_tables: 0 Count_hit_tmp_table_size: 0 Start: 2026-10-03T10:15:40.123333Z \
End: 2026-10-03T10:15:42.123456Z
use shop;
SET timestamp=1759486540;
SELECT * FROM orders WHERE total > 100;
# Time: 2026-10-03T10:15:43.000000Z
# User@Host: app[app] @ ip-10-0-0-5 [10.0.0.5]  Id:    23
# Query_time: 0.100000  Lock_time: 0.000001 Rows_sent: 0  Rows_examined: 5 Thread_id: 23 \
Errno: 1062 Killed: 0 Bytes_received: 71 Bytes_sent: 11 Read_first: 0 Read_last: 0 \
Read_key: 1 Read_next: 0 Read_prev: 0 Read_rnd: 0 Read_rnd_next: 0 Sort_merge_passes: 0 \
Sort_range_count: 0 Sort_rows: 0 Sort_scan_count: 0 Created_tmp_disk_tables: 0 \
Created_tmp_tables: 0 Count_hit_tmp_table_size: 0 Start: 2026-10-03T10:15:42.900000Z \
End: 2026-10-03T10:15:43.000000Z
SET timestamp=1759486542;
INSERT INTO orders (id, note) VALUES (1, 'dup');
"""


def _fast_entries(text: str) -> int:
    """How many entries of ``text`` the fast path takes, walking it as iter_entries_text
    does (an entry it refuses goes the general way up to the next entry start)."""
    stream = SlowLogStream()
    pos = fast = 0
    while pos < len(text):
        m = _STANDARD.match(text, pos)
        if m is not None and stream._parse_standard(m.groups()) is not None:
            fast += 1
            pos = m.end()
            continue
        stop = _next_entry_start(text, pos + 1, len(text))
        for _ in iter_entries(io.StringIO(text[pos:stop], newline=""), stream):
            pass
        pos = stop
    return fast


@pytest.mark.parametrize("log, count", [(MARIADB, 3), (MYSQL8_EXTRA, 2)],
                         ids=["mariadb-query-plan-explain", "mysql8-log-slow-extra"])
def test_server_layouts_take_the_fast_path_and_agree_with_pt(tmp_path: Path, log: str,
                                                             count: int) -> None:
    assert _fast_entries(log) == count
    assert _fast_entries((FIXTURES / "mysql8_slow_extra.log").read_text()) == 2
    path = tmp_path / "slow.log"
    path.write_text(log, encoding="utf-8")
    pt = pt_events_of(path)
    fast = list(iter_entries_text([log]))
    assert len(fast) == len(pt) == count
    for n, (entry, event) in enumerate(zip(fast, pt, strict=True)):
        assert isinstance(entry, SlowLogEntry)
        assert entry.sql == event["sql"], n
        assert entry.query_time == event["query_time"], n
        assert entry.rows_examined == event["rows_examined"], n
        assert entry.db == event["db"], n
        assert entry.user == event["user"], n
    assert fast == list(iter_entries(io.StringIO(log, newline="")))


def test_mariadb_fields_as_the_general_way_reads_them() -> None:
    first, second, third = iter_entries_text([MARIADB])
    assert first.db is None and first.thread_id == 4 and first.bytes_sent == 11
    assert second.db == third.db == "shop" and second.rows_affected == 0
    assert second.extra["Tmp_table_sizes"] == 1114048 and second.extra["Full_scan"] == "Yes"
    assert third.extra == {"QC_hit": "Yes"}  # nothing left over from the entry before
    assert third.time == first.time  # MariaDB left out the repeated # Time:


def test_real_mariadb_log_mostly_takes_the_fast_path(mariadb_slowlog: Path) -> None:
    text = mariadb_slowlog.read_text(encoding="utf-8")
    entries = [e for e in iter_entries(io.StringIO(text, newline=""))
               if isinstance(e, SlowLogEntry)]
    # statements with a "#" comment line, a Quit: the general way; the rest: fast
    assert _fast_entries(text) >= 0.9 * len(entries)
    assert list(iter_entries_text([text])) == entries


# ---- equivalence on random logs ----------------------------------------------------------------
_LINES: dict[str, list[str]] = {
    "time": ["# Time: 261130 22:08:37", "# Time: 261130  2:08:38", "# Time: 261130 22:08:37 ",
             "# Time: 2026-10-03T10:00:00.000001Z", "# Time: 2026-13-40T99:00:00Z",
             "# Time: 071218 11:48:27 # User@Host: [SQL_SLAVE] @  []", "# Time:261130 1:00:00"],
    "user": ["# User@Host: root[root] @ localhost []", "# User@Host: app[app] @ web1 [10.0.0.5]",
             "# User@Host: app[app] @  [10.0.1.15]  Id:  62898", "# User@Host: a @ b Id: 7",
             "# User@Host: app[app] @  [10.0.1.15]  Id:\t5", "# User@Host: app[app] @ h []  Id:5 ",
             "# User@Host: app[app] @ h [] Id: 5x", "# User@Host: Id: 3[x] @ h [] Id: 4",
             "# User@Host: app[app] @  [10.0.1.15]  Id: 99999999999999999999",
             "# User@Host: " + "u" * 300 + "[u] @ h []",
             "# User@Host: x[x] @ h [" + "9" * 300 + "]"],
    "thread": ["# Thread_id: 4  Schema: shop  QC_hit: No", "# Thread_id: 4  Schema:   QC_hit: No",
               "# Thread_id: 5  Schema: `we``ird`  QC_hit: Yes",
               "# Thread_id: 6  Schema: a:b  QC_hit: No",
               "# Thread_id: 7  Schema: shop:  QC_hit: No",
               "# Thread_id: 8  Schema: 한국  QC_hit: No",
               "# Thread_id: 99999999999999999999  Schema: s  QC_hit: No",
               "# Thread_id: 10  Schema: foo  Last_errno: 0  Killed: 0",
               "# Thread_id: 11  Schema: " + "d" * 300 + "  QC_hit: No"],
    "qt": ["# Query_time: 0.000096  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0",
           "# Query_time: 1.500000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 Thread_id: 22"
           " Errno: 0 Bytes_sent: 56 Read_rnd_next: 1000001 Start: 2026-10-03T10:15:40.123333Z"
           " End: 2026-10-03T10:15:42.123456Z",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 Schema: other",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 Query_time: 2e7",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 Bytes_sent: x",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 Thread_id: -3",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 ",
           "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10  Rows_affected: 0",
           "# Query_time: 1.2.3  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 20000000.0  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 10"],
    "ra": ["# Rows_affected: 0  Bytes_sent: 11", "# Rows_affected: 3  Bytes_sent: 63  Rows_read: 5",
           "# Rows_affected: 99999999999999999999  Bytes_sent: 1"],
    "post": ["# Tmp_tables: 1  Tmp_disk_tables: 0  Tmp_table_sizes: 1114048",
             "# Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No",
             "# Filesort: Yes  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: Yes",
             "#", "# explain: id\tselect_type\ttable", "# explain: 1\tSIMPLE\tt\tUsing where;",
             "# Rows_examined: 5", "# Schema: other", "# Foo: 1\x0bBar: 2", "#\tx",
             "# administrator command: Quit;", "# Time: 261130 22:08:39", "# Lock_time: 1e99",
             "# User@Host: a[a] @ b []", "# Full_scan: Yes;", "# Key: -0.5  Other:"],
    "use": ["use `shop`;", "use shop;", "use nosemi", "use ;", "use " + "d" * 300 + ";"],
    "set": ["SET timestamp=1796076517;", "SET timestamp=17960765x;", "SET insert_id=5;"],
    "sql": ["SELECT 1;", "SELECT a\nFROM t\nWHERE b = 2;", "select 'caf\udcff';",
            "# administrator command: Quit;", ";", "SELECT 1\n# comment\nFROM t;",
            "SELECT 1\n\nFROM t;", "use other;", "SELECT x, Version: y;", "SELECT 4;\r\nSELECT 5;",
            "/usr/sbin/mariadbd, Version: 10.11 started with:\nTcp port: 0\n"
            "Time  Id Command  Argument\nSELECT 3;"],
}


def _entry(rnd: random.Random) -> str:
    def pick(kind: str, common: str | None = None, p: float = 0.8) -> str:
        return common if common is not None and rnd.random() < p else rnd.choice(_LINES[kind])

    lines = []
    mysql = rnd.random() < 0.3  # MySQL's default layout, but for the odd line
    if rnd.random() < 0.5:
        lines.append(pick("time", "# Time: 2026-10-03T10:00:00.000001Z" if mysql
                          else "# Time: 261130 22:08:37"))
    if rnd.random() < 0.95:
        lines.append(pick("user", "# User@Host: app[app] @  [10.0.1.15]  Id:  62898" if mysql
                          else "# User@Host: app[app] @ web1 [10.0.0.5]"))
    if rnd.random() < (0.05 if mysql else 0.7):
        lines.append(pick("thread", "# Thread_id: 6  Schema: shop  QC_hit: No"))
    if rnd.random() < 0.1:
        lines.append(pick("post"))
    lines.append(pick("qt", _LINES["qt"][1 if mysql else rnd.randrange(3)]))
    if rnd.random() < (0.05 if mysql else 0.7):
        lines.append(pick("ra", "# Rows_affected: 0  Bytes_sent: 88"))
    for _ in range(rnd.choice([0] * 8 + [1] if mysql else [0, 0, 1, 3, 6])):
        lines.append(pick("post", _LINES["post"][rnd.randrange(6)]))
    if rnd.random() < 0.3:
        lines.append(pick("use", "use `shop`;"))
    if rnd.random() < 0.95:
        lines.append(pick("set", "SET timestamp=1796076517;", 0.9))
    lines.append(pick("sql", f"SELECT * FROM t WHERE id = {rnd.randint(0, 9)};", 0.7))
    return "\n".join(lines) + "\n"


def _log(rnd: random.Random) -> bytes:
    text = "".join(_entry(rnd) + rnd.choice(["", "", "", "\n", "junk\n"])
                   for _ in range(rnd.randint(1, 25)))
    if rnd.random() < 0.1:
        text = text.replace("\n", "\r\n")
    if rnd.random() < 0.1:
        text = text.rstrip("\n")
    return text.encode("utf-8", "surrogateescape")


def _mysql_default_entries(text: str) -> int:
    """How many entries of ``text`` (no \r) MySQL's default layout's regex matches and
    `_parse_standard` takes, checking that _STANDARD_LF's match reads the same there."""
    taken = pos = 0
    while pos < len(text):
        m = _MYSQL_DEFAULT_LF.match(text, pos)
        if m is None:
            pos = _next_entry_start(text, pos + 1, len(text))
            continue
        standard = _STANDARD_LF.match(text, pos)
        assert standard is not None and standard.end() == m.end()
        assert (SlowLogStream()._parse_standard(m.groups())
                == SlowLogStream()._parse_standard(standard.groups()))
        taken += 1
        pos = m.end()
    return taken


def test_fast_path_equals_the_general_way_on_random_server_layouts() -> None:
    rnd = random.Random(1011)
    fast_taken = default_taken = 0
    for _ in range(1500):
        data = _log(rnd)
        lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace",
                                 newline="")
        expected = _items(iter_entries(lines))
        assert _items(iter_entries_text(_chunks(data, rnd, 600))) == expected, data
        text = data.decode("utf-8", "replace")
        fast_taken += _fast_entries(text)
        if "\r" not in text:
            default_taken += _mysql_default_entries(text)
    assert fast_taken > 3000  # the random logs exercise the fast path, not only the general
    assert default_taken > 300  # and MySQL's default layout's own regex


def test_mysql_default_layout_takes_its_own_regex() -> None:
    """What RDS for MySQL writes by default: every entry matched by _MYSQL_DEFAULT_LF, read
    as _STANDARD_LF's match reads it; a MariaDB entry is not matched by it."""
    log = MYSQL8_EXTRA.split("# Time: 2026-10-03T10:15:43")[0]
    log = log.replace(log[log.index(" Thread_id: 22"):log.index("\nuse shop")], "")
    log += ("# Time: 2026-10-03T10:15:43.000001Z\n"
            "# User@Host: app[app] @  [10.0.1.15]  Id:  62898\n"
            "# Query_time: 0.5  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10\n"
            "SET timestamp=1759486543;\nSELECT 2;\n")
    assert _mysql_default_entries(log) == 2
    assert _mysql_default_entries(MARIADB) == 0
    first, second = iter_entries_text([log])
    assert (first.db, first.thread_id, second.db, second.thread_id) == ("shop", 22, "shop", 62898)
    assert list(iter_entries_text([log])) == list(iter_entries(io.StringIO(log, newline="")))
