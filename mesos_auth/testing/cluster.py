"""FakeCluster: a fake IAM, a fake Mesos master and a fake Admin Router as one DC/OS cluster.

One object stands for what a framework meets on a real cluster in a given
security mode: the IAM that logs service accounts in, the master that checks
their tokens (with the IAM), Admin Router in front of both at the one cluster
URL (:attr:`FakeCluster.url`) and, with TLS on, all behind one CA whose bundle the
framework is given. It is a context manager with ``start()``/``stop()``, usable
without pytest; the pytest plugin (``mesos_auth.testing.pytest_plugin``) and the
``mesos-auth fake-cluster`` command are thin layers over it.

How each mode is laid out (``docs/protocol.md``, "Security modes"):

- ``strict``: the master serves https only (no downgrade) and refuses
  unauthenticated frameworks; permissions are enforced: the master asks the IAM's
  ACLs before a SUBSCRIBE, a launch, a RESERVE, UNRESERVE, CREATE or DESTROY
  (``mesos_auth.testing.master.authorization``), so an account must be granted
  them (:meth:`FakeCluster.create_service_account` grants the canonical set); the
  router (and the IAM) answer plain http with Admin Router's redirect to https;
- ``permissive``: the master serves https and plain http on its one port, as a
  Mesos master with ``LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true`` does, so plain
  pymesos (no TLS) works against it; tokens are checked when sent, anonymous
  frameworks allowed, permissions not enforced;
- ``disabled``: no authentication at the master (the same one-port downgrade);
  the IAM is still there, unused by the master.

In every mode the router requires an authentication token on ``/mesos/``, as
Admin Router does in all security modes (``mesos_auth.testing.router.auth``);
the master's own port (``master_url``) is what a framework inside the cluster
uses (``leader.mesos:5050``).

Service account secrets name the login endpoint through the router
(``<cluster url>/acs/api/v1/auth/login``), as DC/OS writes
``https://leader.mesos/acs/api/v1/auth/login``: Admin Router's address. The IAM's
own address stays reachable (``cluster.iam.login_endpoint``).

With ``tls=False`` everything is plain http (strict mode included, which no real
cluster does and which our client refuses: useful to test exactly that).

High availability: ``FakeCluster(masters=3, zookeeper=...)`` runs three masters that
join ZooKeeper as Mesos masters do; :attr:`FakeCluster.zookeeper_url` is what a
framework is given, :meth:`FakeCluster.fail_over` kills the leader and the next one
takes over (``mesos_auth.testing.master_group``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

from mesos_auth._files import PRIVATE_FILE_MODE, write_file
from mesos_auth.account import CREDENTIAL_ENV, ServiceAccount
from mesos_auth.ca import CA_BUNDLE_ENV
from mesos_auth.permissions import Permission, required_permissions
from mesos_auth.security_mode import SECURITY_MODE_ENV, SecurityMode
from mesos_auth.testing._server import FakeServerError
from mesos_auth.testing.agent import FakeAgent
from mesos_auth.testing.iam import DEFAULT_TOKEN_LIFETIME, FakeIAM
from mesos_auth.testing.master import DEFAULT_TASK_STATES, MESOS_VERSION, FakeMaster
from mesos_auth.testing.master.resources import AgentsOption
from mesos_auth.testing.master.timers import Clock
from mesos_auth.testing.master_group import MasterGroup
from mesos_auth.testing.router import FakeRouter
from mesos_auth.testing.tls import TestCA

__all__ = ["MASTER_URL_ENV", "FakeCluster", "PermissionLike"]

#: Our own convention (the examples read it): the master a framework should use.
MASTER_URL_ENV = "MESOS_MASTER_URL"

PathLike = Union[str, "os.PathLike[str]"]

#: A permission to add or leave out: a :class:`~mesos_auth.permissions.Permission` or ``(rid, action)``.
PermissionLike = Union[Permission, Tuple[str, str]]

#: The Linux user the accounts' tasks run as unless told otherwise: DC/OS strict
#: mode's default (``security/ent`` "Linux User Accounts") and the SDK's.
DEFAULT_TASK_USER = "nobody"


class FakeCluster:
    """A :class:`FakeIAM`, a :class:`FakeMaster` and a :class:`FakeRouter` for one security mode, TLS from one CA.

    ``security_mode``: a :class:`~mesos_auth.SecurityMode` or its name (default
    strict). ``tls``: True (default) makes a :class:`TestCA` in ``directory``; a
    ``TestCA`` is used as given; False serves plain http only. ``directory``
    holds the CA files (and is a good place for secrets); by default a new
    temporary directory, removed by :meth:`stop`.

    Passed to the master: ``heartbeat_interval``, ``agents``, ``task_states``,
    ``task_state_delay``, ``failover_timeout``, ``allocation_interval`` (seconds
    between offer batches, Mesos' default 1 s), ``mesos_version`` (None: the
    master's default release) and ``clock`` (the master's clock for offer batches
    and filters, failover timeouts and task delays, e.g. a ``ManualClock``). Passed
    to the IAM: ``token_lifetime`` and ``iam_clock`` (wall-clock seconds, by which
    tokens are issued and expire; the router checks token expiry by it too).

    ``executors``: ``"simulated"`` (default: launched tasks go through
    ``task_states``, no process runs) or ``"process"``: a :class:`FakeAgent` (at
    :attr:`agent`) runs each task's executor, or its command, as a real process with
    Mesos' executor environment, sandboxes under ``directory``, everything killed and
    reaped at :meth:`stop`. Its ``/api/v1/executor`` is served like the master
    (strict with TLS: https only; otherwise https and plain http on one port) and
    requires the executor token when ``authenticate_http_executors`` (None: in
    strict mode only, unverified for DC/OS: docs/protocol.md, executor authentication).

    The servers listen from construction on (ports are known at once) and answer
    after :meth:`start`. A cluster is started once: it cannot be restarted after
    :meth:`stop`.
    """

    def __init__(
        self,
        security_mode: Union[SecurityMode, str] = SecurityMode.STRICT,
        *,
        tls: Union[bool, TestCA] = True,
        directory: Optional[PathLike] = None,
        heartbeat_interval: float = 15.0,
        agents: AgentsOption = 1,
        task_states: Sequence[str] = DEFAULT_TASK_STATES,
        task_state_delay: float = 0.0,
        failover_timeout: Optional[float] = None,
        allocation_interval: float = 1.0,
        mesos_version: Optional[str] = None,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        clock: Optional[Clock] = None,
        iam_clock: Clock = time.time,
        executors: str = "simulated",
        authenticate_http_executors: Optional[bool] = None,
        masters: int = 1,
        zookeeper: Union[str, ZooKeeperHosts, None] = None,
        zookeeper_path: str = "/mesos",
    ) -> None:
        self._mode = SecurityMode.parse(security_mode)
        if executors not in ("simulated", "process"):
            raise ValueError(f"executors must be 'simulated' or 'process', not {executors!r}")
        zookeeper_hosts = _zookeeper_hosts(zookeeper)
        _check_masters(masters, zookeeper_hosts, executors)
        if not isinstance(tls, (bool, TestCA)):
            raise TypeError(f"tls must be True, False or a TestCA, not {tls!r}")
        self._owns_directory = directory is None
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="mesos-auth-"))
        # A directory of our own (secrets and CA keys in it) goes at stop(), or at
        # garbage collection or exit for a cluster never stopped.
        self._remove_directory: Optional[Callable[[], object]] = (
            weakref.finalize(self, shutil.rmtree, str(self.directory), ignore_errors=True)
            if self._owns_directory
            else None
        )
        self._lock = threading.Lock()
        self._secret_files: Dict[str, Tuple[ServiceAccount, Path]] = {}
        self._state = "new"
        iam: Optional[FakeIAM] = None
        made: List[FakeMaster] = []
        agent: Optional[FakeAgent] = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._ca: Optional[TestCA] = tls if isinstance(tls, TestCA) else TestCA(self.directory) if tls else None
            strict_tls = self._mode is SecurityMode.STRICT and self._ca is not None
            iam = FakeIAM(
                tls=self._ca,
                token_lifetime=token_lifetime,
                clock=iam_clock,
                # Admin Router in strict mode sends every plain-http path to https.
                redirect_http_to_https=strict_tls,
            )
            master_options: Dict[str, Any] = dict(
                security_mode=self._mode.value,
                iam=iam,
                tls=self._ca,
                # Strict mode: TLS to the master is required, no downgrade to plain http.
                # Otherwise https and plain http share the master's one port (SSL downgrade).
                plain_http=not strict_tls,
                ssl_downgrade=not strict_tls,
                allocation_interval=allocation_interval,
                mesos_version=mesos_version if mesos_version is not None else MESOS_VERSION,
                heartbeat_interval=heartbeat_interval,
                agents=agents,
                task_states=task_states,
                task_state_delay=task_state_delay,
                failover_timeout=failover_timeout,
                # The master asks this IAM's ACLs (enforced in strict mode only).
                authorizer=iam,
                clock=clock,
            )
            for _ in range(masters):
                made.append(FakeMaster(**master_options))
            master = made[0]
            router = FakeRouter(
                iam=iam,
                master=master,
                tls=self._ca,
                redirect_http_to_https=strict_tls,
                clock=iam.now,
            )
            if executors == "process":
                agent = FakeAgent(
                    master,
                    tls=self._ca,
                    plain_http=not strict_tls,
                    ssl_downgrade=not strict_tls,
                    authenticate_http_executors=(
                        self._mode is SecurityMode.STRICT
                        if authenticate_http_executors is None
                        else authenticate_http_executors
                    ),
                    directory=self.directory / "agent",
                )
        except BaseException:
            for server in [agent, *made, iam]:
                if server is not None:
                    server.stop()  # closes the listeners it bound
            self._cleanup_directory()
            raise
        self._iam, self._router = iam, router
        self._masters = MasterGroup(
            made,
            zookeeper_hosts=zookeeper_hosts,
            zookeeper_path=zookeeper_path,
            on_new_leader=router.set_leader,
        )
        self._agent: Optional[FakeAgent] = agent

    def __repr__(self) -> str:
        masters = f" masters={len(self.masters)}" if len(self.masters) > 1 else ""
        return f"<FakeCluster {self._mode.value} url={self.url} master={self.master_url}{masters} {self._state}>"

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> FakeCluster:
        """Start serving (the IAM first, then the master, then the router); no-op when running."""
        with self._lock:
            if self._state == "stopped":
                raise RuntimeError("a FakeCluster cannot be restarted after stop(): make a new one")
            if self._state == "running":
                return self
            self._state = "running"
        try:
            self._iam.start()
            self._masters.start()
            if self._agent is not None:
                self._agent.start()
            self._router.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the router, the master (its streams end), then the IAM; remove the temporary directory.

        Idempotent. A directory given to the constructor is left as it is.
        """
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
        try:
            self._router.stop()
            if self._agent is not None:
                self._agent.stop()  # every process killed and reaped, sandboxes removed
        finally:
            try:
                self._masters.stop()
            finally:
                try:
                    self._iam.stop()
                finally:
                    self._cleanup_directory()

    def _cleanup_directory(self) -> None:
        """Remove the temporary directory made for this cluster (the CA made in it too); idempotent."""
        if self._remove_directory is not None:
            self._remove_directory()

    def __enter__(self) -> FakeCluster:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state == "running"

    def check(self) -> None:
        """Raise :class:`~mesos_auth.testing._server.FakeServerError` if a server thread failed.

        Every fake is looked at; the error lists what each of them recorded.
        """
        problems: List[str] = []
        servers: List[Any] = [self._iam, self._router]
        if self._agent is not None:
            servers.append(self._agent)
        for server in servers:
            try:
                server.check()
            except FakeServerError as exc:
                problems.append(str(exc))
        problems += self._masters.errors()
        if problems:
            raise FakeServerError("\n".join(problems))

    def reset(self) -> None:
        """Back to a fresh cluster for the next test, keeping accounts and permissions.

        Resets the IAM (logins, records, faults, revocations, clock shift), the
        masters (frameworks, tasks, offers, records, faults; the current leader stays
        leader) and the router (records, faults; it leads to the leading master again).
        Server-thread errors are cleared too: call :meth:`check` first.
        """
        self._router.set_leader(self.leader)
        self._router.reset()
        if self._agent is not None:
            self._agent.reset()  # processes killed and reaped, executors and tasks forgotten
        self._masters.reset()
        self._iam.reset()

    # -- parts and addresses ------------------------------------------------------------

    @property
    def iam(self) -> FakeIAM:
        return self._iam

    @property
    def master(self) -> FakeMaster:
        """The leading master (with several masters, it changes at :meth:`fail_over`)."""
        return self._masters.leader

    @property
    def leader(self) -> FakeMaster:
        """The leading master: :attr:`master` by the name a multi-master test reads best."""
        return self._masters.leader

    @property
    def masters(self) -> Tuple[FakeMaster, ...]:
        """Every master, leader and followers, in the order they were made."""
        return self._masters.masters

    @property
    def zookeeper_url(self) -> Optional[str]:
        """``zk://<hosts>/mesos``: where frameworks find the leader; None without ZooKeeper."""
        return self._masters.zookeeper_url

    @property
    def failovers(self) -> int:
        """How many times :meth:`fail_over` made a new leader."""
        return self._masters.failovers

    def fail_over(self, to: Optional[FakeMaster] = None) -> FakeMaster:
        """Kill the leading master; the next (``to``, or the lowest ZooKeeper sequence) leads. Returns it.

        What frameworks see is a real failover: the leader's connections reset and
        its ZooKeeper node goes; the new leader knows the agents, the tasks with their
        unacknowledged updates and the frameworks that have tasks (recovered, their
        ``FrameworkInfo`` and ``failover_timeout`` kept), and frameworks re-subscribe to
        it with their ids. The old leader comes back as an empty follower. With one
        master, it restarts (the same steps) and leads again.
        """
        return self._masters.fail_over(to)

    @property
    def agent(self) -> FakeAgent:
        """The agent that runs tasks as processes (``executors="process"``); AttributeError otherwise."""
        if self._agent is None:
            raise AttributeError("this FakeCluster simulates its tasks: make it with executors='process'")
        return self._agent

    @property
    def router(self) -> FakeRouter:
        """Admin Router: the cluster URL's server."""
        return self._router

    @property
    def url(self) -> str:
        """The cluster URL (Admin Router): https when TLS is on, e.g. ``https://127.0.0.1:<port>``.

        ``/acs/api/v1/...`` reaches the IAM, ``/mesos/...`` the master (a token
        required), ``/ca/dcos-ca.crt`` the CA certificate.
        """
        return self._router.url

    @property
    def ca(self) -> Optional[TestCA]:
        """The CA behind both servers' certificates; None without TLS."""
        return self._ca

    @property
    def ca_bundle(self) -> Optional[str]:
        """Path of the CA certificate to give a framework (``ca_bundle=``); None without TLS."""
        return self._ca.ca_bundle if self._ca is not None else None

    @property
    def tls(self) -> bool:
        return self._ca is not None

    @property
    def security_mode(self) -> SecurityMode:
        return self._mode

    @property
    def master_url(self) -> str:
        """The master's own port for a framework: https when TLS is on, else http.

        Outside strict mode the same port answers plain http too (:attr:`master_http_url`).
        """
        return self.leader.url

    @property
    def master_http_url(self) -> Optional[str]:
        """The master's plain-http address (its one port outside strict mode); None in strict mode with TLS."""
        leader = self.leader
        return leader.http_url if leader.plain_http else None

    @property
    def login_endpoint(self) -> str:
        """The login URL written into the accounts' secrets: the IAM through the router (https with TLS)."""
        return self._router.login_endpoint

    # -- accounts --------------------------------------------------------------------

    def create_service_account(
        self,
        uid: str,
        *,
        roles: Iterable[str] = ("*",),
        task_user: Union[str, Iterable[str]] = DEFAULT_TASK_USER,
        extra_permissions: Iterable[PermissionLike] = (),
        missing_permissions: Iterable[PermissionLike] = (),
        write_secret_to: Optional[PathLike] = None,
    ) -> ServiceAccount:
        """A service account with a fresh key pair, known to the IAM and granted what a framework needs.

        :meth:`grant_permissions` grants the canonical strict-mode set for ``roles``
        and ``task_user`` (a user, or several), less ``missing_permissions``, plus
        ``extra_permissions``. The permissions matter in strict mode, where the
        master enforces them. With ``write_secret_to`` the secret (the DC/OS JSON,
        private key included) is written to that file with mode 0600, and
        :meth:`environment` names the file instead of inlining the JSON.
        """
        account = self._iam.create_account(uid, endpoint=self.login_endpoint)
        self.grant_permissions(
            uid,
            roles=roles,
            task_user=task_user,
            extra_permissions=extra_permissions,
            missing_permissions=missing_permissions,
        )
        with self._lock:
            self._secret_files.pop(uid, None)
        if write_secret_to is not None:
            self.write_secret(account, write_secret_to)
        return account

    def grant_permissions(
        self,
        uid: str,
        *,
        roles: Iterable[str] = ("*",),
        task_user: Union[str, Iterable[str]] = DEFAULT_TASK_USER,
        extra_permissions: Iterable[PermissionLike] = (),
        missing_permissions: Iterable[PermissionLike] = (),
    ) -> List[Permission]:
        """Grant ``uid`` (through the IAM) what a framework with its principal needs; returns what was granted.

        The canonical set (``mesos_auth.permissions.required_permissions`` with
        reservations and volumes, as the DC/OS SDK's template): for each of ``roles``
        ``framework:role:<r> create`` and, for roles other than ``*``, ``reservation:role:<r>``
        and ``volume:role:<r> create``; ``task:user:<u> create`` for each task user;
        ``reservation:principal:<uid>`` and ``volume:principal:<uid> delete``. Then less
        ``missing_permissions`` and plus ``extra_permissions`` (each a ``Permission``
        or ``(rid, action)``). For a framework that subscribes as ``uid``, runs its
        tasks as one of ``task_user`` and uses ``roles``.
        """
        role_list = [roles] if isinstance(roles, str) else [str(role) for role in roles]
        users = [task_user] if isinstance(task_user, str) else [str(user) for user in task_user]
        info: Dict[str, Any] = {"principal": uid, "roles": role_list, "capabilities": [{"type": "MULTI_ROLE"}]}
        canonical = required_permissions(info, task_users=users, reserve=True, volumes=True, principal=uid)
        left_out = {_as_pair(p) for p in missing_permissions}
        granted = [p for p in canonical if (p.rid, p.action) not in left_out]
        for extra in extra_permissions:
            permission = extra if isinstance(extra, Permission) else Permission(*_as_pair(extra), "granted by the test")
            if (permission.rid, permission.action) not in {(p.rid, p.action) for p in granted}:
                granted.append(permission)
        for permission in granted:
            self._iam.grant_permission(uid, permission.rid, permission.action, description=permission.why)
        return granted

    def write_secret(self, account: ServiceAccount, path: PathLike) -> Path:
        """Write ``account``'s secret JSON to ``path``, readable by the owner only (0600)."""
        target = Path(path)
        # A new 0600 file renamed over the target: never world-readable, and an
        # existing file's looser mode is not kept.
        text = json.dumps(account.to_info(), indent=2) + "\n"
        write_file(target, text.encode("utf-8"), mode=PRIVATE_FILE_MODE, force=True)
        with self._lock:
            self._secret_files[account.uid] = (account, target)
        return target

    def secret_file(self, account: ServiceAccount) -> Optional[Path]:
        """Where :meth:`write_secret` put this account's secret, if it did."""
        with self._lock:
            entry = self._secret_files.get(account.uid)
        if entry is None or entry[0] is not account:
            return None
        return entry[1]

    def environment(self, account: Optional[ServiceAccount] = None) -> Dict[str, str]:
        """The environment variables a framework needs to run against this cluster.

        ``DCOS_SERVICE_ACCOUNT_CREDENTIAL`` (the secret file's path when one was
        written, else the secret's JSON inline; left out without an account),
        ``MESOS_AUTH_CA_BUNDLE`` (with TLS only), ``MESOS_AUTH_SECURITY_MODE``
        and ``MESOS_MASTER_URL`` (our own convention: the ``zk://`` URL when the
        cluster has ZooKeeper, else the leader's address). The values hold the private
        key when inlined: give them to the framework's process, never to a log.
        """
        env: Dict[str, str] = {}
        if account is not None:
            path = self.secret_file(account)
            env[CREDENTIAL_ENV] = str(path) if path is not None else json.dumps(account.to_info())
        if self.ca_bundle is not None:
            env[CA_BUNDLE_ENV] = self.ca_bundle
        env[SECURITY_MODE_ENV] = self._mode.value
        env[MASTER_URL_ENV] = self.zookeeper_url or self.master_url
        return env


