"""FakeMaster: the request checks in contract order, security modes, principals,
permissions and HTTP Basic auth, over plain http and over TLS (TestCA)."""

from __future__ import annotations

import base64
import enum
import json
import ssl
import time
from typing import Any, Dict, Iterator, Optional

import jwt
import pytest
import requests

from mesos_auth.security_mode import SecurityMode
from mesos_auth.testing.master import ANONYMOUS_PRINCIPAL, FakeMaster
from mesos_auth.testing.tls import TestCA

from .test_fake_master_support import (
    CLEAN,
    FRAMEWORK_INFO,
    ACLStubIAM,
    Client,
    StubIAM,
    serve,
    token_header,
)

PRINCIPAL_MISMATCH = (
    "Failed to validate scheduler::Call: Authenticated principal 'alice' does not match principal 'bob' set in "
    "`FrameworkInfo`"
)


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as made:  # its temporary directory, keys included, goes at the end
        yield made


def clients(master: FakeMaster, ca: TestCA, authorization: Optional[str] = None) -> Iterator[Client]:
    """A client per listener the master has, https ones trusting only the test CA."""
    if master.tls:
        yield Client(master, scheme="https", context=ca.client_context(), authorization=authorization)
    if master.plain_http:
        yield Client(master, scheme="http", authorization=authorization)


# -- the checks, in order -------------------------------------------------------------


def subscribe_call(info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"type": "SUBSCRIBE", "subscribe": {"framework_info": dict(info or FRAMEWORK_INFO)}}


@pytest.mark.parametrize(
    ("method", "body", "headers", "content_type", "status", "text"),
    [
        ("GET", None, {}, None, 405, "Expecting one of { 'POST' }, but received 'GET'"),
        ("POST", subscribe_call(), {}, None, 400, "Expecting 'Content-Type' to be present"),
        ("POST", subscribe_call(), {}, "text/plain", 415, "Expecting 'Content-Type' of application/json"),
        ("POST", b"{not json", {}, "application/json", 400, "Failed to parse body into JSON: "),
        ("POST", {"type": "DANCE"}, {}, "application/json", 400, "Failed to convert JSON into Call protobuf: "),
        ("POST", {"subscribe": {}}, {}, "application/json", 400, "Failed to convert JSON into Call protobuf: "),
        (
            "POST",
            {"type": "REVIVE"},
            {},
            "application/json",
            400,
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
        ),
        (
            "POST",
            {"type": "SUBSCRIBE"},
            {},
            "application/json",
            400,
            "Failed to validate scheduler::Call: Expecting 'subscribe' to be present",
        ),
        (
            "POST",
            subscribe_call(),
            {"Mesos-Stream-Id": "1a2b"},
            "application/json",
            400,
            "Subscribe calls should not include the 'Mesos-Stream-Id' header",
        ),
        ("POST", subscribe_call(), {"Accept": "application/x-protobuf"}, "application/json", 406, "Expecting 'Accept'"),
        (
            "POST",
            {"type": "REVIVE", "framework_id": {"value": "nope"}},
            {},
            "application/json",
            400,
            "Framework cannot be found",
        ),
    ],
)
def test_request_checks(
    method: str, body: Any, headers: Dict[str, str], content_type: Optional[str], status: int, text: str
) -> None:
    with serve() as master:
        reply = Client(master).request(method, body, headers=headers, content_type=content_type)
        assert reply.status == status
        assert reply.text.startswith(text)
        if status == 405:
            assert reply.header("Allow") == "POST"
        assert master.requests[-1].status == status


def test_calls_need_the_current_stream_id_and_a_subscribed_framework() -> None:
    with serve() as master:
        sub = Client(master).subscribe()
        sub.subscribed()
        missing = sub.call("REVIVE", stream_id=None)
        assert (missing.status, missing.text) == (
            400,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        )
        stale = sub.call("REVIVE", stream_id="00000000-0000-4000-8000-000000000000")
        assert stale.status == 400
        assert stale.text.startswith("The stream ID '00000000-0000-4000-8000-000000000000' included in this request")
        assert stale.text.endswith(f"framework ID {sub.framework_id}")
        assert sub.call("REVIVE").status == 202

        master.drop_streams()
        forbidden = sub.call("REVIVE")
        assert (forbidden.status, forbidden.text) == (403, "Framework is not subscribed")


