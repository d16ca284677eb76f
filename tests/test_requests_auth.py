"""DCOSAuth with requests: the token= header, one resend after a 401, the security mode.

What crosses origins (redirects, 401s from elsewhere) is tested against hostile
servers in tests/hostile/test_dcos_session.py; here are the basics, the security
mode's sources, and the redirect rule of each session kind at unit level.
"""

from __future__ import annotations

import functools
import json
from typing import List, Optional

import jwt
import pytest
import requests

import mesos_auth.requests_auth as requests_auth
from mesos_auth import (
    DCOSAuth,
    DCOSSession,
    InsecureTransportError,
    RetryPolicy,
    SecurityMode,
    SecurityModeError,
    TokenProvider,
    detect_security_mode,
    resolve_ca_bundle,
)
from mesos_auth.requests_auth import origin_of, same_origin
from mesos_auth.testing import TestCA, TokenRejected
from mesos_auth.testing._server import FakeServer, Response
from mesos_auth.testing.iam import FakeIAM
from tests.hostile.server import HostileServer, answer_each, response


class ProtectedAPI(FakeServer):
    """A DC/OS-like API: 401 + WWW-Authenticate: acsjwt unless the token verifies."""

    def __init__(self, iam: FakeIAM, **kwargs) -> None:
        super().__init__(**kwargs)
        self.iam = iam
        self.seen: List[str] = []

    def handle(self, request):
        header = request.header("Authorization", "")
        if not header.startswith("token="):
            self.seen.append("none")
            return Response.json(401, {"code": "ERR_MISSING_AUTH"}, [("WWW-Authenticate", "acsjwt")])
        try:
            uid = self.iam.verify_token(header[len("token=") :])
        except TokenRejected as rejected:
            self.seen.append(rejected.reason)
            return Response.json(401, {"code": "ERR_INVALID_TOKEN"}, [("WWW-Authenticate", "acsjwt")])
        self.seen.append("ok")
        return Response.json(200, {"uid": uid, "body": request.body.decode()})


@pytest.fixture
def iam(fake_iam) -> FakeIAM:
    return fake_iam(token_lifetime=3600)


@pytest.fixture
def api(iam, ca):
    with ProtectedAPI(iam, tls=ca) as server:
        yield server
        server.check()


@pytest.fixture
def session(iam, ca, clock):
    provider = TokenProvider(
        iam.create_account("svc"), ca_bundle=ca.ca_bundle, clock=clock, retry=RetryPolicy(max_attempts=1)
    )
    with DCOSSession(provider) as session:
        yield session


def test_sets_the_token_header(session, api, iam) -> None:
    answer = session.post(api.url + "/service/x", data="hello")
    assert answer.status_code == 200 and answer.json() == {"uid": "svc", "body": "hello"}
    session.get(api.url + "/again")
    assert api.seen == ["ok", "ok"] and iam.login_count == 1


def test_revoked_token_is_replaced_after_one_401(session, api, iam) -> None:
    session.get(api.url + "/first")
    iam.revoke_tokens("svc")
    answer = session.post(api.url + "/second", data="body kept")
    assert answer.status_code == 200 and answer.json()["body"] == "body kept"
    assert [r.status_code for r in answer.history] == [401]
    assert api.seen == ["ok", "revoked", "ok"] and iam.login_count == 2


def test_a_second_401_is_returned_not_looped(session, api, iam, monkeypatch) -> None:
    session.get(api.url + "/first")
    monkeypatch.setattr(iam, "verify_token", lambda token: (_ for _ in ()).throw(TokenRejected("revoked")))
    answer = session.get(api.url + "/always-401")
    assert answer.status_code == 401
    assert api.seen == ["ok", "revoked", "revoked"]


def test_strict_mode_refuses_plain_http(iam, ca, api, clock) -> None:
    provider = TokenProvider(iam.create_account("svc"), ca_bundle=ca.ca_bundle, clock=clock, security_mode="strict")
    with requests.Session() as session:
        session.auth = DCOSAuth(provider)
        with pytest.raises(InsecureTransportError, match="authentication token"):
            session.get(api.http_url + "/x")
    assert api.seen == [] and iam.login_count == 0


def test_repr(session) -> None:
    assert repr(session.auth) == "DCOSAuth(uid='svc')"


def test_session_keeps_its_ca_bundle_despite_requests_ca_bundle(session, api, monkeypatch, tmp_path) -> None:
    other = TestCA(tmp_path / "other")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other.ca_bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", other.ca_bundle)
    assert session.get(api.url + "/x").status_code == 200


def test_plain_session_with_dcos_auth(iam, ca, api, clock) -> None:
    provider = TokenProvider(iam.create_account("svc"), ca_bundle=ca.ca_bundle, clock=clock)
    with requests.Session() as session:
        session.auth = DCOSAuth(provider)
        assert session.get(api.url + "/x", verify=ca.ca_bundle).json()["uid"] == "svc"


# ---------------------------------------------------------------------------
# The security mode: explicit, else the provider's IAM client's, else detected
# ---------------------------------------------------------------------------


class StubIAM:
    """Just enough of an IAM client for a TokenProvider: login() mints a JWT and counts.

    ``security_mode`` None stands for a client that has no mode of its own.
    """

    def __init__(self, clock, ca: TestCA, security_mode: Optional[str] = None) -> None:
        self._clock = clock
        self.ca_bundle = resolve_ca_bundle(ca.ca_bundle)
        self.security_mode = SecurityMode.parse(security_mode) if security_mode else None
        self.logins = 0

    def login(self, account) -> str:
        self.logins += 1
        claims = {"uid": account.uid, "exp": int(self._clock()) + 3600, "n": self.logins}
        return jwt.encode(claims, "a stub signing key of more than 32 bytes", algorithm="HS256")


