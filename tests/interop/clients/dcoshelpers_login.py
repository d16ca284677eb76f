"""A service login with dcoshelpers, run in its venv by tests/interop/test_dcoshelpers.py.

``dcoshelpers.dcosjwt.fetch(cluster, uid, key_file)`` makes a login token that
lives an hour (``exp`` = utcnow + 3600 s), posts it to
``<cluster>/acs/api/v1/auth/login`` and returns the authentication token. It
posts with ``verify=False`` written into the call and no way to change it, so
this client cannot check the cluster's certificate: the test gives it the
https cluster URL all the same. We then use the token the way its users do, as
``Authorization: token=<token>`` to the master's state through Admin Router,
from this script with the CA bundle verified.

Input: one JSON object on stdin (``secret``, ``cluster_url``, ``state_url``,
``ca_bundle``, ``workdir``). Output, last line of stdout: ``login_token_claims``,
``token_claims`` (uid and exp only), ``state_status``, ``state_frameworks``.
"""

from __future__ import annotations

import os
import sys

import jwt
import requests
from _common import read_config, record_login_claims, report, unverified_claims, write_private_file
from dcoshelpers import dcosjwt


def main() -> int:
    config = read_config()
    secret = config["secret"]
    key_file = write_private_file(os.path.join(config["workdir"], "dcoshelpers-key.pem"), secret["private_key"])
    login_claims = record_login_claims(jwt)

    token = dcosjwt.fetch(config["cluster_url"], secret["uid"], key_file)

    state = requests.get(
        config["state_url"], headers={"Authorization": "token=" + token}, verify=config["ca_bundle"], timeout=30
    )
    report(
        {
            "login_token_claims": login_claims,
            "token_claims": unverified_claims(token),
            "state_status": state.status_code,
            "state_frameworks": state.json().get("frameworks") if state.status_code == 200 else None,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