def test_checks_come_in_mesos_order() -> None:
    # libprocess authenticates before the handler runs (ProcessBase::_consume); the
    # handler (Master::Http::scheduler) then checks leadership, recovery, method, body.
    stub = StubIAM()
    with serve(security_mode="strict", iam=stub) as master, serve() as leader:
        client = Client(master)
        authorized = Client(master, authorization=token_header("alice"))
        # Authentication comes first: even a follower or a recovering master answers 401.
        master.set_leader(leader)
        assert client.request("GET", None, content_type=None).status == 401
        # Then not the leader, before the method check.
        assert authorized.request("GET", None, content_type=None).status == 307
        # Then recovering.
        master.become_leader()
        master.set_recovering()
        assert client.request("GET", None, content_type=None).status == 401
        assert authorized.request("GET", None, content_type=None).status == 503
        master.set_recovering(False)
        # Then the method and content checks.
        assert client.request("POST", b"junk", content_type=None).status == 401
        assert authorized.request("GET", None, content_type=None).status == 405


def test_version_needs_no_authentication() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        reply = Client(master).version()
        assert reply.status == 200
        assert json.loads(reply.body)["version"]


# -- security modes, with and without TLS ------------------------------------------------

MODES = [
    # mode, authorization, expected principal, expected record
    ("disabled", None, None, None),
    ("disabled", "token=garbage", None, None),
    ("permissive", None, None, ANONYMOUS_PRINCIPAL),
    ("permissive", token_header("alice"), "alice", "alice"),
    ("strict", token_header("alice"), "alice", "alice"),
    ("strict", "Bearer valid:alice", "alice", "alice"),
]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize(("mode", "authorization", "principal", "recorded"), MODES)
def test_subscribe_in_every_mode(
    ca: TestCA, tls: bool, mode: str, authorization: Optional[str], principal: Optional[str], recorded: Optional[str]
) -> None:
    with serve(security_mode=mode, iam=StubIAM(), tls=ca if tls else None) as master:
        for client in clients(master, ca, authorization):
            sub = client.subscribe()
            assert sub.status == 200, sub.body
            sub.subscribed()
            assert sub.until("OFFERS")
            record = master.frameworks[str(sub.framework_id)]
            assert record.principal == principal
            assert record.authenticated_principal == recorded
            assert sub.call("SUPPRESS").status == 202
            assert master.requests[-1].principal == recorded
            assert master.requests[-1].scheme == client.scheme
            assert sub.call("TEARDOWN").status == 202
            assert sub.end() == CLEAN


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize(
    ("mode", "authorization"),
    [
        ("strict", None),
        ("strict", "token=expired"),
        ("strict", "token=revoked"),
        ("strict", "Basic YWxpY2U6c2VjcmV0"),
        ("permissive", "token=expired"),
        ("permissive", "token="),
    ],
)
def test_bad_or_missing_credentials_get_401(ca: TestCA, tls: bool, mode: str, authorization: Optional[str]) -> None:
    with serve(security_mode=mode, iam=StubIAM(), tls=ca if tls else None) as master:
        for client in clients(master, ca, authorization):
            sub = client.subscribe()
            assert sub.status == 401
            assert sub.body == b"Unauthorized."
            assert sub.headers["WWW-Authenticate"] == "acsjwt"
            assert master.requests[-1].principal is None
        assert master.frameworks == {}


def test_strict_tls_only_master_has_no_plain_listener(ca: TestCA) -> None:
    with serve(security_mode="strict", iam=StubIAM(), tls=ca, plain_http=False) as master:
        assert master.url.startswith("https://")
        assert not master.plain_http
        sub = Client(master, scheme="https", context=ca.client_context(), authorization=token_header("a")).subscribe()
        assert sub.status == 200
        sub.close()


def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(ca: TestCA) -> None:
    with serve(tls=ca) as master:
        untrusting = Client(master, scheme="https", context=ssl.create_default_context())
        with pytest.raises(ssl.SSLError):
            untrusting.version()
        master.wait_for(lambda: master.tls_failures)


def test_a_token_revoked_after_subscribe_fails_the_next_call_while_the_stream_stays_open() -> None:
    stub = StubIAM()
    with serve(security_mode="strict", iam=stub, heartbeat_interval=0.05) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe()
        sub.subscribed()
        assert sub.call("REVIVE").status == 202
        stub.revoked.add("valid:alice")

        refused = sub.call("REVIVE")
        assert (refused.status, refused.header("WWW-Authenticate")) == (401, "acsjwt")
        # The stream is still open and alive.
        sub.until("HEARTBEAT")
        assert master.frameworks[str(sub.framework_id)].state == "subscribed"
        stub.revoked.clear()
        assert sub.call("REVIVE").status == 202
        sub.close()


def test_authorization_is_masked_in_the_records() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        Client(master, authorization="token=valid:alice").request("GET", None)
        Client(master, authorization="Bearer valid:alice").request("GET", None)
        assert [r.headers["Authorization"] for r in master.requests] == ["token=***", "Bearer ***"]
        assert "valid:alice" not in repr(master.requests)


