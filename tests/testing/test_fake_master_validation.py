"""FakeMaster validates ACCEPT as the Mesos of DC/OS does: offers, tasks, task groups and
executors, with Mesos' texts, reasons and order of checks (src/master/validation.cpp),
executor resources charged once per agent, and the release picked by ``mesos_version``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from mesos_auth.testing.master import FakeMaster, ManualClock

from .test_fake_master_support import Client, Subscription, launch, offers_of, serve, subscribed_framework, task_info

AGENT = {"cpus": 2.0, "mem": 1024.0, "disk": 100.0}


def scalar(name: str, value: float) -> Dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def executor(executor_id: str = "e1", kind: str = "CUSTOM", cpus: float = 0.1, mem: float = 32.0) -> Dict[str, Any]:
    info: Dict[str, Any] = {
        "executor_id": {"value": executor_id},
        "type": kind,
        "resources": [scalar("cpus", cpus), scalar("mem", mem), scalar("disk", 10.0)],
    }
    if kind == "CUSTOM":
        info["command"] = {"value": "./executor"}
    return info


def with_executor(task: Dict[str, Any], info: Dict[str, Any]) -> Dict[str, Any]:
    task = dict(task)
    del task["command"]
    task["executor"] = info
    return task


def master_error(sub: Subscription, reason: str = "REASON_TASK_INVALID") -> str:
    """The next update must be a master-made TASK_ERROR with ``reason``; returns its message."""
    status = sub.updates(1)[0]
    assert (status["state"], status["reason"], status["source"]) == ("TASK_ERROR", reason, "SOURCE_MASTER")
    assert "uuid" not in status
    message: str = status["message"]
    return message


def group_accept(offer: Dict[str, Any], tasks: List[Dict[str, Any]], info: Dict[str, Any]) -> Dict[str, Any]:
    group = {"executor": info, "task_group": {"tasks": tasks}}
    return {"offer_ids": [offer["id"]], "operations": [{"type": "LAUNCH_GROUP", "launch_group": group}]}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def master(clock: ManualClock) -> Any:
    with serve(agents=[AGENT], clock=clock, task_states=("TASK_RUNNING",)) as fake:
        yield fake


@pytest.fixture
def sub_offer(master: FakeMaster) -> Any:
    sub, event = subscribed_framework(master)
    yield sub, offers_of(event)[0]
    sub.close()


# -- tasks ------------------------------------------------------------------------------


def test_a_task_needs_exactly_one_of_command_and_executor(sub_offer: Any) -> None:
    sub, offer = sub_offer
    both = dict(task_info("both", offer), executor=executor())
    neither = task_info("neither", offer)
    del neither["command"]
    launch(sub, offer, both, neither)
    expected = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    assert [master_error(sub), master_error(sub)] == [expected, expected]


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        ("", "ID must not be empty"),
        ("a/b", "'a/b' contains invalid characters"),
        ("tab\there", "'tab\there' contains invalid characters"),
        ("..", "'..' is disallowed"),
        ("x" * 256, "ID must not be greater than 255 characters"),
    ],
)
def test_task_ids_follow_mesos_id_rules(sub_offer: Any, task_id: str, message: str) -> None:
    sub, offer = sub_offer
    task = task_info("t", offer)
    task["task_id"] = {"value": task_id}
    launch(sub, offer, task)
    assert master_error(sub) == message


def test_checks_run_in_mesos_order(sub_offer: Any) -> None:
    sub, offer = sub_offer
    task = task_info("a/b", offer, cpus=64.0)
    task["agent_id"] = {"value": "elsewhere"}
    launch(sub, offer, task)
    assert master_error(sub) == "'a/b' contains invalid characters"  # the id comes before the agent


def test_a_duplicate_id_in_one_accept_is_refused_and_the_first_task_runs(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, task_info("t1", offer), task_info("t1", offer))
    assert master_error(sub) == "Task has duplicate ID: t1"
    assert sub.updates(1)[0]["state"] == "TASK_RUNNING"
    assert master.tasks["t1"] == ["TASK_STAGING", "TASK_RUNNING"]


def test_a_task_for_another_agent_is_refused(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    task = task_info("t1", offer)
    task["agent_id"] = {"value": "elsewhere"}
    launch(sub, offer, task)
    agent = offer["agent_id"]["value"]
    assert master_error(sub) == f"Task uses invalid agent elsewhere while agent {agent} is expected"


def test_a_task_without_resources_is_refused(sub_offer: Any) -> None:
    sub, offer = sub_offer
    task = task_info("t1", offer)
    task["resources"] = []
    launch(sub, offer, task)
    assert master_error(sub) == "Task uses no resources"


def test_too_many_resources_are_refused_with_mesos_resource_text(sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, task_info("big", offer, cpus=64.0, mem=128.0))
    assert master_error(sub) == (
        "Total resources cpus(allocated: *):64; mem(allocated: *):128 required by task and its executor"
        " is more than available cpus(allocated: *):2; mem(allocated: *):1024; disk(allocated: *):100"
    )


def test_a_negative_resource_fails_every_task_of_its_launch(sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, task_info("ok", offer), task_info("bad", offer, cpus=-1.0))
    expected = "Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0"
    assert [master_error(sub), master_error(sub)] == [expected, expected]


def test_a_launch_with_an_id_is_refused(sub_offer: Any) -> None:
    sub, offer = sub_offer
    operation = {"type": "LAUNCH", "id": {"value": "op"}, "launch": {"task_infos": [task_info("t1", offer)]}}
    sub.call("ACCEPT", {"offer_ids": [offer["id"]], "operations": [operation]})
    assert master_error(sub) == "The `id` field cannot be set on LAUNCH operations"


def test_a_custom_executor_needs_a_command(sub_offer: Any) -> None:
    sub, offer = sub_offer
    info = executor()
    del info["command"]
    launch(sub, offer, with_executor(task_info("t1", offer), info))
    assert master_error(sub) == "'ExecutorInfo.command' must be set for 'CUSTOM' executor"


def test_a_launch_executor_must_be_custom(sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, with_executor(task_info("t1", offer), executor(kind="DEFAULT")))
    assert master_error(sub) == "'ExecutorInfo.type' must be 'CUSTOM'"


# -- executors ---------------------------------------------------------------------------


def test_an_executor_is_charged_once_per_agent_and_freed_with_its_last_task(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    info = executor(cpus=0.1, mem=32.0)
    launch(sub, offer, with_executor(task_info("t1", offer), info), with_executor(task_info("t2", offer), info))
    assert {s["state"] for s in sub.updates(2)} == {"TASK_RUNNING"}
    record = master.executors["e1"]
    assert (record.task_ids, record.resources) == (("t1", "t2"), {"cpus": 0.1, "mem": 32.0, "disk": 10.0})
    agent_id = offer["agent_id"]["value"]
    # 2 cpus - 2 x 0.5 (tasks) - 0.1 (the executor, once) = 0.9 left over, given back.
    assert master.agents[agent_id].free == {"cpus": 0.9, "mem": 1024.0 - 256.0 - 32.0, "disk": 90.0}

    sub.call("KILL", {"task_id": {"value": "t1"}})
    assert sub.updates(1)[0]["state"] == "TASK_KILLED"
    assert "e1" in master.executors
    sub.call("KILL", {"task_id": {"value": "t2"}})
    assert sub.updates(1)[0]["state"] == "TASK_KILLED"
    master.wait_for(lambda: "e1" not in master.executors)
    assert master.agents[agent_id].free == AGENT


def test_executor_updates_name_the_executor(sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, with_executor(task_info("t1", offer), executor()))
    status = sub.updates(1)[0]
    assert (status["source"], status["executor_id"]) == ("SOURCE_EXECUTOR", {"value": "e1"})


def test_an_executor_id_reused_with_another_info_is_refused(clock: ManualClock, sub_offer: Any) -> None:
    sub, offer = sub_offer
    launch(sub, offer, with_executor(task_info("t1", offer), executor(mem=32.0)))
    sub.updates(1)
    clock.advance(1.0)  # the unused rest comes back at the next batch
    again = offers_of(sub.until("OFFERS"))[0]
    launch(sub, again, with_executor(task_info("t2", again), executor(mem=64.0)))
    message = master_error(sub)
    assert message.startswith(
        "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.\n"
        "------------------------------------------------------------\nExisting ExecutorInfo:\n"
    )


# -- task groups -------------------------------------------------------------------------


def test_a_task_group_executor_needs_minimum_cpus(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    info = executor(kind="DEFAULT")
    info["resources"] = []
    tasks = [task_info("g1", offer), task_info("g2", offer)]
    sub.call("ACCEPT", group_accept(offer, tasks, info))
    expected = "Executor 'e1' uses less CPUs (None) than the minimum required (0.01)"
    reason = "REASON_TASK_GROUP_INVALID"
    assert [master_error(sub, reason), master_error(sub, reason)] == [expected, expected]
    assert master.executors == {}


def test_a_task_group_executor_needs_minimum_memory(sub_offer: Any) -> None:
    sub, offer = sub_offer
    sub.call("ACCEPT", group_accept(offer, [task_info("g1", offer)], executor(kind="DEFAULT", mem=16.0)))
    expected = "Executor 'e1' uses less memory (16MB) than the minimum required (32MB)"
    assert master_error(sub, "REASON_TASK_GROUP_INVALID") == expected


def test_a_task_group_names_the_invalid_task(sub_offer: Any) -> None:
    sub, offer = sub_offer
    tasks = [task_info("g1", offer), task_info("a/b", offer)]
    sub.call("ACCEPT", group_accept(offer, tasks, executor(kind="DEFAULT")))
    expected = "Task 'a/b' is invalid: 'a/b' contains invalid characters"
    assert master_error(sub, "REASON_TASK_GROUP_INVALID") == expected


def test_a_task_group_executor_is_charged_once(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    tasks = [task_info("g1", offer), task_info("g2", offer)]
    sub.call("ACCEPT", group_accept(offer, tasks, executor(kind="DEFAULT")))
    assert {s["state"] for s in sub.updates(2)} == {"TASK_RUNNING"}
    assert master.task_records["g1"].resources == {"cpus": 0.5, "mem": 128.0}  # not the executor's too
    assert master.executors["e1"].task_ids == ("g1", "g2")


# -- offers ------------------------------------------------------------------------------


def test_duplicate_offers_lose_every_task(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    payload = {
        "offer_ids": [offer["id"], offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_info("t1", offer)]}}],
    }
    sub.call("ACCEPT", payload)
    status = sub.updates(1)[0]
    assert (status["state"], status["reason"]) == ("TASK_LOST", "REASON_INVALID_OFFERS")
    offer_id = offer["id"]["value"]
    assert status["message"] == f"Task launched with invalid offers: Duplicate offer {offer_id} in offer list"
    assert master.offers == {}  # the valid offer is discarded, to come back at the next batch


def test_another_frameworks_offer_is_refused(master: FakeMaster, sub_offer: Any) -> None:
    sub, offer = sub_offer
    other = Client(master).subscribe()
    other.subscribed()
    launch(other, offer, task_info("t1", offer))
    status = other.updates(1)[0]
    expected = (
        f"Task launched with invalid offers: Offer {offer['id']['value']} has invalid framework"
        f" {sub.framework_id} while framework {other.framework_id} is expected"
    )
    assert (status["state"], status["message"]) == ("TASK_LOST", expected)
    other.close()


def test_offers_of_two_agents_cannot_be_aggregated() -> None:
    with serve(agents=[AGENT, AGENT], clock=ManualClock()) as master:
        sub, event = subscribed_framework(master)
        first, second = offers_of(event)
        payload = {"offer_ids": [first["id"], second["id"]], "operations": []}
        sub.call(
            "ACCEPT", dict(payload, operations=[{"type": "LAUNCH", "launch": {"task_infos": [task_info("t", first)]}}])
        )
        message = sub.updates(1)[0]["message"]
        assert message == (
            "Task launched with invalid offers: Aggregated offers must belong to one single agent."
            f" Offer {second['id']['value']} uses agent {second['agent_id']['value']}"
            f" and agent {first['agent_id']['value']}"
        )
        sub.close()


# -- releases ----------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "version"), [("1.4", "1.4.4"), ("1.10.1", "1.10.1"), ("1.11", "1.11.0")])
def test_mesos_version_picks_a_release_and_version_reports_it(given: str, version: str) -> None:
    with serve(mesos_version=given, agents=0) as master:
        reply = Client(master).version()
        body = json.loads(reply.body)
        assert (body["version"], body["git_tag"]) == (version, version)
        assert len(body["git_sha"]) == 40
        assert master.mesos_version == version
        sub = Client(master).subscribe()
        assert sub.subscribed()["subscribed"]["master_info"]["version"] == version
        sub.close()


@pytest.mark.parametrize("version", ["1.6.0", "1.12", "2.2", "", "latest"])
def test_unknown_mesos_versions_are_refused_naming_the_allowed_ones(version: str) -> None:
    with pytest.raises(ValueError, match=r"1\.4\.4 \(DC/OS 1\.10\).*1\.11\.0 \(DC/OS 2\.2\)"):
        FakeMaster(mesos_version=version)


def test_mesos_1_4_prints_executor_memory_in_plain_megabytes() -> None:
    with serve(agents=[AGENT], clock=ManualClock(), mesos_version="1.4") as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        sub.call("ACCEPT", group_accept(offer, [task_info("g1", offer)], executor(kind="DEFAULT", mem=16.0)))
        expected = "Executor 'e1' uses less memory (16) than the minimum required (32MB)"
        assert master_error(sub, "REASON_TASK_GROUP_INVALID") == expected
        sub.close()


def test_resource_limits_are_checked_from_mesos_1_10_on() -> None:
    for version, expected in (("1.9", None), ("1.10", "Only cpus and mem may be included in a task's resource limits")):
        with serve(agents=[AGENT], clock=ManualClock(), mesos_version=version, task_states=("TASK_RUNNING",)) as master:
            sub, event = subscribed_framework(master)
            offer = offers_of(event)[0]
            task = dict(task_info("t1", offer), limits={"disk": {"value": 1.0}})
            launch(sub, offer, task)
            status = sub.updates(1)[0]
            assert status.get("message") == expected, version
            sub.close()
