"""create_driver: the one-line migration from pymesos.

    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    # becomes
    driver = create_driver(scheduler, framework, master, use_addict=True)

Everything pymesos accepts is accepted; the credentials, the security mode and
the CA bundle are found the way a DC/OS service finds them (see the README), and
can be given as keywords (``service_account=``, ``security_mode=``, ``ca_bundle=``).
"""

from __future__ import annotations

from typing import Any

from mesos_auth.driver import AuthenticatedSchedulerDriver


def create_driver(scheduler: Any, framework: Any, master: Any, **kwargs: Any) -> AuthenticatedSchedulerDriver:
    """A scheduler driver that authenticates as the framework's DC/OS service account."""
    return AuthenticatedSchedulerDriver(scheduler, framework, master, **kwargs)