# -- principals ------------------------------------------------------------------------------


def test_principal_mismatch_is_refused_with_mesos_text() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe(dict(FRAMEWORK_INFO, principal="bob"))
        assert (sub.status, sub.body.decode()) == (400, PRINCIPAL_MISMATCH)
        assert master.frameworks == {}


def test_unset_principal_is_filled_in() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe()
        sub.subscribed()
        record = master.frameworks[str(sub.framework_id)]
        assert record.principal == "alice"
        assert record.info["principal"] == "alice"
        sub.close()


def test_calls_authenticated_as_another_principal_are_refused() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe()
        sub.subscribed()
        reply = sub.call("REVIVE", authorization=token_header("bob"))
        assert reply.status == 400
        assert reply.text == "Authenticated principal 'bob' does not match principal 'alice' set in `FrameworkInfo`"
        sub.close()


def test_changing_the_principal_on_resubscription_is_an_error_event() -> None:
    with serve(security_mode="permissive", iam=StubIAM()) as master:
        first = Client(master, authorization=token_header("alice")).subscribe()
        first.subscribed()
        other = Client(master, authorization=token_header("bob"))
        again = other.subscribe(FRAMEWORK_INFO, framework_id=first.framework_id)
        assert again.status == 200
        assert again.next_event() == {
            "type": "ERROR",
            "error": {"message": "Changing framework's principal is not allowed."},
        }
        assert again.end() == CLEAN
        # The framework itself is untouched.
        record = master.frameworks[str(first.framework_id)]
        assert (record.state, record.principal, record.stream_id) == ("subscribed", "alice", first.stream_id)
        first.close()


def test_permissive_anonymous_framework_keeps_its_declared_principal() -> None:
    with serve(security_mode="permissive", iam=StubIAM()) as master:
        sub = Client(master).subscribe(dict(FRAMEWORK_INFO, principal="declared"))
        sub.subscribed()
        record = master.frameworks[str(sub.framework_id)]
        assert (record.principal, record.authenticated_principal) == ("declared", ANONYMOUS_PRINCIPAL)
        sub.close()


# -- permissions -------------------------------------------------------------------------------


def test_strict_grants_refuse_ungranted_roles_with_an_error_event() -> None:
    grants = {"alice": ["dev"]}
    with serve(security_mode="strict", iam=ACLStubIAM(), grants=grants, mesos_version="1.9") as master:
        client = Client(master, authorization=token_header("alice"))
        refused = client.subscribe(dict(FRAMEWORK_INFO, role="prod"))
        assert refused.status == 200
        assert refused.next_event() == {"type": "ERROR", "error": {"message": "Not authorized to use roles '{ prod }'"}}
        assert refused.end() == CLEAN
        assert master.frameworks == {}

        default_role = client.subscribe()
        assert default_role.next_event()["error"]["message"] == "Not authorized to use roles '{ * }'"

        granted = client.subscribe(dict(FRAMEWORK_INFO, role="dev"))
        granted.subscribed()
        assert master.frameworks[str(granted.framework_id)].roles == ("dev",)
        multi_role = dict(FRAMEWORK_INFO, roles=["ops", "dev"], capabilities=[{"type": "MULTI_ROLE"}])
        multi = client.subscribe(multi_role)
        assert multi.next_event()["error"]["message"] == "Not authorized to use roles '{ dev, ops }'"
        granted.close()


def test_grants_are_not_enforced_in_permissive_mode() -> None:
    iam = ACLStubIAM()
    with serve(security_mode="permissive", iam=iam, grants={}) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe(dict(FRAMEWORK_INFO, role="prod"))
        sub.subscribed()
        sub.close()
    assert iam.asked == []


def test_a_strict_master_whose_iam_only_verifies_tokens_has_no_authorizer() -> None:
    # Mesos without an authorizer allows every action (``if (authorizer.isNone()) return true;``).
    with serve(security_mode="strict", iam=StubIAM()) as master:
        assert master.authorizer is None
        sub = Client(master, authorization=token_header("alice")).subscribe(dict(FRAMEWORK_INFO, role="prod"))
        sub.subscribed()
        sub.close()


def test_an_explicit_none_authorizer_allows_everything_even_with_an_acl_iam() -> None:
    iam = ACLStubIAM()
    with serve(security_mode="strict", iam=iam, authorizer=None) as master:
        sub = Client(master, authorization=token_header("alice")).subscribe(dict(FRAMEWORK_INFO, role="prod"))
        sub.subscribed()
        sub.close()
    assert iam.asked == []


