"""Read one table's context from a monitored server: estimated rows, indexes, CREATE TABLE.

"Why is this a full scan" is answered by the table: which indexes exist, on which columns,
and how big the table is. This reads them with the monitoring account, in the same kind of
session EXPLAIN uses (collectors/explain.py): a fresh connection with short timeouts, made
READ ONLY, with a server-side statement time limit. Only ``SHOW CREATE TABLE`` and
``information_schema`` SELECTs are sent; nothing is ever written on the server, and nothing
is written to the store here either (jobs/table_context.py keeps the result).

Every failure is one :class:`TableContextError` whose message is a sentence a user can act on
(no password, ever).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pymysql

from analysis.units import utc_iso
from collectors.base import MYSQL_NEEDS, Collector, uses_mysql
from collectors.explain import (
    ExplainError,
    _close_quietly,
    _connect,
    _error_code,
    _error_text,
    prepare_session,
    quote_identifier,
)
from collectors.processlist import ConnectionParams

__all__ = ["TableContextError", "read_table_context"]

NO_SUCH_TABLE = 1146
NO_SUCH_DATABASE = 1049
DENIED = {1142, 1044, 1045, 1143}
GRACE_SECONDS = 2.0
MAX_CREATE_CHARS = 200_000  # a CREATE TABLE with thousands of partitions stays readable

_STATISTICS = (
    "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, CARDINALITY, "
    "INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND "
    "TABLE_NAME = %s ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX")
_TABLES = (
    "SELECT TABLE_TYPE, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM "
    "information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s")


class TableContextError(RuntimeError):
    """The table's context could not be read; the message says why and what to do."""


def _where(params: ConnectionParams) -> str:
    return f"{params.user or '(no user)'}@{params.host}:{params.port}"


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def indexes_from_statistics(rows: list[tuple]) -> list[dict[str, Any]]:
    """information_schema.STATISTICS rows -> one entry per index, columns in index order."""
    indexes: dict[str, dict[str, Any]] = {}
    for name, non_unique, _seq, column, sub_part, cardinality, index_type in rows:
        entry = indexes.setdefault(str(name), {
            "name": str(name), "unique": not int(non_unique), "primary": name == "PRIMARY",
            "type": index_type, "columns": [], "cardinality": None})
        entry["columns"].append(f"{column}({sub_part})" if sub_part else str(column))
        entry["cardinality"] = _number(cardinality)  # of the whole prefix: the last column's
    return list(indexes.values())


def read_table_context(params: ConnectionParams, schema: str, table: str,
                       timeout_seconds: float = 5.0, *,
                       now: datetime | None = None) -> dict[str, Any]:
    """``{schema, table, table_type, engine, rows_estimate, data_bytes, index_bytes, indexes,
    create_table, read_at}`` of ``schema.table``; raises :class:`TableContextError`."""
    try:
        conn = _connect(params, timeout_seconds + GRACE_SECONDS)
    except ExplainError as exc:
        raise TableContextError(f"The server could not be reached ({exc}); check that it is "
                                "running and that the monitoring account may connect.") from None
    try:
        try:
            prepare_session(conn, None, timeout_seconds)
            with conn.cursor() as cur:
                cur.execute(_TABLES, (schema, table))
                info = cur.fetchone()
                if info is None:
                    raise TableContextError(
                        f"{schema}.{table} was not found on the server (dropped or renamed "
                        f"since the plan was recorded?), or {params.user} may not see it.")
                cur.execute(f"SHOW CREATE TABLE {quote_identifier(schema)}."
                            f"{quote_identifier(table)}")
                create = cur.fetchone()
                cur.execute(_STATISTICS, (schema, table))
                statistics = list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise TableContextError(_server_error(exc, params, schema, table)) from None
        except ExplainError as exc:
            raise TableContextError(f"The read-only session could not be set up: {exc}.") \
                from None
    finally:
        _close_quietly(conn)
    table_type, engine, rows, data_length, index_length = info
    text = str(create[1]) if create and len(create) > 1 else ""
    return {
        "schema": schema, "table": table, "table_type": table_type, "engine": engine,
        "rows_estimate": _number(rows), "data_bytes": _number(data_length),
        "index_bytes": _number(index_length),
        "indexes": indexes_from_statistics(statistics),
        "create_table": text[:MAX_CREATE_CHARS],
        "read_at": utc_iso(now or datetime.now(UTC)),
    }


def _server_error(exc: BaseException, params: ConnectionParams, schema: str,
                  table: str) -> str:
    code = _error_code(exc)
    if code in (NO_SUCH_TABLE, NO_SUCH_DATABASE):
        return (f"{schema}.{table} does not exist on the server any more "
                f"({_error_text(exc)}).")
    if code in DENIED:
        return (f"The monitoring account {params.user} may not read {schema}.{table} "
                f"({_error_text(exc)}); grant it SELECT on that schema.")
    return f"Reading {schema}.{table} on {_where(params)} failed: {_error_text(exc)}."


COLLECTOR = Collector(
    name="table-context",
    title="Table context (information_schema, SHOW CREATE TABLE)",
    reads=("the size, engine, indexes and definition of the tables a plan reads, in a read-only,"
           " time-limited session of the monitoring account"),
    needs=MYSQL_NEEDS,
    is_configured=uses_mysql,
)
