from __future__ import annotations

import hashlib
import math
import random
import re
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analysis import digest as digest_mod
from analysis.digest import DigestAggregator, QuantileSketch, digest_lines
from analysis.errors import SlowLogParseError
from analysis.slowlog import SlowLogEntry, iter_entries

try:  # written by someone else; fall back to a trivial classifier until it exists
    from analysis.fingerprint import fingerprint_and_id as _real_fingerprinter

    HAVE_FINGERPRINT = True
except ImportError:  # pragma: no cover - depends on the state of the repo
    _real_fingerprinter = None
    HAVE_FINGERPRINT = False

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slowlog"


def trivial_fingerprinter(sql: str) -> tuple[str, str]:
    fp = " ".join(sql.lower().split())
    return fp, hashlib.md5(fp.encode()).hexdigest().upper()


fingerprinter = _real_fingerprinter or trivial_fingerprinter


def digest_file(name: str, fp=trivial_fingerprinter, instance: str = "db-1") -> DigestAggregator:
    with open(FIXTURES / name, encoding="utf-8") as fh:
        return digest_lines(fh, instance, fp)


def entry(sql: str = "SELECT 1", qt: float = 1.0, t: datetime | None = None, **kw) -> SlowLogEntry:
    return SlowLogEntry(sql=sql, query_time=qt, time=t, **kw)


T0 = datetime(2026, 10, 3, 10, 15, 42, tzinfo=UTC)

API_KEYS = {
    "instance_id", "query_id", "fingerprint", "count", "query_time", "lock_time", "rows_sent",
    "rows_examined", "rows_affected", "bytes_sent", "first_seen", "last_seen", "users",
    "hosts", "databases", "examples", "hourly",
}


# ---- aggregation -----------------------------------------------------------------------------
def test_to_dict_shape_and_values():
    agg = DigestAggregator(trivial_fingerprinter)
    for i, qt in enumerate([0.5, 2.0, 1.0, 4.0]):
        agg.add("db-1", entry(
            "SELECT * FROM t WHERE a = 1", qt, T0 + timedelta(minutes=50 * i),
            lock_time=0.001 * (i + 1), rows_sent=i, rows_examined=10 * i,
            user="app" if i % 2 else "report", host="h1", ip="10.0.0.1",
            db="shop" if i < 3 else None,
        ))
    [stats] = agg.digests()
    d = stats.to_dict()
    assert set(d) == API_KEYS
    fp, qid = trivial_fingerprinter("SELECT * FROM t WHERE a = 1")
    assert (d["instance_id"], d["query_id"], d["fingerprint"], d["count"]) == ("db-1", qid, fp, 4)
    assert d["query_time"]["sum"] == 7.5 and d["query_time"]["avg"] == 1.875
    assert (d["query_time"]["min"], d["query_time"]["max"]) == (0.5, 4.0)
    assert set(d["query_time"]) == {"sum", "min", "max", "avg", "p50", "p95", "p99"}
    # the sketch is within 1% (plus rounding to 1 us); p99 of 4 values is the 3rd (lower)
    assert d["query_time"]["p50"] == pytest.approx(1.0, rel=0.0101)
    assert d["query_time"]["p99"] == pytest.approx(2.0, rel=0.0101)
    assert d["lock_time"] == {"sum": 0.01, "min": 0.001, "max": 0.004, "avg": 0.0025}
    assert d["rows_sent"] == {"sum": 6, "max": 3, "avg": 1.5}
    assert d["rows_examined"] == {"sum": 60, "max": 30, "avg": 15.0}
    assert d["rows_affected"] is None and d["bytes_sent"] is None
    assert d["first_seen"] == "2026-10-03T10:15:42Z"
    assert d["last_seen"] == "2026-10-03T12:45:42Z"
    assert d["users"] == {"report": 2, "app": 2}
    assert d["hosts"] == {"h1": 4}
    assert d["databases"] == {"shop": 3, "": 1}
    assert d["hourly"] == {
        "2026-10-03T10": {"count": 1, "query_time": 0.5},
        "2026-10-03T11": {"count": 2, "query_time": 3.0},
        "2026-10-03T12": {"count": 1, "query_time": 4.0},
    }
    assert [x["query_time"] for x in d["examples"]] == [4.0, 2.0, 1.0, 0.5]
    assert d["examples"][0] == {"sql": "SELECT * FROM t WHERE a = 1", "db": None,
                                "time": "2026-10-03T12:45:42Z", "query_time": 4.0,
                                "truncated": False}


