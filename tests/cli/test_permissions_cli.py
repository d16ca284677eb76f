"""``mesos-auth permissions``: the table, the grant commands, the curl lines, the uid, the exit codes."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple

import pytest

from mesos_auth.cli import main
from tests.cli.auth_support import assert_no_secrets, clean_environment

M = "dcos:mesos:master"
CANONICAL_SIX = [
    f"dcos security org users grant svc {M}:framework:role:my-role create",
    f"dcos security org users grant svc {M}:task:user:nobody create",
    f"dcos security org users grant svc {M}:reservation:role:my-role create",
    f"dcos security org users grant svc {M}:volume:role:my-role create",
    f"dcos security org users grant svc {M}:reservation:principal:svc delete",
    f"dcos security org users grant svc {M}:volume:principal:svc delete",
]


class Run(NamedTuple):
    code: int
    out: str
    err: str

    def grants(self) -> List[str]:
        return [line for line in self.out.splitlines() if line.startswith("dcos security org users grant ")]

    def curls(self) -> List[str]:
        return [line for line in self.out.splitlines() if line.startswith("curl ")]


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


def run(capsys: Any, *args: str) -> Run:
    code = main(["permissions", *args])
    out, err = capsys.readouterr()
    assert_no_secrets(out, err)
    return Run(code, out, err)


def test_canonical_six_for_one_role_as_nobody(capsys: Any) -> None:
    done = run(capsys, "--role", "my-role", "--user", "nobody", "--reserve", "--volumes", "--uid", "svc")
    assert done.code == 0 and done.err == ""
    assert done.grants() == CANONICAL_SIX
    assert done.curls() == []


def test_table_has_rid_action_and_why(capsys: Any) -> None:
    done = run(capsys, "--role", "my-role", "--user", "nobody", "--uid", "svc")
    rows = [line.split(None, 2) for line in done.out.splitlines() if line.startswith(("RID", "dcos:"))]
    assert rows == [
        ["RID", "ACTION", "WHY"],
        [f"{M}:framework:role:my-role", "create", "SUBSCRIBE with role 'my-role'"],
        [f"{M}:task:user:nobody", "create", "launch tasks as Linux user 'nobody'"],
    ]


def test_framework_config_gives_roles_user_and_uid(capsys: Any, tmp_path: Path) -> None:
    config = tmp_path / "framework.json"
    config.write_text(
        json.dumps(
            {
                "framework_info": {
                    "name": "fw",
                    "user": "nobody",
                    "roles": ["my-role", "slave_public/my-role"],
                    "capabilities": [{"type": "MULTI_ROLE"}],
                    "principal": "svc",
                }
            }
        )
    )
    done = run(capsys, "--framework-config", str(config), "--task-user", "root", "--reserve")
    assert done.code == 0
    assert done.grants() == [
        f"dcos security org users grant svc {M}:framework:role:my-role create",
        f"dcos security org users grant svc {M}:framework:role:slave_public/my-role create",
        f"dcos security org users grant svc {M}:task:user:nobody create",
        f"dcos security org users grant svc {M}:task:user:root create",
        f"dcos security org users grant svc {M}:reservation:role:my-role create",
        f"dcos security org users grant svc {M}:reservation:role:slave_public/my-role create",
        f"dcos security org users grant svc {M}:reservation:principal:svc delete",
    ]


def test_iam_api_curl_lines(capsys: Any) -> None:
    done = run(capsys, "--role", "slave_public/kafka", "--uid", "svc", "--iam-api")
    create_acl, grant = (shlex.split(line) for line in done.curls())
    rid = f"{M}:framework:role:slave_public%252Fkafka"
    assert create_acl[:4] == ["curl", "-X", "PUT", f"$DCOS_URL/acs/api/v1/acls/{rid}"]
    assert "Authorization: token=$TOKEN" in create_acl
    assert json.loads(create_acl[create_acl.index("-d") + 1]) == {
        "description": "SUBSCRIBE with role slave_public/kafka"
    }
    assert grant[:4] == ["curl", "-X", "PUT", f"$DCOS_URL/acs/api/v1/acls/{rid}/users/svc/create"]
    assert "Authorization: token=$TOKEN" in grant
    assert "409" in done.out


def test_uid_and_cluster_from_the_secret(
    capsys: Any, write_secret: Callable[..., Path], secret_info: Dict[str, str]
) -> None:
    secret = write_secret(secret_info)
    os.chmod(secret, 0o600)
    done = run(capsys, "--role", "r", "--secret", str(secret), "--iam-api")
    assert done.code == 0
    assert done.grants() == [f"dcos security org users grant my-framework {M}:framework:role:r create"]
    assert (
        shlex.split(done.curls()[1])[3]
        == f"https://master.mesos:443/acs/api/v1/acls/{M}:framework:role:r/users/my-framework/create"
    )


def test_uid_placeholder_when_nothing_says(capsys: Any) -> None:
    done = run(capsys, "--role", "r", "--user", "nobody", "--volumes")
    assert done.code == 0
    assert done.grants()[-1] == f"dcos security org users grant <uid> {M}:volume:principal:<uid> delete"


def test_star_is_quoted_for_the_shell(capsys: Any) -> None:
    done = run(capsys, "--role", "*", "--uid", "svc")
    assert done.grants() == [f"dcos security org users grant svc '{M}:framework:role:*' create"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "--framework-config FILE.json, or --role R"),
        (("--reserve",), "--framework-config FILE.json, or --role R"),
        (("--role", "a/"), "'FrameworkInfo.role' is not a valid role: Role 'a/' cannot end with a slash"),
        (("--role", "a", "--role", "a"), "'FrameworkInfo.roles' contains duplicate items: { a }"),
        (("--framework-config", "/nonexistent/fw.json"), "file not found"),
        (("--framework-config", "x.json", "--role", "r"), "not both"),
    ],
)
def test_bad_usage_exits_2(capsys: Any, args: tuple, said: str) -> None:
    done = run(capsys, *args)
    assert done.code == 2
    assert done.out == ""
    assert said in done.err


def test_help_says_which_flag_adds_which(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["permissions", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "reservation:role:<R> create" in out and "reservation:principal:<uid> delete" in out
    assert "volume:role:<R> create" in out and "volume:principal:<uid> delete" in out
    assert "task:user:<U> create" in out
