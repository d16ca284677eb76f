"""The fake master's cluster model: frameworks, agents, offers, tasks and their events.

Nothing here touches HTTP or threads: the master calls these methods with its lock
held, and they put events on the frameworks' :class:`EventStream` queues, which the
master's stream loops write out. Timed work (offer filters, failover timeouts,
spaced task updates) goes through the ``schedule`` callable the master provides.

What follows Mesos (``src/master/master.cpp``) and what is chosen where no public
source settles it is said method by method; choices are marked "(unverified)".
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from mesos_auth.testing.master import events
from mesos_auth.testing.master.calls import as_list, field_of, id_value, operation_tasks, value_of
from mesos_auth.testing.master.records import AgentRecord, FrameworkRecord, OfferRecord, TaskRecord
from mesos_auth.testing.master.resources import Agent, AgentSpec, RefuseFilter, Resources
from mesos_auth.testing.master.streams import EventStream

JSON = Dict[str, Any]
Action = Callable[[], None]

SUBSCRIBED = "subscribed"
DISCONNECTED = "disconnected"
REMOVED = "removed"
TORN_DOWN = "torn_down"

#: Mesos caps ``refuse_seconds`` at a year (``Filters`` handling in the allocator).
_MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


# -- internal state ------------------------------------------------------------------


def framework_roles(info: Mapping[str, Any]) -> Tuple[str, ...]:
    """The roles a framework registers with: ``roles`` (MULTI_ROLE) or ``role``, default ``*``."""
    roles = info.get("roles")
    if isinstance(roles, list) and roles:
        return tuple(str(role) for role in roles)
    role = info.get("role")
    return (str(role),) if isinstance(role, str) and role else ("*",)


def _has_capability(info: Mapping[str, Any], name: str) -> bool:
    capabilities = info.get("capabilities")
    if not isinstance(capabilities, list):
        return False
    return any(isinstance(c, dict) and c.get("type") == name for c in capabilities)


class FrameworkState:
    """A framework as the cluster keeps it (the master hands out FrameworkRecord copies)."""

    def __init__(self, framework_id: str, info: JSON, authenticated_as: Optional[str]) -> None:
        self.framework_id = framework_id
        self.info: JSON = {}
        self.authenticated_as = authenticated_as
        self.state = SUBSCRIBED
        self.stream: Optional[EventStream] = None
        self.subscribe_count = 0
        self.suppressed = False
        self.filters: List[RefuseFilter] = []
        self.offer_ids: Set[str] = set()
        self.epoch = 0
        self.set_info(info)

    def set_info(self, info: JSON) -> None:
        self.info = dict(info)
        self.info["id"] = events.value(self.framework_id)

    @property
    def principal(self) -> Optional[str]:
        principal = self.info.get("principal")
        return principal if isinstance(principal, str) and principal else None

    @property
    def roles(self) -> Tuple[str, ...]:
        return framework_roles(self.info)

    @property
    def partition_aware(self) -> bool:
        return _has_capability(self.info, "PARTITION_AWARE")

    @property
    def multi_role(self) -> bool:
        return _has_capability(self.info, "MULTI_ROLE")

    @property
    def active(self) -> bool:
        return self.state in (SUBSCRIBED, DISCONNECTED)


@dataclass
class _Offer:
    offer_id: str
    framework_id: str
    agent_id: str
    resources: Resources


class _Task:
    def __init__(self, task_id: str, framework_id: str, agent_id: str, resources: Resources) -> None:
        self.task_id = task_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
        self.states: List[str] = ["TASK_STAGING"]
        self.unacked: Dict[str, JSON] = {}  # uuid -> status, in the order sent
        self.completed = False  # terminal and acknowledged: the master forgot it

    @property
    def state(self) -> str:
        return self.states[-1]

    @property
    def terminal(self) -> bool:
        return self.state in events.TERMINAL_STATES


# -- the model -------------------------------------------------------------------------


class Cluster:
    """Frameworks, agents, offers and tasks of one fake master. Call with the lock held."""

    def __init__(
        self,
        *,
        master_id: str,
        agents: Sequence[AgentSpec],
        task_states: Sequence[str],
        task_state_delay: float,
        failover_timeout: Optional[float],
        offer_refuse_seconds: float,
        heartbeat_interval: float,
        clock: Callable[[], float],
        schedule: Callable[[float, Action], None],
    ) -> None:
        self.master_id = master_id
        self._task_states = tuple(task_states)
        self._task_state_delay = float(task_state_delay)
        self._failover_timeout = failover_timeout
        self._offer_refuse_seconds = float(offer_refuse_seconds)
        self._heartbeat_interval = float(heartbeat_interval)
        self._clock = clock
        self._schedule = schedule
        self._agents: Dict[str, Agent] = {}
        for index, spec in enumerate(agents):
            agent_id = f"{master_id}-S{index}"
            hostname = spec.hostname or f"agent-{index}.fake-mesos"
            self._agents[agent_id] = Agent(agent_id, hostname, spec.resources())
        self._frameworks: Dict[str, FrameworkState] = {}
        self._offers: Dict[str, _Offer] = {}
        self._tasks: Dict[Tuple[str, str], _Task] = {}
        self.messages: List[JSON] = []
        self.ignored_operations: List[JSON] = []
        self._framework_numbers = itertools.count()
        self._offer_numbers = itertools.count()
        self._epoch = 0

    # -- plumbing ---------------------------------------------------------------

    def _later(self, delay: float, action: Action) -> None:
        """Schedule ``action``, unless a reset happens first."""
        epoch = self._epoch

        def guarded() -> None:
            if self._epoch == epoch:
                action()

        self._schedule(delay, guarded)

    @staticmethod
    def _emit(framework: FrameworkState, event: JSON) -> None:
        if framework.stream is not None:
            framework.stream.push(event)

    def reset(self) -> None:
        """Forget frameworks, offers and tasks; give agents all their resources back."""
        self._epoch += 1
        for framework in self._frameworks.values():
            if framework.stream is not None:
                framework.stream.finish()
        self._frameworks.clear()
        self._offers.clear()
        self._tasks.clear()
        self.messages.clear()
        self.ignored_operations.clear()
        for agent in self._agents.values():
            agent.restore()

    def framework(self, framework_id: Optional[str]) -> Optional[FrameworkState]:
        """An active (subscribed or disconnected) framework; removed ones are not found."""
        framework = self._frameworks.get(framework_id or "")
        return framework if framework is not None and framework.active else None

    def framework_tasks(self, framework: FrameworkState) -> Iterator[_Task]:
        return (task for (fid, _), task in self._tasks.items() if fid == framework.framework_id)

    # -- subscription ------------------------------------------------------------

    def removed_error(self, framework_id: Optional[str]) -> Optional[str]:
        """Mesos refuses to bring back a framework it removed (failover timeout or teardown)."""
        framework = self._frameworks.get(framework_id or "")
        if framework is not None and not framework.active:
            return "Framework has been removed"
        return None

    def principal_change_error(self, framework_id: Optional[str], info: Mapping[str, Any]) -> Optional[str]:
        framework = self.framework(framework_id)
        declared = info.get("principal") or None
        if framework is not None and framework.principal != declared:
            return "Changing framework's principal is not allowed."
        return None

    def subscribe(
        self,
        stream: EventStream,
        info: JSON,
        framework_id: Optional[str],
        authenticated_as: Optional[str],
        master_info: JSON,
        suppressed: bool = False,
    ) -> None:
        """Register a new framework or resume a known one on ``stream``.

        Resuming (Mesos ``failoverFramework``): the old stream, if still open, gets
        ERROR "Framework failed over" and ends; the framework's outstanding offers
        go back to the pool; unacknowledged status updates are sent again on the
        new stream, after SUBSCRIBED and the first HEARTBEAT. An id the master never
        saw is taken as it is, as a master does after its own failover.
        """
        framework = self._frameworks.get(framework_id or "")
        if framework is None:
            new_id = framework_id or f"{self.master_id}-{next(self._framework_numbers):04d}"
            framework = FrameworkState(new_id, info, authenticated_as)
            self._frameworks[new_id] = framework
        else:
            old = framework.stream
            if old is not None:
                old.push(events.error("Framework failed over"))
                old.finish()
            self._return_offers(framework)
            framework.set_info(info)
            framework.authenticated_as = authenticated_as
        framework.stream = stream
        framework.state = SUBSCRIBED
        framework.subscribe_count += 1
        framework.suppressed = suppressed
        framework.epoch += 1
        stream.framework_id = framework.framework_id
        stream.push(events.subscribed(framework.framework_id, self._heartbeat_interval, master_info))
        stream.push(events.heartbeat())
        for task in self.framework_tasks(framework):
            for status in task.unacked.values():
                stream.push(events.update(status))
        self.allocate()

    def stream_lost(self, stream: EventStream) -> None:
        """The connection of a framework's current stream went away: start its failover timeout."""
        framework = self._frameworks.get(stream.framework_id or "")
        if framework is None or framework.stream is not stream:
            return
        framework.stream = None
        framework.state = DISCONNECTED
        self._return_offers(framework)
        framework.epoch += 1
        epoch = framework.epoch
        self._later(self.failover_timeout_of(framework), lambda: self._failover_expired(framework, epoch))
        self.allocate()

    def failover_timeout_of(self, framework: FrameworkState) -> float:
        if self._failover_timeout is not None:
            return float(self._failover_timeout)
        try:
            return max(0.0, float(framework.info.get("failover_timeout", 0.0)))
        except (TypeError, ValueError):
            return 0.0

    def _failover_expired(self, framework: FrameworkState, epoch: int) -> None:
        if framework.state == DISCONNECTED and framework.epoch == epoch:
            self._remove(framework, REMOVED)

    def teardown(self, framework: FrameworkState) -> None:
        self._remove(framework, TORN_DOWN)

    def _remove(self, framework: FrameworkState, state: str) -> None:
        """End a framework for good: stream closed, offers back, tasks killed, resources freed.

        Its tasks are killed without updates (there is no one left to tell);
        TASK_KILLED is still added to their history for the records.
        """
        framework.state = state
        framework.epoch += 1
        if framework.stream is not None:
            framework.stream.finish()
            framework.stream = None
        self._return_offers(framework)
        for task in self.framework_tasks(framework):
            if not task.terminal:
                task.states.append("TASK_KILLED")
                self._free(task)
            task.unacked.clear()
            task.completed = True
        framework.filters.clear()
        self.allocate()

    # -- offers ----------------------------------------------------------------------

    def allocate(self) -> None:
        """Offer every agent's free resources to the first framework that takes offers.

        Frameworks are tried in registration order (unverified: Mesos' DRF sorter
        would pick the one with the smallest share). A framework's refuse filters
        and SUPPRESS keep it out. All free resources of an agent go in one offer.
        """
        now = self._clock()
        takers = [
            framework
            for framework in self._frameworks.values()
            if framework.state == SUBSCRIBED and framework.stream is not None and not framework.suppressed
        ]
        for framework in self._frameworks.values():
            framework.filters = [f for f in framework.filters if now < f.expires_at]
        batches: Dict[str, List[JSON]] = {}
        for agent in self._agents.values():
            if not agent.free.allocatable():
                continue
            for framework in takers:
                if any(f.blocks(agent.agent_id, agent.free, now) for f in framework.filters):
                    continue
                offer = self._new_offer(framework, agent)
                batches.setdefault(framework.framework_id, []).append(self._offer_json(framework, offer, agent))
                break
        for framework_id, offer_list in batches.items():
            self._emit(self._frameworks[framework_id], events.offers(offer_list))

    def _new_offer(self, framework: FrameworkState, agent: Agent) -> _Offer:
        offer_id = f"{self.master_id}-O{next(self._offer_numbers)}"
        offer = _Offer(offer_id, framework.framework_id, agent.agent_id, agent.free)
        agent.free = Resources()
        self._offers[offer_id] = offer
        framework.offer_ids.add(offer_id)
        return offer

    @staticmethod
    def _offer_json(framework: FrameworkState, offer: _Offer, agent: Agent) -> JSON:
        resources = offer.resources.to_json()
        body: JSON = {
            "id": events.value(offer.offer_id),
            "framework_id": events.value(offer.framework_id),
            "agent_id": events.value(offer.agent_id),
            "hostname": agent.hostname,
            "resources": resources,
        }
        if framework.multi_role:
            allocation = {"role": framework.roles[0]}
            body["allocation_info"] = allocation
            for resource in resources:
                resource["allocation_info"] = dict(allocation)
        return body

    def _recover_offer(self, framework: FrameworkState, offer: _Offer, refuse_seconds: float = 0.0) -> None:
        self._offers.pop(offer.offer_id, None)
        framework.offer_ids.discard(offer.offer_id)
        self._give_back(framework, offer.agent_id, offer.resources, refuse_seconds)

    def _give_back(self, framework: FrameworkState, agent_id: str, resources: Resources, refuse_seconds: float) -> None:
        """Return resources to an agent; with ``refuse_seconds`` > 0, filter them for this framework."""
        if resources.is_empty():
            return
        self._agents[agent_id].free = self._agents[agent_id].free + resources
        if refuse_seconds > 0:
            seconds = min(refuse_seconds, _MAX_REFUSE_SECONDS)
            framework.filters.append(RefuseFilter(agent_id, resources, self._clock() + seconds))
            self._later(seconds, self.allocate)

    def _return_offers(self, framework: FrameworkState) -> None:
        for offer_id in sorted(framework.offer_ids):
            offer = self._offers.get(offer_id)
            if offer is not None:
                self._recover_offer(framework, offer)
        framework.offer_ids.clear()

    def rescind_offers(self, framework_id: Optional[str] = None) -> int:
        """Take back outstanding offers (all, or one framework's), with RESCIND events."""
        count = 0
        for offer in list(self._offers.values()):
            if framework_id is not None and offer.framework_id != framework_id:
                continue
            framework = self._frameworks[offer.framework_id]
            self._emit(framework, events.rescind(offer.offer_id))
            self._recover_offer(framework, offer)
            count += 1
        return count

    def refuse_seconds(self, filters: Any) -> float:
        """``filters.refuse_seconds``; absent or negative: the default (Mesos: 5 s); 0: no filter."""
        if isinstance(filters, dict) and "refuse_seconds" in filters:
            try:
                seconds = float(filters["refuse_seconds"])
            except (TypeError, ValueError):
                return self._offer_refuse_seconds
            return seconds if seconds >= 0 else self._offer_refuse_seconds
        return self._offer_refuse_seconds

    def decline(self, framework: FrameworkState, decline: JSON) -> None:
        """Offers back to the pool, filtered for ``refuse_seconds``; unknown offers are ignored (as Mesos)."""
        refuse = self.refuse_seconds(decline.get("filters"))
        for offer_id in as_list(decline.get("offer_ids")):
            offer = self._offers.get(str(value_of(offer_id)))
            if offer is not None and offer.framework_id == framework.framework_id:
                self._recover_offer(framework, offer, refuse)
        self.allocate()

    def revive(self, framework: FrameworkState) -> None:
        """REVIVE clears the framework's filters and undoes SUPPRESS (Mesos does both)."""
        framework.filters.clear()
        framework.suppressed = False
        self.allocate()

    def suppress(self, framework: FrameworkState) -> None:
        """No new offers until REVIVE; offers already made stay valid (as in Mesos)."""
        framework.suppressed = True

    # -- accept and tasks --------------------------------------------------------------

    def _offers_error(self, framework: FrameworkState, offer_ids: List[str]) -> Optional[str]:
        """Mesos' offer validation for ACCEPT (wording close to Mesos', unverified)."""
        if not offer_ids:
            return "No offers specified"
        agents = set()
        for offer_id in offer_ids:
            offer = self._offers.get(offer_id)
            if offer is None:
                return f"Offer {offer_id} is no longer valid"
            if offer.framework_id != framework.framework_id:
                return (
                    f"Offer {offer_id} has invalid framework {offer.framework_id}"
                    f" while framework {framework.framework_id} is expected"
                )
            agents.add(offer.agent_id)
        if len(set(offer_ids)) != len(offer_ids):
            return "Duplicate offers in accept"
        if len(agents) > 1:
            return "Aggregated offers must belong to one single agent"
        return None

    def accept(self, framework: FrameworkState, accept: JSON) -> None:
        """Use offers: launch tasks, give the rest back (filtered by the accept's filters).

        With any invalid offer nothing launches: the valid offers go back unfiltered
        and each task gets a master-made TASK_LOST (TASK_DROPPED when the framework
        is PARTITION_AWARE), reason REASON_INVALID_OFFERS, as Mesos does.
        """
        offer_ids = [str(value_of(o)) for o in as_list(accept.get("offer_ids"))]
        operations = [op for op in as_list(accept.get("operations")) if isinstance(op, dict)]
        error = self._offers_error(framework, offer_ids)
        if error is not None:
            for offer_id in offer_ids:
                offer = self._offers.get(offer_id)
                if offer is not None and offer.framework_id == framework.framework_id:
                    self._recover_offer(framework, offer)
            state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
            for operation in operations:
                for task in operation_tasks(operation):
                    self._master_update(
                        framework,
                        str(id_value(task, "task_id")),
                        state,
                        id_value(task, "agent_id"),
                        "REASON_INVALID_OFFERS",
                        "Task launched with invalid offers: " + error,
                    )
            self.allocate()
            return
        offers = [self._offers[offer_id] for offer_id in offer_ids]
        agent = self._agents[offers[0].agent_id]
        available = Resources()
        for offer in offers:
            self._offers.pop(offer.offer_id, None)
            framework.offer_ids.discard(offer.offer_id)
            available = available + offer.resources
        launched: List[_Task] = []
        for operation in operations:
            kind = operation.get("type")
            if kind in ("LAUNCH", "LAUNCH_GROUP"):
                available = self._launch(framework, agent, operation, available, launched)
            else:
                # (unverified) Reservations, volumes and the like are not modelled:
                # recorded and otherwise ignored.
                self.ignored_operations.append(dict(operation))
        # The unused rest goes back before any task reports, as on a real cluster
        # where agents answer long after the master handled the ACCEPT.
        self._give_back(framework, agent.agent_id, available, self.refuse_seconds(accept.get("filters")))
        for started in launched:
            self._run_states(started)
        self.allocate()

    def _launch(
        self, framework: FrameworkState, agent: Agent, operation: JSON, available: Resources, launched: List[_Task]
    ) -> Resources:
        """Launch the tasks of one LAUNCH or LAUNCH_GROUP (added to ``launched``); returns
        what is left of ``available``.

        A LAUNCH_GROUP is all or nothing, and its executor's resources are charged to
        its first task (unverified simplification: executors are not modelled).
        """
        tasks = operation_tasks(operation)
        needs = [Resources.from_json(as_list(task.get("resources"))) for task in tasks]
        if operation.get("type") == "LAUNCH_GROUP" and needs:
            executor_resources = as_list(field_of(operation, "launch_group", "executor", "resources"))
            needs[0] = needs[0] + Resources.from_json(executor_resources)
            total = Resources()
            for need in needs:
                total = total + need
            errors = [self._task_error(framework, agent, task, need, available) for task, need in zip(tasks, needs)]
            group_error = next((e for e in errors if e), None)
            if group_error is None and not available.contains(total):
                group_error = f"Task group uses more resources {total} than available {available}"
            if group_error is not None:
                for task in tasks:
                    self._refuse_task(framework, task, group_error)
                return available
            launched.extend(self._add_task(framework, agent, task, need) for task, need in zip(tasks, needs))
            return available - total
        for task, need in zip(tasks, needs):
            error = self._task_error(framework, agent, task, need, available)
            if error is not None:
                self._refuse_task(framework, task, error)
                continue
            launched.append(self._add_task(framework, agent, task, need))
            available = available - need
        return available

    def _task_error(
        self, framework: FrameworkState, agent: Agent, task: JSON, need: Resources, available: Resources
    ) -> Optional[str]:
        """Mesos' task validation, the parts a fake can check (wording close to Mesos')."""
        task_id = str(id_value(task, "task_id"))
        existing = self._tasks.get((framework.framework_id, task_id))
        if existing is not None and not existing.completed:
            return f"Task has duplicate ID: {task_id}"
        if id_value(task, "agent_id") != agent.agent_id:
            return f"Task uses invalid agent: {id_value(task, 'agent_id')}"
        if need.is_empty():
            return "Task uses no resources"
        if not available.contains(need):
            return f"Task uses more resources {need} than available {available}"
        return None

    def _refuse_task(self, framework: FrameworkState, task: JSON, error: str) -> None:
        task_id = str(id_value(task, "task_id"))
        agent_id = id_value(task, "agent_id")
        key = (framework.framework_id, task_id)
        existing = self._tasks.get(key)
        if existing is None or existing.completed:  # a duplicate id keeps the live task's record
            record = _Task(task_id, framework.framework_id, agent_id or "", Resources())
            record.states.append("TASK_ERROR")
            record.completed = True
            self._tasks[key] = record
        self._master_update(framework, task_id, "TASK_ERROR", agent_id, "REASON_TASK_INVALID", error)

    def _add_task(self, framework: FrameworkState, agent: Agent, task: JSON, need: Resources) -> _Task:
        record = _Task(str(id_value(task, "task_id")), framework.framework_id, agent.agent_id, need)
        self._tasks[(framework.framework_id, record.task_id)] = record
        return record

    def _run_states(self, task: _Task) -> None:
        """Run the configured state sequence: at once, or the first at once and then one every delay.

        (unverified) Real agents send a task's next update only after the previous
        one was acknowledged; the fake sends the whole sequence regardless, keeping
        every unacknowledged update for the resend after a re-subscription.
        """
        for index, state in enumerate(self._task_states):
            if self._task_state_delay <= 0 or index == 0:
                self._progress(task, state)
            else:
                self._later(index * self._task_state_delay, functools.partial(self._progress, task, state))

    def _progress(self, task: _Task, state: str) -> None:
        """An agent reports a new state: an UPDATE with a uuid, kept until acknowledged."""
        if task.terminal or task.completed:
            return  # killed meanwhile: the rest of the sequence never happens
        framework = self._frameworks[task.framework_id]
        task.states.append(state)
        uuid = events.new_status_uuid()
        status = events.task_status(task.task_id, state, task.agent_id, source=events.SOURCE_EXECUTOR, uuid=uuid)
        task.unacked[uuid] = status
        self._emit(framework, events.update(status))
        if task.terminal:
            self._free(task)
            self.allocate()

    def _free(self, task: _Task) -> None:
        agent = self._agents.get(task.agent_id)
        if agent is not None:
            agent.free = agent.free + task.resources
        task.resources = Resources()

    def _master_update(
        self,
        framework: FrameworkState,
        task_id: str,
        state: str,
        agent_id: Optional[str],
        reason: str,
        message: str,
    ) -> None:
        """An update the master makes itself: no uuid, so nothing to acknowledge."""
        status = events.task_status(
            task_id, state, agent_id, source=events.SOURCE_MASTER, reason=reason, message=message
        )
        self._emit(framework, events.update(status))

    def kill(self, framework: FrameworkState, kill: JSON) -> None:
        """TASK_KILLED from the agent for a live task; an unknown task is reconciled (as Mesos)."""
        task_id = str(id_value(kill, "task_id"))
        task = self._tasks.get((framework.framework_id, task_id))
        if task is None or task.completed:
            self.reconcile(framework, {"tasks": [{"task_id": kill["task_id"], "agent_id": kill.get("agent_id")}]})
        elif not task.terminal:
            self._progress(task, "TASK_KILLED")
        # (unverified) A terminal task that still awaits its acknowledgement: no update.

    def acknowledge(self, framework: FrameworkState, acknowledge: JSON) -> bool:
        """Drop an update from the resend list; a terminal, fully acknowledged task is forgotten."""
        task = self._tasks.get((framework.framework_id, str(id_value(acknowledge, "task_id"))))
        uuid = acknowledge.get("uuid")
        if task is None or uuid not in task.unacked:
            return False  # Mesos answers 202 all the same
        del task.unacked[uuid]
        if task.terminal and not task.unacked:
            task.completed = True
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
        if not entries:
            for task in self.framework_tasks(framework):
                if not task.completed:
                    self._master_update(
                        framework, task.task_id, task.state, task.agent_id, reason, "Reconciliation: Latest task state"
                    )
            return
        for entry in entries:
            task_id = str(id_value(entry, "task_id"))
            agent_id = id_value(entry, "agent_id")
            known = self._tasks.get((framework.framework_id, task_id))
            if known is not None and not known.completed:
                self._master_update(
                    framework, task_id, known.state, known.agent_id, reason, "Reconciliation: Latest task state"
                )
            elif agent_id is not None and agent_id in self._agents:
                state = "TASK_GONE" if framework.partition_aware else "TASK_LOST"
                self._master_update(
                    framework, task_id, state, agent_id, reason, "Reconciliation: Task is unknown to the agent"
                )
            else:
                state = "TASK_UNKNOWN" if framework.partition_aware else "TASK_LOST"
                self._master_update(framework, task_id, state, agent_id, reason, "Reconciliation: Task is unknown")

    def message(self, framework: FrameworkState, message: JSON) -> None:
        """Framework-to-executor messages go nowhere; they are kept for tests to read."""
        self.messages.append({"framework_id": framework.framework_id, **message})

    # -- records -------------------------------------------------------------------------

    def framework_records(self) -> Dict[str, FrameworkRecord]:
        return {
            fid: FrameworkRecord(
                framework_id=fid,
                name=str(fw.info.get("name", "")),
                principal=fw.principal,
                authenticated_principal=fw.authenticated_as,
                roles=fw.roles,
                state=fw.state,
                stream_id=fw.stream.stream_id if fw.stream is not None else None,
                subscribe_count=fw.subscribe_count,
                suppressed=fw.suppressed,
                failover_timeout=self.failover_timeout_of(fw),
                info=dict(fw.info),
            )
            for fid, fw in self._frameworks.items()
        }

    def task_records(self) -> Dict[str, TaskRecord]:
        """By task id; if two frameworks use one task id, the later task wins."""
        return {
            task.task_id: TaskRecord(
                task_id=task.task_id,
                framework_id=task.framework_id,
                agent_id=task.agent_id,
                states=tuple(task.states),
                resources=task.resources.as_dict(),
                unacknowledged=len(task.unacked),
            )
            for task in self._tasks.values()
        }

    def offer_records(self) -> Dict[str, OfferRecord]:
        return {
            oid: OfferRecord(
                oid,
                offer.framework_id,
                offer.agent_id,
                self._agents[offer.agent_id].hostname,
                offer.resources.as_dict(),
            )
            for oid, offer in self._offers.items()
        }

    def agent_records(self) -> Dict[str, AgentRecord]:
        return {
            aid: AgentRecord(aid, agent.hostname, agent.total.as_dict(), agent.free.as_dict())
            for aid, agent in self._agents.items()
        }
