"""mesos_auth.Scheduler: pymesos' Scheduler, plus the authentication events.

Subclass it as you would ``pymesos.Scheduler``; every pymesos callback keeps its
meaning. The driver also calls, when present (a plain ``pymesos.Scheduler`` works
too: callbacks it lacks are simply not called):

- ``authenticated(driver, principal)``: after each SUBSCRIBED obtained with a
  token (the first one and every re-subscription), right after ``registered`` /
  ``reregistered``; ``principal`` is the service account's uid. Not called
  without a service account (disabled mode, or permissive without one).
- ``tokenRefreshed(driver, info)``: after every login the driver's token provider
  makes while the driver runs, **the first one included** (before the first
  SUBSCRIBE), then each refresh ahead of expiry and each login after a 401.
  ``info`` is a :class:`~mesos_auth.tokens.TokenInfo`: ``uid``, ``expires_at`` and
  ``obtained_at`` in epoch seconds (``time.time()``'s clock), ``lifetime`` in
  seconds; never the token. Called on the thread that needed the token: the
  stream thread, or the thread making a call.
- ``authenticationFailed(driver, error)``: once for every authentication failure,
  with the typed error: the IAM refused the login (:class:`LoginRejectedError`:
  unknown account, wrong key, expired login token), could not be reached or kept
  failing (:class:`IAMUnavailableError`, once per failed login, retries included),
  answered something that is not its login API (:class:`IAMProtocolError`) or an
  unusable token (:class:`InvalidTokenError`, :class:`TokenExpiredError`); the
  login's TLS or redirect was refused (:class:`TLSVerificationError`,
  :class:`UnsafeRedirectError`, ...); the master answered 401 to fresh credentials
  (:class:`AuthenticationFailedError`); the principal or a permission was refused
  at SUBSCRIBE (:class:`PrincipalMismatchError`, :class:`PermissionRefusedError`).
  Failures that may heal (the IAM down) are retried and the driver goes on; those
  that cannot (a refused login) stop it, and ``error()`` follows. Network failures
  towards the master are not authentication failures: they are retried within the
  driver's ``timeout`` and logged.
- ``permissionDenied(driver, error)``: the master refused something for lack of a
  DC/OS permission; ``error`` is a :class:`~mesos_auth.errors.PermissionDeniedError`
  naming the permission and the command that grants it (see the method).
- ``error(driver, message)`` (pymesos'): the driver has stopped for good.
  ``message`` is the master's ``ERROR`` event text, or the message of the driver's
  own fatal error (a refused login, the ``timeout`` run out, a certificate the CA
  bundle does not trust, plain http sent to a TLS port, ...); that error is also
  ``driver.failure`` and is raised by ``join()`` and ``run()``. For a fatal
  authentication failure ``authenticationFailed`` comes first, then ``error``.

Every callback runs on the driver's stream thread unless said otherwise; an
exception raised in one is logged and the driver goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from pymesos import Scheduler as PymesosScheduler

from mesos_auth.errors import PermissionDeniedError
from mesos_auth.tokens import TokenInfo

logger = logging.getLogger(__name__)


class Scheduler(PymesosScheduler):  # type: ignore[misc]
    """Base class for framework schedulers that authenticate with mesos-auth."""

    def authenticated(self, driver: Any, principal: str) -> None:
        """Subscribed with a token, as ``principal`` (the account's uid).

        Called after every SUBSCRIBED (the first and each re-subscription), right
        after ``registered`` or ``reregistered``; never without a service account.
        """

    def tokenRefreshed(self, driver: Any, info: TokenInfo) -> None:
        """A login succeeded: the first one (before the first SUBSCRIBE) and every later one.

        ``info.expires_at`` and ``info.obtained_at`` are epoch seconds (``time.time()``),
        ``info.lifetime`` seconds, ``info.uid`` the account; the token itself is never
        given. Called on the thread that needed the token (the stream thread, or the
        thread making a call).
        """

    def authenticationFailed(self, driver: Any, error: Exception) -> None:
        """An authentication failure, once per failure, with its typed :class:`MesosAuthError`.

        The IAM refused the login (``LoginRejectedError``: unknown account, wrong key),
        could not be reached (``IAMUnavailableError``, once per failed login), answered
        something that is not its login API (``IAMProtocolError``) or a bad token
        (``InvalidTokenError``, ``TokenExpiredError``); the login's TLS or redirect was
        refused; the master answered 401 to fresh credentials
        (``AuthenticationFailedError``); SUBSCRIBE was refused for the principal or a
        permission (``PrincipalMismatchError``, ``PermissionRefusedError``). When the
        failure cannot heal the driver has stopped (``driver.failure`` is ``error``) and
        ``error()`` is called next; otherwise the driver goes on retrying. This default
        logs a WARNING.
        """
        logger.warning("authentication failed: %s", error)

    def permissionDenied(self, driver: Any, error: PermissionDeniedError) -> None:
        """The master refused something because the service account lacks a DC/OS permission.

        Called on the driver's stream thread, when:

        - a task or task group was refused (``TASK_ERROR`` with reason
          ``REASON_TASK_UNAUTHORIZED`` or ``REASON_TASK_GROUP_UNAUTHORIZED``);
          ``statusUpdate`` is called first with the update exactly as Mesos sent
          it. A refusal by the master carries no uuid and is not acknowledged;
          one by the agent is, like any update;
        - an operation with an id (RESERVE, UNRESERVE, CREATE, DESTROY, ...) was
          dropped as unauthorized (``OPERATION_ERROR``, Mesos 1.7 / DC/OS 1.12 and
          later; earlier releases, and operations without an id, say nothing);
          ``operationStatusUpdate`` is called first;
        - SUBSCRIBE was refused (``error`` is a :class:`PermissionRefusedError`):
          the driver has stopped; ``error()`` is called next, and ``join()`` and
          ``run()`` raise it.

        ``error.permission`` is the missing :class:`~mesos_auth.permissions.Permission`
        (None when the master's text does not say), ``error.grant_command`` the
        ``dcos security org users grant ...`` command for the account. This default
        logs a WARNING with both; an exception raised here is logged and the
        driver goes on.
        """
        logger.warning("permission denied: %s", error)

    def error(self, driver: Any, message: str) -> None:
        """The driver has stopped for good; ``message`` says why.

        Either the master's ``ERROR`` event text, or the message of the driver's own
        fatal error (also ``driver.failure``, raised by ``join()`` and ``run()``): a
        refused login, the driver's ``timeout`` run out (``MasterUnreachableError``, or
        ``IAMUnavailableError`` when logging in is what failed), an untrusted
        certificate, plain http sent to a TLS port, a refused permission. This default
        logs an ERROR.
        """
        logger.error("framework error, the driver has stopped: %s", message)
