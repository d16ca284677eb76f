"""``mesos-auth permissions``: the DC/OS permissions a framework needs, and the commands that grant them.

From a FrameworkInfo file or ``--role``/``--user`` (and ``--task-user``,
``--reserve``, ``--volumes``), prints a table of the permissions (rid, action,
why), then the ``dcos security org users grant`` command of each; with
``--iam-api``, the same grants as IAM HTTP calls (``curl``): ``PUT
/acs/api/v1/acls/<rid>`` (a 409 means the ACL exists: fine), then ``PUT
/acs/api/v1/acls/<rid>/users/<uid>/<action>`` (DC/OS docs, ``perms-management``
and ``ent-iam.yaml``; a rid's ``/`` is ``%252F`` in the URL). The token in them
is ``$TOKEN``, never a real one. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, List, Optional, TextIO, Tuple

from mesos_auth._http import Origin
from mesos_auth.account import CREDENTIAL_ENV
from mesos_auth.cli._checks import read_framework_info
from mesos_auth.cli._common import find_account
from mesos_auth.cli._permission_checks import add_permission_options, inputs_from_args, needed_permissions
from mesos_auth.errors import ConfigurationError
from mesos_auth.permissions import Permission

#: What ``--uid`` is when neither the FrameworkInfo nor a secret gives it.
UID_PLACEHOLDER = "<uid>"
#: Where the curl lines send their calls when no secret gives the cluster.
CLUSTER_PLACEHOLDER = "$DCOS_URL"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "permissions",
        help="list the DC/OS permissions a framework needs in strict mode, and the commands that grant them",
        description="List the DC/OS permissions a framework needs in strict mode (from --framework-config, or "
        "--role and --user), and print the dcos CLI commands that grant them (with --iam-api, also the IAM "
        "HTTP calls as curl lines). A framework running as 'nobody' with one role, --reserve and --volumes needs "
        "six. Sends nothing. Exit status 0, 2 for bad usage.",
    )
    parser.add_argument(
        "--framework-config",
        metavar="FILE.json",
        help="a JSON file with the FrameworkInfo (its role or MULTI_ROLE roles, user and principal)",
    )
    add_permission_options(parser)
    parser.add_argument(
        "--uid",
        metavar="UID",
        help="the service account to grant to (default: the FrameworkInfo's principal, else the uid of the "
        f"secret from --secret or ${CREDENTIAL_ENV}, else {UID_PLACEHOLDER})",
    )
    parser.add_argument(
        "--secret",
        metavar="PATH|JSON",
        help="a service account secret, for its uid and its cluster (default: $" + CREDENTIAL_ENV + ")",
    )
    parser.add_argument(
        "--iam-api",
        action="store_true",
        help="also print the IAM HTTP calls (curl, with $TOKEN for a superuser's auth token)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    inputs = inputs_from_args(args)
    if not args.framework_config and (inputs is None or not (inputs.roles or inputs.user is not None)):
        raise ConfigurationError("say what the framework registers as: --framework-config FILE.json, or --role R")
    uid, cluster = _uid_and_cluster(args)
    needed, where = needed_permissions(args.framework_config, inputs, uid)
    if needed is None:  # not reached: a source was given
        raise ConfigurationError("say what the framework registers as: --framework-config FILE.json, or --role R")
    print_permissions(needed, uid, where, sys.stdout, iam_api=args.iam_api, cluster=cluster)
    return 0


def print_permissions(
    needed: List[Permission],
    uid: str,
    where: str,
    stream: TextIO,
    *,
    iam_api: bool = False,
    cluster: str = CLUSTER_PLACEHOLDER,
) -> None:
    """The table, the grant commands and, with ``iam_api``, the curl lines."""
    print(f"In strict mode, the service account {uid} needs for the framework ({where}):", file=stream)
    print(file=stream)
    for line in table(needed):
        print(line, file=stream)
    print(file=stream)
    print("Grant them as a DC/OS superuser (dcos CLI):", file=stream)
    for permission in needed:
        print(permission.grant_command(uid), file=stream)
    if iam_api:
        print(file=stream)
        print(
            "Or through the IAM API, with TOKEN a superuser's auth token (a 409 from the first PUT of a pair "
            "means the ACL exists already: go on):",
            file=stream,
        )
        for permission in needed:
            for line in curl_lines(permission, uid, cluster):
                print(line, file=stream)


def table(needed: List[Permission]) -> List[str]:
    """``RID  ACTION  WHY`` rows, columns aligned."""
    rows: List[Tuple[str, str, str]] = [("RID", "ACTION", "WHY")] + [(p.rid, p.action, p.why) for p in needed]
    rid_width = max(len(rid) for rid, _, _ in rows)
    action_width = max(len(action) for _, action, _ in rows)
    return [f"{rid.ljust(rid_width)}  {action.ljust(action_width)}  {why}".rstrip() for rid, action, why in rows]


def curl_lines(permission: Permission, uid: str, cluster: str) -> List[str]:
    """Create the ACL (its description: why), then grant: two ``curl`` commands."""
    auth = '-H "Authorization: token=$TOKEN"'
    base = cluster if cluster == CLUSTER_PLACEHOLDER else shlex.quote(cluster)
    description = (permission.why or permission.rid).replace("'", "")  # no quotes to escape in the shell
    body = shlex.quote(json.dumps({"description": description}))
    return [
        f'curl -X PUT "{base}"{shlex.quote(permission.acl_path())} {auth} '
        f"-H 'Content-Type: application/json' -d {body}",
        f'curl -X PUT "{base}"{shlex.quote(permission.grant_path(uid))} {auth}',
    ]


def _uid_and_cluster(args: argparse.Namespace) -> Tuple[str, str]:
    """``--uid``, else the FrameworkInfo's principal, else the secret's uid, else the placeholder;
    and the cluster: the secret's login endpoint's origin, else ``$DCOS_URL``.

    A ``--secret`` that cannot be read is an error; a secret in the environment that cannot
    be read is passed over: it was not asked for.
    """
    account = None
    if args.secret:
        account = find_account(args.secret).account
    elif not args.uid:
        try:
            account = find_account(None).account
        except ConfigurationError:
            account = None
    cluster = CLUSTER_PLACEHOLDER
    if account is not None:
        try:
            cluster = str(Origin.of(account.login_endpoint))
        except ValueError:
            cluster = CLUSTER_PLACEHOLDER
    uid: Optional[str] = args.uid
    if not uid and args.framework_config:
        principal = read_framework_info(Path(args.framework_config))[0].get("principal")
        uid = principal if isinstance(principal, str) and principal else None
    if not uid and account is not None:
        uid = account.uid
    return uid or UID_PLACEHOLDER, cluster
