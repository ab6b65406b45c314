"""The embedded default: documents in SQLite (stdlib), so a newcomer needs no database server.

Each collection is a table `(id TEXT PRIMARY KEY, doc TEXT)` holding JSON. Indexes are
expression indexes on `json_extract(doc, '$.field')`; queries use the identical expression,
so SQLite's planner uses them. WAL mode lets readers run while the single writer writes;
all writes go through one connection behind a lock (SQLite allows one writer at a time, and
queueing in-process avoids `database is locked` errors under the scheduler's threads).

The file is watched: an open connection keeps writing into a deleted file (the inode lives
on while it is open), so after `rm -rf data/` every write would be lost without an error.
Each operation compares the path's inode with the one opened; when the file is gone every
operation fails with a clear StoreError, and when a file (or its directory) is back the
backend reopens by itself, recreating tables and indexes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store.backend import (
    DuplicateKeyError,
    FindQuery,
    IndexSpec,
    StoreError,
    Where,
    check_where,
    no_gc_pauses,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_READERS = 8  # concurrent reads; SQLite in WAL mode reads in parallel, 8 fill 2 cores
READER_WAIT_SECONDS = 30
log = logging.getLogger(__name__)
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
        self._write_lock = threading.RLock()  # re-entered when a reopen recreates indexes
        # Readers: a bounded pool, not one connection per thread (a threaded server makes
        # a thread per request, and per-thread connections piled up to hundreds of files).
        self._idle_readers: queue.LifoQueue[tuple[int, sqlite3.Connection]] = queue.LifoQueue()
        self._reader_slots = threading.BoundedSemaphore(MAX_READERS)
        self._closed = False
        self._tables: set[str] = set()
        self._index_specs: list[IndexSpec] = []
        self._generation = 0  # bumped at each reopen; pooled readers of older ones are dropped
        self._file_id: tuple[int, int] | None = None
        with self._write_lock:
            self._open_writer()

    def _open_writer(self) -> None:
        """(Re)open the writer and remember which file it holds; call with the write lock."""
        try:
            self._writer = self._connect()
            self._writer.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._file_id = self._current_file_id()

    def _current_file_id(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def _check_file(self) -> None:
        """Fail clearly while the file is gone; reopen when it (or its directory) is back."""
        if self.path == ":memory:" or self._closed:
            return
        current = self._current_file_id()
        if current is not None and current == self._file_id:
            return
        with self._write_lock:
            current = self._current_file_id()
            if current is not None and current == self._file_id:
                return  # another thread reopened it meanwhile
            if current is None and not Path(self.path).parent.is_dir():
                raise StoreError(f"SQLite database {self.path}: its directory is gone "
                                 "(deleted or moved)")
            self._reopen()

    def _reopen(self) -> None:
        """Swap every connection for one on the file now at the path; call with the lock."""
        log.warning("SQLite database %s was deleted or replaced: reopening it", self.path)
        with contextlib.suppress(sqlite3.Error):
            self._writer.close()
        self._generation += 1
        self._drain_idle_readers()
        self._tables = set()
        self._open_writer()
        specs, self._index_specs = self._index_specs, []
        self.ensure_indexes(specs)

    def _drain_idle_readers(self) -> None:
        while True:
            try:
                self._idle_readers.get_nowait()[1].close()
            except queue.Empty:
                return

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
        generation = self._generation
        try:
            while conn is None:
                try:
                    generation, conn = self._idle_readers.get_nowait()
                except queue.Empty:
                    generation, conn = self._generation, self._connect()
                if generation != self._generation:  # it reads a file that was replaced
                    conn.close()
                    conn = None
            yield conn
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()  # it may be broken: the next reader is a fresh one
                conn = None
            raise StoreError(f"SQLite database {self.path}: {exc}") from exc
        finally:
            if conn is not None:
                if self._closed or generation != self._generation:
                    conn.close()
                else:
                    self._idle_readers.put((generation, conn))
            self._reader_slots.release()

    def _ensure_table(self, collection: str) -> str:
        """The table for a collection, created on first use; every operation starts here,
        so this is also where a deleted or replaced file is noticed."""
        table = _table(collection)
        self._check_file()
        if collection not in self._tables:
            with self._write_lock:
                self._write_sql(
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
                self._write_sql(
                    f'CREATE {unique}INDEX IF NOT EXISTS "{name}" ON {table} ({columns})'
                )
                self._index_specs.append(spec)

    @staticmethod
    def _dump(doc_id: str, doc: dict[str, Any]) -> str:
        body = dict(doc)
        body["_id"] = doc_id
        return json.dumps(body, separators=(",", ":"), default=str)

    def put(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        table = self._ensure_table(collection)
        with self._write_lock:
            self._write_sql(
                f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)",
                (doc_id, self._dump(doc_id, doc)),
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the single writer connection; sqlite errors (a full disk,
        a read-only file) become StoreError and the transaction is rolled back."""
        with self._write_lock:
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield self._writer
                    self._writer.execute("COMMIT")
                except BaseException:
                    if self._writer.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._writer.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError(str(exc)) from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite database {self.path}: {exc}") from exc

    def put_many(self, collection: str, docs: list[dict[str, Any]]) -> None:
        table = self._ensure_table(collection)
        rows = [(d["_id"], self._dump(d["_id"], d)) for d in docs]
        with self._transaction() as writer:
            writer.executemany(f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)", rows)

    def insert(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        table = self._ensure_table(collection)
        with self._write_lock:
            self._write_sql(
                f"INSERT INTO {table} (id, doc) VALUES (?, ?)", (doc_id, self._dump(doc_id, doc))
            )

    def _write_sql(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """One statement on the writer (call with the write lock); errors the callers know."""
        try:
            return self._writer.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise DuplicateKeyError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite database {self.path}: {exc}") from exc

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
        # Whole documents are decoded and the fields picked here: with the big per-hour
        # series kept apart, that is faster than json_extract per field (SQLite 3.40 parses
        # the document again for each call).
        with no_gc_pauses():
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
            return self._write_sql(f"DELETE FROM {table} WHERE {clause}", params).rowcount

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
        self._check_file()
        with self._reading() as reader:
            reader.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._closed = True
        with self._write_lock:
            self._writer.close()
        self._drain_idle_readers()
