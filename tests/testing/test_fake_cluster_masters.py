"""FakeCluster with several masters in a real ZooKeeper: leadership, redirects, failover
and what a new leader recovers, with a real strict TLS driver following it through ``zk://``."""

from __future__ import annotations

import json
import uuid
from typing import List

import pytest
import requests
from kazoo.client import KazooClient

from mesos_auth import create_driver
from mesos_auth.testing import FakeCluster
from mesos_auth.testing.master.zookeeper import leader_node
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_info, running

pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


@pytest.fixture
def ha_cluster(zookeeper, tmp_path):
    path = f"/{uuid.uuid4().hex}/mesos"
    with FakeCluster(
        "strict", masters=3, zookeeper=zookeeper, zookeeper_path=path, directory=tmp_path, allocation_interval=0.05
    ) as cluster:
        yield cluster
        cluster.check()


def members(zookeeper, path: str) -> List[str]:
    client = KazooClient(zookeeper.hosts)
    client.start(timeout=30)
    try:
        return sorted(client.get_children(path))
    finally:
        client.stop()
        client.close()


def node_port(zookeeper, path: str, name: str) -> int:
    client = KazooClient(zookeeper.hosts)
    client.start(timeout=30)
    try:
        return int(json.loads(client.get(f"{path}/{name}")[0])["address"]["port"])
    finally:
        client.stop()
        client.close()


def subscribed(master, framework_id: str) -> bool:
    record = master.frameworks.get(framework_id)
    return record is not None and record.state == "subscribed"


def all_acknowledged(master) -> bool:
    return all(t.unacknowledged == 0 for t in master.task_records.values())


