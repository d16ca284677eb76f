"""DCOSSession and DCOSAuth against real servers: no credential leaves its origin.

Every server here is a :class:`HostileServer` on 127.0.0.1 that records what it
received, so each test says which server got which ``Authorization`` header. The
two host names of one machine, ``127.0.0.1`` and ``localhost``, stand for two
hosts. Tokens are never compared in the open: :class:`Names` turns each header
into ``T1``, ``T2``, ``none`` or ``unknown``, so a failing assertion shows names,
not tokens.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
import requests

from mesos_auth import (
    DCOSAuth,
    DCOSSession,
    InsecureTransportError,
    RetryPolicy,
    SecurityMode,
    ServiceAccount,
    TokenProvider,
)
from mesos_auth.testing import TestCA, TokenRejected
from mesos_auth.testing.iam import FakeIAM
from tests.helpers import FakeClock
from tests.hostile.server import HostileServer, Peer, RawRequest, Script, answer_each, response

TIMEOUT = 10
PAYLOAD = b"payload that must survive a resend"
REDIRECTS = [302, 303, 307, 308]
#: How a redirect leaves the origin: port, host name, scheme down, scheme up.
CROSSINGS = ["other-port", "other-host", "https-to-http", "http-to-https"]

Answers = Callable[[RawRequest], bytes]


def refused() -> bytes:
    return response(
        401,
        b'{"code":"ERR_INVALID_TOKEN"}',
        [("Content-Type", "application/json"), ("WWW-Authenticate", "acsjwt")],
    )


def ok(body: bytes = b"ok") -> bytes:
    return response(200, body, [("Content-Type", "text/plain")])


def redirect(code: int, location: str) -> bytes:
    return response(code, headers=[("Location", location)])


def final_answer(final: int) -> bytes:
    return refused() if final == 401 else ok()


class Names:
    """Names for tokens, so that assertions (and their failure messages) never show one."""

    def __init__(self) -> None:
        self._names: Dict[str, str] = {}

    def add(self, name: str, token: str) -> None:
        self._names[f"token={token}"] = name

    def of(self, header: Optional[str]) -> str:
        if not header:
            return "none"
        return self._names.get(header, "unknown")

    def token(self, token: str) -> str:
        return self.of(f"token={token}")

    def sent(self, requests_seen: Sequence[RawRequest]) -> List[str]:
        return [self.of(r.header("authorization")) for r in requests_seen]


def at(servers: Sequence[HostileServer], path: str) -> List[RawRequest]:
    """Every request for ``path`` that any of ``servers`` received, in order per server."""
    return [r for server in servers for r in server.seen(lambda r: r.path == path)]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No netrc, CA bundle or security mode from the machine running the tests."""
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "MESOS_AUTH_SECURITY_MODE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def iam_clock() -> FakeClock:
    """The IAM's wall clock, moved by hand: its tokens carry whole seconds, so two logins
    in one second get the same token (as from Bouncer); tests that need a new token move it."""
    return FakeClock(float(int(time.time())))


@pytest.fixture(scope="module")
def shared_iam(ca: TestCA, iam_clock: FakeClock) -> Iterator[FakeIAM]:
    """One fake IAM (https) for the module: its signing key is made once."""
    with FakeIAM(tls=ca, token_lifetime=3600, clock=iam_clock) as server:
        yield server


@pytest.fixture
def iam(shared_iam: FakeIAM, rsa_key) -> Iterator[FakeIAM]:
    """The module's fake IAM, reset, with the account ``svc`` (the session's RSA key)."""
    shared_iam.reset()
    shared_iam.add_account("svc", rsa_key.public_key())
    yield shared_iam
    shared_iam.check()


@pytest.fixture
def account(iam: FakeIAM, rsa_key) -> ServiceAccount:
    return ServiceAccount(uid="svc", private_key=rsa_key, login_endpoint=iam.login_endpoint)


@pytest.fixture
def provider(account: ServiceAccount, ca: TestCA) -> TokenProvider:
    return TokenProvider(account, ca_bundle=ca.ca_bundle, retry=RetryPolicy(max_attempts=1))


@pytest.fixture
def invalidated(provider: TokenProvider, monkeypatch: pytest.MonkeyPatch) -> List[Optional[str]]:
    """The tokens ``provider.invalidate`` is called with, in order."""
    calls: List[Optional[str]] = []
    original = provider.invalidate

    def invalidate(token: Optional[str] = None) -> None:
        calls.append(token)
        original(token)

    monkeypatch.setattr(provider, "invalidate", invalidate)
    return calls


