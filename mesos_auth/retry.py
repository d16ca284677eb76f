"""Retry with exponential backoff, jitter and a deadline (after kazoo's KazooRetry).

The policy is a value; the loop takes its clock, sleep and random source as
arguments so that tests never really wait. Which failures are retried is the
caller's decision, passed as a predicate.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry.

    The n-th delay is ``initial_delay * backoff**(n-1)``, capped at ``max_delay``,
    scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so that many clients
    do not retry in step. No retry starts after ``deadline`` seconds from the first
    attempt; ``max_attempts`` (None: unlimited) bounds the count too.
    """

    initial_delay: float = 0.5
    backoff: float = 2.0
    max_delay: float = 15.0
    jitter: float = 0.2
    deadline: float = 60.0
    max_attempts: Optional[int] = None

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.backoff ** (attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rng() - 1)))


class RetryExhausted(Exception):
    """Raised by :func:`call_with_retry` when the deadline or attempt cap is hit."""

    def __init__(self, attempts: int, elapsed: float, last: BaseException) -> None:
        self.attempts = attempts
        self.elapsed = elapsed
        self.last = last
        super().__init__(f"gave up after {attempts} attempt(s) over {elapsed:.1f} s")


def call_with_retry(
    func: Callable[[int], T],
    *,
    policy: RetryPolicy,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], Optional[float]] = lambda exc: None,
    on_retry: Callable[[int, float, BaseException], None] = lambda attempt, delay, exc: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Call ``func(attempt)`` until it returns, a failure is not retryable, or time is up.

    A server's ``Retry-After`` (from ``retry_after(exc)``) lengthens the pause, up
    to ``policy.max_delay``.
    """
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return func(attempt)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            delay = policy.delay(attempt, rng)
            asked = retry_after(exc)
            if asked is not None:
                delay = min(policy.max_delay, max(delay, asked))
            elapsed = clock() - start
            out_of_attempts = policy.max_attempts is not None and attempt >= policy.max_attempts
            if out_of_attempts or elapsed + delay > policy.deadline:
                raise RetryExhausted(attempt, elapsed, exc) from exc
            on_retry(attempt, delay, exc)
            sleep(delay)
