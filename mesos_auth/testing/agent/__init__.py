"""A fake Mesos agent: the v1 executor API, executor tokens, executors and command tasks as real processes."""

from mesos_auth.testing.agent.environment import AgentAddress, executor_environment
from mesos_auth.testing.agent.executor_api import EXECUTOR_PATH
from mesos_auth.testing.agent.server import FakeAgent
from mesos_auth.testing.agent.tokens import EXECUTOR_REALM, ExecutorTokens

__all__ = ["EXECUTOR_PATH", "EXECUTOR_REALM", "AgentAddress", "ExecutorTokens", "FakeAgent", "executor_environment"]
