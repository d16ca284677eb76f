"""``mesos-auth demo``: the whole story of DC/OS service authentication, on a fake cluster.

It starts an embedded fake cluster (strict mode, TLS from a CA it makes), creates
the key pair, the service account and its secret, grants the account a role, then
runs ``examples/frameworks/hello_factory.py`` against it exactly as DC/OS would
run a framework (the secret, the CA bundle and the master in its environment),
and shows each step as it happens: login token signed, auth token received with
its expiry, SUBSCRIBED with the principal, offers, tasks launched and finished.

``--permissive`` shows what permissive mode means: the framework runs twice, first
without a service account (the master admits it unauthenticated, as the anonymous
principal ``dcos_anonymous``), then with one (it logs in, and every call carries
its token and is identified as the account); ``--mismatch`` shows
strict mode refusing a framework whose principal is not its account;
``--missing-permission`` grants the account all it needs but the permission to run
tasks as their user, so the master refuses the framework's tasks (TASK_ERROR,
REASON_TASK_UNAUTHORIZED); the framework logs the missing permission and its grant
command, the demo, as the administrator, grants it through the IAM's HTTP API, and
the framework's next tasks run (:class:`Administrator`).

The last line says how the story ended: a story that succeeded, or a refusal
that is the expected outcome (``--mismatch``), or a failure. The ``scripts/demo``
wrapper prints nothing after it, so a refusal is never followed by congratulations.

Without ``--directory`` the keys, the secret and the fake CA's files go to a
temporary directory that is removed when the demo ends, however it ends: an
error, Ctrl-C (SIGINT) or SIGTERM, which is turned into an orderly exit. The
framework's process is killed if it is still running then.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional

from mesos_auth.account import CREDENTIAL_ENV, ServiceAccount
from mesos_auth.cli.keypair import write_key_pair
from mesos_auth.permissions import Permission
from mesos_auth.permissions.model import launch_as_user
from mesos_auth.security_mode import SecurityMode
from mesos_auth.testing.master import ANONYMOUS_PRINCIPAL

#: The framework the demo runs: shipped in the package (``mesos_auth/examples/hello_factory.py``).
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello_factory.py"
UID = "hello-framework"
ROLE = "*"
#: The Linux user the example runs its tasks as (DC/OS strict mode's default for UCR tasks).
TASK_USER = "nobody"
TASKS = 3
RUN_TIMEOUT = 120.0
#: What ``--missing-permission`` leaves out of the account's grants.
MISSING = launch_as_user(TASK_USER)
#: How a framework's log names the fix (``PermissionDeniedError``'s text).
GRANT_COMMAND = "dcos security org users grant "
SUPERUSER = "bootstrapuser"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole authentication story on an embedded fake cluster",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--permissive",
        action="store_true",
        help="permissive mode: the framework runs unauthenticated (as dcos_anonymous), then with its account",
    )
    mode.add_argument(
        "--mismatch", action="store_true", help="show strict mode refusing a principal that is not the account"
    )
    mode.add_argument(
        "--missing-permission",
        action="store_true",
        help=f"leave out {MISSING.rid} {MISSING.action}: tasks are refused until the administrator grants it",
    )
    parser.add_argument("--example", type=Path, help="the framework to run (default: mesos-auth's own hello framework)")
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks to launch (default {TASKS})")
    parser.add_argument("--directory", type=Path, help="where to write keys and the secret (default: a temp dir)")
    parser.set_defaults(run=run)


def find_example(explicit: Optional[Path]) -> Path:
    """The framework to run: given, or the hello framework shipped in this package."""
    candidate = explicit if explicit is not None else EXAMPLE
    if not candidate.is_file():
        raise FileNotFoundError(f"there is no framework at {candidate}: pass --example PATH to a framework script")
    return candidate


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


def run_framework(
    example: Path, env: Dict[str, str], timeout: float = RUN_TIMEOUT, on_line: Optional[Callable[[str], None]] = None
) -> int:
    """Run the framework as its own process, its output indented under the story.

    ``on_line`` is called with each line after it is shown, on this thread, so
    what it prints stays in order with the framework's output.
    """
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
            if on_line is not None:
                on_line(line)
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
    story = Story(total=10 if args.missing_permission else 8 if args.permissive else 7)
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
        missing = [MISSING] if args.missing_permission else []
        granted = cluster.grant_permissions(UID, roles=[ROLE], task_user=TASK_USER, missing_permissions=missing)
        story.step(
            f"Permissions granted to {UID!r} (what a framework with role {ROLE!r} running tasks as"
            f" {TASK_USER!r} needs in strict mode{', but one' if missing else ''}):",
            *(f"{permission.rid} {permission.action}" for permission in granted),
            *(f"NOT {permission.rid} {permission.action} (left out: {permission.why})" for permission in missing),
        )
        env = dict(os.environ, PYTHONUNBUFFERED="1", HELLO_TASKS=str(args.tasks), HELLO_ROLE=ROLE, HELLO_USER=TASK_USER)
        env.update(cluster.environment(account))
        env.pop("HELLO_PRINCIPAL", None)
        if args.mismatch:
            env["HELLO_PRINCIPAL"] = "somebody-else"
        anonymous: Optional[Run] = None
        if args.permissive:
            bare = {k: v for k, v in env.items() if k != CREDENTIAL_ENV}
            bare["HELLO_NAME"] = ANONYMOUS_NAME
            story.step(
                f"Running {example} WITHOUT a service account (no {CREDENTIAL_ENV})",
                f"permissive mode admits it unauthenticated: the master records it as {ANONYMOUS_PRINCIPAL!r}",
            )
            anonymous = Run.of(cluster, run_framework(example, bare))
            env["HELLO_NAME"] = AUTHENTICATED_NAME
            story.step(
                f"Running {example} WITH the service account, as DC/OS would run it",
                f"it logs in, every call carries its token, and the master identifies it as {UID!r}",
            )
        else:
            story.step(
                f"Running {example} as DC/OS would run it"
                + (" (with principal 'somebody-else')" if args.mismatch else ""),
            )
        administrator = Administrator(cluster, story) if args.missing_permission else None
        if administrator is None:
            code = run_framework(example, env)
        else:
            code = run_framework(example, env, on_line=administrator.read)
            administrator.look_for_next_task()  # in case the framework said nothing after it
        if anonymous is not None:
            outcome = summarise_permissive(cluster, anonymous, code, args)
        else:
            outcome = summarise(cluster, code, args, administrator)
        story.step("What the cluster saw:", *outcome.lines)
        cluster.check()
    story.say("\n" + verdict(outcome, args))
    return 0 if outcome.ok else 1


#: The framework's name in each run of ``--permissive`` (``HELLO_NAME``), to tell them apart in the records.
ANONYMOUS_NAME = "hello-anonymous"
AUTHENTICATED_NAME = "hello-authenticated"


def verdict(outcome: Outcome, args: argparse.Namespace) -> str:
    """The demo's last line: it congratulates a story that succeeded, and only that.

    A refusal story (``--mismatch``) that went as expected is named for what it is:
    the refusal shown is the outcome it demonstrates, not a framework that ran.
    """
    if not outcome.ok:
        return "Demo FAILED: the cluster did not see what this story expects (see 'What the cluster saw' above)."
    if args.mismatch:
        return (
            "Demo finished: the refusal shown above is the expected outcome "
            "(strict mode refuses a framework whose principal is not its service account)."
        )
    if args.permissive:
        return (
            "Demo finished: permissive mode admitted the framework without an account as "
            f"{ANONYMOUS_PRINCIPAL!r} and identified it as {UID!r} with one. Congratulations!"
        )
    return "Demo finished: the framework authenticated and its tasks ran. Congratulations!"


class Run:
    """What one run of the framework left in the cluster's records, counted from where the previous ended."""

    def __init__(self, code: int, requests: List[Any], logins: int, frameworks: List[Any], finished: int) -> None:
        self.code, self.requests, self.logins, self.frameworks, self.finished = (
            code,
            requests,
            logins,
            frameworks,
            finished,
        )

    @classmethod
    def of(cls, cluster: Any, code: int, since: Optional[Run] = None) -> Run:
        master, iam = cluster.master, cluster.iam
        requests = [r for r in master.requests if r.path != "/version"]
        finished = sum(1 for t in master.task_records.values() if t.state == "TASK_FINISHED")
        frameworks = list(master.frameworks.values())
        if since is not None:
            seen = {f.framework_id for f in since.frameworks}
            return cls(
                code,
                requests[len(since.requests) :],
                iam.login_count - since.logins,
                [f for f in frameworks if f.framework_id not in seen],
                finished - since.finished,
            )
        return cls(code, requests, iam.login_count, frameworks, finished)

    @property
    def with_token(self) -> int:
        return sum(1 for r in self.requests if r.headers.get("Authorization", "").startswith("token="))

    def recorded_as(self) -> str:
        """Who the master recorded the run's requests as: ``'dcos_anonymous' (12)``."""
        counts: Dict[str, int] = {}
        for request in self.requests:
            counts[repr(request.principal)] = counts.get(repr(request.principal), 0) + 1
        return ", ".join(f"{who} ({count})" for who, count in sorted(counts.items())) or "nothing"


