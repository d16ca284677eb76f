"""``mesos-auth fake-cluster``: its arguments, a run in this process, and the real
command in a subprocess that a framework author would start and stop with Ctrl-C."""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import re
import shlex
import signal
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

from mesos_auth import SecurityMode, ServiceAccount, TokenProvider
from mesos_auth.cli import build_parser, main
from mesos_auth.cli.fake_cluster import serve
from mesos_auth.testing import FakeCluster

STARTUP_DEADLINE = 60.0
EXIT_DEADLINE = 30.0
READY_LINE = "export MESOS_MASTER_URL="


# -- arguments -------------------------------------------------------------------------------------


def test_defaults() -> None:
    args = build_parser().parse_args(["fake-cluster"])
    assert args.security_mode == "strict"
    assert args.tls is True
    assert args.uid == "my-framework"
    assert args.roles is None  # meaning "*"
    assert args.directory is None
    assert args.heartbeat_interval == 15.0
    assert args.inline_secret is False  # the secret file's path is exported by default
    assert callable(args.run)


def test_every_option(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "fake-cluster",
            "--security-mode",
            "permissive",
            "--no-tls",
            "--uid",
            "svc",
            "--role",
            "dev",
            "--role",
            "ops",
            "--directory",
            str(tmp_path),
            "--heartbeat-interval",
            "0.5",
            "--inline-secret",
        ]
    )
    assert (args.security_mode, args.tls, args.uid, args.roles) == ("permissive", False, "svc", ["dev", "ops"])
    assert args.directory == tmp_path and args.heartbeat_interval == 0.5 and args.inline_secret


def test_help_says_inline_secret_prints_the_private_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fake-cluster", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--inline-secret" in help_text and "PRINTS THE PRIVATE KEY" in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["--security-mode", "paranoid"],
        ["--heartbeat-interval", "0"],
        ["--heartbeat-interval", "-1"],
        ["--heartbeat-interval", "soon"],
        ["--heartbeat-interval", "nan"],
        ["--tls"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["fake-cluster", *argv])
    assert exited.value.code == 2
    assert "usage: mesos-auth" in capsys.readouterr().err


def test_strict_without_tls_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-cluster", "--no-tls"]) == 2
    err = capsys.readouterr().err
    assert "strict mode requires TLS" in err


def test_a_uid_with_spaces_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fake-cluster", "--uid", "my framework"]) == 2
    assert "--uid" in capsys.readouterr().err


# -- in this process -------------------------------------------------------------------------------


