"""FakeMaster: leadership (307/503), injected faults, silence, reset, check() and stop()."""

from __future__ import annotations

import threading
from typing import Any, Dict

import pytest

from mesos_auth.testing._server import FakeServerError
from mesos_auth.testing.master import SCHEDULER_PATH, FakeMaster

from .test_fake_master_support import (
    ABRUPT,
    CLEAN,
    FRAMEWORK_INFO,
    Client,
    StubIAM,
    launch,
    offers_of,
    scalars,
    serve,
    subscribed_framework,
    task_info,
)


def test_non_leader_redirects_protocol_relative_to_the_leader() -> None:
    with serve() as leader, serve() as follower:
        follower.follow(leader)
        sub = Client(follower).subscribe()
        assert sub.status == 307
        location = sub.headers["Location"]
        assert location == f"//127.0.0.1:{leader.port('http')}{SCHEDULER_PATH}"

        # Following the Location (as pymesos does: its netloc) reaches the leader.
        port = int(location[2:].split("/")[0].split(":")[1])
        assert port == leader.port("http")
        at_leader = Client(leader).subscribe()
        at_leader.subscribed()
        at_leader.close()


def test_redirect_to_an_address_and_over_tls_keeps_the_scheme() -> None:
    with serve(tls=True) as leader, serve(tls=leader.ca) as follower:
        follower.set_leader(leader)
        assert leader.ca is not None
        https = Client(follower, scheme="https", context=leader.ca.client_context())
        assert https.request("POST", {}).header("Location") == f"//127.0.0.1:{leader.port('https')}{SCHEDULER_PATH}"
        follower.set_leader("10.0.0.7:5050")
        assert Client(follower).request("POST", {}).header("Location") == f"//10.0.0.7:5050{SCHEDULER_PATH}"


def test_no_leader_answers_503_until_one_is_elected() -> None:
    with serve() as master:
        master.set_no_leader()
        reply = Client(master).request("POST", {"type": "SUBSCRIBE"})
        assert (reply.status, reply.text) == (503, "No leader elected")
        master.become_leader()
        sub = Client(master).subscribe()
        assert sub.status == 200
        sub.close()


def test_losing_leadership_drops_the_streams() -> None:
    with serve() as leader, serve() as master:
        sub, _ = subscribed_framework(master)
        master.set_leader(leader)
        assert sub.end() == ABRUPT
        assert master.frameworks[str(sub.framework_id)].state == "disconnected"


def test_drop_streams_closes_abruptly_and_disconnects() -> None:
    with serve() as master:
        sub, _ = subscribed_framework(master)
        assert master.drop_streams() == 1
        assert sub.end() == ABRUPT
        master.wait_for(lambda: not master.streams[str(sub.stream_id)].open)
        assert master.frameworks[str(sub.framework_id)].state == "disconnected"
        assert sub.call("REVIVE").status == 403


def test_drop_streams_over_tls() -> None:
    with serve(tls=True, plain_http=False) as master:
        assert master.ca is not None
        sub, _ = subscribed_framework(master, Client(master, scheme="https", context=master.ca.client_context()))
        master.drop_streams()
        assert sub.end() == ABRUPT


def test_fail_next_calls_answers_the_next_n_requests() -> None:
    with serve() as master:
        master.fail_next_calls(2, 500, "boom")
        assert master.pending_failures == 2
        for _ in range(2):
            sub = Client(master).subscribe()
            assert (sub.status, sub.body) == (500, b"boom")
        assert master.pending_failures == 0
        master.fail_next_calls(3, 503)
        master.clear_failures()
        assert master.pending_failures == 0
        sub, _ = subscribed_framework(master)
        master.fail_next_calls(1, 503, call_types=["ACCEPT"])
        assert sub.call("REVIVE").status == 202
        assert sub.call("ACCEPT", {"offer_ids": []}).status == 503
        assert sub.call("ACCEPT", {"offer_ids": []}).status == 202
        assert [r.status for r in master.calls_of_type("ACCEPT")] == [503, 202]
        sub.close()


