"""The real HTTP(S) server that the fakes (FakeIAM, FakeMaster) are built on.

Each fake is an ordinary object that owns one or two listeners on 127.0.0.1 with
ports chosen by the OS (port 0): plain http, https (with a :class:`TestCA`), or
both, as a DC/OS master serves both. A background thread accepts; each connection
gets a thread of its own, so a long-lived event stream never blocks other calls.
TLS handshakes happen in the connection's thread, not in the accept loop.

With ``ssl_downgrade`` one listener serves plain http and TLS on the same port,
as a libprocess server started with ``LIBPROCESS_SSL_ENABLED=true`` and
``LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true`` does (a permissive DC/OS master): see
:func:`looks_like_tls` (``docs/protocol.md``, "One port for http and https").

Failures inside server threads are kept in :attr:`FakeServer.errors` and raised
in the test by :meth:`FakeServer.check`, never lost in a log (pytest-httpserver's
``check_assertions`` idea).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import socketserver
import ssl
import struct
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from mesos_auth.testing.tls import TestCA

TLSOption = Union[None, bool, TestCA, ssl.SSLContext]

#: Bounds the TLS handshake of one connection (our choice, unverified: a fake
#: must not keep a thread forever for a client that stalls mid-handshake).
TLS_HANDSHAKE_TIMEOUT = 30.0

# The bytes libprocess' downgrade check compares (OpenSSL's ssl2.h / ssl3.h).
_SSL2_MT_CLIENT_HELLO = 1
_SSL3_RT_HANDSHAKE = 22
_SSL3_VERSION_MAJOR = 3
_SSL3_MT_CLIENT_HELLO = 1
#: How many bytes libprocess peeks at (``::recv(fd, data, 6, MSG_PEEK)``).
DOWNGRADE_PEEK_BYTES = 6


def looks_like_tls(first_bytes: bytes) -> bool:
    """Whether a downgrading libprocess server treats a connection as TLS.

    The rules of apache/mesos ``3rdparty/libprocess/src/ssl/openssl_socket.cpp``
    (``OpenSSLSocketImpl::accept``; the same in
    ``posix/libevent/libevent_ssl_socket.cpp``, ``peek_callback``), given what one
    ``recv(fd, data, 6, MSG_PEEK)`` returned once the socket became readable:

    1. fewer than 2 bytes (the code tests ``size < 2``; its comment says 3): plain;
    2. the high bit of byte 0 set and byte 2 == SSL2_MT_CLIENT_HELLO (1): TLS;
    3. byte 0 == SSL3_RT_HANDSHAKE (22), byte 1 == SSL3_VERSION_MAJOR (3) and
       byte 5 == SSL3_MT_CLIENT_HELLO (1): TLS;
    4. anything else: plain.

    A byte the peek did not return counts as not matching (unverified: the C
    code then reads an uninitialised array element).
    """
    data = first_bytes[:DOWNGRADE_PEEK_BYTES]
    if len(data) < 2:
        return False

    def byte(index: int) -> Optional[int]:
        return data[index] if index < len(data) else None

    if data[0] & 0x80 and byte(2) == _SSL2_MT_CLIENT_HELLO:
        return True
    return data[0] == _SSL3_RT_HANDSHAKE and data[1] == _SSL3_VERSION_MAJOR and byte(5) == _SSL3_MT_CLIENT_HELLO


class FakeServerError(AssertionError):
    """Raised by :meth:`FakeServer.check` when a server thread failed."""


@dataclass
class Request:
    """One request as the fake saw it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    scheme: str
    client: Tuple[str, int]

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """A complete (non-streaming) answer."""

    status: int
    body: bytes = b""
    headers: List[Tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Optional[List[Tuple[str, str]]] = None) -> Response:
        extra = list(headers or [])
        return cls(status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *extra])

    @classmethod
    def text(cls, status: int, text: str, headers: Optional[List[Tuple[str, str]]] = None) -> Response:
        extra = list(headers or [])
        return cls(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8"), *extra])


class ChunkedStream:
    """Writes an HTTP/1.1 chunked body; used for Mesos' RecordIO event stream."""

    def __init__(self, wfile: Any, lock: threading.Lock) -> None:
        self._wfile = wfile
        self._lock = lock
        self.closed = False

    def write(self, data: bytes) -> bool:
        """Send one chunk; False when the peer has gone (the stream is then closed)."""
        if self.closed or not data:
            return not self.closed
        with self._lock:
            try:
                self._wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self._wfile.flush()
                return True
            except (OSError, ValueError):
                self.closed = True
                return False

    def abandon(self) -> None:
        """End without the terminating chunk: the client sees a body cut short, as from a
        proxy whose upstream broke off (the connection is closed after it)."""
        with self._lock:
            self.closed = True

    def close(self) -> None:
        """End the body with the terminating zero-length chunk."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._wfile.write(b"0\r\n\r\n")
                self._wfile.flush()
            except (OSError, ValueError):
                pass


#: What a fake's ``handle`` gets to answer with: a Response, or a callable that
#: takes over the connection to stream (it is given a ChunkedStream after the
#: status line and headers were sent).
StreamBody = Callable[[ChunkedStream], None]


@dataclass
class Streaming:
    status: int
    headers: List[Tuple[str, str]]
    body: StreamBody


Answer = Union[Response, Streaming]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
    # algorithm meets the client's delayed ACK and every answer waits ~40 ms.
    disable_nagle_algorithm = True
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the fakes keep their own records; nothing goes to stderr

    def _dispatch(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if owner.max_request_body is not None and length > owner.max_request_body:
            # Answered before reading the body, which then is never read: the connection closes.
            self.close_connection = True
            self._respond(owner.request_too_large())
            return
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            # Per connection: a downgrading listener serves both schemes.
            scheme="https" if isinstance(self.connection, ssl.SSLSocket) else "http",
            client=self.client_address[:2],
        )
        try:
            answer = owner.handle(request)
        except Exception:
            owner.record_error(f"{self.command} {self.path} raised:\n{traceback.format_exc()}")
            answer = Response.text(500, "fake server error (see check())")
        if isinstance(answer, Streaming):
            self._stream(answer)
        else:
            self._respond(answer)

    def _respond(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _stream(self, streaming: Streaming) -> None:
        self.send_response(streaming.status)
        for name, value in streaming.headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        stream = ChunkedStream(self.wfile, threading.Lock())
        try:
            streaming.body(stream)
        except Exception:
            self.server.owner.record_error(f"stream of {self.path} raised:\n{traceback.format_exc()}")
        finally:
            stream.close()
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class _Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: FakeServer, ssl_context: Optional[ssl.SSLContext], *, downgrade: bool = False) -> None:
        self.owner = owner
        self.ssl_context = ssl_context
        self.downgrade = downgrade and ssl_context is not None
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def schemes(self) -> Tuple[str, ...]:
        """The URL schemes this port answers: one, or both when it downgrades."""
        if self.ssl_context is None:
            return ("http",)
        return ("https", "http") if self.downgrade else ("https",)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.owner.refusing_connections:
            # An abortive close (RST): the client sees "connection reset", as from a dead host.
            with contextlib.suppress(OSError):
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Tracked from the start: stop() and drop_connections() abort a connection
        # still waiting for its first bytes or its handshake, too.
        self.owner.track_connection(request, True)
        connection = request
        try:
            if self.ssl_context is not None and self._wants_tls(request):
                secured = self._handshake(self.ssl_context, request, client_address)
                if secured is None:
                    return
                connection = secured
            super().finish_request(connection, client_address)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self.owner.track_connection(request, False)
            self.owner.track_connection(connection, False)
            if connection is not request:
                with contextlib.suppress(OSError):
                    connection.close()

    def _wants_tls(self, request: socket.socket) -> bool:
        """Without downgrade: always. With it: libprocess' peek at the first bytes.

        Like libprocess, wait (without a time limit) for the socket to become
        readable, then peek once at up to 6 bytes; a connection that never sends
        anything is neither TLS nor plain and keeps only its own thread (libprocess'
        ``SSLTest.SilentSocket``). A reset or closed peer peeks fewer than 2 bytes:
        plain, as in libprocess, and the plain handler then meets the closed socket.
        """
        if not self.downgrade:
            return True
        # A blocking MSG_PEEK returns once anything arrived: libprocess' poll-then-peek.
        try:
            first = request.recv(DOWNGRADE_PEEK_BYTES, socket.MSG_PEEK)
        except OSError:
            first = b""
        return looks_like_tls(first)

    def _handshake(
        self, context: ssl.SSLContext, request: socket.socket, client_address: Any
    ) -> Optional[ssl.SSLSocket]:
        connection: Optional[ssl.SSLSocket] = None
        try:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            # wrap_socket detaches the plain socket: the TLS socket owns the
            # connection from here on (tracked before the handshake, so that stop()
            # can abort it) and is closed by finish_request; socketserver only
            # closes the plain one.
            connection = context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            self.owner.track_connection(connection, True)
            connection.do_handshake()
            connection.settimeout(None)
            return connection
        except (ssl.SSLError, OSError) as exc:
            # A client that does not trust us ends here: that is a test outcome, not a failure.
            self.owner.tls_failures.append(f"{client_address[0]}:{client_address[1]}: {exc}")
            if connection is not None:
                self.owner.track_connection(connection, False)
                with contextlib.suppress(OSError):
                    connection.close()
            return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner.record_error(f"connection from {client_address} failed:\n{traceback.format_exc()}")


class FakeServer:
    """Base of the fakes: one or two real listeners on 127.0.0.1, port 0.

    ``tls``: None/False for plain http only; True to make a :class:`TestCA` of its
    own; a :class:`TestCA` or an ``ssl.SSLContext`` to serve https with it. With TLS
    on, a plain-http listener is opened as well unless ``plain_http=False``;
    :attr:`url` is the https one.

    ``ssl_downgrade``: with TLS on, one listener serves https and plain http on the
    same port, told apart by the first bytes as libprocess does with
    ``LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true`` (:func:`looks_like_tls`); then
    :attr:`http_url` and :attr:`https_url` share the port and ``plain_http`` is
    moot (no second listener). Without TLS it changes nothing, as libprocess
    ignores the flag when SSL is disabled. :attr:`Request.scheme` is per connection.

    Subclasses implement :meth:`handle`, called on a connection thread.
    """

    #: Bodies announcing more bytes than this are refused unread (None: no cap).
    max_request_body: Optional[int] = None

    def __init__(self, *, tls: TLSOption = None, plain_http: bool = True, ssl_downgrade: bool = False) -> None:
        self.ca: Optional[TestCA] = None
        self._own_ca = False  # made here: its temporary directory (keys included) goes at stop()
        context: Optional[ssl.SSLContext] = None
        if tls is True:
            self.ca = TestCA()
            self._own_ca = True
            context = self.ca.server_context()
        elif isinstance(tls, TestCA):
            self.ca = tls
            context = tls.server_context()
        elif isinstance(tls, ssl.SSLContext):
            context = tls
        self.errors: List[str] = []
        self.tls_failures: List[str] = []
        self.refusing_connections = False
        self._lock = threading.RLock()
        self._connections: Dict[int, Any] = {}
        # Scheme -> listener; with downgrade both schemes name the same listener.
        self._listeners: Dict[str, _Listener] = {}
        if context is not None and ssl_downgrade:
            both = _Listener(self, context, downgrade=True)
            self._listeners.update(https=both, http=both)
        else:
            if context is not None:
                self._listeners["https"] = _Listener(self, context)
            if context is None or plain_http:
                self._listeners["http"] = _Listener(self, None)
        self._threads: List[threading.Thread] = []
        self._started = False

    # -- life cycle ----------------------------------------------------------

    def start(self) -> FakeServer:
        if self._started:
            return self
        for listener in self._distinct_listeners():
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}-{'+'.join(listener.schemes)}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            for listener in self._distinct_listeners():
                listener.server_close()  # bound at construction: free the ports even if never started
            self._remove_own_ca()
            return
        self._started = False
        self.before_stop()
        for listener in self._distinct_listeners():
            listener.shutdown()
            listener.server_close()
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            _abort(connection)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self._remove_own_ca()

    def _distinct_listeners(self) -> List[_Listener]:
        distinct: List[_Listener] = []
        for listener in self._listeners.values():
            if listener not in distinct:
                distinct.append(listener)
        return distinct

    def _remove_own_ca(self) -> None:
        if self._own_ca and self.ca is not None:
            self.ca.cleanup()

    def before_stop(self) -> None:
        """Hook for subclasses: end streams before listeners close."""

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------

    def _address(self, scheme: str) -> str:
        listener = self._listeners.get(scheme)
        if listener is None:
            raise AttributeError(f"{type(self).__name__} has no {scheme} listener")
        return f"{scheme}://127.0.0.1:{listener.server_address[1]}"

    @property
    def http_url(self) -> str:
        return self._address("http")

    @property
    def https_url(self) -> str:
        return self._address("https")

    @property
    def url(self) -> str:
        """The main address: https when TLS is on, else http."""
        return self._address("https" if "https" in self._listeners else "http")

    @property
    def tls(self) -> bool:
        return "https" in self._listeners

    @property
    def ssl_downgrade(self) -> bool:
        """Whether plain http and https share one port (libprocess' SSL downgrade)."""
        listener = self._listeners.get("https")
        return listener is not None and listener.downgrade

    @property
    def ca_bundle(self) -> Optional[str]:
        return self.ca.ca_bundle if self.ca else None

    # -- faults shared by every fake -----------------------------------------------

    def go_down(self) -> None:
        """Reset every new connection, as a crashed or unreachable server would."""
        self.refusing_connections = True
        self.drop_connections()

    def come_up(self) -> None:
        self.refusing_connections = False

    def drop_connections(self) -> None:
        """Abort every open connection (keep-alive and streams)."""
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            _abort(connection)

    # -- bookkeeping ---------------------------------------------------------------

    def track_connection(self, connection: Any, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._connections[id(connection)] = connection
            else:
                self._connections.pop(id(connection), None)

    def record_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def check(self) -> None:
        """Raise :class:`FakeServerError` if anything failed inside the server threads."""
        with self._lock:
            errors = list(self.errors)
        if errors:
            raise FakeServerError(f"{type(self).__name__} failed {len(errors)} time(s):\n" + "\n".join(errors))

    def request_too_large(self) -> Response:
        """The answer to a body over :attr:`max_request_body` (subclasses word it as their original)."""
        return Response.text(413, "request body too large", [("Connection", "close")])

    def handle(self, request: Request) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError


def _abort(connection: Any) -> None:
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
