"""The driver rides out what heals and stops, typed, on what does not.

Token expiry mid-run, revoked tokens, dropped streams, a leader change, an IAM
that is down for a while, a silent master: none of them sends TEARDOWN, loses a
status update or raises anything in the main thread.
"""

from __future__ import annotations

import logging

import pytest

from mesos_auth import (
    AuthenticationFailedError,
    IAMUnavailableError,
    InsecureTransportError,
    MasterCallError,
    NotConnectedError,
    PermissionRefusedError,
    PrincipalMismatchError,
    RetryPolicy,
    TLSVerificationError,
    TokenProvider,
    create_driver,
)
from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from tests.driver.conftest import make_master
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running
from tests.helpers import FakeClock, wait_for

pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")


def strict_driver(scheduler, master, account, ca, **kwargs):
    kwargs.setdefault("resubscribe_backoff", FAST_BACKOFF)
    kwargs.setdefault("ca_bundle", ca.ca_bundle)
    return create_driver(
        scheduler, framework_info(), master.https_url, service_account=account, security_mode="strict", **kwargs
    )


def all_updates_acknowledged(master) -> bool:
    return all(task.states[-1] == "TASK_FINISHED" and not task.unacknowledged for task in master.task_records.values())


def quiesce(driver, master) -> None:
    """No call of the driver's own may race the test's: every update acknowledged,
    offers suppressed and every outstanding offer declined."""
    master.wait_for(lambda: all_updates_acknowledged(master), what="every update acknowledged")
    driver.suppressOffers()
    master.wait_for(lambda: not master.offers, what="no outstanding offers")


def assert_clean_run(scheduler, master, driver) -> None:
    assert driver.failure is None
    assert not master.calls_of_type("TEARDOWN")
    assert set(scheduler.states().values()) == {"TASK_FINISHED"}
    master.wait_for(lambda: all_updates_acknowledged(master), what="every update acknowledged")


def test_token_expiry_mid_run_is_ridden_out(ca, master_factory) -> None:
    clock = FakeClock()
    with FakeIAM(tls=ca, clock=clock, token_lifetime=60) as iam:
        master = make_master(ca, iam, "strict", task_state_delay=0.2).start()
        try:
            provider = TokenProvider(framework_account(iam, "svc"), ca_bundle=ca.ca_bundle, clock=clock)
            scheduler = RecordingScheduler(tasks=2)
            driver = strict_driver(scheduler, master, None, ca, token_provider=provider)
            with running(driver):
                scheduler.wait_for(lambda: len(scheduler.updates) >= 1, what="the first update")
                clock.advance(120)  # every token issued so far has expired, at the IAM and here
                scheduler.wait_for(scheduler.finished)
                assert_clean_run(scheduler, master, driver)
            assert iam.login_count == 2
            assert len(scheduler.refreshed) == 2
            # The provider refreshes before use; only a call racing the clock jump may
            # have carried the old token, been refused, and been resent.
            assert len([r for r in master.requests if r.status == 401]) <= 1
        finally:
            master.stop()
            master.check()


def test_revoked_token_is_replaced_after_a_401(ca, iam, master_factory) -> None:
    master = master_factory("strict", task_state_delay=0.2)
    scheduler = RecordingScheduler(tasks=2)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca)
    with running(driver):
        scheduler.wait_for(lambda: len(scheduler.updates) >= 1)
        iam.revoke_tokens("svc")
        scheduler.wait_for(scheduler.finished)
        assert_clean_run(scheduler, master, driver)
    refused = [r for r in master.requests if r.status == 401]
    assert refused, "the revoked token should have been refused once"
    assert all(r.call_type != "SUBSCRIBE" for r in refused)
    assert iam.login_count == 2
    assert len(master.frameworks) == 1


def test_dropped_stream_is_resumed_with_the_same_framework_id(ca, iam, master_factory) -> None:
    master = master_factory("strict", task_state_delay=0.2)
    scheduler = RecordingScheduler(tasks=2)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca)
    with running(driver):
        scheduler.wait_for(lambda: len(scheduler.updates) >= 1)
        master.drop_streams()
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
        scheduler.wait_for(scheduler.finished)
        assert_clean_run(scheduler, master, driver)
    [framework] = master.frameworks.values()
    assert framework.subscribe_count == 2
    assert scheduler.framework_ids == [framework.framework_id]
    kinds = scheduler.kinds()
    assert kinds.index("disconnected") < kinds.index("reregistered")


class LeaderChange:
    """Two strict masters; a framework registered with the first, done and quiet."""

    def __init__(self, ca, iam, master_factory) -> None:
        self.first = master_factory("strict")
        self.second = master_factory("strict")
        self.scheduler = RecordingScheduler(tasks=1)
        self.driver = strict_driver(self.scheduler, self.first, framework_account(iam, "svc"), ca)

    def settle(self) -> None:
        self.scheduler.wait_for(self.scheduler.finished)
        quiesce(self.driver, self.first)

    def moved(self) -> bool:
        return any(f.state == "subscribed" for f in self.second.frameworks.values())


