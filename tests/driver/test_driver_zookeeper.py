"""The driver with ``zk://``, strict mode and TLS: it finds the leading master in a real
ZooKeeper (``mesos_auth.zookeeper_detector``, on kazoo) and follows it whatever
ZooKeeper and the masters do: a leader change, ZooKeeper restarting (a short outage,
and one longer than the session timeout), its own session expiring, a leader that
stays in ZooKeeper but cannot be reached, ZooKeeper unreachable when the driver
starts, and a group node that does not exist yet."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from typing import Any, Callable, Iterator

import pytest

from mesos_auth import RetryPolicy, create_driver
from mesos_auth.testing.master.zookeeper import SESSION_TIMEOUT, leader_node
from mesos_auth.testing.pytest_plugin import running_zookeeper
from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable, free_port
from mesos_auth.zookeeper_detector import UNREACHABLE_WARNING_AFTER, leader_of, master_address, parse_zookeeper_url
from tests.driver.support import DEADLINE, FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running

#: Re-subscription pauses far longer than a test: only a new leader from ZooKeeper can end one early.
SLOW_BACKOFF = RetryPolicy(initial_delay=20.0, backoff=2.0, max_delay=20.0, jitter=0.0, deadline=3600)
#: A JWT: its header and claims are base64url JSON objects, so both begin with "eyJ".
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.")


pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


@pytest.fixture
def own_zookeeper() -> Iterator[ZooKeeperServer]:
    """A ZooKeeper of the test's own, to stop and restart without disturbing the session's."""
    with running_zookeeper() as server:
        yield server


@pytest.fixture
def logs(caplog) -> Any:
    caplog.set_level(logging.DEBUG, logger="mesos_auth")
    return caplog


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> float:
    """Wait for ``predicate``; the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def subscribed(master) -> bool:
    return any(f.state == "subscribed" for f in master.frameworks.values())


def zookeeper_sessions(server: ZooKeeperServer) -> int:
    """Clients connected to ``server`` (its ``stat`` four-letter word; our own connection not counted)."""
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"stat")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    except OSError:
        return 0
    found = re.search(rb"^Connections: (\d+)$", answer, re.MULTILINE)
    return int(found.group(1)) - 1 if found else 0


def pair_of_masters(master_factory, hosts: str, path: str):
    """Two strict TLS masters in the ZooKeeper group ``path``: the first leads, the second follows it."""
    first = master_factory("strict")
    second = master_factory("strict")
    first.register_in_zookeeper(hosts, path)
    second.register_in_zookeeper(hosts, path)
    second.set_leader(first)
    return first, second


def zk_driver(scheduler, iam, ca, url: str, **options: Any):
    options.setdefault("resubscribe_backoff", FAST_BACKOFF)
    return create_driver(
        scheduler,
        framework_info(),
        url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        **options,
    )


def hand_over(first, second) -> float:
    """The leader goes down (connections reset) and leaves the group; ``second`` leads.
    Only ZooKeeper can tell the driver: nothing answers at the old address to redirect it.
    Returns the moment the node went."""
    first.go_down()
    second.become_leader()
    first.unregister_from_zookeeper()
    return time.monotonic()


def moved_to(second, scheduler, driver, started: float) -> float:
    """Wait until the driver re-subscribed to ``second`` with its framework id; seconds since ``started``."""
    second.wait_for(lambda: subscribed(second), what="re-subscribed to the next leader")
    took = time.monotonic() - started
    [moved] = second.frameworks.values()
    assert moved.framework_id == scheduler.framework_ids[0]
    scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
    assert driver.master_address is not None and driver.master_address.port == second.port("https")
    return took


def assert_healthy(driver, *masters) -> None:
    assert driver.failure is None
    assert driver._stream_thread is not None and driver._stream_thread.is_alive()
    for master in masters:
        assert not master.calls_of_type("TEARDOWN")


def assert_no_secrets(text: str, driver, *more: str) -> None:
    token = driver.token_provider.header()[len("token=") :]
    assert token not in text and token.rsplit(".", 1)[-1] not in text
    assert not _JWT.search(text), "a token-shaped string was logged"
    pem = driver.token_provider.account.to_info()["private_key"]
    assert not any(line in text for line in pem.splitlines() if line and not line.startswith("-----"))
    for secret in more:
        assert secret not in text


def figure(name: str, seconds: float) -> None:
    print(f"\nFIGURE {name}: {seconds:.2f} s")


# -- the leader rule and the URL, as Mesos -------------------------------------------------


