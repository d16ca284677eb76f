"""Parsing and validating ``scheduler::Call`` JSON bodies as a Mesos master does.

A real master answers a bad body with ``400`` and one line of text, in two stages
(``src/master/http.cpp``): turning the body into a protobuf (``Failed to parse body
into JSON: ...``, ``Failed to convert JSON into Call protobuf: ...``) and then
``validation::scheduler::call::validate`` (``Failed to validate scheduler::Call:
...``). The messages of the second stage are Mesos' own; in the first stage the
protobuf library's wording for an unknown enum or a bad base64 field is not
settled by any public source (unverified), only its prefix is.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Optional

JSON = Dict[str, Any]

CALL_TYPES = frozenset(
    {
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    }
)

#: Calls whose payload field must be present (``Expecting 'accept' to be present``).
_PAYLOAD_OF = {
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}

PARSE_PREFIX = "Failed to convert JSON into Call protobuf: "
VALIDATE_PREFIX = "Failed to validate scheduler::Call: "


class BadCall(ValueError):
    """A body the master refuses with 400; ``str()`` is the full answer text."""


def peek_call_type(body: bytes) -> Optional[str]:
    """The call type of a body, if it has a readable one; never raises."""
    try:
        call = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    kind = call.get("type") if isinstance(call, dict) else None
    return kind if isinstance(kind, str) else None


def id_value(holder: Any, key: str) -> Optional[str]:
    """``holder[key]["value"]`` when it is a non-empty string (Mesos' id wrappers)."""
    return value_of(holder.get(key)) if isinstance(holder, dict) else None


def value_of(wrapper: Any) -> Optional[str]:
    """``wrapper["value"]`` of one id wrapper (``{"value": "..."}``), if a non-empty string."""
    text = wrapper.get("value") if isinstance(wrapper, dict) else None
    return text if isinstance(text, str) and text else None


def parse_call(body: bytes) -> JSON:
    """The call as a dict, or :class:`BadCall` with the master's text."""
    try:
        call = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadCall(f"Failed to parse body into JSON: {exc}") from None
    if not isinstance(call, dict):
        raise BadCall(PARSE_PREFIX + "Expecting a JSON object")  # (unverified) wording
    kind = call.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in CALL_TYPES):
        raise BadCall(PARSE_PREFIX + f"Failed to find enum for '{kind}'")  # (unverified) wording
    missing = _missing_required_fields(call)
    if missing:
        raise BadCall(PARSE_PREFIX + "Missing required fields: " + ", ".join(missing))
    acknowledge = call.get("acknowledge")
    if kind == "ACKNOWLEDGE" and isinstance(acknowledge, dict) and decode_uuid(acknowledge.get("uuid")) is None:
        raise BadCall(PARSE_PREFIX + "Failed to base64-decode 'acknowledge.uuid'")  # (unverified) wording
    return call


def decode_uuid(text: Any) -> Optional[bytes]:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        return None


def validate_call(call: JSON, principal: Optional[str]) -> Optional[str]:
    """Mesos' ``validation::scheduler::call::validate``: the error text, or None."""
    kind = call.get("type")
    if kind is None:
        return "Expecting 'type' to be present"
    if kind == "SUBSCRIBE":
        return _validate_subscribe(call, principal)
    if id_value(call, "framework_id") is None:
        return "Expecting 'framework_id' to be present"
    payload = _PAYLOAD_OF.get(kind)
    if payload is not None and not isinstance(call.get(payload), dict):
        return f"Expecting '{payload}' to be present"
    if kind == "ACKNOWLEDGE":
        uuid = decode_uuid(call["acknowledge"].get("uuid")) or b""
        if len(uuid) != 16:
            return "Not a valid UUID"  # (unverified) wording of id::UUID::fromBytes
    return None


def principal_mismatch(authenticated: str, declared: str) -> str:
    """The text of the master's principal check (the backticks are Mesos' own)."""
    return f"Authenticated principal '{authenticated}' does not match principal '{declared}' set in `FrameworkInfo`"


