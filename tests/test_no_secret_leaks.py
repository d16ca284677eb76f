"""No private key, login token or auth token in logs, output, reprs or exception text.

Runs the credential flows, the failing ones included, with every logger at DEBUG
(urllib3's too), and searches everything that a user could see for secrets.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import List

import pytest
import requests

import mesos_auth.iam
from mesos_auth import (
    DCOSSession,
    InsecureTransportError,
    MesosAuthError,
    RetryPolicy,
    ServiceAccount,
    TokenProvider,
)
from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from tests.helpers import FakeClock
from tests.test_requests_auth import ProtectedAPI


def secret_fragments(token: str) -> List[str]:
    """The whole token and its signature: either appearing anywhere is a leak."""
    return [token, token.rsplit(".", 1)[-1]]


def key_fragments(account: ServiceAccount) -> List[str]:
    pem = account.to_info()["private_key"]
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_credential_flows_leak_nothing(tmp_path, capsys, caplog, monkeypatch) -> None:
    clock = FakeClock()
    ca = TestCA(tmp_path / "ca")
    login_tokens: List[str] = []
    real_make = mesos_auth.iam.make_login_token

    def recording_make(*args, **kwargs):
        token = real_make(*args, **kwargs)
        login_tokens.append(token)
        return token

    monkeypatch.setattr(mesos_auth.iam, "make_login_token", recording_make)
    seen: List[str] = []  # every text a user could see besides logs and output
    caplog.set_level(logging.DEBUG)

    with FakeIAM(tls=ca, clock=clock, token_lifetime=60) as iam, ProtectedAPI(iam, tls=ca) as api:
        account = iam.create_account("svc")
        provider = TokenProvider(
            account, ca_bundle=ca.ca_bundle, clock=clock, sleep=clock.sleep, retry=RetryPolicy(deadline=5)
        )
        session = DCOSSession(provider)
        auth_tokens = [provider.token()]
        iam.fail_next_logins(2, status=503)
        clock.advance(58)
        auth_tokens.append(provider.token())  # refreshed through two failures
        # An auth token holds only uid and exp, in whole seconds, as the real IAM's: a second
        # on, the token bought after the revocation differs from the revoked one.
        clock.advance(1)
        iam.revoke_tokens("svc")
        assert session.get(api.url + "/x").status_code == 200  # 401, new login, resend
        auth_tokens.append(provider.token())
        seen += [repr(provider), str(provider), repr(account), str(account), repr(session.auth), repr(provider.info)]

        failures = [
            lambda: TokenProvider(replace(account, uid="nobody"), ca_bundle=ca.ca_bundle, clock=clock).token(),
            lambda: TokenProvider(
                replace(account, private_key=iam.create_account("x").private_key), ca_bundle=ca.ca_bundle, clock=clock
            ).token(),
            lambda: TokenProvider(account, clock=clock, retry=RetryPolicy(max_attempts=1)).token(),  # untrusted CA
            lambda: requests.Session().get(api.http_url, auth=_strict_auth(provider)),
            lambda: ServiceAccount.from_info(dict(account.to_info(), uid="")),
            lambda: ServiceAccount.from_info(dict(account.to_info(), scheme="HS256")),
            lambda: ServiceAccount.from_info(
                dict(account.to_info(), private_key=account.to_info()["private_key"][:300])
            ),
        ]
        iam.shift_clock(-300)
        failures.append(lambda: TokenProvider(account, ca_bundle=ca.ca_bundle, clock=clock).token())
        for failure in failures:
            with pytest.raises((MesosAuthError, InsecureTransportError)) as caught:
                failure()
            seen += [str(caught.value), repr(caught.value), *map(str, caught.value.args)]
        iam.shift_clock(300)
        iam.go_down()
        with pytest.raises(MesosAuthError) as caught:
            TokenProvider(
                account, ca_bundle=ca.ca_bundle, clock=clock, sleep=clock.sleep, retry=RetryPolicy(deadline=3)
            ).token()
        seen += [str(caught.value), repr(caught.value)]
        iam.come_up()
        seen += [repr(iam), *map(repr, iam.events)]

    output = capsys.readouterr()
    haystacks = {"logs": caplog.text, "stdout": output.out, "stderr": output.err, "texts": "\n".join(seen)}
    secrets = {"private key": key_fragments(account)}
    secrets["login token"] = [f for t in login_tokens for f in secret_fragments(t)]
    secrets["auth token"] = [f for t in auth_tokens for f in secret_fragments(t)]
    assert len(login_tokens) >= 6 and len(set(auth_tokens)) == 3
    assert "logged in as" in caplog.text and "retrying" in caplog.text  # the logs did say things
    assert "SHA-256 " in haystacks["texts"]  # a refusal's hint shows the public key's fingerprint, scanned too
    for where, text in haystacks.items():
        for kind, fragments in secrets.items():
            for fragment in fragments:
                assert fragment not in text, f"a {kind} appears in {where}"


def _strict_auth(provider: TokenProvider):
    from mesos_auth import DCOSAuth

    return DCOSAuth(provider, security_mode="strict")
