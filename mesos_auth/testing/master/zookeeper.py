"""A fake master's membership in ZooKeeper, made as a Mesos master makes it.

A Mesos master contends for leadership by joining a ZooKeeper group
(apache/mesos ``src/master/contender/zookeeper.cpp``, ``ZooKeeperMasterContender::contend``):

- it creates the group's path with its intermediate nodes, empty and persistent
  (``src/zookeeper/group.cpp``, ``GroupProcess::create``: ``zk->create(znode, "", acl, 0, nullptr, true)``);
- it joins with an ephemeral sequential node ``<path>/json.info_`` (``GroupProcess::doJoin``,
  ``ZOO_SEQUENCE | ZOO_EPHEMERAL``; the label ``MASTER_INFO_JSON_LABEL`` of
  ``src/master/constants.hpp``), ZooKeeper appends a 10-digit sequence number;
- the node holds ``stringify(JSON::protobuf(masterInfo))``: the ``MasterInfo`` of
  ``include/mesos/mesos.proto`` as filled in ``Master::Master`` (``src/master/master.cpp``),
  fields in field-number order;
- the member with the lowest sequence leads (``src/zookeeper/detector.cpp``);
- the node vanishes with the master's session (10 s, ``ZOOKEEPER_SESSION_TIMEOUT``).

The membership has its own ZooKeeper session, so ending it removes the node at once,
as a master that exits; a master that hangs keeps it until the session expires.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from mesos_auth.testing.master.versions import MesosRelease

#: ``MASTER_INFO_JSON_LABEL`` (src/master/constants.hpp), "since Mesos 0.23".
MASTER_INFO_JSON_LABEL = "json.info"
#: ``ZOOKEEPER_SESSION_TIMEOUT`` (src/master/constants.hpp) and the default of ``--zk_session_timeout``.
SESSION_TIMEOUT = 10.0


def master_capabilities(release: MesosRelease) -> List[Dict[str, str]]:
    """``MASTER_CAPABILITIES()`` (src/master/constants.cpp) of ``release``: none before 1.5
    (no ``MasterInfo.Capability`` yet), ``AGENT_UPDATE`` from 1.5, ``AGENT_DRAINING`` and
    ``QUOTA_V2`` too from 1.9 (checked at the commits DC/OS 1.10 ... 2.2 ship)."""
    types: List[str] = []
    if release.at_least(1, 5):
        types.append("AGENT_UPDATE")
    if release.at_least(1, 9):
        types += ["AGENT_DRAINING", "QUOTA_V2"]
    return [{"type": name} for name in types]


def master_info_json(master_info: Dict[str, Any], release: MesosRelease) -> bytes:
    """The node data: ``MasterInfo`` as ``JSON::protobuf`` writes it (fields by number, no domain:
    a fake master has no ``--domain``)."""
    address = master_info["address"]
    ordered: Dict[str, Any] = {
        "id": master_info["id"],
        "ip": master_info["ip"],
        "port": master_info["port"],
        "pid": master_info["pid"],
        "hostname": master_info["hostname"],
        "version": master_info["version"],
        "address": {"hostname": address["hostname"], "ip": address["ip"], "port": address["port"]},
    }
    capabilities = master_capabilities(release)
    if capabilities:
        ordered["capabilities"] = capabilities
    return json.dumps(ordered, separators=(",", ":")).encode("utf-8")


class ZooKeeperMembership:
    """One master's node in ZooKeeper, on a session of its own."""

    def __init__(self, hosts: str, path: str, data: bytes, *, session_timeout: float = SESSION_TIMEOUT) -> None:
        from kazoo.client import KazooClient  # type: ignore[import-untyped]
        from kazoo.retry import KazooRetry  # type: ignore[import-untyped]

        if not path.startswith("/") or (len(path) > 1 and path.endswith("/")):
            raise ValueError(f"a ZooKeeper path starts with '/' and does not end with one: {path!r}")
        self.hosts = hosts
        self.path = path
        # Reconnect within a second whatever the outage (kazoo's default backoff grows to an
        # hour), so that a master's node outlives a ZooKeeper restart as Mesos' does.
        retry = KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=1.0)
        self._client: Any = KazooClient(hosts, timeout=session_timeout, connection_retry=retry)
        self._data = data
        self._prefix = ("" if path == "/" else path) + "/" + MASTER_INFO_JSON_LABEL + "_"
        self._leaving = threading.Event()
        self.rejoins = 0
        self._client.start(timeout=30.0)
        try:
            self._client.ensure_path(path)  # GroupProcess::create: the path, intermediate nodes included
            self.node: Optional[str] = self._client.create(self._prefix, data, ephemeral=True, sequence=True)
        except BaseException:
            self._close()
            raise
        self._client.add_listener(self._on_state)

    def _on_state(self, state: str) -> None:
        """A session that expired took the node with it. A Mesos master then loses its
        candidacy and exits (``Master::lostCandidacy``); restarted by its supervisor, it
        joins again: the fake joins again at once, with a new node (kazoo opens a new
        session by itself). Called on kazoo's connection thread: the work goes elsewhere."""
        if state == "LOST" and not self._leaving.is_set():
            self._client.handler.spawn(self._rejoin)

    def _rejoin(self) -> None:
        deadline = time.monotonic() + 60.0
        while not self._leaving.is_set() and time.monotonic() < deadline:
            try:
                self._client.ensure_path(self.path)
                self.node = self._client.create(self._prefix, self._data, ephemeral=True, sequence=True)
                self.rejoins += 1
                return
            except Exception:  # not connected again yet: try again shortly
                self._leaving.wait(0.2)

    @property
    def name(self) -> str:
        """The node's name, ``json.info_<10 digits>``."""
        return (self.node or "").rsplit("/", 1)[-1]

    @property
    def sequence(self) -> int:
        return int(self.name.rsplit("_", 1)[-1])

    def leave(self) -> None:
        """Delete the node and end the session (a master that exits)."""
        self._leaving.set()
        if self.node is not None and self._client.connected:
            from kazoo.exceptions import NoNodeError  # type: ignore[import-untyped]

            with contextlib.suppress(NoNodeError):
                self._client.delete(self.node)
        self.node = None
        self._close()

    def _close(self) -> None:
        try:
            self._client.stop()
        finally:
            self._client.close()


def leader_node(hosts: str, path: str = "/mesos") -> Optional[str]:
    """The name of the leading member's node (lowest sequence, numerically, as
    ``src/zookeeper/detector.cpp``), skipping children without a numeric suffix
    (``log_replicas``); None when there is no member."""
    from kazoo.client import KazooClient

    from mesos_auth.zookeeper_detector import leader_of

    client = KazooClient(hosts)
    client.start(timeout=30.0)
    try:
        return leader_of(client.get_children(path))  # the driver's rule, the same for both
    finally:
        client.stop()
        client.close()
