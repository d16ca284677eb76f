"""A fake DC/OS IAM (Bouncer behind Admin Router): service logins over real HTTP(S).

:class:`FakeIAM` serves the two endpoints a service account needs, as the wire
contract (``docs/protocol.md``, "The service login and the auth token") describes them:

- ``POST /acs/api/v1/auth/login`` takes ``{"uid": ..., "token": <login JWT>}``,
  checks the login token against the account's registered public key (RS256, the
  ``uid`` claim, ``exp`` in the future and at most ten minutes away, never seen
  before) and answers with an RS256 authentication token signed by the fake's own
  key, in the body and in the ``dcos-acs-auth-cookie``;
- ``GET /acs/api/v1/auth/jwks`` publishes the fake's public key (RFC 7517).

Other fakes (the fake Mesos master) check authentication tokens in-process with
:meth:`FakeIAM.verify_token`, by the fake's clock.

A login token is spent when it buys an authentication token; a second login with
it is refused. RS256 (PKCS#1 v1.5) signatures are deterministic, so two login
tokens with the same ``uid`` and ``exp`` made in the same second are the same
bytes: a client that logs in twice within a second must add a unique claim
(``jti``) or it is refused as a replay, as it should be.

Tests drive it through named faults, as kazoo's harness does: failed logins
(:meth:`~FakeIAM.fail_next_logins`), slow logins (:meth:`~FakeIAM.set_latency`),
an IAM that is down (:meth:`~FakeIAM.go_down`), revoked tokens, a shifted clock,
and Admin Router's strict-mode redirect of plain http. What happened is kept in
:attr:`~FakeIAM.events` and counters; none of it, nor any ``repr`` or error,
ever holds a token or a key: used login tokens are remembered by their sha256.

Where the public sources leave a detail open (the error code of a 400 about the
body, the title of a 401, the ten-minute limit's exact boundary, whether the real
IAM remembers used login tokens), the choice is marked "(unverified)".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http
import json
import math
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.testing._server import Answer, FakeServer, Request, Response, TLSOption, _Handler
from mesos_auth.testing.errors import TokenRejected

__all__ = [
    "AUTH_COOKIE",
    "INFO_COOKIE",
    "JWKS_PATH",
    "LOGIN_PATH",
    "MAX_LOGIN_TOKEN_LIFETIME",
    "FakeIAM",
    "IAMEvent",
]

LOGIN_PATH = "/acs/api/v1/auth/login"
JWKS_PATH = "/acs/api/v1/auth/jwks"
AUTH_COOKIE = "dcos-acs-auth-cookie"
INFO_COOKIE = "dcos-acs-info-cookie"

#: The IAM refuses service login tokens whose ``exp`` is further away than this
#: (contract section 2: "rejects a login token that lives more than ten minutes").
#: (unverified) Exactly 600 s ahead is accepted, 600 s and a fraction is not.
MAX_LOGIN_TOKEN_LIFETIME = 600.0
#: DC/OS's default authentication token lifetime (contract section 4).
DEFAULT_TOKEN_LIFETIME = 5 * 24 * 3600.0

_INVALID_CREDENTIALS = "ERR_INVALID_CREDENTIALS"
#: (unverified) No public source gives the code of a 400 about the request body;
#: the descriptions are the real ones (DC/OS integration tests), the code is ours.
_INVALID_DATA = "ERR_INVALID_DATA"
_TITLE_401 = "Invalid credentials"  # (unverified) only code and header are documented
_TITLE_400 = "Bad Request"

Clock = Callable[[], float]
PublicKeyInput = Union[rsa.RSAPublicKey, rsa.RSAPrivateKey, str, bytes]
FaultBody = Union[None, Mapping[str, Any], str, bytes]


@dataclass(frozen=True)
class IAMEvent:
    """One request as the fake IAM answered it; never holds a token.

    ``reason`` names the outcome in one word: ``"ok"``, ``"redirect"``,
    ``"injected"``, ``"bad-request"``, ``"jwks"``, ``"not-found"``, ``"stopping"``
    or, for a refused login, the credential problem (``"unknown-uid"``,
    ``"bad-signature"``, ``"malformed"``, ``"bad-algorithm"``, ``"uid-mismatch"``,
    ``"missing-exp"``, ``"not-yet-valid"``, ``"expired"``, ``"too-long"``,
    ``"replay"``). ``at`` is the fake's clock when the answer was made.
    """

    method: str
    path: str
    status: int
    uid: Optional[str]
    scheme: str
    reason: str
    at: float


@dataclass(frozen=True)
class _Account:
    public_key: rsa.RSAPublicKey
    description: str


class _Refused(Exception):
    """A login refused with a 401; ``reason`` is for records, ``description`` for the client."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


