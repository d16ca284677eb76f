"""What the agent tells an executor through its environment, read once and checked.

The agent sets these in ``executorEnvironment`` (apache/mesos
``src/slave/slave.cpp``); Mesos' own executor library reads them in
``MesosProcess::MesosProcess`` (``src/executor/executor.cpp``). Where pymesos'
executor driver differs from that library, the library wins:

- ``MESOS_CHECKPOINT`` is on only when it is exactly ``"1"`` (pymesos took
  ``bool("0")``, which is true: it believed every executor was checkpointed);
- with checkpointing, ``MESOS_RECOVERY_TIMEOUT`` and
  ``MESOS_SUBSCRIPTION_BACKOFF_MAX`` (stout durations such as ``15mins``) are
  required, as the library requires them;
- ``MESOS_LOCAL`` counts when present, whatever its value;
- ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` is read and then taken out of the
  process environment, "so that it is not visible to other processes" (the tasks
  the executor starts do not inherit it);
- ``MESOS_DOMAIN_SOCKET`` (agent flag ``--http_executor_domain_sockets``, on by
  default in DC/OS 2.1+) makes the executor talk plain HTTP over that Unix
  socket, at ``/<agent process id>/api/v1/executor`` (the only paths the agent
  serves there; the id comes from ``MESOS_SLAVE_PID``, ``slave(1)@ip:port``).

Otherwise the agent is ``MESOS_AGENT_ENDPOINT`` (``ip:port``), over TLS when
libprocess SSL is enabled in the environment the executor inherited from the
agent (``LIBPROCESS_SSL_ENABLED``, or the deprecated ``SSL_ENABLED``, ``true``/``1``;
the library switches to https in the same case), when the endpoint itself says
``https://`` (our extension), or when ``tls=True`` is given.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, MutableMapping, Optional
from urllib.parse import urlsplit

from mesos_auth._http import Origin
from mesos_auth._redact import safe_url, server_text
from mesos_auth.errors import ConfigurationError
from mesos_auth.executor_errors import TOKEN_ENV

EXECUTOR_PATH = "/api/v1/executor"
#: The agent's executor_shutdown_grace_period default (src/slave/constants.hpp), used when the variable is
#: missing (Mesos' library exits then; pymesos used 0). (unverified choice)
DEFAULT_SHUTDOWN_GRACE_PERIOD = 5.0
#: Longest Unix socket path (sun_path of 108 bytes with its NUL: common/domain_sockets.hpp).
DOMAIN_SOCKET_MAX_PATH_LENGTH = 108
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
_DURATION = re.compile(r"([0-9.]+)([a-z]+)")
#: A token fit for an HTTP header: printable ASCII without spaces (a JWT is base64url and dots).
_HEADER_SAFE = re.compile(r"[!-~]+")


def parse_duration(value: str, variable: str) -> float:
    """Seconds in a stout duration (``5secs``, ``15mins``, ``100ms``): stout's ``Duration::parse``."""
    match = _DURATION.fullmatch(value.strip())
    unit = _DURATION_UNITS.get(match.group(2)) if match else None
    try:
        number = float(match.group(1)) if match else -1.0
    except ValueError:
        number = -1.0
    if unit is None or number < 0:
        raise ConfigurationError(
            f"${variable} is {server_text(value, 40)!r}, not a duration "
            "(a number and one of ns, us, ms, secs, mins, hrs, days, weeks, e.g. 15mins)"
        )
    return number * unit


def parse_flag(value: str, variable: str) -> bool:
    """A libprocess boolean: ``true``/``1`` or ``false``/``0`` (stout flags/parse.hpp), nothing else."""
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ConfigurationError(f"${variable} is {server_text(value, 40)!r}: use true, false, 1 or 0")


@dataclass(frozen=True)
class AgentEndpoint:
    """Where the executor API is: ``origin`` over TCP, or the Unix socket ``socket_path``."""

    origin: Optional[Origin]
    path: str = EXECUTOR_PATH
    socket_path: Optional[str] = None

    @property
    def tls(self) -> bool:
        return self.origin is not None and self.origin.tls

    @property
    def url(self) -> str:
        """For messages: ``https://10.0.0.1:5051`` or ``http+unix:///var/run/mesos/agent.sock``."""
        if self.origin is None:
            return f"http+unix://{self.socket_path}"
        return str(self.origin)

    @property
    def host_header(self) -> str:
        return self.origin.netloc if self.origin is not None else "localhost"


@dataclass(frozen=True)
class LibprocessTLS:
    """The ``LIBPROCESS_SSL_*`` settings the executor inherited from the agent that matter to a client."""

    enabled: bool = False
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None


@dataclass(frozen=True)
class ExecutorSettings:
    """The executor's environment, checked. ``token`` is never shown (no repr)."""

    endpoint: AgentEndpoint
    framework_id: str
    executor_id: str
    checkpoint: bool
    recovery_timeout: Optional[float]
    subscription_backoff_max: Optional[float]
    shutdown_grace_period: float
    local: bool
    libprocess_tls: LibprocessTLS
    token: Optional[str] = field(default=None, repr=False, compare=False)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value.strip():
        raise ConfigurationError(
            f"${name} is not set: an executor driver runs in a process the Mesos agent launched, "
            "which sets it (MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID)"
        )
    return value.strip()