def test_digests_ranked_by_total_time_and_split_by_instance():
    agg = DigestAggregator(trivial_fingerprinter)
    agg.add("a", entry("SELECT 1", 1.0))
    agg.add("a", entry("SELECT 1", 1.0))
    agg.add("a", entry("SELECT 2", 3.0))
    agg.add("b", entry("SELECT 1", 0.5))
    assert [(s.instance_id, s.count, s.qt_sum) for s in agg.digests()] == [
        ("a", 1, 3.0), ("a", 2, 2.0), ("b", 1, 0.5)]
    assert [s.count for s in agg.digests("b")] == [1]
    assert len(agg) == 3 and agg.entries == 4


def test_examples_keep_the_k_slowest():
    agg = DigestAggregator(trivial_fingerprinter, examples_per_digest=3)
    times = list(range(1, 101))
    random.Random(1).shuffle(times)
    for qt in times:
        agg.add("db", entry("SELECT 1", float(qt), db=f"d{qt}"))
    [s] = agg.digests()
    ex = s.to_dict()["examples"]
    assert [(x["query_time"], x["db"]) for x in ex] == [(100.0, "d100"), (99.0, "d99"),
                                                       (98.0, "d98")]
    assert len(s.examples) == 3


def test_long_examples_are_truncated_and_flagged():
    agg = DigestAggregator(trivial_fingerprinter, max_example_chars=10)
    agg.add("db", entry("SELECT " + "x" * 100, 1.0))
    [x] = agg.digests()[0].to_dict()["examples"]
    assert x["sql"] == "SELECT xxx" and x["truncated"] is True


def test_rows_affected_and_bytes_sent_present_in_mariadb_logs():
    agg = digest_file("mariadb_old_time.log")
    d = {s.to_dict()["examples"][0]["sql"]: s.to_dict() for s in agg.digests()}
    c = d["create database `new db`"]
    assert c["rows_affected"] == {"sum": 1, "max": 1, "avg": 1.0}
    assert c["bytes_sent"] == {"sum": 11, "max": 11, "avg": 11.0}
    assert c["databases"] == {"": 1}
    assert c["hosts"] == {"app1.internal": 1}


def test_fixture_digest_totals_match_hand_computed():
    agg = digest_file("mysql8_rds.log")
    assert agg.entries == 5 and agg.malformed == 0
    ds = agg.digests()
    assert [round(s.qt_sum, 6) for s in ds] == [3.0, 2.000123, 1.25, 0.5, 0.00001]
    assert ds[0].to_dict()["examples"][0]["sql"] == "administrator command: Quit"
    assert ds[0].to_dict()["databases"] == {"billing": 1}


def test_malformed_entries_are_counted_with_samples():
    agg = digest_file("malformed.log")
    assert agg.entries == 1 and agg.malformed == 4
    assert [s["line"] for s in agg.error_samples] == [1, 3, 7, 11]
    assert all(s["reason"] and s["text"] for s in agg.error_samples)
    assert agg.summary()["malformed"] == 4


def test_error_samples_are_bounded():
    agg = DigestAggregator(trivial_fingerprinter, max_error_samples=3)
    for i in range(10):
        agg.add_error(SlowLogParseError(f"bad {i}"))
    agg.add_error("a plain string reason")
    assert agg.malformed == 11
    assert [s["reason"] for s in agg.error_samples] == ["bad 0", "bad 1", "bad 2"]


def test_distinct_names_are_capped(monkeypatch):
    monkeypatch.setattr(digest_mod, "MAX_DISTINCT", 3)
    agg = DigestAggregator(trivial_fingerprinter)
    for i in range(10):
        agg.add("db", entry(user=f"u{i}"))
    assert agg.digests()[0].users == {"u0": 1, "u1": 1, "u2": 1, "(other)": 7}


