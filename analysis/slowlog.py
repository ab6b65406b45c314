"""Parse MySQL / MariaDB slow-log entries (as RDS writes them to CloudWatch, or whole files).

One entry looks like::

    # Time: 2026-10-03T10:15:42.123456Z
    # User@Host: app[app] @ ip-10-0-0-5.ec2.internal [10.0.0.5]  Id: 1234
    # Query_time: 2.000123  Lock_time: 0.000101 Rows_sent: 1  Rows_examined: 1000000
    use shop;
    SET timestamp=1759486542;
    SELECT ...;

Variants handled: MySQL 8 ``log_slow_extra=ON`` fields on the Query_time line; MariaDB's
old ``# Time: 261003  1:15:42`` format, ``# Thread_id: 8  Schema: shop  QC_hit: No``,
``# Rows_affected: 0  Bytes_sent: 63``, ``log_slow_verbosity`` lines (``# Full_scan:``,
``# Filesort:``, ``# explain:``), backticked ``use `db`;``; ``# administrator command: Quit;``
entries; a ``# Time:`` line that also carries ``# User@Host:`` (an old MySQL bug; pt reads
both); and the server start banner (``mysqld, Version: ... started with:`` / ``Tcp port:``
or Windows' ``TCP Port:`` / ``Time  Id Command  Argument``) that a slow-log file contains
after every (re)open.

Conventions:

* Times are timezone-aware UTC.  Old-format MariaDB times carry no zone; they are taken as UTC
  (RDS servers run in UTC).  ISO times with an offset are converted to UTC.
* ``use db;`` is written only when the database changes, so a :class:`SlowLogStream` carries
  the current database from entry to entry (MariaDB's ``Schema:`` also sets it; an explicitly
  empty ``Schema:`` means the session had no database, so that entry's ``db`` is None).
* MariaDB (and MySQL before 5.7) omit ``# Time:`` when it equals the previous entry's, so a
  stream also carries the last ``# Time:`` (as pt-query-digest's default
  ``--inherit-attributes db,ts`` does); with none seen yet the entry's time comes from
  ``SET timestamp=N`` (the statement start, 1 s resolution).
* Only ``SET timestamp=N;``, ``SET insert_id=N;`` and ``SET last_insert_id=N;`` lines before
  the statement are metadata; any other ``SET`` (``SET NAMES utf8mb4;``) is the statement.

Malformed entries raise :class:`SlowLogParseError` (``parse_entry``, ``SlowLogStream.parse``)
or are yielded as such (``iter_entries``); the error has ``reason``, ``text`` (the start of the
entry) and ``line`` (1-based first line of the entry in the file, ``iter_entries`` only).

Pure: no I/O.  The caller opens files (``open(path, encoding="utf-8", errors="replace")``)
and passes the lines.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analysis.errors import SlowLogParseError

__all__ = [
    "CLOUDWATCH_EVENT_MAX_BYTES",
    "SlowLogEntry",
    "SlowLogStream",
    "cut_by_cloudwatch",
    "iter_entries",
    "iter_entries_text",
    "parse_entry",
    "split_entries",
]

_STATEMENT_ENDS = (";\n", ";", ";\r\n", ";\r")  # pt splits entries at ";\n#"
_BANNER_ENDS = ("started with:\n", "started with:", "started with:\r\n")
_ERROR_TEXT_CHARS = 500
# Limits an entry must keep, or it is malformed: a store (MongoDB's int64) must hold every
# number, and no name may make a digest huge (a 10 MB user name once made a 21 MB digest).
MAX_SECONDS = 1e7  # about 115 days: more is not a real query time
MAX_COUNT = 2**63 - 1
MAX_NAME_CHARS = 256  # user, host, ip and database names are cut here, with TRUNCATED
# CloudWatch Logs takes events of at most 256 KiB, 26 bytes of which are its own: a slow-log
# entry longer than that arrives cut. An event within 1 KiB of the limit is counted as cut
# (a statement that long and not cut is rare; one cut and not counted would hide a problem).
CLOUDWATCH_EVENT_MAX_BYTES = 256 * 1024 - 26
CUT_EVENT_MIN_BYTES = CLOUDWATCH_EVENT_MAX_BYTES - 1024
TRUNCATED = "…[cut]"
_CACHE_SIZE = 4096
_CACHED_TEXT_CHARS = 2048  # a longer text is not a key of a stream's caches (their memory)
# header keys that set an entry's attributes (or its Schema), not ``extra``
_ENTRY_FIELDS = frozenset(("Query_time", "Lock_time", "Rows_sent", "Rows_examined",
                           "Rows_affected", "Bytes_sent", "Thread_id", "Schema"))


@dataclass(slots=True, kw_only=True)
class SlowLogEntry:
    """One slow-log entry.  ``extra`` holds every other header field (numbers converted)."""

    time: datetime | None = None
    user: str | None = None
    host: str | None = None
    ip: str | None = None
    thread_id: int | None = None
    db: str | None = None
    query_time: float = 0.0
    lock_time: float = 0.0
    rows_sent: int = 0
    rows_examined: int = 0
    rows_affected: int | None = None
    bytes_sent: int | None = None
    extra: dict[str, int | float | str] = field(default_factory=dict)
    sql: str = ""
    timestamp: int | None = None


_new_entry = SlowLogEntry.__new__  # every field must then be set: see _parse_standard


def _error(reason: str, lines: list[str] | str, line: int | None = None) -> SlowLogParseError:
    text = lines if isinstance(lines, str) else "".join(lines[:20])
    err = SlowLogParseError(reason)
    err.reason = reason
    err.text = text[:_ERROR_TEXT_CHARS]
    err.line = line
    return err


def _cut(name: Any) -> Any:
    if not isinstance(name, str) or len(name) <= MAX_NAME_CHARS:  # None, or a sentinel
        return name
    return name[:MAX_NAME_CHARS] + TRUNCATED


def _check_limits(entry: SlowLogEntry, lines: list[str], line: int | None) -> None:
    """Numbers out of range make the entry malformed; over-long names are cut."""
    for name in ("query_time", "lock_time"):
        value = getattr(entry, name)
        if not 0 <= value <= MAX_SECONDS:  # also false for NaN
            raise _error(f"{name} out of range: {value!r}"[:120], lines, line)
    for name in ("rows_sent", "rows_examined", "rows_affected", "bytes_sent", "thread_id"):
        value = getattr(entry, name)
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise _error(f"{name} out of range: {value!r}"[:120], lines, line)
    entry.user, entry.host = _cut(entry.user), _cut(entry.host)
    entry.ip, entry.db = _cut(entry.ip), _cut(entry.db)


def _pairs(text: str) -> dict[str, str]:
    """``"Key: v  Key2: w"`` -> ``{"Key": "v", "Key2": "w"}``; a key with no value -> ``""``."""
    out: dict[str, str] = {}
    key = None
    for tok in text.split():
        if tok[-1] == ":":
            if key is not None:
                out[key] = ""
            key = tok[:-1]
        elif key is not None:
            out[key] = tok
            key = None
        # a stray token without a key is ignored
    if key is not None:
        out[key] = ""
    return out


def _number(value: str) -> int | float | str:
    if value.isdigit() and value.isascii() and len(value) < 19:  # the usual case, at once
        return int(value)
    if not value:
        return value
    c = value[0]
    if c.isdigit() or c == "-" or c == ".":
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return int(float(value))


def _parse_time(value: str) -> datetime:
    """``2026-10-03T10:15:42.123456Z`` / ``...+09:00`` / ``261003 10:15:42`` -> aware UTC."""
    value = value.strip()
    if "-" in value or "T" in value:
        dt = datetime.fromisoformat(value)
        tz = dt.tzinfo
        if tz is UTC:
            return dt
        if tz is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    parts = value.split()
    if len(parts) != 2 or len(parts[0]) != 6 or not parts[0].isdigit():
        raise ValueError(f"unrecognised time {value!r}")
    d = parts[0]
    hms = parts[1].split(":")
    if len(hms) != 3:
        raise ValueError(f"unrecognised time {value!r}")
    sec = float(hms[2])
    whole = int(sec)
    return datetime(
        2000 + int(d[0:2]), int(d[2:4]), int(d[4:6]),
        int(hms[0]), int(hms[1]), whole, int(round((sec - whole) * 1e6)), tzinfo=UTC,
    )


def _parse_user_host(rest: str) -> tuple[str | None, str | None, str | None, int | None]:
    """``app[app] @ host [10.0.0.5]  Id: 12`` -> (user, host, ip, thread id)."""
    at = rest.find(" @ ")
    if at < 0:
        left, right = rest.strip(), ""
    else:
        left, right = rest[:at].strip(), rest[at + 3:]
    b = left.find("[")
    if b < 0:
        user = left
    else:
        user = left[:b]
        if not user:
            e = left.find("]", b)
            user = left[b + 1:e if e >= 0 else len(left)]
    host = ip = None
    thread_id = None
    lb = right.find("[")
    if lb >= 0:
        rb = right.find("]", lb)
        host = right[:lb].strip()
        ip = right[lb + 1:rb].strip() if rb >= 0 else right[lb + 1:].strip()
        tail = right[rb + 1:] if rb >= 0 else ""
    else:
        host = right.strip()
        tail = ""
        idpos = host.find("Id:")
        if idpos >= 0:
            host, tail = host[:idpos].strip(), host[idpos:]
    if tail:
        idpos = tail.find("Id:")
        if idpos >= 0:
            num = tail[idpos + 3:].strip()
            if num.isdigit():
                thread_id = int(num)
    return user or None, host or None, ip or None, thread_id


def _user_host_of(line: str) -> tuple[str | None, str | None, str | None, int | None]:
    return _parse_user_host(line[12:] if line[7:12] == "Host:" else line[7:])


def _unquote_db(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == "`" and name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name


class SlowLogStream:
    """Parser state for one log stream (one file, or one CloudWatch log stream).

    Carries ``current_db`` (set by ``use db;`` and ``Schema:``) and the last ``# Time:`` so
    entries that omit them inherit them.  Feed entries in log order.

    ``keep_extra=False`` is for readers that use only the entry's attributes (the digest):
    :func:`iter_entries_text` then yields entries whose ``extra`` is empty, and its fast
    path skips converting the header fields that only ``extra`` holds -- most of the
    per-entry cost of MySQL 8's ``log_slow_extra`` (25 fields) and of MariaDB's
    ``log_slow_verbosity`` lines.  Every other attribute, and every error, is the same.
    """

    __slots__ = ("current_db", "last_time", "keep_extra", "_time_str", "_time_val",
                 "_uh_cache", "_uh_prefix", "_line_cache", "_use_dbs", "_lean_cache")

    def __init__(self, current_db: str | None = None, *, keep_extra: bool = True) -> None:
        self.current_db = current_db
        self.keep_extra = keep_extra
        self.last_time: datetime | None = None
        self._time_str = ""
        self._time_val: datetime | None = None
        self._uh_cache: dict[str, tuple[str | None, str | None, str | None, int | None]] = {}
        self._uh_prefix: dict[str, tuple[str | None, ...]] = {}
        self._line_cache: dict[str, dict[str, int | float | str] | bool] = {}
        self._use_dbs: dict[str, str] = {}  # the database of a `use` line's text
        self._lean_cache: dict[tuple[str | None, str | None], Any] = {}  # see _lean_lines

    def _user_host(self, line: str) -> tuple[str | None, str | None, str | None, int | None]:
        """(user, host, ip, thread id) of a ``# User@Host:`` line, cached."""
        # The thread id changes from entry to entry, the user and host seldom do:
        # cache by the text before a trailing "Id: N" (see _user_host_prefix).
        p = line.rfind("Id:")
        num = line[p + 3:].strip() if p > 0 else ""
        if num.isdigit() and num.isascii():
            by_prefix = self._uh_prefix.get(line[:p])
            if by_prefix is None:
                by_prefix = self._user_host_prefix(line, p, num)
            if by_prefix:
                return by_prefix[0], by_prefix[1], by_prefix[2], int(num)
        uh = self._uh_cache.get(line)
        if uh is None:
            uh = _user_host_of(line)
            if len(self._uh_cache) >= _CACHE_SIZE:
                self._uh_cache.clear()
            self._uh_cache[line] = uh
        return uh

    def _user_host_prefix(self, line: str, p: int, num: str) -> tuple[str | None, ...]:
        """Cache ``(user, host, ip)`` of a ``# User@Host:`` line under its text before the
        trailing thread id ``num`` (at ``p``), if they do not depend on the id: checked by
        parsing the line again with another id.  ``()`` is cached when they do."""
        key = line[:p]
        uh = _user_host_of(line)
        alt = _user_host_of(key + "Id: 1" + num)
        if uh[3] == int(num) and alt[3] == int("1" + num) and alt[:3] == uh[:3]:
            value: tuple[str | None, ...] = uh[:3]
        else:
            value = ()
        if len(self._uh_prefix) >= _CACHE_SIZE:
            self._uh_prefix.clear()
        self._uh_prefix[key] = value
        return value

    def parse(self, text: str) -> SlowLogEntry:
        """Parse one entry's text; raises :class:`SlowLogParseError` if it is not an entry."""
        return self._parse(text.splitlines(keepends=True))

    @staticmethod
    def _fields(entry: SlowLogEntry, text: str, schema: str | None) -> str | None:
        """Apply ``Key: value`` pairs to ``entry``; returns the (possibly new) Schema."""
        extra = entry.extra
        for k, v in _pairs(text).items():
            if k not in _ENTRY_FIELDS:  # most keys of log_slow_extra and MariaDB's lines
                extra[k] = _number(v)
            elif k == "Query_time":
                entry.query_time = float(v)
            elif k == "Lock_time":
                entry.lock_time = float(v)
            elif k == "Rows_sent":
                entry.rows_sent = _int(v)
            elif k == "Rows_examined":
                entry.rows_examined = _int(v)
            elif k == "Rows_affected":
                entry.rows_affected = _int(v)
            elif k == "Bytes_sent":
                entry.bytes_sent = _int(v)
            elif k == "Thread_id":
                entry.thread_id = _int(v)
            else:  # Schema
                schema = _unquote_db(v)
        return schema

    def _parse(self, lines: list[str], first_line: int | None = None) -> SlowLogEntry:
        try:
            entry = self._parse_unchecked(lines, first_line)
        except SlowLogParseError:
            raise
        except (ValueError, IndexError, OverflowError, OSError) as exc:
            raise _error(f"bad value in entry: {str(exc)[:200]}", lines, first_line) from None
        _check_limits(entry, lines, first_line)
        return entry

    def _parse_unchecked(self, lines: list[str], first_line: int | None) -> SlowLogEntry:
        # The per-entry hot path: dispatch on fixed-width prefixes (a slice compare is
        # cheaper than a chain of startswith calls), and a fast path for the usual layout
        # of the Query_time line.
        entry = SlowLogEntry()
        schema: str | None = None
        have_qt = False
        n = len(lines)
        i = 0
        # ---- header: "# ..." lines -------------------------------------------------------
        for line in lines:
            tag = line[:7]
            if tag == "# Time:":
                value = line[7:].strip()
                uh_at = value.find("# User@Host:")
                if uh_at >= 0:  # an old MySQL bug wrote both on one line (pt reads both)
                    entry.user, entry.host, entry.ip, tid = self._user_host(value[uh_at:])
                    if tid is not None:
                        entry.thread_id = tid
                    value = value[:uh_at].rstrip()
                if value == self._time_str:
                    entry.time = self._time_val
                else:
                    entry.time = self._time_val = _parse_time(value)
                    self._time_str = value
            elif tag == "# User@":
                uh = self._user_host(line)
                entry.user, entry.host, entry.ip, tid = uh
                if tid is not None:
                    entry.thread_id = tid
            elif tag == "# Query" and line[7:13] == "_time:":
                toks = line.split()
                # ["#", "Query_time:", v, "Lock_time:", v, "Rows_sent:", v, "Rows_examined:", v]
                if (len(toks) >= 9 and toks[3] == "Lock_time:" and toks[5] == "Rows_sent:"
                        and toks[7] == "Rows_examined:"):
                    entry.query_time = float(toks[2])
                    entry.lock_time = float(toks[4])
                    entry.rows_sent = int(toks[6])
                    entry.rows_examined = int(toks[8])
                    if len(toks) > 9:  # log_slow_extra fields follow
                        schema = self._fields(entry, " ".join(toks[9:]), schema)
                else:
                    schema = self._fields(entry, line[1:], schema)
                have_qt = True
            elif tag[:1] != "#":
                if line.strip():
                    break
            elif line.startswith("# administrator command:"):
                break
            elif not line.startswith("# explain:"):  # explain: an EXPLAIN table, no fields
                schema = self._fields(entry, line[1:], schema)
            i += 1
        if not have_qt:
            if i == 0 or not any(ln.startswith("# ") for ln in lines[:i]):
                raise _error("not a slow-log entry (no '# ' header lines)", lines, first_line)
            raise _error("no '# Query_time:' line", lines, first_line)
        if not 0.0 <= entry.query_time < 1e9 or not 0.0 <= entry.lock_time < 1e9:  # NaN too
            raise _error("bad value: Query_time/Lock_time out of range", lines, first_line)

        # ---- metadata statements: use db; SET timestamp / insert_id / last_insert_id -------
        use_db: str | None = None
        use_line: str | None = None
        while i < n:
            line = lines[i]
            head = line[:4]
            if head == "SET ":
                if line[4:14] == "timestamp=":
                    entry.timestamp = _int(line[14:].rstrip().rstrip(";"))
                    i += 1
                    break
                if line.startswith("SET insert_id=") or line.startswith("SET last_insert_id="):
                    k, _, v = line[4:].strip().rstrip(";").partition("=")
                    entry.extra[k] = _number(v)
                    i += 1
                    continue
                break
            if head == "use " and line.rstrip().endswith(";"):
                use_line = line
                use_db = _unquote_db(line[4:].rstrip().rstrip(";"))
            elif line.strip():
                break
            i += 1

        # ---- the statement ------------------------------------------------------------------
        if i == n - 1:
            sql = lines[i].strip()
        elif i < n:
            body = lines[i:]
            sql = ("".join(body) if body[0].endswith("\n") else "\n".join(body)).strip()
        else:
            sql = ""
        if not sql:
            if use_line is None or i < n:
                raise _error("no statement after the header" if i >= n else "empty statement",
                             lines, first_line)
            sql = use_line.strip()  # the statement was itself a USE
            use_db = None
        if sql[-1] == ";":
            sql = sql[:-1].rstrip()
            if not sql:
                raise _error("empty statement", lines, first_line)
        if sql[0] == "#" and sql.startswith("# administrator command:"):
            sql = sql[2:]
        entry.sql = sql

        # ---- database and time inheritance -------------------------------------------------
        if use_db:
            entry.db = self.current_db = use_db
        elif schema is not None:
            if schema:
                entry.db = self.current_db = schema
            # an explicit empty Schema: the session had no database
        else:
            entry.db = self.current_db
        if entry.time is not None:
            self.last_time = entry.time
        elif self.last_time is not None:
            entry.time = self.last_time
        elif entry.timestamp is not None:
            entry.time = datetime.fromtimestamp(entry.timestamp, UTC)
        return entry


    def _parse_standard(self, g: tuple[str | None, ...]) -> SlowLogEntry | None:
        """The entry of a `_STANDARD` match's groups, exactly as `_parse` would give it, or
        None (nothing changed) when `_parse` must see it: an error, or a layout it treats
        differently (a `use` line without ``;``, a server banner among the lines, a name to
        cut).  Lines are applied in file order, as `_parse_unchecked` applies them."""
        (value, uh_line, uh_prefix, uh_id, m_tid, m_schema, m_qc, pre, qt, lt, rs, rx, tail,
         m_ra, m_bs, post, use, ts, body) = g
        if (pre and ";\n" in pre) or (post and ";\n" in post):
            return None  # after a bare "#" line, _split may start an entry at the next one
        extra: dict[str, int | float | str] = {}
        schema: str | None = None
        try:
            if value is None:
                time = None
            else:
                value = value.strip()
                if value == self._time_str:
                    time = self._time_val
                elif "# User@Host:" in value:
                    return None
                else:
                    # MySQL's ISO time in UTC at once; what _parse_time does with it too
                    time = (datetime.fromisoformat(value) if value[-1:] == "Z"
                            and value[10:11] == "T" else _parse_time(value))
                    self._time_val, self._time_str = time, value
            # what _user_host gives, without its search for "Id:" when the prefix is known
            known = None if uh_id is None else self._uh_prefix.get(uh_prefix)  # type: ignore
            if known:
                user, host, ip = known
                tid = int(uh_id)  # type: ignore[arg-type]
            else:
                user, host, ip, tid = self._user_host(uh_line)  # type: ignore[arg-type]
            if m_tid is not None:  # MariaDB: # Thread_id: N  Schema: db  QC_hit: No
                tid = int(m_tid)
                schema = _unquote_db(m_schema)  # type: ignore[arg-type]
                if self.keep_extra:
                    extra["QC_hit"] = m_qc  # type: ignore[assignment]
            query_time = float(qt)  # type: ignore[arg-type]
            lock_time = float(lt)  # type: ignore[arg-type]
            rows_sent = int(rs)  # type: ignore[arg-type]
            rows_examined = int(rx)  # type: ignore[arg-type]
            timestamp = int(ts)  # type: ignore[arg-type]
            if not (pre or tail or post):  # MySQL's default layout, MariaDB's
                if m_ra is None:
                    rows_affected = bytes_sent = None
                else:  # MariaDB: # Rows_affected: N  Bytes_sent: N
                    rows_affected, bytes_sent = int(m_ra), int(m_bs)  # type: ignore[arg-type]
            elif not self.keep_extra and (lean := _lean_fields(pre, tail, post) if tail
                                          else self._lean_lines(pre, post)) is not None:
                # no entry attribute among the other fields: skip them
                if lean[0] is not None:
                    tid = lean[0]
                if m_ra is not None:
                    rows_affected, bytes_sent = int(m_ra), int(m_bs)  # type: ignore[arg-type]
                else:
                    rows_affected, bytes_sent = None, lean[1]
            else:  # other fields: as _parse_unchecked reads them
                e = _new_entry(SlowLogEntry)
                e.thread_id, e.rows_affected, e.bytes_sent, e.extra = tid, None, None, extra
                e.query_time, e.lock_time, e.rows_sent, e.rows_examined = 0.0, 0.0, 0, 0
                if pre:
                    schema = self._header_lines(e, pre, schema)
                e.query_time, e.lock_time = query_time, lock_time
                e.rows_sent, e.rows_examined = rows_sent, rows_examined
                if tail:  # MySQL 8 log_slow_extra
                    schema = self._fields(e, tail, schema)
                if m_ra is not None:
                    e.rows_affected, e.bytes_sent = int(m_ra), int(m_bs)  # type: ignore[arg-type]
                if post:
                    schema = self._header_lines(e, post, schema)
                tid, rows_affected, bytes_sent = e.thread_id, e.rows_affected, e.bytes_sent
                query_time, lock_time = e.query_time, e.lock_time
                rows_sent, rows_examined = e.rows_sent, e.rows_examined
        except (ValueError, IndexError, OverflowError):
            return None
        if not (0.0 <= query_time <= MAX_SECONDS and 0.0 <= lock_time <= MAX_SECONDS
                and 0 <= rows_sent <= MAX_COUNT and 0 <= rows_examined <= MAX_COUNT
                and (tid is None or 0 <= tid <= MAX_COUNT)
                and (rows_affected is None or 0 <= rows_affected <= MAX_COUNT)
                and (bytes_sent is None or 0 <= bytes_sent <= MAX_COUNT)
                and (user is None or len(user) <= MAX_NAME_CHARS)
                and (host is None or len(host) <= MAX_NAME_CHARS)
                and (ip is None or len(ip) <= MAX_NAME_CHARS)):
            return None  # _parse says why, or cuts the name (NaN fails the test too)
        use_db = None
        if use is not None:
            use_db = self._use_dbs.get(use)
            if use_db is None:
                line = use.rstrip()
                if not line.endswith(";"):
                    return None
                use_db = _unquote_db(line.rstrip(";"))
                if len(use) <= _CACHED_TEXT_CHARS:
                    if len(self._use_dbs) >= _CACHE_SIZE:
                        self._use_dbs.clear()
                    self._use_dbs[use] = use_db
        sql = body.strip()  # type: ignore[union-attr]
        if not sql or ", Version: " in body:  # type: ignore[operator]
            return None
        if sql[-1] == ";":
            sql = sql[:-1].rstrip()
            if not sql:
                return None
        if sql[0] == "#" and sql.startswith("# administrator command:"):
            sql = sql[2:]
        if use_db:
            db: str | None = use_db
        elif schema is not None:
            db = schema or None  # an explicit empty Schema: the session had no database
        else:
            db = self.current_db
        if db is not None and len(db) > MAX_NAME_CHARS:
            return None
        # ---- no error from here on: the stream's state changes
        if use_db or schema:
            self.current_db = db
        if time is not None:
            self.last_time = time
        elif self.last_time is not None:
            time = self.last_time
        else:
            time = datetime.fromtimestamp(timestamp, UTC)
        # SlowLogEntry(...), at a quarter of the cost of the dataclass's keyword __init__
        e = _new_entry(SlowLogEntry)
        e.time = time
        e.user = user
        e.host = host
        e.ip = ip
        e.thread_id = tid
        e.db = db
        e.query_time = query_time
        e.lock_time = lock_time
        e.rows_sent = rows_sent
        e.rows_examined = rows_examined
        e.rows_affected = rows_affected
        e.bytes_sent = bytes_sent
        e.extra = extra if self.keep_extra or not extra else {}
        e.sql = sql
        e.timestamp = timestamp
        return e

    def _lean_lines(self, pre: str | None, post: str | None
                    ) -> tuple[int | None, int | None] | None:
        """``_lean_fields(pre, None, post)``, cached: MariaDB's log_slow_verbosity lines and
        explain tables repeat (378 different ones in 20,000 entries of bench/'s log), and
        looking for the five field names in them took a twelfth of reading such a log."""
        key = (pre, post)
        lean = self._lean_cache.get(key, False)
        if lean is False:
            lean = _lean_fields(pre, None, post)
            if len(pre or "") + len(post or "") <= _CACHED_TEXT_CHARS:  # memory bounded
                if len(self._lean_cache) >= _CACHE_SIZE:
                    self._lean_cache.clear()
                self._lean_cache[key] = lean
        return lean  # type: ignore[return-value]

    def _header_lines(self, entry: SlowLogEntry, text: str, schema: str | None) -> str | None:
        """Header lines other than Time, User@Host and Query_time (``\\n``-terminated), as
        _parse_unchecked applies them: ``# explain:`` lines skipped, the others' ``Key:
        value`` pairs.  MariaDB's log_slow_verbosity lines repeat (``# Full_scan: No
        Full_join: No ...``), so what a line adds to ``extra`` is cached by its text."""
        cache = self._line_cache
        extra = entry.extra
        for line in text.split("\n"):
            if len(line) < 2 or line[:10] == "# explain:":
                continue  # "" after the last \n, a bare "#": no fields
            fields = cache.get(line)
            if fields is None:
                pairs = _pairs(line[1:])
                fields = ({k: _number(v) for k, v in pairs.items()}
                          if _ENTRY_FIELDS.isdisjoint(pairs) else False)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[line] = fields
            if fields is False:
                schema = self._fields(entry, line[1:], schema)
            else:
                extra.update(fields)
        return schema


