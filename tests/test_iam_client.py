"""The IAM login against the fake IAM, over real HTTP and HTTPS.

The real IAM answers every credential problem with the same ``Invalid
credentials.``, so nothing here depends on what the fake says on the wire: the
hints are ours, and the cause of a refusal is read from ``iam.events``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import List

import pytest
from cryptography.hazmat.primitives import serialization

import mesos_auth.iam
from mesos_auth import (
    ConfigurationError,
    IAMClient,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    RetryPolicy,
    SecurityMode,
    ServiceAccount,
    TLSVerificationError,
)
from mesos_auth.errors import UnsafeRedirectError
from mesos_auth.iam import IAMProtocolError
from mesos_auth.login_token import DEFAULT_LOGIN_TOKEN_LIFETIME
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


def test_every_retry_uses_a_fresh_login_token(iam, client_for, monkeypatch) -> None:
    # Our practice, not the IAM's rule (it would accept a reused one): a new login token per attempt.
    signed: List[str] = []
    real_make = mesos_auth.iam.make_login_token

    def recording_make(*args, **kwargs) -> str:
        signed.append(real_make(*args, **kwargs))
        return signed[-1]

    monkeypatch.setattr(mesos_auth.iam, "make_login_token", recording_make)
    account = iam.create_account("svc")
    iam.fail_next_logins(2, status=500)
    client_for().login(account)
    assert [e.status for e in iam.events if e.path.endswith("/login")] == [500, 500, 200]
    assert len(signed) == 3 and len(set(signed)) == 3


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


def public_sha256(key) -> str:
    """The fingerprint, computed here without the library: SHA-256 of the public key's DER."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def refusals(iam: FakeIAM) -> List[str]:
    return [event.reason for event in iam.events if event.path.endswith("/login") and event.status == 401]


def test_unknown_uid_is_rejected_without_retry(iam, client_for, clock, other_rsa_key) -> None:
    account = iam.create_account("svc")
    stranger = ServiceAccount(uid="nobody", private_key=other_rsa_key, login_endpoint=account.login_endpoint)
    with pytest.raises(LoginRejectedError) as caught:
        client_for().login(stranger)
    error = caught.value
    assert error.status == 401 and error.code == "ERR_INVALID_CREDENTIALS"
    assert error.description  # whatever the IAM said; the real one says "Invalid credentials."
    assert error.uid == "nobody" and error.endpoint == account.login_endpoint
    assert "the IAM does not say which check failed" in error.hint
    assert "check that the service account 'nobody' exists on this cluster" in error.hint
    assert "dcos security org service-accounts show nobody" in error.hint
    assert error.hint in str(error)
    assert clock.sleeps == []
    assert refusals(iam) == ["unknown-uid"]


def test_wrong_key_shows_the_fingerprint_to_compare(iam, client_for, other_rsa_key) -> None:
    account = iam.create_account("svc")
    impostor = replace(account, private_key=other_rsa_key)
    with pytest.raises(LoginRejectedError) as caught:
        client_for().login(impostor)
    error = caught.value
    assert error.key_fingerprint == public_sha256(other_rsa_key) != public_sha256(account.private_key)
    assert f"SHA-256 {error.key_fingerprint} of the public key's DER" in str(error)
    assert "openssl pkey -pubin" in error.hint
    # The fake and this client share one clock: the clocks agree, and the hint says the token had not expired.
    assert error.clock_skew is not None and abs(error.clock_skew) < 1
    assert "the clocks agree" in error.hint and "likely cause" not in error.hint
    assert refusals(iam) == ["bad-signature"]


def test_an_iam_clock_ahead_by_more_than_the_login_token_lifetime_is_the_likely_cause(iam, client_for) -> None:
    account = iam.create_account("svc")
    iam.shift_clock(+3600)  # the IAM is an hour ahead: our login token's exp has passed by its clock
    with pytest.raises(LoginRejectedError) as caught:
        client_for().login(account)
    error = caught.value
    assert error.clock_skew == pytest.approx(3600, abs=1)
    assert error.hint.startswith(
        "likely cause: the IAM's clock is 3600 s ahead of this machine's (by the Date header of its answer), "
        f"more than the {DEFAULT_LOGIN_TOKEN_LIFETIME:.0f} s a login token lives"
    )
    assert "synchronise the clocks (NTP)" in error.hint
    assert error.key_fingerprint in error.hint  # the other causes are still named
    assert refusals(iam) == ["expired"]


@pytest.mark.parametrize(
    ("shift", "note"),
    [
        (
            60,
            "the IAM's clock is 60 s ahead of this machine's (by the Date header of its answer): not enough to "
            "expire a login token that lives 180 s",
        ),
        (
            -120,
            "the IAM's clock is 120 s behind this machine's (by the Date header of its answer): the IAM does not "
            "refuse a login token for that",
        ),
    ],
)
def test_a_skew_that_cannot_expire_the_login_token_is_noted_not_blamed(
    iam, client_for, other_rsa_key, shift, note
) -> None:
    account = iam.create_account("svc")
    iam.shift_clock(shift)
    with pytest.raises(LoginRejectedError) as caught:
        client_for().login(replace(account, private_key=other_rsa_key))
    error = caught.value
    assert error.clock_skew == pytest.approx(shift, abs=1)
    assert "likely cause" not in error.hint
    assert note in error.hint
    assert refusals(iam) == ["bad-signature"]


def test_404_hint_points_at_the_endpoint(iam, client_for) -> None:
    account = iam.create_account("svc")
    with pytest.raises(LoginRejectedError, match="should end with /acs/api/v1/auth/login"):
        client_for().login(account.with_login_endpoint(iam.url + "/wrong/path"))


class Refuser(FakeServer):
    """Answers every request with a fixed status and JSON error, with or without a Date header."""

    def __init__(self, status: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.status = status

    def handle(self, request):
        body = json.dumps({"code": "ERR_X", "title": "Bad Request", "description": "Request has bad data"})
        return Response(self.status, body.encode(), [("Content-Type", "application/json")])


@pytest.mark.parametrize("status", [400, 415])
def test_a_bad_request_gets_a_hint_about_the_request_not_the_credentials(account, client_for, status) -> None:
    with Refuser(status) as refuser, pytest.raises(LoginRejectedError) as caught:
        client_for(security_mode="permissive").login(
            account.with_login_endpoint(refuser.url + "/acs/api/v1/auth/login")
        )
    error = caught.value
    assert error.status == status and error.description == "Request has bad data"
    assert f"the IAM could not read the login request (HTTP {status})" in error.hint
    assert "no proxy on the way changes the request" in error.hint
    assert "service account" not in error.hint


def test_another_4xx_is_not_taken_for_the_iam(account, client_for) -> None:
    with Refuser(403) as refuser, pytest.raises(LoginRejectedError) as caught:
        client_for(security_mode="permissive").login(
            account.with_login_endpoint(refuser.url + "/acs/api/v1/auth/login")
        )
    assert caught.value.hint.startswith("HTTP 403 is not an answer of the IAM's login")


def test_repr_shows_no_secrets(ca) -> None:
    assert "IAMClient(ca_bundle=" in repr(IAMClient(ca_bundle=ca.ca_bundle))
