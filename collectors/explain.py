"""Run ``EXPLAIN FORMAT=JSON`` and ``EXPLAIN FORMAT=TREE`` for one captured statement, safely.

Why so careful: the statement comes from a slow log or the processlist, and the monitoring
account runs it on a production server. EXPLAIN is not free of execution either: MariaDB
executes constant derived tables and constant subqueries while optimising (``EXPLAIN SELECT *
FROM (SELECT SLEEP(20)) d`` takes 20 s; the tests rely on that), and a stored function called
there could write. So:

* :func:`analysis.explainable.explainable_select` turns it into one reading SELECT or refuses
  it (UPDATE/DELETE are converted: a SELECT-only account may not ``EXPLAIN UPDATE`` — MariaDB
  answers 1142 — and a converted SELECT can never write);
* each EXPLAIN runs in its *own* short-lived session (short connect/read timeouts), never on a
  pooled connection, made ``READ ONLY`` (so even a stored function evaluated while optimising
  cannot write), with a server-side statement time limit (``max_statement_time`` in seconds on
  MariaDB, ``max_execution_time`` in ms on MySQL) and ``lock_wait_timeout``;
* the client's read timeout is the limit plus a grace period. If it expires (the server did not
  enforce its limit, e.g. MySQL's ``max_execution_time`` covers SELECTs only), the driver
  drops the connection and we ``KILL QUERY <thread id>`` from a second connection, so nothing
  keeps running on the server;
* the text sent is checked once more right before sending: it must be ``EXPLAIN FORMAT=JSON``
  or ``FORMAT=TREE`` followed by a SELECT, never ``EXPLAIN ANALYZE``/``ANALYZE`` (which execute
  the statement); the driver is never given the multi-statements flag;
* ``NO_BACKSLASH_ESCAPES`` and ``ANSI_QUOTES`` are removed from the session's ``sql_mode`` so
  the server reads quotes exactly as our tokenizer did.

A format the server rejects (MariaDB has no TREE: error 1791 "Unknown EXPLAIN/ANALYZE format
name: 'TREE'") is kept as ``{"supported": False, "text": None, "error": "1791: ..."}``.
Errors and log lines never contain the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from analysis.errors import PlanParseError
from analysis.explainable import Explainable, NotExplainable, explainable_select
from analysis.findings import find_problems
from analysis.fingerprint import fingerprint, fingerprint_and_id
from analysis.plan import parse_plan, plan_hash
from collectors.base import MYSQL_NEEDS, Collector, uses_mysql
from collectors.processlist import ConnectionParams, SharedTlsConnection

__all__ = [
    "ConnectionParams",  # re-exported from collectors.processlist (one type for both)
    "ExplainError",
    "ExplainResult",
    "SessionInfo",
    "explain",
    "kill_query",
    "prepare_session",
    "explain_plan",
]

log = logging.getLogger(__name__)

GRACE_SECONDS = 2.0  # client read timeout = server limit + this
CONNECT_TIMEOUT_SECONDS = 5.0
FORMATS = ("json", "tree")
# Server errors that mean "the statement ran out of time" rather than "it is wrong".
TIMEOUT_CODES = {
    3024: "MySQL max_execution_time exceeded",
    1969: "MariaDB max_statement_time exceeded",
    1317: "query interrupted",
    1205: "lock wait timeout",
}
LOST_CONNECTION_CODES = {2006, 2013, 2055}
UNKNOWN_FORMAT = 1791  # ER_UNKNOWN_EXPLAIN_FORMAT (MySQL 5.6+, MariaDB)
SYNTAX_ERROR = 1064
_UNSAFE_MODES = {"NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI"}
_EXPLAIN_PREFIX = {"json": "EXPLAIN FORMAT=JSON ", "tree": "EXPLAIN FORMAT=TREE "}
_EXECUTING = re.compile(r"^\s*(?:ANALYZE|EXPLAIN|DESCRIBE|DESC)\b", re.IGNORECASE)
_EXPLAIN_ANALYZE = re.compile(r"^\s*(?:EXPLAIN|DESCRIBE|DESC)\s+ANALYZE\b", re.IGNORECASE)
_READING_HEAD = re.compile(r"^(?:SELECT|WITH|TABLE)\b|^\(", re.IGNORECASE)


class ExplainError(RuntimeError):
    """The server could not be reached or the session could not be made safe.

    The message is safe to show and log: it never holds the password.
    """


@dataclass(frozen=True)
class SessionInfo:
    """What :func:`prepare_session` learnt: the server and the session's thread id."""

    server_version: str
    flavour: str  # "mariadb" | "mysql"
    thread_id: int
    server_limit_seconds: float | None


