"""Bouncer's login (``POST /acs/api/v1/auth/login``), check by check, in Bouncer's order.

:func:`service_login` follows ``bouncer/app/auth.py``: ``Login.on_post``,
``_validate_req_params``, ``_login_service`` and ``crypt.generate_auth_token``.
The wire answer is Bouncer's: every credential refusal is the same 401
``ERR_INVALID_CREDENTIALS`` "Invalid credentials." with ``WWW-Authenticate: acsjwt``
(``_raise_local_nonauth_error``). What really went wrong goes to the fake's
records instead (:class:`LoginOutcome`: ``reason``, ``cause``, ``warnings``), as
Bouncer writes it to its log.

Bouncer accepts a login token without ``exp`` or living more than ten minutes
(it logs a warning; its test ``test_logintoken_20min_exp`` expects 200) and keeps
no record of used login tokens. :class:`Strictness` lets a test refuse those
anyway; that is NOT DC/OS behaviour, and the refusal is still Bouncer's 401.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Callable, List, Optional, Tuple

from mesos_auth.testing._server import Request, Response
from mesos_auth.testing.iam.accounts import Account, AccountStore
from mesos_auth.testing.iam.jws import InvalidToken, ServerError, claims_of, decode_login_token, load_jws
from mesos_auth.testing.iam.wire import LoginBody, falcon_error, json_answer, server_error

__all__ = [
    "AUTH_COOKIE",
    "INFO_COOKIE",
    "LONG_LIVED_LOGIN_TOKEN",
    "LoginOutcome",
    "Strictness",
    "service_login",
]

AUTH_COOKIE = "dcos-acs-auth-cookie"
INFO_COOKIE = "dcos-acs-info-cookie"
#: Bouncer warns about (never refuses) a login token whose ``exp`` is further away than this.
LONG_LIVED_LOGIN_TOKEN = 600
#: (unverified for DC/OS) Bouncer's base configuration: ``EXPIRATION_AUTH_COOKIE_DAYS`` and
#: ``EXPIRATION_INFO_COOKIE_DAYS`` = 1.9 (``bouncer/config.py``), sent as ``Max-Age``.
COOKIE_MAX_AGE = int(1.9 * 86400)
#: Issuers of the legacy OIDC ID token login (``oidcidtokenlogin.ISSUER_WHITELIST``).
_OIDC_ISSUERS = ("https://dcos.auth0.com/",)


@dataclass(frozen=True)
class Strictness:
    """Refusals a test may ask for that DC/OS does NOT make (all off by default).

    ``refuse_long_lived_login_tokens``: refuse a login token without ``exp`` or
    whose ``exp`` is more than ten minutes after the IAM's time (Bouncer only
    warns). ``refuse_replayed_login_tokens``: refuse a login token that already
    bought an authentication token (Bouncer keeps no such record).
    """

    refuse_long_lived_login_tokens: bool = False
    refuse_replayed_login_tokens: bool = False


@dataclass
class LoginOutcome:
    """The wire answer of one login, and what the fake records about it (never a token)."""

    answer: Response
    reason: str
    cause: str
    uid: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    #: The authentication token issued, when the login succeeded (for the server's counters).
    issued: bool = False


class _Refused(Exception):
    def __init__(self, reason: str, cause: str) -> None:
        super().__init__(cause)
        self.reason = reason
        self.cause = cause


def invalid_credentials(request: Request) -> Response:
    """``Login._raise_local_nonauth_error``: the one answer to every bad credential."""
    return falcon_error(
        request,
        401,
        "401 Unauthorized",
        "Invalid credentials.",
        "ERR_INVALID_CREDENTIALS",
        [("WWW-Authenticate", "acsjwt")],
    )


def _bad_request(request: Request, description: str) -> Response:
    # falcon.HTTPBadRequest(description=...): falcon's default title, no code.
    return falcon_error(request, 400, "400 Bad Request", description)


def _shown(value: Any, limit: int = 64) -> str:
    """A uid fit for the fake's records: printable, cut short."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def service_login(
    request: Request,
    body: LoginBody,
    accounts: AccountStore,
    now: float,
    token_lifetime: float,
    strictness: Strictness,
    spend: Callable[[str], bool],
) -> LoginOutcome:
    """Answer one login whose body passed the middleware and the schema.

    ``now`` is the IAM's time, ``token_lifetime`` the default lifetime of the
    authentication token (Bouncer's ``EXPIRATION_AUTH_TOKEN_DAYS``). ``spend``
    records a login token that bought an authentication token and says whether
    it had bought one before.
    """
    data = body.data
    uid, password, token, exp = data.get("uid"), data.get("password"), data.get("token"), data.get("exp")
    shown_uid = _shown(uid) if uid is not None else None
    if (password is None) == (token is None):
        answer = _bad_request(request, "Exactly one of `token` and `password` must be provided in the request body")
        return LoginOutcome(answer, "bad-request", "the body has both or neither of token and password", uid)
    if password is not None and uid is None:
        answer = _bad_request(request, "`uid` missing in the request body")
        return LoginOutcome(answer, "bad-request", "a password login without uid", uid)
    if password == "" or uid == "":
        answer = _bad_request(request, "`uid` and `password` must not be empty strings")
        return LoginOutcome(answer, "bad-request", "an empty uid or password", uid)
    if uid is None:
        # A token without uid is the legacy OpenID Connect ID token login.
        return _oidc_login(request, token)
    account = accounts.get(uid)
    try:
        if account is None:
            raise _Refused("unknown-uid", f"unknown uid: no service account `{shown_uid}`")
        if not token:
            raise _Refused(
                "no-login-token", f"`{shown_uid}` is a service account: it logs in with a login token, not a password"
            )
        warnings = _check_login_token(uid, token, account, now, strictness)
        exp_claim = _auth_token_exp(exp, now, token_lifetime)
        _check_replay(uid, token, strictness, spend, warnings)
    except _Refused as refused:
        return LoginOutcome(invalid_credentials(request), refused.reason, refused.cause, uid, [refused.cause])
    except ServerError as error:
        cause = f"Bouncer would fail with a 500: {error}"
        return LoginOutcome(server_error(), "server-error", cause, uid, [cause])
    if exp is not None:
        warnings.append(f"the login of `{shown_uid}` sets the private `exp` field of the body (not DC/OS API)")
    auth_token = accounts.issue(uid, exp_claim)
    answer = json_answer(200, {"token": auth_token}, _cookies(auth_token, uid, account))
    return LoginOutcome(answer, "ok", "ok", uid, warnings, issued=True)


