"""The fake IAM answers as dcos/bouncer does: what it accepts, what it refuses, and in which words.

Every expectation names its source in Bouncer (``bouncer/app/auth.py``,
``crypt.py``, ``wsgiapp.py``, ``utils.py``) or its tests (``tests/app/``), or in
the libraries it pins (falcon 1.4.1, PyJWT 1.7.1, jsonschema 2.6.0). The wire
says only what Bouncer says; the fake's records (``events``, ``warnings``) say why.
Tokens never appear in assertion messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mesos_auth.testing import FakeIAM, TestCA
from mesos_auth.testing.iam import LOGIN_PATH
from tests.testing.test_fake_iam import Client, ManualClock, header, login_token, new_key, unverified_claims

FIVE_DAYS = 5 * 24 * 3600
INVALID_CREDENTIALS = {
    "title": "401 Unauthorized",
    "description": "Invalid credentials.",
    "code": "ERR_INVALID_CREDENTIALS",
}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("fake-iam-bouncer-ca"))


@pytest.fixture(scope="module")
def alice_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def mallory_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(float(int(time.time())))


def _started(ca: TestCA, clock: ManualClock, **options: Any) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca, clock=clock, **options) as fake:
        yield fake


@pytest.fixture(scope="module")
def shared_iam(ca: TestCA, clock: ManualClock) -> Iterator[FakeIAM]:
    yield from _started(ca, clock)


@pytest.fixture(scope="module")
def shared_strict_iam(ca: TestCA, clock: ManualClock) -> Iterator[FakeIAM]:
    yield from _started(ca, clock, refuse_long_lived_login_tokens=True, refuse_replayed_login_tokens=True)


def _fresh(fake: FakeIAM, clock: ManualClock, alice_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    clock.reset()
    fake.reset()
    fake.add_account("alice", alice_key.public_key())
    yield fake
    fake.check()


@pytest.fixture
def iam(shared_iam: FakeIAM, clock: ManualClock, alice_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    yield from _fresh(shared_iam, clock, alice_key)


@pytest.fixture
def strict_iam(shared_strict_iam: FakeIAM, clock: ManualClock, alice_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    yield from _fresh(shared_strict_iam, clock, alice_key)


@pytest.fixture
def client(iam: FakeIAM, ca: TestCA) -> Client:
    return Client(iam, ca)


def post_json(client: Client, body: Any, headers: Optional[Mapping[str, str]] = None) -> Tuple[int, Any, bytes]:
    data = json.dumps(body).encode()
    return client.raw("POST", LOGIN_PATH, data, {"Content-Type": "application/json", **(headers or {})})


def assert_falcon_error(headers: List[Tuple[str, str]], body: bytes, expected: Dict[str, str]) -> None:
    """falcon 1.4.1's error: exactly these keys in this order, its media type, ``Vary: Accept``."""
    assert list(json.loads(body).items()) == list(expected.items())
    assert header(headers, "Content-Type") == ["application/json; charset=UTF-8"]
    assert header(headers, "Vary") == ["Accept"]


def signed(key: rsa.RSAPrivateKey, header_segment: str, payload_segment: str) -> str:
    """A JWS over exactly these segments (for encodings PyJWT would not write itself)."""
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header_segment}.{payload_segment}." + base64.urlsafe_b64encode(signature).decode("ascii")


# --------------------------------------------------------------------------
# Accepted as Bouncer accepts (auth.py, Login._login_service: it only warns)
# --------------------------------------------------------------------------


