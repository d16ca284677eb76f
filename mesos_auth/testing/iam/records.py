"""What the fake IAM remembers about the requests it answered: the test's view, never the wire's.

The real IAM tells a client only "Invalid credentials."; the reason goes to its
log. The fake keeps that log for the test: every answer as an :class:`IAMEvent`
with its one-word ``reason`` and its ``cause``, and the practice problems Bouncer
would warn about (a login token living an hour, one without ``exp``) plus every
refusal's cause in :attr:`IAMRecords.warnings`. Nothing here holds a token or a
key: login tokens are remembered by their sha256.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional, Set

from mesos_auth.testing.iam.accounts import digest

__all__ = ["IAMEvent", "IAMRecords"]


@dataclass(frozen=True)
class IAMEvent:
    """One request as the fake IAM answered it; never holds a token.

    ``reason`` names the outcome in one word: ``"ok"``, ``"redirect"``,
    ``"injected"``, ``"bad-request"`` (400, 405, 406, 415), ``"jwks"``,
    ``"not-found"``, ``"stopping"``, ``"server-error"`` (where Bouncer fails with
    a 500), ``"oidc"`` (a token without uid: the legacy OIDC login), or for a
    refused login the credential problem: ``"unknown-uid"``, ``"no-login-token"``,
    ``"malformed"``, ``"bad-algorithm"``, ``"bad-signature"``, ``"not-yet-valid"``,
    ``"expired"``, ``"audience"``, ``"uid-missing"``, ``"uid-mismatch"`` and, only
    with opt-in strictness, ``"missing-exp"``, ``"too-long"``, ``"replay"``. The
    ACL API adds ``"unauthenticated"`` (401: no valid token), ``"forbidden"``
    (403), ``"unknown-entity"`` (400: unknown rid, uid, gid or grant) and
    ``"conflict"`` (409), and ``uid`` is then the caller's (from its token).
    ``cause`` says it in words; ``at`` is the fake's clock when the answer was made.
    """

    method: str
    path: str
    status: int
    uid: Optional[str]
    scheme: str
    reason: str
    at: float
    cause: str = ""


class IAMRecords:
    """Events, warnings, login counters and spent login tokens (by digest); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: List[IAMEvent] = []
        self._warnings: List[str] = []
        self._logins: Counter[str] = Counter()
        self._attempts = 0
        self._spent: Set[str] = set()

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._warnings.clear()
            self._logins.clear()
            self._attempts = 0
            self._spent.clear()

    def attempt(self) -> None:
        with self._lock:
            self._attempts += 1

    def record(self, event: IAMEvent, warnings: List[str]) -> None:
        with self._lock:
            self._events.append(event)
            self._warnings.extend(warnings)

    def login_succeeded(self, uid: str) -> None:
        with self._lock:
            self._logins[uid] += 1

    def spend(self, login_token: str) -> bool:
        """Remember a login token that bought an authentication token; True if it had before."""
        token_digest = digest(login_token)
        with self._lock:
            seen = token_digest in self._spent
            self._spent.add(token_digest)
        return seen

    @property
    def events(self) -> List[IAMEvent]:
        with self._lock:
            return list(self._events)

    @property
    def warnings(self) -> List[str]:
        with self._lock:
            return list(self._warnings)

    @property
    def login_count(self) -> int:
        with self._lock:
            return sum(self._logins.values())

    @property
    def login_attempts(self) -> int:
        with self._lock:
            return self._attempts

    def logins_for(self, uid: str) -> int:
        with self._lock:
            return self._logins[uid]
