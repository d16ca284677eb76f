"""The environment a Mesos agent gives an executor (and a command task) it launches.

``executorEnvironment`` in apache/mesos ``src/slave/slave.cpp`` (DC/OS 2.2's Mesos),
in its order: ``LIBPROCESS_IP`` (if the agent has it), the operator's
``--executor_environment_variables``, ``LIBPROCESS_PORT=0``, ``MESOS_FRAMEWORK_ID``,
``MESOS_EXECUTOR_ID``, ``MESOS_DIRECTORY``, ``MESOS_SLAVE_ID``, ``MESOS_SLAVE_PID``
(``slave(1)@ip:port``), ``MESOS_AGENT_ENDPOINT`` (``ip:port``), ``MESOS_CHECKPOINT``
(``"1"``/``"0"``), ``MESOS_HTTP_COMMAND_EXECUTOR`` (``"1"``/``"0"``),
``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`` (stout's Duration text, ``5secs`` by
default), ``MESOS_RECOVERY_TIMEOUT`` and ``MESOS_SUBSCRIPTION_BACKOFF_MAX`` (only
with checkpointing), ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` (when the agent has a
JWT secret key). ``MESOS_SANDBOX`` is added by the Mesos containerizer
(``src/slave/containerizer/mesos/containerizer.cpp``); the command's own
``environment`` comes last and wins (the containerizer merges it over the rest).

Simplifications, each (unverified) for a real DC/OS agent: the executor does not
inherit the agent's whole environment (docs/executor-http-api.md says it does);
it gets ``PATH``, ``HOME``, ``LANG``, ``PYTHONPATH`` and ``TMPDIR`` from this
process (a test's interpreter must find its packages), and with TLS the
``LIBPROCESS_SSL_ENABLED``, ``LIBPROCESS_SSL_SUPPORT_DOWNGRADE`` and
``LIBPROCESS_SSL_CA_FILE`` an SSL-enabled agent has in its own environment. No
``MESOS_NATIVE_*LIBRARY`` (no libmesos here), no ``MESOS_DOMAIN_SOCKET``, no hook variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

#: What the fake passes through from its own process (see the module text).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "VIRTUAL_ENV")

#: Mesos' defaults: ``--executor_shutdown_grace_period`` 5 s, ``--recovery_timeout``
#: 15 min, ``--executor_reregistration_timeout`` 2 s (``src/slave/constants.hpp``).
DEFAULT_SHUTDOWN_GRACE_PERIOD = 5.0
RECOVERY_TIMEOUT = "15mins"
REREGISTRATION_TIMEOUT = "2secs"


def duration_text(seconds: float) -> str:
    """A duration as stout's ``stringify(Duration)`` writes it: the largest unit that
    divides it, e.g. ``5secs``, ``1500ms``, ``2mins`` (stout ``duration.hpp``)."""
    nanos = round(seconds * 1e9)
    units = (
        (7 * 24 * 3600 * 10**9, "weeks"),
        (24 * 3600 * 10**9, "days"),
        (3600 * 10**9, "hrs"),
        (60 * 10**9, "mins"),
        (10**9, "secs"),
        (10**6, "ms"),
        (10**3, "us"),
    )
    for size, name in units:
        if nanos >= size and nanos % size == 0:
            return f"{nanos // size}{name}"
    return f"{nanos}ns"


@dataclass(frozen=True)
class AgentAddress:
    """Where the agent answers: its id, ``ip:port`` and whether it speaks TLS."""

    agent_id: str
    ip: str
    port: int
    tls: bool = False
    ssl_downgrade: bool = False
    ca_file: Optional[str] = None

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.ip}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"


def executor_environment(
    *,
    agent: AgentAddress,
    framework_id: str,
    executor_id: str,
    directory: str,
    checkpoint: bool,
    http_command_executor: bool,
    shutdown_grace_period: float,
    token: Optional[str],
    command: Optional[Mapping[str, Any]] = None,
    extra: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    """The variables, in Mesos' order, then ``MESOS_SANDBOX`` and the command's own."""
    env: Dict[str, str] = {name: os.environ[name] for name in INHERITED if name in os.environ}
    if agent.tls:
        env["LIBPROCESS_SSL_ENABLED"] = "true"
        env["LIBPROCESS_SSL_SUPPORT_DOWNGRADE"] = "true" if agent.ssl_downgrade else "false"
        if agent.ca_file is not None:
            env["LIBPROCESS_SSL_CA_FILE"] = agent.ca_file
    env["LIBPROCESS_IP"] = agent.ip
    env.update(extra or {})  # --executor_environment_variables
    env["LIBPROCESS_PORT"] = "0"
    env["MESOS_FRAMEWORK_ID"] = framework_id
    env["MESOS_EXECUTOR_ID"] = executor_id
    env["MESOS_DIRECTORY"] = directory
    env["MESOS_SLAVE_ID"] = agent.agent_id
    env["MESOS_SLAVE_PID"] = agent.pid
    env["MESOS_AGENT_ENDPOINT"] = agent.endpoint
    env["MESOS_CHECKPOINT"] = "1" if checkpoint else "0"
    env["MESOS_HTTP_COMMAND_EXECUTOR"] = "1" if http_command_executor else "0"
    env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = duration_text(shutdown_grace_period)
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = RECOVERY_TIMEOUT
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = REREGISTRATION_TIMEOUT
    if token is not None:
        env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"] = token
    env["MESOS_SANDBOX"] = directory
    env.update(command_environment(command))
    return env


def command_environment(command: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """``CommandInfo.environment.variables`` of type VALUE (secrets are not modelled)."""
    if not isinstance(command, Mapping):
        return {}
    environment = command.get("environment")
    variables = environment.get("variables") if isinstance(environment, Mapping) else None
    result: Dict[str, str] = {}
    for variable in variables if isinstance(variables, list) else []:
        if not isinstance(variable, Mapping) or variable.get("type", "VALUE") != "VALUE":
            continue
        name, value = variable.get("name"), variable.get("value")
        if isinstance(name, str) and isinstance(value, str):
            result[name] = value
    return result


def command_argv(command: Mapping[str, Any]) -> Optional[Tuple[str, List[str]]]:
    """How the containerizer runs a ``CommandInfo``: ``/bin/sh -c value`` when ``shell``
    (the default), else ``execvp(value, arguments)``, ``arguments`` being the whole
    argv (``arguments[0]`` is argv[0], as in Mesos; ``[value]`` when empty). Returns
    (executable, argv), or None when there is no ``value``."""
    value = command.get("value")
    if not isinstance(value, str) or not value:
        return None
    if command.get("shell", True) is not False:
        return "/bin/sh", ["/bin/sh", "-c", value]
    arguments = command.get("arguments")
    argv = [str(a) for a in arguments] if isinstance(arguments, list) and arguments else [value]
    return value, argv
