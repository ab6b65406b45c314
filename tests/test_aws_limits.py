"""The shared AWS rate limiter: pace below the quota, a lone throttle costs little, a run a lot."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from collectors.aws_limits import (
    LONE_THROTTLE_FACTOR,
    PACE_SHARE,
    RECOVERY_STEPS,
    THROTTLE_FACTOR,
    ApiLimits,
    RateLimiter,
    paced_call,
)


class Clock:
    """Time that moves only when the limiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_calls_are_spaced_a_little_below_the_quota() -> None:
    clock = Clock()
    limiter = RateLimiter(25, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(251):
        limiter.acquire()
    elapsed = clock.now - start
    assert elapsed == pytest.approx(250 / (25 * PACE_SHARE))
    assert 250 / elapsed < 25  # never at or above the quota, however long it runs


def test_a_lone_throttle_costs_little_and_a_run_compounds() -> None:
    clock = Clock()
    limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
    paced = limiter.rate
    limiter.throttled()
    assert limiter.rate == pytest.approx(paced * LONE_THROTTLE_FACTOR)
    clock.now += 0.5  # a second throttle soon after: someone else shares the quota
    limiter.throttled()
    assert limiter.rate == pytest.approx(paced * LONE_THROTTLE_FACTOR * THROTTLE_FACTOR)
    clock.now += 10  # long after: lone again
    before = limiter.rate
    limiter.throttled()
    assert limiter.rate == pytest.approx(before * LONE_THROTTLE_FACTOR)
    assert limiter.throttles == 3


def test_successes_climb_back_to_the_pace_and_not_beyond() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    paced = limiter.rate
    for _ in range(8):
        limiter.throttled()
    assert limiter.rate < paced / 2
    for _ in range(RECOVERY_STEPS):
        limiter.succeeded()
    assert limiter.rate == pytest.approx(paced)
    limiter.succeeded()
    assert limiter.rate == pytest.approx(paced)


def test_every_throttle_reaches_the_limiter_also_the_one_that_ends_the_retries() -> None:
    limits = ApiLimits({"GetLogEvents": 1000.0})
    answers = []

    def always_throttled() -> None:
        answers.append("throttled")
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                          "GetLogEvents")

    with pytest.raises(ClientError):
        paced_call(limits, "GetLogEvents", always_throttled, attempts=3)
    assert len(answers) == 3
    assert limits.limiter("GetLogEvents").throttles == 3  # the others slow down for all 3
