"""resolve_service_account: find the framework's service account.

An ordered list of small providers, first hit wins (google-auth's ``default()``):

1. what the caller passed: a :class:`ServiceAccount`, a secret as a mapping, the
   path of a secret file, or the pieces (uid, private key file, login endpoint).
   A string that is neither JSON nor a plausible path (a pasted PEM key, JSON
   quoted twice) is refused before the file system is asked, and described in
   the error, never quoted;
2. ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``: inline JSON, ``file://`` URL or path.

A half-configured source is an error, not a reason to try the next one (a uid
without a key is a mistake to report, botocore's rule). When nothing is found the
result says so and lists where it looked; :meth:`AccountResolution.require`
turns that into :class:`NoServiceAccountError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple, Union

from mesos_auth.account import CREDENTIAL_ENV, Passphrase, ServiceAccount, looks_like_json, refuse_unless_path
from mesos_auth.errors import ConfigurationError, NoServiceAccountError

#: How errors name a secret given as ``service_account=`` (the doctor shows it as ``--secret``).
ARGUMENT_SOURCE = "the service_account argument"

AccountLike = Union[ServiceAccount, Mapping[str, Any], str, "os.PathLike[str]", None]


@dataclass(frozen=True)
class AccountResolution:
    """The outcome of a search: the account (or None), where it came from, where we looked."""

    account: Optional[ServiceAccount]
    source: Optional[str]
    tried: Tuple[str, ...]

    def __bool__(self) -> bool:
        return self.account is not None

    def require(self, reason: str = "a service account is required") -> ServiceAccount:
        """The account, or :class:`NoServiceAccountError` listing every place tried."""
        if self.account is None:
            raise NoServiceAccountError(self.tried, reason=reason)
        return self.account


def _from_argument(value: AccountLike, passphrase: Passphrase) -> ServiceAccount:
    if isinstance(value, ServiceAccount):
        return value
    if isinstance(value, Mapping):
        return ServiceAccount.from_info(value, passphrase=passphrase, source=ARGUMENT_SOURCE)
    if isinstance(value, str) and looks_like_json(value):
        return ServiceAccount.from_json(value, passphrase=passphrase, source=ARGUMENT_SOURCE)
    if isinstance(value, (str, os.PathLike)):
        # Not JSON, so a path: unless it cannot be one (a pasted key), which is described, never quoted.
        refuse_unless_path(os.fspath(value), ARGUMENT_SOURCE)
        return ServiceAccount.from_file(value, passphrase=passphrase)
    raise ConfigurationError(
        f"service_account must be a ServiceAccount, a secret (dict or JSON) or a secret file path, "
        f"not {type(value).__name__}"
    )


def _from_pieces(
    uid: Optional[str],
    private_key_file: Optional[Union[str, os.PathLike[str]]],
    login_endpoint: Optional[str],
    passphrase: Passphrase,
) -> Optional[ServiceAccount]:
    pieces = {"uid": uid, "private_key_file": private_key_file, "login_endpoint": login_endpoint}
    given = [name for name, value in pieces.items() if value]
    if not given:
        return None
    missing = [name for name, value in pieces.items() if not value]
    if missing:
        raise ConfigurationError(
            f"service account given in pieces is incomplete: {', '.join(given)} given, "
            f"{', '.join(missing)} missing. Give all three, or a whole secret"
        )
    return ServiceAccount.from_key_file(str(uid), private_key_file or "", str(login_endpoint), passphrase=passphrase)


def resolve_service_account(
    service_account: AccountLike = None,
    *,
    uid: Optional[str] = None,
    private_key_file: Optional[Union[str, os.PathLike[str]]] = None,
    login_endpoint: Optional[str] = None,
    passphrase: Passphrase = None,
    environ: Optional[Mapping[str, str]] = None,
) -> AccountResolution:
    """Find the service account: arguments first, then the environment."""
    if service_account is not None and (uid or private_key_file or login_endpoint):
        raise ConfigurationError("give either service_account or uid/private_key_file/login_endpoint, not both")
    if service_account is not None:
        account = _from_argument(service_account, passphrase)
        return AccountResolution(account, account.source, ("arguments",))
    tried = ["arguments (none given)"]
    from_pieces = _from_pieces(uid, private_key_file, login_endpoint, passphrase)
    if from_pieces is not None:
        return AccountResolution(from_pieces, from_pieces.source, ("arguments",))
    env = os.environ if environ is None else environ
    if env.get(CREDENTIAL_ENV, "").strip():
        account = ServiceAccount.from_env(env, passphrase=passphrase)
        return AccountResolution(account, account.source, (*tried, f"${CREDENTIAL_ENV}"))
    tried.append(f"${CREDENTIAL_ENV} (not set)")
    return AccountResolution(None, None, tuple(tried))
