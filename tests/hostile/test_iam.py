"""The IAM login against hostile and broken servers: where the login token goes,
how long a login can be held, how much of an answer is read, what is echoed."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from typing import Any, List

import pytest

from mesos_auth import (
    IAMClient,
    IAMProtocolError,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    RetryPolicy,
    ServiceAccount,
    TokenProvider,
    UnsafeRedirectError,
)
from mesos_auth.iam import RetryableLoginFailure
from mesos_auth.testing.iam import FakeIAM
from tests.hostile.memory import run_limited
from tests.hostile.server import HostileServer, Peer, answer_each, response

LOGIN_PATH = "/acs/api/v1/auth/login"
ONE_TRY = RetryPolicy(initial_delay=0.01, backoff=1, max_delay=0.01, jitter=0, deadline=0.0)
#: A generous bound for "returned promptly" on a noisy 2-core machine.
SLACK = 5.0


def token_answer(token: str = "") -> bytes:
    body = json.dumps({"token": token or "aaaaaaaa.bbbbbbbb.cccccccc"}).encode()
    return response(200, body, [("Content-Type", "application/json")])


@pytest.fixture
def account(rsa_key: Any) -> ServiceAccount:
    """An account with the session's key; tests point it at hostile servers."""
    return ServiceAccount(uid="svc", private_key=rsa_key, login_endpoint="https://127.0.0.1:1" + LOGIN_PATH)


def client(**options: Any) -> IAMClient:
    options.setdefault("security_mode", "permissive")
    options.setdefault("retry", ONE_TRY)
    return IAMClient(**options)


def login_tokens(server: HostileServer) -> List[str]:
    """The login tokens a server received in request bodies."""
    found = []
    for request in server.seen():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            found.append(json.loads(request.body)["token"])
    return found


# ---------------------------------------------------------------------------
# Where the login token goes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("elsewhere_host", ["localhost", "127.0.0.2"])
def test_a_redirect_to_another_host_is_refused_and_the_token_stays_home(account, status, elsewhere_host) -> None:
    with HostileServer(answer_each(lambda r: token_answer())) as elsewhere:
        target = f"http://{elsewhere_host}:{elsewhere.port}{LOGIN_PATH}"
        redirect = answer_each(lambda r: response(status, headers=[("Location", target)]))
        with HostileServer(redirect) as iam, pytest.raises(UnsafeRedirectError, match="another host") as caught:
            client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
        assert len(login_tokens(iam)) == 1
        assert elsewhere.seen() == []
    assert "login_endpoint" in str(caught.value)


def test_a_redirect_on_the_same_host_to_another_port_is_followed(account) -> None:
    with HostileServer(answer_each(lambda r: token_answer())) as moved:
        target = f"http://127.0.0.1:{moved.port}{LOGIN_PATH}"
        with HostileServer(answer_each(lambda r: response(307, headers=[("Location", target)]))) as iam:
            token = client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
    assert token == "aaaaaaaa.bbbbbbbb.cccccccc"
    assert len(login_tokens(moved)) == 1


@pytest.mark.parametrize(
    "location, named",
    [
        ("ftp://127.0.0.1/x", "'ftp'"),
        ("file:///etc/passwd", "'file'"),
        ("http://[::1", "unusable"),
        ("http://127.0.0.1:99999/x", "unusable"),
    ],
)
def test_a_redirect_refusal_names_what_it_was(account, location, named) -> None:
    redirect = answer_each(lambda r: response(307, headers=[("Location", location)]))
    with HostileServer(redirect) as iam, pytest.raises(UnsafeRedirectError) as caught:
        client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
    assert named in str(caught.value)
    assert "https to http" not in str(caught.value)


def test_a_redirect_without_location_is_a_protocol_error(account) -> None:
    with HostileServer(answer_each(lambda r: response(307))) as iam, pytest.raises(IAMProtocolError, match="Location"):
        client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))


def test_cookies_the_iam_sets_are_never_sent_back_nor_shared_between_accounts(account, other_rsa_key) -> None:
    # The real IAM puts the auth token into dcos-acs-auth-cookie: replaying it would log
    # the next account in as the previous one.
    def answer(request: Any) -> bytes:
        uid = json.loads(request.body)["uid"]
        return response(
            200,
            json.dumps({"token": "aaaaaaaa.bbbbbbbb.cccccccc"}).encode(),
            [("Set-Cookie", f"dcos-acs-auth-cookie=token-of-{uid}; HttpOnly; Path=/"), ("Set-Cookie", "x=1")],
        )

    with HostileServer(answer_each(answer)) as iam:
        shared = client()
        alice = account.with_login_endpoint(iam.url + LOGIN_PATH)
        bob = ServiceAccount(uid="bob", private_key=other_rsa_key, login_endpoint=alice.login_endpoint)
        for who in (alice, alice, bob):
            shared.login(who)
    assert [json.loads(r.body)["uid"] for r in iam.seen()] == ["svc", "svc", "bob"]
    assert [r.header("cookie") for r in iam.seen()] == ["", "", ""]


