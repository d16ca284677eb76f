"""``mesos-auth fake-cluster``: a fake DC/OS cluster in the foreground, to try a framework on.

It starts a :class:`~mesos_auth.testing.FakeCluster` (a fake IAM, a fake Mesos
master and a fake Admin Router on 127.0.0.1, TLS from a throw-away CA unless
``--no-tls``), creates a service account granted ``--role`` (``*`` by default),
writes its secret (mode 0600) and the CA bundle into ``--directory`` (by default
a new temporary directory, removed when the command stops), and prints where
everything is (the cluster URL first), with ``export`` lines to paste into the
shell that runs the framework. It never prints a token, and prints the private
key only when asked to with ``--inline-secret``: then
``DCOS_SERVICE_ACCOUNT_CREDENTIAL`` holds the secret's JSON itself (shell-quoted),
as a DC/OS environment-variable secret does, and no secret file is written.

With ``--masters 3`` it runs three masters that find their leader through ZooKeeper
(``--zookeeper HOSTS``, or a ZooKeeper of its own when the Debian package is installed)
and exports the ``zk://`` URL as ``MESOS_MASTER_URL``; SIGUSR1 kills the leader and
the next master takes over (a failover to try the framework through).

It runs until Ctrl-C (SIGINT) or SIGTERM, then stops the servers and exits 0
(1 if a server thread failed meanwhile: that is a bug in the fake, shown on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, TextIO, Union

from mesos_auth.errors import ConfigurationError

if TYPE_CHECKING:
    from mesos_auth.testing.cluster import FakeCluster

SECURITY_MODES = ("disabled", "permissive", "strict")
DEFAULT_UID = "my-framework"
DEFAULT_ROLE = "*"
DEFAULT_TASK_USER = "nobody"
DEFAULT_HEARTBEAT_INTERVAL = 15.0

DESCRIPTION = """\
Start a fake DC/OS cluster on 127.0.0.1: a fake IAM, a fake Mesos master with
fake agents and a fake Admin Router at one cluster URL, TLS from a throw-away CA
unless --no-tls. Create a service account granted --role and --task-user, write its secret (mode
0600) and the CA bundle into --directory, and print the addresses and the export
lines a framework needs. Tokens are never printed; the private key is printed
only with --inline-secret, which exports the secret itself.

With --masters 3: three masters found through ZooKeeper (--zookeeper HOSTS, or
one of its own when ZooKeeper is installed), MESOS_MASTER_URL is the zk:// URL,
and SIGUSR1 (kill -USR1 <pid>) kills the leader: the next one takes over.

