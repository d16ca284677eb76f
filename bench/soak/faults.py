"""Each fault as a function on the cluster, through the fakes' public fault API.

These run where the cluster lives (``host.py``: a process of its own, or this one)
and take the :class:`~mesos_auth.testing.FakeCluster` first. A fault with a duration
is two functions: ``begin`` returns what ``end`` needs (the master it hit, by index,
since the leader may have changed before the end comes).

Where the fakes' API was not enough, the gap is filled here and said so:

- ``FakeIAM.fail_next_logins(n)`` and ``FakeMaster.fail_next_calls(n)`` queue failures
  for whatever comes next, however late: while the frameworks are away (a downed
  master), hundreds would pile up and meet the first SUBSCRIBE as one long refusal,
  which no real cluster does. :func:`iam_unavailable` queues an outage only once a
  login succeeded since the last (:attr:`FakeIAM.login_count`), :func:`unauthorized`
  keeps a few 401s queued at most, :func:`unauthorized_subscribe` one, and only after
  a SUBSCRIBE was accepted since the last; what is still queued is counted from the
  masters' recorded scheduler requests (each consumes one, first of all checks). A
  fault that finds its queue full is a no-op, counted as such ("merged").
- The soak's SUBSCRIBE 401s are one at a time and rarer than the bursts on other
  calls: a master that refuses fresh tokens to SUBSCRIBE five times in a row is one
  the driver rightly gives up on (``driver.MAX_SUBSCRIBE_401``).
- A master that loses the lead comes back empty (``MasterGroup.fail_over``): what it
  knew of finished tasks is gone. :func:`failover` first adds every master's tasks to a
  :class:`TaskHistory`, so the soak's ledger (``invariants.ledger``) still counts them.
- Real agents resend an unacknowledged status update until it is acknowledged
  (``StatusUpdateManager``, every 10 s, doubling); the fake master resends them only
  when the framework re-subscribes. :func:`resend_updates` (a stream drop) is how the
  soak's quiet period stands in for that retry (``run.py``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Dict, FrozenSet, Optional, Sequence, Set, Tuple

from mesos_auth.testing.master import SCHEDULER_PATH
from mesos_auth.testing.master.calls import CALL_TYPES

__all__ = ["ACTIONS", "Action"]

#: Most 401 answers queued at a master at once.
UNAUTHORIZED_CAP = 3

_queue_lock = threading.Lock()
# What was queued and not yet consumed, and how far the consumers were counted: per IAM, per master.
_iam_queues: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # logins when last queued
_call_queues: Dict[Tuple[Any, FrozenSet[str]], Tuple[int, int]] = {}
#: Every call but SUBSCRIBE (``mesos_auth.testing.master.calls.CALL_TYPES``).
CALLS = frozenset(CALL_TYPES - {"SUBSCRIBE"})


def masters(cluster: Any) -> Tuple[Any, ...]:
    """Every master of the cluster (one for a single-master FakeCluster)."""
    found = getattr(cluster, "masters", None)
    return tuple(found) if found else (cluster.master,)


def leader_index(cluster: Any) -> int:
    leader = getattr(cluster, "leader", None) or cluster.master
    return masters(cluster).index(leader)


def _leader(cluster: Any) -> Any:
    return masters(cluster)[leader_index(cluster)]


# -- what the masters knew ----------------------------------------------------------------------


class TaskHistory:
    """Every task any master launched (``TASK_STAGING`` seen) and those it saw terminal, by task id."""

    TERMINAL = frozenset(
        {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"}
    )

    def __init__(self) -> None:
        self.launched: Set[str] = set()
        self.terminal: Set[str] = set()

    def record(self, cluster: Any) -> None:
        for master in masters(cluster):
            for task_id, record in master.task_records.items():
                if "TASK_STAGING" in record.states:
                    self.launched.add(task_id)
                    if record.states[-1] in self.TERMINAL:
                        self.terminal.add(task_id)


_history_lock = threading.RLock()
_histories: weakref.WeakKeyDictionary[Any, TaskHistory] = weakref.WeakKeyDictionary()


def history(cluster: Any) -> TaskHistory:
    """The cluster's task history (made empty the first time)."""
    with _history_lock:
        found = _histories.get(cluster)
        if found is None:
            found = _histories[cluster] = TaskHistory()
        return found