@pytest.fixture
def change(ca, iam, master_factory) -> LeaderChange:
    return LeaderChange(ca, iam, master_factory)


def test_leader_change_is_followed_by_the_stream(change) -> None:
    first, second, driver = change.first, change.second, change.driver
    with running(driver):
        change.settle()
        first.set_leader(second)
        first.drop_streams()
        second.wait_for(change.moved, what="moved")
        assert driver.master_address is not None and driver.master_address.port == second.port("https")
        assert driver.master_address.scheme == "https"
    # The master checks leadership first, before it reads the call (docs/protocol.md, "The Mesos v1 scheduler API").
    assert first.requests[-1].status == 307 and first.requests[-1].path == "/api/v1/scheduler"
    [moved] = second.frameworks.values()
    assert moved.framework_id == change.scheduler.framework_ids[0]
    assert driver.failure is None and not first.calls_of_type("TEARDOWN")


def test_a_call_during_a_leader_change_fails_typed_and_the_driver_moves(change) -> None:
    first, second, driver, scheduler = change.first, change.second, change.driver, change.scheduler
    with running(driver):
        change.settle()
        first.set_leader(second)  # a master that steps down also drops its streams
        try:
            driver.reviveOffers()
        except MasterCallError as refused:  # the call beat the dropped stream: 307
            assert refused.status == 307 and refused.call == "REVIVE"
        except NotConnectedError:  # the stream drop was noticed first
            pass
        second.wait_for(change.moved, what="moved")
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
        driver.reviveOffers()  # accepted by the new leader
    assert second.calls_of_type("REVIVE")[-1].status == 202
    assert driver.failure is None


def test_iam_down_for_a_while_is_ridden_out(ca, iam, master_factory) -> None:
    master = master_factory("strict")
    provider = TokenProvider(
        framework_account(iam, "svc"), ca_bundle=ca.ca_bundle, retry=RetryPolicy(initial_delay=0.02, deadline=0.2)
    )
    scheduler = RecordingScheduler(tasks=1)
    driver = strict_driver(scheduler, master, None, ca, token_provider=provider)
    with running(driver):
        scheduler.wait_for(scheduler.finished)
        iam.go_down()
        iam.revoke_tokens("svc")
        master.drop_streams()
        scheduler.wait_for(
            lambda: sum(isinstance(e, IAMUnavailableError) for e in scheduler.auth_failures) >= 2,
            what="two failed logins while the IAM is down",
        )
        assert driver.failure is None
        iam.come_up()
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
    assert driver.failure is None
    assert not master.calls_of_type("TEARDOWN")


def test_silent_master_is_noticed_and_resubscribed(ca, iam, master_factory) -> None:
    master = master_factory("strict", heartbeat_interval=0.2)
    scheduler = RecordingScheduler(tasks=1)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca, missed_heartbeats=3)
    with running(driver):
        scheduler.wait_for(scheduler.finished)
        master.go_silent()
        master.wait_for(lambda: len(master.calls_of_type("SUBSCRIBE")) >= 2, what="a second SUBSCRIBE")
        master.speak()
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
    assert driver.failure is None


def test_principal_mismatch_fails_before_any_request(ca, iam, master_factory) -> None:
    master = master_factory("strict")
    account = framework_account(iam, "svc")
    framework = framework_info(principal="somebody-else")
    with pytest.raises(PrincipalMismatchError) as caught:
        create_driver(
            RecordingScheduler(), framework, master.https_url, service_account=account, security_mode="strict"
        )
    assert caught.value.principal == "somebody-else" and caught.value.uid == "svc"
    assert "'somebody-else'" in str(caught.value) and "'svc'" in str(caught.value)
    assert master.requests == [] and iam.login_attempts == 0