def _validate_subscribe(call: JSON, principal: Optional[str]) -> Optional[str]:
    subscribe = call.get("subscribe")
    if not isinstance(subscribe, dict):
        return "Expecting 'subscribe' to be present"
    info = subscribe.get("framework_info") or {}
    if id_value(info, "id") != id_value(call, "framework_id"):
        return "'framework_id' differs from 'subscribe.framework_info.id'"
    declared = info.get("principal")
    if principal is not None and declared and declared != principal:
        return principal_mismatch(principal, declared)
    return None


def _missing_required_fields(call: JSON) -> List[str]:
    """The required protobuf fields a body lacks, named by path as protobuf does."""
    missing: List[str] = []

    def need_id(holder: Any, key: str, path: str) -> None:
        if not isinstance(holder, dict) or not isinstance(holder.get(key), dict):
            missing.append(path)
        elif not isinstance(holder[key].get("value"), str):
            missing.append(f"{path}.value")

    def need(holder: Any, key: str, path: str) -> None:
        if not isinstance(holder, dict) or key not in holder:
            missing.append(path)

    if "framework_id" in call:
        need_id(call, "framework_id", "framework_id")
    subscribe = call.get("subscribe")
    if isinstance(subscribe, dict):
        info = subscribe.get("framework_info")
        if not isinstance(info, dict):
            missing.append("subscribe.framework_info")
        else:
            need(info, "user", "subscribe.framework_info.user")
            need(info, "name", "subscribe.framework_info.name")
    accept = call.get("accept")
    if isinstance(accept, dict):
        for i, offer_id in enumerate(as_list(accept.get("offer_ids"))):
            need(offer_id, "value", f"accept.offer_ids[{i}].value")
        for i, operation in enumerate(as_list(accept.get("operations"))):
            for j, task in enumerate(_operation_tasks(operation)):
                path = f"accept.operations[{i}].{_tasks_path(operation)}[{j}]"
                need(task, "name", f"{path}.name")
                need_id(task, "task_id", f"{path}.task_id")
                need_id(task, "agent_id", f"{path}.agent_id")
    decline = call.get("decline")
    if isinstance(decline, dict):
        for i, offer_id in enumerate(as_list(decline.get("offer_ids"))):
            need(offer_id, "value", f"decline.offer_ids[{i}].value")
    kill = call.get("kill")
    if isinstance(kill, dict):
        need_id(kill, "task_id", "kill.task_id")
    acknowledge = call.get("acknowledge")
    if isinstance(acknowledge, dict):
        need_id(acknowledge, "agent_id", "acknowledge.agent_id")
        need_id(acknowledge, "task_id", "acknowledge.task_id")
        need(acknowledge, "uuid", "acknowledge.uuid")
    reconcile = call.get("reconcile")
    if isinstance(reconcile, dict):
        for i, task in enumerate(as_list(reconcile.get("tasks"))):
            need_id(task, "task_id", f"reconcile.tasks[{i}].task_id")
    message = call.get("message")
    if isinstance(message, dict):
        need_id(message, "agent_id", "message.agent_id")
        need_id(message, "executor_id", "message.executor_id")
        need(message, "data", "message.data")
    return missing


def _tasks_path(operation: Any) -> str:
    return "launch_group.task_group.tasks" if operation.get("type") == "LAUNCH_GROUP" else "launch.task_infos"


def _operation_tasks(operation: Any) -> List[Any]:
    """The TaskInfos of a LAUNCH or LAUNCH_GROUP operation; nothing for other kinds."""
    if not isinstance(operation, dict):
        return []
    if operation.get("type") == "LAUNCH":
        tasks = field_of(operation, "launch", "task_infos")
    elif operation.get("type") == "LAUNCH_GROUP":
        tasks = field_of(operation, "launch_group", "task_group", "tasks")
    else:
        return []
    return as_list(tasks)


def as_list(value: Any) -> List[Any]:
    """A repeated field as a list; anything else (absent, a number, an object) as empty.

    (unverified) Protobuf's JSON parser would refuse a non-array; the fake is
    lenient there, so that odd bodies never become failures of the fake itself.
    """
    return list(value) if isinstance(value, list) else []


def field_of(holder: Any, *path: str) -> Any:
    """``holder[a][b]...``, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(holder, dict):
            return None
        holder = holder.get(key)
    return holder


def operation_tasks(operation: Any) -> List[JSON]:
    return [task for task in _operation_tasks(operation) if isinstance(task, dict)]