class ZooKeeperHosts(Protocol):
    """A running ZooKeeper (``mesos_auth.testing.zookeeper.ZooKeeperServer``): its ``hosts`` string."""

    @property
    def hosts(self) -> str: ...


def _zookeeper_hosts(zookeeper: Union[str, ZooKeeperHosts, None]) -> Optional[str]:
    if zookeeper is None or isinstance(zookeeper, str):
        if isinstance(zookeeper, str) and (not zookeeper or "://" in zookeeper or "/" in zookeeper):
            raise ValueError(
                f"zookeeper takes the hosts, e.g. '127.0.0.1:2181' or 'zk1:2181,zk2:2181', not {zookeeper!r} "
                "(the path is zookeeper_path=)"
            )
        return zookeeper
    return str(zookeeper.hosts)


def _check_masters(masters: int, zookeeper_hosts: Optional[str], executors: str) -> None:
    if isinstance(masters, bool) or not isinstance(masters, int) or masters < 1:
        raise ValueError(f"masters must be a positive count, not {masters!r}")
    if masters > 1 and zookeeper_hosts is None:
        raise ValueError(
            f"{masters} masters need ZooKeeper, where frameworks find the leader: pass zookeeper= "
            "(a mesos_auth.testing.ZooKeeperServer or its hosts, e.g. '127.0.0.1:2181')"
        )
    if masters > 1 and executors == "process":
        raise ValueError(
            "executors='process' runs one agent bound to one master: use executors='simulated' with several masters"
        )


def _as_pair(permission: PermissionLike) -> Tuple[str, str]:
    if isinstance(permission, Permission):
        return (permission.rid, permission.action)
    rid, action = permission
    return (str(rid), str(action))
