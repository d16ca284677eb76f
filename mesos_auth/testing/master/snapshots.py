"""What a test reads from a FakeMaster: thread-safe snapshots, and waiting for a state.

:class:`MasterSnapshots` is a base of :class:`~mesos_auth.testing.master.FakeMaster`:
every property copies the master's tables under its lock into the records of
``records``, so a test reads a consistent view while connection threads keep
working; :meth:`~MasterSnapshots.wait_for` wakes on every change instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, TypeVar

from mesos_auth.testing.master.records import (
    AgentRecord,
    ExecutorRecord,
    FrameworkRecord,
    OfferRecord,
    RecordedRequest,
    StreamRecord,
    TaskRecord,
)
from mesos_auth.testing.master.state import Cluster
from mesos_auth.testing.master.streams import StreamHub

__all__ = ["MasterSnapshots"]

T = TypeVar("T")


class MasterSnapshots:
    """The read-only views of a master; the master sets the attributes declared here."""

    errors: List[str]
    _changed: threading.Condition
    _cluster: Cluster
    _hub: StreamHub
    _requests: List[RecordedRequest]

    @property
    def frameworks(self) -> Dict[str, FrameworkRecord]:
        with self._changed:
            return self._cluster.framework_records()

    @property
    def tasks(self) -> Dict[str, List[str]]:
        """Task id -> every state it went through, from ``TASK_STAGING`` on."""
        with self._changed:
            return {tid: list(record.states) for tid, record in self._cluster.task_records().items()}

    @property
    def task_records(self) -> Dict[str, TaskRecord]:
        with self._changed:
            return self._cluster.task_records()

    @property
    def offers(self) -> Dict[str, OfferRecord]:
        """Outstanding offers: made and neither accepted, declined nor rescinded."""
        with self._changed:
            return self._cluster.offer_records()

    @property
    def agents(self) -> Dict[str, AgentRecord]:
        with self._changed:
            return self._cluster.agent_records()

    @property
    def executors(self) -> Dict[str, ExecutorRecord]:
        """Executors the master added and that have not ended, by executor id."""
        with self._changed:
            return self._cluster.executor_records()

    @property
    def allocation_runs(self) -> int:
        """Allocation passes made so far (batches and immediate ones), as Mesos'
        ``allocator/mesos/allocation_runs``: wait for it to grow to know a batch ran."""
        with self._changed:
            return self._cluster.allocator.runs

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    @property
    def streams(self) -> Dict[str, StreamRecord]:
        return self._hub.records()

    @property
    def messages(self) -> List[Dict[str, Any]]:
        """MESSAGE calls' payloads, with the sender's ``framework_id``."""
        with self._changed:
            return [dict(m) for m in self._cluster.model.messages]

    @property
    def dropped_operations(self) -> List[Dict[str, Any]]:
        """Operations the master dropped (refused RESERVE, UNRESERVE, CREATE, DESTROY, or an
        ``id`` the release does not take): ``{"framework_id", "operation", "message"}``."""
        with self._changed:
            return [dict(d) for d in self._cluster.model.dropped_operations]

    def calls_of_type(self, call_type: str) -> List[RecordedRequest]:
        kind = call_type.upper()
        return [r for r in self.requests if r.call_type == kind]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
        """Wait until ``predicate()`` is truthy and return it; TimeoutError after ``timeout``.

        Wakes on every change of the master's state (and at least every 0.25 s, for
        predicates about things the master does not see).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    errors = "; server errors: " + " | ".join(self.errors) if self.errors else ""
                    raise TimeoutError(f"{what or predicate!r} not true after {timeout} s{errors}")
                self._changed.wait(min(remaining, 0.25))
