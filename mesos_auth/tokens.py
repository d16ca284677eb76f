"""TokenProvider: one authentication token, kept valid for as long as it is needed.

The auth token's lifetime is set cluster-wide (5 days by default, hours on some
clusters), so we treat it as unknown and read ``exp`` from the token itself,
decoded without verification (we do not hold the IAM's key, and the IAM is who
we just talked to over verified TLS).

Refresh follows botocore's two windows:

- outside both windows the cached token is returned at once, without a lock;
- in the *advisory* window one thread tries to refresh without waiting; if
  another already is, or the refresh fails, the current (still valid) token is
  returned and the failure only logged;
- in the *mandatory* window (or with no token, or after :meth:`invalidate`) the
  caller waits for the lock, checks again, and refreshes; failures raise.

So exactly one login is in flight however many threads ask. The windows scale
with the token's lifetime: for a 5-day token, 30 and 10 minutes before expiry
(DC/OS's own authenticatee refreshes 30 minutes ahead); for a 60-second test
token, 12 and 6 seconds.
"""

from __future__ import annotations

import enum
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Union

import jwt

from mesos_auth import _deadline
from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundleLike
from mesos_auth.errors import InvalidTokenError, MesosAuthError, TokenExpiredError
from mesos_auth.iam import IAMClient
from mesos_auth.security_mode import SecurityMode

logger = logging.getLogger(__name__)

#: Refresh ahead when this much of the token's life is left, at most 30 minutes.
ADVISORY_FRACTION, ADVISORY_MAX = 0.2, 30 * 60.0
#: Refresh before any use when this much is left, at most 10 minutes.
MANDATORY_FRACTION, MANDATORY_MAX = 0.1, 10 * 60.0


class TokenState(enum.Enum):
    FRESH = "fresh"  # use it
    ADVISORY = "advisory"  # use it, and try to refresh
    MANDATORY = "mandatory"  # refresh before use
    MISSING = "missing"  # none yet, or invalidated


@dataclass(frozen=True)
class TokenInfo:
    """What may be told about a token: never the token itself."""

    uid: str
    expires_at: float
    obtained_at: float

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at


RefreshListener = Callable[[TokenInfo], None]


#: A compact JWS: three base64url segments, nothing else (no whitespace, no padding).
_COMPACT_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: Longest token accepted (DC/OS auth tokens are well under 1 KB).
MAX_TOKEN_LENGTH = 16 * 1024
#: Furthest expiry believed: DC/OS tokens live days; a year ahead is a broken or hostile IAM.
MAX_TOKEN_LIFETIME = 366 * 24 * 3600.0


