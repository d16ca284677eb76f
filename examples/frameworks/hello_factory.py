#!/usr/bin/env python3
"""hello_factory: an ordinary pymesos framework, migrated to mesos-auth in one line.

It launches N command tasks (``echo hello``), waits for them to finish, and exits 0.
The only change from a plain pymesos framework is the driver: ``create_driver``
instead of ``MesosSchedulerDriver`` (see the line marked MIGRATION). Everything a
DC/OS deployment gives a framework comes from the environment:

- ``MESOS_MASTER_URL``: the leading master, e.g. ``https://leader.mesos:5050``;
- ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``: the service account secret (JSON, file:// URL or path);
- ``MESOS_AUTH_CA_BUNDLE``: the cluster's CA bundle (else the DC/OS locations);
- ``MESOS_AUTH_SECURITY_MODE``: disabled, permissive or strict (else detected);
- ``HELLO_TASKS`` (default 3) and ``HELLO_ROLE`` (default ``*``); ``HELLO_PRINCIPAL``
  sets the framework's principal (leave it unset: mesos-auth fills in the account).

``mesos-auth fake-cluster`` prints ``export`` lines for all of them, so:

    mesos-auth fake-cluster &        # then paste its export lines, and:
    python examples/frameworks/hello_factory.py
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid

from pymesos import Scheduler

from mesos_auth import create_driver  # MIGRATION: was `from pymesos import MesosSchedulerDriver`

log = logging.getLogger("hello_factory")
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}


class HelloScheduler(Scheduler):
    """Launches ``wanted`` tasks of 0.1 cpu / 32 MB, then stops the driver when all are done."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.launched: list = []
        self.finished: dict = {}
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        log.info("SUBSCRIBED as framework %s (principal %s)", framework_id["value"], driver.framework.get("principal"))

    def reregistered(self, driver, master_info):
        log.info("re-subscribed to the master")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
            tasks = []
            while len(self.launched) < self.wanted and cpus >= 0.1:
                task_id = f"hello-{len(self.launched)}-{uuid.uuid4().hex[:6]}"
                self.launched.append(task_id)
                cpus -= 0.1
                tasks.append(
                    {
                        "name": task_id,
                        "task_id": {"value": task_id},
                        "agent_id": offer["agent_id"],
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                        ],
                        "command": {"value": "echo hello"},
                    }
                )
            if tasks:
                log.info("offer %s from %s: launching %d task(s)", offer["id"]["value"], offer["hostname"], len(tasks))
                driver.launchTasks(offer["id"], tasks)
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 60})

    def statusUpdate(self, driver, update):
        task_id, state = update["task_id"]["value"], update["state"]
        log.info("task %s is %s", task_id, state)
        if state in TERMINAL:
            self.finished[task_id] = state
            if len(self.finished) >= self.wanted:
                self.done.set()
                driver.stop()

    def error(self, driver, message):
        log.error("the master reported an error: %s", message)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    master = os.environ.get("MESOS_MASTER_URL", "https://leader.mesos:5050")
    framework = {
        "user": os.environ.get("HELLO_USER", "nobody"),
        "name": "hello_factory",
        "roles": [os.environ.get("HELLO_ROLE", "*")],
        "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": 60.0,
    }
    if os.environ.get("HELLO_PRINCIPAL"):
        framework["principal"] = os.environ["HELLO_PRINCIPAL"]
    scheduler = HelloScheduler(int(os.environ.get("HELLO_TASKS", "3")))
    try:
        driver = create_driver(scheduler, framework, master, use_addict=True)  # MIGRATION: was MesosSchedulerDriver
        driver.run()
    except Exception as error:  # every mesos-auth error names its cause and its fix
        log.error("%s: %s", type(error).__name__, error)
        return 1
    failed = {t: s for t, s in scheduler.finished.items() if s != "TASK_FINISHED"}
    if not scheduler.done.is_set() or failed:
        log.error("not every task finished: %s", failed or "the driver stopped early")
        return 1
    log.info("all %d task(s) finished", scheduler.wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
