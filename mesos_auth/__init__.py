"""DC/OS service-account authentication for pymesos frameworks.

The credential side (accounts, tokens, the IAM client, ``DCOSAuth``) imports
without pymesos, so a service that only calls DC/OS APIs does not load it (nor
its SIGINT handler).
"""

from mesos_auth._version import __version__
from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundle, resolve_ca_bundle
from mesos_auth.discovery import AccountResolution, resolve_service_account
from mesos_auth.errors import (
    CABundleError,
    ConfigurationError,
    CredentialError,
    IAMError,
    IAMUnavailableError,
    InsecureTransportError,
    InvalidTokenError,
    LoginRejectedError,
    MesosAuthError,
    NoServiceAccountError,
    PrincipalMismatchError,
    SecurityModeError,
    TLSVerificationError,
    TokenError,
    TokenExpiredError,
    TransportError,
)
from mesos_auth.iam import IAMClient
from mesos_auth.login_token import make_login_token
from mesos_auth.requests_auth import DCOSAuth, DCOSSession
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.tokens import TokenInfo, TokenProvider

__all__ = [
    "AccountResolution",
    "CABundle",
    "CABundleError",
    "ConfigurationError",
    "CredentialError",
    "DCOSAuth",
    "DCOSSession",
    "IAMClient",
    "IAMError",
    "IAMUnavailableError",
    "InsecureTransportError",
    "InvalidTokenError",
    "LoginRejectedError",
    "MesosAuthError",
    "NoServiceAccountError",
    "PrincipalMismatchError",
    "RetryPolicy",
    "SecurityMode",
    "SecurityModeError",
    "ServiceAccount",
    "TLSVerificationError",
    "TokenError",
    "TokenExpiredError",
    "TokenInfo",
    "TokenProvider",
    "TransportError",
    "__version__",
    "detect_security_mode",
    "make_login_token",
    "resolve_ca_bundle",
    "resolve_service_account",
]
