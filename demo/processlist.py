"""A simulated processlist for the demo's real-time targets (no database server needed).

The demo's real-time targets (orders-prd-1, catalog-aurora-2, maria-stg) exist only in the
AWS emulator, so nothing could be polled and the Real-time page stayed empty. A
:class:`SimulatedProcesslist` stands in for collectors.processlist.ProcesslistReader on such
an instance: the same ``read()`` (our own connection id and the rows), ``source`` and
``close()``. It invents a busy server: statements of the demo's templates
(demo/slowlog_generator.py, so real-time, digests and plans tell one story) arrive at random
on a pool of application connections, run for a while (their TIME grows from poll to poll)
and end, while idle connections, the monitoring connection itself and RDS's own sessions sit
beside them. Several statements a minute run past REALTIME_MIN_SECONDS, so the page fills
while the demo runs. Arrivals follow the wall clock: a statement that starts and ends
between two polls is never seen, as on a real server.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from analysis.capture import ProcessRow
from collectors.processlist import PERFORMANCE_SCHEMA
from demo.slowlog_generator import COUPON_LOOKUP, TEMPLATES, USERS, Template

SLEEP = 9  # SELECT SLEEP vanished in the demo's later month (demo/server.py): not running now
INSERT = 3  # multi-row INSERTs are quick: never long enough to be captured
ORDERS_BY_DATE = 0
RUNNING_STATES = {"shop": "executing", "billing": "Creating sort index",
                  "catalog": "Sending data", "members": "executing"}
WRITE_STATES = {"UPDATE": "updating", "DELETE": "updating", "INSERT": "update"}
# Which schemas each real-time target serves, as template-weight factors by schema.
SCHEMA_MIX: dict[str, Mapping[str, float]] = {
    "orders-prd-1": {"shop": 1.0, "billing": 0.3, "catalog": 0.1, "members": 0.2},
    "catalog-aurora-2": {"shop": 0.4, "billing": 0.1, "catalog": 1.5, "members": 0.3},
    "maria-stg": {"shop": 0.5, "billing": 1.0, "catalog": 0.3, "members": 1.0},
}
# orders-prd-1 lost its index on orders.created_at: the statement is 3.2x slower there now.
SLOWER: dict[str, Mapping[int, float]] = {"orders-prd-1": {ORDERS_BY_DATE: 3.2}}
MAX_SECONDS = 120.0


@dataclass
class _Session:
    """One application connection; running a statement from `started` for `seconds`, or idle
    since `started` when `sql` is None."""

    pid: int
    user: str
    host: str
    db: str | None
    started: float
    seconds: float = 0.0
    sql: str | None = None
    state: str | None = None


class SimulatedProcesslist:
    """Stands in for ProcesslistReader on a demo instance: a processlist that lives."""

    def __init__(self, instance_id: str, *, seed: int | str | None = None,
                 arrivals_per_minute: float = 20.0, connections: int = 12,
                 clock: Callable[[], float] = time.time, warm_seconds: float = 120.0) -> None:
        self.instance_id = instance_id
        self._rng = random.Random(seed if seed is not None else instance_id)
        self._rate = arrivals_per_minute / 60.0
        self._clock = clock
        self._pids = itertools.count(self._rng.randint(20_000, 90_000))
        self._own_pid = next(self._pids)
        mix = SCHEMA_MIX.get(instance_id, {})
        self._templates: list[tuple[int, Template]] = [
            (n, t) for n, t in enumerate((*TEMPLATES, COUPON_LOOKUP)) if n != SLEEP]
        self._weights = [t.weight * mix.get(t.db, 1.0) for _n, t in self._templates]
        self._slower = SLOWER.get(instance_id, {})
        now = self._clock()
        # a server in its steady state: the last `warm_seconds` already happened
        start = now - warm_seconds
        self._sessions = [self._connection(start - self._rng.uniform(0, 600))
                          for _ in range(connections)]
        self._next_arrival = start + self._rng.expovariate(self._rate)
        self._advance(now)
        self._something_slow(now)
        self.closed = False

    @property
    def source(self) -> str:
        """Where the rows come from, as ProcesslistReader names its table."""
        return "simulated"

    def _connection(self, since: float) -> _Session:
        user, host = self._rng.choice(USERS)
        port = self._rng.randint(32768, 60999)
        return _Session(pid=next(self._pids), user=user, host=f"{host}:{port}", db=None,
                        started=since)

    def _start_statement(self, session: _Session, at: float) -> None:
        index, template = self._rng.choices(self._templates, weights=self._weights)[0]
        median = template.median_seconds * self._slower.get(index, 1.0)
        seconds = min(MAX_SECONDS, median * math.exp(self._rng.gauss(0, 0.7)))
        if index == INSERT:
            seconds = min(seconds, 1.5)
        sql = template.build(self._rng)
        session.db, session.sql, session.started, session.seconds = template.db, sql, at, seconds
        session.state = WRITE_STATES.get(sql.split(None, 1)[0].upper(),
                                         RUNNING_STATES.get(template.db, "executing"))

    def _something_slow(self, now: float) -> None:
        """A newcomer opens the Real-time page at once: make sure its first poll already
        finds one statement that has run a few seconds and will run a while longer."""
        if any(s.sql is not None and now - s.started >= 3 for s in self._sessions):
            return
        idle = [s for s in self._sessions if s.sql is None] or self._sessions
        session = self._rng.choice(idle)
        while True:  # a statement of a kind that is slow here (any but the quick INSERT)
            self._start_statement(session, now - self._rng.uniform(3, 6))
            if not session.sql.upper().startswith("INSERT"):
                break
        session.seconds = max(session.seconds, now - session.started + self._rng.uniform(4, 15))

    def _advance(self, now: float) -> None:
        """Play the server forward to `now`: statements end, new ones arrive."""
        while True:
            ends = [s.started + s.seconds for s in self._sessions if s.sql is not None]
            next_end = min(ends, default=math.inf)
            if min(next_end, self._next_arrival) > now:
                return
            if next_end <= self._next_arrival:
                session = next(s for s in self._sessions
                               if s.sql is not None and s.started + s.seconds == next_end)
                session.sql = session.state = None
                session.started, session.seconds = next_end, 0.0
                continue
            at = self._next_arrival
            self._next_arrival += self._rng.expovariate(self._rate)
            idle = [s for s in self._sessions if s.sql is None]
            session = self._rng.choice(idle) if idle else self._connection(at)
            if not idle:  # the application's pool grows under load, as real ones do
                self._sessions.append(session)
            self._start_statement(session, at)

    def _row(self, session: _Session, now: float) -> ProcessRow:
        elapsed = float(int(now - session.started))  # TIME is whole seconds
        if session.sql is None:
            return ProcessRow(pid=session.pid, user=session.user, host=session.host,
                              db=session.db, command="Sleep", time=elapsed, state=None,
                              info=None)
        return ProcessRow(pid=session.pid, user=session.user, host=session.host,
                          db=session.db, command="Query", time=elapsed, state=session.state,
                          info=session.sql)

    def read(self) -> tuple[int | None, list[ProcessRow]]:
        """(our own connection id, the rows), like ProcesslistReader.read()."""
        now = self._clock()
        self._advance(now)
        rows = [self._row(s, now) for s in self._sessions]
        rows.append(ProcessRow(pid=self._own_pid, user="monitor", host="10.0.9.2:51000",
                               db=None, command="Query", time=0.0, state="executing",
                               info=PERFORMANCE_SCHEMA))
        rows.append(ProcessRow(pid=3, user="rdsadmin", host="localhost", db=None,
                               command="Sleep", time=float(int(now) % 300), state=None,
                               info=None))
        rows.append(ProcessRow(pid=1, user="event_scheduler", host="localhost", db=None,
                               command="Daemon", time=float(int(now) % 86400),
                               state="Waiting on empty queue", info=None))
        return self._own_pid, rows

    def close(self) -> None:
        """Nothing to release; kept so the service treats it like a real reader."""
        self.closed = True


def simulated_reader(instance: dict[str, Any]) -> SimulatedProcesslist:
    """A jobs.realtime reader factory: a simulated processlist per demo instance."""
    return SimulatedProcesslist(instance["instance_id"])
