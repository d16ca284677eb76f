"""One hostile-server helper for the tests in this folder: real sockets on 127.0.0.1.

A :class:`HostileServer` listens on port 0 (plain, or TLS with the session's test
CA) and hands every connection to a *script*, a function of a :class:`Peer`, that
does whatever a broken or malicious server would: answer half a response,
trickle one byte every few seconds, redirect elsewhere, send a gzip bomb, say
nothing at all. The server records every request it read, so a test can assert
where a credential went and where it did not.

Everything here is bounded: reads have a size cap and a timeout, scripts that
wait do so on the server's stop event, and :meth:`HostileServer.stop` shuts every
connection down and joins every thread within a few seconds.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from mesos_auth.testing import TestCA

#: Largest request a script will read (headers plus body).
MAX_REQUEST = 1 << 20


@dataclass
class RawRequest:
    """A request as the hostile server read it."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    port: int

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class Peer:
    """One accepted connection, as a script sees it."""

    def __init__(self, sock: socket.socket, server: HostileServer) -> None:
        self.sock = sock
        self.server = server
        self._buffer = b""

    @property
    def stopped(self) -> bool:
        return self.server.stopping.is_set()

    def read_request(self, timeout: float = 10.0) -> Optional[RawRequest]:
        """Read one request (headers and Content-Length body); None if the client went away."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill(deadline):
                return None
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = [*lines[0].split(" "), "", ""][:2]
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        self._buffer = rest
        while len(self._buffer) < length:
            if not self._fill(deadline):
                return None
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        request = RawRequest(method, path, headers, body, self.server.port)
        self.server.record(request)
        return request

    def _fill(self, deadline: float) -> bool:
        if len(self._buffer) > MAX_REQUEST:
            raise AssertionError("the client sent more than the hostile server reads")
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.stopped:
            return False
        self.sock.settimeout(min(remaining, 0.2))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except (OSError, ssl.SSLError):
            return False
        if not data:
            return False
        self._buffer += data
        return True

    def send(self, data: bytes) -> bool:
        """Send everything; False once the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except (OSError, ssl.SSLError):
            return False

    def trickle(self, data: bytes, interval: float, *, forever: bool = False) -> None:
        """Send ``data`` one byte every ``interval`` seconds (repeating it when ``forever``)."""
        while not self.stopped:
            for byte in data:
                if not self.send(bytes([byte])) or self.server.stopping.wait(interval):
                    return
            if not forever:
                return

    def hold(self) -> None:
        """Keep the connection open and say nothing, until the client leaves or the server stops."""
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                if self.sock.recv(65536) == b"":
                    return
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                return

    def reset(self) -> None:
        """Close abortively: the client sees 'connection reset'."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()


Script = Callable[[Peer], None]


class HostileServer:
    """Listens on 127.0.0.1 (port 0) and runs ``script`` for every connection.

    ``tls``: a :class:`TestCA` to serve https with (its certificate is trusted by
    clients given ``ca.ca_bundle``). ``script`` may be replaced at any time with
    :attr:`script`; connections already open keep the one they started with.
    """

    def __init__(self, script: Script, *, tls: Optional[TestCA] = None, host: str = "127.0.0.1") -> None:
        self.script = script
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._context = tls.server_context() if tls is not None else None
        self.stopping = threading.Event()
        self.requests: List[RawRequest] = []
        self.connections = 0
        self.errors: List[str] = []
        self._lock = threading.Lock()
        self._open: Dict[int, socket.socket] = {}
        self._threads: List[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    # -- addresses ---------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self._context is not None else "http"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> HostileServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            sockets = list(self._open.values())
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        self._listener.close()
        for thread in list(self._threads):
            thread.join(timeout=5)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"hostile server threads still running: {alive}"
        assert not self.errors, "hostile server scripts failed:\n" + "\n".join(self.errors)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- bookkeeping -------------------------------------------------------------------

    def open_connections(self) -> int:
        """Connections accepted and not yet closed by their script."""
        with self._lock:
            return len(self._open)

    def record(self, request: RawRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self, predicate: Callable[[RawRequest], bool] = lambda r: True) -> List[RawRequest]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def authorizations(self) -> List[str]:
        """Every ``Authorization`` header this server received."""
        return [r.header("authorization") for r in self.seen() if r.header("authorization")]

    # -- internals -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock, self.script), name="hostile-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, script: Script) -> None:
        try:
            if self._context is not None:
                sock.settimeout(10)
                try:
                    sock = self._context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    sock.close()
                    return
            with self._lock:
                self._open[id(sock)] = sock
            script(Peer(sock, self))
        except (OSError, ssl.SSLError):
            pass  # the client went away: what hostile servers are for
        except Exception as exc:  # a broken script is a broken test
            import traceback

            self.errors.append(f"{exc!r}\n{traceback.format_exc()}")
        finally:
            with self._lock:
                self._open.pop(id(sock), None)
            with contextlib.suppress(OSError):
                sock.close()


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


def response(
    status: int,
    body: bytes = b"",
    headers: Iterable[Tuple[str, str]] = (),
    *,
    length: Optional[int] = None,
    reason: str = "X",
) -> bytes:
    """A whole HTTP/1.1 answer; ``length`` overrides Content-Length (to lie about it)."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def record(data: bytes) -> bytes:
    """One RecordIO record, as in Mesos' event stream."""
    return str(len(data)).encode() + b"\n" + data


def answer_each(answers: Callable[[RawRequest], bytes], *, keep_alive: bool = True) -> Script:
    """A script that reads requests and answers each with ``answers(request)``."""

    def script(peer: Peer) -> None:
        while not peer.stopped:
            request = peer.read_request()
            if request is None or not peer.send(answers(request)) or not keep_alive:
                return

    return script
