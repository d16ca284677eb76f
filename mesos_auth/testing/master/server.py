"""A fake Mesos master: the v1 scheduler HTTP API over real HTTP(S) on 127.0.0.1.

:class:`FakeMaster` answers ``POST /api/v1/scheduler`` as a Mesos master behind a
DC/OS security mode does (``docs/protocol.md``: modes, the v1 scheduler API): SUBSCRIBE
opens a chunked RecordIO event stream (SUBSCRIBED, HEARTBEATs, OFFERS from fake
agents, UPDATEs of launched tasks, ERRORs), and the other calls (ACCEPT, DECLINE,
KILL, ACKNOWLEDGE, RECONCILE, REVIVE, SUPPRESS, MESSAGE, TEARDOWN) act on it.
``GET /version`` answers without authentication, as a real master's does.

A request goes through the master's checks in the contract's order, and the first
one that fails answers:

1. an injected failure (:meth:`FakeMaster.fail_next_calls`);
2. not the leader: 307 to the leader (protocol-relative ``Location``), or 503;
3. still recovering: 503;
4. authentication, per security mode: 401 with ``WWW-Authenticate``;
5. not POST: 405; no Content-Type: 400; not JSON: 415;
6. a body that does not parse or validate: 400 with Mesos' text;
7. SUBSCRIBE: ``Accept`` not allowing JSON 406, a ``Mesos-Stream-Id`` header 400,
   then a 200 stream (refusals such as "Framework has been removed" or a failed
   authorization arrive on it as an ERROR event before it closes);
   other calls: unknown framework 400, principal mismatch 400, framework not
   subscribed 403, missing or stale ``Mesos-Stream-Id`` 400, then 202.

The cluster model is in ``state`` (frameworks), ``allocator`` (offers), ``tasks``
(launches, task states) and ``validation`` (Mesos' launch checks) over ``model``;
the event streams in ``streams``; authentication in ``auth``; body validation in
``calls``; the Mesos releases in ``versions``; timed work in ``timers``. Tests
read what happened from thread-safe snapshots (:attr:`~FakeMaster.frameworks`,
:attr:`~FakeMaster.requests`, :attr:`~FakeMaster.tasks`, ...) and wait for states
with :meth:`~FakeMaster.wait_for`; faults are injected by name, as kazoo's harness
does. Where no public source settles a detail, the choice is marked "(unverified)".
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, TypeVar, Union

from mesos_auth.testing._server import Answer, FakeServer, Request, Response, Streaming, TLSOption
from mesos_auth.testing.master.auth import (
    ANONYMOUS_PRINCIPAL,
    DISABLED,
    STRICT,
    Authenticator,
    AuthOutcome,
    TokenVerifier,
    mask_headers,
)
from mesos_auth.testing.master.auth import security_mode as normalise_security_mode
from mesos_auth.testing.master.calls import (
    VALIDATE_PREFIX,
    BadCall,
    id_value,
    parse_call,
    peek_call_type,
    principal_mismatch,
    validate_call,
)
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
from mesos_auth.testing.master.state import SUBSCRIBED, Cluster, FrameworkState, framework_roles
from mesos_auth.testing.master.streams import StreamHub
from mesos_auth.testing.master.timers import Clock, ManualClock, TimerThread, default_clock
from mesos_auth.testing.master.versions import DEFAULT_RELEASE, MesosRelease, release

__all__ = [
    "ANONYMOUS_PRINCIPAL",
    "DEFAULT_TASK_STATES",
    "MESOS_VERSION",
    "SCHEDULER_PATH",
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

SCHEDULER_PATH = "/api/v1/scheduler"
VERSION_PATH = "/version"
#: Mesos' state endpoint (on DC/OS, /mesos/master/state through Admin Router):
#: an authenticated DC/OS API for a service's own calls, as in examples/frameworks/call_dcos_api.py.
STATE_PATH = "/master/state"

#: The Mesos release a fake master claims to be unless told otherwise: the Mesos of
#: DC/OS 2.2 (``configure.ac`` at the commit it pins). pymesos reads the version
#: from /version to decide on the GPU_RESOURCES capability.
MESOS_VERSION = DEFAULT_RELEASE.version

DEFAULT_TASK_STATES = ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")

#: 127.0.0.1 as Mesos puts it in ``MasterInfo.ip``: the address in network byte
#: order read as a little-endian uint32.
_LOOPBACK_IP = 16777343

_JSON = "application/json"
_LEADER = "leader"
_FOLLOWER = "follower"
_NO_LEADER = "none"

T = TypeVar("T")


@dataclass
class _InjectedFailure:
    remaining: int
    status: int
    body: str
    call_types: Optional[Set[str]]

    def matches(self, call_type: Optional[str]) -> bool:
        return self.call_types is None or call_type in self.call_types


class _Exchange:
    """What the checks learn about one scheduler request as it goes through them."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.call_type = peek_call_type(request.body) if request.path == SCHEDULER_PATH else None
        self.call: Optional[Dict[str, Any]] = None
        self.auth: Optional[AuthOutcome] = None

    @property
    def principal(self) -> Optional[str]:
        return self.auth.principal if self.auth is not None else None


