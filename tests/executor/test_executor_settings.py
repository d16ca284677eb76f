"""The executor's environment, read as Mesos' executor library reads it (src/executor/executor.cpp)."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path
from typing import Dict, List

import pytest

from mesos_auth.errors import ConfigurationError
from mesos_auth.executor import AuthenticatedExecutorDriver
from mesos_auth.executor_errors import ExecutorAuthenticationError
from mesos_auth.executor_settings import parse_duration, read_executor_settings
from tests.executor.support import TOKEN, RecordingExecutor, executor_env


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5secs", 5.0), ("15mins", 900.0), ("100ms", 0.1), ("2hrs", 7200.0), ("1.5days", 129600.0), ("10us", 1e-5)],
)
def test_stout_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "X") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "5s", "secs", "-1secs", "1.2.3secs", ""])
def test_bad_durations_name_the_variable(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\$MESOS_RECOVERY_TIMEOUT"):
        parse_duration(text, "MESOS_RECOVERY_TIMEOUT")


@pytest.mark.parametrize(("value", "checkpoint"), [("1", True), ("0", False), ("", False), ("true", False)])
def test_checkpoint_is_on_only_for_1(value: str, checkpoint: bool) -> None:
    env = executor_env("127.0.0.1:5051", checkpoint=True)
    env["MESOS_CHECKPOINT"] = value
    assert read_executor_settings(env).checkpoint is checkpoint


def test_checkpointing_requires_recovery_timeout_and_backoff() -> None:
    for name in ("MESOS_RECOVERY_TIMEOUT", "MESOS_SUBSCRIPTION_BACKOFF_MAX"):
        env = executor_env("127.0.0.1:5051", checkpoint=True)
        del env[name]
        with pytest.raises(ConfigurationError, match=rf"\${name} is not set"):
            read_executor_settings(env)
    settings = read_executor_settings(executor_env("127.0.0.1:5051", checkpoint=True))
    assert settings.recovery_timeout == 900.0 and settings.subscription_backoff_max == pytest.approx(0.1)


def test_without_checkpointing_the_recovery_variables_are_ignored() -> None:
    env = executor_env("127.0.0.1:5051", MESOS_RECOVERY_TIMEOUT="bogus")
    assert read_executor_settings(env).recovery_timeout is None


@pytest.mark.parametrize("missing", ["MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"])
def test_missing_variables_are_named(missing: str) -> None:
    env = executor_env("127.0.0.1:5051")
    del env[missing]
    with pytest.raises(ConfigurationError, match=rf"\${missing} is not set"):
        read_executor_settings(env)


@pytest.mark.parametrize(
    ("extra", "url"),
    [
        ({}, "http://127.0.0.1:5051"),
        ({"LIBPROCESS_SSL_ENABLED": "true"}, "https://127.0.0.1:5051"),
        ({"LIBPROCESS_SSL_ENABLED": "1"}, "https://127.0.0.1:5051"),
        ({"LIBPROCESS_SSL_ENABLED": "false"}, "http://127.0.0.1:5051"),
        ({"SSL_ENABLED": "true"}, "https://127.0.0.1:5051"),
        ({"SSL_ENABLED": "true", "LIBPROCESS_SSL_ENABLED": "false"}, "http://127.0.0.1:5051"),
    ],
)
def test_tls_follows_libprocess_ssl_enabled(extra: Dict[str, str], url: str) -> None:
    assert read_executor_settings(executor_env("127.0.0.1:5051", **extra)).endpoint.url == url


def test_an_https_endpoint_or_tls_true_means_tls() -> None:
    assert read_executor_settings(executor_env("https://127.0.0.1:5051")).endpoint.tls
    assert read_executor_settings(executor_env("127.0.0.1:5051"), tls=True).endpoint.tls


def test_bad_libprocess_flag_and_endpoint_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="LIBPROCESS_SSL_ENABLED"):
        read_executor_settings(executor_env("127.0.0.1:5051", LIBPROCESS_SSL_ENABLED="yes"))
    with pytest.raises(ConfigurationError, match="no port"):
        read_executor_settings(executor_env("127.0.0.1"))


def test_token_is_hidden_and_checked() -> None:
    env = executor_env("127.0.0.1:5051")
    settings = read_executor_settings(env)
    assert settings.token == TOKEN and TOKEN not in repr(settings) and "MESOS_EXECUTOR_AUTHENTICATION_TOKEN" not in env
    kept = executor_env("127.0.0.1:5051")
    assert read_executor_settings(kept, erase_token=False).token == TOKEN and kept.get(
        "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
    )
    assert read_executor_settings(executor_env("127.0.0.1:5051", token="")).token is None
    with pytest.raises(ConfigurationError) as caught:
        read_executor_settings(executor_env("127.0.0.1:5051", token="abc\r\nX-Injected: 1"))
    assert "abc" not in str(caught.value)


def test_local_counts_when_present() -> None:
    env = executor_env("127.0.0.1:5051")
    env["MESOS_LOCAL"] = "0"
    assert read_executor_settings(env).local
    del env["MESOS_LOCAL"]
    assert not read_executor_settings(env).local


def test_domain_socket_is_used_with_the_agent_process_prefix(tmp_path: Path) -> None:
    """MESOS_DOMAIN_SOCKET: plain HTTP on the socket, at /slave(1)/api/v1/executor, with the token."""
    path = str(tmp_path / "agent.sock")
    seen: List[bytes] = []
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(30)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            while length is not None and len(body) < int(length.group(1)):
                body += conn.recv(65536)  # the whole request before the answer: no broken pipe for the client
            seen.append(data)
            conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    env = executor_env("127.0.0.1:5051", MESOS_DOMAIN_SOCKET=path)
    driver = AuthenticatedExecutorDriver(RecordingExecutor(), environ=env)
    assert driver.endpoint.socket_path == path and driver.endpoint.path == "/slave(1)/api/v1/executor"
    driver.start()
    with pytest.raises(ExecutorAuthenticationError, match="HTTP 401"):
        driver.join()
    thread.join(timeout=30)
    listener.close()
    head = seen[0].decode("latin-1")
    assert head.startswith("POST /slave(1)/api/v1/executor HTTP/1.1")
    assert f"Authorization: Bearer {TOKEN}" in head


def test_missing_shutdown_grace_period_defaults_to_the_agents() -> None:
    env = executor_env("127.0.0.1:5051")
    del env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"]
    assert read_executor_settings(env).shutdown_grace_period == 5.0
