#!/usr/bin/env python3
"""hello_subclass: the hello framework as a mesos_auth.Scheduler subclass.

Same job as hello_factory.py (launch N ``echo hello`` tasks, exit 0 when they are
done), with the same environment, but the scheduler subclasses
``mesos_auth.Scheduler`` to react to authentication events, and the driver is an
``AuthenticatedSchedulerDriver`` built directly:

- ``authenticated``: subscribed to the master with a token, as a principal;
- ``tokenRefreshed``: a new token arrived (uid and expiry; never the token);
- ``authenticationFailed``: the IAM or the master refused or could not be reached;
- ``permissionDenied`` (inherited from hello_factory's scheduler): the master refused
  a task for lack of a DC/OS permission.

Run it like hello_factory.py, after pasting the export lines of ``mesos-auth fake-cluster``.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys

from hello_factory import HelloScheduler, log

import mesos_auth
from mesos_auth import AuthenticatedSchedulerDriver


class HelloAuthScheduler(HelloScheduler):  # HelloScheduler is a mesos_auth.Scheduler
    """The hello scheduler, told about authentication as it happens."""

    def authenticated(self, driver, principal):
        log.info("authenticated to the master as %r", principal)

    def tokenRefreshed(self, driver, info):
        expires = datetime.datetime.fromtimestamp(info.expires_at, datetime.timezone.utc)
        log.info("auth token for %r received, valid until %s", info.uid, expires.isoformat(timespec="seconds"))

    def authenticationFailed(self, driver, error):
        log.warning("authentication trouble (%s): %s", type(error).__name__, error)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    framework = {"user": os.environ.get("HELLO_USER", "nobody"), "name": "hello_subclass", "failover_timeout": 60.0}
    scheduler = HelloAuthScheduler(int(os.environ.get("HELLO_TASKS", "3")))
    master = os.environ.get("MESOS_MASTER_URL", "https://leader.mesos:5050")
    try:
        AuthenticatedSchedulerDriver(scheduler, framework, master, use_addict=True).run()
    except mesos_auth.MesosAuthError as error:
        log.error("%s: %s", type(error).__name__, error)
        return 1
    if not scheduler.done.is_set() or any(s != "TASK_FINISHED" for s in scheduler.finished.values()):
        log.error("not every task finished")
        return 1
    log.info("all %d task(s) finished", scheduler.wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
