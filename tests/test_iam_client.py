"""The IAM login against the fake IAM, over real HTTP and HTTPS."""

from __future__ import annotations

import pytest

from mesos_auth import (
    ConfigurationError,
    IAMClient,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    RetryPolicy,
    SecurityMode,
    TLSVerificationError,
)
from mesos_auth.errors import UnsafeRedirectError
from mesos_auth.iam import IAMProtocolError, login_hint
from mesos_auth.testing import TestCA
from mesos_auth.testing._server import FakeServer, Response
from mesos_auth.testing.iam import FakeIAM

NO_WAIT = RetryPolicy(initial_delay=0.5, backoff=2, max_delay=4, jitter=0.2, deadline=30)


@pytest.fixture
def iam(fake_iam) -> FakeIAM:
    return fake_iam()


@pytest.fixture
def client_for(ca, clock):
    def make(**options) -> IAMClient:
        options.setdefault("ca_bundle", ca.ca_bundle)
        options.setdefault("retry", NO_WAIT)
        return IAMClient(clock=clock, monotonic=clock, sleep=clock.sleep, **options)

    return make


def test_login_over_https(iam, client_for) -> None:
    account = iam.create_account("svc")
    token = client_for().login(account)
    assert iam.verify_token(token) == "svc"
    assert iam.login_count == 1


def test_login_over_plain_http_in_permissive_mode(iam, client_for) -> None:
    account = iam.create_account("svc", endpoint=iam.http_login_endpoint)
    token = client_for(security_mode="permissive").login(account)
    assert iam.verify_token(token) == "svc"


def test_strict_mode_never_sends_a_login_token_over_http(iam, client_for) -> None:
    account = iam.create_account("svc", endpoint=iam.http_login_endpoint)
    with pytest.raises(InsecureTransportError, match="plain http") as caught:
        client_for(security_mode=SecurityMode.STRICT).login(account)
    assert caught.value.url == iam.http_login_endpoint
    assert iam.login_attempts == 0


def test_untrusted_certificate_names_the_fix(iam, clock) -> None:
    account = iam.create_account("svc")
    client = IAMClient(clock=clock, monotonic=clock, sleep=clock.sleep, retry=NO_WAIT)
    with pytest.raises(TLSVerificationError, match="not trusted by the system's trust store.*ca_bundle"):
        client.login(account)
    assert clock.sleeps == []  # not retried: an untrusted certificate does not heal


def test_certificate_of_another_ca_is_refused(iam, clock, tmp_path) -> None:
    other = TestCA(tmp_path / "other")
    account = iam.create_account("svc")
    client = IAMClient(ca_bundle=other.ca_bundle, clock=clock, monotonic=clock, sleep=clock.sleep, retry=NO_WAIT)
    with pytest.raises(TLSVerificationError, match=str(other.ca_bundle)):
        client.login(account)


def test_redirect_from_http_to_https_keeps_the_post(ca, clock, client_for) -> None:
    with FakeIAM(tls=ca, clock=clock, redirect_http_to_https=True) as iam:
        account = iam.create_account("svc", endpoint=iam.http_login_endpoint)
        token = client_for(security_mode="permissive").login(account)
        assert iam.verify_token(token) == "svc"


class Redirector(FakeServer):
    """Answers every request with a fixed redirect."""

    def __init__(self, status: int, location: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.status, self.location, self.hits = status, location, 0

    def handle(self, request):
        self.hits += 1
        return Response(self.status, b"", [("Location", self.location)])


def test_redirect_from_https_to_http_is_refused(ca, iam, client_for) -> None:
    account = iam.create_account("svc")
    with Redirector(307, iam.http_login_endpoint, tls=ca, plain_http=False) as redirector:
        moved = account.with_login_endpoint(redirector.url + "/acs/api/v1/auth/login")
        with pytest.raises(UnsafeRedirectError, match="from https to http"):
            client_for().login(moved)
    assert iam.login_attempts == 0


@pytest.mark.parametrize("status", [301, 302, 303])
def test_redirects_that_turn_post_into_get_are_refused(iam, client_for, status) -> None:
    account = iam.create_account("svc")
    with Redirector(status, iam.login_endpoint) as redirector:
        moved = account.with_login_endpoint(redirector.url + "/acs/api/v1/auth/login")
        with pytest.raises(ConfigurationError, match=f"HTTP {status}, which would turn the POST into a GET"):
            client_for().login(moved)


def test_redirect_loop_is_bounded(client_for, iam) -> None:
    account = iam.create_account("svc")
    with Redirector(307, "/acs/api/v1/auth/login") as redirector:
        moved = account.with_login_endpoint(redirector.url + "/acs/api/v1/auth/login")
        with pytest.raises(IAMProtocolError, match="redirected more than"):
            client_for().login(moved)
        assert redirector.hits == 6


def test_fails_twice_then_answers(iam, client_for, clock) -> None:
    account = iam.create_account("svc")
    iam.fail_next_logins(2, status=503)
    token = client_for().login(account)
    assert iam.verify_token(token) == "svc"
    assert iam.login_attempts == 3 and iam.login_count == 1
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0]


