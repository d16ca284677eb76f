"""Connections to the Mesos master, plain or TLS-verified, bounded by deadlines.

pymesos has no TLS at all; a strict DC/OS cluster requires it. Both the event
stream and the calls use connections made here (on :mod:`mesos_auth._http`):
verified against the resolved CA bundle, registered with the deadlines that
bound them, with certificate failures turned into
:class:`~mesos_auth.errors.TLSVerificationError` that names the bundle and the fix.

Also here, for the driver, the IAM client and ``mesos-auth doctor``:

- :func:`speaks_tls`: whether a port answers a TLS ClientHello, to tell "plain http
  sent to a TLS port" (which only shows as a reset connection or a garbled answer)
  from a server that is down;
- :class:`FailureReporter`: when a failure that lasts is worth a WARNING (after 5 s,
  30 s, 2 min, 10 min, then every 10 min), so a driver that retries for a day says
  what is failing a handful of times, not once per attempt.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
from typing import Callable, Optional, Sequence, Tuple

from mesos_auth import _deadline, _http
from mesos_auth._deadline import Deadline
from mesos_auth._redact import server_text
from mesos_auth.ca import CABundle
from mesos_auth.errors import TLSVerificationError
from mesos_auth.master_uri import MasterAddress

Connection = _http.Connection


def make_ssl_context(ca_bundle: CABundle) -> ssl.SSLContext:
    """A client context that verifies certificates and host names against ``ca_bundle``."""
    if ca_bundle.path:
        return ssl.create_default_context(cafile=ca_bundle.path)
    return ssl.create_default_context()


def open_connection(
    address: MasterAddress,
    *,
    timeout: float,
    context: Optional[ssl.SSLContext] = None,
    deadlines: Tuple[Deadline, ...] = (),
) -> Connection:
    """A not-yet-connected HTTP(S) connection to ``address``, its socket watched by
    ``deadlines`` and by those active in the thread that connects it."""
    return _http.open_connection(address, connect_timeout=timeout, context=context, deadlines=deadlines)


_SSL_NOISE = re.compile(r"^\[(?:SSL|X509)(?:: [A-Z0-9_]+)?\]\s*|\s*\(_ssl\.c:\d+\)")


def network_problem(exc: BaseException) -> str:
    """A network error for a message: its class and text, without OpenSSL's ``[SSL: X]`` and
    ``(_ssl.c:1006)`` (which name nothing a reader can act on), capped and cleaned."""
    text = getattr(exc, "strerror", None) if not isinstance(exc, ssl.SSLError) else None
    text = _SSL_NOISE.sub("", str(text or exc)).strip()
    return server_text(f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__, 200)


def certificate_problem(exc: BaseException) -> Optional[str]:
    """The reason when ``exc`` is a failed certificate check, else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.CertificateError):
        return str(exc)
    return None


def tls_error(address: MasterAddress, exc: BaseException, ca_bundle: CABundle) -> Optional[TLSVerificationError]:
    problem = certificate_problem(exc)
    if problem is None:
        return None
    return TLSVerificationError(address.url, problem, ca_bundle.path)


# ---------------------------------------------------------------------------
# Plain http sent to a TLS port
# ---------------------------------------------------------------------------

#: Seconds a TLS probe may take in all (TCP connect and the start of the handshake).
TLS_PROBE_TIMEOUT = 3.0


def may_be_tls_port(exc: BaseException) -> bool:
    """Whether ``exc``, met by plain http, is how a port that speaks TLS answers it.

    A TLS server that reads ``POST / HTTP/1.1`` as a TLS record resets or closes the
    connection, or answers with a TLS alert (``\\x15\\x03...``), which ``http.client``
    reads as a bad status line. A refused connection or a timeout is not that.
    """
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, socket.timeout)):
        return False
    return isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.HTTPException))


def speaks_tls(host: str, port: int, timeout: float = TLS_PROBE_TIMEOUT) -> bool:
    """Whether ``host:port`` answers a TLS ClientHello with a ServerHello (or a TLS alert).

    The probe sends a ClientHello and nothing else: no request, no credential. The
    certificate is not checked (this only asks which protocol the port speaks;
    nothing is sent over the result). A port that speaks plain http answers the
    ClientHello with an HTTP error, which is no TLS record: False. Nothing listening,
    a reset, a timeout: False. Bounded by ``timeout`` in all, and by the deadlines
    active in the calling thread (a driver's ``stop()`` cuts it short).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with Deadline(timeout, what="the TLS probe") as deadline:
        try:
            raw = socket.create_connection((host, port), timeout)
        except OSError:
            return False
        try:
            with context.wrap_socket(raw, server_hostname=host or None, do_handshake_on_connect=False) as tls:
                _deadline.watch(tls, deadline)  # watched before the handshake: the deadline bounds it
                tls.do_handshake()
                return True  # a ServerHello and the rest: a TLS server
        except ssl.SSLError as exc:
            # A server that sent an alert (it wants a client certificate, or no protocol
            # in common) read our ClientHello as TLS: it speaks TLS.
            return "ALERT" in (exc.reason or "").upper()
        except (OSError, ValueError):
            return False
        finally:
            raw.close()


# ---------------------------------------------------------------------------
# Reporting a failure that lasts
# ---------------------------------------------------------------------------

#: Seconds after a failure began when it is reported at WARNING; then every :data:`REPORT_EVERY`.
REPORT_AFTER: Tuple[float, ...] = (5.0, 30.0, 120.0, 600.0)
REPORT_EVERY = 600.0


class FailureReporter:
    """Says when a failure that goes on deserves a WARNING: once per growing interval.

    A retry loop calls :meth:`due` after each failed attempt (as often as it likes);
    it answers the seconds the failure has lasted when a report is due, once for
    each of ``after`` (5 s, 30 s, 2 min, 10 min by default) and then every ``every``
    seconds, else None. Per-attempt lines belong at INFO or DEBUG. ``clock`` is
    injectable so that tests run an hour of failures in no time.
    """

    def __init__(
        self,
        *,
        after: Sequence[float] = REPORT_AFTER,
        every: float = REPORT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not after or every <= 0:
            raise ValueError("after must name at least one moment, and every must be positive")
        self.after = tuple(sorted(after))
        self.every = every
        self._clock = clock
        self.since = clock()
        self._reported = 0

    def restart(self) -> None:
        """The failure is over (or a new one begins): count from now."""
        self.since = self._clock()
        self._reported = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the failure began."""
        return self._clock() - self.since

    def _moment(self, index: int) -> float:
        if index < len(self.after):
            return self.after[index]
        return self.after[-1] + self.every * (index - len(self.after) + 1)

    def due(self) -> Optional[float]:
        """The seconds the failure has lasted if a WARNING is due now, else None."""
        elapsed = self.elapsed
        if elapsed < self._moment(self._reported):
            return None
        while self._moment(self._reported) <= elapsed:
            self._reported += 1
        return elapsed
