"""The fake IAM, driven over real HTTP and HTTPS as a client would.

Login tokens are made with PyJWT directly, not with mesos-auth's own code, so
these tests check the fake against the wire contract and nothing else. Tokens
never appear in assertion messages: comparisons that involve one are reduced to
a bool first, so a failure cannot print it.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import shutil
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.testing import FakeIAM, TestCA, TokenRejected
from mesos_auth.testing._server import FakeServerError
from mesos_auth.testing.iam import JWKS_PATH, LOGIN_PATH
from tests.helpers import wait_for

DEADLINE = 10.0  # generous: a noisy 2-core machine must never make these flaky
FIVE_DAYS = 5 * 24 * 3600


class ManualClock:
    """A frozen clock that moves only when told to."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.value = start

    def __call__(self) -> float:
        return self.value

    def reset(self) -> None:
        self.value = self.start


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def login_token(key: rsa.RSAPrivateKey, uid: str, now: float, lifetime: float = 60, **claims: Any) -> str:
    """A service login token as the contract describes it; ``jti`` keeps each one unique."""
    payload: Dict[str, Any] = {"uid": uid, "exp": int(now + lifetime), "jti": uuid.uuid4().hex}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256")


def unverified_claims(token: str) -> Dict[str, Any]:
    claims: Dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# --------------------------------------------------------------------------
# Fixtures: one CA, keys and a started fake per module; reset before each test
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("fake-iam-ca"))


@pytest.fixture(scope="module")
def alice_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def mallory_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    # Real time, frozen: PyJWT checks the issued tokens' exp against the real clock.
    return ManualClock(float(int(time.time())))


@pytest.fixture(scope="module")
def shared_iam(ca: TestCA, clock: ManualClock) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca, clock=clock) as fake:
        yield fake


