"""A pytest plugin that runs pymesos' own scheduler tests against our driver.

pymesos' tests/test_scheduler.py (from its GitHub repository; the PyPI sdist does
not ship it) must pass unchanged with AuthenticatedSchedulerDriver swapped in for
MesosSchedulerDriver. This plugin does the swap before the tests are collected:

    git clone https://github.com/douban/pymesos /tmp/pymesos
    PYTHONPATH=tools python -m pytest -p pymesos_compat /tmp/pymesos/tests/test_scheduler.py

It clears DCOS_SERVICE_ACCOUNT_CREDENTIAL and MESOS_AUTH_* first: the claim is
"when no credentials are configured".
"""

from __future__ import annotations

import os
from typing import Any


def pytest_configure(config: Any) -> None:
    for name in list(os.environ):
        if name == "DCOS_SERVICE_ACCOUNT_CREDENTIAL" or name.startswith("MESOS_AUTH_"):
            del os.environ[name]
    import pymesos

    from mesos_auth.driver import AuthenticatedSchedulerDriver

    # Only the package attribute, which the tests import: pymesos.scheduler's own
    # name must stay, since pymesos' methods call super(MesosSchedulerDriver, self).
    pymesos.MesosSchedulerDriver = AuthenticatedSchedulerDriver


def pytest_report_header(config: Any) -> str:
    import pymesos

    swapped = pymesos.MesosSchedulerDriver
    return f"pymesos.MesosSchedulerDriver is {swapped.__module__}.{swapped.__name__}"