def summarise_permissive(cluster: Any, anonymous: Run, code: int, args: argparse.Namespace) -> Outcome:
    """The two runs of ``--permissive``, side by side: unauthenticated then authenticated."""
    authenticated = Run.of(cluster, code, since=anonymous)
    lines: List[str] = []
    for title, run in (("without an account", anonymous), ("with the account", authenticated)):
        lines += [
            f"{title}: "
            + (
                ", ".join(f"framework {f.name!r} (principal {f.principal!r}, {f.state})" for f in run.frameworks)
                or "no framework registered"
            ),
            f"  logins at the IAM: {run.logins}; requests with a token: {run.with_token} of {len(run.requests)}",
            f"  the master recorded its requests as: {run.recorded_as()}",
            f"  tasks finished: {run.finished} of {args.tasks}; the framework exited with {run.code}",
        ]
    ok = (
        anonymous.code == 0
        and anonymous.finished == args.tasks
        and anonymous.logins == 0
        and anonymous.with_token == 0
        and bool(anonymous.requests)
        and all(r.principal == ANONYMOUS_PRINCIPAL for r in anonymous.requests)
        and authenticated.code == 0
        and authenticated.finished == args.tasks
        and authenticated.logins >= 1
        and bool(authenticated.requests)
        and authenticated.with_token == len(authenticated.requests)
        and all(r.principal == UID for r in authenticated.requests)
    )
    return Outcome(ok, lines)


