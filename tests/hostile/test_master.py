"""The driver against hostile and broken masters: bad input never stops a driver that
could recover, every wait has an end, memory has a ceiling, and the token only
goes to masters of the cluster."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from typing import Any, Iterator, List

import pytest

from mesos_auth import (
    AuthenticatedSchedulerDriver,
    MasterCallError,
    RetryPolicy,
    ServiceAccount,
    TransportError,
    TransportTimeoutError,
)
from mesos_auth.ca import CABundle
from mesos_auth.leaders import ClusterMembers
from mesos_auth.master_uri import MasterAddress
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_info
from tests.helpers import wait_for
from tests.hostile.memory import run_limited
from tests.hostile.mini_master import MiniMaster, _call_type, encode, subscribed_event
from tests.hostile.server import HostileServer, Peer, RawRequest, chunk, record, response

#: "Within about two seconds" of stop(), on a noisy 2-core machine.
STOP_BOUND = 3.5


pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


@pytest.fixture
def master() -> Iterator[Any]:
    mini = MiniMaster()
    with HostileServer(mini) as server:
        mini.server = server
        yield mini


def driver_for(url: str, scheduler: Any = None, **options: Any) -> AuthenticatedSchedulerDriver:
    options.setdefault("security_mode", "disabled")
    options.setdefault("resubscribe_backoff", FAST_BACKOFF)
    options.setdefault("call_timeout", 5.0)
    return AuthenticatedSchedulerDriver(scheduler or RecordingScheduler(tasks=0), framework_info(), url, **options)


class Running:
    """A started driver that is stopped (failover, no TEARDOWN) and joined at the end."""

    def __init__(self, driver: AuthenticatedSchedulerDriver) -> None:
        self.driver = driver

    def __enter__(self) -> AuthenticatedSchedulerDriver:
        self.driver.start()
        return self.driver

    def __exit__(self, *exc: Any) -> None:
        self.driver.stop(failover=True)
        self.driver.join()


def stop_and_time(driver: AuthenticatedSchedulerDriver, failover: bool = True) -> float:
    started = time.monotonic()
    driver.stop(failover=failover)
    with contextlib.suppress(Exception):  # a failure is not what is measured here
        driver.join()
    took = time.monotonic() - started
    thread = driver._stream_thread
    if thread is not None:
        thread.join(timeout=10)
        assert not thread.is_alive(), "the stream thread did not end after stop()"
    return took


# ---------------------------------------------------------------------------
# Bad input from the master never stops the driver
# ---------------------------------------------------------------------------

GOOD = encode(subscribed_event(interval=0.5))
OFFER = {
    "id": {"value": "o1"},
    "agent_id": {"value": "a1"},
    "framework_id": {"value": "fw-1"},
    "hostname": "agent",
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.0}}],
}
OFFERS = encode({"type": "OFFERS", "offers": {"offers": [OFFER]}})
BAD_RECORDS = {
    "not JSON": record(b"{not json"),
    "not UTF-8": record(b'{"type": "\xff\xfe"}'),
    "a JSON list": encode([1, 2, 3]),
    "a JSON string": encode("SUBSCRIBED"),
    "JSON null": encode(None),
    "zero-length": b"0\n",
    "deeply nested": record(b"[" * 100_000 + b"]" * 100_000),
    "subscribed null": encode({"type": "SUBSCRIBED", "subscribed": None}),
    "no framework id": encode({"type": "SUBSCRIBED", "subscribed": {"heartbeat_interval_seconds": 1}}),
    "framework id not a string": encode({"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": 5}}}),
    "interval a string": encode(subscribed_event(interval="15")),
    "interval negative": encode(subscribed_event(interval=-1)),
    "interval zero": encode(subscribed_event(interval=0)),
    "interval NaN": encode(subscribed_event(interval=float("nan"))),
    "interval infinite": encode(subscribed_event(interval=float("inf"))),
    "interval a bool": encode(subscribed_event(interval=True)),
    "ERROR with error null": encode({"type": "ERROR", "error": None}),
    "ERROR with a number": encode({"type": "ERROR", "error": {"message": 5}}),
    "bad length prefix": b"abc\n{}",
    "length prefix too long": b"1" * 40,
    "frame over max_event_size": b"99999999999\n{",
}


@pytest.mark.parametrize("name", sorted(BAD_RECORDS))
def test_a_bad_first_record_is_dropped_and_the_driver_subscribes_again(master: MiniMaster, name: str) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        master.good_stream(peer, request, number, first=[BAD_RECORDS[name]] if number == 1 else None)

    master.subscribe_answer = answer
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler, max_event_size=1 << 20)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds(), what="registered on the second stream")
        assert master.subscribes == 2
        assert driver.failure is None
    assert scheduler.errors == []


def test_good_records_before_a_broken_one_are_delivered(master: MiniMaster) -> None:
    offers, update_free = OFFERS, encode({"type": "HEARTBEAT"})

    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        first = [GOOD + offers + update_free + b"zz\n"] if number == 1 else None  # one chunk, broken at the end
        master.good_stream(peer, request, number, first=first)

    master.subscribe_answer = answer
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)):
        master.wait_for(lambda: master.subscribes == 2, what="a second SUBSCRIBE")
        scheduler.wait_for(lambda: scheduler.kinds().count("registered") + scheduler.kinds().count("reregistered") == 2)
    assert scheduler.kinds()[:2] == ["registered", "offers"]


UNKNOWN_EVENTS = [
    {"type": "SOMETHING_NEW", "something_new": {}},
    {"type": "\x1b[2JEVIL", "\x1b[2jevil": {"x": "\x1b]0;owned\x07"}},
    {"type": "OFFERS"},  # no payload
    {"type": 5},
    {"no": "type"},
]


def test_unknown_events_are_skipped_and_the_stream_goes_on(master: MiniMaster, caplog: Any) -> None:
    records = [GOOD, *(encode(kind) for kind in UNKNOWN_EVENTS), OFFERS]
    master.subscribe_answer = lambda peer, request, n: master.good_stream(peer, request, n, first=records)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)) as driver:
        scheduler.wait_for(lambda: "offers" in scheduler.kinds(), what="the offers after the unknown events")
        assert master.subscribes == 1 and driver.failure is None  # the same stream went on
    assert "\x1b" not in caplog.text and "\x07" not in caplog.text


@pytest.mark.parametrize(
    "location",
    [None, "", "ftp://127.0.0.1:1/", "http://[::1", "http://127.0.0.1:99999/api/v1/scheduler", "\x1b[2J"],
    ids=["missing", "empty", "ftp", "broken-ipv6", "bad-port", "escape"],
)
def test_a_307_without_a_usable_location_is_retried(master: MiniMaster, location: Any, caplog: Any) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        headers = [] if location is None else [("Location", location)]
        peer.send(response(307, headers=headers))

    master.misbehave_first(answer)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        assert driver.failure is None and master.subscribes == 2
    assert "\x1b" not in caplog.text


def test_a_redirect_names_the_scheme_it_refused(master: MiniMaster, caplog: Any) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        peer.send(response(307, headers=[("Location", "ftp://127.0.0.1:21/")]))

    master.misbehave_first(answer)
    scheduler = RecordingScheduler(tasks=0)
    # Each failed attempt is an INFO line (WARNINGs summarise failures that last: README, `timeout`).
    with caplog.at_level(logging.INFO, logger="mesos_auth"), Running(driver_for(master.server.url, scheduler)):
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
    assert "'ftp'" in caplog.text and "https to http" not in caplog.text


def test_a_stream_without_a_stream_id_is_retried(master: MiniMaster) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(GOOD))

    master.misbehave_first(answer)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)):
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
    assert master.subscribes == 2


def test_an_answer_cut_mid_body_is_a_typed_error_and_the_next_call_opens_afresh(master: MiniMaster) -> None:
    answers = [b'HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n{"partial":', None]

    def call_answer(peer: Peer, request: RawRequest) -> Any:
        if answers:
            cut = answers.pop(0)
            if cut is not None:
                peer.send(cut)
                peer.reset()
                return b""
        return response(202)

    master.call_answer = call_answer
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        with pytest.raises(TransportError, match="cut short|Connection|connection"):
            driver.reviveOffers()
        driver.reviveOffers()  # a fresh connection
        assert driver.failure is None
    assert master.server.connections >= 3  # the stream, the cut call, the fresh one


def test_a_kept_alive_tls_connection_the_master_closed_is_reopened_once(ca: Any) -> None:
    # A master may close an idle kept-alive connection. Over TLS the next call then
    # fails with SSLEOFError (not a reset): that call must go on a new connection.
    mini = MiniMaster()
    closed_after_first: List[bool] = []

    def call_answer(peer: Peer, request: RawRequest) -> Any:
        if not closed_after_first:
            closed_after_first.append(True)
            peer.send(response(202))
            raise ConnectionAbortedError("the master closes the kept-alive connection")
        return response(202)

    mini.call_answer = call_answer
    with HostileServer(mini, tls=ca) as server:
        mini.server = server
        scheduler = RecordingScheduler(tasks=0)
        with Running(driver_for(server.url, scheduler, ca_bundle=ca.ca_bundle)) as driver:
            scheduler.wait_for(lambda: "registered" in scheduler.kinds())
            driver.reviveOffers()
            wait_for(lambda: server.open_connections() == 1, what="the master to close the call's connection")
            driver.reviveOffers()  # the kept-alive connection is dead: a new one
            assert driver.failure is None
        assert [_call_type(call) for call in mini.calls] == ["REVIVE", "REVIVE"]


# ---------------------------------------------------------------------------
# Every wait is bounded
# ---------------------------------------------------------------------------


def test_a_mute_call_ends_at_call_timeout(master: MiniMaster) -> None:
    master.call_answer = lambda peer, request: None  # never answers a call
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler, call_timeout=1.0)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError, match="call_timeout"):
            driver.reviveOffers()
        took = time.monotonic() - started
    assert took < 1.0 + 3.0
    print(f"mute call: TransportTimeoutError after {took:.2f} s (call_timeout 1 s)")


def test_a_trickling_call_answer_ends_at_call_timeout(master: MiniMaster) -> None:
    def call_answer(peer: Peer, request: RawRequest) -> Any:
        peer.trickle(b"HTTP/1.1 202 Accepted\r\nX-Slow: " + b"a" * 1000, 0.2)
        return b""

    master.call_answer = call_answer
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler, call_timeout=1.0)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError):
            driver.reviveOffers()
        assert time.monotonic() - started < 1.0 + 3.0


def test_a_trickling_stream_is_a_silent_master(master: MiniMaster) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        master.open_stream(peer, number)
        peer.send(chunk(GOOD))
        peer.send(b"400\r\n500\n")  # a chunk and a record that never complete
        peer.trickle(b"{" + b" " * 399, 0.2)  # a byte every 0.2 s: each read succeeds

    master.misbehave_first(answer)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler, missed_heartbeats=3)):
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        started = time.monotonic()
        master.wait_for(lambda: master.subscribes == 2, what="re-subscribed after 3 silent intervals")
        took = time.monotonic() - started
    assert took < 1.5 + 3.0
    print(f"trickling stream: judged silent after {took:.2f} s (3 x 0.5 s heartbeats)")


def test_a_connection_close_stream_gets_the_heartbeat_timeout_too(master: MiniMaster) -> None:
    def answer(
        peer: Peer, request: RawRequest, number: int
    ) -> None:  # no chunking: the body runs until the connection closes
        peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nMesos-Stream-Id: s1\r\n\r\n" + GOOD)
        peer.hold()

    master.misbehave_first(answer)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)):
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        master.wait_for(lambda: master.subscribes == 2, what="re-subscribed after the silence")


def mute_subscribe(peer: Peer, request: RawRequest, number: int) -> None:
    peer.hold()


def half_open(peer: Peer) -> None:
    """Accepts, never reads, never answers."""
    while not peer.server.stopping.wait(0.05):
        pass


@pytest.mark.parametrize("case", ["mute SUBSCRIBE", "half-open", "subscribed", "backoff pause"])
def test_stop_and_join_return_within_about_two_seconds(master: MiniMaster, case: str) -> None:
    url = master.server.url
    backoff = FAST_BACKOFF
    if case == "mute SUBSCRIBE":
        master.subscribe_answer = mute_subscribe
    elif case == "backoff pause":
        master.subscribe_answer = lambda peer, request, n: peer.send(response(503))
        backoff = RetryPolicy(initial_delay=60, backoff=1, max_delay=60, jitter=0, deadline=3600)
    scheduler = RecordingScheduler(tasks=0)
    if case == "half-open":
        with HostileServer(half_open) as server:
            driver = driver_for(server.url, scheduler)
            driver.start()
            deadline = time.monotonic() + 30
            while server.connections == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            took = stop_and_time(driver)
    else:
        driver = driver_for(url, scheduler, resubscribe_backoff=backoff)
        driver.start()
        master.wait_for(lambda: master.subscribes >= 1, what="a SUBSCRIBE")
        if case == "subscribed":
            scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        time.sleep(0.2)  # let the driver settle into the wait being measured
        took = stop_and_time(driver)
    assert took < STOP_BOUND, f"{case}: stop+join took {took:.2f} s"
    print(f"{case}: stop()+join() in {took:.3f} s")


def test_stop_with_teardown_to_a_mute_master_returns_within_about_two_seconds(master: MiniMaster) -> None:
    master.call_answer = lambda peer, request: None
    scheduler = RecordingScheduler(tasks=0)
    driver = driver_for(master.server.url, scheduler, call_timeout=30.0)
    driver.start()
    scheduler.wait_for(lambda: "registered" in scheduler.kinds())
    took = stop_and_time(driver, failover=False)  # sends TEARDOWN, which is never answered
    assert took < STOP_BOUND
    assert [json.loads(c.body)["type"] for c in master.calls] == ["TEARDOWN"]
    print(f"TEARDOWN to a mute master: stop()+join() in {took:.3f} s")


def test_stop_while_a_trickling_iam_holds_the_login(master: MiniMaster, rsa_key: Any) -> None:
    account = ServiceAccount(uid="svc", private_key=rsa_key, login_endpoint="https://127.0.0.1:1/")

    def trickle(peer: Peer) -> None:
        if peer.read_request() is not None:
            peer.trickle(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 10_000, 0.2)

    with HostileServer(trickle) as iam:
        hostile = account.with_login_endpoint(iam.url + "/acs/api/v1/auth/login")
        driver = driver_for(master.server.url, security_mode="permissive", service_account=hostile)
        driver.start()
        deadline = time.monotonic() + 30
        while not iam.seen() and time.monotonic() < deadline:
            time.sleep(0.01)
        took = stop_and_time(driver)
    assert took < STOP_BOUND
    assert master.subscribes == 0
    print(f"trickling IAM during SUBSCRIBE: stop()+join() in {took:.3f} s")


def test_a_flapping_master_gets_exponential_backoff(master: MiniMaster, caplog: Any) -> None:
    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        master.open_stream(peer, number)
        peer.send(chunk(GOOD))  # SUBSCRIBED, then the stream ends at once

    master.subscribe_answer = answer
    policy = RetryPolicy(initial_delay=0.1, backoff=2.0, max_delay=0.8, jitter=0.0, deadline=3600)
    driver = driver_for(master.server.url, resubscribe_backoff=policy)
    with caplog.at_level(logging.INFO, logger="mesos_auth.driver"), Running(driver):
        master.wait_for(lambda: master.subscribes >= 6, what="six subscriptions")
    delays = [float(d) for d in re.findall(r"re-subscribing to \S+ in ([0-9.]+) s", caplog.text)]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 0.8], delays  # reset each time, it would be 0.1 forever


# ---------------------------------------------------------------------------
# The token goes only to masters of the cluster
# ---------------------------------------------------------------------------


def test_a_redirect_to_a_stranger_is_not_followed(master: MiniMaster, fake_iam: Any) -> None:
    iam = fake_iam(clock=time.time)
    account = iam.create_account("svc")
    with HostileServer(MiniMaster()) as stranger:
        location = f"//localhost:{stranger.port}/api/v1/scheduler"

        master.misbehave_first(lambda peer, request, n: peer.send(response(307, headers=[("Location", location)])), 2)
        scheduler = RecordingScheduler(tasks=0)
        driver = driver_for(
            master.server.url,
            scheduler,
            security_mode="permissive",
            service_account=account,
            ca_bundle=iam.ca_bundle,  # a CA bundle, but the stranger is plain http
        )
        with Running(driver):
            scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        assert stranger.seen() == []
        assert master.subscribes == 3
        subscribes = master.server.seen(lambda r: r.method == "POST")
        assert len(subscribes) == 3 and all(r.header("authorization").startswith("token=") for r in subscribes)


def test_a_redirect_to_another_master_of_the_cluster_ca_is_followed(ca: Any) -> None:
    leader = MiniMaster()
    with HostileServer(leader, tls=ca) as leader_server:
        location = f"//localhost:{leader_server.port}/api/v1/scheduler"  # another host name, same CA
        follower = MiniMaster()
        follower.subscribe_answer = lambda peer, request, n: peer.send(response(307, headers=[("Location", location)]))
        with HostileServer(follower, tls=ca) as follower_server:
            scheduler = RecordingScheduler(tasks=0)
            driver = driver_for(follower_server.url, scheduler, ca_bundle=ca.ca_bundle)
            with Running(driver):
                scheduler.wait_for(lambda: "registered" in scheduler.kinds())
                assert driver.master_address == MasterAddress("https", "localhost", leader_server.port)
    assert leader.subscribes == 1


def test_which_leaders_are_members_of_the_cluster() -> None:
    members = ClusterMembers([MasterAddress("http", "master-1", 5050)])
    cluster_ca = CABundle("/run/dcos/pki/CA/ca-bundle.crt", "the DC/OS node")
    system = CABundle(None, "the system trust store")
    assert members.refusal(MasterAddress("http", "MASTER-1", 5051), system) is None  # configured host
    assert members.refusal(MasterAddress("https", "10.0.0.7", 5050), cluster_ca) is None  # the CA decides
    assert "system trust store" in (members.refusal(MasterAddress("https", "10.0.0.7", 5050), system) or "")
    assert "plain http" in (members.refusal(MasterAddress("http", "10.0.0.7", 5050), cluster_ca) or "")
    members.learn(MasterAddress("http", "10.0.0.7", 5050))  # e.g. from ZooKeeper
    assert members.refusal(MasterAddress("http", "10.0.0.7", 5050), system) is None


def test_masters_learned_from_zookeeper_are_followed(monkeypatch: Any) -> None:
    driver = driver_for("127.0.0.1:1")
    driver.change_master("10.0.0.7:5050")  # what the ZooKeeper detector calls
    assert driver._members.knows(MasterAddress("http", "10.0.0.7", 5050))


# ---------------------------------------------------------------------------
# IPv6
# ---------------------------------------------------------------------------


def test_an_ipv6_master_registers_and_calls_back(ca: Any) -> None:
    mini = MiniMaster()
    try:
        server = HostileServer(mini, tls=ca, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with server:
        scheduler = RecordingScheduler(tasks=0)
        driver = driver_for(f"https://[::1]:{server.port}", scheduler, ca_bundle=ca.ca_bundle)
        info: List[Any] = []
        scheduler.registered = lambda d, fid, master_info: (info.append(master_info), scheduler._note("registered"))
        with Running(driver):
            scheduler.wait_for(lambda: "registered" in scheduler.kinds())
            driver.reviveOffers()
    assert info[0]["hostname"] == "::1" and info[0]["port"] == server.port
    assert [json.loads(c.body)["type"] for c in mini.calls] == ["REVIVE"]


# ---------------------------------------------------------------------------
# Memory is bounded (measured in a child process with an address-space limit)
# ---------------------------------------------------------------------------

CHILD_DRIVER = """
def main():
    import logging, threading
    from mesos_auth import AuthenticatedSchedulerDriver, RetryPolicy
    seen = threading.Event()

    class Spot(logging.Handler):
        def emit(self, record):
            if "failed" in record.getMessage() or "refused" in record.getMessage():
                seen.set()

    logging.getLogger("mesos_auth").addHandler(Spot())
    logging.getLogger("mesos_auth").setLevel(logging.INFO)
    backoff = RetryPolicy(initial_delay=0.05, backoff=1, max_delay=0.05, jitter=0, deadline=3600)
    driver = AuthenticatedSchedulerDriver(object(), {"user": "nobody", "name": "x"}, "{url}",
                                          security_mode="disabled", resubscribe_backoff=backoff)
    driver.start()
    try:
        if {call}:
            import time
            end = time.monotonic() + 20
            while driver.stream_id is None and time.monotonic() < end:
                time.sleep(0.01)
            try:
                driver.reviveOffers()
            except Exception as exc:
                return type(exc).__name__
        return seen.wait(20)
    finally:
        driver.stop(failover=True)
        driver.join()