def _random_entries(n: int, seed: int) -> list[SlowLogEntry]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append(entry(
            f"SELECT {rnd.randint(0, 4)}", round(rnd.lognormvariate(-3, 1.5), 6),
            T0 + timedelta(seconds=rnd.randint(0, 5 * 86400)),
            lock_time=rnd.random() / 100, rows_sent=rnd.randint(0, 100),
            rows_examined=rnd.randint(0, 10_000),
            rows_affected=rnd.randint(0, 5) if i % 2 else None,
            bytes_sent=rnd.randint(10, 999), user=rnd.choice(["a", "b", "c"]),
            host=rnd.choice(["h1", "h2"]), db=rnd.choice(["x", "y", None]),
        ))
    return out


def test_merge_equals_single_pass():
    items = _random_entries(3000, seed=7)
    whole = DigestAggregator(trivial_fingerprinter)
    left = DigestAggregator(trivial_fingerprinter)
    right = DigestAggregator(trivial_fingerprinter)
    for i, e in enumerate(items):
        inst = "db-1" if i % 3 else "db-2"
        whole.add(inst, e)
        (left if i < 1700 else right).add(inst, e)
    right.add_error(SlowLogParseError("x"))
    merged = left.merge(right)
    assert merged.entries == whole.entries and merged.malformed == 1

    def norm(d):
        for k in ("query_time", "lock_time"):
            d[k] = {kk: round(v, 5) for kk, v in d[k].items()}
        d["hourly"] = {h: (b["count"], round(b["query_time"], 5)) for h, b in d["hourly"].items()}
        return d

    assert [norm(s.to_dict()) for s in merged.digests()] == [
        norm(s.to_dict()) for s in whole.digests()]


def test_fingerprint_cache_calls_fingerprinter_once_per_statement():
    calls = []

    def fp(sql):
        calls.append(sql)
        return trivial_fingerprinter(sql)

    agg = DigestAggregator(fp)
    for _ in range(100):
        agg.add("db", entry("SELECT 1"))
        agg.add("db", entry("SELECT  1"))
    assert sorted(calls) == ["SELECT  1", "SELECT 1"]
    assert len(agg) == 1 and agg.digests()[0].count == 200


def test_fingerprint_cache_is_bounded_by_characters_too():
    """A cache of few long statements must not hold more memory than one of many short."""
    calls = []

    def fp(sql):
        calls.append(sql)
        return trivial_fingerprinter(sql)

    agg = DigestAggregator(fp, fingerprint_cache=100, fingerprint_cache_chars=50)
    a, b, c = ("SELECT " + ch * 20 for ch in "abc")  # 27 characters each
    for sql in (a, b, c, a, c):  # c finds 54 characters held: the cache is emptied
        agg.add("db", entry(sql))
    assert calls == [a, b, c, a]
    assert agg._fp_chars == 54 and len(agg._fp_cache) == 2


# ---- the percentile sketch -------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_relative_error_within_one_percent_on_lognormal(seed):
    rnd = random.Random(seed)
    values = [rnd.lognormvariate(-4, 2) for _ in range(50_000)] + [0.0] * 200
    sk = QuantileSketch(alpha=0.01)
    for v in values:
        sk.add(v)
    values.sort()
    for q in (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0):
        exact = values[int(q * (len(values) - 1))]
        got = sk.quantile(q)
        if exact == 0:
            assert got == 0
        else:
            assert abs(got - exact) <= 0.01 * exact, (q, got, exact)
    # bounded size: the number of buckets depends on the value range, not the count
    span = math.log(values[-1] / min(v for v in values if v > 0))
    assert len(sk.bins) <= span / math.log(sk.gamma) + 2


def test_sketch_small_and_edge_cases():
    sk = QuantileSketch()
    assert sk.quantile(0.5) is None
    sk.add(0.123456)
    assert sk.quantile(0.5) == sk.quantile(0.99) == 0.123456  # clamped to min/max: exact
    with pytest.raises(ValueError):
        sk.quantile(1.5)
    with pytest.raises(ValueError):
        QuantileSketch(alpha=0)


