"""What the driver integration tests share: a recording scheduler that launches
tasks like a real framework, and a cluster made of the fakes."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from mesos_auth import RetryPolicy, Scheduler, ServiceAccount, required_permissions
from mesos_auth.tokens import TokenInfo

#: Re-subscribe fast in tests; the shape of the backoff is tested on its own.
FAST_BACKOFF = RetryPolicy(initial_delay=0.05, backoff=2.0, max_delay=0.5, jitter=0.2, deadline=3600)
DEADLINE = 30.0
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}


class RecordingScheduler(Scheduler):
    """Launches ``tasks`` one-cpu command tasks from its offers and records everything."""

    def __init__(self, tasks: int = 2, cpus: float = 0.1, mem: float = 32.0) -> None:
        self.wanted = tasks
        self.cpus, self.mem = cpus, mem
        self.launched: List[str] = []
        self.updates: List[Dict[str, Any]] = []
        self.events: List[Any] = []
        self.errors: List[str] = []
        self.auth_failures: List[Exception] = []
        self.refreshed: List[TokenInfo] = []
        self.framework_ids: List[str] = []
        self.threads: set = set()
        self._changed = threading.Condition()

    def _note(self, *event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = DEADLINE, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"not within {timeout} s: {what or predicate}; events: {self.kinds()}")
                self._changed.wait(min(remaining, 0.2))

    def kinds(self) -> List[str]:
        return [e[0] for e in self.events]

    def states(self) -> Dict[str, str]:
        latest: Dict[str, str] = {}
        for update in self.updates:
            latest[update["task_id"]["value"]] = update["state"]
        return latest

    def finished(self) -> bool:
        states = self.states()
        return len(self.launched) >= self.wanted and all(states.get(t) in TERMINAL for t in self.launched)

    # -- pymesos callbacks ---------------------------------------------------------

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self.framework_ids.append(framework_id["value"])
        self._note("registered", framework_id["value"])

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self._note("reregistered", master_info)

    def disconnected(self, driver: Any) -> None:
        self._note("disconnected")

    def resourceOffers(self, driver: Any, offers: List[Any]) -> None:
        for offer in offers:
            cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
            tasks = []
            while len(self.launched) < self.wanted and cpus >= self.cpus:
                task_id = f"task-{len(self.launched)}-{uuid.uuid4().hex[:6]}"
                self.launched.append(task_id)
                cpus -= self.cpus
                tasks.append(
                    {
                        "name": task_id,
                        "task_id": {"value": task_id},
                        "agent_id": offer["agent_id"],
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": self.cpus}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": self.mem}},
                        ],
                        "command": {"value": "echo hello"},
                    }
                )
            if tasks:
                driver.launchTasks(offer["id"], tasks)
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 1.0})
        self._note("offers", len(offers))

    def statusUpdate(self, driver: Any, status: Any) -> None:
        self.updates.append(dict(status))
        self._note("update", status["task_id"]["value"], status["state"])

    def error(self, driver: Any, message: str) -> None:
        self.errors.append(message)
        self._note("error", message)

    # -- mesos-auth callbacks ----------------------------------------------------------

    def authenticated(self, driver: Any, principal: str) -> None:
        self._note("authenticated", principal)

    def tokenRefreshed(self, driver: Any, info: TokenInfo) -> None:
        self.refreshed.append(info)
        self._note("tokenRefreshed", info.uid)

    def authenticationFailed(self, driver: Any, error: Exception) -> None:
        self.auth_failures.append(error)
        self._note("authenticationFailed", type(error).__name__)


def framework_info(**extra: Any) -> Dict[str, Any]:
    info = {"user": "nobody", "name": "mesos-auth-test", "failover_timeout": 60.0}
    info.update(extra)
    return info


def framework_account(iam: Any, uid: str, **framework: Any) -> ServiceAccount:
    """An account of ``iam`` granted what ``framework_info(**framework)`` needs in strict mode.

    The strict fake master authorizes through the IAM's ACLs as DC/OS does: the
    account gets the canonical set (``mesos_auth.required_permissions``: its role,
    ``*`` by default, and its user, ``nobody``).
    """
    account: ServiceAccount = iam.create_account(uid)
    for permission in required_permissions(framework_info(principal=uid, **framework)):
        iam.grant_permission(uid, permission.rid, permission.action, description=permission.why)
    return account


@contextmanager
def running(driver: Any) -> Iterator[Any]:
    """Start ``driver``; whatever happens, stop it (failover, so no TEARDOWN) and join it."""
    driver.start()
    try:
        yield driver
    finally:
        driver.stop(failover=True)
        thread: Optional[threading.Thread] = getattr(driver, "_stream_thread", None)
        if thread is not None:
            thread.join(timeout=DEADLINE)
            assert not thread.is_alive(), "the driver's stream thread did not end"
