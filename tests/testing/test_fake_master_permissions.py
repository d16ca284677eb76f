"""A strict FakeMaster authorizes through the IAM's ACLs and refuses as each Mesos release does.

SUBSCRIBE (ERROR event), LAUNCH and LAUNCH_GROUP (TASK_ERROR without uuid, resources
left unused), RESERVE/UNRESERVE/CREATE/DESTROY (dropped; OPERATION_ERROR from 1.7 on
for operations with an id, after the release's own id checks), TEARDOWN (never
authorized), texts of both release families, and grants made through the IAM's HTTP
API taking effect at the next call.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import jwt
import pytest
import requests

from mesos_auth.permissions.model import Permission, launch_as_user, register_with_role, reserve_for_role
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.testing.master import FakeMaster

from .test_fake_master_support import (
    CLEAN,
    FRAMEWORK_INFO,
    ACLStubIAM,
    Client,
    Subscription,
    launch,
    scalars,
    serve,
    task_info,
    token_header,
)

UID = "alice"
AGENT = {"cpus": 2.0, "mem": 1024.0, "disk": 100.0}
OLD, NEW = "1.9", "1.11"  # DC/OS 2.0 (Mesos' own texts) and DC/OS 2.2 (ActionObject texts)


def scalar(name: str, value: float) -> Dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def acls(*permissions: Permission, uid: str = UID) -> ACLStubIAM:
    iam = ACLStubIAM()
    for permission in permissions:
        iam.grant_permission(uid, permission.rid, permission.action)
    return iam


def strict(iam: Any, version: str = NEW, **options: Any) -> Any:
    options.setdefault("agents", [AGENT])
    options.setdefault("allocation_interval", 0.05)
    return serve(security_mode="strict", iam=iam, mesos_version=version, **options)


def subscribed(master: FakeMaster, info: Optional[Dict[str, Any]] = None) -> Tuple[Subscription, Dict[str, Any]]:
    sub = Client(master, authorization=token_header(UID)).subscribe(info)
    assert sub.status == 200
    sub.subscribed()
    return sub, sub.until("OFFERS")["offers"]["offers"][0]


def master_update(sub: Subscription) -> Dict[str, Any]:
    status: Dict[str, Any] = sub.updates(1)[0]
    assert (status["state"], status["source"]) == ("TASK_ERROR", "SOURCE_MASTER")
    assert "uuid" not in status  # made by the master: nothing to acknowledge
    return status


def events_until_reconciled(sub: Subscription) -> List[Dict[str, Any]]:
    """Every event up to the answer of a RECONCILE sent now: what came before it, in order."""
    start = len(sub.seen)
    assert sub.call("RECONCILE", {"tasks": [{"task_id": {"value": "probe"}}]}).status == 202
    while True:
        event = sub.until("UPDATE")
        if event["update"]["status"]["task_id"]["value"] == "probe":
            return [e for e in sub.seen[start:-1] if e["type"] != "HEARTBEAT"]


# -- SUBSCRIBE -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.4", "Not authorized to use roles '{ a-role, b-role }'"),
        (OLD, "Not authorized to use roles '{ a-role, b-role }'"),
        ("1.10", "Not authorized to register framework  with roles { a-role, b-role }"),
        (NEW, "Not authorized to register framework  with roles { a-role, b-role }"),
    ],
)
def test_an_unauthorized_role_refuses_subscribe_with_one_error_event(version: str, message: str) -> None:
    iam = acls(register_with_role("a-role"))
    with strict(iam, version) as master:
        info = dict(FRAMEWORK_INFO, roles=["b-role", "a-role"], capabilities=[{"type": "MULTI_ROLE"}])
        refused = Client(master, authorization=token_header(UID)).subscribe(info)
        assert refused.status == 200 and refused.stream_id
        assert refused.next_event() == {"type": "ERROR", "error": {"message": message}}
        assert refused.end() == CLEAN
        assert master.frameworks == {}
        asked = {(uid, rid, action) for uid, rid, action in iam.asked}
        assert (UID, register_with_role("b-role").rid, "create") in asked


@pytest.mark.parametrize(("version", "text"), [(OLD, "Not authorized to use roles '{ * }'"), (NEW, None)])
def test_a_resubscribe_after_a_revoke_is_refused_naming_the_framework(version: str, text: Optional[str]) -> None:
    iam = acls(register_with_role("*"))
    with strict(iam, version) as master:
        sub, _ = subscribed(master)
        iam.revoke_permission(UID, register_with_role("*").rid, "create")
        again = Client(master, authorization=token_header(UID)).subscribe(framework_id=sub.framework_id)
        expected = text or f"Not authorized to register framework {sub.framework_id} with roles {{ * }}"
        assert again.next_event()["error"]["message"] == expected
        assert again.end() == CLEAN
        sub.close()


def test_a_granted_prefix_covers_every_role() -> None:
    iam = ACLStubIAM()
    iam.grant_permission(UID, "dcos:mesos:master:framework:role", "create")
    with strict(iam) as master:
        sub = Client(master, authorization=token_header(UID)).subscribe(dict(FRAMEWORK_INFO, role="any-role"))
        sub.subscribed()
        sub.close()


# -- LAUNCH ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.4", "Not authorized to launch as user 'nobody'"),
        (OLD, "Not authorized to launch as user 'nobody'"),
        (NEW, "Principal 'alice' no authorized to launch task t1 of framework {fid} under user 'nobody'"),
    ],
)
def test_an_unauthorized_user_gets_task_error_and_the_resources_come_back(version: str, message: str) -> None:
    with strict(acls(register_with_role("*")), version) as master:
        sub, offer = subscribed(master)
        assert launch(sub, offer, task_info("t1", offer, cpus=1.5)).status == 202
        status = master_update(sub)
        assert status["reason"] == "REASON_TASK_UNAUTHORIZED"
        assert status["message"] == message.format(fid=sub.framework_id)
        assert status["agent_id"] == offer["agent_id"] and status["task_id"] == {"value": "t1"}
        assert master.tasks["t1"][-1] == "TASK_ERROR" and master.executors == {}
        again = sub.until("OFFERS")["offers"]["offers"][0]  # nothing was used
        assert scalars(again["resources"]) == scalars(offer["resources"])
        sub.close()


def test_the_task_user_is_the_commands_then_the_executors_then_the_frameworks() -> None:
    iam = acls(register_with_role("*"), launch_as_user("nobody"), launch_as_user("www"))
    with strict(iam, OLD) as master:
        sub, offer = subscribed(master)
        as_root = dict(task_info("root-task", offer), command={"value": "true", "user": "root"})
        as_www = task_info("www-task", offer, cpus=0.2)
        executor = {"executor_id": {"value": "e1"}, "command": {"value": "./e", "user": "www"}, "resources": []}
        as_www = {key: value for key, value in as_www.items() if key != "command"}
        as_www["executor"] = executor
        assert launch(sub, offer, as_root, as_www, task_info("nobody-task", offer, cpus=0.2)).status == 202
        status = master_update(sub)
        assert (status["task_id"]["value"], status["message"]) == (
            "root-task",
            "Not authorized to launch as user 'root'",
        )
        master.wait_for(lambda: {"www-task", "nobody-task"} <= set(master.tasks))
        assert "TASK_ERROR" not in master.tasks["www-task"] + master.tasks["nobody-task"]
        sub.close()


@pytest.mark.parametrize("version", [OLD, NEW])
def test_authorization_comes_before_task_validation(version: str) -> None:
    with strict(acls(register_with_role("*")), version) as master:
        sub, offer = subscribed(master)
        assert launch(sub, offer, task_info("too-big", offer, cpus=64.0)).status == 202
        status = master_update(sub)
        assert status["reason"] == "REASON_TASK_UNAUTHORIZED"
        sub.close()


# -- LAUNCH_GROUP ------------------------------------------------------------------------------------


def group(offer: Dict[str, Any], *tasks: Dict[str, Any]) -> Dict[str, Any]:
    executor = {
        "executor_id": {"value": "default"},
        "type": "DEFAULT",
        "resources": [scalar("cpus", 0.1), scalar("mem", 32.0), scalar("disk", 10.0)],
    }
    operation = {"type": "LAUNCH_GROUP", "launch_group": {"executor": executor, "task_group": {"tasks": list(tasks)}}}
    return {"offer_ids": [offer["id"]], "operations": [operation], "filters": {"refuse_seconds": 0.0}}


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (OLD, "Task 'g2' is not authorized to launch as user 'root'"),
        (NEW, "Task 'g2' is not authorized tolaunch task g2 of framework {fid} under user 'root'"),
    ],
)
def test_an_unauthorized_task_fails_its_whole_group(version: str, message: str) -> None:
    iam = acls(register_with_role("*"), launch_as_user("nobody"))
    with strict(iam, version) as master:
        sub, offer = subscribed(master)
        as_root = dict(task_info("g2", offer), command={"value": "true", "user": "root"})
        assert sub.call("ACCEPT", group(offer, task_info("g1", offer), as_root)).status == 202
        statuses = [master_update(sub), master_update(sub)]
        assert [s["task_id"]["value"] for s in statuses] == ["g1", "g2"]
        assert {s["reason"] for s in statuses} == {"REASON_TASK_GROUP_UNAUTHORIZED"}
        assert {s["message"] for s in statuses} == {message.format(fid=sub.framework_id)}
        assert master.executors == {}
        sub.close()


# -- RESERVE, UNRESERVE, CREATE, DESTROY ---------------------------------------------------------------


def reserve(offer: Dict[str, Any], role: str = "dev", operation_id: Optional[str] = None) -> Dict[str, Any]:
    resource = dict(scalar("cpus", 1.0), reservations=[{"type": "DYNAMIC", "role": role, "principal": UID}])
    operation: Dict[str, Any] = {"type": "RESERVE", "reserve": {"resources": [resource]}}
    if operation_id is not None:
        operation["id"] = {"value": operation_id}
    return {"offer_ids": [offer["id"]], "operations": [operation], "filters": {"refuse_seconds": 0.0}}


def operation_errors(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e["update_operation_status"]["status"] for e in events if e["type"] == "UPDATE_OPERATION_STATUS"]


DEV = {"roles": ["dev"], "capabilities": [{"type": "MULTI_ROLE"}]}


@pytest.mark.parametrize(
    ("version", "operation_id", "message", "feedback"),
    [
        ("1.4", "op-1", "Not authorized to reserve resources as 'alice'", False),  # no id field in 1.4
        (
            "1.5",
            "op-1",
            "The `id` field was set on this operation, but operation status updates are not yet supported",
            False,
        ),
        ("1.7", None, "Not authorized to reserve resources as 'alice'", False),
        (
            "1.7",
            "op-1",
            "Operation requested feedback, but it affects resources not managed by a resource provider",
            True,
        ),
        (OLD, "op-1", "Not authorized to reserve resources as 'alice'", True),
        (NEW, None, "Principal 'alice' no authorized to perform action RESERVE_RESOURCES on object ", False),
        (NEW, "op-1", "Principal 'alice' no authorized to perform action RESERVE_RESOURCES on object ", True),
    ],
)
def test_an_unauthorized_reserve_is_dropped_as_the_release_does(
    version: str, operation_id: Optional[str], message: str, feedback: bool
) -> None:
    with strict(acls(register_with_role("dev")), version) as master:
        sub, offer = subscribed(master, dict(FRAMEWORK_INFO, **DEV))
        assert sub.call("ACCEPT", reserve(offer, operation_id=operation_id)).status == 202
        errors = operation_errors(events_until_reconciled(sub))
        [dropped] = master.dropped_operations
        assert dropped["message"].startswith(message) and dropped["framework_id"] == sub.framework_id
        if feedback:
            assert errors == [
                {"operation_id": {"value": "op-1"}, "state": "OPERATION_ERROR", "message": dropped["message"]}
            ]
        else:
            assert errors == []  # "The framework will find out ... through subsequent offers"
        sub.close()


def test_the_new_texts_carry_the_authorization_object() -> None:
    with strict(acls(register_with_role("dev"))) as master:
        sub, offer = subscribed(master, dict(FRAMEWORK_INFO, **DEV))
        sub.call("ACCEPT", reserve(offer, operation_id="op-1"))
        [status] = operation_errors(events_until_reconciled(sub))
        prefix = "Principal 'alice' no authorized to perform action RESERVE_RESOURCES on object "
        assert status["message"].startswith(prefix + '{"value":"dev","resource":{"name":"cpus"')
        assert '"allocation_info":{"role":"dev"}' in status["message"]
        sub.close()


def test_an_authorized_reserve_is_not_dropped() -> None:
    with strict(acls(register_with_role("dev"), reserve_for_role("dev"))) as master:
        sub, offer = subscribed(master, dict(FRAMEWORK_INFO, **DEV))
        sub.call("ACCEPT", reserve(offer, operation_id="op-1"))
        assert operation_errors(events_until_reconciled(sub)) == []
        assert master.dropped_operations == []
        sub.close()


@pytest.mark.parametrize(
    ("operation", "old", "new"),
    [
        (
            {
                "type": "UNRESERVE",
                "unreserve": {
                    "resources": [
                        {
                            "name": "cpus",
                            "type": "SCALAR",
                            "scalar": {"value": 1.0},
                            "reservations": [{"role": "dev", "principal": "bob"}],
                        }
                    ]
                },
            },
            "Not authorized to unreserve resources as 'alice'",
            'perform action UNRESERVE_RESOURCES on object {"value":"bob"',
        ),
        (
            {"type": "CREATE", "create": {"volumes": []}},
            "Not authorized to create persistent volumes as 'alice'",
            "perform action CREATE_VOLUME on ANY object",
        ),
        (
            {
                "type": "DESTROY",
                "destroy": {
                    "volumes": [
                        {
                            "name": "disk",
                            "type": "SCALAR",
                            "scalar": {"value": 8.0},
                            "disk": {"persistence": {"id": "v", "principal": "bob"}},
                        }
                    ]
                },
            },
            "Not authorized to destroy persistent volumes as 'alice'",
            'perform action DESTROY_VOLUME on object {"value":"bob"',
        ),
    ],
)
@pytest.mark.parametrize("version", [OLD, NEW])
def test_unreserve_create_and_destroy_need_their_permissions(
    version: str, operation: Dict[str, Any], old: str, new: str
) -> None:
    with strict(acls(register_with_role("dev")), version) as master:
        sub, offer = subscribed(master, dict(FRAMEWORK_INFO, **DEV))
        accept = {"offer_ids": [offer["id"]], "operations": [dict(operation, id={"value": "op"})]}
        assert sub.call("ACCEPT", accept).status == 202
        [status] = operation_errors(events_until_reconciled(sub))
        assert status["state"] == "OPERATION_ERROR" and "uuid" not in status
        expected = old if version == OLD else "Principal 'alice' no authorized to " + new
        assert status["message"].startswith(expected)
        sub.close()


# -- TEARDOWN ----------------------------------------------------------------------------------------


def test_teardown_is_never_authorized_beyond_the_principal() -> None:
    iam = acls(register_with_role("*"))
    with strict(iam) as master:
        sub, _ = subscribed(master)
        iam.revoke_permission(UID, register_with_role("*").rid, "create")
        asked = len(iam.asked)
        assert sub.call("TEARDOWN").status == 202
        master.wait_for(lambda: master.frameworks[str(sub.framework_id)].state == "torn_down")
        assert len(iam.asked) == asked  # no framework:principal check
        sub.close()


# -- not in strict mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["permissive", "disabled"])
def test_other_modes_authorize_nothing(mode: str) -> None:
    iam = ACLStubIAM()
    with serve(security_mode=mode, iam=iam, agents=[AGENT], allocation_interval=0.05) as master:
        sub = Client(master, authorization=token_header(UID) if mode == "permissive" else None).subscribe()
        sub.subscribed()
        offer = sub.until("OFFERS")["offers"]["offers"][0]
        launch(sub, offer, dict(task_info("t1", offer), command={"value": "true", "user": "root"}))
        assert sub.updates(1)[0]["state"] != "TASK_ERROR"
        sub.close()
    assert iam.asked == []


# -- through the real FakeIAM and its HTTP API ---------------------------------------------------------


@pytest.fixture
def real_iam() -> Iterator[FakeIAM]:
    with FakeIAM() as iam:
        yield iam


def login(iam: FakeIAM, uid: str) -> str:
    account = iam.create_account(uid)
    login_token = jwt.encode({"uid": uid, "exp": int(time.time()) + 60}, account.private_key, algorithm="RS256")
    reply = requests.post(iam.login_endpoint, json={"uid": uid, "token": login_token}, timeout=10)
    reply.raise_for_status()
    token: str = reply.json()["token"]
    return token


def test_grants_and_revokes_through_the_iam_http_api_change_the_next_answer(real_iam: FakeIAM) -> None:
    admin = {"Authorization": f"token={real_iam.create_superuser()}"}
    token = login(real_iam, UID)
    register, run = register_with_role("dev"), launch_as_user("nobody")

    def put(permission: Permission) -> None:
        created = requests.put(
            real_iam.url + permission.acl_path(), json={"description": "t"}, headers=admin, timeout=10
        )
        assert created.status_code in (201, 409)
        granted = requests.put(real_iam.url + permission.grant_path(UID), headers=admin, timeout=10)
        assert granted.status_code == 204

    with strict(real_iam) as master:
        client = Client(master, authorization=f"token={token}")
        refused = client.subscribe(dict(FRAMEWORK_INFO, **DEV))
        assert refused.next_event()["error"]["message"] == "Not authorized to register framework  with roles { dev }"
        refused.close()

        put(register)
        sub = client.subscribe(dict(FRAMEWORK_INFO, **DEV))
        sub.subscribed()
        offer = sub.until("OFFERS")["offers"]["offers"][0]
        launch(sub, offer, task_info("t1", offer))
        assert master_update(sub)["reason"] == "REASON_TASK_UNAUTHORIZED"

        put(run)
        offer = sub.until("OFFERS")["offers"]["offers"][0]
        launch(sub, offer, task_info("t2", offer))
        assert sub.updates(1)[0]["state"] == "TASK_STARTING"

        revoked = requests.delete(real_iam.url + run.grant_path(UID), headers=admin, timeout=10)
        assert revoked.status_code == 204
        offer = sub.until("OFFERS")["offers"]["offers"][0]
        launch(sub, offer, task_info("t3", offer, cpus=0.1, mem=16.0))
        status = sub.until("UPDATE")["update"]["status"]
        while status["task_id"]["value"] != "t3":
            status = sub.until("UPDATE")["update"]["status"]
        assert status["reason"] == "REASON_TASK_UNAUTHORIZED"
        sub.close()


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.4", None),  # Offer.Operation has no id field yet: the JSON parser skips it
        ("1.5", "The `id` field was set on this operation, but operation status updates are not yet supported"),
        ("1.7", "The `id` field cannot be set on LAUNCH operations"),
    ],
)
def test_a_launch_with_an_id_per_release(version: str, message: Optional[str]) -> None:
    with strict(acls(register_with_role("*"), launch_as_user("nobody")), version) as master:
        sub, offer = subscribed(master)
        operation = {"type": "LAUNCH", "id": {"value": "op"}, "launch": {"task_infos": [task_info("t1", offer)]}}
        assert sub.call("ACCEPT", {"offer_ids": [offer["id"]], "operations": [operation]}).status == 202
        status = sub.updates(1)[0]
        if message is None:
            assert status["state"] == "TASK_STARTING"
        else:
            assert (status["state"], status["reason"], status["message"]) == (
                "TASK_ERROR",
                "REASON_TASK_INVALID",
                message,
            )
        sub.close()