def test_three_masters_join_zookeeper_and_the_followers_redirect_to_the_leader(ha_cluster, zookeeper) -> None:
    path = ha_cluster.zookeeper_url.split("/", 3)[3]
    path = "/" + path
    assert ha_cluster.zookeeper_url == f"zk://{zookeeper.hosts}{path}"
    assert len(members(zookeeper, path)) == 3
    leader = ha_cluster.leader
    assert leader is ha_cluster.master and leader is ha_cluster.masters[0]
    assert node_port(zookeeper, path, leader_node(zookeeper.hosts, path)) == leader.port("https")
    token = ha_cluster.iam.issue_token(ha_cluster.create_service_account("svc").uid)
    for follower in ha_cluster.masters[1:]:
        answer = requests.post(
            follower.url + "/api/v1/scheduler",
            json={"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}},
            headers={"Authorization": f"token={token}"},
            verify=ha_cluster.ca_bundle,
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 307
        assert answer.headers["Location"] == f"//127.0.0.1:{leader.port('https')}/api/v1/scheduler"
    assert ha_cluster.environment()["MESOS_MASTER_URL"] == ha_cluster.zookeeper_url


def test_a_failover_moves_leadership_to_the_lowest_sequence_and_the_old_leader_rejoins(ha_cluster, zookeeper) -> None:
    path = "/" + ha_cluster.zookeeper_url.split("/", 3)[3]
    first, second, third = ha_cluster.masters
    assert ha_cluster.fail_over() is second
    assert ha_cluster.leader is second and ha_cluster.failovers == 1
    assert node_port(zookeeper, path, leader_node(zookeeper.hosts, path)) == second.port("https")
    assert len(members(zookeeper, path)) == 3  # the old leader joined again, last in line
    assert first.zookeeper_sequence > third.zookeeper_sequence > second.zookeeper_sequence
    assert ha_cluster.fail_over() is third
    assert ha_cluster.fail_over() is first  # around the group, as sequences grow
    assert ha_cluster.router.leader is first


def test_one_master_with_zookeeper_restarts_and_leads_again(zookeeper, tmp_path) -> None:
    with FakeCluster(
        "strict", zookeeper=zookeeper.hosts, zookeeper_path=f"/{uuid.uuid4().hex}", directory=tmp_path
    ) as c:
        before = c.master.zookeeper_sequence
        assert c.fail_over() is c.masters[0]
        assert c.master.zookeeper_sequence > before


def test_several_masters_need_zookeeper_and_simulated_agents(tmp_path) -> None:
    with pytest.raises(ValueError, match="need ZooKeeper"):
        FakeCluster("strict", masters=3, directory=tmp_path)
    with pytest.raises(ValueError, match="executors='simulated'"):
        FakeCluster("strict", masters=2, zookeeper="127.0.0.1:2181", executors="process", directory=tmp_path)
    with pytest.raises(ValueError, match="positive count"):
        FakeCluster("strict", masters=0, directory=tmp_path)
    with pytest.raises(ValueError, match="zookeeper_path"):
        FakeCluster("strict", zookeeper="zk://127.0.0.1:2181/mesos", directory=tmp_path)


def test_the_new_leader_recovers_frameworks_with_tasks_and_their_unacknowledged_updates(ha_cluster) -> None:
    """Mesos' registry holds no frameworks: a new leader learns those with tasks from its
    agents (Master::recoverFramework), FrameworkInfo and failover_timeout included."""
    first, second, _ = ha_cluster.masters
    account = ha_cluster.create_service_account("svc")
    scheduler = RecordingScheduler(tasks=2)
    scheduler.statusUpdate = lambda driver, status: None  # receives updates, never acknowledges them
    driver = create_driver(
        scheduler,
        framework_info(failover_timeout=3600.0),
        ha_cluster.zookeeper_url,
        service_account=account,
        security_mode="strict",
        ca_bundle=ha_cluster.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
        implicit_acknowledgements=False,
    )
    with running(driver):
        first.wait_for(
            lambda: sum(t.unacknowledged for t in first.task_records.values()) == 6, what="6 unacked updates"
        )
        [framework_id] = first.frameworks
        driver.stop(failover=True)  # the framework is away while the leader dies
        driver.join()
        ha_cluster.fail_over()
        [recovered] = second.frameworks.values()
        assert recovered.framework_id == framework_id and recovered.state == "recovered"
        assert recovered.failover_timeout == 3600.0
        assert sorted(t.unacknowledged for t in second.task_records.values()) == [3, 3]
        assert first.frameworks == {} and first.tasks == {}  # the old leader came back empty


def test_a_framework_follows_failovers_through_zookeeper_and_loses_no_update(ha_cluster) -> None:
    account = ha_cluster.create_service_account("svc")
    scheduler = RecordingScheduler(tasks=1)
    driver = create_driver(
        scheduler,
        framework_info(),
        ha_cluster.zookeeper_url,
        service_account=account,
        security_mode="strict",
        ca_bundle=ha_cluster.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with running(driver):
        scheduler.wait_for(scheduler.finished, what="the first task finished")
        framework_id = scheduler.framework_ids[0]
        for round_, expected_leader in enumerate((ha_cluster.masters[1], ha_cluster.masters[2], ha_cluster.masters[0])):
            scheduler.wanted += 1
            new = ha_cluster.fail_over()
            assert new is expected_leader
            new.wait_for(lambda new=new: subscribed(new, framework_id), what="re-subscribed with its id")
            # The driver's SUBSCRIBED callback may come after the master's record (a launch lost in
            # the failover finishes the wanted task at once, as TASK_LOST): wait for it too.
            scheduler.wait_for(
                lambda round_=round_: scheduler.kinds().count("reregistered") >= round_ + 1, what="reregistered"
            )
            scheduler.wait_for(scheduler.finished, what="a task launched through the new leader finished")
            new.wait_for(lambda new=new: all_acknowledged(new), what="every update acknowledged")
        assert driver.master_address is not None
        assert driver.master_address.port == ha_cluster.leader.port("https")
    assert scheduler.framework_ids == [framework_id]  # registered once, re-registered after each failover
    assert scheduler.kinds().count("reregistered") >= 3
    assert driver.failure is None
    assert not any(m.calls_of_type("TEARDOWN") for m in ha_cluster.masters)
