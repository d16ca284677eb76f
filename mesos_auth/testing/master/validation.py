"""How a Mesos master validates an ACCEPT: its offers, and the tasks and executors it launches.

Pure functions over the JSON of the call: each returns Mesos' error text, or None.
The master turns them into status updates (``tasks.py``): an invalid offer list
makes TASK_LOST/TASK_DROPPED with REASON_INVALID_OFFERS for every task; an invalid
task makes TASK_ERROR with REASON_TASK_INVALID, an invalid task group TASK_ERROR
with REASON_TASK_GROUP_INVALID for each of its tasks, the text being the message.

The checks and their order are those of ``src/master/validation.cpp``
(``offer::validate``, ``task::validate``, ``task::group::validate``,
``executor::internal::validate``), ``src/common/validation.cpp`` (``validateID``)
and ``src/common/resources_utils.cpp`` (``validateAndUpgradeResources``), at the
Mesos commit of the chosen DC/OS release (``versions.py``). Checks of things the
fake does not model are left out, and each is named below: health and other checks,
``CommandInfo`` environments and secrets, ``ContainerInfo`` contents, persistent
volumes, revocable, shared and reserved resources, and task authorization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from mesos_auth.testing.master.calls import as_list, field_of, id_value, value_of
from mesos_auth.testing.master.resources import Resources
from mesos_auth.testing.master.versions import MesosRelease

JSON = Dict[str, Any]

#: ``src/master/constants.hpp``: the least an executor of a task group may have.
MIN_CPUS = 0.01
MIN_MEM_MB = 32

#: ``NAME_MAX`` on Linux, the longest ID ``validateID`` allows (in bytes).
_NAME_MAX = 255
_MEGABYTE = 1024 * 1024


@dataclass
class LaunchContext:
    """What the master knows when it validates one task or task group of an ACCEPT.

    ``live_task_ids``: the framework's tasks the master still holds (Mesos'
    ``framework->tasks``: until a terminal update is acknowledged), including those
    added earlier in the same ACCEPT. ``executors``: the framework's executors on the
    offer's agent, by id (``slave->executors``). ``available``: what is left of the
    offers. ``role``: the offers' allocation role, which Mesos prints with resources.
    """

    framework_id: str
    agent_id: str
    role: str
    available: Resources
    release: MesosRelease
    live_task_ids: Set[str] = field(default_factory=set)
    executors: Mapping[str, JSON] = field(default_factory=dict)


# -- offers -------------------------------------------------------------------------


def offers_error(offer_ids: Sequence[str], offers: Mapping[str, Tuple[str, str]], framework_id: str) -> Optional[str]:
    """``Master::accept`` + ``validation::offer::validate``: the offers of one ACCEPT.

    ``offers``: every outstanding offer id -> (framework id, agent id). The checks,
    in Mesos' order: none given, a duplicate, one no longer valid, one of another
    framework, (one of another role: impossible here, a framework gets offers for
    its first role only), offers of more than one agent.
    """
    if not offer_ids:
        return "No offers specified"
    seen: Set[str] = set()
    for offer_id in offer_ids:
        if offer_id in seen:
            return f"Duplicate offer {offer_id} in offer list"
        seen.add(offer_id)
    for offer_id in offer_ids:
        if offer_id not in offers:
            return f"Offer {offer_id} is no longer valid"
    for offer_id in offer_ids:
        owner = offers[offer_id][0]
        if owner != framework_id:
            return f"Offer {offer_id} has invalid framework {owner} while framework {framework_id} is expected"
    first_agent: Optional[str] = None
    for offer_id in offer_ids:
        agent = offers[offer_id][1]
        first_agent = first_agent or agent
        if agent != first_agent:
            return (
                f"Aggregated offers must belong to one single agent. Offer {offer_id}"
                f" uses agent {agent} and agent {first_agent}"
            )
    return None


# -- resources of an operation (validateAndUpgradeResources) --------------------------


def operation_resources_error(operation: JSON) -> Optional[str]:
    """``validateAndUpgradeResources`` for LAUNCH and LAUNCH_GROUP, run on every operation
    of an ACCEPT before any task is looked at (``Master::accept``).

    LAUNCH: each task's resources, then its executor's; LAUNCH_GROUP: the executor's,
    then each task's (and its executor's). Only the rules of plain resources are
    modelled: a name, a scalar for SCALAR, a value not below zero.
    """
    kind = operation.get("type")
    lists: List[Any] = []
    if kind == "LAUNCH":
        for task in as_list(field_of(operation, "launch", "task_infos")):
            lists.append(field_of(task, "resources"))
            lists.append(field_of(task, "executor", "resources"))
    elif kind == "LAUNCH_GROUP":
        lists.append(field_of(operation, "launch_group", "executor", "resources"))
        for task in as_list(field_of(operation, "launch_group", "task_group", "tasks")):
            lists.append(field_of(task, "resources"))
            lists.append(field_of(task, "executor", "resources"))
    for resources in lists:
        error = resources_error(as_list(resources))
        if error is not None:
            return error
    return None


def resources_error(resources: Sequence[Any]) -> Optional[str]:
    """``Resources::validate(RepeatedPtrField<Resource>)``: the first bad resource, in Mesos' words."""
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        error = _resource_error(resource)
        if error is not None:
            return f"Resource '{_describe_resource(resource)}' is invalid: {error}"
    return None


