"""JWS (RS256) as the real IAM sees it: PyJWT 1.7.1's decode, its encode, Bouncer's JWKS.

Bouncer (dcos/bouncer, ``requirements.txt``: ``PyJWT==1.7.1``) checks a service
login token with ``jwt.decode(token, key=<account's public key>, algorithms='RS256')``
(``bouncer/app/auth.py``, ``Login._login_service``) and catches only
``jwt.InvalidTokenError`` and ``ValueError``. :func:`decode_login_token` does what
that call does, step by step, so the fake refuses what Bouncer refuses and lets
through what it lets through: lenient base64 (padding optional, foreign characters
skipped, ``+``/``/`` read like ``-``/``_``), ``exp``/``nbf``/``iat`` read with
``int()`` (``"123"`` is a fine ``exp``), ``exp == now`` still valid, any ``aud``
refused, no ``exp`` at all accepted. What would make PyJWT raise anything else
(an ``exp`` of ``null``, a header without ``alg``) is a :class:`ServerError`:
Bouncer answers 500.

Kept free of PyJWT itself so that the fake's policy is written down here, not
inherited from whichever PyJWT the test environment has.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any, Dict, Mapping, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "InvalidToken",
    "ServerError",
    "b64url_encode",
    "bouncer_jwks",
    "claims_of",
    "decode_login_token",
    "encode_rs256",
    "load_jws",
    "rs256_valid",
]


class InvalidToken(Exception):
    """What PyJWT raises as ``jwt.InvalidTokenError``: Bouncer answers 401.

    ``reason`` is one word for the fake's records (``"malformed"``,
    ``"bad-algorithm"``, ``"bad-signature"``, ``"not-yet-valid"``, ``"expired"``,
    ``"audience"``); the message says what is wrong, never what the token holds.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ServerError(Exception):
    """An exception Bouncer does not catch (``TypeError``, ``OverflowError``, ...): a 500.

    The message names the step that failed, never the value.
    """


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: bytes) -> bytes:
    """PyJWT 1.7.1 ``jwt.utils.base64url_decode``: pad, then the standard library's lenient decoder."""
    remainder = len(segment) % 4
    if remainder > 0:
        segment += b"=" * (4 - remainder)
    return base64.urlsafe_b64decode(segment)


def _json_object(data: bytes, part: str) -> Dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too, as PyJWT relies on
        raise InvalidToken("malformed", f"its {part} is not JSON") from None
    if not isinstance(value, Mapping):
        raise InvalidToken("malformed", f"its {part} is not a JSON object")
    return dict(value)


def load_jws(token: str) -> Tuple[Dict[str, Any], bytes, bytes, bytes]:
    """Header, payload, signing input and signature, split as PyJWT 1.7.1's ``PyJWS._load`` does.

    The last dot ends the signing input, the first dot ends the header: ``a.b.c.d``
    has the payload segment ``b.c`` (which then fails to decode). The payload is
    read as JSON only after the signature (:func:`claims_of`), as PyJWT does.
    Raises :class:`InvalidToken`.
    """
    try:
        data = token.encode("utf-8")
    except UnicodeEncodeError:  # a ValueError, which Bouncer catches as it does InvalidTokenError
        raise InvalidToken("malformed", "it is not UTF-8 encodable") from None
    try:
        signing_input, crypto_segment = data.rsplit(b".", 1)
        header_segment, payload_segment = signing_input.split(b".", 1)
    except ValueError:
        raise InvalidToken("malformed", "it does not have enough dot-separated segments") from None
    try:
        header_data = _b64url_decode(header_segment)
    except (TypeError, binascii.Error):
        raise InvalidToken("malformed", "its header is not base64url") from None
    header = _json_object(header_data, "header")
    try:
        payload = _b64url_decode(payload_segment)
    except (TypeError, binascii.Error):
        raise InvalidToken("malformed", "its payload is not base64url") from None
    try:
        signature = _b64url_decode(crypto_segment)
    except (TypeError, binascii.Error):
        raise InvalidToken("malformed", "its signature is not base64url") from None
    return header, payload, signing_input, signature


