"""mesos-auth demo: the whole story on the embedded fake cluster, in each variant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesos_auth.cli import main
from mesos_auth.cli.demo import find_example

REPO = Path(__file__).resolve().parents[2]


def test_strict_story(capsys, tmp_path) -> None:
    assert main(["demo", "--tasks", "2", "--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for step in (
        "strict mode, TLS",
        "Key pair created",
        "Service account 'hello-framework' created on the IAM",
        "Secret written",
        "Permission granted",
        "signed a service login token for 'hello-framework'",
        "auth token received, valid for",
        "SUBSCRIBED as framework",
        "launching 2 task(s)",
        "TASK_FINISHED",
        "tasks finished: 2 of 2",
        "Demo finished.",
    ):
        assert step in out, step
    assert out.index("signed a service login token") < out.index("SUBSCRIBED") < out.index("TASK_FINISHED")
    assert "PRIVATE KEY" not in out and "Traceback" not in out
    assert oct((tmp_path / "hello-framework-private.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "hello-framework-secret.json").stat().st_mode & 0o777) == "0o600"


def test_permissive_story(capsys) -> None:
    assert main(["demo", "--permissive", "--tasks", "1"]) == 0
    out = capsys.readouterr().out
    assert "permissive mode" in out and "tasks finished: 1 of 1" in out


def test_mismatch_story(capsys) -> None:
    assert main(["demo", "--mismatch"]) == 0
    out = capsys.readouterr().out
    assert "PrincipalMismatchError" in out
    assert "requests that reached the master: 0; logins at the IAM: 0" in out


def test_missing_example_is_one_clear_line(capsys, tmp_path) -> None:
    assert main(["demo", "--example", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mesos-auth demo: ") and err.count("\n") == 1 and "--example" in err


def test_example_is_found_from_the_repository() -> None:
    assert find_example(None) == REPO / "examples" / "frameworks" / "hello_factory.py"


@pytest.mark.timeout(180)
def test_demo_as_a_command(tmp_path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, "-m", "mesos_auth", "demo", "--tasks", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo finished." in result.stdout