# The layouts servers write for nearly every entry, matched whole (see iter_entries_text):
# MySQL 5.7/8.x (with log_slow_extra fields after Rows_examined), MariaDB 10.x/11.x (the
# Thread_id and Rows_affected lines, log_slow_verbosity's lines and its `# explain:` table).
# No \r anywhere (a lone one ends a line), no header line _parse_unchecked treats specially
# among the other header lines, statement lines not starting with "#".
_OTHER_HEADER = r"\#(?:\ (?!Time:|User@|Query_time:|administrator\ command:)[^\n\r]*)?\n"
_STANDARD = re.compile(r"""
    (?:\#\ Time:([^\n\r]*)\n)?                                            # 1 (MariaDB omits
    ((\#\ User@Host:\ [^\n\r]*)Id:\ *([0-9]+)\ *\n                           # 2-4 repeated
     |\#\ User@Host:\ [^\n\r]*\n)                                          #     ones)
    (?:\#\ Thread_id:\ ([0-9]+)\ \ Schema:\ ([!-9;-~]*)\ \ QC_hit:\ (Yes|No)\n)?  # 5-7
    ((?:""" + _OTHER_HEADER + r""")*)                                    # 8
    \#\ Query_time:\ ([0-9.]+)\ \ Lock_time:\ ([0-9.]+)\ \ ?Rows_sent:\ ([0-9]+)  # 9-11
    \ \ Rows_examined:\ ([0-9]+)(?:\ ([^\n\r]*))?\n                         # 12, 13
    (?:\#\ Rows_affected:\ ([0-9]+)\ \ Bytes_sent:\ ([0-9]+)\n)?             # 14, 15
    ((?:""" + _OTHER_HEADER + r""")*)                                    # 16
    (?:use\ ([^\n\r]*)\n)?                                                # 17
    SET\ timestamp=([0-9]+);\n                                              # 18
    ((?:[^\#\n\r][^\n\r]*(?:\n|\Z))+)                                        # 19
    (?=\#\ Time:|\#\ User@Host:|\Z)  # the next entry (statement lines cannot start with #)
    """, re.VERBOSE)