Runs until Ctrl-C or SIGTERM; exits 0 once stopped."""

#: Called once everything is printed; returns when the cluster should stop.
Waiter = Callable[["FakeCluster"], None]


def _master_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of masters") from None
    if not 1 <= value <= 9:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 to 9 masters (DC/OS runs 1, 3 or 5)")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fake-cluster",
        help="run a fake DC/OS cluster (IAM and Mesos master) to try a framework on",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--security-mode",
        choices=SECURITY_MODES,
        default="strict",
        help="the DC/OS security mode the cluster runs in (default: %(default)s)",
    )
    parser.add_argument(
        "--no-tls",
        dest="tls",
        action="store_false",
        help="serve plain http only (not with strict mode, which requires TLS)",
    )
    parser.add_argument("--uid", default=DEFAULT_UID, help="the service account to create (default: %(default)s)")
    parser.add_argument(
        "--role",
        dest="roles",
        action="append",
        metavar="ROLE",
        help=f"a role the account may register with; repeat for several (default: {DEFAULT_ROLE})",
    )
    parser.add_argument(
        "--task-user",
        dest="task_users",
        action="append",
        metavar="USER",
        help="a Linux user the framework's tasks run as, granted dcos:mesos:master:task:user:USER in strict "
        f"mode; repeat for several (default: {DEFAULT_TASK_USER})",
    )
    parser.add_argument(
        "--directory",
        type=Path,
        help="where to write the CA bundle and the secret, kept after exit "
        "(default: a new temporary directory, removed on exit)",
    )
    parser.add_argument(
        "--inline-secret",
        action="store_true",
        help="export DCOS_SERVICE_ACCOUNT_CREDENTIAL as the secret's JSON itself, as a DC/OS "
        "environment-variable secret does, instead of a file's path. This PRINTS THE PRIVATE KEY "
        "to standard output (shell-quoted): use it only where that output stays private",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive_seconds,
        default=DEFAULT_HEARTBEAT_INTERVAL,
        metavar="SECONDS",
        help="seconds between the master's HEARTBEAT events (default: %(default)s)",
    )
    parser.add_argument(
        "--masters",
        type=_master_count,
        default=1,
        metavar="N",
        help="run N masters that find their leader through ZooKeeper, as DC/OS does with 3 or 5 "
        "(default: %(default)s); SIGUSR1 then fails the leader over",
    )
    parser.add_argument(
        "--zookeeper",
        metavar="HOSTS",
        help="the ZooKeeper the masters join, e.g. 127.0.0.1:2181 (default with --masters 2 or more: "
        "start one on 127.0.0.1, which needs the Debian package: sudo apt-get install zookeeper)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return serve(args, wait=wait_for_stop_signal)


def serve(args: argparse.Namespace, *, wait: Waiter, out: Optional[TextIO] = None) -> int:
    """Start the cluster, print how to use it, ``wait(cluster)``, stop it."""
    from mesos_auth.testing import FakeCluster

    stream = out if out is not None else sys.stdout
    if args.security_mode == "strict" and not args.tls:
        raise ConfigurationError(
            "strict mode requires TLS (a strict DC/OS cluster has no plain http, and mesos-auth refuses to "
            "send a login token over it): drop --no-tls, or use --security-mode permissive or disabled"
        )
    uid = args.uid.strip()
    if not uid or any(ch.isspace() for ch in uid):
        raise ConfigurationError(f"--uid {args.uid!r}: a service account name is non-empty and has no spaces")
    roles: List[str] = args.roles or [DEFAULT_ROLE]
    task_users: List[str] = getattr(args, "task_users", None) or [DEFAULT_TASK_USER]
    directory: Optional[Path] = args.directory
    if directory is not None:
        directory = directory.expanduser().absolute()
        directory.mkdir(parents=True, exist_ok=True)
    masters: int = getattr(args, "masters", 1)
    with _zookeeper_for(masters, getattr(args, "zookeeper", None)) as zookeeper:
        cluster = FakeCluster(
            args.security_mode,
            tls=args.tls,
            directory=directory,
            heartbeat_interval=args.heartbeat_interval,
            masters=masters,
            zookeeper=zookeeper,
        )
        return _serve_cluster(cluster, args, uid, roles, task_users, directory, wait, stream)


def _serve_cluster(
    cluster: FakeCluster,
    args: argparse.Namespace,
    uid: str,
    roles: List[str],
    task_users: List[str],
    directory: Optional[Path],
    wait: Waiter,
    stream: TextIO,
) -> int:
    from mesos_auth.testing import FakeServerError

    with cluster:
        account = cluster.create_service_account(uid, roles=roles, task_user=task_users)
        if args.inline_secret:
            # The user asked for the secret itself in the export line (their explicit request).
            secret: Union[Path, str] = json.dumps(account.to_info(), separators=(",", ":"))
        else:
            secret = cluster.write_secret(account, cluster.directory / f"{uid}.json")
        _print_summary(stream, cluster, uid, roles, task_users, secret, kept=directory is not None)
        wait(cluster)
        print("mesos-auth fake-cluster: stopping", file=stream, flush=True)
        try:
            cluster.check()
        except FakeServerError as failure:
            print(f"mesos-auth fake-cluster: {failure}", file=sys.stderr, flush=True)
            return 1
    return 0


@contextlib.contextmanager
def _zookeeper_for(masters: int, hosts: Optional[str]) -> Iterator[Optional[str]]:
    """The ZooKeeper hosts the masters join: ``hosts``, or (several masters) a ZooKeeper of our own."""
    if hosts is not None or masters == 1:
        yield hosts
        return
    from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable

    server = ZooKeeperServer()
    try:
        server.start()
    except ZooKeeperUnavailable as missing:
        server.stop()
        raise ConfigurationError(
            f"--masters {masters} needs ZooKeeper, where frameworks find the leader, and {missing}; "
            "or give a running one with --zookeeper HOSTS"
        ) from None
    try:
        yield server.hosts
    finally:
        server.stop()


def _print_summary(
    stream: TextIO,
    cluster: FakeCluster,
    uid: str,
    roles: List[str],
    task_users: List[str],
    secret: Union[Path, str],
    kept: bool,
) -> None:
    """``secret``: the secret file's path, or (``--inline-secret``) the secret's JSON to export."""
    tls = "on" if cluster.tls else "off"
    rows: Dict[str, str] = {
        "cluster URL": cluster.url,
        "master URL": cluster.master_url,
    }
    if cluster.zookeeper_url is not None:
        rows["master URL"] = f"{cluster.master_url} (the leader of {len(cluster.masters)})"
        rows["ZooKeeper URL"] = f"{cluster.zookeeper_url} (MESOS_MASTER_URL below)"
    if cluster.tls and cluster.master_http_url is not None:
        rows["master plain http"] = f"{cluster.master_http_url} (the same port: SSL downgrade)"
    rows.update(
        {
            "IAM login endpoint": cluster.login_endpoint,
            "CA bundle": cluster.ca_bundle or "none (TLS off)",
            "CA certificate URL": cluster.router.ca_certificate_url if cluster.tls else "none (TLS off)",
            "service account": f"{uid} (roles: {', '.join(roles)}; tasks as: {', '.join(task_users)})",
            "secret file": f"{secret} (mode 0600)"
            if isinstance(secret, Path)
            else "none: the secret is inline in DCOS_SERVICE_ACCOUNT_CREDENTIAL below",
            "directory": f"{cluster.directory} ({'kept' if kept else 'removed'} on exit)",
        }
    )
    lines = [f"Fake DC/OS cluster running: security mode {cluster.security_mode}, TLS {tls}."]
    lines += [f"  {name + ':':<20} {value}" for name, value in rows.items()]
    lines += ["", "To run a framework against it, in its shell:"]
    env = cluster.environment(account=None)
    exports = {"DCOS_SERVICE_ACCOUNT_CREDENTIAL": str(secret), **env}
    if cluster.ca_bundle is None:
        lines.append("unset MESOS_AUTH_CA_BUNDLE")
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    if len(cluster.masters) > 1:
        lines += ["", f"kill -USR1 {os.getpid()} fails the leading master over to the next."]
    lines += ["", "Ctrl-C (or SIGTERM) stops it."]
    print("\n".join(lines), file=stream, flush=True)


def wait_for_stop_signal(cluster: FakeCluster) -> None:
    """Return on SIGINT or SIGTERM (handlers restored afterwards); on SIGUSR1 fail the leader over."""
    stop = threading.Event()
    fail_over = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    def failover_handler(signum: int, frame: Any) -> None:
        fail_over.set()

    previous: Dict[signal.Signals, Any] = {}
    try:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            previous[stop_signal] = signal.signal(stop_signal, handler)
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, failover_handler)
        while not stop.wait(0.5):
            if fail_over.is_set():
                fail_over.clear()
                leader = cluster.fail_over()
                print(f"mesos-auth fake-cluster: failed over; the leader is now {leader.url}", flush=True)
    finally:
        for stop_signal, old in previous.items():
            signal.signal(stop_signal, old)