@pytest.fixture
def no_mode_in_environment(monkeypatch) -> None:
    monkeypatch.delenv("MESOS_AUTH_SECURITY_MODE", raising=False)


def stub_provider(account, clock, ca, security_mode: Optional[str] = None) -> TokenProvider:
    return TokenProvider(account, iam=StubIAM(clock, ca, security_mode), clock=clock)


@pytest.mark.parametrize(
    ("explicit", "iam_mode", "environ", "expected"),
    [
        ("strict", "permissive", {"MESOS_AUTH_SECURITY_MODE": "disabled"}, "strict"),
        (None, "strict", {"MESOS_AUTH_SECURITY_MODE": "permissive"}, "strict"),
        (None, "permissive", {"MESOS_AUTH_SECURITY_MODE": "strict"}, "permissive"),
        (None, None, {"MESOS_AUTH_SECURITY_MODE": "Strict "}, "strict"),
        (None, None, {}, "permissive"),
    ],
    ids=["explicit-wins", "iam-beats-environ", "iam-permissive", "environ", "default"],
)
def test_security_mode_sources(account, clock, ca, explicit, iam_mode, environ, expected) -> None:
    provider = stub_provider(account, clock, ca, iam_mode)
    assert DCOSAuth(provider, security_mode=explicit, environ=environ).security_mode is SecurityMode(expected)
    session = DCOSSession(provider, security_mode=explicit, environ=environ)
    assert session.auth.security_mode is SecurityMode(expected)


def test_security_mode_from_the_bootstrap_config(account, clock, ca, tmp_path, monkeypatch) -> None:
    """Detected by detect_security_mode, as the driver does, bootstrap config included."""
    config = tmp_path / "bootstrap-config.json"
    config.write_text(json.dumps({"security": "strict"}))
    monkeypatch.setattr(
        requests_auth, "detect_security_mode", functools.partial(detect_security_mode, bootstrap_config=config)
    )
    provider = stub_provider(account, clock, ca)
    assert DCOSSession(provider, environ={}).auth.security_mode is SecurityMode.STRICT


def test_unknown_security_mode_is_refused(account, clock, ca) -> None:
    with pytest.raises(SecurityModeError, match="'paranoid'"):
        DCOSAuth(stub_provider(account, clock, ca), security_mode="paranoid")


def test_detected_strict_mode_refuses_http_before_the_token_and_before_any_byte(account, clock, ca) -> None:
    provider = stub_provider(account, clock, ca)
    session = DCOSSession(provider, environ={"MESOS_AUTH_SECURITY_MODE": "strict"})
    with HostileServer(answer_each(lambda request: response(200))) as server, session:
        with pytest.raises(InsecureTransportError) as caught:
            session.get(f"http://svc:hunter2@127.0.0.1:{server.port}/x", timeout=10)
        assert server.connections == 0
    assert provider.iam.logins == 0
    assert "hunter2" not in str(caught.value) and f"127.0.0.1:{server.port}" in str(caught.value)


# ---------------------------------------------------------------------------
# Origins, and what each session does with the header on a redirect
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Master.Mesos/x?y#z", ("https", "master.mesos", 443)),
        ("https://master.mesos:443/", ("https", "master.mesos", 443)),
        ("http://u:p@127.0.0.1:8080/a", ("http", "127.0.0.1", 8080)),
        ("https://[::1]:8443/", ("https", "::1", 8443)),
        ("https://host:99999/", None),
        ("https:///no-host", None),
        ("ftp://host/", None),
        ("", None),
        (None, None),
    ],
)
def test_origin_of(url, origin) -> None:
    assert origin_of(url) == origin


def test_same_origin() -> None:
    assert same_origin("https://h/a", "https://H:443/b?c")
    assert not same_origin("http://h/", "https://h/")
    assert not same_origin("https://h:1/", "https://h:2/")
    assert not same_origin("https://localhost/", "https://127.0.0.1/")
    assert not same_origin("https:///x", "https:///x"), "no origin is not an origin"


def redirected_header(session: requests.Session, old_url: str, new_url: str) -> Optional[str]:
    """The Authorization header ``session`` lets through a redirect from old_url to new_url."""
    old = requests.Request("GET", old_url, headers={"Authorization": "token=T"}).prepare()
    previous = requests.Response()
    previous.request, previous.url, previous.status_code = old, old_url, 302
    new = old.copy()
    new.url = new_url
    session.rebuild_auth(new, previous)
    return new.headers.get("Authorization")


@pytest.mark.parametrize(
    ("old_url", "new_url", "dcos", "plain"),
    [
        ("https://h/a", "https://h:443/b", "token=T", "token=T"),
        ("https://h/a", "https://H/b", "token=T", "token=T"),
        ("http://h/a", "https://h/a", None, "token=T"),  # requests keeps it here; DCOSSession does not
        ("http://h:8080/a", "https://h:8443/a", None, None),
        ("https://h/a", "http://h/a", None, None),
        ("https://h:8443/a", "https://h:8444/a", None, None),
        ("https://127.0.0.1/a", "https://localhost/a", None, None),
    ],
)
def test_redirect_rule_of_each_session(
    account, clock, ca, old_url, new_url, dcos, plain, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with DCOSSession(stub_provider(account, clock, ca), security_mode="permissive") as session:
        assert redirected_header(session, old_url, new_url) == dcos
    with requests.Session() as session:
        assert redirected_header(session, old_url, new_url) == plain
