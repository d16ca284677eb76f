"""create_driver and create_executor_driver: the one-line migration from pymesos.

    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    # becomes
    driver = create_driver(scheduler, framework, master, use_addict=True)

Everything pymesos accepts is accepted; the credentials, the security mode and
the CA bundle are found the way a DC/OS service finds them (see the README), and
can be given as keywords (``service_account=``, ``security_mode=``, ``ca_bundle=``).

Executors likewise::

    driver = MesosExecutorDriver(executor, use_addict=True)
    # becomes
    driver = create_executor_driver(executor, use_addict=True)

The executor's token, the agent's address and TLS come from the environment the
agent gave the executor (see the README, "Executors").
"""

from __future__ import annotations

from typing import Any

from mesos_auth.driver import AuthenticatedSchedulerDriver
from mesos_auth.executor import AuthenticatedExecutorDriver


def create_driver(scheduler: Any, framework: Any, master: Any, **kwargs: Any) -> AuthenticatedSchedulerDriver:
    """A scheduler driver that authenticates as the framework's DC/OS service account."""
    return AuthenticatedSchedulerDriver(scheduler, framework, master, **kwargs)


def create_executor_driver(executor: Any, **kwargs: Any) -> AuthenticatedExecutorDriver:
    """An executor driver that authenticates to its agent with the executor token the agent gave it."""
    return AuthenticatedExecutorDriver(executor, **kwargs)
