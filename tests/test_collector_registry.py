"""Collectors as plug-ins: every source declares itself, jobs are found, nothing hand-wired.

Also the architecture's rule that collectors only read: no collector imports the store or Dash.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

import collectors
import jobs
from app import create_app
from collectors import registry
from jobs.registry import jobs_for, scheduled_jobs
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PLUMBING = {"base", "registry", "aws", "aws_limits"}  # shared parts, not sources


def _source_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(collectors.__path__)
                  if m.name not in PLUMBING)


def test_every_source_module_declares_a_collector() -> None:
    names = _source_modules()
    assert {"cloudwatch", "explain", "inventory", "processlist", "rds_params",
            "table_context"} <= set(names)
    for name in names:
        module = importlib.import_module(f"collectors.{name}")
        assert isinstance(getattr(module, "COLLECTOR", None), collectors.base.Collector), name
    assert len(registry.registered()) == len(names)


def test_collectors_never_import_the_store_or_dash() -> None:
    for path in sorted((ROOT / "collectors").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module or ""]
            else:
                continue
            for target in targets:
                top = target.split(".")[0]
                assert top not in {"store", "dash", "pymongo", "jobs", "pages", "api"}, (
                    f"{path.name} imports {target}: collectors only read and return data")


def test_status_says_what_to_set_until_configured(settings: Settings) -> None:
    bare = {s["name"]: s for s in registry.statuses(settings)}
    assert bare["cloudwatch-slowlog"]["configured"] is False
    assert "AWS_REGION" in bare["cloudwatch-slowlog"]["needs"]
    assert bare["explain"]["configured"] is False
    assert "MYSQL_USER" in bare["explain"]["needs"]

    configured = replace(settings, aws_region="eu-west-1", mysql_user="monitor")
    for status in registry.statuses(configured):
        assert status["configured"] is True, status["name"]
        assert status["needs"] is None
        assert status["reads"] and status["title"]


def test_jobs_follow_their_collectors_configuration(settings: Settings, tmp_path: Path) -> None:
    declared = {job.name for job in scheduled_jobs()}
    assert {"inventory-refresh", "fleet-views", "realtime-capture"} <= declared
    for job in scheduled_jobs():
        for name in job.reads:
            registry.get(name)  # every collector a job reads exists

    bare = {job.name for job, _ in jobs_for(settings)}
    assert "inventory-refresh" not in bare  # nothing to list instances from
    assert {"fleet-views", "realtime-capture"} <= bare

    static = tmp_path / "instances.json"
    static.write_text("[]", encoding="utf-8")
    chosen = dict((job.name, seconds) for job, seconds in
                  jobs_for(replace(settings, static_instances_file=static,
                                   inventory_refresh_minutes=7)))
    assert chosen["inventory-refresh"] == 7 * 60
    off = {job.name for job, _ in jobs_for(replace(settings, static_instances_file=static,
                                                   inventory_refresh_minutes=0))}
    assert "inventory-refresh" not in off


@pytest.fixture
def extra_source(tmp_path: Path):
    """A new source added the documented way: one collector file and one job file."""
    collector_dir = tmp_path / "more_collectors"
    job_dir = tmp_path / "more_jobs"
    collector_dir.mkdir()
    job_dir.mkdir()
    (collector_dir / "ps_digests.py").write_text(textwrap.dedent('''
        from collectors.base import MYSQL_NEEDS, Collector, uses_mysql

        def read_digests(settings):
            return [{"digest": "abc", "count": 3}]

        COLLECTOR = Collector(name="ps-digests", title="performance_schema digests",
                              reads="events_statements_summary_by_digest",
                              needs=MYSQL_NEEDS, is_configured=uses_mysql)
    '''), encoding="utf-8")
    (job_dir / "ps_digests_job.py").write_text(textwrap.dedent('''
        from jobs.registry import ScheduledJob

        RUNS = []
        SCHEDULED_JOBS = (
            ScheduledJob("ps-digests", lambda s: 0.2 if s.mysql_user else None,
                         task=lambda services: lambda: RUNS.append(services.settings.mysql_user),
                         reads=("ps-digests",)),
        )
    '''), encoding="utf-8")
    collectors.__path__.append(str(collector_dir))
    jobs.__path__.append(str(job_dir))
    registry.registered.cache_clear()
    scheduled_jobs.cache_clear()
    yield
    collectors.__path__.remove(str(collector_dir))
    jobs.__path__.remove(str(job_dir))
    registry.registered.cache_clear()
    scheduled_jobs.cache_clear()


def test_a_new_source_is_one_collector_file_and_one_job_file(extra_source, settings: Settings
                                                               ) -> None:
    import time

    assert registry.get("ps-digests").reads == "events_statements_summary_by_digest"
    configured = replace(settings, mysql_user="monitor", scheduler_enabled=True)
    app = create_app(configured)
    services = app.server.extensions["slowquery"]
    try:
        body = app.server.test_client().get("/api/collectors").get_json()
        assert {c["name"]: c["configured"] for c in body["collectors"]}["ps-digests"] is True
        job = next(j for j in body["jobs"] if j["name"] == "ps-digests")
        assert job == {"name": "ps-digests", "reads": ["ps-digests"], "every_seconds": 0.2,
                       "scheduled": True}
        module = importlib.import_module("jobs.ps_digests_job")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not module.RUNS:
            time.sleep(0.1)
        assert module.RUNS and module.RUNS[0] == "monitor"  # the scheduler ran it, unwired
    finally:
        services.scheduler.shutdown()


def test_api_lists_collectors_and_jobs(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    body = client.get("/api/collectors").get_json()
    names = [c["name"] for c in body["collectors"]]
    assert names == sorted(names, key=lambda n: names.index(n))  # stable order
    assert "cloudwatch-slowlog" in names
    inventory = next(j for j in body["jobs"] if j["name"] == "inventory-refresh")
    assert inventory["scheduled"] is False and inventory["every_seconds"] is None
    assert client.get("/api/collectors?x=1").status_code == 400
