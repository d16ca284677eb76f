"""The agent's records of executors and tasks, and the small helpers they share (``core`` uses them).

States follow ``Executor::State`` of apache/mesos ``src/slave/slave.hpp``
(REGISTERING, RUNNING, TERMINATING, TERMINATED).
"""

from __future__ import annotations

import base64
import collections
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Protocol, Tuple

from mesos_auth.testing.agent.processes import ManagedProcess
from mesos_auth.testing.master.events import TERMINAL_STATES
from mesos_auth.testing.master.streams import EventStream

JSON = Dict[str, Any]

REGISTERING = "REGISTERING"
RUNNING = "RUNNING"
TERMINATING = "TERMINATING"
TERMINATED = "TERMINATED"

SOURCE_EXECUTOR = "SOURCE_EXECUTOR"
SOURCE_SLAVE = "SOURCE_SLAVE"

#: The command executor's default kill grace period (``src/launcher/executor.cpp``).
COMMAND_KILL_GRACE_PERIOD = 3.0


class MasterLink(Protocol):
    """What the agent tells the master (``FakeMaster.agent_*``); called without the agent's lock."""

    def agent_status_update(self, framework_id: str, status: JSON) -> None: ...

    def agent_executor_message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None: ...

    def agent_executor_exited(self, framework_id: str, agent_id: str, executor_id: str, status: int) -> None: ...


def new_uuid() -> str:
    """A status uuid as JSON carries protobuf bytes: base64 of a version-4 UUID's 16 bytes."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def id_of(message: Any, name: str) -> Optional[str]:
    value = message.get(name) if isinstance(message, dict) else None
    text = value.get("value") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def command_of(info: JSON) -> JSON:
    command = info.get("command")
    return command if isinstance(command, dict) else {}


def grace_seconds(kill_policy: Any) -> Optional[float]:
    """``KillPolicy.grace_period.nanoseconds`` in seconds, if given."""
    period = kill_policy.get("grace_period") if isinstance(kill_policy, dict) else None
    nanos = period.get("nanoseconds") if isinstance(period, dict) else None
    return max(0.0, float(nanos) / 1e9) if isinstance(nanos, (int, float)) else None


@dataclass(eq=False)
class TaskRun:
    framework_id: str
    agent_id: str
    task_id: str
    executor_id: str
    info: JSON
    command: bool = False  # run as the command executor would
    state: str = "TASK_STAGING"
    process: Optional[ManagedProcess] = None
    killed: bool = False
    pending: Deque[JSON] = field(default_factory=collections.deque)  # updates; the head is with the master

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(eq=False)
class ExecutorRun:
    framework_id: str
    agent_id: str
    executor_id: str
    container_id: str
    info: JSON
    framework_info: JSON
    agent_info: JSON
    sandbox: Path
    state: str = REGISTERING
    process: Optional[ManagedProcess] = None
    stream: Optional[EventStream] = None
    queued: List[JSON] = field(default_factory=list)  # TaskInfos (a group as {"task_group": ...})
    launched: Dict[str, TaskRun] = field(default_factory=dict)
    ever_sent: bool = False


ExecutorKey = Tuple[str, str, str]
