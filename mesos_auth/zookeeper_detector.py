"""The leading Mesos master, found in ZooKeeper and followed, as a Mesos framework does.

``zk://host1:2181,host2:2181/mesos`` names the ZooKeeper group that the masters
join; the member with the lowest sequence leads. pymesos' ``MasterDetector``
(``pymesos/detector.py``) reads it with kazoo's recipes, but cannot serve a driver
that must never hang nor die (``docs/protocol.md``, "The driver and ZooKeeper"):

- ``KazooClient.start()`` blocks 15 s and raises ``KazooTimeoutError`` into the
  caller of ``driver.start()`` when ZooKeeper is unreachable;
- a group node that does not exist yet stops kazoo's ``ChildrenWatch`` for good
  (``kazoo/recipe/watchers.py``, ``ChildrenWatch._get_children``: ``NoNodeError``
  sets ``_stopped``), with nothing logged: the driver waits forever in silence;
- kazoo's default reconnection backoff doubles up to an hour
  (``kazoo/client.py``, ``_RETRY_COMPAT_DEFAULTS``): after a ZooKeeper outage of
  some seconds the client may come back so late that its session has expired;
- the lowest child is found by comparing names as strings, and credentials in
  the URL (``zk://user:password@hosts/path``) are taken for a host name.

This detector has one thread that watches the group with plain kazoo calls and
one-shot watches, re-registered whenever the client (re)connects, in the same
session or a new one. It follows Mesos:

- the URL: ``zookeeper::URL::parse`` (``include/mesos/zookeeper/url.hpp``): the
  path starts at the first ``/``, ``user:password@`` is digest authentication;
- the members: ``GroupProcess::cache`` (``src/zookeeper/group.cpp``): every child
  whose name ends in a number after ``_`` (``json.info_0000000003``; not
  ``log_replicas``), the text before ``_`` being its label;
- the leader: ``LeaderDetectorProcess::watched`` (``src/zookeeper/detector.cpp``):
  the member with the lowest sequence, numerically;
- its address: ``ZooKeeperMasterDetectorProcess::fetched``
  (``src/master/detector/zookeeper.cpp``) reads a ``json.info`` node as the JSON
  ``MasterInfo``, an unlabelled one as a pid (``master@ip:port``); the v1 scheduler
  library (``src/scheduler/scheduler.cpp``, ``MesosProcess::detected``) then
  talks to the pid's ip and port, and so do we (``address.ip`` and
  ``address.port``, else ``pid``), as pymesos does.

Where it departs from Mesos, on purpose: while ZooKeeper is unreachable the last
leader is kept (Mesos' ``GroupProcess::timedout`` drops every member after a
session timeout without a connection, and its scheduler library disconnects);
the master's own stream tells whether it is still there. Reconnection attempts
come at most a second apart (ZooKeeper's Java client,
``ClientCnxn.SendThread.startConnect``, waits up to a second), so a client comes
back within its session timeout after ZooKeeper restarts: a standalone
ZooKeeper restores the sessions it knew, each with a fresh timeout
(``SessionTrackerImpl``'s constructor), and nothing the masters registered is lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Tuple, Union

from mesos_auth._redact import safe_url, server_text
from mesos_auth.errors import ConfigurationError
from mesos_auth.master_uri import ZOOKEEPER_SCHEMES

logger = logging.getLogger(__name__)

#: The session timeout pymesos asks for (``MasterDetector``: ``ZKClient(uri, 10)``),
#: Mesos' ``ZOOKEEPER_SESSION_TIMEOUT`` too (``src/master/constants.hpp``).
SESSION_TIMEOUT = 10.0
#: Seconds without a connection before "ZooKeeper unreachable" is logged as a WARNING.
UNREACHABLE_WARNING_AFTER = 5.0
#: Seconds between two such warnings while it lasts.
UNREACHABLE_WARNING_EVERY = 60.0
#: Longest pause between two connection attempts (ZooKeeper's Java client: up to 1 s).
MAX_RECONNECT_DELAY = 1.0
#: Pause before looking again after a ZooKeeper call failed while connected
#: (``RETRY_INTERVAL`` of ``src/zookeeper/group.cpp`` is 2 s).
RETRY_INTERVAL = 1.0
#: A look at the group every so often even without a watch firing: a lost watch costs at most this.
RECHECK_EVERY = 60.0
#: Seconds ``stop()`` waits for the ZooKeeper client to close (a dead host's connect may take longer).
STOP_TIMEOUT = 0.5
#: Largest node data read as a master's address.
MAX_NODE_DATA = 64 * 1024


@dataclass(frozen=True)
class ZooKeeperURL:
    """``zk://[user:password@]host:port[,host:port...]/path``, as ``zookeeper::URL::parse``."""

    servers: str
    path: str
    credentials: Optional[str] = field(default=None, repr=False)  # user:password: never shown
    scheme: str = "zk://"

    @property
    def shown(self) -> str:
        """The URL fit for a message: the credentials, if any, replaced by ``***``."""
        return server_text(f"{self.scheme}{'***@' if self.credentials else ''}{self.servers}{self.path}")

    def __str__(self) -> str:
        return self.shown


