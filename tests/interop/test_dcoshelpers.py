"""dcoshelpers 0.5.4 (PyPI): a login-only client, against the fake strict cluster's URL.

``dcoshelpers.dcosjwt.fetch()`` signs a login token living one hour, longer than
the ten minutes DC/OS recommends: the real IAM (dcos/bouncer,
``bouncer/app/auth.py``, ``_login_service``) only logs a warning for it and
logs the account in. It posts with ``verify=False`` hard-coded, so its TLS leg
cannot be verified; the script then uses the token it got, verified, at
``/mesos/master/state`` through the cluster URL.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

from mesos_auth.testing import FakeCluster

Run = Callable[[str, str, Dict[str, Any]], Dict[str, Any]]
UID = "dcoshelpers-user"
LOGIN_PATH = "/acs/api/v1/auth/login"


def test_dcoshelpers_logs_in_with_an_hour_long_login_token_and_the_token_opens_the_master(
    cluster: FakeCluster, run_client: Run
) -> None:
    account = cluster.create_service_account(UID)
    started = time.time()

    result = run_client(
        "dcoshelpers",
        "dcoshelpers_login.py",
        {
            "secret": account.to_info(),
            "cluster_url": cluster.url,
            "state_url": cluster.url + "/mesos/master/state",
            "ca_bundle": cluster.ca_bundle,
        },
    )

    # The login token dcoshelpers made lives an hour (whole seconds from utcnow).
    [claims] = result["login_token_claims"]
    assert claims["uid"] == UID
    assert 3590 <= claims["exp"] - started <= 3610
    # The IAM took it, over https, and gave the account a token of its own.
    logins = [e for e in cluster.iam.events if e.path == LOGIN_PATH]
    assert [(e.status, e.uid, e.scheme, e.reason) for e in logins] == [(200, UID, "https", "ok")]
    assert cluster.iam.login_count == 1
    assert result["token_claims"]["uid"] == UID
    # That token is good at the master through the cluster URL.
    assert result["state_status"] == 200
    assert result["state_frameworks"] == []