# The same for a text without "\r" (nearly every log): there ``[^\n\r]`` is ``.`` (any
# character but "\n"), which the regex engine skips in a tight loop instead of testing each
# character against a set -- the whole match takes 2.2 times less (147 against 317 ms on a
# 49 MB MariaDB log with log_slow_verbosity=query_plan,explain, whose explain tables are
# long lines).


def _for_lf_only(pattern: str) -> str:
    return pattern.replace(r"[^\n\r]*", ".*").replace(r"[^\#\n\r]", r"[^\#\n]")


_STANDARD_LF = re.compile(_for_lf_only(_STANDARD.pattern), re.VERBOSE)
def _only_mysql_default(pattern: str) -> str:
    """``pattern`` (_STANDARD's) without the lines and fields MySQL's default layout lacks
    (Thread_id, Rows_affected, other header lines, log_slow_extra's fields): each becomes
    groups that never take part (``(?!)`` fails at once), or match empty, as they do
    there, so `_parse_standard` reads a match of either regex."""
    cuts = (
        (r"(?:\#\ Thread_id:\ ([0-9]+)\ \ Schema:\ ([!-9;-~]*)\ \ QC_hit:\ (Yes|No)\n)?",
         "(?:(?!)()()())?"),
        ("((?:" + _OTHER_HEADER + ")*)", "()"),
        (r"(?:\ ([^\n\r]*))?\n", r"(?:(?!)())?\n"),
        (r"(?:\#\ Rows_affected:\ ([0-9]+)\ \ Bytes_sent:\ ([0-9]+)\n)?", "(?:(?!)()())?"),
    )
    for cut, stand_in in cuts:
        if cut not in pattern:
            raise AssertionError(f"not in _STANDARD: {cut}")
        pattern = pattern.replace(cut, stand_in)
    return pattern