@dataclass
class ExplainResult:
    """One explained statement; :meth:`document` is what ``store.plans`` keeps."""

    instance_id: str
    query_id: str
    fingerprint: str
    db: str | None
    server_version: str
    server_flavour: str
    converted_from: str | None
    explained_sql: str
    formats: dict[str, dict[str, Any]]
    root: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    plan_hash: str = ""
    parsed_from: str | None = None
    parse_error: str | None = None
    timed_out: bool = False
    killed: bool = False

    @property
    def explained(self) -> bool:
        """True when at least one format produced output."""
        return any(f.get("text") is not None for f in self.formats.values())

    def document(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "query_id": self.query_id,
            "fingerprint": self.fingerprint,
            "plan_hash": self.plan_hash,
            "server_version": self.server_version,
            "server_flavour": self.server_flavour,
            "converted_from": self.converted_from,
            "explained_sql": self.explained_sql,
            "db": self.db,
            "formats": {name: dict(value) for name, value in self.formats.items()},
            "root": self.root,
            "findings": [dict(f) for f in self.findings],
            "parsed_from": self.parsed_from,
            "parse_error": self.parse_error,
            "timed_out": self.timed_out,
        }


# ---- connections -------------------------------------------------------------------------------
def _error_text(exc: BaseException) -> str:
    """``"<code>: <message>"`` for a driver error (what the server said, nothing more)."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"{args[0]}: {args[1]}"
    return f"{type(exc).__name__}: {exc}"


def _error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _where(params: ConnectionParams) -> str:
    """``user@host:port`` for messages (never the password)."""
    return f"{params.user or '(no user)'}@{params.host}:{params.port}"


def _connect(params: ConnectionParams, read_timeout: float) -> pymysql.connections.Connection:
    """A new session (never a pooled one) with short timeouts and no multi-statements."""
    try:
        conn = SharedTlsConnection(  # the processlist's connection: one TLS context for all
            host=params.host, port=params.port, user=params.user, password=params.password,
            charset="utf8mb4", autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=read_timeout, write_timeout=read_timeout,
            client_flag=0,  # explicitly no CLIENT.MULTI_STATEMENTS
        )
    except pymysql.MySQLError as exc:
        raise ExplainError(f"could not connect to {_where(params)}: {_error_text(exc)}") from None
    if conn.client_flag & CLIENT.MULTI_STATEMENTS:  # pragma: no cover - driver contract
        conn.close()
        raise ExplainError("the driver enabled multi-statements; refusing to explain")
    return conn


def _close_quietly(conn: Any) -> None:
    """Close, ignoring a connection the driver already dropped (e.g. after a read timeout)."""
    with contextlib.suppress(pymysql.MySQLError):
        conn.close()


def _scalar(cur: Any, sql: str, args: Any = None) -> Any:
    cur.execute(sql, args)
    row = cur.fetchone()
    return None if row is None else row[0]


def quote_identifier(name: str) -> str:
    """Backtick-quote ``name`` for ``USE`` (backticks inside are doubled)."""
    return "`" + name.replace("`", "``") + "`"


def prepare_session(conn: Any, db: str | None = None, timeout_seconds: float | None = 5.0
                    ) -> SessionInfo:
    """Make ``conn`` safe for EXPLAIN: read-only, quote-safe ``sql_mode``, time-limited, in ``db``.

    ``timeout_seconds=None`` sets no server-side limit (the caller's read timeout and
    :func:`kill_query` are then the only guard). Raises :class:`ExplainError` when the session
    cannot be made read-only or the database cannot be used.
    """
    with conn.cursor() as cur:
        version = str(_scalar(cur, "SELECT VERSION()"))
        flavour = "mariadb" if "mariadb" in version.lower() else "mysql"
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        modes = [m for m in str(_scalar(cur, "SELECT @@SESSION.sql_mode") or "").split(",") if m]
        if any(m.upper() in _UNSAFE_MODES for m in modes):
            cur.execute("SET SESSION sql_mode = %s",
                        (",".join(m for m in modes if m.upper() not in _UNSAFE_MODES),))
        limit = _set_limits(cur, flavour, timeout_seconds)
        if not _is_read_only(cur):
            raise ExplainError("the session could not be made read-only; not explaining")
        if db:
            try:
                cur.execute(f"USE {quote_identifier(db)}")
            except pymysql.MySQLError as exc:
                raise ExplainError(f"could not use database {db!r}: {_error_text(exc)}") from None
    return SessionInfo(version, flavour, int(conn.thread_id()), limit)


def _set_limits(cur: Any, flavour: str, timeout_seconds: float | None) -> float | None:
    """Server-side time limits; a server too old to know the variable keeps only ours (1193)."""
    if timeout_seconds is None:
        return None
    statements = [("SET SESSION lock_wait_timeout = %s", max(1, math.ceil(timeout_seconds)))]
    if flavour == "mariadb":
        statements.append(("SET SESSION max_statement_time = %s", float(timeout_seconds)))
    else:
        statements.append(("SET SESSION max_execution_time = %s",
                           max(1, int(timeout_seconds * 1000))))
    applied = None
    for sql, value in statements:
        try:
            cur.execute(sql, (value,))
            applied = timeout_seconds
        except pymysql.MySQLError as exc:
            if _error_code(exc) != 1193:  # unknown system variable
                raise
    return applied


def _is_read_only(cur: Any) -> bool:
    for variable in ("@@SESSION.transaction_read_only", "@@SESSION.tx_read_only"):
        try:
            return str(_scalar(cur, f"SELECT {variable}")) == "1"
        except pymysql.MySQLError:
            continue
    return False


def kill_query(params: ConnectionParams, thread_id: int, timeout_seconds: float = 5.0) -> str:
    """``KILL QUERY <thread_id>`` from a fresh connection.

    Used after our read timeout: the driver has dropped the connection but the server may
    still be working on the statement (MariaDB even executes constant derived tables and
    subqueries while optimising, and notices a gone client only every few seconds, or never
    during CPU-bound work). Killing our own account's query needs no extra privilege.
    Returns ``"killed"``, ``"already ended"`` (the server answered 1094, unknown thread) or
    ``"failed: <reason>"``.
    """
    try:
        conn = _connect(params, read_timeout=timeout_seconds)
    except ExplainError as exc:
        log.warning("could not kill query of thread %s: %s", thread_id, exc)
        return f"failed: {exc}"
    try:
        with conn.cursor() as cur:
            cur.execute(f"KILL QUERY {int(thread_id)}")
        return "killed"
    except pymysql.MySQLError as exc:
        if _error_code(exc) == 1094:  # unknown thread: it ended by itself
            return "already ended"
        log.warning("KILL QUERY %s failed: %s", thread_id, _error_text(exc))
        return f"failed: {_error_text(exc)}"
    finally:
        _close_quietly(conn)


# ---- explaining --------------------------------------------------------------------------------
def explain_text(fmt: str, select_sql: str) -> str:
    """The exact text sent for ``fmt``; raises :class:`NotExplainable` unless it is a plain
    ``EXPLAIN FORMAT=...`` of a reading statement (the last check before the server)."""
    prefix = _EXPLAIN_PREFIX[fmt]
    body = select_sql.strip()
    if _EXECUTING.match(body) or not _READING_HEAD.match(body):
        raise NotExplainable("refusing to send anything but EXPLAIN of a SELECT (never "
                             "EXPLAIN ANALYZE or ANALYZE, which execute the statement)")
    text = prefix + body
    if _EXPLAIN_ANALYZE.match(text) or not text.startswith(prefix):  # pragma: no cover
        raise NotExplainable("refusing to send EXPLAIN ANALYZE")
    return text


def _format_rejected(exc: BaseException, fmt: str) -> bool:
    """The server does not know this EXPLAIN format (rather than: the statement is wrong)."""
    code = _error_code(exc)
    if code == UNKNOWN_FORMAT:
        return True
    message = str(exc.args[1]) if len(getattr(exc, "args", ())) > 1 else ""
    return code == SYNTAX_ERROR and f"FORMAT={fmt}".upper() in message.upper().replace(" ", "")


def explain(params: ConnectionParams, sql: str, db: str | None, timeout_seconds: float = 5.0,
            *, instance_id: str = "", server_limit: bool = True) -> ExplainResult:
    """Explain ``sql`` (run in database ``db``) on the server at ``params``.

    Raises :class:`NotExplainable` for statements that are refused and :class:`ExplainError`
    when the server cannot be reached or the session made safe. Server errors of a single
    format, and timeouts, are reported in the result. ``server_limit=False`` leaves out the
    server-side time limits (only the client read timeout and KILL QUERY remain).
    """
    target = explainable_select(sql)
    fp, qid = fingerprint_and_id(sql)
    read_timeout = timeout_seconds + GRACE_SECONDS if server_limit else timeout_seconds
    conn = _connect(params, read_timeout)
    try:
        try:
            info = prepare_session(conn, db, timeout_seconds if server_limit else None)
        except pymysql.MySQLError as exc:
            raise ExplainError(f"could not prepare the EXPLAIN session on {_where(params)}: "
                               f"{_error_text(exc)}") from None
        result = ExplainResult(
            instance_id=instance_id, query_id=qid, fingerprint=fp, db=db or None,
            server_version=info.server_version, server_flavour=info.flavour,
            converted_from=target.converted_from, explained_sql=target.select_sql,
            formats={},
        )
        _run_formats(conn, params, info, target, result, read_timeout)
    finally:
        _close_quietly(conn)
    _parse_into(result)
    return result


def _run_formats(conn: Any, params: ConnectionParams, info: SessionInfo, target: Explainable,
                 result: ExplainResult, read_timeout: float) -> None:
    for fmt in FORMATS:
        if result.timed_out:
            result.formats[fmt] = {"supported": None, "text": None,
                                   "error": "not run: the previous EXPLAIN timed out"}
            continue
        text = explain_text(fmt, target.select_sql)
        started = time.monotonic()
        try:
            with conn.cursor() as cur:
                cur.execute(text)
                rows = cur.fetchall()
        except pymysql.MySQLError as exc:
            code = _error_code(exc)
            if code in LOST_CONNECTION_CODES:
                elapsed = time.monotonic() - started
                result.timed_out = True
                kill = kill_query(params, info.thread_id)
                result.killed = kill == "killed"
                why = (f"timed out after {elapsed:.1f}s" if elapsed >= read_timeout - 0.5
                       else "connection lost")
                result.formats[fmt] = {
                    "supported": None, "text": None,
                    "error": f"{why} ({_error_text(exc)}); KILL QUERY {info.thread_id}: {kill}"}
            elif code in TIMEOUT_CODES:
                result.timed_out = True
                result.formats[fmt] = {"supported": None, "text": None,
                                       "error": f"{_error_text(exc)} ({TIMEOUT_CODES[code]})"}
            elif _format_rejected(exc, fmt):
                result.formats[fmt] = {"supported": False, "text": None,
                                       "error": _error_text(exc)}
            else:
                result.formats[fmt] = {"supported": True, "text": None,
                                       "error": _error_text(exc)}
            continue
        output = "\n".join(str(row[0]) for row in rows if row and row[0] is not None)
        result.formats[fmt] = {"supported": True, "text": output, "error": None}


def _parse_into(result: ExplainResult) -> None:
    """Fill root, findings and plan_hash from the JSON output (TREE when JSON is missing)."""
    errors = []
    for fmt in FORMATS:
        text = result.formats.get(fmt, {}).get("text")
        if not text:
            continue
        try:
            root = parse_plan(text, fmt)
        except PlanParseError as exc:
            errors.append(f"{fmt}: {exc}")
            continue
        result.root = root.to_dict()
        result.findings = [f.to_dict() for f in find_problems(root)]
        result.plan_hash = plan_hash(root)
        result.parsed_from = fmt
        result.parse_error = None
        return
    result.parse_error = "; ".join(errors) or None
    shape = fingerprint(result.explained_sql)
    result.plan_hash = "unparsed-" + hashlib.md5(shape.encode("utf-8")).hexdigest()


class PlanUnavailable(RuntimeError):
    """No plan could be had for a statement; the message says why (safe to show)."""


def explain_plan(connection_params: ConnectionParams, sql: str, db: str | None, *,
                 instance_id: str, timeout_seconds: float = 5.0) -> dict[str, Any]:
    """The plan document of ``sql`` (what store.plans keeps), read safely; nothing is stored.

    Raises PlanUnavailable with the reason (refused statement, unreachable server, timeout,
    every format failed), which the real-time capture shows beside the statement. Storing the
    plan is the job's (jobs.plans), so this reader stays free of the store like the others.
    """
    try:
        result = explain(connection_params, sql, db, timeout_seconds, instance_id=instance_id)
    except NotExplainable as exc:
        raise PlanUnavailable(f"not explainable: {exc.reason}") from None
    except ExplainError as exc:
        raise PlanUnavailable(str(exc)) from None
    if not result.explained:
        reasons = "; ".join(f"{k}: {v.get('error')}" for k, v in result.formats.items())
        raise PlanUnavailable(f"EXPLAIN failed: {reasons}")
    return result.document()


COLLECTOR = Collector(
    name="explain",
    title="Plans (EXPLAIN FORMAT=JSON and TREE)",
    reads=("the plan of a statement, in a read-only, time-limited session of the monitoring "
           "account (never EXPLAIN ANALYZE)"),
    needs=MYSQL_NEEDS,
    is_configured=uses_mysql,
)
