"""The fake master's operator event stream (``SUBSCRIBE`` on ``/api/v1``).

As apache/mesos does (``Master::ReadOnlyHandler::subscribe`` in
``src/master/readonly_handler.cpp``, ``Master::Subscribers`` in ``src/master/master.cpp``):
a 200 chunked RecordIO stream whose first event is ``SUBSCRIBED`` with the whole
``get_state`` and ``heartbeat_interval_seconds``; then ``HEARTBEAT`` every interval,
the first one an interval after SUBSCRIBED (the ``Heartbeater`` is created with a
delay of ``DEFAULT_HEARTBEAT_INTERVAL``), and the cluster's changes as they happen:

- ``TASK_ADDED`` (``createTaskAdded``) when a task is added, in its first state;
- ``TASK_UPDATED`` (``createTaskUpdated``: framework id, the status, the latest
  state) for every new state of a task (``Master::updateTask`` sends one per new state);
- ``FRAMEWORK_ADDED`` when a framework registers; ``FRAMEWORK_UPDATED`` when it
  disconnects, comes back or fails over; ``FRAMEWORK_REMOVED`` (its ``framework_info``)
  when it is torn down or removed;
- ``AGENT_ADDED`` / ``AGENT_REMOVED`` when agents come and go.

The answer carries no ``Mesos-Stream-Id`` header (the operator stream's id is the
master's own). The fake learns of changes by comparing the master's snapshots after
every change (it is woken by the master's Condition), so no change is missed and
a task's states are reported in order even when several came at once. The stream
is one of the master's streams (``streams.StreamHub``): ``drop_streams()``,
``go_silent()``, ``go_down()``, ``reset()`` and ``stop()`` act on it as on a
framework's. (unverified) The heartbeat interval is the master's
``heartbeat_interval`` (Mesos' fixed 15 s by default), so tests can shorten it.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from mesos_auth.testing._server import ChunkedStream, Streaming
from mesos_auth.testing.master.operator_views import (
    COMPLETED_FRAMEWORK_STATES,
    JSON,
    ClusterView,
    response,
    task_status,
    value,
)
from mesos_auth.testing.master.records import FrameworkRecord
from mesos_auth.testing.master.streams import EventStream

if TYPE_CHECKING:
    from mesos_auth.testing.master.server import FakeMaster

#: Seconds between two looks at the master when nothing woke the watcher (a safety net only).
_IDLE_WAIT = 0.5


def event(kind: str, payload: JSON) -> JSON:
    return response(kind, payload)


class ClusterWatcher:
    """What one operator subscriber has been told, and the events that bring it up to date."""

    def __init__(self, view: ClusterView) -> None:
        self.tasks: Dict[str, int] = {tid: len(record.states) for tid, record in view.tasks.items()}
        self.frameworks: Dict[str, Tuple[str, int]] = {
            fid: _framework_mark(record) for fid, record in view.frameworks.items()
        }
        self.agents: Set[str] = set(view.agents)

    def changes(self, view: ClusterView) -> List[JSON]:
        """The events for what changed since the last call, in the order Mesos would send them."""
        out: List[JSON] = []
        for fid, framework in view.frameworks.items():
            if fid not in self.frameworks and framework.state not in COMPLETED_FRAMEWORK_STATES:
                out.append(event("FRAMEWORK_ADDED", {"framework": view.framework(framework)}))
                self.frameworks[fid] = _framework_mark(framework)
        for aid in view.agents:
            if aid not in self.agents:
                out.append(event("AGENT_ADDED", {"agent": view.agent(view.agents[aid])}))
        for aid in sorted(self.agents - set(view.agents)):
            out.append(event("AGENT_REMOVED", {"agent_id": value(aid)}))
        self.agents = set(view.agents)
        for tid, record in view.tasks.items():
            told = self.tasks.get(tid)
            if told is None:
                first = record.states[:1] or ("TASK_STAGING",)
                out.append(event("TASK_ADDED", {"task": dict(view.task(record), state=first[0], statuses=[])}))
                told = 1
            for state in record.states[told:]:
                status = task_status(record, state)
                out.append(
                    event(
                        "TASK_UPDATED",
                        {"framework_id": value(record.framework_id), "status": status, "state": state},
                    )
                )
            self.tasks[tid] = len(record.states)
        for fid, framework in view.frameworks.items():
            mark = _framework_mark(framework)
            if self.frameworks.get(fid) == mark:
                continue
            self.frameworks[fid] = mark
            if framework.state in COMPLETED_FRAMEWORK_STATES:
                out.append(event("FRAMEWORK_REMOVED", {"framework_info": view.framework_info(framework)}))
            else:
                out.append(event("FRAMEWORK_UPDATED", {"framework": view.framework(framework)}))
        return out


def _framework_mark(record: FrameworkRecord) -> Tuple[str, int]:
    """What changes a framework's operator view: its state, and each (re-)subscription."""
    return record.state, record.subscribe_count


def subscribe(master: FakeMaster, content_type: str) -> Streaming:
    """Open an operator event stream on ``master``: SUBSCRIBED now, changes as they come."""
    hub = master._hub
    with master._changed:
        view = ClusterView.of(master)
        stream = hub.new_stream(f"operator-{uuid.uuid4()}")
        stream.push(
            event("SUBSCRIBED", {"get_state": view.get_state(), "heartbeat_interval_seconds": hub.heartbeat_interval})
        )
        watcher = ClusterWatcher(view)
        master._changed.notify_all()

    def serve(out: ChunkedStream) -> None:
        thread = threading.Thread(
            target=_watch, args=(master, stream, watcher), name=f"FakeMaster-operator-{stream.stream_id}", daemon=True
        )
        thread.start()
        try:
            hub.serve(stream, out)
        finally:
            thread.join(timeout=5.0)

    return Streaming(200, [("Content-Type", content_type)], serve)


def _watch(master: FakeMaster, stream: EventStream, watcher: ClusterWatcher) -> None:
    """Push the changes of the master into ``stream`` until it ends (on the master's Condition)."""
    changed = master._changed
    try:
        with changed:
            while _alive(master, stream):
                pending = watcher.changes(ClusterView.of(master))
                for item in pending:
                    stream.push(item)
                if pending:
                    changed.notify_all()
                changed.wait(_IDLE_WAIT)
    except Exception as exc:  # pragma: no cover - a bug of the fake: reported, never lost
        master.record_error(f"operator stream {stream.stream_id} failed: {exc!r}")


def _alive(master: FakeMaster, stream: EventStream) -> bool:
    closed: Optional[bool] = stream.closing or stream.abrupt or not stream.open or master._hub.stopping
    return not closed
