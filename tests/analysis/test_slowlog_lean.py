"""`SlowLogStream(keep_extra=False)`, what `app.py digest` reads with: `iter_entries_text`
gives exactly what `iter_entries` gives, except that ``extra`` is empty -- every attribute,
every error and its line, and the stream's state; and the shortcuts it takes (MySQL 8's
log_slow_extra tail read by one regex, header lines skipped when they name no entry field)
still leave the entry on the fast path."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from typing import Any

from analysis.errors import SlowLogParseError
from analysis.slowlog import (
    _MYSQL8_EXTRA,
    _STANDARD_LF,
    SlowLogEntry,
    SlowLogStream,
    _lean_fields,
    iter_entries,
    iter_entries_text,
)
from tests.analysis import test_slowlog_fast_path as fast

MANUAL_TAIL = ("Thread_id: 22 Errno: 0 Killed: 0 Bytes_received: 0 Bytes_sent: 56 Read_first: 1 "
               "Read_last: 0 Read_key: 1 Read_next: 0 Read_prev: 0 Read_rnd: 0 "
               "Read_rnd_next: 1000001 Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: 0 "
               "Sort_scan_count: 0 Created_tmp_disk_tables: 0 Created_tmp_tables: 0 "
               "Start: 2026-10-03T10:15:40.123333Z End: 2026-10-03T10:15:42.123456Z")
QT = "# Query_time: 1.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10 "
# Query_time lines whose tail the regex takes, the general pairs reader takes, or neither
TAILS = [
    QT + MANUAL_TAIL,
    QT + MANUAL_TAIL.replace("Start:", "Count_hit_tmp_table_size: 0 Start:"),
    QT + MANUAL_TAIL + "  ",
    QT + MANUAL_TAIL.replace("Bytes_sent: 56", "Bytes_sent: 99999999999999999999"),
    QT + MANUAL_TAIL.replace("End: 2026", "End: 2026:"),
    QT + MANUAL_TAIL.replace("Errno: 0", "Errno: 0 Rows_affected: 3"),
    QT + MANUAL_TAIL.replace("Killed: 0", "Killed:"),
    QT + MANUAL_TAIL + " Schema: other",
    QT + MANUAL_TAIL + " Query_time: 3.5",
    QT + MANUAL_TAIL + " Thread_id: 23",
    QT + "Thread_id: 7 Bytes_sent: -1",
    QT + "Thread_id: x7",
    QT + "stray Bytes_sent: 5",
    QT + "Bytes_sent: 5 Bytes_sent: 6",
]


def _lean(items: Any) -> list[Any]:
    return [(e.reason, e.line, e.text) if isinstance(e, SlowLogParseError)
            else replace(e, extra={}) for e in items]


def _log(rnd: random.Random) -> bytes:
    data = fast._log(rnd)
    if rnd.random() < 0.5:  # MySQL 8 tails, most of them the manual's layout
        text = data.decode("utf-8", "surrogateescape")
        for line in fast._LINES["qt"][:3]:
            while line in text:
                tail = TAILS[0] if rnd.random() < 0.6 else rnd.choice(TAILS)
                text = text.replace(line, tail, 1)
        data = text.encode("utf-8", "surrogateescape")
    return data


def test_lean_stream_gives_the_general_way_without_extra() -> None:
    rnd = random.Random(1012)
    for _ in range(1500):
        data = _log(rnd)
        lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace",
                                 newline="")
        general = SlowLogStream()
        expected = _lean(iter_entries(lines, general))
        stream = SlowLogStream(keep_extra=False)
        got = _lean(iter_entries_text(fast._chunks(data, rnd, 600), stream))
        assert got == expected, data
        assert all(not e.extra for e in got if isinstance(e, SlowLogEntry))
        assert (stream.current_db, stream.last_time) == (general.current_db, general.last_time)


def test_server_layouts_stay_on_the_lean_fast_path() -> None:
    for log, count in ((fast.MARIADB, 3), (fast.MYSQL8_EXTRA, 2)):
        stream = SlowLogStream(keep_extra=False)
        pos = taken = 0
        while (m := _STANDARD_LF.match(log, pos)) is not None:
            assert stream._parse_standard(m.groups()) is not None
            taken += 1
            pos = m.end()
        assert (taken, pos) == (count, len(log))
        entries = list(iter_entries_text([log], SlowLogStream(keep_extra=False)))
        assert entries == _lean(iter_entries(io.StringIO(log, newline="")))


def test_mysql8_tail_shortcut() -> None:
    assert _MYSQL8_EXTRA(MANUAL_TAIL) is not None
    assert _lean_fields(None, MANUAL_TAIL, None) == (22, 56)
    assert _lean_fields(None, TAILS[1][len(QT):], None) == (22, 56)
    assert _lean_fields(None, "Thread_id: 5 Bytes_sent: 7 Foo: x", None) == (5, 7)
    assert _lean_fields(None, "Bytes_sent: 5 Bytes_sent: 6", None) == (None, 6)  # last wins
    # a field that sets an entry attribute other than these two: read the usual way
    for tail in ("Thread_id: 5 Rows_affected: 3", "Schema: x", "Killed:", "stray Foo: 1"):
        assert _lean_fields(None, tail, None) is None
    assert _lean_fields("# Schema: other\n", None, None) is None
    assert _lean_fields(None, None, "# Full_scan: Yes  Full_join: No\n") == (None, None)
