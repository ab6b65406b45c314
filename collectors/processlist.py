"""Reading running statements from a MySQL/MariaDB server (pymysql, short timeouts).

`performance_schema.processlist` (MySQL 8.0.22+) does not take the global mutex that
`information_schema.PROCESSLIST` does, so it is preferred; servers without it (MariaDB, older
MySQL, or performance_schema switched off, which leaves the table empty) fall back to the
information_schema table. One connection per instance is kept open between polls and
replaced when it fails.

At fleet scale the cost of a poll is what Python must decode: given the capture threshold,
the reader has the server send only its own row and the statements running long enough,
a few rows instead of every idle connection (measured in bench/realtime_poll.py: 0.14 ms of
CPU a poll instead of 2.2 ms with 300 connections on the server), and connecting costs 0.7
ms instead of 21 because every connection shares one TLS context (see `SharedTlsConnection`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.err import MySQLError

from analysis.capture import ProcessRow
from collectors.base import MYSQL_NEEDS, Collector, uses_mysql
from settings import Settings

PERFORMANCE_SCHEMA = ("SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO "
                      "FROM performance_schema.processlist")
INFORMATION_SCHEMA = ("SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO "
                      "FROM information_schema.PROCESSLIST")
INFORMATION_SCHEMA_MS = ("SELECT ID, USER, HOST, DB, COMMAND, TIME_MS / 1000, STATE, INFO "
                         "FROM information_schema.PROCESSLIST")
# The rows the server sends when a floor is given: our own connection (it tells us which
# row is ours and proves the table shows this server's connections, see _candidates), plus
# statements running at least the floor. Idle connections, usually nearly all of them, stay
# on the server. Seconds are compared in the column's own unit, so the index-free scan costs
# the server no conversion per row.
_FILTERED = ("SELECT ID, USER, HOST, DB, COMMAND, {seconds}, STATE, INFO, "
             "ID = CONNECTION_ID() FROM {table} WHERE ID = CONNECTION_ID() OR "
             "(COMMAND <> 'Sleep' AND INFO IS NOT NULL AND {column} >= {floor})")
SERVER_FILTER_MARGIN = 0.5  # seconds below the tracker's threshold still sent (see read)
NO_SUCH_TABLE = 1146


class ConnectionSettingsError(RuntimeError):
    """No usable credentials for an instance; the message names what to set (not values)."""


class ProcesslistError(RuntimeError):
    """Reading the processlist failed; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class ConnectionParams:
    """Where and as whom to connect; `password` never appears in repr or messages."""

    host: str
    port: int
    user: str
    password: str

    def __repr__(self) -> str:
        return f"ConnectionParams(host={self.host!r}, port={self.port}, user={self.user!r})"


def connection_params(instance: Mapping[str, Any], settings: Settings) -> ConnectionParams:
    """The monitoring account for an instance: its own (static file) or MYSQL_USER."""
    endpoint = instance.get("endpoint") or {}
    if not endpoint.get("address"):
        raise ConnectionSettingsError(f"{instance['instance_id']} has no endpoint address yet")
    user = instance.get("user") or settings.mysql_user
    if not user:
        raise ConnectionSettingsError("MYSQL_USER is not set (the monitoring account)")
    if instance.get("password_env"):
        password = os.environ.get(instance["password_env"])
        if password is None:
            raise ConnectionSettingsError(
                f"environment variable {instance['password_env']} (password of "
                f"{instance['instance_id']}) is not set")
    else:
        password = settings.mysql_password
    return ConnectionParams(endpoint["address"], int(endpoint.get("port") or 3306), user,
                            password)


class SharedTlsConnection(pymysql.connections.Connection):
    """pymysql's connection, with one TLS context shared by every connection.

    PyMySQL 1.2 tries TLS on every connection unless told otherwise ("preferred": encrypted
    when the server offers it, certificate not verified, plain otherwise) and builds a fresh
    default context for each one, loading the system's CA store: about 20 ms of CPU a
    connection here, most of the cost of connecting, and 10 s of one core to connect 500
    instances. The context is the same every time, so it is built once; the behaviour on the
    wire does not change. Should a later PyMySQL rename the hook, this override simply stops
    being called: slower, not wrong.
    """

    _shared_ctx: Any = None
    _shared_lock = threading.Lock()

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        if sslp != {}:  # explicit TLS options: pymysql's own handling
            return super()._create_ssl_ctx(sslp)
        with SharedTlsConnection._shared_lock:
            if SharedTlsConnection._shared_ctx is None:
                SharedTlsConnection._shared_ctx = super()._create_ssl_ctx(sslp)
            return SharedTlsConnection._shared_ctx


def connect(params: ConnectionParams, connect_timeout: float = 3,
            read_timeout: float = 5) -> pymysql.connections.Connection:
    """A pymysql connection with short timeouts; errors never carry the password."""
    try:
        return SharedTlsConnection(host=params.host, port=params.port, user=params.user,
                           password=params.password, connect_timeout=connect_timeout,
                           read_timeout=read_timeout, write_timeout=read_timeout,
                           autocommit=True, charset="utf8mb4")
    except MySQLError as exc:
        raise ProcesslistError(f"cannot connect to {params.host}:{params.port} as "
                               f"{params.user}: {_mysql_message(exc)}") from None


