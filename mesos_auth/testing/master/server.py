"""A fake Mesos master: the v1 scheduler HTTP API over real HTTP(S) on 127.0.0.1.

:class:`FakeMaster` answers ``POST /api/v1/scheduler`` as a Mesos master behind a
DC/OS security mode does (``docs/protocol.md``: modes, the v1 scheduler API): SUBSCRIBE
opens a chunked RecordIO event stream (SUBSCRIBED, HEARTBEATs, OFFERS from fake
agents, UPDATEs of launched tasks, ERRORs), and the other calls (ACCEPT, DECLINE,
KILL, ACKNOWLEDGE, RECONCILE, REVIVE, SUPPRESS, MESSAGE, TEARDOWN) act on it.
``GET /version`` answers without authentication, as a real master's does.

This module holds the master together: its options, life cycle, addresses,
leadership, its authorizer and injected faults, and which module answers a request.
The parts are modules of their own:

- ``checks``: in which order the master checks a scheduler request (leadership,
  recovery, authentication, method, Content-Type, body), the first failure answering;
- ``scheduler_api``: how it answers a checked call: SUBSCRIBE's stream, the other calls;
- ``routes``: ``/version``, ``/master/state`` and, in releases before 1.8,
  ``/master/state.json``;
- ``auth``: who sent a request, per security mode; ``calls``: parsing and validating
  ``scheduler::Call`` bodies; ``authorization``: what a strict master asks the IAM
  (SUBSCRIBE, LAUNCH, LAUNCH_GROUP, RESERVE, UNRESERVE, CREATE, DESTROY) and its
  refusals; ``operations``: dropping refused operations, per release;
- ``state`` (frameworks), ``allocator`` (offers), ``tasks`` (launches, task states)
  and ``validation`` (Mesos' launch checks), over the tables of ``model``;
  ``resources``: agents and scalar resources;
- ``events`` and ``streams``: the events and the RecordIO streams that carry them;
- ``versions``: the Mesos releases DC/OS ships and where they differ;
- ``timers``: timed work by an injectable clock;
- ``records`` and ``snapshots``: what tests read, as thread-safe snapshots
  (:attr:`~FakeMaster.frameworks`, :attr:`~FakeMaster.requests`,
  :attr:`~FakeMaster.tasks`, ...), and :meth:`~FakeMaster.wait_for` a state.

Faults are injected by name, as kazoo's harness does. Where no public source settles
a detail, the choice is marked "(unverified)".
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from mesos_auth.permissions.model import register_with_role
from mesos_auth.testing._server import Answer, FakeServer, Request, Response, Streaming, TLSOption
from mesos_auth.testing.master import operator_api
from mesos_auth.testing.master.auth import (
    ANONYMOUS_PRINCIPAL,
    DISABLED,
    STRICT,
    Authenticator,
    TokenVerifier,
    mask_headers,
)
from mesos_auth.testing.master.auth import security_mode as normalise_security_mode
from mesos_auth.testing.master.authorization import MasterAuthorizer, PermissionChecker
from mesos_auth.testing.master.checks import (
    FOLLOWER,
    LEADER,
    NO_LEADER,
    SCHEDULER_PATH,
    Exchange,
    InjectedFailure,
    RequestChecks,
)
from mesos_auth.testing.master.model import TaskRunner
from mesos_auth.testing.master.records import (
    AgentRecord,
    ExecutorRecord,
    FrameworkRecord,
    OfferRecord,
    RecordedRequest,
    StreamRecord,
    TaskRecord,
)
from mesos_auth.testing.master.resources import AgentsOption, AgentSpec, agent_specs
from mesos_auth.testing.master.routes import STATE_PATH, VERSION_PATH, state_answer, state_path, version_answer
from mesos_auth.testing.master.scheduler_api import SchedulerAPI
from mesos_auth.testing.master.snapshots import MasterSnapshots
from mesos_auth.testing.master.state import Cluster
from mesos_auth.testing.master.streams import StreamHub
from mesos_auth.testing.master.timers import Clock, ManualClock, TimerThread, default_clock
from mesos_auth.testing.master.versions import DEFAULT_RELEASE, MesosRelease, release
from mesos_auth.testing.master.zookeeper import ZooKeeperMembership, master_info_json

__all__ = [
    "ANONYMOUS_PRINCIPAL",
    "DEFAULT_TASK_STATES",
    "MESOS_VERSION",
    "SCHEDULER_PATH",
    "STATE_PATH",
    "VERSION_PATH",
    "AgentRecord",
    "AgentSpec",
    "ExecutorRecord",
    "FakeMaster",
    "FrameworkRecord",
    "ManualClock",
    "OfferRecord",
    "RecordedRequest",
    "StreamRecord",
    "TaskRecord",
]

#: The Mesos release a fake master claims to be unless told otherwise: the Mesos of
#: DC/OS 2.2 (``configure.ac`` at the commit it pins). pymesos reads the version
#: from /version to decide on the GPU_RESOURCES capability.
MESOS_VERSION = DEFAULT_RELEASE.version

DEFAULT_TASK_STATES = ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")

#: ``FakeMaster(authorizer=...)`` left out: the ``iam``, when it can answer ``is_allowed``.
FROM_IAM: Any = object()

#: 127.0.0.1 as Mesos puts it in ``MasterInfo.ip``: the address in network byte
#: order read as a little-endian uint32.
_LOOPBACK_IP = 16777343


class FakeMaster(MasterSnapshots, FakeServer):
    """A Mesos master with fake agents, for tests; a context manager, usable without pytest.

    ``security_mode``: ``"disabled"``, ``"permissive"`` or ``"strict"`` (or a str
    enum with those values). ``iam``: anything with ``verify_token(token) -> uid``
    raising :class:`~mesos_auth.testing.errors.TokenRejected` (a ``FakeIAM``).
    ``basic_auth``: principal -> secret, plain Mesos HTTP Basic authentication.
    ``authorizer``: what a strict master asks before it lets a framework subscribe
    with its roles, launch tasks as a user, reserve, unreserve, create or destroy
    volumes (``authorization.py``): anything with ``is_allowed(uid, rid, action)``;
    by default the ``iam`` when it has that (a ``FakeIAM``: its ACLs, one store);
    None: no authorizer, and Mesos without one allows everything (so does a strict
    master whose ``iam`` only verifies tokens). Permissive and disabled masters
    authorize nothing, as DC/OS enforces ``dcos:mesos`` permissions in strict mode
    only. ``grants``: principal -> roles, granted through the authorizer
    (:meth:`grant`) at construction. ``agents``: a count of default agents or a
    list of :class:`AgentSpec` / dicts (``cpus``, ``mem``, ``disk``). Each launched
    task goes through ``task_states``, all at once or, with ``task_state_delay``,
    one state per delay. ``failover_timeout`` overrides the frameworks' own
    (``FrameworkInfo.failover_timeout``, 0 when unset, as in Mesos).
    ``offer_refuse_seconds`` is the filter of a DECLINE or ACCEPT without
    ``filters`` (Mesos: 5 s). Offers are made in batches every
    ``allocation_interval`` seconds (Mesos' ``--allocation_interval``, 1 s), and at
    once to a framework that subscribes or revives (see ``allocator.py``).
    ``clock`` times batches, filters, failover timeouts and task delays (heartbeats
    use real time): pass a :class:`ManualClock` to move it by hand.
    ``mesos_version``: the Mesos release to be, "1.4.4" to "1.11.0" or their
    "major.minor" (the releases DC/OS 1.10 to 2.2 ship, ``versions.py``); it picks
    the validation texts, whether ``/master/state.json`` is served (before 1.8
    only) and is what ``/version`` reports. ``ssl_downgrade``:
    https and plain http on one port, as libprocess with SSL downgrade.
    """

    def __init__(
        self,
        *,
        security_mode: Any = DISABLED,
        iam: Optional[TokenVerifier] = None,
        tls: TLSOption = None,
        plain_http: bool = True,
        heartbeat_interval: float = 15.0,
        agents: AgentsOption = 1,
        task_states: Sequence[str] = DEFAULT_TASK_STATES,
        task_state_delay: float = 0.0,
        failover_timeout: Optional[float] = None,
        grants: Optional[Mapping[str, Sequence[str]]] = None,
        authorizer: Optional[PermissionChecker] = FROM_IAM,
        basic_auth: Optional[Mapping[str, str]] = None,
        offer_refuse_seconds: float = 5.0,
        clock: Optional[Clock] = None,
        mesos_version: str = MESOS_VERSION,
        allocation_interval: float = 1.0,
        ssl_downgrade: bool = False,
    ) -> None:
        mode = normalise_security_mode(security_mode)
        if mode == STRICT and iam is None and basic_auth is None:
            raise ValueError("a strict master needs an iam (or basic_auth) to authenticate anyone")
        if heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        if not allocation_interval > 0:
            raise ValueError("allocation_interval must be positive")
        self.release: MesosRelease = release(mesos_version)
        if authorizer is FROM_IAM:
            authorizer = iam if callable(getattr(iam, "is_allowed", None)) else None  # type: ignore[assignment]
        self.authorizer: Optional[PermissionChecker] = authorizer
        if grants and not callable(getattr(authorizer, "grant_permission", None)):
            raise TypeError("grants= needs an authorizer that can grant_permission(uid, rid, action) (a FakeIAM)")
        super().__init__(tls=tls, plain_http=plain_http, ssl_downgrade=ssl_downgrade)
        self.security_mode = mode
        self.iam = iam
        self.heartbeat_interval = float(heartbeat_interval)
        self.master_id = str(uuid.uuid4())
        self._authenticator = Authenticator(mode, iam, basic_auth)
        self._clock: Clock = clock or default_clock
        self._changed = threading.Condition(threading.RLock())
        self._timers = TimerThread(self._clock, name="FakeMaster-timers", on_error=self.record_error)
        self._cluster = Cluster(
            master_id=self.master_id,
            agents=agent_specs(agents),
            release=self.release,
            task_states=task_states,
            task_state_delay=task_state_delay,
            failover_timeout=failover_timeout,
            offer_refuse_seconds=offer_refuse_seconds,
            allocation_interval=allocation_interval,
            heartbeat_interval=self.heartbeat_interval,
            clock=self._clock,
            schedule=self._schedule,
            authorizer=MasterAuthorizer(authorizer if mode == STRICT else None, self.release),
        )
        self._cluster.start()
        self._hub = StreamHub(self._changed, self.heartbeat_interval, self._cluster.stream_lost, self.record_error)
        self._checks = RequestChecks(self._changed, self._authenticator)
        self._api = SchedulerAPI(
            self._changed, self._cluster, self._hub, self._master_info, self._cluster.authorizer.subscribe_refusal
        )
        self._requests: List[RecordedRequest] = []
        for principal, roles in (grants or {}).items():
            self.grant(principal, roles)

    def __repr__(self) -> str:
        return f"<FakeMaster {self.security_mode} {self.url}>"

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> FakeMaster:
        if not self._started:
            self._timers.start()
            if isinstance(self._clock, ManualClock):
                self._clock.add_listener(self.tick)
        super().start()
        return self

    def __enter__(self) -> FakeMaster:
        return self.start()

    def before_stop(self) -> None:
        """End every stream cleanly and stop the timer thread, so that no thread lingers."""
        self.unregister_from_zookeeper()
        with self._changed:
            self._hub.stopping = True
            self._changed.notify_all()
        if isinstance(self._clock, ManualClock):
            self._clock.remove_listener(self.tick)
        self._timers.stop()
        self._hub.join(timeout=5.0)

    def reset(self) -> None:
        """Back to a fresh master (for a fake shared by many tests): streams ended,
        frameworks, tasks, offers, records, errors and faults forgotten, agents whole again."""
        with self._changed:
            self._hub.finish_all()
            self._timers.clear()
            self._cluster.reset()
            self._requests.clear()
            self._checks.reset()
            self._hub.silent = False
            self._changed.notify_all()
        self.come_up()
        self._hub.join(timeout=5.0)
        self._hub.forget_ended()
        with self._lock:
            self.errors.clear()
            self.tls_failures.clear()

    # -- addresses ---------------------------------------------------------------------

    def port(self, scheme: str = "http") -> int:
        """The port of the ``scheme`` listener (of the other one when there is none)."""
        listener = self._listeners.get(scheme) or next(iter(self._listeners.values()))
        return int(listener.server_address[1])

    _port = port  # the name early callers used

    @property
    def plain_http(self) -> bool:
        """Whether a plain-http listener is open (besides https, or alone)."""
        return "http" in self._listeners

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` of the plain-http listener (https if none): pymesos' ``master``."""
        return f"127.0.0.1:{self.port('http')}"

    @property
    def scheduler_url(self) -> str:
        return self.url + SCHEDULER_PATH

    def _master_info(self, scheme: str) -> Dict[str, Any]:
        port = self.port(scheme)
        return {
            "id": self.master_id,
            "ip": _LOOPBACK_IP,
            "port": port,
            "pid": f"master@127.0.0.1:{port}",
            "hostname": "127.0.0.1",
            "version": self.mesos_version,
            "address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": port},
        }

    # -- leadership -------------------------------------------------------------------

    def set_leader(self, leader: Union[FakeMaster, str]) -> None:
        """Become a non-leader that redirects (307) to ``leader`` (a FakeMaster or ``host:port``).

        A leading master that loses leadership exits in Mesos: its streams drop.
        """
        self._change_leadership(FOLLOWER, leader)

    follow = set_leader

    def set_no_leader(self) -> None:
        """No leader known: every scheduler call gets 503."""
        self._change_leadership(NO_LEADER, None)

    def become_leader(self) -> None:
        self._change_leadership(LEADER, None)

    def _change_leadership(self, leadership: str, leader: Optional[Union[FakeMaster, str]]) -> None:
        with self._changed:
            stepped_down = self._checks.leadership == LEADER and leadership != LEADER
            self._checks.leadership = leadership
            self._checks.leader = leader
            self._changed.notify_all()
        if stepped_down:
            self.drop_streams()

    def take_over_from(self, previous: FakeMaster) -> None:
        """Lead in ``previous``'s place, knowing what the agents report when they re-register.

        Agents, tasks (unacknowledged updates included), executors and the frameworks
        that have any come over; frameworks are *recovered* until they subscribe again
        with their id (``recovery.py``, after ``Master::recoverFramework``).
        """
        with previous._changed:
            report = previous._cluster.agents_report()
        with self._changed:
            self._hub.finish_all()
            self._cluster.recover(report)
            self._changed.notify_all()
        self.become_leader()

    def restart_as_follower(self, leader: Union[FakeMaster, str]) -> None:
        """A leader that lost leadership: Mesos exits ("Lost leadership... committing
        suicide!", ``Master::detected``) and comes back empty as a follower of ``leader``:
        its streams drop and it forgets its frameworks, tasks and offers (requests
        recorded so far are kept for the tests)."""
        self.set_leader(leader)
        with self._changed:
            self._hub.finish_all()
            self._cluster.reset()
            self._changed.notify_all()

    _zookeeper: Optional[ZooKeeperMembership] = None

    def register_in_zookeeper(self, hosts: str, path: str = "/mesos", scheme: Optional[str] = None) -> str:
        """Join the ZooKeeper group at ``path`` as a Mesos master does (``zookeeper.py``); the node's name.

        ``address.port`` is the port of ``scheme``: https when this master serves TLS, as frameworks use it.
        """
        self.unregister_from_zookeeper()
        info = self._master_info(scheme or ("https" if "https" in self._listeners else "http"))
        self._zookeeper = ZooKeeperMembership(hosts, path, master_info_json(info, self.release))
        return self._zookeeper.name

    @property
    def zookeeper_sequence(self) -> Optional[int]:
        """The sequence number of this master's ZooKeeper node; None when not in ZooKeeper."""
        membership = self._zookeeper
        return membership.sequence if membership is not None and membership.node else None

    def unregister_from_zookeeper(self) -> None:
        """Remove this master's node (a master that exits); stopping the master does it too."""
        membership, self._zookeeper = self._zookeeper, None
        if membership is not None:
            membership.leave()

    def set_recovering(self, recovering: bool = True) -> None:
        """A leader that has not finished recovery answers 503."""
        with self._changed:
            self._checks.recovering = recovering
            self._changed.notify_all()

    # -- permissions -------------------------------------------------------------------

    def grant(self, principal: str, roles: Iterable[str]) -> None:
        """Let ``principal`` register with ``roles`` from now on: ``dcos:mesos:master:framework:role:<r>
        create`` for each, granted through the authorizer (the IAM), the one store of permissions.

        A convenience for SUBSCRIBE only: launching tasks needs ``task:user:<u>`` too
        (``FakeCluster.create_service_account`` grants the whole canonical set). A
        TypeError when the master has no authorizer that can ``grant_permission``.
        """
        if not isinstance(principal, str) or not principal:
            raise ValueError("principal must be a non-empty string")
        if isinstance(roles, str):
            raise TypeError("roles must be a collection of role names, not a single string")
        grant_permission = getattr(self.authorizer, "grant_permission", None)
        if not callable(grant_permission):
            raise TypeError(
                "grant() needs an authorizer that can grant_permission(uid, rid, action) (a FakeIAM); "
                f"this master's is {type(self.authorizer).__name__}"
            )
        for role in [str(role) for role in roles]:
            permission = register_with_role(role)
            grant_permission(principal, permission.rid, permission.action)
        with self._changed:
            self._changed.notify_all()

    # -- a fake agent that runs tasks as processes ---------------------------------------

    @property
    def task_runner(self) -> Optional[TaskRunner]:
        """Who runs launched tasks (a ``FakeAgent``); None: the simulated ``task_states``."""
        with self._changed:
            return self._cluster.model.runner

    def set_task_runner(self, runner: Optional[TaskRunner]) -> None:
        """Hand launched tasks to ``runner`` from now on (None: simulate them again)."""
        with self._changed:
            self._cluster.model.runner = runner

    def agent_status_update(self, framework_id: str, status: Dict[str, Any]) -> bool:
        """The agent forwards a status update: an UPDATE on the framework's stream, with its uuid."""
        with self._changed:
            known = self._cluster.tasks.agent_update(framework_id, status)
            self._changed.notify_all()
        return known

    def agent_executor_message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None:
        with self._changed:
            self._cluster.tasks.agent_executor_message(framework_id, agent_id, executor_id, data)
            self._changed.notify_all()

    def agent_executor_exited(self, framework_id: str, agent_id: str, executor_id: str, status: int) -> None:
        with self._changed:
            self._cluster.tasks.agent_executor_exited(framework_id, agent_id, executor_id, status)
            self._changed.notify_all()

    # -- faults ------------------------------------------------------------------------

    def fail_next_calls(
        self, n: int = 1, status: int = 503, body: str = "", *, call_types: Optional[Iterable[str]] = None
    ) -> None:
        """Answer the next ``n`` scheduler requests (of ``call_types``, if given) with ``status``."""
        kinds = {kind.upper() for kind in call_types} if call_types is not None else None
        with self._changed:
            self._checks.failures.append(InjectedFailure(n, status, body, kinds))

    @property
    def pending_failures(self) -> int:
        """Requests still to be answered by :meth:`fail_next_calls` (they wait for the next
        matching requests, however late)."""
        with self._changed:
            return sum(failure.remaining for failure in self._checks.failures)

    def clear_failures(self) -> None:
        """Forget what :meth:`fail_next_calls` queued and has not used yet."""
        with self._changed:
            self._checks.failures.clear()

    def drop_streams(self) -> int:
        """Close every event stream abruptly (no closing chunk); frameworks become disconnected."""
        with self._changed:
            streams = self._hub.open_streams()
            for stream in streams:
                stream.drop()
                self._cluster.stream_lost(stream)
            self._changed.notify_all()
        return len(streams)

    def go_down(self) -> None:
        self.drop_streams()
        super().go_down()

    def go_silent(self) -> None:
        """Keep streams open but write nothing (no heartbeats, events held): a hung master."""
        with self._changed:
            self._hub.silent = True
            self._changed.notify_all()

    def speak(self) -> None:
        """End :meth:`go_silent`: held events are written, heartbeats resume."""
        with self._changed:
            self._hub.silent = False
            self._changed.notify_all()

    def rescind_offers(self, framework_id: Optional[str] = None) -> int:
        """Take back outstanding offers with RESCIND events; the resources are offered
        anew at the next batch allocation (Mesos recovers them without allocating)."""
        with self._changed:
            count = self._cluster.rescind_offers(framework_id)
            self._changed.notify_all()
        return count

    # -- time ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Run timed work that fell due (call after moving a hand-made clock)."""
        self._timers.poke()

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        def locked() -> None:
            with self._changed:
                action()
                self._changed.notify_all()

        self._timers.call_later(delay, locked)

    # -- configuration --------------------------------------------------------------------

    @property
    def mesos_version(self) -> str:
        """The Mesos version this master claims to be (``/version``, ``MasterInfo``)."""
        return self.release.version

    @property
    def allocation_interval(self) -> float:
        return self._cluster.allocator.allocation_interval

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        exchange = Exchange(request)
        if request.path == VERSION_PATH:
            answer: Answer = version_answer(request, self.release)
        elif request.path == SCHEDULER_PATH:
            answer = self._scheduler(exchange)
        elif operator_api.serves(request.path):
            answer = operator_api.answer(self, exchange)
        elif state_path(request.path, self.release):
            answer = self._checks.check_authentication(exchange) or self._state(request)
        else:
            answer = Response.text(404, "")
        self._record(exchange, answer)
        return answer

    def _scheduler(self, exchange: Exchange) -> Answer:
        refusal = self._checks.run(exchange)
        if refusal is not None:
            return refusal
        call, auth = exchange.call, exchange.auth
        if call is None or auth is None:  # pragma: no cover - the checks set both
            raise RuntimeError("a scheduler request passed the checks without a call")
        return self._api.answer(exchange.request, call, auth)

    def _state(self, request: Request) -> Response:
        tasks = self.task_records
        return state_answer(request, self.master_id, self.mesos_version, self.frameworks.values(), tasks)

    def _record(self, exchange: Exchange, answer: Answer) -> None:
        request = exchange.request
        stream_id = request.header("Mesos-Stream-Id")
        if isinstance(answer, Streaming):
            stream_id = dict(answer.headers).get("Mesos-Stream-Id", stream_id)
        auth = exchange.auth
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            scheme=request.scheme,
            call_type=exchange.call_type,
            status=answer.status,
            headers=mask_headers(request.headers),
            call=exchange.call,
            principal=auth.recorded_as if auth is not None and auth.ok else None,
            stream_id=stream_id,
        )
        with self._changed:
            self._requests.append(record)
            self._changed.notify_all()
