"""A framework written the way Toil writes its Mesos scheduler, whose tasks run on its own executor.

The scheduler of ``toil_style_framework.py`` (a module-level ``from pymesos import
MesosSchedulerDriver, Scheduler``, a subclass of the driver, an ``addict.Dict``
FrameworkInfo with ``principal = name``, a ``host:port`` master,
``use_addict=True, implicit_acknowledgements=True``, no ``principal=``/``secret=``),
but each task carries an ExecutorInfo built as Toil's ``_buildExecutor``
(toil/batchSystems/mesos/batchSystem.py) builds it: ``name = "toil"``, one
``executor_id`` ``toil-<pid>`` for every task, ``source`` the user, and a command
that runs the executor program (Toil: ``resolveEntryPoint("_toil_mesos_executor")``;
here ``toil_style_executor.py`` next to this file, run by this Python). The task's
``data`` is the base64 of the shell command the executor runs (Toil's is a pickled job).

Usage: ``python toil_style_executor_framework.py HOST:PORT [TASKS]``. Exits 0 when
every task reached TASK_FINISHED, 1 otherwise (or after 60 s). Nothing of mesos-auth in it.
"""

# Written as Toil writes it (Python 2 era style), not as this project would: keep it so.
# ruff: noqa: UP008, UP031

import getpass
import logging
import os
import shlex
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler, encode_data

log = logging.getLogger("toil-style")

EXECUTOR_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toil_style_executor.py")


class ToilStyleDriver(MesosSchedulerDriver):
    """A driver subclass, defined at import time (before anything could patch pymesos)."""

    def __init__(self, *args, **kwargs):
        self.launched = 0
        super(ToilStyleDriver, self).__init__(*args, **kwargs)

    def launchTasks(self, offerIds, tasks, filters=None):
        self.launched += len(tasks)
        return super(ToilStyleDriver, self).launchTasks(offerIds, tasks, filters)


class ToilStyleScheduler(Scheduler):
    def __init__(self, wanted):
        self.wanted = wanted
        self.launched = 0
        self.states = {}
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.executor = self._buildExecutor()

    def _buildExecutor(self):
        info = Dict()
        info.name = "toil"
        info.command.value = "%s %s" % (shlex.quote(sys.executable), shlex.quote(EXECUTOR_PROGRAM))
        info.executor_id.value = "toil-%i" % os.getpid()
        info.source = getpass.getuser()
        return info

    def registered(self, driver, frameworkId, masterInfo):
        log.info("registered as framework %s", frameworkId.value)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                if self.launched >= self.wanted:
                    driver.declineOffer(offer.id)
                    continue
                self.launched += 1
                number = self.launched
            task = Dict()
            task.task_id.value = "toil-style-task-%d" % number
            task.agent_id.value = offer.agent_id.value
            task.name = "hello %d" % number
            task.data = encode_data(b"echo hello from task %d" % number)
            task.executor = self.executor
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32.0}),
            ]
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        log.info(
            "task %s is %s (source %s, executor %s, uuid %s)",
            update.task_id.value,
            update.state,
            update.source,
            update.executor_id.value,
            update.uuid,
        )
        with self.lock:
            self.states[update.task_id.value] = update.state
            finished = [s for s in self.states.values() if s == "TASK_FINISHED"]
            if len(finished) >= self.wanted or update.state in ("TASK_FAILED", "TASK_ERROR", "TASK_LOST"):
                self.done.set()

    def executorLost(self, driver, executorId, agentId, status):
        log.info("executor %s ended with status %s", executorId.value, status)

    def error(self, driver, message):
        log.error("framework error: %s", message)
        self.done.set()


def main():
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    endpoint = sys.argv[1]
    wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    framework = Dict()
    framework.user = getpass.getuser()
    framework.name = "toil-style"
    framework.principal = framework.name
    scheduler = ToilStyleScheduler(wanted)
    driver = ToilStyleDriver(scheduler, framework, endpoint, use_addict=True, implicit_acknowledgements=True)
    driver.start()
    scheduler.done.wait(60)
    driver.stop()
    driver.join()
    finished = sorted(t for t, s in scheduler.states.items() if s == "TASK_FINISHED")
    print("driver class: %s, launched %d" % (type(driver).__name__, driver.launched))
    if len(finished) == wanted:
        print("all %d task(s) finished" % wanted)
        return 0
    print("not every task finished: %s" % scheduler.states)
    return 1


if __name__ == "__main__":
    sys.exit(main())