def test_sketch_merge_equals_single_sketch():
    rnd = random.Random(5)
    values = [rnd.expovariate(10) for _ in range(5000)]
    a, b, whole = QuantileSketch(), QuantileSketch(), QuantileSketch()
    for i, v in enumerate(values):
        (a if i % 2 else b).add(v)
        whole.add(v)
    a.merge(b)
    assert a.bins == whole.bins and a.count == whole.count
    assert [a.quantile(q) for q in (0.5, 0.95, 0.99)] == [
        whole.quantile(q) for q in (0.5, 0.95, 0.99)]
    with pytest.raises(ValueError):
        a.merge(QuantileSketch(alpha=0.05))


# ---- memory: state grows with digests, not events ---------------------------------------------
STATEMENTS = [f"SELECT c{i}, COUNT(*) FROM table_{i} WHERE k = 'v{i}' GROUP BY c{i}"
              for i in range(50)]


def _generated_log(n: int, seed: int):
    """Yield the lines of an n-entry MySQL 8 slow log over 50 statements (lazily)."""
    rnd = random.Random(seed)
    base = datetime(2026, 10, 3, tzinfo=UTC)
    for i in range(n):
        t = base + timedelta(seconds=(i * 7919) % 86400, microseconds=i % 1_000_000)
        qt = rnd.lognormvariate(-3, 1.5)
        yield f"# Time: {t:%Y-%m-%dT%H:%M:%S.%fZ}\n"
        yield f"# User@Host: u{i % 3}[u{i % 3}] @ host{i % 4} [10.0.0.{i % 4}]  Id: {i}\n"
        yield (f"# Query_time: {qt:.6f}  Lock_time: 0.000010 Rows_sent: {i % 10}"
               f"  Rows_examined: {i % 1000}\n")
        if i % 100 == 0:
            yield f"use db{i % 3};\n"
        yield f"SET timestamp={int(t.timestamp())};\n"
        yield STATEMENTS[rnd.randrange(50)] + ";\n"