def parse_output(text: str) -> Dict[str, str]:
    """The exports and the ``name: value`` rows the command printed."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        export = re.match(r"^export (\w+)=(.*)$", line)
        if export:
            values[export.group(1)] = shlex.split(export.group(2))[0]
            continue
        row = re.match(r"^  ([A-Za-z ]+):\s+(.*)$", line)
        if row:
            values[row.group(1)] = row.group(2)
    return values


def login(values: Dict[str, str]) -> str:
    account = ServiceAccount.from_env(values)
    provider = TokenProvider(
        account,
        ca_bundle=values.get("MESOS_AUTH_CA_BUNDLE"),
        security_mode=values["MESOS_AUTH_SECURITY_MODE"],
    )
    return provider.token()


def get_version(master_url: str, ca_bundle: Optional[str]) -> Dict[str, str]:
    parts = urlsplit(master_url)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_bundle)
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=10, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", "/version")
        response = connection.getresponse()
        assert response.status == 200
        version: Dict[str, str] = json.loads(response.read())
        return version
    finally:
        connection.close()


def run_in_process(argv: List[str]) -> Tuple[int, str, List[str]]:
    """Run the command with a wait that logs in with what it printed, then returns."""
    out = io.StringIO()
    seen: List[str] = []

    def wait(cluster: FakeCluster) -> None:
        values = parse_output(out.getvalue())
        seen.append(cluster.iam.verify_token(login(values)))
        get_version(values["MESOS_MASTER_URL"], values.get("MESOS_AUTH_CA_BUNDLE"))

    args = build_parser().parse_args(["fake-cluster", *argv])
    code = serve(args, wait=wait, out=out)
    return code, out.getvalue(), seen


def test_serve_prints_what_a_framework_needs(tmp_path: Path) -> None:
    code, output, seen = run_in_process(["--uid", "cli-svc", "--role", "dev", "--directory", str(tmp_path)])
    assert code == 0
    assert seen == ["cli-svc"]
    values = parse_output(output)
    secret = tmp_path / "cli-svc.json"
    assert values["DCOS_SERVICE_ACCOUNT_CREDENTIAL"] == str(secret)
    assert values["secret file"] == f"{secret} (mode 0600)"
    assert values["MESOS_AUTH_CA_BUNDLE"] == str(tmp_path / "ca-bundle.crt") == values["CA bundle"]
    assert values["MESOS_AUTH_SECURITY_MODE"] == "strict"
    assert values["MESOS_MASTER_URL"] == values["master URL"]
    assert values["master URL"].startswith("https://127.0.0.1:")
    assert values["cluster URL"].startswith("https://127.0.0.1:") and values["cluster URL"] != values["master URL"]
    assert output.splitlines()[1].startswith("  cluster URL:")  # the first thing said
    assert values["IAM login endpoint"] == values["cluster URL"] + "/acs/api/v1/auth/login"
    assert values["CA certificate URL"] == values["cluster URL"] + "/ca/dcos-ca.crt"
    assert "master plain http" not in values  # strict: TLS only
    assert values["service account"] == "cli-svc (roles: dev; tasks as: nobody)"
    assert "PRIVATE KEY" not in output
    # A given directory is kept, with the secret (owner only) and the CA bundle.
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert json.loads(secret.read_text())["uid"] == "cli-svc"
    assert (tmp_path / "ca-bundle.crt").is_file()


def test_task_users_are_granted(tmp_path: Path) -> None:
    granted: List[Dict[str, Any]] = []

    def wait(cluster: FakeCluster) -> None:
        granted.append({rid: set(actions) for rid, actions in cluster.iam.permissions_of("users-svc").items()})

    args = build_parser().parse_args(
        [
            "fake-cluster",
            "--uid",
            "users-svc",
            "--task-user",
            "root",
            "--task-user",
            "alice",
            "--directory",
            str(tmp_path),
        ]
    )
    out = io.StringIO()
    assert serve(args, wait=wait, out=out) == 0
    assert parse_output(out.getvalue())["service account"] == "users-svc (roles: *; tasks as: root, alice)"
    [permissions] = granted
    assert permissions["dcos:mesos:master:task:user:root"] == {"create"}
    assert permissions["dcos:mesos:master:task:user:alice"] == {"create"}
    assert "dcos:mesos:master:task:user:nobody" not in permissions


def test_inline_secret_exports_the_secret_itself(tmp_path: Path) -> None:
    code, output, seen = run_in_process(
        ["--security-mode", "permissive", "--uid", "inline-svc", "--inline-secret", "--directory", str(tmp_path)]
    )
    assert code == 0 and seen == ["inline-svc"]  # logged in with the inline secret
    values = parse_output(output)
    info = json.loads(values["DCOS_SERVICE_ACCOUNT_CREDENTIAL"])
    assert info["uid"] == "inline-svc" and "PRIVATE KEY" in info["private_key"]
    assert info["login_endpoint"] == values["cluster URL"] + "/acs/api/v1/auth/login"
    # The key is in the one export line the user asked for, nowhere else.
    [line] = [line for line in output.splitlines() if "PRIVATE KEY" in line]
    assert line.startswith("export DCOS_SERVICE_ACCOUNT_CREDENTIAL='")
    assert values["secret file"].startswith("none")
    assert not (tmp_path / "inline-svc.json").exists()
    # Permissive with TLS: the master's one port speaks plain http too.
    assert values["master plain http"].startswith("http://127.0.0.1:")
    assert urlsplit(values["master plain http"].split()[0]).port == urlsplit(values["master URL"]).port


def test_serve_without_tls_unsets_the_ca_bundle(tmp_path: Path) -> None:
    code, output, seen = run_in_process(["--security-mode", "permissive", "--no-tls", "--directory", str(tmp_path)])
    assert code == 0 and seen == ["my-framework"]
    values = parse_output(output)
    assert "MESOS_AUTH_CA_BUNDLE" not in values
    assert "unset MESOS_AUTH_CA_BUNDLE" in output.splitlines()
    assert values["CA bundle"] == "none (TLS off)"
    assert values["MESOS_MASTER_URL"].startswith("http://")
    assert values["cluster URL"].startswith("http://")
    assert SecurityMode(values["MESOS_AUTH_SECURITY_MODE"]) is SecurityMode.PERMISSIVE


def test_serve_reports_a_server_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["fake-cluster", "--directory", str(tmp_path)])

    def wait(cluster: FakeCluster) -> None:
        cluster.master.record_error("a handler blew up")

    assert serve(args, wait=wait, out=io.StringIO()) == 1
    assert "a handler blew up" in capsys.readouterr().err


# -- the real command ------------------------------------------------------------------------------


class Command:
    """``python -m mesos_auth fake-cluster ...`` with its output read on a thread."""

    def __init__(self, *argv: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DCOS_", "MESOS_"))}
        env.pop("PYTHONUNBUFFERED", None)  # the command must flush by itself
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "mesos_auth", "fake-cluster", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: List[str] = []
        self._queue: queue.Queue[Optional[str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, prefix: str, deadline: float = STARTUP_DEADLINE) -> str:
        end = time.monotonic() + deadline
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line starting with {prefix!r} within {deadline} s: {self.lines}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the command ended (rc {self.process.poll()}) before {prefix!r}: {self.lines}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=EXIT_DEADLINE)
        self._reader.join(timeout=EXIT_DEADLINE)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_DEADLINE)


@pytest.fixture
def command() -> Iterator[List[Command]]:
    started: List[Command] = []
    yield started
    for cmd in started:
        cmd.kill()


def test_the_command_runs_until_ctrl_c(tmp_path: Path, command: List[Command]) -> None:
    cmd = Command("--uid", "subprocess-svc", "--directory", str(tmp_path), "--heartbeat-interval", "1")
    command.append(cmd)
    cmd.wait_for_line(READY_LINE)
    values = parse_output(cmd.output)
    token = login(values)
    assert token.count(".") == 2
    version = get_version(values["MESOS_MASTER_URL"], values["MESOS_AUTH_CA_BUNDLE"])
    assert version["version"]
    assert cmd.process.poll() is None  # still running

    assert cmd.stop(signal.SIGINT) == 0
    assert "mesos-auth fake-cluster: stopping" in cmd.lines
    assert "PRIVATE KEY" not in cmd.output
    assert token not in cmd.output and token.rsplit(".", 1)[-1] not in cmd.output
    assert (tmp_path / "subprocess-svc.json").is_file()  # a given directory is kept


def test_sigterm_stops_it_and_removes_its_temporary_directory(command: List[Command]) -> None:
    cmd = Command("--security-mode", "permissive")
    command.append(cmd)
    cmd.wait_for_line(READY_LINE)
    values = parse_output(cmd.output)
    directory = Path(values["CA bundle"]).parent
    assert Path(values["DCOS_SERVICE_ACCOUNT_CREDENTIAL"]).parent == directory
    assert login(values)
    assert cmd.stop(signal.SIGTERM) == 0
    assert not directory.exists()
    assert "PRIVATE KEY" not in cmd.output


def test_three_masters_with_a_zookeeper_of_its_own_fail_over_on_sigusr1(zookeeper, command: List[Command]) -> None:
    """``zookeeper``: only to skip where ZooKeeper is not installed; the command starts its own."""
    cmd = Command("--masters", "3")
    command.append(cmd)
    cmd.wait_for_line("kill -USR1")
    values = parse_output(cmd.output)
    assert values["MESOS_MASTER_URL"].startswith("zk://127.0.0.1:") and values["MESOS_MASTER_URL"].endswith("/mesos")
    assert values["ZooKeeper URL"].startswith(values["MESOS_MASTER_URL"])
    assert "(the leader of 3)" in values["master URL"]
    leader = values["master URL"].split()[0]
    assert get_version(leader, values["MESOS_AUTH_CA_BUNDLE"])["version"]
    assert f"kill -USR1 {cmd.process.pid}" in cmd.output
    cmd.process.send_signal(signal.SIGUSR1)
    moved = cmd.wait_for_line("mesos-auth fake-cluster: failed over")
    new_leader = moved.rsplit(" ", 1)[-1]
    assert new_leader != leader and get_version(new_leader, values["MESOS_AUTH_CA_BUNDLE"])["version"]
    assert cmd.stop(signal.SIGINT) == 0


def test_masters_join_a_given_zookeeper(zookeeper, tmp_path: Path) -> None:
    out = io.StringIO()
    seen: List[Any] = []

    def wait(cluster: FakeCluster) -> None:
        seen.append((len(cluster.masters), cluster.zookeeper_url, cluster.leader.zookeeper_sequence is not None))

    args = build_parser().parse_args(["fake-cluster", "--masters", "2", "--zookeeper", zookeeper.hosts])
    assert serve(args, wait=wait, out=out) == 0
    assert seen == [(2, f"zk://{zookeeper.hosts}/mesos", True)]
    assert parse_output(out.getvalue())["MESOS_MASTER_URL"] == f"zk://{zookeeper.hosts}/mesos"


@pytest.mark.parametrize("count", ["0", "10", "three"])
def test_a_bad_master_count_is_a_usage_error(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["fake-cluster", "--masters", count])
    assert exit_info.value.code == 2
    assert "--masters" in capsys.readouterr().err