@pytest.fixture
def iam(shared_iam: FakeIAM, clock: ManualClock, alice_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    clock.reset()
    shared_iam.reset()
    shared_iam.add_account("alice", alice_key.public_key())
    yield shared_iam
    shared_iam.check()


class Client:
    """Requests to a fake over https (verified with the test CA) or plain http."""

    def __init__(self, fake: FakeIAM, ca: TestCA) -> None:
        self.fake = fake
        self.ca = ca

    def login(self, uid: str, token: str, *, endpoint: Optional[str] = None, **extra: Any) -> requests.Response:
        body = {"uid": uid, "token": token, **extra}
        return requests.post(endpoint or self.fake.login_endpoint, json=body, verify=self.ca.ca_bundle, timeout=30)

    def raw(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        scheme: str = "https",
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """One request with http.client: no header is added but Host and Content-Length."""
        port = int((self.fake.https_url if scheme == "https" else self.fake.http_url).rsplit(":", 1)[1])
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=self.ca.client_context())
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@pytest.fixture
def client(iam: FakeIAM, ca: TestCA) -> Client:
    return Client(iam, ca)


def header(headers: List[Tuple[str, str]], name: str) -> List[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def assert_error(body: bytes, code: str, description_contains: str) -> Dict[str, Any]:
    payload: Dict[str, Any] = json.loads(body)
    assert payload["code"] == code
    assert payload["title"]
    assert description_contains in payload["description"]
    return payload


# --------------------------------------------------------------------------
# Successful logins
# --------------------------------------------------------------------------


def test_login_over_https_returns_an_rs256_token_with_uid_and_exp(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    response = client.login("alice", login_token(alice_key, "alice", clock()))

    assert response.status_code == 200
    # Bouncer's body: falcon's JSON with indent 2 and a newline (wsgiapp.RequestMiddleware).
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(response.json()) == ["token"]
    token = response.json()["token"]
    assert response.content == (json.dumps({"token": token}, indent=2) + "\n").encode()
    # PyJWT 1.7.1's header, no kid; exactly Bouncer's claims (crypt.generate_auth_token).
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "RS256"}
    assert unverified_claims(token) == {"uid": "alice", "exp": int(clock() + FIVE_DAYS)}
    assert iam.login_count == 1
    assert iam.logins_for("alice") == 1
    assert iam.logins_for("bob") == 0
    assert iam.login_attempts == 1
    assert [(e.method, e.path, e.status, e.uid, e.scheme, e.reason) for e in iam.events] == [
        ("POST", LOGIN_PATH, 200, "alice", "https", "ok")
    ]
    assert iam.warnings == []


def test_login_over_plain_http(iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock) -> None:
    assert iam.http_login_endpoint.startswith("http://127.0.0.1:")
    response = client.login("alice", login_token(alice_key, "alice", clock()), endpoint=iam.http_login_endpoint)

    assert response.status_code == 200
    assert iam.events[-1].scheme == "http"


def test_endpoints(iam: FakeIAM) -> None:
    assert iam.login_endpoint == iam.https_url + "/acs/api/v1/auth/login"
    assert iam.https_login_endpoint == iam.login_endpoint
    assert iam.http_login_endpoint == iam.http_url + "/acs/api/v1/auth/login"
    assert iam.jwks_url == iam.https_url + "/acs/api/v1/auth/jwks"


def test_the_extra_exp_key_and_a_charset_are_accepted(
    client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    body = json.dumps({"uid": "alice", "token": login_token(alice_key, "alice", clock()), "exp": 60}).encode()
    status, _, answer = client.raw("POST", LOGIN_PATH, body, {"Content-Type": "application/json; charset=utf-8"})

    assert status == 200
    assert "token" in json.loads(answer)


def test_login_sets_the_auth_and_info_cookies(client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock) -> None:
    body = json.dumps({"uid": "alice", "token": login_token(alice_key, "alice", clock())}).encode()
    status, headers, answer = client.raw("POST", LOGIN_PATH, body, {"Content-Type": "application/json"})
    assert status == 200
    token = json.loads(answer)["token"]

    cookies = header(headers, "Set-Cookie")
    assert len(cookies) == 2
    auth = [c for c in cookies if c.startswith("dcos-acs-auth-cookie=")]
    info = [c for c in cookies if c.startswith("dcos-acs-info-cookie=")]
    assert len(auth) == 1
    assert len(info) == 1
    # falcon 1.4.1 writes cookies with SimpleCookie: attributes sorted, Max-Age from Bouncer's
    # EXPIRATION_*_COOKIE_DAYS (1.9 days), no Domain, no Secure.
    auth_matches = auth[0] == f"dcos-acs-auth-cookie={token}; HttpOnly; Max-Age=164160; Path=/"
    assert auth_matches, "the auth cookie is not the token with HttpOnly; Max-Age; Path=/"
    value, *attributes = info[0].split("; ")
    assert attributes == ["Max-Age=164160", "Path=/"]
    decoded = json.loads(base64.b64decode(value.split("=", 1)[1].strip('"')))
    assert decoded == {"uid": "alice", "description": "service account alice", "is_remote": False}


def test_requests_sees_both_cookies(client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock) -> None:
    response = client.login("alice", login_token(alice_key, "alice", clock()))

    same = response.cookies["dcos-acs-auth-cookie"] == response.json()["token"]
    assert same, "the auth cookie differs from the token in the body"
    assert "dcos-acs-info-cookie" in response.cookies


def test_two_tokens_issued_in_the_same_second_are_the_same_bytes(
    client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # Bouncer's auth token is {uid, exp} with exp in whole seconds, signed with deterministic
    # RS256: two logins in one second get byte-identical tokens (crypt.generate_auth_token).
    first = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]
    clock.value += 0.9
    second = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]

    same = first == second
    assert same, "two logins in the same second got different tokens"


def test_jwks_verifies_an_issued_token(
    iam: FakeIAM, client: Client, ca: TestCA, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]

    response = requests.get(iam.jwks_url, verify=ca.ca_bundle, timeout=30)  # no Authorization header

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert {k: jwk[k] for k in ("kty", "alg", "use", "kid")} == {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": iam.kid,
    }
    assert "=" not in jwk["n"] + jwk["e"]
    assert jwk["e"] == "AQAB"
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public_key, algorithms=["RS256"])
    assert claims["uid"] == "alice"


def test_concurrent_logins_are_all_counted(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    tokens = [login_token(alice_key, "alice", clock()) for _ in range(8)]
    statuses: List[int] = []
    lock = threading.Lock()

    def login(token: str) -> None:
        status = client.login("alice", token).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=login, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)

    assert statuses == [200] * 8
    assert iam.login_count == 8
    assert iam.login_attempts == 8


# --------------------------------------------------------------------------
# Request and credential checks: see test_fake_iam_bouncer.py (Bouncer's answers, check by check)
# --------------------------------------------------------------------------


def test_the_fake_clock_decides_expiry(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = login_token(alice_key, "alice", clock(), lifetime=60)
    clock.value += 61  # the injected clock moves...

    assert client.login("alice", token).status_code == 401
    assert iam.events[-1].reason == "expired"


def test_shift_clock_moves_login_checks_and_issued_exp(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = login_token(alice_key, "alice", clock(), lifetime=60)
    iam.shift_clock(120)
    assert iam.now() == clock() + 120
    assert client.login("alice", token).status_code == 401

    fresh = login_token(alice_key, "alice", iam.now())
    auth_token = client.login("alice", fresh).json()["token"]
    assert unverified_claims(auth_token)["exp"] == int(clock() + 120 + FIVE_DAYS)

    iam.shift_clock(-120)
    assert iam.now() == clock()


def test_the_date_header_follows_the_fake_clock(iam: FakeIAM, client: Client, clock: ManualClock) -> None:
    # A real IAM's answers carry its host's time: that is how a client sees clock skew.
    iam.shift_clock(3600)
    for scheme in ("https", "http"):
        status, headers, _ = client.raw("GET", JWKS_PATH, scheme=scheme)
        assert status == 200
        (date,) = header(headers, "Date")
        assert email.utils.parsedate_to_datetime(date).timestamp() == int(clock() + 3600)


def test_token_lifetime_can_change_after_construction(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    iam.set_token_lifetime(3600)
    first = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]
    iam.token_lifetime = 7200
    second = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]

    assert unverified_claims(first)["exp"] == int(clock() + 3600)
    assert unverified_claims(second)["exp"] == int(clock() + 7200)
    with pytest.raises(ValueError, match="positive"):
        iam.token_lifetime = 0


# --------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------


def test_create_account_makes_a_service_account_that_can_log_in(
    iam: FakeIAM, client: Client, clock: ManualClock
) -> None:
    account = iam.create_account("carol")

    assert isinstance(account, ServiceAccount)
    assert account.uid == "carol"
    assert account.login_endpoint == iam.login_endpoint
    assert account.key_size == 2048
    assert "carol" in iam.accounts
    response = client.login("carol", login_token(account.private_key, "carol", clock()))
    assert response.status_code == 200

    iam.remove_account("carol")
    assert "carol" not in iam.accounts
    again = client.login("carol", login_token(account.private_key, "carol", clock()))
    assert again.status_code == 401
    assert again.json()["description"] == "Invalid credentials."
    assert iam.events[-1].reason == "unknown-uid"


def test_create_account_with_another_endpoint(iam: FakeIAM) -> None:
    account = iam.create_account("dave", endpoint=iam.http_login_endpoint, description="the dave service")

    assert account.login_endpoint == iam.http_login_endpoint
    iam.remove_account("dave")


@pytest.mark.parametrize("form", ["object", "pem-str", "pem-bytes", "pkcs1-pem"])
def test_add_account_takes_a_key_object_or_pem(
    iam: FakeIAM, client: Client, mallory_key: rsa.RSAPrivateKey, clock: ManualClock, form: str
) -> None:
    public = mallory_key.public_key()
    spki = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    keys: Dict[str, Any] = {"object": public, "pem-str": spki.decode(), "pem-bytes": spki, "pkcs1-pem": pkcs1}
    iam.add_account("mallory", keys[form])

    assert client.login("mallory", login_token(mallory_key, "mallory", clock())).status_code == 200
    iam.remove_account("mallory")


def test_add_account_refuses_private_pem_without_quoting_it(iam: FakeIAM, mallory_key: rsa.RSAPrivateKey) -> None:
    pem = mallory_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    with pytest.raises(ValueError) as raised:
        iam.add_account("mallory", pem)
    quoted = pem.splitlines()[1] in str(raised.value)
    assert not quoted, "the error quotes the key"
    with pytest.raises(ValueError, match="not a PEM public key"):
        iam.add_account("mallory", "-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----\n")
    assert "mallory" not in iam.accounts


def test_add_account_replaces_the_key(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, mallory_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    iam.add_account("alice", mallory_key.public_key())

    response = client.login("alice", login_token(alice_key, "alice", clock()))

    assert response.status_code == 401
    assert iam.events[-1].reason == "bad-signature"
    assert iam.warnings == ["signature does not match the registered key of `alice`"]


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------


def test_fail_next_logins_then_recover(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    iam.fail_next_logins(5)
    iam.clear_login_failures()
    assert iam.pending_login_failures == 0
    iam.fail_next_logins(2)
    assert iam.pending_login_failures == 2
    token = login_token(alice_key, "alice", clock())

    first = client.login("alice", token)
    second = client.login("alice", login_token(alice_key, "alice", clock()))
    third = client.login("alice", token)  # an injected failure does not spend the token

    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert iam.pending_login_failures == 0
    assert first.json()["code"] == "ERR_SERVICE_UNAVAILABLE"
    assert first.json()["title"] == "Service Unavailable"
    assert "Retry-After" not in first.headers
    assert iam.login_attempts == 3
    assert iam.login_count == 1
    assert [e.reason for e in iam.events] == ["injected", "injected", "ok"]
    assert iam.events[0].uid == "alice"


def test_fail_next_logins_with_429_sends_retry_after_zero(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    iam.fail_next_logins(1, status=503)
    iam.fail_next_logins(1, status=429)

    statuses = []
    for _ in range(3):
        response = client.login("alice", login_token(alice_key, "alice", clock()))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "0"
            assert response.json()["code"] == "ERR_TOO_MANY_REQUESTS"

    assert statuses == [503, 429, 200]


def test_fail_next_logins_with_a_custom_body(iam: FakeIAM, client: Client) -> None:
    iam.fail_next_logins(1, status=502, body="<html><body>502 Bad Gateway</body></html>")
    iam.fail_next_logins(1, status=500, body={"message": "boom"})
    iam.fail_next_logins(1, status=401)
    body = b'{"uid": "alice", "token": "x"}'

    status, headers, answer = client.raw("POST", LOGIN_PATH, body, {"Content-Type": "application/json"})
    assert (status, header(headers, "Content-Type"), answer) == (
        502,
        ["text/html"],
        b"<html><body>502 Bad Gateway</body></html>",
    )
    status, _, answer = client.raw("POST", LOGIN_PATH, body, {"Content-Type": "application/json"})
    assert (status, json.loads(answer)) == (500, {"message": "boom"})
    status, headers, _ = client.raw("POST", LOGIN_PATH, body, {"Content-Type": "application/json"})
    assert (status, header(headers, "WWW-Authenticate")) == (401, ["acsjwt"])

    with pytest.raises(ValueError):
        iam.fail_next_logins(1, status=200)


def test_latency_holds_logins_and_nothing_else(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock, ca: TestCA
) -> None:
    iam.set_latency(3600)
    results: List[int] = []
    thread = threading.Thread(
        target=lambda: results.append(client.login("alice", login_token(alice_key, "alice", clock())).status_code)
    )
    thread.start()
    wait_for(lambda: iam.pending_logins == 1, what="the login to be held")

    jwks = requests.get(iam.jwks_url, verify=ca.ca_bundle, timeout=30)  # answered while the login waits
    assert jwks.status_code == 200
    assert results == []
    assert iam.login_count == 0

    iam.set_latency(0)  # releases the held login
    thread.join(DEADLINE)

    assert results == [200]
    assert [e.reason for e in iam.events] == ["jwks", "ok"]
    assert iam.pending_logins == 0


def test_stop_releases_held_logins(alice_key: rsa.RSAPrivateKey) -> None:
    fake = FakeIAM().start()
    fake.add_account("alice", alice_key.public_key())
    fake.set_latency(3600)
    outcome: List[str] = []

    def login() -> None:
        token = login_token(alice_key, "alice", time.time())
        try:
            response = requests.post(fake.login_endpoint, json={"uid": "alice", "token": token}, timeout=30)
            outcome.append(str(response.status_code))
        except requests.RequestException as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=login)
    thread.start()
    wait_for(lambda: fake.pending_logins == 1, what="the login to be held")

    fake.stop()
    thread.join(DEADLINE)

    assert not thread.is_alive()
    assert len(outcome) == 1
    wait_for(lambda: fake.pending_logins == 0, what="the held login to be released")
    assert fake.login_count == 0
    fake.check()


def test_go_down_and_come_up(iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock) -> None:
    iam.go_down()
    with pytest.raises(requests.ConnectionError):
        client.login("alice", login_token(alice_key, "alice", clock()))
    with pytest.raises(requests.ConnectionError):
        client.login("alice", login_token(alice_key, "alice", clock()), endpoint=iam.http_login_endpoint)
    assert iam.login_attempts == 0

    iam.come_up()

    assert client.login("alice", login_token(alice_key, "alice", clock())).status_code == 200


# --------------------------------------------------------------------------
# verify_token and revocation
# --------------------------------------------------------------------------


def _reason(iam: FakeIAM, token: str) -> str:
    with pytest.raises(TokenRejected) as raised:
        iam.verify_token(token)
    leaked = bool(token) and token in str(raised.value)
    assert not leaked, "TokenRejected quotes the token"
    return raised.value.reason


def test_verify_token_accepts_issued_tokens(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]

    assert iam.verify_token(token) == "alice"


def test_verify_token_reasons(
    iam: FakeIAM, alice_key: rsa.RSAPrivateKey, mallory_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    assert _reason(iam, "") == "malformed"
    assert _reason(iam, "garbage") == "malformed"
    assert _reason(iam, "a.b.c") == "malformed"
    assert _reason(iam, jwt.encode({"uid": "alice", "exp": int(clock() + 60)}, "k" * 32, "HS256")) == "malformed"
    assert _reason(iam, jwt.encode({"uid": "alice"}, mallory_key, "RS256")) == "bad-signature"
    assert _reason(iam, jwt.encode({"uid": "alice", "exp": "soon"}, mallory_key, "RS256")) == "malformed"
    forged = jwt.encode({"uid": "alice", "exp": int(clock() + 60)}, mallory_key, "RS256", headers={"kid": iam.kid})
    assert _reason(iam, forged) == "bad-signature"
    login = login_token(alice_key, "alice", clock())
    assert _reason(iam, login) == "bad-signature"  # a login token is not an authentication token

    token = iam.issue_token("alice", lifetime=60)
    assert iam.verify_token(token) == "alice"
    clock.value += 59
    assert iam.verify_token(token) == "alice"
    clock.value += 1
    assert _reason(iam, token) == "expired"


def test_verify_token_accepts_a_token_without_exp(iam: FakeIAM) -> None:
    # The legacy `exp: 0` login yields {"uid"} alone (crypt.generate_auth_token): it never expires.
    token = iam.issue_token("alice", with_exp=False)

    assert unverified_claims(token) == {"uid": "alice"}
    iam.shift_clock(100 * FIVE_DAYS)
    assert iam.verify_token(token) == "alice"


def test_verify_token_for_a_removed_account(iam: FakeIAM) -> None:
    iam.create_account("erin")
    token = iam.issue_token("erin")
    assert iam.verify_token(token) == "erin"

    iam.remove_account("erin")

    assert _reason(iam, token) == "unknown-account"


def test_verify_token_follows_shift_clock(iam: FakeIAM) -> None:
    token = iam.issue_token("alice")
    iam.shift_clock(FIVE_DAYS - 1)
    assert iam.verify_token(token) == "alice"
    iam.shift_clock(1)
    assert _reason(iam, token) == "expired"


def test_revoke_tokens_of_one_uid(iam: FakeIAM, mallory_key: rsa.RSAPrivateKey) -> None:
    iam.add_account("mallory", mallory_key.public_key())
    alice_1, alice_2 = iam.issue_token("alice", lifetime=60), iam.issue_token("alice", lifetime=61)
    mallory = iam.issue_token("mallory")

    iam.revoke_tokens("alice")

    assert _reason(iam, alice_1) == "revoked"
    assert _reason(iam, alice_2) == "revoked"
    assert iam.verify_token(mallory) == "mallory"
    assert iam.verify_token(iam.issue_token("alice")) == "alice"  # issued after the revocation
    iam.remove_account("mallory")


def test_revoke_all_and_one(iam: FakeIAM) -> None:
    first, second = iam.issue_token("alice", lifetime=60), iam.issue_token("alice", lifetime=61)
    iam.revoke(first)
    assert _reason(iam, first) == "revoked"
    assert iam.verify_token(second) == "alice"

    iam.revoke_tokens()

    assert _reason(iam, second) == "revoked"


def test_revoking_a_token_from_a_login(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]

    iam.revoke_tokens("alice")

    assert _reason(iam, token) == "revoked"
    fresh = client.login("alice", login_token(alice_key, "alice", clock())).json()["token"]
    assert iam.verify_token(fresh) == "alice"


def test_verify_token_is_thread_safe(iam: FakeIAM) -> None:
    tokens = [iam.issue_token("alice", lifetime=60 + n) for n in range(4)]
    iam.revoke(tokens[0])
    outcomes: List[str] = []
    lock = threading.Lock()

    def verify(token: str) -> None:
        for _ in range(20):
            try:
                result = iam.verify_token(token)
            except TokenRejected as exc:
                result = exc.reason
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=verify, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)

    assert sorted(set(outcomes)) == ["alice", "revoked"]
    assert outcomes.count("revoked") == 20


# --------------------------------------------------------------------------
# Strict-mode redirect of plain http (Admin Router)
# --------------------------------------------------------------------------


@pytest.fixture
def redirecting(ca: TestCA, alice_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca, redirect_http_to_https=True) as fake:
        fake.add_account("alice", alice_key.public_key())
        yield fake
        fake.check()


def test_redirect_answers_every_plain_http_path_with_307(redirecting: FakeIAM, ca: TestCA) -> None:
    client = Client(redirecting, ca)
    https_port = redirecting.https_url.rsplit(":", 1)[1]

    status, headers, _ = client.raw(
        "POST", LOGIN_PATH, b'{"uid": "alice"}', {"Content-Type": "application/json"}, "http"
    )
    assert status == 307
    assert header(headers, "Location") == [f"https://127.0.0.1:{https_port}{LOGIN_PATH}"]

    status, headers, _ = client.raw("GET", "/mesos/master/state?jsonp=x", scheme="http")
    assert status == 307
    assert header(headers, "Location") == [f"https://127.0.0.1:{https_port}/mesos/master/state?jsonp=x"]

    assert redirecting.login_count == 0
    assert [(e.scheme, e.status, e.reason) for e in redirecting.events] == [("http", 307, "redirect")] * 2


def test_redirect_does_not_process_the_login(redirecting: FakeIAM, ca: TestCA, alice_key: rsa.RSAPrivateKey) -> None:
    token = login_token(alice_key, "alice", time.time())

    # requests follows a 307 with the same method and body: the token went out in clear first.
    response = requests.post(
        redirecting.http_login_endpoint, json={"uid": "alice", "token": token}, verify=ca.ca_bundle, timeout=30
    )

    assert [r.status_code for r in response.history] == [307]
    assert response.status_code == 200  # the redirect did not spend the login token
    assert redirecting.login_count == 1
    assert redirecting.login_attempts == 2
    assert [(e.scheme, e.reason) for e in redirecting.events] == [("http", "redirect"), ("https", "ok")]


def test_redirect_needs_both_listeners(ca: TestCA) -> None:
    with pytest.raises(ValueError, match="both listeners"):
        FakeIAM(redirect_http_to_https=True)
    with pytest.raises(ValueError, match="both listeners"):
        FakeIAM(tls=ca, plain_http=False, redirect_http_to_https=True)


def test_https_only(ca: TestCA) -> None:
    with FakeIAM(tls=ca, plain_http=False) as fake:
        assert fake.login_endpoint.startswith("https://127.0.0.1:")
        with pytest.raises(AttributeError):
            _ = fake.http_login_endpoint


# --------------------------------------------------------------------------
# reset(), check(), repr, use without pytest fixtures
# --------------------------------------------------------------------------


def test_reset_clears_everything_but_accounts(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    spent = login_token(alice_key, "alice", clock())
    auth_token = client.login("alice", spent).json()["token"]
    iam.revoke_tokens()
    iam.fail_next_logins(5)
    iam.set_latency(3600)
    iam.shift_clock(1000)
    iam.token_lifetime = 10
    iam.go_down()

    iam.reset()

    assert (iam.login_count, iam.login_attempts, iam.events, iam.logins_for("alice")) == (0, 0, [], 0)
    assert "alice" in iam.accounts
    assert iam.now() == clock()
    assert iam.token_lifetime == FIVE_DAYS
    assert iam.verify_token(auth_token) == "alice"  # revocation lifted
    # up again, no fault, no latency:
    assert client.login("alice", login_token(alice_key, "alice", clock())).status_code == 200
    assert client.login("alice", spent).status_code == 200
    assert iam.warnings == []  # the replay record is per test: no "used before"


class CrashingIAM(FakeIAM):
    """A fake whose jwks handler has a bug: check() must surface it in the test."""

    def _answer(self, request: Any) -> Any:
        raise RuntimeError("bug in the jwks handler")


def test_check_raises_when_a_handler_crashed(ca: TestCA) -> None:
    with CrashingIAM(tls=ca) as fake:
        fake.check()  # nothing yet
        response = requests.get(fake.jwks_url, verify=ca.ca_bundle, timeout=30)

        assert response.status_code == 500
        with pytest.raises(FakeServerError, match="bug in the jwks handler"):
            fake.check()
        fake.reset()
        fake.check()


def test_a_crashing_clock_is_reported_by_check(alice_key: rsa.RSAPrivateKey) -> None:
    broken = {"now": False}

    def clock() -> float:
        if broken["now"]:
            raise OSError("clock source gone")
        return time.time()

    with FakeIAM(clock=clock) as fake:
        fake.add_account("alice", alice_key.public_key())
        token = login_token(alice_key, "alice", time.time())
        broken["now"] = True
        response = requests.post(fake.login_endpoint, json={"uid": "alice", "token": token}, timeout=30)

        assert response.status_code == 500
        with pytest.raises(FakeServerError) as raised:
            fake.check()
        assert "clock source gone" in str(raised.value)
        leaked = token in str(raised.value)
        assert not leaked, "the recorded error quotes the login token"


def test_nothing_secret_in_repr_or_records(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    token = login_token(alice_key, "alice", clock())
    auth_token = client.login("alice", token).json()["token"]
    client.login("alice", token)  # a replay: accepted, as Bouncer does, and noted
    client.login("nobody", token)  # refused

    text = repr(iam) + repr(iam.events) + repr(iam.warnings) + repr(iam.__dict__)
    leaked = token in text or auth_token in text
    assert not leaked, "a token appears in repr or records"
    assert repr(iam).startswith("<FakeIAM https://127.0.0.1:")


def test_usable_without_pytest_as_a_context_manager(alice_key: rsa.RSAPrivateKey) -> None:
    with FakeIAM() as fake:
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.tls is False
        fake.add_account("alice", alice_key.public_key())
        token = login_token(alice_key, "alice", time.time())
        response = requests.post(fake.login_endpoint, json={"uid": "alice", "token": token}, timeout=30)
        assert response.status_code == 200
        assert fake.verify_token(response.json()["token"]) == "alice"


def test_own_tls_ca() -> None:
    fake = FakeIAM(tls=True)
    assert fake.ca is not None
    try:
        with fake:
            assert fake.ca_bundle is not None
            response = requests.get(fake.jwks_url, verify=fake.ca_bundle, timeout=30)
            assert response.status_code == 200
    finally:
        shutil.rmtree(fake.ca.directory, ignore_errors=True)
