"""The driver with ``zk://``, strict mode and TLS: it finds the leading master in a real
ZooKeeper (pymesos' detector, kazoo) and follows it when the leader's node goes."""

from __future__ import annotations

import _thread
import uuid
from typing import Any, List

import pytest

from mesos_auth import create_driver
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running


@pytest.fixture(autouse=True)
def main_thread_is_never_interrupted(monkeypatch):
    """pymesos re-raises driver errors in the main thread via SIGINT; we never may."""
    calls: List[Any] = []
    monkeypatch.setattr(_thread, "interrupt_main", lambda *args: calls.append(args))
    yield
    assert calls == [], "the driver interrupted the main thread"


def subscribed(master) -> bool:
    return any(f.state == "subscribed" for f in master.frameworks.values())


def test_the_driver_follows_the_leader_found_in_zookeeper(zookeeper, ca, iam, master_factory) -> None:
    path = f"/{uuid.uuid4().hex}/mesos"
    first = master_factory("strict")
    second = master_factory("strict")
    first.register_in_zookeeper(zookeeper.hosts, path)
    second.register_in_zookeeper(zookeeper.hosts, path)
    second.set_leader(first)  # as a Mesos follower: 307 to the leader
    scheduler = RecordingScheduler(tasks=1)
    driver = create_driver(
        scheduler,
        framework_info(),
        zookeeper.url(path),
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader from ZooKeeper")
        scheduler.wait_for(scheduler.finished)
        assert driver.master_address is not None and driver.master_address.scheme == "https"
        assert driver.master_address.port == first.port("https")
        first.set_leader(second)  # the leader steps down (its streams drop) and leaves the group
        second.become_leader()
        first.unregister_from_zookeeper()
        second.wait_for(lambda: subscribed(second), what="re-subscribed to the next leader")
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
        assert driver.master_address is not None and driver.master_address.port == second.port("https")
    [moved] = second.frameworks.values()
    assert moved.framework_id == scheduler.framework_ids[0]
    assert driver.failure is None and not first.calls_of_type("TEARDOWN")