# MySQL's default layout, which RDS for MySQL writes unless log_slow_extra is on: matched
# a quarter faster than by _STANDARD_LF (0.82 against 1.10 us per entry of the generator's
# log), so iter_entries_text tries it first; after an entry in another layout (every entry
# of MariaDB's logs), only once in _SKIP_DEFAULT entries.
_SKIP_DEFAULT = 64  # after an entry in another layout, entries matched by _STANDARD at once
_MYSQL_DEFAULT_LF = re.compile(_for_lf_only(_only_mysql_default(_STANDARD.pattern)),
                               re.VERBOSE)
# Cheap tests that header text holds none of the fields that set an entry's attributes
# (see SlowLogStream.keep_extra): every key of _ENTRY_FIELDS contains one of these.
_ENTRY_FIELD_HINTS = ("_time:", "Rows_", "Bytes_sent:", "Thread_id:", "Schema:")
# MySQL 8's log_slow_extra fields after Rows_examined, as the server writes them (the
# manual's order; Count_hit_tmp_table_size from 8.0.28): read as _pairs reads them, they set
# only Thread_id and Bytes_sent.
_MYSQL8_EXTRA = re.compile(
    r"Thread_id: ([0-9]+) Errno: [0-9]+ Killed: [0-9]+ Bytes_received: [0-9]+ "
    r"Bytes_sent: ([0-9]+) Read_first: [0-9]+ Read_last: [0-9]+ Read_key: [0-9]+ "
    r"Read_next: [0-9]+ Read_prev: [0-9]+ Read_rnd: [0-9]+ Read_rnd_next: [0-9]+ "
    r"Sort_merge_passes: [0-9]+ Sort_range_count: [0-9]+ Sort_rows: [0-9]+ "
    r"Sort_scan_count: [0-9]+ Created_tmp_disk_tables: [0-9]+ Created_tmp_tables: [0-9]+ "
    r"(?:Count_hit_tmp_table_size: [0-9]+ )?Start: \S*[^\s:] End: \S*[^\s:] *\Z").match


