"""DC/OS service-account authentication for pymesos frameworks.

Importing the package imports nothing else: each name is loaded from its module
when first used. So ``import mesos_auth`` is cheap (the ``mesos-auth`` command
starts fast, ``mesos-auth run`` adds little), the credential side (accounts,
tokens, the IAM client, ``DCOSAuth``) loads without pymesos, and pymesos (its
SIGINT handler, which makes it unimportable off the main thread, and its log
handler) is imported only with the driver side.
"""

from typing import TYPE_CHECKING, Any, List

from mesos_auth._version import __version__

if TYPE_CHECKING:
    from mesos_auth.account import ServiceAccount
    from mesos_auth.ca import CABundle, resolve_ca_bundle
    from mesos_auth.discovery import AccountResolution, resolve_service_account
    from mesos_auth.driver import AuthenticatedSchedulerDriver
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
        PlainHttpToTLSError,
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
    from mesos_auth.executor import AuthenticatedExecutorDriver
    from mesos_auth.executor_errors import (
        AgentNotConnectedError,
        AgentRefusedError,
        ExecutorAuthenticationError,
        ExecutorForbiddenError,
    )
    from mesos_auth.factory import create_driver, create_executor_driver
    from mesos_auth.iam import IAMClient
    from mesos_auth.install_hook import install, uninstall
    from mesos_auth.login_token import make_login_token
    from mesos_auth.operator import AuthenticatedOperatorMasterDriver
    from mesos_auth.permissions import Permission, required_permissions
    from mesos_auth.requests_auth import DCOSAuth, DCOSSession
    from mesos_auth.retry import RetryPolicy
    from mesos_auth.scheduler import Scheduler
    from mesos_auth.security_mode import SecurityMode, detect_security_mode, resolve_security_mode
    from mesos_auth.tokens import TokenInfo, TokenProvider

#: Where each public name lives, imported on first use.
_LAZY = {
    "ServiceAccount": "mesos_auth.account",
    "CABundle": "mesos_auth.ca",
    "resolve_ca_bundle": "mesos_auth.ca",
    "AccountResolution": "mesos_auth.discovery",
    "resolve_service_account": "mesos_auth.discovery",
    "AuthenticatedSchedulerDriver": "mesos_auth.driver",
    "AuthenticationFailedError": "mesos_auth.errors",
    "CABundleError": "mesos_auth.errors",
    "ConfigurationError": "mesos_auth.errors",
    "CredentialError": "mesos_auth.errors",
    "IAMError": "mesos_auth.errors",
    "IAMProtocolError": "mesos_auth.errors",
    "IAMUnavailableError": "mesos_auth.errors",
    "InsecureTransportError": "mesos_auth.errors",
    "PlainHttpToTLSError": "mesos_auth.errors",
    "InvalidTokenError": "mesos_auth.errors",
    "LoginRejectedError": "mesos_auth.errors",
    "MasterCallError": "mesos_auth.errors",
    "MasterUnreachableError": "mesos_auth.errors",
    "MesosAuthError": "mesos_auth.errors",
    "NoServiceAccountError": "mesos_auth.errors",
    "NotConnectedError": "mesos_auth.errors",
    "PermissionDeniedError": "mesos_auth.errors",
    "PermissionRefusedError": "mesos_auth.errors",
    "PrincipalMismatchError": "mesos_auth.errors",
    "ResponseTooLargeError": "mesos_auth.errors",
    "SecurityModeError": "mesos_auth.errors",
    "SubscriptionRefusedError": "mesos_auth.errors",
    "TLSVerificationError": "mesos_auth.errors",
    "TokenError": "mesos_auth.errors",
    "TokenExpiredError": "mesos_auth.errors",
    "TransportError": "mesos_auth.errors",
    "TransportTimeoutError": "mesos_auth.errors",
    "UnsafeRedirectError": "mesos_auth.errors",
    "WeakKeyError": "mesos_auth.errors",
    "AuthenticatedExecutorDriver": "mesos_auth.executor",
    "AgentNotConnectedError": "mesos_auth.executor_errors",
    "AgentRefusedError": "mesos_auth.executor_errors",
    "ExecutorAuthenticationError": "mesos_auth.executor_errors",
    "ExecutorForbiddenError": "mesos_auth.executor_errors",
    "create_driver": "mesos_auth.factory",
    "create_executor_driver": "mesos_auth.factory",
    "AuthenticatedOperatorMasterDriver": "mesos_auth.operator",
    "IAMClient": "mesos_auth.iam",
    "install": "mesos_auth.install_hook",
    "uninstall": "mesos_auth.install_hook",
    "make_login_token": "mesos_auth.login_token",
    "Permission": "mesos_auth.permissions",
    "required_permissions": "mesos_auth.permissions",
    "DCOSAuth": "mesos_auth.requests_auth",
    "DCOSSession": "mesos_auth.requests_auth",
    "RetryPolicy": "mesos_auth.retry",
    "Scheduler": "mesos_auth.scheduler",
    "SecurityMode": "mesos_auth.security_mode",
    "detect_security_mode": "mesos_auth.security_mode",
    "resolve_security_mode": "mesos_auth.security_mode",
    "TokenInfo": "mesos_auth.tokens",
    "TokenProvider": "mesos_auth.tokens",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    # A submodule used as an attribute (``mesos_auth.iam``) without its own import,
    # or loaded before this package (mesos-auth run's bootstrap loads install_hook by path).
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'mesos_auth' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AccountResolution",
    "AgentNotConnectedError",
    "AgentRefusedError",
    "AuthenticatedExecutorDriver",
    "AuthenticatedOperatorMasterDriver",
    "AuthenticatedSchedulerDriver",
    "AuthenticationFailedError",
    "CABundle",
    "CABundleError",
    "ConfigurationError",
    "CredentialError",
    "DCOSAuth",
    "DCOSSession",
    "ExecutorAuthenticationError",
    "ExecutorForbiddenError",
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
    "PlainHttpToTLSError",
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
    "create_executor_driver",
    "detect_security_mode",
    "install",
    "make_login_token",
    "required_permissions",
    "resolve_ca_bundle",
    "resolve_security_mode",
    "resolve_service_account",
    "uninstall",
]
