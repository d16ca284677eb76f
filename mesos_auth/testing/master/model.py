"""What a fake master knows: frameworks, agents, outstanding offers, tasks and executors.

Plain data shared by the parts that change it: ``state`` (frameworks subscribe,
fail over, go away), ``allocator`` (offers and filters) and ``tasks`` (launches and
task states). Nothing here touches HTTP or threads: the master calls in with its
lock held. Events go onto the frameworks' :class:`EventStream` queues; timed work
goes through :meth:`Model.later`, which a reset cancels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Protocol, Sequence, Set, Tuple

from mesos_auth.testing.master import events
from mesos_auth.testing.master.records import AgentRecord, ExecutorRecord, FrameworkRecord, OfferRecord, TaskRecord
from mesos_auth.testing.master.resources import Agent, AgentSpec, RefuseFilter, Resources
from mesos_auth.testing.master.streams import EventStream

JSON = Dict[str, Any]
Action = Callable[[], None]

SUBSCRIBED = "subscribed"
DISCONNECTED = "disconnected"
#: Known to a newly elected master from its agents, not subscribed to it yet (``recovery.py``).
RECOVERED = "recovered"
REMOVED = "removed"
TORN_DOWN = "torn_down"


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
    """A framework as the master keeps it (tests see FrameworkRecord copies)."""

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
    def allocation_role(self) -> str:
        """The role the fake allocates this framework's offers to (its first)."""
        return self.roles[0]

    @property
    def partition_aware(self) -> bool:
        return _has_capability(self.info, "PARTITION_AWARE")

    @property
    def multi_role(self) -> bool:
        return _has_capability(self.info, "MULTI_ROLE")

    @property
    def active(self) -> bool:
        return self.state in (SUBSCRIBED, DISCONNECTED, RECOVERED)

    @property
    def takes_offers(self) -> bool:
        return self.state == SUBSCRIBED and self.stream is not None and not self.suppressed


@dataclass
class OfferState:
    offer_id: str
    framework_id: str
    agent_id: str
    resources: Resources


@dataclass
class ExecutorState:
    """An executor the master added for a framework on an agent, holding its own resources."""

    executor_id: str
    framework_id: str
    agent_id: str
    info: JSON
    resources: Resources
    task_ids: Set[str] = field(default_factory=set)


class TaskRunner(Protocol):
    """Who runs launched tasks instead of the simulated state sequence: a fake agent with
    real processes (``mesos_auth.testing.agent.FakeAgent``). Called with the master's lock
    held, so each call only queues work; the agent reports back through
    ``FakeMaster.agent_status_update`` and friends."""

    def launch(self, framework_info: JSON, agent_info: JSON, task: JSON, executor: Optional[JSON]) -> None: ...

    def launch_group(self, framework_info: JSON, agent_info: JSON, tasks: List[JSON], executor: JSON) -> None: ...

    def kill(self, framework_id: str, task_id: str, kill_policy: Optional[JSON]) -> None: ...

    def acknowledge(self, framework_id: str, task_id: str, status_uuid: str) -> None: ...

    def message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None: ...

    def shutdown_framework(self, framework_id: str) -> None: ...


class TaskState:
    def __init__(
        self, task_id: str, framework_id: str, agent_id: str, resources: Resources, executor_id: Optional[str] = None
    ) -> None:
        self.task_id = task_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
        self.executor_id = executor_id
        self.states: List[str] = ["TASK_STAGING"]
        self.unacked: Dict[str, JSON] = {}  # uuid -> status, in the order sent
        self.completed = False  # terminal and acknowledged: the master forgot it
        self.info: JSON = {}  # the TaskInfo as launched (what a task runner gets)

    @property
    def state(self) -> str:
        return self.states[-1]

    @property
    def terminal(self) -> bool:
        return self.state in events.TERMINAL_STATES


ExecutorKey = Tuple[str, str, str]  # framework id, agent id, executor id