def _lean_fields(pre: str | None, tail: str | None, post: str | None
                 ) -> tuple[int | None, int | None] | None:
    """(Thread_id, Bytes_sent) of a `_STANDARD` match's other header fields (``pre`` and
    ``post`` lines, the ``tail`` of the Query_time line; None where absent), when the only
    entry attributes they set are those two, in ``tail``; else None, and the caller reads
    them all the usual way.  Lets SlowLogStream(keep_extra=False) skip the rest: ``tail``
    is taken when its tokens are ``Key: value`` pairs (what ``_pairs`` reads them as, with
    the last value of a repeated key), ``pre`` and ``post`` when no entry field's name is
    in them at all (``_ENTRY_FIELD_HINTS``).  Values are converted as ``_fields`` does, so
    a bad one raises ValueError as it would there."""
    for text in (pre, post):
        if text:
            for hint in _ENTRY_FIELD_HINTS:
                if hint in text:
                    return None
    if not tail:
        return None, None
    m = _MYSQL8_EXTRA(tail)
    if m is not None:
        return int(m[1]), int(m[2])
    toks = tail.split()
    keys, values = toks[0::2], toks[1::2]
    # every key token ends with ":" and no value token does (tokens hold no spaces)
    if (len(keys) != len(values) or (" ".join(keys) + " ").count(": ") != len(keys)
            or ": " in " ".join(values) + " "):
        return None
    pairs = dict(zip(keys, values, strict=True))
    if ("Query_time:" in pairs or "Lock_time:" in pairs or "Rows_sent:" in pairs
            or "Rows_examined:" in pairs or "Rows_affected:" in pairs or "Schema:" in pairs):
        return None
    tid = pairs.get("Thread_id:")
    sent = pairs.get("Bytes_sent:")
    return (None if tid is None else _int(tid)), (None if sent is None else _int(sent))


