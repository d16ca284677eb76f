"""Proof with programs nobody edited for us: a Toil-style scheduler *and* executor, authenticated end to end.

The scheduler (``tests/programs/toil_style_executor_framework.py``) is written as Toil
writes its Mesos batch system and runs under ``mesos-auth run``; its tasks carry an
ExecutorInfo whose command runs ``tests/programs/toil_style_executor.py``, written as
Toil writes ``_toil_mesos_executor`` (module-level ``from pymesos import Executor,
MesosExecutorDriver``, ``MesosExecutorDriver(executor, use_addict=True)``, TASK_RUNNING
and TASK_FINISHED sent by the executor itself). Neither program imports mesos_auth.
The cluster is strict, over TLS, and its agent runs the executor as a real process
and requires the executor token (``authenticate_http_executors=True``).

How the executor gets the hook, as on a real cluster: the agent starts the executor
in an environment of its own, never the scheduler's, and Toil's ExecutorInfo command
(``resolveEntryPoint("_toil_mesos_executor")``) cannot be changed without editing
Toil. So the operator gives the hook to every executor through the agent: mesos-auth's
bootstrap directory (``mesos_auth.cli.run.BOOTSTRAP_DIR``, the one ``mesos-auth run``
puts first on ``PYTHONPATH``) on the ``PYTHONPATH`` of the agent's executor
environment, e.g. on DC/OS ``--executor_environment_variables``
(``MESOS_EXECUTOR_ENVIRONMENT_VARIABLES``) with ``"PYTHONPATH": "<bootstrap dir>"``
next to the variables already there. The fake agent has no such flag; it passes its
own process's ``PYTHONPATH`` to executors (``mesos_auth/testing/agent/environment.py``),
so the test puts the bootstrap directory on this process's ``PYTHONPATH`` for its
duration (``monkeypatch``). (The other way, a ``mesos-auth run --`` in front of the
executor's command, needs a framework whose ExecutorInfo you can edit.)

What proves it: the agent's side of every executor call is recorded by wrapping the
fake agent's ``handle`` (no library change): each call carried ``Authorization:
Bearer`` with this executor's own token and none was refused (no 401/403); the
TASK_RUNNING and TASK_FINISHED UPDATEs came from the executor (``SOURCE_EXECUTOR``,
its executor id, its uuid); the master's task records end in TASK_FINISHED; the
scheduler received each update with the executor's uuid, and acknowledged the
TASK_RUNNING ones (the master's recorded ACKNOWLEDGE calls). Nothing secret is printed.
"""

from __future__ import annotations

import ast
import getpass
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from mesos_auth.cli import run as run_cli
from mesos_auth.testing import FakeCluster
from tests.cli.auth_support import assert_no_secrets, mesos_auth_command, subprocess_environment

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
SCHEDULER = PROGRAMS / "toil_style_executor_framework.py"
EXECUTOR = PROGRAMS / "toil_style_executor.py"
TIMEOUT = 90
TASKS = ["toil-style-task-1", "toil-style-task-2"]
#: The scheduler program's line for each status update it gets.
UPDATE_LINE = re.compile(r"task (\S+) is (TASK_\w+) \(source (\S+), executor (\S+), uuid (\S+)\)")

pytestmark = pytest.mark.timeout(110)


