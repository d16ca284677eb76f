"""HTTP exchanges that a hostile server cannot stretch or swell, on ``http.client``.

Used for the IAM login and for every connection to the Mesos master. What it
adds to ``http.client``:

- connections register their socket with the :mod:`~mesos_auth._deadline`
  deadlines active in the thread (and any given), *before* the TLS handshake, so
  a deadline bounds the handshake, the answer's head and its body alike;
- bodies are read up to a cap, never further: an answer that announces or sends
  more is refused without reading it into memory, and a compressed body (sent
  although we ask for ``identity``) is inflated up to the same cap;
- an :class:`Origin` (scheme, host, port) to say where a credential may go.

No cookies, no proxies, no automatic redirects: every hop is the caller's decision.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import zlib
from dataclasses import dataclass
from typing import Optional, Tuple, Union
from urllib.parse import urlsplit

from mesos_auth import _deadline
from mesos_auth._deadline import Deadline
from mesos_auth.errors import ResponseTooLargeError, TransportError

Connection = Union[http.client.HTTPConnection, http.client.HTTPSConnection]
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    """Where a request goes: scheme, host (lower case) and port, as browsers compare them."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an http(s) URL; ``ValueError`` for anything else."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"not an http(s) URL (scheme {scheme or 'missing'!r})")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        port = parts.port  # ValueError when not a number in range
        return cls(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def request_target(url: str) -> str:
    """The path and query of ``url``, as sent in the request line."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------


#: Shortest connect timeout given to a socket (a deadline about to fire still gets a try).
_MIN_CONNECT = 0.05


def _connect_timeout(timeout: Optional[float], deadlines: Tuple[Deadline, ...]) -> Optional[float]:
    """``timeout`` shortened to what the deadlines leave: a TCP connect cannot be woken by a
    deadline (the socket is registered once connected), so it is given no more time than that."""
    left = min((d.remaining() for d in (*_deadline.active_deadlines(), *deadlines)), default=float("inf"))
    if left == float("inf"):
        return timeout
    left = max(_MIN_CONNECT, left)
    return left if timeout is None else min(timeout, left)


class _PlainConnection(http.client.HTTPConnection):
    _deadlines: Tuple[Deadline, ...] = ()
    read_timeout: Optional[float] = None

    def connect(self) -> None:
        self.timeout = _connect_timeout(self.timeout, self._deadlines)
        super().connect()
        _deadline.watch(self.sock, *self._deadlines)
        self.sock.settimeout(self.read_timeout)


class _TLSConnection(http.client.HTTPSConnection):
    _deadlines: Tuple[Deadline, ...] = ()
    read_timeout: Optional[float] = None
    _context: ssl.SSLContext

    def connect(self) -> None:
        """TCP, then TLS with the socket already watched, so a deadline bounds the handshake."""
        self.timeout = _connect_timeout(self.timeout, self._deadlines)
        raw = socket.create_connection((self.host, self.port), self.timeout, getattr(self, "source_address", None))
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = self._context.wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
        except BaseException:
            raw.close()
            raise
        try:
            _deadline.watch(sock, *self._deadlines)
            sock.do_handshake()
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def open_connection(
    origin: Origin,
    *,
    connect_timeout: float,
    read_timeout: Optional[float] = None,
    context: Optional[ssl.SSLContext] = None,
    deadlines: Tuple[Deadline, ...] = (),
) -> Connection:
    """A not-yet-connected connection to ``origin``; its socket will be watched by ``deadlines``
    and by the deadlines active in the thread that connects it."""
    connection: Union[_PlainConnection, _TLSConnection]
    if origin.tls:
        connection = _TLSConnection(origin.host, origin.port, timeout=connect_timeout, context=context)
    else:
        connection = _PlainConnection(origin.host, origin.port, timeout=connect_timeout)
    connection._deadlines = deadlines
    connection.read_timeout = connect_timeout if read_timeout is None else read_timeout
    return connection


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------

#: Largest part of an error body read to describe a refusal; the rest is never read.
MAX_ERROR_BODY = 64 * 1024
_INFLATE_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def read_body(resp: http.client.HTTPResponse, *, limit: int, url: str, what: str = "the answer") -> bytes:
    """The whole body of ``resp``, at most ``limit`` bytes once decoded, else :class:`ResponseTooLargeError`.

    Nothing beyond ``limit + 1`` bytes is read: the caller closes the connection.
    A body cut short raises :class:`TransportError`.
    """
    announced = resp.getheader("Content-Length")
    length = int(announced) if announced is not None and announced.strip().isdigit() else None
    if length is not None and length > limit:
        raise ResponseTooLargeError(url, what, limit)
    try:
        raw = resp.read(limit + 1)
    except http.client.IncompleteRead:
        raw = None
    if raw is None or (length is not None and len(raw) < length):
        raise TransportError(url, f"{what} was cut short (the connection closed mid-body)")
    if len(raw) > limit:
        raise ResponseTooLargeError(url, what, limit)
    encoding = (resp.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    wbits = _INFLATE_WBITS.get(encoding)
    if wbits is None:
        raise TransportError(url, f"{what} has an unsupported Content-Encoding ({encoding[:40]!r})")
    return _inflate(raw, wbits, limit, url, what)


def _inflate(data: bytes, wbits: int, limit: int, url: str, what: str) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        if wbits == zlib.MAX_WBITS:  # "deflate" sent raw, as some servers do
            return _inflate(data, -zlib.MAX_WBITS, limit, url, what)
        raise TransportError(url, f"{what} is not valid compressed data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ResponseTooLargeError(url, f"{what} (decompressed)", limit)
    return out


def read_some(resp: http.client.HTTPResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of an answer we only show (an error text); never raises."""
    try:
        return resp.read(limit)
    except (OSError, http.client.HTTPException, ValueError):
        return b""
