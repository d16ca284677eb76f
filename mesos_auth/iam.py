"""The IAM login: exchange a service login token for an authentication token.

``POST <login_endpoint>`` with ``{"uid": ..., "token": <login JWT>}``; the IAM
answers ``{"token": <auth token>}``. This module is the stateless protocol call
(google-auth's ``jwt_grant``); :class:`~mesos_auth.tokens.TokenProvider` caches
its result.

What it guarantees, where the peers fall short (``docs/protocol.md``, "What other clients do"):

- TLS is verified, against the resolved CA bundle; never ``verify=False``.
- In strict mode (given, or detected as the driver detects it) a login token is
  never sent over plain http: the error comes before any byte leaves. (Admin
  Router would answer 307 to https, but by then the token has travelled in clear.)
- The login token goes to the configured endpoint's host and nowhere else:
  redirects are followed only when they keep the POST (307, 308), stay on that
  host, and never go from https to http; anything else raises
  :class:`~mesos_auth.errors.UnsafeRedirectError` before the token is sent on.
- No cookie is kept or sent: the IAM's ``dcos-acs-auth-cookie`` holds an auth
  token, and a client shared by several accounts must not replay one's for another.
- Every attempt has a total deadline (a server trickling one byte at a time
  cannot hold it longer), every answer a size cap (compressed or not).
- Connection errors, timeouts, 429 and 5xx are retried with backoff, jitter and a
  deadline, each attempt with a fresh login token. 400, 401 and other 4xx are not
  retried: they raise :class:`~mesos_auth.errors.LoginRejectedError` with the IAM's
  code, title and description (capped, control characters escaped). The real IAM
  answers every credential problem alike (``Invalid credentials.``), so the hint is
  not read from its words but built from what the client knows: the clock skew by
  the answer's ``Date`` header and the public key's fingerprint
  (:mod:`mesos_auth.login_diagnosis`).
- A fresh, short-lived login token per attempt (three minutes by default) is our
  practice, not the IAM's rule: the IAM accepts long-lived and reused login tokens
  (:mod:`mesos_auth.login_token`), but a short-lived one that leaks is soon useless.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple, Union
from urllib.parse import urljoin, urlsplit

from mesos_auth import _deadline, _http
from mesos_auth._redact import safe_url, server_text
from mesos_auth._version import __version__
from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundle, CABundleLike, resolve_ca_bundle
from mesos_auth.errors import (
    ConfigurationError,
    IAMError,
    IAMProtocolError,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    PlainHttpToTLSError,
    ResponseTooLargeError,
    TLSVerificationError,
    TransportError,
    UnsafeRedirectError,
    duration,
    https_twin,
)
from mesos_auth.login_diagnosis import LOGIN_PATH, clock_skew, key_fingerprint, rejection_hint
from mesos_auth.login_token import DEFAULT_LOGIN_TOKEN_LIFETIME, check_login_token_lifetime, make_login_token
from mesos_auth.retry import RetryExhausted, RetryPolicy, call_with_retry
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.transport import (
    TLS_PROBE_TIMEOUT,
    FailureReporter,
    certificate_problem,
    make_ssl_context,
    may_be_tls_port,
    network_problem,
    speaks_tls,
)

logger = logging.getLogger(__name__)

#: (connect, read) seconds: the TCP connect, and the longest silence within an answer.
DEFAULT_TIMEOUT = (5.0, 30.0)
#: Seconds one attempt may take in all (connect, TLS, request, whole answer).
DEFAULT_ATTEMPT_TIMEOUT = 30.0
#: Largest login answer read (an auth-token answer is about 1 KB), once decompressed.
MAX_ANSWER_SIZE = 1 << 20
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


def _error_fields(body: bytes) -> Dict[str, str]:
    """The IAM's ``code``, ``title`` and ``description``, each made safe to show."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return {"description": server_text(body)}
    if not isinstance(parsed, dict):
        return {}
    return {key: server_text(_text_of(parsed.get(key))) for key in ("code", "title", "description")}


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


