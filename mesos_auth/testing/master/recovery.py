"""What a newly elected fake master knows: what the agents tell it when they re-register.

Mesos' replicated log (the registry, ``src/master/registry.proto`` at the commit DC/OS
2.2 ships) holds agents, machines, quota, weights and maintenance schedules: no
frameworks and no tasks. A new leader learns those from the agents re-registering
with it (``Master::reregisterSlave`` -> ``Master::recoverFramework``,
``src/master/master.cpp``): each agent reports its tasks, its executors and the
``FrameworkInfo`` (``failover_timeout`` included) of every framework with anything on
it. So, after a failover:

- a framework with tasks or executors is *recovered* with its ``FrameworkInfo`` until
  it subscribes again with its id; ``recoverFramework`` starts no failover timer, so it
  waits (the timer starts when its new connection is lost, ``Master::_exited``, by its
  own ``failover_timeout``);
- a framework with nothing on any agent is unknown; its SUBSCRIBE with its id is taken
  as it is (``Master::subscribe`` accepts an id it has not seen after a failover);
- agents keep their ids and what their tasks and executors use; offers are gone;
- status updates not yet acknowledged are still held by the agents' status update
  managers, which send them again to the new leader: they reach the framework after it
  re-subscribes (the fake resends them right after SUBSCRIBED, as it does on any
  re-subscription);
- a simulated task part-way through its state sequence goes on from where it was.

The fakes' agents live inside the masters, so "the agents re-register" is a copy of the
previous leader's agents, tasks and executors (:func:`agents_report`) applied to the new
leader (:func:`recover`). Fake agents that run real processes (``FakeAgent``) belong to
one master and are not carried over.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from mesos_auth.testing.master.model import RECOVERED, ExecutorKey, ExecutorState, FrameworkState, Model, TaskState
from mesos_auth.testing.master.resources import Agent

__all__ = ["AgentsReport", "agents_report", "recover"]


@dataclass
class AgentsReport:
    """What the agents tell a new leader (copies: the old master's tables stay its own)."""

    agents: Dict[str, Agent] = field(default_factory=dict)
    tasks: Dict[Tuple[str, str], TaskState] = field(default_factory=dict)
    executors: Dict[ExecutorKey, ExecutorState] = field(default_factory=dict)
    frameworks: Dict[str, FrameworkState] = field(default_factory=dict)


def agents_report(previous: Model) -> AgentsReport:
    """Copy what ``previous`` (the old leader's model, its lock held) has on its agents.

    Offered resources are the agents' own again (offers do not survive a failover);
    tasks the old master already forgot (terminal and acknowledged) are not reported.
    """
    report = AgentsReport()
    for agent_id, agent in previous.agents.items():
        copied = Agent(agent_id, agent.hostname, agent.total)
        copied.free = agent.free
        report.agents[agent_id] = copied
    for offer in previous.offers.values():
        offered_from = report.agents.get(offer.agent_id)
        if offered_from is not None:
            offered_from.free = offered_from.free + offer.resources
    for key, task in previous.tasks.items():
        if task.completed:
            continue
        copied_task = copy.copy(task)
        copied_task.states = list(task.states)
        copied_task.unacked = dict(task.unacked)
        report.tasks[key] = copied_task
    for executor_key, executor in previous.executors.items():
        report.executors[executor_key] = ExecutorState(
            executor.executor_id,
            executor.framework_id,
            executor.agent_id,
            dict(executor.info),
            executor.resources,
            set(executor.task_ids),
        )
    owners = {task.framework_id for task in report.tasks.values()}
    owners |= {executor.framework_id for executor in report.executors.values()}
    for framework_id in sorted(owners):
        old = previous.frameworks.get(framework_id)
        if old is None or not old.active:
            continue  # removed meanwhile: its tasks were killed, nothing is reported
        framework = FrameworkState(framework_id, old.info, old.authenticated_as)
        framework.state = RECOVERED
        report.frameworks[framework_id] = framework
    report.tasks = {key: task for key, task in report.tasks.items() if key[0] in report.frameworks}
    report.executors = {key: ex for key, ex in report.executors.items() if key[0] in report.frameworks}
    return report


def recover(model: Model, report: AgentsReport) -> List[TaskState]:
    """Make ``model`` (the new leader's, its lock held, freshly reset) what ``report`` says.

    Returns the tasks that are not terminal yet, whose simulated sequence the caller resumes.
    """
    model.agents = dict(report.agents)
    model.tasks = dict(report.tasks)
    model.executors = dict(report.executors)
    model.frameworks = dict(report.frameworks)
    return [task for task in model.tasks.values() if not task.terminal]