def test_a_login_token_living_an_hour_is_accepted_with_a_warning(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # bouncer tests/app: test_logintoken_20min_exp expects 200.
    response = client.login("alice", login_token(alice_key, "alice", clock(), lifetime=3600))

    assert response.status_code == 200
    assert iam.events[-1].reason == "ok"
    assert iam.warnings == ["login token of `alice` lives 3600 s (more than 10 minutes)"]


def test_ten_minutes_exactly_is_no_warning(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # `payload['exp'] > time.time() + 600`: 600 s is not more.
    assert client.login("alice", login_token(alice_key, "alice", clock(), lifetime=600)).status_code == 200
    assert iam.warnings == []
    assert client.login("alice", login_token(alice_key, "alice", clock(), lifetime=601)).status_code == 200
    assert iam.warnings == ["login token of `alice` lives 601 s (more than 10 minutes)"]


def test_a_login_token_without_exp_is_accepted_with_a_warning(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey
) -> None:
    response = client.login("alice", jwt.encode({"uid": "alice"}, alice_key, algorithm="RS256"))

    assert response.status_code == 200
    assert iam.warnings == ["login token of `alice` has no exp"]


def test_the_same_login_token_works_twice(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # Bouncer keeps no record of used login tokens.
    token = login_token(alice_key, "alice", clock())

    assert client.login("alice", token).status_code == 200
    assert client.login("alice", token).status_code == 200
    assert iam.login_count == 2
    assert iam.warnings == ["login token of `alice` was used before (replay)"]


def test_exp_equal_to_now_is_still_valid(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # PyJWT 1.7.1 _validate_exp: refused only when `exp < now` (whole seconds).
    clock.value += 0.7
    assert client.login("alice", login_token(alice_key, "alice", clock(), lifetime=0)).status_code == 200
    expired = client.login("alice", login_token(alice_key, "alice", clock(), lifetime=-1))
    assert expired.status_code == 401
    assert iam.events[-1].reason == "expired"


def test_an_integer_string_exp_is_checked_then_fails_bouncers_comparison(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # PyJWT accepts int("..."); Bouncer's `payload['exp'] > time.time() + 600` then raises: a 500.
    token = login_token(alice_key, "alice", clock(), exp=str(int(clock() + 60)))

    status, headers, _ = post_json(client, {"uid": "alice", "token": token})

    assert status == 500
    assert header(headers, "Content-Type") == ["text/html"]
    assert iam.events[-1].reason == "server-error"
    assert iam.login_count == 0


def test_padded_standard_base64_is_read_as_pyjwt_reads_it(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # PyJWT 1.7.1 base64url_decode: urlsafe_b64decode without validation, padding optional.
    payload = json.dumps({"uid": "alice", "exp": int(clock() + 60), "pad": "x"}).encode()
    token = signed(
        alice_key,
        base64.b64encode(b'{"alg":"RS256","typ":"JWT"}').decode(),
        base64.b64encode(payload).decode(),
    )
    assert "=" in token

    assert client.login("alice", token).status_code == 200


def test_additional_claims_and_a_garbage_free_iat_are_fine(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # test_logintoken_additional_claims; PyJWT 1.7.1 checks only that iat is an integer.
    token = login_token(alice_key, "alice", clock(), additional="claim", iat=int(clock() + 3600))
    assert client.login("alice", token).status_code == 200


# --------------------------------------------------------------------------
# The private `exp` field of the login body (crypt.generate_auth_token)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "claims"),
    [
        pytest.param(
            84600, {"uid": "alice", "exp": 84600}, id="custom"
        ),  # test_request_authtoken_with_custom_expiration
        pytest.param(0, {"uid": "alice"}, id="zero"),  # test_request_authtoken_without_expiration
        pytest.param(False, {"uid": "alice"}, id="false-equals-zero"),
        pytest.param(0.0, {"uid": "alice"}, id="float-zero"),
        pytest.param(1234.9, {"uid": "alice", "exp": 1234}, id="float-truncated"),
        pytest.param("77", {"uid": "alice", "exp": 77}, id="integer-string"),
        pytest.param(None, {"uid": "alice", "exp": None}, id="null-means-default"),
    ],
)
def test_the_private_exp_field_sets_the_auth_tokens_exp(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock, exp: Any, claims: Dict[str, Any]
) -> None:
    if claims.get("exp", 0) is None:
        claims = {"uid": "alice", "exp": int(clock() + FIVE_DAYS)}

    status, _, body = post_json(client, {"uid": "alice", "token": login_token(alice_key, "alice", clock()), "exp": exp})

    assert status == 200
    token = json.loads(body)["token"]
    assert unverified_claims(token) == claims
    if "exp" not in claims:
        iam.shift_clock(1000 * FIVE_DAYS)
        assert iam.verify_token(token) == "alice"  # no exp: never expires


@pytest.mark.parametrize("exp", ["soon", [1], {"a": 1}], ids=["word", "list", "object"])
def test_a_private_exp_that_int_refuses_is_a_500(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock, exp: Any
) -> None:
    status, _, _ = post_json(client, {"uid": "alice", "token": login_token(alice_key, "alice", clock()), "exp": exp})

    assert status == 500
    assert iam.events[-1].reason == "server-error"


# --------------------------------------------------------------------------
# Refused credentials: one answer for all (Login._raise_local_nonauth_error)
# --------------------------------------------------------------------------

TokenMaker = Callable[[rsa.RSAPrivateKey, rsa.RSAPrivateKey, float], Tuple[str, str]]


def _hs256(alice: rsa.RSAPrivateKey, mallory: rsa.RSAPrivateKey, now: float) -> Tuple[str, str]:
    return "alice", jwt.encode({"uid": "alice", "exp": int(now + 60)}, "a-shared-secret-of-32-bytes-....", "HS256")


CREDENTIAL_CASES: List[Any] = [
    pytest.param(
        lambda a, m, now: ("nobody", login_token(a, "nobody", now)),
        "unknown-uid",
        "unknown uid: no service account `nobody`",
        id="unknown-uid",
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(m, "alice", now)),
        "bad-signature",
        "signature does not match the registered key of `alice`",
        id="wrong-key",
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "alice", now, lifetime=-5)), "expired", "expired", id="expired"
    ),
    pytest.param(
        lambda a, m, now: ("alice", jwt.encode({"exp": int(now + 60)}, a, algorithm="RS256")),
        "uid-missing",
        "has no uid claim",
        id="uid-missing",
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "bob", now)), "uid-mismatch", "not the body's uid", id="uid-mismatch"
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "alice", now, exp="soon")), "malformed", "exp", id="exp-not-a-number"
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "alice", now, iat="yesterday")), "malformed", "iat", id="bad-iat"
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "alice", now, nbf=int(now + 30))),
        "not-yet-valid",
        "not valid yet",
        id="nbf-in-future",
    ),
    pytest.param(
        lambda a, m, now: ("alice", login_token(a, "alice", now, aud="dcos")), "audience", "aud", id="any-aud"
    ),
    pytest.param(_hs256, "bad-algorithm", "alg", id="hs256"),
    pytest.param(lambda a, m, now: ("alice", "not-a-jwt"), "malformed", "segments", id="not-a-jwt"),
    pytest.param(lambda a, m, now: ("alice", "e30.0.AAAA"), "malformed", "base64url", id="corrupt-base64-payload"),
    pytest.param(lambda a, m, now: ("nobody", "abc"), "unknown-uid", "unknown uid", id="unknown-service"),
]


