"""What the driver tells a scheduler about a launch that never reached the master.

The Mesos scheduler driver (``src/sched/sched.cpp``, ``SchedulerProcess::acceptOffers``)
answers a launch it cannot send, the master being disconnected, with a status update
for each task: ``TASK_LOST`` (``TASK_DROPPED`` when the framework is PARTITION_AWARE),
source ``SOURCE_MASTER``, reason ``REASON_MASTER_DISCONNECTED``, message "Master
disconnected", no uuid (nothing to acknowledge). pymesos returns in silence instead, so
a framework waits for a task that does not exist; :class:`~mesos_auth.AuthenticatedSchedulerDriver`
does what the Mesos driver does, for ``LAUNCH`` and, beyond it, ``LAUNCH_GROUP``.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping

__all__ = ["launched_task_ids", "master_disconnected_status", "task_id_of"]


def launched_task_ids(operations: Any) -> List[Any]:
    """The ``TaskID`` of every task that ``operations`` (an ACCEPT's) launch, in order."""
    ids: List[Any] = []
    for operation in operations if isinstance(operations, (list, tuple)) else ():
        if not isinstance(operation, Mapping):
            continue
        if operation.get("type") == "LAUNCH":
            tasks = (operation.get("launch") or {}).get("task_infos") or []
        elif operation.get("type") == "LAUNCH_GROUP":
            tasks = ((operation.get("launch_group") or {}).get("task_group") or {}).get("tasks") or []
        else:
            continue
        ids += [task["task_id"] for task in tasks if isinstance(task, Mapping) and "task_id" in task]
    return ids


def master_disconnected_status(task_id: Any, *, partition_aware: bool) -> Dict[str, Any]:
    """The ``TaskStatus`` the Mesos driver makes for a task whose launch it could not send."""
    return {
        "task_id": task_id,
        "state": "TASK_DROPPED" if partition_aware else "TASK_LOST",
        "source": "SOURCE_MASTER",
        "reason": "REASON_MASTER_DISCONNECTED",
        "message": "Master disconnected",
        "timestamp": time.time(),
    }


def task_id_of(status: Any) -> str:
    """The task id of a status, for a log line; ``?`` when it has none."""
    task_id = status.get("task_id") if isinstance(status, Mapping) else None
    value = task_id.get("value") if isinstance(task_id, Mapping) else None
    return value if isinstance(value, str) else "?"
