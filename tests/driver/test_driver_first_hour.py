"""A framework author's first hour: a cluster that is down fails in bounded time and says why,
plain http sent to a TLS port is named, the scheduler callbacks fire as documented, and a
callback racing ``stop()`` stays quiet.

Every failure here is typed and bounded: the driver's ``timeout`` is 2 s, and each test
measures how long the failure took.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Iterator, List

import pytest

from mesos_auth import (
    IAMUnavailableError,
    LoginRejectedError,
    MasterUnreachableError,
    NotConnectedError,
    ServiceAccount,
    create_driver,
)
from mesos_auth.errors import PlainHttpToTLSError
from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.testing.master import FakeMaster
from mesos_auth.transport import speaks_tls
from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_account, framework_info, running

pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")

TIMEOUT = 2.0
#: What a failure may take beyond the timeout: the last attempt, join()'s grace, a busy machine.
SLACK = 3.0


@pytest.fixture
def nothing_listening() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: a stopped cluster."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound and released: nothing listens there now
    yield port


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mesos_auth")
    return caplog


def records(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == level]


def sentences(message: str) -> List[str]:
    """The sentences of a message: a full stop, a space and a capital start a new one."""
    import re

    return re.split(r"(?<=\.)\s+(?=[A-Z])", message)


def fail_within_timeout(driver: Any) -> tuple[BaseException, float]:
    started = time.monotonic()
    driver.start()
    with pytest.raises(Exception) as caught:
        driver.join()
    return caught.value, time.monotonic() - started


# ---------------------------------------------------------------------------
# 1. Bounded, honest failure
# ---------------------------------------------------------------------------


def test_nothing_listening_fails_typed_within_the_timeout(nothing_listening: int, logs: Any) -> None:
    scheduler = RecordingScheduler()
    url = f"http://127.0.0.1:{nothing_listening}"
    driver = create_driver(
        scheduler, framework_info(), url, security_mode="disabled", timeout=TIMEOUT, resubscribe_backoff=FAST_BACKOFF
    )

    error, elapsed = fail_within_timeout(driver)

    assert isinstance(error, MasterUnreachableError)
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + SLACK
    assert error.url == url and error.timeout == TIMEOUT
    message = str(error)
    assert message.startswith(f"could not subscribe to the master at {url} within the driver's timeout (2 s): ")
    assert f"nothing listens at 127.0.0.1:{nothing_listening}" in message  # the last underlying cause
    _cause, fix = sentences(message)
    assert fix.startswith("Check that a Mesos master runs at that address") and fix.endswith(
        "or give the driver a longer timeout."
    )
    assert "Errno" not in message and ".py" not in message
    assert driver.failure is error
    assert scheduler.errors == [message]  # error() gets the driver's own fatal error
    assert scheduler.auth_failures == []  # a master that is down is no authentication failure
    # Per-attempt lines at INFO; no WARNING before the first report (5 s); one ERROR at the end.
    assert len([r for r in records(logs, "mesos_auth.driver", logging.INFO) if "failed:" in r.getMessage()]) >= 3
    assert records(logs, "mesos_auth.driver", logging.WARNING) == []
    assert len(records(logs, "mesos_auth.driver", logging.ERROR)) == 1


def test_an_iam_answering_503_fails_as_the_iam_within_the_timeout(
    ca: TestCA, iam: FakeIAM, master_factory, logs
) -> None:
    master = master_factory("strict")
    account = framework_account(iam, "svc")
    iam.fail_next_logins(10_000, 503)
    scheduler = RecordingScheduler()
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=account,
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        timeout=TIMEOUT,
        resubscribe_backoff=FAST_BACKOFF,
    )

    error, elapsed = fail_within_timeout(driver)

    # The IAM's own retries (a minute by default) no longer outlast the driver's timeout.
    assert isinstance(error, IAMUnavailableError)
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + SLACK
    assert error.endpoint == account.login_endpoint and error.timeout == TIMEOUT
    assert error.last_problem == "HTTP 503" and error.attempts >= 2
    cause, fix = sentences(str(error))
    assert cause.startswith(f"could not log in at the IAM {account.login_endpoint} within the driver's timeout (2 s)")
    assert cause.endswith("the last with HTTP 503.")
    assert fix == (
        "Check that the IAM is up and reachable from here (the login_endpoint of the service account), "
        "or give the driver a longer timeout."
    )
    assert master.calls_of_type("SUBSCRIBE") == []  # no SUBSCRIBE without a token
    assert scheduler.errors == [str(error)]
    assert all(isinstance(e, IAMUnavailableError) for e in scheduler.auth_failures)
    assert scheduler.auth_failures[-1] is error
    # The login's attempts at INFO; the driver reports the IAM itself, so the IAM client stays quiet.
    assert len(records(logs, "mesos_auth.iam", logging.INFO)) >= 4
    assert records(logs, "mesos_auth.iam", logging.WARNING) == []


def test_one_warning_per_growing_interval_not_one_per_attempt(nothing_listening: int, logs: Any) -> None:
    driver = create_driver(
        RecordingScheduler(),
        framework_info(),
        f"127.0.0.1:{nothing_listening}",
        security_mode="disabled",
        timeout=TIMEOUT,
        resubscribe_backoff=FAST_BACKOFF,
    )
    driver._report_after = (0.2, 0.6)  # instead of 5 s, 30 s, 2 min, 10 min
    driver._report_every = 60.0

    error, _ = fail_within_timeout(driver)

    assert isinstance(error, MasterUnreachableError)
    attempts = [r for r in records(logs, "mesos_auth.driver", logging.INFO) if "failed:" in r.getMessage()]
    warnings = [r.getMessage() for r in records(logs, "mesos_auth.driver", logging.WARNING)]
    assert len(attempts) >= 5
    assert len(warnings) == 2, warnings
    for warning in warnings:
        assert warning.startswith("no subscription for ")
        assert f"the master at http://127.0.0.1:{nothing_listening} cannot be subscribed to" in warning
        assert "nothing listens at" in warning
        assert "(its timeout is 2 s), then stops with MasterUnreachableError" in warning


def test_a_cluster_that_comes_up_in_time_is_waited_for(ca: TestCA, iam: FakeIAM, master_factory) -> None:
    """The timeout bounds failing, not running: a subscription that lived starts a fresh period."""
    master = master_factory("strict", task_state_delay=0.1)
    scheduler = RecordingScheduler(tasks=2)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        timeout=TIMEOUT,
        resubscribe_backoff=FAST_BACKOFF,
    )
    with running(driver):
        scheduler.wait_for(scheduler.finished)
        subscribed_at = time.monotonic()
        # Subscribed for longer than the timeout: the driver's deadline passes while all is well.
        scheduler.wait_for(lambda: time.monotonic() - subscribed_at > TIMEOUT + 0.5, what="the timeout passed")
        assert driver.failure is None
        driver.reviveOffers()
    assert driver.failure is None


# ---------------------------------------------------------------------------
# 2. Plain http sent to a TLS port
# ---------------------------------------------------------------------------


def test_speaks_tls_tells_a_tls_port_from_a_plain_one(ca: TestCA, nothing_listening: int) -> None:
    with FakeMaster(security_mode="permissive", tls=ca) as master:
        assert speaks_tls("127.0.0.1", int(master.https_url.rsplit(":", 1)[1]), 5.0) is True
        assert speaks_tls("127.0.0.1", int(master.http_url.rsplit(":", 1)[1]), 5.0) is False
    assert speaks_tls("127.0.0.1", nothing_listening, 5.0) is False


def test_speaks_tls_is_bounded_by_its_timeout_against_a_silent_port() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the TCP connection, never answers the ClientHello
        started = time.monotonic()
        assert speaks_tls("127.0.0.1", silent.getsockname()[1], 0.5) is False
        assert time.monotonic() - started < 3.0


def test_http_to_a_tls_master_is_named_before_any_credential_is_sent(ca: TestCA, iam: FakeIAM, logs) -> None:
    scheduler = RecordingScheduler()
    with FakeMaster(security_mode="permissive", iam=iam, tls=ca, plain_http=False) as master:
        https_url = master.https_url
        http_url = "http://" + https_url.split("://", 1)[1]
        driver = create_driver(
            scheduler,
            framework_info(),
            http_url,
            service_account=framework_account(iam, "svc"),
            security_mode="permissive",
            ca_bundle=ca.ca_bundle,
            resubscribe_backoff=FAST_BACKOFF,  # the default timeout (a day): the error is no timeout
        )
        error, elapsed = fail_within_timeout(driver)
        assert master.requests == []  # nothing it could read as http
    assert isinstance(error, PlainHttpToTLSError)
    assert elapsed < SLACK
    assert error.component == "master" and error.url == http_url and error.https_url == https_url
    cause, fix = sentences(str(error))
    assert cause == f"the master at {http_url} does not answer plain http: this port speaks TLS."
    assert fix.startswith(f"Use {https_url} or set MESOS_AUTH_SECURITY_MODE=strict")
    assert iam.login_attempts == 0  # found on GET /version, before the login and SUBSCRIBE
    assert scheduler.errors == [str(error)]


def test_http_to_a_tls_iam_is_named_by_the_driver(ca: TestCA, master_factory) -> None:
    with FakeIAM(tls=ca, plain_http=False, clock=time.time) as iam:
        master = master_factory("permissive")
        account = framework_account(iam, "svc")
        http_endpoint = account.login_endpoint.replace("https://", "http://")
        scheduler = RecordingScheduler()
        driver = create_driver(
            scheduler,
            framework_info(),
            master.https_url,
            service_account=account.with_login_endpoint(http_endpoint),
            security_mode="permissive",
            ca_bundle=ca.ca_bundle,
            resubscribe_backoff=FAST_BACKOFF,
        )
        error, elapsed = fail_within_timeout(driver)
        assert iam.login_attempts == 0
    assert isinstance(error, PlainHttpToTLSError) and error.component == "IAM"
    assert elapsed < SLACK
    assert str(error) == (
        f"the IAM at {http_endpoint} does not answer plain http: this port speaks TLS. "
        f"Use {account.login_endpoint} as the login_endpoint of the service account."
    )
    assert scheduler.auth_failures == [error]  # a login that failed: told once
    assert scheduler.errors == [str(error)]
    assert master.calls_of_type("SUBSCRIBE") == []


# ---------------------------------------------------------------------------
# 3. Scheduler callbacks as documented
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["wrong key", "unknown account"])
def test_a_refused_login_is_told_to_authentication_failed_then_error(
    who: str, ca: TestCA, iam: FakeIAM, master_factory, other_rsa_key
) -> None:
    master = master_factory("strict")
    if who == "wrong key":
        registered = framework_account(iam, "svc")
        account = ServiceAccount(uid="svc", private_key=other_rsa_key, login_endpoint=registered.login_endpoint)
    else:
        account = ServiceAccount(uid="nobody-knows", private_key=other_rsa_key, login_endpoint=iam.login_endpoint)
    scheduler = RecordingScheduler()
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=account,
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )

    error, elapsed = fail_within_timeout(driver)

    assert isinstance(error, LoginRejectedError) and error.status == 401
    assert elapsed < SLACK
    assert scheduler.auth_failures == [error]  # once, with the typed error
    assert scheduler.errors == [str(error)]  # then error() with the fatal message
    kinds = scheduler.kinds()
    assert kinds.index("authenticationFailed") < kinds.index("error")
    assert "tokenRefreshed" not in kinds and "registered" not in kinds
    assert iam.login_attempts == 1  # a refused login is not retried
    assert master.calls_of_type("SUBSCRIBE") == []


def test_token_refreshed_fires_on_the_first_login_with_epoch_seconds(ca: TestCA, iam: FakeIAM, master_factory) -> None:
    iam.token_lifetime = 3600
    master = master_factory("strict")
    scheduler = RecordingScheduler(tasks=1)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    before = time.time()
    with running(driver):
        scheduler.wait_for(lambda: "authenticated" in scheduler.kinds(), what="authenticated")
    [info] = scheduler.refreshed
    assert info.uid == "svc"
    assert before - 2 <= info.obtained_at <= time.time()
    assert info.expires_at == pytest.approx(info.obtained_at + 3600, abs=2)  # epoch seconds
    assert info.lifetime == pytest.approx(3600, abs=2)
    kinds = scheduler.kinds()
    assert kinds.index("tokenRefreshed") < kinds.index("registered") < kinds.index("authenticated")
    assert ("authenticated", "svc") in scheduler.events


# ---------------------------------------------------------------------------
# A callback racing stop()
# ---------------------------------------------------------------------------


class RacingScheduler(RecordingScheduler):
    """Holds its first offers until the TEARDOWN of another thread's stop() reached the master,
    then declines, accepts and revives: the calls of a callback that lost the race."""

    def __init__(self, master: FakeMaster) -> None:
        super().__init__(tasks=0)
        self.master = master
        self.holding = threading.Event()
        self.outcomes: List[Any] = []

    def resourceOffers(self, driver: Any, offers: List[Any]) -> None:
        if self.holding.is_set():
            return
        self.holding.set()
        self.master.wait_for(lambda: self.master.calls_of_type("TEARDOWN"), what="the TEARDOWN of stop()")
        offer = offers[0]
        self.outcomes.append(driver.declineOffer(offer["id"], {"refuse_seconds": 5.0}))
        task = {
            "name": "late",
            "task_id": {"value": "late"},
            "agent_id": offer["agent_id"],
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
            "command": {"value": "true"},
        }
        self.outcomes.append(driver.launchTasks(offer["id"], [task]))
        try:
            self.outcomes.append(driver.reviveOffers())
        except NotConnectedError as error:
            self.outcomes.append(error)
        driver.suppressOffers()  # uncaught: the driver must not log it as a failure


def test_a_callback_racing_stop_is_a_quiet_no_op(ca: TestCA, iam: FakeIAM, master_factory, logs) -> None:
    master = master_factory("strict")
    scheduler = RacingScheduler(master)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    driver.start()
    scheduler.holding.wait(30)
    assert scheduler.holding.is_set(), "no offers came"
    driver.stop()  # TEARDOWN, while the stream thread is inside resourceOffers
    driver.join()
    thread = driver._stream_thread
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive()

    decline, accept, revive = scheduler.outcomes
    assert decline is None and accept is None
    # Past pymesos' "connected" check before stop() ended: typed; after: pymesos' quiet no-op.
    assert revive is None or (isinstance(revive, NotConnectedError) and revive.stopped and revive.call == "REVIVE")
    teardown = master.calls_of_type("TEARDOWN")
    assert len(teardown) == 1
    late = [r for r in master.requests if r.call_type in ("DECLINE", "ACCEPT", "REVIVE", "SUPPRESS")]
    assert late == []  # nothing reached the master after its TEARDOWN
    assert "Framework cannot be found" not in logs.text
    assert [r for r in logs.records if r.levelno >= logging.ERROR] == []
    assert not any("TASK_LOST" in str(u) for u in scheduler.updates)  # a torn-down launch is no lost task
    assert driver.failure is None


def test_a_decline_waiting_for_the_teardown_is_not_sent_after_it(
    ca: TestCA, iam: FakeIAM, master_factory, logs
) -> None:
    """The race of the report: the callback's DECLINE passed pymesos' checks and waits for the
    call lock while stop() sends TEARDOWN; sent afterwards, the master would answer 400
    "Framework cannot be found" and the callback would die with an ERROR traceback."""
    master = master_factory("strict")
    tearing_down = threading.Event()
    decline_entered = threading.Event()
    outcomes: List[Any] = []

    class Scheduler(RecordingScheduler):
        def resourceOffers(self, driver: Any, offers: List[Any]) -> None:
            if not outcomes:
                outcomes.append(driver.declineOffer(offers[0]["id"]))

    scheduler = Scheduler(tasks=0)
    driver = create_driver(
        scheduler,
        framework_info(),
        master.https_url,
        service_account=framework_account(iam, "svc"),
        security_mode="strict",
        ca_bundle=ca.ca_bundle,
        resubscribe_backoff=FAST_BACKOFF,
    )
    send, teardown = driver._send, driver._teardown

    def spying_send(body: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(body, dict) and body.get("type") == "DECLINE":
            decline_entered.set()  # past every check before the call lock
            assert tearing_down.wait(30), "stop() did not begin its TEARDOWN"
        return send(body, *args, **kwargs)  # waits for the call lock, which TEARDOWN holds

    def tearing_down_first() -> None:  # runs holding the call lock
        tearing_down.set()
        teardown()

    driver._send = spying_send
    driver._teardown = tearing_down_first
    driver.start()
    assert decline_entered.wait(30), "no DECLINE"
    driver.stop()
    driver.join()
    assert driver._stream_thread is not None
    driver._stream_thread.join(30)

    assert outcomes == [None]
    assert len(master.calls_of_type("TEARDOWN")) == 1
    assert master.calls_of_type("DECLINE") == []
    assert "Framework cannot be found" not in logs.text
    assert [r for r in logs.records if r.levelno >= logging.ERROR] == []