@pytest.mark.parametrize(("make", "reason", "cause"), CREDENTIAL_CASES)
def test_every_bad_credential_gets_the_same_401(
    iam: FakeIAM,
    client: Client,
    alice_key: rsa.RSAPrivateKey,
    mallory_key: rsa.RSAPrivateKey,
    clock: ManualClock,
    make: TokenMaker,
    reason: str,
    cause: str,
) -> None:
    uid, token = make(alice_key, mallory_key, clock())

    status, headers, body = post_json(client, {"uid": uid, "token": token})

    assert status == 401
    assert header(headers, "WWW-Authenticate") == ["acsjwt"]
    assert_falcon_error(headers, body, INVALID_CREDENTIALS)
    assert header(headers, "Set-Cookie") == []
    assert (iam.login_count, iam.login_attempts) == (0, 1)
    event = iam.events[-1]
    assert (event.status, event.reason, event.uid) == (401, reason, uid)
    assert cause in event.cause
    assert iam.warnings == [event.cause]
    leaked = any(len(part) > 3 and part in event.cause for part in token.split("."))
    assert not leaked, "the recorded cause quotes the login token"


def test_a_service_account_cannot_log_in_with_a_password(iam: FakeIAM, client: Client) -> None:
    # bouncer tests/app: test_password_login_fails.
    status, headers, body = post_json(client, {"uid": "alice", "password": "somepassword"})

    assert status == 401
    assert header(headers, "WWW-Authenticate") == ["acsjwt"]
    assert_falcon_error(headers, body, INVALID_CREDENTIALS)
    assert iam.events[-1].reason == "no-login-token"


