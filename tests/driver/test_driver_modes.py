"""The driver end to end against the fake cluster: every security mode, with and
without TLS, through the factory and through a subclassed scheduler."""

from __future__ import annotations

from typing import Any

import pytest

import mesos_auth
from mesos_auth import AuthenticatedSchedulerDriver, AuthenticationFailedError, ConfigurationError, create_driver
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running

MODES = ["disabled", "permissive", "strict"]


def build(style: str, scheduler: Any, framework: Any, master_url: str, **kwargs: Any) -> AuthenticatedSchedulerDriver:
    if style == "factory":
        return create_driver(scheduler, framework, master_url, use_addict=True, **kwargs)
    return AuthenticatedSchedulerDriver(scheduler, framework, master_url, use_addict=True, **kwargs)


@pytest.mark.parametrize("style", ["factory", "subclass"])
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
@pytest.mark.parametrize("mode", MODES)
def test_register_offer_launch_finish(mode: str, tls: bool, style: str, ca, iam, master_factory) -> None:
    master = master_factory(mode)
    account = framework_account(iam, "hello-framework")
    scheduler = RecordingScheduler(tasks=3)
    framework = framework_info()
    driver = build(
        style,
        scheduler,
        framework,
        master.https_url if tls else master.http_url,
        service_account=account if mode != "disabled" else None,
        security_mode=mode,
        ca_bundle=ca.ca_bundle,
        allow_insecure_master=not tls,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with running(driver):
        scheduler.wait_for(scheduler.finished, what="3 tasks finished")
    assert driver.failure is None
    assert set(scheduler.states().values()) == {"TASK_FINISHED"}
    kinds = scheduler.kinds()
    assert kinds.index("registered") < kinds.index("offers")
    [record] = master.frameworks.values()
    if mode == "disabled":
        assert "Authorization" not in str([r.headers for r in master.requests])
        assert iam.login_count == 0
    else:
        assert record.principal == "hello-framework"
        assert framework["principal"] == "hello-framework"  # filled in from the account
        assert kinds.index("tokenRefreshed") < kinds.index("registered") < kinds.index("authenticated")
        assert iam.login_count == 1
        assert all(
            r.headers.get("Authorization", "").startswith("token=") for r in master.requests if r.path != "/version"
        )
    assert not master.calls_of_type("TEARDOWN")  # stopped with failover=True
    assert scheduler.threads == {"mesos-auth stream"}


def test_permissive_without_an_account_runs_unauthenticated(master_factory, ca, monkeypatch) -> None:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    master = master_factory("permissive")
    scheduler = RecordingScheduler(tasks=1)
    driver = create_driver(
        scheduler, framework_info(), master.https_url, security_mode="permissive", ca_bundle=ca.ca_bundle
    )
    assert driver.token_provider is None
    with running(driver):
        scheduler.wait_for(scheduler.finished)
    assert not any("Authorization" in r.headers for r in master.requests)


def test_stop_without_failover_tears_down(master_factory, iam, ca) -> None:
    master = master_factory("strict")
    scheduler = RecordingScheduler(tasks=1)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
    )
    driver.start()
    scheduler.wait_for(scheduler.finished)
    driver.stop()
    driver.join()
    assert len(master.calls_of_type("TEARDOWN")) == 1
    assert master.calls_of_type("TEARDOWN")[0].headers["Authorization"].startswith("token=")


def test_lazy_import_of_the_driver_side() -> None:
    assert mesos_auth.create_driver is create_driver


def test_http_basic_auth_for_plain_mesos_clusters(ca, master_factory, monkeypatch) -> None:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    master = master_factory("disabled", basic_auth={"plain-principal": "s3cret"})
    scheduler = RecordingScheduler(tasks=1)
    framework = framework_info(principal="plain-principal")
    driver = create_driver(
        scheduler, framework, master.https_url, principal="plain-principal", secret="s3cret", ca_bundle=ca.ca_bundle
    )
    assert driver.token_provider is None
    with running(driver):
        scheduler.wait_for(scheduler.finished)
    assert driver.failure is None
    assert {r.headers.get("Authorization") for r in master.requests if r.path != "/version"} == {"Basic ***"}
    [record] = master.frameworks.values()
    assert record.authenticated_principal == "plain-principal"


def test_wrong_basic_secret_stops_the_driver_typed(ca, master_factory, monkeypatch) -> None:
    monkeypatch.delenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", raising=False)
    master = master_factory("disabled", basic_auth={"plain-principal": "s3cret"})
    scheduler = RecordingScheduler()
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        principal="plain-principal",
        secret="wrong",
        ca_bundle=ca.ca_bundle,
    )
    driver.start()
    with pytest.raises(AuthenticationFailedError):
        driver.join()
    assert len(master.calls_of_type("SUBSCRIBE")) == 1  # no token to refresh: retrying cannot help


def test_a_service_account_and_basic_auth_together_are_refused(iam, master_factory, ca) -> None:
    master = master_factory("strict")
    with pytest.raises(ConfigurationError, match="not both"):
        create_driver(
            RecordingScheduler(),
            framework_info(),
            master.https_url,
            principal="p",
            secret="s",
            service_account=framework_account(iam, "svc"),
            ca_bundle=ca.ca_bundle,
        )
