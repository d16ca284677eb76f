"""FakeRouter (Admin Router) in a FakeCluster: the one cluster URL, over real TLS.

Routes of dcos/dcos ``packages/adminrouter/extra/src/includes/server/``: the IAM at
``/acs/api/v1``, the leading master at ``/mesos/`` (prefix stripped, streams
unbuffered), the CA at ``/ca/dcos-ca.crt``; the token check of ``lib/auth/common.lua``.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from typing import Any, Dict, Iterator, Optional
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from mesos_auth import ServiceAccount, TokenProvider
from mesos_auth.login_token import make_login_token
from mesos_auth.testing import FakeCluster, TestCA
from mesos_auth.testing.router.auth import UNAUTHORIZED_PAGE

from .test_fake_master_support import _DEFAULT, FRAMEWORK_INFO, Reply, Subscription, offers_of

TIMEOUT = 10.0
SCHEDULER = "/mesos/api/v1/scheduler"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: Any) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("router-ca"))


@pytest.fixture(scope="module")
def cluster(ca: TestCA) -> Iterator[FakeCluster]:
    with FakeCluster("strict", tls=ca, heartbeat_interval=0.3, allocation_interval=0.05) as running:
        yield running


@pytest.fixture(autouse=True)
def checked(cluster: FakeCluster) -> Iterator[None]:
    cluster.reset()
    yield
    cluster.check()


class RouterClient:
    """Raw HTTP(S) to the router; duck-types the master test Client for :class:`Subscription`."""

    def __init__(self, url: str, ca: Optional[TestCA] = None, authorization: Optional[str] = None) -> None:
        parts = urlsplit(url)
        self.scheme, self.port = parts.scheme, parts.port or 0
        self.context = ca.client_context() if ca is not None else None
        self.authorization = authorization

    def connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=TIMEOUT, context=self.context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
        authorization: Any = _DEFAULT,
    ) -> Reply:
        all_headers = self._headers(headers, authorization)
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        connection = self.connection()
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def call(self, call: Dict[str, Any], *, stream_id: Optional[str] = None, authorization: Any = _DEFAULT) -> Reply:
        headers = {"Mesos-Stream-Id": stream_id} if stream_id is not None else {}
        return self.request("POST", SCHEDULER, call, headers, authorization)

    def subscribe(self, authorization: Any = _DEFAULT) -> Subscription:
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": dict(FRAMEWORK_INFO)}}
        headers = self._headers({"Content-Type": "application/json", "Accept": "application/json"}, authorization)
        connection = self.connection()
        connection.request("POST", SCHEDULER, body=json.dumps(call).encode(), headers=headers)
        return Subscription(self, connection, connection.getresponse())  # type: ignore[arg-type]

    def _headers(self, headers: Optional[Dict[str, str]], authorization: Any) -> Dict[str, str]:
        merged = dict(headers or {})
        auth = self.authorization if authorization is _DEFAULT else authorization
        if auth is not None:
            merged["Authorization"] = auth
        return merged


def token_for(cluster: FakeCluster, uid: str) -> str:
    account = cluster.create_service_account(uid)
    return TokenProvider(account, ca_bundle=cluster.ca_bundle, security_mode=cluster.security_mode).token()


# -- the IAM -------------------------------------------------------------------------------------


def test_a_service_account_logs_in_through_the_router(cluster: FakeCluster) -> None:
    account = cluster.create_service_account("router-login")
    assert account.login_endpoint == cluster.url + "/acs/api/v1/auth/login"
    token = TokenProvider(account, ca_bundle=cluster.ca_bundle, security_mode=cluster.security_mode).token()
    assert cluster.iam.verify_token(token) == "router-login"
    assert cluster.iam.logins_for("router-login") == 1
    [event] = [e for e in cluster.router.events if e.path.endswith("/login")]
    assert (event.method, event.scheme, event.upstream, event.status) == ("POST", "https", "iam", 200)


def test_the_iam_answers_pass_through_unchanged(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca)
    account = cluster.create_service_account("wrong-key")
    impostor = cluster.iam.create_account("impostor")  # another key pair, signing for "wrong-key"
    forged = make_login_token(ServiceAccount("wrong-key", impostor.private_key, account.login_endpoint))
    refused = client.request("POST", "/acs/api/v1/auth/login", {"uid": account.uid, "token": forged})
    direct = RouterClient(cluster.iam.url, ca).request(
        "POST", "/acs/api/v1/auth/login", {"uid": account.uid, "token": forged}
    )
    assert refused.status == direct.status == 401
    assert refused.headers.get("WWW-Authenticate") == direct.headers.get("WWW-Authenticate")  # passed through
    assert refused.body == direct.body
    jwks = client.request("GET", "/acs/api/v1/auth/jwks")
    assert jwks.status == 200 and json.loads(jwks.body)["keys"]


def test_the_rest_of_the_iam_api_needs_a_token(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca)
    refused = client.request("GET", "/acs/api/v1/users")
    assert refused.status == 401 and refused.headers["WWW-Authenticate"] == "acsjwt"
    with_token = client.request("GET", "/acs/api/v1/users", authorization=f"token={token_for(cluster, 'lister')}")
    assert with_token.status == 404  # through to the fake IAM, which has no users API


# -- the master ------------------------------------------------------------------------------------


def test_a_subscribe_stream_flows_through_while_it_is_open(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca, authorization=f"token={token_for(cluster, 'streamer')}")
    sub = client.subscribe()
    try:
        assert sub.status == 200
        assert sub.stream_id and sub.headers.get("Connection") == "close"  # keepalive_timeout 0
        master_side = cluster.master.requests[-1]
        assert master_side.path == "/api/v1/scheduler" and master_side.stream_id == sub.stream_id
        sub.subscribed()
        assert offers_of(sub.until("OFFERS"))
        # A call through the router with the stream's id, while events keep coming on the stream.
        assert sub.call("SUPPRESS").status == 202
        seen = len(sub.seen)
        sub.until("HEARTBEAT")
        sub.until("HEARTBEAT")
        assert len(sub.seen) >= seen + 2
        assert [r.call_type for r in cluster.master.requests[-3:]].count("SUPPRESS") == 1
        assert cluster.master.frameworks[sub.framework_id or ""].principal == "streamer"
    finally:
        sub.close()


def test_a_client_leaving_the_stream_ends_it_at_the_master(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca, authorization=f"token={token_for(cluster, 'leaver')}")
    sub = client.subscribe()
    sub.subscribed()
    sub.response.close()  # the response holds the socket too
    sub.close()
    framework_id = sub.framework_id or ""
    cluster.master.wait_for(
        lambda: cluster.master.frameworks[framework_id].state != "subscribed", timeout=TIMEOUT, what="stream lost"
    )


def test_the_master_port_needs_no_router(cluster: FakeCluster, ca: TestCA) -> None:
    """``/mesos/x`` is the master's ``/x``: the same answer as on the master's own port."""
    client = RouterClient(cluster.url, ca, authorization=f"token={token_for(cluster, 'versions')}")
    through = json.loads(client.request("GET", "/mesos/version").body)
    direct = json.loads(RouterClient(cluster.master_url, ca).request("GET", "/version").body)
    assert through == direct


def test_mesos_needs_a_token_at_the_router(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca)
    before = len(cluster.master.requests)
    for authorization in (None, "token=not-a-jwt", "Basic dXNlcjpwYXNz"):
        refused = client.subscribe(authorization=authorization)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == "acsjwt"
        assert refused.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert refused.body == (UNAUTHORIZED_PAGE + "\n").encode()
    assert len(cluster.master.requests) == before  # never reached the master


def test_bearer_and_the_auth_cookie_are_taken_too(cluster: FakeCluster, ca: TestCA) -> None:
    token = token_for(cluster, "cookie-eater")
    client = RouterClient(cluster.url, ca)
    assert client.request("GET", "/mesos/version", authorization=f"Bearer {token}").status == 200
    by_cookie = client.request(
        "GET", "/mesos/version", headers={"Cookie": f"dcos-acs-auth-cookie={token}; other=1"}, authorization=None
    )
    assert by_cookie.status == 200
    upstream = cluster.master.requests[-1].headers
    # Admin Router turns the cookie into the header and keeps DC/OS cookies from upstreams.
    assert upstream.get("Authorization", "").startswith("token")
    assert upstream.get("Cookie") == "other=1"
    assert upstream.get("X-Forwarded-Proto") == "https" and upstream.get("X-Real-IP") == "127.0.0.1"


def test_an_expired_token_is_refused_by_the_router(cluster: FakeCluster, ca: TestCA) -> None:
    token = cluster.iam.issue_token("short-lived", lifetime=60)
    client = RouterClient(cluster.url, ca, authorization=f"token={token}")
    cluster.create_service_account("short-lived")
    assert client.request("GET", "/mesos/version").status == 200
    cluster.iam.shift_clock(61)
    assert client.request("GET", "/mesos/version").status == 401


def test_a_revoked_token_passes_the_router_and_the_master_refuses_it(cluster: FakeCluster, ca: TestCA) -> None:
    """Admin Router checks signature and expiry only; the master asks the IAM (WWW-Authenticate passes)."""
    token = token_for(cluster, "revoked-svc")
    cluster.iam.revoke(token)
    refused = RouterClient(cluster.url, ca, authorization=f"token={token}").subscribe()
    assert refused.status == 401
    assert "WWW-Authenticate" in refused.headers  # the master's challenge, passed through
    assert not refused.headers["Content-Type"].startswith("text/html")  # not the router's page
    assert cluster.master.requests[-1].status == 401


def test_the_masters_redirect_location_passes_through(cluster: FakeCluster, ca: TestCA) -> None:
    cluster.master.set_leader("127.0.0.1:1")
    client = RouterClient(cluster.url, ca, authorization=f"token={token_for(cluster, 'follower')}")
    moved = client.subscribe()
    assert moved.status == 307
    assert moved.headers["Location"] == "//127.0.0.1:1/api/v1/scheduler"


def test_mesos_without_a_slash_is_nginxs_redirect(cluster: FakeCluster, ca: TestCA) -> None:
    reply = RouterClient(cluster.url, ca).request("GET", "/mesos?x=1")
    assert reply.status == 301 and reply.headers["Location"] == "/mesos/?x=1"


def test_an_unknown_path_is_not_found(cluster: FakeCluster, ca: TestCA) -> None:
    assert RouterClient(cluster.url, ca).request("GET", "/marathon/v2/apps").status == 404


def test_a_master_that_is_down_is_a_bad_gateway(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca, authorization=f"token={token_for(cluster, 'gateway')}")
    cluster.master.go_down()
    try:
        reply = client.request("GET", "/mesos/version")
    finally:
        cluster.master.come_up()
    assert reply.status == 502 and b"502 Bad Gateway" in reply.body


def test_a_body_over_nginxs_limit_is_refused_unread(cluster: FakeCluster, ca: TestCA) -> None:
    connection = socket.create_connection(("127.0.0.1", urlsplit(cluster.url).port or 0), timeout=TIMEOUT)
    secure = ca.client_context().wrap_socket(connection, server_hostname="127.0.0.1")
    try:
        secure.sendall(b"POST /acs/api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741825\r\n\r\n")
        head = secure.recv(200)
        assert head.startswith(b"HTTP/1.1 413 ")
    finally:
        secure.close()


# -- the CA and strict mode's plain port ---------------------------------------------------------------


def test_the_ca_certificate_is_served_without_a_token(cluster: FakeCluster, ca: TestCA) -> None:
    client = RouterClient(cluster.url, ca)
    reply = client.request("GET", "/ca/dcos-ca.crt")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/x-x509-ca-cert"
    assert x509.load_pem_x509_certificate(reply.body) == ca.certificate
    assert client.request("POST", "/ca/dcos-ca.crt", b"").status == 405


def test_strict_plain_http_is_redirected_to_https(cluster: FakeCluster) -> None:
    plain = RouterClient(cluster.router.http_url)
    for path in ("/acs/api/v1/auth/login", "/mesos/api/v1/scheduler", "/ca/dcos-ca.crt?x=1"):
        reply = plain.request("POST", path, {"a": 1})
        assert reply.status == 307
        assert reply.headers["Location"] == cluster.router.https_url + path
    assert cluster.iam.login_attempts == 0


def test_an_untrusted_client_gets_no_tls(cluster: FakeCluster) -> None:
    with pytest.raises(ssl.SSLError):
        RouterClient(cluster.url).request("GET", "/ca/dcos-ca.crt")  # no CA given: the system's do not know it
