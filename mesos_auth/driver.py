"""AuthenticatedSchedulerDriver: pymesos' scheduler driver, made fit for DC/OS.

It is a :class:`pymesos.MesosSchedulerDriver`: the same constructor, every call
(``launchTasks``, ``acknowledgeStatusUpdate``, ...) and every scheduler callback
work as before. What it changes is the transport underneath, which in pymesos
cannot serve a DC/OS cluster (``shared/docs/pymesos.md``):

- credentials: ``Authorization: token=<JWT>`` from a :class:`TokenProvider` on
  SUBSCRIBE and on every call, computed per request; pymesos' HTTP Basic auth
  (``principal``/``secret``) still works for plain Mesos clusters;
- the principal: in strict mode (and whenever an account is used) the framework's
  principal must be the account's uid; it is filled in when unset, and a mismatch
  fails in the constructor, before any connection;
- TLS to the master, verified against the CA bundle, on the stream and the calls;
- recovery instead of death: pymesos turns any non-2xx answer into a fatal error
  that tears the framework down through a SIGINT. Here a 401 refreshes the token
  and resends; a dropped or silent stream, an unreachable master or IAM re-subscribe
  with backoff and the same framework id; a 307 follows the leader. Only what
  cannot heal (principal mismatch, permission refused, credentials rejected, an
  untrusted certificate) stops the driver, with a typed error that ``join()`` and
  ``run()`` raise in the caller's thread and the scheduler is told about. No
  TEARDOWN is sent on any of these paths, and nothing is ever raised into the
  main thread asynchronously.

The event stream is read by one thread ("mesos-auth stream"), which also runs the
scheduler's callbacks, as pymesos' IO thread did.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Union

from pymesos import MesosSchedulerDriver
from pymesos.utils import DAY

from mesos_auth.ca import CABundle, CABundleLike, resolve_ca_bundle
from mesos_auth.discovery import AccountLike, resolve_service_account
from mesos_auth.errors import (
    AuthenticationFailedError,
    ConfigurationError,
    IAMUnavailableError,
    InsecureTransportError,
    MasterCallError,
    MasterUnreachableError,
    MesosAuthError,
    NotConnectedError,
    PermissionRefusedError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
    TLSVerificationError,
    TransportError,
)
from mesos_auth.master_uri import MasterAddress, follow_redirect, is_zookeeper, parse_master
from mesos_auth.recordio import RecordIOError
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.subscription import Redirect, Retryable, check_subscribe_answer, error_event, read_events
from mesos_auth.tokens import TokenInfo, TokenProvider
from mesos_auth.transport import Connection, make_ssl_context, open_connection, tls_error

logger = logging.getLogger(__name__)

SCHEDULER_PATH = "/api/v1/scheduler"
#: Pauses between re-subscriptions: 0.5 s doubling to 15 s (Mesos' own agents cap at 15 s).
DEFAULT_RESUBSCRIBE_BACKOFF = RetryPolicy(initial_delay=0.5, backoff=2.0, max_delay=15.0, jitter=0.2, deadline=DAY)
#: A stream that stays silent this many heartbeat intervals is given up and re-subscribed.
DEFAULT_MISSED_HEARTBEATS = 3
#: Seconds to wait for a master to answer one call or the start of a subscription.
DEFAULT_CALL_TIMEOUT = 30.0
#: Consecutive 401s to SUBSCRIBE, each with a freshly obtained token, before giving up.
MAX_SUBSCRIBE_401 = 5
#: Redirects followed at once; more in a row (masters pointing at each other) wait the backoff.
MAX_IMMEDIATE_REDIRECTS = 5


class AuthenticatedSchedulerDriver(MesosSchedulerDriver):  # type: ignore[misc]
    """A pymesos scheduler driver that authenticates as a DC/OS service account.

    The positional arguments are pymesos' own. Keyword-only additions:

    - ``service_account``: a :class:`ServiceAccount`, a secret (dict or JSON) or a
      secret file path; by default ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``;
    - ``security_mode``: disabled, permissive or strict; detected by default;
    - ``ca_bundle``: the CA bundle for TLS; resolved by default;
    - ``token_provider``: a :class:`TokenProvider` to share (then no account is resolved);
    - ``tls``: use https for master addresses given without a scheme (and those
      found in ZooKeeper); by default only in strict mode;
    - ``allow_insecure_master``: let strict mode talk plain http to the master;
    - ``missed_heartbeats``, ``call_timeout``, ``resubscribe_backoff``: recovery tuning.
    """

    # Attributes of pymesos' driver (untyped there) that this class reads and writes.
    _started: bool
    _conn: Optional[Connection]
    _master: Optional[str]
    version: Optional[str]
    stream_id: Optional[str]

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
        self.security_mode = detect_security_mode(security_mode, environ=environ)
        self.ca_bundle: CABundle = resolve_ca_bundle(ca_bundle, environ=environ)
        self.allow_insecure_master = allow_insecure_master
        self.missed_heartbeats = missed_heartbeats
        self.call_timeout = call_timeout
        self.resubscribe_backoff = resubscribe_backoff
        self._tls_default = tls if tls is not None else self.security_mode is SecurityMode.STRICT
        self.token_provider = self._resolve_token_provider(token_provider, service_account, environ)
        if self.token_provider is not None and self._basic_credential is not None:
            raise ConfigurationError(
                "give either a service account (DC/OS token auth) or principal/secret (Mesos HTTP Basic auth), "
                "not both: a request carries one Authorization header"
            )
        if self.token_provider is not None:
            self._enforce_principal(self.token_provider.uid)
        self._address: Optional[MasterAddress] = None
        if isinstance(master_uri, str) and not is_zookeeper(master_uri):
            self._address = self._checked_address(parse_master(master_uri, self._default_scheme))
        self._ssl_context = make_ssl_context(self.ca_bundle)
        self._call_lock = threading.RLock()
        self._stop_event = threading.Event()  # set when the stream thread must end
        self._stopping = threading.Event()  # set first thing in stop(): an ending stream is then expected
        self._stream_lock = threading.Lock()
        self._stream_conn: Optional[Connection] = None
        self._stream_thread: Optional[threading.Thread] = None
        self._failure: Optional[BaseException] = None
        self._resubscribe_requested = False

    # -- configuration -----------------------------------------------------------

    @property
    def _default_scheme(self) -> str:
        return "https" if self._tls_default else "http"

    def _resolve_token_provider(
        self,
        provider: Optional[TokenProvider],
        service_account: AccountLike,
        environ: Optional[Mapping[str, str]],
    ) -> Optional[TokenProvider]:
        if provider is not None:
            return provider
        if self.security_mode is SecurityMode.DISABLED:
            if service_account is not None:
                logger.info("security mode is disabled: the service account is not used")
            return None
        resolution = resolve_service_account(service_account, environ=environ)
        if self.security_mode is SecurityMode.STRICT:
            account = resolution.require("strict mode requires a service account")
        elif resolution.account is None:
            logger.info("no service account found; running unauthenticated (permissive mode)")
            return None
        else:
            account = resolution.account
        return TokenProvider(account, ca_bundle=self.ca_bundle, security_mode=self.security_mode)

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
                address.url, "credentials to the master (use https://, or allow_insecure_master=True)"
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
            self._stopping.clear()
        if self.token_provider is not None:
            self.token_provider.add_refresh_listener(self._on_token_refreshed)
        uri = self.master_uri
        if isinstance(uri, str) and is_zookeeper(uri):
            from pymesos.detector import MasterDetector

            self.detector = MasterDetector(uri[uri.index("://") + 3 :], self)
            self.detector.start()
        elif self._address is not None:
            self._master = self._address.netloc
        self._stream_thread = threading.Thread(target=self._run_stream, name="mesos-auth stream", daemon=True)
        self._stream_thread.start()

    def stop(self, failover: bool = False) -> None:
        """Stop the driver; without ``failover`` the framework is torn down (TEARDOWN), as in pymesos."""
        self._stopping.set()  # the master ends the stream on TEARDOWN: not a reason to re-subscribe
        with self._lock:
            was_started = self._started
            self._started = False
            self._failover = failover
            detector, self.detector = self.detector, None
        if detector is not None:
            detector.stop()
        if was_started and not failover and self._failure is None and self.connected:
            try:
                self._teardown()
            except Exception as exc:
                logger.warning("TEARDOWN failed: %s", exc)
        self._stop_event.set()
        self._close_stream()
        if self.token_provider is not None:
            self.token_provider.remove_refresh_listener(self._on_token_refreshed)

    def abort(self) -> None:
        self.stop()

    def acknowledgeStatusUpdate(self, status: Any) -> None:
        """As pymesos, but a no-op once stopping: a scheduler that calls ``stop()`` from
        ``statusUpdate`` tore the framework down, and there is nothing left to
        acknowledge (pymesos would fail an assertion here)."""
        if self._stopping.is_set():
            return
        super().acknowledgeStatusUpdate(status)

    def join(self) -> None:
        """Wait for the driver to stop; raise the error that stopped it, if any."""
        thread = self._stream_thread
        if thread is not None and thread is not threading.current_thread():
            while thread.is_alive():
                thread.join(timeout=1.0)
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        self.start()
        self.join()

    def change_master(self, master: Optional[str]) -> None:
        """A new leading master (from ZooKeeper, or a 307): re-subscribe there."""
        address = None
        if master:
            scheme = self._address.scheme if self._address is not None else self._default_scheme
            address = self._checked_address(parse_master(master, default_scheme=scheme))
        with self._lock:
            self._address = address
            self._master = address.netloc if address else None
            self.version = None
        self._close_stream()

    # -- requests ------------------------------------------------------------------

    def _authorization(self) -> Optional[str]:
        if self.token_provider is not None:
            return self.token_provider.header()
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
        """Send one call. A 401 refreshes the token and resends once; a stale keep-alive
        connection is reopened once; other refusals raise :class:`MasterCallError`."""
        call = body.get("type", "call") if isinstance(body, dict) else "call"
        headers = dict(headers or {})
        with self._call_lock:
            conn = self._get_conn()
            if conn is None:
                raise NotConnectedError(call)
            if body != "":
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            else:
                data = b""
            stream_id = self.stream_id
            if stream_id:
                headers["Mesos-Stream-Id"] = stream_id
            authorization = self._authorization()
            if authorization:
                headers["Authorization"] = authorization
            for attempt in (1, 2):
                try:
                    conn.request(method, path, body=data, headers=headers)
                    resp = conn.getresponse()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                    self._close()
                    if attempt == 2:
                        raise self._transport_error(exc) from None
                    conn = self._get_conn()
                    if conn is None:
                        raise NotConnectedError(call) from None
                    continue
                except (OSError, http.client.HTTPException) as exc:
                    self._close()
                    raise self._transport_error(exc) from None
                if resp.status == 401 and attempt == 1 and self.token_provider is not None:
                    resp.read()
                    self._auth_failed_once(headers.get("Authorization"))
                    headers["Authorization"] = self.token_provider.header()
                    continue
                break
            if resp.status < 200 or resp.status >= 300:
                raise self._refused_call(resp, call, stream_id)
            result = resp.read()
            if not result:
                return {}
            try:
                return json.loads(result.decode("utf-8"))
            except Exception:
                return {}

    def _auth_failed_once(self, authorization: Optional[str]) -> None:
        if self.token_provider is not None and authorization and authorization.startswith("token="):
            self.token_provider.invalidate(authorization[len("token=") :])
            logger.info(
                "master answered 401: the token of %r is refreshed before the next try", self.token_provider.uid
            )

    def _transport_error(self, exc: BaseException) -> MesosAuthError:
        address = self._address
        if address is not None:
            tls = tls_error(address, exc, self.ca_bundle)
            if tls is not None:
                return tls
        return TransportError(address.url if address else "the master", f"{exc.__class__.__name__}: {exc}")

    def _refused_call(self, resp: Any, call: str, stream_id: Optional[str]) -> MasterCallError:
        text = resp.read().decode("utf-8", "replace").strip()[:500]
        status = resp.status
        lowered = text.lower()
        if status == 307:
            location = resp.getheader("Location")
            logger.warning("%s answered by a non-leading master; following the leader at %s", call, location)
            target = follow_redirect(self._address, location) if self._address else None
            self._request_resubscribe(stream_id, target)
        elif status == 403 or (status == 400 and ("stream" in lowered or "not subscribed" in lowered)):
            logger.warning("master no longer knows our subscription (%s); re-subscribing", text)
            self._request_resubscribe(stream_id, None)
        elif status == 401 and self.token_provider is not None:
            self._notify_auth_failure(AuthenticationFailedError(self._master_url, f"{call} refused twice"))
        return MasterCallError(status, call, text, master=self._master_url)

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
        attempt = 0
        failing_since = time.monotonic()
        subscribe_401s = redirects = 0
        try:
            while not self._stop_event.is_set():
                address = self._address
                if address is None:
                    self._stop_event.wait(0.1)
                    continue
                subscribed = threading.Event()
                try:
                    self._subscribe(address, subscribed)
                    if not self._stopping.is_set():
                        logger.warning("event stream from %s ended; re-subscribing", address)
                except Redirect as redirect:
                    logger.warning("master %s is not the leader; following %s", address, redirect.target)
                    with self._lock:
                        self._address = self._checked_address(redirect.target)
                        self._master = self._address.netloc
                        self.version = None
                    redirects += 1
                    if redirects <= MAX_IMMEDIATE_REDIRECTS:
                        continue
                except TLSVerificationError:
                    raise  # an untrusted certificate does not heal by retrying
                except AuthenticationFailedError as exc:
                    subscribe_401s += 1
                    self._notify_auth_failure(exc)
                    if self.token_provider is None or subscribe_401s >= MAX_SUBSCRIBE_401:
                        raise
                except (Retryable, TransportError, IAMUnavailableError, OSError, RecordIOError) as exc:
                    if isinstance(exc, IAMUnavailableError):
                        self._notify_auth_failure(exc)
                    if not self._stopping.is_set():
                        logger.warning("subscription to %s failed: %s", address, exc)
                finally:
                    self._close_stream()
                    was_connected = self.stream_id is not None
                    self.stream_id = None
                    with self._call_lock:  # never under a call in flight on another thread
                        self._close()
                    if was_connected and not self._stopping.is_set():
                        self._callback("disconnected")
                if subscribed.is_set():
                    attempt, failing_since, subscribe_401s, redirects = 0, time.monotonic(), 0, 0
                if self._stopping.is_set():
                    break
                if self._resubscribe_requested:
                    self._resubscribe_requested = False
                    if subscribed.is_set():
                        continue
                attempt += 1
                if time.monotonic() - failing_since > self._timeout:
                    raise MasterUnreachableError(
                        self._master_url, f"no subscription for {self._timeout:.0f} s (the driver's timeout)"
                    )
                delay = self.resubscribe_backoff.delay(attempt)
                logger.info("re-subscribing to %s in %.1f s", self._master_url, delay)
                self._stop_event.wait(delay)
        except MesosAuthError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug of ours or of a callback: stop, never crash the process
            logger.exception("the event stream thread failed")
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Stop for good on an error that cannot heal; tell the scheduler; no TEARDOWN."""
        logger.error("mesos-auth driver stopped: %s", exc)
        self._failure = exc
        with self._lock:
            self._started = False
        self._stopping.set()
        self._stop_event.set()
        if isinstance(exc, (PermissionRefusedError, PrincipalMismatchError)):
            self._notify_auth_failure(exc)  # a 401 (AuthenticationFailedError) was told as it came
        from_error_event = isinstance(exc, SubscriptionRefusedError) and exc.status == 0
        if not from_error_event:  # an ERROR event was already passed to error() by pymesos
            self._callback("error", str(exc))

    def _subscribe(self, address: MasterAddress, subscribed: threading.Event) -> None:
        if self.version is None:
            self.version = self._get_version(address.netloc)
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": self.framework}}
        if "id" in self._framework:
            body["framework_id"] = self._framework["id"]
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        conn = open_connection(address, timeout=self.call_timeout, context=self._ssl_context)
        with self._stream_lock:
            if self._stop_event.is_set():
                return
            self._stream_conn = conn
        try:
            conn.request("POST", SCHEDULER_PATH, body=json.dumps(body).encode("utf-8"), headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            tls = tls_error(address, exc, self.ca_bundle)
            if tls is not None:
                raise tls from None
            raise Retryable(f"{exc.__class__.__name__}: {exc}") from None
        self._check_subscribe_answer(address, resp, authorization)
        stream_id = resp.getheader("Mesos-Stream-Id")
        if not stream_id:
            raise Retryable("SUBSCRIBE answered 200 without a Mesos-Stream-Id")
        self.stream_id = stream_id

        def silence() -> str:
            return f"no heartbeat from {address} for {self.missed_heartbeats} intervals (a silent master)"

        for event in read_events(resp, self._stop_event.is_set, silence):
            self._dispatch(event, conn, subscribed)

    def _check_subscribe_answer(self, address: MasterAddress, resp: Any, authorization: Optional[str]) -> None:
        if resp.status == 200:
            return
        text = resp.read().decode("utf-8", "replace").strip()[:500]
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

    def _dispatch(self, event: Dict[str, Any], conn: Connection, subscribed: threading.Event) -> None:
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            interval = float(event.get("subscribed", {}).get("heartbeat_interval_seconds") or 15.0)
            if conn.sock is not None:
                conn.sock.settimeout(interval * self.missed_heartbeats)
            subscribed.set()
            logger.info(
                "subscribed to %s as framework %s%s",
                self._master_url,
                event.get("subscribed", {}).get("framework_id", {}).get("value"),
                f" (principal {self._framework.get('principal')!r})" if self._framework.get("principal") else "",
            )
        try:
            self.on_event(event)
        except Exception:
            logger.exception("the scheduler's %s callback raised; the driver goes on", kind)
        if kind == "SUBSCRIBED" and self.token_provider is not None:
            self._callback("authenticated", self.token_provider.uid)
        if kind == "ERROR":
            message = event.get("error", {}).get("message", "")
            raise error_event(message, master=self._master_url, principal=str(self._framework.get("principal", "")))

    def _close_stream(self) -> None:
        with self._stream_lock:
            conn, self._stream_conn = self._stream_conn, None
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def _get_version(self, master: Optional[str]) -> Optional[str]:
        """The master's version from ``GET /version`` (no auth), over TLS when the master uses it."""
        address = self._address
        if master is None or address is None:
            return None
        conn = open_connection(address, timeout=min(self.call_timeout, 10.0), context=self._ssl_context)
        try:
            conn.request("GET", "/version")
            resp = conn.getresponse()
            if 200 <= resp.status < 300:
                return str(json.loads(resp.read().decode("utf-8"))["version"])
        except Exception as exc:
            tls = tls_error(address, exc, self.ca_bundle)
            if tls is not None:
                raise tls from None
            logger.debug("GET /version from %s failed: %s", address, exc)
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
        self._callback("authenticationFailed", error)

    def _on_token_refreshed(self, info: TokenInfo) -> None:
        self._callback("tokenRefreshed", info)
