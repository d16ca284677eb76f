"""TokenProvider against the fake IAM: caching, both refresh windows, invalidate, threads."""

from __future__ import annotations

import logging
import threading
from typing import List

import jwt
import pytest

from mesos_auth import (
    IAMUnavailableError,
    InvalidTokenError,
    RetryPolicy,
    TokenExpiredError,
    TokenInfo,
    TokenProvider,
)
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.tokens import TokenState, read_expiry

ONE_TRY = RetryPolicy(max_attempts=1)
LIFETIME = 60.0  # advisory window 12 s, mandatory 6 s


@pytest.fixture
def iam(fake_iam) -> FakeIAM:
    return fake_iam(token_lifetime=LIFETIME)


@pytest.fixture
def provider_for(iam, ca, clock):
    def make(retry: RetryPolicy = ONE_TRY, **options) -> TokenProvider:
        account = iam.create_account("svc") if "svc" not in iam.accounts else options.pop("account")
        return TokenProvider(account, ca_bundle=ca.ca_bundle, clock=clock, retry=retry, sleep=clock.sleep, **options)

    return make


def test_token_is_cached(provider_for, iam) -> None:
    provider = provider_for()
    first = provider.token()
    assert provider.token() == first and provider.header() == f"token={first}"
    assert iam.login_count == 1 and provider.state() is TokenState.FRESH
    info = provider.info
    assert info is not None and info.uid == "svc" and info.lifetime == pytest.approx(LIFETIME)


def test_expiring_token_is_replaced_before_it_is_used_again(provider_for, iam, clock) -> None:
    provider = provider_for()
    first = provider.token()
    clock.advance(LIFETIME - 5)  # inside the mandatory window
    assert provider.state() is TokenState.MANDATORY
    second = provider.token()
    assert second != first and iam.login_count == 2
    assert iam.verify_token(second) == "svc"


def test_expired_token_is_replaced(provider_for, iam, clock) -> None:
    provider = provider_for()
    first = provider.token()
    clock.advance(LIFETIME + 100)
    assert provider.token() != first and iam.login_count == 2


def test_advisory_window_refreshes_early(provider_for, iam, clock) -> None:
    provider = provider_for()
    first = provider.token()
    clock.advance(LIFETIME - 10)  # 10 s left: advisory (12 s) but not mandatory (6 s)
    assert provider.state() is TokenState.ADVISORY
    assert provider.token() != first and iam.login_count == 2


def test_advisory_refresh_failure_keeps_the_current_token(provider_for, iam, clock, caplog) -> None:
    provider = provider_for()
    first = provider.token()
    clock.advance(LIFETIME - 10)
    iam.fail_next_logins(5, status=503)
    with caplog.at_level(logging.WARNING, logger="mesos_auth"):
        assert provider.token() == first
    assert "keeping the current one" in caplog.text


def test_mandatory_refresh_failure_raises(provider_for, iam, clock) -> None:
    provider = provider_for()
    provider.token()
    clock.advance(LIFETIME - 3)
    iam.fail_next_logins(5, status=503)
    with pytest.raises(IAMUnavailableError):
        provider.token()


def test_invalidate_after_a_401(provider_for, iam, clock) -> None:
    # Comparisons are kept to booleans: a failure must not print a token.
    provider = provider_for()
    first = provider.token()
    provider.invalidate(first)
    assert provider.state() is TokenState.MISSING
    clock.advance(1)  # the IAM's tokens carry whole seconds: a login in the same second gets the same token
    second = provider.token()
    renewed = second != first
    assert renewed and iam.login_count == 2
    provider.invalidate(first)  # a late 401 for the old token changes nothing
    kept = provider.token() == second
    assert kept and iam.login_count == 2
    provider.invalidate()
    clock.advance(1)
    renewed_again = provider.token() != second
    assert renewed_again and iam.login_count == 3


