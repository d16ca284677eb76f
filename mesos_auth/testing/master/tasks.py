"""Tasks on the fake master: ACCEPT and its launches, executors, task states, KILL,
ACKNOWLEDGE, RECONCILE and MESSAGE.

ACCEPT follows ``Master::accept`` and ``Master::_accept`` (``src/master/master.cpp``):

1. the offers are validated (``validation.offers_error``); if they fail, every offer
   the master still has is discarded (no filter) and each task gets TASK_LOST
   (TASK_DROPPED when PARTITION_AWARE), REASON_INVALID_OFFERS, "Task launched with
   invalid offers: <error>";
2. the resources of every operation are checked before any launch
   (``validateAndUpgradeResources``); a failing LAUNCH gives each of its tasks
   TASK_ERROR REASON_TASK_INVALID, a failing LAUNCH_GROUP REASON_TASK_GROUP_INVALID;
   so does an operation with an ``id`` (1.5+, the release's text, ``operations``),
   and other operations with an ``id`` are dropped where the release does;
3. a LAUNCH executor without ``framework_id`` gets the framework's; a task of a
   LAUNCH_GROUP without ``executor`` gets the group's;
4. the offers are used up; the operations run in order. Each task of a LAUNCH is
   authorized (``authorization``: refused, TASK_ERROR REASON_TASK_UNAUTHORIZED and
   its resources stay unused), then validated on its own against what is left
   (TASK_ERROR, REASON_TASK_INVALID, Mesos' text as the message); a task group is
   authorized task by task (any refused: every task TASK_ERROR
   REASON_TASK_GROUP_UNAUTHORIZED), then validated as a whole (REASON_TASK_GROUP_INVALID);
   RESERVE, UNRESERVE, CREATE and DESTROY are authorized and dropped when refused
   (``operations``);
5. an executor new on the agent is added and its resources charged once, with
   the first task that names it; the tasks are added (TASK_STAGING);
6. what is left goes back with the ACCEPT's ``filters`` (``recoverResources``),
   offered again at the next batch allocation.

Master-made updates carry SOURCE_MASTER and no uuid, so nothing acknowledges them.

(unverified) Simulated tasks (the default) run no executor: an executor ends, and
its resources come back, when its last task is terminal, as the agent reports a
default executor that exits after its tasks; a custom executor may live longer on
a real cluster. With a task runner (``Model.runner``, a ``FakeAgent`` with real
processes) the agent gets each task (``_hand_to_agent``), KILL, ACKNOWLEDGE of its
updates, MESSAGE and a removed framework's shutdown; its updates come back through
``agent_update`` with the executor's uuid, an executor's exit as a FAILURE event.
Operations other than LAUNCH and LAUNCH_GROUP are recorded and otherwise ignored
once authorized (``operations``).
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Dict, List, Optional, Sequence

from mesos_auth.testing.master import events
from mesos_auth.testing.master.allocator import Allocator
from mesos_auth.testing.master.authorization import MasterAuthorizer
from mesos_auth.testing.master.calls import as_list, field_of, id_value, operation_tasks
from mesos_auth.testing.master.model import ExecutorState, FrameworkState, Model, TaskState
from mesos_auth.testing.master.operations import LAUNCHES, Operations
from mesos_auth.testing.master.resources import Resources
from mesos_auth.testing.master.validation import (
    LaunchContext,
    offer_id_list,
    offers_error,
    operation_resources_error,
    task_error,
    task_group_error,
)
from mesos_auth.testing.master.versions import MesosRelease

JSON = Dict[str, Any]


def _task_id(task: JSON) -> str:
    """The task's id as given, empty included (``id_value`` treats "" as absent)."""
    value = field_of(task, "task_id", "value")
    return value if isinstance(value, str) else ""


def _invalid_reason(operation: JSON) -> str:
    return "REASON_TASK_GROUP_INVALID" if operation.get("type") == "LAUNCH_GROUP" else "REASON_TASK_INVALID"


