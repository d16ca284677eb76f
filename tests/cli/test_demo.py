"""mesos-auth demo: the whole story on the embedded fake cluster, in each variant."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

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
        "Permissions granted",
        "signed a service login token for 'hello-framework'",
        "auth token received, valid for",
        "SUBSCRIBED as framework",
        "launching 2 task(s)",
        "TASK_FINISHED",
        "tasks finished: 2 of 2",
        "Demo finished: the framework authenticated and its tasks ran. Congratulations!",
    ):
        assert step in out, step
    assert out.index("signed a service login token") < out.index("SUBSCRIBED") < out.index("TASK_FINISHED")
    assert "PRIVATE KEY" not in out and "Traceback" not in out
    assert oct((tmp_path / "hello-framework-private.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "hello-framework-secret.json").stat().st_mode & 0o777) == "0o600"


def test_permissive_story_shows_what_permissive_means(capsys) -> None:
    """Unauthenticated first (admitted as dcos_anonymous), then with the account (identified by its principal)."""
    assert main(["demo", "--permissive", "--tasks", "1"]) == 0
    out = capsys.readouterr().out
    steps = [
        "permissive mode",
        "WITHOUT a service account (no DCOS_SERVICE_ACCOUNT_CREDENTIAL)",
        "no service account found; running unauthenticated (permissive mode)",
        "WITH the service account",
        "signed a service login token for 'hello-framework'",
        "without an account: framework 'hello-anonymous' (principal None,",
        "logins at the IAM: 0; requests with a token: 0 of ",
        "the master recorded its requests as: 'dcos_anonymous' (",
        "with the account: framework 'hello-authenticated' (principal 'hello-framework',",
        "logins at the IAM: 1; requests with a token: ",
        "the master recorded its requests as: 'hello-framework' (",
        "Demo finished: permissive mode admitted the framework without an account as 'dcos_anonymous'",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions), out
    assert out.count("tasks finished: 1 of 1; the framework exited with 0") == 2
    assert "PRIVATE KEY" not in out and "Traceback" not in out


def test_mismatch_story(capsys) -> None:
    assert main(["demo", "--mismatch"]) == 0
    out = capsys.readouterr().out
    assert "PrincipalMismatchError" in out
    assert "requests that reached the master: 0; logins at the IAM: 0" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Demo finished: the refusal shown above is the expected outcome"), last
    assert "ongratulations" not in out


def test_a_failed_story_is_not_congratulated() -> None:
    import argparse

    from mesos_auth.cli.demo import Outcome, verdict

    args = argparse.Namespace(mismatch=False, permissive=False)
    assert verdict(Outcome(False, []), args).startswith("Demo FAILED")
    assert "ongratulations" not in verdict(Outcome(False, []), args)
    assert "ongratulations" in verdict(Outcome(True, []), args)


def test_the_wrapper_leaves_out_toxs_congratulations() -> None:
    """``scripts/demo`` runs tox with -qq: its "congratulations :)" would follow a refusal story too."""
    script = (REPO / "scripts" / "demo").read_text()
    assert 'tox" run -qq -e demo' in script


GRANT = "dcos security org users grant hello-framework dcos:mesos:master:task:user:nobody create"


def test_missing_permission_story(capsys, monkeypatch) -> None:
    from mesos_auth.testing.iam import FakeIAM

    tokens: List[str] = []
    create_superuser = FakeIAM.create_superuser

    def recording_create_superuser(self, uid="bootstrapuser"):
        tokens.append(create_superuser(self, uid))
        return tokens[-1]

    monkeypatch.setattr(FakeIAM, "create_superuser", recording_create_superuser)
    assert main(["demo", "--missing-permission", "--tasks", "2"]) == 0
    out = capsys.readouterr().out
    steps = [
        "NOT dcos:mesos:master:task:user:nobody create",
        "TASK_ERROR (REASON_TASK_UNAUTHORIZED",
        "PermissionDeniedError: master https://127.0.0.1:",
        f"Grant it with: {GRANT}",
        "The administrator sees the refusal",
        f"grant command {GRANT}",
        "The administrator grants it through the IAM's HTTP API, as 'bootstrapuser'",
        "/acs/api/v1/acls/dcos:mesos:master:task:user:nobody -> 201",
        "/acs/api/v1/acls/dcos:mesos:master:task:user:nobody/users/hello-framework/create -> 204 (granted)",
        "The framework's next task runs and finishes: hello-",
        "all 2 task(s) finished",
        "tasks refused for lack of a permission (TASK_ERROR): ",
        "granted through the IAM's HTTP API: dcos:mesos:master:task:user:nobody create",
        "tasks launched after the grant that finished: 2",
        "tasks finished: 2 of 2",
        "Demo finished: the framework authenticated",
    ]
    for step in steps:
        assert step in out, step
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions), out
    assert "launched again in 1 s with a new id (retry 1 of 3)" in out
    assert tokens and all(token not in out for token in tokens), "the superuser's token is never shown"
    assert "PRIVATE KEY" not in out and "Traceback" not in out and "token=" not in out


def test_missing_permission_not_granted_fails_the_demo(capsys, monkeypatch) -> None:
    """No grant (the IAM refuses the administrator): the framework gives up after its retries, the demo says so."""
    from mesos_auth.cli import demo

    monkeypatch.setattr(demo.Administrator, "_put", lambda self, path, token, body=None: 403)
    assert main(["demo", "--missing-permission", "--tasks", "1"]) == 1
    out = capsys.readouterr().out
    assert "through the IAM's HTTP API, as 'bootstrapuser' (a superuser; its token is not shown): FAILED" in out
    assert "(retry 3 of 3)" in out and "not every task finished" in out
    assert "granted through the IAM's HTTP API: nothing" in out and "tasks finished: 0 of 1" in out
    assert "next task runs" not in out and "Demo FAILED: " in out


@pytest.mark.parametrize("other", ["--permissive", "--mismatch"])
def test_missing_permission_is_a_variant_of_its_own(capsys, other) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--missing-permission", other])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_missing_example_is_one_clear_line(capsys, tmp_path) -> None:
    assert main(["demo", "--example", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mesos-auth demo: ") and err.count("\n") == 1 and "--example" in err


def test_the_example_is_the_one_shipped_in_the_package() -> None:
    import mesos_auth.cli.demo as demo

    # The package's own framework: in the checkout, or in site-packages under tox (a wheel).
    shipped = Path(demo.__file__).resolve().parents[1] / "examples" / "hello_factory.py"
    assert find_example(None) == shipped and shipped.is_file()


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
    assert "Demo finished: the framework authenticated" in result.stdout


# --------------------------------------------------------------------------
# The temporary directory (private keys, the fake CA's files) never outlives the demo
# --------------------------------------------------------------------------


def test_the_temporary_directory_is_removed_at_the_end(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["demo", "--mismatch"]) == 0
    assert str(tmp_path) in capsys.readouterr().out  # the story named the files it wrote there
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_directory_is_removed_on_an_error(tmp_path, monkeypatch) -> None:
    from mesos_auth.cli import demo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(demo, "run_framework", mock_failing_framework)
    with pytest.raises(RuntimeError, match="the framework blew up"):
        main(["--debug", "demo"])
    assert list(tmp_path.iterdir()) == []


def mock_failing_framework(example, env, timeout=0.0, on_line=None):
    raise RuntimeError("the framework blew up")


class Demo:
    """``mesos-auth demo`` as a real process, its stdout read on a thread, lines waited for with a deadline."""

    def __init__(self, temporary: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(temporary))
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "mesos_auth", "demo", "--tasks", "500"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[Optional[str]] = queue.Queue()
        self.seen: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no line with {text!r} within {timeout} s; seen:\n" + "".join(self.seen[-20:])
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"the demo ended before {text!r}:\n" + "".join(self.seen[-20:])
            self.seen.append(line)
            if text in line:
                return

    def finish(self, timeout: float = 60.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("signum", "when", "code"),
    [
        (signal.SIGINT, "framework |", 130),
        (signal.SIGTERM, "framework |", 128 + signal.SIGTERM),
        (signal.SIGINT, "Key pair created", 130),
    ],
    ids=["sigint-while-the-framework-runs", "sigterm-while-the-framework-runs", "sigint-after-the-keys"],
)
def test_an_interrupted_demo_removes_its_temporary_directory(tmp_path, signum, when, code) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    demo = Demo(temporary)
    try:
        demo.wait_for(when)
        made = [p for p in temporary.iterdir() if p.name.startswith("mesos-auth-demo-")]
        assert len(made) == 1 and any(made[0].glob("*-private.pem")), "the keys are where the demo said"
        demo.process.send_signal(signum)
    finally:
        returncode = demo.finish()
    assert returncode == code, "".join(demo.seen[-20:])
    assert list(temporary.iterdir()) == []
