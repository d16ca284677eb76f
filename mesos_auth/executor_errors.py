"""What an agent's refusal of an executor means, as typed errors that name the fix.

The agent's executor API (apache/mesos ``src/slave/http.cpp``, ``Http::executor``)
authenticates in the realm ``mesos-agent-executor`` (JWT authenticator,
``3rdparty/libprocess/src/jwt_authenticator.cpp``): no token or a bad one is a
``401`` with ``WWW-Authenticate: Bearer realm="mesos-agent-executor"``; a valid
token of another framework, executor or container is a ``403`` from
``verifyExecutorClaims``. Neither heals by retrying: the token is what the agent
put in ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` when it launched the executor.

The token is never part of a message: texts from the agent go through
:func:`~mesos_auth._redact.server_text`, which also removes anything shaped like a JWT.
"""

from __future__ import annotations

from mesos_auth._redact import safe_url, server_text
from mesos_auth.errors import MesosAuthError, NotConnectedError

#: The variable the agent puts the executor's token in (apache/mesos src/slave/slave.cpp, executorEnvironment).
TOKEN_ENV = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"


class AgentRefusedError(MesosAuthError, RuntimeError):
    """The agent refused the executor's SUBSCRIBE or a call (non-2xx).

    Also a RuntimeError, which is what pymesos' executor driver raised.
    ``status``, ``call``, ``message`` and ``agent`` hold the facts.
    """

    def __init__(self, status: int, call: str, message: str, *, agent: str, hint: str = "") -> None:
        self.status = status
        self.call = server_text(call, 60)
        self.message = server_text(message)
        self.agent = safe_url(agent)
        text = f"agent {self.agent} answered {self.call} with HTTP {status}: {self.message or 'no details'}"
        super().__init__(f"{text}. {hint}" if hint else text)


class ExecutorAuthenticationError(AgentRefusedError):
    """``401``: the agent requires executor authentication and the token was missing or refused.

    ``token_sent`` says whether a token from ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` went out.
    """

    def __init__(self, call: str, message: str, *, agent: str, token_sent: bool, challenge: str = "") -> None:
        self.token_sent = token_sent
        self.challenge = server_text(challenge, 200)
        if token_sent:
            hint = (
                f"The agent refused the token in {TOKEN_ENV}: it must be the one the agent gave this executor "
                "when it launched it (a token from another agent, or from before the agent's JWT key changed, "
                "is refused)"
            )
        else:
            hint = (
                f"No token was sent: {TOKEN_ENV} is not set in the executor's environment, but the agent "
                "authenticates executors (--authenticate_http_executors). Run the executor as the agent launches "
                "it, and create only one executor driver per process (the driver takes the variable out of the "
                "environment, as Mesos' executor library does)"
            )
        detail = message or (f"WWW-Authenticate: {self.challenge}" if self.challenge else "")
        super().__init__(401, call, detail, agent=agent, hint=hint)


class ExecutorForbiddenError(AgentRefusedError):
    """``403`` on SUBSCRIBE: the token is valid but not this executor's (``fid``/``eid``/``cid`` claims)."""

    def __init__(self, call: str, message: str, *, agent: str) -> None:
        hint = (
            f"The token in {TOKEN_ENV} belongs to another framework, executor or container: "
            "the variable must be the one the agent set for this executor (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID)"
        )
        super().__init__(403, call, message, agent=agent, hint=hint)


class AgentNotConnectedError(NotConnectedError):
    """A call was made while the executor driver is not subscribed to its agent."""

    def __init__(self, call: str = "call") -> None:
        self.call = call
        MesosAuthError.__init__(self, f"cannot send {call}: the executor driver is not subscribed to the agent")