# --------------------------------------------------------------------------
# Opt-in strictness (NOT DC/OS behaviour): refused with Bouncer's own 401
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param({"exp": 3600}, "too-long", id="one-hour"),
        pytest.param({"exp": None}, "missing-exp", id="no-exp"),
    ],
)
def test_strictness_refuses_long_lived_login_tokens(
    strict_iam: FakeIAM,
    ca: TestCA,
    alice_key: rsa.RSAPrivateKey,
    clock: ManualClock,
    claims: Dict[str, Any],
    reason: str,
) -> None:
    payload: Dict[str, Any] = {"uid": "alice"}
    if claims["exp"] is not None:
        payload["exp"] = int(clock() + claims["exp"])
    status, headers, body = post_json(
        Client(strict_iam, ca), {"uid": "alice", "token": jwt.encode(payload, alice_key, algorithm="RS256")}
    )

    assert status == 401
    assert header(headers, "WWW-Authenticate") == ["acsjwt"]
    assert_falcon_error(headers, body, INVALID_CREDENTIALS)
    assert strict_iam.events[-1].reason == reason
    assert "refused by strictness" in strict_iam.events[-1].cause


def test_strictness_refuses_a_replayed_login_token_and_allows_ten_minutes(
    strict_iam: FakeIAM, ca: TestCA, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    client = Client(strict_iam, ca)
    token = login_token(alice_key, "alice", clock(), lifetime=600)
    assert client.login("alice", token).status_code == 200

    replay = client.login("alice", token)

    assert replay.status_code == 401
    assert replay.json() == INVALID_CREDENTIALS
    assert strict_iam.events[-1].reason == "replay"
    assert strict_iam.login_count == 1
    assert strict_iam.strictness.refuse_replayed_login_tokens


# --------------------------------------------------------------------------
# The request itself: falcon middleware and schema (wsgiapp.py, utils.py), Login params
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "status", "expected"),
    [
        pytest.param(
            b"x",
            {"Content-Type": "text/plain"},
            415,
            {"title": "Unsupported media type", "description": "Unexpected or undefined Content-Type"},
            id="text-plain",
        ),
        pytest.param(
            b"uid=alice",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
            {"title": "Bad Request", "description": "Request has bad Content-Type or lacks JSON data"},
            id="form",
        ),
        pytest.param(
            b"rofl", {}, 400, {"title": "Bad Request", "description": "Missing Content-Type header."}, id="no-type"
        ),
        pytest.param(
            b"",
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Request has bad Content-Type or lacks JSON data"},
            id="empty-body",
        ),
        pytest.param(
            b"null",
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Request has bad Content-Type or lacks JSON data"},
            id="json-null",
        ),
        pytest.param(
            b"{not json",
            {"Content-Type": "application/json; charset=utf-8"},
            400,
            {
                "title": "Bad Request",
                "description": "Cannot decode JSON body: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)",
            },
            id="not-json",
        ),
        pytest.param(
            b"\x01\x80",
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Cannot decode JSON body using UTF-8. Reason: invalid start byte"},
            id="not-utf8",
        ),
        pytest.param(
            b"[]",
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Unexpected JSON input. Hint: [] is not of type 'object'"},
            id="json-array",
        ),
        pytest.param(
            b'{"uid": "alice", "token": 5}',
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Unexpected JSON input. Hint: 5 is not of type 'string'"},
            id="int-token",
        ),
        pytest.param(
            b'{"uid": true, "token": "t"}',
            {"Content-Type": "application/json"},
            400,
            {"title": "Bad Request", "description": "Unexpected JSON input. Hint: True is not of type 'string'"},
            id="bool-uid",
        ),
        pytest.param(
            b'{"uid": "alice"}',
            {"Content-Type": "application/json"},
            400,
            {
                "title": "400 Bad Request",
                "description": "Exactly one of `token` and `password` must be provided in the request body",
            },
            id="neither-token-nor-password",
        ),
        pytest.param(
            b'{"uid": "alice", "token": "t", "password": "p"}',
            {"Content-Type": "application/json"},
            400,
            {
                "title": "400 Bad Request",
                "description": "Exactly one of `token` and `password` must be provided in the request body",
            },
            id="token-and-password",
        ),
        pytest.param(
            b'{"password": "p"}',
            {"Content-Type": "application/json"},
            400,
            {"title": "400 Bad Request", "description": "`uid` missing in the request body"},
            id="password-without-uid",
        ),
        pytest.param(
            b'{"uid": "", "password": "p"}',
            {"Content-Type": "application/json"},
            400,
            {"title": "400 Bad Request", "description": "`uid` and `password` must not be empty strings"},
            id="empty-uid",
        ),
    ],
)
def test_bad_requests_are_answered_as_bouncer_does(
    iam: FakeIAM, client: Client, body: bytes, headers: Dict[str, str], status: int, expected: Dict[str, str]
) -> None:
    got_status, answer_headers, answer = client.raw("POST", LOGIN_PATH, body, headers)

    assert got_status == status
    assert_falcon_error(answer_headers, answer, expected)
    assert header(answer_headers, "WWW-Authenticate") == []
    assert (iam.login_attempts, iam.login_count) == (1, 0)
    assert iam.events[-1].reason == "bad-request"


