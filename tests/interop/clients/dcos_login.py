"""A service login with the DC/OS CLI's library ``dcos``, run in its venv by tests/interop/test_dcos.py.

What ``dcos cluster setup --username=<uid> --private-key=<file>`` does for a
service account: ``dcos.auth.servicecred_auth(dcos_url, uid, key_file)`` makes a
login token living five minutes (``exp`` = int(now) + 300), posts it to
``<dcos_url>/acs/api/v1/auth/login`` and stores the authentication token as
``core.dcos_acs_token`` in the attached cluster's ``dcos.toml``. Then
``dcos.http.get()`` sends that token (``Authorization: token=<token>``) with
every request to the cluster URL: we ask for ``<dcos_url>/mesos/master/state``.

TLS is verified: ``core.ssl_verify`` names our CA bundle, and ``dcos.http``
passes it to requests as ``verify=`` for every request to the cluster.

Input: one JSON object on stdin (``secret``, ``dcos_url``, ``ca_bundle``,
``workdir``, ``logins``: how many logins to make within one second). Output,
last line of stdout: ``login_token_claims``, ``token_claims`` (uid and exp
only), ``state_frameworks``, or ``error``.
"""

from __future__ import annotations

import os
import sys
import time

import jwt
from _common import read_config, record_login_claims, report, unverified_claims, write_private_file
from dcos import auth, http
from dcos import config as dcos_config
from dcos.errors import DCOSException


class FrozenTime:
    """Stands in for the ``time`` module inside ``dcos.auth``: one instant for every login."""

    def __init__(self, now: float) -> None:
        self._now = now

    def time(self) -> float:
        return self._now


def write_cluster_config(dcos_dir: str, dcos_url: str, ca_bundle: str) -> None:
    """An attached cluster, as ``dcos cluster setup`` leaves it (files 0600, as the library demands)."""
    cluster_dir = os.path.join(dcos_dir, "clusters", "fake-cluster-id")
    os.makedirs(cluster_dir, mode=0o700)
    toml = f'[core]\ndcos_url = "{dcos_url}"\nssl_verify = "{ca_bundle}"\n\n[cluster]\nname = "fake-cluster"\n'
    write_private_file(os.path.join(cluster_dir, "dcos.toml"), toml)
    write_private_file(os.path.join(cluster_dir, "attached"), "")


def main() -> int:
    config = read_config()
    secret = config["secret"]
    dcos_dir = os.path.join(config["workdir"], "dcos")
    os.environ["DCOS_DIR"] = dcos_dir
    write_cluster_config(dcos_dir, config["dcos_url"], config["ca_bundle"])
    key_file = write_private_file(os.path.join(config["workdir"], "dcos-key.pem"), secret["private_key"])

    login_claims = record_login_claims(jwt)
    # Several logins in one second, as quick repeated setups make them: the same
    # whole-second clock for each, so their login tokens are the same bytes.
    auth.time = FrozenTime(time.time())
    result = {"login_token_claims": login_claims}
    try:
        for _ in range(config.get("logins", 1)):
            auth.servicecred_auth(config["dcos_url"], secret["uid"], key_file)
        result["token_claims"] = unverified_claims(dcos_config.get_config_val("core.dcos_acs_token"))
        state = http.get(config["dcos_url"].rstrip("/") + "/mesos/master/state").json()
        result["state_frameworks"] = state.get("frameworks")
    except DCOSException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
