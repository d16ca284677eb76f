"""AuthenticatedOperatorMasterDriver: pymesos' operator driver (the master's v1 operator API), fit for DC/OS.

It is a :class:`pymesos.MesosOperatorMasterDriver`: every call (``getState``,
``getTasks``, ``getAgents``, ``reserveResources``, ...) and every operator callback
(``taskAdded``, ``taskUpdated``, ``frameworkAdded``, ...) work as before. What pymesos
lacks for a DC/OS cluster, the same as for its scheduler driver (``docs/protocol.md``):

- credentials: ``Authorization: token=<JWT>`` from a :class:`~mesos_auth.TokenProvider`
  on every call and on SUBSCRIBE (``/api/v1`` is routed with the master's
  read-write authentication realm, apache/mesos ``Master::initialize``); the
  account, security mode and CA bundle are found as :func:`~mesos_auth.create_driver`
  finds them;
- TLS to the master, verified against the CA bundle;
- a 401 invalidates the token and the call is sent once more with a fresh one;
- a 307 from a non-leading master is followed only to a master of the cluster
  (:mod:`mesos_auth.leaders`), at most :data:`MAX_REDIRECTS` times per call;
- bounds: a call takes at most ``call_timeout`` in all; the event stream is
  given up when silent for ``missed_heartbeats`` heartbeat intervals and
  subscribed again with backoff; ``stop()`` and ``join()`` return promptly;
- no SIGINT: pymesos turns any failure of its IO thread into a ``KeyboardInterrupt``
  of the main thread; here an error that cannot heal (credentials refused, an
  untrusted certificate of a configured master, the driver's ``timeout``) stops
  the stream, and ``join()`` raises it in the caller's thread.

Calls go to ``POST /api/v1`` (the documented endpoint; pymesos uses
``/api/v1/operator``, which a real master serves by libprocess' prefix routing).
Calls do not need ``start()``: only the event stream does (SUBSCRIBE, with an
``operator`` to call back). Operators may also define ``subscribed(state)`` to get
the ``get_state`` snapshot of the SUBSCRIBED event (pymesos only logs it).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from pymesos import MesosOperatorMasterDriver
from pymesos.utils import DAY

from mesos_auth import _http
from mesos_auth._deadline import Cancelled, Deadline
from mesos_auth._redact import server_text
from mesos_auth.ca import CABundle, CABundleLike, resolve_ca_bundle
from mesos_auth.discovery import AccountLike
from mesos_auth.driver import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MISSED_HEARTBEATS,
    DEFAULT_RESUBSCRIBE_BACKOFF,
    MAX_CALL_ANSWER,
    MAX_SILENCE,
    MAX_SUBSCRIBE_401,
    STOP_TIMEOUT,
    resolve_token_provider,
)
from mesos_auth.errors import (
    AuthenticationFailedError,
    ConfigurationError,
    IAMProtocolError,
    IAMUnavailableError,
    InsecureTransportError,
    InvalidTokenError,
    MasterCallError,
    MasterUnreachableError,
    MesosAuthError,
    TLSVerificationError,
    TokenExpiredError,
    TransportError,
    TransportTimeoutError,
    UnsafeRedirectError,
    https_twin,
)
from mesos_auth.leaders import ClusterMembers
from mesos_auth.master_uri import MasterAddress, follow_redirect, is_zookeeper, parse_master, parse_masters
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.subscription import DEFAULT_HEARTBEAT_INTERVAL, Redirect, Retryable, check_subscribe_answer, read_events
from mesos_auth.tokens import TokenProvider
from mesos_auth.transport import Connection, make_ssl_context, open_connection, tls_error

logger = logging.getLogger(__name__)

OPERATOR_PATH = "/api/v1"
#: Where the master is found when no ``master_uri`` is given (our own convention, as ``FakeCluster.environment``).
MASTER_URL_ENV = "MESOS_MASTER_URL"
#: Redirects one call follows before it gives up (masters pointing at each other).
MAX_REDIRECTS = 5

OperatorAnswer = Tuple[int, Optional[str], bytes]


class AuthenticatedOperatorMasterDriver(MesosOperatorMasterDriver):  # type: ignore[misc]
    """pymesos' operator master driver, authenticated as a DC/OS service account.

    ``operator``: a ``pymesos.interface.OperatorMaster`` (needed for ``start()``,
    the event stream). ``master_uri``: ``host:port``, ``https://host:port``, several
    comma-separated, or ``zk://...``; by default ``$MESOS_MASTER_URL``. The keyword
    options are those of :class:`~mesos_auth.AuthenticatedSchedulerDriver`:
    ``service_account``, ``security_mode``, ``ca_bundle``, ``token_provider``,
    ``tls``, ``allow_insecure_master``, ``call_timeout``, ``missed_heartbeats``,
    ``resubscribe_backoff``, ``max_event_size``, ``environ``.
    """

    _master: Optional[str]

    def __init__(
        self,
        operator: Any = None,
        master_uri: Optional[str] = None,
        use_addict: bool = False,
        timeout: float = DAY,
        *,
        service_account: AccountLike = None,
        security_mode: Union[SecurityMode, str, None] = None,
        ca_bundle: CABundleLike = None,
        token_provider: Optional[TokenProvider] = None,
        tls: Optional[bool] = None,
        allow_insecure_master: bool = False,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        missed_heartbeats: int = DEFAULT_MISSED_HEARTBEATS,
        resubscribe_backoff: RetryPolicy = DEFAULT_RESUBSCRIBE_BACKOFF,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if environ is None else environ
        uri = master_uri if master_uri is not None else env.get(MASTER_URL_ENV, "").strip()
        if not uri:
            raise ConfigurationError(f"no master given: pass master_uri, or set ${MASTER_URL_ENV}")
        super().__init__(uri, operator=operator, use_addict=use_addict, timeout=timeout)
        self.security_mode = detect_security_mode(security_mode, environ=environ)
        self.ca_bundle: CABundle = resolve_ca_bundle(ca_bundle, environ=environ)
        self.allow_insecure_master = allow_insecure_master
        self.call_timeout = call_timeout
        self.missed_heartbeats = missed_heartbeats
        self.resubscribe_backoff = resubscribe_backoff
        self.max_event_size = max_event_size
        self._timeout_seconds = float(timeout)
        self._tls_default = tls if tls is not None else self.security_mode is SecurityMode.STRICT
        # The scheduler driver's resolution (explicit provider, mode, account discovery), not a copy of it.
        self.token_provider: Optional[TokenProvider] = resolve_token_provider(
            token_provider, service_account, environ, security_mode=self.security_mode, ca_bundle=self.ca_bundle
        )
        self._configured: Tuple[MasterAddress, ...] = ()
        self._address: Optional[MasterAddress] = None
        if not is_zookeeper(uri):
            scheme = "https" if self._tls_default else "http"
            self._configured = tuple(self._checked_address(a) for a in parse_masters(uri, scheme))
            self._address = self._configured[0]
        self._members = ClusterMembers(self._configured)
        self._ssl_context = make_ssl_context(self.ca_bundle)
        self._address_lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._lifetime = Deadline(what="the operator driver")
        self._stream_deadline: Optional[Deadline] = None
        self._stream_thread: Optional[threading.Thread] = None
        self._stop_requested_at = 0.0
        self._failure: Optional[BaseException] = None
        self.detector: Any = None

    def __repr__(self) -> str:
        who = f" as {self.token_provider.uid!r}" if self.token_provider is not None else ""
        return f"<AuthenticatedOperatorMasterDriver {self._master_url}{who}>"

    # -- configuration ---------------------------------------------------------------

    def _checked_address(self, address: MasterAddress) -> MasterAddress:
        if self.security_mode is SecurityMode.STRICT and not address.tls and not self.allow_insecure_master:
            raise InsecureTransportError(
                address.url,
                "the operator's credentials",
                f"Use {https_twin(address.url)} instead, or pass allow_insecure_master=True to accept plain http "
                "to the master.",
            )
        return address

    @property
    def master_address(self) -> Optional[MasterAddress]:
        """The master the driver talks to (scheme included)."""
        return self._address

    @property
    def failure(self) -> Optional[BaseException]:
        """The error that stopped the event stream, or None."""
        return self._failure

    @property
    def _master_url(self) -> str:
        address = self._address
        return address.url if address is not None else "the master"

    def change_master(self, master: Optional[str]) -> None:
        """A new leading master (from ZooKeeper, or the program): a cluster member from now on."""
        address = None
        if master:
            scheme = self._address.scheme if self._address is not None else ("https" if self._tls_default else "http")
            address = self._checked_address(parse_master(master, default_scheme=scheme))
            self._members.learn(address)
        self._move_to(address)
        self._cut_stream()

    def _move_to(self, address: Optional[MasterAddress]) -> None:
        with self._address_lock:
            self._address = address
            self._master = self._daemon = address.netloc if address is not None else None

    # -- calls -------------------------------------------------------------------------

    def _authorization(self) -> Optional[str]:
        return self.token_provider.header() if self.token_provider is not None else None

    def _send(
        self, body: Any, path: str = OPERATOR_PATH, method: str = "POST", headers: Optional[Dict[str, str]] = None
    ) -> Any:
        """One operator call within ``call_timeout`` in all: a 401 refreshes the token and
        resends once, a 307 to a cluster member is followed; other non-2xx raise
        :class:`MasterCallError` (a RuntimeError, as pymesos raised)."""
        kind = body.get("type", "call") if isinstance(body, dict) else "call"
        call = kind if isinstance(kind, str) else "call"
        headers = dict(headers or {})  # pymesos' shared default dict is never touched
        data = b""
        if body != "":
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        headers.setdefault("Accept", "application/json")
        with self._lifetime.active(), self._call_lock, Deadline(self.call_timeout, what=call) as deadline:
            refreshed, redirects = False, 0
            while True:
                address = self._address
                if address is None:
                    raise ConfigurationError("no master known yet (ZooKeeper has not named the leader)")
                authorization = self._authorization()
                if authorization:
                    headers["Authorization"] = authorization
                status, location, answer = self._exchange(address, method, path, data, headers, deadline)
                if status == 401 and self.token_provider is not None and not refreshed:
                    refreshed = True
                    self._invalidate(authorization)
                    continue
                if status == 307 and redirects < MAX_REDIRECTS:
                    redirects += 1
                    self._follow(address, location, path)
                    continue
                break
        if not 200 <= status < 300:
            raise MasterCallError(status, call, server_text(answer), master=address.url)
        if not answer:
            return {}
        try:
            return json.loads(answer.decode("utf-8"))
        except (ValueError, RecursionError):
            return {}

    def _exchange(
        self, address: MasterAddress, method: str, path: str, data: bytes, headers: Dict[str, str], deadline: Deadline
    ) -> OperatorAnswer:
        conn = open_connection(address, timeout=self.call_timeout, context=self._ssl_context)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            if 200 <= resp.status < 300:
                body = _http.read_body(resp, limit=MAX_CALL_ANSWER, url=address.url + path, what="the call's answer")
            else:
                body = _http.read_some(resp, _http.MAX_ERROR_BODY)
            return resp.status, resp.getheader("Location"), body
        except (OSError, http.client.HTTPException, TransportError) as exc:
            raise self._transport_error(address, exc, deadline) from None
        finally:
            conn.close()

    def _transport_error(self, address: MasterAddress, exc: BaseException, deadline: Deadline) -> MesosAuthError:
        tls = tls_error(address, exc, self.ca_bundle)
        if tls is not None:
            return tls
        if deadline.passed:
            return TransportTimeoutError(address.url, f"no complete answer within {self.call_timeout:g} s")
        if self._lifetime.fired:
            return TransportError(address.url, "the driver is stopping")
        if isinstance(exc, TransportError):
            return exc
        return TransportError(address.url, f"{exc.__class__.__name__}: {server_text(str(exc), 200)}")

    def _invalidate(self, authorization: Optional[str]) -> None:
        if self.token_provider is not None and authorization and authorization.startswith("token="):
            self.token_provider.invalidate(authorization[len("token=") :])
            logger.info(
                "master answered 401: the token of %r is refreshed and the call sent again", self.token_provider.uid
            )

    def _follow(self, current: MasterAddress, location: Optional[str], path: str) -> None:
        """Move to the leader a 307 names, when it is part of the cluster; else :class:`UnsafeRedirectError`."""
        target = follow_redirect(current, location)
        refusal = self._members.refusal(target, self.ca_bundle)
        if refusal is not None:
            raise UnsafeRedirectError(current.url + path, target.url, refusal, "Name every master in master_uri")
        logger.warning("master %s is not the leader; following %s", current, target)
        self._move_to(self._checked_address(target))

    # -- the event stream ----------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the master's events, calling the operator back on a thread of the driver."""
        if self.operator is None:
            raise ConfigurationError("start() subscribes to the master's events: give an operator to call back")
        if self._stream_thread is not None and self._stream_thread.is_alive():
            logger.warning("operator driver already started")
            return
        self._failure = None
        self._stop_event.clear()
        self._lifetime = Deadline(what="the operator driver")
        uri = self.master_uri
        if is_zookeeper(uri):
            # Ours, not pymesos' MasterDetector: it neither blocks start() nor dies (zookeeper_detector.py).
            from mesos_auth.zookeeper_detector import ZooKeeperMasterDetector

            self.detector = ZooKeeperMasterDetector(uri, self.change_master)
            self.detector.start()
        self._stream_thread = threading.Thread(target=self._run_stream, name="mesos-auth operator stream", daemon=True)
        self._stream_thread.start()

    def stop(self) -> None:
        """End the event stream; returns within about two seconds whatever the network does."""
        self._stop_requested_at = time.monotonic()
        self._stop_event.set()
        self._lifetime.cancel()
        self._cut_stream()
        detector, self.detector = self.detector, None
        if detector is not None:
            detector.stop()

    def abort(self) -> None:
        self.stop()

    def join(self) -> None:
        """Wait for the event stream to end; raise the error that ended it, if any."""
        thread = self._stream_thread
        if thread is not None and thread is not threading.current_thread():
            while thread.is_alive():
                if self._stop_event.is_set():
                    thread.join(max(0.0, self._stop_requested_at + STOP_TIMEOUT - time.monotonic()))
                    break
                thread.join(0.25)
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        self.start()
        self.join()

    def _cut_stream(self) -> None:
        deadline = self._stream_deadline
        if deadline is not None:
            deadline.cancel()

    def _run_stream(self) -> None:
        with self._lifetime.active():
            try:
                self._stream_loop()
            except Cancelled:
                pass
            except Exception as exc:  # MesosAuthError, or a bug: stop the stream, never the process
                logger.error("operator event stream stopped: %s", _describe(exc))
                self._failure = exc
                self._stop_event.set()

    def _stream_loop(self) -> None:
        attempt, failing_since, refused = 0, time.monotonic(), 0
        while not self._stop_event.is_set():
            address = self._address
            if address is None:
                self._stop_event.wait(0.1)
                continue
            lived = False
            try:
                lived = self._subscribe(address)
                if not self._stop_event.is_set():
                    logger.warning("operator event stream from %s ended; subscribing again", address)
            except Redirect as redirect:
                refusal = self._members.refusal(redirect.target, self.ca_bundle)
                if refusal is None:
                    self._move_to(self._checked_address(redirect.target))
                    continue
                logger.error("not following %s to %s: %s", address, redirect.target, refusal)
                self._move_to(self._configured[0] if self._configured else address)
            except TLSVerificationError:
                if address in self._configured or not self._configured:
                    raise
                self._move_to(self._configured[0])
            except AuthenticationFailedError:
                refused += 1
                if self.token_provider is None or refused >= MAX_SUBSCRIBE_401:
                    raise
            except (IAMUnavailableError, IAMProtocolError, InvalidTokenError, TokenExpiredError) as exc:
                logger.warning("could not obtain a token to subscribe to %s: %s", address, exc)
            except (Retryable, TransportError, OSError, http.client.HTTPException) as exc:
                if not self._stop_event.is_set():
                    logger.warning("operator subscription to %s failed: %s", address, _describe(exc))
                    self._next_configured(address)
            if lived:
                attempt, failing_since, refused = 0, time.monotonic(), 0
            attempt += 1
            if time.monotonic() - failing_since > self._timeout_seconds:
                raise MasterUnreachableError(self._master_url, f"no subscription for {self._timeout_seconds:.0f} s")
            self._stop_event.wait(self.resubscribe_backoff.delay(attempt))

    def _next_configured(self, failed: MasterAddress) -> None:
        configured = self._configured
        if len(configured) > 1 or (configured and failed not in configured):
            index = configured.index(failed) + 1 if failed in configured else 0
            self._move_to(configured[index % len(configured)])

    def _subscribe(self, address: MasterAddress) -> bool:
        """One subscription, until its stream ends; True when it lived past SUBSCRIBED."""
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        deadline = Deadline(self.call_timeout, what="the operator event stream")
        self._stream_deadline = deadline
        conn: Connection = open_connection(
            address, timeout=self.call_timeout, context=self._ssl_context, deadlines=(deadline,)
        )
        subscribed = False
        try:
            if self._stop_event.is_set():
                return False
            try:
                conn.request("POST", OPERATOR_PATH, body=json.dumps({"type": "SUBSCRIBE"}).encode(), headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                tls = tls_error(address, exc, self.ca_bundle)
                if tls is not None:
                    raise tls from None
                raise Retryable(f"{exc.__class__.__name__}: {server_text(str(exc), 200)}") from None
            if resp.status != 200:
                text = server_text(_http.read_some(resp, _http.MAX_ERROR_BODY))
                if resp.status == 401:
                    self._invalidate(authorization)
                uid = self.token_provider.uid if self.token_provider else ""
                check_subscribe_answer(
                    address, resp.status, text, resp.getheader("Location"),
                    sent_credentials=bool(authorization), principal=uid, uid=uid,
                )  # fmt: skip
            window = [self.call_timeout]
            for event in read_events(
                resp,
                stopped=self._stop_event.is_set,
                deadline=deadline,
                silence=lambda: f"no event from {address} for {window[0]:g} s: a silent master",
                max_event_size=self.max_event_size,
            ):
                interval = self._dispatch(event)
                if interval is not None:
                    subscribed = True
                    window[0] = min(MAX_SILENCE, interval * self.missed_heartbeats)
                deadline.extend(window[0])
            return subscribed
        finally:
            deadline.close()
            conn.close()
            if self._stream_deadline is deadline:
                self._stream_deadline = None

    def _dispatch(self, event: Dict[str, Any]) -> Optional[float]:
        """Call the operator back for one event; the heartbeat interval when it is SUBSCRIBED."""
        kind = event.get("type")
        if not isinstance(kind, str):
            logger.warning("skipped an operator event without a type from %s", self._master_url)
            return None
        name = kind.lower()
        interval: Optional[float] = None
        if kind == "SUBSCRIBED":
            subscribed = event.get("subscribed")
            seconds = subscribed.get("heartbeat_interval_seconds") if isinstance(subscribed, dict) else None
            ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds < MAX_SILENCE
            interval = float(seconds) if ok else DEFAULT_HEARTBEAT_INTERVAL  # type: ignore[arg-type]
        if name == "heartbeat":
            return interval
        if not isinstance(event.get(name), dict) or getattr(self, f"on_{name}", None) is None:
            logger.warning(
                "skipped a %s event from %s (unknown, or without its payload)", server_text(kind, 40), self._master_url
            )
            return interval
        try:
            getattr(self, f"on_{name}")(event[name])
        except Exception:
            logger.exception("the operator's callback for %s raised; the driver goes on", server_text(kind, 40))
        return interval

    def on_subscribed(self, info: Any) -> None:
        """pymesos logs the whole cluster state here; we log its size and hand it to ``operator.subscribed``."""
        state = info.get("get_state", {}) if isinstance(info, dict) else {}
        tasks = state.get("get_tasks", {}).get("tasks", []) if isinstance(state, dict) else []
        logger.info("operator subscribed to %s (%d tasks running)", self._master_url, len(tasks))
        callback = getattr(self.operator, "subscribed", None)
        if callable(callback):
            callback(self._dict_cls(state))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (Retryable, MesosAuthError)):
        return server_text(str(exc))
    return f"{exc.__class__.__name__}: {server_text(str(exc), 200)}"


__all__ = ["MASTER_URL_ENV", "OPERATOR_PATH", "AuthenticatedOperatorMasterDriver"]