def check_token_format(token: object) -> str:
    """``token`` if it is a compact JWT that may go into a header, else :class:`InvalidTokenError`.

    Checked here, not left to PyJWT: some PyJWT releases accept a token with
    whitespace or stray characters, and http.client would then put the whole token
    into a ``ValueError`` message ("Invalid header value ...").
    """
    if not isinstance(token, str):
        raise InvalidTokenError(f"the IAM returned a token that is a {type(token).__name__}, not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError(f"the IAM returned a token of {len(token)} characters (at most {MAX_TOKEN_LENGTH})")
    if not _COMPACT_JWT.fullmatch(token):
        raise InvalidTokenError(
            "the IAM returned a token that is not a compact JWT (three base64url parts, "
            "no whitespace or control characters)"
        )
    return token


def read_expiry(token: str, *, now: Optional[float] = None) -> float:
    """The ``exp`` claim of a JWT, decoded without verifying the signature.

    ``exp`` must be a finite number; given ``now``, it must also lie at most
    :data:`MAX_TOKEN_LIFETIME` ahead (a NaN or huge ``exp`` would make a token
    "fresh" forever and never refreshed).
    """
    check_token_format(token)
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise InvalidTokenError("the IAM returned a token that is not a JWT") from None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise InvalidTokenError("the IAM returned a token without a numeric 'exp' claim")
    if not math.isfinite(exp):
        raise InvalidTokenError("the IAM returned a token whose 'exp' claim is not a finite number")
    if now is not None and exp > now + MAX_TOKEN_LIFETIME:
        raise InvalidTokenError(
            f"the IAM returned a token that expires {exp - now:.0f} s from now, more than a year ahead"
        )
    return float(exp)


class TokenProvider:
    """Caches the authentication token of one service account and refreshes it.

    ``token()`` returns the token, ``header()`` the ``Authorization`` value
    ``token=<JWT>``. Call :meth:`invalidate` after a 401 so that the next call
    logs in again. ``clock`` is injectable (wall time, seconds) so that tests make
    tokens expire without waiting.
    """

    def __init__(
        self,
        account: ServiceAccount,
        *,
        ca_bundle: CABundleLike = None,
        security_mode: Union[SecurityMode, str, None] = None,
        iam: Optional[IAMClient] = None,
        clock: Callable[[], float] = time.time,
        advisory_window: Optional[float] = None,
        mandatory_window: Optional[float] = None,
        **iam_options: Any,
    ) -> None:
        self.account = account
        if iam is None:
            iam = IAMClient(ca_bundle=ca_bundle, security_mode=security_mode, clock=clock, **iam_options)
        elif ca_bundle is not None or iam_options:
            raise TypeError("give either iam= or the options to build one (ca_bundle=, ...), not both")
        self.iam = iam
        self._clock = clock
        self._advisory_window = advisory_window
        self._mandatory_window = mandatory_window
        self._refresh_lock = threading.Lock()  # one login in flight
        self._state_lock = threading.Lock()  # token, info and the invalidated flag change together
        self._token: Optional[str] = None
        self._info: Optional[TokenInfo] = None
        self._invalidated = False
        self._listeners: List[RefreshListener] = []
        self.login_count = 0

    def __repr__(self) -> str:
        expiry = f"expires_at={self._info.expires_at:.0f}" if self._info else "no token yet"
        return f"TokenProvider(uid={self.account.uid!r}, {expiry})"

    # -- public API ----------------------------------------------------------------

    @property
    def uid(self) -> str:
        return self.account.uid

    @property
    def info(self) -> Optional[TokenInfo]:
        """Facts about the current token (uid, expiry), or None before the first login."""
        return self._info

    def token(self) -> str:
        """A valid authentication token, logging in or refreshing as needed."""
        token, state = self._token, self.state()
        if state is TokenState.FRESH and token is not None:
            return token
        if state is TokenState.ADVISORY and token is not None:
            if self._refresh_lock.acquire(blocking=False):
                try:
                    if self.state() is TokenState.ADVISORY:
                        self._refresh()
                except MesosAuthError as exc:
                    logger.warning(
                        "early refresh of the token of %r failed, keeping the current one: %s", self.uid, exc
                    )
                finally:
                    self._refresh_lock.release()
            return self._token or token
        _deadline.acquire(self._refresh_lock)  # a driver that stops does not wait for another's login
        try:
            if self.state() in (TokenState.MANDATORY, TokenState.MISSING) or self._token is None:
                return self._refresh()
            return self._token
        finally:
            self._refresh_lock.release()

    def header(self) -> str:
        """The ``Authorization`` header value DC/OS expects: ``token=<JWT>``."""
        return f"token={self.token()}"

    def invalidate(self, token: Optional[str] = None) -> None:
        """Forget the current token (after a 401) so the next call logs in again.

        Given the ``token`` that was refused, this is a no-op when another thread
        has already replaced it: a burst of 401s causes one login, not many.
        """
        with self._state_lock:
            if token is not None and token != self._token:
                return
            self._invalidated = True
        logger.info("token of %r invalidated; the next use logs in again", self.uid)

    def state(self) -> TokenState:
        """Where the current token stands against the refresh windows."""
        info = self._info
        if info is None or self._invalidated:
            return TokenState.MISSING
        remaining = info.expires_at - self._clock()
        advisory, mandatory = self._windows(info.lifetime)
        if remaining <= mandatory:
            return TokenState.MANDATORY
        if remaining <= advisory:
            return TokenState.ADVISORY
        return TokenState.FRESH

    def add_refresh_listener(self, listener: RefreshListener) -> None:
        """Call ``listener(TokenInfo)`` after every successful login (on the caller's thread)."""
        self._listeners.append(listener)

    def remove_refresh_listener(self, listener: RefreshListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- internals -------------------------------------------------------------

    def _windows(self, lifetime: float) -> tuple[float, float]:
        advisory = self._advisory_window
        if advisory is None:
            advisory = min(ADVISORY_MAX, ADVISORY_FRACTION * lifetime)
        mandatory = self._mandatory_window
        if mandatory is None:
            mandatory = min(MANDATORY_MAX, MANDATORY_FRACTION * lifetime)
        return advisory, mandatory

    def _refresh(self) -> str:
        """Log in, install the new token and return it. Caller holds the refresh lock."""
        first = self._info is None
        token = self.iam.login(self.account)
        self.login_count += 1
        now = self._clock()
        expires_at = read_expiry(token, now=now)
        if expires_at <= now:
            raise TokenExpiredError(uid=self.uid, expires_at=expires_at, now=now)
        info = TokenInfo(uid=self.uid, expires_at=expires_at, obtained_at=now)
        with self._state_lock:
            self._token, self._info, self._invalidated = token, info, False
        logger.info(
            "%s %r: auth token received, valid for %.0f s (until %s)",
            "logged in as" if first else "refreshed the token of",
            self.uid,
            info.lifetime,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)),
        )
        for listener in list(self._listeners):
            try:
                listener(info)
            except Exception:
                logger.exception("token refresh listener %r failed", listener)
        return token
