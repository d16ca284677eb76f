"""A framework written the way Toil writes its Mesos scheduler, with nothing of mesos-auth in it.

As toil/batchSystems/mesos/batchSystem.py (DataBiosphere/toil 9.5.0) does it:
a module-level ``from pymesos import MesosSchedulerDriver, Scheduler``, an
``addict.Dict`` FrameworkInfo whose ``principal`` is the framework's name, a
``host:port`` master, and ``MesosSchedulerDriver(self, framework, endpoint,
use_addict=True, implicit_acknowledgements=True)``, no ``principal=``/``secret=``.
One thing Toil does not do: the driver is a subclass (``ToilStyleDriver``), as
frameworks that add logging or metrics to pymesos' driver have.

Usage: ``python toil_style_framework.py HOST:PORT [TASKS]``. Launches TASKS
``echo hello`` tasks (default 2), one per offer, as the user it runs as; exits 0
when every task reached TASK_FINISHED, 1 otherwise (or after 60 s).
"""

# Written as Toil writes it (Python 2 era style), not as this project would: keep it so.
# ruff: noqa: UP008, UP031

import getpass
import logging
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

log = logging.getLogger("toil-style")


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
            task.command.value = "echo hello"
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 32.0}),
            ]
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        log.info("task %s is %s", update.task_id.value, update.state)
        with self.lock:
            self.states[update.task_id.value] = update.state
            finished = [s for s in self.states.values() if s == "TASK_FINISHED"]
            if len(finished) >= self.wanted or update.state in ("TASK_FAILED", "TASK_ERROR", "TASK_LOST"):
                self.done.set()

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
