"""Which permission a Mesos refusal names: its texts, both release families, read back.

The master words a refusal by release (Apache Mesos ``src/master/master.cpp`` at
the commits DC/OS ships; each pattern below names its source):

- DC/OS 1.10 to 2.0 (Mesos 1.4 to 1.9): "Not authorized to use roles '{ a, b }'",
  "Not authorized to launch as user 'u'", "Task 't' is not authorized to launch as
  user 'u'", "Not authorized to reserve resources as 'p'", ...: the drop texts name
  the framework's principal, not the role or the owner the check was about;
- DC/OS 2.1 and 2.2 (Mesos 1.10, 1.11): "Not authorized to " + the authorization
  object (``src/master/authorization.cpp`` ``operator<<(ActionObject)``): "register
  framework <id> with roles { a, b }", "launch task <t> of framework <f> under user
  'u'", "perform action RESERVE_RESOURCES on object {json}" (with the object's
  ``value``: the role or the principal checked), or "... on ANY object".

"Authorization failure: ..." and "Failed to authorize ..." texts are the authorizer
failing, not saying no: they are not refusals here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from mesos_auth.permissions.model import (
    MASTER,
    Permission,
    agent_launch_as_user,
    create_volume_for_role,
    destroy_volume_of_principal,
    launch_as_user,
    register_with_role,
    reserve_for_role,
    unreserve_of_principal,
)
from mesos_auth.permissions.roles import InvalidRoleError, framework_roles

OLD_RELEASES = "DC/OS 1.10-2.0"
NEW_RELEASES = "DC/OS 2.1-2.2"

#: ``TaskStatus.source`` values of an agent's own refusal (the agent re-authorizes ``RUN_TASK``).
AGENT_SOURCES = frozenset({"SOURCE_SLAVE", "SOURCE_AGENT"})


@dataclass(frozen=True)
class Refusal:
    """What a Mesos "not authorized" text says.

    ``action`` is the Mesos authorization action (``REGISTER_FRAMEWORK``,
    ``RUN_TASK``, ``RESERVE_RESOURCES``, ``UNRESERVE_RESOURCES``, ``CREATE_VOLUME``,
    ``DESTROY_VOLUME``, ``RESIZE_VOLUME``, ``CREATE_MOUNT_DISK``, ...). ``value`` is
    the authorization object's value when the text gives it (DC/OS 2.1+ drop texts:
    the role or the principal checked); ``principal`` is the framework principal a
    text names; ``any_object`` marks "... on ANY object".
    """

    action: str
    releases: str
    roles: Tuple[str, ...] = ()
    user: Optional[str] = None
    principal: Optional[str] = None
    value: Optional[str] = None
    task_id: Optional[str] = None
    framework_id: Optional[str] = None
    task_group: bool = False
    any_object: bool = False


# --------------------------------------------------------------------------
# The texts
# --------------------------------------------------------------------------

_Builder = Callable[["re.Match[str]"], Refusal]


def _roles(text: str) -> Tuple[str, ...]:
    """The members of stout's ``stringify(std::set<std::string>)``: ``{ a, b }`` -> ("a", "b").

    A role holds no whitespace (``roles::validate``), so ``", "`` only separates.
    """
    return tuple(text.split(", ")) if text else ()


_OLD_DROPS = {
    "reserve resources": "RESERVE_RESOURCES",
    "unreserve resources": "UNRESERVE_RESOURCES",
    "create persistent volumes": "CREATE_VOLUME",
    "destroy persistent volumes": "DESTROY_VOLUME",
    "grow a volume": "RESIZE_VOLUME",
    "shrink a volume": "RESIZE_VOLUME",
}


def _old_drop(match: re.Match[str]) -> Refusal:
    what = match.group("what")
    if what in _OLD_DROPS:
        action = _OLD_DROPS[what]
    else:  # "create a MOUNT disk", "destroy a RAW disk"
        verb, _, kind = what.split(" ")[:3]
        action = f"{verb.upper()}_{kind}_DISK"
    return Refusal(action, OLD_RELEASES, principal=match.group("principal"))


def _new_drop(match: re.Match[str]) -> Refusal:
    value = _object_value(match.group("object"))
    return Refusal(match.group("action"), NEW_RELEASES, principal=match.group("principal"), value=value)


def _object_value(text: str) -> Optional[str]:
    """The ``value`` of ``jsonify(JSON::Protobuf(Object))``.

    stout writes a message's fields in declaration order, and ``Object.value`` is field 1
    (``include/mesos/authorizer/authorizer.proto``), so it leads: ``{"value":"r","resource":{..}}``.
    A text cut short is read for that leading member alone.
    """
    try:
        decoded: Any = json.loads(text)
    except ValueError:
        found = re.match(r'\{"value":("(?:[^"\\]|\\.)*")', text)
        if found is None:
            return None
        try:
            decoded = {"value": json.loads(found.group(1))}
        except ValueError:
            return None
    value = decoded.get("value") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None


#: (pattern, builder): each pattern is matched against the whole text.
_TEXTS: Tuple[Tuple[re.Pattern[str], _Builder], ...] = (
    # DC/OS 1.10-2.0: master.cpp Master::_subscribe (1a76202:2704, e98ced1:2726), and
    # Master::updateFramework (e98ced1:3238, a 403 body).
    (
        re.compile(r"Not authorized to use roles '\{ (?P<roles>.*) \}'", re.S),
        lambda m: Refusal("REGISTER_FRAMEWORK", OLD_RELEASES, roles=_roles(m.group("roles"))),
    ),
    # DC/OS 1.10-2.0: master.cpp Master::_accept, LAUNCH (1a76202:4763 ... e98ced1:5563).
    (
        re.compile(r"Not authorized to launch as user '(?P<user>.*)'", re.S),
        lambda m: Refusal("RUN_TASK", OLD_RELEASES, user=m.group("user")),
    ),
    # DC/OS 1.10-2.0: master.cpp Master::_accept, LAUNCH_GROUP (1a76202:4936 ... e98ced1:5786);
    # also the DC/OS 1.10 agent's own refusal (slave.cpp 1a76202:2119).
    (
        re.compile(r"Task '(?P<task>.*?)' is not authorized to launch as user '(?P<user>.*)'", re.S),
        lambda m: Refusal("RUN_TASK", OLD_RELEASES, user=m.group("user"), task_id=m.group("task"), task_group=True),
    ),
    # DC/OS 1.10-2.0: master.cpp Master::_accept, the drop texts (1a76202:4462/4528/4583/4649;
    # grow/shrink and disks from 3c4691e:5139/5222/5737/5804).
    (
        re.compile(
            r"Not authorized to (?P<what>reserve resources|unreserve resources|create persistent volumes"
            r"|destroy persistent volumes|grow a volume|shrink a volume|(?:create|destroy) a [A-Z_]+ disk)"
            r" as '(?P<principal>.*)'",
            re.S,
        ),
        _old_drop,
    ),
    # DC/OS 2.1-2.2: checkSubscribeAuthorization (cb6cfe9:2650, 3ca3879:2639) and updateFramework
    # (cb6cfe9:3319): "Not authorized to " << ActionObject, REGISTER_FRAMEWORK.
    (
        re.compile(r"Not authorized to register framework (?P<framework>.*?) with roles \{ (?P<roles>.*) \}", re.S),
        lambda m: Refusal(
            "REGISTER_FRAMEWORK", NEW_RELEASES, roles=_roles(m.group("roles")), framework_id=m.group("framework")
        ),
    ),
    # DC/OS 2.1-2.2: Master::_accept's authorized_ lambda (cb6cfe9:4523, 3ca3879:4422), RUN_TASK
    # ("no authorized" is upstream's typo).
    (
        re.compile(
            r"Principal '(?P<principal>.*?)' no authorized to launch task (?P<task>.*?) of framework "
            r"(?P<framework>.*?) under user '(?P<user>.*)'",
            re.S,
        ),
        lambda m: Refusal(
            "RUN_TASK",
            NEW_RELEASES,
            user=m.group("user"),
            principal=m.group("principal"),
            task_id=m.group("task"),
            framework_id=m.group("framework"),
        ),
    ),
    # DC/OS 2.1-2.2: LAUNCH_GROUP (cb6cfe9:5087, 3ca3879:4986; "to" and "launch" run together upstream).
    (
        re.compile(
            r"Task '(?P<task>.*?)' is not authorized to ?launch task .*? of framework (?P<framework>.*?) "
            r"under user '(?P<user>.*)'",
            re.S,
        ),
        lambda m: Refusal(
            "RUN_TASK",
            NEW_RELEASES,
            user=m.group("user"),
            task_id=m.group("task"),
            framework_id=m.group("framework"),
            task_group=True,
        ),
    ),
    # DC/OS 2.1-2.2: the drop texts, "perform action <ACTION> on object <json>" (cb6cfe9:4523 with
    # authorization.cpp:416-418) ...
    (
        re.compile(
            r"Principal '(?P<principal>.*?)' no authorized to perform action (?P<action>[A-Z_]+) on object "
            r"(?P<object>\{.*)",
            re.S,
        ),
        _new_drop,
    ),
    # ... or "on ANY object" when there is no object (authorization.cpp:384-387).
    (
        re.compile(r"Principal '(?P<principal>.*?)' no authorized to perform action (?P<action>[A-Z_]+) on ANY object"),
        lambda m: Refusal(m.group("action"), NEW_RELEASES, principal=m.group("principal"), any_object=True),
    ),
)


def parse_refusal(message: str) -> Optional[Refusal]:
    """What a master's text refuses, or None when it is not one of Mesos' "not authorized" texts."""
    text = message.strip()
    for pattern, build in _TEXTS:
        match = pattern.fullmatch(text)
        if match is not None:
            return build(match)
    return None


# --------------------------------------------------------------------------
# From a refusal to the permissions it lacks
# --------------------------------------------------------------------------

#: The DC/OS permissions reference lists ``dcos:mesos:master:mount_disk`` and ``block_disk``
#: (create, delete; DC/OS 1.12+), without a role part. RAW disks and RESIZE_VOLUME have no
#: documented permission: no permission is named for them.
_DISK_PERMISSIONS: Dict[str, Tuple[str, str]] = {
    "CREATE_MOUNT_DISK": ("mount_disk", "create"),
    "DESTROY_MOUNT_DISK": ("mount_disk", "delete"),
    "CREATE_BLOCK_DISK": ("block_disk", "create"),
    "DESTROY_BLOCK_DISK": ("block_disk", "delete"),
}


def permissions_for_refusal(
    message: str,
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str] = None,
    source: Optional[str] = None,
) -> List[Permission]:
    """The permissions a refusal says are missing: one per role the text (or, when the text does
    not say, the framework) names; empty for texts that are not refusals or name no known permission.

    - SUBSCRIBE / UPDATE_FRAMEWORK: ``framework:role:<r> create`` for each role of the text (the
      text lists all the framework's roles, not the one refused: each may be the missing one);
    - LAUNCH / LAUNCH_GROUP: ``task:user:<u> create`` for the user of the text; with ``source``
      ``SOURCE_SLAVE``/``SOURCE_AGENT`` (the update's), the agent's ``dcos:mesos:agent:task:user``;
    - RESERVE / CREATE: ``reservation:role:<r>`` / ``volume:role:<r> create``, the role from the
      text (2.1+) or, as DC/OS 1.10-2.0 do not say, each of ``framework_info``'s roles;
    - UNRESERVE / DESTROY: ``reservation:principal:<p>`` / ``volume:principal:<p> delete``, the
      owner from the text (2.1+); DC/OS 1.10-2.0 name only the framework's principal, taken as the
      owner (a framework unreserves what it reserved); ``principal`` stands in when the text's is empty;
    - CREATE/DESTROY of MOUNT and BLOCK disks: ``dcos:mesos:master:mount_disk`` / ``block_disk``.
    """
    refusal = parse_refusal(message)
    if refusal is None or refusal.any_object:
        return []
    action = refusal.action
    if action == "REGISTER_FRAMEWORK":
        return [register_with_role(role) for role in refusal.roles]
    if action == "RUN_TASK":
        if refusal.user is None:
            return []
        if source in AGENT_SOURCES:
            return [agent_launch_as_user(refusal.user)]
        return [launch_as_user(refusal.user)]
    if action in ("RESERVE_RESOURCES", "CREATE_VOLUME"):
        make = reserve_for_role if action == "RESERVE_RESOURCES" else create_volume_for_role
        if refusal.releases == NEW_RELEASES:
            return [make(refusal.value)] if refusal.value else []
        try:
            return [make(role) for role in framework_roles(framework_info)]
        except InvalidRoleError:  # the master would have refused this FrameworkInfo: no role to name
            return []
    if action in ("UNRESERVE_RESOURCES", "DESTROY_VOLUME"):
        make_for = unreserve_of_principal if action == "UNRESERVE_RESOURCES" else destroy_volume_of_principal
        if refusal.releases == NEW_RELEASES:
            owner = refusal.value
        else:
            owner = refusal.principal or principal or _principal_of(framework_info)
        return [make_for(owner)] if owner else []
    if action in _DISK_PERMISSIONS:
        kind, verb = _DISK_PERMISSIONS[action]
        return [Permission(f"{MASTER}:{kind}", verb, f"{action} operations")]
    return []


def permission_for_refusal(
    message: str,
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str] = None,
    source: Optional[str] = None,
) -> Optional[Permission]:
    """The first of :func:`permissions_for_refusal`, or None (not a refusal, or no known permission)."""
    found = permissions_for_refusal(message, framework_info=framework_info, principal=principal, source=source)
    return found[0] if found else None


def _principal_of(framework_info: Mapping[str, Any]) -> Optional[str]:
    value = framework_info.get("principal")
    return value if isinstance(value, str) and value else None