class Tasks:
    """The task side of one fake master. Call with the master's lock held."""

    def __init__(
        self,
        model: Model,
        allocator: Allocator,
        *,
        release: MesosRelease,
        task_states: Sequence[str],
        task_state_delay: float,
        authorizer: MasterAuthorizer,
    ) -> None:
        self._model = model
        self._allocator = allocator
        self._release = release
        self._authorizer = authorizer
        self._operations = Operations(model, release, authorizer)
        self._task_states = tuple(task_states)
        self._task_state_delay = float(task_state_delay)

    # -- ACCEPT --------------------------------------------------------------------------

    def accept(self, framework: FrameworkState, accept: JSON) -> None:
        model = self._model
        offer_ids = offer_id_list(accept)
        operations = [op for op in as_list(accept.get("operations")) if isinstance(op, dict)]
        known = {oid: (offer.framework_id, offer.agent_id) for oid, offer in model.offers.items()}
        error = offers_error(offer_ids, known, framework.framework_id)
        if error is not None:
            self._invalid_offers(framework, offer_ids, operations, error)
            return
        operations = self._valid_operations(framework, operations)
        offers = [model.offers[offer_id] for offer_id in dict.fromkeys(offer_ids)]
        agent_id = offers[0].agent_id
        available = Resources()
        for offer in offers:
            available = available + self._allocator.take_offer(offer)
        launched: List[TaskState] = []
        groups: List[List[TaskState]] = []
        for operation in operations:
            if operation.get("type") == "LAUNCH":
                available = self._launch(framework, agent_id, operation, available, launched)
            elif operation.get("type") == "LAUNCH_GROUP":
                before = len(launched)
                available = self._launch_group(framework, agent_id, operation, available, launched)
                if len(launched) > before:
                    groups.append(launched[before:])
            else:
                self._operations.apply(framework, operation)
        # The unused rest goes back before any task reports, as on a real cluster
        # where agents answer long after the master handled the ACCEPT.
        refuse = self._allocator.refuse_seconds(accept.get("filters"))
        self._allocator.recover(framework, agent_id, available, refuse)
        if self._model.runner is not None:
            self._hand_to_agent(framework, agent_id, launched, groups)
            return
        for started in launched:
            self._run_states(started)

    def _hand_to_agent(
        self, framework: FrameworkState, agent_id: str, launched: List[TaskState], groups: List[List[TaskState]]
    ) -> None:
        """The agent runs the tasks (``Model.runner``): each LAUNCH task, each task group whole."""
        runner = self._model.runner
        if runner is None:  # pragma: no cover - checked by the caller
            return
        agent = self._model.agents[agent_id]
        agent_info: JSON = {"id": events.value(agent_id), "hostname": agent.hostname}
        grouped = {id(task) for group in groups for task in group}
        for task in launched:
            if id(task) not in grouped:
                executor = task.info.get("executor")
                runner.launch(framework.info, agent_info, task.info, executor if isinstance(executor, dict) else None)
        for group in groups:
            executor = group[0].info.get("executor")
            infos = [task.info for task in group]
            runner.launch_group(framework.info, agent_info, infos, executor if isinstance(executor, dict) else {})

    def _invalid_offers(
        self, framework: FrameworkState, offer_ids: List[str], operations: List[JSON], error: str
    ) -> None:
        for offer_id in offer_ids:
            offer = self._model.offers.get(offer_id)
            if offer is not None:
                self._allocator.discard_offer(offer)
        state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
        message = "Task launched with invalid offers: " + error
        for operation in operations:
            if operation.get("type") not in LAUNCHES:
                self._model.ignored_operations.append(dict(operation))
                continue
            for task in operation_tasks(operation):
                agent_id = id_value(task, "agent_id")
                self._master_update(framework, _task_id(task), state, agent_id, "REASON_INVALID_OFFERS", message)

    def _valid_operations(self, framework: FrameworkState, operations: List[JSON]) -> List[JSON]:
        """Steps 2 and 3: refuse operations with bad resources or an ``id``; fill in executors."""
        kept: List[JSON] = []
        for operation in operations:
            kind = operation.get("type")
            if kind not in LAUNCHES:
                dropped = self._operations.id_error(operation)
                if dropped is None:
                    kept.append(operation)
                else:
                    self._operations.drop(framework, operation, dropped)
                continue
            error = operation_resources_error(operation) or self._operations.id_error(operation)
            if error is not None:
                for task in operation_tasks(operation):
                    self._refuse_task(framework, task, error, _invalid_reason(operation))
                continue
            operation = copy.deepcopy(operation)
            if kind == "LAUNCH":
                for task in operation_tasks(operation):
                    executor = task.get("executor")
                    if isinstance(executor, dict) and "framework_id" not in executor:
                        executor["framework_id"] = events.value(framework.framework_id)
            else:
                executor = field_of(operation, "launch_group", "executor")
                for task in operation_tasks(operation):
                    if "executor" not in task and isinstance(executor, dict):
                        task["executor"] = copy.deepcopy(executor)
            kept.append(operation)
        return kept

    def _context(self, framework: FrameworkState, agent_id: str, available: Resources) -> LaunchContext:
        return LaunchContext(
            framework_id=framework.framework_id,
            agent_id=agent_id,
            role=framework.allocation_role,
            available=available,
            release=self._release,
            live_task_ids={task.task_id for task in self._model.framework_tasks(framework) if not task.completed},
            executors=self._model.agent_executors(framework.framework_id, agent_id),
        )

    def _launch(
        self, framework: FrameworkState, agent_id: str, operation: JSON, available: Resources, launched: List[TaskState]
    ) -> Resources:
        """One LAUNCH: each task authorized, then valid or not, on its own; returns what is left."""
        for task in operation_tasks(operation):
            refusal = self._authorizer.launch_refusal(framework.info, task)
            if refusal is not None:
                self._refuse_task(framework, task, refusal, "REASON_TASK_UNAUTHORIZED")
                continue
            error = task_error(task, self._context(framework, agent_id, available))
            if error is not None:
                self._refuse_task(framework, task, error, "REASON_TASK_INVALID")
                continue
            executor = task.get("executor")
            consumed = self._add_executor(framework, agent_id, executor) if isinstance(executor, dict) else Resources()
            launched.append(self._add_task(framework, agent_id, task))
            available = available - (consumed + launched[-1].resources)
        return available

    def _launch_group(
        self, framework: FrameworkState, agent_id: str, operation: JSON, available: Resources, launched: List[TaskState]
    ) -> Resources:
        """One LAUNCH_GROUP: all tasks or none, authorized then valid; returns what is left."""
        tasks = operation_tasks(operation)
        executor = field_of(operation, "launch_group", "executor")
        executor = executor if isinstance(executor, dict) else {}
        reason = "REASON_TASK_GROUP_UNAUTHORIZED"
        error = self._authorizer.launch_group_refusal(framework.info, tasks)
        if error is None:
            reason = "REASON_TASK_GROUP_INVALID"
            error = task_group_error(tasks, executor, self._context(framework, agent_id, available))
        if error is not None:
            for task in tasks:
                self._refuse_task(framework, task, error, reason)
            return available
        consumed = self._add_executor(framework, agent_id, executor)
        for task in tasks:
            launched.append(self._add_task(framework, agent_id, task))
            consumed = consumed + launched[-1].resources
        return available - consumed

    def _add_executor(self, framework: FrameworkState, agent_id: str, info: JSON) -> Resources:
        """``Master::addExecutor`` for an executor new on the agent: its resources, else nothing."""
        executor_id = str(id_value(info, "executor_id"))
        key = (framework.framework_id, agent_id, executor_id)
        if key in self._model.executors:
            return Resources()
        resources = Resources.from_json(as_list(info.get("resources")))
        self._model.executors[key] = ExecutorState(executor_id, framework.framework_id, agent_id, info, resources)
        return resources

    def _add_task(self, framework: FrameworkState, agent_id: str, task: JSON) -> TaskState:
        executor_id = id_value(task.get("executor"), "executor_id")
        need = Resources.from_json(as_list(task.get("resources")))
        record = TaskState(str(id_value(task, "task_id")), framework.framework_id, agent_id, need, executor_id)
        record.info = dict(task)
        record.info["agent_id"] = events.value(agent_id)
        self._model.tasks[(framework.framework_id, record.task_id)] = record
        if executor_id is not None:
            self._model.executors[(framework.framework_id, agent_id, executor_id)].task_ids.add(record.task_id)
        return record

    def _refuse_task(self, framework: FrameworkState, task: JSON, error: str, reason: str) -> None:
        task_id = _task_id(task)
        agent_id = id_value(task, "agent_id")
        key = (framework.framework_id, task_id)
        existing = self._model.tasks.get(key)
        if existing is None or existing.completed:  # a duplicate id keeps the live task's record
            record = TaskState(task_id, framework.framework_id, agent_id or "", Resources())
            record.states.append("TASK_ERROR")
            record.completed = True
            self._model.tasks[key] = record
        self._master_update(framework, task_id, "TASK_ERROR", agent_id, reason, error)

    # -- task states ------------------------------------------------------------------------

    def _run_states(self, task: TaskState) -> None:
        """Run the configured state sequence: at once, or the first at once and then one every delay.

        (unverified) Real agents send a task's next update only after the previous
        one was acknowledged; the fake sends the whole sequence regardless, keeping
        every unacknowledged update for the resend after a re-subscription.
        """
        for index, state in enumerate(self._task_states):
            if self._task_state_delay <= 0 or index == 0:
                self._progress(task, state)
            else:
                self._model.later(index * self._task_state_delay, functools.partial(self._progress, task, state))

    def resume(self, task: TaskState) -> None:
        """Go on with the state sequence of a task a new leader recovered (``recovery.py``):
        its agent kept running it, so the states not reported yet follow, one every delay."""
        done = len(task.states) - 1  # TASK_STAGING is the master's own first state
        for index, state in enumerate(self._task_states[done:], start=1):
            if self._task_state_delay <= 0:
                self._progress(task, state)
            else:
                self._model.later(index * self._task_state_delay, functools.partial(self._progress, task, state))

    def _progress(self, task: TaskState, state: str) -> None:
        """An agent reports a new state: an UPDATE with a uuid, kept until acknowledged."""
        if task.terminal or task.completed:
            return  # killed meanwhile: the rest of the sequence never happens
        framework = self._model.frameworks[task.framework_id]
        task.states.append(state)
        uuid = events.new_status_uuid()
        status = events.task_status(
            task.task_id, state, task.agent_id, source=events.SOURCE_EXECUTOR, uuid=uuid, executor_id=task.executor_id
        )
        task.unacked[uuid] = status
        self._model.emit(framework, events.update(status))
        if task.terminal:
            self.free(task)

    def free(self, task: TaskState) -> None:
        """A terminal task's resources go back (offered at the next batch); its executor
        ends with its last live task (unverified, see the module text)."""
        self._allocator.recover(None, task.agent_id, task.resources)
        task.resources = Resources()
        if task.executor_id is None:
            return
        key = (task.framework_id, task.agent_id, task.executor_id)
        executor = self._model.executors.get(key)
        if executor is None:
            return
        live = [t for t in executor.task_ids if not self._model.tasks[(task.framework_id, t)].terminal]
        if not live:
            del self._model.executors[key]
            self._allocator.recover(None, executor.agent_id, executor.resources)

    def kill_all(self, framework: FrameworkState) -> None:
        """A removed framework's tasks end without updates (no one is left to tell);
        TASK_KILLED is still added to their history for the records. An agent with real
        executors shuts the framework's executors down."""
        if self._model.runner is not None:
            self._model.runner.shutdown_framework(framework.framework_id)
        for task in self._model.framework_tasks(framework):
            if not task.terminal:
                task.states.append("TASK_KILLED")
                self.free(task)
            task.unacked.clear()
            task.completed = True

    def _master_update(
        self, framework: FrameworkState, task_id: str, state: str, agent_id: Optional[str], reason: str, message: str
    ) -> None:
        """An update the master makes itself: no uuid, so nothing to acknowledge."""
        status = events.task_status(
            task_id, state, agent_id, source=events.SOURCE_MASTER, reason=reason, message=message
        )
        self._model.emit(framework, events.update(status))

    # -- the other calls -----------------------------------------------------------------------

    def kill(self, framework: FrameworkState, kill: JSON) -> None:
        """TASK_KILLED from the agent for a live task; an unknown task is reconciled (as Mesos)."""
        task_id = str(id_value(kill, "task_id"))
        task = self._model.tasks.get((framework.framework_id, task_id))
        if task is None or task.completed:
            self.reconcile(framework, {"tasks": [{"task_id": kill["task_id"], "agent_id": kill.get("agent_id")}]})
        elif not task.terminal and self._model.runner is not None:
            policy = kill.get("kill_policy")
            self._model.runner.kill(framework.framework_id, task_id, policy if isinstance(policy, dict) else None)
        elif not task.terminal:
            self._progress(task, "TASK_KILLED")
        # (unverified) A terminal task that still awaits its acknowledgement: no update.

    def acknowledge(self, framework: FrameworkState, acknowledge: JSON) -> bool:
        """Drop an update from the resend list; a terminal, fully acknowledged task is forgotten."""
        task = self._model.tasks.get((framework.framework_id, str(id_value(acknowledge, "task_id"))))
        uuid = acknowledge.get("uuid")
        if task is None or uuid not in task.unacked:
            return False  # Mesos answers 202 all the same
        status = task.unacked.pop(uuid)
        if task.terminal and not task.unacked:
            task.completed = True
        if self._model.runner is not None and status.get("source") != events.SOURCE_MASTER:
            self._model.runner.acknowledge(framework.framework_id, task.task_id, str(uuid))
        return True

    def reconcile(self, framework: FrameworkState, reconcile: JSON) -> None:
        """Explicit (named tasks) or implicit (empty list: every task the master knows).

        Known task: its latest state. Unknown task on a known agent: TASK_LOST
        (TASK_GONE if PARTITION_AWARE), "Reconciliation: Task is unknown to the
        agent". Otherwise TASK_LOST (TASK_UNKNOWN), "Reconciliation: Task is unknown".
        All made by the master: SOURCE_MASTER, REASON_RECONCILIATION, no uuid.
        """
        entries = [entry for entry in as_list(reconcile.get("tasks")) if isinstance(entry, dict)]
        reason = "REASON_RECONCILIATION"
        latest = "Reconciliation: Latest task state"
        if not entries:
            for task in self._model.framework_tasks(framework):
                if not task.completed:
                    self._master_update(framework, task.task_id, task.state, task.agent_id, reason, latest)
            return
        for entry in entries:
            task_id = str(id_value(entry, "task_id"))
            agent_id = id_value(entry, "agent_id")
            known = self._model.tasks.get((framework.framework_id, task_id))
            if known is not None and not known.completed:
                self._master_update(framework, task_id, known.state, known.agent_id, reason, latest)
            elif agent_id is not None and agent_id in self._model.agents:
                state = "TASK_GONE" if framework.partition_aware else "TASK_LOST"
                message = "Reconciliation: Task is unknown to the agent"
                self._master_update(framework, task_id, state, agent_id, reason, message)
            else:
                state = "TASK_UNKNOWN" if framework.partition_aware else "TASK_LOST"
                self._master_update(framework, task_id, state, agent_id, reason, "Reconciliation: Task is unknown")

    def message(self, framework: FrameworkState, message: JSON) -> None:
        """Framework-to-executor messages are kept for tests to read; an agent with real
        executors (``Model.runner``) also delivers them."""
        self._model.messages.append({"framework_id": framework.framework_id, **message})
        agent_id, executor_id = id_value(message, "agent_id"), id_value(message, "executor_id")
        data = message.get("data")
        if self._model.runner is not None and agent_id and executor_id and isinstance(data, str):
            self._model.runner.message(framework.framework_id, agent_id, executor_id, data)

    # -- what the agent reports (a runner's processes) --------------------------------------------

    def agent_update(self, framework_id: str, status: JSON) -> bool:
        """A status update from the agent: the scheduler gets it with the agent's uuid, kept until
        acknowledged; a terminal one frees the task's resources. False when the task is unknown."""
        task = self._model.tasks.get((framework_id, str(id_value(status, "task_id"))))
        framework = self._model.frameworks.get(framework_id)
        if task is None or framework is None or task.completed or task.terminal:
            return False
        task.states.append(str(status.get("state")))
        uuid = status.get("uuid")
        if isinstance(uuid, str):
            task.unacked[uuid] = status
        self._model.emit(framework, events.update(status))
        if task.terminal:
            self.free(task)
        return True

    def agent_executor_message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None:
        """An executor's MESSAGE: the scheduler's MESSAGE event (``Master::executorMessage``)."""
        framework = self._model.framework(framework_id)
        if framework is not None:
            message = {"agent_id": events.value(agent_id), "executor_id": events.value(executor_id), "data": data}
            self._model.emit(framework, {"type": "MESSAGE", "message": message})

    def agent_executor_exited(self, framework_id: str, agent_id: str, executor_id: str, status: int) -> None:
        """A custom executor ended: a FAILURE event (``Master::exitedExecutor``) and its resources back."""
        key = (framework_id, agent_id, executor_id)
        executor = self._model.executors.pop(key, None)
        if executor is not None:
            self._allocator.recover(None, agent_id, executor.resources)
        framework = self._model.framework(framework_id)
        if framework is not None:
            failure = {"agent_id": events.value(agent_id), "executor_id": events.value(executor_id), "status": status}
            self._model.emit(framework, {"type": "FAILURE", "failure": failure})