def parse_entry(text: str, current_db: str | None = None) -> SlowLogEntry:
    """Parse one entry (e.g. one CloudWatch event).  ``current_db`` is used when the entry
    has no ``use``/``Schema``.  Raises :class:`SlowLogParseError` with the reason."""
    return SlowLogStream(current_db).parse(text)


def _is_tcp_port(line: str) -> bool:
    """``Tcp port: 3306 ...`` of a server banner (``TCP Port:`` on Windows), as pt."""
    return line[:9].lower() == "tcp port:"


def _is_banner_tail(line: str) -> bool:
    if _is_tcp_port(line):
        return True
    return line.startswith("Time") and line.split() == ["Time", "Id", "Command", "Argument"]


def _split(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, lines) per entry; banner lines are dropped.

    An entry starts at a ``# Time:`` line, at a ``# User@Host:`` line not right after one, and,
    as pt-query-digest splits (at ``;\n#``), at any ``# `` line after a statement that ended
    with ``;``: logs whose entries begin at ``# Query_time:`` or ``# Thread_id:`` exist. Until
    the entry has its statement, its first ``use`` and ``SET`` lines are metadata, so an entry
    whose statement is ``# administrator command: Quit;`` keeps it, as pt does.

    The hot loop of file parsing: a few ``startswith`` per line, no regex, and line numbers are
    derived from buffer sizes instead of counting every line.
    """
    buf: list[str] = []
    append = buf.append
    start = 1  # line number of buf[0]
    skipped = 0  # banner lines dropped since buf[0]
    banner = 0  # banner tail lines still expected
    ended = False  # the entry has its statement and the last line ended with ";"
    statement = use = set_ = False  # what the entry has had since its start

    def body(line: str) -> None:
        nonlocal statement, use, set_, ended
        append(line)
        if not statement:
            if not use and line.startswith("use "):
                use = True
            elif not set_ and line.startswith("SET "):
                set_ = True
            else:
                statement = True
        ended = statement and line.endswith(_STATEMENT_ENDS)

    for line in lines:
        if line.startswith("# "):
            if ended or line.startswith("# Time:") or (line.startswith("# User@Host:") and not (
                    len(buf) == 1 and buf[0].startswith("# Time:"))):
                if buf:
                    yield start, buf
                start += len(buf) + skipped
                skipped = 0
                buf = [line]
                append = buf.append
                statement = use = set_ = False
            else:
                append(line)
            banner = 0
            if line.startswith("# administrator command:"):
                statement = True
            ended = statement and line.endswith(_STATEMENT_ENDS)
        elif banner:
            if _is_banner_tail(line):
                banner -= 1
                skipped += 1
            else:
                banner = 0
                body(line)
        elif line.endswith(_BANNER_ENDS) and ", Version: " in line:
            banner = 2
            skipped += 1
        else:
            body(line)
    if buf:
        yield start, buf


def split_entries(lines: Iterable[str]) -> Iterator[str]:
    """Split a slow-log file's lines into entry texts (server banners dropped).  Streaming."""
    for _, buf in _split(lines):
        text = "".join(buf) if buf[0].endswith("\n") else "\n".join(buf)
        if text.strip():
            yield text


def iter_entries(lines: Iterable[str], stream: SlowLogStream | None = None
                 ) -> Iterator[SlowLogEntry | SlowLogParseError]:
    """Parse a whole slow-log file's lines (an iterable, e.g. an open file) into entries.

    Streaming with constant memory (one entry's lines at a time).  Malformed entries are
    yielded as :class:`SlowLogParseError` (with ``line``, counted from 1 at the first of
    ``lines``) instead of raised.  ``stream`` carries the current database and last time
    in and out: pass one to start mid-file (where an earlier ``use``/``# Time:`` applies)
    or to read its state afterwards.
    """
    if stream is None:
        stream = SlowLogStream()
    parse = stream._parse
    for start, buf in _split(lines):
        try:
            yield parse(buf, start)
        except SlowLogParseError as err:
            if not any(s.strip() for s in buf):
                continue  # blank lines between entries or at the end of the file
            yield err


def _count_lines(text: str, start: int, end: int, cr: bool) -> int:
    """Line ends in text[start:end] as file iteration counts them (LF, CR LF and, when
    ``cr``, i.e. text holds a CR, a lone CR)."""
    n = text.count("\n", start, end)
    if cr:
        n += text.count("\r", start, end) - text.count("\r\n", start, end)
    return n


def _starts_at_user_host(text: str, p: int) -> bool:
    """Does the ``# User@Host:`` line at ``p`` (just after a ``\\n``) certainly start an
    entry: its previous line (in ``text``) is not a ``# Time:`` line (they would be one
    entry) nor part of a server banner (which _split skips)."""
    end = p - 2 if p >= 2 and text[p - 2] == "\r" else p - 1  # the previous line's end
    q = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end))
    prev = text[q + 1:end]
    return not prev.startswith(("# Time:", "Time ")) and not _is_tcp_port(prev) and not (
        prev.rstrip().endswith("started with:"))


