"""The shape of the messages a newcomer meets first: one sentence for the cause, one for the fix,
no internal file names, nothing said twice; and the IAM client's WARNINGs at growing intervals."""

from __future__ import annotations

import logging
import re
import ssl
from typing import Any, List

import pytest

from mesos_auth import IAMClient, InsecureTransportError, MasterUnreachableError, RetryPolicy, create_driver
from mesos_auth.account import ServiceAccount
from mesos_auth.errors import (
    IAMUnavailableError,
    NotConnectedError,
    PlainHttpToTLSError,
    duration,
    https_twin,
)
from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.transport import FailureReporter, network_problem
from tests.conftest import pem
from tests.helpers import FakeClock


def sentences(message: str) -> List[str]:
    """A full stop, a space and a capital start a new sentence (dotted hosts and IPs do not)."""
    return re.split(r"(?<=\.)\s+(?=[A-Z])", message)


def assert_cause_then_fix(message: str, fix_starts: str) -> List[str]:
    parts = sentences(message)
    assert len(parts) == 2, parts
    cause, fix = parts
    assert cause[0].islower() and cause.endswith(".")
    assert fix.startswith(fix_starts) and fix.endswith(".")
    assert ".py" not in message and "_ssl.c" not in message and "  " not in message
    return parts


# ---------------------------------------------------------------------------
# InsecureTransportError
# ---------------------------------------------------------------------------


def test_insecure_transport_for_a_login_token() -> None:
    error = InsecureTransportError("http://user:pw@master.mesos/acs/api/v1/auth/login")
    cause, fix = assert_cause_then_fix(str(error), "Use ")
    assert cause == (
        "refusing to send a login token over plain http to http://***@master.mesos/acs/api/v1/auth/login: "
        "in strict mode no credential travels in clear text."
    )
    assert fix == "Use https://***@master.mesos/acs/api/v1/auth/login instead."
    assert str(error).count("https://") == 1  # said once, at the end
    assert "pw" not in str(error)


def test_insecure_transport_for_the_master_names_both_ways_out_once(rsa_key: Any) -> None:
    with pytest.raises(InsecureTransportError) as caught:
        create_driver(
            object(),
            {"user": "nobody", "name": "x"},
            "http://leader.mesos:5050",
            security_mode="strict",
            service_account={
                "uid": "svc",
                "private_key": pem(rsa_key),
                "login_endpoint": "https://m/acs/api/v1/auth/login",
            },
        )
    message = str(caught.value)
    cause, fix = assert_cause_then_fix(message, "Use ")
    assert cause == (
        "refusing to send the framework's credentials over plain http to http://leader.mesos:5050: "
        "in strict mode no credential travels in clear text."
    )
    assert fix == (
        "Use https://leader.mesos:5050 instead, or pass allow_insecure_master=True to accept plain http to the master."
    )
    assert message.count("allow_insecure_master") == 1 and message.count("https://") == 1


def test_https_twin() -> None:
    assert https_twin("http://h:1/p?q") == "https://h:1/p?q"
    assert https_twin("h:5050") == "https://h:5050"


# ---------------------------------------------------------------------------
# The driver's failures
# ---------------------------------------------------------------------------


def test_master_unreachable_within_the_timeout() -> None:
    error = MasterUnreachableError(
        "http://a:5050",
        "the connection was refused: nothing listens at a:5050",
        timeout=20,
        masters=["http://a:5050", "http://b:5050"],
    )
    cause, fix = assert_cause_then_fix(str(error), "Check that a Mesos master runs")
    assert cause == (
        "could not subscribe to the master at http://a:5050 (tried: http://a:5050, http://b:5050) within the "
        "driver's timeout (20 s): the connection was refused: nothing listens at a:5050."
    )
    assert fix.endswith("or give the driver a longer timeout.")
    assert error.timeout == 20 and error.masters == ("http://a:5050", "http://b:5050")


def test_master_unreachable_without_a_timeout_keeps_its_old_arguments() -> None:
    error = MasterUnreachableError("https://m:5050", "no subscription for 30 s.")
    cause, fix = assert_cause_then_fix(str(error), "Check that a Mesos master runs")
    assert cause == "could not subscribe to the master at https://m:5050: no subscription for 30 s."
    assert "timeout" not in fix and error.url == "https://m:5050"


