"""What the fake master shows tests: immutable snapshots of its state and history.

Each property of :class:`~mesos_auth.testing.master.FakeMaster` that tests read
(``frameworks``, ``tasks``, ``offers``, ``agents``, ``requests``, ``streams``)
returns these, copied under the master's lock, so reading them never races the
server threads and never changes the master.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class FrameworkRecord:
    """A framework as the master knows it. ``state``: subscribed, disconnected, removed, torn_down."""

    framework_id: str
    name: str
    principal: Optional[str]
    authenticated_principal: Optional[str]
    roles: Tuple[str, ...]
    state: str
    stream_id: Optional[str]
    subscribe_count: int
    suppressed: bool
    failover_timeout: float
    info: Dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class TaskRecord:
    """A task and every state the master saw it in, from ``TASK_STAGING`` on."""

    task_id: str
    framework_id: str
    agent_id: str
    states: Tuple[str, ...]
    resources: Dict[str, float] = field(compare=False)
    unacknowledged: int = 0

    @property
    def state(self) -> str:
        return self.states[-1]


@dataclass(frozen=True)
class OfferRecord:
    offer_id: str
    framework_id: str
    agent_id: str
    hostname: str
    resources: Dict[str, float] = field(compare=False)


@dataclass(frozen=True)
class AgentRecord:
    agent_id: str
    hostname: str
    total: Dict[str, float] = field(compare=False)
    free: Dict[str, float] = field(compare=False)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the master saw and answered it; the credential is masked.

    ``stream_id`` is the ``Mesos-Stream-Id`` the request carried or, for a
    SUBSCRIBE answered with a stream, the one the master gave it. ``principal`` is
    who the request authenticated as (``dcos_anonymous`` when anonymous in
    permissive mode, None when nothing was checked or authentication failed).
    """

    method: str
    path: str
    scheme: str
    call_type: Optional[str]
    status: int
    headers: Dict[str, str] = field(compare=False)
    call: Optional[Dict[str, Any]] = field(compare=False)
    principal: Optional[str]
    stream_id: Optional[str]


@dataclass(frozen=True)
class StreamRecord:
    """One event stream: the event types written so far, and heartbeats held back by silence."""

    stream_id: str
    framework_id: Optional[str]
    open: bool
    sent: Tuple[str, ...]
    withheld_heartbeats: int


@dataclass(frozen=True)
class ExecutorRecord:
    """An executor the master added (charged its resources once on its agent), until it ends."""

    executor_id: str
    framework_id: str
    agent_id: str
    task_ids: Tuple[str, ...]
    resources: Dict[str, float] = field(compare=False)