class FakeMaster(FakeServer):
    """A Mesos master with fake agents, for tests; a context manager, usable without pytest.

    ``security_mode``: ``"disabled"``, ``"permissive"`` or ``"strict"`` (or a str
    enum with those values). ``iam``: anything with ``verify_token(token) -> uid``
    raising :class:`~mesos_auth.testing.errors.TokenRejected` (a ``FakeIAM``).
    ``basic_auth``: principal -> secret, plain Mesos HTTP Basic authentication.
    ``grants``: principal -> roles it may register with, enforced in strict mode
    only (None: everything allowed). ``agents``: a count of default agents or a
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
    the validation texts and is what ``/version`` reports. ``ssl_downgrade``:
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
        super().__init__(tls=tls, plain_http=plain_http, ssl_downgrade=ssl_downgrade)
        self.security_mode = mode
        self.iam = iam
        self.heartbeat_interval = float(heartbeat_interval)
        self.master_id = str(uuid.uuid4())
        self._grants = {p: list(roles) for p, roles in grants.items()} if grants is not None else None
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
        )
        self._cluster.start()
        self._hub = StreamHub(self._changed, self.heartbeat_interval, self._cluster.stream_lost, self.record_error)
        self._requests: List[RecordedRequest] = []
        self._failures: List[_InjectedFailure] = []
        self._leadership = _LEADER
        self._leader: Optional[Union[FakeMaster, str]] = None
        self._recovering = False

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
            self._failures.clear()
            self._hub.silent = False
            self._leadership = _LEADER
            self._leader = None
            self._recovering = False
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
        self._change_leadership(_FOLLOWER, leader)

    follow = set_leader

    def set_no_leader(self) -> None:
        """No leader known: every scheduler call gets 503."""
        self._change_leadership(_NO_LEADER, None)

    def become_leader(self) -> None:
        self._change_leadership(_LEADER, None)

    def _change_leadership(self, leadership: str, leader: Optional[Union[FakeMaster, str]]) -> None:
        with self._changed:
            stepped_down = self._leadership == _LEADER and leadership != _LEADER
            self._leadership = leadership
            self._leader = leader
            self._changed.notify_all()
        if stepped_down:
            self.drop_streams()

    def set_recovering(self, recovering: bool = True) -> None:
        """A leader that has not finished recovery answers 503."""
        with self._changed:
            self._recovering = recovering
            self._changed.notify_all()

    def _leader_location(self, scheme: str) -> str:
        leader = self._leader
        hostport = f"127.0.0.1:{leader.port(scheme)}" if isinstance(leader, FakeMaster) else str(leader)
        return f"//{hostport}{SCHEDULER_PATH}"

    # -- permissions -------------------------------------------------------------------

    def grant(self, principal: str, roles: Iterable[str]) -> None:
        """Allow ``principal`` to register with ``roles`` (added to what it has), from now on.

        Grants are enforced in strict mode only. A master made without ``grants``
        allows everything; its first grant starts a table, so from then on only
        granted principals register with those roles. :meth:`reset` keeps grants.
        """
        if not isinstance(principal, str) or not principal:
            raise ValueError("principal must be a non-empty string")
        if isinstance(roles, str):
            raise TypeError("roles must be a collection of role names, not a single string")
        added = [str(role) for role in roles]
        with self._changed:
            if self._grants is None:
                self._grants = {}
            held = self._grants.setdefault(principal, [])
            held.extend(role for role in added if role not in held)
            self._changed.notify_all()

    @property
    def grants(self) -> Optional[Dict[str, List[str]]]:
        """Principal -> roles it may register with (a copy); None when everything is allowed."""
        with self._changed:
            if self._grants is None:
                return None
            return {principal: list(roles) for principal, roles in self._grants.items()}

    # -- faults ------------------------------------------------------------------------

    def fail_next_calls(
        self, n: int = 1, status: int = 503, body: str = "", *, call_types: Optional[Iterable[str]] = None
    ) -> None:
        """Answer the next ``n`` scheduler requests (of ``call_types``, if given) with ``status``."""
        kinds = {kind.upper() for kind in call_types} if call_types is not None else None
        with self._changed:
            self._failures.append(_InjectedFailure(n, status, body, kinds))

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

    # -- introspection -------------------------------------------------------------------

    @property
    def frameworks(self) -> Dict[str, FrameworkRecord]:
        with self._changed:
            return self._cluster.framework_records()

    @property
    def tasks(self) -> Dict[str, List[str]]:
        """Task id -> every state it went through, from ``TASK_STAGING`` on."""
        with self._changed:
            return {tid: list(record.states) for tid, record in self._cluster.task_records().items()}

    @property
    def task_records(self) -> Dict[str, TaskRecord]:
        with self._changed:
            return self._cluster.task_records()

    @property
    def offers(self) -> Dict[str, OfferRecord]:
        """Outstanding offers: made and neither accepted, declined nor rescinded."""
        with self._changed:
            return self._cluster.offer_records()

    @property
    def agents(self) -> Dict[str, AgentRecord]:
        with self._changed:
            return self._cluster.agent_records()

    @property
    def executors(self) -> Dict[str, ExecutorRecord]:
        """Executors the master added and that have not ended, by executor id."""
        with self._changed:
            return self._cluster.executor_records()

    @property
    def mesos_version(self) -> str:
        """The Mesos version this master claims to be (``/version``, ``MasterInfo``)."""
        return self.release.version

    @property
    def allocation_interval(self) -> float:
        return self._cluster.allocator.allocation_interval

    @property
    def allocation_runs(self) -> int:
        """Allocation passes made so far (batches and immediate ones), as Mesos'
        ``allocator/mesos/allocation_runs``: wait for it to grow to know a batch ran."""
        with self._changed:
            return self._cluster.allocator.runs

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    @property
    def streams(self) -> Dict[str, StreamRecord]:
        return self._hub.records()

    @property
    def messages(self) -> List[Dict[str, Any]]:
        """MESSAGE calls' payloads, with the sender's ``framework_id``."""
        with self._changed:
            return [dict(m) for m in self._cluster.model.messages]

    def calls_of_type(self, call_type: str) -> List[RecordedRequest]:
        kind = call_type.upper()
        return [r for r in self.requests if r.call_type == kind]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
        """Wait until ``predicate()`` is truthy and return it; TimeoutError after ``timeout``.

        Wakes on every change of the master's state (and at least every 0.25 s, for
        predicates about things the master does not see).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    errors = "; server errors: " + " | ".join(self.errors) if self.errors else ""
                    raise TimeoutError(f"{what or predicate!r} not true after {timeout} s{errors}")
                self._changed.wait(min(remaining, 0.25))

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        exchange = _Exchange(request)
        if request.path == VERSION_PATH:
            answer: Answer = self._version(request)
        elif request.path == SCHEDULER_PATH:
            answer = self._scheduler(exchange)
        elif request.path == STATE_PATH:
            answer = self._check_authentication(exchange) or self._state(request)
        else:
            answer = Response.text(404, "")
        self._record(exchange, answer)
        return answer

    def _version(self, request: Request) -> Response:
        """libprocess' ``/version`` (``src/version/version.cpp``) of the chosen release."""
        if request.method not in ("GET", "HEAD"):
            return Response.text(405, f"Expecting one of {{ 'GET' }}, but received '{request.method}'")
        info = {
            "version": self.release.version,
            "build_date": "2020-11-19 10:00:00",  # (unverified) a fixed, plausible build
            "build_time": 1605780000.0,
            "build_user": "fake-mesos",
            "git_sha": self.release.commit,
            "git_tag": self.release.version,
        }
        return Response.json(200, info)

    def _state(self, request: Request) -> Response:
        """A small subset of Mesos' ``/master/state``: the master and its frameworks."""
        if request.method not in ("GET", "HEAD"):
            return Response.text(405, f"Expecting one of {{ 'GET' }}, but received '{request.method}'")
        tasks = self.task_records
        frameworks = [
            {
                "id": record.framework_id,
                "name": record.name,
                "principal": record.principal,
                "roles": list(record.roles),
                "active": record.state == "subscribed",
                "tasks": [t.task_id for t in tasks.values() if t.framework_id == record.framework_id],
            }
            for record in self.frameworks.values()
        ]
        return Response.json(200, {"id": self.master_id, "version": self.mesos_version, "frameworks": frameworks})

    def _record(self, exchange: _Exchange, answer: Answer) -> None:
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

    def _scheduler(self, exchange: _Exchange) -> Answer:
        checks: Tuple[Callable[[_Exchange], Optional[Answer]], ...] = (
            self._check_injected_failure,
            self._check_leadership,
            self._check_recovery,
            self._check_authentication,
            self._check_method,
            self._check_content_type,
            self._check_body,
        )
        for check in checks:
            answer = check(exchange)
            if answer is not None:
                return answer
        call, auth = exchange.call, exchange.auth
        if call is None or auth is None:  # pragma: no cover - the checks above set both
            raise RuntimeError("a scheduler request passed the checks without a call")
        if call["type"] == "SUBSCRIBE":
            return self._subscribe(exchange.request, call, auth)
        return self._call(exchange.request, call, auth)

    # The checks, in the contract's order; each answers or lets the request through.

    def _check_injected_failure(self, exchange: _Exchange) -> Optional[Answer]:
        # (unverified: a test fault, not Mesos) First of all, so that a test can fail
        # any scheduler request, even one a non-leader would redirect.
        with self._changed:
            for failure in self._failures:
                if failure.remaining > 0 and failure.matches(exchange.call_type):
                    failure.remaining -= 1
                    self._failures = [f for f in self._failures if f.remaining > 0]
                    return Response.text(failure.status, failure.body)
        return None

    def _check_leadership(self, exchange: _Exchange) -> Optional[Answer]:
        with self._changed:
            if self._leadership == _FOLLOWER:
                location = self._leader_location(exchange.request.scheme)
                return Response(307, b"", [("Location", location)])
            if self._leadership == _NO_LEADER:
                return Response.text(503, "No leader elected")
        return None

    def _check_recovery(self, exchange: _Exchange) -> Optional[Answer]:
        with self._changed:
            if self._recovering:
                return Response.text(503, "Master has not finished recovery")
        return None

    def _check_authentication(self, exchange: _Exchange) -> Optional[Answer]:
        # Outside the lock: the verifier is someone else's code.
        exchange.auth = self._authenticator.authenticate(exchange.request.header("Authorization"))
        if exchange.auth.ok:
            return None
        challenges = [("WWW-Authenticate", challenge) for challenge in self._authenticator.challenges]
        # (unverified) The body of the 401: libprocess' "Unauthorized." style, no detail.
        return Response.text(401, "Unauthorized.", challenges)

    @staticmethod
    def _check_method(exchange: _Exchange) -> Optional[Answer]:
        method = exchange.request.method
        if method != "POST":
            return Response.text(405, f"Expecting one of {{ 'POST' }}, but received '{method}'", [("Allow", "POST")])
        return None

    @staticmethod
    def _check_content_type(exchange: _Exchange) -> Optional[Answer]:
        content_type = exchange.request.header("Content-Type")
        if content_type is None:
            return Response.text(400, "Expecting 'Content-Type' to be present")
        # (unverified) Parameters such as "; charset=utf-8" are tolerated. The fake
        # speaks JSON only, so application/x-protobuf is refused like any other type.
        if content_type.split(";")[0].strip().lower() != _JSON:
            return Response.text(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
        return None

    @staticmethod
    def _check_body(exchange: _Exchange) -> Optional[Answer]:
        try:
            call = parse_call(exchange.request.body)
        except BadCall as exc:
            return Response.text(400, str(exc))
        exchange.call = call
        error = validate_call(call, exchange.principal)
        if error is not None:
            return Response.text(400, VALIDATE_PREFIX + error)
        return None

    # -- SUBSCRIBE ----------------------------------------------------------------------------

    def _subscribe(self, request: Request, call: Dict[str, Any], auth: AuthOutcome) -> Answer:
        if not _accepts_json(request.header("Accept")):
            return Response.text(406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")
        if request.header("Mesos-Stream-Id") is not None:
            return Response.text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
        subscribe = call["subscribe"]
        info = dict(subscribe["framework_info"])
        if auth.principal is not None and not info.get("principal"):
            info["principal"] = auth.principal  # Mesos fills in the authenticated principal
        framework_id = id_value(call, "framework_id")
        with self._changed:
            stream = self._hub.new_stream(str(uuid.uuid4()))
            # Mesos' order: removed framework, then authorization, then principal change.
            refusal = (
                self._cluster.removed_error(framework_id)
                or self._authorization_error(info)
                or self._cluster.principal_change_error(framework_id, info)
            )
            if refusal is not None:
                stream.refuse(refusal)
            else:
                self._cluster.subscribe(
                    stream,
                    info,
                    framework_id,
                    auth.recorded_as,
                    self._master_info(request.scheme),
                    suppressed=bool(subscribe.get("suppressed_roles")),
                )
            self._changed.notify_all()
        headers = [("Content-Type", _JSON), ("Mesos-Stream-Id", stream.stream_id)]
        return Streaming(200, headers, lambda out: self._hub.serve(stream, out))

    def _authorization_error(self, info: Mapping[str, Any]) -> Optional[str]:
        """Strict mode with grants: every role must be granted to the framework's principal."""
        if self.security_mode != STRICT or self._grants is None:
            return None
        roles = framework_roles(info)
        allowed = self._grants.get(str(info.get("principal") or ""), [])
        if all(role in allowed for role in roles):
            return None
        # Mesos stringifies the role set as "{ a, b }".
        return "Not authorized to use roles '{ " + ", ".join(sorted(set(roles))) + " }'"

    # -- the other calls --------------------------------------------------------------------------

    def _call(self, request: Request, call: Dict[str, Any], auth: AuthOutcome) -> Answer:
        framework_id = id_value(call, "framework_id")
        with self._changed:
            framework = self._cluster.framework(framework_id)
            if framework is None:
                return Response.text(400, "Framework cannot be found")
            principal = auth.principal
            if principal is not None and principal != (framework.principal or ""):
                return Response.text(400, principal_mismatch(principal, framework.principal or ""))
            if framework.state != SUBSCRIBED or framework.stream is None:
                return Response.text(403, "Framework is not subscribed")
            stream_id = request.header("Mesos-Stream-Id")
            if stream_id is None:
                return Response.text(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
            if stream_id != framework.stream.stream_id:
                return Response.text(
                    400,
                    f"The stream ID '{stream_id}' included in this request didn't match the stream ID"
                    f" currently associated with framework ID {framework.framework_id}",
                )
            self._dispatch(framework, call)
            self._changed.notify_all()
        return Response(202)

    def _dispatch(self, framework: FrameworkState, call: Dict[str, Any]) -> None:
        kind = call["type"]
        allocator, tasks = self._cluster.allocator, self._cluster.tasks
        if kind == "TEARDOWN":
            self._cluster.teardown(framework)
        elif kind == "ACCEPT":
            tasks.accept(framework, call["accept"])
        elif kind == "DECLINE":
            allocator.decline(framework, call["decline"])
        elif kind == "REVIVE":
            allocator.revive(framework)
        elif kind == "SUPPRESS":
            allocator.suppress(framework)
        elif kind == "KILL":
            tasks.kill(framework, call["kill"])
        elif kind == "ACKNOWLEDGE":
            tasks.acknowledge(framework, call["acknowledge"])
        elif kind == "RECONCILE":
            tasks.reconcile(framework, call["reconcile"])
        elif kind == "MESSAGE":
            tasks.message(framework, call["message"])
        # (unverified) SHUTDOWN, REQUEST, inverse offers, operations and UPDATE_FRAMEWORK
        # are accepted (202) and recorded, but change nothing.


def _accepts_json(accept: Optional[str]) -> bool:
    """An absent Accept allows everything; otherwise one media range must cover JSON."""
    if accept is None or not accept.strip():
        return True
    for media_range in accept.split(","):
        media = media_range.split(";")[0].strip().lower()
        if media in (_JSON, "application/*", "*/*"):
            return True
    return False
