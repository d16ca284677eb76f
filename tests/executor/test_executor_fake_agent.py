"""End to end: an executor program on AuthenticatedExecutorDriver, launched by the fake agent over TLS.

The agent (mesos_auth.testing.agent) gives the executor the environment Mesos gives it, with
``LIBPROCESS_SSL_ENABLED=true`` and ``LIBPROCESS_SSL_CA_FILE`` as an SSL-enabled agent has them;
the driver must find TLS and the CA from those alone, and the token from
``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``, to report TASK_FINISHED itself.
"""

from __future__ import annotations

from pathlib import Path

from mesos_auth.testing import TestCA
from tests.testing import test_fake_agent as fake_agent_tests


def test_authenticated_executor_over_tls_runs_its_task_to_finished(tmp_path: Path, ca: TestCA) -> None:
    statuses, stderr = fake_agent_tests.run_executor_program(
        tmp_path, "mesos_auth", authenticate_http_executors=True, tls=ca, plain_http=False
    )
    assert [s["state"] for s in statuses] == ["TASK_RUNNING", "TASK_FINISHED"], stderr
    assert all(s["source"] == "SOURCE_EXECUTOR" for s in statuses)
