"""Named faults of the fake IAM: injected failed logins and slow logins.

These are the fake's own test levers (kazoo's harness style), not Bouncer
behaviour: an injected failure answers before the login is looked at, a latency
holds every login. Both are thread-safe and can be changed while logins wait.
"""

from __future__ import annotations

import http
import re
import threading
import time
from collections import deque
from typing import Any, Deque, List, Mapping, Optional, Tuple, Union

from mesos_auth.testing._server import Response

__all__ = ["FaultBody", "FaultQueue", "Latency"]

FaultBody = Union[None, Mapping[str, Any], str, bytes]


class FaultQueue:
    """Failures queued by ``FakeIAM.fail_next_logins``, answered in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: Deque[Tuple[int, FaultBody]] = deque()

    def add(self, n: int, status: int, body: FaultBody) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._faults.extend([(status, body)] * n)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def next_answer(self) -> Optional[Response]:
        """The answer of the next queued failure, or None if none is queued."""
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        return None if fault is None else _fault_answer(*fault)


def _fault_answer(status: int, body: FaultBody) -> Response:
    headers: List[Tuple[str, str]] = []
    if status == 429:
        headers.append(("Retry-After", "0"))
    if status == 401:
        headers.append(("WWW-Authenticate", "acsjwt"))
    if body is None:
        phrase = _phrase(status)
        code = "ERR_" + re.sub(r"[^A-Z0-9]+", "_", phrase.upper()).strip("_")
        payload = {"title": phrase, "description": "Failure injected by FakeIAM.fail_next_logins()", "code": code}
        return Response.json(status, payload, headers)
    if isinstance(body, Mapping):
        return Response.json(status, dict(body), headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    content_type = "text/html" if data.lstrip()[:1] == b"<" else "text/plain; charset=utf-8"
    return Response(status, data, [("Content-Type", content_type), *headers])


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Latency:
    """How long every login is held; :meth:`hold` re-reads it whenever it changes."""

    def __init__(self) -> None:
        self._seconds = 0.0
        self._changed = threading.Condition(threading.Lock())
        self._pending = 0
        self._stopping = False

    def set(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._changed:
            self._seconds = float(seconds)
            self._changed.notify_all()

    def running(self) -> None:
        with self._changed:
            self._stopping = False

    def stopping(self) -> None:
        """Release every held login at once (they are then answered with a 503)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        with self._changed:
            return self._pending

    def hold(self) -> bool:
        """Wait out the latency; False if the fake is stopping."""
        arrived = time.monotonic()
        with self._changed:
            self._pending += 1
            try:
                while not self._stopping:
                    remaining = arrived + self._seconds - time.monotonic()
                    if remaining <= 0:
                        return True
                    self._changed.wait(remaining)
                return False
            finally:
                self._pending -= 1
