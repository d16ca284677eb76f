"""The service login token: the one-time password a service signs to log in.

A JWT, header ``{"alg": "RS256", "typ": "JWT"}``, claims ``uid`` and ``exp`` as
DC/OS requires, plus ``iat`` and a random ``jti`` so that no two tokens are ever
equal (the IAM may refuse a replayed login token). The IAM refuses a login token
that lives more than ten minutes; real clients use 20 s to 5 min. We default to
three minutes: long enough to survive a slow IAM and a clock a little behind the
IAM's, short enough that a clock a little ahead does not push it past ten.
"""

from __future__ import annotations

import secrets
import time
from typing import Callable, Optional

import jwt

from mesos_auth.account import ServiceAccount
from mesos_auth.errors import ConfigurationError

#: The IAM's limit on a login token's lifetime (seconds).
MAX_LOGIN_TOKEN_LIFETIME = 600.0
#: Our default lifetime (seconds); see the module docstring.
DEFAULT_LOGIN_TOKEN_LIFETIME = 180.0


class LoginTokenLifetimeError(ConfigurationError, ValueError):
    """A login token lifetime outside (0, 600] seconds was asked for."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        super().__init__(
            f"login token lifetime {lifetime} s is outside (0, {MAX_LOGIN_TOKEN_LIFETIME:.0f}]: "
            "the IAM refuses login tokens that live more than ten minutes. Use a few minutes "
            f"(the default is {DEFAULT_LOGIN_TOKEN_LIFETIME:.0f} s)"
        )


def check_login_token_lifetime(lifetime: float) -> float:
    """Return ``lifetime`` if the IAM would accept it, else raise."""
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

    Call it once per login attempt, retries included: it is a one-time password.
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
