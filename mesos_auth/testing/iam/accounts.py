"""The fake IAM's state: service accounts, its signing key, the tokens it issued, revocations.

Kept apart from HTTP so that the fake Mesos master can check an
``Authorization: token=...`` in-process (:meth:`AccountStore.verify_token`) and
tests can sign tokens without a login (:meth:`AccountStore.issue`).

An authentication token holds what Bouncer puts in it and nothing else
(``bouncer/app/crypt.py``, ``generate_auth_token``): ``{"uid": ..., "exp": ...}``
with ``exp`` in whole seconds, or ``{"uid": ...}`` alone for the legacy
``exp: 0`` login. Two tokens for one uid and one ``exp`` are therefore the same
bytes, as on a real cluster. Tokens are remembered by their sha256, never kept.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional, Set, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.testing.errors import TokenRejected
from mesos_auth.testing.iam.jws import InvalidToken, bouncer_jwks, claims_of, encode_rs256, load_jws, rs256_valid

__all__ = ["Account", "AccountStore", "PublicKeyInput", "digest", "load_public_key"]

PublicKeyInput = Union[rsa.RSAPublicKey, rsa.RSAPrivateKey, str, bytes]


@dataclass(frozen=True)
class Account:
    """A service account as Bouncer stores it: its public key and description."""

    public_key: rsa.RSAPublicKey
    description: str


def digest(token: str) -> str:
    """How the fake remembers a token without keeping it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def load_public_key(key: PublicKeyInput) -> rsa.RSAPublicKey:
    """An RSA public key from a key object or PEM; the error never quotes the PEM."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, (str, bytes)):
        data = key.encode("utf-8") if isinstance(key, str) else key
        if b"PRIVATE KEY-----" in data:
            raise ValueError("add_account() takes the account's public key; this PEM holds a private key")
        try:
            loaded = serialization.load_pem_public_key(data)
        except ValueError:
            raise ValueError("the public key is not a PEM public key (SubjectPublicKeyInfo or PKCS#1)") from None
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise ValueError(f"the public key is a {type(loaded).__name__}, not RSA (service accounts use RS256)")
        return loaded
    raise TypeError(f"expected an RSA public key or its PEM, not {type(key).__name__}")


class AccountStore:
    """Accounts, the IAM's signing key, issued and revoked tokens; thread-safe."""

    def __init__(self, key_size: int) -> None:
        self._lock = threading.Lock()
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        self.jwks = bouncer_jwks(self._signing_key.public_key())
        self.kid: str = self.jwks["keys"][0]["kid"]
        self._accounts: Dict[str, Account] = {}
        # Issued authentication tokens, sha256 -> uid, so that revoke_uid() can find them
        # (kept across reset(): a client may still hold a token from an earlier test).
        self._issued: Dict[str, str] = {}
        self._revoked: Set[str] = set()

    # -- accounts ------------------------------------------------------------------------------

    def add(self, uid: str, public_key: PublicKeyInput, description: str) -> None:
        key = load_public_key(public_key)
        with self._lock:
            self._accounts[uid] = Account(key, description)

    def remove(self, uid: str) -> None:
        with self._lock:
            self._accounts.pop(uid, None)

    def get(self, uid: str) -> Optional[Account]:
        with self._lock:
            return self._accounts.get(uid)

    @property
    def uids(self) -> FrozenSet[str]:
        with self._lock:
            return frozenset(self._accounts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._accounts)

    # -- authentication tokens -------------------------------------------------------------------

    def issue(self, uid: str, exp: Optional[int]) -> str:
        """Sign ``{"uid": uid, "exp": exp}`` (``exp`` None: no ``exp`` claim), as Bouncer does.

        Issuing a token lifts its revocation: tokens issued after a revocation are
        good, and one issued in the same second as a revoked one is the same bytes.
        """
        claims: Dict[str, object] = {"uid": uid}
        if exp is not None:
            claims["exp"] = exp
        token = encode_rs256(self._signing_key, claims)
        with self._lock:
            self._issued[digest(token)] = uid
            self._revoked.discard(digest(token))
        return token

    def verify_token(self, token: str, now: float) -> str:
        """Check an authentication token at time ``now``; return its uid or raise TokenRejected.

        Reasons, in this order: ``"malformed"``, ``"bad-signature"`` (not signed
        by this IAM), ``"revoked"``, ``"unknown-account"``, ``"expired"``. A
        token without ``exp`` (the legacy ``exp: 0`` login) never expires, as
        PyJWT-based verifiers and Bouncer itself (``crypt.verify_jwt``) see it.
        """
        if not isinstance(token, str):
            raise TokenRejected("malformed", f"expected a str, not {type(token).__name__}")
        try:
            header, payload, signing_input, signature = load_jws(token)
            claims = claims_of(payload)
        except InvalidToken as exc:
            raise TokenRejected("malformed", f"not a JWT: {exc}") from None
        if header.get("alg") != "RS256":
            raise TokenRejected("malformed", "the header does not name RS256")
        uid: Any = claims.get("uid")
        exp: Any = claims.get("exp")
        has_exp = "exp" in claims
        if not isinstance(uid, str) or (has_exp and not _is_number(exp)):
            raise TokenRejected("malformed", "the claims lack a string uid, or exp is not a number")
        if header.get("kid", self.kid) != self.kid or not rs256_valid(
            self._signing_key.public_key(), signing_input, signature
        ):
            raise TokenRejected("bad-signature", "not signed by this fake IAM's key")
        with self._lock:
            revoked = digest(token) in self._revoked
            known = uid in self._accounts
        if revoked:
            raise TokenRejected("revoked", f"a token of {uid!r} revoked by the test")
        if not known:
            raise TokenRejected("unknown-account", f"the account {uid!r} does not exist (any more)")
        if has_exp and now >= exp:
            raise TokenRejected("expired", f"a token of {uid!r} expired {now - exp:.0f} s ago")
        return uid

    def revoke_uid(self, uid: Optional[str]) -> None:
        """Revoke every token issued so far to ``uid`` (None: to anyone)."""
        with self._lock:
            self._revoked.update(d for d, owner in self._issued.items() if uid is None or owner == uid)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._revoked.add(digest(token))

    def clear_revocations(self) -> None:
        with self._lock:
            self._revoked.clear()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
