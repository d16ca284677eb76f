"""What the fake master's operator API shows: ``mesos.v1.master.Response`` bodies built from its snapshots.

The JSON shapes are those of apache/mesos ``include/mesos/v1/master/master.proto``
(``Response.GetState``, ``GetTasks``, ``GetFrameworks``, ``GetAgents``,
``GetExecutors``, ``GetMaster``, ...) as the master serialises them for
``application/json``: the payload under the lower-cased call type, and, as
protobuf's JSON printer does, empty repeated fields and unset optional fields
left out (a master without tasks answers ``{"type": "GET_TASKS", "get_tasks": {}}``).

Everything is read from the master's snapshots (``snapshots.py``, ``records.py``),
so the views never race the server threads. What the records do not hold is
chosen, and marked "(unverified)":

- a task's ``name`` is its id, its ``statuses`` hold only its latest state;
- a terminal task is listed under ``completed_tasks`` once its terminal update is
  acknowledged (no update left unacknowledged), as Mesos removes it from the
  framework then (``Master::removeTask`` after the acknowledgement), else under ``tasks``;
- frameworks that were torn down or removed are ``completed_frameworks``;
  registration times are left out;
- a strict DC/OS master filters these answers by the caller's ``VIEW_*``
  permissions (``ObjectApprovers`` in ``Master::Http::getState`` and friends);
  the fake shows everything to every authenticated caller (not modelled).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional

from mesos_auth.testing.master.events import TERMINAL_STATES
from mesos_auth.testing.master.records import (
    AgentRecord,
    ExecutorRecord,
    FrameworkRecord,
    OfferRecord,
    TaskRecord,
)
from mesos_auth.testing.master.resources import Resources

if TYPE_CHECKING:
    from mesos_auth.testing.master.server import FakeMaster

JSON = Dict[str, Any]

#: Framework states (``records.FrameworkRecord.state``) of frameworks Mesos keeps as completed.
COMPLETED_FRAMEWORK_STATES = frozenset({"removed", "torn_down"})
#: The agent port and libprocess id the fake's agents claim (unverified: no agent process listens).
AGENT_PORT = 5051


def value(text: str) -> JSON:
    return {"value": text}


def compact(message: Any) -> Any:
    """A message as protobuf prints it: empty lists and None values left out, recursively."""
    if isinstance(message, dict):
        out = {}
        for key, item in message.items():
            item = compact(item)
            if item is None or (isinstance(item, list) and not item):
                continue
            out[key] = item
        return out
    if isinstance(message, list):
        return [compact(item) for item in message]
    return message


def response(call_type: str, payload: Optional[JSON] = None) -> JSON:
    """``{"type": T, "t": payload}`` (a response type without payload has only ``type``)."""
    body: JSON = {"type": call_type}
    if payload is not None:
        body[call_type.lower()] = compact(payload)
    return body


class ClusterView:
    """One consistent reading of a master: frameworks, tasks, agents, offers, executors.

    Taken under the master's lock (:meth:`of`), so the parts agree with each other.
    """

    def __init__(
        self,
        frameworks: Mapping[str, FrameworkRecord],
        tasks: Mapping[str, TaskRecord],
        agents: Mapping[str, AgentRecord],
        offers: Mapping[str, OfferRecord],
        executors: Mapping[str, ExecutorRecord],
        version: str,
    ) -> None:
        self.frameworks = dict(frameworks)
        self.tasks = dict(tasks)
        self.agents = dict(agents)
        self.offers = dict(offers)
        self.executors = dict(executors)
        self.version = version

    @classmethod
    def of(cls, master: FakeMaster) -> ClusterView:
        with master._changed:  # one lock for all: the snapshots agree with each other
            return cls(
                master.frameworks, master.task_records, master.agents, master.offers, master.executors,
                master.mesos_version,
            )  # fmt: skip

    # -- tasks -----------------------------------------------------------------------

    def task(self, record: TaskRecord, timestamp: Optional[float] = None) -> JSON:
        """A ``mesos.v1.Task``."""
        return {
            "name": record.task_id,  # (unverified) the records keep no task name
            "task_id": value(record.task_id),
            "framework_id": value(record.framework_id),
            "agent_id": value(record.agent_id),
            "state": record.state,
            "resources": Resources(record.resources).to_json(),
            "statuses": [task_status(record, record.state, timestamp)],
        }

    def get_tasks(self) -> JSON:
        live: List[JSON] = []
        completed: List[JSON] = []
        for record in self.tasks.values():
            (completed if is_completed(record) else live).append(self.task(record))
        return {"tasks": live, "completed_tasks": completed}

    # -- frameworks --------------------------------------------------------------------

    def framework_info(self, record: FrameworkRecord) -> JSON:
        info = dict(record.info)
        info["id"] = value(record.framework_id)
        return info

    def framework(self, record: FrameworkRecord) -> JSON:
        """A ``Response.GetFrameworks.Framework``."""
        connected = record.state == "subscribed"
        return {
            "framework_info": self.framework_info(record),
            "active": connected,
            "connected": connected,
            "recovered": False,
            "allocated_resources": self._used_by(lambda t: t.framework_id == record.framework_id),
            "offered_resources": _sum(
                o.resources for o in self.offers.values() if o.framework_id == record.framework_id
            ),
        }

    def get_frameworks(self) -> JSON:
        live: List[JSON] = []
        completed: List[JSON] = []
        for record in self.frameworks.values():
            (completed if record.state in COMPLETED_FRAMEWORK_STATES else live).append(self.framework(record))
        return {"frameworks": live, "completed_frameworks": completed}

    # -- agents ------------------------------------------------------------------------

    def agent(self, record: AgentRecord) -> JSON:
        """A ``Response.GetAgents.Agent``."""
        total = Resources(record.total).to_json()
        return {
            "agent_info": {
                "hostname": record.hostname,
                "port": AGENT_PORT,
                "id": value(record.agent_id),
                "resources": total,
            },
            "active": True,
            "deactivated": False,
            "version": self.version,
            "pid": f"slave(1)@127.0.0.1:{AGENT_PORT}",
            "total_resources": total,
            "allocated_resources": self._used_by(lambda t: t.agent_id == record.agent_id),
            "offered_resources": _sum(o.resources for o in self.offers.values() if o.agent_id == record.agent_id),
        }

    def get_agents(self) -> JSON:
        return {"agents": [self.agent(record) for record in self.agents.values()]}

    # -- executors and the whole state ----------------------------------------------------

    def get_executors(self) -> JSON:
        executors = [
            {
                "executor_info": {
                    "executor_id": value(record.executor_id),
                    "framework_id": value(record.framework_id),
                    "resources": Resources(record.resources).to_json(),
                },
                "agent_id": value(record.agent_id),
            }
            for record in self.executors.values()
        ]
        return {"executors": executors}

    def get_state(self) -> JSON:
        return {
            "get_tasks": self.get_tasks(),
            "get_executors": self.get_executors(),
            "get_frameworks": self.get_frameworks(),
            "get_agents": self.get_agents(),
        }

    def get_roles(self) -> JSON:
        """``Response.GetRoles``: the roles of live frameworks, weight 1 (no weights are set)."""
        members: Dict[str, List[str]] = {}
        for record in self.frameworks.values():
            if record.state not in COMPLETED_FRAMEWORK_STATES:
                for role in record.roles:
                    members.setdefault(role, []).append(record.framework_id)
        roles = [
            {"name": role, "weight": 1.0, "frameworks": [value(fid) for fid in ids]}
            for role, ids in sorted(members.items())
        ]
        return {"roles": roles}

    def _used_by(self, chosen: Any) -> List[JSON]:
        return _sum(t.resources for t in self.tasks.values() if t.state not in TERMINAL_STATES and chosen(t))


def is_completed(record: TaskRecord) -> bool:
    return record.state in TERMINAL_STATES and record.unacknowledged == 0


def task_status(record: TaskRecord, state: str, timestamp: Optional[float] = None) -> JSON:
    """A ``TaskStatus`` for one state of a task (unverified: no uuid, source or reason is kept)."""
    return {
        "task_id": value(record.task_id),
        "state": state,
        "agent_id": value(record.agent_id),
        "timestamp": time.time() if timestamp is None else timestamp,
    }


def _sum(bags: Iterable[Mapping[str, float]]) -> List[JSON]:
    total = Resources()
    for bag in bags:
        total = total + Resources(bag)
    return total.to_json()
