"""Shared fixtures: real servers (nx-27017 for MongoDB, moto for AWS) and the app on them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store, open_store
from tests.servers import NxServer, start_nx

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
