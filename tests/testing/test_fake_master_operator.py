"""The fake master's v1 operator API (``POST /api/v1``): checks in Mesos' order, the read
calls' shapes, and the operator event stream as a framework's tasks run."""

from __future__ import annotations

import http.client
import json
from typing import Any, Dict, Iterator

import pytest

from mesos_auth.testing.master import FakeMaster
from mesos_auth.testing.master.operator_api import serves

from .test_fake_master_support import (
    Client,
    StubIAM,
    Subscription,
    acknowledge,
    launch,
    serve,
    subscribed_framework,
    task_info,
    token_header,
)

API = "/api/v1"


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with serve(security_mode="strict", iam=StubIAM(), heartbeat_interval=0.3, authorizer=None) as started:
        yield started


def operator(master: FakeMaster, call: Any, **options: Any) -> Any:
    options.setdefault("authorization", token_header("ops"))
    client = Client(master, authorization=options.pop("authorization"))
    return client.request("POST", call, path=options.pop("path", API), **options)


class OperatorStream(Subscription):
    """The support module's stream reader, for the operator stream (whose SUBSCRIBED names no framework)."""

    def next_event(self) -> Dict[str, Any]:
        digits = b""
        while not digits.endswith(b"\n"):
            byte = self.response.read(1)
            if not byte:
                raise EOFError("event stream ended")
            digits += byte
        data = self.response.read(int(digits))
        event: Dict[str, Any] = json.loads(data.decode("utf-8"))
        self.seen.append(event)
        return event


def subscribe(master: FakeMaster) -> OperatorStream:
    client = Client(master, authorization=token_header("ops"))
    connection = client.connection()
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": token_header("ops")}
    connection.request("POST", API, body=json.dumps({"type": "SUBSCRIBE"}).encode(), headers=headers)
    return OperatorStream(client, connection, connection.getresponse())


def test_strict_master_authenticates_operator_calls_first(master: FakeMaster) -> None:
    reply = operator(master, {"type": "GET_HEALTH"}, authorization=None)
    assert reply.status == 401 and reply.header("WWW-Authenticate") == "acsjwt"
    assert operator(master, {"type": "GET_HEALTH"}, authorization="token=expired").status == 401
    master.set_no_leader()
    assert operator(master, {"type": "GET_HEALTH"}, authorization=None).status == 401  # before leadership


@pytest.mark.parametrize(
    "call, status, text",
    [
        ({"type": "GET_HEALTH"}, 200, '"healthy": true'),
        ({"type": "UNKNOWN"}, 501, ""),
        ({"type": "BOGUS"}, 400, "Failed to convert JSON into Call protobuf: Failed to find enum for 'BOGUS'"),
        ({}, 400, "Failed to validate master::Call: Expecting 'type' to be present"),
        ({"type": "GET_METRICS"}, 400, "Failed to validate master::Call: Expecting 'get_metrics' to be present"),
        ({"type": "TEARDOWN", "teardown": {"framework_id": {"value": "x"}}}, 501, "does not model TEARDOWN"),
        (b"{nope", 400, "Failed to parse body into JSON: "),
    ],
)
def test_bodies_are_answered_as_mesos_does(master: FakeMaster, call: Any, status: int, text: str) -> None:
    reply = operator(master, call)
    assert (reply.status, text in reply.text) == (status, True), reply.text


def test_method_content_type_and_accept(master: FakeMaster) -> None:
    assert operator(master, None, content_type=None).status == 400
    assert operator(master, {"type": "GET_HEALTH"}, content_type="text/plain").status == 415
    wrong = Client(master, authorization=token_header("ops")).request("GET", None, path=API, content_type=None)
    assert wrong.status == 405
    refused = operator(master, {"type": "GET_HEALTH"}, headers={"Accept": "text/html"})
    assert refused.status == 406 and "Expecting 'Accept' to allow" in refused.text


def test_a_follower_redirects_with_the_request_path_and_no_leader_is_503(master: FakeMaster) -> None:
    master.set_leader("leader.example:5050")
    reply = operator(master, {"type": "GET_HEALTH"}, path="/api/v1?jsonp=cb")
    assert reply.status == 307 and reply.header("Location") == "//leader.example:5050/api/v1?jsonp=cb"
    master.set_no_leader()
    assert (operator(master, {"type": "GET_HEALTH"}).status, operator(master, {"type": "GET_HEALTH"}).text) == (
        503,
        "No leader elected",
    )
    master.become_leader()
    master.set_recovering()
    assert operator(master, {"type": "GET_HEALTH"}).text == "Master has not finished recovery"