def _check_login_token(
    uid: str,
    token: str,
    account: Account,
    now: float,
    strictness: Strictness,
) -> List[str]:
    """``Login._login_service`` up to the auth token: the warnings Bouncer would log, or _Refused."""
    shown_uid = _shown(uid)
    try:
        claims = decode_login_token(token, account.public_key, now)
    except InvalidToken as exc:
        if exc.reason == "bad-signature":
            raise _Refused(exc.reason, f"signature does not match the registered key of `{shown_uid}`") from None
        raise _Refused(exc.reason, f"the login token of `{shown_uid}` is refused: {exc}") from None
    if "uid" not in claims:
        raise _Refused("uid-missing", f"the login token of `{shown_uid}` has no uid claim")
    if claims["uid"] != uid:
        raise _Refused("uid-mismatch", f"the login token's uid claim is not the body's uid `{shown_uid}`")
    warnings: List[str] = []
    if "exp" not in claims:
        warnings.append(f"login token of `{shown_uid}` has no exp")
        if strictness.refuse_long_lived_login_tokens:
            raise _Refused("missing-exp", f"login token of `{shown_uid}` has no exp (refused by strictness)")
    else:
        try:
            long_lived = claims["exp"] > now + LONG_LIVED_LOGIN_TOKEN
        except TypeError:
            raise ServerError("Bouncer's `payload['exp'] > time.time() + 600` raised: exp is not a number") from None
        if long_lived:
            lives = f"login token of `{shown_uid}` lives {claims['exp'] - now:.0f} s (more than 10 minutes)"
            warnings.append(lives)
            if strictness.refuse_long_lived_login_tokens:
                raise _Refused("too-long", f"{lives} (refused by strictness)")
    return warnings