def claims_of(payload: bytes) -> Dict[str, Any]:
    """The payload's JSON object (PyJWT: "Invalid payload string"); raises :class:`InvalidToken`."""
    return _json_object(payload, "payload")


def rs256_valid(key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    """``int(payload[name])`` as PyJWT does it: ValueError refuses, anything else is Bouncer's 500."""
    try:
        return int(claims[name])
    except ValueError:
        raise InvalidToken("malformed", f"its {name} claim is not an integer") from None
    except (TypeError, OverflowError):
        raise ServerError(f"PyJWT's int() of the {name} claim raised") from None


def decode_login_token(token: str, key: rsa.RSAPublicKey, now: float) -> Dict[str, Any]:
    """The claims of ``token`` if ``jwt.decode(token, key, algorithms='RS256')`` (PyJWT 1.7.1) returns them.

    ``now`` is the verifier's time; PyJWT compares with whole seconds
    (``timegm(datetime.utcnow().utctimetuple())``). Checks in PyJWT's order:
    segments and JSON, ``alg``, signature, ``iat`` (only that it is an integer),
    ``nbf``, ``exp``, ``aud``. Raises :class:`InvalidToken` (401) or
    :class:`ServerError` (500).
    """
    header, payload, signing_input, signature = load_jws(token)
    alg = header.get("alg")
    # PyJWT 1.7.1 ``PyJWS._verify_signature``: ``alg not in algorithms`` with the str
    # 'RS256', so a non-str alg raises TypeError, a substring of 'RS256' passes here
    # and then is "not supported".
    if not isinstance(alg, str):
        raise ServerError("PyJWT's `alg not in 'RS256'` raised: the header's alg is not a string")
    if alg not in "RS256":
        raise InvalidToken("bad-algorithm", "its alg is not allowed (only RS256 is)")
    if alg != "RS256":
        raise InvalidToken("bad-algorithm", "its alg is not supported")
    if not rs256_valid(key, signing_input, signature):
        raise InvalidToken("bad-signature", "its signature does not verify with the account's public key")
    claims = claims_of(payload)
    whole_now = math.floor(now)
    if "iat" in claims:
        _int_claim(claims, "iat")
    if "nbf" in claims and _int_claim(claims, "nbf") > whole_now:
        raise InvalidToken("not-yet-valid", "it is not valid yet (nbf)")
    if "exp" in claims and _int_claim(claims, "exp") < whole_now:
        raise InvalidToken("expired", "it has expired (exp)")
    if "aud" in claims:
        raise InvalidToken("audience", "it has an aud claim, and Bouncer expects none")
    return claims


def encode_rs256(key: rsa.RSAPrivateKey, claims: Mapping[str, Any]) -> str:
    """A JWT as PyJWT 1.7.1's ``jwt.encode(claims, key, algorithm='RS256')`` writes it.

    Header ``{"typ":"JWT","alg":"RS256"}`` (no ``kid``), compact JSON, claims in
    the given order: Bouncer's auth tokens (``crypt.generate_jwt``) look exactly so.
    """
    header = {"typ": "JWT", "alg": "RS256"}
    segments = [
        b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8")),
        b64url_encode(json.dumps(dict(claims), separators=(",", ":")).encode("utf-8")),
    ]
    signing_input = ".".join(segments).encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return ".".join([*segments, b64url_encode(signature)])


def _int_to_b64url(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def bouncer_jwks(key: rsa.RSAPublicKey) -> Dict[str, Any]:
    """The JWKS of ``GET /acs/api/v1/auth/jwks``, as ``bouncer/app/crypt.py`` ``gen_jwks`` builds it.

    The ``kid`` is the sha256 hex digest of ``"<e><n>RSA"`` (decimal numbers).
    """
    numbers = key.public_numbers()
    kid = hashlib.sha256(f"{numbers.e}{numbers.n}RSA".encode()).hexdigest()
    jwk = {
        "kid": kid,
        "kty": "RSA",
        "n": _int_to_b64url(numbers.n),
        "e": _int_to_b64url(numbers.e),
        "alg": "RS256",
        "use": "sig",
    }
    return {"keys": [jwk]}