class _Malformed(ValueError):
    """A JWT that cannot be parsed; the message says what is wrong, never what it holds."""


# --------------------------------------------------------------------------
# JWS (RS256) primitives: small enough to keep the fake free of PyJWT's policies
# --------------------------------------------------------------------------

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str, part: str) -> bytes:
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise _Malformed(f"its {part} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _Malformed(f"its {part} is not base64url") from None


def _json_object(data: bytes, part: str) -> Dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Malformed(f"its {part} is not JSON") from None
    if not isinstance(value, dict):
        raise _Malformed(f"its {part} is not a JSON object")
    return value


def _split_jwt(token: str) -> Tuple[Dict[str, Any], Dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS; raises _Malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _Malformed("it does not have three dot-separated parts")
    header = _json_object(_b64url_decode(parts[0], "header"), "header")
    claims = _json_object(_b64url_decode(parts[1], "payload"), "payload")
    signature = _b64url_decode(parts[2], "signature")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _rs256_valid(key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _int_to_b64url(value: int) -> str:
    return _b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _shown(value: Any, limit: int = 64) -> str:
    """A request value fit to quote in an answer: a uid or an algorithm name, cut short."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_public_key(key: PublicKeyInput) -> rsa.RSAPublicKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, (str, bytes)):
        data = key.encode("utf-8") if isinstance(key, str) else key
        if b"PRIVATE KEY-----" in data:
            raise ValueError("add_account() takes the account's public key; this PEM holds a private key")
        try:
            loaded = serialization.load_pem_public_key(data)
        except ValueError:
            raise ValueError("the public key is not a PEM public key (SubjectPublicKeyInfo or PKCS#1)") from None
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise ValueError(f"the public key is a {type(loaded).__name__}, not RSA (service accounts use RS256)")
        return loaded
    raise TypeError(f"expected an RSA public key or its PEM, not {type(key).__name__}")


# --------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------


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


class FakeIAM(FakeServer):
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
    ) -> None:
        _check_lifetime(token_lifetime)
        if redirect_http_to_https and not (tls and plain_http):
            raise ValueError("redirect_http_to_https needs both listeners: pass tls=... and plain_http=True")
        super().__init__(tls=tls, plain_http=plain_http)
        for listener in self._listeners.values():
            listener.RequestHandlerClass = _IAMHandler  # its Date header follows the fake's clock
        self.redirect_http_to_https = redirect_http_to_https
        self.key_size = key_size
        self._clock = clock
        self._initial_lifetime = float(token_lifetime)
        self._token_lifetime = float(token_lifetime)
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        self._public_jwk = _public_jwk(self._signing_key.public_key())
        self.kid: str = self._public_jwk["kid"]
        self._state = threading.Lock()
        self._accounts: Dict[str, _Account] = {}
        # Login tokens that bought an authentication token, by sha256 (never the tokens).
        self._spent: Set[str] = set()
        # Authentication tokens issued, sha256 -> uid, so that revoke_tokens(uid) can find them
        # (kept by reset(): a client may still hold a token from an earlier test).
        self._issued: Dict[str, str] = {}
        self._serial = 0
        self._revoked: Set[str] = set()
        self._clock_offset = 0.0
        self._faults: Deque[Tuple[int, FaultBody]] = deque()
        self._events: List[IAMEvent] = []
        self._logins: Counter[str] = Counter()
        self._login_attempts = 0
        # Latency: handlers wait on this condition so that set_latency() and stop() wake them.
        self._latency = 0.0
        self._latency_changed = threading.Condition(threading.Lock())
        self._pending = 0
        self._stopping = False

    def __repr__(self) -> str:
        try:
            where = self.url
        except AttributeError:  # pragma: no cover - there is always a listener
            where = "?"
        return f"<FakeIAM {where} accounts={len(self._accounts)} logins={self.login_count}>"

    # -- life cycle ------------------------------------------------------------

    def start(self) -> FakeIAM:
        with self._latency_changed:
            self._stopping = False
        super().start()
        return self

    def before_stop(self) -> None:
        """Wake logins held by :meth:`set_latency`, so that stop() is not held up by them."""
        with self._latency_changed:
            self._stopping = True
            self._latency_changed.notify_all()

    def __enter__(self) -> FakeIAM:
        return self.start()

    def reset(self) -> None:
        """Forget everything but the accounts: counters, records, faults, revocations.

        Also restores the clock offset, the token lifetime given to the constructor,
        zero latency, and brings a downed server up. Server-thread errors are
        cleared too: call :meth:`check` first.
        """
        with self._state:
            self._spent.clear()
            self._revoked.clear()
            self._clock_offset = 0.0
            self._token_lifetime = self._initial_lifetime
            self._faults.clear()
            self._events.clear()
            self._logins.clear()
            self._login_attempts = 0
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
        with self._state:
            offset = self._clock_offset
        return self._clock() + offset

    def shift_clock(self, seconds: float) -> None:
        """Move the fake's clock (both ways): login token checks, issued and checked ``exp``."""
        with self._state:
            self._clock_offset += seconds

    @property
    def token_lifetime(self) -> float:
        """Lifetime of the authentication tokens issued from now on, in seconds."""
        with self._state:
            return self._token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        _check_lifetime(seconds)
        with self._state:
            self._token_lifetime = float(seconds)

    def set_token_lifetime(self, seconds: float) -> None:
        """Same as assigning :attr:`token_lifetime`: as an operator changes it cluster-wide."""
        self.token_lifetime = seconds

    # -- accounts ------------------------------------------------------------------

    def add_account(self, uid: str, public_key: PublicKeyInput, *, description: Optional[str] = None) -> None:
        """Register (or re-key) a service account with its public key, object or PEM."""
        if not isinstance(uid, str) or not uid:
            raise ValueError("uid must be a non-empty string")
        key = _load_public_key(public_key)
        with self._state:
            self._accounts[uid] = _Account(key, description if description is not None else f"service account {uid}")

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
        """Delete an account: its logins fail, its tokens say "unknown-account". No error if absent."""
        with self._state:
            self._accounts.pop(uid, None)

    @property
    def accounts(self) -> FrozenSet[str]:
        """The uids registered now (a snapshot)."""
        with self._state:
            return frozenset(self._accounts)

    # -- authentication tokens -------------------------------------------------------

    def issue_token(self, uid: str, *, lifetime: Optional[float] = None) -> str:
        """Sign an authentication token for ``uid`` without a login (any uid, account or not).

        Claims are ``uid`` and ``exp`` (fake now + lifetime, whole seconds rounded
        down, as DC/OS writes them) plus a private serial that keeps two tokens
        issued in the same second apart.
        """
        with self._state:
            now = self._clock() + self._clock_offset
            seconds = self._token_lifetime if lifetime is None else float(lifetime)
            self._serial += 1
            serial = self._serial
        claims = {"uid": uid, "exp": math.floor(now + seconds), "fake_iam_serial": serial}
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            _b64url_encode(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._signing_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        token = signing_input + "." + _b64url_encode(signature)
        with self._state:
            self._issued[_digest(token)] = uid
        return token

    def verify_token(self, token: str) -> str:
        """Check an authentication token as DC/OS services do; return its uid.

        Raises :class:`~mesos_auth.testing.errors.TokenRejected` with ``reason``
        ``"malformed"``, ``"bad-signature"`` (not signed by this fake),
        ``"revoked"``, ``"unknown-account"`` (removed since) or ``"expired"`` (by
        the fake's clock), checked in that order. Thread-safe.
        """
        if not isinstance(token, str):
            raise TokenRejected("malformed", f"expected a str, not {type(token).__name__}")
        try:
            header, claims, signing_input, signature = _split_jwt(token)
        except _Malformed as exc:
            raise TokenRejected("malformed", f"not a JWT: {exc}") from None
        if header.get("alg") != "RS256":
            raise TokenRejected("malformed", "the header does not name RS256")
        uid = claims.get("uid")
        if not isinstance(uid, str) or not _is_number(claims.get("exp")):
            raise TokenRejected("malformed", "the claims lack a string uid or a numeric exp")
        if header.get("kid", self.kid) != self.kid or not _rs256_valid(
            self._signing_key.public_key(), signing_input, signature
        ):
            raise TokenRejected("bad-signature", "not signed by this fake IAM's key")
        digest = _digest(token)
        with self._state:
            revoked = digest in self._revoked
            known = uid in self._accounts
            now = self._clock() + self._clock_offset
        if revoked:
            raise TokenRejected("revoked", f"a token of {uid!r} revoked by the test")
        if not known:
            raise TokenRejected("unknown-account", f"the account {uid!r} does not exist (any more)")
        if now >= claims["exp"]:
            raise TokenRejected("expired", f"a token of {uid!r} expired {now - claims['exp']:.0f} s ago")
        return uid

    def revoke_tokens(self, uid: Optional[str] = None) -> None:
        """Revoke every token issued so far to ``uid`` (or to anyone), before a reset() too.

        Tokens issued afterwards are good. :meth:`verify_token` then says "revoked".
        """
        with self._state:
            self._revoked.update(d for d, owner in self._issued.items() if uid is None or owner == uid)

    def revoke(self, token: str) -> None:
        """Revoke one authentication token (it need not be one this fake issued)."""
        with self._state:
            self._revoked.add(_digest(token))

    # -- records -----------------------------------------------------------------------

    @property
    def login_count(self) -> int:
        """Successful logins (200 answers)."""
        with self._state:
            return sum(self._logins.values())

    @property
    def login_attempts(self) -> int:
        """Every request to the login path with method POST, redirected and failed ones included."""
        with self._state:
            return self._login_attempts

    def logins_for(self, uid: str) -> int:
        """Successful logins of one account."""
        with self._state:
            return self._logins[uid]

    @property
    def events(self) -> List[IAMEvent]:
        """Every request answered, oldest first (a copy)."""
        with self._state:
            return list(self._events)

    @property
    def pending_logins(self) -> int:
        """Logins being held by :meth:`set_latency` right now."""
        with self._latency_changed:
            return self._pending

    # -- faults --------------------------------------------------------------------------

    def fail_next_logins(self, n: int = 1, status: int = 503, body: FaultBody = None) -> None:
        """Answer the next ``n`` login POSTs with ``status``, before looking at them.

        The body is a DC/OS-style JSON error unless ``body`` is given (a mapping is
        sent as JSON, str or bytes as text, e.g. Admin Router's HTML error page).
        A 429 carries ``Retry-After: 0``, a 401 ``WWW-Authenticate: acsjwt``. Calls
        queue up: ``fail_next_logins(1, 503); fail_next_logins(1, 429)`` fails the
        next login with 503 and the one after with 429. The login tokens of those
        requests are not spent: the IAM never processed them.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._state:
            self._faults.extend([(status, body)] * n)

    def set_latency(self, seconds: float) -> None:
        """Hold every login this long before answering it (0 releases held ones at once).

        Applies to logins already waiting, too: lowering the latency releases them,
        which lets a test hold a login, look at the client meanwhile, then let it go.
        """
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._latency_changed:
            self._latency = float(seconds)
            self._latency_changed.notify_all()

    # -- HTTP ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        uid: Optional[str] = None
        if request.path == LOGIN_PATH and request.method == "POST":
            with self._state:
                self._login_attempts += 1
        if request.scheme == "http" and self.redirect_http_to_https:
            answer, reason = self._redirect(request), "redirect"
        elif request.path == LOGIN_PATH:
            answer, reason, uid = self._login_path(request)
        elif request.path == JWKS_PATH:
            answer, reason = self._jwks(request), "jwks"
        else:
            answer, reason = _error(404, "Not Found", "No such IAM endpoint", "ERR_NOT_FOUND"), "not-found"
        event = IAMEvent(request.method, request.path, answer.status, uid, request.scheme, reason, self.now())
        with self._state:
            self._events.append(event)
        return answer

    def _redirect(self, request: Request) -> Response:
        # Admin Router in strict mode: every plain-http path to https, same host and path.
        location = self.https_url + request.path + (f"?{request.query}" if request.query else "")
        return Response(307, b"", [("Location", location), ("Content-Type", "text/html")])

    def _jwks(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", "Use GET", "ERR_METHOD_NOT_ALLOWED", [("Allow", "GET")])
        return Response.json(200, {"keys": [dict(self._public_jwk)]})

    def _login_path(self, request: Request) -> Tuple[Response, str, Optional[str]]:
        if request.method in ("GET", "HEAD"):
            # GET is the browser (OIDC/SAML) login of the real IAM, which wants a provider.
            return (
                _error(
                    400,
                    _TITLE_400,
                    "Expected query parameter `oidc-provider` or `saml-provider`.",
                    "ERR_MISSING_QUERY_PARAMETERS",
                ),
                "bad-request",
                None,
            )
        if request.method != "POST":
            allow = [("Allow", "GET, POST")]
            return _error(405, "Method Not Allowed", "Use POST", "ERR_METHOD_NOT_ALLOWED", allow), "bad-request", None
        if not self._hold():
            stopping = _error(503, "Service Unavailable", "The fake IAM is stopping", "ERR_SERVICE_UNAVAILABLE")
            return stopping, "stopping", None
        with self._state:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return _fault(*fault), "injected", _uid_of(request)
        try:
            uid, token = _login_body(request)
        except _BadRequest as exc:
            return _error(400, _TITLE_400, exc.description, _INVALID_DATA), "bad-request", _uid_of(request)
        try:
            self._check_login_token(uid, token)
        except _Refused as exc:
            answer = _error(401, _TITLE_401, exc.description, _INVALID_CREDENTIALS, [("WWW-Authenticate", "acsjwt")])
            return answer, exc.reason, uid
        auth_token = self.issue_token(uid)
        with self._state:
            self._logins[uid] += 1
            account = self._accounts.get(uid)
        description = account.description if account else uid
        info = base64.b64encode(
            json.dumps({"uid": uid, "description": description, "is_remote": False}).encode()
        ).decode("ascii")
        cookies = [
            ("Set-Cookie", f"{AUTH_COOKIE}={auth_token}; HttpOnly; Path=/"),
            ("Set-Cookie", f"{INFO_COOKIE}={info}; Path=/"),
        ]
        return Response.json(200, {"token": auth_token}, cookies), "ok", uid

    def _hold(self) -> bool:
        """Wait out the latency (re-read whenever it changes); False if the fake is stopping."""
        arrived = time.monotonic()
        with self._latency_changed:
            self._pending += 1
            try:
                while not self._stopping:
                    remaining = arrived + self._latency - time.monotonic()
                    if remaining <= 0:
                        return True
                    self._latency_changed.wait(remaining)
                return False
            finally:
                self._pending -= 1

    def _check_login_token(self, uid: str, token: str) -> None:
        """Raise _Refused unless ``token`` is a fresh, valid login token of ``uid``; spend it."""
        try:
            header, claims, signing_input, signature = _split_jwt(token)
        except _Malformed as exc:
            raise _Refused("malformed", f"The login token is not a well-formed JWT: {exc}") from None
        alg = header.get("alg")
        if alg != "RS256":
            raise _Refused(
                "bad-algorithm",
                f"The login token is signed with {_shown(alg, 16)}; service login tokens must use RS256",
            )
        with self._state:
            account = self._accounts.get(uid)
        if account is None:
            raise _Refused("unknown-uid", f"The service account `{_shown(uid)}` does not exist (unknown uid)")
        if not _rs256_valid(account.public_key, signing_input, signature):
            raise _Refused(
                "bad-signature",
                f"The login token's signature does not verify with the public key registered for "
                f"`{_shown(uid)}`: it was signed with another private key",
            )
        claimed = claims.get("uid")
        if claimed is None:
            raise _Refused("uid-mismatch", "The login token lacks the uid claim")
        if claimed != uid:
            raise _Refused(
                "uid-mismatch",
                f"The login token's uid claim `{_shown(claimed)}` does not match the uid `{_shown(uid)}` "
                "of the request",
            )
        exp = claims.get("exp")
        if exp is None:
            raise _Refused("missing-exp", "The login token lacks the exp claim")
        if not _is_number(exp):
            raise _Refused("malformed", "The login token's exp claim is not a number")
        now = self.now()
        nbf: Any = claims.get("nbf")
        if _is_number(nbf) and nbf > now:
            raise _Refused(
                "not-yet-valid", f"The login token is not valid yet: its nbf is {nbf - now:.0f} s ahead of the IAM"
            )
        if exp <= now:
            raise _Refused(
                "expired",
                f"The login token expired {now - exp:.0f} s ago by the IAM's clock: make a fresh one for "
                "every login attempt, and check that this machine's clock is right",
            )
        if exp - now > MAX_LOGIN_TOKEN_LIFETIME:
            raise _Refused(
                "too-long",
                f"The login token lives longer than 10 minutes: its exp is {exp - now:.0f} s after the IAM's "
                f"current time, at most {MAX_LOGIN_TOKEN_LIFETIME:.0f} s is accepted",
            )
        # (unverified) The contract calls login tokens one-time passwords; whether the real
        # IAM remembers them is not public. Checked last, so the other reasons come first.
        digest = _digest(token)
        with self._state:
            if digest in self._spent:
                replay = True
            else:
                replay = False
                self._spent.add(digest)
        if replay:
            raise _Refused(
                "replay",
                "The login token has already been used: a login token is a one-time password, make a "
                "fresh one for every login attempt (retries included)",
            )


# --------------------------------------------------------------------------
# Request parsing and answers
# --------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _login_body(request: Request) -> Tuple[str, str]:
    """The uid and login token of a login POST; raises _BadRequest with the IAM's wording."""
    content_type = (request.header("Content-Type") or "").strip()
    if not content_type:
        raise _BadRequest("Missing Content-Type header")
    bad_json = "Request has bad Content-Type or lacks JSON"
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise _BadRequest(bad_json)
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest(bad_json) from None
    if not isinstance(body, dict):
        raise _BadRequest("Request JSON must be an object with the properties `uid` and `token`")
    uid, token = body.get("uid"), body.get("token")
    if not isinstance(uid, str) or not uid:
        raise _BadRequest("Request JSON lacks the string property `uid` (the service account name)")
    if token is None and "password" in body:
        raise _BadRequest("Password logins are not supported by this fake IAM: send `token`, a service login token")
    if not isinstance(token, str) or not token:
        raise _BadRequest("Request JSON lacks the string property `token` (the service login token)")
    return uid, token


def _uid_of(request: Request) -> Optional[str]:
    """The uid of a login body if one can be read; only for records."""
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    uid = body.get("uid") if isinstance(body, dict) else None
    return uid if isinstance(uid, str) else None


def _error(
    status: int, title: str, description: str, code: str, headers: Optional[List[Tuple[str, str]]] = None
) -> Response:
    return Response.json(status, {"title": title, "description": description, "code": code}, headers)


def _fault(status: int, body: FaultBody) -> Response:
    headers: List[Tuple[str, str]] = []
    if status == 429:
        headers.append(("Retry-After", "0"))
    if status == 401:
        headers.append(("WWW-Authenticate", "acsjwt"))
    if body is None:
        phrase = _phrase(status)
        code = "ERR_" + re.sub(r"[^A-Z0-9]+", "_", phrase.upper()).strip("_")
        return _error(status, phrase, "Failure injected by FakeIAM.fail_next_logins()", code, headers)
    if isinstance(body, Mapping):
        return Response.json(status, dict(body), headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    content_type = "text/html" if data.lstrip()[:1] == b"<" else "text/plain; charset=utf-8"
    return Response(status, data, [("Content-Type", content_type), *headers])


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _public_jwk(key: rsa.RSAPublicKey) -> Dict[str, str]:
    numbers = key.public_numbers()
    n, e = _int_to_b64url(numbers.n), _int_to_b64url(numbers.e)
    # kid: the RFC 7638 thumbprint, so it is stable for a key and differs between fakes.
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = _b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e}


def _check_lifetime(seconds: float) -> None:
    if not _is_number(seconds) or seconds <= 0:
        raise ValueError("token_lifetime must be a positive number of seconds")