def test_permission_refusal_ends_in_a_typed_error(ca, iam, master_factory) -> None:
    master = master_factory("strict", grants={"svc": ["allowed-role"]})
    scheduler = RecordingScheduler(tasks=1)
    framework = framework_info(roles=["forbidden-role"], capabilities=[{"type": "MULTI_ROLE"}])
    driver = create_driver(
        scheduler,
        framework,
        master.https_url,
        service_account=iam.create_account("svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    driver.start()
    with pytest.raises(PermissionRefusedError) as caught:
        driver.join()
    assert "svc" in str(caught.value) and "forbidden-role" in str(caught.value)
    assert driver.failure is caught.value
    assert scheduler.errors and any(isinstance(e, PermissionRefusedError) for e in scheduler.auth_failures)
    assert not master.calls_of_type("TEARDOWN")
    assert len(master.calls_of_type("SUBSCRIBE")) == 1  # not retried: it cannot heal


def test_unauthenticated_driver_on_a_strict_cluster_stops_with_401(ca, master_factory, monkeypatch) -> None:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    master = master_factory("strict")
    scheduler = RecordingScheduler()
    driver = create_driver(
        scheduler, framework_info(), master.https_url, security_mode="permissive", ca_bundle=ca.ca_bundle
    )
    driver.start()
    with pytest.raises(AuthenticationFailedError, match="no credentials were sent"):
        driver.join()
    assert scheduler.errors and not master.calls_of_type("TEARDOWN")


def test_untrusted_master_certificate_stops_the_driver(iam, master_factory, tmp_path) -> None:
    master = master_factory("strict")
    other = TestCA(tmp_path / "other")
    iam_account = framework_account(iam, "svc")
    scheduler = RecordingScheduler()
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=iam_account,
        security_mode="strict",
        ca_bundle=other.ca_bundle,
    )
    driver.start()
    with pytest.raises(TLSVerificationError, match=str(other.ca_bundle)):
        driver.join()
    assert master.requests == []


def test_strict_mode_refuses_plain_http_to_the_master(iam, master_factory, ca) -> None:
    master = master_factory("strict")
    with pytest.raises(InsecureTransportError, match="allow_insecure_master"):
        create_driver(
            RecordingScheduler(),
            framework_info(),
            master.http_url,
            service_account=framework_account(iam, "svc"),
            security_mode="strict",
            ca_bundle=ca.ca_bundle,
        )


def test_bare_address_means_https_in_strict_mode(iam, master_factory, ca) -> None:
    master = master_factory("strict")
    address = master.https_url.split("://", 1)[1]
    driver = create_driver(
        RecordingScheduler(),
        framework_info(),
        address,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
    )
    assert driver.master_address is not None and driver.master_address.scheme == "https"


def test_masters_redirecting_to_each_other_do_not_stop_the_driver(ca, iam, master_factory) -> None:
    first, second = master_factory("strict"), master_factory("strict")
    first.set_leader(second)
    second.set_leader(first)
    scheduler = RecordingScheduler(tasks=1)
    driver = strict_driver(scheduler, first, framework_account(iam, "svc"), ca)
    with running(driver):
        first.wait_for(lambda: len(first.requests) + len(second.requests) >= 8, what="a few redirects")
        assert driver.failure is None
        second.become_leader()
        scheduler.wait_for(scheduler.finished)
    assert driver.failure is None
    assert any(f.state in ("subscribed", "disconnected") for f in second.frameworks.values())


def test_a_401_on_subscribe_renews_the_token_and_resubscribes(ca, iam, master_factory) -> None:
    master = master_factory("strict")
    scheduler = RecordingScheduler(tasks=1)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca)
    with running(driver):
        scheduler.wait_for(scheduler.finished)
        quiesce(driver, master)  # no call of ours meets the revoked token first
        iam.revoke_tokens("svc")
        master.drop_streams()  # the re-subscription carries the revoked token
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
    subscribes = [
        r.status for r in master.requests if r.path == "/api/v1/scheduler" and r.call_type in ("SUBSCRIBE", None)
    ]
    assert subscribes[-2:] == [401, 200]
    assert iam.login_count == 2 and driver.failure is None
    assert any(isinstance(e, AuthenticationFailedError) for e in scheduler.auth_failures)


def test_a_master_that_is_down_for_a_while_is_waited_for(ca, iam, master_factory, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mesos_auth")  # each failed attempt is logged at INFO
    master = master_factory("strict")
    scheduler = RecordingScheduler(tasks=1)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca)
    with running(driver):
        scheduler.wait_for(scheduler.finished)
        quiesce(driver, master)
        master.go_down()  # every connection reset, streams dropped
        scheduler.wait_for(lambda: "disconnected" in scheduler.kinds(), what="disconnected")
        wait_for(lambda: caplog.text.count("failed:") >= 2, what="two failed re-subscriptions")
        assert driver.failure is None
        master.come_up()
        scheduler.wait_for(lambda: "reregistered" in scheduler.kinds(), what="reregistered")
    assert driver.failure is None and not master.calls_of_type("TEARDOWN")
    [framework] = master.frameworks.values()
    assert framework.subscribe_count == 2


def test_subscribe_401s_are_counted_only_until_a_subscribe_is_accepted(ca, iam, master_factory) -> None:
    """A flapping master (each stream dropped at once) that also answers one SUBSCRIBE in two
    with 401: each 401 is followed by an accepted SUBSCRIBE, so the credentials work, and the
    driver must never reach its limit of consecutive 401s (found by the soak, seed 20261201)."""
    master = master_factory("strict")
    scheduler = RecordingScheduler(tasks=0)
    driver = strict_driver(scheduler, master, framework_account(iam, "svc"), ca)
    with running(driver):
        master.wait_for(lambda: len(master.calls_of_type("SUBSCRIBE")) == 1, what="subscribed")
        for round_ in range(1, 8):
            iam.shift_clock(1.0)  # a fresh token for every login (two logins in one second are the same token)
            master.fail_next_calls(1, 401, call_types=["SUBSCRIBE"])
            master.drop_streams()  # lives far less than a heartbeat interval: never "healthy"
            master.wait_for(
                lambda round_=round_: sum(r.status == 200 for r in master.calls_of_type("SUBSCRIBE")) == round_ + 1,
                what=f"subscribed again after 401 number {round_}",
            )
        assert driver.failure is None
    assert sum(r.status == 401 for r in master.calls_of_type("SUBSCRIBE")) == 7
