"""The ``mesos-auth`` dispatcher: help, version, one error line (traceback only
with --debug), and the exit codes of its docstring."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mesos_auth import __version__
from mesos_auth.cli import build_parser, exit_code_for, main
from mesos_auth.errors import (
    AuthenticationFailedError,
    CredentialError,
    IAMUnavailableError,
    InsecureTransportError,
    LoginRejectedError,
    MasterCallError,
    NoServiceAccountError,
    TLSVerificationError,
    TransportError,
)
from tests.cli.auth_support import clean_environment, subprocess_environment

MINE = ("keypair", "secret", "login", "doctor")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


def test_help_lists_the_subcommands(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mesos-auth")
    for name in MINE:
        assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), name


@pytest.mark.parametrize("name", MINE)
def test_each_subcommand_has_help_and_a_run_function(name: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: mesos-auth {name}")
    parser = build_parser()
    required = {"secret": ["--uid", "u", "--private-key", "k", "--login-endpoint", "e"]}.get(name, [])
    args = parser.parse_args([name, *required])
    assert callable(args.run)


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"mesos-auth {__version__}"


def test_no_command_prints_help_and_exits_2(capsys: Any) -> None:
    assert main([]) == 2
    assert "usage: mesos-auth" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["login", "--security-mode", "paranoid"])
    assert exited.value.code == 2
    assert "invalid choice: 'paranoid'" in capsys.readouterr().err


def test_an_error_is_one_line_without_a_traceback(tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "secret.json"
    assert main(["login", "--secret", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"mesos-auth login: the secret file {missing} named by --secret does not exist. ")
    assert "Pass the path of" in err and err.count("\n") == 1  # and what to do about it


def test_debug_raises_the_error_itself(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="does not exist"):
        main(["--debug", "login", "--secret", str(tmp_path / "secret.json")])


def test_debug_shows_the_traceback_in_the_real_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "secret.json")
    command = [sys.executable, "-m", "mesos_auth"]
    env = subprocess_environment()

    quiet = subprocess.run(  # noqa: S603
        [*command, "login", "--secret", missing], capture_output=True, text=True, timeout=60, env=env
    )
    loud = subprocess.run(  # noqa: S603
        [*command, "--debug", "login", "--secret", missing], capture_output=True, text=True, timeout=60, env=env
    )

    assert quiet.returncode == 2
    assert quiet.stderr.count("\n") == 1 and "Traceback" not in quiet.stderr
    assert loud.returncode == 1  # an uncaught exception, as Python reports it
    assert "Traceback (most recent call last)" in loud.stderr
    assert "SecretFileMissingError" in loud.stderr  # a CredentialError, as the library raises


def test_ctrl_c_exits_130(mocker: Any, capsys: Any) -> None:
    mocker.patch("mesos_auth.cli.login.run", side_effect=KeyboardInterrupt)
    assert main(["login"]) == 130
    assert capsys.readouterr().err == "mesos-auth: interrupted\n"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CredentialError("bad", source="x"), 2),
        (NoServiceAccountError(["nowhere"]), 2),
        (InsecureTransportError("http://m/login"), 2),
        (FileNotFoundError("f"), 2),
        (ValueError("v"), 2),
        (LoginRejectedError(uid="u", endpoint="e", status=401), 3),
        (AuthenticationFailedError("m", "d"), 3),
        (MasterCallError(400, "RECONCILE", "no"), 3),
        (IAMUnavailableError(endpoint="e", attempts=2, elapsed=1.0, last_problem="p"), 4),
        (TransportError("u", "refused"), 4),
        (TLSVerificationError("u", "untrusted", None), 4),
        (RuntimeError("r"), 1),
    ],
)
def test_exit_codes(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_a_subcommand_exit_status_is_passed_on(mocker: Any) -> None:
    def run(args: argparse.Namespace) -> int:
        return 1

    mocker.patch("mesos_auth.cli.doctor.run", run)
    assert main(["doctor"]) == 1
