"""``mesos-auth demo``: the whole story of DC/OS service authentication, on a fake cluster.

It starts an embedded fake cluster (strict mode, TLS from a CA it makes), creates
the key pair, the service account and its secret, grants the account a role, then
runs ``examples/frameworks/hello_factory.py`` against it exactly as DC/OS would
run a framework (the secret, the CA bundle and the master in its environment),
and shows each step as it happens: login token signed, auth token received with
its expiry, SUBSCRIBED with the principal, offers, tasks launched and finished.

``--permissive`` tells the same story in permissive mode; ``--mismatch`` shows
strict mode refusing a framework whose principal is not its account.

Without ``--directory`` the keys, the secret and the fake CA's files go to a
temporary directory that is removed when the demo ends, however it ends: an
error, Ctrl-C (SIGINT) or SIGTERM, which is turned into an orderly exit. The
framework's process is killed if it is still running then.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Dict, Iterator, List, Optional

from mesos_auth.account import ServiceAccount
from mesos_auth.cli.keypair import write_key_pair
from mesos_auth.security_mode import SecurityMode

EXAMPLE = Path("examples") / "frameworks" / "hello_factory.py"
UID = "hello-framework"
ROLE = "*"
#: The Linux user the example runs its tasks as (DC/OS strict mode's default for UCR tasks).
TASK_USER = "nobody"
TASKS = 3
RUN_TIMEOUT = 120.0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole authentication story on an embedded fake cluster",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--permissive", action="store_true", help="the same story in permissive mode")
    mode.add_argument(
        "--mismatch", action="store_true", help="show strict mode refusing a principal that is not the account"
    )
    parser.add_argument("--example", type=Path, help=f"the framework to run (default: {EXAMPLE})")
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks to launch (default {TASKS})")
    parser.add_argument("--directory", type=Path, help="where to write keys and the secret (default: a temp dir)")
    parser.set_defaults(run=run)


def find_example(explicit: Optional[Path]) -> Path:
    """The hello framework: given, in the working directory, or beside this package's source."""
    candidates = [explicit] if explicit else [Path.cwd() / EXAMPLE, Path(__file__).resolve().parents[2] / EXAMPLE]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates if c is not None)
    raise FileNotFoundError(
        f"the demo runs {EXAMPLE} from a checkout of mesos-auth and found none (looked at {looked}); "
        "run it from the repository's root or pass --example PATH"
    )


class Story:
    """Numbered steps on stdout, flushed at once so the story reads as it happens."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0

    def step(self, text: str, *details: str) -> None:
        self.number += 1
        print(f"[{self.number}/{self.total}] {text}", flush=True)
        for detail in details:
            print(f"      {detail}", flush=True)

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)


def run_framework(example: Path, env: Dict[str, str], timeout: float = RUN_TIMEOUT) -> int:
    """Run the framework as its own process, its output indented under the story."""
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our example
        [sys.executable, "-u", str(example)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        for line in process.stdout or ():
            print(f"      framework | {line.rstrip()}", flush=True)
        return process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:  # interrupted: the framework must not outlive the demo
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def run(args: argparse.Namespace) -> int:
    example = find_example(args.example)
    if args.directory is not None:
        args.directory.mkdir(parents=True, exist_ok=True)
        return tell(args, example, args.directory)
    with _temporary_directory() as directory:
        return tell(args, example, directory)


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that ``finally`` blocks and ``with`` exits run."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    raise Terminated()


@contextlib.contextmanager
def _temporary_directory() -> Iterator[Path]:
    """A new private directory, removed on the way out, SIGTERM included (SIGINT already raises).

    SIGTERM's handler can only be set from the main thread; elsewhere (a test
    calling ``main()`` from a thread) the directory is still removed on errors
    and Ctrl-C. While it is removed, SIGINT and SIGTERM wait, so that a second
    Ctrl-C cannot leave half of it behind.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        directory = Path(tempfile.mkdtemp(prefix="mesos-auth-demo-"))
        try:
            yield directory
        finally:
            with _signals_deferred(in_main_thread):
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_deferred(in_main_thread: bool) -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the duration (POSIX); they are delivered after."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None or not in_main_thread:
        yield
        return
    previous = block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, previous)