@pytest.fixture
def names(provider: TokenProvider, iam_clock: FakeClock) -> Names:
    """``T1`` is the provider's first token, obtained before the test's request; the IAM's
    clock then moves on a second, so that a new login gets a different token."""
    known = Names()
    known.add("T1", provider.token())
    iam_clock.advance(1)
    return known


@pytest.fixture
def serve(ca: TestCA) -> Iterator[Callable[..., HostileServer]]:
    """Start HostileServers on 127.0.0.1; stop them after."""
    started: List[HostileServer] = []

    def start(answers: Optional[Answers] = None, *, tls: bool = True, script: Optional[Script] = None) -> HostileServer:
        """Serve ``answers`` to each request, or run ``script`` for each connection."""
        assert (answers is None) != (script is None)
        script = script if script is not None else answer_each(answers)
        server = HostileServer(script, tls=ca if tls else None).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def make_session(kind: str, provider: TokenProvider, ca: TestCA, mode: str = "permissive") -> requests.Session:
    if kind == "dcos":
        return DCOSSession(provider, security_mode=mode)
    session = requests.Session()
    session.auth = DCOSAuth(provider, security_mode=mode)
    session.verify = ca.ca_bundle
    return session


@pytest.fixture(params=["dcos", "plain"])
def session(request, provider: TokenProvider, ca: TestCA) -> Iterator[requests.Session]:
    """A DCOSSession, or a plain requests.Session with DCOSAuth (requests' own redirect rule)."""
    with make_session(request.param, provider, ca) as session:
        yield session


@pytest.fixture
def dcos_session(provider: TokenProvider) -> Iterator[DCOSSession]:
    with DCOSSession(provider, security_mode="permissive") as session:
        yield session


def cross_origin(
    crossing: str,
    serve: Callable[..., HostileServer],
    *,
    start: Callable[[str, RawRequest], bytes],
    landing: Answers,
) -> Tuple[str, List[HostileServer]]:
    """Servers where ``/start`` is answered by ``start(target, request)`` and ``target`` is
    ``/landed`` at another origin, answered by ``landing``.

    Returns the URL to ask for and every server involved (the origin first). For
    ``other-host`` one server plays both: the caller asks for 127.0.0.1, the target
    names localhost.
    """
    if crossing == "other-host":
        port: List[int] = []

        def both(request: RawRequest) -> bytes:
            if request.path == "/start":
                return start(f"https://localhost:{port[0]}/landed", request)
            return landing(request)

        server = serve(both, tls=True)
        port.append(server.port)
        return f"https://127.0.0.1:{server.port}/start", [server]
    tls_origin, tls_elsewhere = {
        "other-port": (True, True),
        "https-to-http": (True, False),
        "http-to-https": (False, True),
    }[crossing]
    elsewhere = serve(landing, tls=tls_elsewhere)
    origin = serve(
        lambda request: start(elsewhere.url + "/landed", request) if request.path == "/start" else response(404),
        tls=tls_origin,
    )
    return origin.url + "/start", [origin, elsewhere]


# ---------------------------------------------------------------------------
# A redirect to another origin: no token goes there, none is obtained for it
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("final", [401, 200])
@pytest.mark.parametrize("code", REDIRECTS)
@pytest.mark.parametrize("crossing", CROSSINGS)
def test_redirect_to_another_origin_carries_no_token(
    crossing, code, final, session, serve, iam, provider, names, invalidated
) -> None:
    url, servers = cross_origin(
        crossing,
        serve,
        start=lambda target, request: redirect(code, target),
        landing=lambda request: final_answer(final),
    )

    answer = session.post(url, data=PAYLOAD, timeout=TIMEOUT)

    assert answer.status_code == final, "a 401 from elsewhere is returned as it is"
    assert [r.status_code for r in answer.history] == [code]
    assert names.sent(at(servers, "/start")) == ["T1"]
    landed = at(servers, "/landed")
    assert names.sent(landed) == ["none"], "the other origin gets no token, and no resend"
    if crossing == "other-host":
        assert landed[0].header("host").startswith("localhost:")
    if code in (307, 308):
        assert (landed[0].method, landed[0].body) == ("POST", PAYLOAD)
    else:
        assert (landed[0].method, landed[0].body) == ("GET", b"")
    assert iam.login_count == 1, "no token was obtained for the other origin"
    assert invalidated == [], "a 401 from elsewhere does not cost our token"
    assert names.token(provider.token()) == "T1" and iam.login_count == 1


