"""Which events of the stream say that a DC/OS permission is missing, and which one.

In strict mode the Mesos master asks DC/OS's authorizer before it registers a
framework, launches a task or applies an operation, and tells the framework
about a "no" in the stream, never with an HTTP error (``docs/protocol.md``,
"Permissions"; apache/mesos ``src/master/master.cpp``):

- SUBSCRIBE: ``200`` and one ``ERROR`` event, then the stream ends
  (``Master::subscribe``); fatal, see :func:`subscription_refusal`;
- LAUNCH and LAUNCH_GROUP: ACCEPT is ``202``, then an ``UPDATE`` with
  ``TASK_ERROR``, ``SOURCE_MASTER``, reason ``REASON_TASK_UNAUTHORIZED`` or
  ``REASON_TASK_GROUP_UNAUTHORIZED`` and no ``uuid`` (``Master::_accept``; the
  update is made by ``protobuf::createStatusUpdate`` with ``uuid`` None, so it is
  not acknowledged: pymesos acknowledges only updates that carry a uuid);
- the agent authorizes the task again and refuses it with the same reasons,
  ``SOURCE_SLAVE``, and a uuid (``src/slave/slave.cpp``, ``Slave::run``);
- RESERVE, UNRESERVE, CREATE, DESTROY (and GROW/SHRINK_VOLUME, CREATE/DESTROY_DISK):
  ACCEPT is ``202`` and the operation is dropped; from Mesos 1.7 (DC/OS 1.12) on,
  and only when the operation has an ``id``, ``Master::drop`` sends
  ``UPDATE_OPERATION_STATUS`` with ``OPERATION_ERROR`` and the refusal as its
  message (no uuid). Before 1.7 nothing is sent at all.

The texts differ between DC/OS 1.10-2.0 and 2.1-2.2;
:func:`mesos_auth.permissions.permission_for_refusal` reads both. These functions
are pure: the driver calls them per event and hands what they find to the
scheduler's ``permissionDenied``.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional

from mesos_auth.errors import PermissionDeniedError, PermissionRefusedError
from mesos_auth.permissions import Permission, permission_for_refusal, permissions_for_refusal

#: The reasons of a TASK_ERROR the authorizer caused (apache/mesos include/mesos/v1/mesos.proto, TaskStatus.Reason).
UNAUTHORIZED_REASONS = frozenset({"REASON_TASK_UNAUTHORIZED", "REASON_TASK_GROUP_UNAUTHORIZED"})
#: Longest refusal text that is parsed (Mesos' are a few hundred characters; a 2.1+ drop text holds a JSON object).
MAX_PARSED_MESSAGE = 16 * 1024
#: An authorizer's "no" in a dropped operation's message, for texts whose permission is not recognised:
#: "Not authorized to ..." (DC/OS 1.10-2.0) and "Principal '<p>' no authorized to ..." (2.1-2.2, upstream typo).
_REFUSAL = re.compile(r"\bno(?:t)? authorized to\b", re.IGNORECASE)


def permission_denied_in(
    event: Mapping[str, Any],
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str],
    uid: str,
    master: str = "",
) -> Optional[PermissionDeniedError]:
    """The permission refusal an ``UPDATE`` or ``UPDATE_OPERATION_STATUS`` event reports, or None."""
    kind = event.get("type")
    if kind == "UPDATE":
        payload = event.get("update")
        status = payload.get("status") if isinstance(payload, dict) else None
        if isinstance(status, dict):
            return task_denied(status, framework_info=framework_info, principal=principal, uid=uid, master=master)
    elif kind == "UPDATE_OPERATION_STATUS":
        payload = event.get("update_operation_status")
        status = payload.get("status") if isinstance(payload, dict) else None
        if isinstance(status, dict):
            return operation_denied(status, framework_info=framework_info, principal=principal, uid=uid, master=master)
    return None


def task_denied(
    status: Mapping[str, Any],
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str],
    uid: str,
    master: str = "",
) -> Optional[PermissionDeniedError]:
    """A ``TASK_ERROR`` with an unauthorized reason as a :class:`PermissionDeniedError`; None for any other status.

    The reason alone decides: Mesos also uses it when the authorizer failed
    (``Authorization failure: ...``), and then ``permission`` is None.
    """
    if status.get("state") != "TASK_ERROR" or status.get("reason") not in UNAUTHORIZED_REASONS:
        return None
    message = _text(status.get("message"))
    source = status.get("source")
    permission = _permission(message, framework_info, principal, source if isinstance(source, str) else None)
    return PermissionDeniedError(
        message, permission=permission, uid=uid, task_id=_value(status.get("task_id")), master=master
    )


def operation_denied(
    status: Mapping[str, Any],
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str],
    uid: str,
    master: str = "",
) -> Optional[PermissionDeniedError]:
    """An ``OPERATION_ERROR`` whose message is an authorizer's refusal, or None.

    ``OPERATION_ERROR`` says no more than "dropped": validation errors share it,
    so the message decides. An authorizer that failed (``Authorization of
    principal '<p>' to reserve resources failed: ...``, ``Failed to authorize
    principal ...``) is no missing permission and gives None.
    """
    if status.get("state") != "OPERATION_ERROR":
        return None
    message = _text(status.get("message"))
    permission = _permission(message, framework_info, principal)
    if permission is None and not _REFUSAL.search(message[:MAX_PARSED_MESSAGE]):
        return None
    return PermissionDeniedError(
        message, permission=permission, uid=uid, operation_id=_value(status.get("operation_id")), master=master
    )


def subscription_refusal(
    message: str,
    *,
    framework_info: Mapping[str, Any],
    principal: Optional[str],
    uid: str,
    master: str,
) -> Optional[PermissionRefusedError]:
    """The SUBSCRIBE refusal an ``ERROR`` event's message names a permission for, or None.

    Mesos names every role the framework asked for (``Not authorized to use roles
    '{ a, b }'``, ``Not authorized to register framework <id> with roles { a, b }``),
    not the one that is missing, so each role's permission is listed.
    """
    permissions = _permissions(message, framework_info, principal)
    if not permissions:
        return None
    return PermissionRefusedError(message, master=master, principal=principal or "", permissions=permissions, uid=uid)


def _permission(
    message: str, framework_info: Mapping[str, Any], principal: Optional[str], source: Optional[str] = None
) -> Optional[Permission]:
    """The permission a refusal text names; for a task the agent refused (``source`` SOURCE_SLAVE),
    the agent's ``dcos:mesos:agent:task:user`` (:func:`~mesos_auth.permissions.permissions_for_refusal`)."""
    if not message:
        return None
    return permission_for_refusal(
        message[:MAX_PARSED_MESSAGE], framework_info=framework_info, principal=principal, source=source
    )


def _permissions(message: str, framework_info: Mapping[str, Any], principal: Optional[str]) -> List[Permission]:
    if not message:
        return []
    return list(
        permissions_for_refusal(message[:MAX_PARSED_MESSAGE], framework_info=framework_info, principal=principal)
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _value(value: Any) -> Optional[str]:
    """The ``value`` of a Mesos id object (``{"value": "..."}``), or None."""
    inner = value.get("value") if isinstance(value, dict) else None
    return inner if isinstance(inner, str) else None
