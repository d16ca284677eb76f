"""Executor tokens: the HS256 JWTs a Mesos agent gives its executors, and how it checks them.

Mesos (``--jwt_secret_key``, ``--authenticate_http_executors``) signs, for every
executor it launches, a JWT whose claims are exactly ``fid`` (FrameworkID), ``eid``
(ExecutorID) and ``cid`` (ContainerID), with no ``exp``: apache/mesos
``src/slave/slave.cpp`` ``Slave::generateSecret`` and
``src/authentication/executor/jwt_secret_generator.cpp``. The token is HS256 with
header ``{"alg":"HS256","typ":"JWT"}`` (``3rdparty/libprocess/src/jwt.cpp``,
``JWT::create``). The agent's realm ``mesos-agent-executor`` checks it with the JWT
authenticator (``3rdparty/libprocess/src/jwt_authenticator.cpp``), whose 401
challenges and texts :meth:`ExecutorTokens.authenticate` reproduces, and
``Http::executor`` (``src/slave/http.cpp``, ``verifyExecutorClaims``) answers 403
when the claims name another framework, executor or container.

The secret never leaves this object in a repr or an error text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from typing import Any, Dict, Mapping, Optional

#: ``EXECUTOR_HTTP_AUTHENTICATION_REALM`` (apache/mesos ``src/slave/constants.hpp``).
EXECUTOR_REALM = "mesos-agent-executor"

Claims = Dict[str, str]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """stout's ``base64::decode_url_safe``: padding optional, url-safe alphabet only.

    (unverified) The wording of a decoding failure after "Failed to base64url-decode: "
    is stout's own; the fake says "Invalid character" / "Invalid length".
    """
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    stripped = text.rstrip("=")
    if any(character not in alphabet for character in stripped):
        raise ValueError("Invalid character")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("Invalid length") from None


def _decode_json(component: str) -> Dict[str, Any]:
    """``decode`` of jwt.cpp: base64url, then a JSON object."""
    try:
        raw = _b64url_decode(component)
    except ValueError as exc:
        raise ValueError(f"Failed to base64url-decode: {exc}") from None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"Failed to parse into JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("Failed to parse into JSON: not an object")
    return value


def _header_error(header: Mapping[str, Any]) -> Optional[str]:
    """``parse_header`` of jwt.cpp after the decoding, in its order."""
    if "typ" in header and not isinstance(header["typ"], str):
        return "Token 'typ' is not a string"
    if "alg" not in header:
        return "Failed to locate 'alg' in token JSON header"
    alg = header["alg"]
    if not isinstance(alg, str):
        return "Token 'alg' field is not a string"
    if alg not in ("none", "HS256", "RS256"):
        return "Unsupported token algorithm: " + alg
    if "crit" in header:
        return "Token 'crit' field is unsupported"
    return None


class TokenRefused(Exception):
    """Why the JWT authenticator refused a request: the ``WWW-Authenticate`` challenge to send."""

    def __init__(self, challenge: str) -> None:
        super().__init__(challenge)
        self.challenge = challenge


class ExecutorTokens:
    """Signs and verifies executor tokens with one agent's secret key (random unless given)."""

    def __init__(self, secret: Optional[bytes] = None, *, realm: str = EXECUTOR_REALM) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self.realm = realm

    def __repr__(self) -> str:
        return f"<ExecutorTokens realm={self.realm!r}>"

    def sign(self, claims: Mapping[str, Any], *, alg: str = "HS256") -> str:
        """A JWT of ``claims``, as ``JWT::create(payload, secret)`` writes it."""
        header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
        signed = f"{header}.{payload}".encode("ascii")
        signature = _b64url(hmac.new(self._secret, signed, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def executor_token(self, framework_id: str, executor_id: str, container_id: str) -> str:
        """The token the agent puts in ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``: claims fid, eid, cid."""
        return self.sign({"fid": framework_id, "eid": executor_id, "cid": container_id})

    def verify(self, token: str) -> Claims:
        """``JWT::parse(token, secret)`` (HS256 only): the claims, or ValueError with Mesos' text."""
        components = token.split(".")
        if len(components) != 3:
            raise ValueError(f"Expected 3 components in token, got {len(components)}")
        try:
            header = _decode_json(components[0])
        except ValueError as exc:
            raise ValueError(f"Failed to decode token header: {exc}") from None
        error = _header_error(header)
        if error is not None:
            raise ValueError(f"Failed to decode token header: {error}")
        if header["alg"] != "HS256":
            raise ValueError(f'Token \'alg\' value "{header["alg"]}" does not match, expected "HS256"')
        try:
            payload = _decode_json(components[1])
        except ValueError as exc:
            raise ValueError(f"Failed to decode token payload: {exc}") from None
        expired = check_exp(payload, time.time())
        if expired is not None:
            raise ValueError(expired)
        try:
            signature = _b64url_decode(components[2])
        except ValueError as exc:
            raise ValueError(f"Failed to base64url-decode token signature: {exc}") from None
        expected = hmac.new(self._secret, f"{components[0]}.{components[1]}".encode("ascii"), hashlib.sha256)
        if not hmac.compare_digest(expected.digest(), signature):
            raise ValueError("Token signature does not match")
        # Claims as the authenticator keeps them: strings as they are, other JSON stringified.
        return {key: value if isinstance(value, str) else json.dumps(value) for key, value in payload.items()}

    def authenticate(self, authorization: Optional[str]) -> Claims:
        """``JWTAuthenticatorProcess::authenticate``: the claims, or :class:`TokenRefused`."""
        realm = f'Bearer realm="{self.realm}"'
        if authorization is None:
            raise TokenRefused(realm)  # no error detail without credentials (RFC 6750, 3.1)
        parts = authorization.split(" ")
        if len(parts) != 2:
            malformed = "Malformed 'Authorization' header"
            raise TokenRefused(f'{realm}, error="invalid_token", error_description="{malformed}"')
        if parts[0] != "Bearer":
            raise TokenRefused(f'{realm}, error="invalid_token", error_description="Scheme \'{parts[0]}\' unsupported"')
        try:
            claims = self.verify(parts[1])
        except ValueError as exc:
            raise TokenRefused(f'{realm}, error="invalid_token", error_description="Invalid JWT: {exc}"') from None
        if not claims:
            raise TokenRefused(f'{realm}, error="invalid_token", error_description="JWT claims missing"')
        return claims


def check_exp(payload: Mapping[str, Any], now: float) -> Optional[str]:
    """``parse_payload``'s ``exp`` check: None when absent or in the future, else Mesos' text."""
    if "exp" not in payload:
        return None
    exp = payload["exp"]
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return "JSON payload 'exp' field is not a number"
    if int(exp) < int(now):
        return f"Token has expired: exp({int(exp)}) < now({int(now)})"
    return None


def claims_error(claims: Mapping[str, str], framework_id: str, executor_id: str, container_id: str) -> Optional[str]:
    """``verifyExecutorClaims`` (``src/slave/http.cpp``): the 403 text, or None when the claims fit."""
    principal = _principal_text(claims)
    if claims.get("fid") != framework_id:
        return (
            f"Authenticated principal '{principal}' does not contain an 'fid' claim with the framework ID "
            f"{framework_id}, which is set in the call"
        )
    if claims.get("eid") != executor_id:
        return (
            f"Authenticated principal '{principal}' does not contain an 'eid' claim with the executor ID "
            f"{executor_id}, which is set in the call"
        )
    if claims.get("cid") != container_id:
        return (
            f"Authenticated principal '{principal}' does not contain a 'cid' claim with the correct active ContainerID"
        )
    return None


def _principal_text(claims: Mapping[str, str]) -> str:
    """``stringify(principal)`` of a claims-only principal: its JSON, ``{"claims":{...}}`` (libprocess
    ``authenticator.cpp``). (unverified) Key order: libprocess' hashmap order is unspecified; sorted here."""
    return json.dumps({"claims": dict(sorted(claims.items()))}, separators=(",", ":"))
