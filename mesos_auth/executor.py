"""AuthenticatedExecutorDriver: pymesos' executor driver, fit for an agent that authenticates executors.

It is a :class:`pymesos.MesosExecutorDriver`: the same constructor
(``executor, use_addict=False, timeout=DAY, http_timeout=10``), the same calls
(``sendStatusUpdate``, ``sendFrameworkMessage``, ``stop``, ``join``, ``run``) and
the same executor callbacks. What changes is underneath, following Mesos' own
v1 executor library (apache/mesos ``src/executor/executor.cpp``, ``MesosProcess``)
where pymesos does not (``docs/protocol.md``, "Executors"):

- the token: ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` goes out as
  ``Authorization: Bearer <token>`` on SUBSCRIBE and on every call, and is taken
  out of the process environment (pymesos never sends it: douban/pymesos#118);
  without the variable no header is sent, as the library does;
- the transport: TLS to the agent when libprocess SSL is enabled in the
  executor's environment (or the endpoint says ``https://``), verified as the
  scheduler driver verifies the master; the agent's Unix socket when
  ``MESOS_DOMAIN_SOCKET`` is set (:mod:`mesos_auth.executor_settings`,
  :mod:`mesos_auth.executor_transport`);
- refusals typed: a ``401`` is :class:`ExecutorAuthenticationError`, a ``403``
  (another executor's token) :class:`ExecutorForbiddenError`; both name the
  variable and stop the driver: ``join()``/``run()`` raise them in the caller's
  thread and the executor's ``error()`` is told. Nothing is ever raised into the
  main thread asynchronously (pymesos' ``interrupt_main``) and no SIGINT handler
  is involved;
- recovery as the library does it: when the connection to the agent breaks, a
  checkpointed executor (``MESOS_CHECKPOINT`` exactly ``"1"``; pymesos took
  ``"0"`` for true) reconnects at once, then at random pauses of up to
  ``MESOS_SUBSCRIPTION_BACKOFF_MAX``, and shuts down if no connection is made
  within ``MESOS_RECOVERY_TIMEOUT``; it re-subscribes with the tasks and status
  updates not yet acknowledged (pymesos never recorded its updates, so it sent
  none). An executor without checkpointing, or one that never reached its agent,
  shuts down at once (``MesosProcess::disconnected``). A SUBSCRIBE answered
  ``503`` or ``404`` (an agent still recovering) or another 5xx is retried every
  second, as Mesos' executors retry it; a ``400`` (unknown framework or executor)
  stops the driver like a ``401``/``403``, where Mesos' executors would retry
  forever (our choice);
- shutting down is pymesos' and Mesos': the executor's ``shutdown()``, then the
  process group is killed after ``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`` unless
  ``MESOS_LOCAL`` is set.

The event stream is read by one thread ("mesos-auth executor stream"), which
also runs the executor's callbacks, as pymesos' IO thread did.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import uuid
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from addict import Dict as AddictDict
from pymesos import MesosExecutorDriver
from pymesos.process import Process
from pymesos.utils import DAY, decode_data, encode_data

from mesos_auth import _deadline, _http
from mesos_auth._deadline import Cancelled, Deadline
from mesos_auth._redact import server_text
from mesos_auth.ca import CABundle, CABundleLike
from mesos_auth.errors import ConfigurationError, MesosAuthError, TLSVerificationError, TransportError
from mesos_auth.executor_errors import (
    AgentNotConnectedError,
    AgentRefusedError,
    ExecutorAuthenticationError,
    ExecutorForbiddenError,
)
from mesos_auth.executor_settings import ExecutorSettings, read_executor_settings
from mesos_auth.executor_transport import agent_ssl_context, open_agent_connection, resolve_agent_ca_bundle
from mesos_auth.recordio import DEFAULT_MAX_RECORD, RecordIODecoder, RecordIOError
from mesos_auth.transport import certificate_problem

logger = logging.getLogger(__name__)

#: Pause between SUBSCRIBEs an agent answered 503 or 404 (Mesos' executors: doReliableRegistration, 1 s).
RESUBSCRIBE_INTERVAL = 1.0
#: Seconds ``join()`` waits for the stream thread once stopping.
STOP_TIMEOUT = 1.5
#: Largest answer to a call that is read (the agent answers 202 with no body).
MAX_CALL_ANSWER = 1024 * 1024
READ_SIZE = 65536


class _Disconnected(Exception):
    """The connection to the agent could not be made, or broke."""


class _AgentBusy(Exception):
    """The agent answered SUBSCRIBE 503 (recovering), 404 (routes not set up yet) or another 5xx:
    subscribe again soon, as Mesos' executors do after their library reports it."""


