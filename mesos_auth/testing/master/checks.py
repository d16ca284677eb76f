"""In which order the master checks a scheduler request, and the state those checks read.

Every ``POST /api/v1/scheduler`` goes through :meth:`RequestChecks.run`: the steps
below, in this order, and the first one that fails answers. Step 2 is libprocess'
(the route's authenticator runs before any handler: ``ProcessBase::_consume`` in
``3rdparty/libprocess/src/process.cpp``); steps 3 to 6 are ``Master::Http::scheduler``
of apache/mesos ``src/master/http.cpp`` (the same at the seven commits ``versions.py``
lists), with its status codes and texts:

1. an injected failure (:meth:`FakeMaster.fail_next_calls`): a test fault, not Mesos;
2. authentication, per security mode (``auth``): 401 with ``WWW-Authenticate``, so a
   request without valid credentials gets 401 even from a non-leader or a
   recovering master;
3. not the leader: 307 to the leader (protocol-relative ``Location``, Mesos'
   ``redirect``), or 503 "No leader elected" when none is known;
4. still recovering: 503 "Master has not finished recovery";
5. not POST: 405; no Content-Type: 400; not JSON: 415;
6. a body that does not parse or validate (``calls``): 400 with Mesos' text.

What comes after these steps (SUBSCRIBE's ``Accept`` and ``Mesos-Stream-Id`` checks,
the other calls' framework and stream checks) is in ``scheduler_api``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple, Union

from mesos_auth.testing._server import Answer, Request, Response
from mesos_auth.testing.master.auth import Authenticator, AuthOutcome
from mesos_auth.testing.master.calls import VALIDATE_PREFIX, BadCall, parse_call, peek_call_type, validate_call

__all__ = [
    "FOLLOWER",
    "JSON",
    "LEADER",
    "NO_LEADER",
    "SCHEDULER_PATH",
    "Exchange",
    "InjectedFailure",
    "RequestChecks",
    "accepts_json",
]

SCHEDULER_PATH = "/api/v1/scheduler"

JSON = "application/json"

#: What a master knows about leadership: it leads, it follows a known leader, or none is known.
LEADER = "leader"
FOLLOWER = "follower"
NO_LEADER = "none"


class Addressable(Protocol):
    """A leader a follower redirects to: anything that tells its port per scheme (a FakeMaster)."""

    def port(self, scheme: str = "http") -> int: ...


Leader = Union[Addressable, str]


@dataclass
class InjectedFailure:
    """The answer for the next ``remaining`` scheduler requests (of ``call_types``, if given)."""

    remaining: int
    status: int
    body: str
    call_types: Optional[Set[str]]

    def matches(self, call_type: Optional[str]) -> bool:
        return self.call_types is None or call_type in self.call_types


class Exchange:
    """What the checks learn about one request as it goes through them."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.call_type = peek_call_type(request.body) if request.path == SCHEDULER_PATH else None
        self.call: Optional[Dict[str, Any]] = None
        self.auth: Optional[AuthOutcome] = None

    @property
    def principal(self) -> Optional[str]:
        return self.auth.principal if self.auth is not None else None


class RequestChecks:
    """The checks before a scheduler call is handled, with what they read: leadership,
    recovery and injected failures. ``lock`` is the master's; every change is made under it."""

    def __init__(self, lock: threading.Condition, authenticator: Authenticator) -> None:
        self._lock = lock
        self._authenticator = authenticator
        self.failures: List[InjectedFailure] = []
        self.leadership = LEADER
        self.leader: Optional[Leader] = None
        self.recovering = False

    def reset(self) -> None:
        """A leader again, recovered, with no injected failures (call under the lock)."""
        self.failures.clear()
        self.leadership = LEADER
        self.leader = None
        self.recovering = False

    def run(self, exchange: Exchange) -> Optional[Answer]:
        """The answer of the first check that fails, or None when the request passed them all
        (then ``exchange.call`` and ``exchange.auth`` are set)."""
        steps: Tuple[Callable[[Exchange], Optional[Answer]], ...] = (
            self.check_injected_failure,
            self.check_authentication,
            self.check_leadership,
            self.check_recovery,
            check_method,
            check_content_type,
            check_body,
        )
        for step in steps:
            answer = step(exchange)
            if answer is not None:
                return answer
        return None

    def check_injected_failure(self, exchange: Exchange) -> Optional[Answer]:
        # (unverified: a test fault, not Mesos) First of all, so that a test can fail
        # any scheduler request, even one a non-leader would redirect.
        with self._lock:
            for failure in self.failures:
                if failure.remaining > 0 and failure.matches(exchange.call_type):
                    failure.remaining -= 1
                    self.failures = [f for f in self.failures if f.remaining > 0]
                    return Response.text(failure.status, failure.body)
        return None

    def check_leadership(self, exchange: Exchange) -> Optional[Answer]:
        with self._lock:
            if self.leadership == FOLLOWER:
                return Response(307, b"", [("Location", self.leader_location(exchange.request.scheme))])
            if self.leadership == NO_LEADER:
                return Response.text(503, "No leader elected")
        return None

    def check_recovery(self, exchange: Exchange) -> Optional[Answer]:
        with self._lock:
            if self.recovering:
                return Response.text(503, "Master has not finished recovery")
        return None

    def check_authentication(self, exchange: Exchange) -> Optional[Answer]:
        """Also the only check of the read-only endpoints (``/master/state``)."""
        # Outside the lock: the verifier is someone else's code.
        exchange.auth = self._authenticator.authenticate(exchange.request.header("Authorization"))
        if exchange.auth.ok:
            return None
        challenges = [("WWW-Authenticate", challenge) for challenge in self._authenticator.challenges]
        # (unverified) The body of the 401: libprocess' "Unauthorized." style, no detail.
        return Response.text(401, "Unauthorized.", challenges)

    def leader_location(self, scheme: str) -> str:
        leader = self.leader
        hostport = str(leader) if isinstance(leader, str) or leader is None else f"127.0.0.1:{leader.port(scheme)}"
        return f"//{hostport}{SCHEDULER_PATH}"


def check_method(exchange: Exchange) -> Optional[Answer]:
    method = exchange.request.method
    if method != "POST":
        return Response.text(405, f"Expecting one of {{ 'POST' }}, but received '{method}'", [("Allow", "POST")])
    return None


def check_content_type(exchange: Exchange) -> Optional[Answer]:
    content_type = exchange.request.header("Content-Type")
    if content_type is None:
        return Response.text(400, "Expecting 'Content-Type' to be present")
    # (unverified) Parameters such as "; charset=utf-8" are tolerated. The fake
    # speaks JSON only, so application/x-protobuf is refused like any other type.
    if content_type.split(";")[0].strip().lower() != JSON:
        return Response.text(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
    return None


def check_body(exchange: Exchange) -> Optional[Answer]:
    try:
        call = parse_call(exchange.request.body)
    except BadCall as exc:
        return Response.text(400, str(exc))
    exchange.call = call
    error = validate_call(call, exchange.principal)
    if error is not None:
        return Response.text(400, VALIDATE_PREFIX + error)
    return None


def accepts_json(accept: Optional[str]) -> bool:
    """An absent Accept allows everything; otherwise one media range must cover JSON."""
    if accept is None or not accept.strip():
        return True
    for media_range in accept.split(","):
        media = media_range.split(";")[0].strip().lower()
        if media in (JSON, "application/*", "*/*"):
            return True
    return False
