"""The production adapter: MongoDB through pymongo (targets MongoDB 6.0, 7.0 and 8.0).

It keeps to plain CRUD, simple finds and `_id`-keyed upserts, because that subset means the
same on real MongoDB and on the nx-27017 wire-protocol server the contract tests run against
(see ../shared/MONGODB-TESTING.md). No `$group` on several fields, no date operators in
updates: aggregation happens in Python and dates are ISO strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pymongo
from pymongo import MongoClient, ReplaceOne
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.errors import PyMongoError

from analysis.safe_text import redact_urls
from store.backend import (
    DuplicateKeyError,
    FindQuery,
    IndexSpec,
    StoreError,
    Where,
    check_where,
    no_gc_pauses,
)

DELETE_BATCH = 5000  # ids per delete, keeping each command far below the 16 MB limit


def _mongo_filter(where: Where) -> dict[str, Any]:
    check_where(where)
    result: dict[str, Any] = {}
    for name, cond in where.items():
        if isinstance(cond, dict):
            translated: dict[str, Any] = {}
            for op, value in cond.items():
                if op == "$contains":
                    translated["$regex"] = re.escape(str(value))
                    translated["$options"] = "i"
                elif op == "$in":
                    translated["$in"] = list(value)
                else:
                    translated[op] = value
            result[name] = translated
        else:
            result[name] = cond
    return result


def _safe_message(exc: Exception) -> str:
    """pymongo messages may echo the URI; keep only the class and the first line, sans creds
    (also a password holding '@' or ':', which a simpler pattern would cut in two)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # server-selection errors append timeouts and a topology dump: the cause comes first
    text = re.split(r" \(configured timeouts|, Timeout: ", text)[0]
    return redact_urls(text)[:300]


class MongoBackend:
    """Documents in MongoDB collections of the database named in the URI."""

    kind = "mongodb"

    def __init__(self, url: str, timeout_ms: int = 10000) -> None:
        # Timeouts given in DATABASE_URL (serverSelectionTimeoutMS=...) win over ours: pymongo
        # lets keyword arguments override the URI, so ours are passed only when it has none.
        given = {name.lower() for name in parse_qs(urlsplit(url).query)}
        timeouts = {name: value for name, value in (
            ("serverSelectionTimeoutMS", timeout_ms), ("connectTimeoutMS", timeout_ms),
            ("socketTimeoutMS", max(timeout_ms, 30000))) if name.lower() not in given}
        try:
            self._client: MongoClient = MongoClient(url, tz_aware=True, **timeouts)
            self._db = self._client.get_default_database(default="slowquery")
        except (PyMongoError, ValueError) as exc:
            raise StoreError(f"cannot use DATABASE_URL: {_safe_message(exc)}") from None

    def _coll(self, name: str) -> pymongo.collection.Collection:
        return self._db[name]

    def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            keys = [(f, pymongo.ASCENDING) for f in spec.fields]
            self._call(self._coll(spec.collection).create_index, keys, unique=spec.unique)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MongoDuplicateKeyError as exc:
            raise DuplicateKeyError(_safe_message(exc)) from None
        except PyMongoError as exc:
            raise StoreError(f"MongoDB: {_safe_message(exc)}") from None

    def put(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        body = {**doc, "_id": doc_id}
        self._call(self._coll(collection).replace_one, {"_id": doc_id}, body, upsert=True)

    def put_many(self, collection: str, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs]
        self._call(self._coll(collection).bulk_write, ops, ordered=False)

    def insert(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        self._call(self._coll(collection).insert_one, {**doc, "_id": doc_id})

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return self._call(self._coll(collection).find_one, {"_id": doc_id})

    def find(self, collection: str, query: FindQuery) -> list[dict[str, Any]]:
        projection = {f: 1 for f in query.fields} if query.fields else None
        cursor = self._coll(collection).find(_mongo_filter(query.where), projection)
        if query.sort:
            cursor = cursor.sort([(query.sort[0], query.sort[1]), ("_id", pymongo.ASCENDING)])
        if query.skip:
            cursor = cursor.skip(query.skip)
        if query.limit:
            cursor = cursor.limit(query.limit)
        with no_gc_pauses():  # BSON decoding makes as many containers as JSON does
            return self._call(list, cursor)

    def count(self, collection: str, where: Where) -> int:
        return self._call(self._coll(collection).count_documents, _mongo_filter(where))

    def distinct(self, collection: str, field: str, where: Where) -> list[Any]:
        values = self._call(self._coll(collection).distinct, field, _mongo_filter(where))
        return sorted(v for v in values if v is not None)

    def delete(self, collection: str, where: Where) -> int:
        result = self._call(self._coll(collection).delete_many, _mongo_filter(where))
        return result.deleted_count

    def replace_set(self, collection: str, where: Where, docs: list[dict[str, Any]]) -> None:
        # Not one transaction (standalone servers have none). The new set is written first
        # (same `_id`s overwrite), then only what it no longer holds is deleted: a store that
        # fails half-way leaves the period's previous documents, never an empty period and
        # never a document twice. The run reports the failure; a re-run makes it exact.
        old_ids = {d["_id"] for d in self.find(collection, FindQuery(where=where,
                                                                      fields=("_id",)))}
        self.put_many(collection, docs)
        stale = sorted(old_ids - {d["_id"] for d in docs})
        for start in range(0, len(stale), DELETE_BATCH):
            self.delete(collection, {"_id": {"$in": stale[start:start + DELETE_BATCH]}})

    def acquire_lease(self, name: str, owner: str, now: str, expires: str) -> bool:
        coll = self._coll("leases")
        try:
            self._call(coll.insert_one, {"_id": name, "owner": owner, "expires": expires})
            return True
        except DuplicateKeyError:
            pass
        for condition in ({"owner": owner}, {"expires": {"$lt": now}}):
            taken = self._call(
                coll.find_one_and_update,
                {"_id": name, **condition},
                {"$set": {"owner": owner, "expires": expires}},
            )
            if taken is not None:
                return True
        return False

    def release_lease(self, name: str, owner: str) -> bool:
        result = self._call(self._coll("leases").delete_one, {"_id": name, "owner": owner})
        return result.deleted_count > 0

    def ping(self) -> None:
        self._call(self._db.command, "ping")

    def close(self) -> None:
        self._client.close()
