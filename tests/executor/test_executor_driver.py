"""AuthenticatedExecutorDriver against a scripted agent over real sockets (plain and TLS)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any, Dict, Iterator, List

import pytest

from mesos_auth import TLSVerificationError
from mesos_auth.executor import AuthenticatedExecutorDriver
from mesos_auth.executor_errors import AgentNotConnectedError, ExecutorAuthenticationError, ExecutorForbiddenError
from mesos_auth.factory import create_executor_driver
from mesos_auth.testing import TestCA
from tests.executor.mini_agent import MiniAgent, body
from tests.executor.support import OTHER_TOKEN, TOKEN, RecordingExecutor, eventually, executor_env
from tests.hostile.server import HostileServer, Peer, RawRequest, response

TOKEN_ENV = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"


@pytest.fixture
def drivers() -> Iterator[List[AuthenticatedExecutorDriver]]:
    started: List[AuthenticatedExecutorDriver] = []
    yield started
    for driver in started:
        driver.stop()
    for driver in started:
        with contextlib.suppress(Exception):  # a test that expects a failure asserted it already
            driver.join()


def start(drivers: List[Any], executor: Any, env: Dict[str, str], **options: Any) -> AuthenticatedExecutorDriver:
    driver = create_executor_driver(executor, environ=env, **options)
    drivers.append(driver)
    driver.start()
    return driver


def running_update(driver: Any, task: Any) -> None:
    driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})


def launch(task_id: str = "task-1") -> Dict[str, Any]:
    return {
        "type": "LAUNCH",
        "launch": {"task": {"task_id": {"value": task_id}, "name": "t", "agent_id": {"value": "agent-1"}}},
    }


# -- the token ------------------------------------------------------------------------


def test_token_is_sent_on_subscribe_and_on_every_call(drivers: List[Any]) -> None:
    agent = MiniAgent(token=TOKEN)
    executor = RecordingExecutor(on_launch=running_update)
    with HostileServer(agent) as server:
        env = executor_env(server.netloc)
        driver = start(drivers, executor, env)
        executor.wait_for("registered")
        agent.push(launch())
        agent.wait_for(lambda: len(agent.calls) >= 1, what="the UPDATE call")
        driver.sendFrameworkMessage("aGVsbG8=")
        agent.wait_for(lambda: len(agent.calls) >= 2, what="the MESSAGE call")
        assert TOKEN_ENV not in env  # taken out of the environment, as Mesos' executor library does
        assert [r.header("authorization") for r in server.requests] == [f"Bearer {TOKEN}"] * 3
        subscribe = body(agent.subscribes[0])
        assert subscribe["framework_id"] == {"value": "fw-1"} and subscribe["executor_id"] == {"value": "ex-1"}
        update = body(agent.calls[0])
        assert update["type"] == "UPDATE" and update["update"]["status"]["state"] == "TASK_RUNNING"
        assert update["update"]["status"]["source"] == "SOURCE_EXECUTOR"
        assert agent.calls[0].header("content-type") == "application/json"
        assert executor.args("launchTask")[0][0]["task_id"] == {"value": "task-1"}


def test_no_token_in_the_environment_sends_no_header(drivers: List[Any]) -> None:
    agent = MiniAgent()
    executor = RecordingExecutor(on_launch=running_update)
    with HostileServer(agent) as server:
        start(drivers, executor, executor_env(server.netloc, token=None))
        executor.wait_for("registered")
        agent.push(launch())
        agent.wait_for(lambda: len(agent.calls) >= 1, what="the UPDATE call")
        assert server.authorizations() == []


def test_token_is_taken_out_of_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in executor_env("127.0.0.1:5051").items():
        monkeypatch.setenv(name, value)
    driver = AuthenticatedExecutorDriver(RecordingExecutor())
    assert TOKEN_ENV not in os.environ
    assert driver.settings.token == TOKEN


def test_missing_token_where_the_agent_requires_one_is_a_typed_error(drivers: List[Any]) -> None:
    agent = MiniAgent(token=TOKEN)
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        driver = start(drivers, executor, executor_env(server.netloc, token=None))
        with pytest.raises(ExecutorAuthenticationError) as caught:
            driver.join()
    error = caught.value
    assert error.status == 401 and not error.token_sent
    assert TOKEN_ENV in str(error) and "is not set" in str(error)
    assert 'realm="mesos-agent-executor"' in str(error)
    assert executor.names() == ["error"] and TOKEN_ENV in executor.args("error")[0][0]


def test_refused_token_is_a_typed_error_naming_the_variable(drivers: List[Any]) -> None:
    agent = MiniAgent(token=TOKEN)
    with HostileServer(agent) as server:
        driver = start(drivers, RecordingExecutor(), executor_env(server.netloc, token="x" + TOKEN))
        with pytest.raises(ExecutorAuthenticationError) as caught:
            driver.join()
    assert caught.value.token_sent
    assert "refused the token in MESOS_EXECUTOR_AUTHENTICATION_TOKEN" in str(caught.value)
    assert "Invalid JWT" in str(caught.value)
    assert len(agent.subscribes) == 1  # a token cannot heal: no retry


def test_another_executors_token_is_forbidden(drivers: List[Any]) -> None:
    agent = MiniAgent(token=TOKEN, other_token=OTHER_TOKEN)
    with HostileServer(agent) as server:
        driver = start(drivers, RecordingExecutor(), executor_env(server.netloc, token=OTHER_TOKEN))
        with pytest.raises(ExecutorForbiddenError) as caught:
            driver.join()
    assert caught.value.status == 403
    assert "does not contain an 'fid' claim" in str(caught.value) and TOKEN_ENV in str(caught.value)


def test_call_refused_with_401_raises_to_the_caller(drivers: List[Any]) -> None:
    agent = MiniAgent()
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        driver = start(drivers, executor, executor_env(server.netloc))
        executor.wait_for("registered")
        agent.token = "rotated"  # the agent now refuses what it accepted
        with pytest.raises(ExecutorAuthenticationError) as caught:
            driver.sendFrameworkMessage("aGk=")
        assert caught.value.call == "MESSAGE" and isinstance(caught.value, RuntimeError)


# -- TLS -------------------------------------------------------------------------------


def test_tls_when_libprocess_ssl_is_enabled_verified_with_its_ca_file(drivers: List[Any], ca: TestCA) -> None:
    agent = MiniAgent(token=TOKEN)
    executor = RecordingExecutor(on_launch=running_update)
    with HostileServer(agent, tls=ca) as server:
        env = executor_env(server.netloc, LIBPROCESS_SSL_ENABLED="true", LIBPROCESS_SSL_CA_FILE=ca.ca_bundle)
        driver = start(drivers, executor, env)
        executor.wait_for("registered")
        agent.push(launch())
        agent.wait_for(lambda: len(agent.calls) >= 1, what="the UPDATE call over TLS")
        assert driver.endpoint.url == f"https://{server.netloc}"
        assert driver.ca_bundle is not None and driver.ca_bundle.source == "$LIBPROCESS_SSL_CA_FILE"
        assert server.authorizations() == [f"Bearer {TOKEN}"] * 2


def test_an_untrusted_agent_never_gets_the_token(drivers: List[Any], ca: TestCA, tmp_path: Any) -> None:
    agent = MiniAgent(token=TOKEN)
    with TestCA(tmp_path / "other") as other, HostileServer(agent, tls=ca) as server:
        env = executor_env(server.netloc, LIBPROCESS_SSL_ENABLED="1", MESOS_AUTH_CA_BUNDLE=other.ca_bundle)
        driver = start(drivers, RecordingExecutor(), env)
        with pytest.raises(TLSVerificationError):
            driver.join()
    assert server.authorizations() == []


# -- recovery ---------------------------------------------------------------------------


def test_checkpointed_executor_reconnects_with_what_is_unacknowledged(drivers: List[Any]) -> None:
    agent = MiniAgent(token=TOKEN)
    executor = RecordingExecutor(on_launch=running_update)
    with HostileServer(agent) as server:
        driver = start(drivers, executor, executor_env(server.netloc, checkpoint=True))
        executor.wait_for("registered")
        agent.push(launch())
        agent.wait_for(lambda: len(agent.calls) >= 1, what="the UPDATE call")
        agent.drop()
        executor.wait_for("reregistered")
        resubscribe = body(agent.subscribes[1])["subscribe"]
        assert [t["task_id"] for t in resubscribe["unacknowledged_tasks"]] == [{"value": "task-1"}]
        sent = body(agent.calls[0])["update"]
        assert resubscribe["unacknowledged_updates"] == [sent]
        assert executor.names()[:4] == ["registered", "launchTask", "disconnected", "reregistered"]
        assert agent.subscribes[1].header("authorization") == f"Bearer {TOKEN}"
        # The acknowledgement clears both.
        acknowledged = {"task_id": {"value": "task-1"}, "uuid": sent["status"]["uuid"]}
        agent.push({"type": "ACKNOWLEDGED", "acknowledged": acknowledged})
        eventually(lambda: not driver.updates and not driver.tasks, what="the acknowledgement")
        assert driver.failure is None and "shutdown" not in executor.names()


def test_executor_without_checkpointing_shuts_down_when_the_agent_goes(drivers: List[Any]) -> None:
    agent = MiniAgent()
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        env = executor_env(server.netloc)  # MESOS_CHECKPOINT="0": pymesos read it as on
        driver = start(drivers, executor, env)
        assert driver.checkpoint is False
        executor.wait_for("registered")
        agent.drop()
        executor.wait_for("shutdown")
        driver.join()
    assert executor.names() == ["registered", "disconnected", "shutdown"]
    assert driver.shutdown_reason is not None and "not checkpointed" in driver.shutdown_reason
    assert len(agent.subscribes) == 1


def test_recovery_timeout_shuts_the_executor_down(drivers: List[Any]) -> None:
    agent = MiniAgent()
    executor = RecordingExecutor()
    server = HostileServer(agent).start()
    try:
        env = executor_env(server.netloc, checkpoint=True, MESOS_RECOVERY_TIMEOUT="300ms")
        driver = start(drivers, executor, env)
        executor.wait_for("registered")
    finally:
        server.stop()  # the agent is gone: every reconnection is refused
    executor.wait_for("shutdown")
    driver.join()
    assert driver.shutdown_reason is not None and "recovery timeout of 0.3 s" in driver.shutdown_reason


def test_no_agent_at_first_shuts_down_at_once(drivers: List[Any]) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        netloc = f"127.0.0.1:{unused.getsockname()[1]}"
    executor = RecordingExecutor()
    driver = start(drivers, executor, executor_env(netloc, checkpoint=True))
    executor.wait_for("shutdown")
    driver.join()
    assert driver.shutdown_reason is not None and "cannot connect" in driver.shutdown_reason
    assert "disconnected" not in executor.names()


def test_busy_agent_is_asked_again(drivers: List[Any]) -> None:
    agent = MiniAgent()
    first = agent.good_stream

    def answer(peer: Peer, request: RawRequest, number: int) -> None:
        if number == 1:
            peer.send(response(503, b"Agent has not finished recovery"))
        else:
            first(peer, request, number)

    agent.subscribe_answer = answer
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        start(drivers, executor, executor_env(server.netloc))
        executor.wait_for("registered")
        assert len(agent.subscribes) == 2 and executor.names() == ["registered"]


def test_calls_before_subscribing_raise_not_connected(drivers: List[Any]) -> None:
    driver = create_executor_driver(RecordingExecutor(), environ=executor_env("127.0.0.1:1"))
    with pytest.raises(AgentNotConnectedError, match="not subscribed to the agent"):
        driver.sendFrameworkMessage("aGk=")
    assert isinstance(AgentNotConnectedError(), RuntimeError)


def test_agent_shutdown_event_runs_the_executors_shutdown(drivers: List[Any]) -> None:
    agent = MiniAgent()
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        driver = start(drivers, executor, executor_env(server.netloc, checkpoint=True))
        executor.wait_for("registered")
        agent.push({"type": "SHUTDOWN"})
        executor.wait_for("shutdown")
        driver.join()
    assert executor.names() == ["registered", "shutdown"] and driver.failure is None


# -- secrets ---------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_repr_or_errors(drivers: List[Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    agent = MiniAgent(token=OTHER_TOKEN)
    executor = RecordingExecutor()
    with HostileServer(agent) as server:
        driver = start(drivers, executor, executor_env(server.netloc))
        with pytest.raises(ExecutorAuthenticationError) as caught:
            driver.join()
    shown = [caplog.text, str(caught.value), repr(caught.value), repr(driver.settings), repr(vars(driver))]
    shown += [str(args) for args in executor.args("error")]
    for text in shown:
        assert TOKEN not in text
        assert TOKEN.split(".")[2] not in text
