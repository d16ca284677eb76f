"""What each answer to SUBSCRIBE and each ERROR event means, apart from any socket."""

from __future__ import annotations

import pytest

from mesos_auth import (
    AuthenticationFailedError,
    PermissionRefusedError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
)
from mesos_auth.master_uri import MasterAddress
from mesos_auth.subscription import Redirect, Retryable, check_subscribe_answer, error_event

MASTER = MasterAddress("https", "127.0.0.1", 5050)
MISMATCH = (
    "Failed to validate scheduler::Call: Authenticated principal 'svc' does not match principal 'other' "
    "set in `FrameworkInfo`"
)


def check(status: int, text: str = "", location=None, sent: bool = True) -> None:
    check_subscribe_answer(MASTER, status, text, location, sent_credentials=sent, principal="other", uid="svc")


def test_200_is_fine() -> None:
    check(200)


def test_307_names_the_leader_keeping_https() -> None:
    with pytest.raises(Redirect) as caught:
        check(307, location="//127.0.0.2:5051/api/v1/scheduler")
    assert caught.value.target == MasterAddress("https", "127.0.0.2", 5051)


def test_401_with_and_without_credentials() -> None:
    with pytest.raises(AuthenticationFailedError, match="Unauthorized"):
        check(401, "Unauthorized.")
    with pytest.raises(AuthenticationFailedError, match="no credentials were sent.*service account"):
        check(401, sent=False)


def test_400_principal_mismatch_and_other_refusals() -> None:
    with pytest.raises(PrincipalMismatchError) as caught:
        check(400, MISMATCH)
    assert caught.value.principal == "other" and caught.value.uid == "svc"
    with pytest.raises(SubscriptionRefusedError) as refused:
        check(403, "Forbidden")
    assert refused.value.status == 403


@pytest.mark.parametrize("status", [503, 500, 502])
def test_what_may_heal(status) -> None:
    with pytest.raises(Retryable, match=str(status)):
        check(status, "no leader")


def test_error_events() -> None:
    permission = error_event("Not authorized to use roles '{ dev }'", master="m", principal="svc")
    assert isinstance(permission, PermissionRefusedError) and "svc" in str(permission)
    changed = error_event("Changing framework's principal is not allowed.", master="m", principal="svc")
    assert type(changed) is SubscriptionRefusedError


@pytest.mark.parametrize(
    "message",
    [
        "Not authorized to use roles '{ dev, ops }'",  # DC/OS 1.10-2.0 (Master::subscribe)
        "Not authorized to register framework  with roles { dev, ops }",  # DC/OS 2.1-2.2 (checkSubscribeAuthorization)
    ],
)
def test_a_role_refusal_names_each_role_permission_and_grant_command(message: str) -> None:
    framework = {"roles": ["dev", "ops"], "capabilities": [{"type": "MULTI_ROLE"}], "principal": "svc"}
    refused = error_event(message, master="https://m:5050", principal="svc", framework_info=framework)
    assert isinstance(refused, PermissionRefusedError) and refused.status == 0 and refused.message == message
    assert [str(p) for p in refused.permissions] == [
        "dcos:mesos:master:framework:role:dev create",
        "dcos:mesos:master:framework:role:ops create",
    ]
    assert refused.grant_commands == (
        "dcos security org users grant svc dcos:mesos:master:framework:role:dev create",
        "dcos security org users grant svc dcos:mesos:master:framework:role:ops create",
    )
    assert all(command in str(refused) for command in refused.grant_commands)


def test_the_grant_command_is_for_the_account_uid() -> None:
    refused = error_event("Not authorized to use roles '{ dev }'", master="m", principal="svc", uid="acct")
    assert isinstance(refused, PermissionRefusedError)
    assert refused.grant_commands == ("dcos security org users grant acct dcos:mesos:master:framework:role:dev create",)


def test_an_authorizer_failure_names_no_permission() -> None:
    refused = error_event("Authorization failure: timed out", master="m", principal="svc")
    assert isinstance(refused, PermissionRefusedError)
    assert refused.permission is None and refused.permissions == () and refused.grant_commands == ()
    assert "audit log" in str(refused)
