"""Unit-level checks of the driver's call path, with the connection mocked
(the wire itself is covered by the integration tests)."""

from __future__ import annotations

import json
from typing import Any, List

import pytest

from mesos_auth import AuthenticatedSchedulerDriver, MasterCallError, NotConnectedError
from mesos_auth.master_uri import MasterAddress


class FakeResponse:
    def __init__(self, status: int, body: bytes = b"", headers: Any = None) -> None:
        self.status, self._body, self._headers = status, body, headers or {}

    def read(self, amount: int = -1) -> bytes:
        return self._body if amount < 0 else self._body[:amount]

    def getheader(self, name: str, default: Any = None) -> Any:
        return self._headers.get(name, default)


class FakeConnection:
    def __init__(self, *responses: FakeResponse) -> None:
        self.responses: List[FakeResponse] = list(responses)
        self.requests: List[Any] = []
        self.sock = None

    def request(self, method: str, path: str, body: bytes, headers: Any) -> None:
        self.requests.append((method, path, json.loads(body) if body else None, dict(headers)))

    def getresponse(self) -> FakeResponse:
        return self.responses.pop(0)

    def close(self) -> None:
        pass


@pytest.fixture
def driver(monkeypatch) -> AuthenticatedSchedulerDriver:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    d = AuthenticatedSchedulerDriver(object(), {"id": {"value": "fw"}}, "127.0.0.1:1", security_mode="permissive")
    return d


def test_headers_default_is_not_shared_between_calls(driver) -> None:
    conn = FakeConnection(FakeResponse(202), FakeResponse(202))
    driver._conn = conn
    driver.stream_id = "stream-1"
    driver._send({"type": "REVIVE"})
    driver.stream_id = "stream-2"
    driver._send({"type": "SUPPRESS"})
    assert conn.requests[0][3]["Mesos-Stream-Id"] == "stream-1"
    assert conn.requests[1][3]["Mesos-Stream-Id"] == "stream-2"
    extra = {"X-Mine": "1"}
    conn.responses.append(FakeResponse(202))
    driver._send({"type": "REVIVE"}, headers=extra)
    assert extra == {"X-Mine": "1"}  # the caller's dict is not modified


def test_a_call_answered_307_points_the_driver_at_the_leader(monkeypatch) -> None:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    masters = "127.0.0.1:1,127.0.0.9:5050"  # the leader is a configured master: followed
    driver = AuthenticatedSchedulerDriver(object(), {"id": {"value": "fw"}}, masters, security_mode="permissive")
    driver._conn = FakeConnection(FakeResponse(307, b"", {"Location": "//127.0.0.9:5050/api/v1/scheduler"}))
    driver.stream_id = "current"
    with pytest.raises(MasterCallError) as caught:
        driver.reviveOffers()
    assert caught.value.status == 307 and caught.value.call == "REVIVE"
    assert isinstance(caught.value, RuntimeError)  # what pymesos raised, for old handlers
    assert driver.master_address == MasterAddress("http", "127.0.0.9", 5050)
    assert driver._resubscribe_requested


def test_a_call_answered_307_to_a_stranger_is_not_followed(driver) -> None:
    driver._conn = FakeConnection(FakeResponse(307, b"", {"Location": "//evil.example:5050/api/v1/scheduler"}))
    driver.stream_id = "current"
    with pytest.raises(MasterCallError):
        driver.reviveOffers()
    assert driver.master_address == MasterAddress("http", "127.0.0.1", 1)
    assert driver._resubscribe_requested  # re-subscribed where it is, not moved


def test_a_late_307_for_an_old_stream_changes_nothing(driver) -> None:
    class Racing(FakeConnection):
        def getresponse(self) -> FakeResponse:
            driver.stream_id = "new"  # a re-subscription happened while the call was in flight
            return super().getresponse()

    driver._conn = Racing(FakeResponse(307, b"", {"Location": "//127.0.0.9:5050/api/v1/scheduler"}))
    driver.stream_id = "old"
    with pytest.raises(MasterCallError):
        driver.reviveOffers()
    assert driver.master_address == MasterAddress("http", "127.0.0.1", 1)
    assert not driver._resubscribe_requested


def test_calls_before_subscription_raise_not_connected(driver) -> None:
    with pytest.raises(NotConnectedError, match="REVIVE"):
        driver._send({"type": "REVIVE", "framework_id": {"value": "fw"}})


def test_masters_found_in_zookeeper_use_https_in_strict_mode(iam, ca) -> None:
    driver = AuthenticatedSchedulerDriver(
        object(),
        {"user": "nobody", "name": "zk"},
        "zk://10.0.0.1:2181,10.0.0.2:2181/mesos",
        service_account=iam.create_account("svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
    )
    assert driver.master_address is None  # nothing known until ZooKeeper says
    driver.onNewMasterDetectedMessage(json.dumps({"address": {"ip": "10.0.0.7", "port": 5050}}))
    assert driver.master_address == MasterAddress("https", "10.0.0.7", 5050)
    driver.onNoMasterDetectedMessage()
    assert driver.master_address is None


def test_masters_found_in_zookeeper_use_http_otherwise(driver) -> None:
    driver.onNewMasterDetectedMessage(json.dumps({"address": {"ip": "10.0.0.8", "port": 5051}}).encode())
    assert driver.master_address == MasterAddress("http", "10.0.0.8", 5051)
