"""The real HTTP(S) server that the fakes (FakeIAM, FakeMaster) are built on.

Each fake is an ordinary object that owns one or two listeners on 127.0.0.1 with
ports chosen by the OS (port 0): plain http, https (with a :class:`TestCA`), or
both, as a DC/OS master serves both. A background thread accepts; each connection
gets a thread of its own, so a long-lived event stream never blocks other calls.
TLS handshakes happen in the connection's thread, not in the accept loop.

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
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            scheme=self.server.scheme,
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

    def __init__(self, owner: FakeServer, scheme: str, ssl_context: Optional[ssl.SSLContext]) -> None:
        self.owner = owner
        self.scheme = scheme
        self.ssl_context = ssl_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.owner.refusing_connections:
            # An abortive close (RST): the client sees "connection reset", as from a dead host.
            with contextlib.suppress(OSError):
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = request
        if self.ssl_context is not None:
            try:
                request.settimeout(30)
                # wrap_socket detaches the plain socket: the TLS socket owns the
                # connection from here on, and is closed below (socketserver only
                # closes the plain one).
                connection = self.ssl_context.wrap_socket(request, server_side=True)
                connection.settimeout(None)
            except (ssl.SSLError, OSError) as exc:
                # A client that does not trust us ends here: that is a test outcome, not a failure.
                self.owner.tls_failures.append(f"{client_address[0]}:{client_address[1]}: {exc}")
                return
        self.owner.track_connection(connection, True)
        try:
            super().finish_request(connection, client_address)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self.owner.track_connection(connection, False)
            if connection is not request:
                with contextlib.suppress(OSError):
                    connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner.record_error(f"connection from {client_address} failed:\n{traceback.format_exc()}")


class FakeServer:
    """Base of the fakes: one or two real listeners on 127.0.0.1, port 0.

    ``tls``: None/False for plain http only; True to make a :class:`TestCA` of its
    own; a :class:`TestCA` or an ``ssl.SSLContext`` to serve https with it. With TLS
    on, a plain-http listener is opened as well unless ``plain_http=False``;
    :attr:`url` is the https one.

    Subclasses implement :meth:`handle`, called on a connection thread.
    """

    def __init__(self, *, tls: TLSOption = None, plain_http: bool = True) -> None:
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
        self._listeners: Dict[str, _Listener] = {}
        if context is not None:
            self._listeners["https"] = _Listener(self, "https", context)
        if context is None or plain_http:
            self._listeners["http"] = _Listener(self, "http", None)
        self._threads: List[threading.Thread] = []
        self._started = False

    # -- life cycle ----------------------------------------------------------

    def start(self) -> FakeServer:
        if self._started:
            return self
        for scheme, listener in self._listeners.items():
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}-{scheme}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            for listener in self._listeners.values():
                listener.server_close()  # bound at construction: free the ports even if never started
            self._remove_own_ca()
            return
        self._started = False
        self.before_stop()
        for listener in self._listeners.values():
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

    def handle(self, request: Request) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError


def _abort(connection: Any) -> None:
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
