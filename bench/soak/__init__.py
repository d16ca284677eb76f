"""A seeded chaos soak of the scheduler driver: ``python -m bench.soak --seed N --faults N``.

Frameworks (real ``mesos_auth.create_driver`` drivers, strict mode, TLS, ``zk://``)
run a steady task load against the fake cluster (three masters in ZooKeeper) while
a schedule of faults drawn from the seed hits it: expired and revoked tokens, IAM
outages and slowness, 401 bursts, dropped and silent streams, master restarts,
leader failovers. At the end the invariants are checked and printed (``run.py``);
the exit status is 1 when one fails, and the seed replays the schedule.

Modules: ``schedule`` (the seeded plan), ``faults`` (each fault as a function on the
cluster), ``host`` (the cluster in a process of its own), ``load`` (the frameworks),
``invariants`` (what must hold, and how it is measured), ``run`` (the command).
"""

from __future__ import annotations

from typing import Optional, Sequence

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the soak with command-line arguments; 0 when every invariant held."""
    from bench.soak.run import main as run_main

    return run_main(argv)