def _resource_error(resource: JSON) -> Optional[str]:
    if not resource.get("name"):
        return "Empty resource name"
    if resource.get("type", "SCALAR") != "SCALAR":
        return None  # (unverified) ranges and sets are not modelled
    scalar = resource.get("scalar")
    if not isinstance(scalar, dict) or "ranges" in resource or "set" in resource:
        return "Invalid scalar resource"
    amount = _number(scalar.get("value"))
    # Mesos: non-zero values that fixed point would make zero or less are refused.
    if amount != 0 and round(amount, 3) <= 0:
        return "Invalid scalar resource: value <= 0"
    return None


def _describe_resource(resource: JSON) -> str:
    """One resource as Mesos prints it before the master adds its allocation role: ``cpus:-1``."""
    value = _number(field_of(resource, "scalar", "value"))
    return f"{resource.get('name', '')}:{value:.15g}"


# -- LAUNCH: one task -------------------------------------------------------------------


def task_error(task: JSON, context: LaunchContext) -> Optional[str]:
    """``task::validate``: the task's own fields, then its executor and resources, then
    ``share_cgroups`` (1.10 on)."""
    error = _task_fields_error(task, context) or _task_executor_error(task, context)
    share_cgroups = field_of(task, "container", "linux_info", "share_cgroups")
    if error is None and context.release.checks_resource_limits and share_cgroups is False:
        error = "Only tasks in a task group may have 'share_cgroups' set to 'false'"
    return error


def _task_fields_error(task: JSON, context: LaunchContext) -> Optional[str]:
    """``task::internal::validateTask``, in its order ("The order ... does matter!")."""
    task_id = _id_of(task, "task_id")
    checks: List[Callable[[], Optional[str]]] = [
        lambda: id_error(task_id),
        lambda: f"Task has duplicate ID: {task_id}" if task_id in context.live_task_ids else None,
        lambda: _agent_error(task, context),
        lambda: _negative_duration(task, ("kill_policy", "grace_period"), "Task's 'kill_policy.grace_period'"),
    ]
    if context.release.checks_max_completion_time:
        checks.append(lambda: _negative_duration(task, ("max_completion_time",), "Task's `max_completion_time`"))
    # (unverified: not modelled) validateCheck, validateHealthCheck.
    checks.append(lambda: _task_resources_error(task))
    # (unverified: not modelled) validateCommandInfo (environment secrets), validateContainerInfo.
    if context.release.checks_resource_limits:
        checks.append(lambda: _limits_error(task))
    for check in checks:
        error = check()
        if error is not None:
            return error
    return None


