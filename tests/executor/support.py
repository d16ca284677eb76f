"""An executor that records its callbacks, and the environment an agent gives an executor."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

#: A made-up token shaped like the agent's HS256 JWT (header.claims.signature); never valid anywhere.
TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWQiOiJmdy0xIiwiZWlkIjoiZXgtMSIsImNpZCI6ImMtMSJ9.c2lnbmF0dXJlLW9mLXRlc3Q"
)
OTHER_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWQiOiJvdGhlciIsImVpZCI6ImV4LTkiLCJjaWQiOiJjLTkifQ.b3RoZXItc2lnbmF0dXJl"
)


def executor_env(
    endpoint: str, *, token: Optional[str] = TOKEN, checkpoint: bool = False, **extra: str
) -> Dict[str, str]:
    """The variables Mesos' executorEnvironment sets (src/slave/slave.cpp), plus MESOS_LOCAL: a test
    executor must never kill the test's process group on shutdown."""
    env = {
        "MESOS_AGENT_ENDPOINT": endpoint,
        "MESOS_FRAMEWORK_ID": "fw-1",
        "MESOS_EXECUTOR_ID": "ex-1",
        "MESOS_SLAVE_ID": "agent-1",
        "MESOS_SLAVE_PID": f"slave(1)@{endpoint}",
        "MESOS_DIRECTORY": "/nonexistent/sandbox",
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
        "MESOS_LOCAL": "1",
    }
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = "15mins"
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "100ms"
    if token is not None:
        env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"] = token
    env.update(extra)
    return env


class RecordingExecutor:
    """pymesos' Executor interface; every callback is recorded as (name, args)."""

    def __init__(self, on_launch: Optional[Callable[[Any, Any], None]] = None) -> None:
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []
        self.changed = threading.Condition()
        self.on_launch = on_launch

    def _record(self, name: str, *args: Any) -> None:
        with self.changed:
            self.calls.append((name, args))
            self.changed.notify_all()

    def names(self) -> List[str]:
        with self.changed:
            return [name for name, _ in self.calls]

    def args(self, name: str) -> List[Tuple[Any, ...]]:
        with self.changed:
            return [args for called, args in self.calls if called == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: len([n for n, _ in self.calls if n == name]) >= count, timeout):
                raise AssertionError(f"{name} not called {count} time(s) within {timeout} s: {self.names()}")

    def registered(self, driver: Any, executor_info: Any, framework_info: Any, agent_info: Any) -> None:
        self._record("registered", executor_info, framework_info, agent_info)

    def reregistered(self, driver: Any, agent_info: Any) -> None:
        self._record("reregistered", agent_info)

    def disconnected(self, driver: Any) -> None:
        self._record("disconnected")

    def launchTask(self, driver: Any, task: Any) -> None:
        self._record("launchTask", task)
        if self.on_launch is not None:
            self.on_launch(driver, task)

    def killTask(self, driver: Any, task_id: Any) -> None:
        self._record("killTask", task_id)

    def frameworkMessage(self, driver: Any, message: Any) -> None:
        self._record("frameworkMessage", message)

    def shutdown(self, driver: Any) -> None:
        self._record("shutdown")

    def error(self, driver: Any, message: str) -> None:
        self._record("error", message)


def eventually(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Wait until ``predicate()`` holds (polled), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate}")
        threading.Event().wait(0.01)
