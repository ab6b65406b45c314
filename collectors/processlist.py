"""Reading running statements from a MySQL/MariaDB server (pymysql, short timeouts).

`performance_schema.processlist` (MySQL 8.0.22+) does not take the global mutex that
`information_schema.PROCESSLIST` does, so it is preferred; servers without it (MariaDB, older
MySQL, or performance_schema switched off, which leaves the table empty) fall back to the
information_schema table. One connection per instance is kept open between polls and
replaced when it fails.
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
from settings import Settings

PERFORMANCE_SCHEMA = ("SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO "
                      "FROM performance_schema.processlist")
INFORMATION_SCHEMA = ("SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO "
                      "FROM information_schema.PROCESSLIST")
INFORMATION_SCHEMA_MS = ("SELECT ID, USER, HOST, DB, COMMAND, TIME_MS / 1000, STATE, INFO "
                         "FROM information_schema.PROCESSLIST")
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


def connect(params: ConnectionParams, connect_timeout: float = 3,
            read_timeout: float = 5) -> pymysql.connections.Connection:
    """A pymysql connection with short timeouts; errors never carry the password."""
    try:
        return pymysql.connect(host=params.host, port=params.port, user=params.user,
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


class ProcesslistReader:
    """Polls one instance; remembers which processlist source works there."""

    def __init__(self, params: ConnectionParams, connect_timeout: float = 3,
                 read_timeout: float = 5) -> None:
        self.params = params
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._conn: pymysql.connections.Connection | None = None
        self._own_pid: int | None = None
        self._query: str | None = None
        self._lock = threading.Lock()

    @property
    def source(self) -> str | None:
        if self._query is None:
            return None
        return "performance_schema" if "performance_schema" in self._query else \
            "information_schema"

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None:
            self._conn = connect(self.params, self._connect_timeout, self._read_timeout)
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID(), VERSION()")
                self._own_pid, version = cursor.fetchone()
            self.version = version
        return self._conn

    def _choose_query(self, cursor: Any) -> str:
        candidates = [PERFORMANCE_SCHEMA]
        if "mariadb" in str(getattr(self, "version", "")).lower():
            candidates = [INFORMATION_SCHEMA_MS]
        candidates.append(INFORMATION_SCHEMA)
        for query in candidates:
            try:
                cursor.execute(query)
            except MySQLError as exc:
                if exc.args and exc.args[0] in (NO_SUCH_TABLE, 1054, 1142, 1227):
                    continue
                raise
            # performance_schema switched off leaves the table empty: we must see ourselves.
            if any(row[0] == self._own_pid for row in cursor.fetchall()):
                return query
        raise ProcesslistError("no readable processlist (grant PROCESS to the monitoring "
                               "account)")

    def read(self) -> tuple[int | None, list[ProcessRow]]:
        """(our own connection id, the running statements); reconnects once on failure."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                    with conn.cursor() as cursor:
                        if self._query is None:
                            self._query = self._choose_query(cursor)
                        cursor.execute(self._query)
                        rows = cursor.fetchall()
                    return self._own_pid, [_row(r) for r in rows]
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
    pid, user, host, db, command, seconds, state, info = raw
    if isinstance(info, bytes):
        info = info.decode("utf-8", "replace")
    return ProcessRow(pid=int(pid), user=user, host=host, db=db, command=command,
                      time=float(seconds or 0), state=state, info=info)
