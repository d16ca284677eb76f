"""Several fake Mesos masters as one highly available group, found through ZooKeeper.

A DC/OS cluster runs three or five masters. Each joins a ZooKeeper group (a node
``<path>/json.info_<sequence>`` holding its ``MasterInfo``, see
``mesos_auth.testing.master.zookeeper``); the lowest sequence leads, the others answer
scheduler calls with ``307`` to the leader (``Master::Http::scheduler``, ``redirect``).
When the leader dies its session ends and its node goes; the remaining member with the
lowest sequence is elected, recovers (the replicated log, then the agents re-registering:
``mesos_auth.testing.master.recovery``) and leads. A master that loses leadership exits
and, restarted by its supervisor, joins again as a follower with a new, higher sequence.

:class:`MasterGroup` does exactly that for a list of :class:`FakeMaster` objects; the
:class:`~mesos_auth.testing.FakeCluster` made with ``masters=3, zookeeper=...`` uses one.
Without ZooKeeper the group still redirects followers to the leader, but nothing
outside can find the leader: give several masters to a framework only through ``zk://``.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional, Sequence, Tuple

from mesos_auth.testing.master import FakeMaster

__all__ = ["MasterGroup"]


class MasterGroup:
    """Masters, the one that leads, and their ZooKeeper membership.

    ``on_new_leader`` is told about every new leader (the cluster points its router at it).
    """

    def __init__(
        self,
        masters: Sequence[FakeMaster],
        *,
        zookeeper_hosts: Optional[str] = None,
        zookeeper_path: str = "/mesos",
        on_new_leader: Callable[[FakeMaster], None] = lambda master: None,
    ) -> None:
        if not masters:
            raise ValueError("a master group needs at least one master")
        self._masters: Tuple[FakeMaster, ...] = tuple(masters)
        self._leader = self._masters[0]
        self.zookeeper_hosts = zookeeper_hosts
        self.zookeeper_path = zookeeper_path
        self._on_new_leader = on_new_leader
        self._lock = threading.RLock()
        self.failovers = 0

    @property
    def masters(self) -> Tuple[FakeMaster, ...]:
        return self._masters

    @property
    def leader(self) -> FakeMaster:
        with self._lock:
            return self._leader

    @property
    def zookeeper_url(self) -> Optional[str]:
        """``zk://<hosts><path>``: what a framework is given to find the leader; None without ZooKeeper."""
        if self.zookeeper_hosts is None:
            return None
        return f"zk://{self.zookeeper_hosts}{self.zookeeper_path}"

    def start(self) -> None:
        """Start every master; the first leads, the others follow it; all join ZooKeeper, leader first."""
        for master in self._masters:
            master.start()
        self._follow(self._leader)
        if self.zookeeper_hosts is not None:
            for master in self._by_join_order():
                master.register_in_zookeeper(self.zookeeper_hosts, self.zookeeper_path)

    def stop(self) -> None:
        """Stop every master (their ZooKeeper nodes go with them); every master is stopped even if one fails."""
        errors: List[BaseException] = []
        for master in self._masters:
            try:
                master.stop()
            except Exception as exc:  # pragma: no cover - FakeServer.stop does not raise in practice
                errors.append(exc)
        if errors:
            raise errors[0]

    def reset(self) -> None:
        """Every master's state reset; the current leader stays leader, the others follow it."""
        with self._lock:
            for master in self._masters:
                master.reset()  # a reset master is a leader again: set the followers back
            self._follow(self._leader)

    def fail_over(self, to: Optional[FakeMaster] = None) -> FakeMaster:
        """The leader dies; the next one (``to``, or the lowest ZooKeeper sequence) leads. Returns it.

        In order, as on a cluster: the leader stops answering (its connections reset, its
        streams drop), the followers know there is no leader (503), its ZooKeeper node
        goes; the new leader recovers what the agents report and leads; the other followers
        point at it; the old leader comes back empty as a follower and joins ZooKeeper
        again (a new, higher sequence). With one master, it restarts and leads again.
        """
        with self._lock:
            old = self._leader
            new = to if to is not None else self._successor(old)
            if new not in self._masters:
                raise ValueError(f"{new!r} is not a master of this group")
            old.go_down()
            for follower in self._masters:
                if follower is not old:
                    # They saw the leader go (their own ZooKeeper watch) and answer 503 "No
                    # leader elected" until the new one leads: never a 307 to the dead master.
                    follower.set_no_leader()
            old.unregister_from_zookeeper()
            new.take_over_from(old)
            self._leader = new
            self.failovers += 1
            if new is not old:
                old.restart_as_follower(new)
            self._follow(new)
            old.come_up()
            if self.zookeeper_hosts is not None:
                old.register_in_zookeeper(self.zookeeper_hosts, self.zookeeper_path)
        self._on_new_leader(new)
        return new

    def errors(self) -> List[str]:
        """What each master's :meth:`~FakeMaster.check` would raise, as texts."""
        problems: List[str] = []
        for master in self._masters:
            try:
                master.check()
            except Exception as exc:
                problems.append(str(exc))
        return problems

    def _follow(self, leader: FakeMaster) -> None:
        for master in self._masters:
            if master is not leader:
                master.set_leader(leader)

    def _by_join_order(self) -> List[FakeMaster]:
        return [self._leader] + [master for master in self._masters if master is not self._leader]

    def _successor(self, old: FakeMaster) -> FakeMaster:
        """The member with the lowest ZooKeeper sequence after ``old`` (``src/zookeeper/detector.cpp``);
        without ZooKeeper, the next in the list."""
        others = [master for master in self._masters if master is not old]
        if not others:
            return old
        with_sequence = [(master.zookeeper_sequence, index, master) for index, master in enumerate(others)]
        joined = [entry for entry in with_sequence if entry[0] is not None]
        if joined:
            return min(joined, key=lambda entry: (entry[0], entry[1]))[2]
        position = self._masters.index(old)
        return self._masters[(position + 1) % len(self._masters)]
