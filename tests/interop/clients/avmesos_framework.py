"""A small avmesos framework, run in the avmesos venv by tests/interop/test_avmesos.py.

It does what avmesos' README framework does: a service-account login through
``DCOSServiceAuth``, SUBSCRIBE through ``MesosClient.register()``, one task
launched with ``Offer.accept()`` (ACCEPT), the updates acknowledged by avmesos
itself (``Update.ack()``, ACKNOWLEDGE), then ``MesosClient.tearDown()`` (TEARDOWN
through the ``SchedulerDriver``).

Input: one JSON object on stdin (``secret``: the service account's DC/OS secret;
``master_url``; ``ca_bundle``; ``task_id``; ``timeout``). Output: one JSON object,
the last line of stdout (``framework_id``, ``states``, ``errors``,
``login_token_claims``). Logs go to stderr and never hold the secret or a token.

How TLS is verified (avmesos 0.4.2 sets ``verify=False`` everywhere by default):

- the login: ``DCOSServiceAuth(secret, verify=<CA bundle>)``: the constructor
  takes it; ``MesosClient.set_service_account()`` does not pass it on, and with
  its own ``verify=False`` it downloads ``https://leader.mesos/ca/dcos-ca.crt``
  unverified, so we call it with ``verify=True`` (skips that) and then give the
  client a verifying ``DCOSServiceAuth``;
- SUBSCRIBE, ACCEPT, ACKNOWLEDGE: ``MesosClient.verify`` (an attribute, False
  by default, never set by avmesos: its ``self.verify = cert_file`` line is
  commented out) is passed to every Offer and Update;
- the driver's calls (TEARDOWN): ``SchedulerDriver.__init__`` sets
  ``self.verify = False`` whatever it is given, so we set it again on SUBSCRIBED.
"""

from __future__ import annotations

import logging
import sys
import threading

import jwt
from _common import read_config, record_login_claims, report
from avmesos.acs import DCOSServiceAuth
from avmesos.client import MesosClient


def main() -> int:
    config = read_config()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    login_claims = record_login_claims(jwt)

    # No waiting between failed attempts (10 s by default): a failing test fails fast.
    MesosClient.WAIT_TIME = 0
    client = MesosClient(
        mesos_urls=[config["master_url"]],
        frameworkName="avmesos interop",
        max_reconnect=1,
        connection_timeout=config["timeout"],
    )
    client.set_service_account(config["secret"], verify=True)
    client.requests_auth = DCOSServiceAuth(config["secret"], verify=config["ca_bundle"])
    client.verify = config["ca_bundle"]

    result = {"framework_id": None, "states": [], "errors": [], "login_token_claims": login_claims}
    launched = threading.Event()

    def subscribed(driver) -> None:
        driver.verify = config["ca_bundle"]
        result["framework_id"] = client.frameworkId

    def offers(offer_list) -> None:
        for offer in offer_list:
            if launched.is_set():
                offer.decline()
                continue
            launched.set()
            agent_id = offer.get_offer()["agent_id"]
            task = {
                "name": "interop-task",
                "task_id": {"value": config["task_id"]},
                "agent_id": agent_id,
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                ],
                "command": {"shell": True, "value": "true"},
            }
            offer.accept([task])

    def update(status_update) -> None:
        state = status_update["status"]["state"]
        result["states"].append(state)
        if state in ("TASK_FINISHED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_KILLED"):
            client.tearDown()

    def error(message) -> None:
        result["errors"].append(message)
        client.tearDown()

    client.on(MesosClient.SUBSCRIBED, subscribed)
    client.on(MesosClient.OFFERS, offers)
    client.on(MesosClient.UPDATE, update)
    client.on(MesosClient.ERROR, error)

    result["registered"] = client.register()
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
