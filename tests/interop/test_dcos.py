"""The DC/OS CLI's library ``dcos`` 0.6.1 (PyPI): a service login, against the fake strict cluster's URL.

``dcos.auth.servicecred_auth()`` (what ``dcos cluster setup --username
--private-key`` runs) signs a login token with ``exp`` = int(now) + 300 and no
``jti``, logs in at ``<dcos_url>/acs/api/v1/auth/login`` and keeps the token in
its config; ``dcos.http`` then sends it to every URL of the cluster. TLS is
verified with our CA bundle through ``core.ssl_verify``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

from mesos_auth.testing import FakeCluster

Run = Callable[[str, str, Dict[str, Any]], Dict[str, Any]]
UID = "dcos-cli-user"
LOGIN_PATH = "/acs/api/v1/auth/login"


def run_login(run_client: Run, cluster: FakeCluster, secret: Dict[str, str], logins: int = 1) -> Dict[str, Any]:
    config = {"secret": secret, "dcos_url": cluster.url, "ca_bundle": cluster.ca_bundle, "logins": logins}
    return run_client("dcos", "dcos_login.py", config)


def test_dcos_logs_in_and_reads_the_master_state_through_the_cluster_url(cluster: FakeCluster, run_client: Run) -> None:
    account = cluster.create_service_account(UID)
    started = time.time()

    result = run_login(run_client, cluster, account.to_info())

    assert "error" not in result, result["error"]
    [claims] = result["login_token_claims"]
    assert claims["uid"] == UID
    assert 290 <= claims["exp"] - started <= 310
    logins = [e for e in cluster.iam.events if e.path == LOGIN_PATH]
    assert [(e.status, e.uid, e.scheme, e.reason) for e in logins] == [(200, UID, "https", "ok")]
    assert result["token_claims"]["uid"] == UID
    assert result["state_frameworks"] == []


def test_dcos_logs_in_twice_within_one_second_with_the_same_login_token(cluster: FakeCluster, run_client: Run) -> None:
    """Two setups in the same second send the very same login token (RS256 is deterministic, no jti).

    The real IAM keeps no record of used login tokens (dcos/bouncer
    ``bouncer/app/auth.py``, ``_login_service``): both logins succeed.
    """
    account = cluster.create_service_account(UID)

    result = run_login(run_client, cluster, account.to_info(), logins=2)

    assert "error" not in result, result["error"]
    first, second = result["login_token_claims"]
    assert first == second
    logins = [e for e in cluster.iam.events if e.path == LOGIN_PATH]
    assert [(e.status, e.reason) for e in logins] == [(200, "ok"), (200, "ok")]
    assert cluster.iam.login_count == 2
