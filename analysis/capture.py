"""Turning processlist snapshots into slow statement executions, each recorded once (pure).

A poll sees a statement again and again while it runs. One execution is identified by the
instance, the processlist id and its start time (poll time minus TIME), and a second's jitter
in that start is tolerated, because TIME is whole seconds and polls do not land on the same
sub-second. The processlist id alone is never a key: ids repeat across instances and after a
restart, and one connection runs many statements.

>>> from datetime import datetime, timedelta, UTC
>>> tracker = CaptureTracker(min_seconds=2)
>>> t0 = datetime(2026, 11, 1, tzinfo=UTC)
>>> row = ProcessRow(pid=7, user="app", host="h", db=None, command="Query", time=2.0,
...                  state="User sleep", info="SELECT SLEEP(5)")
>>> [e.capture_id for e in tracker.observe("db1", t0, [row]).started]
['db1|7|1793491198']
>>> later = ProcessRow(**{**row.__dict__, "time": 3.0})
>>> tracker.observe("db1", t0 + timedelta(seconds=1), [later]).started
[]
>>> [e.duration for e in tracker.observe("db1", t0 + timedelta(seconds=2), []).finished]
[3.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SKIPPED_COMMANDS = frozenset({"Sleep", "Daemon", "Binlog Dump", "Binlog Dump GTID", "Connect",
                              "Killed", "Register Slave", "Slave_IO", "Slave_SQL",
                              "Slave_worker"})
SKIPPED_USERS = frozenset({"rdsadmin", "event_scheduler", "system user"})


@dataclass(frozen=True)
class ProcessRow:
    """One row of performance_schema.processlist / information_schema.PROCESSLIST."""

    pid: int
    user: str | None
    host: str | None
    db: str | None
    command: str | None
    time: float  # seconds the current statement has run
    state: str | None
    info: str | None  # the statement text (None when idle)


@dataclass
class Execution:
    """One statement execution seen running at least `min_seconds`."""

    instance_id: str
    pid: int
    start: datetime
    sql_text: str
    user: str | None
    host: str | None
    db: str | None
    first_seen: datetime
    last_seen: datetime
    max_time: float
    finished: bool = False

    @property
    def capture_id(self) -> str:
        return f"{self.instance_id}|{self.pid}|{int(self.start.timestamp())}"

    @property
    def duration(self) -> float:
        """The longest running time observed: a lower bound of the real duration."""
        return self.max_time

    def to_dict(self) -> dict:
        return {
            "id": self.capture_id, "instance_id": self.instance_id, "pid": self.pid,
            "user": self.user, "host": self.host, "db": self.db, "sql_text": self.sql_text,
            "start": _iso(self.start), "last_seen": _iso(self.last_seen),
            "end": _iso(self.last_seen) if self.finished else None,
            "duration": round(self.max_time, 3), "finished": self.finished,
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Observation:
    """What one poll of one instance changed."""

    started: list[Execution] = field(default_factory=list)
    updated: list[Execution] = field(default_factory=list)
    finished: list[Execution] = field(default_factory=list)


@dataclass
class CaptureFilter:
    """Which processlist rows are never recorded."""

    skip_users: frozenset[str] = SKIPPED_USERS
    skip_schemas: frozenset[str] = frozenset()
    skip_commands: frozenset[str] = SKIPPED_COMMANDS

    def keeps(self, row: ProcessRow, own_pid: int | None) -> bool:
        if row.pid == own_pid or not row.info:
            return False
        if (row.command or "") in self.skip_commands:
            return False
        if (row.user or "") in self.skip_users:
            return False
        # A NULL db is kept: statements with fully qualified names often run without one.
        return row.db is None or row.db not in self.skip_schemas


class CaptureTracker:
    """Remembers running executions per instance between polls."""

    def __init__(self, min_seconds: float = 2.0, jitter_seconds: float = 1.5,
                 capture_filter: CaptureFilter | None = None) -> None:
        self.min_seconds = min_seconds
        self.jitter = timedelta(seconds=jitter_seconds)
        self.filter = capture_filter or CaptureFilter()
        self._running: dict[str, dict[int, Execution]] = {}

    def observe(self, instance_id: str, now: datetime, rows: Iterable[ProcessRow],
                own_pid: int | None = None) -> Observation:
        """Fold one poll's rows in; executions not seen any more are finished."""
        result = Observation()
        running = self._running.setdefault(instance_id, {})
        seen: set[int] = set()
        for row in rows:
            if row.time < self.min_seconds or not self.filter.keeps(row, own_pid):
                continue
            start = now - timedelta(seconds=row.time)
            current = running.get(row.pid)
            if current is not None and (current.sql_text != row.info
                                        or abs(current.start - start) > self.jitter):
                current.finished = True
                result.finished.append(current)
                current = None
            if current is None:
                current = Execution(instance_id, row.pid, start, row.info or "", row.user,
                                    row.host, row.db, now, now, row.time)
                running[row.pid] = current
                result.started.append(current)
            else:
                current.last_seen = now
                current.max_time = max(current.max_time, row.time)
                result.updated.append(current)
            seen.add(row.pid)
        for pid in [p for p in running if p not in seen]:
            execution = running.pop(pid)
            execution.finished = True
            result.finished.append(execution)
        return result

    def forget(self, instance_id: str) -> list[Execution]:
        """Finish everything of an instance (capture switched off, or instance gone)."""
        executions = list(self._running.pop(instance_id, {}).values())
        for execution in executions:
            execution.finished = True
        return executions
