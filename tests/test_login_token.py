"""The service login token, checked with an independent JWT implementation.

The verifier below is written from RFC 7515/7519 with `cryptography` alone (no
PyJWT), so a bug in how we call PyJWT cannot hide behind PyJWT reading it back.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Tuple

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mesos_auth.login_token import (
    DEFAULT_LOGIN_TOKEN_LIFETIME,
    MAX_LOGIN_TOKEN_LIFETIME,
    LoginTokenLifetimeError,
    make_login_token,
)


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(token: str, public_key: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Verify a compact JWS signed with RS256; return (header, claims)."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    for part in (header_b64, claims_b64, signature_b64):
        assert "=" not in part, "JWS parts are base64url without padding"
    public_key.verify(
        b64url_decode(signature_b64),
        f"{header_b64}.{claims_b64}".encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))


def test_login_token_has_exactly_the_contract_claims(account) -> None:
    token = make_login_token(account, clock=lambda: 1_700_000_000.4)
    header, claims = verify_rs256(token, account.private_key.public_key())
    assert header == {"alg": "RS256", "typ": "JWT"}
    assert set(claims) == {"uid", "exp", "iat", "jti"}
    assert claims["uid"] == "my-framework"
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_000 + int(DEFAULT_LOGIN_TOKEN_LIFETIME)
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16


def test_default_lifetime_is_a_few_minutes_and_within_our_limit() -> None:
    # Our practice: short-lived login tokens (the IAM itself accepts any lifetime, and logs past ten minutes).
    assert 60 <= DEFAULT_LOGIN_TOKEN_LIFETIME <= 300
    assert MAX_LOGIN_TOKEN_LIFETIME == 600


def test_signature_is_bound_to_the_key(account, other_rsa_key) -> None:
    token = make_login_token(account)
    with pytest.raises(InvalidSignature):
        verify_rs256(token, other_rsa_key.public_key())


def test_no_two_login_tokens_are_equal(account) -> None:
    tokens = {make_login_token(account, clock=lambda: 1_700_000_000) for _ in range(50)}
    assert len(tokens) == 50


@pytest.mark.parametrize("lifetime", [0, -5, 600.5, 3600, float("nan"), float("inf")])
def test_lifetimes_outside_our_limit_are_refused_as_our_limit(account, lifetime) -> None:
    with pytest.raises(LoginTokenLifetimeError) as caught:
        make_login_token(account, lifetime=lifetime)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "mesos-auth signs login tokens for at most ten minutes" in message
    assert "this library's limit, not the IAM's" in message
    assert "the IAM refuses" not in message


def test_the_maximum_lifetime_is_allowed(account) -> None:
    _, claims = verify_rs256(
        make_login_token(account, lifetime=600, clock=lambda: 100), account.private_key.public_key()
    )
    assert claims["exp"] == 700
