"""``mesos-auth doctor``: check a deployment's authentication setup, end to end.

Prints a checklist, one line per check (``[ok]``, ``[FAIL]`` with a ``fix:`` line
under it, ``[warn]``, ``[skip]`` with why), then a tally. The checks themselves
live in :mod:`mesos_auth.cli._checks`. Exit status 0 when no check failed, 1
otherwise. Neither a key nor a token is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, List, TextIO, Tuple

from mesos_auth.cli._checks import Check, DoctorContext, Result, Status, run_checks
from mesos_auth.cli._common import add_account_options
from mesos_auth.cli._permission_checks import add_permission_options, inputs_from_args

#: Width of the bracketed labels, so that summaries line up.
_LABEL_WIDTH = len("[FAIL]")
_INDENT = " " * (_LABEL_WIDTH + 1)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the service account setup end to end and say how to fix what is wrong",
        description="Check, in order: the secret, its key, the login endpoint against the security mode, the CA "
        "bundle, the IAM, the login, the clock, the framework's principal, the DC/OS permissions it needs (with "
        "--framework-config or --role/--user) and the master. Exit status 0 when "
        "no check failed, 1 otherwise.",
    )
    add_account_options(parser)
    parser.add_argument(
        "--master",
        metavar="URL",
        help="a Mesos master to check, e.g. https://leader.mesos:5050, or zk://host:2181/mesos to check the leader "
        "ZooKeeper names (default: $MESOS_MASTER_URL, which mesos-auth fake-cluster exports; skipped if neither)",
    )
    principal = parser.add_mutually_exclusive_group()
    principal.add_argument(
        "--framework-config",
        metavar="FILE.json",
        help="a JSON file with the FrameworkInfo, to check its principal and the permissions it needs",
    )
    principal.add_argument("--principal", metavar="P", help="the framework's principal, to compare with the uid")
    add_permission_options(parser)
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="network timeout per step (default: 5)"
    )
    parser.set_defaults(run=run)


def context_from_args(args: argparse.Namespace) -> DoctorContext:
    return DoctorContext(
        secret=args.secret,
        security_mode=args.security_mode,
        ca_bundle=args.ca_bundle,
        master=args.master,
        framework_config=args.framework_config,
        principal=args.principal,
        permissions=inputs_from_args(args),
        environ=dict(os.environ),
        timeout=args.timeout,
        debug=bool(getattr(args, "debug", False)),
    )


def format_results(results: List[Tuple[Check, Result]]) -> List[str]:
    """The checklist lines: ``[ok]   name: summary``, and ``fix: ...`` under failures and warnings."""
    lines: List[str] = []
    for check, result in results:
        label = f"[{result.status.value}]".ljust(_LABEL_WIDTH)
        lines.append(f"{label} {check.name}: {result.summary}")
        if result.fix and result.status in (Status.FAIL, Status.WARN):
            lines.append(f"{_INDENT}fix: {result.fix}")
    counts = {status: sum(1 for _, result in results if result.status is status) for status in Status}
    lines.append(
        f"{len(results)} checks: {counts[Status.OK]} ok, {counts[Status.FAIL]} failed, "
        f"{counts[Status.WARN]} warning(s), {counts[Status.SKIP]} skipped"
    )
    return lines


def print_results(results: List[Tuple[Check, Result]], stream: TextIO) -> None:
    for line in format_results(results):
        print(line, file=stream)


def run(args: argparse.Namespace) -> int:
    results = run_checks(context_from_args(args))
    print_results(results, sys.stdout)
    return 1 if any(result.status is Status.FAIL for _, result in results) else 0