def id_error(value: str) -> Optional[str]:
    """``common::validation::validateID`` (task and executor ids)."""
    if not value:
        return "ID must not be empty"
    if len(value.encode("utf-8")) > _NAME_MAX:
        return f"ID must not be greater than {_NAME_MAX} characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if any(ord(c) < 32 or ord(c) == 127 or c in "/\\" for c in value):
        return f"'{value}' contains invalid characters"
    return None


def _agent_error(task: JSON, context: LaunchContext) -> Optional[str]:
    agent_id = id_value(task, "agent_id") or ""
    if agent_id != context.agent_id:
        return f"Task uses invalid agent {agent_id} while agent {context.agent_id} is expected"
    return None


def _negative_duration(holder: JSON, path: Tuple[str, ...], what: str) -> Optional[str]:
    duration = field_of(holder, *path)
    if isinstance(duration, dict) and _number(duration.get("nanoseconds")) < 0:
        return f"{what} must be non-negative"
    return None


def _task_resources_error(task: JSON) -> Optional[str]:
    """``validateResources`` of a task: none at all, then the per-resource rules."""
    if not as_list(task.get("resources")):
        return "Task uses no resources"
    # (unverified: not modelled) resource::validate's disk, GPU and reservation rules,
    # duplicate persistence ids, single allocation role, revocable mixes.
    return None


def _limits_error(task: JSON) -> Optional[str]:
    """``validateResourceLimits`` (1.10 on); the fake's agents have TASK_RESOURCE_LIMITS."""
    limits = task.get("limits")
    if not isinstance(limits, dict) or not limits:
        return None
    if any(name not in ("cpus", "mem") for name in limits):
        return "Only cpus and mem may be included in a task's resource limits"
    requested = Resources.from_json(as_list(task.get("resources")))
    if "cpus" in limits:
        if requested.get("cpus") <= 0:
            return "When a CPU limit is specified, a CPU request must also be specified"
        if _number(field_of(limits, "cpus", "value")) < requested.get("cpus"):
            return "The cpu limit must be greater than or equal to the cpu request"
    if "mem" in limits:
        if requested.get("mem") <= 0:
            return "When a memory limit is specified, a memory request must also be specified"
        limit = _number(field_of(limits, "mem", "value"))
        if limit != float("inf") and int(limit * _MEGABYTE) < int(requested.get("mem")) * _MEGABYTE:
            return "The memory limit must be greater than or equal to the memory request"
    return None


def _task_executor_error(task: JSON, context: LaunchContext) -> Optional[str]:
    """``task::internal::validateExecutor``: command XOR executor, the executor, the total."""
    executor = task.get("executor")
    has_executor = isinstance(executor, dict)
    if has_executor == isinstance(task.get("command"), dict):
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    total = Resources.from_json(as_list(task.get("resources")))
    if isinstance(executor, dict):
        error = executor_error(executor, context)
        if error is not None:
            return error
        if executor.get("type", "CUSTOM") != "CUSTOM":
            return "'ExecutorInfo.type' must be 'CUSTOM'"
        if not isinstance(executor.get("command"), dict):
            return "'ExecutorInfo.command' must be set"
        if field_of(executor, "container", "linux_info", "share_cgroups") is True and (
            context.release.checks_resource_limits
        ):
            return "The 'share_cgroups' field cannot be set to 'true' on executor containers"
        if str(id_value(executor, "executor_id")) not in context.executors:
            total = total + Resources.from_json(as_list(executor.get("resources")))
    # (unverified: not modelled) validateTaskAndExecutorResources: overlapping ranges,
    # persistence ids, revocable mixes.
    if not context.available.contains(total):
        return (
            f"Total resources {total.describe(context.role)} required by task and its executor"
            f" is more than available {context.available.describe(context.role)}"
        )
    return None


# -- executors -----------------------------------------------------------------------


