"""DC/OS permissions of a Mesos framework in strict mode: what it needs, and what a refusal lacks.

- :func:`required_permissions`: the canonical set for a FrameworkInfo (its roles, its
  task users, reservations and volumes), each a :class:`Permission` that can print
  its ``dcos security org users grant`` command and its IAM URL paths;
- :func:`permission_for_refusal` / :func:`permissions_for_refusal`: the permission a
  Mesos "not authorized" text (either release family) says is missing;
- :func:`is_granted`: whether the IAM's grants cover a permission (prefix and
  ``full`` rules);
- :func:`framework_roles` / :func:`validate_role`: roles as the Mesos master reads
  and validates them (:class:`InvalidRoleError` with Mesos' texts).

Nothing here talks to a server: ``mesos-auth permissions`` and ``mesos-auth doctor``
do, on top of it.
"""

from mesos_auth.permissions.model import (
    ACTIONS,
    IAM_API,
    Permission,
    covers,
    is_granted,
    required_permissions,
    rid_in_url,
    task_user,
)
from mesos_auth.permissions.refusals import (
    Refusal,
    parse_refusal,
    permission_for_refusal,
    permissions_for_refusal,
)
from mesos_auth.permissions.roles import DEFAULT_ROLE, InvalidRoleError, framework_roles, validate_role

__all__ = [
    "ACTIONS",
    "DEFAULT_ROLE",
    "IAM_API",
    "InvalidRoleError",
    "Permission",
    "Refusal",
    "covers",
    "framework_roles",
    "is_granted",
    "parse_refusal",
    "permission_for_refusal",
    "permissions_for_refusal",
    "required_permissions",
    "rid_in_url",
    "task_user",
    "validate_role",
]
