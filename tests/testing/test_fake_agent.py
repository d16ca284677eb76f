"""FakeAgent: tasks of a FakeMaster run as real processes; the v1 executor API and its tokens.

The scheduler side is the raw HTTP client of ``test_fake_master_support``; the
executor side is raw HTTP too, or a real pymesos executor program. Every process
the agent starts is checked to be gone (killed and reaped) when the agent stops.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from mesos_auth.testing import FakeAgent, FakeCluster, FakeMaster
from mesos_auth.testing.agent import EXECUTOR_PATH
from mesos_auth.testing.agent.processes import live_group_members
from tests.testing.test_fake_master_support import (
    Subscription,
    acknowledge,
    launch,
    offers_of,
    subscribed_framework,
    task_info,
)

AGENT = {"cpus": 4.0, "mem": 4096.0, "disk": 1000.0}


@contextmanager
def agent_and_master(**agent_options: Any) -> Iterator[Tuple[FakeMaster, FakeAgent]]:
    master = FakeMaster(agents=[AGENT], heartbeat_interval=1.0)
    agent = FakeAgent(master, **agent_options)
    with master, agent:
        yield master, agent
        agent.check()
        master.check()
    assert_all_gone(agent)


def assert_all_gone(agent: FakeAgent) -> None:
    """No process of the agent (nor of its process groups) is left, none unreaped."""
    for process in agent.processes:
        assert process.returncode is not None, process
        assert live_group_members(process.pid) == []
        with pytest.raises(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)
    assert not agent.sandbox_root.exists()


def next_update(sub: Subscription) -> Dict[str, Any]:
    """The next UPDATE's status, acknowledged (the agent sends a task's next update after that)."""
    status: Dict[str, Any] = sub.until("UPDATE")["update"]["status"]
    if "uuid" in status:
        assert acknowledge(sub, status).status == 202
    return status


def states_until_terminal(sub: Subscription, limit: int = 10) -> List[Dict[str, Any]]:
    statuses = []
    for _ in range(limit):
        statuses.append(next_update(sub))
        if statuses[-1]["state"] in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST"):
            return statuses
    raise AssertionError(f"no terminal state in {[s['state'] for s in statuses]}")


def command_task(task_id: str, offer: Dict[str, Any], command: str, **extra: Any) -> Dict[str, Any]:
    task = task_info(task_id, offer)
    task["command"] = {"value": command}
    task.update(extra)
    return task


def executor_task(task_id: str, offer: Dict[str, Any], executor_id: str, command: Dict[str, Any]) -> Dict[str, Any]:
    task = task_info(task_id, offer)
    del task["command"]
    task["executor"] = {"executor_id": {"value": executor_id}, "type": "CUSTOM", "command": command}
    return task


# -- command tasks -------------------------------------------------------------------------


def test_a_command_task_runs_and_finishes_as_the_command_executor_reports_it() -> None:
    with agent_and_master() as (master, _agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        assert launch(sub, offer, command_task("t1", offer, "exit 0")).status == 202
        statuses = states_until_terminal(sub)
        assert [s["state"] for s in statuses] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        assert statuses[-1]["message"] == "Command exited with status 0"
        for status in statuses:
            assert status["source"] == "SOURCE_EXECUTOR"
            assert status["executor_id"] == {"value": "t1"}
            assert status["agent_id"] == offer["agent_id"]
        assert master.tasks["t1"][-1] == "TASK_FINISHED"
        sub.close()


def test_a_failing_command_is_task_failed_with_its_exit_status() -> None:
    with agent_and_master() as (master, _agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, command_task("t1", offer, "exit 3"))
        last = states_until_terminal(sub)[-1]
        assert (last["state"], last["message"]) == ("TASK_FAILED", "Command exited with status 3")
        sub.close()


def test_a_command_task_gets_the_executor_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = f'{sys.executable} -c \'import json, os; json.dump(dict(os.environ), open("{out}", "w"))\''
    env = {"variables": [{"name": "GREETING", "value": "hello"}]}
    with agent_and_master() as (master, agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        task = command_task("t1", offer, script)
        task["command"]["environment"] = env
        launch(sub, offer, task)
        assert states_until_terminal(sub)[-1]["state"] == "TASK_FINISHED"
        seen = json.loads(out.read_text())
        sandbox = str(agent.processes[0].sandbox)
        assert seen["MESOS_FRAMEWORK_ID"] == sub.framework_id
        assert seen["MESOS_EXECUTOR_ID"] == "t1"
        assert seen["MESOS_SLAVE_ID"] == offer["agent_id"]["value"]
        assert seen["MESOS_AGENT_ENDPOINT"] == agent.endpoint
        assert seen["MESOS_SLAVE_PID"] == f"slave(1)@{agent.endpoint}"
        assert seen["MESOS_DIRECTORY"] == seen["MESOS_SANDBOX"] == sandbox
        assert seen["MESOS_CHECKPOINT"] == "0"
        assert seen["MESOS_HTTP_COMMAND_EXECUTOR"] == "0"
        assert seen["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"
        assert seen["LIBPROCESS_PORT"] == "0"
        assert seen["GREETING"] == "hello"
        assert seen["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"].count(".") == 2
        assert "/frameworks/" in sandbox and "/executors/t1/runs/" in sandbox
        sub.close()


def test_kill_terms_the_command_then_kills_it_after_the_grace_period() -> None:
    stubborn = "trap '' TERM; while true; do sleep 0.05; done"
    grace = {"grace_period": {"nanoseconds": 200_000_000}}
    with agent_and_master() as (master, _agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, command_task("polite", offer, "sleep 60"), command_task("stubborn", offer, stubborn))
        running = set()
        while len(running) < 2:
            status = next_update(sub)
            if status["state"] == "TASK_RUNNING":
                running.add(status["task_id"]["value"])
        assert sub.call("KILL", {"task_id": {"value": "polite"}}).status == 202
        assert sub.call("KILL", {"task_id": {"value": "stubborn"}, "kill_policy": grace}).status == 202
        ends = {}
        while len(ends) < 2:
            status = next_update(sub)
            ends[status["task_id"]["value"]] = (status["state"], status["message"])
        assert ends == {
            "polite": ("TASK_KILLED", "Command terminated with signal Terminated"),
            "stubborn": ("TASK_KILLED", "Command terminated with signal Killed"),
        }
        sub.close()


def test_stop_kills_and_reaps_every_process_and_its_children() -> None:
    with agent_and_master(stop_grace_period=0.5) as (master, agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, command_task("t1", offer, "sleep 60 & sleep 60 & trap '' TERM; wait"))
        while next_update(sub)["state"] != "TASK_RUNNING":
            pass
        assert len(agent.live_processes()) == 1
        sub.close()
    # agent_and_master checked: reaped, groups empty, sandboxes removed.


# -- executors ------------------------------------------------------------------------------

EXECUTOR_PROGRAM = """
import sys, threading
from pymesos import Executor, MesosExecutorDriver

