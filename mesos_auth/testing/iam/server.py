"""A fake DC/OS IAM (Bouncer behind Admin Router): service logins over real HTTP(S).

:class:`FakeIAM` serves what a service account needs, answering as dcos/bouncer
does (``docs/protocol.md``, "The service login and the auth token"):

- ``POST /acs/api/v1/auth/login`` takes ``{"uid": ..., "token": <login JWT>}``,
  checks the login token as Bouncer does (:mod:`.login`: PyJWT 1.7.1 with the
  account's public key, then the ``uid`` claim) and answers with an RS256
  authentication token ``{"uid", "exp"}`` signed by the fake's own key, in the body
  and in the ``dcos-acs-auth-cookie``;
- ``GET /acs/api/v1/auth/jwks`` publishes the fake's public key (RFC 7517);
- the ACL API (:mod:`.acl_api`: ``/acs/api/v1/acls...``, ``/users/<uid>/permissions``)
  for a caller with ``dcos:superuser`` or ``dcos:adminrouter:acs`` full; the
  permissions themselves are in :mod:`.acls`, and the fake master asks
  :meth:`FakeIAM.is_allowed`.

Other fakes (the fake Mesos master) check authentication tokens in-process with
:meth:`FakeIAM.verify_token`, by the fake's clock.

Like Bouncer, the fake accepts a login token without ``exp`` or living longer than
ten minutes, and the same login token twice; it only notes them in
:attr:`FakeIAM.warnings`. ``refuse_long_lived_login_tokens=True`` and
``refuse_replayed_login_tokens=True`` refuse them instead, for a test that wants
its own client held to good practice: that is NOT what DC/OS does, and the
refusal is still Bouncer's 401. On the wire every bad credential is the same 401
"Invalid credentials."; the real cause is in :attr:`FakeIAM.events` and
:attr:`FakeIAM.warnings`.

Tests drive it through named faults, as kazoo's harness does: failed logins
(:meth:`~FakeIAM.fail_next_logins`), slow logins (:meth:`~FakeIAM.set_latency`),
an IAM that is down (:meth:`~FakeIAM.go_down`), revoked tokens, a shifted clock,
and Admin Router's strict-mode redirect of plain http. None of the records, nor
any ``repr`` or error, ever holds a token or a key.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.testing._server import Answer, FakeServer, Request, Response, TLSOption, _Handler
from mesos_auth.testing.iam.accounts import AccountStore, PublicKeyInput
from mesos_auth.testing.iam.acl_api import ACLApi, match_route
from mesos_auth.testing.iam.acls import SUPERUSER_RID, ACLEvent, ACLStore
from mesos_auth.testing.iam.faults import FaultBody, FaultQueue, Latency
from mesos_auth.testing.iam.login import AUTH_COOKIE, INFO_COOKIE, LoginOutcome, Strictness, service_login
from mesos_auth.testing.iam.permissions import PermissionsAPI
from mesos_auth.testing.iam.records import IAMEvent, IAMRecords
from mesos_auth.testing.iam.settings import Settings, check_lifetime
from mesos_auth.testing.iam.wire import (
    LoginBody,
    default_options,
    falcon_error,
    json_answer,
    method_not_allowed,
    not_found,
    read_login_body,
    read_request_json,
    server_error,
)

__all__ = [
    "AUTH_COOKIE",
    "DEFAULT_TOKEN_LIFETIME",
    "INFO_COOKIE",
    "JWKS_PATH",
    "LOGIN_PATH",
    "MAX_LOGIN_TOKEN_LIFETIME",
    "ACLEvent",
    "FakeIAM",
    "IAMEvent",
]

LOGIN_PATH = "/acs/api/v1/auth/login"
JWKS_PATH = "/acs/api/v1/auth/jwks"
#: Bouncer warns about login tokens living longer than this (``_login_service``); it
#: refuses them only with ``refuse_long_lived_login_tokens=True`` (not DC/OS behaviour).
MAX_LOGIN_TOKEN_LIFETIME = 600.0
#: DC/OS's documented default authentication token lifetime (Bouncer's base configuration says 2 days).
DEFAULT_TOKEN_LIFETIME = 5 * 24 * 3600.0

Clock = Callable[[], float]
_ROUTES: Dict[str, Tuple[str, ...]] = {LOGIN_PATH: ("GET", "POST"), JWKS_PATH: ("GET",)}


class _IAMHandler(_Handler):
    """The fake IAM's request handler: the ``Date`` header of every answer is the
    fake's time (:meth:`FakeIAM.now`, so :meth:`FakeIAM.shift_clock` moves it), as a
    real IAM's answers carry the time of its own host. A client can then see clock
    skew from an answer, as ``mesos-auth doctor`` does. Should the fake's clock
    fail, the real time is sent (the failure is recorded where the clock is read
    for the answer itself)."""

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        owner = self.server.owner
        if timestamp is None and isinstance(owner, FakeIAM):
            try:
                timestamp = owner.now()
            except Exception:
                timestamp = None
        return super().date_time_string(timestamp)


class FakeIAM(FakeServer, PermissionsAPI):
    """A fake DC/OS IAM on 127.0.0.1: real HTTP and/or HTTPS, a background thread.

    ``tls``: None for plain http; True, a :class:`~mesos_auth.testing.TestCA` or an
    ``ssl.SSLContext`` for https (plus plain http unless ``plain_http=False``, as a
    DC/OS master serves both). ``token_lifetime`` is the lifetime of the tokens it
    issues (5 days by default, as DC/OS's; settable later). ``clock`` gives the
    fake's time in Unix seconds: inject one to test expiry without waiting.
    ``redirect_http_to_https`` makes the plain-http listener answer every path with
    a 307 to https, as Admin Router does in strict mode, without looking at the
    request. ``key_size`` is the size of the fake's signing key and of the keys
    :meth:`create_account` makes.

    ``refuse_long_lived_login_tokens`` and ``refuse_replayed_login_tokens`` (off by
    default) are NOT DC/OS behaviour: they refuse login tokens without ``exp`` or
    living more than ten minutes, and login tokens used before, which Bouncer
    accepts. The wire answer is still Bouncer's 401; the event's ``reason`` is
    ``"missing-exp"``, ``"too-long"`` or ``"replay"``.

    ``account_reads_own_permissions`` (default True): whether an account may
    ``GET /acs/api/v1/users/<its uid>/permissions`` with its own token and no IAM
    permission. The DC/OS docs do not say; Admin Router has a location of its own
    for that path and the DC/OS UI reads it for every user right after login, so
    True is the likely answer (unverified). Settable later as an attribute.

    Usable as a context manager or with :meth:`start`/:meth:`stop`; a session-wide
    instance is made fit for the next test with :meth:`reset`.
    """

    def __init__(
        self,
        *,
        tls: TLSOption = None,
        plain_http: bool = True,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        clock: Clock = time.time,
        redirect_http_to_https: bool = False,
        key_size: int = 2048,
        refuse_long_lived_login_tokens: bool = False,
        refuse_replayed_login_tokens: bool = False,
        account_reads_own_permissions: bool = True,
    ) -> None:
        check_lifetime(token_lifetime)
        if redirect_http_to_https and not (tls and plain_http):
            raise ValueError("redirect_http_to_https needs both listeners: pass tls=... and plain_http=True")
        super().__init__(tls=tls, plain_http=plain_http)
        for listener in self._listeners.values():
            listener.RequestHandlerClass = _IAMHandler  # its Date header follows the fake's clock
        self.redirect_http_to_https = redirect_http_to_https
        self.key_size = key_size
        self.strictness = Strictness(refuse_long_lived_login_tokens, refuse_replayed_login_tokens)
        self._clock = clock
        self._settings = Settings(float(token_lifetime))
        self._accounts = AccountStore(key_size)
        self.kid: str = self._accounts.kid
        self._records = IAMRecords()
        self._faults = FaultQueue()
        self._latency = Latency()
        self.account_reads_own_permissions = account_reads_own_permissions
        self._acls = ACLStore()
        self._acl_clock = self.now
        self._acl_api = ACLApi(
            self._acls,
            self.verify_token,
            lambda: self._accounts.uids,
            self.now,
            lambda: self.account_reads_own_permissions,
        )

    def __repr__(self) -> str:
        try:
            where = self.url
        except AttributeError:  # pragma: no cover - there is always a listener
            where = "?"
        return f"<FakeIAM {where} accounts={len(self._accounts)} logins={self.login_count}>"

    # -- life cycle ------------------------------------------------------------

    def start(self) -> FakeIAM:
        self._latency.running()
        super().start()
        return self

    def before_stop(self) -> None:
        """Wake logins held by :meth:`set_latency`, so that stop() is not held up by them."""
        self._latency.stopping()

    def __enter__(self) -> FakeIAM:
        return self.start()

    def reset(self) -> None:
        """Forget everything but the accounts and the ACLs: counters, records, warnings, faults, revocations.

        ACLs and grants are kept as accounts are (a cluster's configuration, not a
        test's record); :meth:`clear_acls` forgets them. :attr:`acl_events` is cleared.

        Also restores the clock offset, the token lifetime given to the constructor,
        zero latency, and brings a downed server up. Server-thread errors are
        cleared too: call :meth:`check` first.
        """
        self._records.clear()
        self._acls.clear_events()
        self._accounts.clear_revocations()
        self._settings.reset()
        self._faults.clear()
        self.set_latency(0)
        self.come_up()
        with self._lock:
            self.errors.clear()
            self.tls_failures.clear()

    # -- addresses -------------------------------------------------------------

    @property
    def login_endpoint(self) -> str:
        """The login URL on the main address (https when TLS is on)."""
        return self.url + LOGIN_PATH

    @property
    def http_login_endpoint(self) -> str:
        return self.http_url + LOGIN_PATH

    @property
    def https_login_endpoint(self) -> str:
        return self.https_url + LOGIN_PATH

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    # -- clock and token lifetime ------------------------------------------------

    def now(self) -> float:
        """The fake's time: the injected clock plus every :meth:`shift_clock`."""
        return self._clock() + self._settings.clock_offset

    def shift_clock(self, seconds: float) -> None:
        """Move the fake's clock (both ways): login token checks, issued and checked ``exp``."""
        self._settings.shift(seconds)

    @property
    def token_lifetime(self) -> float:
        """Lifetime of the authentication tokens issued from now on, in seconds."""
        return self._settings.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        check_lifetime(seconds)
        self._settings.token_lifetime = float(seconds)

    def set_token_lifetime(self, seconds: float) -> None:
        """Same as assigning :attr:`token_lifetime`: as an operator changes it cluster-wide."""
        self.token_lifetime = seconds

    # -- accounts ------------------------------------------------------------------

    def add_account(self, uid: str, public_key: PublicKeyInput, *, description: Optional[str] = None) -> None:
        """Register (or re-key) a service account with its public key, object or PEM."""
        if not isinstance(uid, str) or not uid:
            raise ValueError("uid must be a non-empty string")
        self._accounts.add(uid, public_key, description if description is not None else f"service account {uid}")

    def create_account(
        self,
        uid: str,
        *,
        key_size: Optional[int] = None,
        endpoint: Optional[str] = None,
        description: Optional[str] = None,
    ) -> ServiceAccount:
        """Make a key pair, register its public half, return the account with its private half.

        The account logs in at :attr:`login_endpoint` unless ``endpoint`` says otherwise
        (e.g. :attr:`http_login_endpoint` to test a permissive-mode secret).
        """
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size or self.key_size)
        account = ServiceAccount(
            uid=uid,
            private_key=private_key,
            login_endpoint=endpoint or self.login_endpoint,
            source=f"FakeIAM.create_account({uid!r})",
        )
        self.add_account(uid, private_key.public_key(), description=description)
        return account

    def remove_account(self, uid: str) -> None:
        """Delete an account: its logins fail, its tokens say "unknown-account". No error if absent.

        Its permissions go with it (unverified: as a database that deletes a user's
        ACL entries with the user would), so a new account of that uid starts bare.
        """
        self._accounts.remove(uid)
        self._acls.forget_user(uid)

    @property
    def accounts(self) -> FrozenSet[str]:
        """The uids registered now (a snapshot)."""
        return self._accounts.uids

    def create_superuser(self, uid: str = "bootstrapuser") -> str:
        """An account (created if missing) with ``dcos:superuser`` full; returns an auth token for it.

        As the first user of a DC/OS Enterprise cluster: what a test uses to drive
        the ACL API as an operator would.
        """
        if uid not in self._accounts.uids:
            self.create_account(uid, description=f"superuser {uid}")
        self.grant_permission(uid, SUPERUSER_RID, "full", description="Superuser")
        return self.issue_token(uid)

    # -- authentication tokens -------------------------------------------------------

    def issue_token(self, uid: str, *, lifetime: Optional[float] = None, with_exp: bool = True) -> str:
        """Sign an authentication token for ``uid`` without a login (any uid, account or not).

        Claims are exactly Bouncer's: ``uid`` and ``exp`` (fake now + lifetime, whole
        seconds), or ``uid`` alone with ``with_exp=False`` (the legacy ``exp: 0``
        login). Two tokens for one uid in the same second are the same bytes.
        """
        seconds = self.token_lifetime if lifetime is None else float(lifetime)
        return self._accounts.issue(uid, int(self.now() + seconds) if with_exp else None)

    def verify_token(self, token: str) -> str:
        """Check an authentication token as DC/OS services do; return its uid.

        Raises :class:`~mesos_auth.testing.errors.TokenRejected` with ``reason``
        ``"malformed"``, ``"bad-signature"`` (not signed by this fake),
        ``"revoked"``, ``"unknown-account"`` (removed since) or ``"expired"`` (by
        the fake's clock), checked in that order. A token without ``exp`` is
        valid. Thread-safe.
        """
        return self._accounts.verify_token(token, self.now())

    def revoke_tokens(self, uid: Optional[str] = None) -> None:
        """Revoke every token issued so far to ``uid`` (or to anyone), before a reset() too.

        Tokens issued afterwards are good (one issued in the same second as a
        revoked one is the same bytes, and good again). :meth:`verify_token` then
        says "revoked".
        """
        self._accounts.revoke_uid(uid)

    def revoke(self, token: str) -> None:
        """Revoke one authentication token (it need not be one this fake issued)."""
        self._accounts.revoke_token(token)

    # -- records -----------------------------------------------------------------------

    @property
    def login_count(self) -> int:
        """Successful logins (200 answers)."""
        return self._records.login_count

    @property
    def login_attempts(self) -> int:
        """Every request to the login path with method POST, redirected and failed ones included."""
        return self._records.login_attempts

    def logins_for(self, uid: str) -> int:
        """Successful logins of one account."""
        return self._records.logins_for(uid)

    @property
    def events(self) -> List[IAMEvent]:
        """Every request answered, oldest first (a copy)."""
        return self._records.events

    @property
    def warnings(self) -> List[str]:
        """What Bouncer would log as a problem, oldest first (a copy): long-lived login
        tokens, login tokens without ``exp`` or used before, and every refusal's cause."""
        return self._records.warnings

    @property
    def pending_logins(self) -> int:
        """Logins being held by :meth:`set_latency` right now."""
        return self._latency.pending

    # -- faults --------------------------------------------------------------------------

    def fail_next_logins(self, n: int = 1, status: int = 503, body: FaultBody = None) -> None:
        """Answer the next ``n`` login POSTs with ``status``, before looking at them.

        The body is a DC/OS-style JSON error unless ``body`` is given (a mapping is
        sent as JSON, str or bytes as text, e.g. Admin Router's HTML error page).
        A 429 carries ``Retry-After: 0``, a 401 ``WWW-Authenticate: acsjwt``. Calls
        queue up: ``fail_next_logins(1, 503); fail_next_logins(1, 429)`` fails the
        next login with 503 and the one after with 429.
        """
        self._faults.add(n, status, body)

    @property
    def pending_login_failures(self) -> int:
        """Queued :meth:`fail_next_logins` answers not used yet (they wait for the next logins,
        however late: a test that injects them while no one logs in finds them still there)."""
        return len(self._faults)

    def clear_login_failures(self) -> None:
        """Forget the queued :meth:`fail_next_logins` answers."""
        self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        """Hold every login this long before answering it (0 releases held ones at once).

        Applies to logins already waiting, too: lowering the latency releases them,
        which lets a test hold a login, look at the client meanwhile, then let it go.
        """
        self._latency.set(seconds)

    # -- HTTP ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.path == LOGIN_PATH and request.method == "POST":
            self._records.attempt()
        if request.scheme == "http" and self.redirect_http_to_https:
            outcome = LoginOutcome(self._redirect(request), "redirect", "Admin Router's strict-mode redirect")
        else:
            outcome = self._answer(request)
        uid = outcome.uid if outcome.uid is not None else _uid_of(request)
        event = IAMEvent(
            request.method,
            request.path,
            outcome.answer.status,
            uid,
            request.scheme,
            outcome.reason,
            self.now(),
            outcome.cause,
        )
        if outcome.issued and outcome.uid is not None:
            self._records.login_succeeded(outcome.uid)
        self._records.record(event, outcome.warnings)
        return outcome.answer

    def _redirect(self, request: Request) -> Response:
        # Admin Router in strict mode: every plain-http path to https, same host and path.
        location = self.https_url + request.path + (f"?{request.query}" if request.query else "")
        return Response(307, b"", [("Location", location), ("Content-Type", "text/html")])

    def _answer(self, request: Request) -> LoginOutcome:
        """Route as Bouncer's falcon app does: login POSTs pass the test's faults first."""
        if request.path == LOGIN_PATH and request.method == "POST":
            if not self._latency.hold():
                stopping = falcon_error(request, 503, "503 Service Unavailable", "The fake IAM is stopping")
                return LoginOutcome(stopping, "stopping", "the fake IAM is stopping")
            injected = self._faults.next_answer()
            if injected is not None:
                return LoginOutcome(injected, "injected", "FakeIAM.fail_next_logins()")
        acl_route = match_route(request.path)
        if acl_route is not None:  # Admin Router's check comes before Bouncer's middleware
            return self._acl_api.answer(request, acl_route)
        data = read_request_json(request)
        if isinstance(data, Response):
            return LoginOutcome(data, "bad-request", _description_of(data))
        allowed = _ROUTES.get(request.path)
        if allowed is None:
            return LoginOutcome(not_found(), "not-found", "no such route in Bouncer")
        if request.method == "OPTIONS":
            return LoginOutcome(default_options(allowed), "bad-request", "OPTIONS")
        if request.method not in allowed:
            return LoginOutcome(method_not_allowed(allowed), "bad-request", f"{request.method} is not allowed here")
        if request.path == JWKS_PATH:
            return LoginOutcome(json_answer(200, self._accounts.jwks), "jwks", "jwks")
        if request.method == "GET":
            return _sso_start(request)
        body = read_login_body(request, data)
        if not isinstance(body, LoginBody):
            return LoginOutcome(body, "bad-request", _description_of(body))
        return service_login(
            request, body, self._accounts, self.now(), self.token_lifetime, self.strictness, self._records.spend
        )


def _sso_start(request: Request) -> LoginOutcome:
    """``Login.on_get``: GET on the login path starts a browser single sign-on flow."""
    params = parse_qs(request.query, keep_blank_values=False)
    if "oidc-provider" not in params and "saml-provider" not in params:
        answer = falcon_error(
            request,
            400,
            "400 Bad Request",
            "Expected query parameter `oidc-provider` or `saml-provider`.",
            "ERR_MISSING_QUERY_PARAMETERS",
        )
        return LoginOutcome(answer, "bad-request", "GET on the login path without a provider")
    # (unverified) Open Bouncer's Login has no openidconnect_start_flow/saml_start_flow
    # (DC/OS Enterprise adds them): the lookup raises and the answer is a 500.
    return LoginOutcome(server_error(), "server-error", "the fake does not start SSO flows")


def _description_of(answer: Response) -> str:
    try:
        payload = json.loads(answer.body.decode("utf-8"))
    except ValueError:
        return f"HTTP {answer.status}"
    return str(payload.get("description", "")) if isinstance(payload, dict) else f"HTTP {answer.status}"


def _uid_of(request: Request) -> Optional[str]:
    """The uid of a login body if one can be read; only for records."""
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    uid = body.get("uid") if isinstance(body, dict) else None
    return uid if isinstance(uid, str) else None
