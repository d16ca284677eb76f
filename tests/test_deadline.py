"""Deadlines: a socket registered with one is shut down when it passes or is cancelled."""

from __future__ import annotations

import socket
import time

from mesos_auth._deadline import Deadline


def _pair() -> tuple:
    return socket.socketpair()


def test_a_passed_deadline_wakes_a_blocked_reader() -> None:
    left, right = _pair()
    with left, right, Deadline(0.2, what="the test") as deadline:
        deadline.add(left)
        started = time.monotonic()
        assert left.recv(1) == b""  # shut down while blocked: the read returns
        assert time.monotonic() - started < 10
        assert deadline.passed and deadline.reason == "passed" and deadline.seconds == 0.2


def test_a_deadline_years_away_does_not_stop_the_watchdog() -> None:
    # A huge call_timeout once made the watchdog's wait overflow, stopping every deadline.
    far = Deadline(1e300, what="far away")
    left, right = _pair()
    with left, right, Deadline(0.2) as near:
        near.add(left)
        assert left.recv(1) == b""
        assert near.passed and not far.fired
    far.close()


def test_cancel_is_immediate_and_not_passed() -> None:
    left, right = _pair()
    with left, right:
        scope = Deadline(what="a scope")
        scope.add(left)
        scope.cancel()
        assert left.recv(1) == b"" and scope.fired and not scope.passed
