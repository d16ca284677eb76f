"""The fake Mesos master, one module per part of what a real master does.

- ``server``: :class:`FakeMaster`: options, life cycle, leadership, its authorizer,
  faults, and which module answers a request;
- ``checks``: in which order the master checks a scheduler request;
- ``scheduler_api``: how it answers SUBSCRIBE and the other calls once checked;
- ``routes``: ``/version``, ``/master/state`` and (before Mesos 1.8) ``/master/state.json``;
- ``auth``: who sent a request (per security mode);
- ``calls``: parsing and validating ``scheduler::Call`` bodies;
- ``state``: frameworks subscribing, failing over and going away (no HTTP, no threads),
  over the tables of ``model``;
- ``allocator``: offers in batches, refuse filters, DECLINE, REVIVE, SUPPRESS;
- ``tasks``: ACCEPT, launches, executors, task states, KILL, ACKNOWLEDGE, RECONCILE;
- ``authorization``: what a strict master asks the IAM's ACLs, and Mesos' refusal texts;
- ``operations``: RESERVE, UNRESERVE, CREATE, DESTROY: ids, authorization, drops;
- ``validation``: Mesos' checks of offers, tasks, task groups and executors, with its texts;
- ``versions``: the Mesos releases DC/OS ships and where they differ;
- ``resources``: agents and scalar resources;
- ``events`` / ``streams``: the events and the RecordIO streams that carry them;
- ``records`` / ``snapshots``: what tests read, and waiting for a state;
- ``timers``: timed work by an injectable clock.
"""

from mesos_auth.testing.master.server import (
    ANONYMOUS_PRINCIPAL,
    DEFAULT_TASK_STATES,
    MESOS_VERSION,
    SCHEDULER_PATH,
    FakeMaster,
)
from mesos_auth.testing.master.timers import ManualClock

__all__ = ["ANONYMOUS_PRINCIPAL", "DEFAULT_TASK_STATES", "MESOS_VERSION", "SCHEDULER_PATH", "FakeMaster", "ManualClock"]
