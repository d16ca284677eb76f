"""Each example framework runs, as DC/OS would run it, against the fake cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from mesos_auth.permissions.model import launch_as_user
from mesos_auth.testing.cluster import FakeCluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "frameworks"
TIMEOUT = 120


def run_example(name: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **env)
    return subprocess.run(  # noqa: S603 - our interpreter, our example
        [sys.executable, str(EXAMPLES / name)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster():
    with FakeCluster("strict", heartbeat_interval=5.0) as fake:
        yield fake
        fake.check()


@pytest.fixture
def account_env(cluster, tmp_path, request):
    uid = f"example-{request.node.name[-20:].strip('[]').replace('[', '-')}"
    account = cluster.create_service_account(uid, write_secret_to=tmp_path / "secret.json")
    env = cluster.environment(account)
    env["HELLO_TASKS"] = "2"
    return uid, env


@pytest.mark.parametrize("example", ["hello_factory.py", "hello_subclass.py"])
def test_hello_frameworks_launch_tasks_and_exit_0(example, cluster, account_env) -> None:
    uid, env = account_env
    result = run_example(example, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 task(s) finished" in result.stdout
    assert f"principal {uid}" in result.stdout or f"as {uid!r}" in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    names = [f.name for f in cluster.master.frameworks.values() if f.principal == uid]
    assert names == [example[: -len(".py")]]


def test_hello_subclass_reports_authentication_events(account_env) -> None:
    uid, env = account_env
    result = run_example("hello_subclass.py", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"auth token for {uid!r} received, valid until" in result.stdout
    assert f"authenticated to the master as {uid!r}" in result.stdout


def test_hello_factory_refuses_a_mismatched_principal(cluster, account_env) -> None:
    _, env = account_env
    before = len(cluster.master.requests)
    result = run_example("hello_factory.py", dict(env, HELLO_PRINCIPAL="somebody-else"))
    assert result.returncode == 1
    assert "PrincipalMismatchError" in result.stdout
    assert len(cluster.master.requests) == before


def test_hello_factory_relaunches_a_task_refused_until_its_permission_is_granted(cluster, tmp_path) -> None:
    """Without ``task:user:nobody create`` the master refuses the tasks; the example logs the
    permission and its grant command, and relaunches them (new ids) once it is granted."""
    uid = "example-missing-task-user"
    missing = launch_as_user("nobody")
    account = cluster.create_service_account(uid, missing_permissions=[missing], write_secret_to=tmp_path / "s.json")
    env = dict(os.environ, PYTHONUNBUFFERED="1", HELLO_TASKS="2", **cluster.environment(account))
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our example
        [sys.executable, str(EXAMPLES / "hello_factory.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        refused = cluster.master.wait_for(lambda: tasks_of(cluster, uid, "TASK_ERROR"), timeout=60, what="a refusal")
        cluster.iam.grant_permission(uid, missing.rid, missing.action)
        out, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, out
    assert "REASON_TASK_UNAUTHORIZED" in out and "PermissionDeniedError" in out
    assert f"Grant it with: dcos security org users grant {uid} dcos:mesos:master:task:user:nobody create" in out
    assert "launched again in 1 s with a new id (retry 1 of 3)" in out and "all 2 task(s) finished" in out
    finished = tasks_of(cluster, uid, "TASK_FINISHED")
    assert len(finished) == 2 and not set(finished) & set(refused)
    assert "PRIVATE KEY" not in out


def tasks_of(cluster: FakeCluster, principal: str, state: str) -> List[str]:
    """Ids of the tasks of ``principal``'s frameworks that are in ``state`` now."""
    frameworks = {f.framework_id for f in cluster.master.frameworks.values() if f.principal == principal}
    return [
        t.task_id for t in cluster.master.task_records.values() if t.framework_id in frameworks and t.state == state
    ]


def test_hello_factory_without_credentials_on_a_strict_cluster(cluster) -> None:
    env = cluster.environment()
    result = run_example("hello_factory.py", env)
    assert result.returncode == 1
    assert "NoServiceAccountError" in result.stdout and "DCOS_SERVICE_ACCOUNT_CREDENTIAL" in result.stdout


def test_call_dcos_api(cluster, account_env) -> None:
    uid, env = account_env
    hello = run_example("hello_factory.py", env)
    assert hello.returncode == 0, hello.stdout + hello.stderr
    result = run_example("call_dcos_api.py", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hello_factory" in result.stdout and f"principal={uid}" in result.stdout
    state_calls = [r for r in cluster.master.requests if r.path == "/master/state"]
    assert state_calls and state_calls[-1].headers["Authorization"] == "token=***"