def _mysql_message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return f"{args[0]} {args[1]}"
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class _Source:
    """One processlist table, and how its running time is read and compared."""

    name: str  # what `ProcesslistReader.source` reports
    table: str
    seconds: str  # the running time in seconds, as selected
    column: str  # the column the floor is compared with, in its own unit
    per_second: int  # units of `column` in a second

    def query(self, floor: float | None) -> str:
        """The poll's statement: every row (floor None), or ours and those running >= floor."""
        text = _FILTERED.format(seconds=self.seconds, table=self.table, column=self.column,
                                floor=f"{max(0.0, floor or 0.0) * self.per_second:.3f}")
        return text if floor is not None else text.split(" WHERE ", 1)[0]


_PERFORMANCE_SCHEMA = _Source("performance_schema", "performance_schema.processlist", "TIME",
                              "TIME", 1)
_INFORMATION_SCHEMA = _Source("information_schema", "information_schema.PROCESSLIST", "TIME",
                              "TIME", 1)
_INFORMATION_SCHEMA_MS = _Source("information_schema", "information_schema.PROCESSLIST",
                                 "TIME_MS / 1000", "TIME_MS", 1000)


class ProcesslistReader:
    """Polls one instance; remembers which processlist source works there.

    With `min_seconds` the server filters: a poll returns our own row and the statements
    running at least `min_seconds - SERVER_FILTER_MARGIN`, a few rows where the whole list of
    a busy server has hundreds of idle connections to send, decode and drop. The tracker
    still applies the exact threshold and every other rule (users, schemas, commands), so the
    margin only lets through rows it will skip, never loses one it would keep. Without
    `min_seconds` every row comes back, as before.
    """

    def __init__(self, params: ConnectionParams, connect_timeout: float = 3,
                 read_timeout: float = 5, min_seconds: float | None = None) -> None:
        self.params = params
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._floor = None if min_seconds is None else min_seconds - SERVER_FILTER_MARGIN
        self._conn: pymysql.connections.Connection | None = None
        self._own_pid: int | None = None
        self._source: _Source | None = None
        self._query: str | None = None
        self._lock = threading.Lock()
        self.version: str | None = None
        self.connects = 0  # connections opened so far (each one is kept until it fails)

    @property
    def source(self) -> str | None:
        return self._source.name if self._source is not None else None

    @property
    def connected(self) -> bool:
        """True while a connection is kept open (a poll will not have to connect first)."""
        return self._conn is not None

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None:
            # the server's version comes with its greeting: no query needed to learn it
            self._conn = connect(self.params, self._connect_timeout, self._read_timeout)
            self.connects += 1
            self.version = self._conn.get_server_info()
        return self._conn

    def _candidates(self) -> list[_Source]:
        if "mariadb" in str(self.version or "").lower():
            return [_INFORMATION_SCHEMA_MS, _INFORMATION_SCHEMA]
        return [_PERFORMANCE_SCHEMA, _INFORMATION_SCHEMA]

    def _choose_source(self, cursor: Any) -> list[tuple]:
        """Try each table in turn; the first that shows our own connection is kept, and the
        rows it returned are this poll's. performance_schema switched off leaves its table
        empty, and a missing grant hides other users' rows: our own row is the proof."""
        for source in self._candidates():
            query = source.query(self._floor)
            try:
                cursor.execute(query)
            except MySQLError as exc:
                if exc.args and exc.args[0] in (NO_SUCH_TABLE, 1054, 1142, 1227):
                    continue
                raise
            rows = cursor.fetchall()
            if any(row[8] for row in rows):
                self._source, self._query = source, query
                return rows
        raise ProcesslistError("no readable processlist (grant PROCESS to the monitoring "
                               "account)")

    def read(self) -> tuple[int | None, list[ProcessRow]]:
        """(our own connection id, the running statements); reconnects once on failure.

        Our own row is in the answer (the last column flags it), so the connection id needs
        no query of its own, after a reconnect included. One round trip a poll.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                    with conn.cursor() as cursor:
                        if self._query is None:
                            raw = self._choose_source(cursor)
                        else:
                            cursor.execute(self._query)
                            raw = cursor.fetchall()
                    own = [r[0] for r in raw if r[8]]
                    if own:
                        self._own_pid = int(own[0])
                    return self._own_pid, [_row(r) for r in raw]
                except (MySQLError, OSError) as exc:
                    self.close()
                    if attempt == 2:
                        raise ProcesslistError(
                            f"{self.params.host}:{self.params.port}: {_mysql_message(exc)}"
                        ) from None
            raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            # closing a broken connection may fail; it is gone either way
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def _row(raw: tuple) -> ProcessRow:
    pid, user, host, db, command, seconds, state, info = raw[:8]
    if isinstance(info, bytes):
        info = info.decode("utf-8", "replace")
    return ProcessRow(pid=int(pid), user=user, host=host, db=db, command=command,
                      time=float(seconds or 0), state=state, info=info)


COLLECTOR = Collector(
    name="processlist",
    title="Statements running now (MySQL processlist)",
    reads=("the statements running on each instance, polled every REALTIME_INTERVAL_SECONDS with"
           " the monitoring account (PROCESS)"),
    needs=MYSQL_NEEDS,
    is_configured=uses_mysql,
)