def test_strict_mode_is_detected_by_a_client_built_without_a_mode(account) -> None:
    with HostileServer(answer_each(lambda r: token_answer())) as iam:
        plain = account.with_login_endpoint(iam.url + LOGIN_PATH)
        strict_env = {"MESOS_AUTH_SECURITY_MODE": "strict"}
        with pytest.raises(InsecureTransportError):
            IAMClient(environ=strict_env, retry=ONE_TRY).login(plain)
        with pytest.raises(InsecureTransportError):
            TokenProvider(plain, environ=strict_env, retry=ONE_TRY).token()
    assert iam.connections == 0  # refused before any byte left


def test_strict_mode_refuses_a_redirect_to_http_on_the_same_host(fake_iam, ca) -> None:
    iam = fake_iam()
    account = iam.create_account("svc")
    target = iam.http_login_endpoint
    with HostileServer(answer_each(lambda r: response(308, headers=[("Location", target)])), tls=ca) as redirector:
        moved = account.with_login_endpoint(redirector.url + LOGIN_PATH)
        with pytest.raises(UnsafeRedirectError, match="from https to http"):
            IAMClient(ca_bundle=ca.ca_bundle, security_mode="strict", retry=ONE_TRY).login(moved)
    assert iam.login_attempts == 0


# ---------------------------------------------------------------------------
# Every wait is bounded
# ---------------------------------------------------------------------------


def trickle_status_line(peer: Peer) -> None:
    if peer.read_request() is not None:
        peer.trickle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000, 0.2)


def trickle_body(peer: Peer) -> None:
    if peer.read_request() is not None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        peer.trickle(b"{" + b" " * 99_999, 0.2)


def trickle_handshake(peer: Peer) -> None:
    peer.trickle(b"\x16\x03\x03\x40\x00" + b"\x00" * 1000, 0.2)  # a TLS record header, then its body byte by byte


def mute(peer: Peer) -> None:
    peer.hold()


@pytest.mark.parametrize("script", [trickle_status_line, trickle_body, mute], ids=["head", "body", "mute"])
def test_one_attempt_ends_at_its_deadline_whatever_the_server_does(account, script) -> None:
    with HostileServer(script) as iam:
        started = time.monotonic()
        with pytest.raises(RetryableLoginFailure, match="no complete answer within"):
            slow = client(attempt_timeout=1.0, timeout=(5.0, 30.0))
            slow.login_once(account.with_login_endpoint(iam.url + LOGIN_PATH))
        took = time.monotonic() - started
    assert took < 1.0 + SLACK


def test_a_trickled_tls_handshake_ends_at_the_deadline_too(account, ca) -> None:
    # The raw server never completes the handshake; it sends a byte every 0.2 s.
    with HostileServer(trickle_handshake) as iam:
        endpoint = f"https://127.0.0.1:{iam.port}{LOGIN_PATH}"
        started = time.monotonic()
        with pytest.raises(RetryableLoginFailure):
            client(attempt_timeout=1.0, ca_bundle=ca.ca_bundle).login_once(account.with_login_endpoint(endpoint))
        took = time.monotonic() - started
    assert took < 1.0 + SLACK


def test_the_login_with_retries_ends_by_the_retry_deadline(account) -> None:
    policy = RetryPolicy(initial_delay=0.1, backoff=1.0, max_delay=0.1, jitter=0.0, deadline=2.0)
    with HostileServer(trickle_status_line) as iam:
        started = time.monotonic()
        with pytest.raises(IAMUnavailableError, match="no complete answer"):
            client(attempt_timeout=30.0, retry=policy).login(account.with_login_endpoint(iam.url + LOGIN_PATH))
        took = time.monotonic() - started
    assert took < 2.0 + 1.0 + SLACK  # the last attempt is cut at the retry deadline (at least 1 s)


def test_threads_waiting_for_the_token_are_released_with_the_login(account) -> None:
    with HostileServer(trickle_status_line) as iam:
        provider = TokenProvider(
            account.with_login_endpoint(iam.url + LOGIN_PATH),
            security_mode="permissive",
            retry=ONE_TRY,
            attempt_timeout=0.5,
        )
        outcomes: List[str] = []

        def ask() -> None:
            try:
                provider.token()
                outcomes.append("token")
            except Exception as exc:
                outcomes.append(type(exc).__name__)

        started = time.monotonic()
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        took = time.monotonic() - started
    assert outcomes == ["IAMUnavailableError"] * 4
    assert took < 4 * 0.5 + SLACK  # one login at a time, each cut at 0.5 s


# ---------------------------------------------------------------------------
# Memory is bounded (measured in a child process with an address-space limit)
# ---------------------------------------------------------------------------

CHILD_LOGIN = """
def main():
    from mesos_auth import IAMClient, RetryPolicy
    from mesos_auth.account import ServiceAccount
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = ServiceAccount(uid="svc", private_key=key, login_endpoint="{endpoint}")
    policy = RetryPolicy(initial_delay=0.01, backoff=1, max_delay=0.01, jitter=0, deadline=0.0)
    return IAMClient(security_mode="permissive", retry=policy, attempt_timeout=20).login(account)
"""


