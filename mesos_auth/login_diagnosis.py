"""What a client can find out by itself about a login the IAM refused.

The IAM never says why it refused a service login: every credential problem
(unknown uid, a key that is not the registered one, a login token whose ``exp``
has passed, a ``uid`` claim that differs) gets the same ``401``
``ERR_INVALID_CREDENTIALS``, ``Invalid credentials.`` (dcos/bouncer,
``bouncer/app/auth.py``, ``Login._raise_local_nonauth_error``; ``docs/protocol.md``).
So :class:`~mesos_auth.errors.LoginRejectedError` does not guess from the IAM's
words; its hint is built from facts the client holds:

- the clock skew, from the ``Date`` header of the IAM's answer. The IAM checks a
  login token's ``exp`` with PyJWT 1.7.1 and no leeway (``_login_service``;
  ``requirements.txt`` pins PyJWT), and nothing else about time: ``iat`` is only
  checked to be a number (PyJWT 1.7.1 ``_validate_iat``), and a token living more
  than ten minutes is only logged. So the one way the clock makes a login fail is
  an IAM whose clock is ahead of ours by more than the login token's lifetime;
- the SHA-256 fingerprint of the public key (its DER SubjectPublicKeyInfo), for an
  admin to compare with the public key registered for the account (the IAM returns
  it as ``public_key`` of ``GET /acs/api/v1/users/<uid>``: bouncer
  ``bouncer/app/models/user.py``, ``User.jsonobj``). A fingerprint of a public key
  is public; the private key is never shown.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
from typing import Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: The path of the IAM's login; a 404 means the endpoint is not it.
LOGIN_PATH = "/acs/api/v1/auth/login"
#: A skew this small (seconds) is not worth a word: the ``Date`` header counts whole seconds.
SKEW_NOTICE = 2.0
#: Seconds of uncertainty when comparing the skew with a login token's lifetime: the
#: ``Date`` header and our ``exp`` are both whole seconds, and the attempt itself took time.
SKEW_SLACK = 2.0
#: How an admin computes the same fingerprint from the registered public key (a PEM file).
FINGERPRINT_COMMAND = "openssl pkey -pubin -in <registered-key.pem> -outform DER | openssl dgst -sha256"
#: Where the registered public key can be seen.
SHOW_ACCOUNT_COMMAND = "dcos security org service-accounts show {uid}"


def key_fingerprint(key: rsa.RSAPrivateKey) -> str:
    """SHA-256 of the public half of ``key`` as DER SubjectPublicKeyInfo, in lowercase hex.

    DER, not PEM: the same key written with other line breaks or headers has the
    same fingerprint. ``openssl pkey -pubin -outform DER | openssl dgst -sha256``
    prints the same digest for a PEM public key (:data:`FINGERPRINT_COMMAND`).
    """
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def clock_skew(date: Optional[str], sent_at: float, received_at: float) -> Optional[float]:
    """The server's time minus ours, in seconds, from an HTTP ``Date`` header.

    ``sent_at`` and ``received_at`` are our clock around the exchange; the server
    stamped its answer in between. The ``Date`` header counts whole seconds, rounded
    down, so half a second is added to it. None when the header is missing, cannot
    be read, or gives no finite time (a server's text is never trusted further).
    """
    if not date or len(date) > 100:
        return None
    try:
        stamped = email.utils.parsedate_to_datetime(date.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    skew = stamped + 0.5 - (sent_at + received_at) / 2
    return skew if math.isfinite(skew) else None


def expired_by_clock(skew: Optional[float], login_token_lifetime: float) -> bool:
    """Whether the IAM's clock is so far ahead that it saw our login token as expired."""
    return skew is not None and skew >= login_token_lifetime - SKEW_SLACK


def describe_skew(skew: float) -> str:
    """``the IAM's clock is 12 s ahead of this machine's``, or ``behind``."""
    direction = "ahead of" if skew > 0 else "behind"
    return f"the IAM's clock is {abs(skew):.0f} s {direction} this machine's (by the Date header of its answer)"


def rejection_hint(
    *,
    status: int,
    uid: str,
    clock_skew: Optional[float],
    key_fingerprint: str,
    login_token_lifetime: float,
) -> str:
    """What to check after the IAM refused a login with ``status``, from facts we hold."""
    if status == 404:
        return f"check the login_endpoint in the secret: it should end with {LOGIN_PATH}"
    if status in (400, 415):
        return (
            f"the IAM could not read the login request (HTTP {status}); mesos-auth sends "
            '{"uid": ..., "token": ...} as JSON, so check that login_endpoint is the IAM\'s '
            f"(it ends with {LOGIN_PATH}) and that no proxy on the way changes the request"
        )
    if status != 401:
        return (
            f"HTTP {status} is not an answer of the IAM's login: check that login_endpoint is the IAM's "
            f"(it ends with {LOGIN_PATH}) and what stands between (a proxy, a load balancer)"
        )
    return _credentials_hint(uid, clock_skew, key_fingerprint, login_token_lifetime)


def _credentials_hint(uid: str, skew: Optional[float], fingerprint: str, lifetime: float) -> str:
    account = f"check that the service account {uid!r} exists on this cluster and that its registered public key"
    show = SHOW_ACCOUNT_COMMAND.format(uid=uid)
    if fingerprint:
        account += (
            f" is this key's (SHA-256 {fingerprint} of the public key's DER; {show} shows the registered key, "
            f"and {FINGERPRINT_COMMAND} prints its fingerprint)"
        )
    else:
        account += f" belongs to this private key ({show} shows it)"
    if expired_by_clock(skew, lifetime) and skew is not None:
        return (
            f"likely cause: {describe_skew(skew)}, more than the {lifetime:.0f} s a login token lives, so the IAM "
            f"took it for expired: synchronise the clocks (NTP). Otherwise {account}"
        )
    return f"the IAM does not say which check failed: {account}; {_clock_note(skew, lifetime)}"


def _clock_note(skew: Optional[float], lifetime: float) -> str:
    """What the clock says when it is not the likely cause."""
    if skew is None:
        return "the IAM's answer had no usable Date header, so the clocks could not be compared"
    if abs(skew) < SKEW_NOTICE:
        return "the clocks agree (by the Date header of the IAM's answer), so the login token had not expired"
    if skew > 0:
        return (
            f"{describe_skew(skew)}: not enough to expire a login token that lives {lifetime:.0f} s, "
            "but synchronise the clocks (NTP)"
        )
    return (
        f"{describe_skew(skew)}: the IAM does not refuse a login token for that (it only checks that exp has not "
        "passed), but synchronise the clocks (NTP)"
    )
