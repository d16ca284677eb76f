"""What a fake agent knows and does: executors and command tasks as real processes, their
tasks, and the status updates between them and the master.

Follows apache/mesos ``src/slave/slave.cpp`` (DC/OS 2.2's Mesos) where it matters to
a framework and its executor:

- a task with an ExecutorInfo starts that executor (``command.value`` with
  ``shell``/``arguments`` and ``command.environment``, ``environment.py``) unless it
  runs already; the task is queued until the executor subscribes, then sent as a
  LAUNCH event after SUBSCRIBED (``Slave::subscribe``); an executor that subscribes
  without ever having had a task and with none queued is shut down (MESOS-8411);
- a task without one runs as the command executor would run it
  (``src/launcher/executor.cpp``): TASK_STARTING, TASK_RUNNING once started, then
  TASK_FINISHED (exit 0), TASK_FAILED, or TASK_KILLED after a kill, with the
  message "Command exited with status N" / "Command terminated with signal S".
  Simplification: no separate command executor process (the command is the
  container's process); the updates carry SOURCE_EXECUTOR and the executor id of
  the generated command executor, the task id;
- an UPDATE from an executor goes to the master; the executor gets ACKNOWLEDGED as
  soon as the agent has handled it (``Slave::___statusUpdate``), not when the
  scheduler acknowledges; the scheduler's acknowledgement lets the agent forward the
  task's next update (the task status update manager sends one update per task at
  a time). (unverified) No retries of an unacknowledged update: the master resends
  unacknowledged updates when a framework re-subscribes;
- KILL of a queued task: TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH, "Killed
  before delivery to the executor" (``Slave::killTask``); of a launched task: a KILL
  event to the executor; of a command task: SIGTERM, then SIGKILL after the kill
  policy's grace period (3 s by default);
- an executor that exits: its unfinished tasks (launched and queued) get TASK_FAILED,
  REASON_EXECUTOR_TERMINATED, SOURCE_SLAVE (``sendExecutorTerminatedStatusUpdate``;
  the message "Executor terminated" is what Mesos says when the containerizer adds
  none, (unverified) that the fake's containerizer never does), and the master hears
  of the exit (a FAILURE event for custom executors, ``sendExitedExecutorMessage``);
  a framework torn down gets no updates;
- SHUTDOWN (framework removed, agent stopping): the event, then the process group
  is killed after ``--executor_shutdown_grace_period``.

Locking: ``lock`` is the agent's; the master is only ever called with it released
(through :meth:`AgentCore.flush`), so the master's lock and the agent's never nest
the wrong way round. The master's calls into the agent only queue work.
"""

from __future__ import annotations

import collections
import functools
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

from mesos_auth.testing.agent.environment import AgentAddress, command_argv, duration_text, executor_environment
from mesos_auth.testing.agent.processes import ManagedProcess, ProcessTable
from mesos_auth.testing.agent.runs import (
    COMMAND_KILL_GRACE_PERIOD,
    RUNNING,
    SOURCE_EXECUTOR,
    SOURCE_SLAVE,
    TERMINATED,
    TERMINATING,
    ExecutorKey,
    ExecutorRun,
    MasterLink,
    TaskRun,
    command_of,
    grace_seconds,
    id_of,
    new_uuid,
)
from mesos_auth.testing.agent.tokens import ExecutorTokens
from mesos_auth.testing.master.streams import EventStream, StreamHub

JSON = Dict[str, Any]


