"""The IAM login: exchange a service login token for an authentication token.

``POST <login_endpoint>`` with ``{"uid": ..., "token": <login JWT>}``; the IAM
answers ``{"token": <auth token>}``. This module is the stateless protocol call
(google-auth's ``jwt_grant``); :class:`~mesos_auth.tokens.TokenProvider` caches
its result.

What it guarantees, where the peers fall short (contract.md, section 8):

- TLS is verified, against the resolved CA bundle; never ``verify=False``.
- In strict mode a login token is never sent over plain http: the error comes
  before any byte leaves. (Admin Router would answer 307 to https, but by then the
  token has travelled in clear.)
- Redirects are followed only when they keep the POST (307, 308) and never from
  https to http.
- Connection errors, timeouts, 429 and 5xx are retried with backoff, jitter and a
  deadline, each attempt with a fresh login token. 400 and 401 are not retried:
  they raise :class:`~mesos_auth.errors.LoginRejectedError` with the IAM's code,
  title and description and a hint.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, Optional, Union
from urllib.parse import urljoin, urlsplit

import requests

from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundle, CABundleLike, resolve_ca_bundle
from mesos_auth.errors import (
    ConfigurationError,
    IAMError,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    TLSVerificationError,
)
from mesos_auth.login_token import DEFAULT_LOGIN_TOKEN_LIFETIME, check_login_token_lifetime, make_login_token
from mesos_auth.retry import RetryExhausted, RetryPolicy, call_with_retry
from mesos_auth.security_mode import SecurityMode

logger = logging.getLogger(__name__)

LOGIN_PATH = "/acs/api/v1/auth/login"
#: (connect, read) seconds for one login request.
DEFAULT_TIMEOUT = (5.0, 30.0)
#: Redirects followed at most, per attempt.
MAX_REDIRECTS = 5
#: Redirects that keep the method and body (RFC 9110): the only ones followed.
KEEPING_REDIRECTS = (307, 308)
#: The default retry policy of a login: one minute of attempts.
DEFAULT_LOGIN_RETRY = RetryPolicy(initial_delay=0.5, backoff=2.0, max_delay=10.0, jitter=0.2, deadline=60.0)


class RetryableLoginFailure(IAMError):
    """One login attempt failed in a way that may heal (network, 429, 5xx)."""

    def __init__(self, problem: str, retry_after: Optional[float] = None) -> None:
        self.problem = problem
        self.retry_after = retry_after
        super().__init__(problem)


class IAMProtocolError(IAMError):
    """The IAM answered something that is not the login API (wrong endpoint?)."""


def login_hint(status: int, code: str, description: str) -> str:
    """A fix to suggest for a rejected login, from what the IAM said."""
    text = f"{code} {description}".lower()
    if status == 404:
        return f"check the login_endpoint in the secret: it should end with {LOGIN_PATH}"
    if "unknown" in text or "does not exist" in text or "not found" in text:
        return (
            "the service account does not exist on this cluster: create it (dcos security org service-accounts create)"
        )
    if "signature" in text or "public key" in text:
        return (
            "the private key does not match the public key registered for the account: recreate the secret "
            "from the account's key pair, or register this key's public half"
        )
    if "expired" in text or "10 minutes" in text or "ten minutes" in text or "lifetime" in text or "clock" in text:
        return "this machine's clock and the IAM's disagree: synchronise the clock (NTP)"
    if "already been used" in text or "replay" in text:
        return (
            "a login token was used twice; mesos-auth makes a fresh one per attempt, "
            "so check for a proxy replaying requests"
        )
    if status == 401:
        return (
            "check that the account exists, that its registered public key matches this private key, "
            "and that this machine's clock is in sync with the cluster's"
        )
    return ""


def _error_fields(response: requests.Response) -> Dict[str, str]:
    try:
        body = response.json()
    except ValueError:
        return {"description": response.text[:200].strip()}
    if not isinstance(body, dict):
        return {}
    return {key: str(body.get(key) or "") for key in ("code", "title", "description")}


def _retry_after(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _is_untrusted_certificate(exc: requests.exceptions.SSLError) -> bool:
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "hostname" in text.lower() or "certificate" in text.lower()


class IAMClient:
    """Logs service accounts in at their IAM login endpoint.

    Stateless but for its HTTP session; safe to share. ``clock`` is wall time
    (for the login token's ``exp``), ``monotonic``/``sleep``/``rng`` drive the
    retries, so tests can run a minute of backoff in no time.
    """

    def __init__(
        self,
        *,
        ca_bundle: CABundleLike = None,
        security_mode: Union[SecurityMode, str, None] = None,
        session: Optional[requests.Session] = None,
        timeout: Any = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_LOGIN_RETRY,
        login_token_lifetime: float = DEFAULT_LOGIN_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.ca_bundle: CABundle = resolve_ca_bundle(ca_bundle)
        self.security_mode = SecurityMode.parse(security_mode) if security_mode is not None else None
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry
        self.login_token_lifetime = check_login_token_lifetime(login_token_lifetime)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng

    def __repr__(self) -> str:
        return f"IAMClient(ca_bundle={self.ca_bundle!s}, security_mode={self.security_mode})"

    # -- the call ----------------------------------------------------------------

    def login(self, account: ServiceAccount) -> str:
        """Log ``account`` in, retrying what may heal; return the auth token."""

        def attempt(number: int) -> str:
            return self.login_once(account)

        def on_retry(number: int, delay: float, exc: BaseException) -> None:
            logger.warning(
                "login of %r at %s failed (attempt %d: %s); retrying in %.1f s",
                account.uid,
                account.login_endpoint,
                number,
                exc,
                delay,
            )

        try:
            return call_with_retry(
                attempt,
                policy=self.retry,
                is_retryable=lambda exc: isinstance(exc, RetryableLoginFailure),
                retry_after=lambda exc: getattr(exc, "retry_after", None),
                on_retry=on_retry,
                clock=self._monotonic,
                sleep=self._sleep,
                rng=self._rng,
            )
        except RetryExhausted as exhausted:
            raise IAMUnavailableError(
                endpoint=account.login_endpoint,
                attempts=exhausted.attempts,
                elapsed=exhausted.elapsed,
                last_problem=str(exhausted.last),
            ) from None

    def login_once(self, account: ServiceAccount) -> str:
        """One login attempt with a fresh login token, following safe redirects."""
        url = account.login_endpoint
        self._refuse_clear_text(url)
        login_token = make_login_token(account, lifetime=self.login_token_lifetime, clock=self._clock)
        logger.info(
            "signed a service login token for %r (RS256, valid %.0f s); logging in at %s",
            account.uid,
            self.login_token_lifetime,
            url,
        )
        body = {"uid": account.uid, "token": login_token}
        for _ in range(MAX_REDIRECTS + 1):
            response = self._post(url, body)
            if response.status_code in KEEPING_REDIRECTS:
                url = self._follow(url, response)
                continue
            if response.status_code in (301, 302, 303):
                raise ConfigurationError(
                    f"the IAM at {url} redirected the login with HTTP {response.status_code}, which would turn "
                    "the POST into a GET. Set login_endpoint to the final address "
                    f"({response.headers.get('Location', 'no Location given')})"
                )
            return self._read_answer(account, url, response)
        raise IAMProtocolError(f"the login at {account.login_endpoint} was redirected more than {MAX_REDIRECTS} times")

    # -- pieces ------------------------------------------------------------------

    def _refuse_clear_text(self, url: str) -> None:
        if self.security_mode is SecurityMode.STRICT and urlsplit(url).scheme != "https":
            raise InsecureTransportError(url)

    def _follow(self, url: str, response: requests.Response) -> str:
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise IAMProtocolError(f"the IAM at {url} answered {response.status_code} without a Location")
        target = urljoin(url, location)
        if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
            raise InsecureTransportError(target, "a login token (redirect from https to http refused)")
        self._refuse_clear_text(target)
        logger.debug("login redirected from %s to %s", url, target)
        return target

    def _post(self, url: str, body: Dict[str, str]) -> requests.Response:
        try:
            return self.session.post(
                url,
                json=body,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                verify=self.ca_bundle.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            if _is_untrusted_certificate(exc):
                raise TLSVerificationError(url, _reason(exc), self.ca_bundle.path) from None
            # Not a certificate problem: the connection broke during the handshake.
            raise RetryableLoginFailure(f"a connection error (TLS: {_reason(exc)})") from None
        except requests.exceptions.Timeout:
            raise RetryableLoginFailure("a timeout") from None
        except requests.exceptions.ConnectionError as exc:
            raise RetryableLoginFailure(f"a connection error ({_reason(exc)})") from None
        except requests.exceptions.InvalidURL as exc:
            raise ConfigurationError(f"the login endpoint {url} is not a valid URL ({exc})") from None

    def _read_answer(self, account: ServiceAccount, url: str, response: requests.Response) -> str:
        status = response.status_code
        if status == 200:
            try:
                token = response.json().get("token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str) or not token:
                raise IAMProtocolError(
                    f"the IAM at {url} answered 200 without a token: is login_endpoint the IAM's {LOGIN_PATH}?"
                )
            return token
        if status == 429 or status >= 500:
            raise RetryableLoginFailure(f"HTTP {status}", retry_after=_retry_after(response))
        fields = _error_fields(response)
        raise LoginRejectedError(
            uid=account.uid,
            endpoint=url,
            status=status,
            code=fields.get("code", ""),
            title=fields.get("title", ""),
            description=fields.get("description", ""),
            hint=login_hint(status, fields.get("code", ""), fields.get("description", "")),
        )


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without the URL noise."""
    text = str(exc)
    for marker in ("Caused by ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip("()'\" ")[:200] or exc.__class__.__name__