def _libprocess(env: Mapping[str, str], name: str) -> Optional[str]:
    """``LIBPROCESS_SSL_<name>``, else the deprecated ``SSL_<name>`` (openssl.cpp ``reinitialize``)."""
    for variable in (f"LIBPROCESS_SSL_{name}", f"SSL_{name}"):
        value = env.get(variable)
        if value is not None:
            return value
    return None


def read_libprocess_tls(env: Mapping[str, str]) -> LibprocessTLS:
    enabled = _libprocess(env, "ENABLED")
    return LibprocessTLS(
        enabled=parse_flag(enabled.strip(), "LIBPROCESS_SSL_ENABLED") if enabled is not None else False,
        ca_file=(_libprocess(env, "CA_FILE") or "").strip() or None,
        cert_file=(_libprocess(env, "CERT_FILE") or "").strip() or None,
        key_file=(_libprocess(env, "KEY_FILE") or "").strip() or None,
    )


def _tcp_endpoint(value: str, tls: bool) -> AgentEndpoint:
    text = value if "://" in value else f"{'https' if tls else 'http'}://{value}"
    try:
        origin = Origin.of(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"$MESOS_AGENT_ENDPOINT is {safe_url(value, 100)!r}: {exc} (expected ip:port, as the agent sets it)"
        ) from None
    if urlsplit(text).port is None:
        raise ConfigurationError(f"$MESOS_AGENT_ENDPOINT is {safe_url(value, 100)!r}: it has no port")
    return AgentEndpoint(origin)


def _socket_endpoint(env: Mapping[str, str], socket_path: str) -> AgentEndpoint:
    pid = env.get("MESOS_SLAVE_PID", "").strip()
    process_id = pid.split("@", 1)[0] if "@" in pid else "slave(1)"
    path = socket_path
    if len(path) >= DOMAIN_SOCKET_MAX_PATH_LENGTH:  # as executor.cpp: try the path relative to the cwd
        path = "./" + os.path.relpath(path)
    if len(path) >= DOMAIN_SOCKET_MAX_PATH_LENGTH:
        raise ConfigurationError(
            f"$MESOS_DOMAIN_SOCKET is longer than {DOMAIN_SOCKET_MAX_PATH_LENGTH} characters: "
            "a Unix socket cannot be reached at that path"
        )
    return AgentEndpoint(None, f"/{process_id}{EXECUTOR_PATH}", path)


def take_token(env: Mapping[str, str], *, erase: bool) -> Optional[str]:
    """The executor's token, taken out of ``env`` when ``erase`` and it can be changed.

    An empty variable counts as none; one that could not travel in a header is a
    :class:`ConfigurationError` that never shows it.
    """
    token = env.get(TOKEN_ENV)
    if erase and token is not None and isinstance(env, MutableMapping):
        env.pop(TOKEN_ENV, None)
    if token is None or not token.strip():
        return None
    token = token.strip()
    if not _HEADER_SAFE.fullmatch(token):
        raise ConfigurationError(
            f"${TOKEN_ENV} holds characters a token cannot have (spaces, line breaks or non-ASCII): "
            "it is not the token the agent set"
        )
    return token


def read_executor_settings(
    environ: Optional[Mapping[str, str]] = None, *, tls: Optional[bool] = None, erase_token: bool = True
) -> ExecutorSettings:
    """Read and check the executor's environment (``os.environ`` by default).

    The token is taken out of ``os.environ`` (or of the mapping given, when it can
    be changed) unless ``erase_token`` is false.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    libprocess_tls = read_libprocess_tls(env)
    socket_path = env.get("MESOS_DOMAIN_SOCKET", "").strip()
    if socket_path:
        endpoint = _socket_endpoint(env, socket_path)
    else:
        use_tls = tls if tls is not None else libprocess_tls.enabled
        endpoint = _tcp_endpoint(_required(env, "MESOS_AGENT_ENDPOINT"), use_tls)
    framework_id = _required(env, "MESOS_FRAMEWORK_ID")
    executor_id = _required(env, "MESOS_EXECUTOR_ID")
    checkpoint = env.get("MESOS_CHECKPOINT") == "1"
    recovery_timeout = backoff_max = None
    if checkpoint:
        recovery_timeout = parse_duration(_required(env, "MESOS_RECOVERY_TIMEOUT"), "MESOS_RECOVERY_TIMEOUT")
        backoff_max = parse_duration(_required(env, "MESOS_SUBSCRIPTION_BACKOFF_MAX"), "MESOS_SUBSCRIPTION_BACKOFF_MAX")
    grace = env.get("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "").strip()
    return ExecutorSettings(
        endpoint=endpoint,
        framework_id=framework_id,
        executor_id=executor_id,
        checkpoint=checkpoint,
        recovery_timeout=recovery_timeout,
        subscription_backoff_max=backoff_max,
        shutdown_grace_period=(
            parse_duration(grace, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD") if grace else DEFAULT_SHUTDOWN_GRACE_PERIOD
        ),
        local="MESOS_LOCAL" in env,
        libprocess_tls=libprocess_tls,
        token=take_token(env, erase=erase_token),
    )
