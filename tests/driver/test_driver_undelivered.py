"""Calls that cannot reach the master lose nothing: a launch gets TASK_LOST (TASK_DROPPED
when partition-aware) with REASON_MASTER_DISCONNECTED, as the Mesos driver sends
(src/sched/sched.cpp, acceptOffers); an acknowledgement is dropped quietly and the
master sends the update again after the driver re-subscribes."""

from __future__ import annotations

import logging
from typing import Any, List

import pytest

from mesos_auth import create_driver
from mesos_auth.undelivered import launched_task_ids, master_disconnected_status, task_id_of
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running

pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


def test_the_tasks_of_launch_and_launch_group_operations() -> None:
    operations = [
        {"type": "LAUNCH", "launch": {"task_infos": [{"task_id": {"value": "a"}}, {"task_id": {"value": "b"}}]}},
        {"type": "RESERVE", "reserve": {}},
        {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [{"task_id": {"value": "c"}}]}}},
        {"type": "LAUNCH", "launch": None},
        "not an operation",
    ]
    assert launched_task_ids(operations) == [{"value": "a"}, {"value": "b"}, {"value": "c"}]
    assert launched_task_ids(None) == []


def test_the_status_is_the_one_the_mesos_driver_makes() -> None:
    status = master_disconnected_status({"value": "a"}, partition_aware=False)
    assert {k: v for k, v in status.items() if k != "timestamp"} == {
        "task_id": {"value": "a"},
        "state": "TASK_LOST",
        "source": "SOURCE_MASTER",
        "reason": "REASON_MASTER_DISCONNECTED",
        "message": "Master disconnected",
    }
    assert "uuid" not in status  # nothing to acknowledge
    assert master_disconnected_status({"value": "a"}, partition_aware=True)["state"] == "TASK_DROPPED"
    assert task_id_of(status) == "a" and task_id_of({}) == "?"


class LaunchIntoTheVoid(RecordingScheduler):
    """The master goes down between its offer and the framework's launch."""

    def __init__(self, master: Any) -> None:
        super().__init__(tasks=1)
        self.master = master
        self.lost: List[Any] = []

    def resourceOffers(self, driver: Any, offers: List[Any]) -> None:
        if not self.launched:
            self.master.go_down()
        super().resourceOffers(driver, offers)

    def statusUpdate(self, driver: Any, status: Any) -> None:
        if status["state"] in ("TASK_LOST", "TASK_DROPPED"):
            self.lost.append(dict(status))
            self.master.come_up()
        super().statusUpdate(driver, status)


@pytest.mark.parametrize("partition_aware", [False, True])
def test_a_launch_that_cannot_reach_the_master_is_reported_lost(
    partition_aware, ca, iam, master_factory, caplog
) -> None:
    master = master_factory("strict")
    scheduler = LaunchIntoTheVoid(master)
    extra = {"capabilities": [{"type": "PARTITION_AWARE"}]} if partition_aware else {}
    driver = create_driver(
        scheduler,
        framework_info(**extra),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with caplog.at_level(logging.WARNING, logger="mesos_auth"), running(driver):
        scheduler.wait_for(lambda: scheduler.lost, what="the lost launch reported")
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="re-subscribed once the master is back")
    [lost] = scheduler.lost
    assert lost["task_id"]["value"] == scheduler.launched[0]
    assert lost["state"] == ("TASK_DROPPED" if partition_aware else "TASK_LOST")
    assert lost["reason"] == "REASON_MASTER_DISCONNECTED" and lost["message"] == "Master disconnected"
    assert master.tasks == {}  # the master never saw the launch
    assert driver.failure is None
    assert "did not reach the master" in caplog.text
    assert "callback raised" not in caplog.text


class AcknowledgeIntoTheVoid(RecordingScheduler):
    """The master goes down while the framework handles its first update."""

    def __init__(self, master: Any) -> None:
        super().__init__(tasks=1)
        self.master = master
        self.downed = False

    def statusUpdate(self, driver: Any, status: Any) -> None:
        super().statusUpdate(driver, status)
        if not self.downed:
            self.downed = True
            self.master.go_down()  # the implicit acknowledgement that follows cannot be sent
            self.master.come_up()


def test_an_acknowledgement_that_cannot_be_sent_is_quiet_and_the_update_comes_again(
    ca, iam, master_factory, caplog
) -> None:
    master = master_factory("strict")
    scheduler = AcknowledgeIntoTheVoid(master)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with caplog.at_level(logging.WARNING, logger="mesos_auth"), running(driver):
        scheduler.wait_for(scheduler.finished, what="the task finished")
        master.wait_for(
            lambda: all(t.unacknowledged == 0 for t in master.task_records.values()), what="every update acknowledged"
        )
    assert "callback raised" not in caplog.text
    assert driver.failure is None