def test_the_leader_is_the_lowest_sequence_numerically_as_mesos() -> None:
    assert leader_of(["json.info_0000000010", "json.info_0000000009", "log_replicas"]) == "json.info_0000000009"
    # pymesos compares names as strings: "info_..." < "json.info_..." whatever the numbers
    assert leader_of(["json.info_0000000002", "info_0000000005"]) == "json.info_0000000002"
    assert leader_of(["log_replicas", "zookeeper"]) is None
    assert leader_of([]) is None


def test_the_address_is_the_master_info_ip_and_port_else_its_pid() -> None:
    info = b'{"pid":"master@10.0.0.2:5050","address":{"hostname":"m1","ip":"10.0.0.1","port":5050}}'
    assert master_address("json.info_0000000001", info) == "10.0.0.1:5050"
    assert master_address("json.info_0000000001", b'{"pid":"master@10.0.0.2:5051"}') == "10.0.0.2:5051"
    assert master_address("0000000001", b"master@[fd00::1]:5050") == "[fd00::1]:5050"
    assert master_address("json.info_1", b'{"address":{"ip":"fd00::1","port":5050}}') == "[fd00::1]:5050"
    for node, data in [("json.info_1", b"{"), ("json.info_1", b"{}"), ("info_1", b"\x08\x01"), ("json.info_1", None)]:
        with pytest.raises(ValueError):
            master_address(node, data)


def test_the_url_is_split_as_mesos_and_its_credentials_never_shown() -> None:
    url = parse_zookeeper_url("zk://jane:s3cret@zk1:2181,zk2:2181/mesos/")
    assert (url.servers, url.path, url.credentials) == ("zk1:2181,zk2:2181", "/mesos", "jane:s3cret")
    assert str(url) == "zk://***@zk1:2181,zk2:2181/mesos" and "s3cret" not in repr(url)
    assert parse_zookeeper_url("zk://zk1:2181").path == "/"
    assert parse_zookeeper_url("zoo://zk1:2181/a/b").path == "/a/b"


# -- leader changes and ZooKeeper restarting -------------------------------------------------------


def test_the_driver_follows_the_leader_found_in_zookeeper(zookeeper, ca, iam, master_factory) -> None:
    path = f"/{uuid.uuid4().hex}/mesos"
    first, second = pair_of_masters(master_factory, zookeeper.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path))
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


def test_a_zookeeper_restart_keeps_the_subscription_and_the_watch(own_zookeeper, ca, iam, master_factory, logs):
    """``restart()``: about a second down. Every session survives (ZooKeeper restores them with a
    fresh timeout and the clients come back in time): the stream is never touched, and a leader
    change made after the restart reaches the driver through the re-registered watch."""
    zk, path = own_zookeeper, "/mesos"
    first, second = pair_of_masters(master_factory, zk.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zk.url(path))
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader")
        scheduler.wait_for(scheduler.finished)
        detector, session = driver.detector, driver.detector.session_id
        subscriptions = len(first.calls_of_type("SUBSCRIBE"))
        zk.restart()
        restarted = time.monotonic()
        wait_until(lambda: detector.reconnections >= 1, "the detector reconnected")  # twice on a loaded machine
        figure("detector back after ZooKeeper restart()", time.monotonic() - restarted)
        wait_until(lambda: zookeeper_sessions(zk) == 3, "the masters' memberships reconnected")
        assert detector.session_id == session and detector.sessions == 1, "the session survived"
        assert len(first.calls_of_type("SUBSCRIBE")) == subscriptions and subscribed(first)
        assert "disconnected" not in scheduler.kinds()

        figure("leader followed after its node went", moved_to(second, scheduler, driver, hand_over(first, second)))
        assert_healthy(driver, first, second)
    assert "the session survived" in logs.text and "lost the connection to ZooKeeper" in logs.text
    assert_no_secrets(logs.text, driver)


