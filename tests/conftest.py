"""Shared fixtures: real servers (nx-27017 for MongoDB, moto for AWS) and the app on them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings
from store import Store, open_store
from tests.servers import MotoServer, NxServer, start_moto, start_nx
from tests.slowlog_fixtures import mariadb_slowlog, pt_events, pt_report  # noqa: F401

REGION = "us-east-1"

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def nx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer]:
    server = start_nx(tmp_path_factory.mktemp("nx"))
    yield server
    server.stop()


@pytest.fixture
def mongo_url(nx_server: NxServer) -> str:
    """A fresh logical database per test, so tests never see each other's documents."""
    return nx_server.url(f"t{next(_database_numbers)}")


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The contract fixture: every test using it runs on both adapters."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("mongo_url")
    opened = open_store(url)
    yield opened
    opened.close()


@pytest.fixture(params=["sqlite", "mongodb"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DATABASE_URL for an app under test, on each adapter in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("mongo_url")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto and fake credentials in the environment (boto3 reads them from there)."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an app on the embedded store with no AWS, no scheduler and no monthly
    collection (a test that turns the scheduler on must not start one by the calendar)."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", scheduler_enabled=False,
                    collect_monthly_at="")


@pytest.fixture
def aws_settings(settings: Settings, aws: MotoServer) -> Settings:
    from dataclasses import replace

    return replace(settings, aws_region=REGION, aws_endpoint_url=aws.url,
                   aws_timeout_seconds=5)


def pytest_setup_options():
    """Chromium flags for this closed network (see the machine notes): no background calls."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in ("--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"):
        options.add_argument(flag)
    return options