@pytest.mark.parametrize("final", [401, 200])
def test_chain_back_to_the_origin_does_not_bring_the_token_back(
    final, session, serve, iam, provider, names, invalidated
) -> None:
    origin_port: List[int] = []

    def bounce(request: RawRequest) -> bytes:
        return redirect(302, f"https://127.0.0.1:{origin_port[0]}/back")

    elsewhere = serve(bounce)

    def origin_answers(request: RawRequest) -> bytes:
        if request.path == "/start":
            return redirect(302, elsewhere.url + "/bounce")
        return final_answer(final)

    origin = serve(origin_answers)
    origin_port.append(origin.port)

    answer = session.get(origin.url + "/start", timeout=TIMEOUT)

    assert answer.status_code == final
    assert [r.status_code for r in answer.history] == [302, 302]
    assert names.sent(origin.seen(lambda r: r.path == "/start")) == ["T1"]
    assert names.sent(elsewhere.seen()) == ["none"]
    assert names.sent(origin.seen(lambda r: r.path == "/back")) == ["none"], (
        "back at the origin the header is not restored, and a 401 for a request without our token is not resent"
    )
    assert iam.login_count == 1 and invalidated == []


def test_a_session_that_keeps_the_header_still_gets_no_fresh_token_elsewhere(
    serve, iam, provider, ca, names, invalidated
) -> None:
    """The issue's case: ``302 -> http://elsewhere/`` then 401, with a session whose own
    rule forwarded the header. Whatever the session forwards, DCOSAuth obtains no
    token for elsewhere and resends nothing there."""

    class KeepsHeader(requests.Session):
        def should_strip_auth(self, old_url: str, new_url: str) -> bool:
            return False

    elsewhere = serve(lambda request: refused(), tls=False)
    origin = serve(lambda request: redirect(302, elsewhere.url + "/landed"))
    with KeepsHeader() as session:
        session.auth = DCOSAuth(provider, security_mode="permissive")
        session.verify = ca.ca_bundle
        answer = session.get(origin.url + "/start", timeout=TIMEOUT)

    assert answer.status_code == 401
    assert names.sent(elsewhere.seen()) == ["T1"], "the session's rule forwarded it once; nothing more"
    assert iam.login_count == 1 and invalidated == []


# ---------------------------------------------------------------------------
# A 401 from the origin: one resend with a new token, the refused one invalidated
# ---------------------------------------------------------------------------


def verifying(iam: FakeIAM, then: Optional[Callable[[RawRequest], bytes]] = None) -> Answers:
    """Answers 401 unless the request carries a token the IAM accepts; then ``then`` or 200."""

    def answers(request: RawRequest) -> bytes:
        header = request.header("authorization")
        try:
            iam.verify_token(header[len("token=") :] if header.startswith("token=") else "")
        except TokenRejected:
            return refused()
        return then(request) if then is not None else ok(request.body)

    return answers


def x_redirects_to_y(iam: FakeIAM) -> Answers:
    """Verifies the token on every path; ``/x`` then redirects (307) to ``/y``, which answers 200."""

    def answers(request: RawRequest) -> bytes:
        if request.path == "/x":
            return verifying(iam, lambda r: redirect(307, "/y"))(request)
        return verifying(iam)(request)

    return answers


def test_same_origin_401_is_resent_once_with_a_new_token(session, serve, iam, provider, names, invalidated) -> None:
    server = serve(verifying(iam))
    iam.revoke_tokens("svc")

    answer = session.post(server.url + "/x", data=PAYLOAD, timeout=TIMEOUT)

    assert answer.status_code == 200 and answer.content == PAYLOAD, "the body went again"
    assert [r.status_code for r in answer.history] == [401]
    names.add("T2", provider.token())
    assert names.sent(server.seen()) == ["T1", "T2"]
    assert [names.token(t) for t in invalidated if t is not None] == ["T1"] and None not in invalidated
    assert iam.login_count == 2


def test_a_file_body_is_rewound_for_the_resend(session, serve, iam, provider, names, invalidated) -> None:
    server = serve(verifying(iam))
    iam.revoke_tokens("svc")

    answer = session.post(server.url + "/x", data=io.BytesIO(PAYLOAD), timeout=TIMEOUT)

    assert answer.status_code == 200
    assert [r.body for r in server.seen()] == [PAYLOAD, PAYLOAD]
    assert iam.login_count == 2


def test_a_body_that_cannot_be_sent_again_is_not_resent(session, serve, iam, provider, names, invalidated) -> None:
    """A generator body is gone once sent: the 401 is returned rather than resent empty."""

    def once_then_listen(peer: Peer) -> None:
        # The chunked body is not read as a request: answer the head, then drain until the client leaves.
        request = peer.read_request()
        if request is not None and peer.send(verifying(iam)(request)):
            peer.hold()

    server = serve(script=once_then_listen)
    iam.revoke_tokens("svc")

    answer = session.post(server.url + "/x", data=iter([PAYLOAD]), timeout=TIMEOUT)

    assert answer.status_code == 401
    assert names.sent(server.seen()) == ["T1"]
    assert iam.login_count == 1 and invalidated == []


