"""mesos_auth.Scheduler: pymesos' Scheduler, plus the authentication events.

Subclass it as you would ``pymesos.Scheduler``; every pymesos callback keeps its
meaning. The driver also calls, when present:

- ``authenticated(driver, principal)``: subscribed with a token, as ``principal``;
- ``tokenRefreshed(driver, info)``: a new token was obtained (``info`` is a
  :class:`~mesos_auth.tokens.TokenInfo`: uid and expiry, never the token); called
  on the thread that needed the token;
- ``authenticationFailed(driver, error)``: the IAM or the master refused or
  could not be reached; ``error`` is a typed :class:`MesosAuthError`. The driver
  goes on when the failure may heal, and stops (``driver.failure``) when it cannot;
- ``permissionDenied(driver, error)``: the master refused something for lack of a
  DC/OS permission; ``error`` is a :class:`~mesos_auth.errors.PermissionDeniedError`
  naming the permission and the command that grants it (see the method).

A plain ``pymesos.Scheduler`` works with the driver too: callbacks it lacks are
simply not called.
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
        """Subscribed to the master, authenticated as ``principal``."""

    def tokenRefreshed(self, driver: Any, info: TokenInfo) -> None:
        """A new authentication token was obtained; it expires at ``info.expires_at``."""

    def authenticationFailed(self, driver: Any, error: Exception) -> None:
        """The IAM or the master refused us, or could not be reached."""
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
        """The master or the driver reported an unrecoverable error; the driver has stopped."""
        logger.error("framework error, the driver has stopped: %s", message)
