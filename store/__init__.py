"""The only package that talks to the database. Pages, API and jobs ask a `Store`.

`open_store(url)` picks the adapter from `DATABASE_URL`: `sqlite:///...` (the embedded
default) or `mongodb://...` (production). Repositories are shared code over the small
`Backend` port, so both adapters pass one contract suite.
"""

from __future__ import annotations

from dataclasses import dataclass

from store import (
    captures,
    coverage,
    day_partials,
    digests,
    flags,
    instances,
    plans,
    rds_events,
    runs,
    table_context,
)
from store.backend import Backend, DuplicateKeyError, StoreError

__all__ = ["Store", "open_store", "StoreError", "DuplicateKeyError"]


@dataclass
class Store:
    """One backend and the repositories built on it."""

    backend: Backend
    instances: instances.InstanceRepository
    runs: runs.RunRepository
    digests: digests.DigestRepository
    captures: captures.CaptureRepository
    plans: plans.PlanRepository
    flags: flags.FlagRepository
    table_context: table_context.TableContextRepository
    coverage: coverage.CoverageRepository
    rds_events: rds_events.RdsEventRepository
    day_partials: day_partials.DayPartialRepository

    @property
    def kind(self) -> str:
        return self.backend.kind

    def ping(self) -> None:
        """Raise StoreError unless the store answers (and, for SQLite, its file is there)."""
        self.backend.ping()

    def close(self) -> None:
        self.backend.close()


def _backend_for(url: str) -> Backend:
    if url.startswith("sqlite:///"):
        from store.sqlite_backend import SqliteBackend

        return SqliteBackend(url[len("sqlite:///"):])
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from store.mongo_backend import MongoBackend

        return MongoBackend(url)
    raise StoreError("DATABASE_URL must start with sqlite:/// or mongodb://")


def open_store(url: str) -> Store:
    """Connect, create indexes, and hand back the repositories."""
    backend = _backend_for(url)
    backend.ensure_indexes(
        spec
        for module in (instances, runs, digests, captures, plans, flags, table_context, coverage,
                       rds_events, day_partials)
        for spec in module.INDEXES
    )
    return Store(
        backend=backend,
        instances=instances.InstanceRepository(backend),
        runs=runs.RunRepository(backend),
        digests=digests.DigestRepository(backend),
        captures=captures.CaptureRepository(backend),
        plans=plans.PlanRepository(backend),
        flags=flags.FlagRepository(backend),
        table_context=table_context.TableContextRepository(backend),
        coverage=coverage.CoverageRepository(backend),
        rds_events=rds_events.RdsEventRepository(backend),
        day_partials=day_partials.DayPartialRepository(backend),
    )
