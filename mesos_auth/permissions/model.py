"""The DC/OS permissions a framework needs in strict mode, and how a grant covers a need.

A DC/OS permission is a resource id (``rid``) and an action. The ``dcos:mesos:master``
rids a scheduler needs, and the actions, are those of the DC/OS permissions
reference (``security/ent/perms-reference``, the same rows in DC/OS 1.10 to 2.2);
the canonical strict-mode set is the DC/OS SDK template
``services/include/security-create-permissions.tmpl``. DC/OS' Mesos authorizer
module is closed source: which Mesos authorization object each rid is checked
against comes from Mesos' own objects (``src/master/authorization.cpp``
``ActionObject``) and the docs, see ``docs/protocol.md``.

A role's ``/`` stays literal in a rid (``...:role:slave_public/kafka-role``, as the
DC/OS docs grant it) and becomes ``%252F`` in IAM URLs, as DC/OS' IAM builds them
(dcos/bouncer ``bouncer/app/urlbuild.py`` ``acl()``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional

from mesos_auth.permissions.roles import DEFAULT_ROLE, framework_roles

MASTER = "dcos:mesos:master"
AGENT = "dcos:mesos:agent"
SUPERUSER = "dcos:superuser"
ACTIONS = ("create", "read", "update", "delete", "full")
FULL = "full"

#: The IAM's API root, as the DC/OS docs' ``ent-iam.yaml`` serves it.
IAM_API = "/acs/api/v1"

#: A placeholder such as ``<uid>`` is printed as is, not shell-quoted.
_PLACEHOLDER = re.compile(r"<[a-z][a-z-]*>")


@dataclass(frozen=True)
class Permission:
    """One DC/OS permission: a resource id, an action, and why the framework needs it."""

    rid: str
    action: str
    why: str = ""

    def __str__(self) -> str:
        return f"{self.rid} {self.action}"

    def grant_command(self, uid: str) -> str:
        """``dcos security org users grant <uid> <rid> <action>``, shell-quoted where needed."""
        return f"dcos security org users grant {_shell(uid)} {_shell(self.rid)} {_shell(self.action)}"

    def acl_path(self) -> str:
        """``/acs/api/v1/acls/<rid>``, each ``/`` of the rid as ``%252F`` (bouncer's ``urlbuild.acl``)."""
        return f"{IAM_API}/acls/{rid_in_url(self.rid)}"

    def grant_path(self, uid: str) -> str:
        """``acl_path() + /users/<uid>/<action>``: the ``PUT`` that grants it (bouncer's ``urlbuild.user_action``)."""
        return f"{self.acl_path()}/users/{uid}/{self.action}"


def rid_in_url(rid: str) -> str:
    """The rid as it goes into an IAM URL path: ``/`` percent-encoded twice (``%252F``)."""
    return rid.replace("/", "%252F")


def _shell(word: str) -> str:
    """``shlex.quote``, but placeholders such as ``<uid>`` stay readable: the reader replaces them."""
    plain = _PLACEHOLDER.sub("x", word)
    return word if plain and shlex.quote(plain) == plain else shlex.quote(word)


# --------------------------------------------------------------------------
# One permission per thing a framework does
# --------------------------------------------------------------------------


def register_with_role(role: str) -> Permission:
    """SUBSCRIBE (Mesos ``REGISTER_FRAMEWORK``) with ``role``."""
    return Permission(f"{MASTER}:framework:role:{role}", "create", f"SUBSCRIBE with role '{role}'")


def launch_as_user(user: str) -> Permission:
    """LAUNCH / LAUNCH_GROUP of a task running as ``user`` (Mesos ``RUN_TASK``, checked by the master)."""
    return Permission(f"{MASTER}:task:user:{user}", "create", f"launch tasks as Linux user '{user}'")


def agent_launch_as_user(user: str) -> Permission:
    """The agent's own ``RUN_TASK`` check (the DC/OS SDK grants it for DC/OS 1.10, DCOS-15682)."""
    return Permission(f"{AGENT}:task:user:{user}", "create", f"the agent launches tasks as Linux user '{user}'")


def reserve_for_role(role: str) -> Permission:
    """RESERVE for ``role`` (Mesos ``RESERVE_RESOURCES``, object value: the reservation's role)."""
    return Permission(f"{MASTER}:reservation:role:{role}", "create", f"RESERVE resources for role '{role}'")


def unreserve_of_principal(principal: str) -> Permission:
    """UNRESERVE what ``principal`` reserved (Mesos ``UNRESERVE_RESOURCES``, value: the reservation's principal)."""
    return Permission(
        f"{MASTER}:reservation:principal:{principal}",
        "delete",
        f"UNRESERVE resources reserved by principal '{principal}'",
    )


def create_volume_for_role(role: str) -> Permission:
    """CREATE a persistent volume for ``role`` (Mesos ``CREATE_VOLUME``, value: the reservation's role)."""
    return Permission(f"{MASTER}:volume:role:{role}", "create", f"CREATE persistent volumes for role '{role}'")


def destroy_volume_of_principal(principal: str) -> Permission:
    """DESTROY a persistent volume made by ``principal`` (Mesos ``DESTROY_VOLUME``, value: its principal)."""
    return Permission(
        f"{MASTER}:volume:principal:{principal}",
        "delete",
        f"DESTROY persistent volumes created by principal '{principal}'",
    )


# --------------------------------------------------------------------------
# The set a framework needs
# --------------------------------------------------------------------------


def task_user(task: Mapping[str, Any], framework_info: Mapping[str, Any]) -> str:
    """The user Mesos authorizes a task's launch for: ``task.command.user``, else
    ``task.executor.command.user``, else ``FrameworkInfo.user`` (``master.cpp`` LAUNCH;
    ``authorization.cpp`` ``operator<<(ActionObject)`` for ``RUN_TASK``)."""
    for holder in (task.get("command"), _get(task.get("executor"), "command")):
        user = _get(holder, "user")
        if isinstance(user, str):
            return user
    user = framework_info.get("user")
    return user if isinstance(user, str) else ""


def required_permissions(
    framework_info: Mapping[str, Any],
    *,
    task_users: Iterable[str] = (),
    reserve: bool = False,
    volumes: bool = False,
    principal: Optional[str] = None,
) -> List[Permission]:
    """The canonical strict-mode permissions of a framework, in the SDK template's order.

    - ``framework:role:<r> create`` for every role it registers with
      (:func:`~mesos_auth.permissions.roles.framework_roles`: ``roles`` with
      ``MULTI_ROLE``, else ``role``, default ``*``; invalid ones raise
      :class:`~mesos_auth.permissions.roles.InvalidRoleError` with Mesos' text);
    - ``task:user:<u> create`` for ``FrameworkInfo.user`` (the user of tasks that set
      none) and each of ``task_users``;
    - with ``reserve``: ``reservation:role:<r> create`` per role and
      ``reservation:principal:<principal> delete``;
    - with ``volumes``: ``volume:role:<r> create`` per role and
      ``volume:principal:<principal> delete``.

    ``principal`` defaults to ``FrameworkInfo.principal``; ``reserve`` or ``volumes``
    without either is a ``ValueError``. The role ``*`` gets no reservation or volume
    permission: Mesos refuses to reserve for ``*`` before authorizing ("role \\"*\\"
    cannot be reserved", ``src/common/resources.cpp``), and a persistent volume needs
    reserved disk. A one-role framework running as ``nobody`` with ``reserve`` and
    ``volumes`` gets exactly the SDK template's six permissions.
    """
    roles = framework_roles(framework_info)
    users: List[str] = []
    own_user = framework_info.get("user")
    for user in ([own_user] if isinstance(own_user, str) and own_user else []) + list(task_users):
        if user and user not in users:
            users.append(user)
    permissions = [register_with_role(role) for role in roles]
    permissions += [launch_as_user(user) for user in users]
    reservable = [role for role in roles if role != DEFAULT_ROLE]
    if (reserve or volumes) and reservable:
        owner = principal or framework_info.get("principal")
        if not isinstance(owner, str) or not owner:
            raise ValueError(
                "reservations and volumes are granted per principal: give the framework's principal "
                "(FrameworkInfo.principal, the service account's uid)"
            )
        if reserve:
            permissions += [reserve_for_role(role) for role in reservable]
        if volumes:
            permissions += [create_volume_for_role(role) for role in reservable]
        if reserve:
            permissions.append(unreserve_of_principal(owner))
        if volumes:
            permissions.append(destroy_volume_of_principal(owner))
    return permissions


# --------------------------------------------------------------------------
# Whether what the IAM granted covers a permission
# --------------------------------------------------------------------------


def covers(granted_rid: str, granted_actions: Iterable[str], needed: Permission) -> bool:
    """Whether a grant of ``granted_actions`` on ``granted_rid`` covers ``needed``.

    The DC/OS rules (permissions reference and ``perms-management``): a rid with its
    optional part left out means every value, so a granted rid covers the same rid
    and every rid it prefixes at a ``:`` boundary (``...:framework:role`` covers every
    role; ``...:role:slave_public`` does not cover ``slave_public/x``, whose ``/`` is no
    boundary: the docs always grant refined roles explicitly); ``full`` implies every
    action; ``dcos:superuser`` ``full`` allows everything.
    """
    actions = set(granted_actions)
    if granted_rid == SUPERUSER and FULL in actions:
        return True
    if needed.action not in actions and FULL not in actions:
        return False
    return needed.rid == granted_rid or needed.rid.startswith(granted_rid + ":")


def is_granted(needed: Permission, grants: Mapping[str, Iterable[str]]) -> bool:
    """Whether any grant of ``grants`` (rid -> actions) covers ``needed``."""
    return any(covers(rid, actions, needed) for rid, actions in grants.items())


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
