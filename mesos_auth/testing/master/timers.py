"""One background thread that runs the fake master's timed work by an injectable clock.

Offer filters (``refuse_seconds``), failover timeouts and spaced task updates are
all "do this when the clock reaches T". They share one thread that sleeps on a
Condition until the earliest due time: no busy loop, no thread per timer.

The clock is any ``() -> float`` (``time.monotonic`` by default). A test that wants
to jump over a five-second filter passes a :class:`ManualClock` and calls
``advance(5)``; the clock wakes the timer thread, which then runs whatever fell due.
Other clocks can wake it with :meth:`TimerThread.poke` (``FakeMaster.tick()``).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
from typing import Callable, List, Optional, Tuple

Clock = Callable[[], float]
Action = Callable[[], None]


class ManualClock:
    """A clock that moves only when told to; wakes the masters that use it."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: List[Action] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def add_listener(self, listener: Action) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Action) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)


class TimerThread:
    """Runs actions when ``clock()`` reaches their due time, one at a time, in order."""

    def __init__(self, clock: Clock, *, name: str, on_error: Callable[[str], None]) -> None:
        self._clock = clock
        self._name = name
        self._on_error = on_error
        self._condition = threading.Condition(threading.Lock())
        self._heap: List[Tuple[float, int, Action]] = []
        self._sequence = itertools.count()
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        with self._condition:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._condition:
            self._stopped = True
            self._heap.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def call_later(self, delay: float, action: Action) -> None:
        self.call_at(self._clock() + max(0.0, delay), action)

    def call_at(self, due: float, action: Action) -> None:
        with self._condition:
            if self._stopped:
                return
            heapq.heappush(self._heap, (due, next(self._sequence), action))
            self._condition.notify_all()

    def poke(self) -> None:
        """Re-read the clock now (it was moved by hand)."""
        with self._condition:
            self._condition.notify_all()

    def clear(self) -> None:
        """Forget every pending action (an action already running still finishes)."""
        with self._condition:
            self._heap.clear()
            self._condition.notify_all()

    def pending(self) -> int:
        with self._condition:
            return len(self._heap)

    def _next_due_action(self) -> Optional[Action]:
        """Wait for the earliest action to fall due; None when stopping."""
        with self._condition:
            while not self._stopped:
                if not self._heap:
                    self._condition.wait()
                    continue
                due = self._heap[0][0]
                now = self._clock()
                if due <= now:
                    return heapq.heappop(self._heap)[2]
                # With a ManualClock this waits in real seconds for fake ones; the
                # clock's advance() pokes us, so the wait only bounds a missed poke.
                self._condition.wait(due - now)
            return None

    def _run(self) -> None:
        while True:
            action = self._next_due_action()
            if action is None:
                return
            try:
                action()
            except Exception:
                self._on_error(f"timer action {action!r} raised:\n{traceback.format_exc()}")


def default_clock() -> float:
    return time.monotonic()
