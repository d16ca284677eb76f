"""AuthenticatedOperatorMasterDriver against a strict FakeCluster with TLS: every read call
pymesos exposes, the operator event stream as a framework's tasks run, a 401 answered
by one fresh token, leader redirects, and no token in logs or repr."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

from mesos_auth import ConfigurationError, MasterCallError, ServiceAccount, TokenProvider
from mesos_auth.driver import AuthenticatedSchedulerDriver
from mesos_auth.operator import AuthenticatedOperatorMasterDriver
from mesos_auth.testing import FakeCluster, TestCA
from mesos_auth.testing.master import FakeMaster

from .driver.support import FAST_BACKOFF, RecordingScheduler, framework_info, running

DEADLINE = 30.0


@pytest.fixture(scope="module")
def ca(tmp_path_factory: Any) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("operator-ca"))


@pytest.fixture
def cluster(ca: TestCA, tmp_path: Any) -> Iterator[FakeCluster]:
    with FakeCluster("strict", tls=ca, directory=tmp_path, heartbeat_interval=0.5) as started:
        yield started
        started.check()


@pytest.fixture
def account(cluster: FakeCluster) -> ServiceAccount:
    return cluster.create_service_account("ops-tool")


def operator_driver(cluster: FakeCluster, account: ServiceAccount, operator: Any = None) -> Any:
    return AuthenticatedOperatorMasterDriver(
        operator,
        cluster.master_url,
        service_account=account,
        ca_bundle=cluster.ca_bundle,
        security_mode="strict",
        call_timeout=10.0,
        resubscribe_backoff=FAST_BACKOFF,
        environ={},
    )


class RecordingOperator:
    """pymesos' OperatorMaster callbacks, recorded."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self._changed = threading.Condition()

    def _note(self, *event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        end = time.monotonic() + DEADLINE
        with self._changed:
            while not predicate():
                assert time.monotonic() < end, f"not within {DEADLINE} s: {what}; saw {[e[0] for e in self.events]}"
                self._changed.wait(0.2)

    def subscribed(self, state: Dict[str, Any]) -> None:
        self._note("subscribed", state)

    def taskAdded(self, task: Dict[str, Any]) -> None:
        self._note("taskAdded", task["task_id"]["value"], task["state"])

    def taskUpdated(self, update: Dict[str, Any]) -> None:
        self._note("taskUpdated", update["status"]["task_id"]["value"], update["state"])

    def frameworkAdded(self, framework: Dict[str, Any]) -> None:
        self._note("frameworkAdded", framework["framework_info"]["id"]["value"])

    def frameworkUpdated(self, framework: Dict[str, Any]) -> None:
        self._note("frameworkUpdated", framework["framework_info"]["id"]["value"])

    def frameworkRemoved(self, info: Dict[str, Any]) -> None:
        self._note("frameworkRemoved", info["id"]["value"])

    def agentAdded(self, agent: Dict[str, Any]) -> None:
        self._note("agentAdded", agent)

    def agentRemoved(self, agent_id: str) -> None:
        self._note("agentRemoved", agent_id)


def test_every_read_call_is_authenticated_over_tls(cluster: FakeCluster, account: ServiceAccount) -> None:
    driver = operator_driver(cluster, account)
    assert driver.getHealth() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
    assert driver.getVersion()["get_version"]["version_info"]["version"] == cluster.master.mesos_version
    assert {f["name"] for f in driver.getFlags()["get_flags"]["flags"]} >= {"authenticate_http_readwrite"}
    assert "get_agents" in driver.getState()["get_state"]
    assert driver.getFrameworks()["type"] == "GET_FRAMEWORKS"
    assert driver.getTasks() == {"type": "GET_TASKS", "get_tasks": {}}
    assert len(driver.getAgents()["get_agents"]["agents"]) == 1
    assert driver.getMaster()["get_master"]["master_info"]["id"] == cluster.master.master_id
    assert driver.getExecutors()["type"] == "GET_EXECUTORS"
    for call in (driver.getRoles, driver.getWeights, driver.getMaintenanceStatus, driver.getQuota):
        assert call()["type"].startswith("GET_")
    with pytest.raises(MasterCallError) as refused:
        driver.markAgentGone("nope")  # not modelled by the fake: its 501, raised as pymesos' RuntimeError
    assert isinstance(refused.value, RuntimeError) and refused.value.status == 501
    operator_calls = [r for r in cluster.master.requests if r.path == "/api/v1"]
    assert len(operator_calls) == 14
    assert {(r.scheme, r.principal, r.headers.get("Authorization")) for r in operator_calls} == {
        ("https", "ops-tool", "token=***")
    }


def test_a_revoked_token_is_refreshed_once_and_the_call_sent_again(
    cluster: FakeCluster, account: ServiceAccount
) -> None:
    provider = TokenProvider(account, ca_bundle=cluster.ca_bundle, security_mode="strict")
    driver = AuthenticatedOperatorMasterDriver(
        None, cluster.master_url, token_provider=provider, ca_bundle=cluster.ca_bundle, security_mode="strict"
    )
    driver.getHealth()
    assert provider.login_count == 1
    cluster.iam.revoke_tokens("ops-tool")
    assert driver.getHealth()["get_health"]["healthy"] is True
    assert provider.login_count == 2
    statuses = [r.status for r in cluster.master.requests if r.path == "/api/v1"]
    assert statuses == [200, 401, 200]


def test_the_operator_sees_a_framework_and_its_task_run(cluster: FakeCluster, account: ServiceAccount) -> None:
    operator = RecordingOperator()
    driver = operator_driver(cluster, account, operator)
    driver.start()
    try:
        operator.wait_for(lambda: bool(operator.events) and operator.events[0][0] == "subscribed", "SUBSCRIBED")
        framework = cluster.create_service_account("fw")
        scheduler = RecordingScheduler(tasks=1)
        scheduler_driver = AuthenticatedSchedulerDriver(
            scheduler,
            framework_info(),
            cluster.master_url,
            service_account=framework,
            ca_bundle=cluster.ca_bundle,
            security_mode="strict",
            environ={},
        )
        with running(scheduler_driver):
            scheduler.wait_for(scheduler.finished, what="the task finished")
            task = scheduler.launched[0]
            operator.wait_for(lambda: ("taskUpdated", task, "TASK_FINISHED") in operator.events, "TASK_FINISHED")
        kinds = [e[:2] for e in operator.events]
        assert ("frameworkAdded", scheduler.framework_ids[0]) in kinds
        assert ("taskAdded", task) in kinds
        assert [e[2] for e in operator.events if e[0] == "taskUpdated"] == [
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_FINISHED",
        ]
    finally:
        driver.stop()
        driver.join()
    stream = [r for r in cluster.master.requests if r.call_type == "SUBSCRIBE" and r.path == "/api/v1"]
    assert stream and stream[0].principal == "ops-tool"


def test_the_stream_comes_back_after_the_master_drops_it(cluster: FakeCluster, account: ServiceAccount) -> None:
    operator = RecordingOperator()
    driver = operator_driver(cluster, account, operator)
    driver.start()
    try:
        operator.wait_for(lambda: len([e for e in operator.events if e[0] == "subscribed"]) == 1, "SUBSCRIBED")
        cluster.master.drop_streams()
        operator.wait_for(lambda: len([e for e in operator.events if e[0] == "subscribed"]) == 2, "re-subscribed")
    finally:
        driver.stop()
        driver.join()


def test_a_follower_redirects_calls_to_the_leader(ca: TestCA, cluster: FakeCluster, account: ServiceAccount) -> None:
    follower = FakeMaster(security_mode="strict", iam=cluster.iam, tls=ca, plain_http=False).start()
    try:
        follower.set_leader(cluster.master)
        driver = AuthenticatedOperatorMasterDriver(
            None, follower.url, service_account=account, ca_bundle=cluster.ca_bundle, security_mode="strict"
        )
        assert driver.getHealth()["get_health"]["healthy"] is True
        assert driver.master_address.port == cluster.master.port("https")
        assert [r.status for r in follower.requests] == [307]
    finally:
        follower.stop()


def test_start_needs_an_operator_and_the_master_may_come_from_the_environment(
    cluster: FakeCluster, account: ServiceAccount
) -> None:
    env = cluster.environment(account)
    driver = AuthenticatedOperatorMasterDriver(environ=env)
    assert driver.master_address is not None and driver.master_address.url == cluster.master_url
    assert driver.getHealth()["get_health"]["healthy"] is True
    with pytest.raises(ConfigurationError):
        driver.start()
    with pytest.raises(ConfigurationError):
        AuthenticatedOperatorMasterDriver(environ={"MESOS_AUTH_SECURITY_MODE": "disabled"})


def test_no_token_in_logs_or_repr(
    cluster: FakeCluster, account: ServiceAccount, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    driver = operator_driver(cluster, account, RecordingOperator())
    driver.getState()
    cluster.iam.revoke_tokens("ops-tool")
    driver.getHealth()
    token = driver.token_provider.token()
    assert token not in caplog.text
    assert token not in repr(driver) and "ops-tool" in repr(driver)


def test_the_event_stream_follows_the_leader_found_in_zookeeper(ca: TestCA, zookeeper: Any, tmp_path: Any) -> None:
    with FakeCluster(
        "strict",
        tls=ca,
        directory=tmp_path,
        heartbeat_interval=0.5,
        masters=3,
        zookeeper=zookeeper,
        zookeeper_path=f"/operator-{time.monotonic_ns()}/mesos",
    ) as ha:
        operator = RecordingOperator()
        driver = AuthenticatedOperatorMasterDriver(
            operator,
            ha.zookeeper_url,
            service_account=ha.create_service_account("ops-tool"),
            ca_bundle=ha.ca_bundle,
            security_mode="strict",
            call_timeout=10.0,
            resubscribe_backoff=FAST_BACKOFF,
            environ={},
        )
        driver.start()
        try:
            operator.wait_for(lambda: [e[0] for e in operator.events].count("subscribed") == 1, "SUBSCRIBED")
            assert driver.master_address.port == ha.leader.port("https")
            new = ha.fail_over()
            operator.wait_for(lambda: [e[0] for e in operator.events].count("subscribed") == 2, "re-subscribed")
            assert driver.master_address.port == new.port("https")
            assert driver.getHealth()["get_health"]["healthy"] is True
        finally:
            driver.stop()
            driver.join()
        ha.check()
