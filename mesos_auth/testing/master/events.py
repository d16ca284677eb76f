"""Mesos v1 scheduler events as the fake master writes them, and their RecordIO framing.

Each builder returns the JSON form of one ``mesos.v1.scheduler.Event`` exactly as a
real master serialises it for ``Content-Type: application/json``: the event type in
``type`` and its payload under the lower-cased type name (``{"type": "UPDATE",
"update": {...}}``). pymesos dispatches on exactly that shape (``on_<type>`` with
``event[<type>]``), so the layout matters as much as the values.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any, Dict, List, Mapping, Optional

JSON = Dict[str, Any]

#: Task states after which a task holds no resources (mesos.proto, ``TaskState``).
TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)

#: Sources of a status update: the executor reports a task's own progress, the
#: master reports what it decides itself (invalid launches, reconciliation).
SOURCE_EXECUTOR = "SOURCE_EXECUTOR"
SOURCE_MASTER = "SOURCE_MASTER"


def recordio(event: Mapping[str, Any]) -> bytes:
    """Frame one event as RecordIO: ``<decimal byte length>\\n<JSON>``."""
    data = json.dumps(event, separators=(",", ":")).encode("utf-8")
    return b"%d\n%s" % (len(data), data)


def new_status_uuid() -> str:
    """A status update uuid as it appears in JSON: base64 of 16 random bytes.

    ``TaskStatus.uuid`` is a protobuf ``bytes`` field, so the JSON form is base64
    (not the dashed text form of a UUID); schedulers echo it back in ACKNOWLEDGE.
    """
    return base64.b64encode(os.urandom(16)).decode("ascii")


def value(text: str) -> JSON:
    """The ``{"value": ...}`` wrapper of Mesos ids (FrameworkID, AgentID, TaskID, OfferID)."""
    return {"value": text}


def subscribed(framework_id: str, heartbeat_interval: float, master_info: JSON) -> JSON:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": value(framework_id),
            "heartbeat_interval_seconds": float(heartbeat_interval),
            "master_info": master_info,
        },
    }


def heartbeat() -> JSON:
    return {"type": "HEARTBEAT"}


def offers(offer_list: List[JSON]) -> JSON:
    return {"type": "OFFERS", "offers": {"offers": offer_list}}


def rescind(offer_id: str) -> JSON:
    return {"type": "RESCIND", "rescind": {"offer_id": value(offer_id)}}


def update(status: JSON) -> JSON:
    return {"type": "UPDATE", "update": {"status": status}}


def error(message: str) -> JSON:
    return {"type": "ERROR", "error": {"message": message}}


def operation_error(operation_id: Any, message: str) -> JSON:
    """The ``UPDATE_OPERATION_STATUS`` of ``Master::drop`` (Mesos 1.7+): ``OPERATION_ERROR``
    with the operation's id and the reason, and no uuid, agent or resource provider id
    (``protobuf::createOperationStatus(OPERATION_ERROR, operation.id(), message)``)."""
    status: JSON = {"operation_id": operation_id, "state": "OPERATION_ERROR", "message": message}
    return {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}}


def task_status(
    task_id: str,
    state: str,
    agent_id: Optional[str],
    *,
    source: str,
    uuid: Optional[str] = None,
    reason: Optional[str] = None,
    message: Optional[str] = None,
    executor_id: Optional[str] = None,
) -> JSON:
    """One ``TaskStatus``.

    ``uuid`` is set only on updates that need an acknowledgement: those that come
    from an agent. Updates the master makes itself (reconciliation, invalid
    launches) carry none, as in Mesos, so a scheduler does not acknowledge them.
    """
    status: JSON = {
        "task_id": value(task_id),
        "state": state,
        "source": source,
        "timestamp": time.time(),
    }
    if agent_id is not None:
        status["agent_id"] = value(agent_id)
    if executor_id is not None:
        status["executor_id"] = value(executor_id)
    if uuid is not None:
        status["uuid"] = uuid
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    return status
