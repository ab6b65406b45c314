"""The small document-store port that both adapters implement.

Repositories are written once against this port, so the SQLite default and MongoDB behave
the same and one contract suite checks both. The query vocabulary is deliberately tiny —
equality, `$in`, ranges, a case-insensitive substring, one sort key, skip/limit — because
that subset means the same thing on SQLite, real MongoDB 6/7 and the nx-27017 test server.
Aggregation happens in Python (`analysis/`); the store keeps pre-aggregated documents.

Documents are JSON-like dicts; dates are stored as ISO-8601 UTC strings, which sort
correctly as text and avoid BSON date quirks of the test server.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

# A filter maps a (possibly dotted) field to a value (equality) or to a dict of operators:
# {"$in": [...]}, {"$gte": x}, {"$gt": x}, {"$lte": x}, {"$lt": x}, {"$ne": x},
# {"$contains": "text"} (case-insensitive substring).
Where = Mapping[str, Any]
OPERATORS = frozenset({"$in", "$gte", "$gt", "$lte", "$lt", "$ne", "$contains"})


class StoreError(RuntimeError):
    """The store could not be reached or refused an operation; the message is safe to show."""


class DuplicateKeyError(StoreError):
    """A unique index or `_id` already holds this key."""


@dataclass(frozen=True)
class IndexSpec:
    """An index on one collection, declared by the repository that queries it."""

    collection: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class FindQuery:
    """One read: filter, an optional sort on one field, paging and an optional projection."""

    where: Where = field(default_factory=dict)
    sort: tuple[str, int] | None = None  # (field, 1 ascending | -1 descending)
    skip: int = 0
    limit: int = 0  # 0: no limit
    fields: tuple[str, ...] = ()  # top-level fields to return; empty: whole document


class Backend(Protocol):
    """What a storage adapter provides; see store/sqlite_backend.py and store/mongo_backend.py."""

    kind: str

    def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None: ...

    def put(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """Insert or replace the whole document with this id."""

    def put_many(self, collection: str, docs: list[dict[str, Any]]) -> None:
        """Insert or replace many documents (each must carry `_id`)."""

    def insert(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """Insert; raise DuplicateKeyError when the id or a unique index is taken."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...

    def find(self, collection: str, query: FindQuery) -> list[dict[str, Any]]: ...

    def count(self, collection: str, where: Where) -> int: ...

    def distinct(self, collection: str, field: str, where: Where) -> list[Any]:
        """Distinct non-null values of one field, sorted."""

    def delete(self, collection: str, where: Where) -> int: ...

    def replace_set(
        self, collection: str, where: Where, docs: list[dict[str, Any]]
    ) -> None:
        """Delete what matches `where` and insert `docs` as one unit: re-runs never double count."""

    def acquire_lease(self, name: str, owner: str, now: str, expires: str) -> bool:
        """Take or renew a named lease if it is free, expired (before `now`) or ours."""

    def release_lease(self, name: str, owner: str) -> bool:
        """Free a named lease held by `owner` (True), so another process may take it at once;
        a lease held by someone else is left alone (False)."""

    def ping(self) -> None: ...

    def close(self) -> None: ...


def check_where(where: Where) -> None:
    """Refuse operators outside the shared subset early, with a message a developer can act on."""
    for name, cond in where.items():
        if name.startswith("$"):
            raise ValueError(f"top-level operator {name} is not supported by the store port")
        if isinstance(cond, Mapping):
            unknown = set(cond) - OPERATORS
            if unknown:
                raise ValueError(f"unsupported operator(s) {sorted(unknown)} on {name}")


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Decoding thousands of small documents makes millions of containers, and the cyclic
    garbage collector would scan them again and again while they are being made (measured:
    20,000 digests decoded in 1.30 s, 0.42 s without). Nothing decoded holds a cycle, so
    the collector is paused for the batch and resumed after (reference counting still frees
    memory meanwhile)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
