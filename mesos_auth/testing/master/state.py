"""The fake master's cluster: frameworks subscribing, failing over and going away,
and the parts that do the rest (``allocator``: offers; ``tasks``: launches and
task states), over the shared tables of ``model``.

Nothing here touches HTTP or threads: the master calls these methods with its lock
held. What follows Mesos (``src/master/master.cpp``) and what is chosen where no
public source settles it is said method by method; choices are marked "(unverified)".
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from mesos_auth.testing.master import events
from mesos_auth.testing.master.allocator import Allocator
from mesos_auth.testing.master.authorization import MasterAuthorizer
from mesos_auth.testing.master.model import (
    DISCONNECTED,
    REMOVED,
    SUBSCRIBED,
    TORN_DOWN,
    Action,
    FrameworkState,
    Model,
    framework_roles,
)
from mesos_auth.testing.master.records import AgentRecord, ExecutorRecord, FrameworkRecord, OfferRecord, TaskRecord
from mesos_auth.testing.master.recovery import AgentsReport, agents_report, recover
from mesos_auth.testing.master.resources import AgentSpec
from mesos_auth.testing.master.streams import EventStream
from mesos_auth.testing.master.tasks import Tasks
from mesos_auth.testing.master.versions import MesosRelease

__all__ = ["DISCONNECTED", "REMOVED", "SUBSCRIBED", "TORN_DOWN", "Cluster", "FrameworkState", "framework_roles"]

JSON = Dict[str, Any]


class Cluster:
    """Frameworks, agents, offers and tasks of one fake master. Call with the lock held.

    ``allocator`` and ``tasks`` are the parts the master's calls go to (DECLINE,
    REVIVE, SUPPRESS; ACCEPT, KILL, ACKNOWLEDGE, RECONCILE, MESSAGE); the
    frameworks' life cycle is here.
    """

    def __init__(
        self,
        *,
        master_id: str,
        agents: Sequence[AgentSpec],
        release: MesosRelease,
        task_states: Sequence[str],
        task_state_delay: float,
        failover_timeout: Optional[float],
        offer_refuse_seconds: float,
        allocation_interval: float,
        heartbeat_interval: float,
        clock: Callable[[], float],
        schedule: Callable[[float, Action], None],
        authorizer: MasterAuthorizer,
    ) -> None:
        self.master_id = master_id
        self.authorizer = authorizer
        self._failover_timeout = failover_timeout
        self._heartbeat_interval = float(heartbeat_interval)
        self.model = Model(master_id=master_id, agents=agents, clock=clock, schedule=schedule)
        self.allocator = Allocator(
            self.model, allocation_interval=allocation_interval, default_refuse_seconds=offer_refuse_seconds
        )
        self.tasks = Tasks(
            self.model,
            self.allocator,
            release=release,
            task_states=task_states,
            task_state_delay=task_state_delay,
            authorizer=authorizer,
        )

    def start(self) -> None:
        """Start the batch allocations (at master start and after every reset)."""
        self.allocator.start()

    def reset(self) -> None:
        """Forget frameworks, offers and tasks; give agents all their resources back."""
        self.model.reset()
        self.allocator.start()

    def framework(self, framework_id: Optional[str]) -> Optional[FrameworkState]:
        return self.model.framework(framework_id)

    # -- leader failover -----------------------------------------------------------

    def agents_report(self) -> AgentsReport:
        """What this master's agents would tell a new leader (``recovery.py``)."""
        return agents_report(self.model)

    def recover(self, report: AgentsReport) -> None:
        """Start over as a newly elected leader that knows what the agents report."""
        self.model.reset()
        for task in recover(self.model, report):
            self.tasks.resume(task)
        self.allocator.start()

    # -- subscription ------------------------------------------------------------

    def removed_error(self, framework_id: Optional[str]) -> Optional[str]:
        """Mesos refuses to bring back a framework it removed (failover timeout or teardown)."""
        framework = self.model.frameworks.get(framework_id or "")
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

        Offers: a new framework (``addFramework``) and a disconnected one coming
        back (``activateFramework``) get an allocation at once; a framework that
        fails over while connected stays active and gets offers at the next batch
        (``Master::_failoverFramework``).
        """
        model = self.model
        framework = model.frameworks.get(framework_id or "")
        activated = True
        if framework is None:
            new_id = framework_id or f"{self.master_id}-{next(model.framework_numbers):04d}"
            framework = FrameworkState(new_id, info, authenticated_as)
            model.frameworks[new_id] = framework
        else:
            activated = framework.state != SUBSCRIBED
            old = framework.stream
            if old is not None:
                old.push(events.error("Framework failed over"))
                old.finish()
            self.allocator.return_offers(framework)
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
        for task in model.framework_tasks(framework):
            for status in task.unacked.values():
                stream.push(events.update(status))
        if activated:
            self.allocator.allocate()

    def stream_lost(self, stream: EventStream) -> None:
        """The connection of a framework's current stream went away: start its failover timeout."""
        framework = self.model.frameworks.get(stream.framework_id or "")
        if framework is None or framework.stream is not stream:
            return
        framework.stream = None
        framework.state = DISCONNECTED
        self.allocator.return_offers(framework)
        framework.epoch += 1
        epoch = framework.epoch
        self.model.later(self.failover_timeout_of(framework), lambda: self._failover_expired(framework, epoch))

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
        """End a framework for good: stream closed, offers back, tasks and executors gone,
        resources freed (offered to others at the next batch)."""
        framework.state = state
        framework.epoch += 1
        if framework.stream is not None:
            framework.stream.finish()
            framework.stream = None
        self.allocator.return_offers(framework)
        self.tasks.kill_all(framework)
        framework.filters.clear()

    def rescind_offers(self, framework_id: Optional[str] = None) -> int:
        return self.allocator.rescind_offers(framework_id)

    # -- records -------------------------------------------------------------------------

    def framework_records(self) -> Dict[str, FrameworkRecord]:
        return self.model.framework_records(self.failover_timeout_of)

    def task_records(self) -> Dict[str, TaskRecord]:
        return self.model.task_records()

    def offer_records(self) -> Dict[str, OfferRecord]:
        return self.model.offer_records()

    def agent_records(self) -> Dict[str, AgentRecord]:
        return self.model.agent_records()

    def executor_records(self) -> Dict[str, ExecutorRecord]:
        return self.model.executor_records()