def parse_zookeeper_url(url: str) -> ZooKeeperURL:
    """Split a ZooKeeper URL as Mesos does: the path from the first ``/``, credentials before the last ``@``."""
    text = url.strip()
    scheme = next((s for s in ZOOKEEPER_SCHEMES if text.startswith(s)), None)
    if scheme is None:
        raise ConfigurationError(f"{safe_url(url, 200)!r} is not a ZooKeeper URL (zk://host:port/path)")
    rest = text[len(scheme) :]
    slash = rest.find("/")
    servers, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    credentials: Optional[str] = None
    if "@" in servers:
        credentials, servers = servers.rsplit("@", 1)
        if ":" not in credentials:
            raise ConfigurationError(
                f"{safe_url(url, 200)!r}: ZooKeeper credentials are user:password@ (digest authentication)"
            )
    if not servers or any(not host.strip() for host in servers.split(",")):
        raise ConfigurationError(f"{safe_url(url, 200)!r} names no ZooKeeper server (zk://host:port/path)")
    path = "/" + "/".join(part for part in path.split("/") if part)  # no empty segment, no trailing slash
    return ZooKeeperURL(servers=servers, path=path, credentials=credentials, scheme=scheme)


def member_of(child: str) -> Optional[Tuple[int, Optional[str]]]:
    """``(sequence, label)`` of a group member's node name, None for a node that is no member.

    ``GroupProcess::cache``: the name is split on ``_``; the last token must be a
    number (an int32, as ``numify<int32_t>``), the first one is the label when there
    are several (``json.info_0000000003`` -> ``(3, "json.info")``).
    """
    tokens = [token for token in child.split("_") if token]
    if not tokens or not tokens[-1].isdigit() or not tokens[-1].isascii():
        return None
    sequence = int(tokens[-1])
    if sequence > 2**31 - 1:
        return None
    return sequence, (tokens[0] if len(tokens) > 1 else None)


def leader_of(children: Iterable[str]) -> Optional[str]:
    """The leading member's node name: the lowest sequence, numerically (``LeaderDetectorProcess::watched``)."""
    members: List[Tuple[int, str]] = []
    for child in children:
        member = member_of(child)
        if member is not None:
            members.append((member[0], child))
    return min(members)[1] if members else None


def master_address(node: str, data: Optional[bytes]) -> str:
    """``host:port`` of the master whose node is ``node`` (IPv6 in brackets); ValueError if unusable.

    ``json.info`` nodes hold the JSON ``MasterInfo`` (``address.ip``/``address.port``,
    else ``pid``); unlabelled ones a pid, ``master@10.0.0.1:5050`` (before Mesos 0.23).
    The binary ``info`` nodes of Mesos before 0.24 are not read.
    """
    member = member_of(node)
    label = member[1] if member else None
    if data is None:
        raise ValueError("the node holds no data")
    if len(data) > MAX_NODE_DATA:
        raise ValueError(f"the node holds {len(data)} bytes, not a MasterInfo")
    text = data.decode("utf-8", "replace")
    if label is None:
        return _pid_address(text)
    if label != "json.info":
        raise ValueError(f"label {server_text(label, 40)!r} is not json.info (binary MasterInfo is not read)")
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("the node's data is not JSON") from None
    if not isinstance(info, dict):
        raise ValueError("the node's data is not a MasterInfo object")
    address = info.get("address")
    if isinstance(address, dict):
        ip, port = address.get("ip"), address.get("port")
        if isinstance(ip, str) and ip and isinstance(port, int) and 0 < port < 65536:
            return _host_port(ip, port)
    pid = info.get("pid")
    if isinstance(pid, str):
        return _pid_address(pid)
    raise ValueError("the MasterInfo has neither address.ip/address.port nor pid")


def _pid_address(pid: str) -> str:
    """``ip:port`` of a libprocess pid ``id@ip:port``."""
    _, _, where = pid.strip().rpartition("@")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{server_text(pid, 100)!r} is not a pid (master@ip:port)")
    return _host_port(host.strip("[]"), int(port))


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


if TYPE_CHECKING:
    _LoggerAdapter = logging.LoggerAdapter[logging.Logger]
else:
    _LoggerAdapter = logging.LoggerAdapter