def executor_error(executor: JSON, context: LaunchContext) -> Optional[str]:
    """``executor::internal::validate``: ``executor::validate``, then framework id,
    resources and compatibility with a running executor of the same id.

    The master has filled in a missing ``framework_id`` before (``Master::accept``),
    so only another framework's id fails that check.
    """
    error = _executor_type_error(executor) or id_error(_id_of(executor, "executor_id"))
    if error is None:
        error = _negative_duration(executor, ("shutdown_grace_period",), "ExecutorInfo's 'shutdown_grace_period'")
    # (unverified: not modelled) the executor's CommandInfo and ContainerInfo checks.
    if error is not None:
        return error
    framework_id = id_value(executor, "framework_id")
    if framework_id is not None and framework_id != context.framework_id:
        return f"ExecutorInfo has an invalid FrameworkID (Actual: {framework_id} vs Expected: {context.framework_id})"
    existing = context.executors.get(str(id_value(executor, "executor_id")))
    if existing is not None and existing != executor:
        # (unverified) Mesos prints both ExecutorInfos with protobuf's DebugString;
        # the fake prints their JSON.
        line = "------------------------------------------------------------\n"
        return (
            "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID"
            + context.release.executor_mismatch_suffix
            + "\n"
            + line
            + "Existing ExecutorInfo:\n"
            + json.dumps(existing, sort_keys=True)
            + "\n"
            + line
            + "ExecutorInfo:\n"
            + json.dumps(executor, sort_keys=True)
            + "\n"
            + line
        )
    return None


def _executor_type_error(executor: JSON) -> Optional[str]:
    """``executor::internal::validateType``; an unset type is UNKNOWN there and passes."""
    kind = executor.get("type")
    has_command = isinstance(executor.get("command"), dict)
    if kind == "DEFAULT":
        if has_command:
            return "'ExecutorInfo.command' must not be set for 'DEFAULT' executor"
        container = executor.get("container")
        if isinstance(container, dict):
            if container.get("type", "MESOS") != "MESOS":
                return "'ExecutorInfo.container.type' must be 'MESOS' for 'DEFAULT' executor"
            if field_of(container, "mesos", "image") is not None:
                return "'ExecutorInfo.container.mesos.image' must not be set for 'DEFAULT' executor"
    elif kind == "CUSTOM" and not has_command:
        return "'ExecutorInfo.command' must be set for 'CUSTOM' executor"
    return None


# -- LAUNCH_GROUP --------------------------------------------------------------------


def task_group_error(tasks: Sequence[JSON], executor: JSON, context: LaunchContext) -> Optional[str]:
    """``task::group::validate``: every task ("Task 'x' is invalid: ..."), then the executor.

    The tasks carry the group's executor by now: ``Master::accept`` copies it into
    every task that has none.
    """
    for task in tasks:
        error = _task_fields_error(task, context) or _group_task_error(task, context)
        if error is not None:
            return f"Task '{_id_of(task, 'task_id')}' is invalid: {error}"
    return _group_executor_error(tasks, executor, context) or _group_share_cgroups_error(tasks, executor, context)


def _group_task_error(task: JSON, context: LaunchContext) -> Optional[str]:
    if not isinstance(task.get("executor"), dict):
        return "'TaskInfo.executor' must be set"
    container = task.get("container")
    if isinstance(container, dict):
        networks = as_list(container.get("network_infos"))
        if networks and not context.release.task_group_network_infos_allowed:
            return "NetworkInfos must not be set on the task"
        if networks and field_of(task, "health_check", "type") in ("HTTP", "TCP"):
            return "HTTP and TCP health checks are not supported for nested containers not joining parent's network"
        if container.get("type") == "DOCKER":
            return "Docker ContainerInfo is not supported on the task"
    limits = task.get("limits")
    has_limits = context.release.checks_resource_limits and isinstance(limits, dict) and bool(limits)
    if has_limits and field_of(container, "linux_info", "share_cgroups") is not False:
        return (
            "Resource limits may only be set for tasks within a task group when "
            "the 'share_cgroups' field is set to 'false'."
        )
    return None


