"""avmesos 0.4.2 (PyPI) as a framework against the fake strict cluster, over verified TLS.

avmesos logs in with ``DCOSServiceAuth`` (a login token living 180 s, ``exp`` a
float), sends ``Authorization: token=<token>`` with every call, subscribes,
accepts an offer with one task, acknowledges each update itself and tears the
framework down. See ``clients/avmesos_framework.py`` for how it is pointed at our
CA bundle.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable, Dict

from mesos_auth.testing import FakeCluster

Run = Callable[[str, str, Dict[str, Any]], Dict[str, Any]]
UID = "avmesos-framework"
TASK_ID = "avmesos-task-1"
LOGIN_PATH = "/acs/api/v1/auth/login"


def run_framework(run_client: Run, cluster: FakeCluster, secret: Dict[str, str]) -> Dict[str, Any]:
    config = {
        "secret": secret,
        "master_url": cluster.master_url,
        "ca_bundle": cluster.ca_bundle,
        "task_id": TASK_ID,
        "timeout": 30,
    }
    return run_client("avmesos", "avmesos_framework.py", config)


def test_avmesos_logs_in_subscribes_launches_acknowledges_and_tears_down(cluster: FakeCluster, run_client: Run) -> None:
    # avmesos' FrameworkInfo says user "root" (MesosClient.__register): its tasks run as root.
    account = cluster.create_service_account(UID, task_user="root")
    started = time.time()

    result = run_framework(run_client, cluster, account.to_info())

    # What avmesos got: a framework id, the task's updates in order, no error.
    assert result["errors"] == []
    assert result["states"] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    framework_id = result["framework_id"]
    assert framework_id in cluster.master.frameworks

    # One login, over https, with avmesos' own 180-second login token.
    [claims] = result["login_token_claims"]
    assert claims["uid"] == UID
    assert 170 <= claims["exp"] - started <= 190
    logins = [e for e in cluster.iam.events if e.path == LOGIN_PATH]
    assert [(e.status, e.uid, e.scheme, e.reason) for e in logins] == [(200, UID, "https", "ok")]
    assert cluster.iam.login_count == 1

    # What the master saw: every call over https, authenticated as the account.
    framework = cluster.master.frameworks[framework_id]
    assert framework.principal == UID
    assert framework.authenticated_principal == UID
    assert framework.name == "avmesos interop"
    assert framework.state == "torn_down"
    calls = [r for r in cluster.master.requests if r.path == "/api/v1/scheduler"]
    assert all(r.scheme == "https" and r.principal == UID for r in calls), calls
    assert all(r.status in (200, 202) for r in calls), [(r.call_type, r.status) for r in calls]
    counted = Counter(r.call_type for r in calls)
    assert counted.pop("SUBSCRIBE") == 1
    assert counted.pop("ACCEPT") == 1
    assert counted.pop("ACKNOWLEDGE") == 3
    assert counted.pop("TEARDOWN") == 1
    assert set(counted) <= {"DECLINE"}, counted
    assert calls[0].call_type == "SUBSCRIBE"
    assert calls[-1].call_type == "TEARDOWN"
    assert all(dict((k.lower(), v) for k, v in r.headers.items())["authorization"].startswith("token=") for r in calls)

    # The task ran to the end and every update was acknowledged.
    task = cluster.master.task_records[TASK_ID]
    assert task.framework_id == framework_id
    assert task.states == ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")
    assert task.unacknowledged == 0


def test_avmesos_reports_a_refused_login_and_never_reaches_the_master(cluster: FakeCluster, run_client: Run) -> None:
    account = cluster.create_service_account(UID)
    cluster.iam.remove_account(UID)

    result = run_framework(run_client, cluster, account.to_info())

    assert result["registered"] is False
    assert result["framework_id"] is None
    # DCOSServiceAuth raises ACSException with the IAM's status; avmesos logs it and gives up.
    assert "Unable to authenticate against DCOS ACS: 401" in result["stderr"]
    logins = [e for e in cluster.iam.events if e.path == LOGIN_PATH]
    assert [(e.status, e.reason) for e in logins] == [(401, "unknown-uid")]
    assert cluster.master.requests == []
