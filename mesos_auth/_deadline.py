"""Deadlines that hold whatever the network does.

A socket timeout bounds one ``recv``, not an exchange: a server that sends one
byte every few seconds keeps a read going forever, and a thread blocked in
``recv`` cannot be told to stop. A :class:`Deadline` bounds the whole exchange
instead: the sockets registered with it are shut down when it passes (or when it
is cancelled), which wakes any thread blocked on them at once. One watchdog
thread serves every deadline of the process.

Deadlines can also be made *active* in a thread (``with deadline.active():``):
every connection that :mod:`mesos_auth._http` opens in that thread, however deep
in the call stack (an IAM login made while a driver subscribes), is registered
with them, and :func:`sleep` and :func:`acquire` there return early when one of
them fires. That is how ``driver.stop()`` ends a login that a trickling IAM holds,
a retry pause, and a wait on the token lock, within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import weakref
from typing import Iterator, List, Optional, Tuple

#: Longest pause between two checks of an active deadline in :func:`sleep` and :func:`acquire`.
_POLL = 0.05
#: Longest single wait of the watchdog: a deadline years away (a huge ``call_timeout``)
#: must not overflow the platform's timeout and stop the one thread every deadline needs.
_LONGEST_WAIT = 3600.0


class Cancelled(Exception):
    """An active deadline fired while this thread was waiting (see :func:`sleep`)."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(f"{deadline.what or 'a deadline'} {deadline.reason}")
        self.deadline = deadline


class Deadline:
    """A moment after which registered sockets are shut down, or a scope to cancel by hand.

    ``seconds=None`` never fires by itself (a cancellation scope). ``what`` names
    it in messages. ``reason`` says why it fired: ``"passed"`` or ``"cancelled"``;
    ``seconds`` is the time it was last given (for messages).
    """

    def __init__(self, seconds: Optional[float] = None, *, what: str = "") -> None:
        self.what = what
        self.reason = ""
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._fired = threading.Event()
        self._closed = False
        self.at: Optional[float] = None
        self.seconds: Optional[float] = None
        if seconds is not None:
            self.extend(seconds)

    def __repr__(self) -> str:
        state = f"fired ({self.reason})" if self.fired else f"{self.remaining():.2f} s left"
        return f"Deadline({self.what!r}, {state})"

    # -- state ---------------------------------------------------------------------

    @property
    def fired(self) -> bool:
        return self._fired.is_set()

    @property
    def passed(self) -> bool:
        """Fired because its time ran out (not cancelled)."""
        return self._fired.is_set() and self.reason == "passed"

    def remaining(self) -> float:
        """Seconds left (infinity for a scope without time)."""
        if self.fired:
            return 0.0
        if self.at is None:
            return float("inf")
        return max(0.0, self.at - time.monotonic())

    # -- changes ------------------------------------------------------------------

    def extend(self, seconds: float) -> None:
        """Fire ``seconds`` from now instead (the event stream's next heartbeat is due)."""
        with self._lock:
            if self._fired.is_set() or self._closed:
                return
            self.seconds = max(0.0, seconds)
            self.at = time.monotonic() + self.seconds
            at = self.at
        _WATCHDOG.schedule(self, at)

    def add(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when this deadline fires (at once if it already has)."""
        with self._lock:
            fired = self._fired.is_set()
            if not fired:
                self._sockets.add(sock)
        if fired:
            _shutdown(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def cancel(self) -> None:
        """Fire now: shut every registered socket down and wake every waiter."""
        self._fire("cancelled")

    def close(self) -> None:
        """Stop watching: this deadline will not fire any more (nothing is shut down)."""
        with self._lock:
            self._closed = True
            self._sockets = weakref.WeakSet()

    def _fire(self, reason: str) -> None:
        with self._lock:
            if self._fired.is_set() or self._closed:
                return
            self.reason = reason
            self._fired.set()
            sockets = list(self._sockets)
            self._sockets = weakref.WeakSet()
        for sock in sockets:
            _shutdown(sock)

    def _due(self, at: float) -> None:
        """Called by the watchdog: fire if ``at`` is still this deadline's moment."""
        with self._lock:
            current = self.at
        if current is not None and current <= at:
            self._fire("passed")

    # -- scope ------------------------------------------------------------------------

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this deadline govern the connections, sleeps and lock waits of this thread."""
        stack = _stack()
        stack.append(self)
        try:
            yield self
        finally:
            stack.remove(self)

    def __enter__(self) -> Deadline:
        _stack().append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave the scope and stop watching (a per-exchange deadline is done)."""
        _stack().remove(self)
        self.close()


def _shutdown(sock: socket.socket) -> None:
    # The base class' shutdown on the descriptor: for a TLS socket this wakes the
    # reader without touching the SSL object another thread is using.
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# ---------------------------------------------------------------------------
# Scopes of the current thread
# ---------------------------------------------------------------------------

_local = threading.local()


def _stack() -> List[Deadline]:
    stack: Optional[List[Deadline]] = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def active_deadlines() -> Tuple[Deadline, ...]:
    """The deadlines active in this thread, outermost first."""
    return tuple(_stack())


def watch(sock: socket.socket, *extra: Deadline) -> None:
    """Register ``sock`` with every deadline active in this thread, and with ``extra``."""
    for deadline in (*_stack(), *extra):
        deadline.add(sock)


def check() -> None:
    """Raise :class:`Cancelled` if an active deadline of this thread has fired."""
    for deadline in _stack():
        if deadline.fired:
            raise Cancelled(deadline)


def sleep(seconds: float) -> None:
    """``time.sleep`` that ends early, raising :class:`Cancelled`, when an active deadline fires."""
    stack = _stack()
    if not stack:
        time.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while True:
        check()
        left = end - time.monotonic()
        if left <= 0:
            return
        stack[-1]._fired.wait(min(left, _POLL))


def acquire(lock: threading.Lock) -> None:
    """``lock.acquire()`` that gives up, raising :class:`Cancelled`, when an active deadline fires."""
    if not _stack():
        lock.acquire()
        return
    while not lock.acquire(timeout=_POLL):
        check()


# ---------------------------------------------------------------------------
# The watchdog: one thread, a heap of moments
# ---------------------------------------------------------------------------


class _Watchdog:
    def __init__(self) -> None:
        self._heap: List[Tuple[float, int, weakref.ref[Deadline]]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def schedule(self, deadline: Deadline, at: float) -> None:
        with self._wake:
            heapq.heappush(self._heap, (at, next(self._counter), weakref.ref(deadline)))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mesos-auth deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                at, _, ref = self._heap[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self._wake.wait(min(delay, _LONGEST_WAIT))
                    continue
                heapq.heappop(self._heap)
            deadline = ref()
            if deadline is not None:
                deadline._due(at)


_WATCHDOG = _Watchdog()