def _group_executor_error(tasks: Sequence[JSON], executor: JSON, context: LaunchContext) -> Optional[str]:
    """``task::group::internal::validateExecutor``."""
    error = executor_error(executor, context)
    if error is not None:
        return error
    executor_id = str(id_value(executor, "executor_id") or "")
    if "type" not in executor:
        return "'ExecutorInfo.type' must be set"
    if executor["type"] not in ("DEFAULT", "CUSTOM"):
        return "Unknown executor type"
    if field_of(executor, "container", "type") == "DOCKER":
        return "Docker ContainerInfo is not supported on the executor"
    for task in tasks:
        if isinstance(task.get("executor"), dict) and task["executor"] != executor:
            return (
                f"The `ExecutorInfo` of task '{id_value(task, 'task_id') or ''}'"
                f" is different from executor '{executor_id}'"
            )
    resources = Resources.from_json(as_list(executor.get("resources")))
    cpus = resources.get("cpus")
    if cpus < MIN_CPUS:
        shown = f"{cpus:g}" if "cpus" in resources.names() else "None"
        return f"Executor '{executor_id}' uses less CPUs ({shown}) than the minimum required ({MIN_CPUS:g})"
    mem = int(resources.get("mem"))  # Resources::mem(): whole megabytes
    if "mem" not in resources.names() or mem < MIN_MEM_MB:
        shown = "None" if "mem" not in resources.names() else _megabytes(mem, context.release)
        return (
            f"Executor '{executor_id}' uses less memory ({shown}) than the minimum required"
            f" ({_megabytes(MIN_MEM_MB, context.release, always_bytes=True)})"
        )
    if "disk" not in resources.names():
        return f"Executor '{executor_id}' uses no disk"
    total = Resources()
    for task in tasks:
        total = total + Resources.from_json(as_list(task.get("resources")))
    if executor_id not in context.executors:
        total = total + resources
    if not context.available.contains(total):
        return (
            f"Total resources {total.describe(context.role)} required by task group and its executor"
            f" are more than available {context.available.describe(context.role)}"
        )
    return None


def _group_share_cgroups_error(tasks: Sequence[JSON], executor: JSON, context: LaunchContext) -> Optional[str]:
    """``task::group::internal::validateShareCgroups`` (1.10 on), for the group's own tasks.

    (unverified: simplified) Mesos also compares with the tasks already running
    under the same executor; the fake compares within the group only.
    """
    if not context.release.checks_resource_limits:
        return None
    if field_of(executor, "container", "linux_info", "share_cgroups") is True:
        return "The 'share_cgroups' field cannot be set to 'true' on executor containers"
    values = {field_of(task, "container", "linux_info", "share_cgroups") is not False for task in tasks}
    if len(values) > 1:
        return (
            "If set, the value of 'share_cgroups' must be the same for all "
            "tasks in each task group and under a single executor"
        )
    return None


def _megabytes(megabytes: int, release: MesosRelease, always_bytes: bool = False) -> str:
    """``stringify(Bytes)``: the largest unit that loses nothing ("32MB", "1GB"), or,
    before 1.5, the plain number of megabytes for the executor's own amount."""
    if not (always_bytes or release.executor_memory_in_bytes):
        return f"{float(megabytes):g}"
    if megabytes == 0:
        return "0B"
    for unit, size in (("TB", 1024 * 1024), ("GB", 1024)):
        if megabytes % size == 0:
            return f"{megabytes // size}{unit}"
    return f"{megabytes}MB"


def _id_of(holder: JSON, key: str) -> str:
    """An id's value as given, empty included."""
    value = field_of(holder, key, "value")
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def offer_id_list(accept: JSON) -> List[str]:
    """The offer ids of an ACCEPT, as given (duplicates kept: validation looks for them)."""
    return [str(value_of(o)) for o in as_list(accept.get("offer_ids"))]