def test_a_zookeeper_outage_longer_than_the_session_timeout(own_zookeeper, ca, iam, master_factory, logs):
    """ZooKeeper down longer than a session timeout, the masters rejoining as Mesos masters
    do (their old sessions given up, new nodes once it is back; the old nodes stay until
    their sessions expire, ~10 s after the restart). The driver stays subscribed to its
    master all along; its detector keeps its session (it reconnects within a second of
    the restart); a leader change made afterwards is followed."""
    zk, path = own_zookeeper, "/mesos"
    first, second = pair_of_masters(master_factory, zk.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zk.url(path))
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader")
        scheduler.wait_for(scheduler.finished)
        detector, session = driver.detector, driver.detector.session_id
        subscriptions = len(first.calls_of_type("SUBSCRIBE"))
        old_leader_node = leader_node(zk.hosts, path)

        zk.stop(keep_data=True)  # the port and the data stay (what restart() does in one go)
        stopped = time.monotonic()
        first.unregister_from_zookeeper()  # while down: the node stays until its session expires
        second.unregister_from_zookeeper()
        wait_until(lambda: "unreachable for" in logs.text, "the detector warned that ZooKeeper is unreachable")
        threading.Event().wait(max(0.0, SESSION_TIMEOUT + 1.0 - (time.monotonic() - stopped)))  # the outage
        zk.start()
        restarted = time.monotonic()
        figure("ZooKeeper outage", restarted - stopped)
        wait_until(lambda: detector.reconnections >= 1, "the detector reconnected")  # twice on a loaded machine
        figure("detector back after the long outage", time.monotonic() - restarted)
        assert detector.session_id == session and detector.sessions == 1, "the detector's session survived"
        first.register_in_zookeeper(zk.hosts, path)  # the masters come back with new nodes
        second.register_in_zookeeper(zk.hosts, path)
        # The old nodes go when their sessions end: at once if a membership got its session back
        # before it was given up, else when the session expires (~10 s): either is a master's life.
        wait_until(lambda: leader_node(zk.hosts, path) != old_leader_node, "the old nodes gone")
        figure("old nodes gone after the restart", time.monotonic() - restarted)
        assert detector.leader == f"127.0.0.1:{first.port('https')}"
        assert len(first.calls_of_type("SUBSCRIBE")) == subscriptions and subscribed(first)

        figure("leader followed after its node went", moved_to(second, scheduler, driver, hand_over(first, second)))
        assert_healthy(driver, first, second)
    assert re.search(
        r"ZooKeeper zk://127\.0\.0\.1:\d+/mesos unreachable for \d+ s; keeping the leading master", logs.text
    )
    assert_no_secrets(logs.text, driver)


def test_the_detector_watches_again_when_its_session_expires(zookeeper, ca, iam, master_factory, logs) -> None:
    """The session is expired by the server (a client takes it over and closes it, as
    ZooKeeper's own tests do): a new session, the watch set again, the stream untouched."""
    from kazoo.client import KazooClient

    path = f"/{uuid.uuid4().hex}/mesos"
    first, second = pair_of_masters(master_factory, zookeeper.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path))
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader")
        detector = driver.detector
        subscriptions = len(first.calls_of_type("SUBSCRIBE"))
        for _ in range(3):  # the detector may win its session back before the thief closes it
            thief = KazooClient(zookeeper.hosts, client_id=detector._client.client_id)
            thief.start(timeout=30)
            thief.stop()
            thief.close()
            try:
                wait_until(lambda: detector.sessions == 2, "a new session", timeout=5)
                break
            except AssertionError:
                continue
        assert detector.sessions == 2
        assert len(first.calls_of_type("SUBSCRIBE")) == subscriptions and subscribed(first)
        figure("leader followed after its node went", moved_to(second, scheduler, driver, hand_over(first, second)))
        assert_healthy(driver, first, second)
    assert "with a new session (the previous one expired)" in logs.text


# -- a leader in ZooKeeper that cannot be reached -----------------------------------------------------


def test_an_unreachable_leader_is_retried_until_zookeeper_names_another(zookeeper, ca, iam, master_factory, logs):
    path = f"/{uuid.uuid4().hex}/mesos"
    first, second = pair_of_masters(master_factory, zookeeper.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path))
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader")
        scheduler.wait_for(scheduler.finished)
        first.go_down()  # its node stays: the driver only knows this address
        failed = f"subscription to https://127.0.0.1:{first.port('https')} failed"
        wait_until(lambda: logs.text.count(failed) >= 5, "five failed subscriptions to the unreachable leader")
        assert_healthy(driver, first)
        assert driver.master_address is not None and driver.master_address.port == first.port("https")
        second.become_leader()
        first.unregister_from_zookeeper()  # the node goes (the session ends, or expires)
        figure("unreachable leader replaced (fast backoff)", moved_to(second, scheduler, driver, time.monotonic()))
        assert_healthy(driver, first, second)
    assert "disconnected" in scheduler.kinds() and not scheduler.errors
    assert_no_secrets(logs.text, driver)


def test_a_new_leader_cuts_the_backoff_pause_short(zookeeper, ca, iam, master_factory, logs) -> None:
    """Pauses of 20 s between re-subscriptions: the new leader is still tried at once."""
    path = f"/{uuid.uuid4().hex}/mesos"
    first, second = pair_of_masters(master_factory, zookeeper.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path), resubscribe_backoff=SLOW_BACKOFF)
    with running(driver):
        first.wait_for(lambda: subscribed(first), what="subscribed to the leader")
        scheduler.wait_for(lambda: "registered" in scheduler.kinds(), what="registered")
        first.go_down()
        wait_until(lambda: "re-subscribing to https://127.0.0.1" in logs.text, "a backoff pause began")
        started = hand_over(first, second)
        took = moved_to(second, scheduler, driver, started)
        figure("leader followed during a 20 s backoff pause", took)
        assert took < 10.0
        assert_healthy(driver, first, second)


