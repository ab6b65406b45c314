"""Shapes of pt-query-digest's own test corpus (percona-toolkit's t/lib/samples/slowlogs,
checked by bench/pt_corpus.py) that we once read differently from pt, in small logs written
here, with pt-query-digest as the oracle event by event, so CI checks them without the
corpus.

* A ``# Time:`` line that carries ``# User@Host:`` on the same line (an old MySQL bug): the
  entry was malformed ("unrecognised time"); pt reads the time and the user from that line.
* A Windows server banner (``TCP Port: 3306, Named Pipe: (null)``): its lines were read as a
  malformed entry; pt drops them (``T[cC][pP]\\s[pP]ort:``).
* A ``# Time:`` value that is not a time in such a line: pt keeps the entry without a time,
  we count it as malformed (as for any ``# Time:`` that does not parse): counted, not lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.errors import SlowLogParseError
from analysis.slowlog import SlowLogEntry, iter_entries, iter_entries_text
from tests.slowlog_fixtures import pt_events_of

TIME_AND_USER = """\
# Time: 231114 22:15:01 # User@Host: [repl] @  []
# Thread_id: 12
# Query_time: 0.000120  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
BEGIN;
# User@Host: [repl] @  []
# Thread_id: 12
# Query_time: 1.500000  Lock_time: 0.000050  Rows_sent: 0  Rows_examined: 4200
use inventory;
SET timestamp=1700000101;
UPDATE stock s
   JOIN moves m USING (sku)
   SET s.n = s.n - m.n;
# Time: 231114  9:05:07 # User@Host: app[app] @ web-3.example [10.2.0.7]
# Query_time: 2.250000  Lock_time: 0.000100  Rows_sent: 3  Rows_examined: 77
SELECT * FROM items WHERE sku IN ('a', 'b', 'c');
# Time: 2023-11-14T22:15:09.000001Z # User@Host: app[app] @ web-3 [10.2.0.7]  Id: 99
# User@Host: app[app] @ web-3 [10.2.0.7]  Id: 99
# Query_time: 0.750000  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 1
SELECT name FROM items WHERE sku = 'z';
"""

WINDOWS_BANNER = """\
C:\\Program Files\\MySQL\\bin\\mysqld, Version: 5.1.73-community-log (MySQL). started with:
TCP Port: 3306, Named Pipe: (null)
Time                 Id Command    Argument
# Time: 140305  8:01:02
# User@Host: shop[shop] @ desk.example [192.168.1.20]
# Query_time: 0.312500  Lock_time: 0.000000 Rows_sent: 40  Rows_examined: 40
use shop;
SET timestamp=1394006462;
SELECT * FROM carts;
# Time: 140305  8:01:03
# User@Host: shop[shop] @ desk.example [192.168.1.20]
# Query_time: 0.015625  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 1
SET timestamp=1394006463;
SELECT * FROM carts WHERE id = 7;
"""

NOT_A_TIME = """\
# Time: xyzzyx 10:00:00 # User@Host: [repl] @  []
# Query_time: 0.000100  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
SELECT 1;
# Time: 231114 22:15:01
# User@Host: app[app] @ web [10.0.0.1]
# Query_time: 0.200000  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
SELECT 2;
"""


def _both_readers(path: Path) -> list[SlowLogEntry | SlowLogParseError]:
    """Our entries by the line reader; the chunked fast reader must give the same."""
    with open(path, encoding="utf-8", newline="") as fh:
        items = list(iter_entries(fh))
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for size in (1, 3, 1000):
        chunks = ["".join(lines[i:i + size]) for i in range(0, len(lines), size)]
        fast = list(iter_entries_text(chunks))
        assert [(type(e), getattr(e, "sql", None), getattr(e, "query_time", None))
                for e in fast] == [(type(e), getattr(e, "sql", None),
                                    getattr(e, "query_time", None)) for e in items]
    return items


@pytest.mark.parametrize("log, count", [(TIME_AND_USER, 4), (WINDOWS_BANNER, 2)],
                         ids=["time-and-user-on-one-line", "windows-banner"])
def test_pt_corpus_shapes_read_as_pt_reads_them(tmp_path: Path, log: str, count: int) -> None:
    path = tmp_path / "slow.log"
    path.write_text(log, encoding="utf-8")
    pt = pt_events_of(path)
    items = _both_readers(path)
    assert len(pt) == count
    assert all(isinstance(e, SlowLogEntry) for e in items), items
    assert len(items) == len(pt)
    for n, (entry, event) in enumerate(zip(items, pt, strict=True)):
        assert entry.sql == event["sql"], n
        assert entry.query_time == event["query_time"], n
        assert entry.rows_examined == event["rows_examined"], n
        assert entry.db == event["db"], n
        if not event["user"].startswith("["):  # pt keeps the brackets of "[repl]"
            assert entry.user == event["user"], n


def test_time_and_user_on_one_line_give_both(tmp_path: Path) -> None:
    path = tmp_path / "slow.log"
    path.write_text(TIME_AND_USER, encoding="utf-8")
    first, second, third, fourth = _both_readers(path)
    assert first.time is not None and first.time.isoformat() == "2023-11-14T22:15:01+00:00"
    assert first.user == "repl" and first.thread_id == 12
    assert second.time == first.time  # inherited, as pt's --inherit-attributes ts
    assert third.time.isoformat() == "2023-11-14T09:05:07+00:00"  # "231114  9:05:07"
    assert (third.user, third.host, third.ip) == ("app", "web-3.example", "10.2.0.7")
    assert fourth.time.isoformat() == "2023-11-14T22:15:09.000001+00:00"
    assert fourth.thread_id == 99


def test_a_time_that_is_not_one_is_counted_as_malformed_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "slow.log"
    path.write_text(NOT_A_TIME, encoding="utf-8")
    pt = pt_events_of(path)
    items = _both_readers(path)
    assert len(pt) == 2  # pt keeps the entry, without a time
    assert len(items) == len(pt)  # one entry each: none merged, none dropped
    bad, good = items
    assert isinstance(bad, SlowLogParseError) and "unrecognised time" in bad.reason
    assert bad.line == 1
    assert isinstance(good, SlowLogEntry) and good.sql == pt[1]["sql"] == "SELECT 2"
