"""Pacing AWS calls under the account's request quotas: one shared limiter per API.

AWS counts requests per account and Region (CloudWatch Logs: FilterLogEvents 5/s,
GetLogEvents 25/s); a client that sends more gets ThrottlingException and, worse, takes the
quota from every other reader of the account. So every call of a collection goes through the
one limiter of its API in this process (whatever the number of runs, instances and slices),
which spaces calls at 95% of the configured rate; a throttled call slows that limiter down
(AIMD: the rate drops by a fifth in a run of throttles, by 3% for a lone one, then climbs
back by a step per success) and is retried after a jittered backoff. botocore's own
retries are off for these calls (see `paced_call`), so a throttled call is counted once and
never retried behind the limiter's back.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

T = TypeVar("T")

THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded", "LimitExceededException"})
TRANSIENT_ERRORS = (ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError,
                    ReadTimeoutError)
MIN_RATE_SHARE = 0.05  # a throttled limiter never drops below 5% of its configured rate
# Calls are paced a little below the quota: paced at exactly the quota, requests bunched by
# scheduling and network jitter overrun AWS's bucket (bench/collect_fleet.py: 115 throttles
# in 1,215 calls at 100%), and each throttle costs a backoff and a slower pace.
PACE_SHARE = 0.95
THROTTLE_FACTOR = 0.8  # a throttle soon after another takes 20% off the pace (a run of them:
# another client shares the quota) ...
LONE_THROTTLE_FACTOR = 0.97  # ... a lone one, jitter, only 3%
THROTTLE_RUN_SECONDS = 2.0  # throttles this close together are a run
RECOVERY_STEPS = 25  # successes needed to climb back from 0 to the configured rate
MAX_BACKOFF_SECONDS = 5.0


class RateLimiter:
    """Hands out call slots at `rate` per second to any number of threads (a token bucket of
    depth `burst`); `throttled()` cuts the rate when AWS says we were too fast.

    Slots are reserved under the lock and waited for outside it, so N threads asking at once
    get N slots spaced 1/rate apart, in the order they asked."""

    def __init__(self, rate: float, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.configured_rate = float(rate) * PACE_SHARE
        self.rate = self.configured_rate
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = clock()  # when the bucket is empty (tokens as time)
        self._last_throttle: float | None = None
        self.calls = 0
        self.throttles = 0
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until this caller may send one request."""
        with self._lock:
            now = self._clock()
            # a bucket holding `burst` tokens at most: unused time is not banked beyond it
            earliest = now - (self.burst - 1) / self.rate
            start = max(self._next_free, earliest)
            self._next_free = start + 1 / self.rate
            self.calls += 1
            wait = start - now
            if wait > 0:
                self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)

    def throttled(self) -> None:
        """AWS answered ThrottlingException: slow down (never below the floor).

        Throttles in a run compound, a fifth each (another client sharing the quota takes
        the pace down fast); a lone one, e.g. requests bunched by network jitter, costs 3%."""
        with self._lock:
            now = self._clock()
            in_run = (self._last_throttle is not None
                      and now - self._last_throttle < THROTTLE_RUN_SECONDS)
            self._last_throttle = now
            self.throttles += 1
            factor = THROTTLE_FACTOR if in_run else LONE_THROTTLE_FACTOR
            self.rate = max(self.configured_rate * MIN_RATE_SHARE, self.rate * factor)

    def succeeded(self) -> None:
        """A call went through: climb back toward the configured rate."""
        if self.rate < self.configured_rate:
            with self._lock:
                self.rate = min(self.configured_rate,
                                self.rate + self.configured_rate / RECOVERY_STEPS)


class ApiLimits:
    """One limiter per API name, with the rates of the settings (shared by every run of this
    process through `shared_limits`)."""

    def __init__(self, rates: dict[str, float], default_rate: float = 5.0) -> None:
        self._rates = dict(rates)
        self._default = default_rate
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, api: str) -> RateLimiter:
        with self._lock:
            found = self._limiters.get(api)
            if found is None:
                found = self._limiters[api] = RateLimiter(self._rates.get(api, self._default))
            return found

    def stats(self) -> dict[str, dict[str, float]]:
        """Calls, throttles and time spent waiting, per API (for logs and the benchmark)."""
        with self._lock:
            return {api: {"calls": lim.calls, "throttles": lim.throttles,
                          "waited_seconds": round(lim.waited_seconds, 3)}
                    for api, lim in self._limiters.items()}


_shared: dict[tuple[Any, ...], ApiLimits] = {}
_shared_lock = threading.Lock()


def shared_limits(key: tuple[Any, ...], rates: dict[str, float]) -> ApiLimits:
    """The process-wide limiters of one account and Region (`key`: region, endpoint, rates):
    two runs collecting at once share the quota instead of each taking all of it."""
    with _shared_lock:
        found = _shared.get((key, tuple(sorted(rates.items()))))
        if found is None:
            found = _shared[(key, tuple(sorted(rates.items())))] = ApiLimits(rates)
        return found


def is_throttle(exc: BaseException) -> bool:
    return (isinstance(exc, ClientError)
            and exc.response.get("Error", {}).get("Code") in THROTTLE_CODES)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = exc.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in {"ServiceUnavailableException", "InternalFailure"}
    return False


def paced_call(limits: ApiLimits, api: str, call: Callable[..., T], attempts: int,
               **kwargs: Any) -> T:
    """`call(**kwargs)` through the limiter of `api`, retried on throttling and transient
    failures (5xx, dropped connections, timeouts) at most `attempts` times in a row, with
    jittered exponential backoff; anything else is raised at once. The client behind `call`
    must not retry by itself (max_attempts=1), or its retries would bypass the limiter."""
    limiter = limits.limiter(api)
    for attempt in range(1, attempts + 1):
        limiter.acquire()
        try:
            result = call(**kwargs)
        except Exception as exc:
            throttled = is_throttle(exc)
            if throttled:  # the last one too: the other callers slow down for it
                limiter.throttled()
            if not (throttled or _is_transient(exc)) or attempt == attempts:
                raise
            time.sleep(min(MAX_BACKOFF_SECONDS, 0.1 * 2 ** (attempt - 1))
                       * (0.5 + random.random() / 2))
            continue
        limiter.succeeded()
        return result
    raise AssertionError("unreachable")  # the loop returns or raises