def test_a_hung_leader_is_left_as_soon_as_zookeeper_names_another(zookeeper, ca, iam, master_factory, logs):
    """A leader that accepts connections and says nothing: the subscription in flight (it may
    wait ``call_timeout``, 30 s) is cut the moment ZooKeeper names another leader."""
    path = f"/{uuid.uuid4().hex}/mesos"
    first, second = pair_of_masters(master_factory, zookeeper.hosts, path)
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path))
    with running(driver):
        scheduler.wait_for(lambda: "registered" in scheduler.kinds(), what="registered")
        subscriptions = len(first.calls_of_type("SUBSCRIBE"))
        first.go_silent()
        wait_until(lambda: "a silent master" in logs.text, "the silence noticed")
        first.wait_for(lambda: len(first.calls_of_type("SUBSCRIBE")) > subscriptions, what="a new SUBSCRIBE")
        second.become_leader()
        first.unregister_from_zookeeper()
        took = moved_to(second, scheduler, driver, time.monotonic())
        figure("hung leader left", took)
        assert took < 5.0
        assert_healthy(driver, first, second)


# -- ZooKeeper unreachable, and a group not there yet ---------------------------------------------------


def test_zookeeper_unreachable_at_start_is_said_and_stop_is_prompt(ca, iam, logs) -> None:
    port = free_port()  # nothing listens there
    url = f"zk://jane:zk-s3cret@127.0.0.1:{port}/mesos"
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, url)
    started = time.monotonic()
    driver.start()
    try:
        assert time.monotonic() - started < 1.0, "start() waited for ZooKeeper"
        warned = wait_until(lambda: "unreachable for" in logs.text, "a warning that ZooKeeper is unreachable")
        figure("first 'ZooKeeper unreachable' warning", warned)
        assert warned >= UNREACHABLE_WARNING_AFTER - 1.0
        [warning] = [r for r in logs.records if "unreachable for" in r.getMessage()]
        assert warning.levelno == logging.WARNING
        assert f"ZooKeeper zk://***@127.0.0.1:{port}/mesos unreachable for" in warning.getMessage()
        assert "no leading master known yet; still trying" in warning.getMessage()
        assert_healthy(driver)
        assert driver.master_address is None and scheduler.kinds() == []
    finally:
        stopping = time.monotonic()
        driver.stop()
        driver.join()
        stopped = time.monotonic() - stopping
    figure("stop() with ZooKeeper unreachable", stopped)
    assert stopped < 2.5
    assert not [r for r in logs.records if r.levelno >= logging.WARNING and "kazoo" in r.name]
    assert_no_secrets(logs.text, driver, "zk-s3cret")


def test_zookeeper_that_comes_up_late_is_found(ca, iam, master_factory, caplog) -> None:
    """Digest credentials in the URL are sent (kazoo's ``auth_data``) and never logged, even at kazoo's
    lowest level, where it logs every request it sends."""
    caplog.set_level(1, logger="mesos_auth")
    port = free_port()
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, f"zk://jane:zk-s3cret@127.0.0.1:{port}/mesos")
    server = ZooKeeperServer()
    server.port = port  # start() then takes this port
    with running(driver):
        assert driver.master_address is None
        try:
            server.start()
        except ZooKeeperUnavailable as missing:
            pytest.skip(str(missing))
        try:
            master = master_factory("strict")
            master.register_in_zookeeper(server.hosts, "/mesos")
            master.wait_for(lambda: subscribed(master), what="subscribed once ZooKeeper came up")
            assert_healthy(driver, master)
        finally:
            server.stop()
    assert "scheme='digest', auth='***'" in caplog.text  # the request was sent, and logged without it
    assert_no_secrets(caplog.text, driver, "zk-s3cret", "jane:")


def test_a_group_that_does_not_exist_yet_is_waited_for(zookeeper, ca, iam, master_factory, logs) -> None:
    """pymesos' detector (kazoo's ChildrenWatch) stops for good, silently, on a missing node."""
    path = f"/{uuid.uuid4().hex}/mesos"
    scheduler = RecordingScheduler(tasks=1)
    driver = zk_driver(scheduler, iam, ca, zookeeper.url(path))
    with running(driver):
        wait_until(lambda: f"has no node '{path}' yet" in logs.text, "a warning that the group does not exist")
        master = master_factory("strict")
        master.register_in_zookeeper(zookeeper.hosts, path)
        master.wait_for(lambda: subscribed(master), what="subscribed once a master joined")
        assert_healthy(driver, master)