class Outcome:
    def __init__(self, ok: bool, lines: List[str]) -> None:
        self.ok, self.lines = ok, lines


def summarise(
    cluster: Any, code: int, args: argparse.Namespace, administrator: Optional[Administrator] = None
) -> Outcome:
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
    if administrator is not None:
        refused = [t for t in master.task_records.values() if t.state == "TASK_ERROR"]
        grants = [e for e in iam.acl_events if e.kind == "grant" and e.via == "http" and e.uid == UID and e.result]
        before = administrator.before_grant
        lines[-3:-3] = [
            f"tasks refused for lack of a permission (TASK_ERROR): {len(refused)}",
            "granted through the IAM's HTTP API: " + (", ".join(f"{e.rid} {e.action}" for e in grants) or "nothing"),
            f"tasks launched after the grant that finished: {sum(1 for t in finished if t.task_id not in before)}",
        ]
        ok = (
            ok
            and bool(refused)
            and any((e.rid, e.action) == (MISSING.rid, MISSING.action) for e in grants)
            and administrator.next_finished is not None
            and all(t.task_id not in before for t in finished)
        )
    return Outcome(ok, lines)


_ACL_ANSWERS = {201: "(the ACL is created)", 409: "(the ACL exists already)"}
_GRANT_ANSWERS = {204: "(granted)", 409: "(granted already)"}


