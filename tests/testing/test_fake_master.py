"""FakeMaster: the scheduler protocol (issue #4), driven with raw HTTP in "disabled" mode.

Subscription and its RecordIO stream, heartbeats, offers, launches and status
updates, acknowledgements and their resend, decline filters, kill, reconcile,
revive/suppress, teardown and failover. Authentication is in
test_fake_master_auth.py, faults in test_fake_master_faults.py.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Dict

from mesos_auth.testing.master import MESOS_VERSION, FakeMaster, ManualClock

from .test_fake_master_support import (
    CLEAN,
    FRAMEWORK_INFO,
    Client,
    acknowledge,
    launch,
    offers_of,
    scalars,
    serve,
    subscribed_framework,
    task_info,
)

SMALL_AGENT = {"cpus": 2.0, "mem": 1024.0, "disk": 0.0}


def test_version_answers_like_a_real_master() -> None:
    with serve() as master:
        reply = Client(master).version()
        assert reply.status == 200
        body: Dict[str, Any] = json.loads(reply.body)
        assert body["version"] == MESOS_VERSION
        assert set(body) >= {"version", "build_date", "build_time", "build_user", "git_sha", "git_tag"}


def test_subscribe_opens_a_chunked_recordio_stream() -> None:
    with serve(heartbeat_interval=15.0, agents=[SMALL_AGENT]) as master:
        sub = Client(master).subscribe()
        assert sub.status == 200
        assert sub.headers["Content-Type"] == "application/json"
        assert sub.headers["Transfer-Encoding"] == "chunked"
        assert uuid.UUID(str(sub.stream_id)).version == 4

        first = sub.next_event()
        assert first["type"] == "SUBSCRIBED"
        subscribed = first["subscribed"]
        assert subscribed["heartbeat_interval_seconds"] == 15.0
        info = subscribed["master_info"]
        assert info["id"] == master.master_id
        assert info["port"] == master.port("http")
        assert info["version"] == MESOS_VERSION
        assert {"ip", "hostname", "address", "pid"} <= set(info)
        assert sub.next_event() == {"type": "HEARTBEAT"}
        offers = offers_of(sub.next_event())

        framework_id = subscribed["framework_id"]["value"]
        record = master.frameworks[framework_id]
        assert record.state == "subscribed"
        assert record.stream_id == sub.stream_id
        assert record.subscribe_count == 1
        assert record.roles == ("*",)
        assert len(offers) == 1
        sub.close()


def test_heartbeats_come_every_interval() -> None:
    with serve(heartbeat_interval=0.1) as master:
        sub = Client(master).subscribe()
        sub.subscribed()
        for _ in range(3):
            sub.until("HEARTBEAT")
        stream_id = str(sub.stream_id)
        master.wait_for(lambda: master.streams[stream_id].sent.count("HEARTBEAT") >= 4)
        sub.close()


def test_offers_hold_each_agents_free_resources() -> None:
    agents = [{"cpus": 2.0, "mem": 1024.0, "disk": 100.0}, {"cpus": 4.0, "mem": 2048.0, "disk": 0.0}]
    with serve(agents=agents) as master:
        sub, event = subscribed_framework(master)
        offers = offers_of(event)
        assert len(offers) == 2
        by_agent = {o["agent_id"]["value"]: o for o in offers}
        assert set(by_agent) == set(master.agents)
        for offer in offers:
            assert offer["framework_id"]["value"] == sub.framework_id
            assert offer["hostname"]
            assert all(r["role"] == "*" and r["type"] == "SCALAR" for r in offer["resources"])
        assert sorted(scalars(o["resources"])["cpus"] for o in offers) == [2.0, 4.0]
        assert "disk" not in scalars(by_agent[f"{master.master_id}-S1"]["resources"])
        assert set(master.offers) == {o["id"]["value"] for o in offers}
        assert all(agent.free == {} for agent in master.agents.values())
        sub.close()


def test_launch_runs_the_status_sequence_with_uuids_and_frees_resources() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        assert launch(sub, offer, task_info("t1", offer, cpus=0.5, mem=128.0)).status == 202

        statuses = sub.updates(3)
        assert [s["state"] for s in statuses] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        for status in statuses:
            assert status["task_id"] == {"value": "t1"}
            assert status["agent_id"] == offer["agent_id"]
            assert status["source"] == "SOURCE_EXECUTOR"
            assert isinstance(status["timestamp"], float)
            assert len(base64.b64decode(status["uuid"])) == 16
        assert len({s["uuid"] for s in statuses}) == 3
        assert master.tasks["t1"] == ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]

        # The finished task's resources and the unused rest come back as one new offer.
        again = offers_of(sub.until("OFFERS"))
        assert scalars(again[0]["resources"]) == {"cpus": 2.0, "mem": 1024.0}
        sub.close()


def test_launch_group_runs_every_task() -> None:
    with serve(agents=[{"cpus": 2.0, "mem": 1024.0, "disk": 100.0}], task_states=("TASK_RUNNING",)) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        executor_resources = [
            {"name": name, "type": "SCALAR", "scalar": {"value": value}}
            for name, value in (("cpus", 0.1), ("mem", 32.0), ("disk", 10.0))
        ]
        group = {
            "executor": {"executor_id": {"value": "e1"}, "type": "DEFAULT", "resources": executor_resources},
            "task_group": {"tasks": [task_info("g1", offer, cpus=0.5), task_info("g2", offer, cpus=0.5)]},
        }
        payload = {"offer_ids": [offer["id"]], "operations": [{"type": "LAUNCH_GROUP", "launch_group": group}]}
        assert sub.call("ACCEPT", payload).status == 202
        states = {s["task_id"]["value"]: s["state"] for s in sub.updates(2)}
        assert states == {"g1": "TASK_RUNNING", "g2": "TASK_RUNNING"}
        sub.close()


def test_invalid_launches_get_master_made_updates_without_uuid() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        assert launch(sub, offer, task_info("huge", offer, cpus=64.0)).status == 202
        error = sub.updates(1)[0]
        assert error["state"] == "TASK_ERROR"
        assert error["reason"] == "REASON_TASK_INVALID"
        assert error["source"] == "SOURCE_MASTER"
        assert "uuid" not in error

        # The offer was used up by that accept: launching on it again is an invalid offer.
        assert launch(sub, offer, task_info("late", offer)).status == 202
        lost = sub.updates(1)[0]
        assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_INVALID_OFFERS")
        assert "uuid" not in lost
        sub.close()


def test_acknowledged_updates_are_not_resent_and_the_others_are() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer))
        starting, running, finished = sub.updates(3)
        assert acknowledge(sub, starting).status == 202
        assert acknowledge(sub, running).status == 202
        master.wait_for(lambda: master.task_records["t1"].unacknowledged == 1)

        master.drop_streams()
        assert master.frameworks[str(sub.framework_id)].state == "disconnected"
        again = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        assert again.status == 200
        assert again.stream_id != sub.stream_id
        assert again.subscribed()["subscribed"]["framework_id"]["value"] == sub.framework_id
        resent = again.updates(1)[0]
        assert (resent["state"], resent["uuid"]) == ("TASK_FINISHED", finished["uuid"])
        assert acknowledge(again, resent).status == 202
        record = master.frameworks[str(sub.framework_id)]
        assert (record.state, record.subscribe_count, record.stream_id) == ("subscribed", 2, again.stream_id)
        # Fully acknowledged and terminal: the master forgets the task.
        reply = again.call("RECONCILE", {"tasks": [{"task_id": {"value": "t1"}}]})
        assert reply.status == 202
        assert again.updates(1)[0]["message"] == "Reconciliation: Task is unknown"
        again.close()
        sub.close()


def test_resubscribing_while_connected_fails_the_old_stream_over() -> None:
    with serve() as master:
        sub, _ = subscribed_framework(master)
        again = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        again.subscribed()
        assert sub.until("ERROR")["error"]["message"] == "Framework failed over"
        assert sub.end() == CLEAN
        # Calls on the old stream id are now stale.
        assert sub.call("REVIVE").status == 400
        assert again.call("REVIVE").status == 202
        again.close()


def test_decline_filters_the_resources_for_refuse_seconds() -> None:
    clock = ManualClock()
    with serve(agents=[SMALL_AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        reply = sub.call("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 10.0}})
        assert reply.status == 202
        assert master.offers == {}
        assert master.agents[offer["agent_id"]["value"]].free == {"cpus": 2.0, "mem": 1024.0}

        runs = master.allocation_runs
        clock.advance(9.0)
        # The batch allocation this advance runs still skips the filtered agent.
        master.wait_for(lambda: master.allocation_runs > runs)
        assert master.offers == {}

        clock.advance(1.0)
        again = offers_of(sub.until("OFFERS"))
        assert again[0]["id"] != offer["id"]
        assert master.wait_for(lambda: master.offers)
        sub.close()


def test_decline_without_filters_uses_offer_refuse_seconds() -> None:
    clock = ManualClock()
    with serve(agents=[SMALL_AGENT], clock=clock, offer_refuse_seconds=5.0) as master:
        sub, event = subscribed_framework(master)
        assert sub.call("DECLINE", {"offer_ids": [offers_of(event)[0]["id"]]}).status == 202
        runs = master.allocation_runs
        clock.advance(4.0)
        master.wait_for(lambda: master.allocation_runs > runs)
        assert master.offers == {}
        clock.advance(1.0)
        offers_of(sub.until("OFFERS"))
        sub.close()


def test_decline_with_a_tiny_refuse_time_on_the_real_clock() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        sub.call("DECLINE", {"offer_ids": [offers_of(event)[0]["id"]], "filters": {"refuse_seconds": 0.05}})
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_kill_sends_task_killed_and_frees_the_resources() -> None:
    with serve(agents=[SMALL_AGENT], task_states=("TASK_STARTING", "TASK_RUNNING")) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer, cpus=2.0, mem=1024.0))
        assert [s["state"] for s in sub.updates(2)] == ["TASK_STARTING", "TASK_RUNNING"]
        assert master.agents[offer["agent_id"]["value"]].free == {}

        assert sub.call("KILL", {"task_id": {"value": "t1"}, "agent_id": offer["agent_id"]}).status == 202
        killed = sub.updates(1)[0]
        assert killed["state"] == "TASK_KILLED"
        assert "uuid" in killed
        assert master.tasks["t1"][-1] == "TASK_KILLED"
        assert scalars(offers_of(sub.until("OFFERS"))[0]["resources"]) == {"cpus": 2.0, "mem": 1024.0}
        sub.close()


def test_kill_of_an_unknown_task_answers_by_reconciliation() -> None:
    with serve() as master:
        sub, _ = subscribed_framework(master)
        assert sub.call("KILL", {"task_id": {"value": "ghost"}}).status == 202
        status = sub.updates(1)[0]
        assert (status["state"], status["reason"]) == ("TASK_LOST", "REASON_RECONCILIATION")
        assert "uuid" not in status
        sub.close()


def test_reconcile_explicit_and_implicit() -> None:
    with serve(agents=[SMALL_AGENT], task_states=("TASK_RUNNING",)) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer))
        sub.updates(1)

        tasks = [
            {"task_id": {"value": "t1"}},
            {"task_id": {"value": "ghost"}},
            {"task_id": {"value": "ghost2"}, "agent_id": offer["agent_id"]},
        ]
        assert sub.call("RECONCILE", {"tasks": tasks}).status == 202
        known, ghost, ghost2 = sub.updates(3)
        assert (known["task_id"]["value"], known["state"]) == ("t1", "TASK_RUNNING")
        assert known["message"] == "Reconciliation: Latest task state"
        assert (ghost["state"], ghost["message"]) == ("TASK_LOST", "Reconciliation: Task is unknown")
        assert (ghost2["state"], ghost2["message"]) == ("TASK_LOST", "Reconciliation: Task is unknown to the agent")
        for status in (known, ghost, ghost2):
            assert status["reason"] == "REASON_RECONCILIATION"
            assert status["source"] == "SOURCE_MASTER"
            assert "uuid" not in status

        assert sub.call("RECONCILE", {"tasks": []}).status == 202
        implicit = sub.updates(1)[0]
        assert (implicit["task_id"]["value"], implicit["state"]) == ("t1", "TASK_RUNNING")
        sub.close()


def test_reconcile_of_a_partition_aware_framework_uses_the_new_states() -> None:
    info = dict(FRAMEWORK_INFO, capabilities=[{"type": "PARTITION_AWARE"}])
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master, info=info)
        agent_id = offers_of(event)[0]["agent_id"]
        tasks = [{"task_id": {"value": "a"}}, {"task_id": {"value": "b"}, "agent_id": agent_id}]
        sub.call("RECONCILE", {"tasks": tasks})
        assert [s["state"] for s in sub.updates(2)] == ["TASK_UNKNOWN", "TASK_GONE"]
        sub.close()


def test_suppress_stops_offers_until_revive() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        assert sub.call("SUPPRESS").status == 202
        assert master.frameworks[str(sub.framework_id)].suppressed
        sub.call("DECLINE", {"offer_ids": [offers_of(event)[0]["id"]], "filters": {"refuse_seconds": 0}})
        assert master.offers == {}

        assert sub.call("REVIVE").status == 202
        assert offers_of(sub.until("OFFERS"))
        assert not master.frameworks[str(sub.framework_id)].suppressed
        sub.close()


def test_revive_clears_decline_filters() -> None:
    with serve(agents=[SMALL_AGENT]) as master:
        sub, event = subscribed_framework(master)
        sub.call("DECLINE", {"offer_ids": [offers_of(event)[0]["id"]], "filters": {"refuse_seconds": 3600}})
        assert master.offers == {}
        sub.call("REVIVE")
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_message_is_recorded() -> None:
    with serve() as master:
        sub, event = subscribed_framework(master)
        payload = {"agent_id": offers_of(event)[0]["agent_id"], "executor_id": {"value": "e1"}, "data": "aGk="}
        assert sub.call("MESSAGE", payload).status == 202
        assert master.messages == [dict(payload, framework_id=sub.framework_id)]
        assert [r.call_type for r in master.calls_of_type("message")] == ["MESSAGE"]
        sub.close()


def test_teardown_removes_the_framework_for_good() -> None:
    with serve(agents=[SMALL_AGENT], task_states=("TASK_RUNNING",)) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer))
        sub.updates(1)

        assert sub.call("TEARDOWN").status == 202
        assert sub.end() == CLEAN
        record = master.frameworks[str(sub.framework_id)]
        assert (record.state, record.stream_id) == ("torn_down", None)
        assert master.tasks["t1"][-1] == "TASK_KILLED"
        assert master.agents[offer["agent_id"]["value"]].free == {"cpus": 2.0, "mem": 1024.0}
        assert master.offers == {}

        assert sub.call("REVIVE").text == "Framework cannot be found"
        back = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        assert back.status == 200
        assert back.next_event() == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
        assert back.end() == CLEAN


def test_failover_timeout_expiry_removes_a_disconnected_framework() -> None:
    clock = ManualClock()
    with serve(clock=clock) as master:
        sub, _ = subscribed_framework(master, info=dict(FRAMEWORK_INFO, failover_timeout=30.0))
        framework_id = str(sub.framework_id)
        assert master.frameworks[framework_id].failover_timeout == 30.0
        master.drop_streams()
        clock.advance(29.0)
        assert master.frameworks[framework_id].state == "disconnected"
        clock.advance(1.0)
        master.wait_for(lambda: master.frameworks[framework_id].state == "removed")

        back = Client(master).subscribe(FRAMEWORK_INFO, framework_id=framework_id)
        assert back.next_event()["error"]["message"] == "Framework has been removed"
        assert back.end() == CLEAN


def test_resubscription_within_the_failover_timeout_resumes() -> None:
    clock = ManualClock()
    with serve(clock=clock, failover_timeout=30.0) as master:
        sub, _ = subscribed_framework(master, info=dict(FRAMEWORK_INFO, failover_timeout=0))
        master.drop_streams()
        clock.advance(29.0)
        back = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        back.subscribed()
        assert offers_of(back.until("OFFERS"))
        clock.advance(10.0)
        assert master.frameworks[str(sub.framework_id)].state == "subscribed"
        back.close()


def test_client_hang_up_is_noticed_at_the_next_write() -> None:
    with serve(heartbeat_interval=0.05) as master:
        sub, _ = subscribed_framework(master, info=dict(FRAMEWORK_INFO, failover_timeout=3600))
        sub.close()
        master.wait_for(lambda: master.frameworks[str(sub.framework_id)].state == "disconnected")
        assert master.offers == {}


def test_task_state_delay_spaces_the_updates() -> None:
    clock = ManualClock()
    with serve(agents=[SMALL_AGENT], clock=clock, task_state_delay=10.0) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer))
        assert sub.updates(1)[0]["state"] == "TASK_STARTING"
        assert master.tasks["t1"] == ["TASK_STAGING", "TASK_STARTING"]
        clock.advance(10.0)
        assert sub.updates(1)[0]["state"] == "TASK_RUNNING"
        clock.advance(10.0)
        assert sub.updates(1)[0]["state"] == "TASK_FINISHED"
        sub.close()


def test_two_masters_do_not_share_anything() -> None:
    with serve() as one, serve() as two:
        assert one.master_id != two.master_id
        assert one.address != two.address
        assert isinstance(one, FakeMaster)


ODD_CALLS = [
    # (call type, payload, expected status): odd bodies are answered, never crash the fake.
    ("ACCEPT", {"offer_ids": 5, "operations": "x"}, 202),
    ("ACCEPT", {"offer_ids": [{"value": "nope"}], "operations": [{"type": "LAUNCH", "launch": []}]}, 202),
    ("ACCEPT", {"offer_ids": [], "operations": [{"type": "LAUNCH_GROUP", "launch_group": [1]}]}, 202),
    ("ACCEPT", {"offer_ids": [{"value": "x"}], "operations": [{"type": "RESERVE"}, 7]}, 202),
    ("DECLINE", {"offer_ids": "abc"}, 202),
    ("DECLINE", {"offer_ids": 3, "filters": {"refuse_seconds": "soon"}}, 202),
    ("RECONCILE", {"tasks": 7}, 202),
    ("KILL", {"task_id": "x"}, 400),
    ("ACKNOWLEDGE", {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "%%%"}, 400),
    ("ACKNOWLEDGE", {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "YWJj"}, 400),
    ("ACKNOWLEDGE", {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}, 202),
    ("MESSAGE", {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}}, 400),
    ("SHUTDOWN", {"executor_id": {"value": "e"}, "agent_id": {"value": "a"}}, 202),
    ("REVIVE", None, 202),
]


def test_odd_calls_are_answered_and_never_crash_the_fake() -> None:
    with serve() as master:
        sub, _ = subscribed_framework(master)
        for call_type, payload, status in ODD_CALLS:
            reply = sub.call(call_type, payload)
            assert reply.status == status, (call_type, payload, reply.text)
        assert Client(master).request("POST", [1, 2]).status == 400
        assert Client(master).request("POST", {"type": 5}).status == 400
        assert Client(master).request("POST", {"type": "REVIVE", "framework_id": "x"}).status == 400
        bad_info = {"type": "SUBSCRIBE", "subscribe": {"framework_info": "me"}}
        assert Client(master).request("POST", bad_info).status == 400
        odd_info = dict(FRAMEWORK_INFO, roles="dev", capabilities={"x": 1}, failover_timeout="soon")
        odd = Client(master).subscribe(odd_info)
        odd.subscribed()
        odd.close()
        sub.close()


def test_ssl_downgrade_serves_both_schemes_on_one_port() -> None:
    with serve(tls=True, ssl_downgrade=True) as master:
        assert master.ssl_downgrade
        assert master.port("http") == master.port("https")
        assert Client(master).version().status == 200