def test_iam_unavailable_with_and_without_the_drivers_timeout() -> None:
    plain = IAMUnavailableError(
        endpoint="https://m/acs/api/v1/auth/login", attempts=3, elapsed=61.2, last_problem="HTTP 503"
    )
    cause, fix = assert_cause_then_fix(str(plain), "Check that the IAM is up")
    assert cause == (
        "could not log in at the IAM https://m/acs/api/v1/auth/login: 3 attempt(s) over 61.2 s failed, "
        "the last with HTTP 503."
    )
    assert fix.endswith("then try again.")
    timed = IAMUnavailableError(
        endpoint="https://m/acs/api/v1/auth/login", attempts=4, elapsed=2.0, last_problem="HTTP 503", timeout=2.0
    )
    cause, fix = assert_cause_then_fix(str(timed), "Check that the IAM is up")
    assert "within the driver's timeout (2 s)" in cause
    assert fix.endswith("or give the driver a longer timeout.")


def test_plain_http_to_a_tls_port() -> None:
    error = PlainHttpToTLSError("http://10.0.0.1:5050", component="master")
    assert str(error) == (
        "the master at http://10.0.0.1:5050 does not answer plain http: this port speaks TLS. "
        "Use https://10.0.0.1:5050 or set MESOS_AUTH_SECURITY_MODE=strict."
    )
    assert_cause_then_fix(str(error), "Use https://10.0.0.1:5050")
    assert error.https_url == "https://10.0.0.1:5050"


def test_not_connected_once_stopped() -> None:
    error = NotConnectedError("DECLINE", stopped=True)
    assert_cause_then_fix(str(error), "Call start()")
    assert isinstance(error, RuntimeError) and error.stopped
    assert str(NotConnectedError("REVIVE")) == "cannot send REVIVE: the driver is not subscribed to a master yet"


def test_network_problems_lose_openssls_noise() -> None:
    eof = ssl.SSLEOFError(8, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)")
    assert network_problem(eof) == "SSLEOFError: EOF occurred in violation of protocol"
    assert (
        network_problem(ConnectionRefusedError(111, "Connection refused"))
        == "ConnectionRefusedError: Connection refused"
    )


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (2, 30, 120, 600, 86400)] == ["2 s", "30 s", "2 min", "10 min", "24 h"]


# ---------------------------------------------------------------------------
# WARNINGs at growing intervals
# ---------------------------------------------------------------------------


def test_failure_reporter_over_an_hour_of_failures() -> None:
    clock = FakeClock(0.0)
    reporter = FailureReporter(clock=clock)
    due = []
    for _ in range(3600):  # one failure a second for an hour
        clock.advance(1.0)
        elapsed = reporter.due()
        if elapsed is not None:
            due.append(elapsed)
    assert due == [5, 30, 120, 600, 1200, 1800, 2400, 3000, 3600]
    reporter.restart()
    clock.advance(4.0)
    assert reporter.due() is None
    clock.advance(1.0)
    assert reporter.due() == 5.0


def test_failure_reporter_reports_once_for_moments_passed_together() -> None:
    clock = FakeClock(0.0)
    reporter = FailureReporter(clock=clock)
    clock.advance(700.0)  # one long attempt: past 5 s, 30 s, 2 min and 10 min at once
    assert reporter.due() == 700.0
    assert reporter.due() is None
    clock.advance(500.0)
    assert reporter.due() == 1200.0


def test_a_standalone_login_warns_at_growing_intervals_not_per_attempt(
    fake_iam: Any, ca: TestCA, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    iam: FakeIAM = fake_iam()
    account: ServiceAccount = iam.create_account("svc")
    iam.fail_next_logins(1000, 503)
    client = IAMClient(
        ca_bundle=ca.ca_bundle,
        retry=RetryPolicy(initial_delay=1.0, backoff=1.0, max_delay=1.0, jitter=0.0, deadline=60.0),
        clock=clock,
        monotonic=clock,
        sleep=clock.sleep,
    )
    caplog.set_level(logging.INFO, logger="mesos_auth.iam")
    with pytest.raises(IAMUnavailableError):
        client.login(account)
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "retrying in" in r.getMessage()]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retries) >= 50  # a minute of one-second retries, each at INFO
    assert len(warnings) == 2, warnings  # after 5 s and 30 s
    assert warnings[0].startswith(f"logins of 'svc' at {account.login_endpoint} have failed for 5 s")
    assert "the last with HTTP 503" in warnings[0] and warnings[0].endswith("retrying for up to 60 s in all")
