#!/usr/bin/env python3
"""hello_factory: an ordinary pymesos framework, migrated to mesos-auth in one line.

It launches N command tasks (``echo hello``), waits for them to finish, and exits 0.
The only change from a plain pymesos framework is the import (see the lines marked
MIGRATION): ``create_driver`` instead of ``MesosSchedulerDriver``, and
``mesos_auth.Scheduler`` (pymesos' ``Scheduler`` plus optional callbacks such as
``permissionDenied``) instead of ``pymesos.Scheduler``. Everything a DC/OS
deployment gives a framework comes from the environment:

- ``MESOS_MASTER_URL``: the leading master, e.g. ``https://leader.mesos:5050``;
- ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``: the service account secret (JSON, file:// URL or path);
- ``MESOS_AUTH_CA_BUNDLE``: the cluster's CA bundle (else the DC/OS locations);
- ``MESOS_AUTH_SECURITY_MODE``: disabled, permissive or strict (else detected);
- ``HELLO_TASKS`` (default 3), ``HELLO_ROLE`` (default ``*``) and ``HELLO_USER``
  (default ``nobody``, the Linux user of the tasks); ``HELLO_PRINCIPAL`` sets the
  framework's principal (leave it unset: mesos-auth fills in the account);
  ``HELLO_NAME`` its name (default ``hello_factory``).

A task the master refuses (``TASK_ERROR``, e.g. because the service account lacks
the permission to run tasks as ``HELLO_USER`` in strict mode) is launched again under
a new task id, up to ``RETRIES`` times, waiting longer each time: long enough for an
administrator to grant what ``permissionDenied`` logged as missing.

``mesos-auth fake-cluster`` prints ``export`` lines for all of them, so:

    mesos-auth fake-cluster &        # then paste its export lines, and:
    python examples/frameworks/hello_factory.py
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid

# MIGRATION: was `from pymesos import MesosSchedulerDriver, Scheduler`
from mesos_auth import Scheduler, create_driver

log = logging.getLogger("hello_factory")
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}
#: How often a task refused with TASK_ERROR is launched again, and the wait before the
#: first retry (seconds; it doubles with each retry).
RETRIES = 3
RETRY_DELAY = 1.0


class HelloScheduler(Scheduler):
    """Launches ``wanted`` tasks of 0.1 cpu / 32 MB, then stops the driver when all are done."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.waiting = {number: 0.0 for number in range(wanted)}  # task number -> when it may be launched
        self.launches = {number: 0 for number in range(wanted)}  # task number -> launches so far
        self.number_of: dict = {}  # task id -> its task number, until the task ends
        self.finished: dict = {}  # task number -> its final state
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        log.info("SUBSCRIBED as framework %s (principal %s)", framework_id["value"], driver.framework.get("principal"))

    def reregistered(self, driver, master_info):
        log.info("re-subscribed to the master")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
            now = time.monotonic()
            tasks = []
            for number in sorted(n for n, when in self.waiting.items() if when <= now):
                if cpus < 0.1:
                    break
                del self.waiting[number]
                tasks.append(self.new_task(number, offer))
                cpus -= 0.1
            if tasks:
                log.info("offer %s from %s: launching %d task(s)", offer["id"]["value"], offer["hostname"], len(tasks))
                driver.launchTasks(offer["id"], tasks)
            else:  # nothing to launch now: see this agent again when the next retry is due
                next_retry = min(self.waiting.values(), default=now + 60) - now
                driver.declineOffer(offer["id"], {"refuse_seconds": max(next_retry, 0.0)})

    def new_task(self, number, offer):
        task_id = f"hello-{number}-{uuid.uuid4().hex[:6]}"  # a new id for each launch
        self.number_of[task_id] = number
        self.launches[number] += 1
        return {
            "name": task_id,
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            ],
            "command": {"value": "echo hello"},
        }

    def statusUpdate(self, driver, update):
        task_id, state = update["task_id"]["value"], update["state"]
        why = f" ({update.get('reason')}: {update.get('message')})" if state == "TASK_ERROR" else ""
        log.info("task %s is %s%s", task_id, state, why)
        number = self.number_of.pop(task_id, None) if state in TERMINAL else None
        if number is None:
            return  # not terminal, or an update repeated
        retry = self.launches[number]  # a next launch would be retry number `retry`
        if state == "TASK_ERROR" and retry <= RETRIES:
            delay = RETRY_DELAY * 2 ** (retry - 1)
            log.info("hello-%d: launched again in %.0f s with a new id (retry %d of %d)", number, delay, retry, RETRIES)
            self.waiting[number] = time.monotonic() + delay
            driver.reviveOffers()  # offers we declined come back
            return
        self.finished[number] = state
        if len(self.finished) >= self.wanted:
            self.done.set()
            driver.stop()

    def permissionDenied(self, driver, error):
        # mesos-auth's driver calls this after statusUpdate when the master refused a task
        # for lack of a DC/OS permission; the error names it and the command that grants it.
        log.warning("%s: %s", type(error).__name__, error)

    def error(self, driver, message):
        log.error("the master reported an error: %s", message)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    master = os.environ.get("MESOS_MASTER_URL", "https://leader.mesos:5050")
    framework = {
        "user": os.environ.get("HELLO_USER", "nobody"),
        "name": os.environ.get("HELLO_NAME", "hello_factory"),
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
