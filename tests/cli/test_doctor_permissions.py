"""``mesos-auth doctor``'s permission check, against a real FakeIAM over HTTPS.

The account 'alice' logs in; the doctor then reads ``/acs/api/v1/users/alice/permissions``
with alice's own token and compares with what the framework needs: all held, some
missing (each with its grant command), held through a prefix or ``full`` or
superuser, and the IAM refusing the read (a warning with an administrator's
commands, never a failure).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from mesos_auth.account import ServiceAccount
from mesos_auth.ca import CABundle
from mesos_auth.cli import main
from mesos_auth.cli._checks import DoctorContext, Status
from mesos_auth.cli._permission_checks import PermissionInputs, check_permissions, grants_of
from mesos_auth.testing import FakeIAM, TestCA
from tests.cli.auth_support import assert_no_secrets

M = "dcos:mesos:master"
SIX = [
    (f"{M}:framework:role:my-role", "create"),
    (f"{M}:task:user:nobody", "create"),
    (f"{M}:reservation:role:my-role", "create"),
    (f"{M}:volume:role:my-role", "create"),
    (f"{M}:reservation:principal:alice", "delete"),
    (f"{M}:volume:principal:alice", "delete"),
]
LINE = re.compile(r"^\[(ok|FAIL|warn|skip)\]\s+([a-z-]+): (.*)$")


class Report(NamedTuple):
    code: int
    status: str
    summary: str
    fix: List[str]
    out: str


@pytest.fixture
def acl_iam(iam: FakeIAM) -> Iterator[FakeIAM]:
    """The module's IAM with no grants, accounts reading their own permissions; restored after."""
    iam.clear_acls()
    iam.account_reads_own_permissions = True
    yield iam
    iam.clear_acls()
    iam.account_reads_own_permissions = True


def doctor(capsys: Any, secret: Path, ca: TestCA, *extra: str, mode: str = "strict") -> Report:
    code = main(["doctor", "--secret", str(secret), "--security-mode", mode, "--ca-bundle", ca.ca_bundle, *extra])
    out, err = capsys.readouterr()
    assert_no_secrets(out, err)
    assert err == ""
    rows = out.splitlines()
    for index, row in enumerate(rows):
        match = LINE.match(row)
        if match is not None and match.group(2) == "permissions":
            fix = [line.strip() for line in rows[index + 1 :] if not LINE.match(line) and line.startswith(" ")]
            return Report(code, match.group(1), match.group(3), fix, out)
    raise AssertionError(out)


def grant(iam: FakeIAM, permissions: List[Tuple[str, str]], uid: str = "alice") -> None:
    for rid, action in permissions:
        iam.grant_permission(uid, rid, action)


CANONICAL = ("--role", "my-role", "--user", "nobody", "--reserve", "--volumes")


