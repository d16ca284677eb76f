"""Small test helpers: an injectable clock and sleep, and a condition wait."""

from __future__ import annotations

import threading
import time
from typing import Callable, List


class FakeClock:
    """Wall-clock seconds that only move when told; shared by client and fakes."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: List[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """A sleep that moves this clock instead of waiting."""
        self.sleeps.append(seconds)
        self.advance(seconds)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.005, what: str = "") -> None:
    """Wait until ``condition()`` is true; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)