def tell(args: argparse.Namespace, example: Path, directory: Path) -> int:
    """The story itself, with every file in ``directory``."""
    from mesos_auth.testing.cluster import FakeCluster

    mode = SecurityMode.PERMISSIVE if args.permissive else SecurityMode.STRICT
    story = Story(total=7)
    story.say(
        f"mesos-auth demo: a pymesos framework authenticates to a {mode.value} DC/OS cluster "
        "(all of it fake, all of it on 127.0.0.1)\n"
    )
    with FakeCluster(mode, tls=True, directory=directory, heartbeat_interval=5.0, task_state_delay=0.2) as cluster:
        story.step(
            f"Fake DC/OS cluster up: {mode.value} mode, TLS from a CA made for this run",
            f"master      {cluster.master_url}",
            f"IAM login   {cluster.login_endpoint}",
            f"CA bundle   {cluster.ca_bundle}",
        )
        key, private_path, public_path = write_key_pair(directory, UID, force=True)
        story.step(
            "Key pair created: RSA 2048",
            f"private key {private_path} (mode 0600, stays with the framework)",
            f"public key  {public_path} (goes to the IAM)",
        )
        account = ServiceAccount(uid=UID, private_key=key, login_endpoint=cluster.login_endpoint)
        cluster.iam.add_account(UID, account.public_key_pem())
        story.step(f"Service account {UID!r} created on the IAM with the public key")
        secret = cluster.write_secret(account, directory / f"{UID}-secret.json")
        story.step(
            f"Secret written: {secret} (mode 0600)",
            "the framework finds it through DCOS_SERVICE_ACCOUNT_CREDENTIAL, as on DC/OS",
        )
        granted = cluster.grant_permissions(UID, roles=[ROLE], task_user=TASK_USER)
        story.step(
            f"Permissions granted to {UID!r} (what a framework with role {ROLE!r} running tasks as"
            f" {TASK_USER!r} needs in strict mode):",
            *(f"{permission.rid} {permission.action}" for permission in granted),
        )
        env = dict(os.environ, PYTHONUNBUFFERED="1", HELLO_TASKS=str(args.tasks), HELLO_ROLE=ROLE, HELLO_USER=TASK_USER)
        env.update(cluster.environment(account))
        env.pop("HELLO_PRINCIPAL", None)
        if args.mismatch:
            env["HELLO_PRINCIPAL"] = "somebody-else"
        story.step(
            f"Running {example} as DC/OS would run it" + (" (with principal 'somebody-else')" if args.mismatch else ""),
        )
        code = run_framework(example, env)
        outcome = summarise(cluster, code, args)
        story.step("What the cluster saw:", *outcome.lines)
        cluster.check()
    story.say(f"\nDemo {'finished' if outcome.ok else 'FAILED'}.")
    return 0 if outcome.ok else 1


class Outcome:
    def __init__(self, ok: bool, lines: List[str]) -> None:
        self.ok, self.lines = ok, lines


def summarise(cluster: Any, code: int, args: argparse.Namespace) -> Outcome:
    master, iam = cluster.master, cluster.iam
    requests = [r for r in master.requests if r.path != "/version"]
    if args.mismatch:
        refused = code != 0 and not requests and iam.login_attempts == 0
        return Outcome(
            refused,
            [
                f"the framework exited with {code}: PrincipalMismatchError, raised in its constructor",
                f"requests that reached the master: {len(requests)}; logins at the IAM: {iam.login_attempts}",
                "refused before anything left the framework, as strict mode requires"
                if refused
                else "UNEXPECTED: the mismatch was not refused up front",
            ],
        )
    frameworks = list(master.frameworks.values())
    finished = [t for t in master.task_records.values() if t.state == "TASK_FINISHED"]
    with_token = sum(1 for r in requests if r.headers.get("Authorization", "").startswith("token="))
    lines = [
        f"logins at the IAM: {iam.login_count}",
        *(f"framework {f.name!r} registered as principal {f.principal!r} ({f.state})" for f in frameworks),
        f"tasks finished: {len(finished)} of {args.tasks}",
        f"requests to the scheduler API: {len(requests)}, with a token: {with_token}",
        f"the framework exited with {code}",
    ]
    ok = code == 0 and len(finished) == args.tasks and with_token == len(requests) and iam.login_count >= 1
    return Outcome(ok, lines)
