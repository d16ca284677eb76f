"""A fake Mesos agent that runs executors and command tasks as real processes.

:class:`FakeAgent` is a real HTTP(S) server on 127.0.0.1 (the fakes' ``_server``
plumbing) serving the v1 executor API (``executor_api``) for the tasks a
:class:`~mesos_auth.testing.FakeMaster` hands it: the master's ACCEPT gives each
task to the agent instead of simulating its states (``FakeMaster.set_task_runner``),
the agent starts the executor or the command (``core``, ``processes``) with the
environment Mesos gives executors (``environment``), and status updates travel back
through the master's event stream to the scheduler, with the executor's uuid.

One FakeAgent runs the tasks of every fake agent of its master (each keeps its
agent id in ``MESOS_SLAVE_ID`` and the updates); they share its one address.
(unverified simplification: a real cluster has one agent process per agent.)
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from mesos_auth.testing._server import Answer, FakeServer, Request, Response, TLSOption
from mesos_auth.testing.agent import executor_api
from mesos_auth.testing.agent.core import AgentCore
from mesos_auth.testing.agent.environment import DEFAULT_SHUTDOWN_GRACE_PERIOD, AgentAddress
from mesos_auth.testing.agent.processes import ManagedProcess
from mesos_auth.testing.agent.runs import MasterLink
from mesos_auth.testing.agent.tokens import ExecutorTokens
from mesos_auth.testing.master.streams import EventStream, StreamHub
from mesos_auth.testing.master.timers import TimerThread

JSON = Dict[str, Any]
PathLike = Union[str, Path]

#: ``DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL`` (apache/mesos ``src/slave/constants.hpp``): 30 minutes.
EXECUTOR_HEARTBEAT_INTERVAL = 1800.0


class FakeAgent(FakeServer):
    """Runs a master's tasks as processes; a context manager, usable without pytest.

    ``master``: the FakeMaster whose tasks it runs (or :meth:`attach` later).
    ``authenticate_http_executors``: require the executor token on
    ``/api/v1/executor`` (Mesos' flag; off by default there, on in a strict
    FakeCluster). Tokens are always made and given to executors
    (``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``), as by an agent with ``--jwt_secret_key``.
    ``jwt_secret_key``: the HMAC key (random by default). ``directory``: where sandboxes
    go (a temporary directory by default); everything under it is removed at stop.
    ``executor_shutdown_grace_period``: between SHUTDOWN and SIGKILL (Mesos: 5 s).
    ``stop_grace_period``: how long :meth:`stop` lets processes end after SIGTERM
    before SIGKILL (our choice). ``max_processes`` bounds live processes.
    """

    def __init__(
        self,
        master: Optional[Any] = None,
        *,
        tls: TLSOption = None,
        plain_http: bool = True,
        ssl_downgrade: bool = False,
        authenticate_http_executors: bool = False,
        jwt_secret_key: Optional[bytes] = None,
        directory: Optional[PathLike] = None,
        heartbeat_interval: float = EXECUTOR_HEARTBEAT_INTERVAL,
        executor_shutdown_grace_period: float = DEFAULT_SHUTDOWN_GRACE_PERIOD,
        stop_grace_period: float = 2.0,
        max_processes: int = 64,
    ) -> None:
        super().__init__(tls=tls, plain_http=plain_http, ssl_downgrade=ssl_downgrade)
        self.authenticate_http_executors = bool(authenticate_http_executors)
        self.stop_grace_period = float(stop_grace_period)
        self._own_directory = directory is None
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="fake-agent-"))
        self._changed = threading.Condition(threading.RLock())
        self._timers = TimerThread(time.monotonic, name="FakeAgent-timers", on_error=self.record_error)
        self._hub = StreamHub(self._changed, heartbeat_interval, self._stream_lost, self.record_error)
        self._core = AgentCore(
            lock=self._changed,
            hub=self._hub,
            tokens=ExecutorTokens(jwt_secret_key),
            address=self._agent_address,
            sandbox_root=self.directory / "slaves-root",
            schedule=self._timers.call_later,
            on_error=self.record_error,
            shutdown_grace_period=float(executor_shutdown_grace_period),
            max_processes=max_processes,
        )
        self._master: Optional[Any] = None
        if master is not None:
            self.attach(master)

    def __repr__(self) -> str:
        return f"<FakeAgent {self.url} authenticate_http_executors={self.authenticate_http_executors}>"

    # -- wiring ------------------------------------------------------------------------------

    def attach(self, master: Any) -> None:
        """Run ``master``'s tasks from now on (``master.set_task_runner(self)``)."""
        self._master = master
        self._core.master = master
        master.set_task_runner(self)

    def _agent_address(self, agent_id: str) -> AgentAddress:
        scheme = "https" if "https" in self._listeners else "http"
        port = int(self._listeners[scheme].server_address[1])
        return AgentAddress(
            agent_id, "127.0.0.1", port, tls=scheme == "https", ssl_downgrade=self.ssl_downgrade, ca_file=self.ca_bundle
        )

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:<port>``: what executors get as ``MESOS_AGENT_ENDPOINT``."""
        return self._agent_address("").endpoint

    # -- the master's calls (with the master's lock held: only queue the work) ------------------

    def _later(self, action: Callable[[], None]) -> None:
        self._timers.call_later(0.0, action)

    def launch(self, framework_info: JSON, agent_info: JSON, task: JSON, executor: Optional[JSON]) -> None:
        self._later(functools.partial(self._core.launch, dict(framework_info), dict(agent_info), task, executor))

    def launch_group(self, framework_info: JSON, agent_info: JSON, tasks: List[JSON], executor: JSON) -> None:
        self._later(functools.partial(self._core.launch_group, dict(framework_info), dict(agent_info), tasks, executor))

    def kill(self, framework_id: str, task_id: str, kill_policy: Optional[JSON]) -> None:
        self._later(functools.partial(self._core.kill, framework_id, task_id, kill_policy))

    def acknowledge(self, framework_id: str, task_id: str, status_uuid: str) -> None:
        self._later(functools.partial(self._core.acknowledge, framework_id, task_id, status_uuid))

    def message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None:
        self._later(functools.partial(self._core.framework_message, framework_id, agent_id, executor_id, data))

    def shutdown_framework(self, framework_id: str) -> None:
        self._later(functools.partial(self._core.shutdown_framework, framework_id))

    # -- what tests read ------------------------------------------------------------------------

    @property
    def processes(self) -> List[ManagedProcess]:
        """Every process this agent started (running or reaped), in order."""
        return list(self._core.processes.started)

    def live_processes(self) -> List[ManagedProcess]:
        return self._core.processes.live()

    def executor_token(self, framework_id: str, executor_id: str) -> str:
        """The token of the executor's current run (its ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``)."""
        with self._changed:
            run = self._core.executor_run(framework_id, executor_id)
            if run is None:
                raise KeyError(f"no executor {executor_id!r} of framework {framework_id!r}")
            return self._core.tokens.executor_token(framework_id, executor_id, run.container_id)

    def executor_states(self) -> Dict[str, str]:
        """Executor id -> REGISTERING, RUNNING, TERMINATING or TERMINATED."""
        with self._changed:
            return {run.executor_id: run.state for run in self._core.executors.values()}

    @property
    def messages(self) -> List[JSON]:
        """Executor-to-framework MESSAGE calls: ``{"framework_id", "executor_id", "data"}``."""
        with self._changed:
            return list(self._core.messages)

    @property
    def sandbox_root(self) -> Path:
        return self._core.sandbox_root

    def wait_for(self, predicate: Callable[[FakeAgent], bool], timeout: float = 30.0) -> bool:
        """Wait until ``predicate(agent)`` holds (re-checked on every change); False at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.2))
        return True

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> FakeAgent:
        if not self._started:
            self._timers.start()
        super().start()
        return self

    def __enter__(self) -> FakeAgent:
        return self.start()

    def reset(self) -> None:
        """Kill and reap every process, forget executors and tasks (for a shared fake between tests)."""
        self._timers.clear()
        self._core.end_all(self.stop_grace_period, final=False)
        self._hub.finish_all()
        self._hub.join(timeout=5.0)
        self._hub.forget_ended()

    def before_stop(self) -> None:
        self._end()

    def stop(self) -> None:
        super().stop()
        self._end()  # also when never started
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _end(self) -> None:
        self._core.end_all(self.stop_grace_period, final=True)
        with self._changed:
            self._hub.stopping = True
            self._changed.notify_all()
        self._timers.stop()
        self._hub.join(timeout=5.0)
        if self._master is not None and getattr(self._master, "task_runner", None) is self:
            self._master.set_task_runner(None)

    # -- HTTP --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.path == executor_api.EXECUTOR_PATH:
            return executor_api.answer(self._core, request, authenticate=self.authenticate_http_executors)
        return Response.text(404, "")

    def _stream_lost(self, stream: EventStream) -> None:
        """The executor hung up. (unverified) Nothing else happens: its process decides."""
        with self._changed:
            for run in self._core.executors.values():
                if run.stream is stream:
                    run.stream = None


__all__ = ["FakeAgent", "MasterLink"]
