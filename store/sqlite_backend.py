"""The embedded default: documents in SQLite (stdlib), so a newcomer needs no database server.

Each collection is a table `(id TEXT PRIMARY KEY, doc TEXT)` holding JSON. Indexes are
expression indexes on `json_extract(doc, '$.field')`; queries use the identical expression,
so SQLite's planner uses them. WAL mode lets readers run while the single writer writes;
all writes go through one connection behind a lock (SQLite allows one writer at a time, and
queueing in-process avoids `database is locked` errors under the scheduler's threads).
"""

from __future__ import annotations

import json
import queue
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store.backend import DuplicateKeyError, FindQuery, IndexSpec, StoreError, Where, check_where

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_READERS = 8  # concurrent reads; SQLite in WAL mode reads in parallel, 8 fill 2 cores
READER_WAIT_SECONDS = 30
_COMPARE = {"$gte": ">=", "$gt": ">", "$lte": "<=", "$lt": "<", "$ne": "IS NOT"}


def _table(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad collection name {name!r}")
    return f'"c_{name}"'


def _path(field: str) -> str:
    if field == "_id":
        return "id"
    if not _FIELD.match(field):
        raise ValueError(f"bad field name {field!r}")
    return f"json_extract(doc, '$.{field}')"


def _sql_value(value: Any) -> Any:
    """JSON booleans come back from json_extract as 0/1; compare like with like."""
    if isinstance(value, bool):
        return int(value)
    return value


def _where_sql(where: Where) -> tuple[str, list[Any]]:
    check_where(where)
    clauses: list[str] = []
    params: list[Any] = []
    for name, cond in where.items():
        expr = _path(name)
        if not isinstance(cond, dict):
            if cond is None:
                clauses.append(f"{expr} IS NULL")
            else:
                clauses.append(f"{expr} = ?")
                params.append(_sql_value(cond))
            continue
        for op, value in cond.items():
            if op == "$in":
                values = list(value)
                if not values:
                    clauses.append("0")
                    continue
                clauses.append(f"{expr} IN ({','.join('?' * len(values))})")
                params.extend(_sql_value(v) for v in values)
            elif op == "$contains":
                clauses.append(f"instr(lower({expr}), lower(?)) > 0")
                params.append(str(value))
            elif op == "$ne":
                clauses.append(f"({expr} IS NULL OR {expr} != ?)")
                params.append(_sql_value(value))
            else:
                clauses.append(f"{expr} {_COMPARE[op]} ?")
                params.append(_sql_value(value))
    return (" AND ".join(clauses) or "1"), params


class SqliteBackend:
    """Documents in one SQLite file; see the module docstring for why it is shaped this way."""

    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        # Readers: a bounded pool, not one connection per thread (a threaded server makes
        # a thread per request, and per-thread connections piled up to hundreds of files).
        self._idle_readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._reader_slots = threading.BoundedSemaphore(MAX_READERS)
        self._closed = False
        self._tables: set[str] = set()
        try:
            self._writer = self._connect()
            self._writer.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                               isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A reader from the pool (waits while MAX_READERS are busy); sqlite errors become
        StoreError, which callers know how to report."""
        if not self._reader_slots.acquire(timeout=READER_WAIT_SECONDS):
            raise StoreError(f"SQLite database {self.path}: every reader is busy")
        conn = None
        try:
            try:
                conn = self._idle_readers.get_nowait()
            except queue.Empty:
                conn = self._connect()
            yield conn
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()  # it may be broken: the next reader is a fresh one
                conn = None
            raise StoreError(f"SQLite database {self.path}: {exc}") from exc
        finally:
            if conn is not None:
                if self._closed:
                    conn.close()
                else:
                    self._idle_readers.put(conn)
            self._reader_slots.release()

    def _ensure_table(self, collection: str) -> str:
        table = _table(collection)
        if collection not in self._tables:
            with self._write_lock:
                self._writer.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)"
                )
            self._tables.add(collection)
        return table

    def ensure_indexes(self, specs: Iterable[IndexSpec]) -> None:
        for spec in specs:
            table = self._ensure_table(spec.collection)
            name = f"ix_{spec.collection}_{'_'.join(f.replace('.', '_') for f in spec.fields)}"
            unique = "UNIQUE " if spec.unique else ""
            columns = ", ".join(_path(f) for f in spec.fields)
            with self._write_lock:
                self._writer.execute(
                    f'CREATE {unique}INDEX IF NOT EXISTS "{name}" ON {table} ({columns})'
                )

    @staticmethod
    def _dump(doc_id: str, doc: dict[str, Any]) -> str:
        body = dict(doc)
        body["_id"] = doc_id
        return json.dumps(body, separators=(",", ":"), default=str)

    def put(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        table = self._ensure_table(collection)
        with self._write_lock:
            self._execute_write(
                f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)",
                (doc_id, self._dump(doc_id, doc)),
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the single writer connection."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise

    def put_many(self, collection: str, docs: list[dict[str, Any]]) -> None:
        table = self._ensure_table(collection)
        rows = [(d["_id"], self._dump(d["_id"], d)) for d in docs]
        with self._transaction() as writer:
            writer.executemany(f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)", rows)

    def insert(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        table = self._ensure_table(collection)
        with self._write_lock:
            self._execute_write(
                f"INSERT INTO {table} (id, doc) VALUES (?, ?)", (doc_id, self._dump(doc_id, doc))
            )

    def _execute_write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._writer.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise DuplicateKeyError(str(exc)) from exc

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        table = self._ensure_table(collection)
        with self._reading() as reader:
            row = reader.execute(f"SELECT doc FROM {table} WHERE id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def find(self, collection: str, query: FindQuery) -> list[dict[str, Any]]:
        table = self._ensure_table(collection)
        clause, params = _where_sql(query.where)
        sql = f"SELECT doc FROM {table} WHERE {clause}"
        if query.sort:
            name, direction = query.sort
            sql += f" ORDER BY {_path(name)} {'DESC' if direction < 0 else 'ASC'}, id"
        if query.limit or query.skip:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, query.limit or -1, query.skip]
        with self._reading() as reader:
            rows = reader.execute(sql, params).fetchall()
        docs = [json.loads(r[0]) for r in rows]
        if query.fields:
            keep = set(query.fields) | {"_id"}
            docs = [{k: v for k, v in d.items() if k in keep} for d in docs]
        return docs

    def count(self, collection: str, where: Where) -> int:
        table = self._ensure_table(collection)
        clause, params = _where_sql(where)
        with self._reading() as reader:
            return reader.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {clause}", params).fetchone()[0]

    def distinct(self, collection: str, field: str, where: Where) -> list[Any]:
        table = self._ensure_table(collection)
        clause, params = _where_sql(where)
        expr = _path(field)
        with self._reading() as reader:
            rows = reader.execute(
                f"SELECT DISTINCT {expr} FROM {table} WHERE {clause} AND {expr} IS NOT NULL "
                f"ORDER BY 1", params).fetchall()
        return [r[0] for r in rows]

    def delete(self, collection: str, where: Where) -> int:
        table = self._ensure_table(collection)
        clause, params = _where_sql(where)
        with self._write_lock:
            return self._writer.execute(f"DELETE FROM {table} WHERE {clause}", params).rowcount

    def replace_set(self, collection: str, where: Where, docs: list[dict[str, Any]]) -> None:
        table = self._ensure_table(collection)
        clause, params = _where_sql(where)
        rows = [(d["_id"], self._dump(d["_id"], d)) for d in docs]
        with self._transaction() as writer:
            writer.execute(f"DELETE FROM {table} WHERE {clause}", params)
            writer.executemany(f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)", rows)

    def acquire_lease(self, name: str, owner: str, now: str, expires: str) -> bool:
        doc = self._dump(name, {"owner": owner, "expires": expires})
        try:
            table = self._ensure_table("leases")
            with self._transaction() as writer:
                row = writer.execute(f"SELECT doc FROM {table} WHERE id = ?", (name,)).fetchone()
                current = json.loads(row[0]) if row else None
                free = current is None or current["owner"] == owner or current["expires"] < now
                if free:
                    writer.execute(f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)",
                                   (name, doc))
        except sqlite3.Error as exc:  # callers cope with StoreError, not with sqlite's own
            raise StoreError(f"SQLite database {self.path}: lease {name}: {exc}") from exc
        return free

    def release_lease(self, name: str, owner: str) -> bool:
        try:
            table = self._ensure_table("leases")
            with self._write_lock:
                deleted = self._writer.execute(
                    f"DELETE FROM {table} WHERE id = ? AND json_extract(doc, '$.owner') = ?",
                    (name, owner)).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite database {self.path}: lease {name}: {exc}") from exc
        return deleted > 0

    def ping(self) -> None:
        with self._reading() as reader:
            reader.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._closed = True
        with self._write_lock:
            self._writer.close()
        while True:
            try:
                self._idle_readers.get_nowait().close()
            except queue.Empty:
                break