def test_grants_need_an_authorizer_that_can_grant() -> None:
    with pytest.raises(TypeError, match="grant_permission"):
        FakeMaster(security_mode="strict", iam=StubIAM(), grants={"alice": ["*"]})


# -- HTTP Basic ------------------------------------------------------------------------------------


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


@pytest.mark.parametrize("authorization", [None, basic("alice", "wrong"), basic("mallory", "s3cret"), "Basic %%%"])
def test_basic_auth_refuses_bad_credentials(authorization: Optional[str]) -> None:
    with serve(basic_auth={"alice": "s3cret"}) as master:
        sub = Client(master, authorization=authorization).subscribe()
        assert sub.status == 401
        assert sub.headers["WWW-Authenticate"] == 'Basic realm="mesos"'


def test_basic_auth_principal_is_checked_and_recorded() -> None:
    with serve(basic_auth={"alice": "s3cret"}) as master:
        client = Client(master, authorization=basic("alice", "s3cret"))
        mismatch = client.subscribe(dict(FRAMEWORK_INFO, principal="bob"))
        assert (mismatch.status, mismatch.body.decode()) == (400, PRINCIPAL_MISMATCH)
        sub = client.subscribe()
        sub.subscribed()
        assert master.frameworks[str(sub.framework_id)].principal == "alice"
        assert sub.call("REVIVE").status == 202
        assert master.requests[-1].headers["Authorization"] == "Basic ***"
        sub.close()


def test_strict_with_basic_auth_takes_either_and_challenges_both() -> None:
    with serve(security_mode="strict", iam=StubIAM(), basic_auth={"alice": "s3cret"}) as master:
        refused = Client(master).request("POST", subscribe_call())
        assert refused.status == 401
        assert refused.header("WWW-Authenticate") is not None
        by_token = Client(master, authorization=token_header("alice")).subscribe()
        by_basic = Client(master, authorization=basic("alice", "s3cret")).subscribe()
        assert (by_token.status, by_basic.status) == (200, 200)
        by_token.close()
        by_basic.close()


def test_strict_without_any_verifier_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="strict"):
        FakeMaster(security_mode="strict")
    with pytest.raises(ValueError, match="security_mode"):
        FakeMaster(security_mode="paranoid")


def test_security_mode_accepts_str_enums() -> None:
    class Mode(str, enum.Enum):
        STRICT = "strict"

    for mode, expected in ((Mode.STRICT, "strict"), (SecurityMode.PERMISSIVE, "permissive")):
        master = FakeMaster(security_mode=mode, iam=StubIAM())
        master.stop()  # never started: frees the ports it bound
        assert master.security_mode == expected


# -- with the real FakeIAM ----------------------------------------------------------------------------


def _fake_iam() -> Any:
    iam_module = pytest.importorskip("mesos_auth.testing.iam")
    if not hasattr(iam_module, "FakeIAM"):  # pragma: no cover - while the IAM is being written
        pytest.skip("FakeIAM not available yet")
    return iam_module.FakeIAM


def login(iam: Any, uid: str) -> str:
    account = iam.create_account(uid)
    login_token = jwt.encode({"uid": uid, "exp": int(time.time()) + 60}, account.private_key, algorithm="RS256")
    reply = requests.post(iam.login_endpoint, json={"uid": uid, "token": login_token}, timeout=10)
    reply.raise_for_status()
    token: str = reply.json()["token"]
    return token


@pytest.fixture
def real_iam() -> Iterator[Any]:
    fake_iam_class = _fake_iam()
    with fake_iam_class() as iam:
        yield iam


def test_strict_master_with_the_real_fake_iam(real_iam: Any) -> None:
    token = login(real_iam, "svc-framework")
    with serve(security_mode="strict", iam=real_iam, grants={"svc-framework": ["*"]}) as master:
        assert Client(master, authorization="token=not-a-jwt").subscribe().status == 401
        sub = Client(master, authorization=f"token={token}").subscribe()
        sub.subscribed()
        assert master.frameworks[str(sub.framework_id)].principal == "svc-framework"
        assert sub.call("SUPPRESS").status == 202
        sub.close()


def test_revoked_real_token_fails_the_next_call(real_iam: Any) -> None:
    token = login(real_iam, "svc-framework")
    with serve(
        security_mode="strict", iam=real_iam, heartbeat_interval=0.05, grants={"svc-framework": ["*"]}
    ) as master:
        sub = Client(master, authorization=f"token={token}").subscribe()
        sub.subscribed()
        real_iam.revoke_tokens("svc-framework")
        assert sub.call("REVIVE").status == 401
        sub.until("HEARTBEAT")
        sub.close()