def test_same_origin_401_twice_is_returned_not_looped(session, serve, iam, provider, names, invalidated) -> None:
    server = serve(lambda request: refused())

    answer = session.get(server.url + "/always-401", timeout=TIMEOUT)

    assert answer.status_code == 401
    names.add("T2", provider.token())
    assert names.sent(server.seen()) == ["T1", "T2"], "one resend, no more"
    assert [names.token(t) for t in invalidated if t is not None] == ["T1"]
    assert iam.login_count == 2


@pytest.mark.parametrize("code", REDIRECTS)
def test_same_origin_redirect_then_401_is_resent_once(code, session, serve, iam, provider, names, invalidated) -> None:
    def answers(request: RawRequest) -> bytes:
        if request.path == "/start":
            return redirect(code, "/next")
        return verifying(iam)(request)

    server = serve(answers)
    iam.revoke_tokens("svc")

    answer = session.post(server.url + "/start", data=PAYLOAD, timeout=TIMEOUT)

    assert answer.status_code == 200
    names.add("T2", provider.token())
    assert names.sent(server.seen(lambda r: r.path == "/start")) == ["T1"]
    assert names.sent(server.seen(lambda r: r.path == "/next")) == ["T1", "T2"], "same origin keeps the header"
    assert [names.token(t) for t in invalidated] == ["T1"] and iam.login_count == 2


@pytest.mark.parametrize("crossing", CROSSINGS)
def test_resend_then_redirect_elsewhere_carries_no_token(
    crossing, session, serve, iam, provider, names, invalidated
) -> None:
    url, servers = cross_origin(
        crossing,
        serve,
        start=lambda target, request: verifying(iam, lambda r: redirect(302, target))(request),
        landing=lambda request: refused(),
    )
    iam.revoke_tokens("svc")

    answer = session.get(url, timeout=TIMEOUT)

    assert answer.status_code == 401, "the other origin's 401 is returned as it is"
    names.add("T2", provider.token())
    assert names.sent(at(servers, "/start")) == ["T1", "T2"]
    assert names.sent(at(servers, "/landed")) == ["none"]
    assert [names.token(t) for t in invalidated] == ["T1"] and iam.login_count == 2


def test_dcos_session_follows_a_same_origin_redirect_after_a_resend_with_the_new_token(
    dcos_session, serve, iam, provider, names, invalidated
) -> None:
    server = serve(x_redirects_to_y(iam))
    iam.revoke_tokens("svc")

    answer = dcos_session.post(server.url + "/x", data=PAYLOAD, timeout=TIMEOUT)

    assert answer.status_code == 200 and answer.content == PAYLOAD
    names.add("T2", provider.token())
    assert names.sent(server.seen(lambda r: r.path == "/x")) == ["T1", "T2"]
    assert names.sent(server.seen(lambda r: r.path == "/y")) == ["T2"], "not the refused token"
    assert [names.token(t) for t in invalidated] == ["T1"] and iam.login_count == 2


def test_plain_session_after_a_resend_redirects_with_requests_copy_and_does_not_resend_again(
    serve, iam, provider, ca, names, invalidated
) -> None:
    """requests copies the caller's request for a redirect, so after a resend a plain
    session sends the refused token on (to the same origin only); the 401 it earns
    is returned, since the call has had its one resend. DCOSSession does better."""

    server = serve(x_redirects_to_y(iam))
    iam.revoke_tokens("svc")
    with make_session("plain", provider, ca) as session:
        answer = session.get(server.url + "/x", timeout=TIMEOUT)

    assert answer.status_code == 401
    names.add("T2", provider.token())
    assert names.sent(server.seen(lambda r: r.path == "/x")) == ["T1", "T2"]
    assert names.sent(server.seen(lambda r: r.path == "/y")) == ["T1"]
    assert iam.login_count == 2


