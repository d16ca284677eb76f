"""FakeMaster's allocator: batch allocation every interval, immediate allocations,
refuse filters of DECLINE and ACCEPT (Mesos' hierarchical allocator).

Every test runs on a ManualClock, so a batch happens only when the test moves the
clock; ``master.allocation_runs`` tells when a batch has run.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from mesos_auth.testing.master import FakeMaster, ManualClock

from .test_fake_master_support import (
    FRAMEWORK_INFO,
    Client,
    Subscription,
    launch,
    offers_of,
    serve,
    subscribed_framework,
    task_info,
)

AGENT = {"cpus": 2.0, "mem": 1024.0, "disk": 0.0}
YEAR = 365 * 24 * 3600.0


def advance_one_batch(master: FakeMaster, clock: ManualClock, seconds: float) -> None:
    """Move the clock and wait until the batch allocation it makes due has run."""
    runs = master.allocation_runs
    clock.advance(seconds)
    master.wait_for(lambda: master.allocation_runs > runs, what="a batch allocation")


def decline(sub: Subscription, offer: Dict[str, Any], refuse_seconds: Any) -> None:
    assert (
        sub.call("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": refuse_seconds}}).status == 202
    )


def test_allocation_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="allocation_interval"):
        FakeMaster(allocation_interval=0)
    assert FakeMaster().allocation_interval == 1.0


def test_a_finished_task_is_offered_again_at_the_next_batch_not_at_once() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer), refuse_seconds=0)
        assert [s["state"] for s in sub.updates(3)][-1] == "TASK_FINISHED"
        master.wait_for(lambda: master.agents[offer["agent_id"]["value"]].free == {"cpus": 2.0, "mem": 1024.0})
        assert master.offers == {}  # recovered resources wait for the batch

        advance_one_batch(master, clock, 1.0)
        again = offers_of(sub.until("OFFERS"))
        assert [o["agent_id"] for o in again] == [offer["agent_id"]]
        sub.close()


def test_a_framework_launching_on_every_offer_gets_one_round_per_interval() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        for round_number in range(3):
            offer = offers_of(event)[0]
            launch(sub, offer, task_info(f"t{round_number}", offer), refuse_seconds=0)
            sub.updates(3)
            runs = master.allocation_runs
            assert master.offers == {}
            advance_one_batch(master, clock, 1.0)
            assert master.allocation_runs == runs + 1
            event = sub.until("OFFERS")
        assert len(master.calls_of_type("ACCEPT")) == 3
        sub.close()


def test_accept_filters_the_unused_rest_for_refuse_seconds() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock, task_states=("TASK_RUNNING",)) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        payload = {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_info("t1", offer)]}}],
        }  # no filters: Mesos' default of 5 s
        assert sub.call("ACCEPT", payload).status == 202
        sub.updates(1)
        advance_one_batch(master, clock, 4.0)
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        rest = offers_of(sub.until("OFFERS"))
        assert rest[0]["resources"][0]["scalar"]["value"] == 1.5
        sub.close()


def test_freed_resources_lift_a_filter_early() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, task_info("t1", offer), refuse_seconds=3600)
        sub.updates(3)  # finished: the agent now has more than the refused rest
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_a_short_filter_lasts_at_least_one_allocation_interval() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock, allocation_interval=1.0) as master:
        sub, event = subscribed_framework(master)
        clock.advance(0.9)
        decline(sub, offers_of(event)[0], 0.5)
        advance_one_batch(master, clock, 0.15)  # the batch at 1.05: the filter holds until 1.9
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


@pytest.mark.parametrize("refuse_seconds", [-1, -3600.0])
def test_a_negative_refuse_time_means_the_default(refuse_seconds: float) -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock, offer_refuse_seconds=5.0) as master:
        sub, event = subscribed_framework(master)
        decline(sub, offers_of(event)[0], refuse_seconds)
        advance_one_batch(master, clock, 4.0)
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_a_refuse_time_over_a_year_counts_as_a_year() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        decline(sub, offers_of(event)[0], 100 * YEAR)
        advance_one_batch(master, clock, YEAR - 1)
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_zero_refuse_seconds_sets_no_filter() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        decline(sub, offers_of(event)[0], 0)
        assert master.offers == {}  # not at once: at the next batch
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_revive_allocates_at_once() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        decline(sub, offers_of(event)[0], 3600)
        runs = master.allocation_runs
        assert sub.call("REVIVE").status == 202
        assert offers_of(sub.until("OFFERS"))
        assert master.allocation_runs == runs + 1  # no batch: the clock never moved
        sub.close()


def test_a_framework_failing_over_while_connected_waits_for_the_batch() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, _ = subscribed_framework(master)
        again = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        again.subscribed()
        assert master.offers == {}  # the old stream's offer went back, not re-offered yet
        advance_one_batch(master, clock, 1.0)
        assert offers_of(again.until("OFFERS"))
        again.close()
        sub.close()


def test_a_disconnected_framework_coming_back_gets_offers_at_once() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, _ = subscribed_framework(master, info=dict(FRAMEWORK_INFO, failover_timeout=3600))
        master.drop_streams()
        back = Client(master).subscribe(FRAMEWORK_INFO, framework_id=sub.framework_id)
        back.subscribed()
        assert offers_of(back.until("OFFERS"))
        back.close()


def test_rescinded_offers_come_back_at_the_next_batch() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        sub, event = subscribed_framework(master)
        assert master.rescind_offers() == 1
        assert sub.until("RESCIND")["rescind"]["offer_id"] == offers_of(event)[0]["id"]
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        assert offers_of(sub.until("OFFERS"))
        sub.close()


def test_a_torn_down_frameworks_resources_go_to_another_at_the_next_batch() -> None:
    clock = ManualClock()
    with serve(agents=[AGENT], clock=clock) as master:
        first, _ = subscribed_framework(master)
        second = Client(master).subscribe()
        second.subscribed()
        assert first.call("TEARDOWN").status == 202
        assert master.offers == {}
        advance_one_batch(master, clock, 1.0)
        assert offers_of(second.until("OFFERS"))
        second.close()
        first.close()
