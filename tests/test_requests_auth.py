"""DCOSAuth with requests: the token= header, and one resend after a 401."""

from __future__ import annotations

from typing import List

import pytest
import requests

from mesos_auth import DCOSAuth, DCOSSession, InsecureTransportError, RetryPolicy, TokenProvider
from mesos_auth.testing import TestCA, TokenRejected
from mesos_auth.testing._server import FakeServer, Response
from mesos_auth.testing.iam import FakeIAM


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