class AgentCore:
    """Executors, command tasks and their updates for a fake agent. Entry points take the lock themselves."""

    def __init__(
        self,
        *,
        lock: threading.Condition,
        hub: StreamHub,
        tokens: ExecutorTokens,
        address: Callable[[str], AgentAddress],
        sandbox_root: Path,
        schedule: Callable[[float, Callable[[], None]], None],
        on_error: Callable[[str], None],
        shutdown_grace_period: float,
        max_processes: int,
    ) -> None:
        self.lock = lock
        self.hub = hub
        self.tokens = tokens
        self._address = address
        self.sandbox_root = sandbox_root
        self._schedule = schedule
        self._on_error = on_error
        self.shutdown_grace_period = shutdown_grace_period
        self.master: Optional[MasterLink] = None
        self.executors: Dict[ExecutorKey, ExecutorRun] = {}
        self.tasks: Dict[Tuple[str, str], TaskRun] = {}
        self.terminating_frameworks: Set[str] = set()
        self.messages: List[JSON] = []  # executor -> framework messages, for tests
        self._owners: Dict[int, Any] = {}  # pid -> ExecutorRun or TaskRun
        self._outbox: Deque[Callable[[], None]] = collections.deque()
        self._flush_lock = threading.Lock()
        self.processes = ProcessTable(
            on_exit=self._exited, on_error=on_error, schedule=schedule, max_processes=max_processes
        )

    # -- to the master ----------------------------------------------------------------------

    def _tell_master(self, name: str, *args: Any) -> None:
        def send() -> None:
            if self.master is not None:
                getattr(self.master, name)(*args)

        self._outbox.append(send)

    def flush(self) -> None:
        """Deliver queued calls to the master, in order, without the agent's lock."""
        with self._flush_lock:
            while True:
                with self.lock:
                    if not self._outbox:
                        return
                    send = self._outbox.popleft()
                send()

    def _forward(self, task: TaskRun, status: JSON) -> None:
        """The task status update manager: one update per task with the master at a time."""
        task.state = str(status.get("state"))
        if task.framework_id in self.terminating_frameworks:
            return
        task.pending.append(status)
        if len(task.pending) == 1:
            self._tell_master("agent_status_update", task.framework_id, dict(status))

    def _status(
        self,
        task: TaskRun,
        state: str,
        source: str,
        *,
        reason: Optional[str] = None,
        message: Optional[str] = None,
    ) -> JSON:
        status: JSON = {
            "task_id": {"value": task.task_id},
            "state": state,
            "source": source,
            "agent_id": {"value": task.agent_id},
            "executor_id": {"value": task.executor_id},
            "uuid": new_uuid(),
            "timestamp": time.time(),
        }
        if reason is not None:
            status["reason"] = reason
        if message is not None:
            status["message"] = message
        return status

    # -- from the master (run on the agent's timer thread) ------------------------------------

    def launch(self, framework_info: JSON, agent_info: JSON, task: JSON, executor: Optional[JSON]) -> None:
        with self.lock:
            self._launch(framework_info, agent_info, [task], executor, group=False)
            self.lock.notify_all()  # a LAUNCH queued for a subscribed executor is written now
        self.flush()

    def launch_group(self, framework_info: JSON, agent_info: JSON, tasks: List[JSON], executor: JSON) -> None:
        with self.lock:
            self._launch(framework_info, agent_info, tasks, executor, group=True)
            self.lock.notify_all()  # a LAUNCH_GROUP queued for a subscribed executor is written now
        self.flush()

    def _launch(
        self, framework_info: JSON, agent_info: JSON, tasks: List[JSON], executor: Optional[JSON], group: bool
    ) -> None:
        framework_id = str(id_of(framework_info, "id"))
        agent_id = str(id_of(agent_info, "id"))
        self.terminating_frameworks.discard(framework_id)
        if executor is None or executor.get("type") == "DEFAULT":
            # (unverified simplification) The default executor's tasks run like command tasks.
            for task in tasks:
                self._run_command(framework_info, agent_id, task, id_of(executor, "executor_id"))
            return
        executor_id = str(id_of(executor, "executor_id"))
        key = (framework_id, agent_id, executor_id)
        run = self.executors.get(key)
        if run is None or run.state in (TERMINATING, TERMINATED):
            run = self._start_executor(framework_info, agent_info, executor)
        for task in tasks:
            task_run = TaskRun(framework_id, agent_id, str(id_of(task, "task_id")), executor_id, task)
            self.tasks[(framework_id, task_run.task_id)] = task_run
        if run.state == TERMINATED:  # could not be started
            for task in tasks:
                self._fail_unstarted(self.tasks[(framework_id, str(id_of(task, "task_id")))], run)
            return
        payload = {"task_group": {"tasks": tasks}} if group else tasks[0]
        if run.state == RUNNING:
            self._deliver(run, payload)
        else:
            run.queued.append(payload)

    def _start_executor(self, framework_info: JSON, agent_info: JSON, executor: JSON) -> ExecutorRun:
        framework_id = str(id_of(framework_info, "id"))
        agent_id = str(id_of(agent_info, "id"))
        executor_id = str(id_of(executor, "executor_id"))
        container_id = str(uuid.uuid4())
        sandbox = self._sandbox(agent_id, framework_id, executor_id, container_id)
        run = ExecutorRun(
            framework_id, agent_id, executor_id, container_id, executor, framework_info, agent_info, sandbox
        )
        self.executors[(framework_id, agent_id, executor_id)] = run
        command = command_of(executor)
        env = self._environment(run.agent_id, framework_id, executor_id, container_id, sandbox, framework_info, command)
        grace = grace_seconds(executor.get("shutdown_grace_period"))
        if grace is not None:
            env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = duration_text(grace)
        run.process = self._spawn(f"executor {executor_id}", command, env, sandbox)
        if run.process is None:
            run.state = TERMINATED
        else:
            self._owners[run.process.pid] = run
        return run

    def _run_command(self, framework_info: JSON, agent_id: str, task: JSON, executor_id: Optional[str]) -> None:
        framework_id = str(id_of(framework_info, "id"))
        task_id = str(id_of(task, "task_id"))
        run = TaskRun(framework_id, agent_id, task_id, executor_id or task_id, task, command=True)
        self.tasks[(framework_id, task_id)] = run
        container_id = str(uuid.uuid4())
        sandbox = self._sandbox(agent_id, framework_id, run.executor_id, container_id)
        command = command_of(task)
        env = self._environment(agent_id, framework_id, run.executor_id, container_id, sandbox, framework_info, command)
        self._forward(run, self._status(run, "TASK_STARTING", SOURCE_EXECUTOR))
        run.process = self._spawn(f"task {task_id}", command, env, sandbox)
        if run.process is None:
            message = "Failed to launch container: the command could not be started"
            status = self._status(run, "TASK_FAILED", SOURCE_SLAVE, reason="REASON_CONTAINER_LAUNCH_FAILED")
            status["message"] = message  # (unverified) the containerizer's own wording differs
            self._forward(run, status)
            return
        self._owners[run.process.pid] = run
        self._forward(run, self._status(run, "TASK_RUNNING", SOURCE_EXECUTOR))

    def _environment(
        self,
        agent_id: str,
        framework_id: str,
        executor_id: str,
        container_id: str,
        sandbox: Path,
        framework_info: JSON,
        command: JSON,
    ) -> Dict[str, str]:
        return executor_environment(
            agent=self._address(agent_id),
            framework_id=framework_id,
            executor_id=executor_id,
            directory=str(sandbox),
            checkpoint=bool(framework_info.get("checkpoint", False)),
            http_command_executor=False,
            shutdown_grace_period=self.shutdown_grace_period,
            token=self.tokens.executor_token(framework_id, executor_id, container_id),
            command=command,
        )

    def _sandbox(self, agent_id: str, framework_id: str, executor_id: str, container_id: str) -> Path:
        """Mesos' layout: ``slaves/<a>/frameworks/<f>/executors/<e>/runs/<container>`` (``src/slave/paths.cpp``)."""
        parts = ("slaves", agent_id, "frameworks", framework_id, "executors", executor_id, "runs", container_id)
        safe = [part.replace("/", "_") or "_" for part in parts]
        return self.sandbox_root.joinpath(*safe)

    def _spawn(self, name: str, command: JSON, env: Dict[str, str], sandbox: Path) -> Optional[ManagedProcess]:
        argv = command_argv(command)
        if argv is None:
            return None
        try:
            return self.processes.spawn(name, argv[0], argv[1], env, sandbox)
        except (OSError, RuntimeError):
            return None

    def _fail_unstarted(self, task: TaskRun, run: ExecutorRun) -> None:
        status = self._status(task, "TASK_FAILED", SOURCE_SLAVE, reason="REASON_CONTAINER_LAUNCH_FAILED")
        status["message"] = f"Failed to launch container: executor {run.executor_id} could not be started"
        self._forward(task, status)

    def _deliver(self, run: ExecutorRun, payload: JSON) -> None:
        run.ever_sent = True
        if "task_group" in payload:
            self._send(run, {"type": "LAUNCH_GROUP", "launch_group": payload})
        else:
            self._send(run, {"type": "LAUNCH", "launch": {"task": payload}})

    @staticmethod
    def _send(run: ExecutorRun, event: JSON) -> None:
        if run.stream is not None:
            run.stream.push(event)

    def kill(self, framework_id: str, task_id: str, kill_policy: Optional[JSON]) -> None:
        with self.lock:
            self._kill(framework_id, task_id, kill_policy)
            self.lock.notify_all()
        self.flush()

    def _kill(self, framework_id: str, task_id: str, kill_policy: Optional[JSON]) -> None:
        task = self.tasks.get((framework_id, task_id))
        if task is None or task.terminal:
            return  # (unverified) nothing to say: the master answers for unknown tasks
        if task.command:
            if task.process is not None and task.process.running:
                task.killed = True
                grace = grace_seconds(kill_policy)
                if grace is None:
                    grace = grace_seconds(task.info.get("kill_policy"))
                self.processes.terminate(task.process, COMMAND_KILL_GRACE_PERIOD if grace is None else grace)
            return
        run = self.executors.get((framework_id, task.agent_id, task.executor_id))
        if run is None:
            return
        for payload in list(run.queued):
            ids = [id_of(t, "task_id") for t in payload.get("task_group", {}).get("tasks", [payload])]
            if task_id in ids:  # a whole queued group is killed with any of its tasks
                run.queued.remove(payload)
                for other in ids:
                    killed = self.tasks.get((framework_id, str(other)))
                    if killed is not None and not killed.terminal:
                        status = self._status(
                            killed,
                            "TASK_KILLED",
                            SOURCE_SLAVE,
                            reason="REASON_TASK_KILLED_DURING_LAUNCH",
                            message="Killed before delivery to the executor",
                        )
                        self._forward(killed, status)
                return
        if run.state == RUNNING:
            kill: JSON = {"task_id": {"value": task_id}}
            if kill_policy:
                kill["kill_policy"] = kill_policy
            self._send(run, {"type": "KILL", "kill": kill})

    def acknowledge(self, framework_id: str, task_id: str, status_uuid: str) -> None:
        """The scheduler acknowledged ``status_uuid``: the task's next update may go."""
        with self.lock:
            task = self.tasks.get((framework_id, task_id))
            if task is not None and task.pending and task.pending[0].get("uuid") == status_uuid:
                task.pending.popleft()
                if task.pending:
                    self._tell_master("agent_status_update", framework_id, dict(task.pending[0]))
                elif task.terminal:
                    del self.tasks[(framework_id, task_id)]
        self.flush()

    def framework_message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None:
        """A scheduler's MESSAGE: a MESSAGE event to a subscribed executor; dropped otherwise (as Mesos)."""
        with self.lock:
            run = self.executors.get((framework_id, agent_id, executor_id))
            if run is not None and run.state == RUNNING:
                self._send(run, {"type": "MESSAGE", "message": {"data": data}})
                self.lock.notify_all()

    def shutdown_framework(self, framework_id: str) -> None:
        """The framework is gone (teardown, failover timeout): its executors and tasks end, unreported."""
        with self.lock:
            self.terminating_frameworks.add(framework_id)
            for run in list(self.executors.values()):
                if run.framework_id == framework_id:
                    self._shutdown_executor(run)
            for task in list(self.tasks.values()):
                if task.framework_id == framework_id and task.command and task.process is not None:
                    task.killed = True
                    self.processes.terminate(task.process, COMMAND_KILL_GRACE_PERIOD)
            self.lock.notify_all()
        self.flush()

    def _shutdown_executor(self, run: ExecutorRun) -> None:
        if run.state in (TERMINATING, TERMINATED):
            return
        run.state = TERMINATING
        self._send(run, {"type": "SHUTDOWN"})
        process = run.process
        if process is not None:
            grace = grace_seconds(run.info.get("shutdown_grace_period"))
            delay = self.shutdown_grace_period if grace is None else grace
            self._schedule(delay, functools.partial(self.processes.kill, process))

    # -- from the executor (HTTP threads) ------------------------------------------------------

    def executor_run(self, framework_id: str, executor_id: str) -> Optional[ExecutorRun]:
        """The executor a call names (the latest run, on any of the agents this fake serves)."""
        found = [run for key, run in self.executors.items() if key[0] == framework_id and key[2] == executor_id]
        return found[-1] if found else None

    def subscribe(self, run: ExecutorRun, stream: EventStream, subscribe: JSON) -> None:
        """``Slave::subscribe``; call with the lock held."""
        if run.state in (TERMINATING, TERMINATED) or run.framework_id in self.terminating_frameworks:
            stream.push({"type": "SHUTDOWN"})
            stream.finish()
            return
        if run.stream is not None:
            run.stream.finish()  # an earlier connection is closed
        run.state = RUNNING
        run.stream = stream
        stream.framework_id = run.framework_id
        for update in subscribe.get("unacknowledged_updates") or []:
            status = update.get("status") if isinstance(update, dict) else None
            if isinstance(status, dict):
                self.update(run, status)
        if not run.ever_sent and not run.queued:  # MESOS-8411
            self._shutdown_executor(run)
            return
        subscribed = {
            "executor_info": run.info,
            "framework_info": run.framework_info,
            "agent_info": run.agent_info,
            "container_id": {"value": run.container_id},
        }
        stream.push({"type": "SUBSCRIBED", "subscribed": subscribed})
        queued, run.queued = run.queued, []
        for payload in queued:
            self._deliver(run, payload)

    def update(self, run: ExecutorRun, status: JSON) -> None:
        """An executor's UPDATE (validated): to the master, then ACKNOWLEDGED. Call with the lock held.

        (unverified) The agent fills in ``agent_id`` and, when missing, ``executor_id``.
        """
        task_id = str(id_of(status, "task_id"))
        status = dict(status)
        status["agent_id"] = {"value": run.agent_id}
        status.setdefault("executor_id", {"value": run.executor_id})
        task = self.tasks.get((run.framework_id, task_id))
        if task is None:
            task = TaskRun(run.framework_id, run.agent_id, task_id, run.executor_id, {})
            self.tasks[(run.framework_id, task_id)] = task
        if not any(p.get("uuid") == status.get("uuid") for p in task.pending):
            self._forward(task, status)
        ack = {"task_id": status["task_id"], "uuid": status.get("uuid")}
        self._send(run, {"type": "ACKNOWLEDGED", "acknowledged": ack})

    def executor_message(self, run: ExecutorRun, data: str) -> None:
        self.messages.append({"framework_id": run.framework_id, "executor_id": run.executor_id, "data": data})
        self._tell_master("agent_executor_message", run.framework_id, run.agent_id, run.executor_id, data)

    # -- processes ending (waiter threads) -------------------------------------------------------

    def _exited(self, process: ManagedProcess) -> None:
        with self.lock:
            owner = self._owners.pop(process.pid, None)
            if isinstance(owner, TaskRun):
                self._command_exited(owner, process)
            elif isinstance(owner, ExecutorRun):
                self._executor_exited(owner, process)
            self.lock.notify_all()
        self.flush()

    def _command_exited(self, task: TaskRun, process: ManagedProcess) -> None:
        if task.terminal:
            return
        if task.killed:
            state = "TASK_KILLED"
        elif process.returncode == 0:
            state = "TASK_FINISHED"
        else:
            state = "TASK_FAILED"
        self._forward(task, self._status(task, state, SOURCE_EXECUTOR, message="Command " + process.wait_status_text()))

    def _executor_exited(self, run: ExecutorRun, process: ManagedProcess) -> None:
        run.state = TERMINATED
        if run.stream is not None:
            run.stream.finish()
        terminating = run.framework_id in self.terminating_frameworks
        run.queued = []  # their tasks are among the unfinished ones below
        if not terminating:
            for task in self.tasks.values():
                if task.framework_id == run.framework_id and task.executor_id == run.executor_id and not task.terminal:
                    if task.command:
                        continue
                    status = self._status(
                        task,
                        "TASK_FAILED",
                        SOURCE_SLAVE,
                        reason="REASON_EXECUTOR_TERMINATED",
                        message="Executor terminated",
                    )
                    self._forward(task, status)
            wait_status = _wait_status(process.returncode)
            self._tell_master("agent_executor_exited", run.framework_id, run.agent_id, run.executor_id, wait_status)

    # -- life cycle ------------------------------------------------------------------------------

    def end_all(self, grace: float, *, final: bool) -> None:
        """Shut every executor down, kill and reap every process, forget everything; sandboxes go."""
        with self.lock:
            for run in self.executors.values():
                if run.state not in (TERMINATING, TERMINATED):
                    run.state = TERMINATING
                    self._send(run, {"type": "SHUTDOWN"})
            self.terminating_frameworks.update(run.framework_id for run in self.executors.values())
            self.terminating_frameworks.update(task.framework_id for task in self.tasks.values())
            self.lock.notify_all()
        self.processes.stop(grace, final=final)
        with self.lock:
            for run in self.executors.values():
                if run.stream is not None:
                    run.stream.finish()
            self.executors.clear()
            self.tasks.clear()
            self.messages.clear()
            self._owners.clear()
            self._outbox.clear()
            self.terminating_frameworks.clear()
            self.lock.notify_all()
        shutil.rmtree(self.sandbox_root, ignore_errors=True)


def _wait_status(returncode: Optional[int]) -> int:
    """A Popen return code as the raw wait(2) status Mesos reports (exit code << 8, or the signal)."""
    if returncode is None:
        return -1
    return (returncode & 0xFF) << 8 if returncode >= 0 else -returncode
