"""``mesos-auth run -- COMMAND``: a framework nobody edited authenticates; the command is run as itself."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from mesos_auth.cli import run as run_cli
from mesos_auth.testing import FakeCluster
from tests.cli.auth_support import assert_no_secrets, mesos_auth_command, subprocess_environment

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
TIMEOUT = 100


def mesos_auth_run(*command: str) -> List[str]:
    return [*mesos_auth_command(), "run", "--", *command]


def run(command: List[str], *, cwd: Optional[Path] = None, **variables: str) -> subprocess.CompletedProcess:
    # Not the checkout as working directory: `python -m mesos_auth` would import the
    # checkout's copy while the program imports the installed one (under tox).
    return subprocess.run(  # noqa: S603 - our interpreter, our programs
        command,
        cwd=str(cwd if cwd is not None else PROGRAMS),
        env=subprocess_environment(PYTHONUNBUFFERED="1", **variables),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster("strict", heartbeat_interval=5.0) as fake:
        yield fake
        fake.check()


def test_a_toil_style_framework_authenticates_under_mesos_auth_run(cluster: FakeCluster, tmp_path: Path) -> None:
    """Module-level from-import, a driver subclass, use_addict, principal = name, no secret passed:
    subscribed to a strict cluster over TLS as the account, its tasks finished."""
    user = getpass.getuser()
    account = cluster.create_service_account("toil-style", task_user=user, write_secret_to=tmp_path / "secret.json")
    endpoint = cluster.master_url.split("://", 1)[1]  # host:port, as Toil passes it
    program = str(PROGRAMS / "toil_style_framework.py")
    result = run(mesos_auth_run(sys.executable, program, endpoint, "2"), **cluster.environment(account))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 task(s) finished" in result.stdout
    assert "driver class: ToilStyleDriver, launched 2" in result.stdout
    assert_no_secrets(result.stdout, result.stderr)
    frameworks = [f for f in cluster.master.frameworks.values() if f.principal == "toil-style"]
    assert [f.name for f in frameworks] == ["toil-style"]
    finished = [
        t.task_id
        for t in cluster.master.task_records.values()
        if t.framework_id == frameworks[0].framework_id and t.state == "TASK_FINISHED"
    ]
    assert sorted(finished) == ["toil-style-task-1", "toil-style-task-2"]


def test_the_hook_reaches_python_m_and_console_scripts_and_loads_nothing_before_pymesos(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "before = sorted(m for m in ('mesos_auth', 'pymesos') if m in sys.modules)\n"
        "import pymesos\n"
        "print(before, getattr(pymesos.MesosSchedulerDriver.__init__, '_mesos_auth_installed', False))\n"
    )
    (tmp_path / "probe.py").write_text(probe)
    script = tmp_path / "bin" / "probe-script"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{probe}")
    script.chmod(0o755)
    path = os.pathsep.join([str(script.parent), os.environ.get("PATH", "")])
    for command in (
        [sys.executable, str(tmp_path / "probe.py")],
        [sys.executable, "-m", "probe"],
        ["probe-script"],
    ):
        result = subprocess.run(  # noqa: S603 - our interpreter, our probe
            mesos_auth_run(*command),
            env=subprocess_environment(PATH=path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[] True", (command, result.stdout, result.stderr)
    plain = subprocess.run(  # noqa: S603 - without mesos-auth run: pymesos as it is
        [sys.executable, str(tmp_path / "probe.py")],
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert plain.stdout.strip() == "[] False", plain.stderr


def test_an_existing_sitecustomize_still_runs(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import os\nMARK = 'theirs'\nos.environ['THEIR_SITE'] = 'ran'\n")
    code = "import os, sitecustomize; print(sitecustomize.MARK, os.environ.get('THEIR_SITE'))"
    env = subprocess_environment()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
    result = subprocess.run(  # noqa: S603 - our interpreter
        mesos_auth_run(sys.executable, "-c", code), env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["theirs", "ran"]


def test_the_exit_code_is_the_commands() -> None:
    result = run(mesos_auth_run(sys.executable, "-c", "import sys; sys.exit(7)"))
    assert result.returncode == 7


@pytest.mark.skipif(os.name != "posix", reason="signals to the same process: POSIX exec")
def test_signals_reach_the_command() -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(  # noqa: S603 - our interpreter
        mesos_auth_run(sys.executable, "-c", code),
        env=subprocess_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)  # to mesos-auth run's pid: the command is that process
        assert process.wait(timeout=TIMEOUT) == 42
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ([], "no command given: mesos-auth run -- COMMAND [ARGS...]"),
        (["no-such-command-for-mesos-auth"], "command not found: 'no-such-command-for-mesos-auth' (not on PATH)"),
        (["./no/such/file"], "cannot run './no/such/file': no such file"),
    ],
)
def test_a_missing_command_is_a_usage_error(command: List[str], message: str) -> None:
    result = run([sys.executable, "-m", "mesos_auth", "run", "--", *command])
    assert result.returncode == 2
    assert result.stderr.strip() == f"mesos-auth run: {message}"


def test_a_file_that_is_not_executable_is_a_usage_error(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("print('hi')\n")
    with pytest.raises(run_cli.MissingCommandError, match="is not executable"):
        run_cli.find_executable(str(script), path="")


def test_the_environment_gets_the_bootstrap_first_on_pythonpath_once() -> None:
    bootstrap = run_cli.BOOTSTRAP_DIR
    assert Path(bootstrap, "sitecustomize.py").is_file()
    assert run_cli.run_environment({})["PYTHONPATH"] == bootstrap
    env = run_cli.run_environment({"PYTHONPATH": os.pathsep.join(["/a", bootstrap, "", "/b"]), "X": "1"})
    assert env == {"PYTHONPATH": os.pathsep.join([bootstrap, "/a", "", "/b"]), "X": "1"}


def test_a_program_that_imports_another_copy_of_mesos_auth_is_told_it_is_not_authenticated(tmp_path: Path) -> None:
    # The program (not mesos-auth run itself) finds another mesos_auth first: its shell
    # puts that copy before everything on PYTHONPATH, the bootstrap included.
    other = tmp_path / "other" / "mesos_auth"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    program = f'PYTHONPATH="$OTHER{os.pathsep}$PYTHONPATH" exec "$PYTHON" -c "print(\'ran\')"'
    result = subprocess.run(  # noqa: S603 - our interpreter, a shell of ours
        mesos_auth_run("/bin/sh", "-c", program),
        env=subprocess_environment(OTHER=str(other.parent), PYTHON=sys.executable),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ran", result.stderr
    assert "pymesos drivers will not authenticate in this process: it imports mesos_auth from" in result.stderr
    assert str(other) in result.stderr
