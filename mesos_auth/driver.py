"""AuthenticatedSchedulerDriver: pymesos' scheduler driver, made fit for DC/OS.

It is a :class:`pymesos.MesosSchedulerDriver`: the same constructor, every call
(``launchTasks``, ``acknowledgeStatusUpdate``, ...) and every scheduler callback
work as before. What it changes is the transport underneath, which in pymesos
cannot serve a DC/OS cluster (``docs/protocol.md``, "pymesos 0.3.15"):

- credentials: ``Authorization: token=<JWT>`` from a :class:`TokenProvider` on
  SUBSCRIBE and on every call, computed per request; pymesos' HTTP Basic auth
  (``principal``/``secret``) still works for plain Mesos clusters;
- the principal: in strict mode (and whenever an account is used) the framework's
  principal must be the account's uid; it is filled in when unset, and a mismatch
  fails in the constructor, before any connection;
- TLS to the master, verified against the CA bundle, on the stream and the calls;
- recovery instead of death: pymesos turns any non-2xx answer into a fatal error
  that tears the framework down through a SIGINT. Here a 401 refreshes the token
  and resends; a dropped or silent stream, an unreachable master or IAM, and
  anything malformed a master sends re-subscribe with backoff and the same
  framework id; a 307 follows the leader when the leader is part of the cluster
  (:mod:`mesos_auth.leaders`). With ``zk://`` the leader is found and followed in
  ZooKeeper (:mod:`mesos_auth.zookeeper_detector`): ``start()`` never waits for
  ZooKeeper, its restarts and session expiries leave the subscription alone, and a
  new leader cuts a backoff pause short. Only what cannot heal (principal mismatch,
  permission refused, credentials rejected, an untrusted certificate of a
  configured master, the driver's own ``timeout``) stops the driver, with a typed
  error that ``join()`` and ``run()`` raise in the caller's thread and the
  scheduler is told about. No TEARDOWN is sent on any of these paths, and nothing
  is ever raised into the main thread asynchronously;
- missing permissions named: a task, task group or operation the master refused
  for lack of a DC/OS permission reaches ``statusUpdate`` / ``operationStatusUpdate``
  as sent, and then the scheduler's ``permissionDenied`` with the permission and
  its grant command (:mod:`mesos_auth.permission_events`);
- bounds on everything: a call takes at most ``call_timeout`` in all, the event
  stream is judged silent per event (not per read), an event is at most
  ``max_event_size`` bytes, an error body is read up to a small cap, and
  ``stop()`` and ``join()`` return within about two seconds whatever the network
  does (:mod:`mesos_auth._deadline`).

The event stream is read by one thread ("mesos-auth stream"), which also runs the
scheduler's callbacks, as pymesos' IO thread did.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import logging
import re
import ssl
import threading
import time
from typing import Any, Callable, ContextManager, Deque, Dict, Mapping, Optional, Set, Tuple, Union

from pymesos import MesosSchedulerDriver
from pymesos.utils import DAY

from mesos_auth import _deadline, _http
from mesos_auth._deadline import Cancelled, Deadline
from mesos_auth._redact import safe_url, server_text
from mesos_auth.ca import CABundle, CABundleLike, resolve_ca_bundle
from mesos_auth.discovery import AccountLike, resolve_service_account
from mesos_auth.errors import (
    AuthenticationFailedError,
    ConfigurationError,
    CredentialError,
    IAMError,
    IAMProtocolError,
    IAMUnavailableError,
    InsecureTransportError,
    InvalidTokenError,
    MasterCallError,
    MasterUnreachableError,
    MesosAuthError,
    NoServiceAccountError,
    NotConnectedError,
    PermissionRefusedError,
    PlainHttpToTLSError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
    TLSVerificationError,
    TokenError,
    TokenExpiredError,
    TransportError,
    TransportTimeoutError,
    UnsafeRedirectError,
    duration,
    https_twin,
)
from mesos_auth.iam import RetryableLoginFailure, observing_login_failures
from mesos_auth.leaders import ClusterMembers
from mesos_auth.master_uri import MasterAddress, follow_redirect, is_zookeeper, parse_master, parse_masters
from mesos_auth.permission_events import permission_denied_in
from mesos_auth.permissions.roles import has_capability
from mesos_auth.recordio import DEFAULT_MAX_RECORD
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import SecurityMode, resolve_security_mode
from mesos_auth.subscription import (
    Redirect,
    Retryable,
    check_subscribe_answer,
    check_subscribed,
    error_event,
    error_message,
    read_events,
)
from mesos_auth.tokens import TokenInfo, TokenProvider
from mesos_auth.transport import (
    REPORT_AFTER,
    REPORT_EVERY,
    TLS_PROBE_TIMEOUT,
    Connection,
    FailureReporter,
    make_ssl_context,
    may_be_tls_port,
    network_problem,
    open_connection,
    speaks_tls,
    tls_error,
)
from mesos_auth.undelivered import launched_task_ids, master_disconnected_status, task_id_of
from mesos_auth.zookeeper_detector import ZooKeeperMasterDetector, ZooKeeperURL, parse_zookeeper_url

logger = logging.getLogger(__name__)

#: How a kept-alive connection that the master closed shows when it is used again
#: (over TLS the close is an SSLEOFError).
_CLOSED_BEFORE_ANSWER = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ssl.SSLEOFError)

SCHEDULER_PATH = "/api/v1/scheduler"
#: Pauses between re-subscriptions: 0.5 s doubling to 15 s (Mesos' own agents cap at 15 s).
DEFAULT_RESUBSCRIBE_BACKOFF = RetryPolicy(initial_delay=0.5, backoff=2.0, max_delay=15.0, jitter=0.2, deadline=DAY)
#: A stream that stays silent this many heartbeat intervals is given up and re-subscribed.
DEFAULT_MISSED_HEARTBEATS = 3
#: Seconds a master has to answer one call, or the start of a subscription, in all.
DEFAULT_CALL_TIMEOUT = 30.0
#: Largest event read from the stream (a big cluster's OFFERS event fits many times).
DEFAULT_MAX_EVENT_SIZE = DEFAULT_MAX_RECORD
#: Consecutive 401s to SUBSCRIBE, each with a freshly obtained token, before giving up.
MAX_SUBSCRIBE_401 = 5
#: Redirects followed at once; more in a row (masters pointing at each other) wait the backoff.
MAX_IMMEDIATE_REDIRECTS = 5
#: Seconds ``stop()`` gives TEARDOWN, and ``join()`` the stream thread once stopping.
STOP_TIMEOUT = 1.5
#: Largest answer to a call that is read.
MAX_CALL_ANSWER = 4 * 1024 * 1024
#: Largest answer to GET /version that is read (it is a few dozen bytes).
MAX_VERSION_ANSWER = 64 * 1024
#: Longest silence believed from a heartbeat interval (a day; Mesos sends one every 15 s).
MAX_SILENCE = 24 * 3600.0
#: Where a Mesos version string starts: pymesos compares its numbers.
_VERSION = re.compile(r"\d{1,6}(?:\.\d{1,6}){0,5}")


def resolve_token_provider(
    provider: Optional[TokenProvider],
    service_account: AccountLike,
    environ: Optional[Mapping[str, str]],
    *,
    security_mode: SecurityMode,
    ca_bundle: Any,
) -> Optional[TokenProvider]:
    """The token provider a driver uses: the one given, else one for the service account found
    (required in strict mode, optional in permissive mode, never used when security is disabled).

    Shared by the scheduler and operator drivers, so both find the account the same way.
    """
    if provider is not None:
        return provider
    if security_mode is SecurityMode.DISABLED:
        if service_account is not None:
            logger.info("security mode is disabled: the service account is not used")
        return None
    resolution = resolve_service_account(service_account, environ=environ)
    if security_mode is SecurityMode.STRICT:
        account = resolution.require("strict mode requires a service account")
    elif resolution.account is None:
        logger.info("no service account found; running unauthenticated (permissive mode)")
        return None
    else:
        account = resolution.account
    return TokenProvider(account, ca_bundle=ca_bundle, security_mode=security_mode)


class AuthenticatedSchedulerDriver(MesosSchedulerDriver):  # type: ignore[misc]
    """A pymesos scheduler driver that authenticates as a DC/OS service account.

    The positional arguments are pymesos' own. ``timeout`` (seconds, a day by
    default, as in pymesos) bounds each period without a working subscription: from
    ``start()``, or from the end of a subscription that lived, every attempt to
    subscribe (asking the master's version, logging in at the IAM with all of the
    login's own retries, connecting, waiting for SUBSCRIBED) and every pause between
    attempts. When it runs out the driver stops: :class:`MasterUnreachableError`
    (or :class:`IAMUnavailableError` when logging in is what kept failing) names the
    last failure, the component and its address, and the fix; ``join()`` and
    ``run()`` raise it and ``error()`` is told. Meanwhile each failed attempt is
    logged at INFO, and a WARNING says what keeps failing and how long the driver
    will go on trying after 5 s, 30 s, 2 min and 10 min of failures, then every
    10 min (:class:`~mesos_auth.transport.FailureReporter`). A run-to-completion
    framework that should fail fast against a cluster that is down passes e.g.
    ``timeout=60``.

    Keyword-only additions:

    - ``service_account``: a :class:`ServiceAccount`, a secret (dict or JSON) or a
      secret file path; by default ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``;
    - ``security_mode``: disabled, permissive or strict; detected by default;
    - ``ca_bundle``: the CA bundle for TLS; resolved by default;
    - ``token_provider``: a :class:`TokenProvider` to share (then no account is resolved);
    - ``tls``: use https for master addresses given without a scheme (and those
      found in ZooKeeper); by default only in strict mode;
    - ``allow_insecure_master``: let strict mode talk plain http to the master;
    - ``missed_heartbeats``, ``call_timeout``, ``resubscribe_backoff``: recovery tuning;
    - ``max_event_size``: the largest event accepted on the stream (bytes).

    ``master_uri`` may also be several masters, comma-separated
    (``https://m1:5050,https://m2:5050``): they are tried in turn, and are the hosts
    whose redirects the driver follows (see :mod:`mesos_auth.leaders`).
    """

    # Attributes of pymesos' driver (untyped there) that this class reads and writes.
    _started: bool
    _conn: Optional[Connection]
    _master: Optional[str]
    version: Optional[str]
    stream_id: Optional[str]
    framework_id: Optional[str]
    detector: Optional[ZooKeeperMasterDetector]

    def __init__(
        self,
        sched: Any,
        framework: Any,
        master_uri: Any,
        use_addict: bool = False,
        implicit_acknowledgements: bool = True,
        principal: Optional[str] = None,
        secret: Optional[str] = None,
        failover: bool = False,
        timeout: float = DAY,
        *,
        service_account: AccountLike = None,
        security_mode: Union[SecurityMode, str, None] = None,
        ca_bundle: CABundleLike = None,
        token_provider: Optional[TokenProvider] = None,
        tls: Optional[bool] = None,
        allow_insecure_master: bool = False,
        missed_heartbeats: int = DEFAULT_MISSED_HEARTBEATS,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        resubscribe_backoff: RetryPolicy = DEFAULT_RESUBSCRIBE_BACKOFF,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(
            sched,
            framework,
            master_uri,
            use_addict=use_addict,
            implicit_acknowledgements=implicit_acknowledgements,
            principal=principal,
            secret=secret,
            failover=failover,
            timeout=timeout,
        )
        self.security_mode, mode_source = resolve_security_mode(security_mode, environ=environ)
        logger.info("security mode %s (from %s)", self.security_mode.value, mode_source)
        self.ca_bundle: CABundle = resolve_ca_bundle(ca_bundle, environ=environ)
        self.allow_insecure_master = allow_insecure_master
        self.missed_heartbeats = missed_heartbeats
        self.call_timeout = call_timeout
        self.resubscribe_backoff = resubscribe_backoff
        self.max_event_size = max_event_size
        self._tls_default = tls if tls is not None else self.security_mode is SecurityMode.STRICT
        self.token_provider = resolve_token_provider(
            token_provider, service_account, environ, security_mode=self.security_mode, ca_bundle=self.ca_bundle
        )
        if self.token_provider is not None and self._basic_credential is not None:
            raise ConfigurationError(
                "give either a service account (DC/OS token auth) or principal/secret (Mesos HTTP Basic auth), "
                "not both: a request carries one Authorization header"
            )
        if self.token_provider is not None:
            self._enforce_principal(self.token_provider.uid)
        self._address: Optional[MasterAddress] = None
        self._configured: Tuple[MasterAddress, ...] = ()
        self._zookeeper: Optional[ZooKeeperURL] = None
        self._named_leader: Optional[MasterAddress] = None  # by ZooKeeper (or change_master) last
        #: Updates the driver makes itself (a launch that did not reach the master), for the stream thread.
        self._local_updates: Deque[Dict[str, Any]] = collections.deque()
        if isinstance(master_uri, str) and is_zookeeper(master_uri):
            self._zookeeper = parse_zookeeper_url(master_uri)
        elif isinstance(master_uri, str):
            self._configured = tuple(self._checked_address(a) for a in parse_masters(master_uri, self._default_scheme))
            self._address = self._configured[0]
        self._members = ClusterMembers(self._configured)
        self._ssl_context = make_ssl_context(self.ca_bundle)
        self._call_lock = threading.RLock()
        self._stop_event = threading.Event()  # set when the stream thread must end
        self._wake = threading.Event()  # ends a backoff pause: stop(), or a new leading master
        self._stopping = threading.Event()  # set first thing in stop(): an ending stream is then expected
        self._stop_requested_at = 0.0
        self._lifetime = Deadline(what="the driver")  # cancelled by stop(): ends every wait of the driver
        self._stream_lock = threading.Lock()
        self._stream_deadline: Optional[Deadline] = None
        self._call_deadline: Optional[Deadline] = None
        self._stream_thread: Optional[threading.Thread] = None
        self._failure: Optional[BaseException] = None
        self._resubscribe_requested = False
        self._auth_failure_told: Optional[BaseException] = None
        self._not_tls: Set[MasterAddress] = set()  # masters probed over plain http that do not speak TLS

    # -- configuration -----------------------------------------------------------

    @property
    def _default_scheme(self) -> str:
        return "https" if self._tls_default else "http"

    def _enforce_principal(self, uid: str) -> None:
        """Strict mode: principal == account uid. Filled in when unset, refused when different."""
        principal = self._framework.get("principal")
        if principal is None or principal == "":
            self._framework["principal"] = uid
        elif principal != uid:
            raise PrincipalMismatchError(str(principal), uid)

    def _checked_address(self, address: MasterAddress) -> MasterAddress:
        if self.security_mode is SecurityMode.STRICT and not address.tls and not self.allow_insecure_master:
            raise InsecureTransportError(
                address.url,
                "the framework's credentials",
                f"Use {https_twin(address.url)} instead, or pass allow_insecure_master=True to accept plain http "
                "to the master.",
            )
        return address

    @property
    def failure(self) -> Optional[BaseException]:
        """The error that stopped the driver, or None."""
        return self._failure

    @property
    def master_address(self) -> Optional[MasterAddress]:
        """The master the driver talks to (scheme included)."""
        return self._address

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._started:
                logger.warning("driver already started")
                return
            if self._stream_thread is not None and self._stream_thread.is_alive():
                raise ConfigurationError("the driver is stopping; join() it before starting it again")
            self._started = True
            self._failure = None
            self._stop_event.clear()
            self._wake.clear()
            self._stopping.clear()
            self._lifetime = Deadline(what="the driver")
        if self.token_provider is not None:
            self.token_provider.add_refresh_listener(self._on_token_refreshed)
        if self._zookeeper is not None:
            # Ours, not pymesos' MasterDetector: it neither blocks start() nor dies (zookeeper_detector.py).
            self.detector = ZooKeeperMasterDetector(self._zookeeper, self.change_master)
            self.detector.start()
        elif self._address is not None:
            self._master = self._address.netloc
        self._stream_thread = threading.Thread(target=self._run_stream, name="mesos-auth stream", daemon=True)
        self._stream_thread.start()

    def stop(self, failover: bool = False) -> None:
        """Stop the driver; without ``failover`` the framework is torn down (TEARDOWN), as in pymesos.

        Returns within about two seconds whatever the network does: TEARDOWN gets
        :data:`STOP_TIMEOUT`, then every connection, login and pause of the driver
        is cut short. A call made once ``stop()`` began (a scheduler callback racing
        it on the stream thread) sends nothing: ``declineOffer``, ``acceptOffers``,
        ``launchTasks`` and ``acknowledgeStatusUpdate`` return quietly, the other
        calls too or raise :class:`NotConnectedError` (``stopped`` set), which the
        driver logs at DEBUG only when a callback lets it through.
        """
        self._stopping.set()  # the master ends the stream on TEARDOWN: not a reason to re-subscribe
        self._stop_requested_at = time.monotonic()
        with self._lock:
            was_started = self._started
            self._started = False
            self._failover = failover
            detector, self.detector = self.detector, None
        if detector is not None:
            detector.stop()
        if was_started and not failover and self._failure is None and self.connected:
            self._teardown_within(STOP_TIMEOUT)
        # From here on pymesos' calls see "not connected" and do nothing, as after TEARDOWN the
        # master no longer knows the framework; one already past that check gets NotConnectedError.
        self.stream_id = None
        self._stop_event.set()
        self._wake.set()
        self._lifetime.cancel()
        self._close_stream()
        if self.token_provider is not None:
            self.token_provider.remove_refresh_listener(self._on_token_refreshed)

    def _teardown_within(self, seconds: float) -> None:
        """Send TEARDOWN, giving up after ``seconds`` (a call in flight is cut short first)."""
        in_flight = self._call_deadline
        if in_flight is not None:
            in_flight.cancel()
        with Deadline(seconds, what="TEARDOWN") as deadline:
            if not self._call_lock.acquire(timeout=seconds):
                logger.warning("TEARDOWN not sent: another call did not end in time")
                return
            try:
                if in_flight is not None:
                    # The cancelled call may have ended just before the cancel reached its
                    # socket: the kept-alive connection can be cut although the call
                    # succeeded. TEARDOWN goes on a new one.
                    self._close()
                self._teardown()
            except Exception as exc:
                reason = "no answer in time" if deadline.fired else str(exc)
                logger.warning("TEARDOWN failed: %s", reason)
            finally:
                self._call_lock.release()

    def abort(self) -> None:
        self.stop()

    def acknowledgeStatusUpdate(self, status: Any) -> None:
        """As pymesos, but a no-op once stopping (a scheduler that calls ``stop()`` from
        ``statusUpdate`` tore the framework down, and there is nothing left to
        acknowledge; pymesos would fail an assertion here), and quiet when the master
        cannot be reached: the update stays unacknowledged, so the master sends it again
        after the driver re-subscribes, as the Mesos driver ignores an acknowledgement
        while disconnected (``src/sched/sched.cpp``, ``acknowledgeStatusUpdate``)."""
        if self._stopping.is_set():
            return
        try:
            super().acknowledgeStatusUpdate(status)
        except MesosAuthError as exc:
            # Whatever kept it from the master (even a 401 twice), the update stays
            # unacknowledged and comes again: nothing is lost, nothing to raise.
            if not (_undelivered(exc) or isinstance(exc, MasterCallError)):
                raise
            logger.warning(
                "acknowledgement of an update of task %s not delivered (%s); the master sends it again",
                server_text(task_id_of(status), 100),
                _describe(exc),
            )

    def declineOffer(self, offer_ids: Any, filters: Any = None) -> None:
        """As pymesos, and quiet (one WARNING) when the DECLINE cannot reach the master: the
        offers went with the connection (the master rescinds them), as the Mesos driver
        ignores a decline while disconnected (``src/sched/sched.cpp``, ``declineOffer``).

        Once ``stop()`` was called (a callback racing the TEARDOWN) it does nothing, as
        the Mesos driver does once stopped (``MesosSchedulerDriver::declineOffer``
        returns ``DRIVER_STOPPED``): the master no longer knows the framework."""
        if self._stopping.is_set():
            logger.debug("DECLINE not sent: the driver is stopping")
            return
        try:
            super().declineOffer(offer_ids, filters)
        except MesosAuthError as exc:
            if not _undelivered(exc):
                raise
            if self._stopping.is_set():
                logger.debug("DECLINE not delivered: the driver is stopping")
                return
            logger.warning("DECLINE not delivered (%s); the offer went with the connection", _describe(exc))

    def launchTasks(self, offer_ids: Any, tasks: Any, filters: Any = None) -> None:
        """As pymesos, through :meth:`acceptOffers` (pymesos drops a launch while disconnected in silence)."""
        if not tasks:
            super().launchTasks(offer_ids, tasks, filters)
            return
        self.acceptOffers(offer_ids, [{"type": "LAUNCH", "launch": {"task_infos": tasks}}], filters)

    def acceptOffers(self, offer_ids: Any, operations: Any, filters: Any = None) -> None:
        """As pymesos, but a launch that cannot reach the master is not lost: each of its
        tasks gets ``TASK_LOST`` (``TASK_DROPPED`` for a PARTITION_AWARE framework),
        ``REASON_MASTER_DISCONNECTED``, "Master disconnected", as the Mesos driver sends
        (``src/sched/sched.cpp``, ``SchedulerProcess::acceptOffers``), delivered to
        ``statusUpdate`` after the current callback. The call does not raise then.

        "Cannot reach" includes a connection that broke after the ACCEPT was sent: the
        master may have launched the task after all, and then reports it as usual (a later
        ``TASK_RUNNING``); reconcile to be sure. Refusals (a non-2xx answer) still raise
        :class:`MasterCallError`. Once ``stop()`` was called it does nothing (the framework
        is being torn down; its tasks go with it).
        """
        if not operations:
            super().acceptOffers(offer_ids, operations, filters)
            return
        if self._stopping.is_set():  # racing stop(): the framework is being torn down, as declineOffer
            logger.debug("ACCEPT not sent: the driver is stopping")
            return
        try:
            if not self.connected:
                raise NotConnectedError("ACCEPT")
            super().acceptOffers(offer_ids, operations, filters)
        except MesosAuthError as exc:
            if not _undelivered(exc):
                raise
            if self._stopping.is_set():
                logger.debug("ACCEPT not delivered: the driver is stopping")
                return
            self._launch_not_delivered(operations, exc)

    def _launch_not_delivered(self, operations: Any, exc: Exception) -> None:
        partition_aware = has_capability(self._framework, "PARTITION_AWARE")
        task_ids = launched_task_ids(operations)
        for task_id in task_ids:
            self._local_updates.append(master_disconnected_status(task_id, partition_aware=partition_aware))
        if task_ids:
            logger.warning(
                "a launch of %d task(s) did not reach the master (%s): each gets %s (REASON_MASTER_DISCONNECTED)",
                len(task_ids),
                _describe(exc),
                "TASK_DROPPED" if partition_aware else "TASK_LOST",
            )

    def _deliver_local_updates(self) -> None:
        """Hand the updates the driver made itself to the scheduler (on the stream thread)."""
        while True:
            try:
                status = self._local_updates.popleft()
            except IndexError:
                return
            try:
                self.on_event({"type": "UPDATE", "update": {"status": status}})
            except Exception:
                logger.exception("the scheduler's UPDATE callback raised; the driver goes on")

    def join(self) -> None:
        """Wait for the driver to stop; raise the error that stopped it, if any.

        Once ``stop()`` was called this returns within :data:`STOP_TIMEOUT` more,
        even if the stream thread is still finishing (it is a daemon thread).
        """
        thread = self._stream_thread
        if thread is not None and thread is not threading.current_thread():
            while thread.is_alive():
                if self._stopping.is_set():
                    thread.join(timeout=max(0.0, self._stop_requested_at + STOP_TIMEOUT - time.monotonic()))
                    if thread.is_alive():
                        logger.warning("the driver's stream thread is still finishing; join() returns anyway")
                    break
                thread.join(timeout=0.25)
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        self.start()
        self.join()

    def change_master(self, master: Optional[str]) -> None:
        """A new leading master (from ZooKeeper, or the program): re-subscribe there, at once
        (a backoff pause after failures at the previous leader is cut short).

        Its host becomes a cluster member: redirects to it are followed.
        """
        address = None
        if master:
            scheme = self._address.scheme if self._address is not None else self._default_scheme
            address = self._checked_address(parse_master(master, default_scheme=scheme))
            self._members.learn(address)
        self._named_leader = address
        self._move_to(address)
        self._close_stream()
        self._wake.set()

    def _move_to(self, address: Optional[MasterAddress]) -> None:
        """Talk to ``address`` from the next subscription on (its version is asked afresh)."""
        with self._lock:
            self._address = address
            self._master = address.netloc if address else None
            self.version = None

    def on_subscribed(self, info: Any) -> None:
        """pymesos' handler, with the master's host and port taken from the address we hold
        (pymesos splits ``host:port`` on the first colon, which breaks on IPv6)."""
        reregistered = self.framework_id is not None
        self.framework_id = info["framework_id"]["value"]
        address = self._address
        master_info: Dict[str, Any] = {"hostname": address.host, "port": address.port} if address else {}
        if self.version:
            master_info["version"] = self.version
        elif isinstance(info.get("master_info"), dict) and "version" in info["master_info"]:
            master_info["version"] = info["master_info"]["version"]
        if reregistered:
            self.sched.reregistered(self, self._dict_cls(master_info))
        else:
            self.sched.registered(self, self._dict_cls({"value": self.framework_id}), self._dict_cls(master_info))

    # -- requests ------------------------------------------------------------------

    def _authorization(self) -> Optional[str]:
        """The ``Authorization`` value; a login that fails is told to ``authenticationFailed`` here,
        on the thread that needed the token (the stream thread, or a thread making a call)."""
        if self.token_provider is not None:
            try:
                return self.token_provider.header()
            except MesosAuthError as exc:
                self._notify_auth_failure(exc)
                raise
        return self._basic_credential  # type: ignore[no-any-return]

    def gen_request(self) -> bytes:
        """The raw SUBSCRIBE request (pymesos API), with the token header when authenticating."""
        request: bytes = super().gen_request()
        if self.token_provider is None:
            return request
        head, _, body = request.partition(b"\r\n\r\n")
        head += b"\r\nAuthorization: " + self.token_provider.header().encode("ascii")
        return head + b"\r\n\r\n" + body

    def _get_conn(self) -> Optional[Connection]:
        if not self.connected:
            return None
        if self._conn is None:
            address = self._address
            if address is None:
                return None
            self._conn = open_connection(address, timeout=self.call_timeout, context=self._ssl_context)
        return self._conn

    def _send(
        self,
        body: Any,
        path: str = SCHEDULER_PATH,
        method: str = "POST",
        headers: Optional[Dict[str, str]] = None,
    ) -> Any:
        """Send one call, within ``call_timeout`` in all. A 401 refreshes the token and
        resends once; a stale keep-alive connection is reopened once; other refusals
        raise :class:`MasterCallError`, a cut or oversized answer :class:`TransportError`."""
        call = body.get("type", "call") if isinstance(body, dict) else "call"
        call = call if isinstance(call, str) else "call"
        headers = dict(headers or {})
        with self._lifetime.active(), self._call_lock:  # stop() cuts a call, and a login it needs, short
            if self._stopping.is_set() and call != "TEARDOWN":
                # A call racing stop(): after TEARDOWN the master no longer knows the framework.
                raise NotConnectedError(call, stopped=True)
            if self._get_conn() is None:
                raise NotConnectedError(call)
            data = b""
            if body != "":
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            stream_id = self.stream_id
            if stream_id:
                headers["Mesos-Stream-Id"] = stream_id
            authorization = self._authorization()
            if authorization:
                headers["Authorization"] = authorization
            for attempt in (1, 2):
                status, answer = self._exchange(call, method, path, data, headers, retry_stale=attempt == 1)
                if status == 401 and attempt == 1 and self.token_provider is not None:
                    self._auth_failed_once(headers.get("Authorization"))
                    headers["Authorization"] = self.token_provider.header()
                    continue
                break
            if status < 200 or status >= 300:
                raise self._refused_call(status, answer, call, stream_id)
            if not answer.body:
                return {}
            try:
                return json.loads(answer.body.decode("utf-8"))
            except (ValueError, RecursionError):
                return {}

    def _exchange(
        self, call: str, method: str, path: str, data: bytes, headers: Dict[str, str], *, retry_stale: bool
    ) -> Tuple[int, _CallAnswer]:
        """One request and its answer on the keep-alive connection, bounded by ``call_timeout``.

        A connection kept alive from an earlier call that turns out closed before any
        answer came is reopened once (``retry_stale``); once an answer has begun, a
        broken one is a :class:`TransportError`, never a resend.
        """
        with Deadline(self.call_timeout, what=call) as deadline:
            self._call_deadline = deadline
            try:
                while True:
                    conn = self._get_conn()
                    if conn is None:
                        raise NotConnectedError(call)
                    reused = conn.sock is not None
                    if reused:
                        _deadline.watch(conn.sock)  # a socket kept alive from an earlier call
                    try:
                        conn.request(method, path, body=data, headers=headers)
                        resp = conn.getresponse()
                    except _CLOSED_BEFORE_ANSWER as exc:
                        # A kept-alive connection closed before any answer began: reopened once.
                        self._close()
                        if reused and retry_stale and not deadline.fired:
                            retry_stale = False
                            continue
                        raise self._transport_error(exc, deadline) from None
                    except (OSError, http.client.HTTPException) as exc:
                        self._close()
                        raise self._transport_error(exc, deadline) from None
                    try:
                        return resp.status, self._read_call_answer(resp)
                    except (OSError, http.client.HTTPException, TransportError) as exc:
                        self._close()
                        if isinstance(exc, (OSError, http.client.HTTPException)):
                            exc = TransportError(self._master_url, "the answer was cut short (the connection broke)")
                        raise self._transport_error(exc, deadline) from None
            finally:
                self._call_deadline = None

    def _read_call_answer(self, resp: http.client.HTTPResponse) -> _CallAnswer:
        """The answer's body (capped); a connection whose answer was not read to the end is closed."""
        url = self._master_url
        if 200 <= resp.status < 300:
            return _CallAnswer(resp, _http.read_body(resp, limit=MAX_CALL_ANSWER, url=url, what="the call's answer"))
        text = _http.read_some(resp, _http.MAX_ERROR_BODY)
        self._close()  # the rest of an error body is never read, so the connection cannot be reused
        return _CallAnswer(resp, text)

    def _auth_failed_once(self, authorization: Optional[str]) -> None:
        if self.token_provider is not None and authorization and authorization.startswith("token="):
            self.token_provider.invalidate(authorization[len("token=") :])
            logger.info(
                "master answered 401: the token of %r is refreshed before the next try", self.token_provider.uid
            )

    def _transport_error(self, exc: BaseException, deadline: Optional[Deadline] = None) -> MesosAuthError:
        address = self._address
        if address is not None:
            tls = tls_error(address, exc, self.ca_bundle)
            if tls is not None:
                return tls
        where = address.url if address else "the master"
        if deadline is not None and deadline.passed:
            return TransportTimeoutError(where, f"no complete answer within {self.call_timeout:g} s (call_timeout)")
        if self._lifetime.fired:
            return TransportError(where, "the driver is stopping")
        if isinstance(exc, TransportError):
            return exc
        return TransportError(where, f"{exc.__class__.__name__}: {server_text(str(exc), 200)}")

    def _refused_call(self, status: int, answer: _CallAnswer, call: str, stream_id: Optional[str]) -> MasterCallError:
        text = server_text(answer.body)
        lowered = text.lower()
        if status == 307:
            location = answer.location
            logger.warning("%s answered by a non-leading master; it names %s", call, safe_url(location) or "no leader")
            self._request_resubscribe(stream_id, self._redirect_target(location))
        elif status == 403 or (status == 400 and ("stream" in lowered or "not subscribed" in lowered)):
            logger.warning("master no longer knows our subscription (%s); re-subscribing", text)
            self._request_resubscribe(stream_id, None)
        elif status == 401 and self.token_provider is not None:
            self._notify_auth_failure(AuthenticationFailedError(self._master_url, f"{call} refused twice"))
        return MasterCallError(status, call, text, master=self._master_url)

    def _redirect_target(self, location: Optional[str]) -> Optional[MasterAddress]:
        """The leader a call's 307 names, if it may be followed; else None (re-subscribe where we are)."""
        current = self._address
        if current is None:
            return None
        try:
            target = follow_redirect(current, location)
        except ConfigurationError as exc:
            logger.warning("%s", exc)
            return None
        refusal = self._members.refusal(target, self.ca_bundle)
        if refusal is not None:
            logger.warning("not following the redirect to %s: %s", target, refusal)
            return None
        return target

    @property
    def _master_url(self) -> str:
        return self._address.url if self._address else str(self._master)

    def _request_resubscribe(self, refused_stream: Optional[str], target: Optional[MasterAddress]) -> None:
        """Re-subscribe (to ``target`` if given) after a call showed our subscription is gone.

        Only when the refused call belonged to the current stream: a late answer to a
        call made before an earlier move must not break the new subscription.
        """
        with self._lock:
            if refused_stream is None or refused_stream != self._stream_id:
                return
            if target is not None:
                self._address = self._checked_address(target)
                self._master = self._address.netloc
        self._resubscribe_requested = True
        self._close_stream()

    # -- the event stream ------------------------------------------------------------

    def _run_stream(self) -> None:
        with self._lifetime.active():  # stop() ends any login, pause or lock wait of this thread
            try:
                self._stream_loop()
            except Cancelled:
                pass  # stopping
            except MesosAuthError as exc:
                self._fail(exc)
            except Exception as exc:  # a bug of ours or of a callback: stop, never crash the process
                logger.exception("the event stream thread failed")
                self._fail(exc)

    def _stream_loop(self) -> None:
        attempt = 0
        subscribe_401s = redirects = 0
        period = self._failing_period()
        try:
            while not self._stop_event.is_set():
                self._deliver_local_updates()
                self._wake.clear()  # a leader named before this attempt is where it goes: no pause to cut short
                self._check_period(period)
                address = self._address
                if address is None:  # zk://: no leader named yet
                    period.failed("master", self._where_masters_are, "ZooKeeper has named no leading master")
                    self._wake.wait(min(0.1, period.remaining()))
                    continue
                subscription = _Subscription()
                try:
                    with observing_login_failures(period.login_failed):
                        self._subscribe(address, subscription, period)
                    if not self._stopping.is_set():
                        logger.warning("event stream from %s ended; re-subscribing", address)
                except Redirect as redirect:
                    if self._follow_leader(address, redirect.target):
                        redirects += 1
                        if redirects <= MAX_IMMEDIATE_REDIRECTS:
                            continue
                except (TLSVerificationError, PlainHttpToTLSError) as exc:
                    if self._is_configured(address):
                        raise  # our own master's certificate or protocol does not heal by retrying
                    logger.error("%s; going back to the configured master", exc)
                    period.failed("master", address.url, str(exc))
                    self._back_to_configured()
                except AuthenticationFailedError as exc:
                    subscribe_401s += 1
                    self._notify_auth_failure(exc)
                    period.failed("master", address.url, str(exc))
                    if self.token_provider is None or subscribe_401s >= MAX_SUBSCRIBE_401:
                        raise
                except (IAMUnavailableError, IAMProtocolError, InvalidTokenError, TokenExpiredError) as exc:
                    # Told to authenticationFailed where the login failed; the IAM may heal: keep trying.
                    period.failed_login(exc)
                    if not self._stopping.is_set():
                        logger.info("could not obtain a token to subscribe to %s: %s", address, exc)
                except Cancelled as cancelled:
                    if cancelled.deadline is not period.deadline:
                        raise  # stopping
                    if not period.cause:
                        period.failed("master", address.url, "no answer before the driver's timeout ran out")
                except (Retryable, TransportError, OSError, http.client.HTTPException) as exc:
                    if not self._stopping.is_set():
                        logger.info("subscription to %s failed: %s", address, _describe(exc))
                        period.failed("master", address.url, _describe(exc))
                        self._next_configured(address)
                finally:
                    self._end_subscription(subscription)
                healthy = subscription.lived(self._stream_window(subscription))
                if subscription.accepted:
                    subscribe_401s = 0  # the master took our token: a later 401 starts a new count
                if healthy:
                    attempt, subscribe_401s, redirects = 0, 0, 0
                    period.close()
                    period = self._failing_period()
                if self._stopping.is_set():
                    break
                if self._resubscribe_requested:
                    self._resubscribe_requested = False
                    if healthy:
                        continue
                attempt += 1
                self._check_period(period)
                delay = min(self.resubscribe_backoff.delay(attempt), period.remaining())
                logger.info("re-subscribing to %s in %.1f s", self._master_url, delay)
                if self._pause(delay):
                    attempt = 0  # a new leader: its own backoff
        finally:
            period.close()

    #: When a period without a subscription is reported at WARNING (seconds into it), then every
    #: ``_report_every`` seconds (see :class:`~mesos_auth.transport.FailureReporter`).
    _report_after: Tuple[float, ...] = REPORT_AFTER
    _report_every: float = REPORT_EVERY

    def _failing_period(self) -> _FailingPeriod:
        return _FailingPeriod(
            self, float(self._timeout), FailureReporter(after=self._report_after, every=self._report_every)
        )

    @property
    def _where_masters_are(self) -> str:
        """The masters as configured, for messages: the ``zk://`` URL, or the address(es) given."""
        if self._zookeeper is not None:
            return safe_url(str(self._zookeeper))
        return ", ".join(a.url for a in self._configured) or self._master_url

    def _check_period(self, period: _FailingPeriod) -> None:
        """Stop with the typed error once the timeout ran out; else report at WARNING when due."""
        if period.expired():
            raise period.error()
        period.report()

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` between subscriptions; True when a new leading master cut it short."""
        woken = self._wake.wait(delay)
        self._wake.clear()
        return woken and not self._stop_event.is_set()

    def _end_subscription(self, subscription: _Subscription) -> None:
        subscription.ended_at = time.monotonic()
        self._close_stream()
        was_connected = self.stream_id is not None
        self.stream_id = None
        with self._call_lock:  # never under a call in flight on another thread
            self._close()
        if was_connected and not self._stopping.is_set():
            self._callback("disconnected")

    def _follow_leader(self, current: MasterAddress, target: MasterAddress) -> bool:
        """Move to the leader a 307 named, if it is part of the cluster; True when moved."""
        refusal = self._members.refusal(target, self.ca_bundle)
        if refusal is not None:
            error = UnsafeRedirectError(
                current.url + SCHEDULER_PATH, target.url, refusal, "Name every master in master_uri, or use zk://"
            )
            logger.error("%s", error)
            self._back_to_configured()
            return False
        logger.warning("master %s is not the leader; following %s", current, target)
        self._move_to(self._checked_address(target))
        return True

    def _is_configured(self, address: MasterAddress) -> bool:
        return address in self._configured or (self._members.knows(address) and not self._configured)

    def _back_to_configured(self) -> None:
        """To the first configured master; with ``zk://``, to the leader ZooKeeper named last."""
        if self._configured:
            self._move_to(self._configured[0])
        elif self._named_leader is not None:
            self._move_to(self._named_leader)

    def _next_configured(self, failed: MasterAddress) -> None:
        """After a failure: from a leader we were sent to, back to the configured masters (or
        the leader ZooKeeper named); with several configured, on to the next one."""
        configured = self._configured
        named = self._named_leader
        if not configured and named is not None and failed != named:
            with self._lock:
                if self._address == failed:
                    self._move_to(named)  # a 307 sent us to a master that is gone
            return
        if not configured or (len(configured) < 2 and failed in configured):
            return
        index = configured.index(failed) + 1 if failed in configured else 0
        with self._lock:
            if self._address == failed:
                self._move_to(configured[index % len(configured)])

    def _stream_window(self, subscription: _Subscription) -> float:
        if subscription.heartbeat_interval is None:
            return self.call_timeout
        return min(MAX_SILENCE, subscription.heartbeat_interval * self.missed_heartbeats)

    def _fail(self, exc: BaseException) -> None:
        """Stop for good on an error that cannot heal; tell the scheduler; no TEARDOWN."""
        logger.error("mesos-auth driver stopped: %s", exc)
        self._failure = exc
        self._stop_requested_at = time.monotonic()  # join() gives the callbacks below STOP_TIMEOUT
        with self._lock:
            self._started = False
        self._stopping.set()
        self._stop_event.set()
        if isinstance(exc, PermissionRefusedError):
            self._callback("permissionDenied", exc)
        if isinstance(exc, _AUTHENTICATION_FAILURES):
            self._notify_auth_failure(exc)  # unless told as it came (a refused login, a 401)
        told = (
            isinstance(exc, SubscriptionRefusedError)
            and exc.status == 0
            and not isinstance(exc, PermissionRefusedError)
        )
        if not told:  # other ERROR events were already passed to error() by pymesos
            self._callback("error", str(exc))

    def _subscribe(
        self, address: MasterAddress, subscription: _Subscription, period: Optional[_FailingPeriod] = None
    ) -> None:
        """One subscription: ask the version, log in, SUBSCRIBE, then read events until the stream ends.

        Up to the first event, ``period``'s deadline (the driver's ``timeout``) bounds it all;
        the events are then read, and the callbacks run, without it.
        """
        with _bounded_by(period):
            if self.version is None:
                self.version = self._get_version(address.netloc)
            body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": self.framework}}
            if "id" in self._framework:
                body["framework_id"] = self._framework["id"]
            headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
            authorization = self._authorization()
            if authorization:
                headers["Authorization"] = authorization
            deadline = Deadline(self.call_timeout, what="the event stream")
            conn = open_connection(address, timeout=self.call_timeout, context=self._ssl_context, deadlines=(deadline,))
            with self._stream_lock:
                if self._stop_event.is_set():
                    deadline.close()
                    return
                self._stream_deadline = deadline
        try:
            with _bounded_by(period):
                try:
                    conn.request("POST", SCHEDULER_PATH, body=json.dumps(body).encode("utf-8"), headers=headers)
                    resp = conn.getresponse()
                except (OSError, http.client.HTTPException) as exc:
                    tls = tls_error(address, exc, self.ca_bundle)
                    if tls is not None:
                        raise tls from None
                    if period is not None and period.deadline.passed:
                        raise Retryable(
                            f"no answer to SUBSCRIBE before the driver's timeout ({duration(period.timeout)}) ran out"
                        ) from None
                    if deadline.passed:
                        raise Retryable(f"no answer to SUBSCRIBE within {self.call_timeout:g} s") from None
                    self._refuse_tls_port(address, exc)
                    if isinstance(exc, ConnectionRefusedError):
                        raise Retryable(f"the connection was refused: nothing listens at {address.netloc}") from None
                    raise Retryable(network_problem(exc)) from None
                self._check_subscribe_answer(address, resp, authorization)
                subscription.accepted = True
                stream_id = resp.getheader("Mesos-Stream-Id") or ""
                if not stream_id or len(stream_id) > 200:
                    raise Retryable("SUBSCRIBE answered 200 without a usable Mesos-Stream-Id")
                self.stream_id = stream_id

            def silence() -> str:
                return (
                    f"no event from {address} for {self._stream_window(subscription):g} s "
                    f"({self.missed_heartbeats} heartbeat intervals): a silent master"
                )

            events = read_events(
                resp,
                stopped=self._stop_event.is_set,
                deadline=deadline,
                silence=silence,
                max_event_size=self.max_event_size,
            )
            for event in events:
                if period is not None and conn.sock is not None:
                    period.deadline.discard(conn.sock)  # the master answers: the timeout no longer bounds it
                self._dispatch(event, subscription)
                deadline.extend(self._stream_window(subscription))  # silence is judged per event
        finally:
            deadline.close()
            conn.close()
            with self._stream_lock:
                if self._stream_deadline is deadline:
                    self._stream_deadline = None

    def _refuse_tls_port(self, address: MasterAddress, exc: BaseException) -> None:
        """Plain http to the master met a reset or a garbled answer: if its port speaks TLS, say so.

        Probed once per address with a bare TLS ClientHello (no credential); the error is
        fatal for a configured master (:class:`PlainHttpToTLSError` is a configuration error).
        """
        if address.tls or address in self._not_tls or not may_be_tls_port(exc):
            return
        if speaks_tls(address.host, address.port, min(TLS_PROBE_TIMEOUT, self.call_timeout)):
            raise PlainHttpToTLSError(
                address.url,
                component="master",
                fix=f"Use {https_twin(address.url)} or set MESOS_AUTH_SECURITY_MODE=strict "
                "(then a master given as host:port is reached over https).",
            ) from None
        _deadline.check()  # stopping, or the driver's timeout: not a verdict on the port
        self._not_tls.add(address)

    def _check_subscribe_answer(self, address: MasterAddress, resp: Any, authorization: Optional[str]) -> None:
        if resp.status == 200:
            return
        text = server_text(_http.read_some(resp, _http.MAX_ERROR_BODY))
        if resp.status == 401:
            self._auth_failed_once(authorization)
        check_subscribe_answer(
            address,
            resp.status,
            text,
            resp.getheader("Location"),
            sent_credentials=bool(authorization),
            principal=str(self._framework.get("principal", "")),
            uid=self.token_provider.uid if self.token_provider else "",
        )

    def _dispatch(self, event: Dict[str, Any], subscription: _Subscription) -> None:
        kind = event.get("type")
        if not isinstance(kind, str):
            logger.warning("skipped an event without a type from %s", self._master_url)
            return
        if kind == "SUBSCRIBED":
            subscribed = check_subscribed(event)
            subscription.subscribed(subscribed.heartbeat_interval)
            logger.info(
                "subscribed to %s as framework %s%s",
                self._master_url,
                server_text(subscribed.framework_id, 100),
                f" (principal {self._framework.get('principal')!r})" if self._framework.get("principal") else "",
            )
        refusal = self._refusal(error_message(event)) if kind == "ERROR" else None
        if isinstance(refusal, PermissionRefusedError):
            raise refusal  # fatal: _fail tells error() with the permission named, not pymesos' bare text
        handled = kind.lower()
        if handled != "heartbeat" and (handled not in event or getattr(self, f"on_{handled}", None) is None):
            # pymesos would log the whole event, as the master sent it; we say what it was.
            logger.warning(
                "skipped a %s event from %s (unknown, or without its payload)", server_text(kind, 40), self._master_url
            )
            return
        try:
            self.on_event(event)
        except NotConnectedError as exc:
            if not self._stopping.is_set():
                logger.exception("the scheduler's %s callback raised; the driver goes on", server_text(kind, 40))
            else:  # a call racing stop(): nothing is wrong
                logger.debug("the scheduler's %s callback called the stopping driver: %s", server_text(kind, 40), exc)
        except Exception:
            logger.exception("the scheduler's %s callback raised; the driver goes on", server_text(kind, 40))
        self._deliver_local_updates()
        if kind == "SUBSCRIBED" and self.token_provider is not None:
            self._callback("authenticated", self.token_provider.uid)
        if kind in ("UPDATE", "UPDATE_OPERATION_STATUS"):
            self._tell_permission_denied(event)  # after statusUpdate/operationStatusUpdate got it as sent
        if refusal is not None:
            raise refusal

    def _refusal(self, message: str) -> SubscriptionRefusedError:
        principal = str(self._framework.get("principal", ""))
        return error_event(
            message, master=self._master_url, principal=principal, framework_info=self._framework, uid=self._uid
        )

    @property
    def _uid(self) -> str:
        """The account a missing permission is granted to: the token's uid, else the framework's principal."""
        if self.token_provider is not None:
            return self.token_provider.uid
        return str(self._framework.get("principal") or "")

    def _tell_permission_denied(self, event: Dict[str, Any]) -> None:
        principal = self._framework.get("principal")
        denied = permission_denied_in(
            event,
            framework_info=self._framework,
            principal=str(principal) if principal else None,
            uid=self._uid,
            master=self._master_url,
        )
        if denied is not None:
            self._callback("permissionDenied", denied)

    def _close_stream(self) -> None:
        with self._stream_lock:
            deadline, self._stream_deadline = self._stream_deadline, None
        if deadline is not None:
            deadline.cancel()

    def _get_version(self, master: Optional[str]) -> Optional[str]:
        """The master's version from ``GET /version`` (no auth), over TLS when the master uses it."""
        address = self._address
        if master is None or address is None:
            return None
        seconds = min(self.call_timeout, 10.0)
        with Deadline(seconds, what="GET /version") as asked:
            conn = open_connection(address, timeout=seconds, context=self._ssl_context)
            try:
                conn.request("GET", "/version")
                resp = conn.getresponse()
                if 200 <= resp.status < 300:
                    data = _http.read_body(resp, limit=MAX_VERSION_ANSWER, url=address.url + "/version")
                    return _mesos_version(json.loads(data.decode("utf-8")))
            except Exception as exc:
                tls = tls_error(address, exc, self.ca_bundle)
                if tls is not None:
                    raise tls from None
                if not asked.passed:  # a master slow to answer /version is no reason to stop
                    _deadline.check()  # stopping, or the driver's timeout
                    self._refuse_tls_port(address, exc)  # before any credential is sent over plain http
                logger.debug("GET /version from %s failed: %s", address, exc.__class__.__name__)
            finally:
                conn.close()
        return None

    # -- scheduler notifications ---------------------------------------------------------

    def _callback(self, name: str, *args: Any) -> None:
        method: Optional[Callable[..., Any]] = getattr(self.sched, name, None)
        if method is None:
            return
        try:
            method(self, *args)
        except Exception:
            logger.exception("the scheduler's %s callback raised", name)

    def _notify_auth_failure(self, error: BaseException) -> None:
        if error is self._auth_failure_told:
            return  # once per error: a login failure is told where it happens, not again when it stops us
        self._auth_failure_told = error
        self._callback("authenticationFailed", error)

    def _on_token_refreshed(self, info: TokenInfo) -> None:
        self._callback("tokenRefreshed", info)


class _CallAnswer:
    """What a call's answer said: the ``Location`` header and the body read (capped)."""

    def __init__(self, resp: http.client.HTTPResponse, body: bytes) -> None:
        self.location = resp.getheader("Location")
        self.body = body


class _Subscription:
    """One subscription's life: when SUBSCRIBED came, and the heartbeat interval it gave."""

    def __init__(self) -> None:
        self.subscribed_at: Optional[float] = None
        self.accepted = False  # SUBSCRIBE answered 200: our token was taken
        self.heartbeat_interval: Optional[float] = None
        self.ended_at: Optional[float] = None

    def subscribed(self, heartbeat_interval: float) -> None:
        self.subscribed_at = time.monotonic()
        self.heartbeat_interval = heartbeat_interval

    def lived(self, window: float) -> bool:
        """Lived a heartbeat interval (at most ``window``) from SUBSCRIBED to its end:
        only then is the backoff reset.

        A master that accepts and drops us at once (flapping) gets exponential
        backoff, not two re-subscriptions a second forever.
        """
        if self.subscribed_at is None or self.heartbeat_interval is None or self.ended_at is None:
            return False
        return self.ended_at - self.subscribed_at >= min(self.heartbeat_interval, window)


class _FailingPeriod:
    """A period without a subscription that lived, bounded by the driver's ``timeout``.

    Remembers what failed last (the master or the IAM, its address, the cause) to name
    it in the WARNINGs (:class:`~mesos_auth.transport.FailureReporter`) and in the error
    that ends the period. ``deadline`` is made active in the stream thread around each
    attempt to subscribe, so that a login's retries, a connect or a handshake that would
    outlast the timeout are cut when it runs out.
    """

    def __init__(self, driver: AuthenticatedSchedulerDriver, timeout: float, reporter: FailureReporter) -> None:
        self.driver = driver
        self.timeout = timeout
        self.reporter = reporter
        self.started = time.monotonic()
        self.deadline = Deadline(timeout, what="the driver's timeout")
        self.component = "master"
        self.url = ""
        self.cause = ""
        self.logins_failed = 0

    def remaining(self) -> float:
        return max(0.0, self.timeout - (time.monotonic() - self.started))

    def expired(self) -> bool:
        return self.deadline.passed or self.remaining() <= 0

    def close(self) -> None:
        self.deadline.close()

    def failed(self, component: str, url: str, cause: str) -> None:
        self.component, self.url, self.cause = component, safe_url(url), cause

    def login_failed(self, endpoint: str, failure: RetryableLoginFailure) -> None:
        """One failed login attempt (within a login's own retries): the IAM is what fails now."""
        self.logins_failed += 1
        self.failed("IAM", endpoint, str(failure))
        self.report()

    def failed_login(self, exc: MesosAuthError) -> None:
        """A login that failed in all (its retries exhausted, or a protocol or token error)."""
        endpoint = self.driver.token_provider.account.login_endpoint if self.driver.token_provider else ""
        if isinstance(exc, IAMUnavailableError):
            self.logins_failed = max(self.logins_failed, exc.attempts)
            self.failed("IAM", endpoint, exc.last_problem)
        else:
            self.logins_failed += 1
            self.failed("IAM", endpoint, str(exc))

    def report(self) -> None:
        if not self.cause:
            return
        elapsed = self.reporter.due()
        if elapsed is None:
            return
        if self.component == "IAM":
            what = f"logins at the IAM {self.url} keep failing"
            ending = "IAMUnavailableError"
        else:
            what = f"the master at {self.url} cannot be subscribed to"
            ending = "MasterUnreachableError"
        logger.warning(
            "no subscription for %s: %s (the last attempt: %s). The driver keeps trying for %s more "
            "(its timeout is %s), then stops with %s",
            duration(elapsed),
            what,
            self.cause,
            duration(self.remaining()),
            duration(self.timeout),
            ending,
        )

    def error(self) -> MesosAuthError:
        """The error that ends the period: the IAM's when logging in is what failed last."""
        elapsed = time.monotonic() - self.started
        if self.component == "IAM":
            return IAMUnavailableError(
                endpoint=self.url,
                attempts=max(1, self.logins_failed),
                elapsed=elapsed,
                last_problem=self.cause,
                timeout=self.timeout,
            )
        masters = [a.url for a in self.driver._configured] or [self.driver._where_masters_are]
        return MasterUnreachableError(
            self.url or self.driver._master_url,
            self.cause or "no attempt could be made",
            timeout=self.timeout,
            masters=masters,
        )


def _bounded_by(period: Optional[_FailingPeriod]) -> ContextManager[Any]:
    """The driver's timeout made active in this thread (or nothing, without a period)."""
    return period.deadline.active() if period is not None else contextlib.nullcontext()


def _mesos_version(payload: Any) -> Optional[str]:
    """The numeric part of ``{"version": "1.10.2"}``; None for anything else (pymesos parses it)."""
    version = payload.get("version") if isinstance(payload, dict) else None
    if not isinstance(version, str):
        return None
    match = _VERSION.match(version)
    return match.group() if match else None


#: The failures ``authenticationFailed`` is told of: the IAM refused or could not be reached for a
#: login, a token is unusable, the master refused the credentials or the principal, the account is
#: unusable. Network failures towards the master are not among them.
_AUTHENTICATION_FAILURES = (
    IAMError,
    TokenError,
    AuthenticationFailedError,
    PrincipalMismatchError,
    PermissionRefusedError,
    CredentialError,
    NoServiceAccountError,
)


def _undelivered(exc: BaseException) -> bool:
    """Whether a call failed without the master acting on it for want of a connection: not
    subscribed yet, the connection broken, or refused as not the leader (307, 503) or as
    not subscribed (403, or 400 naming the stream): the re-subscription is under way then."""
    if isinstance(exc, (NotConnectedError, TransportError)):
        return True
    if isinstance(exc, MasterCallError):
        text = (exc.message or "").lower()
        return exc.status in (307, 403, 503) or (exc.status == 400 and ("stream" in text or "not subscribed" in text))
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (Retryable, MesosAuthError)):
        return server_text(str(exc))
    return network_problem(exc)
