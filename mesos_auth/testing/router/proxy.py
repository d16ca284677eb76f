"""Forwarding one request to a real upstream server, as nginx's ``proxy_pass`` does.

Real HTTP(S) with ``http.client``, one upstream connection per request. What
goes upstream (dcos/dcos ``packages/adminrouter/extra/src/includes/proxy-headers.conf``):
the client's headers, hop-by-hop ones removed, ``Host`` as the client sent it,
``X-Real-IP``, ``X-Forwarded-For`` (the client's list plus its address) and
``X-Forwarded-Proto``. What comes back: status and headers as the upstream sent
them (``Location``, ``WWW-Authenticate``, ``Mesos-Stream-Id`` ... pass through
unchanged), without the hop-by-hop ones and nginx's hidden ``Date``/``Server``.

A body of known, modest length is answered whole; any other (a chunked Mesos
event stream) is passed on chunk by chunk as it arrives, unbuffered
(``proxy_buffering off``). When the upstream breaks off mid-stream, the client's
stream ends without its last chunk, as nginx's does.

Timeouts are nginx's defaults (``proxy_connect_timeout``/``proxy_read_timeout``
60 s): no answer, or no byte of a stream, for that long ends the exchange. An
upstream that cannot be reached is nginx's 502, one that times out its 504.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from mesos_auth.testing._server import Answer, ChunkedStream, Request, Response, Streaming

#: nginx ``proxy_connect_timeout`` / ``proxy_read_timeout`` defaults.
DEFAULT_UPSTREAM_TIMEOUT = 60.0
#: Larger bodies (and bodies of unknown length) are streamed, never held whole.
MAX_BUFFERED_BODY = 8 * 1024 * 1024
_READ_SIZE = 64 * 1024

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# nginx hides these upstream answer headers by default (proxy_hide_header) and sends its own Date/Server.
_HIDDEN_ANSWER_HEADERS = frozenset({"date", "server", "x-pad"})


def error_page(status: int, reason: str) -> Response:
    """nginx's built-in error page (the ``openresty`` signature is unverified)."""
    title = f"{status} {reason}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, body.encode(), [("Content-Type", "text/html")])


class Proxy:
    """Sends requests upstream and keeps the live upstream connections, to end them at stop."""

    def __init__(self, *, timeout: float = DEFAULT_UPSTREAM_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._live: Set[http.client.HTTPConnection] = set()

    def forward(
        self,
        request: Request,
        base_url: str,
        path: str,
        *,
        ssl_context: Optional[ssl.SSLContext],
        set_headers: Optional[Dict[str, Optional[str]]] = None,
        close: bool = False,
    ) -> Answer:
        """Send ``request`` to ``base_url`` + ``path`` (+ its query); answer with what came back.

        ``set_headers`` replaces (or, with None, removes) request headers;
        ``close`` adds ``Connection: close`` to the answer.
        """
        connection = self._connection(base_url, ssl_context)
        target = path + (f"?{request.query}" if request.query else "")
        try:
            self._send(connection, request, target, set_headers or {})
            upstream = connection.getresponse()
        except socket.timeout:
            self._end(connection)
            return error_page(504, "Gateway Time-out")
        except (OSError, http.client.HTTPException):
            self._end(connection)
            return error_page(502, "Bad Gateway")
        headers = _answer_headers(upstream.getheaders())
        if close:
            headers.append(("Connection", "close"))
        length = upstream.getheader("Content-Length")
        bodiless = request.method == "HEAD" or upstream.status in (204, 304) or 100 <= upstream.status < 200
        if bodiless or (length is not None and length.isdigit() and int(length) <= MAX_BUFFERED_BODY):
            try:
                body = b"" if bodiless else upstream.read()
            except socket.timeout:
                return error_page(504, "Gateway Time-out")
            except (OSError, http.client.HTTPException):
                return error_page(502, "Bad Gateway")
            finally:
                self._end(connection)
            return Response(upstream.status, body, headers)
        return Streaming(upstream.status, headers, lambda stream: self._pump(connection, upstream, stream))

    def end_all(self) -> None:
        """Abort every upstream connection (streams included): their threads return."""
        with self._lock:
            live = list(self._live)
        for connection in live:
            _abort(connection)

    # -- internals -------------------------------------------------------------------

    def _connection(self, base_url: str, ssl_context: Optional[ssl.SSLContext]) -> http.client.HTTPConnection:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=ssl_context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        with self._lock:
            self._live.add(connection)
        return connection

    def _end(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._live.discard(connection)
        connection.close()

    def _send(
        self,
        connection: http.client.HTTPConnection,
        request: Request,
        target: str,
        set_headers: Dict[str, Optional[str]],
    ) -> None:
        connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in _request_headers(request, set_headers):
            connection.putheader(name, value)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)

    def _pump(
        self, connection: http.client.HTTPConnection, upstream: http.client.HTTPResponse, stream: ChunkedStream
    ) -> None:
        """Pass the upstream body on as it arrives; end when either side ends."""
        try:
            while True:
                try:
                    data = upstream.read1(_READ_SIZE)
                except (OSError, http.client.HTTPException, ValueError):
                    stream.abandon()  # broken off upstream (or timed out): cut short downstream
                    return
                if not data:
                    return  # the upstream's clean end: the terminating chunk follows
                if not stream.write(data):
                    return  # the client went away: dropping the upstream connection tells the master
        finally:
            _abort(connection)  # the response's file still holds the socket: close() alone would not end it
            upstream.close()
            self._end(connection)


def _request_headers(request: Request, set_headers: Dict[str, Optional[str]]) -> List[Tuple[str, str]]:
    replaced = {name.lower() for name in set_headers}
    replaced |= {"x-real-ip", "x-forwarded-for", "x-forwarded-proto"}
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() not in replaced
    ]
    headers += [(name, value) for name, value in set_headers.items() if value is not None]
    client_ip = request.client[0]
    forwarded_for = request.header("X-Forwarded-For")
    headers += [
        ("X-Real-IP", client_ip),
        ("X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip),
        ("X-Forwarded-Proto", request.scheme),
    ]
    return headers


def _answer_headers(headers: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    return [
        (name, value)
        for name, value in headers
        if name.lower() not in _HOP_BY_HOP
        and name.lower() not in _HIDDEN_ANSWER_HEADERS
        and not name.lower().startswith("x-accel-")
    ]


def _abort(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