def endless_body(peer: Peer, head: bytes, *, chunked: bool = False) -> None:
    """Answer with ``head``, then up to 2 GB of body, as fast as the client reads."""
    if peer.read_request() is None:
        return
    peer.send(head)
    block = b"0" * 65536
    if chunked:
        block = b"%x\r\n%s\r\n" % (len(block), block)
    sent = 0
    while not peer.stopped and sent < 2_000_000_000 and peer.send(block):
        sent += len(block)


GZIP_BOMB = gzip.compress(b"\x00" * (400 * 1024 * 1024), compresslevel=9)


@pytest.mark.parametrize(
    "case",
    ["announced 600 MB", "chunked without end", "gzip bomb", "600 MB error body", "600 MB 503 body"],
)
def test_an_answer_bomb_costs_at_most_a_few_megabytes(case) -> None:
    def script(peer: Peer) -> None:
        if case == "announced 600 MB":
            endless_body(peer, b"HTTP/1.1 200 OK\r\nContent-Length: 600000000\r\n\r\n")
        elif case == "chunked without end":
            endless_body(peer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunked=True)
        elif case == "gzip bomb":
            if peer.read_request() is not None:
                peer.send(response(200, GZIP_BOMB, [("Content-Encoding", "gzip")]))
        elif case == "600 MB error body":
            endless_body(peer, b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 600000000\r\n\r\n")
        else:
            endless_body(peer, b"HTTP/1.1 503 Busy\r\nContent-Length: 600000000\r\n\r\n")

    with HostileServer(script) as iam:
        result = run_limited(CHILD_LOGIN.replace("{endpoint}", iam.url + LOGIN_PATH), limit_mib=400)
    expected = {
        "600 MB error body": "LoginRejectedError",
        "600 MB 503 body": "IAMUnavailableError",
    }.get(case, "IAMProtocolError")
    assert result.outcome == expected, result
    assert result.peak_mib < 120, result  # the interpreter and its imports are about 40 MiB
    print(f"{case}: {result.outcome} in {result.seconds:.2f} s, peak {result.peak_mib:.0f} MiB")


# ---------------------------------------------------------------------------
# Nothing a server says is echoed raw
# ---------------------------------------------------------------------------


def test_an_error_description_is_capped_escaped_and_token_free(account, caplog) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJzdmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    description = "\x1b[2J\x1b[31mrefused " + jwt_like + " " + "x" * 100_000
    body = json.dumps({"code": "ERR_\x07", "title": "T\r\nX-Header: 1", "description": description}).encode()
    with HostileServer(answer_each(lambda r: response(401, body))) as iam, pytest.raises(LoginRejectedError) as caught:
        client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
    text = str(caught.value)
    assert jwt_like not in text and "<token removed>" in text
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert len(text) < 2000
    assert "more characters" in text


def test_a_url_with_userinfo_is_shown_without_it(account) -> None:
    with HostileServer(answer_each(lambda r: response(503))) as iam, pytest.raises(IAMUnavailableError) as caught:
        client().login(account.with_login_endpoint(f"http://alice:s3cret@127.0.0.1:{iam.port}{LOGIN_PATH}"))
    assert "s3cret" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)


def test_a_fake_iam_still_logs_in_after_all_this(fake_iam: Any) -> None:
    iam: FakeIAM = fake_iam(clock=time.time)
    account = iam.create_account("svc")
    assert iam.verify_token(IAMClient(ca_bundle=iam.ca_bundle).login(account)) == "svc"


# ---------------------------------------------------------------------------
# A refusal's Date header: read for the clock skew, never trusted further
# ---------------------------------------------------------------------------

INVALID_CREDENTIALS = json.dumps(
    {"title": "Unauthorized", "description": "Invalid credentials.", "code": "ERR_INVALID_CREDENTIALS"}
).encode()


@pytest.mark.parametrize(
    "date",
    [
        None,
        "not a date",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT" + "x" * 5000,
        "\x1b[31m\x07",
    ],
)
def test_an_unusable_date_header_leaves_the_skew_unknown(account, date) -> None:
    headers = [] if date is None else [("Date", date)]
    refusal = answer_each(lambda r: response(401, INVALID_CREDENTIALS, headers))
    with HostileServer(refusal) as iam, pytest.raises(LoginRejectedError) as caught:
        client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
    error = caught.value
    assert error.clock_skew is None
    assert error.hint.endswith("the IAM's answer had no usable Date header, so the clocks could not be compared")
    assert "\x1b" not in str(error) and "xxxxxxxxxx" not in str(error)


def test_a_date_far_in_the_future_is_named_as_the_likely_cause(account) -> None:
    headers = [("Date", "Fri, 31 Dec 9999 23:59:59 GMT")]
    refusal = answer_each(lambda r: response(401, INVALID_CREDENTIALS, headers))
    with HostileServer(refusal) as iam, pytest.raises(LoginRejectedError) as caught:
        client().login(account.with_login_endpoint(iam.url + LOGIN_PATH))
    assert caught.value.clock_skew is not None and caught.value.clock_skew > 1e9
    assert caught.value.hint.startswith("likely cause: the IAM's clock is ")