def _check_replay(
    uid: str, token: str, strictness: Strictness, spend: Callable[[str], bool], warnings: List[str]
) -> None:
    """Not Bouncer's: note (or, strictly, refuse) a login token that bought a token before."""
    if spend(token):
        replay = f"login token of `{_shown(uid)}` was used before (replay)"
        warnings.append(replay)
        if strictness.refuse_replayed_login_tokens:
            raise _Refused("replay", f"{replay} (refused by strictness)")


def _auth_token_exp(exp: Any, now: float, token_lifetime: float) -> Optional[int]:
    """``crypt.generate_auth_token``'s ``exp``: None (the body had none) -> now + lifetime, whole
    seconds; ``0`` (``exp == 0``, so ``false`` and ``0.0`` too) -> no claim; else ``int(exp)``,
    unchecked: a past or odd value is signed as given, and what ``int()`` refuses is a 500."""
    if exp is None:
        return int(now + token_lifetime)
    if exp == 0:
        return None
    try:
        return int(exp)
    except (TypeError, ValueError, OverflowError):
        raise ServerError("`int(exp)` of the body's private exp field raised") from None


def _oidc_login(request: Request, token: str) -> LoginOutcome:
    """``oidcidtokenlogin.verify_id_token_or_terminate`` as far as a fake can follow it.

    Its first ``jwt.decode(token, verify=False)`` catches only ``ValueError``;
    PyJWT's ``DecodeError`` is not one, so a token that is no JWT is a 500. One
    without ``iss``, or from an issuer not on the whitelist, is the generic 401
    without ``WWW-Authenticate``. (unverified) A token naming the whitelisted Auth0
    issuer is refused the same way: the fake does not fetch Auth0's keys.
    """
    if not token:  # `assert login_params.oidc_id_token` in Login.on_post
        cause = "a token-less login without uid: Bouncer's assert fails (500)"
        return LoginOutcome(server_error(), "server-error", cause, None, [cause])
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return _oidc_refused(request, "the OIDC ID token is not UTF-8 encodable")
    try:
        claims = claims_of(load_jws(token)[1])
    except InvalidToken as exc:
        cause = f"a token without uid is an OIDC ID token, and this one is no JWT ({exc}): Bouncer fails with a 500"
        return LoginOutcome(server_error(), "server-error", cause, None, [cause])
    if "iss" not in claims:
        return _oidc_refused(request, "a token without uid is taken as an OIDC ID token, and it has no iss claim")
    if isinstance(claims["iss"], (list, dict)):  # `iss in ISSUER_WHITELIST` (a dict) cannot hash it
        cause = "the OIDC ID token's iss is not hashable: Bouncer's whitelist lookup fails with a 500"
        return LoginOutcome(server_error(), "server-error", cause, None, [cause])
    if claims["iss"] not in _OIDC_ISSUERS:
        return _oidc_refused(request, "a token without uid is taken as an OIDC ID token from an unknown issuer")
    return _oidc_refused(request, "the fake does not verify OIDC ID tokens of the Auth0 issuer")


def _oidc_refused(request: Request, cause: str) -> LoginOutcome:
    # _terminate_bad_token: falcon.HTTPUnauthorized without challenges or code.
    answer = falcon_error(request, 401, "401 Unauthorized", "OpenID Connect ID Token login failed: bad token")
    return LoginOutcome(answer, "oidc", cause, None, [cause])


def _cookies(auth_token: str, uid: str, account: Account) -> List[Tuple[str, str]]:
    """``generate_authtoken_json_response``'s two cookies, written as falcon 1.4.1 does (SimpleCookie)."""
    info = {"uid": uid, "description": account.description, "is_remote": False}
    info_value = base64.b64encode(json.dumps(info).encode("ascii")).decode("ascii")
    jar: SimpleCookie = SimpleCookie()
    jar[AUTH_COOKIE] = auth_token
    jar[AUTH_COOKIE]["max-age"] = COOKIE_MAX_AGE
    jar[AUTH_COOKIE]["path"] = "/"
    jar[AUTH_COOKIE]["httponly"] = True
    jar[INFO_COOKIE] = info_value
    jar[INFO_COOKIE]["max-age"] = COOKIE_MAX_AGE
    jar[INFO_COOKIE]["path"] = "/"
    return [("Set-Cookie", jar[name].OutputString()) for name in (AUTH_COOKIE, INFO_COOKIE)]
