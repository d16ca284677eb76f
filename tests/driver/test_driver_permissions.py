"""The driver tells the scheduler about a missing DC/OS permission.

Against a scripted master (:class:`~tests.hostile.mini_master.MiniMaster`) that
sends what Mesos sends when its authorizer says no (apache/mesos
``src/master/master.cpp``): an ERROR event for SUBSCRIBE, a TASK_ERROR update
without uuid for LAUNCH / LAUNCH_GROUP, an OPERATION_ERROR operation status for
a dropped RESERVE/UNRESERVE/CREATE/DESTROY with an id. The texts are those of
both release families (DC/OS 1.10-2.0, 2.1-2.2).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterator, List

import pytest
from pymesos import Scheduler as PymesosScheduler

from mesos_auth import (
    AuthenticatedSchedulerDriver,
    PermissionDeniedError,
    PermissionRefusedError,
    Scheduler,
    create_driver,
)
from mesos_auth.errors import SubscriptionRefusedError
from mesos_auth.testing import FakeCluster
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_info
from tests.hostile.mini_master import MiniMaster, encode, subscribed_event
from tests.hostile.server import HostileServer, Peer, RawRequest, chunk

ROLE = "my-role"
UID = "svc"
FRAMEWORK_ID = "fw-1"


pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


@pytest.fixture
def master() -> Iterator[MiniMaster]:
    mini = MiniMaster()
    with HostileServer(mini) as server:
        mini.server = server  # type: ignore[attr-defined]
        yield mini


class PermissionScheduler(RecordingScheduler):
    """Records ``permissionDenied`` and ``operationStatusUpdate`` too."""

    def __init__(self) -> None:
        super().__init__(tasks=0)
        self.denied: List[PermissionDeniedError] = []
        self.operation_updates: List[Dict[str, Any]] = []

    def permissionDenied(self, driver: Any, error: PermissionDeniedError) -> None:
        self.denied.append(error)
        self._note("permissionDenied", type(error).__name__)

    def operationStatusUpdate(self, driver: Any, status: Any) -> None:
        self.operation_updates.append(dict(status))
        self._note("operationStatusUpdate", status["state"])


def start_driver(master: MiniMaster, scheduler: Any, **framework: Any) -> AuthenticatedSchedulerDriver:
    info = framework_info(principal=UID, role=ROLE, **framework)
    driver = AuthenticatedSchedulerDriver(
        scheduler,
        info,
        master.server.url,
        security_mode="disabled",
        resubscribe_backoff=FAST_BACKOFF,
        call_timeout=5.0,  # type: ignore[attr-defined]
    )
    driver.start()
    return driver


def stop(driver: AuthenticatedSchedulerDriver) -> None:
    driver.stop(failover=True)
    driver.join()


def stream_of(master: MiniMaster, *events: Dict[str, Any]) -> None:
    """Every SUBSCRIBE gets SUBSCRIBED, then ``events``, then heartbeats."""
    records = [encode(subscribed_event(FRAMEWORK_ID, interval=0.5)), *(encode(e) for e in events)]
    master.subscribe_answer = lambda peer, request, n: master.good_stream(peer, request, n, first=records)


def update(status: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "UPDATE", "update": {"status": status}}


def refused_task(task_id: str, message: str, reason: str = "REASON_TASK_UNAUTHORIZED") -> Dict[str, Any]:
    """A status as ``Master::_accept`` makes it for an unauthorized task: no uuid."""
    return {
        "task_id": {"value": task_id},
        "agent_id": {"value": "agent-1"},
        "state": "TASK_ERROR",
        "source": "SOURCE_MASTER",
        "reason": reason,
        "message": message,
        "timestamp": 1700000000.0,
    }


def running_task(task_id: str) -> Dict[str, Any]:
    return {
        "task_id": {"value": task_id},
        "agent_id": {"value": "agent-1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": "AAAAAAAAAAAAAAAAAAAAAA==",
        "timestamp": 1700000001.0,
    }


def acknowledged(master: MiniMaster) -> List[str]:
    """The task ids of the ACKNOWLEDGE calls the master got."""
    ids = []
    for request in master.calls:
        body = json.loads(request.body)
        if body.get("type") == "ACKNOWLEDGE":
            ids.append(body["acknowledge"]["task_id"]["value"])
    return ids


def grant(rid: str, action: str = "create") -> str:
    return f"dcos security org users grant {UID} {rid} {action}"


# ---------------------------------------------------------------------------
# LAUNCH and LAUNCH_GROUP refused: TASK_ERROR, no uuid
# ---------------------------------------------------------------------------

TASK_REFUSALS = {
    # DC/OS 1.10-2.0: master.cpp "Not authorized to launch as user '" + user + "'"
    "launch-1.10": ("Not authorized to launch as user 'root'", "REASON_TASK_UNAUTHORIZED"),
    # DC/OS 2.1-2.2: master.cpp authorized_ lambda (upstream typo "no authorized")
    "launch-2.2": (
        f"Principal '{UID}' no authorized to launch task t1 of framework {FRAMEWORK_ID} under user 'root'",
        "REASON_TASK_UNAUTHORIZED",
    ),
    # DC/OS 1.10-2.0 LAUNCH_GROUP
    "group-1.10": ("Task 't1' is not authorized to launch as user 'root'", "REASON_TASK_GROUP_UNAUTHORIZED"),
    # DC/OS 2.1-2.2 LAUNCH_GROUP (upstream: no space in "tolaunch")
    "group-2.2": (
        f"Task 't1' is not authorized tolaunch task t1 of framework {FRAMEWORK_ID} under user 'root'",
        "REASON_TASK_GROUP_UNAUTHORIZED",
    ),
}


@pytest.mark.parametrize("name", sorted(TASK_REFUSALS))
def test_a_refused_task_reaches_statusUpdate_as_sent_and_permissionDenied(master: MiniMaster, name: str) -> None:
    message, reason = TASK_REFUSALS[name]
    refused = refused_task("t1", message, reason)
    stream_of(master, update(refused), update(running_task("t2")))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        master.wait_for(lambda: "t2" in acknowledged(master), what="the later update acknowledged")
        scheduler.wait_for(lambda: len(scheduler.updates) == 2)
    finally:
        stop(driver)
    assert scheduler.updates[0] == refused  # exactly as Mesos sent it
    assert acknowledged(master) == ["t2"]  # no uuid: never acknowledged
    assert scheduler.kinds().index("permissionDenied") == scheduler.kinds().index("update") + 1
    [denied] = scheduler.denied
    assert type(denied) is PermissionDeniedError
    assert denied.task_id == "t1" and denied.operation_id is None
    assert denied.mesos_message == message
    assert denied.permission is not None
    assert (denied.permission.rid, denied.permission.action) == ("dcos:mesos:master:task:user:root", "create")
    assert denied.grant_command == grant("dcos:mesos:master:task:user:root")
    assert "dcos:mesos:master:task:user:root create" in str(denied) and grant(
        "dcos:mesos:master:task:user:root"
    ) in str(denied)
    assert driver.failure is None


def test_an_agent_refusal_is_acknowledged_and_names_the_agent_permission(master: MiniMaster) -> None:
    """The agent authorizes the task again: SOURCE_SLAVE, with a uuid (src/slave/slave.cpp)."""
    refused = dict(refused_task("t1", "Task 't1' is not authorized to launch as user 'root'"))
    refused.update(source="SOURCE_SLAVE", uuid="BBBBBBBBBBBBBBBBBBBBBB==")
    stream_of(master, update(refused))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        master.wait_for(lambda: "t1" in acknowledged(master), what="the agent's update acknowledged")
        scheduler.wait_for(lambda: len(scheduler.denied) == 1)
    finally:
        stop(driver)
    permission = scheduler.denied[0].permission
    assert permission is not None and permission.rid == "dcos:mesos:agent:task:user:root"


def test_other_task_errors_are_not_permission_refusals(master: MiniMaster) -> None:
    invalid = dict(refused_task("t1", "Task uses more resources than offered", "REASON_TASK_INVALID"))
    stream_of(master, update(invalid), update(running_task("t2")))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        scheduler.wait_for(lambda: len(scheduler.updates) == 2)
        master.wait_for(lambda: "t2" in acknowledged(master))
    finally:
        stop(driver)
    assert scheduler.denied == []


def test_a_refusal_of_unknown_text_is_told_without_a_permission(master: MiniMaster) -> None:
    """The reason decides; ``Authorization failure: ...`` (the authorizer failed) names no permission."""
    stream_of(master, update(refused_task("t1", "Authorization failure: the IAM did not answer")))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        scheduler.wait_for(lambda: len(scheduler.denied) == 1)
    finally:
        stop(driver)
    [denied] = scheduler.denied
    assert denied.permission is None and denied.grant_command is None
    assert "audit log" in str(denied) and "Authorization failure" in str(denied)


# ---------------------------------------------------------------------------
# Operations dropped as unauthorized: OPERATION_ERROR (Mesos 1.7+, with an id)
# ---------------------------------------------------------------------------


def operation_error(operation_id: str, message: str) -> Dict[str, Any]:
    """What ``Master::drop`` sends: no uuid, no agent id."""
    return {
        "type": "UPDATE_OPERATION_STATUS",
        "update_operation_status": {
            "status": {"operation_id": {"value": operation_id}, "state": "OPERATION_ERROR", "message": message}
        },
    }


RESERVE_OBJECT = json.dumps(
    {
        "resource": {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.0},
            "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": UID}],
        },
        "value": ROLE,
    }
)
OPERATION_REFUSALS = {
    "reserve-1.12": (
        f"Not authorized to reserve resources as '{UID}'",
        "dcos:mesos:master:reservation:role:my-role",
        "create",
    ),
    "reserve-2.2": (
        f"Principal '{UID}' no authorized to perform action RESERVE_RESOURCES on object {RESERVE_OBJECT}",
        "dcos:mesos:master:reservation:role:my-role",
        "create",
    ),
    "unreserve-1.12": (
        f"Not authorized to unreserve resources as '{UID}'",
        f"dcos:mesos:master:reservation:principal:{UID}",
        "delete",
    ),
    "destroy-1.12": (
        f"Not authorized to destroy persistent volumes as '{UID}'",
        f"dcos:mesos:master:volume:principal:{UID}",
        "delete",
    ),
}


@pytest.mark.parametrize("name", sorted(OPERATION_REFUSALS))
def test_a_dropped_operation_reaches_operationStatusUpdate_and_permissionDenied(master: MiniMaster, name: str) -> None:
    message, rid, action = OPERATION_REFUSALS[name]
    event = operation_error("op-1", message)
    stream_of(master, event, update(running_task("t2")))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        scheduler.wait_for(lambda: len(scheduler.updates) == 1, what="the update after the operation's")
        master.wait_for(lambda: "t2" in acknowledged(master))
    finally:
        stop(driver)
    assert scheduler.operation_updates == [event["update_operation_status"]["status"]]
    assert not any(json.loads(r.body).get("type") == "ACKNOWLEDGE_OPERATION_STATUS" for r in master.calls)
    [denied] = scheduler.denied
    assert denied.operation_id == "op-1" and denied.task_id is None
    assert denied.permission is not None and (denied.permission.rid, denied.permission.action) == (rid, action)
    assert denied.grant_command == grant(rid, action)


def test_operation_errors_that_are_no_refusal_are_not_told(master: MiniMaster) -> None:
    texts = [
        "Operation requested feedback, but it affects resources not managed by a resource provider",
        f"Authorization of principal '{UID}' to reserve resources failed: timeout",
    ]
    stream_of(master, *(operation_error(f"op-{i}", t) for i, t in enumerate(texts)), update(running_task("t2")))
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    try:
        scheduler.wait_for(lambda: len(scheduler.updates) == 1)
    finally:
        stop(driver)
    assert len(scheduler.operation_updates) == 2 and scheduler.denied == []


# ---------------------------------------------------------------------------
# Callbacks that raise, schedulers without the callback, the default one
# ---------------------------------------------------------------------------


class RaisingScheduler(PermissionScheduler):
    def statusUpdate(self, driver: Any, status: Any) -> None:
        super().statusUpdate(driver, status)
        raise RuntimeError("statusUpdate broke")

    def permissionDenied(self, driver: Any, error: PermissionDeniedError) -> None:
        super().permissionDenied(driver, error)
        raise RuntimeError("permissionDenied broke")


def test_callbacks_that_raise_do_not_stop_the_driver(master: MiniMaster) -> None:
    refusal = TASK_REFUSALS["launch-2.2"][0]
    stream_of(master, update(refused_task("t1", refusal)), update(refused_task("t3", refusal)))
    scheduler = RaisingScheduler()
    driver = start_driver(master, scheduler)
    try:
        scheduler.wait_for(lambda: len(scheduler.denied) == 2, what="both refusals told")
        assert driver.failure is None and master.subscribes == 1
    finally:
        stop(driver)


def test_a_plain_pymesos_scheduler_gets_its_callbacks_only(master: MiniMaster) -> None:
    class Plain(PymesosScheduler):  # type: ignore[misc]
        def __init__(self) -> None:
            self.statuses: List[Any] = []

        def statusUpdate(self, driver: Any, status: Any) -> None:
            self.statuses.append(status)

    stream_of(master, update(refused_task("t1", TASK_REFUSALS["launch-1.10"][0])), update(running_task("t2")))
    scheduler = Plain()
    driver = start_driver(master, scheduler)
    try:
        master.wait_for(lambda: "t2" in acknowledged(master))
        assert [s["task_id"]["value"] for s in scheduler.statuses] == ["t1", "t2"]
        assert driver.failure is None
    finally:
        stop(driver)


def test_the_default_permissionDenied_logs_the_permission_and_the_grant_command(
    master: MiniMaster, caplog: Any
) -> None:
    class Default(Scheduler):  # type: ignore[misc]
        pass

    stream_of(master, update(refused_task("t1", TASK_REFUSALS["launch-2.2"][0])), update(running_task("t2")))
    with caplog.at_level(logging.WARNING, logger="mesos_auth"):
        driver = start_driver(master, Default())
        try:
            master.wait_for(lambda: "t2" in acknowledged(master))
        finally:
            stop(driver)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "mesos_auth.scheduler"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "dcos:mesos:master:task:user:root create" in text and grant("dcos:mesos:master:task:user:root") in text


# ---------------------------------------------------------------------------
# SUBSCRIBE refused: an ERROR event, fatal
# ---------------------------------------------------------------------------

SUBSCRIBE_REFUSALS = {
    # DC/OS 1.10-2.0: Master::subscribe, "Not authorized to use roles '" + stringify(roles) + "'"
    "1.10": "Not authorized to use roles '{ a-role, b-role }'",
    # DC/OS 2.1-2.2: checkSubscribeAuthorization (empty id on a first SUBSCRIBE: two spaces)
    "2.2": "Not authorized to register framework  with roles { a-role, b-role }",
}


def refuse_with(master: MiniMaster, message: str) -> None:
    """200, a stream id, one ERROR event, and the stream ends (Master::subscribe)."""

    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        if master.open_stream(peer, number):
            peer.send(chunk(encode({"type": "ERROR", "error": {"message": message}})) + b"0\r\n\r\n")

    master.subscribe_answer = answer


@pytest.mark.parametrize("release", sorted(SUBSCRIBE_REFUSALS))
def test_a_refused_subscription_stops_the_driver_naming_the_permissions(master: MiniMaster, release: str) -> None:
    message = SUBSCRIBE_REFUSALS[release]
    refuse_with(master, message)
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler, roles=["a-role", "b-role"], capabilities=[{"type": "MULTI_ROLE"}])
    with pytest.raises(PermissionRefusedError) as caught:
        driver.join()
    refused = caught.value
    assert driver.failure is refused
    assert isinstance(refused, PermissionDeniedError) and isinstance(refused, SubscriptionRefusedError)
    assert refused.mesos_message == message and refused.message == message and refused.status == 0
    rids = [(p.rid, p.action) for p in refused.permissions]
    assert rids == [
        ("dcos:mesos:master:framework:role:a-role", "create"),
        ("dcos:mesos:master:framework:role:b-role", "create"),
    ]
    assert refused.permission == refused.permissions[0]
    commands = [grant("dcos:mesos:master:framework:role:a-role"), grant("dcos:mesos:master:framework:role:b-role")]
    assert list(refused.grant_commands) == commands
    assert all(command in str(refused) for command in commands)
    # told as the driver tells its other fatal errors: error() once, with our text; and permissionDenied
    assert scheduler.errors == [str(refused)]
    assert scheduler.denied == [refused]
    assert refused in scheduler.auth_failures
    assert master.subscribes == 1  # not retried: it cannot heal
    assert not any(json.loads(r.body).get("type") == "TEARDOWN" for r in master.calls)


def test_an_authorizer_failure_on_subscribe_is_a_refusal_without_a_permission(master: MiniMaster) -> None:
    refuse_with(master, "Authorization failure: could not create ObjectApprovers for a framework: timeout")
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    with pytest.raises(PermissionRefusedError) as caught:
        driver.join()
    assert caught.value.permission is None and caught.value.permissions == ()
    assert scheduler.errors == [str(caught.value)]


def test_other_error_events_keep_pymesos_behaviour(master: MiniMaster) -> None:
    refuse_with(master, "Framework has been removed")
    scheduler = PermissionScheduler()
    driver = start_driver(master, scheduler)
    with pytest.raises(SubscriptionRefusedError) as caught:
        driver.join()
    assert type(caught.value) is SubscriptionRefusedError
    assert scheduler.errors == ["Framework has been removed"]  # pymesos passes the master's text
    assert scheduler.denied == []


# ---------------------------------------------------------------------------
# End to end: a strict FakeCluster whose master authorizes through the fake IAM
# ---------------------------------------------------------------------------

#: One Mesos of each release family: DC/OS 1.10 (Mesos 1.4) and DC/OS 2.2 (Mesos 1.11).
FAMILIES = ["1.4", "1.11"]
NOBODY = "dcos:mesos:master:task:user:nobody"


def cluster_driver(
    cluster: FakeCluster, scheduler: Any, account: Any, **framework: Any
) -> AuthenticatedSchedulerDriver:
    return create_driver(
        scheduler,
        framework_info(**framework),
        cluster.master_url,
        service_account=account,
        security_mode="strict",
        ca_bundle=cluster.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )


@pytest.mark.parametrize("mesos_version", FAMILIES)
def test_a_task_refused_by_a_strict_cluster_is_told_with_its_grant_command(ca: Any, mesos_version: str) -> None:
    with FakeCluster(
        "strict", tls=ca, mesos_version=mesos_version, heartbeat_interval=0.5, allocation_interval=0.1
    ) as cluster:
        account = cluster.create_service_account("launcher", roles=[ROLE], missing_permissions=[(NOBODY, "create")])
        scheduler = PermissionScheduler()
        scheduler.wanted = 1
        driver = cluster_driver(cluster, scheduler, account, role=ROLE)
        driver.start()
        try:
            scheduler.wait_for(lambda: len(scheduler.denied) == 1, what="permissionDenied")
        finally:
            stop(driver)
        [update] = scheduler.updates
        assert update["state"] == "TASK_ERROR" and update["reason"] == "REASON_TASK_UNAUTHORIZED"
        assert update["source"] == "SOURCE_MASTER" and "uuid" not in update
        [denied] = scheduler.denied
        assert denied.task_id == scheduler.launched[0] == update["task_id"]["value"]
        assert denied.mesos_message == update["message"]
        assert denied.permission is not None and (denied.permission.rid, denied.permission.action) == (NOBODY, "create")
        assert denied.grant_command == f"dcos security org users grant launcher {NOBODY} create"
        assert not cluster.master.calls_of_type("ACKNOWLEDGE")  # no uuid: nothing to acknowledge
        assert driver.failure is None
        cluster.check()


@pytest.mark.parametrize("mesos_version", FAMILIES)
def test_a_subscription_refused_by_a_strict_cluster_stops_the_driver(ca: Any, mesos_version: str) -> None:
    with FakeCluster("strict", tls=ca, mesos_version=mesos_version, heartbeat_interval=0.5) as cluster:
        account = cluster.create_service_account("registrar", roles=["dev"])
        scheduler = PermissionScheduler()
        driver = cluster_driver(cluster, scheduler, account, role="prod")
        driver.start()
        with pytest.raises(PermissionRefusedError) as caught:
            driver.join()
        refused = caught.value
        assert [(p.rid, p.action) for p in refused.permissions] == [("dcos:mesos:master:framework:role:prod", "create")]
        command = "dcos security org users grant registrar dcos:mesos:master:framework:role:prod create"
        assert refused.grant_commands == (command,) and command in str(refused)
        assert scheduler.errors == [str(refused)] and scheduler.denied == [refused]
        assert len(cluster.master.calls_of_type("SUBSCRIBE")) == 1 and not cluster.master.calls_of_type("TEARDOWN")
        cluster.check()
