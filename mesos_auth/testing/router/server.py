"""FakeRouter: Admin Router, the one https address a DC/OS cluster is known by.

Services and tools address a cluster by one base URL; Admin Router (nginx, dcos/dcos
``packages/adminrouter/extra/src/``) sends ``/acs/api/v1/...`` to the IAM,
``/mesos/...`` to the leading master (the prefix stripped), and serves the
cluster's CA certificate at ``/ca/dcos-ca.crt``. The routes are in
:mod:`~mesos_auth.testing.router.routes`, the token check Admin Router makes
itself in :mod:`~mesos_auth.testing.router.auth`, the forwarding in
:mod:`~mesos_auth.testing.router.proxy`. Upstreams are the real fake servers,
reached over real HTTP(S).

Like Admin Router (``listen 80`` and ``listen 443 ssl``, ``gen/dcos-config.yaml``)
it has a plain-http and, with TLS, an https port; in strict mode the plain port
answers every path with ``307 Location: https://<host><path>`` (Enterprise
configuration, not public: the same redirect the FakeIAM makes).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from dataclasses import dataclass
from typing import Callable, List, Optional, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.testing._server import Answer, FakeServer, Request, Response
from mesos_auth.testing.iam import JWKS_PATH, LOGIN_PATH, FakeIAM
from mesos_auth.testing.master import FakeMaster
from mesos_auth.testing.router import routes
from mesos_auth.testing.router.auth import TokenValidator, forwarded_cookie, presented_token, unauthorized
from mesos_auth.testing.router.proxy import DEFAULT_UPSTREAM_TIMEOUT, Proxy, error_page
from mesos_auth.testing.tls import TestCA

Clock = Callable[[], float]

#: ``client_max_body_size 1024M`` (``includes/http/common.conf``).
MAX_REQUEST_BODY = 1024 * 1024 * 1024
#: What nginx's ``mime.types`` says for ``.crt``.
CA_CONTENT_TYPE = "application/x-x509-ca-cert"
_KEY_FETCH_TIMEOUT = 10.0


@dataclass(frozen=True)
class RouterEvent:
    """One request as the router saw it: where it went and what it answered (never a token)."""

    method: str
    path: str
    scheme: str
    upstream: str
    status: int


class FakeRouter(FakeServer):
    """Admin Router in front of a :class:`FakeIAM` and the leading :class:`FakeMaster`.

    ``tls``: the cluster's :class:`TestCA` (https port and ``/ca/dcos-ca.crt``;
    upstreams are reached over https with it), or None for plain http only.
    ``redirect_http_to_https``: strict mode's redirect on the plain port.
    ``clock``: the cluster's wall clock for token expiry (default: the IAM's).
    ``upstream_timeout``: nginx's connect/read timeout towards upstreams (60 s).

    :attr:`url` is the cluster URL; :attr:`login_endpoint`, :attr:`mesos_url` and
    :attr:`ca_certificate_url` are built on it. :attr:`events` records every request.
    """

    max_request_body = MAX_REQUEST_BODY

    def __init__(
        self,
        *,
        iam: FakeIAM,
        master: Union[FakeMaster, Callable[[], FakeMaster]],
        tls: Optional[TestCA] = None,
        redirect_http_to_https: bool = False,
        clock: Optional[Clock] = None,
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    ) -> None:
        if tls is not None and not isinstance(tls, TestCA):
            raise TypeError(f"tls must be a TestCA or None, not {tls!r}")
        if redirect_http_to_https and tls is None:
            raise ValueError("redirect_http_to_https needs TLS: pass tls=<the cluster's TestCA>")
        if not upstream_timeout > 0:
            raise ValueError("upstream_timeout must be positive")
        super().__init__(tls=tls, plain_http=True)
        self.iam = iam
        self._leader = master
        self.redirect_http_to_https = redirect_http_to_https
        self._upstream_context = tls.client_context() if tls is not None else None
        self._validator = TokenValidator(self._iam_public_key, clock or iam.now)
        self._proxy = Proxy(timeout=upstream_timeout)
        self._events: List[RouterEvent] = []
        self._key: Optional[rsa.RSAPublicKey] = None
        self._key_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<FakeRouter {self.url}>"

    # -- addresses ---------------------------------------------------------------------

    @property
    def login_endpoint(self) -> str:
        """The IAM login through the router: what DC/OS writes into service account secrets."""
        return self.url + LOGIN_PATH

    @property
    def mesos_url(self) -> str:
        """The leading master through the router (``/mesos``; add ``/api/v1/scheduler``)."""
        return self.url + routes.MESOS_PREFIX.rstrip("/")

    @property
    def ca_certificate_url(self) -> str:
        return self.url + routes.CA_PATH

    # -- the leader ------------------------------------------------------------------------

    @property
    def leader(self) -> FakeMaster:
        """The master ``/mesos/`` goes to (Admin Router's ``leader.mesos``)."""
        return self._leader if isinstance(self._leader, FakeMaster) else self._leader()

    def set_leader(self, master: Union[FakeMaster, Callable[[], FakeMaster]]) -> None:
        self._leader = master

    # -- records ---------------------------------------------------------------------------

    @property
    def events(self) -> List[RouterEvent]:
        with self._lock:
            return list(self._events)

    def reset(self) -> None:
        """Forget the records and server-thread errors; come up if down."""
        with self._lock:
            self._events.clear()
            self.errors.clear()
            self.tls_failures.clear()
        self.come_up()

    # -- life cycle ----------------------------------------------------------------------

    def before_stop(self) -> None:
        self._proxy.end_all()

    def drop_connections(self) -> None:
        super().drop_connections()
        self._proxy.end_all()

    def request_too_large(self) -> Response:
        answer = error_page(413, "Request Entity Too Large")
        return Response(answer.status, answer.body, [*answer.headers, ("Connection", "close")])

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        route = routes.route(request.path)
        if request.scheme == "http" and self.redirect_http_to_https:
            answer: Answer = self._redirect_to_https(request)
            upstream = routes.REDIRECT
        else:
            answer, upstream = self._answer(request, route), route.upstream
        with self._lock:
            self._events.append(RouterEvent(request.method, request.path, request.scheme, upstream, answer.status))
        return answer

    def _answer(self, request: Request, route: routes.Route) -> Answer:
        if route.upstream == routes.REDIRECT and route.location is not None:
            query = f"?{request.query}" if request.query else ""
            page = error_page(301, "Moved Permanently")
            return Response(301, page.body, [*page.headers, ("Location", route.location + query)])
        if route.upstream == routes.CA:
            return self._ca_certificate(request)
        if route.upstream not in (routes.IAM, routes.MESOS):
            return error_page(404, "Not Found")
        set_headers = {"Cookie": forwarded_cookie(request.headers)}
        if route.authenticate:
            token, from_cookie = presented_token(request.headers)
            if self._validator.uid(token) is None:
                refusal = unauthorized()
                if route.close:
                    refusal.headers.append(("Connection", "close"))
                return refusal
            if from_cookie:
                set_headers["Authorization"] = f"token={token}"
        base = self.iam.url if route.upstream == routes.IAM else self.leader.url
        return self._proxy.forward(
            request, base, route.path, ssl_context=self._upstream_context, set_headers=set_headers, close=route.close
        )

    def _redirect_to_https(self, request: Request) -> Response:
        location = self.https_url + request.path + (f"?{request.query}" if request.query else "")
        return Response(307, b"", [("Location", location), ("Content-Type", "text/html")])

    def _ca_certificate(self, request: Request) -> Response:
        if self.ca is None:
            return error_page(404, "Not Found")
        if request.method not in ("GET", "HEAD"):
            return error_page(405, "Not Allowed")
        pem = self.ca.certificate.public_bytes(serialization.Encoding.PEM)
        return Response(200, pem, [("Content-Type", CA_CONTENT_TYPE)])

    # -- the IAM's key -----------------------------------------------------------------------

    def _iam_public_key(self) -> Optional[rsa.RSAPublicKey]:
        """The IAM's signing key from its JWKS, fetched once over real HTTP(S); None if unreachable."""
        with self._key_lock:
            if self._key is None:
                self._key = self._fetch_iam_key()
            return self._key

    def _fetch_iam_key(self) -> Optional[rsa.RSAPublicKey]:
        connection: http.client.HTTPConnection
        host, port = "127.0.0.1", int(self.iam.url.rsplit(":", 1)[1])
        if self.iam.url.startswith("https:"):
            connection = http.client.HTTPSConnection(
                host, port, timeout=_KEY_FETCH_TIMEOUT, context=self._upstream_context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=_KEY_FETCH_TIMEOUT)
        try:
            connection.request("GET", JWKS_PATH)
            answer = connection.getresponse()
            if answer.status != 200:
                return None
            keys = json.loads(answer.read(1024 * 1024).decode("utf-8"))["keys"]
            jwk = next(k for k in keys if k.get("kty") == "RSA")
            numbers = rsa.RSAPublicNumbers(_b64url_int(jwk["e"]), _b64url_int(jwk["n"]))
            return numbers.public_key()
        except (OSError, http.client.HTTPException, ValueError, KeyError, StopIteration, TypeError):
            return None
        finally:
            connection.close()


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")