def _last_entry_start(chunk: str) -> int:
    """The start of the last line of ``chunk`` that certainly starts an entry, or -1: a
    ``# Time:`` line, else a ``# User@Host:`` line (see _starts_at_user_host)."""
    p = max(chunk.rfind("\n# Time:"), chunk.rfind("\r# Time:"))
    if p >= 0:
        return p + 1
    if chunk.startswith("# Time:"):
        return 0
    p = chunk.rfind("\n# User@Host:")
    while p > 0:
        if _starts_at_user_host(chunk, p + 1):
            return p + 1
        p = chunk.rfind("\n# User@Host:", 0, p)
    return -1


def _next_entry_start(text: str, pos: int, end: int) -> int:
    """The first line start after ``pos`` that certainly starts an entry (a ``# Time:``
    line, or a ``# User@Host:`` line, see _starts_at_user_host), or ``end``: where the
    general way can stop and the fast path try again.  MariaDB writes ``# Time:`` only when
    the second changes, so stopping at ``# Time:`` alone would leave thousands of entries
    to the general way after one it must read."""
    t = text.find("\n# Time:", pos, end) + 1 or end
    u = text.find("\n# User@Host:", pos, t)
    while u >= 0:
        if _starts_at_user_host(text, u + 1):
            return u + 1
        u = text.find("\n# User@Host:", u + 1, t)
    return t