class Model:
    """The master's tables and the plumbing its parts share. Call with the lock held."""

    def __init__(
        self,
        *,
        master_id: str,
        agents: Sequence[AgentSpec],
        clock: Callable[[], float],
        schedule: Callable[[float, Action], None],
    ) -> None:
        self.master_id = master_id
        self.clock = clock
        self._schedule = schedule
        self.agents: Dict[str, Agent] = {}
        for index, spec in enumerate(agents):
            agent_id = f"{master_id}-S{index}"
            hostname = spec.hostname or f"agent-{index}.fake-mesos"
            self.agents[agent_id] = Agent(agent_id, hostname, spec.resources())
        self.frameworks: Dict[str, FrameworkState] = {}
        self.offers: Dict[str, OfferState] = {}
        self.tasks: Dict[Tuple[str, str], TaskState] = {}
        self.executors: Dict[ExecutorKey, ExecutorState] = {}
        self.messages: List[JSON] = []
        #: Operations the fake records without modelling them (RESERVE, CREATE, ... when allowed).
        self.ignored_operations: List[JSON] = []
        #: Operations the master dropped: ``{"framework_id", "operation", "message"}``.
        self.dropped_operations: List[JSON] = []
        self.framework_numbers = itertools.count()
        self.offer_numbers = itertools.count()
        self.epoch = 0
        #: Runs launched tasks for real when set (``TaskRunner``); None: simulated states.
        self.runner: Optional[TaskRunner] = None

    def later(self, delay: float, action: Action) -> None:
        """Schedule ``action`` on the master's clock, unless a reset happens first."""
        epoch = self.epoch

        def guarded() -> None:
            if self.epoch == epoch:
                action()

        self._schedule(delay, guarded)

    @staticmethod
    def emit(framework: FrameworkState, event: JSON) -> None:
        if framework.stream is not None:
            framework.stream.push(event)

    def reset(self) -> None:
        """Forget frameworks, offers, tasks and executors; give agents all their resources back."""
        self.epoch += 1
        for framework in self.frameworks.values():
            if framework.stream is not None:
                framework.stream.finish()
        self.frameworks.clear()
        self.offers.clear()
        self.tasks.clear()
        self.executors.clear()
        self.messages.clear()
        self.ignored_operations.clear()
        self.dropped_operations.clear()
        for agent in self.agents.values():
            agent.restore()

    def framework(self, framework_id: Optional[str]) -> Optional[FrameworkState]:
        """An active (subscribed or disconnected) framework; removed ones are not found."""
        framework = self.frameworks.get(framework_id or "")
        return framework if framework is not None and framework.active else None

    def framework_tasks(self, framework: FrameworkState) -> Iterator[TaskState]:
        return (task for (fid, _), task in self.tasks.items() if fid == framework.framework_id)

    def agent_executors(self, framework_id: str, agent_id: str) -> Dict[str, JSON]:
        """The framework's executors on one agent: executor id -> its ExecutorInfo."""
        return {
            key[2]: executor.info
            for key, executor in self.executors.items()
            if key[0] == framework_id and key[1] == agent_id
        }

    def give_to_agent(self, agent_id: str, resources: Resources) -> None:
        agent = self.agents.get(agent_id)
        if agent is not None and not resources.is_empty():
            agent.free = agent.free + resources

    # -- records ---------------------------------------------------------------------

    def framework_records(self, failover_timeout_of: Callable[[FrameworkState], float]) -> Dict[str, FrameworkRecord]:
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
                failover_timeout=failover_timeout_of(fw),
                info=dict(fw.info),
            )
            for fid, fw in self.frameworks.items()
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
            for task in self.tasks.values()
        }

    def offer_records(self) -> Dict[str, OfferRecord]:
        return {
            oid: OfferRecord(
                oid,
                offer.framework_id,
                offer.agent_id,
                self.agents[offer.agent_id].hostname,
                offer.resources.as_dict(),
            )
            for oid, offer in self.offers.items()
        }

    def agent_records(self) -> Dict[str, AgentRecord]:
        return {
            aid: AgentRecord(aid, agent.hostname, agent.total.as_dict(), agent.free.as_dict())
            for aid, agent in self.agents.items()
        }

    def executor_records(self) -> Dict[str, ExecutorRecord]:
        """By executor id; if two frameworks or agents use one id, the later executor wins."""
        return {
            executor.executor_id: ExecutorRecord(
                executor.executor_id,
                executor.framework_id,
                executor.agent_id,
                tuple(sorted(executor.task_ids)),
                executor.resources.as_dict(),
            )
            for executor in self.executors.values()
        }