def recorded_history(cluster: Any) -> TaskHistory:
    """The cluster's task history with every master's tasks added now."""
    with _history_lock:
        found = history(cluster)
        found.record(cluster)
        return found


# -- one-shot faults -------------------------------------------------------------------------


def unauthorized(cluster: Any, n: int) -> int:
    """The leader answers its next ``n`` calls (every kind but SUBSCRIBE) with 401; how many were queued.

    The driver refreshes its token and resends once: a second 401 in a row fails that call.
    """
    return _queue_401(_leader(cluster), n, CALLS, UNAUTHORIZED_CAP)


def unauthorized_subscribe(cluster: Any) -> int:
    """The leader answers the next SUBSCRIBE with 401 (a fresh token refused once); 1 if queued.

    One at a time, and only once a SUBSCRIBE was accepted (by any master) since the last
    one was answered: otherwise, while a framework backs off, every SUBSCRIBE it makes
    would meet a new one, and a master that refuses fresh tokens to SUBSCRIBE five times
    in a row is one the driver rightly gives up on (``driver.MAX_SUBSCRIBE_401``).
    """
    gate = _subscribe_gates.setdefault(cluster, _SubscribeGate())
    with _queue_lock:
        gate.update(masters(cluster))
        if gate.pending or gate.waiting_for_accept:
            return 0
        _leader(cluster).fail_next_calls(1, 401, call_types=("SUBSCRIBE",))
        gate.pending, gate.waiting_for_accept = 1, True
    return 1


class _SubscribeGate:
    """The injected SUBSCRIBE 401 still queued, and whether a SUBSCRIBE was accepted since the last."""

    def __init__(self) -> None:
        self.pending = 0
        self.waiting_for_accept = False
        self.seen: Dict[int, int] = {}  # per master (by position): requests looked at

    def update(self, every: Sequence[Any]) -> None:
        for position, master in enumerate(every):
            requests = master.requests
            seen = self.seen.get(position, len(requests))
            for request in requests[seen if seen <= len(requests) else 0 :]:
                if request.path != SCHEDULER_PATH or request.call_type != "SUBSCRIBE":
                    continue
                if self.pending:
                    self.pending -= 1  # injected failures come first: this one got the 401
                elif request.status == 200:
                    self.waiting_for_accept = False
            self.seen[position] = len(requests)


_subscribe_gates: weakref.WeakKeyDictionary[Any, _SubscribeGate] = weakref.WeakKeyDictionary()


def _queue_401(master: Any, n: int, call_types: FrozenSet[str], cap: int) -> int:
    """Queue up to ``n`` 401s for ``call_types``, keeping at most ``cap`` pending.

    Injected failures are consumed one per matching scheduler request, before any other
    check (``checks.RequestChecks.check_injected_failure``): the requests the master
    recorded since the last look tell how many are left.
    """
    key = (master, call_types)
    with _queue_lock:
        requests = master.requests
        pending, seen = _call_queues.get(key, (0, len(requests)))
        if seen > len(requests):
            seen = 0
        consumed = sum(1 for r in requests[seen:] if r.path == SCHEDULER_PATH and r.call_type in call_types)
        pending = max(0, pending - consumed)
        queued = max(0, min(n, cap - pending))
        if queued:
            master.fail_next_calls(queued, 401, call_types=call_types)
        _call_queues[key] = (pending + queued, len(requests))
    return queued


def revoke(cluster: Any, uid: str) -> None:
    """Every token the IAM issued to ``uid`` so far is revoked (masters then answer 401)."""
    cluster.iam.revoke_tokens(uid)