def test_all_six_held(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    grant(acl_iam, SIX)
    report = doctor(capsys, secret, ca, *CANONICAL)
    assert (report.status, report.code) == ("ok", 0), report.out
    assert "'alice' holds the 6 permission(s)" in report.summary


def test_missing_ones_fail_with_their_grant_commands(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    grant(acl_iam, SIX[:2] + SIX[3:5])
    report = doctor(capsys, secret, ca, *CANONICAL)
    assert (report.status, report.code) == ("FAIL", 1), report.out
    assert "lacks 2 of the 6" in report.summary
    assert f"{M}:reservation:role:my-role create" in report.summary
    assert f"{M}:volume:principal:alice delete" in report.summary
    assert report.fix[1:] == [
        f"dcos security org users grant alice {M}:reservation:role:my-role create",
        f"dcos security org users grant alice {M}:volume:principal:alice delete",
    ]


def test_prefix_full_and_superuser_grants_cover(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    grant(acl_iam, [(f"{M}:framework:role", "create"), (f"{M}:task:user:nobody", "full")])
    assert doctor(capsys, secret, ca, "--role", "a", "--role", "b/c", "--user", "nobody").status == "ok"
    acl_iam.clear_acls()
    grant(acl_iam, [("dcos:superuser", "full")])
    assert doctor(capsys, secret, ca, *CANONICAL).status == "ok"


def test_a_parent_role_does_not_cover_a_refined_one(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    grant(acl_iam, [(f"{M}:framework:role:slave_public", "create")])
    report = doctor(capsys, secret, ca, "--role", "slave_public/kafka")
    assert report.status == "FAIL"
    assert report.fix[1:] == [f"dcos security org users grant alice {M}:framework:role:slave_public/kafka create"]


def test_framework_config_file(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any, tmp_path: Path) -> None:
    config = tmp_path / "framework.json"
    config.write_text(json.dumps({"name": "fw", "user": "root", "principal": "alice"}))
    grant(acl_iam, [(f"{M}:framework:role:*", "create")])
    report = doctor(capsys, secret, ca, "--framework-config", str(config))
    assert report.status == "FAIL"
    assert report.fix[1:] == [f"dcos security org users grant alice {M}:task:user:root create"]
    grant(acl_iam, [(f"{M}:task:user:root", "create")])
    assert doctor(capsys, secret, ca, "--framework-config", str(config)).status == "ok"


def test_iam_refusing_the_read_warns_with_an_administrators_commands(
    acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any
) -> None:
    acl_iam.account_reads_own_permissions = False
    grant(acl_iam, SIX)  # held, but alice cannot see it
    report = doctor(capsys, secret, ca, *CANONICAL)
    assert (report.status, report.code) == ("warn", 0), report.out
    assert "HTTP 403" in report.summary and "may not read its own permissions" in report.summary
    assert report.fix[1] == "dcos security org users show alice"
    assert report.fix[2:] == [f"dcos security org users grant alice {rid} {action}" for rid, action in SIX]


def test_not_strict_mode_missing_is_a_warning(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    report = doctor(capsys, secret, ca, "--role", "r", mode="permissive")
    assert (report.status, report.code) == ("warn", 0)
    assert "permissive mode does not enforce them" in report.summary


def test_skipped_without_a_framework_description(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    report = doctor(capsys, secret, ca)
    assert (report.status, report.summary) == ("skip", "no --framework-config or --role/--user given")
    assert not acl_iam.acl_events  # nothing asked


def test_an_invalid_role_fails_with_mesos_text(acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any) -> None:
    report = doctor(capsys, secret, ca, "--role", "a//b")
    assert report.status == "FAIL"
    assert report.summary == "'FrameworkInfo.role' is not a valid role: Role 'a//b' cannot contain two adjacent slashes"


def test_framework_config_and_role_together_is_bad_usage(
    acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any, tmp_path: Path
) -> None:
    code = main(["doctor", "--secret", str(secret), "--framework-config", str(tmp_path / "x.json"), "--role", "r"])
    _, err = capsys.readouterr()
    assert code == 2 and "not both" in err


def test_skipped_without_a_token(acl_iam: FakeIAM, alice: ServiceAccount) -> None:
    ctx = DoctorContext(account=alice, permissions=PermissionInputs(roles=("r",), user="nobody"), environ={})
    result = check_permissions(ctx)
    assert result.status is Status.SKIP
    assert f"needs {M}:framework:role:r create, {M}:task:user:nobody create" in result.summary


def test_a_token_of_another_account_is_refused_and_warns(acl_iam: FakeIAM, alice: ServiceAccount, ca: TestCA) -> None:
    acl_iam.create_account("bob")
    token = acl_iam.issue_token("bob")  # bob may not read alice's permissions
    ctx = DoctorContext(
        account=alice,
        permissions=PermissionInputs(roles=("r",)),
        environ={},
        bundle=CABundle(ca.ca_bundle, "test"),
        security_mode="strict",
    )
    ctx.token = token
    try:
        result = check_permissions(ctx)
    finally:
        acl_iam.remove_account("bob")
    assert result.status is Status.WARN
    assert "HTTP 403" in result.summary


def test_grants_of_reads_direct_and_group_entries() -> None:
    answer: Dict[str, Any] = {
        "direct": [{"rid": "a", "actions": [{"name": "create", "url": "/x"}]}],
        "groups": [{"rid": "a", "gid": "g", "actions": [{"name": "full"}]}, {"rid": "b", "actions": []}],
    }
    assert grants_of(answer) == {"a": {"create", "full"}, "b": set()}
    for bad in ([], {"direct": {}}, {"direct": [{"actions": []}]}):
        with pytest.raises(ValueError):
            grants_of(bad)
    empty: Optional[Dict[str, Any]] = {}
    assert grants_of(empty) == {}


@pytest.mark.parametrize(
    ("config", "summary"),
    [
        ({"principal": "bob", "role": "r"}, "the framework's principal is not 'alice' (see 'principal')"),
        ("not json", "the framework config cannot be used (see 'principal')"),
    ],
)
def test_a_config_the_principal_check_refuses_is_skipped(
    acl_iam: FakeIAM, secret: Path, ca: TestCA, capsys: Any, tmp_path: Path, config: Any, summary: str
) -> None:
    path = tmp_path / "framework.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    report = doctor(capsys, secret, ca, "--framework-config", str(path))
    assert (report.status, report.summary) == ("skip", summary)
