"""mesos_auth.Scheduler: pymesos' Scheduler, plus the authentication events.

Subclass it as you would ``pymesos.Scheduler``; every pymesos callback keeps its
meaning. The driver also calls, when present:

- ``authenticated(driver, principal)``: subscribed with a token, as ``principal``;
- ``tokenRefreshed(driver, info)``: a new token was obtained (``info`` is a
  :class:`~mesos_auth.tokens.TokenInfo`: uid and expiry, never the token); called
  on the thread that needed the token;
- ``authenticationFailed(driver, error)``: the IAM or the master refused or
  could not be reached; ``error`` is a typed :class:`MesosAuthError`. The driver
  goes on when the failure may heal, and stops (``driver.failure``) when it cannot.

A plain ``pymesos.Scheduler`` works with the driver too: callbacks it lacks are
simply not called.
"""

from __future__ import annotations

import logging
from typing import Any

from pymesos import Scheduler as PymesosScheduler

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

    def error(self, driver: Any, message: str) -> None:
        """The master or the driver reported an unrecoverable error; the driver has stopped."""
        logger.error("framework error, the driver has stopped: %s", message)
