"""What a strict fake master asks the IAM before it lets a framework act, and Mesos' refusals.

DC/OS strict mode runs the Mesos master with an authorizer backed by the IAM (a closed
module); the fake asks the IAM's ACLs, ``is_allowed(uid, rid, action)``, one store for
every check. Each Mesos authorization object maps to one DC/OS permission, built by
``mesos_auth.permissions`` so that there is one source of rid strings (the DC/OS
permissions reference, see ``docs/protocol.md``):

============================================  ===============================================
Mesos action and object value                 DC/OS permission
============================================  ===============================================
REGISTER_FRAMEWORK, each role of ``getRoles``  ``dcos:mesos:master:framework:role:<r>`` create
RUN_TASK, the task's user (below)              ``dcos:mesos:master:task:user:<u>`` create
RESERVE_RESOURCES, the reservation's role      ``dcos:mesos:master:reservation:role:<r>`` create
UNRESERVE_RESOURCES, the reservation's         ``dcos:mesos:master:reservation:principal:<p>``
principal                                      delete
CREATE_VOLUME, the reservation's role          ``dcos:mesos:master:volume:role:<r>`` create
DESTROY_VOLUME, ``persistence.principal``      ``dcos:mesos:master:volume:principal:<p>`` delete
============================================  ===============================================

The objects are those Mesos builds (apache/mesos ``src/master/master.cpp``
``Master::authorizeFramework``, ``authorizeTask``, ``authorizeReserveResources``,
``authorizeUnreserveResources``, ``authorizeCreateVolume``, ``authorizeDestroyVolume`` up
to 1.9; ``src/master/authorization.cpp`` ``ActionObject::*`` from 1.10): one per role
(SUBSCRIBE, RESERVE, CREATE), one per reservation or volume principal (UNRESERVE,
DESTROY), every one must pass. The task's user is ``task.command.user``, else
``task.executor.command.user``, else ``FrameworkInfo.user``.

The refusal texts are the release's (``versions.MesosRelease.approver_texts``): up to
1.9 ``master.cpp``'s own ("Not authorized to use roles '{ a, b }'", ...), from 1.10
``operator<<(ActionObject)`` of ``authorization.cpp``, upstream typos included ("no
authorized", "tolaunch").

(unverified) Where no public source settles it: an object without a value (Mesos'
"ANY object": an UNRESERVE of a reservation without principal, a CREATE or DESTROY of
nothing) asks for the rid without its last part (``...:reservation:principal``), which
only a grant of every value covers; a framework without a principal is refused (the IAM
knows no one to ask about); the JSON of an object in 1.10+ texts is the resource as the
scheduler sent it (allocation info filled in), fields in protobuf order, compact as
stout's ``jsonify`` writes it, but the upgrade of pre-refinement resources is not redone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from mesos_auth.permissions.model import (
    MASTER,
    Permission,
    create_volume_for_role,
    destroy_volume_of_principal,
    launch_as_user,
    register_with_role,
    reserve_for_role,
    task_user,
    unreserve_of_principal,
)
from mesos_auth.testing.master.calls import as_list, field_of
from mesos_auth.testing.master.versions import MesosRelease

__all__ = ["AUTHORIZED_OPERATIONS", "MasterAuthorizer", "PermissionChecker", "authorization_roles"]

JSON = Dict[str, Any]

#: The operations besides launches that the fake authorizes (and otherwise only records).
AUTHORIZED_OPERATIONS = ("RESERVE", "UNRESERVE", "CREATE", "DESTROY")

#: Fields of ``mesos.Resource`` in field-number order: ``JSON::Protobuf`` writes them so.
_RESOURCE_FIELD_ORDER = (
    "name",
    "type",
    "scalar",
    "ranges",
    "set",
    "role",
    "disk",
    "reservation",
    "revocable",
    "shared",
    "allocation_info",
    "provider_id",
    "reservations",
)


class PermissionChecker(Protocol):
    """What the master asks: a ``FakeIAM`` (its ACLs), or anything that answers the same."""

    def is_allowed(self, uid: str, rid: str, action: str) -> bool: ...


@dataclass(frozen=True)
class _Object:
    """One authorization request: Mesos' action name, its object value and resource, the permission."""

    action: str
    permission: Permission
    value: Optional[str] = None
    resource: Optional[JSON] = None

    def text(self) -> str:
        """``operator<<(ActionObject)`` for actions without a text of their own (1.10+)."""
        if self.value is None:
            return f"perform action {self.action} on ANY object"
        body: JSON = {"value": self.value}
        if self.resource is not None:
            body["resource"] = _in_field_order(self.resource)
        return f"perform action {self.action} on object {json.dumps(body, separators=(',', ':'))}"


