#!/usr/bin/env python3
"""call_dcos_api: a service's own authenticated call to a DC/OS API, with DCOSSession.

Frameworks often call DC/OS APIs besides the scheduler API (Marathon, the Mesos
state endpoint, secrets). This asks the master for its state: ``GET
<MESOS_MASTER_URL>/master/state`` with ``Authorization: token=<JWT>`` from the
service account, over TLS verified with the cluster's CA bundle. On a 401 the
session logs in again and resends once. It prints the frameworks the master knows
and exits 0.

Same environment as hello_factory.py: ``MESOS_MASTER_URL``,
``DCOS_SERVICE_ACCOUNT_CREDENTIAL``, ``MESOS_AUTH_CA_BUNDLE``, ``MESOS_AUTH_SECURITY_MODE``.
"""

from __future__ import annotations

import logging
import os
import sys

from mesos_auth import DCOSSession, MesosAuthError, ServiceAccount, TokenProvider, detect_security_mode

log = logging.getLogger("call_dcos_api")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stdout)
    master = os.environ.get("MESOS_MASTER_URL", "https://leader.mesos:5050").rstrip("/")
    try:
        provider = TokenProvider(ServiceAccount.from_env(), security_mode=detect_security_mode())
        with DCOSSession(provider) as session:
            answer = session.get(f"{master}/master/state", timeout=30)
    except MesosAuthError as error:
        log.error("%s: %s", type(error).__name__, error)
        return 1
    if answer.status_code != 200:
        log.error("GET /master/state answered %s: %s", answer.status_code, answer.text[:200])
        return 1
    state = answer.json()
    log.info(
        "master %s (Mesos %s) knows %d framework(s)", state.get("id"), state.get("version"), len(state["frameworks"])
    )
    for framework in state["frameworks"]:
        log.info(
            "  %s  %-20s principal=%s active=%s",
            framework["id"],
            framework["name"],
            framework.get("principal"),
            framework["active"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