def test_429_is_retried(iam, client_for) -> None:
    account = iam.create_account("svc")
    iam.fail_next_logins(1, status=429)
    assert iam.verify_token(client_for().login(account)) == "svc"


def test_every_retry_uses_a_fresh_login_token(iam, client_for) -> None:
    # The fake refuses a replayed login token; three attempts succeeding proves each was new.
    account = iam.create_account("svc")
    iam.fail_next_logins(2, status=500)
    client_for().login(account)
    assert [e.status for e in iam.events if e.path.endswith("/login")] == [500, 500, 200]


def test_iam_down_past_the_deadline(iam, client_for, clock) -> None:
    account = iam.create_account("svc")
    iam.go_down()
    with pytest.raises(IAMUnavailableError) as caught:
        client_for().login(account)
    error = caught.value
    assert error.attempts >= 3 and error.elapsed <= NO_WAIT.deadline
    assert iam.login_endpoint in str(error) and "connection" in str(error)
    assert "Check that the IAM is up" in str(error)


def test_iam_down_then_back_is_ridden_out(iam, client_for, clock) -> None:
    account = iam.create_account("svc")
    iam.go_down()
    client = client_for()
    original_sleep = client._sleep

    def sleep_then_recover(seconds: float) -> None:
        original_sleep(seconds)
        if len(clock.sleeps) == 2:
            iam.come_up()

    client._sleep = sleep_then_recover
    assert iam.verify_token(client.login(account)) == "svc"


def test_unknown_uid_is_rejected_without_retry(iam, client_for, clock, other_rsa_key) -> None:
    account = iam.create_account("svc")
    from mesos_auth import ServiceAccount

    stranger = ServiceAccount(uid="nobody", private_key=other_rsa_key, login_endpoint=account.login_endpoint)
    with pytest.raises(LoginRejectedError) as caught:
        client_for().login(stranger)
    error = caught.value
    assert error.status == 401 and error.code == "ERR_INVALID_CREDENTIALS"
    assert error.title and error.description
    assert "does not exist" in error.hint
    assert clock.sleeps == []


def test_wrong_key_hint(iam, client_for, other_rsa_key) -> None:
    account = iam.create_account("svc")
    from dataclasses import replace

    impostor = replace(account, private_key=other_rsa_key)
    with pytest.raises(LoginRejectedError, match="does not match the public key registered"):
        client_for().login(impostor)


def test_clock_skew_hint(iam, client_for) -> None:
    account = iam.create_account("svc")
    iam.shift_clock(+3600)  # the IAM is an hour ahead: our login token looks expired
    with pytest.raises(LoginRejectedError, match="clock") as caught:
        client_for().login(account)
    assert "expired" in caught.value.description


def test_404_hint_points_at_the_endpoint(iam, client_for) -> None:
    account = iam.create_account("svc")
    with pytest.raises(LoginRejectedError, match="should end with /acs/api/v1/auth/login"):
        client_for().login(account.with_login_endpoint(iam.url + "/wrong/path"))


def test_login_hint_fallbacks() -> None:
    assert "clock" in login_hint(401, "ERR_INVALID_CREDENTIALS", "")
    assert login_hint(403, "", "") == ""


def test_repr_shows_no_secrets(ca) -> None:
    assert "IAMClient(ca_bundle=" in repr(IAMClient(ca_bundle=ca.ca_bundle))