def test_the_api_path_takes_prefixes_as_libprocess_routes_them() -> None:
    assert serves("/api/v1") and serves("/api/v1/operator")
    assert not serves("/api/v1/scheduler") and not serves("/api/v10") and not serves("/api")


def test_read_calls_show_the_cluster(master: FakeMaster) -> None:
    empty = operator(master, {"type": "GET_TASKS"})
    assert json.loads(empty.body) == {"type": "GET_TASKS", "get_tasks": {}}  # empty lists left out, as protobuf
    sub, offers = subscribed_framework(master, Client(master, authorization=token_header("fw")))
    offer = offers["offers"]["offers"][0]
    assert launch(sub, offer, task_info("t1", offer)).status == 202
    statuses = sub.updates(3)
    state = json.loads(operator(master, {"type": "GET_STATE"}).body)["get_state"]
    frameworks = state["get_frameworks"]["frameworks"]
    assert [f["framework_info"]["id"]["value"] for f in frameworks] == [sub.framework_id]
    assert frameworks[0]["active"] and frameworks[0]["connected"]
    assert [t["task_id"]["value"] for t in state["get_tasks"]["tasks"]] == ["t1"]  # terminal, not yet acknowledged
    assert state["get_tasks"]["tasks"][0]["state"] == "TASK_FINISHED"
    agents = json.loads(operator(master, {"type": "GET_AGENTS"}).body)["get_agents"]["agents"]
    assert agents[0]["agent_info"]["id"] == offer["agent_id"]
    for status in statuses:
        acknowledge(sub, status)
    master.wait_for(lambda: master.task_records["t1"].unacknowledged == 0)
    tasks = json.loads(operator(master, {"type": "GET_TASKS"}).body)["get_tasks"]
    assert [t["task_id"]["value"] for t in tasks["completed_tasks"]] == ["t1"] and "tasks" not in tasks
    info = json.loads(operator(master, {"type": "GET_MASTER"}).body)["get_master"]["master_info"]
    assert info["id"] == master.master_id
    version = json.loads(operator(master, {"type": "GET_VERSION"}).body)["get_version"]["version_info"]
    assert version["version"] == master.mesos_version
    sub.close()


def test_subscribe_streams_state_then_heartbeats_and_task_events(master: FakeMaster) -> None:
    ops = subscribe(master)
    assert ops.status == 200 and ops.stream_id is None  # no Mesos-Stream-Id on the operator stream
    first = ops.next_event()
    assert first["type"] == "SUBSCRIBED"
    assert first["subscribed"]["heartbeat_interval_seconds"] == 0.3
    assert "get_agents" in first["subscribed"]["get_state"]
    assert ops.next_event()["type"] == "HEARTBEAT"  # after one interval, not at once
    sub, offers = subscribed_framework(master, Client(master, authorization=token_header("fw")))
    offer = offers["offers"]["offers"][0]
    launch(sub, offer, task_info("t1", offer))
    added = ops.until("FRAMEWORK_ADDED")["framework_added"]["framework"]
    assert added["framework_info"]["id"]["value"] == sub.framework_id
    task = ops.until("TASK_ADDED")["task_added"]["task"]
    assert (task["task_id"]["value"], task["state"]) == ("t1", "TASK_STAGING")
    states = []
    while len(states) < 3:
        updated = ops.until("TASK_UPDATED")["task_updated"]
        assert updated["framework_id"]["value"] == sub.framework_id
        states.append(updated["state"])
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    sub.call("TEARDOWN")
    removed = ops.until("FRAMEWORK_REMOVED")["framework_removed"]["framework_info"]
    assert removed["id"]["value"] == sub.framework_id
    assert master.drop_streams() >= 1
    with pytest.raises((EOFError, http.client.IncompleteRead, ConnectionError)):
        while True:
            ops.next_event()
    sub.close()


def test_records_show_operator_calls_with_the_credential_masked(master: FakeMaster) -> None:
    operator(master, {"type": "GET_FLAGS"})
    record = master.wait_for(lambda: [r for r in master.requests if r.path == API])[-1]
    assert (record.call_type, record.status, record.principal) == ("GET_FLAGS", 200, "ops")
    assert record.headers["Authorization"] == "token=***"


def _flags(master: FakeMaster) -> Dict[str, str]:
    body = json.loads(operator(master, {"type": "GET_FLAGS"}).body)
    return {flag["name"]: flag["value"] for flag in body["get_flags"]["flags"]}


def test_flags_say_whether_http_authentication_is_on(master: FakeMaster) -> None:
    assert _flags(master)["authenticate_http_readwrite"] == "true"