class Hello(Executor):
    def launchTask(self, driver, task):
        def run():
            for state in ("TASK_RUNNING", "TASK_FINISHED"):
                driver.sendStatusUpdate({"task_id": task["task_id"], "state": state, "message": "hello"})
            driver.stop()
        threading.Thread(target=run, daemon=True).start()

if sys.argv[1] == "mesos_auth":
    from mesos_auth.executor import AuthenticatedExecutorDriver as Driver
else:
    Driver = MesosExecutorDriver
Driver(Hello()).run()
"""


def run_executor_program(tmp_path: Path, driver: str, **agent_options: Any) -> Tuple[List[Dict[str, Any]], str]:
    program = tmp_path / "hello_executor.py"
    program.write_text(EXECUTOR_PROGRAM)
    command = {"value": sys.executable, "shell": False, "arguments": [sys.executable, str(program), driver]}
    with agent_and_master(**agent_options) as (master, agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, executor_task("t1", offer, "hello", command))
        statuses = states_until_terminal(sub)
        failure = sub.until("FAILURE")["failure"]
        assert failure["executor_id"] == {"value": "hello"}
        assert agent.wait_for(lambda a: not a.live_processes())
        stderr = (agent.processes[0].sandbox / "stderr").read_text()
        sub.close()
    return statuses, stderr


def test_a_pymesos_executor_runs_its_task_to_finished_over_plain_http(tmp_path: Path) -> None:
    statuses, stderr = run_executor_program(tmp_path, "pymesos", authenticate_http_executors=False)
    assert [s["state"] for s in statuses] == ["TASK_RUNNING", "TASK_FINISHED"], stderr
    for status in statuses:
        assert status["source"] == "SOURCE_EXECUTOR"
        assert status["message"] == "hello"
        assert status["executor_id"] == {"value": "hello"}
        assert len(status["uuid"]) == 24  # the executor's own uuid, base64 of 16 bytes


def test_an_authenticated_executor_driver_runs_its_task_with_the_token(tmp_path: Path) -> None:
    statuses, stderr = run_executor_program(tmp_path, "mesos_auth", authenticate_http_executors=True)
    assert [s["state"] for s in statuses] == ["TASK_RUNNING", "TASK_FINISHED"], stderr


def test_an_executor_that_exits_fails_its_queued_task() -> None:
    with agent_and_master() as (master, _agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, executor_task("t1", offer, "quitter", {"value": "exit 7"}))
        status = next_update(sub)
        assert status["state"] == "TASK_FAILED"
        assert status["reason"] == "REASON_EXECUTOR_TERMINATED"
        assert status["source"] == "SOURCE_SLAVE"
        assert status["message"] == "Executor terminated"
        assert sub.until("FAILURE")["failure"]["status"] == 7 << 8
        sub.close()


# -- the executor API and its tokens --------------------------------------------------------------


def executor_call(agent: FakeAgent, call: Dict[str, Any], token: Optional[str] = None) -> http.client.HTTPResponse:
    port = int(agent.endpoint.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("POST", EXECUTOR_PATH, body=json.dumps(call), headers=headers)
    return connection.getresponse()


def subscribe_call(framework_id: str, executor_id: str) -> Dict[str, Any]:
    return {
        "type": "SUBSCRIBE",
        "framework_id": {"value": framework_id},
        "executor_id": {"value": executor_id},
        "subscribe": {},
    }


def test_executor_tokens_are_checked_as_mesos_checks_them() -> None:
    with agent_and_master(authenticate_http_executors=True) as (master, agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        # Two executors that never subscribe on their own: the test speaks for them.
        launch(
            sub,
            offer,
            executor_task("ta", offer, "exec-a", {"value": "sleep 60"}),
            executor_task("tb", offer, "exec-b", {"value": "sleep 60"}),
        )
        fid = str(sub.framework_id)
        assert agent.wait_for(lambda a: set(a.executor_states()) == {"exec-a", "exec-b"})
        call = subscribe_call(fid, "exec-a")

        missing = executor_call(agent, call)
        assert missing.status == 401
        assert missing.getheader("WWW-Authenticate") == 'Bearer realm="mesos-agent-executor"'

        own = agent.executor_token(fid, "exec-a")
        header, payload, _signature = own.split(".")
        bad = executor_call(agent, call, f"{header}.{payload}.{'A' * 43}")
        assert bad.status == 401
        assert bad.getheader("WWW-Authenticate") == (
            'Bearer realm="mesos-agent-executor", error="invalid_token", '
            'error_description="Invalid JWT: Token signature does not match"'
        )

        other = executor_call(agent, call, agent.executor_token(fid, "exec-b"))
        assert other.status == 403
        assert "does not contain an 'eid' claim with the executor ID exec-a" in other.read().decode()

        good = executor_call(agent, call, own)
        assert good.status == 200
        assert good.getheader("Content-Type") == "application/json"
        first = good.readline()
        subscribed = json.loads(good.read(int(first)))
        assert subscribed["type"] == "SUBSCRIBED"
        assert subscribed["subscribed"]["executor_info"]["executor_id"] == {"value": "exec-a"}
        assert subscribed["subscribed"]["framework_info"]["id"] == {"value": fid}
        assert subscribed["subscribed"]["agent_info"]["id"] == offer["agent_id"]
        length = good.readline()
        launched = json.loads(good.read(int(length)))
        assert launched["type"] == "LAUNCH"
        assert launched["launch"]["task"]["task_id"] == {"value": "ta"}
        good.close()
        sub.close()


def test_calls_are_checked_in_the_order_of_http_executor() -> None:
    with agent_and_master() as (master, agent):
        sub, event = subscribed_framework(master)
        offer = offers_of(event)[0]
        launch(sub, offer, executor_task("ta", offer, "exec-a", {"value": "sleep 60"}))
        fid = str(sub.framework_id)
        assert agent.wait_for(lambda a: "exec-a" in a.executor_states())
        unknown = executor_call(agent, subscribe_call("nope", "exec-a"))
        assert (unknown.status, unknown.read()) == (400, b"Framework cannot be found")
        unknown = executor_call(agent, subscribe_call(fid, "nope"))
        assert (unknown.status, unknown.read()) == (400, b"Executor cannot be found")
        update = {
            "type": "UPDATE",
            "framework_id": {"value": fid},
            "executor_id": {"value": "exec-a"},
            "update": {"status": {"task_id": {"value": "ta"}, "state": "TASK_RUNNING", "uuid": "AAAA"}},
        }
        invalid = executor_call(agent, update)
        assert (invalid.status, invalid.read()) == (400, b"Failed to validate Executor::Call: Not a valid UUID")
        update["update"]["status"].update(uuid="7f6ZX9uJQKOBm3MBq6aS4Q==", source="SOURCE_EXECUTOR")
        early = executor_call(agent, update)
        assert (early.status, early.read()) == (403, b"Executor is not subscribed")
        heartbeat = {"type": "HEARTBEAT", "framework_id": {"value": "x"}, "executor_id": {"value": "y"}}
        assert executor_call(agent, heartbeat).status == 202
        sub.close()


# -- the cluster ----------------------------------------------------------------------------------


def test_a_cluster_runs_processes_only_when_asked() -> None:
    simulated = FakeCluster("disabled", tls=False)
    try:
        with pytest.raises(AttributeError):
            simulated.agent  # noqa: B018
        assert simulated.master.task_runner is None
    finally:
        simulated.stop()
    strict = FakeCluster("strict", executors="process")
    try:
        assert strict.agent.authenticate_http_executors is True
        assert strict.master.task_runner is strict.agent
    finally:
        strict.stop()
    with FakeCluster("disabled", tls=False, executors="process") as cluster:
        assert cluster.agent.authenticate_http_executors is False
        sub, event = subscribed_framework(cluster.master)
        offer = offers_of(event)[0]
        launch(sub, offer, command_task("t1", offer, "true"))
        assert states_until_terminal(sub)[-1]["state"] == "TASK_FINISHED"
        agent = cluster.agent
        sub.close()
    assert_all_gone(agent)
