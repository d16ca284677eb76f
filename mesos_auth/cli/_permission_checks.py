"""The doctor's permission check, and the options that say what the framework does.

``mesos-auth doctor`` and ``mesos-auth permissions`` take the same options: a
FrameworkInfo file (``--framework-config``) or ``--role``/``--user``, plus
``--task-user``, ``--reserve`` and ``--volumes``. From them
:func:`mesos_auth.permissions.required_permissions` gives the permissions needed.

After a successful login the doctor asks the IAM what the account holds,
``GET <cluster>/acs/api/v1/users/<uid>/permissions`` with the account's own token
(DC/OS docs, ``ent-iam.yaml``; the cluster is the login endpoint's origin, as the
IAM and Admin Router share it), and reports each missing permission with its grant
command. Whether an account may read its own permissions is not documented
(unverified: the DC/OS UI reads them for every user right after login, and Admin
Router has a separate route for that path); when the IAM says no (401, 403) the
check warns and prints what an administrator runs instead, never fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import quote

from mesos_auth import _http
from mesos_auth._deadline import Deadline
from mesos_auth._redact import server_text
from mesos_auth.ca import SYSTEM_TRUST_STORE, CABundle
from mesos_auth.cli._checks import (
    FIX_CA_UNTRUSTED,
    FIX_FRAMEWORK_CONFIG,
    DoctorContext,
    Result,
    _reason,
    fail,
    ok,
    read_framework_info,
    skip,
    warn,
)
from mesos_auth.errors import ConfigurationError, TLSVerificationError, TransportError
from mesos_auth.permissions import IAM_API, Permission, is_granted, required_permissions
from mesos_auth.security_mode import SecurityMode
from mesos_auth.transport import certificate_problem, make_ssl_context

#: Largest permissions answer read (an account with hundreds of grants stays far below).
MAX_PERMISSIONS_BODY = 1024 * 1024

#: How the grant commands under a ``fix:`` line are indented (under the fix's text).
_COMMAND_INDENT = "\n" + " " * 11

FIX_PERMISSIONS_CONFIG = (
    "give the framework's roles and user: --framework-config FILE.json, or --role R (repeatable) and --user U"
)


@dataclass(frozen=True)
class PermissionInputs:
    """What the framework does, from the options: its roles and user (unless a FrameworkInfo file says),
    the users its tasks run as, and whether it reserves resources and makes persistent volumes."""

    roles: Tuple[str, ...] = ()
    user: Optional[str] = None
    task_users: Tuple[str, ...] = ()
    reserve: bool = False
    volumes: bool = False

    def framework_info(self) -> Dict[str, Any]:
        """A FrameworkInfo as the options describe it: one role as ``role``, several as MULTI_ROLE ``roles``."""
        info: Dict[str, Any] = {}
        if len(self.roles) == 1:
            info["role"] = self.roles[0]
        elif self.roles:
            info["roles"] = list(self.roles)
            info["capabilities"] = [{"type": "MULTI_ROLE"}]
        if self.user is not None:
            info["user"] = self.user
        return info


def add_permission_options(parser: argparse.ArgumentParser) -> None:
    """``--role``, ``--user``, ``--task-user``, ``--reserve``, ``--volumes`` (each command has its
    own ``--framework-config``)."""
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="R",
        help="a role the framework registers with (repeatable; several make a MULTI_ROLE framework); "
        "instead of --framework-config. Adds dcos:mesos:master:framework:role:<R> create",
    )
    parser.add_argument(
        "--user",
        metavar="U",
        help="the FrameworkInfo.user, whom tasks run as unless they say otherwise; instead of --framework-config. "
        "Adds dcos:mesos:master:task:user:<U> create",
    )
    parser.add_argument(
        "--task-user",
        action="append",
        default=[],
        metavar="U",
        help="another Linux user tasks run as (CommandInfo.user; repeatable). Adds dcos:mesos:master:task:user:<U> "
        "create",
    )
    parser.add_argument(
        "--reserve",
        action="store_true",
        help="the framework reserves resources: adds dcos:mesos:master:reservation:role:<R> create per role and "
        "dcos:mesos:master:reservation:principal:<uid> delete",
    )
    parser.add_argument(
        "--volumes",
        action="store_true",
        help="the framework makes persistent volumes: adds dcos:mesos:master:volume:role:<R> create per role and "
        "dcos:mesos:master:volume:principal:<uid> delete",
    )


def inputs_from_args(args: argparse.Namespace) -> Optional[PermissionInputs]:
    """The options as :class:`PermissionInputs`; None when none of them was given.

    ``--role``/``--user`` describe the FrameworkInfo that ``--framework-config`` holds: both
    is a usage error (:class:`ConfigurationError`).
    """
    roles = tuple(getattr(args, "role", None) or ())
    user = getattr(args, "user", None)
    if getattr(args, "framework_config", None) and (roles or user is not None):
        raise ConfigurationError(
            "give --framework-config or --role/--user, not both: the file holds the roles and user"
        )
    inputs = PermissionInputs(
        roles=roles,
        user=user,
        task_users=tuple(getattr(args, "task_user", None) or ()),
        reserve=bool(getattr(args, "reserve", False)),
        volumes=bool(getattr(args, "volumes", False)),
    )
    return None if inputs == PermissionInputs() else inputs


def framework_info_of(
    framework_config: Optional[str], inputs: Optional[PermissionInputs]
) -> Tuple[Optional[Dict[str, Any]], str]:
    """The FrameworkInfo to check, and where it comes from; None when neither source was given."""
    if framework_config:
        return read_framework_info(Path(framework_config))
    if inputs is not None and (inputs.roles or inputs.user is not None):
        return inputs.framework_info(), "--role/--user"
    return None, ""


def needed_permissions(
    framework_config: Optional[str], inputs: Optional[PermissionInputs], uid: str
) -> Tuple[Optional[List[Permission]], str]:
    """The permissions the framework needs (``principal`` = the account, as strict mode requires), and from where."""
    info, where = framework_info_of(framework_config, inputs)
    return (None if info is None else needed_for(info, inputs, uid)), where


def needed_for(info: Dict[str, Any], inputs: Optional[PermissionInputs], uid: str) -> List[Permission]:
    """:func:`~mesos_auth.permissions.required_permissions` of ``info`` with the options' extras."""
    inputs = inputs or PermissionInputs()
    return required_permissions(
        info, task_users=inputs.task_users, reserve=inputs.reserve, volumes=inputs.volumes, principal=uid
    )