def test_a_silent_master_holds_heartbeats_and_events_until_it_speaks() -> None:
    with serve(heartbeat_interval=0.05) as master:
        sub, event = subscribed_framework(master)
        stream_id = str(sub.stream_id)
        master.go_silent()
        master.wait_for(lambda: master.streams[stream_id].withheld_heartbeats >= 1)
        sent = master.streams[stream_id].sent
        # Something to say while silent: a DECLINE with no filter brings a new offer.
        sub.call("DECLINE", {"offer_ids": [offers_of(event)[0]["id"]], "filters": {"refuse_seconds": 0}})
        master.wait_for(lambda: master.streams[stream_id].withheld_heartbeats >= 3)
        assert master.streams[stream_id].sent == sent
        assert master.frameworks[str(sub.framework_id)].state == "subscribed"

        master.speak()
        assert offers_of(sub.until("OFFERS"))
        sub.until("HEARTBEAT")
        sub.close()


def test_go_down_and_come_up() -> None:
    with serve() as master:
        sub, _ = subscribed_framework(master)
        master.go_down()
        assert sub.end() == ABRUPT
        with pytest.raises(ConnectionError):
            Client(master).version()
        master.come_up()
        again = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        again.subscribed()
        assert master.frameworks[str(sub.framework_id)].subscribe_count == 2
        again.close()


def test_rescind_offers_sends_rescind_events() -> None:
    with serve() as master:
        sub, event = subscribed_framework(master)
        offer_id = offers_of(event)[0]["id"]
        assert master.rescind_offers() == 1
        assert sub.until("RESCIND")["rescind"]["offer_id"] == offer_id
        assert offers_of(sub.until("OFFERS"))[0]["id"] != offer_id
        sub.close()


def test_reset_gives_a_fresh_master() -> None:
    with serve(agents=[{"cpus": 1.0, "mem": 512.0, "disk": 0.0}], task_states=("TASK_RUNNING",)) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer, cpus=1.0, mem=512.0))
        sub.updates(1)
        master.go_silent()
        master.fail_next_calls(5, 500)
        master.set_recovering()

        master.reset()
        assert sub.end() == CLEAN
        assert master.frameworks == {}
        assert master.tasks == {}
        assert master.offers == {}
        assert master.requests == []
        assert master.streams == {}
        assert all(a.free == a.total for a in master.agents.values())

        fresh, event = subscribed_framework(master)
        assert scalars_of(event) == {"cpus": 1.0, "mem": 512.0}
        fresh.close()


def scalars_of(event: Dict[str, Any]) -> Dict[str, float]:
    return scalars(offers_of(event)[0]["resources"])


def test_check_raises_failures_of_the_server_threads() -> None:
    stub = StubIAM()
    master = FakeMaster(security_mode="strict", iam=stub)
    with master:
        reply = Client(master, authorization="token=boom").request("POST", {"type": "SUBSCRIBE"})
        assert reply.status == 500
        with pytest.raises(FakeServerError, match="a bug in the verifier"):
            master.check()
        master.reset()
        master.check()


def test_wait_for_times_out_with_a_clear_error() -> None:
    with serve() as master, pytest.raises(TimeoutError, match="never"):
        master.wait_for(lambda: False, timeout=0.05, what="never")


def test_stop_ends_streams_cleanly_and_leaves_no_thread() -> None:
    master = FakeMaster(heartbeat_interval=0.05)
    master.start()
    subs = [Client(master).subscribe() for _ in range(2)]
    for sub in subs:
        sub.subscribed()
    stream_threads = set(master._hub._threads)
    assert len(stream_threads) == 2
    master.stop()
    for sub in subs:
        assert sub.end() == CLEAN
    for thread in stream_threads:
        thread.join(5)
        assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "FakeMaster-timers"]
    assert master._hub.thread_count() == 0
    master.check()