"""


@pytest.mark.parametrize("case", ["frame over max_event_size", "600 MB SUBSCRIBE error", "600 MB call error"])
def test_a_master_bomb_costs_at_most_a_few_megabytes(case: str) -> None:
    mini = MiniMaster()

    def flood(peer: Peer, head: bytes) -> None:
        peer.send(head)
        block = b"0" * 65536
        sent = 0
        while not peer.stopped and sent < 2_000_000_000 and peer.send(block):
            sent += len(block)

    if case == "frame over max_event_size":

        def answer(peer: Peer, request: RawRequest, number: int) -> None:
            mini.open_stream(peer, number)
            peer.send(chunk(GOOD) + b"7fffffff\r\n" + b"999999999\n")  # a 1 GB record is announced
            flood(peer, b"")

        mini.subscribe_answer = answer
    elif case == "600 MB SUBSCRIBE error":
        mini.subscribe_answer = lambda peer, request, n: flood(
            peer, b"HTTP/1.1 503 Unavailable\r\nContent-Length: 600000000\r\n\r\n"
        )
    else:
        mini.call_answer = lambda peer, request: (
            flood(peer, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 600000000\r\n\r\n") or b""
        )

    with HostileServer(mini) as server:
        code = CHILD_DRIVER.replace("{url}", server.url).replace("{call}", str(case == "600 MB call error"))
        result = run_limited(code, limit_mib=400)
    expected = "'MasterCallError'" if case == "600 MB call error" else "True"
    assert result.outcome == "returned" and result.facts.get("value") == expected, result
    assert result.peak_mib < 120, result
    print(f"{case}: peak {result.peak_mib:.0f} MiB, {result.seconds:.2f} s")


def test_a_master_call_error_text_is_capped_and_clean(master: MiniMaster) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJzdmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    body = ("\x1b]0;owned\x07 refused " + jwt_like + " " + "y" * 100_000).encode()
    master.call_answer = lambda peer, request: response(400, body)
    scheduler = RecordingScheduler(tasks=0)
    with Running(driver_for(master.server.url, scheduler)) as driver:
        scheduler.wait_for(lambda: "registered" in scheduler.kinds())
        with pytest.raises(MasterCallError) as caught:
            driver.reviveOffers()
    text = str(caught.value)
    assert jwt_like not in text and "\x1b" not in text and "\x07" not in text and len(text) < 1000