def test_a_token_without_uid_is_the_legacy_oidc_login(
    iam: FakeIAM, client: Client, alice_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    # oidcidtokenlogin._terminate_bad_token: a 401 without challenge and without code.
    status, headers, body = post_json(client, {"token": login_token(alice_key, "alice", clock())})

    assert status == 401
    assert header(headers, "WWW-Authenticate") == []
    expected = {"title": "401 Unauthorized", "description": "OpenID Connect ID Token login failed: bad token"}
    assert_falcon_error(headers, body, expected)
    assert iam.events[-1].reason == "oidc"
    assert "no iss claim" in iam.events[-1].cause


def test_a_token_without_uid_that_is_no_jwt_is_a_500(iam: FakeIAM, client: Client) -> None:
    # jwt.decode(verify=False) raises DecodeError, which `except ValueError` does not catch.
    status, _, _ = post_json(client, {"token": "not-a-jwt"})

    assert status == 500
    assert iam.events[-1].reason == "server-error"


def test_get_on_the_login_path_wants_a_provider(iam: FakeIAM, client: Client, ca: TestCA) -> None:
    # Login.on_get; bouncer tests/app: test_auth_endpoint_get_missing_query_parameter.
    status, headers, body = client.raw("GET", LOGIN_PATH)

    assert status == 400
    expected = {
        "title": "400 Bad Request",
        "description": "Expected query parameter `oidc-provider` or `saml-provider`.",
        "code": "ERR_MISSING_QUERY_PARAMETERS",
    }
    assert_falcon_error(headers, body, expected)
    assert requests.get(iam.login_endpoint, verify=ca.ca_bundle, timeout=30).status_code == 400
    assert iam.login_attempts == 0


def test_a_client_that_does_not_accept_json_gets_406(iam: FakeIAM, client: Client) -> None:
    # RequestMiddleware.process_request; bouncer tests/app: test_get_valid_but_unexpected_accept_header.
    status, headers, body = client.raw("GET", LOGIN_PATH, headers={"Accept": "text/html"})

    assert (status, body) == (406, b"")
    assert header(headers, "Vary") == ["Accept"]


def test_falcon_answers_other_methods_and_paths(client: Client) -> None:
    status, headers, body = client.raw("PUT", LOGIN_PATH, b"{}", {"Content-Type": "application/json"})
    assert (status, header(headers, "Allow"), body) == (405, ["GET, POST, OPTIONS"], b"")
    status, headers, _ = client.raw("OPTIONS", LOGIN_PATH)
    assert (status, header(headers, "Allow")) == (200, ["GET, POST"])
    status, headers, body = client.raw("HEAD", "/acs/api/v1/auth/jwks")
    assert (status, header(headers, "Allow")) == (405, ["GET, OPTIONS"])
    status, _, body = client.raw("GET", "/acs/api/v1/nothing-here")
    assert (status, body) == (404, b"")


def test_the_jwks_is_bouncers(iam: FakeIAM, client: Client) -> None:
    # crypt.gen_jwks: kid is sha256("<e><n>RSA"), keys in this order; indented JSON and a newline.
    status, headers, body = client.raw("GET", "/acs/api/v1/auth/jwks")

    assert status == 200
    assert header(headers, "Content-Type") == ["application/json; charset=utf-8"]
    jwks = json.loads(body)
    assert body == (json.dumps(jwks, indent=2) + "\n").encode()
    (key,) = jwks["keys"]
    assert list(key) == ["kid", "kty", "n", "e", "alg", "use"]
    n = int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4)), "big")
    e = int.from_bytes(base64.urlsafe_b64decode(key["e"] + "=" * (-len(key["e"]) % 4)), "big")
    assert key["kid"] == hashlib.sha256(f"{e}{n}RSA".encode()).hexdigest() == iam.kid