class _Attempt:
    """One connection to the agent: whether it was made, and whether it subscribed."""

    def __init__(self) -> None:
        self.connected = False
        self.subscribed = False


class AuthenticatedExecutorDriver(MesosExecutorDriver):  # type: ignore[misc]
    """A pymesos executor driver that authenticates to its agent with the executor token.

    The positional arguments are pymesos' own (``timeout`` is accepted for
    compatibility; how long an executor waits for its agent is the agent's
    ``MESOS_RECOVERY_TIMEOUT``). ``http_timeout`` bounds each call and the start
    of each subscription, in all. Keyword-only additions:

    - ``environ``: the environment to read (``os.environ`` by default);
    - ``ca_bundle``: the CA bundle that verifies the agent (resolved by default);
    - ``tls``: use https to ``MESOS_AGENT_ENDPOINT`` (default: as libprocess, from
      ``LIBPROCESS_SSL_ENABLED``);
    - ``erase_token``: take the token out of the environment (default, as Mesos does).
    """

    # Attributes of pymesos' driver (untyped there) that this class reads and writes.
    _started: bool
    _master: Optional[str]
    stream_id: Optional[str]

    def __init__(
        self,
        executor: Any,
        use_addict: bool = False,
        timeout: float = DAY,
        http_timeout: float = 10,
        *,
        environ: Optional[Mapping[str, str]] = None,
        ca_bundle: CABundleLike = None,
        tls: Optional[bool] = None,
        erase_token: bool = True,
    ) -> None:
        # Not MesosExecutorDriver.__init__: it reads os.environ only, and its super() call
        # names pymesos' class, which `mesos-auth run` may stand in for.
        Process.__init__(self, master=None, timeout=timeout)
        settings = read_executor_settings(environ, tls=tls, erase_token=erase_token)
        self.settings: ExecutorSettings = settings
        self.endpoint = settings.endpoint
        self.framework_id = {"value": settings.framework_id}
        self.executor_id = {"value": settings.executor_id}
        self.grace_shutdown_period = settings.shutdown_grace_period
        self.checkpoint = settings.checkpoint
        self.local = settings.local
        self.executor = executor
        self.framework_info: Any = None
        self.executor_info: Any = None
        self.tasks: Dict[str, Any] = {}
        self.updates: Dict[Any, Any] = {}
        self._conn: Optional[http.client.HTTPConnection] = None
        self._dict_cls = AddictDict if use_addict else dict
        self._http_timeout = http_timeout
        self.call_timeout = float(http_timeout)
        self._master = settings.endpoint.url
        self._authorization = _Hidden(f"Bearer {settings.token}") if settings.token else None
        self.ca_bundle: Optional[CABundle] = None
        self._ssl_context = None
        if settings.endpoint.tls:
            self.ca_bundle = resolve_agent_ca_bundle(ca_bundle, environ, settings.libprocess_tls)
            self._ssl_context = agent_ssl_context(self.ca_bundle, settings.libprocess_tls)
        if self._authorization is None:
            logger.info("no executor token in the environment: subscribing to the agent without one")
        self._call_lock = threading.RLock()
        self._tracking_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._stopping = threading.Event()
        self._stop_requested_at = 0.0
        self._lifetime = Deadline(what="the executor driver")
        self._stream_thread: Optional[threading.Thread] = None
        self._rng: Callable[[], float] = random.random  # the random share of each reconnection pause
        self._failure: Optional[BaseException] = None
        self._shut_down = False
        #: Why the driver shut the executor down (None while it has not).
        self.shutdown_reason: Optional[str] = None

    @property
    def failure(self) -> Optional[BaseException]:
        """The error that stopped the driver, or None."""
        return self._failure

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._started:
                logger.warning("executor driver already started")
                return
            if self._stream_thread is not None and self._stream_thread.is_alive():
                raise ConfigurationError("the executor driver is stopping; join() it before starting it again")
            self._started = True
            self._failure = None
            self._shut_down = False
            self.shutdown_reason = None
            self._stop_event.clear()
            self._stopping.clear()
            self._lifetime = Deadline(what="the executor driver")
        self._stream_thread = threading.Thread(target=self._run_stream, name="mesos-auth executor stream", daemon=True)
        self._stream_thread.start()

    def stop(self) -> None:
        """Stop the driver: close the stream, end any call in flight (there is no TEARDOWN for executors)."""
        self._stopping.set()
        self._stop_requested_at = time.monotonic()
        with self._lock:
            self._started = False
        self._stop_event.set()
        self._lifetime.cancel()

    def abort(self) -> None:
        self.stop()

    def join(self) -> None:
        """Wait for the driver to stop; raise the error that stopped it, if any.

        Once ``stop()`` was called this returns within :data:`STOP_TIMEOUT` more.
        """
        thread = self._stream_thread
        if thread is not None and thread is not threading.current_thread():
            while thread.is_alive():
                if self._stopping.is_set():
                    thread.join(timeout=max(0.0, self._stop_requested_at + STOP_TIMEOUT - time.monotonic()))
                    break
                thread.join(timeout=0.25)
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        self.start()
        self.join()

    # -- calls ---------------------------------------------------------------------------

    def sendStatusUpdate(self, status: Any) -> None:
        """As pymesos, and the update is kept until the agent acknowledges it, so that a
        re-subscription after a lost connection carries it (as Mesos' executors do)."""
        if "timestamp" not in status:
            status["timestamp"] = int(time.time())
        if "uuid" not in status:
            status["uuid"] = encode_data(uuid.uuid4().bytes)
        if "source" not in status:
            status["source"] = "SOURCE_EXECUTOR"
        update = {"status": status}
        with self._tracking_lock:
            self.updates[_update_key(status["uuid"])] = update
        self._send(
            {"type": "UPDATE", "executor_id": self.executor_id, "framework_id": self.framework_id, "update": update}
        )

    def on_acknowledged(self, event: Any) -> None:
        with self._tracking_lock:
            self.updates.pop(_update_key(event["uuid"]), None)
        self.tasks.pop(event["task_id"]["value"], None)

    def on_shutdown(self) -> None:
        """The agent's SHUTDOWN, or ours: the executor's ``shutdown()``, then the process group goes
        after the grace period (unless ``MESOS_LOCAL``), as pymesos and Mesos' library do. Once."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if not self.local:
            self._delay_kill()
        self._callback("shutdown")
        self.abort()

    def _send(
        self,
        body: Any,
        path: Optional[str] = None,
        method: str = "POST",
        headers: Optional[Dict[str, str]] = None,
    ) -> Any:
        """One call, within ``http_timeout`` in all; non-2xx answers raise :class:`AgentRefusedError`."""
        call = body.get("type", "call") if isinstance(body, dict) else "call"
        call = call if isinstance(call, str) else "call"
        sent = dict(headers or {})
        sent.update({"Content-Type": "application/json", "Accept": "application/json"})
        if self._authorization:
            sent["Authorization"] = self._authorization
        data = json.dumps(body).encode("utf-8") if body != "" else b""
        with self._lifetime.active(), self._call_lock:
            if not self.connected:
                raise AgentNotConnectedError(call)
            status, answer, challenge = self._exchange(call, method, path or self.endpoint.path, data, sent)
        if 200 <= status < 300:
            try:
                return json.loads(answer.decode("utf-8")) if answer else {}
            except (ValueError, RecursionError):
                return {}
        raise self._refused(status, call, server_text(answer), challenge)

    def _exchange(
        self, call: str, method: str, path: str, data: bytes, headers: Dict[str, str]
    ) -> Tuple[int, bytes, str]:
        """The answer on the kept-alive connection; one closed while idle is reopened once."""
        url = self.endpoint.url
        with Deadline(self.call_timeout, what=call) as deadline:
            for attempt in (1, 2):
                if self._conn is None:
                    self._conn = open_agent_connection(
                        self.endpoint,
                        timeout=self.call_timeout,
                        read_timeout=self.call_timeout,
                        context=self._ssl_context,
                    )
                conn = self._conn
                reused = conn.sock is not None
                if reused:
                    _deadline.watch(conn.sock)  # a socket kept alive from an earlier call
                try:
                    conn.request(method, path, body=data, headers=headers)
                    resp = conn.getresponse()
                    limit = MAX_CALL_ANSWER if 200 <= resp.status < 300 else _http.MAX_ERROR_BODY
                    answer = _http.read_some(resp, limit)
                    challenge = resp.getheader("WWW-Authenticate") or ""
                    if resp.status >= 300 or not resp.isclosed():
                        self._close_call_connection()
                    return resp.status, answer, challenge
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                    self._close_call_connection()
                    if reused and attempt == 1 and not deadline.fired:
                        continue
                    raise self._transport_error(exc, deadline) from None
                except (OSError, http.client.HTTPException) as exc:
                    self._close_call_connection()
                    raise self._transport_error(exc, deadline) from None
        raise TransportError(url, f"{call} could not be sent")  # not reached

    def _close_call_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _transport_error(self, exc: BaseException, deadline: Deadline) -> MesosAuthError:
        url = self.endpoint.url
        problem = certificate_problem(exc)
        if problem is not None:
            return TLSVerificationError(url, problem, self.ca_bundle.path if self.ca_bundle else None)
        if deadline.passed:
            return TransportError(url, f"no complete answer within {self.call_timeout:g} s (http_timeout)")
        if self._lifetime.fired:
            return TransportError(url, "the executor driver is stopping")
        return TransportError(url, f"{exc.__class__.__name__}: {server_text(str(exc), 200)}")

    def _refused(self, status: int, call: str, text: str, challenge: str) -> AgentRefusedError:
        """What a non-2xx answer means (statuses and texts of src/slave/http.cpp, Http::executor).

        A call refused is raised to its caller and changes nothing else (Mesos' library
        only reports it as an ERROR event); a SUBSCRIBE refused stops the driver.
        """
        agent = self.endpoint.url
        if status == 401:
            return ExecutorAuthenticationError(
                call, text, agent=agent, token_sent=self._authorization is not None, challenge=challenge
            )
        if status == 403 and "not subscribed" not in text:
            return ExecutorForbiddenError(call, text, agent=agent)
        return AgentRefusedError(status, call, text, agent=agent)

    # -- the event stream ------------------------------------------------------------------

    def _run_stream(self) -> None:
        with self._lifetime.active():  # stop() shuts every socket and pause of this thread
            try:
                self._stream_loop()
            except Cancelled:
                pass
            except MesosAuthError as exc:
                self._fail(exc)
            except Exception as exc:  # a bug of ours: stop, never crash the process
                logger.exception("the executor driver's stream thread failed")
                self._fail(exc)

    def _stream_loop(self) -> None:
        recovering_until: Optional[float] = None  # the recovery timer (checkpointed executors only)
        while not self._stop_event.is_set():
            attempt = _Attempt()
            try:
                self._subscribe(attempt)
                reason = "the agent closed the event stream"
            except _AgentBusy as exc:
                logger.warning("%s; subscribing again in %g s", exc, RESUBSCRIBE_INTERVAL)
                recovering_until = None  # connected: Mesos cancels the recovery timer on connection
                self._stop_event.wait(RESUBSCRIBE_INTERVAL)
                continue
            except _Disconnected as exc:
                reason = str(exc)
            finally:
                self.stream_id = None
                self._close_call_connection_safely()
            if self._stopping.is_set():
                return
            if attempt.connected:
                recovering_until = None
                self._callback("disconnected")
                if not self.checkpoint:
                    return self._give_up(f"{reason}; the executor is not checkpointed")
                recovery_timeout = self.settings.recovery_timeout or 0.0
                recovering_until = time.monotonic() + recovery_timeout
                logger.warning("%s; reconnecting (recovery timeout %g s)", reason, recovery_timeout)
                continue  # the first reconnection is at once (MesosProcess::backoff)
            if recovering_until is None:
                return self._give_up(f"{reason}{self._plain_http_hint(reason)}")
            remaining = recovering_until - time.monotonic()
            if remaining <= 0:
                timeout = self.settings.recovery_timeout
                return self._give_up(f"no connection to the agent within the recovery timeout of {timeout:g} s")
            backoff = (self.settings.subscription_backoff_max or 0.0) * self._rng()
            logger.info("%s; trying again in %.2f s", reason, backoff)
            self._stop_event.wait(min(backoff, remaining))

    def _plain_http_hint(self, reason: str) -> str:
        if self.endpoint.origin is None or self.endpoint.tls:
            return ""
        return " (if the agent serves TLS only, the executor needs LIBPROCESS_SSL_ENABLED=true as the agent has it)"

    def _give_up(self, reason: str) -> None:
        """Shut the executor down, as Mesos' library does when it cannot (or may not) reconnect."""
        self.shutdown_reason = reason
        logger.warning("executor driver: %s; shutting down", reason)
        self.on_shutdown()

    def _close_call_connection_safely(self) -> None:
        if self._call_lock.acquire(timeout=0.1):  # never under a call in flight on another thread
            try:
                self._close_call_connection()
            finally:
                self._call_lock.release()

    def _subscribe_body(self) -> Dict[str, Any]:
        with self._tracking_lock:
            updates = list(self.updates.values())
        return {
            "type": "SUBSCRIBE",
            "framework_id": self.framework_id,
            "executor_id": self.executor_id,
            "subscribe": {"unacknowledged_tasks": list(self.tasks.values()), "unacknowledged_updates": updates},
        }

    def _subscribe(self, attempt: _Attempt) -> None:
        endpoint = self.endpoint
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        body = json.dumps(self._subscribe_body()).encode("utf-8")
        deadline = Deadline(self.call_timeout, what="SUBSCRIBE")  # the connection and the answer's head
        conn = open_agent_connection(
            endpoint, timeout=self.call_timeout, read_timeout=None, context=self._ssl_context, deadlines=(deadline,)
        )
        try:
            try:
                conn.connect()
            except (OSError, http.client.HTTPException) as exc:
                self._raise_tls(exc)
                raise _Disconnected(
                    f"cannot connect to the agent at {endpoint.url}: {_describe(exc, deadline)}"
                ) from None
            attempt.connected = True
            try:
                conn.request("POST", endpoint.path, body=body, headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise _Disconnected(f"SUBSCRIBE to {endpoint.url} failed: {_describe(exc, deadline)}") from None
            if resp.status != 200:
                text = server_text(_http.read_some(resp, _http.MAX_ERROR_BODY))
                if resp.status == 404 or resp.status >= 500:
                    raise _AgentBusy(f"the agent at {endpoint.url} answered SUBSCRIBE with HTTP {resp.status}: {text}")
                raise self._refused(resp.status, "SUBSCRIBE", text, resp.getheader("WWW-Authenticate") or "")
            deadline.close()  # from here the stream may be idle as long as the agent likes
            self.stream_id = resp.getheader("Mesos-Stream-Id") or ""
            self._read_events(resp, attempt)
        finally:
            deadline.close()
            conn.close()

    def _raise_tls(self, exc: BaseException) -> None:
        problem = certificate_problem(exc)
        if problem is not None:
            raise TLSVerificationError(self.endpoint.url, problem, self.ca_bundle.path if self.ca_bundle else None)

    def _read_events(self, resp: http.client.HTTPResponse, attempt: _Attempt) -> None:
        decoder = RecordIODecoder(DEFAULT_MAX_RECORD)
        while not self._stop_event.is_set():
            try:
                data = resp.read1(READ_SIZE)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if self._stop_event.is_set():
                    return
                raise _Disconnected(
                    f"the event stream from {self.endpoint.url} broke ({exc.__class__.__name__})"
                ) from None
            if not data:
                return
            try:
                records = list(decoder.records(data))
            except RecordIOError as exc:
                raise _Disconnected(f"the event stream from {self.endpoint.url} is broken: {exc}") from None
            for record in records:
                self._dispatch(record, attempt)

    def _dispatch(self, record: bytes, attempt: _Attempt) -> None:
        """One event to pymesos' handlers; one that cannot be read is an ERROR, as in executor.cpp ``_read``."""
        try:
            event = json.loads(record.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._callback("error", "Failed to de-serialize event: not a JSON object with a type")
            return
        kind = event["type"]
        if kind == "SUBSCRIBED":
            attempt.subscribed = True
            logger.info(
                "executor %s subscribed to the agent at %s",
                server_text(self.executor_id["value"], 100),
                self.endpoint.url,
            )
        try:
            self.on_event(event)
        except Exception:
            logger.exception("handling the agent's %s event raised; the driver goes on", server_text(kind, 40))

    # -- failures and callbacks --------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """Stop for good on what cannot heal (a refused token, an untrusted agent); tell the executor."""
        logger.error("mesos-auth executor driver stopped: %s", exc)
        self._failure = exc
        self.stop()
        self._callback("error", str(exc))

    def _callback(self, name: str, *args: Any) -> None:
        method: Optional[Callable[..., Any]] = getattr(self.executor, name, None)
        if method is None:
            return
        try:
            method(self, *args)
        except Exception:
            logger.exception("the executor's %s callback raised", name)


class _Hidden(str):
    """The Authorization value: a str for http.client, never shown by repr (a debugger, ``vars(driver)``)."""

    def __repr__(self) -> str:
        return "'Bearer <executor token>'"


def _update_key(value: Any) -> Any:
    """The key pymesos' ``on_acknowledged`` uses for an update: its UUID, from the base64 the wire carries."""
    try:
        return uuid.UUID(bytes=decode_data(value))
    except (TypeError, ValueError, AttributeError):
        return value


def _describe(exc: BaseException, deadline: Deadline) -> str:
    if deadline.passed:
        return f"no answer within {deadline.seconds or 0:g} s (http_timeout)"
    return f"{exc.__class__.__name__}: {server_text(str(exc), 200)}"
