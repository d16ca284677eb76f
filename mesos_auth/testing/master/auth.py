"""How the fake master authenticates a request, per security mode (``docs/protocol.md``, "Security modes").

Each request is authenticated on its own, from its own ``Authorization`` header:
nothing is remembered from the SUBSCRIBE that opened a stream, so a token that
expired or was revoked since makes the next call fail while the stream stays open.

- ``disabled``: no authentication; an ``Authorization`` header is ignored.
- ``permissive``: credentials are optional but checked when sent (bad ones: 401);
  a request without any is the anonymous principal ``dcos_anonymous``, which the
  master treats as "no authenticated principal" (no principal check, no fill-in).
- ``strict``: every request needs a valid ``Authorization: token=<JWT>`` (or
  ``Bearer <JWT>``, which Admin Router also takes), checked by the IAM.
- ``basic_auth`` (principal -> secret), a separate option, is plain Mesos'
  ``--authenticate_http_frameworks`` with HTTP Basic credentials: when given,
  every request needs them (or, in a token mode, a valid token: (unverified)
  a master with both authenticators takes either, and a 401 carries both
  challenges).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

from mesos_auth.testing.errors import TokenRejected

DISABLED = "disabled"
PERMISSIVE = "permissive"
STRICT = "strict"
SECURITY_MODES = (DISABLED, PERMISSIVE, STRICT)

#: The principal DC/OS gives requests without credentials in permissive mode.
ANONYMOUS_PRINCIPAL = "dcos_anonymous"

TOKEN_CHALLENGE = "acsjwt"
BASIC_CHALLENGE = 'Basic realm="mesos"'


class TokenVerifier(Protocol):
    """What the master needs of an IAM: the uid of a valid token, or TokenRejected."""

    def verify_token(self, token: str) -> str: ...


def security_mode(mode: Any) -> str:
    """Normalise a mode given as text or as a str-valued enum (compared by value)."""
    text = getattr(mode, "value", mode)
    if not isinstance(text, str) or text.lower() not in SECURITY_MODES:
        raise ValueError(f"security_mode must be one of {', '.join(SECURITY_MODES)}, not {mode!r}")
    return text.lower()


@dataclass(frozen=True)
class AuthOutcome:
    """The result of authenticating one request.

    ``principal`` is what the master checks FrameworkInfo against (None: nothing
    authenticated); ``recorded_as`` is what the records show (``dcos_anonymous``
    for an unauthenticated request in permissive mode).
    """

    ok: bool
    principal: Optional[str] = None
    recorded_as: Optional[str] = None
    method: Optional[str] = None  # "token" or "basic"
    reason: str = ""


def split_authorization(header: str) -> Tuple[str, str]:
    """``("token", jwt)``, ``("bearer", jwt)``, ``("basic", b64)`` or ``(scheme, rest)``."""
    stripped = header.strip()
    if stripped.startswith("token="):
        return "token", stripped[len("token=") :]
    scheme, _, rest = stripped.partition(" ")
    return scheme.lower(), rest.strip()


def mask_authorization(header: str) -> str:
    """The header with its credential hidden, for records: ``token=***``, ``Basic ***``."""
    stripped = header.strip()
    if stripped.startswith("token="):
        return "token=***"
    scheme, sep, _ = stripped.partition(" ")
    return f"{scheme} ***" if sep else "***"


def mask_headers(headers: Mapping[str, str]) -> Dict[str, str]:
    return {
        name: (mask_authorization(text) if name.lower() == "authorization" else text) for name, text in headers.items()
    }


class Authenticator:
    """Authenticates requests for one master configuration."""

    def __init__(
        self,
        mode: str,
        verifier: Optional[TokenVerifier],
        basic_auth: Optional[Mapping[str, str]],
    ) -> None:
        self.mode = mode
        self._verifier = verifier
        self._basic = dict(basic_auth) if basic_auth is not None else None

    @property
    def checks_tokens(self) -> bool:
        return self.mode != DISABLED

    @property
    def required(self) -> bool:
        return self.mode == STRICT or self._basic is not None

    @property
    def challenges(self) -> List[str]:
        """The ``WWW-Authenticate`` challenges of a 401, one per accepted scheme."""
        challenges = []
        if self.checks_tokens:
            challenges.append(TOKEN_CHALLENGE)
        if self._basic is not None:
            challenges.append(BASIC_CHALLENGE)
        return challenges

    def authenticate(self, header: Optional[str]) -> AuthOutcome:
        if not header or not header.strip():
            if self.required:
                return AuthOutcome(False, reason="no credentials")
            return self._unauthenticated()
        scheme, credential = split_authorization(header)
        if scheme in ("token", "bearer"):
            if self.checks_tokens:
                return self._verify_token(credential)
        elif scheme == "basic" and self._basic is not None:
            return _verify_basic(self._basic, credential)
        if self.checks_tokens or self.required:
            # (unverified) Credentials of a scheme this master does not take are
            # refused rather than ignored whenever it checks credentials at all.
            return AuthOutcome(False, reason=f"unsupported authorization scheme {scheme!r}")
        return self._unauthenticated()

    def _unauthenticated(self) -> AuthOutcome:
        recorded = ANONYMOUS_PRINCIPAL if self.mode == PERMISSIVE else None
        return AuthOutcome(True, principal=None, recorded_as=recorded)

    def _verify_token(self, token: str) -> AuthOutcome:
        if self._verifier is None:
            return AuthOutcome(False, reason="no IAM configured to verify tokens")
        if not token:
            return AuthOutcome(False, reason="empty token")
        try:
            uid = self._verifier.verify_token(token)
        except TokenRejected as exc:
            return AuthOutcome(False, reason=f"token rejected ({exc.reason})")
        return AuthOutcome(True, principal=uid, recorded_as=uid, method="token")


def _verify_basic(table: Mapping[str, str], credential: str) -> AuthOutcome:
    """Check ``base64(principal:secret)`` against the principal -> secret table."""
    try:
        decoded = base64.b64decode(credential.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return AuthOutcome(False, reason="malformed basic credentials")
    principal, sep, secret = decoded.partition(":")
    expected = table.get(principal)
    if not sep or expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        return AuthOutcome(False, reason="bad basic credentials")
    return AuthOutcome(True, principal=principal, recorded_as=principal, method="basic")