# --------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------


def check_permissions(ctx: DoctorContext) -> Result:
    """The account holds every permission the framework needs: the IAM's grants, direct and through groups.

    Missing permissions fail in strict mode (the master refuses what they gate) and
    warn in the others (DC/OS enforces ``dcos:mesos`` permissions in strict mode only).
    """
    inputs = ctx.permissions
    if not ctx.framework_config and (inputs is None or not (inputs.roles or inputs.user is not None)):
        return skip("no --framework-config or --role/--user given")
    if ctx.account is None:
        return skip("no service account whose permissions to check (see 'secret')")
    uid = ctx.account.uid
    try:
        info, where = framework_info_of(ctx.framework_config, inputs)
    except ConfigurationError:
        return skip("the framework config cannot be used (see 'principal')")
    principal = info.get("principal") if info is not None else None
    if principal and principal != uid:
        return skip(f"the framework's principal is not {uid!r} (see 'principal')")
    if info is None:  # not reached: a source was given
        return skip("no --framework-config or --role/--user given")
    try:
        needed = needed_for(info, inputs, uid)
    except ValueError as error:  # InvalidRoleError (the master's text)
        return fail(f"{error}", FIX_FRAMEWORK_CONFIG if ctx.framework_config else FIX_PERMISSIONS_CONFIG)
    token, endpoint = ctx.token, ctx.endpoint
    if token is None or endpoint is None:
        return skip(f"no token to ask the IAM with (see 'login'); {uid!r} needs {_listed(needed)}")
    try:
        status, body = _get_permissions(ctx, uid, endpoint, token)
    except TLSVerificationError as error:
        return fail(f"the certificate of {error.url} is not trusted ({error.problem})", FIX_CA_UNTRUSTED)
    except (OSError, TransportError, http.client.HTTPException) as exc:
        return warn(f"could not read the permissions of {uid!r} from the IAM ({_reason(exc)})", _show(uid, needed))
    if status in (401, 403):
        return warn(
            f"the IAM refused to show the permissions of {uid!r} to itself (HTTP {status}): the account may not "
            f"read its own permissions; it needs {_listed(needed)}",
            _show(uid, needed),
        )
    if status != 200:
        said = server_text(body.decode("utf-8", "replace"), 120) or "no body"
        return warn(f"the IAM answered HTTP {status} for the permissions of {uid!r} ({said})", _show(uid, needed))
    try:
        grants = grants_of(json.loads(body))
    except ValueError as exc:
        return warn(f"the IAM's answer for the permissions of {uid!r} is not readable ({exc})", _show(uid, needed))
    missing = [permission for permission in needed if not is_granted(permission, grants)]
    if not missing:
        return ok(f"{uid!r} holds the {len(needed)} permission(s) the framework ({where}) needs")
    summary = (
        f"{uid!r} lacks {len(missing)} of the {len(needed)} permission(s) the framework ({where}) needs: "
        + _listed(missing)
    )
    fix = "grant them (as a DC/OS superuser):" + "".join(_COMMAND_INDENT + p.grant_command(uid) for p in missing)
    if ctx.mode() is SecurityMode.STRICT:
        return fail(summary, fix)
    return warn(f"{summary}; {ctx.mode()} mode does not enforce them, strict mode would", fix)


