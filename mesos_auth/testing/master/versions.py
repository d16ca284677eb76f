"""The Mesos releases DC/OS shipped, and which of their master behaviours differ.

A fake master claims to be one of them (``FakeMaster(mesos_version=...)``): ``GET
/version`` and ``MasterInfo.version`` report it, task validation uses that
release's texts and checks, and ``/master/state.json`` is served only by the
releases that still route it. The versions are the ``AC_INIT`` of ``configure.ac`` at
the Mesos commit each DC/OS release pins (apache/mesos). Only the differences the
fake models are listed; everything else is the same in all seven releases for the
checks the fake makes (``src/master/validation.cpp`` and the ``/state`` routes of
``src/master/master.cpp`` compared commit by commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class MesosRelease:
    """One Mesos release as a DC/OS release ships it."""

    version: str
    commit: str
    dcos: str

    @property
    def number(self) -> Tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))

    def at_least(self, major: int, minor: int) -> bool:
        return self.number[:2] >= (major, minor)

    @property
    def executor_memory_in_bytes(self) -> bool:
        """1.5 on: "uses less memory (16MB)"; 1.4 printed plain megabytes, "(16)".

        ``validateExecutor`` of ``task::group``: ``stringify(mem.get())`` replaced
        ``stringify(mem.get().megabytes())``.
        """
        return self.at_least(1, 5)

    @property
    def checks_max_completion_time(self) -> bool:
        """``validateMaxCompletionTime`` joined ``task::internal::validateTask`` in 1.7."""
        return self.at_least(1, 7)

    @property
    def task_group_network_infos_allowed(self) -> bool:
        """Before 1.7 a task in a group must not set ``container.network_infos`` at all."""
        return self.at_least(1, 7)

    @property
    def checks_resource_limits(self) -> bool:
        """Task resource ``limits`` and ``share_cgroups`` (``validateResourceLimits``,
        ``validateShareCgroups``) came with 1.10."""
        return self.at_least(1, 10)

    @property
    def serves_state_json(self) -> bool:
        """Whether the master still routes ``/master/state.json`` besides ``/master/state``.

        ``Master::initialize`` (``src/master/master.cpp``) routes both to ``Http::state``
        up to 1.7 (DC/OS 1.10 to 1.12); apache/mesos commit 42551cb5290b ("Removed long
        ago deprecated endpoints.", in 1.8) dropped ``/state.json``, so from DC/OS 1.13
        on it is a 404.
        """
        return not self.at_least(1, 8)

    @property
    def approver_texts(self) -> bool:
        """1.10 on, authorization is synchronous (``ObjectApprovers``) and refusals say
        what was asked, through ``operator<<(ActionObject)`` of ``src/master/authorization.cpp``
        ("Not authorized to register framework <id> with roles { r }", "Principal 'p' no
        authorized to ..."); before, ``master.cpp`` had texts of its own ("Not authorized to
        use roles '{ r }'", "Not authorized to launch as user 'u'", ...)."""
        return self.at_least(1, 10)

    @property
    def operation_ids(self) -> bool:
        """``Offer.Operation.id`` exists from 1.5 (``include/mesos/v1/mesos.proto``); 1.4's
        JSON parser skips the unknown field (stout ``protobuf::parse`` looks fields up by name)."""
        return self.at_least(1, 5)

    @property
    def operation_feedback(self) -> bool:
        """1.7 on, ``Master::drop`` sends an HTTP framework OPERATION_ERROR for a dropped
        operation that has an ``id``; 1.4 and 1.5 only log ("There is no direct feedback")."""
        return self.at_least(1, 7)

    @property
    def agent_operation_feedback(self) -> bool:
        """Whether the release's agents advertise AGENT_OPERATION_FEEDBACK (with
        RESOURCE_PROVIDER), so that an operation with an ``id`` on default agent resources
        gets past ``Master::accept``: 1.8 on (``AGENT_CAPABILITIES()`` of
        ``src/slave/constants.cpp``). 1.7 drops it ("... not managed by a resource provider")."""
        return self.at_least(1, 8)

    @property
    def executor_mismatch_suffix(self) -> str:
        """The end of the first line of "ExecutorInfo is not compatible ..." (1.4 had a stray ")")."""
        return "." if self.at_least(1, 5) else ")."


RELEASES: Tuple[MesosRelease, ...] = (
    MesosRelease("1.4.4", "1a762020ec9fdc46b55754afd955d81f1da8880f", "1.10"),
    MesosRelease("1.5.4", "d440095b5a94872eabbd66def49a588d6f8f2b38", "1.11"),
    MesosRelease("1.7.3", "3c4691e1c13d2908389436794b420dd9e19bd92a", "1.12"),
    MesosRelease("1.8.2", "d160015e544082ff310a7e4d2e94e3c4eae9499b", "1.13"),
    MesosRelease("1.9.1", "e98ced1e93751b78c3248221115fcf4db8a39b29", "2.0"),
    MesosRelease("1.10.1", "3ca3879d52ea0f9bff05443d331d63105b2cc4db", "2.1"),
    MesosRelease("1.11.0", "cb6cfe9b122d1b60a8264b28b6abb38a3c8417b4", "2.2"),
)

#: The default: the Mesos of DC/OS 2.2.
DEFAULT_RELEASE = RELEASES[-1]

_BY_NAME: Dict[str, MesosRelease] = {}
for _release in RELEASES:
    _BY_NAME[_release.version] = _release
    _BY_NAME[".".join(_release.version.split(".")[:2])] = _release


def release(version: str) -> MesosRelease:
    """The release of ``version``: a full version ("1.11.0") or its "major.minor" ("1.11").

    Anything else is a ValueError that names the versions a fake master can be.
    """
    found = _BY_NAME.get(version) if isinstance(version, str) else None
    if found is None:
        allowed = ", ".join(f"{r.version} (DC/OS {r.dcos})" for r in RELEASES)
        raise ValueError(f"unknown mesos_version {version!r}; a fake master can be Mesos {allowed}")
    return found