class AgentTap:
    """What the fake agent saw of the executor API: one entry per call, the token checked, never kept."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.agent = cluster.agent
        self.handle = self.agent.handle
        self.lock = threading.Lock()
        self.calls: List[Dict[str, Any]] = []
        self.tokens: List[str] = []  # only to assert that no output holds them

    def __call__(self, request: Any) -> Any:
        entry = self._describe(request)
        answer = self.handle(request)
        entry["status"] = getattr(answer, "status", None)
        with self.lock:
            self.calls.append(entry)
        return answer

    def _describe(self, request: Any) -> Dict[str, Any]:
        header = request.header("Authorization") or ""
        entry: Dict[str, Any] = {"path": request.path, "scheme": request.scheme, "auth": header.split(" ", 1)[0]}
        try:
            call = request.json()
        except ValueError:
            return entry
        framework_id = call.get("framework_id", {}).get("value")
        executor_id = call.get("executor_id", {}).get("value")
        entry.update(type=call.get("type"), executor_id=executor_id)
        try:
            token: Optional[str] = self.agent.executor_token(framework_id, executor_id)
        except KeyError:
            token = None
        if token is not None:
            with self.lock:
                self.tokens.append(token)
        entry["own_token"] = token is not None and header == f"Bearer {token}"
        status = call.get("update", {}).get("status", {})
        if status:
            entry.update(
                task_id=status.get("task_id", {}).get("value"),
                state=status.get("state"),
                source=status.get("source"),
                uuid=status.get("uuid"),
                status_executor_id=status.get("executor_id", {}).get("value"),
            )
        return entry


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster("strict", heartbeat_interval=5.0, executors="process", authenticate_http_executors=True) as fake:
        yield fake
        fake.check()


def imported_modules(path: Path) -> List[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_a_toil_style_executor_reports_its_own_task_finished_with_the_agents_token(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for program in (SCHEDULER, EXECUTOR):
        assert not [m for m in imported_modules(program) if m.split(".")[0] == "mesos_auth"], program
    assert cluster.agent.authenticate_http_executors and cluster.agent.tls

    user = getpass.getuser()
    account = cluster.create_service_account("toil-style", task_user=user, write_secret_to=tmp_path / "secret.json")
    scheduler_env = subprocess_environment(PYTHONUNBUFFERED="1", **cluster.environment(account))
    # The operator's part: the bootstrap on the PYTHONPATH of the agent's executor environment.
    agent_path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [run_cli.BOOTSTRAP_DIR, agent_path])))
    tap = AgentTap(cluster)
    monkeypatch.setattr(cluster.agent, "handle", tap)

    endpoint = cluster.master_url.split("://", 1)[1]  # host:port, as Toil passes it
    command = [*mesos_auth_command(), "run", "--", sys.executable, str(SCHEDULER), endpoint, "2"]
    result = subprocess.run(  # noqa: S603 - our interpreter, our programs
        command, env=scheduler_env, cwd=str(tmp_path), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 task(s) finished" in result.stdout
    assert "driver class: ToilStyleDriver, launched 2" in result.stdout

    # The executor ends when the framework is torn down (SHUTDOWN), by itself: exit 0.
    agent = cluster.agent
    assert agent.wait_for(lambda a: bool(a.processes) and not a.live_processes(), timeout=30)
    [process] = agent.processes  # one executor, toil-<pid>, ran both tasks
    executor_stdout = (process.sandbox / "stdout").read_text(encoding="utf-8", errors="replace")
    executor_stderr = (process.sandbox / "stderr").read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, executor_stdout + executor_stderr
    assert "driver class: AuthenticatedExecutorDriver" in executor_stdout, executor_stdout + executor_stderr
    assert "executor exits with 0" in executor_stdout

    # The agent's side: every executor call over TLS with this executor's own Bearer token, none refused.
    calls = list(tap.calls)
    executor_ids = {c.get("executor_id") for c in calls}
    assert len(executor_ids) == 1 and str(executor_ids.pop()).startswith("toil-"), calls
    assert calls and all(c["path"] == "/api/v1/executor" and c["scheme"] == "https" for c in calls), calls
    assert all(c["auth"] == "Bearer" and c["own_token"] for c in calls), calls
    assert [c["status"] for c in calls if c["status"] not in (200, 202)] == [], calls
    assert [c["type"] for c in calls].count("SUBSCRIBE") == 1
    updates = [c for c in calls if c.get("type") == "UPDATE"]
    for task_id in TASKS:
        sent = [u for u in updates if u["task_id"] == task_id]
        assert [u["state"] for u in sent] == ["TASK_RUNNING", "TASK_FINISHED"], updates
        assert all(u["source"] == "SOURCE_EXECUTOR" and u["status_executor_id"] == u["executor_id"] for u in sent)
    executor_uuids = {(u["task_id"], u["state"]): u["uuid"] for u in updates}

    # The master's side: the tasks finished, and the scheduler got each update with the executor's uuid.
    master = cluster.master
    [framework] = [f for f in master.frameworks.values() if f.principal == "toil-style"]
    records = {t.task_id: t for t in master.task_records.values() if t.framework_id == framework.framework_id}
    assert sorted(records) == TASKS
    assert all(r.states[-2:] == ("TASK_RUNNING", "TASK_FINISHED") for r in records.values()), records
    received = {(m[0], m[1]): m for m in UPDATE_LINE.findall(result.stdout)}
    for (task_id, state), uuid in executor_uuids.items():
        _, _, source, executor_id, got_uuid = received[(task_id, state)]
        assert (source, executor_id, got_uuid) == ("SOURCE_EXECUTOR", updates[0]["executor_id"], uuid)
    acknowledged = {
        (r.call or {}).get("acknowledge", {}).get("uuid")
        for r in master.requests
        if r.call_type == "ACKNOWLEDGE" and r.status == 202
    }
    assert {executor_uuids[(t, "TASK_RUNNING")] for t in TASKS} <= acknowledged

    outputs = (result.stdout, result.stderr, executor_stdout, executor_stderr)
    assert_no_secrets(*outputs)
    assert tap.tokens and not [t for t in tap.tokens for text in outputs if t in text]
