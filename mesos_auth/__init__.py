"""DC/OS service-account authentication for pymesos frameworks.

The credential side (accounts, tokens, the IAM client, ``DCOSAuth``) imports
without pymesos, so a service that only calls DC/OS APIs does not load it (nor
its SIGINT handler).
"""

from typing import TYPE_CHECKING, Any

from mesos_auth._version import __version__
from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundle, resolve_ca_bundle
from mesos_auth.discovery import AccountResolution, resolve_service_account
from mesos_auth.errors import (
    AuthenticationFailedError,
    CABundleError,
    ConfigurationError,
    CredentialError,
    IAMError,
    IAMProtocolError,
    IAMUnavailableError,
    InsecureTransportError,
    InvalidTokenError,
    LoginRejectedError,
    MasterCallError,
    MasterUnreachableError,
    MesosAuthError,
    NoServiceAccountError,
    NotConnectedError,
    PermissionDeniedError,
    PermissionRefusedError,
    PrincipalMismatchError,
    ResponseTooLargeError,
    SecurityModeError,
    SubscriptionRefusedError,
    TLSVerificationError,
    TokenError,
    TokenExpiredError,
    TransportError,
    TransportTimeoutError,
    UnsafeRedirectError,
    WeakKeyError,
)
from mesos_auth.iam import IAMClient
from mesos_auth.login_token import make_login_token
from mesos_auth.permissions import Permission, required_permissions
from mesos_auth.requests_auth import DCOSAuth, DCOSSession
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.tokens import TokenInfo, TokenProvider

if TYPE_CHECKING:
    from mesos_auth.driver import AuthenticatedSchedulerDriver
    from mesos_auth.factory import create_driver
    from mesos_auth.scheduler import Scheduler

# The driver side imports pymesos, which installs a SIGINT handler when imported
# (and so cannot be imported off the main thread): load it only when asked for.
_LAZY = {
    "AuthenticatedSchedulerDriver": "mesos_auth.driver",
    "Scheduler": "mesos_auth.scheduler",
    "create_driver": "mesos_auth.factory",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mesos_auth' has no attribute {name!r}")


__all__ = [
    "AccountResolution",
    "AuthenticatedSchedulerDriver",
    "AuthenticationFailedError",
    "CABundle",
    "CABundleError",
    "ConfigurationError",
    "CredentialError",
    "DCOSAuth",
    "DCOSSession",
    "IAMClient",
    "IAMError",
    "IAMProtocolError",
    "IAMUnavailableError",
    "InsecureTransportError",
    "InvalidTokenError",
    "LoginRejectedError",
    "MasterCallError",
    "MasterUnreachableError",
    "MesosAuthError",
    "NoServiceAccountError",
    "NotConnectedError",
    "Permission",
    "PermissionDeniedError",
    "PermissionRefusedError",
    "PrincipalMismatchError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Scheduler",
    "SecurityMode",
    "SecurityModeError",
    "ServiceAccount",
    "SubscriptionRefusedError",
    "TLSVerificationError",
    "TokenError",
    "TokenExpiredError",
    "TokenInfo",
    "TokenProvider",
    "TransportError",
    "TransportTimeoutError",
    "UnsafeRedirectError",
    "WeakKeyError",
    "__version__",
    "create_driver",
    "detect_security_mode",
    "make_login_token",
    "required_permissions",
    "resolve_ca_bundle",
    "resolve_service_account",
]