def _deep_size(obj, seen=None) -> int:
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set):
        size += sum(_deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__") and not isinstance(obj, type):
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if hasattr(obj, name):
                    size += _deep_size(getattr(obj, name), seen)
    return size


def _size_without_sketch_bins(digests) -> int:
    return sum(_deep_size(s) - _deep_size(s.sketch.bins) for s in digests)


def test_state_is_bounded_by_digests_not_events():
    agg = DigestAggregator(trivial_fingerprinter)
    agg.add_all("db-1", iter_entries(_generated_log(50_000, seed=1)))
    size_50k = _size_without_sketch_bins(agg.digests())
    agg.add_all("db-1", iter_entries(_generated_log(150_000, seed=2)))
    assert agg.entries == 200_000 and agg.malformed == 0
    digests = agg.digests()
    assert len(digests) == 50
    assert sum(s.count for s in digests) == 200_000
    for s in digests:
        assert len(s.examples) <= 5
        assert len(s.hourly) <= 24
        assert len(s.users) <= 3 and len(s.hosts) <= 4 and len(s.databases) <= 4
        assert s.sketch.count == s.count
        # sketch buckets: bounded by the value range (log-scale), not by the count
        span = math.log(s.sketch.max / s.sketch.min)
        assert len(s.sketch.bins) <= span / math.log(s.sketch.gamma) + 2
        assert len(s.sketch.bins) < 1400
    assert len(agg._fp_cache) <= 50
    # 4x the events: everything but the sketch buckets stays the same size
    size_200k = _size_without_sketch_bins(digests)
    assert size_200k < size_50k * 1.05, (size_50k, size_200k)


# ---- against pt-query-digest on a real MariaDB slow log ---------------------------------------
def _aggregate_real(path: Path, fp) -> DigestAggregator:
    with open(path, encoding="utf-8") as fh:
        return digest_lines(fh, "mariadb", fp)


def test_real_log_totals_match_pt_query_digest(mariadb_slowlog, pt_report):
    agg = _aggregate_real(mariadb_slowlog, fingerprinter)
    assert agg.malformed == 0
    g = pt_report["global"]
    assert agg.entries == g["query_count"]
    total = sum(s.qt_sum for s in agg.digests())
    assert round(total, 6) == pytest.approx(float(g["metrics"]["Query_time"]["sum"]), abs=2e-6)


def test_real_log_classes_match_pt_query_digest_with_pt_fingerprints(
        mariadb_slowlog, pt_report, pt_events):
    """Classifying our parsed entries with pt's own fingerprint of each event reproduces
    pt-query-digest's classes exactly (count and Query_time sum)."""
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        ours = list(iter_entries(fh))
    by_sql = {}
    for e, pt in zip(ours, pt_events, strict=True):
        assert e.sql == pt["sql"]
        by_sql[e.sql] = pt["fingerprint"]

    def pt_fingerprinter(sql):
        fp = by_sql[sql]
        return fp, hashlib.md5(fp.encode()).hexdigest().upper()

    agg = DigestAggregator(pt_fingerprinter)
    agg.add_all("mariadb", ours)
    got = {s.query_id: (s.count, round(s.qt_sum, 6)) for s in agg.digests()}
    want = {c["checksum"]: (c["query_count"], round(float(c["metrics"]["Query_time"]["sum"]), 6))
            for c in pt_report["classes"]}
    assert got == want


@pytest.mark.skipif(not HAVE_FINGERPRINT, reason="analysis.fingerprint not written yet")
def test_real_log_classes_match_pt_query_digest_with_our_fingerprinter(
        mariadb_slowlog, pt_report, pt_events):
    """With analysis.fingerprint, every pt-query-digest class falls into exactly one of our
    classes (we never split what pt groups), and each of our classes has the count and
    Query_time sum of the pt classes it covers.

    We may merge pt classes where pt's fingerprint keeps part of a literal (pt turns
    ``0x0000BEEF`` into ``?beef`` and ``'it\\'s'`` into ``??``, so one statement shape
    becomes several pt classes); such merges are allowed only when the pt fingerprints are
    identical once those leftovers (``?`` followed by hex digits or ``?``) are collapsed.
    """
    agg = _aggregate_real(mariadb_slowlog, fingerprinter)
    with open(mariadb_slowlog, encoding="utf-8") as fh:
        ours = list(iter_entries(fh))
    ours_to_pt: dict[str, set[str]] = defaultdict(set)
    pt_to_ours: dict[str, set[str]] = defaultdict(set)
    for e, pt in zip(ours, pt_events, strict=True):
        qid = fingerprinter(e.sql)[1]
        pt_id = hashlib.md5(pt["fingerprint"].encode()).hexdigest().upper()
        ours_to_pt[qid].add(pt_id)
        pt_to_ours[pt_id].add(qid)
    pt_classes = {c["checksum"]: c for c in pt_report["classes"]}
    assert set(pt_to_ours) == set(pt_classes)
    split = {pt_classes[p]["fingerprint"]: sorted(agg.get("mariadb", q).fingerprint for q in qs)
             for p, qs in pt_to_ours.items() if len(qs) > 1}
    assert not split, f"pt classes we split: {split}"
    for s in agg.digests():
        covered = [pt_classes[p] for p in ours_to_pt[s.query_id]]
        fps = sorted(c["fingerprint"] for c in covered)
        assert s.count == sum(c["query_count"] for c in covered), fps
        pt_sum = sum(float(c["metrics"]["Query_time"]["sum"]) for c in covered)
        assert round(s.qt_sum, 6) == pytest.approx(pt_sum, abs=2e-6), fps
        if len(covered) > 1:
            # pt's fingerprints differ only by literal leftovers, never by words/structure
            shapes = {re.sub(r"\?[0-9a-f?]*", "?", fp) for fp in fps}
            assert len(shapes) == 1, f"{s.fingerprint!r} merges different pt classes: {fps}"


def test_aggregator_pickles_for_worker_processes():
    """Workers (one per instance or per file chunk) can send their aggregate back to merge."""
    import pickle

    agg = digest_file("mariadb_old_time.log")
    agg.add_error(SlowLogParseError("x"))
    copy = pickle.loads(pickle.dumps(agg))
    assert [s.to_dict() for s in copy.digests()] == [s.to_dict() for s in agg.digests()]
    assert copy.summary() == agg.summary()
