"""The service login token: the short-lived proof a service signs to log in.

A JWT, header ``{"alg": "RS256", "typ": "JWT"}``, claims ``uid`` and ``exp`` as
DC/OS requires, plus ``iat`` and a random ``jti``.

What the IAM checks (dcos/bouncer, ``bouncer/app/auth.py``, ``Login._login_service``;
``docs/protocol.md``): the RS256 signature against the account's registered public
key, ``exp`` not past (PyJWT 1.7.1, no leeway), and the ``uid`` claim equal to the
body's ``uid``. That is all. A login token with no ``exp`` or living more than ten
minutes is accepted, with a warning in the IAM's log; used login tokens are not
recorded, so the same one is accepted again.

A short lifetime and a fresh token per attempt are therefore *our* practice, not
the IAM's rule: a login token that leaks (a proxy's log, a core dump) buys an auth
token for anyone until its ``exp``, so it should be useless soon. We default to
three minutes: long enough to survive a slow IAM and an IAM clock a little ahead
of ours (the one clock error that makes the IAM refuse it), short enough to be of
little use to a thief. DC/OS's own clients sign 2 to 5 minutes (the Java SDK 120 s,
the Mesos HTTP authenticatee 5 minutes; ``docs/protocol.md``, "What other clients
do"). We refuse to sign for longer than ten minutes, our own limit: past it
the IAM logs a warning about an insecurely long-lived login token on every login.

``jti`` makes every token unique: RS256 signatures are deterministic, so two
tokens with the same ``uid`` and ``exp`` made in the same second would otherwise
be the same bytes, and no record of logins (an audit log, a test fake's events)
could tell the attempts apart. ``iat`` is informative; the IAM does not check it.
"""

from __future__ import annotations

import secrets
import time
from typing import Callable, Optional

import jwt

from mesos_auth.account import ServiceAccount
from mesos_auth.errors import ConfigurationError

#: The longest login token lifetime mesos-auth signs (seconds): our limit, not the
#: IAM's. The IAM logs a warning for a login token whose ``exp`` is further away.
MAX_LOGIN_TOKEN_LIFETIME = 600.0
#: Our default lifetime (seconds); see the module docstring.
DEFAULT_LOGIN_TOKEN_LIFETIME = 180.0


class LoginTokenLifetimeError(ConfigurationError, ValueError):
    """A login token lifetime outside (0, 600] seconds was asked for (mesos-auth's limit)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        super().__init__(
            f"login token lifetime {lifetime} s is outside (0, {MAX_LOGIN_TOKEN_LIFETIME:.0f}]: mesos-auth signs "
            "login tokens for at most ten minutes. That is this library's limit, not the IAM's: a login token that "
            "leaks can be used by anyone until it expires, and the IAM logs a warning about every login token "
            "living longer than ten minutes. Use a few minutes "
            f"(the default is {DEFAULT_LOGIN_TOKEN_LIFETIME:.0f} s)"
        )


def check_login_token_lifetime(lifetime: float) -> float:
    """Return ``lifetime`` if it is within mesos-auth's limit (0, 600] s, else raise."""
    if not 0 < lifetime <= MAX_LOGIN_TOKEN_LIFETIME:
        raise LoginTokenLifetimeError(lifetime)
    return float(lifetime)


def make_login_token(
    account: ServiceAccount,
    *,
    lifetime: float = DEFAULT_LOGIN_TOKEN_LIFETIME,
    clock: Callable[[], float] = time.time,
    jti: Optional[str] = None,
) -> str:
    """Sign a fresh service login token for ``account``.

    Call it once per login attempt, retries included: a fresh token each time
    (our practice; the IAM would accept a reused one).
    """
    check_login_token_lifetime(lifetime)
    now = int(clock())
    claims = {
        "uid": account.uid,
        "exp": now + int(lifetime),
        "iat": now,
        "jti": jti or secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, account.private_key, algorithm="RS256", headers={"typ": "JWT"})