def iam_unavailable(cluster: Any, n: int) -> int:
    """The IAM answers the next ``n`` logins with 503; how many were queued.

    Only once a login succeeded since the last outage (0 otherwise): failures are answered
    in order, one per attempt, so a success means the last outage is over. Without that,
    the retries of one login would meet outage after outage.
    """
    iam = cluster.iam
    with _queue_lock:
        logins = iam.login_count
        if logins <= _iam_queues.get(iam, -1):
            return 0
        iam.fail_next_logins(n, 503)
        _iam_queues[iam] = logins
    return n


def rescind(cluster: Any) -> int:
    """The leader rescinds every outstanding offer (launches on them then fail as invalid offers)."""
    return int(_leader(cluster).rescind_offers())


def drop(cluster: Any) -> int:
    """The leader drops every event stream abruptly; returns how many."""
    return int(_leader(cluster).drop_streams())


def failover(cluster: Any) -> Optional[int]:
    """The leader dies in ZooKeeper and the next master leads; the new leader's index.

    The masters' tasks are added to the cluster's :class:`TaskHistory` first: the old
    leader comes back empty. None on a single-master cluster (the fault is then a no-op).
    """
    fail_over = getattr(cluster, "fail_over", None)
    if fail_over is None or len(masters(cluster)) < 2:
        return None
    with _history_lock:
        history(cluster).record(cluster)
        return masters(cluster).index(fail_over())


resend_updates = drop


# -- faults with a duration --------------------------------------------------------------------


def iam_slow(cluster: Any, seconds: float) -> None:
    cluster.iam.set_latency(seconds)


def iam_fast(cluster: Any, _: Any = None) -> None:
    cluster.iam.set_latency(0)


def expire(cluster: Any, seconds: float) -> float:
    """The IAM's clock jumps ``seconds`` ahead: every token issued before is expired."""
    cluster.iam.shift_clock(seconds)
    return seconds


def unexpire(cluster: Any, seconds: float) -> None:
    cluster.iam.shift_clock(-seconds)


def silence(cluster: Any) -> int:
    index = leader_index(cluster)
    masters(cluster)[index].go_silent()
    return index


def speak(cluster: Any, index: int) -> None:
    masters(cluster)[index].speak()


def go_down(cluster: Any) -> int:
    index = leader_index(cluster)
    masters(cluster)[index].go_down()
    return index


def come_up(cluster: Any, index: int) -> None:
    masters(cluster)[index].come_up()


class Action:
    """How a kind of fault is done: ``begin(cluster, **params)``, then ``end(cluster, begun)``."""

    def __init__(
        self,
        begin: Callable[..., Any],
        end: Optional[Callable[[Any, Any], None]] = None,
        params: Optional[Callable[[Dict[str, Any], Dict[str, Any]], Dict[str, Any]]] = None,
    ) -> None:
        self.begin = begin
        self.end = end
        self._params = params

    def arguments(self, params: Dict[str, Any], context: Dict[str, Any]) -> Dict[str, Any]:
        """The keyword arguments of ``begin``: the fault's params, mapped with the run's context."""
        return self._params(params, context) if self._params is not None else dict(params)


def _uid_of(params: Dict[str, Any], context: Dict[str, Any]) -> Dict[str, Any]:
    return {"uid": context["uids"][params["framework"]]}


#: Every kind of fault (``schedule.KINDS`` has the same names).
ACTIONS: Dict[str, Action] = {
    "unauthorized": Action(unauthorized),
    "unauthorized_subscribe": Action(unauthorized_subscribe),
    "revoke": Action(revoke, params=_uid_of),
    "iam_unavailable": Action(iam_unavailable),
    "rescind": Action(rescind),
    "drop": Action(drop),
    "iam_slow": Action(iam_slow, iam_fast),
    "expire": Action(expire, unexpire),
    "silence": Action(silence, speak),
    "restart": Action(go_down, come_up),
    "failover": Action(failover),
}