class _KazooLog(_LoggerAdapter):
    """kazoo's own messages, its warnings and infos as DEBUG: it warns at every failed
    connection attempt (``Connection dropped: ...``, several a second during an outage);
    the detector says what matters once, in its own words.

    Secrets are taken out: at DEBUG kazoo logs every request it sends, the digest
    credentials of ``Auth`` and the session password of ``Connect`` included
    (``kazoo/protocol/connection.py``, ``ConnectionHandler._submit`` and ``_connect``).
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level in (logging.WARNING, logging.INFO):
            level = logging.DEBUG
        if not self.isEnabledFor(level):
            return
        if isinstance(msg, str) and "passwd" in msg:
            args = tuple("***" for _ in args)
        super().log(level, msg, *(_without_secrets(arg) for arg in args), **kwargs)

    def warn(self, msg: object, *args: Any, **kwargs: Any) -> None:  # kazoo calls it; gone from some Pythons
        self.log(logging.WARNING, msg, *args, **kwargs)


def _without_secrets(arg: Any) -> Any:
    """A kazoo request fit for a log: ``Auth.auth`` and ``Connect.passwd`` hidden."""
    kind = type(arg).__name__
    if kind == "Auth" and hasattr(arg, "_replace"):
        return arg._replace(auth="***")
    if kind == "Connect" and hasattr(arg, "_replace"):
        return arg._replace(passwd=b"***")
    return arg


class ZooKeeperMasterDetector:
    """Watches a ZooKeeper group of Mesos masters and tells ``on_leader`` each new leader.

    ``on_leader`` gets ``host:port`` of the new leading master, or None when the group
    has no (usable) member; it is called from the detector's thread, only when the
    answer changes, and must not block long. ``start()`` returns at once, whether
    ZooKeeper is reachable or not; ``stop()`` within about half a second.
    """

    def __init__(
        self,
        url: Union[str, ZooKeeperURL],
        on_leader: Callable[[Optional[str]], None],
        *,
        session_timeout: float = SESSION_TIMEOUT,
        warn_after: float = UNREACHABLE_WARNING_AFTER,
    ) -> None:
        from kazoo import exceptions  # type: ignore[import-untyped]
        from kazoo.client import KazooClient  # type: ignore[import-untyped]
        from kazoo.retry import KazooRetry  # type: ignore[import-untyped]

        self._errors: Any = exceptions
        self.url = parse_zookeeper_url(url) if isinstance(url, str) else url
        self._on_leader = on_leader
        self.session_timeout = session_timeout
        self.warn_after = warn_after
        auth = [("digest", self.url.credentials)] if self.url.credentials else None
        self._client: Any = KazooClient(
            hosts=self.url.servers,
            timeout=session_timeout,
            connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=2.0, max_delay=MAX_RECONNECT_DELAY),
            auth_data=auth,
            logger=_KazooLog(logging.getLogger(f"{__name__}.kazoo"), {}),
        )
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._session: Optional[int] = None
        self._leader_node: Optional[str] = None
        self._reported: Optional[Tuple[Optional[str]]] = None  # (address,) once told
        self._disconnected_at: Optional[float] = None
        self._next_warning: Optional[float] = None
        self._last_failure = ""
        self.sessions = 0  #: sessions established so far (a new one after each expiry)
        self.reconnections = 0  #: connections re-established within the same session

    # -- what tests and messages read ------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    @property
    def session_id(self) -> Optional[int]:
        """The current ZooKeeper session's id (None before the first connection)."""
        return self._session

    @property
    def leader(self) -> Optional[str]:
        """``host:port`` of the leading master last told, None if none."""
        return self._reported[0] if self._reported else None

    @property
    def leader_node(self) -> Optional[str]:
        """The leading member's node name (``json.info_0000000003``), None if none."""
        return self._leader_node

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a ZooKeeperMasterDetector starts once")
        logger.info("looking for the leading master in ZooKeeper %s", self.url)
        self._disconnected_at = time.monotonic()
        self._client.add_listener(self._state_changed)
        self._client.start_async()
        self._thread = threading.Thread(target=self._run, name="mesos-auth zookeeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the session (bounded by ``timeout``: the client finishes closing on its own)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        closer = threading.Thread(target=self._close_client, name="mesos-auth zookeeper stop", daemon=True)
        closer.start()
        closer.join(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.1, timeout / 2))

    def _close_client(self) -> None:
        try:
            self._client.stop()
            self._client.close()
        except Exception as exc:  # closing must never fail the caller
            logger.debug("closing the ZooKeeper client: %s", exc.__class__.__name__)

    # -- the watch loop ----------------------------------------------------------------------

    def _state_changed(self, state: Any) -> None:
        """kazoo's connection listener (kazoo's thread: must not block): wake the loop."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                wait = self._step()
            except Exception:  # a bug of ours: say it, and go on watching
                logger.exception("the ZooKeeper detector of %s failed; it goes on", self.url)
                wait = RETRY_INTERVAL
            if wait > 0:
                self._wake.wait(wait)

    def _step(self) -> float:
        """One look at the group when connected, else one look at how long it has not been; the pause after."""
        if self._client.connected:
            self._next_warning = None
            self._on_connected()
            try:
                return 0.0 if not self._look() else RECHECK_EVERY
            except Exception as exc:  # kazoo errors and timeouts; a lost connection is told by the states
                self._failed(exc)
                return RETRY_INTERVAL
        now = time.monotonic()
        if self._disconnected_at is None:  # it was connected until now
            self._disconnected_at = now
            if not self._stopping.is_set():
                logger.warning("lost the connection to ZooKeeper %s; %s", self.url, self._meanwhile())
        if self._next_warning is None:
            self._next_warning = self._disconnected_at + self.warn_after
        if now >= self._next_warning and not self._stopping.is_set():
            logger.warning(
                "ZooKeeper %s unreachable for %.0f s; %s; still trying",
                self.url,
                now - self._disconnected_at,
                self._meanwhile(),
            )
            self._next_warning = now + UNREACHABLE_WARNING_EVERY
        return max(0.0, self._next_warning - now)

    def _failed(self, exc: Exception) -> None:
        """A ZooKeeper call failed while connected: a WARNING the first time it fails so, DEBUG after."""
        errors = self._errors
        text = _describe(exc)
        if self._stopping.is_set() or isinstance(
            exc, (errors.ConnectionLoss, errors.SessionExpiredError, errors.ConnectionClosedError)
        ):
            logger.debug("reading the masters in ZooKeeper %s failed: %s", self.url, text)
        elif text != self._last_failure:
            logger.warning("reading the masters in ZooKeeper %s failed: %s; trying again", self.url, text)
        else:
            logger.debug("reading the masters in ZooKeeper %s failed again: %s", self.url, text)
        self._last_failure = text

    def _meanwhile(self) -> str:
        leader = self.leader
        return f"keeping the leading master {leader} meanwhile" if leader else "no leading master known yet"

    def _on_connected(self) -> None:
        """Say how the connection came back: in the same session, or a new one (the old one expired)."""
        session = self._session_id()
        if self._disconnected_at is None and session == self._session:
            return
        offline = time.monotonic() - (self._disconnected_at or time.monotonic())
        self._disconnected_at = None
        if self._session is None:
            logger.info("connected to ZooKeeper %s", self.url)
            self.sessions += 1
        elif session == self._session:
            self.reconnections += 1
            logger.info("reconnected to ZooKeeper %s after %.1f s; the session survived", self.url, offline)
        else:
            self.sessions += 1
            logger.warning(
                "reconnected to ZooKeeper %s after %.1f s with a new session (the previous one expired); "
                "watching the masters again",
                self.url,
                offline,
            )
        self._session = session

    def _session_id(self) -> Optional[int]:
        client_id = self._client.client_id
        return int(client_id[0]) if client_id else None

    def _look(self) -> bool:
        """Read the group, watch it, tell a new leader. False when it must be read again at once."""
        NoNodeError = self._errors.NoNodeError
        client, path, timeout = self._client, self.url.path, self.session_timeout
        try:
            children = client.get_children_async(path, watch=self._watched).get(timeout=timeout)
        except NoNodeError:
            if client.exists_async(path, watch=self._watched).get(timeout=timeout) is not None:
                return False  # created meanwhile
            self._leader_node = None  # a group made anew numbers its members from 0 again
            self._tell(None, f"ZooKeeper {self.url} has no node {path!r} yet (no master has joined)")
            return True
        self._last_failure = ""
        node = leader_of(children)
        if node is None:
            self._leader_node = None
            self._tell(None, f"no master in the ZooKeeper group {self.url}")
            return True
        if node == self._leader_node:
            return True
        try:
            data, _ = client.get_async(f"{path.rstrip('/')}/{node}").get(timeout=timeout)
        except NoNodeError:
            return False  # gone before it was read (the children watch has fired too)
        self._leader_node = node
        try:
            address = master_address(node, data)
        except ValueError as exc:
            self._tell(None, f"the leading master's node {node} in {self.url} is unusable: {exc}")
            return True
        self._tell(address, f"node {node}")
        return True

    def _watched(self, event: Any) -> None:
        """A watch fired (kazoo's thread): look again."""
        self._wake.set()

    def _tell(self, address: Optional[str], why: str) -> None:
        if self._reported == (address,) or self._stopping.is_set():
            return
        if address is None:
            logger.warning("no leading master: %s", why)
        else:
            logger.info("leading master in ZooKeeper %s: %s (%s)", self.url, address, why)
        self._reported = (address,)
        try:
            self._on_leader(address)
        except Exception:
            logger.exception("the driver failed to take the leading master %s", address)


def _describe(exc: BaseException) -> str:
    text = server_text(str(exc), 200)
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
