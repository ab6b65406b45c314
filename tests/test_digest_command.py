"""`python app.py digest FILE`: parallel runs equal one pass, the command line, and pt.

The parallel digest cuts a file into byte ranges at entry starts; a worker starting mid-file
must know the database (`use db;` is written only when it changes) and the time (`# Time:`
is left out when it repeats) in force at its start. The crafted log below puts every kind of
entry that sets, or looks as if it sets, either of them around the cuts, and the tests cut
it (and the parser fixtures) at every entry start.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis import fingerprint as fp_module
from analysis.digest import DigestAggregator
from analysis.errors import SlowLogParseError
from analysis.slowlog import (
    SlowLogEntry,
    SlowLogStream,
    _split,
    iter_entries,
    iter_entries_text,
)
from commands import digest
from demo.slowlog_generator import write_slow_log

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "slowlog"
PT_QUERY_DIGEST = shutil.which("pt-query-digest")

BANNER = ("/usr/sbin/mysqld, Version: 8.0.35 (Source distribution). started with:\n"
          "Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
          "Time                 Id Command    Argument\n")


def _entry(qt: float, sql: str, *, time: str | None = None, use: str | None = None,
           user: str = "app", thread: int = 11, header: str = "") -> str:
    lines = [f"# Time: {time}"] if time else []
    lines.append(f"# User@Host: {user}[{user}] @  [10.0.0.1]  Id: {thread:>5}")
    if header:
        lines.append(header)
    lines.append(f"# Query_time: {qt:.6f}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10")
    if use:
        lines.append(f"use {use};")
    lines.append("SET timestamp=1790935200;")
    lines.append(sql)
    return "\n".join(lines) + "\n"


CRAFTED = "".join([
    BANNER,
    _entry(1.0, "SELECT * FROM orders WHERE id = 1;", time="2026-10-03T10:00:00.000001Z",
           use="shop"),
    # no `# Time:`: these inherit 10:00:00 (and shop)
    _entry(2.0, "SELECT * FROM orders WHERE id = 2;", thread=12),
    _entry(2.0, "SELECT * FROM orders WHERE id = 3;", user="batch", thread=13),
    # a `use` line inside a statement changes nothing
    _entry(0.5, "SELECT name\nuse billing;\nFROM t WHERE id = 7;",
           time="2026-10-03T11:00:00.000002Z", thread=14),
    # malformed (no Query_time line): neither its `use` nor its `# Time:` count
    "# Time: 2026-10-03T12:00:00.000003Z\n"
    "# User@Host: app[app] @  [10.0.0.1]  Id:    15\n"
    "use members;\nSET timestamp=1790942400;\nSELECT 'no query time';\n",
    _entry(0.25, "SELECT * FROM orders WHERE id = 4;", thread=16),
    # a statement that is itself a USE: the database stays
    "# Time: 2026-10-03T13:00:00.000004Z\n"
    "# User@Host: app[app] @  [10.0.0.1]  Id:    17\n"
    "# Query_time: 0.000100  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\n"
    "use catalog;\n",
    _entry(2.0, "SELECT * FROM orders WHERE id = 5;", thread=18),
    # MariaDB: Schema: sets the database; an old-format time
    _entry(0.125, "SELECT 1;", time="261003 14:00:00", user="root",
           header="# Thread_id: 8  Schema: billing  QC_hit: No"),
    # an explicitly empty Schema: this entry has none, the stream keeps billing
    _entry(0.0625, "SELECT 2;", user="root", header="# Thread_id: 9  Schema:   QC_hit: No"),
    _entry(3.0, "SELECT * FROM invoices WHERE id = 8;", thread=19),
    # a server restart, then an entry without `# Time:` right after the banner
    BANNER,
    _entry(4.0, "SELECT 'caf\udcff' FROM t;", use="`we``ird`", thread=20),
    _entry(2.0, "SELECT * FROM invoices WHERE id = 9;", thread=21),
    _entry(1.5, "SELECT * FROM orders WHERE id = 10;", time="2026-10-03T15:00:00.5Z",
           use="shop", thread=22),
    _entry(1.5, "SELECT * FROM orders WHERE id = 11;", thread=23),
])


def _write(path: Path, text: str, newline: str = "\n") -> Path:
    # \udcff: one invalid UTF-8 byte, as clients sometimes send
    path.write_bytes(text.replace("\n", newline).encode("utf-8", "surrogateescape"))
    return path


# ---- comparing digests --------------------------------------------------------------------------
def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats up to the rounding of sums added in another order."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=2e-6), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _same(a: DigestAggregator, b: DigestAggregator) -> None:
    _close([d.to_dict() for d in a.digests()], [d.to_dict() for d in b.digests()])
    assert a.summary() == b.summary()


def _entry_starts(path: Path) -> list[int]:
    """Byte offsets where the parser starts an entry (its own splitter, not ours)."""
    data = path.read_bytes()
    # latin-1 maps bytes to characters one to one; newline="" splits lines as the command does
    lines = list(io.TextIOWrapper(io.BytesIO(data), encoding="latin-1", newline=""))
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return [offsets[start - 1] for start, _ in _split(lines) if start > 1]


class _InProcess:
    """Stands in for a worker process (digest._spawn) so a test can try many cuts fast."""

    def __init__(self, args: list[Any]) -> None:
        self.args = args
        self.returncode: int | None = None

    def communicate(self) -> tuple[bytes, None]:
        self.returncode = 0
        return pickle.dumps(digest.digest_range(*self.args)), None

    def poll(self) -> int | None:
        return self.returncode


def _digest_with_cuts(path: Path, cuts: list[int]) -> DigestAggregator:
    """digest_file with the ranges cut exactly at ``cuts`` (workers in this process)."""
    size = path.stat().st_size
    bounds = [0, *cuts, size]
    ranges = list(zip(bounds, bounds[1:], strict=False))
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(digest, "split_ranges", lambda _path, _parts: ranges)
        mp.setattr(digest, "_spawn", _InProcess)
        return digest.digest_file(str(path), jobs=len(ranges))
    finally:
        mp.undo()


# ---- parallel runs give what one pass gives -----------------------------------------------------
@pytest.fixture(scope="module")
def generated_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "slow.log"
    write_slow_log(str(path), 2 * 1024 * 1024, seed=5)
    return path


def test_jobs_give_the_same_digests_on_a_generated_log(generated_log: Path) -> None:
    one = digest.digest_file(str(generated_log), jobs=1)
    assert one.entries > 5000 and one.malformed == 0
    for jobs in (2, 3):
        assert len(digest.split_ranges(str(generated_log), jobs)) == jobs
        many = digest.digest_file(str(generated_log), jobs=jobs)  # real worker processes
        _same(many, one)
        for a, b in zip(many.digests(), one.digests(), strict=True):
            assert (a.query_id, a.count, a.qt_max, a.first_seen, a.last_seen) == (
                b.query_id, b.count, b.qt_max, b.first_seen, b.last_seen)
            assert a.examples and [
                (x["query_time"], x["sql"]) for x in a.to_dict()["examples"]] == [
                (x["query_time"], x["sql"]) for x in b.to_dict()["examples"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_state_at_every_entry_start_of_the_crafted_log(tmp_path: Path, newline: str) -> None:
    path = _write(tmp_path / "crafted.log", CRAFTED, newline)
    starts = _entry_starts(path)
    assert len(starts) >= 15
    data = path.read_bytes()
    seen = set()
    with open(path, "rb", buffering=0) as raw:
        for cut in starts:
            stream = SlowLogStream()
            text = io.TextIOWrapper(io.BytesIO(data[:cut]), encoding="utf-8",
                                    errors="replace", newline="")
            for _ in iter_entries(text, stream):
                pass
            state = digest.state_at(raw, cut)
            assert state == (stream.current_db, stream.last_time), cut
            seen.add(state)
    # the cuts do meet different databases and times, including inherited ones
    assert {db for db, _ in seen} == {None, "shop", "billing", "we`ird"}
    assert len({t for _, t in seen}) >= 4


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_cut_at_every_entry_start_of_the_crafted_log(tmp_path: Path, newline: str) -> None:
    path = _write(tmp_path / "crafted.log", CRAFTED, newline)
    whole = digest.digest_file(str(path), jobs=1)
    assert whole.malformed == 1 and whole.entries == 14
    dbs = {db for d in whole.digests() for db in d.databases}
    assert dbs == {"shop", "billing", "we`ird", ""}
    starts = _entry_starts(path)
    for cut in starts:
        _same(_digest_with_cuts(path, [cut]), whole)
    rnd = random.Random(3)
    for _ in range(20):
        _same(_digest_with_cuts(path, sorted(rnd.sample(starts, 3))), whole)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.log")))
def test_cut_at_every_entry_start_of_the_parser_fixtures(name: str) -> None:
    path = FIXTURES / name
    whole = digest.digest_file(str(path), jobs=1)
    for cut in _entry_starts(path):
        _same(_digest_with_cuts(path, [cut]), whole)


def test_worker_processes_cut_where_use_and_time_matter(tmp_path: Path) -> None:
    """Real workers, cut right after the `use`, at an entry without `# Time:`, after the
    malformed entry and after the banner."""
    path = _write(tmp_path / "crafted.log", CRAFTED * 3)
    starts = _entry_starts(path)
    text = path.read_bytes()
    tricky = [starts[0], starts[1], text.index(b"# User@Host: app[app] @  [10.0.0.1]  Id:    16"),
              text.index(b"# User@Host: app[app] @  [10.0.0.1]  Id:    20")]
    assert set(tricky) <= set(starts)
    whole = digest.digest_file(str(path), jobs=1)
    mp = pytest.MonkeyPatch()
    bounds = [0, *tricky, len(text)]
    try:
        mp.setattr(digest, "split_ranges",
                   lambda _p, _n: list(zip(bounds, bounds[1:], strict=False)))
        _same(digest.digest_file(str(path), jobs=len(bounds) - 1), whole)
    finally:
        mp.undo()


def test_split_ranges_cut_only_at_entry_starts(tmp_path: Path) -> None:
    path = _write(tmp_path / "crafted.log", CRAFTED * 20)
    starts = set(_entry_starts(path))
    for parts in (2, 3, 5, 8, 40):
        ranges = digest.split_ranges(str(path), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        assert {start for start, _ in ranges[1:]} <= starts
        assert len(ranges) == parts


def test_split_ranges_give_this_process_a_head_start(tmp_path: Path) -> None:
    """The first range (read by this process, which starts at once) is longer by about
    ``head_start`` bytes; the workers' ranges stay about equal."""
    path = _write(tmp_path / "crafted.log", CRAFTED * 400)
    size = path.stat().st_size
    entry = len(CRAFTED) // 3  # cuts land on entry starts: allow a few entries of slack
    even = digest.split_ranges(str(path), 3, head_start=0)
    ahead = digest.split_ranges(str(path), 3, head_start=size // 20)
    lengths = [end - start for start, end in ahead]
    assert abs((even[0][1] - even[0][0]) - size // 3) < 3 * entry
    assert abs(lengths[0] - (size // 20 + (size - size // 20) // 3)) < 3 * entry
    assert abs(lengths[1] - lengths[2]) < 3 * entry
    assert lengths[0] - lengths[1] > size // 40
    assert digest.split_ranges(str(path), 3) == digest.split_ranges(
        str(path), 3, head_start=digest.HEAD_START)


def test_line_counts_count_lines_as_the_text_layer_does(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "_BLOCK", 7)  # so a \r\n is often cut between blocks
    rnd = random.Random(4)
    path = tmp_path / "lines.log"
    for _ in range(300):
        data = "".join(rnd.choice(["a", "\n", "\r", "\r\n", "é"]) for _ in range(60)).encode()
        path.write_bytes(data)
        starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]  # range starts
        offsets = sorted(rnd.sample(starts, min(len(starts), 4)))
        want = [len(list(io.TextIOWrapper(io.BytesIO(data[:o]), encoding="utf-8",
                                          newline=""))) for o in offsets]
        assert digest.line_counts(str(path), offsets) == want


def test_examples_merge_as_one_pass_even_with_ties() -> None:
    def fingerprinter(sql: str) -> tuple[str, str]:
        return "select ?", "X"

    for seed in range(300):
        rnd = random.Random(seed)
        entries = [SlowLogEntry(sql=f"SELECT {i}", query_time=float(rnd.randint(0, 3)))
                   for i in range(rnd.randint(1, 30))]
        k = rnd.randint(0, 5)
        whole = DigestAggregator(fingerprinter, k).add_all("i", entries)
        cuts = sorted(rnd.sample(range(len(entries) + 1), min(len(entries) + 1, 3)))
        merged = DigestAggregator(fingerprinter, k)
        for a, b in zip([0, *cuts], [*cuts, len(entries)], strict=True):
            merged.merge(DigestAggregator(fingerprinter, k).add_all("i", entries[a:b]))
        assert [d.to_dict()["examples"] for d in merged.digests()] == [
            d.to_dict()["examples"] for d in whole.digests()]


# ---- the command line ---------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "digest", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_table_format_has_pt_profile_columns(generated_log: Path) -> None:
    done = _cli(str(generated_log), "--format", "table", "--limit", "3")
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    for column in ("Rank", "Query ID", "Response time", "Calls", "R/Call", "Item"):
        assert column in header
    assert set(rule[2:]) == {"="}
    assert len(rows) == 3
    rank, query_id, seconds, share, calls = rows[0].split()[1:6]
    assert rank == "1" and len(query_id) == 32 and float(seconds) > 0
    assert share.endswith("%") and int(calls) > 0


def test_malformed_entries_are_counted_and_do_not_stop_the_run(tmp_path: Path) -> None:
    good = _entry(1.0, "SELECT 1;", time="2026-10-03T10:00:00Z", use="shop")
    bad = ("# Time: 2026-10-03T10:00:01Z\n# User@Host: app[app] @  [10.0.0.1]  Id: 1\n"
           "SET timestamp=1;\nSELECT 'no query time';\n")
    text = (good * 200 + bad + good * 200 + (FIXTURES / "malformed.log").read_text()
            + good * 100)
    path = _write(tmp_path / "bad.log", text)
    outputs = []
    for jobs in ("1", "3"):
        done = _cli(str(path), "--jobs", jobs)
        assert done.returncode == 0, done.stderr
        outputs.append((done.stdout, done.stderr))
        digests = [json.loads(line) for line in done.stdout.splitlines()]
        assert sum(d["count"] for d in digests) == 501
        assert "501 entries" in done.stderr and "4 malformed" in done.stderr
        # line numbers count from the start of the file, whichever process read the entry
        for line, reason in ((1201, "no '# Query_time:' line"),
                             (2407, "no '# Query_time:' line"),
                             (2411, "no statement after the header"),
                             (2415, "bad value in entry")):
            assert f"malformed at line {line}: {reason}" in done.stderr
    assert outputs[0] == outputs[1]


def test_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    done = _cli(str(tmp_path / "nope.log"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "nope.log" in done.stderr


# ---- against pt-query-digest --------------------------------------------------------------------
@pytest.mark.skipif(PT_QUERY_DIGEST is None, reason="pt-query-digest is not installed")
def test_counts_and_query_time_equal_pt_query_digest(generated_log: Path) -> None:
    assert PT_QUERY_DIGEST is not None
    # --limit: every class (by default pt reports the top 95% of the time and outliers)
    done = subprocess.run([PT_QUERY_DIGEST, "--output", "json", "--limit", "100%:10000",
                           str(generated_log)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    theirs = {c["checksum"].upper(): (int(c["query_count"]),
                                      float(c["metrics"]["Query_time"]["sum"]))
              for c in report["classes"]}
    ours = {d.query_id: (d.count, d.qt_sum)
            for d in digest.digest_file(str(generated_log), jobs=2).digests()}
    # The generator writes no upper-case hex and no doubled quotes, where our classes
    # differ from pt's on purpose: every class must be the same.
    assert set(ours) == set(theirs)
    for query_id, (count, total) in theirs.items():
        assert ours[query_id][0] == count, query_id
        assert math.isclose(ours[query_id][1], total, abs_tol=1e-5), query_id
    assert len(ours) == int(report["global"]["unique_query_count"]) == 10
    assert sum(c for c, _ in ours.values()) == int(report["global"]["query_count"])


# ---- the fingerprint cache the command relies on ------------------------------------------------
_FRAGMENTS = [
    "SELECT ", "select ", "INSERT INTO t (a,b) VALUES ", "REPLACE INTO t VALUES", "call ",
    "CALL p", "use ", "USE ", "administrator command: ", "SELECT /*!40001 SQL_NO_CACHE */ * FROM `",
    "/*", "*/", "/*!", "#", "--", "\n", "\r", "\t", " ", "(", ")", ", ", "'", '"', "\\", "''",
    "0x", "0X", "x", "X", "b", "e", "E", ".", "-", "+", "IN (", "values", "VALUES (", "union ",
    "limit ", "offset ", "ORDER BY ", " ASC", "null", "true", "t", "id", "=", ":", "/", "*",
    "?", "`", "é", "/*a.b:1/2*/", "1", "12", "0", "AB", "f", "\x0b", "\x0c", "<", ">",
]
_IN_STRINGS = ["a", " ", "'", '"', "\\", "/*", "*/", "#", "--", "\n", "values", "(", "1", "x",
               "use ", "é"]


def test_fingerprint_cache_by_shape_never_changes_a_fingerprint() -> None:
    """Statements of one shape (literals aside) built from the fragments pt's rules react
    to: the cached fingerprint is always the one computed afresh."""
    rnd = random.Random(11)

    def literal() -> str:
        quote = rnd.choice("'\"")
        body = "".join(rnd.choice(_IN_STRINGS) for _ in range(rnd.randint(0, 5)))
        body = body.replace("\\", "\\\\")
        escaped = "\\" + quote if rnd.random() < 0.5 else quote + quote
        return quote + body.replace(quote, escaped) + quote

    hits = 0
    for _ in range(4000):
        template = [rnd.choice(["S", "D", *_FRAGMENTS]) for _ in range(rnd.randint(1, 12))]
        for _ in range(4):
            sql = "".join(literal() if p == "S" else str(rnd.randint(0, 99999)) if p == "D"
                          else p for p in template)
            hits += fp_module._shape(sql) in fp_module._shape_cache
            assert fp_module.fingerprint(sql) == fp_module._fingerprint(sql), sql
    assert hits > 1000


# ---- the fast reader the command uses ----------------------------------------------------------
def _chunks(data: bytes, rnd: random.Random, size: int) -> list[str]:
    """Blocks of about ``size`` bytes cut after a \\n, decoded as the command does."""
    out, pos = [], 0
    while pos < len(data):
        end = min(len(data), pos + rnd.randint(1, size))
        cut = data.rfind(b"\n", pos, end) + 1
        if cut <= pos:
            nxt = data.find(b"\n", end)
            cut = len(data) if nxt < 0 else nxt + 1
        out.append(data[pos:cut].decode("utf-8", "replace"))
        pos = cut
    return out


def _items(items: Any) -> list[Any]:
    return [(e.reason, e.line, e.text) if isinstance(e, SlowLogParseError) else e
            for e in items]


def _assert_text_reader_agrees(data: bytes, rnd: random.Random, size: int) -> None:
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
    assert _items(iter_entries_text(_chunks(data, rnd, size))) == _items(iter_entries(lines))


_FUZZ_LINES = {
    "time": ["# Time: 2026-10-03T10:00:00.000001Z", "# Time: 2026-10-03T11:00:00+09:00",
             "# Time: 261003 14:00:00", "# Time: 2026-13-40T99:00:00Z",
             "# Time: 2026-10-03T10:00:01Z ", "# Time:  2026-10-03T10:00:02Z"],
    "user": ["# User@Host: app[app] @  [10.0.1.15]  Id:  62898",
             "# User@Host: root[root] @ localhost []", "# User@Host: x[x] @ h [1.2.3.4]  Id: 12 ",
             "# User@Host: a @ b Id: 7", "# User@Host: bad [ Id: 9",
             "# User@Host: app[app] @  [10.0.1.15]  Id: 99999999999999999999999"],
    "header": ["# Thread_id: 8  Schema: shop  QC_hit: No", "# Thread_id: 9  Schema:   QC_hit: No",
               "# Rows_affected: 0  Bytes_sent: 63", "# explain: id select_type"],
    "qt": ["# Query_time: 1.500000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 1e3  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 2000000000.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 1.2.3  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 3.000000  Lock_time: 0.000100  Rows_sent: 1  Rows_examined: 10",
           "# Query_time: 1.0  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 10  Thread_id: 5",
           "# Query_time: .5  Lock_time: 0. Rows_sent: 01  Rows_examined: 10"],
    "use": ["use shop;", "use `we``ird`;", "use billing ;", "use nosemi", "use ;", "USE shop;"],
    "set": ["SET timestamp=1790935200;", "SET timestamp=17909352x;", "SET insert_id=5;",
            "SET NAMES utf8mb4;", "SET timestamp=1790935200 ;"],
    "sql": ["SELECT 1;", "SELECT * FROM t WHERE a = 'x';", "SELECT a\nFROM t\nWHERE b = 2;",
            "select 'caf\udcff';", "# administrator command: Quit;",
            " # administrator command: Ping;", ";", "  ", "SELECT 2;;", "SELECT 1\n\nFROM t;",
            "SELECT 1\n# not a header\nFROM t;",
            "SELECT '\x0c\u2028\x85';", "use other;", BANNER + "SELECT 3;", "SELECT x, Version: y;",
            "SELECT 4;\r\nSELECT 5;", "SELECT 6\rFROM t;"],
}


def _fuzz_log(rnd: random.Random) -> bytes:
    standard = ("# Time: 2026-10-03T10:00:00.000001Z\n"
                "# User@Host: app[app] @  [10.0.1.15]  Id:  62898\n"
                "# Query_time: 1.500000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10\n")
    parts = []
    for _ in range(rnd.randint(1, 30)):
        if rnd.random() < 0.6:  # the layout the fast path takes
            use = rnd.choice(_FUZZ_LINES["use"]) + "\n" if rnd.random() < 0.3 else ""
            parts.append(f"{standard}{use}SET timestamp=1790935200;\n"
                         f"{rnd.choice(_FUZZ_LINES['sql'][:4])}\n")
            continue
        lines = []
        for kind, chance in (("time", 0.85), ("user", 0.95), ("header", 0.15), ("qt", 0.95),
                             ("use", 0.4), ("set", 0.9), ("sql", 1.0)):
            if rnd.random() < chance:
                lines.append(rnd.choice(_FUZZ_LINES[kind]))
        parts.append("\n".join(lines) + "\n" + rnd.choice(["", "", "\n", BANNER, "junk\n"]))
    text = "".join(parts)
    if rnd.random() < 0.1:
        text = text.replace("\n", "\r\n")
    if rnd.random() < 0.1:
        text = text.rstrip("\n")
    return text.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.log")))
def test_text_reader_equals_line_reader_on_fixtures(name: str) -> None:
    rnd = random.Random(name)
    data = (FIXTURES / name).read_bytes()
    for _ in range(30):
        _assert_text_reader_agrees(data, rnd, 300)
        _assert_text_reader_agrees(data.replace(b"\n", b"\r\n"), rnd, 300)


def test_text_reader_equals_line_reader_on_random_logs() -> None:
    """Entries in MySQL's layout with every kind of deviation mixed in, cut anywhere."""
    rnd = random.Random(2026)
    for _ in range(1500):
        _assert_text_reader_agrees(_fuzz_log(rnd), rnd, 400)


def test_text_reader_equals_line_reader_on_a_generated_log(generated_log: Path) -> None:
    _assert_text_reader_agrees(generated_log.read_bytes(), random.Random(1), 1 << 20)