def iter_entries_text(chunks: Iterable[str], stream: SlowLogStream | None = None
                      ) -> Iterator[SlowLogEntry | SlowLogParseError]:
    """What :func:`iter_entries` yields for the lines of ``"".join(chunks)``, faster; each
    chunk must end at a line end (e.g. a file read in blocks cut after a newline).

    Entries in the layouts MySQL and MariaDB write (``_STANDARD``) are parsed from one
    regex match; anything else, up to the next line that certainly starts an entry,
    goes through :func:`iter_entries`.  With a ``stream`` made with ``keep_extra=False``,
    the same except that every entry's ``extra`` is empty.
    Memory: about a chunk, plus the text of an entry that spans chunks.
    """
    if stream is None:
        stream = SlowLogStream()
    standard = stream._parse_standard
    keep_extra = stream.keep_extra
    match_default = _MYSQL_DEFAULT_LF.match
    skip_default = 0  # entries left to match with _STANDARD at once
    pieces: list[str] = []  # the text since the last entry start
    first_line = 1  # line number of the start of pieces
    chunks = iter(chunks)
    while True:
        chunk = next(chunks, None)
        if chunk is None:
            if not pieces:
                return
            text = "".join(pieces)
            pieces = []
            end = len(text)
        else:
            cut = _last_entry_start(chunk)
            if cut < 0 or (cut == 0 and not pieces):
                pieces.append(chunk)
                continue
            # read up to `end`, not a copy of the chunk up to `cut` (a MB per chunk)
            text = "".join(pieces) + chunk if pieces else chunk
            end = len(text) - len(chunk) + cut
            pieces = [chunk[cut:]]
        # text[:end] starts at an entry start (or the start of the file) and ends at one (or
        # the end of the file)
        cr = "\r" in text
        match = _STANDARD.match if cr else _STANDARD_LF.match
        counted, lines = 0, first_line - 1  # lines before text[counted]
        pos = 0
        while pos < end:
            m = None
            if skip_default:
                skip_default -= 1
            elif not cr:
                m = match_default(text, pos, end)
            if m is None:
                m = match(text, pos, end)
                if m is not None and not cr:  # another layout: MySQL's default later again
                    skip_default = _SKIP_DEFAULT
            if m is not None:
                entry = standard(m.groups())
                if entry is not None:
                    yield entry
                    pos = m.end()
                    continue
            stop = _next_entry_start(text, pos + 1, end)
            lines += _count_lines(text, counted, pos, cr)
            counted = pos
            for item in iter_entries(io.StringIO(text[pos:stop], newline=""), stream):
                if isinstance(item, SlowLogParseError):
                    if item.line is not None:
                        item.line += lines
                elif not keep_extra:
                    item.extra = {}
                yield item
            pos = stop
        first_line = lines + 1 + _count_lines(text, counted, end, cr)


def cut_by_cloudwatch(message: str) -> bool:
    """Was this CloudWatch event (one slow-log entry) cut at CloudWatch's size limit?

    Characters first (a UTF-8 character is at most 4 bytes), so the usual short event costs
    one length test.

    >>> cut_by_cloudwatch("SELECT 1"), cut_by_cloudwatch("x" * CLOUDWATCH_EVENT_MAX_BYTES)
    (False, True)
    """
    if len(message) * 4 < CUT_EVENT_MIN_BYTES:
        return False
    return len(message.encode("utf-8", "surrogatepass")) >= CUT_EVENT_MIN_BYTES