def test_a_concurrent_refresh_is_not_thrown_away(session, serve, iam, provider, names, invalidated) -> None:
    """While our request is in flight another thread replaces the token; the 401 for
    the old one must not invalidate the new one (one login, not two)."""
    refreshed: List[str] = []

    def answers(request: RawRequest) -> bytes:
        header = request.header("authorization")
        if not refreshed:
            # Another thread (this server's) finds T1 refused and refreshes first.
            provider.invalidate(header[len("token=") :])
            refreshed.append(provider.token())
            return refused()
        return ok() if header == f"token={refreshed[0]}" else refused()

    server = serve(answers)

    answer = session.get(server.url + "/x", timeout=TIMEOUT)

    assert answer.status_code == 200
    names.add("T2", refreshed[0])
    assert names.sent(server.seen()) == ["T1", "T2"]
    assert [names.token(t) for t in invalidated] == ["T1", "T1"], "the other thread's, then ours (a no-op)"
    assert iam.login_count == 2, "the other thread's login only"
    assert names.token(provider.token()) == "T2" and iam.login_count == 2


# ---------------------------------------------------------------------------
# Strict mode
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["dcos-explicit", "plain-explicit", "provider-strict", "provider-environ"])
def test_strict_mode_refuses_plain_http_before_any_byte_leaves(how, serve, iam, account, ca) -> None:
    """Strict by argument, by the provider's IAM client, or detected by that client
    from ``$MESOS_AUTH_SECURITY_MODE`` as the driver detects it."""
    server = serve(lambda request: ok(), tls=False)
    options = {
        "provider-strict": {"security_mode": "strict"},
        "provider-environ": {"environ": {"MESOS_AUTH_SECURITY_MODE": "strict"}},
    }.get(how, {})
    provider = TokenProvider(account, ca_bundle=ca.ca_bundle, retry=RetryPolicy(max_attempts=1), **options)
    if how == "dcos-explicit":
        session: requests.Session = DCOSSession(provider, security_mode="strict")
    elif how == "plain-explicit":
        session = make_session("plain", provider, ca, mode="strict")
    else:
        session = DCOSSession(provider)
    assert session.auth.security_mode is SecurityMode.STRICT

    with session, pytest.raises(InsecureTransportError, match="authentication token") as caught:
        session.get(f"http://user:hunter2@127.0.0.1:{server.port}/x?q=1", timeout=TIMEOUT)

    assert "hunter2" not in str(caught.value)
    assert server.connections == 0 and server.seen() == []
    assert iam.login_count == 0, "refused before the token was computed"


def test_strict_mode_follows_a_redirect_to_http_without_the_token(serve, iam, provider, names, invalidated) -> None:
    elsewhere = serve(lambda request: refused(), tls=False)
    origin = serve(lambda request: redirect(302, elsewhere.url + "/landed"))
    with DCOSSession(provider, security_mode="strict") as session:
        answer = session.get(origin.url + "/start", timeout=TIMEOUT)

    assert answer.status_code == 401
    assert names.sent(origin.seen()) == ["T1"] and names.sent(elsewhere.seen()) == ["none"]
    assert iam.login_count == 1 and invalidated == []


def test_strict_mode_never_resends_over_http(serve, iam, provider, ca, names, invalidated) -> None:
    """A request prepared over http before the mode became strict: its 401 is not resent."""
    server = serve(lambda request: refused(), tls=False)
    auth = DCOSAuth(provider, security_mode="permissive")
    with requests.Session() as session:
        prepared = session.prepare_request(requests.Request("GET", server.url + "/x", auth=auth))
        auth.security_mode = SecurityMode.STRICT
        answer = session.send(prepared, timeout=TIMEOUT)

    assert answer.status_code == 401
    assert names.sent(server.seen()) == ["T1"]
    assert iam.login_count == 1 and invalidated == []


# ---------------------------------------------------------------------------
# What is logged
# ---------------------------------------------------------------------------


def test_log_lines_show_origins_only(dcos_session, serve, iam, provider, names, caplog) -> None:
    elsewhere = serve(lambda request: refused())

    def answers(request: RawRequest) -> bytes:
        if request.path == "/start":
            return redirect(302, f"https://user:hunter2@127.0.0.1:{elsewhere.port}/landed?secret=hunter3")
        return verifying(iam)(request)

    origin = serve(answers)
    iam.revoke_tokens("svc")
    old = provider.token()
    caplog.set_level(logging.DEBUG, logger="mesos_auth")

    assert dcos_session.get(origin.url + "/same?secret=hunter4", timeout=TIMEOUT).status_code == 200
    assert dcos_session.get(origin.url + "/start", timeout=TIMEOUT).status_code == 401

    text = caplog.text
    assert "changes the origin" in text and "resending once" in text
    leaked = [word for word in ("hunter2", "hunter3", "hunter4", "/landed", "/same") if word in text]
    assert leaked == []
    token_in_log = old in text or provider.token() in text
    assert not token_in_log
    assert names.sent(elsewhere.seen()) == ["none"]
