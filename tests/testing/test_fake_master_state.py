"""FakeMaster's /master/state: an authenticated DC/OS API besides the scheduler API."""

from __future__ import annotations

import json

from .test_fake_master_support import FRAMEWORK_INFO, Client, StubIAM, serve, token_header


def state(master, authorization=None):
    client = Client(master)
    conn = client.connection()
    headers = {"Authorization": authorization} if authorization else {}
    conn.request("GET", "/master/state", headers=headers)
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply.status, dict(reply.getheaders()), body


def test_strict_state_needs_a_token() -> None:
    with serve(security_mode="strict", iam=StubIAM()) as master:
        status, headers, _ = state(master)
        assert status == 401 and headers["WWW-Authenticate"] == "acsjwt"
        status, _, _ = state(master, "token=expired")
        assert status == 401
        sub = Client(master, authorization=token_header("svc")).subscribe(dict(FRAMEWORK_INFO, principal="svc"))
        sub.subscribed()
        status, _, body = state(master, token_header("svc"))
        assert status == 200
        payload = json.loads(body)
        assert payload["id"] == master.master_id
        [framework] = payload["frameworks"]
        assert framework["principal"] == "svc" and framework["active"] is True
        sub.close()
        assert [r.path for r in master.requests].count("/master/state") == 3


def test_disabled_state_is_open() -> None:
    with serve() as master:
        status, _, body = state(master)
        assert status == 200 and json.loads(body)["frameworks"] == []
