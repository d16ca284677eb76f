"""The retry loop, with an injected clock and sleep: a minute of backoff in no time."""

from __future__ import annotations

from typing import List

import pytest

from mesos_auth.retry import RetryExhausted, RetryPolicy, call_with_retry


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky(Exception):
    pass


def test_delays_grow_exponentially_and_are_capped() -> None:
    policy = RetryPolicy(initial_delay=1, backoff=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_jitter_stays_within_its_band() -> None:
    policy = RetryPolicy(initial_delay=10, backoff=1, max_delay=10, jitter=0.2)
    assert policy.delay(1, rng=lambda: 0.0) == pytest.approx(8)
    assert policy.delay(1, rng=lambda: 1.0) == pytest.approx(12)


def test_succeeds_after_failures() -> None:
    time = FakeTime()
    attempts: List[int] = []

    def func(attempt: int) -> str:
        attempts.append(attempt)
        if attempt < 3:
            raise Flaky()
        return "ok"

    policy = RetryPolicy(initial_delay=1, backoff=2, jitter=0)
    result = call_with_retry(
        func, policy=policy, is_retryable=lambda e: isinstance(e, Flaky), clock=time.clock, sleep=time.sleep
    )
    assert result == "ok" and attempts == [1, 2, 3] and time.sleeps == [1, 2]


def test_non_retryable_errors_pass_through_at_once() -> None:
    def func(attempt: int) -> None:
        raise KeyError("no")

    with pytest.raises(KeyError):
        call_with_retry(func, policy=RetryPolicy(), is_retryable=lambda e: False, sleep=pytest.fail)


def test_deadline_stops_retrying() -> None:
    time = FakeTime()

    def func(attempt: int) -> None:
        raise Flaky()

    policy = RetryPolicy(initial_delay=1, backoff=2, max_delay=8, jitter=0, deadline=20)
    with pytest.raises(RetryExhausted) as caught:
        call_with_retry(func, policy=policy, is_retryable=lambda e: True, clock=time.clock, sleep=time.sleep)
    assert time.sleeps == [1, 2, 4, 8]  # a further 8 s would pass the 20 s deadline
    assert caught.value.attempts == 5 and isinstance(caught.value.last, Flaky)


def test_max_attempts() -> None:
    time = FakeTime()

    def func(attempt: int) -> None:
        raise Flaky()

    with pytest.raises(RetryExhausted) as caught:
        call_with_retry(
            func, policy=RetryPolicy(max_attempts=2), is_retryable=lambda e: True, clock=time.clock, sleep=time.sleep
        )
    assert caught.value.attempts == 2 and len(time.sleeps) == 1


def test_retry_after_lengthens_the_pause_up_to_the_cap() -> None:
    time = FakeTime()
    calls: List[int] = []

    def func(attempt: int) -> str:
        calls.append(attempt)
        if attempt == 1:
            raise Flaky()
        return "ok"

    policy = RetryPolicy(initial_delay=0.1, max_delay=3, jitter=0)
    call_with_retry(
        func,
        policy=policy,
        is_retryable=lambda e: True,
        retry_after=lambda e: 100.0,
        clock=time.clock,
        sleep=time.sleep,
    )
    assert time.sleeps == [3]
