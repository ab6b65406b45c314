"""Entries whose header does not start with `# Time:` or `# User@Host:` (pt's test corpus
has whole logs of them) are split as pt-query-digest splits them: a `#` line right after a
line that ends a statement with `;` starts a new entry. Before, 2,001 such entries were read
as one, with no error. pt-query-digest is the oracle, event by event."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.slowlog import SlowLogEntry, iter_entries, iter_entries_text
from tests.slowlog_fixtures import pt_events_of

# the shapes pt's corpus holds: no Time and no User@Host at all; Thread_id first (MariaDB
# without log_slow_verbosity's header); a statement with a comment line inside; a normal
# entry among them (the fast path); an administrator command
LOG = """\
# Query_time: 2.000001  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10
use shop;
SET timestamp=1700000000;
SELECT * FROM orders WHERE id = 1;
# Query_time: 3.5  Lock_time: 0.0002 Rows_sent: 2  Rows_examined: 20
SELECT * FROM orders WHERE id = 2;
# Thread_id: 42  Schema: shop  QC_hit: No
# Query_time: 1.25  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 300
SET timestamp=1700000100;
UPDATE stock SET n = n - 1
# inside the statement: no ; before it, so no new entry
WHERE sku = 'a';
# Time: 231114 22:15:01
# User@Host: app[app] @ web1 [10.0.0.5]  Id: 7
# Query_time: 0.75  Lock_time: 0.000050 Rows_sent: 5  Rows_examined: 50
SET timestamp=1700000101;
SELECT name FROM customers WHERE id = 9;
# Query_time: 0.5  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0
# administrator command: Ping;
# Query_time: 4.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1000
SELECT COUNT(*) FROM orders;
"""


def _ours(path: Path) -> list[SlowLogEntry]:
    with open(path, encoding="utf-8") as fh:
        entries = list(iter_entries(fh))
    assert all(isinstance(e, SlowLogEntry) for e in entries), entries
    return entries


@pytest.mark.parametrize("copies", [1, 2001])
def test_header_after_a_statement_starts_an_entry_as_in_pt(tmp_path: Path, copies: int) -> None:
    path = tmp_path / "slow.log"
    path.write_text(LOG * copies, encoding="utf-8")
    pt = pt_events_of(path)
    ours = _ours(path)
    assert len(pt) == 6 * copies
    assert len(ours) == len(pt)
    for n, (entry, event) in enumerate(zip(ours, pt, strict=True)):
        assert entry.sql == event["sql"], n
        assert entry.query_time == event["query_time"], n
        assert entry.rows_examined == event["rows_examined"], n
    # the chunked fast reader splits alike, whatever the chunk size
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for size in (1, 7, 1000):
        chunks = ["".join(lines[i:i + size]) for i in range(0, len(lines), size)]
        fast = list(iter_entries_text(chunks))
        assert [(e.sql, e.query_time) for e in fast] == [(e.sql, e.query_time) for e in ours]