def grants_of(answer: Any) -> Dict[str, Set[str]]:
    """rid -> actions from ``GET /users/<uid>/permissions``: its ``direct`` and ``groups`` entries
    (``{"rid": ..., "actions": [{"name": ...}]}``, DC/OS docs ``ent-iam.yaml``); ``ValueError`` if malformed."""
    if not isinstance(answer, dict):
        raise ValueError("not a JSON object")
    grants: Dict[str, Set[str]] = {}
    for kind in ("direct", "groups"):
        entries = answer.get(kind)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise ValueError(f"'{kind}' is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("rid"), str):
                raise ValueError(f"an entry of '{kind}' has no rid")
            actions = entry.get("actions") or []
            names = {a.get("name") for a in actions if isinstance(a, dict)} if isinstance(actions, list) else set()
            grants.setdefault(entry["rid"], set()).update(name for name in names if isinstance(name, str))
    return grants


def _get_permissions(ctx: DoctorContext, uid: str, endpoint: str, token: str) -> Tuple[int, bytes]:
    """``GET <login origin>/acs/api/v1/users/<uid>/permissions`` with the account's token, bounded as the
    doctor's other probes are (connect timeout, twice it for the whole exchange, a capped body)."""
    origin = _http.Origin.of(endpoint)
    bundle = ctx.bundle or CABundle(None, SYSTEM_TRUST_STORE)
    url = f"{origin}{IAM_API}/users/{quote(uid, safe='@')}/permissions"
    connection = _http.open_connection(
        origin, connect_timeout=ctx.timeout, context=make_ssl_context(bundle) if origin.tls else None
    )
    headers = {"Authorization": f"token={token}", "Accept": "application/json"}
    with Deadline(2 * ctx.timeout, what="the permissions request") as deadline:
        try:
            connection.request("GET", _http.request_target(url), headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                return response.status, _http.read_some(response, 4096)
            return response.status, _http.read_body(
                response, limit=MAX_PERMISSIONS_BODY, url=url, what="the permissions"
            )
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            problem = certificate_problem(exc)
            if problem is not None:
                raise TLSVerificationError(url, problem, bundle.path) from None
            if deadline.passed:
                raise OSError(f"no answer within {2 * ctx.timeout:g} s") from None
            raise
        finally:
            connection.close()


def _listed(permissions: List[Permission]) -> str:
    return ", ".join(str(permission) for permission in permissions)


def _show(uid: str, needed: List[Permission]) -> str:
    """What an administrator runs instead: look at the account, and grant what it needs."""
    commands = [f"dcos security org users show {shlex.quote(uid)}"] + [
        permission.grant_command(uid) for permission in needed
    ]
    return "an administrator can check with the first command and grant with the others:" + "".join(
        _COMMAND_INDENT + command for command in commands
    )
