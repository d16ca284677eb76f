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
