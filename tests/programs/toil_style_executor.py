"""An executor written the way Toil writes its Mesos executor, with nothing of mesos-auth in it.

As toil/batchSystems/mesos/executor.py (DataBiosphere/toil 9.5.0) does it: a
module-level ``from pymesos import Executor, MesosExecutorDriver, decode_data``;
``MesosExecutorDriver(executor, use_addict=True)`` whose instance ``on_event`` is
wrapped to log every event; ``MESOS_AGENT_ENDPOINT`` faked when missing;
``registered()`` reads ``executorInfo.executor_id`` and ``agentInfo.hostname``;
each task runs in a thread that sends TASK_RUNNING, runs the task's command (a
shell command in ``task.data``; Toil's is a pickled job) and sends TASK_FINISHED
(or TASK_FAILED) itself, with ``executor_id`` and a ``wallTime`` label as Toil
signs them; ``driver.start()`` and ``driver.join()``, exit 0 when stopped.

Left out, each because it is not pymesos and says nothing about how the executor
authenticates: Toil's unconditional ``urlopen("http://<agent>/state")`` (outside
pymesos, so mesos-auth does not authenticate it; a fake agent serves only the
executor API), its psutil node-info messages, ``Resource`` downloads and worker
clean-up, the ``gethostbyname`` of the agent's hostname, and Toil's second
TASK_FINISHED after a finished task (a bug of Toil's).

Started by the agent as the ExecutorInfo command; it never imports mesos_auth:
when the agent's executor environment carries mesos-auth's bootstrap on
``PYTHONPATH``, the driver it creates is the authenticated one, which the
``driver class`` line shows.
"""

# Written as Toil writes it, not as this project would: keep it so.
# ruff: noqa: UP008, UP031, E722

import logging
import os
import subprocess
import sys
import threading
import time
import traceback

import addict
from pymesos import Executor, MesosExecutorDriver, decode_data

log = logging.getLogger("toil-style-executor")


class ToilStyleExecutor(Executor):
    def __init__(self):
        super(ToilStyleExecutor, self).__init__()
        self.popenLock = threading.Lock()
        self.runningTasks = {}
        self.id = None

    def registered(self, driver, executorInfo, frameworkInfo, agentInfo):
        self.id = executorInfo.executor_id.get("value", None)
        log.info("registered executor %s with framework on agent %s", self.id, agentInfo.hostname)

    def reregistered(self, driver, agentInfo):
        log.info("re-registered")

    def disconnected(self, driver):
        log.critical("disconnected from agent")

    def killTask(self, driver, taskId):
        pid = self.runningTasks.get(taskId.value)
        if pid is not None:
            os.killpg(os.getpgid(pid), 9)

    def shutdown(self, driver):
        log.info("shutting down executor ...")
        for taskId in list(self.runningTasks.keys()):
            self.killTask(driver, addict.Dict(value=taskId))
        log.info("... executor shut down")

    def error(self, driver, message):
        log.critical("FATAL ERROR: " + message)

    def launchTask(self, driver, task):
        log.info("asked to launch task %s", task.task_id.value)

        def runTask():
            startTime = time.time()
            sendUpdate(task, "TASK_RUNNING", wallTime=0)
            try:
                command = decode_data(task.data).decode("utf-8")
                with self.popenLock:
                    process = subprocess.Popen(command, shell=True, preexec_fn=os.setpgrp)  # noqa: S602 - as Toil runs its jobs
                self.runningTasks[task.task_id.value] = process.pid
                try:
                    exitStatus = process.wait()
                finally:
                    del self.runningTasks[task.task_id.value]
                wallTime = time.time() - startTime
                if exitStatus == 0:
                    sendUpdate(task, "TASK_FINISHED", wallTime)
                elif exitStatus == -9:
                    sendUpdate(task, "TASK_KILLED", wallTime)
                else:
                    sendUpdate(task, "TASK_FAILED", wallTime, msg=str(exitStatus))
            except:
                exc_type, exc_value, _ = sys.exc_info()
                log.error("exception while running task", exc_info=True)
                msg = "".join(traceback.format_exception_only(exc_type, exc_value))
                sendUpdate(task, "TASK_FAILED", time.time() - startTime, msg=msg)

        def sendUpdate(task, taskState, wallTime, msg=""):
            update = addict.Dict()
            update.task_id.value = task.task_id.value
            if self.id is not None:
                update.executor_id.value = self.id
            update.state = taskState
            update.message = msg
            labels = addict.Dict()
            labels.labels = [{"key": "wallTime", "value": str(wallTime)}]
            update.labels = labels
            driver.sendStatusUpdate(update)
            log.info("sent %s for task %s", taskState, task.task_id.value)

        thread = threading.Thread(target=runTask, daemon=True)
        thread.start()

    def frameworkMessage(self, driver, message):
        log.info("message from framework: %s", message)


def main():
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    if not os.environ.get("MESOS_AGENT_ENDPOINT"):
        os.environ["MESOS_AGENT_ENDPOINT"] = os.environ.get("MESOS_SLAVE_ENDPOINT", "127.0.0.1:5051")
        log.warning("had to fake MESOS_AGENT_ENDPOINT as %s" % os.environ["MESOS_AGENT_ENDPOINT"])
    executor = ToilStyleExecutor()
    driver = MesosExecutorDriver(executor, use_addict=True)
    log.info("driver class: %s", type(driver).__name__)

    old_on_event = driver.on_event

    def patched_on_event(event):
        log.info("event: %s", event.get("type"))
        old_on_event(event)

    driver.on_event = patched_on_event
    driver.start()
    driver_result = driver.join()
    exit_value = 0 if (driver_result is None or driver_result == "DRIVER_STOPPED") else 1
    log.info("executor exits with %d", exit_value)
    return exit_value


if __name__ == "__main__":
    sys.exit(main())
