"""Which masters a driver may follow when it is told where the leader is.

A non-leading master answers ``307 Location: //host:port/...``; ZooKeeper names
the leader too. The driver sends its authentication token to whichever master it
follows, so a redirect is a place where a credential could leave the cluster: a
compromised or misconfigured master (or anyone who can answer in its name over
plain http) could send the driver, and its token, anywhere.

So a leader is followed only when it is part of the cluster:

- its host is one of the configured master addresses, or was learned from
  ZooKeeper (or from ``change_master``, which the program itself calls); or
- it is reached over https and the cluster's own CA bundle is in use: the TLS
  handshake then proves the host holds a certificate of the cluster's CA.

With only the system trust store, any host with a public certificate would pass
the handshake, so https alone is not proof; over plain http nothing is.
"""

from __future__ import annotations

import threading
from typing import Iterable, Optional, Set

from mesos_auth.ca import CABundle
from mesos_auth.master_uri import MasterAddress


class ClusterMembers:
    """The master hosts a driver knows to belong to its cluster."""

    def __init__(self, configured: Iterable[MasterAddress] = ()) -> None:
        self._lock = threading.Lock()
        self._hosts: Set[str] = {address.host.lower() for address in configured}

    def learn(self, address: MasterAddress) -> None:
        """A master named by ZooKeeper or by the program: a member from now on."""
        with self._lock:
            self._hosts.add(address.host.lower())

    def knows(self, address: MasterAddress) -> bool:
        with self._lock:
            return address.host.lower() in self._hosts

    def refusal(self, target: MasterAddress, ca_bundle: CABundle) -> Optional[str]:
        """Why a redirect to ``target`` must not be followed, or None when it may."""
        if self.knows(target):
            return None
        if target.tls and ca_bundle.path is not None:
            return None  # the handshake against the cluster's CA decides
        how = (
            "over https with only the system trust store (any public certificate would pass)"
            if target.tls
            else "over plain http (nothing proves who answers)"
        )
        return f"{target.host} is neither a configured master nor one found in ZooKeeper, and would be reached {how}"
