"""One contract, two adapters: every test here runs on SQLite and on MongoDB (nx-27017)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from store import DuplicateKeyError, Store, open_store
from store.backend import FindQuery


def _instance(instance_id: str, **extra: object) -> dict:
    return {
        "instance_id": instance_id, "engine": "mysql", "engine_version": "8.0.35",
        "instance_class": "db.r6g.large", "status": "available",
        "endpoint": {"address": f"{instance_id}.example", "port": 3306},
        "cluster_id": None, "tags": {"env": "prd"}, "collect_target": True,
        "realtime_target": False, **extra,
    }


def test_instances_sync_upserts_and_marks_missing_as_gone(store: Store) -> None:
    first = store.instances.sync("rds", [_instance("a"), _instance("b")], "2026-11-01T00:00:00Z")
    assert (first.upserted, first.marked_gone) == (2, 0)

    second = store.instances.sync("rds", [_instance("b", status="modifying")],
                                  "2026-11-02T00:00:00Z")
    assert (second.upserted, second.marked_gone) == (1, 1)

    rows = {r["instance_id"]: r for r in store.instances.list()}
    assert rows["a"]["gone"] is True
    assert rows["b"]["gone"] is False
    assert rows["b"]["status"] == "modifying"
    assert rows["b"]["first_seen"] == "2026-11-01T00:00:00Z"
    assert rows["b"]["last_seen"] == "2026-11-02T00:00:00Z"
    assert rows["b"]["endpoint"] == {"address": "b.example", "port": 3306}
    assert rows["b"]["collect_target"] is True and rows["b"]["realtime_target"] is False
    assert [r["instance_id"] for r in store.instances.list(include_gone=False)] == ["b"]


def test_instances_sources_do_not_touch_each_other(store: Store) -> None:
    store.instances.sync("rds", [_instance("rds-1")], "2026-11-01T00:00:00Z")
    store.instances.sync("static", [_instance("onprem-1")], "2026-11-01T00:00:00Z")
    store.instances.sync("static", [], "2026-11-02T00:00:00Z")
    assert store.instances.get("rds-1")["gone"] is False
    assert store.instances.get("onprem-1")["gone"] is True
    assert store.instances.get("missing") is None


def test_instances_filter_by_engine(store: Store) -> None:
    store.instances.sync("rds", [_instance("m"), _instance("x", engine="mariadb")], "t")
    assert [r["instance_id"] for r in store.instances.list(engine="mariadb")] == ["x"]


def _digest(query_id: str, total: float, count: int, fingerprint: str = "select ?") -> dict:
    return {"query_id": query_id, "fingerprint": fingerprint, "count": count,
            "query_time": {"sum": total, "avg": total / count, "max": total, "p95": total}}


def test_digests_replace_period_never_double_counts(store: Store) -> None:
    store.digests.replace_period("db1", "2026-10", [_digest("A", 10, 5), _digest("B", 3, 1)])
    store.digests.replace_period("db1", "2026-10", [_digest("A", 10, 5)])
    store.digests.replace_period("db1", "2026-09", [_digest("A", 1, 1)])
    rows, total = store.digests.page(instance_id="db1", period="2026-10")
    assert total == 1
    assert rows[0]["query_id"] == "A" and rows[0]["count"] == 5
    assert store.digests.get("db1", "2026-09", "A")["query_time"]["sum"] == 1


def test_digests_page_sorts_filters_and_pages_in_the_store(store: Store) -> None:
    digests = [_digest(f"Q{i:03d}", float(i), i + 1,
                       "select * from orders" if i % 2 else "update t set a=?")
               for i in range(30)]
    store.digests.replace_period("db1", "2026-10", digests)
    rows, total = store.digests.page(instance_id="db1", period="2026-10", limit=5)
    assert total == 30
    assert [r["query_id"] for r in rows] == ["Q029", "Q028", "Q027", "Q026", "Q025"]
    rows, total = store.digests.page(instance_id="db1", period="2026-10", text="ORDERS",
                                     sort="count", descending=False, offset=2, limit=3)
    assert total == 15
    assert [r["count"] for r in rows] == [6, 8, 10]
    with pytest.raises(ValueError, match="cannot sort"):
        store.digests.page(sort="fingerprint; drop table")


def test_runs_create_is_unique_and_recent_is_newest_first(store: Store) -> None:
    for n in range(3):
        store.runs.create({"collection_id": f"r{n}", "status": "completed",
                           "period_key": "2026-10", "started_at": f"2026-11-0{n + 1}T00:00:00Z"})
    with pytest.raises(DuplicateKeyError):
        store.runs.create({"collection_id": "r1", "status": "started"})
    assert [r["collection_id"] for r in store.runs.recent()] == ["r2", "r1", "r0"]
    run = store.runs.get("r0")
    run["status"] = "in_progress"
    store.runs.save(run)
    assert [r["collection_id"] for r in store.runs.active("2026-10")] == ["r0"]
    assert store.runs.active("2026-09") == []


def test_captures_and_plans_round_trip(store: Store) -> None:
    for n in range(3):
        store.captures.save({"id": f"i1|{n}|100", "instance_id": "i1", "pid": n,
                             "start": f"2026-11-01T00:00:0{n}Z", "sql_text": "select sleep(3)"})
    store.captures.save({"id": "i2|1|100", "instance_id": "i2", "pid": 1,
                         "start": "2026-11-01T00:00:09Z", "sql_text": "select 1"})
    assert [c["pid"] for c in store.captures.recent(instance_id="i1")] == [2, 1, 0]
    assert len(store.captures.recent(since="2026-11-01T00:00:02Z")) == 2
    assert store.captures.get("i2|1|100")["sql_text"] == "select 1"

    plan = {"instance_id": "i1", "query_id": "Q", "plan_hash": "h1", "root": {"children": []}}
    key = store.plans.record(plan, "2026-11-01T00:00:00Z")
    store.plans.record(plan, "2026-11-02T00:00:00Z")
    store.plans.record({**plan, "plan_hash": "h2"}, "2026-11-03T00:00:00Z")
    plans = store.plans.list(instance_id="i1", query_id="Q")
    assert [p["plan_hash"] for p in plans] == ["h2", "h1"]
    first = store.plans.get(key)
    assert (first["first_seen"], first["last_seen"], first["seen_count"]) == (
        "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", 2)


def test_flags_persist_values_of_every_json_type(store: Store) -> None:
    assert store.flags.get("realtime.enabled", False) is False
    store.flags.set("realtime.enabled", True)
    store.flags.set("realtime.instances", {"db1": False})
    assert store.flags.get("realtime.enabled") is True
    assert store.flags.get("realtime.instances") == {"db1": False}


def test_lease_goes_to_one_owner_until_it_expires(store: Store) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert store.flags.acquire_lease("scheduler", "p1", 60, now=now)
    assert store.flags.acquire_lease("scheduler", "p1", 60, now=now + timedelta(seconds=30))
    assert not store.flags.acquire_lease("scheduler", "p2", 60, now=now + timedelta(seconds=31))
    assert store.flags.acquire_lease("scheduler", "p2", 60, now=now + timedelta(seconds=200))
    assert not store.flags.acquire_lease("scheduler", "p1", 60, now=now + timedelta(seconds=201))


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    def write(worker: int) -> None:
        for n in range(50):
            store.captures.save({"id": f"w{worker}-{n}", "instance_id": f"w{worker}",
                                 "start": f"2026-11-01T00:00:{n:02d}Z"})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.backend.count("captures", {}) == 200


def test_backend_operators_mean_the_same_on_both(store: Store) -> None:
    backend = store.backend
    backend.put_many("probe", [
        {"_id": "1", "n": 1, "s": "Alpha", "nested": {"v": 10}, "flag": True},
        {"_id": "2", "n": 2, "s": "beta", "nested": {"v": 20}, "flag": False},
        {"_id": "3", "n": 3, "s": "GAMMA alpha", "nested": {"v": 30}, "flag": None},
    ])

    def ids(where: dict) -> list[str]:
        return [d["_id"] for d in backend.find("probe", FindQuery(where=where, sort=("n", 1)))]

    assert ids({"n": {"$gte": 2}}) == ["2", "3"]
    assert ids({"n": {"$gt": 1, "$lt": 3}}) == ["2"]
    assert ids({"nested.v": {"$in": [10, 30]}}) == ["1", "3"]
    assert ids({"s": {"$contains": "ALPHA"}}) == ["1", "3"]
    assert ids({"n": {"$ne": 2}}) == ["1", "3"]
    assert ids({"flag": True}) == ["1"]
    assert ids({"n": {"$in": []}}) == []
    assert backend.count("probe", {"nested.v": {"$lte": 20}}) == 2
    assert backend.delete("probe", {"n": {"$lt": 2}}) == 1
    projected = backend.find("probe", FindQuery(sort=("nested.v", -1), fields=("s",), limit=1))
    assert projected == [{"_id": "3", "s": "GAMMA alpha"}]
    backend.put("probe", "4", {"n": 4, "nested": {"v": 40, "w": [1, "x"]}, "flag": False,
                               "none": None, "s": "[1]"})
    # every JSON kind comes back as itself; a field the document lacks is absent, not null
    assert backend.find("probe", FindQuery(where={"n": 4},
                                           fields=("nested", "flag", "none", "s", "gone"))) == [
        {"_id": "4", "nested": {"v": 40, "w": [1, "x"]}, "flag": False, "none": None,
         "s": "[1]"}]
    with pytest.raises(ValueError, match="unsupported operator"):
        backend.find("probe", FindQuery(where={"n": {"$where": "1"}}))


def test_sqlite_default_creates_its_directory_and_uses_wal(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}")
    try:
        mode = store.backend._writer.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        plan = store.backend._writer.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM c_digests WHERE "
            "json_extract(doc, '$.instance_id') = ? AND json_extract(doc, '$.period') = ? "
            "ORDER BY json_extract(doc, '$.query_time.sum') DESC", ("a", "b")).fetchall()
        assert "USING INDEX" in " ".join(str(row) for row in plan)
    finally:
        store.close()


def test_digest_totals_rank_and_periods(store: Store) -> None:
    store.digests.replace_period("db1", "2026-10", [_digest("A", 1, 1), _digest("B", 9, 3)])
    store.digests.replace_period("db2", "2026-10", [_digest("C", 5, 5)])
    store.digests.replace_period("db1", "2026-09", [_digest("A", 2, 2)])
    store.digests.replace_period("db1", "2026-10", [_digest("A", 1, 1), _digest("B", 9, 3)])
    assert store.digests.totals(period="2026-10") == {"digests": 3, "count": 9,
                                                      "query_time": 15}
    assert store.digests.totals("db1", "2026-10")["query_time"] == 10
    assert store.digests.periods() == ["2026-10", "2026-09"]
    assert store.digests.periods("db2") == ["2026-10"]
    assert store.digests.instances("2026-10") == ["db1", "db2"]
    rows, _ = store.digests.page(instance_id="db1", period="2026-10", sort="rank",
                                 descending=False)
    assert [(r["rank"], r["query_id"]) for r in rows] == [(1, "B"), (2, "A")]
    rows, total = store.digests.page(query_id="b")
    assert (total, rows[0]["query_id"]) == (1, "B")