def authorization_roles(info: Mapping[str, Any]) -> Tuple[str, ...]:
    """The roles a SUBSCRIBE is authorized for, sorted as a ``std::set``: ``protobuf::framework::getRoles``.

    ``roles`` of a ``MULTI_ROLE`` framework (maybe none), else ``role`` (proto default ``*``).
    """
    capabilities = as_list(info.get("capabilities"))
    if any(isinstance(c, dict) and c.get("type") == "MULTI_ROLE" for c in capabilities):
        return tuple(sorted({str(role) for role in as_list(info.get("roles"))}))
    role = info.get("role")
    return (role if isinstance(role, str) else "*",)


def _stringify_set(items: Sequence[str]) -> str:
    """stout's ``stringify(std::set)``: ``{ a, b }`` (and ``{  }`` when empty)."""
    return "{ " + ", ".join(items) + " }"


class MasterAuthorizer:
    """The master's authorization checks; each returns Mesos' refusal text, or None when allowed.

    ``checker`` None stands for a master without an authorizer, which Mesos lets do
    everything (``if (authorizer.isNone()) return true;``).
    """

    def __init__(self, checker: Optional[PermissionChecker], release: MesosRelease) -> None:
        self.checker = checker
        self._release = release

    @property
    def enabled(self) -> bool:
        return self.checker is not None

    def allowed(self, principal: Optional[str], permission: Permission) -> bool:
        if self.checker is None:
            return True
        if not principal:
            return False  # (unverified) no subject: nobody the IAM could have granted anything
        return bool(self.checker.is_allowed(principal, permission.rid, permission.action))

    # -- SUBSCRIBE -----------------------------------------------------------------------------

    def subscribe_refusal(self, info: Mapping[str, Any]) -> Optional[str]:
        """REGISTER_FRAMEWORK for every role (``Master::_subscribe`` / ``checkSubscribeAuthorization``)."""
        if self.checker is None:
            return None
        roles = authorization_roles(info)
        principal = _principal(info)
        if all(self.allowed(principal, register_with_role(role)) for role in roles):
            return None
        if self._release.approver_texts:
            framework_id = field_of(info, "id", "value")
            framework_id = framework_id if isinstance(framework_id, str) else ""
            return f"Not authorized to register framework {framework_id} with roles {_stringify_set(roles)}"
        return f"Not authorized to use roles '{_stringify_set(roles)}'"

    # -- LAUNCH and LAUNCH_GROUP ------------------------------------------------------------------

    def launch_refusal(self, info: Mapping[str, Any], task: Mapping[str, Any]) -> Optional[str]:
        """RUN_TASK of one task of a LAUNCH (``Master::_accept``, before the task is validated)."""
        if self._task_allowed(info, task):
            return None
        user = task_user(task, info)
        if self._release.approver_texts:
            return f"Principal '{_principal(info) or ''}' no authorized to {_launch_text(info, task)}"
        return f"Not authorized to launch as user '{user}'"

    def launch_group_refusal(self, info: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> Optional[str]:
        """RUN_TASK of every task of a LAUNCH_GROUP: the text of the *last* refused task, as the
        loop of ``Master::_accept`` keeps overwriting its error (before the group is validated)."""
        error: Optional[str] = None
        for task in tasks:
            if self._task_allowed(info, task):
                continue
            task_id = _task_id(task)
            if self._release.approver_texts:
                error = f"Task '{task_id}' is not authorized to{_launch_text(info, task)}"
            else:
                user = field_of(task, "command", "user")
                if not isinstance(user, str):
                    user = info.get("user") if isinstance(info.get("user"), str) else ""
                error = f"Task '{task_id}' is not authorized to launch as user '{user}'"
        return error

    def _task_allowed(self, info: Mapping[str, Any], task: Mapping[str, Any]) -> bool:
        return self.allowed(_principal(info), launch_as_user(task_user(task, info)))

    # -- RESERVE, UNRESERVE, CREATE, DESTROY ---------------------------------------------------------

    def operation_refusal(self, info: Mapping[str, Any], operation: Mapping[str, Any]) -> Optional[str]:
        """The drop message of an unauthorized operation, or None when every object passes."""
        if self.checker is None:
            return None
        kind = str(operation.get("type"))
        objects = self._objects(kind, operation, info)
        principal = _principal(info)
        refused = next((o for o in objects if not self.allowed(principal, o.permission)), None)
        if refused is None:
            return None
        if self._release.approver_texts:
            return f"Principal '{principal or ''}' no authorized to {refused.text()}"
        return f"Not authorized to {_OLD_VERBS[kind]} as '{principal or ''}'"

    def _objects(self, kind: str, operation: Mapping[str, Any], info: Mapping[str, Any]) -> List[_Object]:
        allocation = {"role": _allocation_role(info)}
        resources = [
            _with_allocation(resource, allocation)
            for resource in as_list(field_of(operation, kind.lower(), _RESOURCES_FIELD[kind]))
            if isinstance(resource, dict)
        ]
        approver = self._release.approver_texts
        objects: List[_Object] = []
        if kind in ("RESERVE", "CREATE"):
            action = "RESERVE_RESOURCES" if kind == "RESERVE" else "CREATE_VOLUME"
            build = reserve_for_role if kind == "RESERVE" else create_volume_for_role
            seen: List[str] = []
            for resource in resources:
                role = _reservation_role(resource)
                if role not in seen:
                    seen.append(role)
                    objects.append(_Object(action, build(role), role, resource))
            # An empty RESERVE asks nothing from 1.10 on; before, and for CREATE always, one ANY request.
            if not objects and (kind == "CREATE" or not approver):
                objects.append(_Object(action, _any(kind)))
        elif kind == "UNRESERVE":
            without_principal = False
            for resource in resources:
                principal = _reservation_principal(resource)
                if principal is None:
                    without_principal = True
                else:
                    objects.append(_Object("UNRESERVE_RESOURCES", _by_principal(kind, principal), principal, resource))
            if (approver and without_principal) or (not approver and not objects):
                objects.append(_Object("UNRESERVE_RESOURCES", _any(kind)))
        elif kind == "DESTROY":
            for resource in resources:
                if isinstance(field_of(resource, "disk", "persistence"), dict):
                    principal = field_of(resource, "disk", "persistence", "principal")
                    principal = principal if isinstance(principal, str) else ""
                    objects.append(_Object("DESTROY_VOLUME", _by_principal(kind, principal), principal, resource))
            if not objects:
                objects.append(_Object("DESTROY_VOLUME", _any(kind)))
        return objects


_OLD_VERBS = {
    "RESERVE": "reserve resources",
    "UNRESERVE": "unreserve resources",
    "CREATE": "create persistent volumes",
    "DESTROY": "destroy persistent volumes",
}

_RESOURCES_FIELD = {"RESERVE": "resources", "UNRESERVE": "resources", "CREATE": "volumes", "DESTROY": "volumes"}


def _any(kind: str) -> Permission:
    """(unverified) An object without a value: the rid without its last part, "every value"."""
    rids = {
        "RESERVE": (f"{MASTER}:reservation:role", "create"),
        "UNRESERVE": (f"{MASTER}:reservation:principal", "delete"),
        "CREATE": (f"{MASTER}:volume:role", "create"),
        "DESTROY": (f"{MASTER}:volume:principal", "delete"),
    }
    rid, action = rids[kind]
    return Permission(rid, action, f"{kind} resources whose reservation names no role or principal")


def _by_principal(kind: str, principal: str) -> Permission:
    if not principal:
        return _any(kind)
    return unreserve_of_principal(principal) if kind == "UNRESERVE" else destroy_volume_of_principal(principal)


def _principal(info: Mapping[str, Any]) -> Optional[str]:
    principal = info.get("principal")
    return principal if isinstance(principal, str) and principal else None


def _task_id(task: Mapping[str, Any]) -> str:
    value = field_of(task, "task_id", "value")
    return value if isinstance(value, str) else ""


def _launch_text(info: Mapping[str, Any], task: Mapping[str, Any]) -> str:
    """``operator<<(ActionObject)`` of RUN_TASK."""
    framework_id = field_of(info, "id", "value")
    framework_id = framework_id if isinstance(framework_id, str) else ""
    return f"launch task {_task_id(task)} of framework {framework_id} under user '{task_user(task, info)}'"


def _allocation_role(info: Mapping[str, Any]) -> str:
    roles = as_list(info.get("roles"))
    if roles and isinstance(roles[0], str):
        return roles[0]
    role = info.get("role")
    return role if isinstance(role, str) and role else "*"


def _with_allocation(resource: JSON, allocation: JSON) -> JSON:
    """``protobuf::injectAllocationInfo``: the offer's allocation info where the scheduler set none."""
    if "allocation_info" in resource:
        return resource
    return dict(resource, allocation_info=dict(allocation))


def _reservation_role(resource: Mapping[str, Any]) -> str:
    """The role of the most refined reservation, ``*`` when unreserved (``getReservationRole``)."""
    reservations = as_list(resource.get("reservations"))
    if reservations and isinstance(reservations[-1], dict):
        role = reservations[-1].get("role")
        return role if isinstance(role, str) else "*"
    role = resource.get("role")  # the pre-refinement format
    return role if isinstance(role, str) and role else "*"


def _reservation_principal(resource: Mapping[str, Any]) -> Optional[str]:
    """The principal of the most refined reservation, if it names one."""
    reservations = as_list(resource.get("reservations"))
    last = reservations[-1] if reservations else resource.get("reservation")  # or the pre-refinement format
    principal = last.get("principal") if isinstance(last, dict) else None
    return principal if isinstance(principal, str) else None


def _in_field_order(resource: Mapping[str, Any]) -> JSON:
    ordered: JSON = {key: resource[key] for key in _RESOURCE_FIELD_ORDER if key in resource}
    ordered.update((key, value) for key, value in resource.items() if key not in ordered)
    return ordered