#: The longest pause a server may ask for with Retry-After that we take seriously.
MAX_RETRY_AFTER = 3600.0


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        seconds = float((value or "").strip()[:20])
    except ValueError:
        return None
    return min(MAX_RETRY_AFTER, seconds) if seconds >= 0 else None  # NaN fails both tests


class _Answer:
    """A login answer: status, the headers we use, the body (capped), and the IAM's clock against ours."""

    def __init__(
        self,
        status: int,
        location: Optional[str],
        retry_after: Optional[str],
        body: bytes,
        clock_skew: Optional[float] = None,
    ) -> None:
        self.status = status
        self.location = location
        self.retry_after = retry_after
        self.body = body
        self.clock_skew = clock_skew


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
        timeout: Union[float, Tuple[float, float]] = DEFAULT_TIMEOUT,
        attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_LOGIN_RETRY,
        login_token_lifetime: float = DEFAULT_LOGIN_TOKEN_LIFETIME,
        environ: Optional[Mapping[str, str]] = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = _deadline.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.ca_bundle: CABundle = resolve_ca_bundle(ca_bundle, environ=environ)
        # Detected as the driver detects it: a client built without a mode still honours strict.
        self.security_mode: SecurityMode = detect_security_mode(security_mode, environ=environ)
        self.connect_timeout, self.read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if not attempt_timeout > 0:
            raise ConfigurationError(f"attempt_timeout must be a positive number of seconds, not {attempt_timeout!r}")
        self.attempt_timeout = float(attempt_timeout)
        self.retry = retry
        self.login_token_lifetime = check_login_token_lifetime(login_token_lifetime)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng
        self._ssl_context: Optional[ssl.SSLContext] = None
        self._not_tls: Set[_http.Origin] = set()  # origins probed that do not speak TLS

    def __repr__(self) -> str:
        return f"IAMClient(ca_bundle={self.ca_bundle!s}, security_mode={self.security_mode})"

    # -- the call ----------------------------------------------------------------

    def login(self, account: ServiceAccount) -> str:
        """Log ``account`` in, retrying what may heal; return the auth token.

        Each failed attempt is logged at INFO; a WARNING says, after 5 s, 30 s, ... of
        failures (:class:`~mesos_auth.transport.FailureReporter`), what keeps failing,
        unless a caller observes the failures itself (:func:`observing_login_failures`,
        as the driver does). A deadline active in this thread that runs out (the
        driver's ``timeout``) ends the retries with :class:`IAMUnavailableError`
        naming the last failure; one that is cancelled (``stop()``) raises
        :class:`~mesos_auth._deadline.Cancelled`.
        """

        started = self._monotonic()
        reporter = FailureReporter(clock=self._monotonic)
        failures: List[RetryableLoginFailure] = []
        endpoint = safe_url(account.login_endpoint)

        def attempt(number: int) -> str:
            # No attempt outlives the retry deadline, whatever the server does.
            left = self.retry.deadline - (self._monotonic() - started)
            try:
                return self.login_once(account, timeout=min(self.attempt_timeout, max(1.0, left)))
            except RetryableLoginFailure as failure:
                failures.append(failure)
                for observer in _observers():
                    observer(account.login_endpoint, failure)
                raise

        def on_retry(number: int, delay: float, exc: BaseException) -> None:
            logger.info(
                "login of %r at %s failed (attempt %d: %s); retrying in %.1f s",
                account.uid,
                endpoint,
                number,
                exc,
                delay,
            )
            elapsed = reporter.due()
            if elapsed is not None and not _observers():
                logger.warning(
                    "logins of %r at %s have failed for %s (%d attempts, the last with %s); "
                    "retrying for up to %s in all",
                    account.uid,
                    endpoint,
                    duration(elapsed),
                    number,
                    exc,
                    duration(self.retry.deadline),
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
        except _deadline.Cancelled as cancelled:
            if not cancelled.deadline.passed:
                raise  # stopping
            # An outer deadline ran out (the driver's timeout): the IAM is what kept us.
            last = (
                str(failures[-1])
                if failures
                else f"no answer before {cancelled.deadline.what or 'the deadline'} ran out"
            )
            raise IAMUnavailableError(
                endpoint=account.login_endpoint,
                attempts=max(1, len(failures)),
                elapsed=self._monotonic() - started,
                last_problem=last,
            ) from None

    def login_once(self, account: ServiceAccount, *, timeout: Optional[float] = None) -> str:
        """One login attempt with a fresh login token, following safe redirects, within ``timeout`` s."""
        url = account.login_endpoint
        self._refuse_clear_text(url)
        home = _origin(url)
        login_token = make_login_token(account, lifetime=self.login_token_lifetime, clock=self._clock)
        logger.info(
            "signed a service login token for %r (RS256, valid %.0f s); logging in at %s",
            account.uid,
            self.login_token_lifetime,
            safe_url(url),
        )
        body = json.dumps({"uid": account.uid, "token": login_token}).encode("utf-8")
        seconds = self.attempt_timeout if timeout is None else timeout
        with _deadline.Deadline(seconds, what="the login attempt") as deadline:
            for _ in range(MAX_REDIRECTS + 1):
                answer = self._post(url, body, deadline)
                if answer.status in KEEPING_REDIRECTS:
                    url = self._follow(url, answer.location, home)
                    continue
                if answer.status in (301, 302, 303):
                    raise UnsafeRedirectError(
                        url,
                        answer.location,
                        f"HTTP {answer.status}, which would turn the POST into a GET",
                        "Set login_endpoint to the final address",
                    )
                return self._read_answer(account, url, answer)
        raise IAMProtocolError(
            f"the login at {safe_url(account.login_endpoint)} was redirected more than {MAX_REDIRECTS} times"
        )

    # -- pieces ------------------------------------------------------------------

    def _refuse_clear_text(self, url: str) -> None:
        if self.security_mode is SecurityMode.STRICT and urlsplit(url).scheme != "https":
            raise InsecureTransportError(url)

    def _follow(self, url: str, location: Optional[str], home: _http.Origin) -> str:
        """Where a 307/308 leads, if the login token may go there."""
        if not location:
            raise IAMProtocolError(f"the IAM at {safe_url(url)} answered a redirect without a Location")
        target = location.strip()
        try:
            target = urljoin(url, target)
            where = _http.Origin.of(target)
        except ValueError as exc:
            raise UnsafeRedirectError(url, target, f"the new address is unusable ({exc})") from None
        if where.host != home.host:
            raise UnsafeRedirectError(
                url,
                target,
                f"it leads to another host ({where.host}): the login token is only sent to {home.host}",
                "If the IAM really moved, set login_endpoint to its new address",
            )
        if urlsplit(url).scheme == "https" and where.scheme != "https":
            raise UnsafeRedirectError(
                url, target, "it leads from https to http, where the login token would travel in clear"
            )
        self._refuse_clear_text(target)
        logger.debug("login redirected from %s to %s", safe_url(url), safe_url(target))
        return target

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = make_ssl_context(self.ca_bundle)
        return self._ssl_context

    def _post(self, url: str, body: bytes, deadline: _deadline.Deadline) -> _Answer:
        """POST ``body`` to ``url`` and read the answer, all within ``deadline``."""
        origin = _origin(url)
        conn = _http.open_connection(
            origin,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            context=self._context() if origin.tls else None,
        )
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "Connection": "close",
            "User-Agent": f"mesos-auth/{__version__}",
        }
        try:
            sent_at = self._clock()
            conn.request("POST", _http.request_target(url), body=body, headers=headers)
            resp = conn.getresponse()
            skew = clock_skew(resp.getheader("Date"), sent_at, self._clock())
            status = resp.status
            location, retry_after = resp.getheader("Location"), resp.getheader("Retry-After")
            if status == 200:
                payload = _http.read_body(resp, limit=MAX_ANSWER_SIZE, url=url, what="the login answer")
            elif 400 <= status < 500 and status != 429:
                payload = _http.read_some(resp, _http.MAX_ERROR_BODY)
            else:
                payload = b""  # redirects, 429, 5xx: the headers say all we use
            return _Answer(status, location, retry_after, payload, skew)
        except ResponseTooLargeError as exc:
            raise IAMProtocolError(
                f"the IAM at {safe_url(url)} sent an answer that is too large: {exc.problem}"
            ) from None
        except (OSError, http.client.HTTPException, TransportError, ValueError) as exc:
            problem = certificate_problem(exc)
            if problem is not None:
                raise TLSVerificationError(url, problem, self.ca_bundle.path) from None
            if deadline.passed:
                raise RetryableLoginFailure(f"no complete answer within {deadline.seconds:g} s") from None
            _deadline.check()  # stopping: not a network failure to retry
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise RetryableLoginFailure("a timeout") from None
            self._refuse_tls_port(origin, url, exc, deadline)
            raise RetryableLoginFailure(f"a connection error ({_reason(exc)})") from None
        finally:
            conn.close()

    def _refuse_tls_port(
        self, origin: _http.Origin, url: str, exc: BaseException, deadline: _deadline.Deadline
    ) -> None:
        """Plain http met a reset or a garbled answer: if the port speaks TLS, say so (typed, not retried).

        Probed once per origin and client, with a bare ClientHello (no credential).
        """
        if origin.tls or origin in self._not_tls or not may_be_tls_port(exc):
            return
        if speaks_tls(origin.host, origin.port, max(0.1, min(TLS_PROBE_TIMEOUT, deadline.remaining()))):
            raise PlainHttpToTLSError(
                url, component="IAM", fix=f"Use {https_twin(url)} as the login_endpoint of the service account."
            ) from None
        _deadline.check()
        self._not_tls.add(origin)

    def _read_answer(self, account: ServiceAccount, url: str, answer: _Answer) -> str:
        status = answer.status
        if status == 200:
            try:
                parsed = json.loads(answer.body.decode("utf-8"))
            except (ValueError, RecursionError):
                parsed = None
            token = parsed.get("token") if isinstance(parsed, dict) else None
            if not isinstance(token, str) or not token:
                raise IAMProtocolError(
                    f"the IAM at {safe_url(url)} answered 200 without a token: "
                    f"is login_endpoint the IAM's {LOGIN_PATH}?"
                )
            return token
        if status == 429 or status >= 500:
            raise RetryableLoginFailure(f"HTTP {status}", retry_after=_retry_after(answer.retry_after))
        fields = _error_fields(answer.body)
        fingerprint = key_fingerprint(account.private_key)
        raise LoginRejectedError(
            uid=account.uid,
            endpoint=url,
            status=status,
            code=fields.get("code", ""),
            title=fields.get("title", ""),
            description=fields.get("description", ""),
            hint=rejection_hint(
                status=status,
                uid=account.uid,
                clock_skew=answer.clock_skew,
                key_fingerprint=fingerprint,
                login_token_lifetime=self.login_token_lifetime,
            ),
            clock_skew=answer.clock_skew,
            key_fingerprint=fingerprint,
        )


LoginObserver = Callable[[str, "RetryableLoginFailure"], None]
_observing = threading.local()


def _observers() -> List[LoginObserver]:
    observers: Optional[List[LoginObserver]] = getattr(_observing, "observers", None)
    if observers is None:
        observers = _observing.observers = []
    return observers


@contextlib.contextmanager
def observing_login_failures(observer: LoginObserver) -> Iterator[None]:
    """Within the block, tell ``observer(login_endpoint, failure)`` of every failed login
    attempt made in this thread that will be retried.

    The driver uses it to name the IAM as what fails while it tries to subscribe, and
    to report that at growing intervals itself (:meth:`IAMClient.login` then leaves
    its own WARNINGs out).
    """
    observers = _observers()
    observers.append(observer)
    try:
        yield
    finally:
        observers.remove(observer)


def _origin(url: str) -> _http.Origin:
    try:
        return _http.Origin.of(url)
    except ValueError as exc:
        raise ConfigurationError(f"the login endpoint {safe_url(url)} is not a valid http(s) URL ({exc})") from None


def _reason(exc: BaseException) -> str:
    """A short reason for a network error, without anything a server said at length."""
    if isinstance(exc, TransportError):
        return exc.problem
    return network_problem(exc)