def test_64_threads_cause_exactly_one_login(provider_for, iam) -> None:
    provider = provider_for()
    iam.set_latency(0.2)  # keeps the login in flight while the others arrive
    barrier = threading.Barrier(64)
    results: List[str] = []
    errors: List[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(provider.token())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == 64
    assert len(set(results)) == 1
    assert iam.login_attempts == 1 and iam.login_count == 1


def test_64_threads_in_the_mandatory_window_cause_one_refresh(provider_for, iam, clock) -> None:
    provider = provider_for()
    provider.token()
    clock.advance(LIFETIME - 3)
    iam.set_latency(0.1)
    barrier = threading.Barrier(64)
    results: List[str] = []

    def ask() -> None:
        barrier.wait(timeout=30)
        results.append(provider.token())

    threads = [threading.Thread(target=ask) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 64 and len(set(results)) == 1
    assert iam.login_count == 2


def test_token_already_expired_on_arrival(provider_for, iam) -> None:
    # The IAM's clock is 5 minutes behind: it accepts our login token (not expired
    # by its clock) but its 60 s token is already over by ours.
    provider = provider_for()
    iam.shift_clock(-300)
    with pytest.raises(TokenExpiredError, match="clock is ahead") as caught:
        provider.token()
    assert caught.value.now - caught.value.expires_at == pytest.approx(240, abs=2)


def test_refresh_listeners_are_told_and_their_errors_contained(provider_for, caplog) -> None:
    provider = provider_for()
    seen: List[TokenInfo] = []
    provider.add_refresh_listener(seen.append)
    provider.add_refresh_listener(lambda info: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="mesos_auth"):
        provider.token()
    assert len(seen) == 1 and seen[0].uid == "svc"
    assert "listener" in caplog.text
    provider.remove_refresh_listener(seen.append)


def test_explicit_windows(provider_for, iam, clock) -> None:
    provider = provider_for(advisory_window=30, mandatory_window=20)
    provider.token()
    clock.advance(35)  # 25 s left
    assert provider.state() is TokenState.ADVISORY
    clock.advance(10)
    assert provider.state() is TokenState.MANDATORY


def test_windows_for_a_five_day_token_are_30_and_10_minutes(provider_for, iam, clock) -> None:
    iam.token_lifetime = 5 * 24 * 3600
    provider = provider_for()
    provider.token()
    clock.advance(5 * 24 * 3600 - 31 * 60)
    assert provider.state() is TokenState.FRESH
    clock.advance(2 * 60)
    assert provider.state() is TokenState.ADVISORY
    clock.advance(20 * 60)
    assert provider.state() is TokenState.MANDATORY


def test_iam_and_its_options_are_exclusive(iam, ca) -> None:
    from mesos_auth import IAMClient

    account = iam.create_account("svc")
    with pytest.raises(TypeError, match="not both"):
        TokenProvider(account, iam=IAMClient(), ca_bundle=ca.ca_bundle)


def test_read_expiry_refuses_non_jwts_and_missing_exp(rsa_key) -> None:
    with pytest.raises(InvalidTokenError, match="not a compact JWT"):
        read_expiry("nope")
    no_exp = jwt.encode({"uid": "x"}, rsa_key, algorithm="RS256")
    with pytest.raises(InvalidTokenError, match="'exp'"):
        read_expiry(no_exp)


def test_repr_shows_uid_and_expiry_only(provider_for) -> None:
    provider = provider_for()
    assert "no token yet" in repr(provider)
    token = provider.token()
    assert token not in repr(provider) and "svc" in repr(provider)


GOOD_EXP = 1_800_000_000 + 3600


def _signed(rsa_key, **claims) -> str:
    return jwt.encode({"uid": "svc", **claims}, rsa_key, algorithm="RS256")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "\r\nX-Injected: 1",  # header injection
        lambda t: " " + t,
        lambda t: t + "\n",
        lambda t: t.replace(".", ". ", 1),
        lambda t: t + "\x00",
        lambda t: t + ".extra",  # four segments
        lambda t: t.rsplit(".", 1)[0],  # two segments
        lambda t: t.rsplit(".", 1)[0] + ".",  # empty signature
        lambda t: t.replace("-", "+").replace("_", "/") + "==",  # base64, not base64url
        lambda t: t + "é",
        lambda t: "x" * 20000,
    ],
)
def test_a_token_that_cannot_go_into_a_header_is_refused_whatever_pyjwt_says(rsa_key, mangle, monkeypatch) -> None:
    token = mangle(_signed(rsa_key, exp=GOOD_EXP))
    # However lenient the installed PyJWT is (2.8 and 2.10 let whitespace through), the check is ours.
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: {"uid": "svc", "exp": GOOD_EXP})
    with pytest.raises(InvalidTokenError) as caught:
        read_expiry(token, now=1_800_000_000)
    assert token not in str(caught.value)


@pytest.mark.parametrize(
    "exp, reason",
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (1_800_000_000 + 2 * 366 * 86400, "more than a year ahead"),
        ("1800003600", "numeric"),
        (True, "numeric"),
        (None, "numeric"),
    ],
)
def test_an_exp_that_is_not_a_sane_number_is_refused(rsa_key, exp, reason) -> None:
    # PyJWT writes NaN and Infinity into the JSON, as a broken IAM could.
    token = _signed(rsa_key, exp=exp)
    with pytest.raises(InvalidTokenError, match=reason):
        read_expiry(token, now=1_800_000_000)


def test_a_nan_exp_token_is_never_installed(iam, provider_for, monkeypatch, rsa_key) -> None:
    provider = provider_for()
    monkeypatch.setattr(provider.iam, "login", lambda account: _signed(rsa_key, exp=float("nan")))
    with pytest.raises(InvalidTokenError, match="finite"):
        provider.token()
    assert provider.info is None and provider.state() is TokenState.MISSING
