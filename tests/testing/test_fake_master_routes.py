"""FakeMaster's routes besides the scheduler API: /master/state.json in the releases that route it.

apache/mesos ``src/master/master.cpp`` (``Master::initialize``) routes ``/state.json`` to
the same handler and realm as ``/state`` up to Mesos 1.7 (DC/OS 1.10 to 1.12); commit
42551cb5290b ("Removed long ago deprecated endpoints.") dropped it in 1.8.
"""

from __future__ import annotations

import json

import pytest

from mesos_auth.testing.master import MESOS_VERSION, FakeMaster
from mesos_auth.testing.master.versions import RELEASES

from .test_fake_master_support import FRAMEWORK_INFO, Client, Reply, StubIAM, serve, token_header

STATE = "/master/state"
STATE_JSON = "/master/state.json"

#: The releases whose master.cpp still has ``route("/state.json", ...)``.
WITH_STATE_JSON = ("1.4.4", "1.5.4", "1.7.3")
WITHOUT_STATE_JSON = ("1.8.2", "1.9.1", "1.10.1", "1.11.0")


def get(master: FakeMaster, path: str, *, authorization: object = None, method: str = "GET") -> Reply:
    return Client(master).request(method, None, content_type=None, path=path, authorization=authorization)


def test_the_releases_that_route_state_json_are_those_before_1_8() -> None:
    assert tuple(r.version for r in RELEASES if r.serves_state_json) == WITH_STATE_JSON
    assert tuple(r.version for r in RELEASES if not r.serves_state_json) == WITHOUT_STATE_JSON


@pytest.mark.parametrize("version", WITH_STATE_JSON)
def test_state_json_answers_as_state_in_old_releases(version: str) -> None:
    with serve(mesos_version=version) as master:
        sub = Client(master).subscribe()
        sub.subscribed()
        try:
            state, state_json = get(master, STATE), get(master, STATE_JSON)
            assert (state.status, state_json.status) == (200, 200)
            assert state_json.header("Content-Type") == state.header("Content-Type")
            assert json.loads(state_json.body) == json.loads(state.body)
            payload = json.loads(state_json.body)
            assert payload["version"] == version
            [framework] = payload["frameworks"]
            assert framework["id"] == sub.framework_id and framework["active"] is True
        finally:
            sub.close()
        assert [r.path for r in master.requests if r.path.startswith("/master/")] == [STATE, STATE_JSON]


@pytest.mark.parametrize("version", WITHOUT_STATE_JSON)
def test_state_json_is_not_found_from_1_8_on(version: str) -> None:
    with serve(mesos_version=version) as master:
        reply = get(master, STATE_JSON)
        assert (reply.status, reply.body) == (404, b"")
        assert get(master, STATE).status == 200
        [record] = [r for r in master.requests if r.path == STATE_JSON]
        assert record.status == 404


def test_the_default_master_does_not_route_state_json() -> None:
    assert MESOS_VERSION not in WITH_STATE_JSON
    with serve() as master:
        assert get(master, STATE_JSON).status == 404


def test_state_json_is_authenticated_as_state() -> None:
    with serve(mesos_version="1.7", security_mode="strict", iam=StubIAM()) as master:
        unauthenticated = get(master, STATE_JSON)
        assert unauthenticated.status == 401
        assert unauthenticated.header("WWW-Authenticate") == "acsjwt"
        assert get(master, STATE_JSON, authorization="token=expired").status == 401
        sub = Client(master, authorization=token_header("svc")).subscribe(dict(FRAMEWORK_INFO, principal="svc"))
        sub.subscribed()
        try:
            reply = get(master, STATE_JSON, authorization=token_header("svc"))
            assert reply.status == 200
            [framework] = json.loads(reply.body)["frameworks"]
            assert framework["principal"] == "svc"
        finally:
            sub.close()
        principals = [r.principal for r in master.requests if r.path == STATE_JSON]
        assert principals == [None, None, "svc"]


def test_a_newer_strict_master_answers_404_before_asking_for_credentials() -> None:
    # libprocess looks the route up before it authenticates (ProcessBase::consume):
    # a path with no route is 404 whoever asks.
    with serve(mesos_version="1.8", security_mode="strict", iam=StubIAM()) as master:
        reply = get(master, STATE_JSON)
        assert reply.status == 404 and reply.header("WWW-Authenticate") is None


def test_state_json_refuses_other_methods_as_state() -> None:
    with serve(mesos_version="1.4") as master:
        for path in (STATE, STATE_JSON):
            reply = get(master, path, method="POST")
            assert (reply.status, reply.text) == (405, "Expecting one of { 'GET' }, but received 'POST'")