class Administrator:
    """The cluster's administrator in ``--missing-permission``: reads the framework's log, grants what it lacks.

    :meth:`read` gets each line the framework prints. The first one holding a
    ``dcos security org users grant`` command (what the framework's
    ``permissionDenied`` logs) is the refusal: the administrator checks the master's
    records, then makes that grant as the DC/OS CLI does, through the IAM's ACL API
    at the cluster URL (``PUT`` the ACL, then ``PUT`` the user's action) with a
    superuser's token, which is never shown. After that, each line is a chance to
    see, in the master's records, a task launched after the grant finish.
    """

    def __init__(self, cluster: Any, story: Story) -> None:
        self.cluster, self.story = cluster, story
        self.tried = False
        #: Task ids the master knew when the grant was made: a task it allows is not among them.
        self.before_grant: FrozenSet[str] = frozenset()
        self.granted: Optional[Permission] = None
        self.next_finished: Optional[str] = None

    def read(self, line: str) -> None:
        if not self.tried and GRANT_COMMAND in line:
            self.tried = True
            self.grant(line[line.index(GRANT_COMMAND) + len(GRANT_COMMAND) :])
        elif self.granted is not None:
            self.look_for_next_task()

    def grant(self, arguments: str) -> None:
        try:
            uid, rid, action = shlex.split(arguments)[:3]
        except ValueError:
            self.story.step(f"The administrator cannot read the grant command in the framework's log: {arguments!r}")
            return
        permission = Permission(rid, action, "named by the framework's refusal")
        refused = sorted(t.task_id for t in self.cluster.master.task_records.values() if t.state == "TASK_ERROR")
        self.story.step(
            "The administrator sees the refusal: the master refused "
            + (f"task(s) {', '.join(refused)} (TASK_ERROR)" if refused else "a task")
            + ", and the framework's log names what is missing",
            f"permission    {rid} {action}",
            f"grant command {permission.grant_command(uid)}",
        )
        self.before_grant = frozenset(self.cluster.master.task_records)
        token = self.cluster.iam.create_superuser(SUPERUSER)
        acl = self._put(permission.acl_path(), token, {"description": "created by the mesos-auth demo"})
        grant = self._put(permission.grant_path(uid), token)
        done = grant in (204, 409)  # 409: it was granted already
        self.story.step(
            f"The administrator grants it through the IAM's HTTP API, as {SUPERUSER!r} (a superuser; its token is"
            " not shown)" + ("" if done else ": FAILED"),
            f"PUT {self.cluster.url}{permission.acl_path()} -> {acl} {_ACL_ANSWERS.get(acl, '')}".rstrip(),
            f"PUT {self.cluster.url}{permission.grant_path(uid)} -> {grant} {_GRANT_ANSWERS.get(grant, '')}".rstrip(),
        )
        if done:
            self.granted = permission

    def look_for_next_task(self) -> None:
        """Tell, once, of the first task launched after the grant that finished."""
        if self.granted is None or self.next_finished is not None:
            return
        finished = sorted(
            t.task_id
            for t in self.cluster.master.task_records.values()
            if t.state == "TASK_FINISHED" and t.task_id not in self.before_grant
        )
        if finished:
            self.next_finished = finished[0]
            self.story.step(f"The framework's next task runs and finishes: {finished[0]} (TASK_FINISHED)")

    def _put(self, path: str, token: str, body: Optional[Dict[str, str]] = None) -> int:
        """``PUT <cluster url><path>`` with the token; the HTTP status (0: no answer)."""
        headers = {"Authorization": f"token={token}", "Accept": "application/json"}
        data = b""
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode("utf-8"), "application/json"
        bundle = self.cluster.ca_bundle
        context = ssl.create_default_context(cafile=bundle) if bundle else None
        url = self.cluster.url + path
        request = urllib.request.Request(url, data=data, headers=headers, method="PUT")  # noqa: S310 - our cluster
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # noqa: S310 - our cluster
                return int(answer.status)
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code)
        except OSError:
            return 0
