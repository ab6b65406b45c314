"""A real MariaDB slow log, cut into CloudWatch events, collected by the app: the digests
agree with pt-query-digest on the same log (classes, counts, Query_time sums)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from analysis.period import month_period
from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.cw_seed import events_from_log, put_events
from tests.rds_seed import seed_rds


def test_collected_digests_agree_with_pt_query_digest(aws_settings: Settings, mariadb_slowlog,
                                                      pt_report) -> None:
    seed_rds(aws_settings.aws_endpoint_url, REGION)
    events = events_from_log(mariadb_slowlog.read_text(encoding="utf-8"),
                             datetime(2026, 10, 2, tzinfo=UTC), step_ms=2000)
    assert len(events) == pt_report["global"]["query_count"]
    put_events(aws_settings.aws_endpoint_url, REGION,
               "/aws/rds/instance/orders-prd-1/slowquery", "orders-prd-1", events)
    app = create_app(aws_settings)
    services = app.server.extensions["slowquery"]
    services.inventory.refresh()
    run = services.collection.start({"month": "2026-10", "instance_ids": ["orders-prd-1"]})
    services.collection.wait(run["collection_id"], timeout=120)
    run = services.store.runs.get(run["collection_id"])
    assert run["status"] == "completed", run
    assert run["malformed_events"] == 0
    assert run["total_queries"] == pt_report["global"]["query_count"]

    ours, total = services.store.digests.page(instance_id="orders-prd-1",
                                              period=month_period(2026, 10).key, limit=10_000)
    assert total == len(ours)
    pt_classes = {c["checksum"]: c for c in pt_report["classes"]}
    ours_by_id = {d["query_id"]: d for d in ours}
    matched = set(ours_by_id) & set(pt_classes)
    for query_id in matched:
        ours_digest, pt_class = ours_by_id[query_id], pt_classes[query_id]
        assert ours_digest["fingerprint"] == pt_class["fingerprint"]
        assert ours_digest["count"] == pt_class["query_count"]
        assert ours_digest["query_time"]["sum"] == pytest.approx(
            float(pt_class["metrics"]["Query_time"]["sum"]), abs=2e-6)
    # The rest differ only where pt 3.2.1 is wrong (documented in analysis/fingerprint.py):
    # pt keeps leftovers of hex and doubled-quote literals (`?beef`, `??`), splitting one
    # statement shape into several classes; we make one class of them.
    unmatched_pt = [c for q, c in pt_classes.items() if q not in matched]
    unmatched_ours = [d for q, d in ours_by_id.items() if q not in matched]
    leftover = re.compile(r"\?[0-9a-f?]+")
    assert all(leftover.search(c["fingerprint"]) for c in unmatched_pt), [
        c["fingerprint"] for c in unmatched_pt]
    assert sum(d["count"] for d in unmatched_ours) == sum(
        c["query_count"] for c in unmatched_pt)
    assert sum(d["query_time"]["sum"] for d in ours) == pytest.approx(
        float(pt_report["global"]["metrics"]["Query_time"]["sum"]), abs=1e-5)
